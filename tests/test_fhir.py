"""FHIR R4B bundle: structure, codes, review decisions, and the validate -> dump -> re-validate round trip."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from fhirjs import assert_valid, errors_of, validate_files

from consult.errors import FhirError
from consult.fhir import (
    ATC,
    CIS,
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
    """The line resources (MedicationRequest and MedicationStatement) by line id."""
    data = json.loads(bundle_text)
    out = {}
    for e in data["entry"]:
        r = e["resource"]
        line_id = next((x["valueString"] for x in r.get("extension", []) if x["url"].endswith("line-id")), None)
        if line_id is not None:
            out[line_id] = r
    return out


def _by_type(bundle_text: str) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for e in json.loads(bundle_text)["entry"]:
        out.setdefault(e["resource"]["resourceType"], []).append(e)
    return out


def test_draft_bundle_round_trip(report):
    bundle = build_bundle(report)
    text = bundle_json(bundle)
    again = validate_bundle_json(text)  # re-validate what we dumped
    assert bundle_json(again) == text
    data = json.loads(text)
    assert data["resourceType"] == "Bundle" and data["type"] == "collection"
    kinds = {k: len(v) for k, v in _by_type(text).items()}
    assert kinds == {"Patient": 1, "Practitioner": 1, "Encounter": 1, "Device": 1, "MedicationRequest": 2,
                     "MedicationStatement": 2, "Provenance": 1}
    reqs = _requests(text)
    assert {k for k, r in reqs.items() if r["resourceType"] == "MedicationRequest"} == {"med-1", "med-2"}
    assert all((r["status"], r["intent"]) == ("draft", "proposal") for r in reqs.values()
               if r["resourceType"] == "MedicationRequest")


def test_stopped_and_mentioned_are_statements_never_requests(report):
    """Read with FHIR's own fields only: a stopped drug is a stopped MedicationStatement, a mentioned one a
    statement of what the patient takes, never a proposal to prescribe."""
    report = report.model_copy(update={"speakers": [Speaker(id="SPEAKER_00", role="doctor"),
                                                    Speaker(id="SPEAKER_01", role="patient")]})
    ome_by_patient = OME.model_copy(update={"evidence": OME.evidence.model_copy(update={"speaker": "SPEAKER_01"})})
    report = report.model_copy(update={"medications": [AMOX, IBU, ome_by_patient]})
    text = bundle_json(build_bundle(report))
    by_type = _by_type(text)
    (req,) = by_type["MedicationRequest"]
    assert req["resource"]["contained"][0]["code"]["text"] == "amoxicilline"
    statements = {e["resource"]["contained"][0]["code"]["text"]: e["resource"]
                  for e in by_type["MedicationStatement"]}
    ibu, ome = statements["ibuprofène"], statements["oméprazole"]
    urls = {e["resource"]["resourceType"]: e["fullUrl"] for e in json.loads(text)["entry"]}
    assert ibu["status"] == "stopped" and "stopped during the consultation" in ibu["statusReason"][0]["text"]
    assert ibu["informationSource"]["reference"] == urls["Practitioner"]  # the doctor said it
    assert ome["status"] == "active" and ome["informationSource"]["reference"] == urls["Patient"]
    # asked about by the doctor: the patient's taking it is unknown
    asked = build_bundle(report.model_copy(update={"medications": [OME]}))
    (st,) = _by_type(bundle_json(asked))["MedicationStatement"]
    assert st["resource"]["status"] == "unknown"
    # an approved stopped line stays a statement
    done = bundle_json(build_bundle(report, [ReviewDecision(line_id="med-3", decision="approved")]))
    assert "med-3" not in {k for k, r in _requests(done).items() if r["resourceType"] == "MedicationRequest"}


def test_strength_form_and_codes_in_the_contained_medication(report):
    cis_line = AMOX.model_copy(update={"cis": "60234100", "form": "comprimé"})
    text = bundle_json(build_bundle(report.model_copy(update={"medications": [cis_line]})))
    (req,) = _requests(text).values()
    assert req["medicationReference"]["reference"] == "#med"
    (med,) = req["contained"]
    assert med["resourceType"] == "Medication" and med["id"] == "med"
    assert {"system": ATC, "code": "J01CA04", "display": "amoxicilline"} in med["code"]["coding"]
    assert {"system": CIS, "code": "60234100", "display": "amoxicilline"} in med["code"]["coding"]
    assert med["form"]["coding"] == [{"system": EDQM, "code": "10219000", "display": "Tablet"}]
    strength = med["ingredient"][0]["strength"]
    assert strength["numerator"] == {"value": 1000, "unit": "mg", "system": UCUM, "code": "mg"}
    assert strength["denominator"] == {"value": 1, "unit": "comprimé", "system": EDQM, "code": "15054000"}
    # no form said: the strength is per dose unit
    (req,) = _requests(bundle_json(build_bundle(report.model_copy(update={"medications": [PARA]})))).values()
    assert req["contained"][0]["ingredient"][0]["strength"]["numerator"]["value"] == 500


def test_shared_resources_references_and_provenance(report):
    text = bundle_json(build_bundle(report))
    data = json.loads(text)
    urls = {e["fullUrl"] for e in data["entry"]}
    assert all(u.startswith("urn:uuid:") for u in urls)
    by_type = _by_type(text)
    patient = by_type["Patient"][0]["fullUrl"]
    encounter = by_type["Encounter"][0]["fullUrl"]
    practitioner = by_type["Practitioner"][0]["fullUrl"]
    for e in by_type["MedicationRequest"]:
        r = e["resource"]
        assert r["subject"]["reference"] == patient and r["encounter"]["reference"] == encounter
        assert r["requester"]["reference"] == practitioner
        assert r["meta"]["security"][0]["code"] == "AIAST"
    for e in by_type["MedicationStatement"]:
        assert e["resource"]["subject"]["reference"] == patient
        assert e["resource"]["context"]["reference"] == encounter
    (prov,) = by_type["Provenance"]
    p = prov["resource"]
    targets = {t["reference"] for t in p["target"]}
    assert targets == urls - {prov["fullUrl"], by_type["Device"][0]["fullUrl"]}
    assert p["agent"][0]["who"]["reference"] == by_type["Device"][0]["fullUrl"]
    assert p["entity"][0]["what"]["identifier"]["value"] == "0" * 64
    device = by_type["Device"][0]["resource"]
    assert device["deviceName"][0]["name"] == "consult" and device["version"][0]["type"]["text"] == "consult"


def test_transaction_bundle_posts_every_entry(report, tmp_path):
    text = bundle_json(build_bundle(report, bundle_type="transaction"))
    data = json.loads(validate_bundle_json(text).model_dump_json(exclude_none=True))
    assert data["type"] == "transaction"
    assert all(e["request"] == {"method": "POST", "url": e["resource"]["resourceType"]} for e in data["entry"])
    with pytest.raises(FhirError, match="bundle type"):
        build_bundle(report, bundle_type="batch")  # type: ignore[arg-type]


def test_bundles_pass_the_independent_validator(report, tmp_path):
    """FHIR.js (npm ``fhir``) against the R4 structure definitions: draft, reviewed and transaction bundles."""
    at = datetime(2026, 11, 23, 11, 0, tzinfo=timezone.utc)
    decisions = [ReviewDecision(line_id=m.id, decision="approved", reviewer="dr.martin", at=at)
                 for m in report.medications]
    paths = []
    for name, bundle in [("draft", build_bundle(report)), ("reviewed", build_bundle(report, decisions)),
                         ("transaction", build_bundle(report, bundle_type="transaction"))]:
        paths.append(tmp_path / f"{name}.json")
        paths[-1].write_text(bundle_json(bundle))
    assert_valid(paths)
    # the validator is not a rubber stamp: a request without status, an unknown element, a bad intent
    data = json.loads(paths[0].read_text())
    req = next(e["resource"] for e in data["entry"] if e["resource"]["resourceType"] == "MedicationRequest")
    del req["status"]
    req["intent"], req["colour"] = "wish", "blue"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    (result,) = validate_files([bad])
    found = {(m["location"], m["message"]) for m in errors_of(result)}
    assert not result["valid"]
    assert ("MedicationRequest.status", "Missing property") in found
    assert ("MedicationRequest.colour", "Unexpected property") in found
    assert any(loc == "MedicationRequest.intent" for loc, _ in found)


def test_medication_request_fields(report):
    reqs = _requests(bundle_json(build_bundle(report)))
    amox = reqs["med-1"]
    assert amox["medicationReference"]["display"] == "amoxicilline"
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
    assert (reqs["med-3"]["resourceType"], reqs["med-3"]["status"]) == ("MedicationStatement", "stopped")
    assert (reqs["med-4"]["resourceType"], reqs["med-4"]["status"]) == ("MedicationStatement", "unknown")
    provenances = [e["resource"] for e in json.loads(text)["entry"] if e["resource"]["resourceType"] == "Provenance"]
    (review,) = [p for p in provenances if p["agent"][0]["type"]["coding"][0]["code"] == "verifier"]
    assert review["agent"][0]["who"]["display"] == "dr.martin" and len(review["target"]) == 3
    # a reviewer who edits a proposal into "stopped" turns it into a statement
    stop = ReviewDecision(line_id="med-1", decision="approved", line=AMOX.model_copy(update={"status": "stopped"}))
    assert _requests(bundle_json(build_bundle(report, [stop])))["med-1"]["resourceType"] == "MedicationStatement"


def test_unknown_decision_line_is_an_error(report):
    with pytest.raises(FhirError, match="med-99"):
        build_bundle(report, [ReviewDecision(line_id="med-99", decision="approved")])


def test_validate_rejects_forbidden_status(report):
    data = json.loads(bundle_json(build_bundle(report)))
    req = next(e["resource"] for e in data["entry"] if e["resource"]["resourceType"] == "MedicationRequest")
    req["status"] = "completed"
    with pytest.raises(FhirError, match="not allowed"):
        validate_bundle_json(json.dumps(data))
    # a stopped line smuggled in as a MedicationRequest is refused
    data = json.loads(bundle_json(build_bundle(report)))
    req = next(e["resource"] for e in data["entry"] if e["resource"]["resourceType"] == "MedicationRequest")
    for x in req["extension"]:
        if x["url"].endswith("line-status"):
            x["valueCode"] = "stopped"
    with pytest.raises(FhirError, match="MedicationStatement"):
        validate_bundle_json(json.dumps(data))
    with pytest.raises(FhirError):
        validate_bundle_json('{"resourceType": "Bundle", "type": "nonsense"}')
