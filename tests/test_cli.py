"""`consult` as a user runs it: real subprocesses, exit codes, folders, errors that name the file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _own_store(tmp_path, monkeypatch):
    """Each test's `consult run` uses its own report store, never the user's default one."""
    monkeypatch.setenv("CONSULT_STORE", str(tmp_path / "consult-store.db"))


def _consult(*args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1")
    return subprocess.run([sys.executable, "-m", "consult", *args], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=REPO)


def test_help_documents_options_and_outputs():
    r = _consult("run", "--help")
    assert r.returncode == 0
    for word in ("--out", "--asr-model", "--language", "--diarisation", "--pyannote-pipeline",
                 "--doctor-speaker", "--workers", "--ray-address", "report.json", "bundle.json",
                 "transcript.txt", "diarization.rttm", "Exit codes", "--store", "--resume", "--max-attempts",
                 "--cpus-per-worker", "--gpus-per-worker", "already done", "consult jobs"):
        assert word in r.stdout, word
    for command, words in (("jobs", ("list", "show", "retry", "--all-failed")),
                           ("watch", ("INBOX", "--once", "--settle", ".done.json", ".error.json", "--store"))):
        r = _consult(command, "--help")
        assert r.returncode == 0
        for word in words:
            assert word in r.stdout, (command, word)


def test_schema_command(tmp_path):
    r = _consult("schema", "--out", str(tmp_path / "s.json"))
    assert r.returncode == 0
    schema = json.loads((tmp_path / "s.json").read_text())
    assert schema["title"] == "ConsultationReport"
    assert {"audio", "speakers", "segments", "medications", "timings", "models"} <= set(schema["properties"])
    # the committed copy for integrators is up to date
    committed = json.loads((REPO / "docs" / "report.schema.json").read_text())
    assert committed == schema


def test_missing_input_fails_cleanly(tmp_path):
    r = _consult("run", str(tmp_path / "absent.wav"), "--out", str(tmp_path / "out"), "--no-progress")
    assert r.returncode == 1
    assert "absent.wav: file not found" in r.stderr
    assert "Traceback" not in r.stderr


def test_bad_pyannote_setting_is_a_setup_error(tmp_path, fixtures_dir):
    r = _consult("run", str(fixtures_dir / "en_consult_2.flac"), "--out", str(tmp_path),
                 "--diarisation", "pyannote", "--no-progress")
    assert r.returncode == 2
    assert "--pyannote-pipeline" in r.stderr


@pytest.mark.slow
def test_batch_in_process_with_a_corrupt_file(tmp_path, fixtures_dir):
    bad = tmp_path / "corrupt.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt garbage that is not audio" * 10)
    good = fixtures_dir / "en_consult_2.flac"
    out = tmp_path / "out"
    r = _consult("run", str(bad), str(good), "--out", str(out), "--in-process", "--no-progress",
                 "--language", "en")
    assert r.returncode == 1, r.stderr
    assert "corrupt.wav" in r.stderr and "Traceback" not in r.stderr
    assert "1 succeeded, 1 failed" in r.stdout
    folder = out / "en_consult_2"
    assert sorted(p.name for p in folder.iterdir()) == ["bundle.json", "diarization.rttm", "report.json",
                                                          "transcript.txt"]
    assert not (out / "corrupt").exists()
    report = json.loads((folder / "report.json").read_text())
    assert report["language"] == "en" and report["medications"]
    bundle = json.loads((folder / "bundle.json").read_text())
    assert bundle["type"] == "collection" and bundle["entry"]


@pytest.mark.slow
def test_single_file_success_exit_zero(tmp_path, fixtures_dir):
    r = _consult("run", str(fixtures_dir / "fr_consult_3.flac"), "--out", str(tmp_path), "--no-progress")
    assert r.returncode == 0, r.stderr
    assert "1 succeeded, 0 failed" in r.stdout
    lines = (tmp_path / "fr_consult_3" / "transcript.txt").read_text().splitlines()
    assert lines and all(line.startswith("[") for line in lines)


def test_serve_refuses_a_public_address_without_login():
    r = _consult("serve", "--host", "0.0.0.0", timeout=120)
    assert r.returncode == 2
    assert "refusing" in r.stderr and "--auth" in r.stderr


def test_unknown_option_is_a_usage_error(tmp_path):
    r = _consult("run", "x.wav", "--out", str(tmp_path), "--bogus")
    assert r.returncode == 2 and "--bogus" in r.stderr


def test_extract_text_transcripts_writes_report_and_bundle(tmp_path):
    good = tmp_path / "visite.txt"
    good.write_text(
        "# a comment line\n"
        "PAT: Je prends du Kardégic 75 le matin.\n"
        "DOC: Je vous prescris de l'amoxicilline 1 g, un comprimé matin et soir pendant 6 jours. QSP 6 jours.\n"
        "DOC: Arrêtez l'ibuprofène.\n",
        encoding="utf-8",
    )
    empty = tmp_path / "vide.txt"
    empty.write_text("\n# nothing\n", encoding="utf-8")
    none = tmp_path / "none.txt"
    none.write_text("Doctor: How are you today?\nPatient: Much better, thank you.\n", encoding="utf-8")
    binary = tmp_path / "audio.txt"
    binary.write_bytes(b"\x00\x81\xff\xfe" * 50)
    windows = tmp_path / "windows.txt"
    windows.write_text("Doctor: Take ibuprofen 400 mg three times a day.\n", encoding="utf-16")
    out = tmp_path / "out"
    r = _consult("extract", str(good), str(empty), str(none), str(binary), str(tmp_path / "absent.txt"),
                 str(windows), "--out", str(out))
    assert r.returncode == 1, r.stderr
    assert "vide.txt: no transcript line found" in r.stderr
    assert "audio.txt: not a UTF-8 (or UTF-16 with BOM) text file" in r.stderr
    assert "absent.txt: no such file" in r.stderr
    assert "Traceback" not in r.stderr
    assert "3 succeeded, 3 failed" in r.stdout
    assert json.loads((out / "windows" / "report.json").read_text())["medications"][0]["name"] == "ibuprofen"  # English
    report = json.loads((out / "visite" / "report.json").read_text(encoding="utf-8"))
    assert report["audio"] is None and report["text_source"]["name"] == "visite.txt"
    assert report["language"] == "fr"
    meds = {m["name"]: m for m in report["medications"]}
    assert meds["amoxicilline"]["status"] == "new" and meds["amoxicilline"]["duration"]["value"] == 6
    assert meds["amoxicilline"]["quantity_for"] == {"value": 6.0, "value_high": None, "unit": "d"}
    assert meds["ibuprofène"]["status"] == "stopped"
    assert meds["acide acétylsalicylique"]["status"] == "mentioned"
    assert meds["acide acétylsalicylique"]["strength"]["value"] == 75
    bundle = json.loads((out / "visite" / "bundle.json").read_text(encoding="utf-8"))
    kinds = {e["resource"]["contained"][0]["code"]["text"]: (e["resource"]["resourceType"], e["resource"]["status"])
             for e in bundle["entry"] if "contained" in e["resource"]}
    assert kinds == {"amoxicilline": ("MedicationRequest", "draft"),
                     "ibuprofène": ("MedicationStatement", "stopped"),
                     "acide acétylsalicylique": ("MedicationStatement", "active")}  # the patient says it
    assert json.loads((out / "none" / "report.json").read_text())["medications"] == []
    assert json.loads((out / "none" / "report.json").read_text())["language"] == "en"


def test_eval_prints_scores_per_field_and_writes_json(tmp_path):
    r = _consult("eval", str(REPO / "audio_fixtures"), "--json", str(tmp_path / "scores.json"), "--by-language")
    assert r.returncode == 0, r.stderr
    for word in ("drug", "strength", "dose", "frequency", "duration", "route", "as_needed", "status",
                 "whole-line exact match: 18/18", ", fr (3 consultations)", ", en (2 consultations)"):
        assert word in r.stdout, word
    scores = json.loads((tmp_path / "scores.json").read_text())
    assert scores["text"]["drug"]["f1"] == 1.0 and scores["text"]["exact_match"] == 1.0


def test_eval_bad_label_set_is_a_setup_error(tmp_path):
    (tmp_path / "x.json").write_text('{"id": "x", "language": "fr", "medications": [{"drug": "a"}]}')
    r = _consult("eval", str(tmp_path))
    assert r.returncode == 2 and "medications.0.status" in r.stderr


def test_extract_writes_a_transaction_bundle_when_asked(tmp_path):
    src = tmp_path / "visite.txt"
    src.write_text("DOC: Je vous prescris de l'amoxicilline 1 g, un comprimé matin et soir pendant 6 jours.\n"
                   "DOC: Arrêtez l'ibuprofène.\n", encoding="utf-8")
    r = _consult("extract", str(src), "--out", str(tmp_path / "out"), "--bundle-type", "transaction")
    assert r.returncode == 0, r.stderr
    bundle = json.loads((tmp_path / "out" / "visite" / "bundle.json").read_text(encoding="utf-8"))
    assert bundle["type"] == "transaction"
    assert all(e["request"]["method"] == "POST" for e in bundle["entry"])
    kinds = sorted(e["request"]["url"] for e in bundle["entry"])
    assert kinds.count("MedicationRequest") == 1 and kinds.count("MedicationStatement") == 1
    strength = next(e["resource"]["contained"][0]["ingredient"][0]["strength"] for e in bundle["entry"]
                    if e["request"]["url"] == "MedicationRequest")
    assert (strength["numerator"]["value"], strength["numerator"]["code"]) in {(1, "g"), (1000, "mg")}


@pytest.mark.slow
def test_run_no_store_keeps_nothing_but_the_outputs(fixtures_dir, tmp_path):
    store = tmp_path / "default" / "consult.db"
    env_store = {"CONSULT_STORE": str(store)}
    r = subprocess.run([sys.executable, "-m", "consult", "run", str(fixtures_dir / "en_consult_2.flac"), "--out",
                        str(tmp_path / "out"), "--no-store", "--no-progress", "--language", "en"],
                       capture_output=True, text=True, timeout=900, cwd=REPO,
                       env=dict(os.environ, HF_HUB_OFFLINE="1", **env_store))
    assert r.returncode == 0, r.stderr
    assert "report store: none" in r.stdout and (tmp_path / "out" / "en_consult_2" / "bundle.json").is_file()
    assert not store.exists() and not store.parent.exists()
    bad = _consult("run", "x.flac", "--out", str(tmp_path / "o2"), "--no-store", "--resume")
    assert bad.returncode == 2 and "--no-store" in bad.stderr
