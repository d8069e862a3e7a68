"""Tests of the review page: pure callbacks on real reports, CLI guard rails, a real launch."""

from __future__ import annotations

import json
import os
import socket
import urllib.request
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

import gradio as gr  # noqa: E402
from fhir.resources.R4B.bundle import Bundle  # noqa: E402

from demo.__main__ import is_loopback, main, parse_auth  # noqa: E402
from demo.app import (  # noqa: E402
    COL,
    TableError,
    build_app,
    format_duration,
    format_frequency,
    format_quantity,
    make_bundle_file,
    make_report_file,
    parse_duration,
    parse_frequency,
    parse_quantity,
    report_to_rows,
    rows_to_decisions,
    set_all_decisions,
    summary_markdown,
    transcript_markdown,
)
from demo.i18n import COLUMNS, headers  # noqa: E402
from schemas import (  # noqa: E402
    AudioInfo,
    ConsultationReport,
    Duration,
    Evidence,
    Frequency,
    MedicationLine,
    Quantity,
    Segment,
    Speaker,
    Word,
)

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "audio_fixtures" / "fr_consult_1.flac"
LINE_ID_EXT = "urn:consult:fhir:extension:line-id"

# fr_consult_1's dialogue (audio_fixtures/fr_consult_1.truth.json), with ASR-like word probabilities.
_TURNS = [
    ("SPEAKER_00", 0.5, 3.94, "Bonjour madame, asseyez-vous. Qu'est-ce qui vous amène aujourd'hui ?"),
    (
        "SPEAKER_01",
        4.59,
        11.35,
        "Bonjour docteur. J'ai très mal à la gorge depuis trois jours, et j'ai de la fièvre.",
    ),
    ("SPEAKER_00", 11.74, 13.07, "Vous avez pris quelque chose ?"),
    (
        "SPEAKER_01",
        13.71,
        19.44,
        "Oui, j'ai pris de l'ibuprofène, et je prends aussi de l'oméprazole tous les matins.",
    ),
    ("SPEAKER_00", 19.87, 26.74, "D'accord. C'est une angine bactérienne. Arrêtez l'ibuprofène."),
    (
        "SPEAKER_00",
        30.23,
        35.84,
        "Je vous prescris de l'amoxicilline 1000 milligrammes, un comprimé matin et soir, pendant six jours.",
    ),
    ("SPEAKER_01", 36.46, 37.38, "Et pour la douleur ?"),
    (
        "SPEAKER_00",
        38.12,
        44.68,
        "Du paracétamol 500 milligrammes, deux comprimés toutes les six heures si douleur, *max* 4 g.",
    ),
]
_LOW = {"amoxicilline", "paracétamol"}


def _segments() -> list[Segment]:
    segments = []
    for i, (speaker, start, end, text) in enumerate(_TURNS):
        tokens = text.split()
        step = (end - start) / len(tokens)
        words = [
            Word(
                text=tok,
                start=round(start + k * step, 3),
                end=round(start + (k + 1) * step, 3),
                probability=0.42 if tok.strip(",.").split("'")[-1] in _LOW else 0.93,
                speaker=speaker,
            )
            for k, tok in enumerate(tokens)
        ]
        segments.append(Segment(id=i, start=start, end=end, text=text, speaker=speaker, words=words))
    return segments


def _evidence(segments: list[Segment], seg: int, word: str) -> Evidence:
    text = segments[seg].text
    start = text.index(word)
    return Evidence(
        segment_id=seg,
        char_start=start,
        char_end=start + len(word),
        text=word,
        start=segments[seg].start,
        end=segments[seg].end,
        speaker=segments[seg].speaker,
    )


def constructed_report() -> ConsultationReport:
    """A realistic report of fr_consult_1, built from the schemas (no model needed)."""
    segs = _segments()
    meds = [
        MedicationLine(
            id="med-1",
            drug_text="ibuprofène",
            name="ibuprofène",
            atc="M01AE01",
            status="stopped",
            sig="Arrêtez l'ibuprofène.",
            confidence=0.9,
            evidence=_evidence(segs, 4, "ibuprofène"),
        ),
        MedicationLine(
            id="med-2",
            drug_text="oméprazole",
            name="oméprazole",
            atc="A02BC01",
            status="mentioned",
            frequency=Frequency(count=1, period=1, period_unit="d"),
            when=["MORN"],
            sig="je prends aussi de l'oméprazole tous les matins",
            confidence=0.8,
            evidence=_evidence(segs, 3, "oméprazole"),
        ),
        MedicationLine(
            id="med-3",
            drug_text="amoxicilline",
            name="amoxicilline",
            atc="J01CA04",
            strength=Quantity(value=1000, unit="mg", ucum=True),
            dose=Quantity(value=1, unit="comprimé"),
            route="orale",
            frequency=Frequency(count=2, period=1, period_unit="d"),
            when=["MORN", "EVE"],
            duration=Duration(value=6, unit="d"),
            status="new",
            sig="un comprimé matin et soir, pendant six jours",
            confidence=0.55,
            needs_review=True,
            review_reasons=["low ASR probability on the drug name"],
            evidence=_evidence(segs, 5, "amoxicilline"),
        ),
        MedicationLine(
            id="med-4",
            drug_text="paracétamol",
            name="paracétamol",
            atc="N02BE01",
            strength=Quantity(value=500, unit="mg", ucum=True),
            dose=Quantity(value=2, unit="comprimé"),
            frequency=Frequency(count=1, period=6, period_unit="h"),
            as_needed=True,
            as_needed_condition="si douleur",
            max_per_day=Quantity(value=4, unit="g", ucum=True),
            status="new",
            sig="deux comprimés toutes les six heures si douleur",
            confidence=0.7,
            evidence=_evidence(segs, 7, "paracétamol"),
        ),
    ]
    return ConsultationReport(
        id="3f2a9c0d1b7e4a6f8c5d2e10",  # as consult.pipeline.job_id makes them
        created_at=datetime(2025, 3, 1, 10, 0, tzinfo=timezone.utc),
        audio=AudioInfo(
            name="fr_consult_1.flac", sha256="0" * 64, duration=54.5, sample_rate=16000, channels=1
        ),
        language="fr",
        speakers=[
            Speaker(id="SPEAKER_00", role="doctor", role_score=0.9, speech_seconds=30.0),
            Speaker(id="SPEAKER_01", role="patient", role_score=0.1, speech_seconds=20.0),
        ],
        segments=segs,
        medications=meds,
    )


@pytest.fixture()
def report() -> ConsultationReport:
    return constructed_report()


def _row(rows: list[list[Any]], line_id: str) -> list[Any]:
    return next(r for r in rows if r[COL["id"]] == line_id)


def _requests(bundle: Bundle) -> dict[str, Any]:
    out = {}
    for entry in bundle.entry or []:
        res = entry.resource
        line_id = next(e.valueString for e in res.extension if e.url == LINE_ID_EXT)
        out[line_id] = res
    return out


def _review_and_check(report: ConsultationReport, tmp_path: Path) -> None:
    """Edit a dose, approve that line, reject another: the bundle says so and re-validates."""
    assert len(report.medications) >= 2, "the report needs two medication lines for this check"
    kept, dropped = report.medications[0], report.medications[1]
    rows = report_to_rows(report, "fr")
    _row(rows, kept.id)[COL["dose"]] = "3 comprimé"
    _row(rows, kept.id)[COL["decision"]] = "approuvé"
    _row(rows, dropped.id)[COL["decision"]] = "Rejeté"

    decisions = {d.line_id: d for d in rows_to_decisions(report, rows, "dr-test")}
    assert decisions[kept.id].decision == "approved"
    assert decisions[kept.id].line is not None and decisions[kept.id].line.dose == Quantity(
        value=3, unit="comprimé"
    )
    assert decisions[dropped.id].decision == "rejected"
    assert {d.decision for i, d in decisions.items() if i not in (kept.id, dropped.id)} <= {"pending"}

    path = make_bundle_file(report, rows, tmp_path, reviewer="dr-test")
    assert path.name == "bundle.json"
    bundle = Bundle.model_validate_json(path.read_text(encoding="utf-8"))
    requests = _requests(bundle)
    assert dropped.id not in requests
    approved = requests[kept.id]
    expected_intent = {"mentioned": "plan"}.get(kept.status, "order")
    assert (approved.status in ("active", "stopped"), approved.intent) == (True, expected_intent)
    dose = approved.dosageInstruction[0].doseAndRate[0].doseQuantity
    assert (float(dose.value), dose.unit) == (3.0, "comprimé")
    for line in report.medications[2:]:
        assert (requests[line.id].status, requests[line.id].intent) == ("draft", "proposal")


# ------------------------------------------------------------------------------------------- the page


def test_build_app_does_not_load_models() -> None:
    calls: list[int] = []

    def factory() -> Any:
        calls.append(1)
        raise AssertionError("the pipeline must not be created at build time")

    for lang in ("fr", "en"):
        app = build_app(factory, language=lang)
        assert isinstance(app, gr.Blocks)
    assert calls == []
    assert build_app().analytics_enabled is False


def test_build_app_rejects_unknown_language() -> None:
    with pytest.raises(ValueError, match="fr, en"):
        build_app(language="de")


# ------------------------------------------------------------------------------------- pure callbacks


def test_report_to_rows_formats_cells(report: ConsultationReport) -> None:
    rows = report_to_rows(report, "fr")
    assert len(rows) == 4 and all(len(r) == len(COLUMNS) == len(headers("fr")) for r in rows)
    amox = dict(zip(COLUMNS, _row(rows, "med-3"), strict=True))
    assert amox["strength"] == "1000 mg"
    assert amox["dose"] == "1 comprimé"
    assert amox["frequency"] == "2/d"
    assert amox["when"] == "matin, soir"
    assert amox["duration"] == "6 d"
    assert amox["status"] == "nouveau"
    assert amox["decision"] == "en attente"
    assert amox["needs_review"].startswith("⚠ oui")
    assert amox["confidence"] == "0.55"
    para = dict(zip(COLUMNS, _row(rows, "med-4"), strict=True))
    assert (para["frequency"], para["as_needed"]) == ("1/6h", "oui")
    en = dict(zip(COLUMNS, _row(report_to_rows(report, "en"), "med-3"), strict=True))
    assert (en["when"], en["decision"], en["status"]) == ("morning, evening", "pending", "new")


def test_unedited_rows_give_pending_decisions_without_edits(report: ConsultationReport) -> None:
    decisions = rows_to_decisions(report, report_to_rows(report, "en"), lang="en")
    assert [d.line_id for d in decisions] == ["med-1", "med-2", "med-3", "med-4"]
    assert all(d.decision == "pending" and d.line is None for d in decisions)


@pytest.mark.parametrize(
    "quantity",
    [
        Quantity(value=500, unit="mg", ucum=True),
        Quantity(value=0.5, unit="comprimé"),
        Quantity(value=1, value_high=2, unit="bouffée"),
        Quantity(value=2.5, unit="mL", ucum=True),
    ],
)
def test_quantity_round_trip(quantity: Quantity) -> None:
    assert parse_quantity(format_quantity(quantity), quantity) == quantity


@pytest.mark.parametrize(
    "frequency",
    [
        Frequency(count=3, period=1, period_unit="d"),
        Frequency(count=1, period=8, period_unit="h"),
        Frequency(count=1, count_max=2, period=1, period_unit="d"),
        Frequency(count=2, period=1, period_unit="wk"),
    ],
)
def test_frequency_round_trip(frequency: Frequency) -> None:
    assert parse_frequency(format_frequency(frequency)) == frequency


@pytest.mark.parametrize("duration", [Duration(value=7, unit="d"), Duration(value=3, unit="mo")])
def test_duration_round_trip(duration: Duration) -> None:
    assert parse_duration(format_duration(duration)) == duration


def test_parsers_read_what_a_clinician_types() -> None:
    assert parse_quantity("0,5 g") == Quantity(value=0.5, unit="g", ucum=True)
    assert parse_quantity("1/2 comprimé") == Quantity(value=0.5, unit="comprimé")
    assert parse_frequency("3 x/j") == Frequency(count=3, period=1, period_unit="d")
    assert parse_frequency("2 fois par jour") == Frequency(count=2, period=1, period_unit="d")
    assert parse_duration("10 jours") == Duration(value=10, unit="d")
    assert parse_duration("2 semaines") == Duration(value=2, unit="wk")
    assert parse_quantity("  ") is None and parse_frequency("") is None and parse_duration("") is None
    for bad in ("deux comprimés", "mg", "2-1 mg"):
        with pytest.raises(ValueError):
            parse_quantity(bad)
    for bad in ("souvent", "3/minute", "0/d"):
        with pytest.raises(ValueError):
            parse_frequency(bad)
    for bad in ("7", "7 h", "une semaine"):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_edit_approve_reject_gives_the_reviewed_bundle(report: ConsultationReport, tmp_path: Path) -> None:
    rows = report_to_rows(report, "fr")
    amox, para = _row(rows, "med-3"), _row(rows, "med-4")
    amox[COL["dose"]] = "2 comprimé"
    amox[COL["duration"]] = "10 jours"
    amox[COL["decision"]] = "approuvé"
    para[COL["decision"]] = "rejeté"

    path = make_bundle_file(report, rows, tmp_path, reviewer="dr-house")
    bundle = Bundle.model_validate_json(path.read_text(encoding="utf-8"))
    requests = _requests(bundle)
    assert set(requests) == {"med-1", "med-2", "med-3"}
    med3 = requests["med-3"]
    assert (med3.status, med3.intent) == ("active", "order")
    dose = med3.dosageInstruction[0].doseAndRate[0].doseQuantity
    assert (float(dose.value), dose.unit) == (2.0, "comprimé")
    bounds = med3.dosageInstruction[0].timing.repeat.boundsDuration
    assert (float(bounds.value), bounds.code) == (10.0, "d")
    for pending in ("med-1", "med-2"):
        assert (requests[pending].status, requests[pending].intent) == ("draft", "proposal")
    review = next(e for e in med3.extension if e.url.endswith(":review"))
    assert {e.url: (e.valueCode or e.valueString or e.valueBoolean) for e in review.extension}[
        "reviewer"
    ] == ("dr-house")


def test_unreadable_edit_is_reported_not_dropped(report: ConsultationReport, tmp_path: Path) -> None:
    rows = report_to_rows(report, "fr")
    _row(rows, "med-3")[COL["dose"]] = "deux cachets"
    _row(rows, "med-4")[COL["frequency"]] = "souvent"
    _row(rows, "med-3")[COL["decision"]] = "approuvé"
    with pytest.raises(TableError) as err:
        make_bundle_file(report, rows, tmp_path)
    message = str(err.value)
    assert "med-3" in message and "dose" in message and "deux cachets" in message
    assert "med-4" in message and "fréquence" in message
    assert len(err.value.problems) == 2
    assert not (tmp_path / "bundle.json").exists()


def test_bad_decision_unknown_line_and_empty_name_are_errors(report: ConsultationReport) -> None:
    rows = report_to_rows(report, "en")
    _row(rows, "med-1")[COL["decision"]] = "maybe"
    _row(rows, "med-2")[COL["name"]] = " "
    extra = list(rows[0])
    extra[COL["id"]] = "med-99"
    with pytest.raises(TableError) as err:
        rows_to_decisions(report, [*rows, extra, [""] * len(COLUMNS)], lang="en")
    text = str(err.value)
    assert "maybe" in text and "med-99" in text and "normalised name" in text
    assert len(err.value.problems) == 3


def test_approve_all_then_reset(report: ConsultationReport) -> None:
    rows = report_to_rows(report, "fr")
    _row(rows, "med-2")[COL["dose"]] = "20 mg"
    approved = set_all_decisions(rows, "approved", "fr")
    assert {r[COL["decision"]] for r in approved} == {"approuvé"}
    assert _row(approved, "med-2")[COL["dose"]] == "20 mg"  # edits kept
    decisions = rows_to_decisions(report, approved)
    assert all(d.decision == "approved" for d in decisions)
    assert next(d for d in decisions if d.line_id == "med-2").line.dose == Quantity(
        value=20, unit="mg", ucum=True
    )


def test_transcript_markdown_by_turn_with_low_probability_marks(report: ConsultationReport) -> None:
    md = transcript_markdown(report, "fr")
    turns = md.split("\n\n")
    assert turns[0].startswith("**[00:00] Médecin :** Bonjour madame")
    assert turns[1].startswith("**[00:04] Patient :** Bonjour docteur")
    # segments 4 and 5 are consecutive doctor segments: one turn
    assert sum(t.startswith("**[00:19] Médecin :**") for t in turns) == 1 and len(turns) == 7
    assert '<mark title="p=0.42">l\'amoxicilline</mark>' in md
    assert "<mark" not in turns[0]
    assert "\\*max\\*" in md  # transcript text is never taken as markup
    en = transcript_markdown(report, "en")
    assert en.startswith("**[00:00] Doctor:** ") and "**[00:04] Patient:**" in en
    empty = report.model_copy(update={"segments": []})
    assert transcript_markdown(empty, "fr") == "_Aucune parole reconnue._"


def test_summary_and_report_file(report: ConsultationReport, tmp_path: Path) -> None:
    summary = summary_markdown(report, "fr")
    assert "00:54" in summary and "SPEAKER_00 (Médecin)" in summary and "4 (1 à vérifier)" in summary
    path = make_report_file(report, tmp_path)
    assert ConsultationReport.model_validate_json(path.read_text(encoding="utf-8")) == report


@pytest.mark.slow
def test_review_on_a_real_pipeline_report(tmp_path: Path) -> None:
    from consult.pipeline import Pipeline

    real = Pipeline().process(FIXTURE)
    md = transcript_markdown(real, "fr")
    assert "Médecin :**" in md and "Patient :**" in md
    rows = report_to_rows(real, "fr")
    assert len(rows) == len(real.medications) >= 2
    _review_and_check(real, tmp_path)


def test_review_on_the_constructed_report(report: ConsultationReport, tmp_path: Path) -> None:
    _review_and_check(report, tmp_path)


# ------------------------------------------------------------------------------------------- the CLI


def test_public_host_without_auth_is_refused(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    monkeypatch.delenv("CONSULT_UI_AUTH", raising=False)
    assert main(["--host", "0.0.0.0"]) != 0
    err = capsys.readouterr().err
    assert "0.0.0.0" in err and "--auth" in err


def test_bad_auth_and_port_are_refused(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    monkeypatch.setenv("CONSULT_UI_AUTH", "nopassword")
    assert main(["--host", "0.0.0.0"]) == 2
    assert "user:password" in capsys.readouterr().err
    monkeypatch.delenv("CONSULT_UI_AUTH")
    assert main(["--port", "70000"]) == 2


def test_loopback_and_auth_helpers() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.10") and not is_loopback("example.org")
    assert parse_auth("doc:s3:cret") == ("doc", "s3:cret")
    with pytest.raises(ValueError):
        parse_auth(":x")


# ------------------------------------------------------------------------------------- a real launch


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_launch_serves_the_page_on_loopback() -> None:
    app = build_app(lambda: pytest.fail("no model load on page load"))
    port = _free_port()
    app.launch(
        server_name="127.0.0.1",
        server_port=port,
        prevent_thread_lock=True,
        share=False,
        ssr_mode=False,
        quiet=True,
    )
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30) as resp:
            assert resp.status == 200
            assert "consult" in resp.read().decode("utf-8", "replace")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/config", timeout=30) as resp:
            config = json.loads(resp.read())
        labels = json.dumps(config, ensure_ascii=False)
        assert "Transcrire et extraire" in labels and "Télécharger le bundle FHIR" in labels
    finally:
        app.close()


class _ReportPipeline:
    """Stands in at the Pipeline interface: returns a fixed report and reports progress through the hook."""

    def __init__(self, result: ConsultationReport) -> None:
        self.result = result
        self.calls = 0

    def process(self, audio: Any, *, hook: Any = None) -> ConsultationReport:
        self.calls += 1
        if hook is not None:
            hook("asr", 0.5)
            hook("extract", 1.0)
        return self.result


def test_page_wiring_through_the_api(report: ConsultationReport) -> None:
    from gradio_client import Client, handle_file

    fake = _ReportPipeline(report)
    created: list[int] = []

    def factory() -> Any:
        created.append(1)
        return fake

    app = build_app(factory)
    port = _free_port()
    app.launch(
        server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, ssr_mode=False, quiet=True
    )
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        out = client.predict(handle_file(str(FIXTURE)), api_name="/transcribe")
        client.predict(handle_file(str(FIXTURE)), api_name="/transcribe")
        assert created == [1] and fake.calls == 2  # created once, lazily
        _player, summary, transcript, table, report_path, _bundle = out  # gr.State is not sent
        assert "Médecin" in transcript and "<mark" in transcript and "SPEAKER_00" in summary
        assert ConsultationReport.model_validate_json(Path(report_path).read_text(encoding="utf-8")) == report
        rows = table["data"]
        _row(rows, "med-3")[COL["decision"]] = "approuvé"
        bundle_path = client.predict({"headers": table["headers"], "data": rows}, api_name="/bundle")
        requests = _requests(Bundle.model_validate_json(Path(bundle_path).read_text(encoding="utf-8")))
        assert (requests["med-3"].status, requests["med-4"].status) == ("active", "draft")
        _row(rows, "med-4")[COL["dose"]] = "deux cachets"
        with pytest.raises(Exception, match="deux cachets"):  # shown to the reviewer, no bundle made
            client.predict({"headers": table["headers"], "data": rows}, api_name="/bundle")
    finally:
        app.close()
