"""FHIR R4B output: one Bundle (type ``collection``) with one MedicationRequest per medication line.

Status and intent (fhir.resources does not enforce value sets; we restrict them here):

=====================  ===================  ======================================================
line / review state     status / intent      notes
=====================  ===================  ======================================================
not reviewed (draft)    draft / proposal     every line of a fresh report
approved, new/renewed/  active / order       edits of the reviewer replace the extracted values
changed
approved, stopped       stopped / order      the clinician confirms the drug is stopped
approved, mentioned     active / plan        ``reportedBoolean`` true: already taken, not prescribed
rejected                (left out)
=====================  ===================  ======================================================

Grounding: each MedicationRequest carries extensions (``EXT_*`` below) with the line id, the line status
(new/renewed/changed/stopped/mentioned), its confidence, review flags and the evidence (segment, start/end
seconds, words), and a human-readable ``note``. Codes: ATC (WHO), SNOMED CT routes (plus EDQM "Oral use"),
UCUM units, EDQM units of presentation for counted doses (tablet, puff, drop...: the codes French FHIR
prescriptions use, e.g. 15054000 "Comprimé").

Posology mapping: frequency -> ``timing.repeat`` (frequency/frequencyMax/period/periodUnit), times of day ->
``timing.repeat.when``, duration -> ``timing.repeat.boundsDuration``, dose -> ``doseAndRate.doseQuantity``
(or ``doseRange``), as-needed -> ``asNeededBoolean`` (+ the condition as ``additionalInstruction``), maximum
per day -> ``maxDosePerPeriod``, maximum per intake -> ``maxDosePerAdministration``, minimum interval ->
extension ``EXT_MIN_INTERVAL`` (FHIR has no element for it) and a patient instruction, supply (QSP) ->
``dispenseRequest.expectedSupplyDuration``, renewals -> ``dispenseRequest.numberOfRepeatsAllowed``; the
verbatim sig is always ``dosageInstruction.text``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from consult.errors import FhirError
from schemas import ConsultationReport, MedicationLine, Quantity, ReviewDecision

EXT_BASE = "urn:consult:fhir:extension"
EXT_LINE_ID = f"{EXT_BASE}:line-id"
EXT_LINE_STATUS = f"{EXT_BASE}:line-status"
EXT_CONFIDENCE = f"{EXT_BASE}:confidence"
EXT_NEEDS_REVIEW = f"{EXT_BASE}:needs-review"
EXT_REVIEW_REASON = f"{EXT_BASE}:review-reason"
EXT_EVIDENCE = f"{EXT_BASE}:evidence"
EXT_NORMALISED_NAME = f"{EXT_BASE}:normalised-name"
EXT_REVIEW = f"{EXT_BASE}:review"
EXT_MIN_INTERVAL = f"{EXT_BASE}:min-interval"

UCUM = "http://unitsofmeasure.org"
ATC = "http://www.whocc.no/atc"
SNOMED = "http://snomed.info/sct"
EDQM = "http://standardterms.edqm.eu"
BUNDLE_ID_SYSTEM = "urn:consult:report-id"

# SNOMED CT route of administration codes (descendants of 284009009 |Route of administration value|).
ROUTE_SNOMED: dict[str, tuple[str, str]] = {
    "oral": ("26643006", "Oral route"),
    "sublingual": ("37839007", "Sublingual route"),
    "inhalation": ("447694001", "Respiratory tract route"),
    "nasal": ("46713006", "Nasal route"),
    "cutaneous": ("6064005", "Topical route"),
    "topical": ("6064005", "Topical route"),
    "transdermal": ("45890007", "Transdermal route"),
    "ophthalmic": ("54485002", "Ophthalmic route"),
    "auricular": ("10547007", "Otic route"),
    "rectal": ("37161004", "Rectal route"),
    "vaginal": ("16857009", "Vaginal route"),
    "intravenous": ("47625008", "Intravenous route"),
    "intramuscular": ("78421000", "Intramuscular route"),
    "subcutaneous": ("34206005", "Subcutaneous route"),
}
ROUTE_ALIASES = {
    "orale": "oral", "voie orale": "oral", "per os": "oral", "by mouth": "oral", "buccale": "oral",
    "sublinguale": "sublingual", "inhalée": "inhalation", "inhalee": "inhalation", "inhaled": "inhalation",
    "nasale": "nasal", "cutanée": "cutaneous", "cutanee": "cutaneous", "locale": "topical",
    "transdermique": "transdermal", "ophtalmique": "ophthalmic", "oculaire": "ophthalmic",
    "auriculaire": "auricular", "rectale": "rectal", "vaginale": "vaginal", "intraveineuse": "intravenous",
    "iv": "intravenous", "intramusculaire": "intramuscular", "im": "intramuscular",
    "sous-cutanée": "subcutaneous", "sous-cutanee": "subcutaneous", "sc": "subcutaneous",
}

# UCUM annotations for countable dose forms (annotations must be ASCII).
FORM_ANNOTATION = {
    "comprimé": "{tablet}", "comprimés": "{tablet}", "tablet": "{tablet}", "tablets": "{tablet}",
    "gélule": "{capsule}", "gélules": "{capsule}", "capsule": "{capsule}", "capsules": "{capsule}",
    "sachet": "{sachet}", "sachets": "{sachet}", "bouffée": "{puff}", "bouffées": "{puff}",
    "puff": "{puff}", "puffs": "{puff}", "goutte": "[drp]", "gouttes": "[drp]", "drop": "[drp]",
    "drops": "[drp]", "cuillère": "{spoonful}", "cuillères": "{spoonful}", "ampoule": "{ampoule}",
    "patch": "{patch}", "suppositoire": "{suppository}", "suppository": "{suppository}",
    "application": "{application}", "pulvérisation": "{spray}", "spray": "{spray}", "unité": "{unit}",
}
# EDQM Standard Terms, units of presentation (checked against the EDQM code list as published in the
# HL7 Europe UNICOM IG); forms without a checked code keep only the UCUM annotation.
EDQM_PRESENTATION = {
    "{tablet}": ("15054000", "Tablet"), "{puff}": ("15001000", "Actuation"), "[drp]": ("15022000", "Drop"),
    "{ampoule}": ("15002000", "Ampoule"), "{patch}": ("15036000", "Patch"),
}
EDQM_ROUTE = {"oral": ("20053000", "Oral use")}
_PERIOD_UCUM = {"h": "h", "d": "d", "wk": "wk", "mo": "mo"}
_PERIOD_WORD = {"h": "hour", "d": "day", "wk": "week", "mo": "month"}


def _fhir_id(raw: str) -> str:
    """A valid FHIR id ([A-Za-z0-9-.]{1,64}) from any string."""
    import re

    return (re.sub(r"[^A-Za-z0-9.-]", "-", raw) or "x")[:64]


def _quantity(q: Quantity, *, high: bool = False) -> dict[str, Any]:
    value = q.value_high if high and q.value_high is not None else q.value
    out: dict[str, Any] = {"value": value, "unit": q.unit}
    if q.ucum:
        out.update(system=UCUM, code=q.unit)
    elif q.unit.lower() in FORM_ANNOTATION:
        annotation = FORM_ANNOTATION[q.unit.lower()]
        if annotation in EDQM_PRESENTATION:
            out.update(system=EDQM, code=EDQM_PRESENTATION[annotation][0])
        else:
            out.update(system=UCUM, code=annotation)
    return out


def _duration(d: Any) -> dict[str, Any]:
    return {"value": d.value, "unit": _PERIOD_WORD[d.unit] + ("s" if d.value != 1 else ""),
            "system": UCUM, "code": _PERIOD_UCUM[d.unit]}


def _route(route: str) -> dict[str, Any]:
    key = ROUTE_ALIASES.get(route.lower().strip(), route.lower().strip())
    cc: dict[str, Any] = {"text": route}
    if key in ROUTE_SNOMED:
        code, display = ROUTE_SNOMED[key]
        cc["coding"] = [{"system": SNOMED, "code": code, "display": display}]
        if key in EDQM_ROUTE:
            code, display = EDQM_ROUTE[key]
            cc["coding"].append({"system": EDQM, "code": code, "display": display})
    return cc


def _evidence_ext(line: MedicationLine) -> list[dict[str, Any]]:
    exts = []
    items = [("drug", line.evidence), *sorted(line.field_evidence.items())]
    for field, ev in items:
        sub: list[dict[str, Any]] = [
            {"url": "field", "valueString": field},
            {"url": "text", "valueString": ev.text},
            {"url": "charStart", "valueInteger": ev.char_start},
            {"url": "charEnd", "valueInteger": ev.char_end},
        ]
        if ev.segment_id is not None:
            sub.append({"url": "segment", "valueInteger": ev.segment_id})
        if ev.start is not None:
            sub.append({"url": "start", "valueDecimal": round(ev.start, 2)})
        if ev.end is not None:
            sub.append({"url": "end", "valueDecimal": round(ev.end, 2)})
        if ev.speaker:
            sub.append({"url": "speaker", "valueString": ev.speaker})
        exts.append({"url": EXT_EVIDENCE, "extension": sub})
    return exts


def _timing(line: MedicationLine) -> dict[str, Any] | None:
    rep: dict[str, Any] = {}
    f = line.frequency
    if f is not None:
        rep.update(frequency=f.count, period=f.period, periodUnit=f.period_unit)
        if f.count_max is not None:
            rep["frequencyMax"] = f.count_max
    if line.when:
        rep["when"] = list(line.when)
    if line.duration is not None:
        rep["boundsDuration"] = _duration(line.duration)
    return {"repeat": rep} if rep else None


def _dosage(line: MedicationLine) -> dict[str, Any]:
    dosage: dict[str, Any] = {"sequence": 1}
    if line.sig:
        dosage["text"] = line.sig
    timing = _timing(line)
    if timing:
        dosage["timing"] = timing
    if line.route:
        dosage["route"] = _route(line.route)
    dosage["asNeededBoolean"] = bool(line.as_needed)
    instructions: list[dict[str, Any]] = []
    if line.as_needed and line.as_needed_condition:
        instructions.append({"text": line.as_needed_condition})
    if line.min_interval is not None:
        mi = line.min_interval
        dosage["extension"] = [{"url": EXT_MIN_INTERVAL, "valueDuration": _duration(mi)}]
        instructions.append({"text": f"at least {mi.value:g} {_PERIOD_WORD[mi.unit]}{'s' if mi.value != 1 else ''}"
                                     " between two intakes"})
    if instructions:
        dosage["additionalInstruction"] = instructions
    if line.dose is not None:
        if line.dose.value_high is not None:
            dosage["doseAndRate"] = [{"doseRange": {"low": _quantity(line.dose),
                                                    "high": _quantity(line.dose, high=True)}}]
        else:
            dosage["doseAndRate"] = [{"doseQuantity": _quantity(line.dose)}]
    if line.max_per_day is not None:
        dosage["maxDosePerPeriod"] = {
            "numerator": _quantity(line.max_per_day),
            "denominator": {"value": 1, "unit": "day", "system": UCUM, "code": "d"},
        }
    if line.max_per_intake is not None:
        dosage["maxDosePerAdministration"] = _quantity(line.max_per_intake)
    return dosage


def _status_intent(line: MedicationLine, decision: str) -> tuple[str, str]:
    if decision != "approved":
        return "draft", "proposal"
    if line.status == "stopped":
        return "stopped", "order"
    if line.status == "mentioned":
        return "active", "plan"
    return "active", "order"


def medication_request(report: ConsultationReport, line: MedicationLine,
                       decision: ReviewDecision | None = None) -> dict[str, Any]:
    """The MedicationRequest (as a dict) for one line, with the review decision applied."""
    state = decision.decision if decision else "pending"
    status, intent = _status_intent(line, state)
    coding = []
    if line.atc:
        coding.append({"system": ATC, "code": line.atc, "display": line.name})
    med: dict[str, Any] = {
        "text": line.drug_text,
        "extension": [{"url": EXT_NORMALISED_NAME, "valueString": line.name}],
    }
    if coding:
        med["coding"] = coding
    ext: list[dict[str, Any]] = [
        {"url": EXT_LINE_ID, "valueString": line.id},
        {"url": EXT_LINE_STATUS, "valueCode": line.status},
        {"url": EXT_CONFIDENCE, "valueDecimal": round(line.confidence, 3)},
        {"url": EXT_NEEDS_REVIEW, "valueBoolean": line.needs_review},
        *({"url": EXT_REVIEW_REASON, "valueString": r} for r in line.review_reasons),
        *_evidence_ext(line),
    ]
    if decision is not None and decision.decision != "pending":
        review = [{"url": "decision", "valueCode": decision.decision},
                  {"url": "edited", "valueBoolean": decision.line is not None}]
        if decision.reviewer:
            review.append({"url": "reviewer", "valueString": decision.reviewer})
        if decision.at:
            review.append({"url": "at", "valueDateTime": decision.at.isoformat()})
        ext.append({"url": EXT_REVIEW, "extension": review})
    ev = line.evidence
    where = f"segment {ev.segment_id}" if ev.segment_id is not None else "transcript"
    if ev.start is not None and ev.end is not None:
        where += f", {ev.start:.2f}-{ev.end:.2f} s"
    origin = "recording" if report.audio is not None else "transcript"
    note = (f"AI draft from the consultation {origin} ({where}); status heard: {line.status}; "
            f"confidence {line.confidence:.2f}.")
    if line.needs_review:
        note += " TO CHECK: " + "; ".join(line.review_reasons or ["low confidence"])
    resource: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "id": _fhir_id(f"{line.id}-{report.id[:12]}"),
        "extension": ext,
        "status": status,
        "intent": intent,
        "medicationCodeableConcept": med,
        "subject": {"display": "Patient of the consultation (to be linked by the integrator)"},
        "authoredOn": report.created_at.isoformat(),
        "dosageInstruction": [_dosage(line)],
        "note": [{"text": note}],
    }
    dispense: dict[str, Any] = {}
    if line.quantity_for is not None:
        dispense["expectedSupplyDuration"] = _duration(line.quantity_for)
    if line.renewals is not None:
        dispense["numberOfRepeatsAllowed"] = line.renewals
    if dispense:
        resource["dispenseRequest"] = dispense
    if line.status == "mentioned":
        resource["reportedBoolean"] = True
    if decision is not None and decision.comment:
        resource["note"].append({"text": f"Reviewer: {decision.comment}"})
    return resource


def build_bundle(report: ConsultationReport, decisions: Sequence[ReviewDecision] | None = None) -> Any:
    """Build and validate the R4B Bundle. Returns ``fhir.resources.R4B.bundle.Bundle``.

    Without decisions every line is a draft proposal. With decisions: approved lines become orders (see
    the module table), rejected lines are left out, pending lines stay drafts; ``decision.line`` (an edited
    line) replaces the extracted one.
    """
    from fhir.resources.R4B.bundle import Bundle

    by_id = {d.line_id: d for d in decisions or []}
    unknown = set(by_id) - {m.id for m in report.medications}
    if unknown:
        raise FhirError(f"review decisions name unknown medication lines: {', '.join(sorted(unknown))}")
    entries = []
    for line in report.medications:
        decision = by_id.get(line.id)
        if decision is not None and decision.decision == "rejected":
            continue
        effective = decision.line if decision is not None and decision.line is not None else line
        resource = medication_request(report, effective, decision)
        full_url = "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, f"consult:{report.id}:{line.id}"))
        entries.append({"fullUrl": full_url, "resource": resource})
    data = {
        "resourceType": "Bundle",
        "id": _fhir_id(report.id),
        "identifier": {"system": BUNDLE_ID_SYSTEM, "value": report.id},
        "type": "collection",
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "entry": entries,
    }
    try:
        return Bundle.model_validate(data)
    except Exception as exc:
        raise FhirError(f"the FHIR bundle does not validate: {exc}") from exc


def bundle_json(bundle: Any) -> str:
    return str(bundle.model_dump_json(indent=2, exclude_none=True))


def validate_bundle_json(text: str | bytes) -> Any:
    """Parse and validate a bundle JSON; checks our status/intent restrictions too."""
    from fhir.resources.R4B.bundle import Bundle

    try:
        bundle = Bundle.model_validate_json(text)
    except Exception as exc:
        raise FhirError(f"invalid FHIR R4B bundle: {exc}") from exc
    if bundle.type != "collection":
        raise FhirError(f"bundle type {bundle.type!r}: consult bundles are of type 'collection'")
    allowed = {("draft", "proposal"), ("active", "order"), ("stopped", "order"), ("active", "plan")}
    for entry in bundle.entry or []:
        res = entry.resource
        if res.get_resource_type() == "MedicationRequest" and (res.status, res.intent) not in allowed:
            raise FhirError(f"MedicationRequest {res.id}: status/intent {res.status}/{res.intent} not allowed")
    return bundle
