"""Tests of the review page without a browser: table, HTML, store work, CLI guard rails, a real launch.

The browser tests (tests/test_browser.py) drive the same page in headless Chromium.
"""

from __future__ import annotations

import json
import os
import urllib.request
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import soundfile as sf
from conftest import free_port

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

import gradio as gr  # noqa: E402
from fhir.resources.R4B.bundle import Bundle  # noqa: E402

from consult.fhir import line_resources  # noqa: E402
from consult.store import ReportStore  # noqa: E402
from demo.__main__ import is_loopback, main, parse_auth  # noqa: E402
from demo.app import (  # noqa: E402
    COL,
    TableError,
    build_app,
    format_duration,
    format_frequency,
    format_quantity,
    lines_view,
    make_bundle_file,
    make_report_file,
    parse_duration,
    parse_frequency,
    parse_quantity,
    queue_rows,
    report_to_rows,
    rows_to_decisions,
    set_all_decisions,
    set_decision,
)
from demo.i18n import COLUMNS, headers  # noqa: E402
from demo.service import (  # noqa: E402
    ReviewError,
    ReviewService,
    default_audio_dir,
    make_plan_files,
    make_pseudonymised_transcript,
)
from demo.table import (  # noqa: E402
    decision_records,
    decisions_from_records,
    edited_fields,
    review_status,
    reviewed_report,
)
from demo.views import report_header_html, transcript_html, transcript_text, translate_warning  # noqa: E402
from schemas import (  # noqa: E402
    AudioInfo,
    ConsultationReport,
    Duration,
    Evidence,
    Frequency,
    MedicationLine,
    Quantity,
    ReviewDecision,
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
        id="3f2a9c0d1b7e4a6f8c5d2e10",  # as consult.config.job_id makes them
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
    return line_resources(bundle)


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
    if kept.status in ("stopped", "mentioned"):  # a statement, never a request
        assert approved.get_resource_type() == "MedicationStatement"
        dosage = approved.dosage[0]
    else:
        assert (approved.status, approved.intent) == ("active", "order")
        dosage = approved.dosageInstruction[0]
    dose = dosage.doseAndRate[0].doseQuantity
    assert (float(dose.value), dose.unit) == (3.0, "comprimé")
    for line in report.medications[2:]:
        res = requests[line.id]
        if line.status in ("stopped", "mentioned"):
            assert res.get_resource_type() == "MedicationStatement"
        else:
            assert (res.status, res.intent) == ("draft", "proposal")


class _ReportPipeline:
    """Stands in at the Pipeline interface: returns a fixed report and reports progress through the hook."""

    def __init__(self, result: ConsultationReport, settings: Any = None) -> None:
        self.result = result
        self.calls = 0
        if settings is not None:
            self.settings = settings

    def process(self, audio: Any, *, hook: Any = None) -> ConsultationReport:
        self.calls += 1
        if hook is not None:
            hook("transcription", 0.5)
            hook("extraction", 1.0)
        return self.result


@pytest.fixture()
def service(tmp_path: Path, report: ConsultationReport) -> ReviewService:
    return ReviewService(tmp_path / "consult.db", lambda: _ReportPipeline(report), audio_dir=tmp_path / "audio")


# ------------------------------------------------------------------------------------------- the page


def test_build_app_does_not_load_models_or_open_the_store(tmp_path: Path) -> None:
    calls: list[int] = []

    def factory() -> Any:
        calls.append(1)
        raise AssertionError("the pipeline must not be created at build time")

    store = tmp_path / "never" / "consult.db"
    for lang in ("fr", "en"):
        app = build_app(factory, language=lang, store=store)
        assert isinstance(app, gr.Blocks)
    assert calls == [] and not store.parent.exists()
    assert build_app(store=store).analytics_enabled is False


def test_build_app_rejects_unknown_language() -> None:
    with pytest.raises(ValueError, match="fr, en"):
        build_app(language="de")


# ------------------------------------------------------------------------------------------- the table


def test_report_to_rows_formats_cells_in_the_page_language(report: ConsultationReport) -> None:
    rows = report_to_rows(report, "fr")
    assert len(rows) == 4 and all(len(r) == len(COLUMNS) == len(headers("fr")) for r in rows)
    amox = dict(zip(COLUMNS, _row(rows, "med-3"), strict=True))
    assert (amox["strength"], amox["dose"], amox["frequency"]) == ("1000 mg", "1 comprimé", "2/j")
    assert (amox["when"], amox["duration"], amox["status"]) == ("matin, soir", "6 j", "nouveau")
    assert (amox["decision"], amox["confidence"]) == ("en attente", "0,55")
    para = dict(zip(COLUMNS, _row(rows, "med-4"), strict=True))
    assert (para["frequency"], para["as_needed"]) == ("1/6h", "oui")
    en = dict(zip(COLUMNS, _row(report_to_rows(report, "en"), "med-3"), strict=True))
    assert (en["when"], en["decision"], en["status"]) == ("morning, evening", "pending", "new")
    assert (en["frequency"], en["duration"], en["confidence"]) == ("2/d", "6 d", "0.55")


def test_rows_show_a_saved_review(report: ConsultationReport) -> None:
    edited = report.medications[2].model_copy(update={"dose": Quantity(value=2, unit="comprimé")})
    decisions = [
        ReviewDecision(line_id="med-3", decision="approved", line=edited),
        ReviewDecision(line_id="med-4", decision="rejected"),
    ]
    rows = report_to_rows(report, "fr", decisions)
    assert (_row(rows, "med-3")[COL["dose"]], _row(rows, "med-3")[COL["decision"]]) == ("2 comprimé", "approuvé")
    assert _row(rows, "med-4")[COL["decision"]] == "rejeté"
    assert _row(rows, "med-1")[COL["decision"]] == "en attente"
    back = {d.line_id: d for d in rows_to_decisions(report, rows)}
    assert back["med-3"].line == edited and back["med-4"].decision == "rejected"


def test_the_ald_column_round_trips_through_the_table_and_the_store(report: ConsultationReport) -> None:
    at = datetime(2025, 3, 1, 11, 0, tzinfo=timezone.utc)
    saved = [ReviewDecision(line_id="med-3", decision="approved", ald=True, reviewer="dr", at=at),
             ReviewDecision(line_id="med-4", decision="approved", reviewer="dr", at=at)]
    for lang, yes in (("fr", "oui"), ("en", "yes")):
        rows = report_to_rows(report, lang, saved)
        assert headers(lang)[COL["ald"]] == "ALD"
        assert [r[COL["ald"]] for r in rows] == ["", "", yes, ""]  # empty: not ALD
        back = {d.line_id: d for d in rows_to_decisions(report, rows, lang=lang)}
        assert [back[i].ald for i in ("med-1", "med-2", "med-3", "med-4")] == [False, False, True, False]
        assert back["med-3"].line is None  # the mark is the decision's, not an edit of the line
    # the reviewer types the mark (either language's words); an unreadable mark is an error, not a "no"
    rows = report_to_rows(report, "fr")
    _row(rows, "med-4")[COL["ald"]] = "Oui"
    _row(rows, "med-3")[COL["ald"]] = "non"
    assert [d.ald for d in rows_to_decisions(report, rows)] == [False, False, False, True]
    _row(rows, "med-3")[COL["ald"]] = "peut-être"
    with pytest.raises(TableError) as err:
        rows_to_decisions(report, rows)
    assert err.value.problems == ["ligne med-3, colonne « ALD » : « peut-être » non reconnu (attendu : oui ou non)"]
    # the store keeps it; a record saved before the mark existed reads as not ALD
    records = decision_records(report, saved)
    assert [r["ald"] for r in records] == [True, False]
    assert decisions_from_records(report, records) == saved
    old = [{k: v for k, v in r.items() if k != "ald"} for r in records]
    assert [d.ald for d in decisions_from_records(report, old)] == [False, False]


def test_unedited_rows_give_pending_decisions_without_edits(report: ConsultationReport) -> None:
    for lang in ("fr", "en"):
        decisions = rows_to_decisions(report, report_to_rows(report, lang), lang=lang)
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
@pytest.mark.parametrize("lang", ["fr", "en"])
def test_quantity_round_trip(quantity: Quantity, lang: str) -> None:
    assert parse_quantity(format_quantity(quantity, lang), quantity) == quantity


@pytest.mark.parametrize(
    "frequency",
    [
        Frequency(count=3, period=1, period_unit="d"),
        Frequency(count=1, period=8, period_unit="h"),
        Frequency(count=1, count_max=2, period=1, period_unit="d"),
        Frequency(count=2, period=1, period_unit="wk"),
        Frequency(count=1, period=1, period_unit="mo"),
        Frequency(count=1, period=1.5, period_unit="d"),
    ],
)
@pytest.mark.parametrize("lang", ["fr", "en"])
def test_frequency_round_trip(frequency: Frequency, lang: str) -> None:
    assert parse_frequency(format_frequency(frequency, lang)) == frequency


@pytest.mark.parametrize(
    "duration", [Duration(value=7, unit="d"), Duration(value=2, unit="wk"), Duration(value=3, unit="mo")]
)
@pytest.mark.parametrize("lang", ["fr", "en"])
def test_duration_round_trip(duration: Duration, lang: str) -> None:
    assert parse_duration(format_duration(duration, lang)) == duration


def test_units_are_written_in_the_page_language() -> None:
    assert format_frequency(Frequency(count=2, period=1, period_unit="wk"), "fr") == "2/sem"
    assert format_frequency(Frequency(count=2, period=1, period_unit="wk"), "en") == "2/wk"
    assert format_duration(Duration(value=3, unit="mo"), "fr") == "3 mois"
    assert format_quantity(Quantity(value=0.5, unit="g", ucum=True), "fr") == "0,5 g"
    assert format_quantity(Quantity(value=0.5, unit="g", ucum=True), "en") == "0.5 g"


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
        line = next(m for m in report.medications if m.id == pending)
        if line.status in ("stopped", "mentioned"):
            assert requests[pending].get_resource_type() == "MedicationStatement"
        else:
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


def test_approve_all_set_one_line_and_reset(report: ConsultationReport) -> None:
    rows = report_to_rows(report, "fr")
    _row(rows, "med-2")[COL["dose"]] = "20 mg"
    approved = set_all_decisions(rows, "approved", "fr")
    assert {r[COL["decision"]] for r in approved} == {"approuvé"}
    assert _row(approved, "med-2")[COL["dose"]] == "20 mg"  # edits kept
    decisions = rows_to_decisions(report, approved)
    assert all(d.decision == "approved" for d in decisions)
    assert next(d for d in decisions if d.line_id == "med-2").line.dose == Quantity(value=20, unit="mg", ucum=True)
    one = set_decision(approved, "med-4", "rejected", "fr")
    assert [r[COL["decision"]] for r in one] == ["approuvé", "approuvé", "approuvé", "rejeté"]
    assert _row(one, "med-2")[COL["dose"]] == "20 mg"


def test_decision_records_round_trip_and_review_status(report: ConsultationReport) -> None:
    edited = report.medications[2].model_copy(update={"dose": Quantity(value=2, unit="comprimé"),
                                                      "duration": Duration(value=10, unit="d")})
    at = datetime(2025, 3, 1, 11, 0, tzinfo=timezone.utc)
    decisions = [
        ReviewDecision(line_id="med-1", decision="approved", reviewer="dr", at=at),
        ReviewDecision(line_id="med-2", decision="approved", reviewer="dr", at=at),
        ReviewDecision(line_id="med-3", decision="approved", line=edited, reviewer="dr", at=at),
        ReviewDecision(line_id="med-4", decision="rejected", reviewer="dr", at=at),
    ]
    records = decision_records(report, decisions)
    assert json.loads(json.dumps(records)) == records  # what the store keeps is plain JSON
    assert records[2]["edited"] == ["dose", "duration"] and records[0]["edited"] == []
    assert decisions_from_records(report, [*records, {"line_id": "med-99", "decision": "approved"}]) == decisions
    assert edited_fields(report.medications[0], None) == []
    assert review_status(decisions) == "partly_approved"
    assert review_status(decisions[:3]) == "approved" and review_status([]) == "approved"
    assert review_status([decisions[3]]) == "rejected"
    assert review_status([*decisions, ReviewDecision(line_id="x", decision="pending")]) == "to_review"
    assert reviewed_report(report, decisions).medications[2] == edited
    assert reviewed_report(report, decisions).medications[3] == report.medications[3]


# --------------------------------------------------------------------------------------------- the HTML


def test_transcript_html_by_turn_with_roles_times_and_highlights(report: ConsultationReport) -> None:
    html = transcript_html(report, "fr")
    assert html.count('class="turn ') == 7  # segments 4 and 5 are consecutive doctor segments: one turn
    assert '<button type="button" class="ts" data-seek="0.50"' in html and "▶ 00:00</button>" in html
    assert '<span class="who">Médecin</span>' in html and '<span class="who">Patient</span>' in html
    assert html.count('class="seg"') == len(report.segments)
    assert 'data-seek="30.23"' in html  # the second segment of a turn plays from its own start
    assert '<mark class="low" title="p = 0.42">l&#x27;amoxicilline</mark>' in html
    assert '<b class="num">1000</b>' in html and '<b class="num">six</b>' in html
    assert "*max*" in html and "<script" not in html
    en = transcript_html(report, "en")
    assert '<span class="who">Doctor</span>' in en
    empty = report.model_copy(update={"segments": []})
    assert "Aucune parole reconnue." in transcript_html(empty, "fr")


def test_transcript_escapes_what_was_said(report: ConsultationReport) -> None:
    seg = Segment(id=0, start=1.0, end=2.0, text="<script>alert(1)</script> & co", speaker="SPEAKER_00")
    html = transcript_html(report.model_copy(update={"segments": [seg]}), "fr")
    assert "<script>" not in html and "&lt;script&gt;" in html and "&amp;" in html


def test_line_cards_show_schedule_evidence_flags_and_decision(report: ConsultationReport) -> None:
    rows = set_decision(report_to_rows(report, "fr"), "med-4", "rejected", "fr")
    problems, cards = lines_view(report, rows, "fr")
    assert problems == [] and [c[0] for c in cards] == ["med-1", "med-2", "med-3", "med-4"]
    amox = dict((c[0], c[1]) for c in cards)["med-3"]
    assert "Amoxicilline 1000 mg" in amox and "1 comprimé, 2 fois par jour, le matin et le soir" in amox
    assert 'data-seek="30.23"' in amox and "▶ 00:30" in amox  # the evidence plays its sentence
    assert "<b>amoxicilline</b>" in amox and "Médecin" in amox
    assert "sev-warning" in amox and "lecture incertaine" in amox  # consult.review's low-confidence flag
    assert "dec-pending" in amox
    para = dict((c[0], c[1]) for c in cards)["med-4"]
    assert "dec-rejected" in para and dict((c[0], c[2]) for c in cards)["med-4"] == "rejected"
    en = dict((c[0], c[1]) for c in lines_view(report, report_to_rows(report, "en"), "en")[1])["med-3"]
    assert "uncertain reading" in en and "twice a day" in en


def test_line_cards_list_unreadable_cells_and_keep_decisions(report: ConsultationReport) -> None:
    rows = set_decision(report_to_rows(report, "fr"), "med-3", "approved", "fr")
    _row(rows, "med-3")[COL["dose"]] = "deux cachets"
    problems, cards = lines_view(report, rows, "fr")
    assert len(problems) == 1 and "deux cachets" in problems[0]
    assert dict((c[0], c[2]) for c in cards)["med-3"] == "approved"


def test_edited_line_card_shows_the_correction(report: ConsultationReport) -> None:
    rows = report_to_rows(report, "fr")
    _row(rows, "med-3")[COL["dose"]] = "2 comprimé"
    amox = dict((c[0], c[1]) for c in lines_view(report, rows, "fr")[1])["med-3"]
    assert "2 comprimés, 2 fois par jour" in amox and "✎ corrigé" in amox


def test_interaction_flag_is_shown_on_both_lines() -> None:
    seg = Segment(id=0, start=0.0, end=6.0, speaker="SPEAKER_00",
                  text="Je vous prescris de la clarithromycine et vous continuez la simvastatine.")

    def line(i: int, name: str, atc: str) -> MedicationLine:
        start = seg.text.index(name)
        return MedicationLine(id=f"med-{i}", drug_text=name, name=name, atc=atc, status="new", confidence=0.9,
                              evidence=Evidence(segment_id=0, char_start=start, char_end=start + len(name),
                                                text=name, start=0.0, end=6.0, speaker="SPEAKER_00"))

    report = ConsultationReport(
        id="0" * 24, created_at=datetime(2025, 3, 1, tzinfo=timezone.utc), language="fr",
        speakers=[Speaker(id="SPEAKER_00", role="doctor")], segments=[seg],
        medications=[line(1, "clarithromycine", "J01FA09"), line(2, "simvastatine", "C10AA01")],
    )
    cards = dict((c[0], c[1]) for c in lines_view(report, report_to_rows(report, "fr"), "fr")[1])
    for card in cards.values():
        assert "Interaction" in card and "sev-critical" in card and "thésaurus ANSM" in card


def test_report_header_shows_facts_status_and_last_review(report: ConsultationReport) -> None:
    from consult.store import Event

    warned = report.model_copy(update={"warnings": ["2 medication line(s) need review",
                                                    "the doctor could not be identified; pass --doctor-speaker"]})
    event = Event(job_id=report.id, kind="signed", actor="Dr Martin",
                  at=datetime(2025, 3, 1, 10, 5, tzinfo=timezone.utc))
    html = report_header_html(warned, "fr", review_status="partly_approved", last_review=event)
    assert "fr_consult_1.flac" in html and "approuvé en partie" in html and "00:54" in html
    assert "signé par Dr Martin le 1er mars 2025 à" in html
    assert "Médecin (SPEAKER_00)" in html and "4 (1 à vérifier)" in html
    assert "le médecin n&#x27;a pas été identifié" in html and "need review" not in html
    assert "pas encore relu" in report_header_html(report, "fr")
    assert translate_warning("3 medication line(s) need review", "en") is None


# --------------------------------------------------------------------------------------- store and files


def test_processing_stores_the_report_and_keeps_the_audio(service: ReviewService, report: ConsultationReport) -> None:
    progress: list[tuple[float, str]] = []
    job_id, reused = service.process(FIXTURE, progress=lambda f, d: progress.append((f, d)), actor="Dr A")
    assert (job_id, reused) == (report.id, False)
    assert progress[0][1].startswith("Chargement des modèles") and progress[-1][1] == "Enregistrement dans la file"
    assert [f for f, _ in progress] == sorted(f for f, _ in progress)
    job = service.store.get(job_id)
    assert (job.status, job.review_status, job.medications, job.needs_review) == ("done", "to_review", 4, 1)
    assert job.input_name == FIXTURE.name and Path(job.input_path).parent == service.audio_dir
    kept = Path(job.input_path)  # re-encoded: FLAC, same length, never the uploaded bytes
    assert kept.name == f"{job_id}.flac" and sf.info(str(kept)).format == "FLAC"
    assert sf.info(str(kept)).duration == pytest.approx(sf.info(str(FIXTURE)).duration, abs=0.05)
    assert (kept.stat().st_mode & 0o077) == 0
    assert [e.kind for e in service.store.history(job_id)] == ["created", "done"]
    assert service.store.history(job_id)[0].actor == "Dr A"
    opened = service.open(job_id)
    assert opened.report == report and opened.decisions == [] and opened.last_review is None
    assert opened.audio_path == Path(job.input_path)


def test_a_processed_recording_is_reopened_not_run_again(tmp_path: Path, report: ConsultationReport) -> None:
    import hashlib

    from consult.config import Settings, job_id

    settings = Settings()
    known = report.model_copy(update={"id": job_id(hashlib.sha256(FIXTURE.read_bytes()).hexdigest(), settings)})
    fake = _ReportPipeline(known, settings)
    service = ReviewService(tmp_path / "consult.db", lambda: fake, audio_dir=tmp_path / "audio")
    assert service.process(FIXTURE) == (known.id, False)
    assert service.process(FIXTURE) == (known.id, True)
    assert fake.calls == 1


def test_pipeline_errors_are_shown_in_the_page_language(tmp_path: Path) -> None:
    from consult.errors import AudioError

    class Broken:
        def process(self, audio: Any, *, hook: Any = None) -> ConsultationReport:
            raise AudioError("cannot decode")

    service = ReviewService(tmp_path / "consult.db", Broken, audio_dir=tmp_path / "audio")
    with pytest.raises(ReviewError, match="Échec du traitement : cannot decode"):
        service.process(FIXTURE)
    assert service.store.list() == []


def test_sign_off_saves_who_when_decisions_and_the_reviewed_bundle(service: ReviewService,
                                                                   report: ConsultationReport) -> None:
    job_id, _ = service.process(FIXTURE)
    rows = report_to_rows(report, "fr")
    _row(rows, "med-3")[COL["dose"]] = "2 comprimé"
    rows = set_decision(set_decision(rows, "med-3", "approved", "fr"), "med-4", "rejected", "fr")

    with pytest.raises(ReviewError, match="nom de relecteur"):
        service.save(report, rows, "  ", sign=True)
    with pytest.raises(ReviewError, match="En attente : med-1, med-2"):
        service.save(report, rows, "Dr B", sign=True)
    draft = service.save(report, rows, "Dr B", sign=False)  # work kept for later, not signed
    assert (draft.action, draft.status) == ("edited", "to_review")

    rows = set_decision(set_decision(rows, "med-1", "approved", "fr"), "med-2", "rejected", "fr")
    saved = service.save(report, rows, "Dr B", sign=True)
    assert (saved.action, saved.actor, saved.status) == ("signed", "Dr B", "partly_approved")
    events = service.store.history(job_id)
    assert [e.kind for e in events][-2:] == ["edited", "signed"]
    assert events[-1].actor == "Dr B" and events[-1].at == saved.at
    assert events[-1].details["review_status"] == "partly_approved"
    assert service.store.get(job_id).review_status == "partly_approved"

    requests = _requests(Bundle.model_validate_json(service.store.bundle_json(job_id)))
    assert set(requests) == {"med-1", "med-3"}
    assert (requests["med-3"].status, requests["med-3"].intent) == ("active", "order")
    dose = requests["med-3"].dosageInstruction[0].doseAndRate[0].doseQuantity
    assert (float(dose.value), dose.unit) == (2.0, "comprimé")
    assert saved.bundle_path.read_text(encoding="utf-8") == service.store.bundle_json(job_id)
    reviewed = ConsultationReport.model_validate_json(service.store.report_json(job_id))
    assert reviewed.medications[2].dose == Quantity(value=2, unit="comprimé")
    assert service.store.report_json(job_id, draft=True) == report.model_dump_json()
    plan_html = saved.plan_path.read_text(encoding="utf-8")
    assert "Amoxicilline" in plan_html and "Paracétamol" not in plan_html and '<html lang="fr">' in plan_html
    assert "Amoxicilline" in saved.plan_markdown

    opened = service.open(job_id)  # a pharmacist reopens it: the review comes back
    assert opened.last_review.kind == "signed" and opened.last_review.actor == "Dr B"
    back = report_to_rows(opened.report, "fr", opened.decisions)
    assert _row(back, "med-3")[COL["dose"]] == "2 comprimé"
    assert [r[COL["decision"]] for r in back] == ["approuvé", "rejeté", "approuvé", "rejeté"]


def test_queue_filters_by_review_status(service: ReviewService, report: ConsultationReport) -> None:
    job_id, _ = service.process(FIXTURE)
    assert [j.id for j, _e in service.queue("to_review")] == [job_id]
    assert service.queue("approved") == []
    service.save(report, set_all_decisions(report_to_rows(report, "fr"), "approved", "fr"), "Pharmacien C",
                 sign=True)
    assert service.queue("to_review") == []
    ((job, event),) = service.queue("approved")
    assert (job.id, event.actor) == (job_id, "Pharmacien C")
    (row,) = queue_rows(service.queue("all"), "fr")
    assert row[1:7] == ["fr_consult_1.flac", "fr", "00:54", "4", "1", "approuvé"]
    assert row[7].startswith("signé par Pharmacien C le ")
    with pytest.raises(ReviewError, match="introuvable"):
        service.open("f" * 24)


def test_default_audio_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONSULT_AUDIO_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_audio_dir(tmp_path / "s" / "consult.db") == tmp_path / "s" / "audio"
    assert default_audio_dir(f"sqlite://{tmp_path}/t/consult.db") == tmp_path / "t" / "audio"
    assert default_audio_dir("postgresql://u@db/consult") == tmp_path / "xdg" / "consult" / "audio"
    monkeypatch.setenv("CONSULT_AUDIO_DIR", str(tmp_path / "elsewhere"))
    assert default_audio_dir(tmp_path / "s" / "consult.db") == tmp_path / "elsewhere"


def test_pseudonymised_transcript_replaces_names_and_phone_numbers(report: ConsultationReport,
                                                                   tmp_path: Path) -> None:
    seg = Segment(id=len(report.segments), start=60.0, end=64.0, speaker="SPEAKER_01",
                  text="Je suis Madame Dupont, mon numéro est le 06 12 34 56 78.")
    shared = report.model_copy(update={"segments": [*report.segments, seg]})
    path = make_pseudonymised_transcript(shared, tmp_path, "fr")
    text = path.read_text(encoding="utf-8")
    assert path.name == "transcription-pseudonymisee.txt"
    assert "Dupont" not in text and "06 12 34 56 78" not in text and "[NOM_1]" in text and "[TEL_1]" in text
    assert text.startswith("[00:00] Médecin : Bonjour madame")
    assert "[01:00] Patient : Je suis" in text
    assert transcript_text(report, "en").startswith("[00:00] Doctor: Bonjour madame")


def test_plan_of_the_approved_lines_in_the_consultation_language(report: ConsultationReport, tmp_path: Path) -> None:
    decisions = [ReviewDecision(line_id="med-3", decision="approved"),
                 ReviewDecision(line_id="med-4", decision="rejected")]
    path, markdown = make_plan_files(report.model_copy(update={"language": "en"}), decisions, tmp_path)
    html = path.read_text(encoding="utf-8")
    assert '<html lang="en">' in html and "Your medicines" in html and "Amoxicilline" in html
    assert "aracétamol" not in html and "Amoxicilline" in markdown


@pytest.mark.slow
def test_review_on_a_real_pipeline_report(tmp_path: Path, pipeline: Any) -> None:
    real = pipeline.process(FIXTURE)
    html = transcript_html(real, "fr")
    assert '<span class="who">Médecin</span>' in html and '<span class="who">Patient</span>' in html
    rows = report_to_rows(real, "fr")
    assert len(rows) == len(real.medications) >= 2
    at = datetime(2025, 3, 1, tzinfo=timezone.utc)
    fr = rows_to_decisions(real, rows, at=at)
    assert fr == rows_to_decisions(real, report_to_rows(real, "en"), lang="en", at=at)
    assert all(d.decision == "pending" and d.line is None for d in fr)  # the formats read back unchanged
    _review_and_check(real, tmp_path)


def test_review_on_the_constructed_report(report: ConsultationReport, tmp_path: Path) -> None:
    _review_and_check(report, tmp_path)
    assert make_report_file(report, tmp_path).read_text(encoding="utf-8") == report.model_dump_json(indent=2)


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


def test_cli_passes_store_audio_dir_and_safe_launch_options(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import demo.app

    seen: dict[str, Any] = {}

    from demo.live import LiveRegistry, StreamChunkTap

    class FakeApp:
        consult_live = LiveRegistry()

        def launch(self, **kwargs: Any) -> None:
            seen["launch"] = kwargs

    def fake_build(**kwargs: Any) -> FakeApp:
        seen["build"] = kwargs
        return FakeApp()

    monkeypatch.setattr(demo.app, "build_app", fake_build)
    monkeypatch.delenv("CONSULT_UI_AUTH", raising=False)
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio-tmp"))
    store = str(tmp_path / "s.db")
    assert main(["--store", store, "--audio-dir", str(tmp_path / "a"), "--lang", "en"]) == 0
    assert seen["build"] == {"language": "en", "store": store, "audio_dir": str(tmp_path / "a"), "may": None,
                             "prescriber": None}
    launch = seen["launch"]
    assert (launch["server_name"], launch["share"]) == ("127.0.0.1", False)
    login = launch["auth"]  # a login always: one made for this launch on loopback, checked rate-limited
    assert callable(login) and not login("consult", "guess")
    assert launch["run_history"] is False and launch["app_kwargs"]["middleware"]
    # the live page's chunks all reach their session (StreamChunkTap), on the page's own registry
    taps = [m for m in launch["app_kwargs"]["middleware"] if m.cls is StreamChunkTap]
    assert len(taps) == 1 and taps[0].kwargs["registry"] is FakeApp.consult_live
    assert launch["max_file_size"] == "500mb"
    temp = Path(os.environ["GRADIO_TEMP_DIR"])  # uploads land in a folder only this user can read
    assert temp.is_dir() and (temp.stat().st_mode & 0o077) == 0
    monkeypatch.setenv("CONSULT_STORE", store + "2")
    assert main(["--host", "0.0.0.0", "--auth", "doc:pw"]) == 0
    assert seen["build"]["store"] == store + "2" and seen["launch"]["auth"]("doc", "pw")
    assert not seen["launch"]["auth"]("doc", "other")


# ------------------------------------------------------------------------------------- a real launch




@pytest.mark.parametrize(
    ("lang", "labels"),
    [
        ("fr", ["Transcrire et extraire", "File de relecture (pharmacien)", "Signer et enregistrer"]),
        ("en", ["Transcribe and extract", "Review queue (pharmacist)", "Sign and save"]),
    ],
)
def test_launch_serves_the_page_on_loopback(tmp_path: Path, lang: str, labels: list[str]) -> None:
    app = build_app(lambda: pytest.fail("no model load on page load"), language=lang, store=tmp_path / "s.db")
    port = free_port()
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, share=False, ssr_mode=False,
               quiet=True)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30) as resp:
            assert resp.status == 200
            assert "consult" in resp.read().decode("utf-8", "replace")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/config", timeout=30) as resp:
            config = json.dumps(json.loads(resp.read()), ensure_ascii=False)
        assert all(label in config for label in labels)
    finally:
        app.close()


def test_page_wiring_through_the_api(report: ConsultationReport, tmp_path: Path) -> None:
    from gradio_client import Client, handle_file

    fake = _ReportPipeline(report)
    created: list[int] = []

    def factory() -> Any:
        created.append(1)
        return fake

    app = build_app(factory, store=tmp_path / "consult.db", audio_dir=tmp_path / "audio")
    port = free_port()
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, ssr_mode=False, quiet=True)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        out = client.predict(handle_file(str(FIXTURE)), "Dr API", api_name="/transcribe")
        client.predict(handle_file(str(FIXTURE)), "Dr API", api_name="/transcribe")
        assert created == [1] and fake.calls == 2  # created once, lazily
        header, player, transcript, table = out[:4]  # gr.State is not sent
        assert "fr_consult_1.flac" in header and "à relire" in header
        assert "<audio" in player and "gradio_api/file=" in player
        assert "Médecin" in transcript and '<mark class="low"' in transcript
        rows = table["data"]
        rows = set_decision(set_all_decisions(rows, "approved", "fr"), "med-4", "rejected", "fr")
        status = client.predict({"headers": table["headers"], "data": rows}, "Dr API", "all", api_name="/sign")[0]
        assert status.startswith("✓ Signé par Dr API")
        with ReportStore.open(tmp_path / "consult.db") as store:
            assert store.get(report.id).review_status == "partly_approved"
            assert [e.actor for e in store.history(report.id) if e.kind == "signed"] == ["Dr API"]
        _row(rows, "med-3")[COL["dose"]] = "deux cachets"
        with pytest.raises(Exception, match="deux cachets"):  # shown to the reviewer, nothing saved
            client.predict({"headers": table["headers"], "data": rows}, "Dr API", api_name="/bundle")
    finally:
        app.close()


def test_the_login_is_the_reviewer(report: ConsultationReport, tmp_path: Path) -> None:
    from gradio_client import Client, handle_file

    app = build_app(lambda: _ReportPipeline(report), store=tmp_path / "consult.db", audio_dir=tmp_path / "audio")
    port = free_port()
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, ssr_mode=False, quiet=True,
               auth=("dr-login", "pw"))
    try:
        with pytest.raises(Exception):  # noqa: B017 - no page, no API without the login
            Client(f"http://127.0.0.1:{port}/", verbose=False).predict(handle_file(str(FIXTURE)), "x",
                                                                       api_name="/transcribe")
        client = Client(f"http://127.0.0.1:{port}/", verbose=False, auth=("dr-login", "pw"))
        table = client.predict(handle_file(str(FIXTURE)), "", api_name="/transcribe")[3]
        rows = set_all_decisions(table["data"], "approved", "fr")
        status = client.predict({"headers": table["headers"], "data": rows}, "someone else", "all",
                                api_name="/sign")[0]
        assert "Signé par dr-login" in status
        with ReportStore.open(tmp_path / "consult.db") as store:
            assert [e.actor for e in store.history(report.id) if e.kind == "signed"] == ["dr-login"]
    finally:
        app.close()


def test_download_folders_are_removed_after_an_hour(tmp_path: Path) -> None:
    from demo.service import WorkDir

    work = WorkDir(tmp_path, keep_seconds=3600)
    old, recent = work.fresh(), work.fresh()
    (old / "bundle.json").write_text("{}")
    os.utime(old, (0, 0))
    newest = work.fresh()
    assert not old.exists() and recent.is_dir() and newest.is_dir()


def test_both_languages_have_every_label() -> None:
    from demo.i18n import LANGUAGES, QUEUE_FILTERS, texts

    fr, en = (set(texts(lang)) for lang in LANGUAGES)
    assert fr == en
    assert all(f"f_{f}" in fr for f in QUEUE_FILTERS)
    assert all(f"rs_{s}" in fr for s in ("to_review", "approved", "rejected", "partly_approved"))
    assert all(f"ev_{k}" in fr for k in ("signed", "reviewed", "edited", "approved", "rejected"))


def test_page_keeps_no_run_history_and_shows_no_footer_links(tmp_path: Path) -> None:
    from demo.__main__ import SAFE_LAUNCH

    app = build_app(lambda: pytest.fail("no model load on page load"), language="fr", store=tmp_path / "s.db")
    port = free_port()
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, **SAFE_LAUNCH)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/config", timeout=30) as resp:
            config = json.loads(resp.read())
        assert config["run_history"] is False and config["footer_links"] == []
    finally:
        app.close()


def test_a_polyglot_upload_is_kept_and_served_as_audio(service: ReviewService, tmp_path: Path) -> None:
    """A WAV that is also an HTML page, uploaded as evil.html: the kept copy is FLAC (audio MIME), no HTML left."""
    import mimetypes

    data, rate = sf.read(str(FIXTURE), dtype="int16", frames=16000)
    wav = tmp_path / "clip.wav"
    sf.write(str(wav), data, rate, subtype="PCM_16")
    evil = tmp_path / "evil.html"
    evil.write_bytes(wav.read_bytes() + b"<html><script>alert(document.cookie)</script></html>")
    kept = service.keep_audio(evil, "0123456789abcdef01234567")
    assert kept.suffix == ".flac" and mimetypes.guess_type(kept.name)[0] in ("audio/flac", "audio/x-flac")
    assert b"<script" not in kept.read_bytes() and sf.info(str(kept)).format == "FLAC"


def test_launched_page_asks_a_login_and_refuses_foreign_hosts(tmp_path: Path) -> None:
    """`python -m demo` for real: without the launch login nothing is served; a foreign Host header (DNS
    rebinding) and a cross-origin POST are refused even with it."""
    import subprocess
    import sys
    import time

    import httpx

    port = free_port()
    env = dict(os.environ, HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False", PYTHONUNBUFFERED="1")
    env.pop("CONSULT_UI_AUTH", None)
    proc = subprocess.Popen([sys.executable, "-m", "demo", "--port", str(port), "--store", str(tmp_path / "s.db"),
                             "--audio-dir", str(tmp_path / "audio")], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env, cwd=Path(__file__).resolve().parents[1])
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        while "Login for this launch" not in line:
            assert line, "the page printed no launch login"
            line = proc.stdout.readline()
        password = line.rsplit("password ", 1)[1].strip().strip("'")
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(base + "/", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the page did not start"
                time.sleep(0.3)
        assert httpx.get(base + "/config", timeout=10).status_code in (401, 403)  # no session, nothing
        assert httpx.get(base + "/", headers={"Host": "evil.example:7860"}, timeout=10).status_code == 400
        with httpx.Client(base_url=base, timeout=10) as client:
            bad = client.post("/login", data={"username": "consult", "password": "guess"})
            assert bad.status_code in (400, 401)
            foreign = client.post("/login", data={"username": "consult", "password": password},
                                  headers={"Origin": "http://evil.example"})
            assert foreign.status_code == 403
            ok = client.post("/login", data={"username": "consult", "password": password})
            assert ok.status_code == 200, ok.text
            assert client.get("/config").status_code == 200
    finally:
        proc.terminate()
        proc.wait(30)


def test_account_roles_on_the_page(report: ConsultationReport, tmp_path: Path) -> None:
    """With an accounts file the login is checked against hashed passwords and the role decides: a pharmacist
    cannot transcribe; a doctor can, and signs as the logged-in account whatever name is typed."""
    from gradio_client import Client, handle_file

    from consult.accounts import Accounts, add_account

    path = tmp_path / "accounts"
    add_account(path, "ph.durand", "pharmacist", "pharmacien secret")
    add_account(path, "dr.martin", "doctor", "docteur secret")
    accounts = Accounts.load(path)
    app = build_app(lambda: _ReportPipeline(report), store=tmp_path / "consult.db", audio_dir=tmp_path / "audio",
                    may=accounts.may)
    port = free_port()
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, ssr_mode=False, quiet=True,
               auth=accounts.login)
    try:
        pharmacist = Client(f"http://127.0.0.1:{port}/", auth=("ph.durand", "pharmacien secret"), verbose=False)
        with pytest.raises(Exception, match="rôle ne permet pas de transcrire"):
            pharmacist.predict(handle_file(str(FIXTURE)), "", api_name="/transcribe")
        doctor = Client(f"http://127.0.0.1:{port}/", auth=("dr.martin", "docteur secret"), verbose=False)
        out = doctor.predict(handle_file(str(FIXTURE)), "Someone Else", api_name="/transcribe")
        rows = set_all_decisions(out[3]["data"], "approved", "fr")
        status = doctor.predict({"headers": out[3]["headers"], "data": rows}, "Someone Else", "all",
                                api_name="/sign")[0]
        assert "dr.martin" in status and "Someone Else" not in status
        with pytest.raises(Exception):  # noqa: B017 - gradio_client refuses a wrong login with its own error
            Client(f"http://127.0.0.1:{port}/", auth=("dr.martin", "wrong password"), verbose=False)
    finally:
        app.close()


def test_login_sessions_expire(tmp_path: Path) -> None:
    import time

    import httpx
    from starlette.middleware import Middleware

    from consult.security import SessionExpiry

    idle = 3.0  # seconds: well above one /config request on a loaded 2-core machine
    app = build_app(lambda: pytest.fail("no model load"), store=tmp_path / "s.db")
    port = free_port()
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, ssr_mode=False, quiet=True,
               auth=("dr.test", "un mot de passe long"),
               app_kwargs={"middleware": [Middleware(SessionExpiry, idle_s=idle, max_s=60.0)]})
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            assert client.post("/login", data={"username": "dr.test", "password": "un mot de passe long"}
                               ).status_code == 200
            assert client.get("/config").status_code == 200
            time.sleep(0.2)
            assert client.get("/config").status_code == 200  # still active: each request renews it
            time.sleep(idle + 0.5)
            assert client.get("/config").status_code in (401, 403)  # idle too long: log in again
    finally:
        app.close()


def test_page_process_forces_offline_hub() -> None:
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"}
    r = subprocess.run([sys.executable, "-c", "import os, demo.__main__; print(os.environ.get('HF_HUB_OFFLINE'))"],
                       capture_output=True, text=True, env=env, cwd=Path(__file__).resolve().parents[1], timeout=120)
    assert r.stdout.strip() == "1", r.stderr


def test_ordonnance_from_the_page(report: ConsultationReport, tmp_path: Path) -> None:
    """The Ordonnance button: refused while a line is undecided, then the printable page of the approved lines."""
    from gradio_client import Client, handle_file

    from consult.ordonnance import Prescriber

    app = build_app(lambda: _ReportPipeline(report), store=tmp_path / "consult.db", audio_dir=tmp_path / "audio",
                    prescriber=Prescriber(name="Dr Claire Martin", rpps="10101010101"))
    port = free_port()
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, ssr_mode=False, quiet=True)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        out = client.predict(handle_file(str(FIXTURE)), "Dr API", api_name="/transcribe")
        table = out[3]
        with pytest.raises(Exception, match="Décidez chaque ligne"):
            client.predict({"headers": table["headers"], "data": table["data"]}, api_name="/ordonnance")
        rows = set_all_decisions(table["data"], "approved", "fr")
        got = client.predict({"headers": table["headers"], "data": rows}, api_name="/ordonnance")
        got = got["value"] if isinstance(got, dict) and "value" in got else got
        paths = {Path(p).suffix: Path(p) for p in (got if isinstance(got, list) else [got])}
        assert set(paths) == {".html", ".pdf"}  # Chromium is installed here (the browser tests need it too)
        assert paths[".pdf"].read_bytes()[:4] == b"%PDF"
        page = paths[".html"].read_text(encoding="utf-8")
        assert "RPPS : 10101010101" in page and "<h1>Ordonnance</h1>" in page
        prescribed = [m for m in report.medications if m.status in ("new", "renewed", "changed")]
        assert page.count("<li data-line=") == len(prescribed) >= 1
    finally:
        app.close()


def test_a_drug_the_recording_missed_is_added_in_the_table_and_reaches_every_output(
        report: ConsultationReport, tmp_path: Path) -> None:
    """A pharmacist adds a row for a drug that was said but not found: it is named and coded from the lexicon,
    shown as a card marked as added (nothing to play), decided like any line, and reaches the reviewed report,
    the FHIR bundle (not labelled as AI output, no evidence) and the ordonnance; the store keeps it."""
    from consult.fhir import build_bundle
    from consult.ordonnance import Prescriber, UndecidedLines, build_ordonnance
    from demo.app import card_line_ids

    rows = report_to_rows(report, "fr")
    new = [""] * len(COLUMNS)
    new[COL["name"]], new[COL["strength"]], new[COL["dose"]], new[COL["frequency"]] = (
        "Kardégic", "75 mg", "1 sachet", "1/j")
    rows.append(new)
    decisions = rows_to_decisions(report, rows, "Dr B")
    assert [d.line_id for d in decisions] == ["med-1", "med-2", "med-3", "med-4", "added-1"]
    added = decisions[-1]
    assert added.decision == "pending" and added.line is not None
    line = added.line
    assert (line.drug_text, line.name, line.atc, line.status) == (
        "Kardégic", "acide acétylsalicylique", "B01AC06", "new")
    assert line.strength == Quantity(value=75, unit="mg", ucum=True) and line.dose == Quantity(value=1, unit="sachet")
    assert line.evidence.text == "" and line.evidence.start is None

    problems, cards = lines_view(report, rows, "fr")
    assert problems == [] and [c[0] for c in cards][-1] == "added-1"
    card = cards[-1][1]
    assert "ajouté par le relecteur" in card and "data-seek" not in card and "rien à écouter" in card
    assert card_line_ids(report.model_dump(mode="json"), rows)[4] == "added-1"

    prescriber = Prescriber(name="Dr B", rpps="10000000000")
    with pytest.raises(UndecidedLines, match="added-1"):
        build_ordonnance(report, rows_to_decisions(report, set_all_decisions(rows[:4], "approved") + [rows[4]]),
                         prescriber)

    rows = set_decision(set_all_decisions(rows, "approved"), "med-4", "rejected")
    decisions = rows_to_decisions(report, rows, "Dr B")
    assert decisions[-1].decision == "approved"
    ordonnance = build_ordonnance(report, decisions, prescriber)
    assert [i.line_id for i in ordonnance.items] == ["med-3", "added-1"]

    from fhirjs import assert_valid

    from consult.fhir import bundle_json

    path = tmp_path / "added.json"
    path.write_text(bundle_json(build_bundle(report, decisions)), encoding="utf-8")
    assert_valid([path])  # the official FHIR validator (JavaScript) reads it as valid R4
    bundle = line_resources(build_bundle(report, decisions))
    res = bundle["added-1"]
    assert (res.status, res.intent) == ("active", "order")
    assert not (res.meta and res.meta.security)  # typed by a clinician, not AI-asserted
    assert not [x for x in res.extension if x.url.endswith("evidence")]
    assert "Added by the reviewer" in res.note[0].text
    assert bundle["med-3"].meta.security  # the AI's lines keep their label

    records = decision_records(report, decisions)
    assert records[-1]["added"] is True and records[0]["added"] is False
    back = decisions_from_records(report, json.loads(json.dumps(records)))
    assert back == decisions
    shown = report_to_rows(report, "fr", back)
    assert shown[-1][COL["id"]] == "added-1" and shown[-1][COL["drug_text"]] == "Kardégic"
    again = rows_to_decisions(report, shown, "Dr B")  # the saved table read back as it was
    assert [(d.line_id, d.decision, d.line) for d in again] == [(d.line_id, d.decision, d.line) for d in decisions]
    assert [m.id for m in reviewed_report(report, decisions).medications][-1] == "added-1"

    rejected = rows_to_decisions(report, set_decision(rows, "added-1", "rejected"), "Dr B")
    assert "added-1" not in line_resources(build_bundle(report, rejected))
    assert "added-1" not in [m.id for m in reviewed_report(report, rejected).medications]

    # a remark on a line: kept with the decision, on the card, in the store and as a note of the FHIR resource
    rows = report_to_rows(report, "fr")
    _row(rows, "med-3")[COL["comment"]] = "Vérifier la fonction rénale avant de délivrer."
    commented = {d.line_id: d for d in rows_to_decisions(report, rows, "Dr B")}
    assert commented["med-3"].comment == "Vérifier la fonction rénale avant de délivrer."
    assert commented["med-3"].line is None and commented["med-1"].comment is None  # a remark is not an edit
    card = dict((c[0], c[1]) for c in lines_view(report, rows, "fr")[1])["med-3"]
    assert "Vérifier la fonction rénale" in card
    kept = decisions_from_records(report, json.loads(json.dumps(decision_records(report, list(commented.values())))))
    assert next(d for d in kept if d.line_id == "med-3").comment == commented["med-3"].comment
    assert _row(report_to_rows(report, "fr", kept), "med-3")[COL["comment"]] == commented["med-3"].comment
    notes = [n.text for n in line_resources(build_bundle(report, list(commented.values())))["med-3"].note]
    assert "Reviewer: Vérifier la fonction rénale avant de délivrer." in notes

    nameless = [""] * len(COLUMNS)
    nameless[COL["dose"]] = "1 comprimé"
    with pytest.raises(TableError, match="added-1"):
        rows_to_decisions(report, [*report_to_rows(report, "fr"), nameless])
