"""FHIR R4B bundle: structure, codes, review decisions, and the validate -> dump -> re-validate round trip."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from consult.errors import FhirError
from consult.fhir import (
    ATC,
    EDQM,
    EXT_EVIDENCE,
    EXT_MIN_INTERVAL,
    SNOMED,
    UCUM,
    build_bundle,
    bundle_json,
    validate_bundle_json,
)
from schemas import (
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


def _ev(text: str, a: int, b: int, t0: float, t1: float) -> Evidence:
    return Evidence(segment_id=3, char_start=a, char_end=b, text=text, start=t0, end=t1, speaker="SPEAKER_00")


AMOX = MedicationLine(
    id="med-1", drug_text="amoxicilline", name="amoxicilline", atc="J01CA04",
    strength=Quantity(value=1000, unit="mg", ucum=True), dose=Quantity(value=1, unit="comprimé"),
    route="orale", frequency=Frequency(count=2, period=1, period_unit="d"), when=["MORN", "EVE"],
    duration=Duration(value=6, unit="d"), status="new", confidence=0.93,
    sig="amoxicilline 1000 mg, un comprimé matin et soir pendant six jours",
    evidence=_ev("amoxicilline", 24, 36, 30.9, 31.6),
    field_evidence={"strength": _ev("1000 mg", 37, 44, 31.6, 32.4),
                    "duration": _ev("pendant six jours", 80, 97, 35.0, 35.9)},
)
PARA = MedicationLine(
    id="med-2", drug_text="paracétamol", name="paracétamol", atc="N02BE01",
    strength=Quantity(value=500, unit="mg", ucum=True), dose=Quantity(value=1, value_high=2, unit="comprimé"),
    frequency=Frequency(count=1, period=6, period_unit="h"), as_needed=True, as_needed_condition="si douleur",
    max_per_day=Quantity(value=4, unit="g", ucum=True), status="new", confidence=0.55, needs_review=True,
    review_reasons=["low ASR probability on '500'"], sig="paracétamol 500 mg un à deux comprimés...",
    evidence=_ev("paracétamol", 3, 14, 38.0, 38.7),
)
IBU = MedicationLine(id="med-3", drug_text="ibuprofène", name="ibuprofène", atc="M01AE01", status="stopped",
                     confidence=0.9, evidence=_ev("ibuprofène", 8, 18, 20.0, 20.8))
OME = MedicationLine(id="med-4", drug_text="oméprazole", name="oméprazole", atc="A02BC01", status="mentioned",
                     confidence=0.8, evidence=_ev("oméprazole", 40, 50, 15.0, 15.7))


@pytest.fixture()
def report() -> ConsultationReport:
    return ConsultationReport(
        id="0123456789abcdef01234567", created_at=datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc),
        audio=AudioInfo(name="c.flac", sha256="0" * 64, duration=60.0, sample_rate=16000, channels=1),
        language="fr", speakers=[Speaker(id="SPEAKER_00", role="doctor")],
        segments=[Segment(id=0, start=0, end=1, text="Bonjour", speaker="SPEAKER_00",
                          words=[Word(text="Bonjour", start=0, end=1, probability=0.9)])],
        medications=[AMOX, PARA, IBU, OME],
    )


def _requests(bundle_text: str) -> dict[str, dict]:
    data = json.loads(bundle_text)
    out = {}
    for e in data["entry"]:
        r = e["resource"]
        line_id = next(x["valueString"] for x in r["extension"] if x["url"].endswith("line-id"))
        out[line_id] = r
    return out


def test_draft_bundle_round_trip(report):
    bundle = build_bundle(report)
    text = bundle_json(bundle)
    again = validate_bundle_json(text)  # re-validate what we dumped
    assert bundle_json(again) == text
    data = json.loads(text)
    assert data["resourceType"] == "Bundle" and data["type"] == "collection"
    assert len(data["entry"]) == 4
    reqs = _requests(text)
    assert all((r["status"], r["intent"]) == ("draft", "proposal") for r in reqs.values())


def test_medication_request_fields(report):
    reqs = _requests(bundle_json(build_bundle(report)))
    amox = reqs["med-1"]
    med = amox["medicationCodeableConcept"]
    assert med["text"] == "amoxicilline"
    assert med["coding"] == [{"system": ATC, "code": "J01CA04", "display": "amoxicilline"}]
    d = amox["dosageInstruction"][0]
    assert d["text"].startswith("amoxicilline 1000 mg")
    rep = d["timing"]["repeat"]
    assert (rep["frequency"], rep["period"], rep["periodUnit"]) == (2, 1, "d")
    assert rep["when"] == ["MORN", "EVE"]
    assert rep["boundsDuration"] == {"value": 6, "unit": "days", "system": UCUM, "code": "d"}
    # counted doses: EDQM unit of presentation, as French FHIR prescriptions code them
    assert d["doseAndRate"][0]["doseQuantity"] == {"value": 1, "unit": "comprimé", "system": EDQM,
                                                   "code": "15054000"}
    assert d["route"]["coding"] == [{"system": SNOMED, "code": "26643006", "display": "Oral route"},
                                    {"system": EDQM, "code": "20053000", "display": "Oral use"}]
    assert d["asNeededBoolean"] is False
    evidence = [x for x in amox["extension"] if x["url"] == EXT_EVIDENCE]
    fields = {next(s["valueString"] for s in e["extension"] if s["url"] == "field"): e for e in evidence}
    assert set(fields) == {"drug", "strength", "duration"}
    starts = {s["url"]: s for s in fields["drug"]["extension"]}
    assert starts["start"]["valueDecimal"] == 30.9 and starts["segment"]["valueInteger"] == 3
    assert "30.90-31.60 s" in amox["note"][0]["text"]


def test_as_needed_range_max_dose_and_review_flag(report):
    para = _requests(bundle_json(build_bundle(report)))["med-2"]
    d = para["dosageInstruction"][0]
    assert d["asNeededBoolean"] is True and d["additionalInstruction"] == [{"text": "si douleur"}]
    rng = d["doseAndRate"][0]["doseRange"]
    assert rng["low"]["value"] == 1 and rng["high"]["value"] == 2
    assert d["maxDosePerPeriod"]["numerator"] == {"value": 4, "unit": "g", "system": UCUM, "code": "g"}
    assert d["maxDosePerPeriod"]["denominator"]["code"] == "d"
    assert "TO CHECK" in para["note"][0]["text"]
    flags = {x["url"].rsplit(":", 1)[1]: x for x in para["extension"]}
    assert flags["needs-review"]["valueBoolean"] is True


def test_supply_renewals_max_per_intake_and_min_interval(report):
    para = PARA.model_copy(update={
        "max_per_intake": Quantity(value=2, unit="comprimé"),
        "min_interval": Duration(value=6, unit="h"),
        "quantity_for": Duration(value=3, unit="mo"),
        "renewals": 2,
    })
    rep = report.model_copy(update={"medications": [para]})
    text = bundle_json(build_bundle(rep))
    validate_bundle_json(text)
    (req,) = _requests(text).values()
    d = req["dosageInstruction"][0]
    assert d["maxDosePerAdministration"] == {"value": 2, "unit": "comprimé", "system": EDQM, "code": "15054000"}
    (ext,) = [x for x in d["extension"] if x["url"] == EXT_MIN_INTERVAL]
    assert ext["valueDuration"] == {"value": 6, "unit": "hours", "system": UCUM, "code": "h"}
    assert {"text": "at least 6 hours between two intakes"} in d["additionalInstruction"]
    assert req["dispenseRequest"] == {
        "numberOfRepeatsAllowed": 2,
        "expectedSupplyDuration": {"value": 3, "unit": "months", "system": UCUM, "code": "mo"},
    }
    # the verbatim sig stays the instruction text
    assert d["text"] == PARA.sig


def test_text_transcript_report_has_no_audio_and_a_bundle():
    from consult.pipeline import report_from_text

    rep = report_from_text("DOC: Amoxicilline 1 g, un comprimé matin et soir pendant 6 jours.", name="t.txt")
    assert rep.audio is None and rep.text_source is not None and rep.text_source.lines == 1
    (req,) = _requests(bundle_json(build_bundle(rep))).values()
    assert "consultation transcript (segment 0)" in req["note"][0]["text"]
    assert req["dosageInstruction"][0]["timing"]["repeat"]["boundsDuration"]["value"] == 6


def test_review_decisions(report):
    edited = AMOX.model_copy(update={"dose": Quantity(value=2, unit="comprimé")})
    at = datetime(2026, 11, 23, 11, 0, tzinfo=timezone.utc)
    decisions = [
        ReviewDecision(line_id="med-1", decision="approved", line=edited, reviewer="dr.martin", at=at),
        ReviewDecision(line_id="med-2", decision="rejected", reviewer="dr.martin", at=at),
        ReviewDecision(line_id="med-3", decision="approved", reviewer="dr.martin", at=at),
        ReviewDecision(line_id="med-4", decision="approved", reviewer="dr.martin", at=at),
    ]
    text = bundle_json(build_bundle(report, decisions))
    validate_bundle_json(text)
    reqs = _requests(text)
    assert "med-2" not in reqs
    assert (reqs["med-1"]["status"], reqs["med-1"]["intent"]) == ("active", "order")
    assert reqs["med-1"]["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["value"] == 2
    assert (reqs["med-3"]["status"], reqs["med-3"]["intent"]) == ("stopped", "order")
    assert (reqs["med-4"]["status"], reqs["med-4"]["intent"], reqs["med-4"]["reportedBoolean"]) == (
        "active", "plan", True)


def test_unknown_decision_line_is_an_error(report):
    with pytest.raises(FhirError, match="med-99"):
        build_bundle(report, [ReviewDecision(line_id="med-99", decision="approved")])


def test_validate_rejects_forbidden_status(report):
    data = json.loads(bundle_json(build_bundle(report)))
    data["entry"][0]["resource"]["status"] = "completed"
    with pytest.raises(FhirError, match="not allowed"):
        validate_bundle_json(json.dumps(data))
    with pytest.raises(FhirError):
        validate_bundle_json('{"resourceType": "Bundle", "type": "nonsense"}')
