"""A drug taken once ("en une seule prise", "as a single dose"): no daily frequency anywhere, FHIR count 1.

Fosfomycin for a cystitis is one sachet, once. A time of day said with it ("le soir au coucher") used to become
"once a day": a daily antibiotic on the draft, a wrong posology a pharmacist must catch."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
from fhirjs import assert_valid

from consult.extract import extract_from_text, parse_posology
from consult.fhir import build_bundle, bundle_json
from consult.plan import describe, patient_plan, plan_markdown
from demo.table import COL, report_to_rows, rows_to_decisions
from schemas import ConsultationReport

FOSFO = "DOC: Fosfomycine trois grammes, un sachet en une seule prise, le soir au coucher."


@pytest.mark.parametrize("text", [
    "un sachet en une seule prise, le soir au coucher",
    "vous le buvez en une seule fois le soir au coucher",
    "deux comprimés en prise unique",
    "une dose unique de 1 g",
    "1 gram as a single dose tonight",
    "150 mg, just the one dose",
    "a one-off dose of 2 g at bedtime",
])
def test_single_dose_said(text: str) -> None:
    pos = parse_posology(text)
    assert pos.single_dose is not None and pos.single_dose.value is True
    assert pos.frequency is None, "a time of day said with a single dose is no daily frequency"


@pytest.mark.parametrize(("text", "count"), [
    ("une seule fois par jour", 1),
    ("une seule prise le matin à jeun", 1),  # once every morning
    ("one tablet as a single daily dose", 1),
    ("un comprimé matin et soir", 2),
])
def test_a_daily_frequency_is_no_single_dose(text: str, count: int) -> None:
    pos = parse_posology(text)
    assert pos.single_dose is None
    assert pos.frequency is not None and pos.frequency.value.count == count


def _report() -> ConsultationReport:
    segments, lines = extract_from_text(FOSFO, "fr")
    return ConsultationReport(id="c-sd", created_at=datetime(2026, 12, 7, tzinfo=timezone.utc), language="fr",
                              segments=segments, medications=lines)


def test_the_line_the_bundle_and_the_plan_say_once(tmp_path: Path) -> None:
    report = _report()
    (line,) = report.medications
    assert line.name == "fosfomycine" and line.single_dose and line.frequency is None and line.when == ["HS"]
    assert "single_dose" in line.field_evidence  # linked to the words said
    assert "une seule prise" in line.field_evidence["single_dose"].text
    bundle = build_bundle(report)
    requests = [e.resource for e in bundle.entry if e.resource.get_resource_type() == "MedicationRequest"]
    (req,) = requests
    repeat = req.dosageInstruction[0].timing.repeat
    assert repeat.count == 1 and repeat.frequency is None and repeat.when == ["HS"]
    (tmp_path / "bundle.json").write_text(bundle_json(bundle), encoding="utf-8")
    assert_valid([tmp_path / "bundle.json"])  # the independent validator reads count as FHIR R4 defines it
    assert describe(line, "fr") == "1 sachet, au coucher, en une seule prise"
    assert "as a single dose" in describe(line, "en")
    decisions = rows_to_decisions(report, report_to_rows(report, "fr"), "dr", lang="fr")
    decisions = [d.model_copy(update={"decision": "approved"}) for d in decisions]
    md = plan_markdown(patient_plan(report, decisions))
    assert "en une seule prise" in md


def test_the_review_table_shows_and_edits_a_single_dose() -> None:
    report = _report()
    (line,) = report.medications
    rows = report_to_rows(report, "fr")
    assert rows[0][COL["frequency"]] == "1 seule prise"
    (same,) = rows_to_decisions(report, rows, "dr", lang="fr")
    assert same.line is None  # unchanged: no edited line
    rows[0][COL["frequency"]] = "1/j"  # the reviewer makes it daily
    (edited,) = rows_to_decisions(report, rows, "dr", lang="fr")
    assert edited.line is not None and not edited.line.single_dose and edited.line.frequency is not None
    assert line.single_dose  # the extracted line is left as heard
