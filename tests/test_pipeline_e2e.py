"""The REAL pipeline (bundled Whisper base, Silero VAD, resemblyzer, rule extractor) on the generated
consultations, checked against their truth: transcript, speakers (DER), roles, medications, FHIR."""

from __future__ import annotations

import json

import pytest
from conftest import FIXTURE_NAMES, FIXTURES, load_truth
from fhirjs import assert_valid
from rapidfuzz import fuzz

from consult.evaluation import der, normalise_text, read_rttm, wer
from consult.extract.text import strip_accents
from consult.fhir import bundle_json, line_resources, validate_bundle_json
from consult.outputs import rttm_text, transcript_text, write_outputs

pytestmark = pytest.mark.slow

# Bounds measured on these fixtures with the bundled base model (see README "Results"); a regression
# beyond them fails the suite.
# Measured on 2026-12-06 with the default settings (language detected, first pass without prompt, coverage check,
# second pass for drug names), three runs giving the same figures (CTranslate2 int8 on CPU is deterministic for a
# given package set: constraints.txt pins it):
MAX_DER = 0.10  # collar 0.5 s total (±0.25 s); measured 0.000 on each fixture
MAX_WER = 0.28  # numbers said in words vs digits count as errors; measured 0.083-0.228 (fr_consult_3 the highest)
MIN_NAMES_HEARD = 15  # of 18 drug names, spelled right in the transcript: measured 16 (the base model bends the
# English "sertraline" and "omeprazole" of the TTS voices into "searcher line" and "Ome Brazil" and the second pass,
# which puts a name in only when the recogniser itself finds it about as probable, leaves them)
MIN_DRUG_RECALL_ASR = 0.83  # measured 16/18 = 0.889
MIN_FIELD_ACCURACY_ASR = 0.75  # strength+frequency+duration of the lines found: measured


def _strip(s: str) -> str:
    return strip_accents(s.lower())


def _said_names(reference: str) -> dict[str, list[str]]:
    """normalised drug name -> the surface forms the reference transcript uses for it (via the lexicon)."""
    from consult.extract.lexicon import DrugLexicon

    out: dict[str, list[str]] = {}
    for m in DrugLexicon.load().find(reference):
        out.setdefault(_strip(m.entry.name), []).append(_strip(reference[m.start:m.end]))
    return out


def _find(report, drug: str):
    want = _strip(drug)
    best, score = None, 0.0
    for m in report.medications:
        sc = max(fuzz.ratio(want, _strip(m.name)), fuzz.partial_ratio(want, _strip(m.name)))
        if sc > score:
            best, score = m, sc
    return best if score >= 85 else None


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_transcript_words_and_drug_names(fixture_report, name):
    truth = load_truth(name)
    report = fixture_report(name)
    assert report.language == truth["language"]
    hyp = " ".join(s.text for s in report.segments)
    ref = " ".join(t["text"] for t in truth["turns"])
    assert wer(ref, hyp) <= MAX_WER
    # every word is timed, in order, with a speaker
    for seg in report.segments:
        assert seg.words and seg.speaker is not None
        assert all(w.speaker == seg.speaker for w in seg.words)
        assert all(0 <= w.start <= w.end <= report.audio.duration + 0.5 for w in seg.words)


def test_drug_names_heard_across_fixtures(fixture_report):
    """The drug names said in the scripts (a brand such as Kardégic as said), spelled right in the transcripts."""
    heard = said_total = 0
    for name in FIXTURE_NAMES:
        truth = load_truth(name)
        report = fixture_report(name)
        ref = " ".join(t["text"] for t in truth["turns"])
        words = normalise_text(" ".join(s.text for s in report.segments)).split()
        said = _said_names(ref)
        for med in truth["medications"]:
            targets = said.get(_strip(med["drug"]), [_strip(med["drug"])])
            said_total += 1
            heard += any(fuzz.ratio(target, _strip(w)) >= 90 for target in targets for w in words)
    assert said_total == 18 and heard >= MIN_NAMES_HEARD, f"{heard}/{said_total} names heard"


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_diarisation_and_roles(fixture_report, name):
    truth = load_truth(name)
    report = fixture_report(name)
    ref = read_rttm(FIXTURES / f"{name}.rttm")
    assert der(ref, report.turns, collar=0.5) <= MAX_DER
    assert len(report.speakers) == 2
    # the speaker the pipeline calls doctor overlaps the true doctor turns most
    doctor = next(s.id for s in report.speakers if s.role == "doctor")
    true_doc = [t for t in truth["turns"] if t["speaker"] == "doctor"]
    time_as_doctor: dict[str, float] = {}
    for t in report.turns:
        for d in true_doc:
            ov = min(t.end, d["end"]) - max(t.start, d["start"])
            if ov > 0:
                time_as_doctor[t.speaker] = time_as_doctor.get(t.speaker, 0.0) + ov
    assert max(time_as_doctor, key=time_as_doctor.get) == doctor


def _check_line(exp: dict, got) -> list[str]:
    """Differences between an expected line and an extracted one on strength, frequency, duration."""
    errors = []
    if exp["strength"] and (got.strength is None or (got.strength.value, got.strength.unit) != (
            exp["strength"]["value"], exp["strength"]["unit"])):
        errors.append(f"{exp['drug']}.strength {got.strength}")
    f = exp["frequency"]
    if f and (got.frequency is None or (got.frequency.count, got.frequency.period, got.frequency.period_unit) != (
            f["count"], f["period"], f["period_unit"])):
        errors.append(f"{exp['drug']}.frequency {got.frequency}")
    d = exp["duration"]
    if d and (got.duration is None or (got.duration.value, got.duration.unit) != (d["value"], d["unit"])):
        errors.append(f"{exp['drug']}.duration {got.duration}")
    return errors


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_every_expected_line_from_the_reference_transcript(name):
    """Extraction proper: on what was actually said, every line with the right strength/frequency/duration."""
    from consult.extract import extract_from_text

    truth = load_truth(name)
    text = "\n".join(("Doctor: " if t["speaker"] == "doctor" else "Patient: ") + t["text"] for t in truth["turns"])
    _, meds = extract_from_text(text, truth["language"])
    report = type("R", (), {"medications": meds})
    errors = []
    for exp in truth["medications"]:
        got = _find(report, exp["drug"])
        if got is None:
            errors.append(f"{exp['drug']} not extracted")
            continue
        errors += _check_line(exp, got)
        assert got.status == exp["status"], f"{exp['drug']}: status {got.status}, expected {exp['status']}"
    assert not errors


def test_medications_through_asr_meet_the_measured_bounds(fixture_report):
    """Audio -> ASR (bundled base model) -> extraction, over all fixtures. The base model mishears some
    numbers and names ("de comprimer" for "deux comprimés"): bounds are the measured figures (README)."""
    expected = found = fields = fields_ok = 0
    for name in FIXTURE_NAMES:
        truth = load_truth(name)
        report = fixture_report(name)
        for exp in truth["medications"]:
            expected += 1
            got = _find(report, exp["drug"])
            if got is None:
                continue
            found += 1
            n = sum(bool(exp[k]) for k in ("strength", "frequency", "duration"))
            fields += n
            fields_ok += n - len(_check_line(exp, got))
        # every extracted line is grounded in the transcript and the audio
        for got in report.medications:
            ev = got.evidence
            seg = report.segments[ev.segment_id]
            assert seg.text[ev.char_start:ev.char_end] == ev.text
            assert ev.start is not None and seg.start - 0.01 <= ev.start <= ev.end <= seg.end + 0.01
    assert found / expected >= MIN_DRUG_RECALL_ASR, f"{found}/{expected} drugs"
    assert fields_ok / fields >= MIN_FIELD_ACCURACY_ASR, f"{fields_ok}/{fields} strength/frequency/duration"


@pytest.mark.parametrize("name", FIXTURE_NAMES[:2])
def test_outputs_written_and_bundle_valid(fixture_report, name, tmp_path):
    report = fixture_report(name)
    paths = write_outputs(report, tmp_path / name)
    assert {p.name for p in paths.values()} == {"report.json", "bundle.json", "transcript.txt",
                                                 "diarization.rttm"}
    bundle = validate_bundle_json(paths["bundle"].read_text(encoding="utf-8"))
    lines = line_resources(bundle)
    assert len(lines) == len(report.medications) >= 1
    for m in report.medications:  # what FHIR's own fields say, extensions ignored
        res = lines[m.id]
        if m.status in ("stopped", "mentioned"):
            assert res.get_resource_type() == "MedicationStatement", m.id
        else:
            assert res.get_resource_type() == "MedicationRequest", m.id
            if m.strength is not None:
                assert res.contained[0].ingredient[0].strength.numerator.value == m.strength.value
    assert_valid([paths["bundle"]])  # and an independent validator (FHIR.js) agrees
    data = json.loads(paths["report"].read_text(encoding="utf-8"))
    assert data["audio"]["sha256"] == report.audio.sha256
    assert {t["stage"] for t in data["timings"]} >= {"audio", "diarisation", "transcription", "extraction"}
    assert {m["stage"] for m in data["models"]} >= {"asr", "diarisation-embedding"}
    text = paths["transcript"].read_text(encoding="utf-8")
    assert text == transcript_text(report)
    assert text.splitlines()[0].startswith("[00:00] Doctor:")
    assert "Patient:" in text
    assert paths["rttm"].read_text() == rttm_text(report)
    # the dumped bundle re-validates to the same JSON
    dumped = paths["bundle"].read_text(encoding="utf-8")
    assert json.loads(bundle_json(validate_bundle_json(dumped))) == json.loads(dumped)
