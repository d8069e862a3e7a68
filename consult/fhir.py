"""FHIR R4B output: each medication line as the resource that means it, in a Bundle an integrator can load.

One line, one resource (review state applied; rejected lines are left out):

==========================  =================================================================================
line status                  resource
==========================  =================================================================================
new / renewed / changed      ``MedicationRequest``: ``draft``/``proposal`` until a clinician approves it, then
                             ``active``/``order``; renewed and changed name the earlier prescription in
                             ``priorPrescription`` (a display-only logical reference) and say so in ``note``
stopped                      ``MedicationStatement`` ``status=stopped``, ``statusReason`` "stopped during the
                             consultation", ``informationSource`` the speaker who said it (the clinician)
mentioned                    ``MedicationStatement``: ``active`` when the patient says they take it, else
                             ``unknown`` (asked about, talked about), ``informationSource`` the speaker
==========================  =================================================================================

A prescription the reviewer approved and marked ALD (:attr:`ReviewDecision.ald`: it treats the patient's
affection de longue durée, the upper zone of the French ordonnance bizone) says so in FHIR's own fields, for an
integrator who reads no extension: ``category`` ``urn:consult:medication-request-category#ald`` (text "ALD
(affection de longue durée)"; the element's value set is only an example) and a ``note``. Other lines have no
``category``.

So no stopped or merely mentioned drug is ever a MedicationRequest. The product is a contained ``Medication``
(``medicationReference`` "#med") with ``code`` (ATC; CIS when the specialty is known), ``form`` (EDQM dose form
where we map it) and ``ingredient.strength`` as a Ratio (1000 mg per tablet).

The bundle (``collection``, or ``transaction`` ready to POST) also holds placeholder ``Patient``,
``Practitioner`` and ``Encounter`` resources with ``urn:uuid`` full URLs that every line references, the
``Device`` (consult, its version and the models used) and a ``Provenance`` whose targets are every resource,
whose agent is that device and whose entity is the audio's (or text's) SHA-256; every AI-made resource carries
the security label ``AIAST`` (Artificial Intelligence asserted). Approved lines get a second ``Provenance`` with
the reviewer as ``verifier``.

A line the reviewer added at review (a drug the AI did not find, :func:`consult.review.added_line`, id
``added-N``) follows the report's lines: no ``AIAST`` label, no evidence extension, left out of the AI's
``Provenance``, a ``note`` that says it was typed at review, and (a statement) the clinician as its source.

Grounding: each line resource carries extensions (``EXT_*`` below) with the line id, the line status, its
confidence, review flags and the evidence (segment, start/end seconds, words), and a human-readable ``note``.
Codes: ATC (WHO), CIS (ANSM, urn:oid:1.2.250.1.213.2.3.1), SNOMED CT routes (plus EDQM "Oral use"), UCUM units,
EDQM units of presentation for counted doses (tablet, puff, drop...: the codes French FHIR prescriptions use,
e.g. 15054000 "Comprimé") and EDQM pharmaceutical dose forms.

Posology mapping: frequency -> ``timing.repeat`` (frequency/frequencyMax/period/periodUnit), times of day ->
``timing.repeat.when``, duration -> ``timing.repeat.boundsDuration``, dose -> ``doseAndRate.doseQuantity``
(or ``doseRange``), as-needed -> ``asNeededBoolean`` (+ the condition as ``additionalInstruction``), maximum
per day -> ``maxDosePerPeriod``, maximum per intake -> ``maxDosePerAdministration``, minimum interval ->
extension ``EXT_MIN_INTERVAL`` (FHIR has no element for it) and a patient instruction, supply (QSP) ->
``dispenseRequest.expectedSupplyDuration``, renewals -> ``dispenseRequest.numberOfRepeatsAllowed``; the
verbatim sig is always ``dosageInstruction.text`` (``dosage.text`` in a statement).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Literal

from consult.errors import FhirError
from schemas import ConsultationReport, MedicationLine, Quantity, ReviewDecision

if TYPE_CHECKING:
    from fhir.resources.R4B.bundle import Bundle

BundleType = Literal["collection", "transaction"]
BUNDLE_TYPES: tuple[BundleType, ...] = ("collection", "transaction")

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
CIS = "urn:oid:1.2.250.1.213.2.3.1"  # ANSM Code Identifiant de Spécialité (as the ANS FHIR guides name it)
SOURCE_SHA256 = "urn:consult:source-sha256"
REQUEST_CATEGORY = "urn:consult:medication-request-category"
ALD_TEXT = "ALD (affection de longue durée)"
V3_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
V3_DATA_OPERATION = "http://terminology.hl7.org/CodeSystem/v3-DataOperation"
PARTICIPANT_TYPE = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
AI_ASSERTED = {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "AIAST",
               "display": "Artificial Intelligence asserted"}
PLACEHOLDER_TAG = {"system": "urn:consult:tag", "code": "placeholder",
                   "display": "Placeholder: to be linked to the real record by the integrator"}

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
    "lyophilisat": "{lyophilisate}", "lyophilisats": "{lyophilisate}",
}
# EDQM Standard Terms, units of presentation (checked against the EDQM code list as published in the
# HL7 Europe UNICOM IG); forms without a checked code keep only the UCUM annotation.
EDQM_PRESENTATION = {
    "{tablet}": ("15054000", "Tablet"), "{puff}": ("15001000", "Actuation"), "[drp]": ("15022000", "Drop"),
    "{ampoule}": ("15002000", "Ampoule"), "{patch}": ("15036000", "Patch"),
}
EDQM_ROUTE = {"oral": ("20053000", "Oral use")}
# EDQM pharmaceutical dose forms for the forms the extractor names (codes checked against published EDQM lists);
# other forms keep their words as ``form.text``.
EDQM_DOSE_FORM = {
    "comprimé": ("10219000", "Tablet"), "tablet": ("10219000", "Tablet"),
    "comprimé pelliculé": ("10221000", "Film-coated tablet"),
    "comprimé orodispersible": ("10223000", "Orodispersible tablet"),
    "comprimé effervescent": ("10222000", "Effervescent tablet"),
    "comprimé gastro-résistant": ("10225000", "Gastro-resistant tablet"),
    "comprimé à libération prolongée": ("10226000", "Prolonged-release tablet"),
    "gélule": ("10210000", "Capsule, hard"),
    "solution buvable": ("10105000", "Oral solution"), "suspension buvable": ("10106000", "Oral suspension"),
    "solution injectable": ("11201000", "Solution for injection"), "crème": ("10502000", "Cream"),
}
_PERIOD_UCUM = {"h": "h", "d": "d", "wk": "wk", "mo": "mo"}
_PERIOD_WORD = {"h": "hour", "d": "day", "wk": "week", "mo": "month"}


def _fhir_id(raw: str) -> str:
    """A valid FHIR id ([A-Za-z0-9-.]{1,64}) from any string."""
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
    if line.single_dose:
        rep["count"] = 1  # "a total count of the desired number of repetitions": one intake
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


@dataclass(frozen=True)
class _Refs:
    """The ``urn:uuid`` full URLs of the bundle's shared resources."""

    patient: str
    practitioner: str
    encounter: str
    device: str


def _urn(report: ConsultationReport, key: str) -> str:
    return "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, f"consult:{report.id}:{key}"))


def _meta(*, ai: bool = True, placeholder: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    if ai:
        meta["security"] = [dict(AI_ASSERTED)]
    if placeholder:
        meta["tag"] = [dict(PLACEHOLDER_TAG)]
    return meta


def resource_kind(line: MedicationLine) -> str:
    """``MedicationRequest`` for what is prescribed now (new, renewed, changed), ``MedicationStatement`` for a
    drug stopped or only mentioned."""
    return "MedicationStatement" if line.status in ("stopped", "mentioned") else "MedicationRequest"


def _presentation(line: MedicationLine) -> dict[str, Any]:
    """One unit of the product (the strength's denominator): a tablet, a capsule..., or one dose."""
    for word in (line.form, line.dose.unit if line.dose is not None and not line.dose.ucum else None):
        if not word:
            continue
        key = word.lower().split()[0]
        if key in FORM_ANNOTATION:
            return _quantity(Quantity(value=1, unit=key))
    return {"value": 1, "unit": line.form or "dose", "system": UCUM, "code": "1"}


def medication(line: MedicationLine) -> dict[str, Any]:
    """The contained ``Medication`` of a line: code (ATC, CIS), form, and the strength as an ingredient Ratio."""
    code: dict[str, Any] = {"text": line.name}
    coding = []
    if line.atc:
        coding.append({"system": ATC, "code": line.atc, "display": line.name})
    if line.cis:
        coding.append({"system": CIS, "code": line.cis, "display": line.name})
    if coding:
        code["coding"] = coding
    med: dict[str, Any] = {"resourceType": "Medication", "id": "med", "code": code}
    if line.form:
        form: dict[str, Any] = {"text": line.form}
        if line.form.lower() in EDQM_DOSE_FORM:
            c, display = EDQM_DOSE_FORM[line.form.lower()]
            form["coding"] = [{"system": EDQM, "code": c, "display": display}]
        med["form"] = form
    if line.strength is not None:
        item: dict[str, Any] = {"text": line.name}
        if line.atc:
            item["coding"] = [{"system": ATC, "code": line.atc, "display": line.name}]
        med["ingredient"] = [{
            "itemCodeableConcept": item,
            "isActive": True,
            "strength": {"numerator": _quantity(line.strength), "denominator": _presentation(line)},
        }]
    return med


def _added(line: MedicationLine) -> bool:
    """A line the reviewer added (:func:`consult.review.is_added_line`): typed, not heard; no evidence."""
    from consult.review import is_added_line

    return is_added_line(line)


def _line_extensions(line: MedicationLine, decision: ReviewDecision | None) -> list[dict[str, Any]]:
    ext: list[dict[str, Any]] = [
        {"url": EXT_LINE_ID, "valueString": line.id},
        {"url": EXT_LINE_STATUS, "valueCode": line.status},
        {"url": EXT_NORMALISED_NAME, "valueString": line.name},
        {"url": EXT_CONFIDENCE, "valueDecimal": round(line.confidence, 3)},
        {"url": EXT_NEEDS_REVIEW, "valueBoolean": line.needs_review},
        *({"url": EXT_REVIEW_REASON, "valueString": r} for r in line.review_reasons),
        *([] if _added(line) else _evidence_ext(line)),
    ]
    if decision is not None and decision.decision != "pending":
        review = [{"url": "decision", "valueCode": decision.decision},
                  {"url": "edited", "valueBoolean": decision.line is not None}]
        if decision.reviewer:
            review.append({"url": "reviewer", "valueString": decision.reviewer})
        if decision.at:
            review.append({"url": "at", "valueDateTime": decision.at.isoformat()})
        ext.append({"url": EXT_REVIEW, "extension": review})
    return ext


def _notes(report: ConsultationReport, line: MedicationLine, decision: ReviewDecision | None) -> list[dict[str, str]]:
    if _added(line):
        state = "approved" if decision is not None and decision.decision == "approved" else "not yet approved"
        origin = "recording" if report.audio is not None else "transcript"
        notes = [{"text": f"Added by the reviewer ({state}): not found in the consultation {origin} by the AI, "
                          "typed at review."}]
        if decision is not None and decision.comment:
            notes.append({"text": f"Reviewer: {decision.comment}"})
        return notes
    ev = line.evidence
    where = f"segment {ev.segment_id}" if ev.segment_id is not None else "transcript"
    if ev.start is not None and ev.end is not None:
        where += f", {ev.start:.2f}-{ev.end:.2f} s"
    origin = "recording" if report.audio is not None else "transcript"
    state = "approved by a clinician" if decision is not None and decision.decision == "approved" else \
        "not yet checked by a clinician"
    note = (f"AI draft from the consultation {origin} ({where}), {state}; status heard: {line.status}; "
            f"confidence {line.confidence:.2f}.")
    if line.needs_review:
        note += " TO CHECK: " + "; ".join(line.review_reasons or ["low confidence"])
    notes = [{"text": note}]
    if decision is not None and decision.comment:
        notes.append({"text": f"Reviewer: {decision.comment}"})
    return notes


def _speaker_ref(report: ConsultationReport, line: MedicationLine, refs: _Refs) -> dict[str, Any]:
    if _added(line):
        return {"reference": refs.practitioner, "display": "the reviewer, at review"}
    role = report.role_of(line.evidence.speaker)
    if role == "patient":
        return {"reference": refs.patient, "display": "the patient, during the consultation"}
    if role == "doctor":
        return {"reference": refs.practitioner, "display": "the clinician, during the consultation"}
    return {"reference": refs.encounter, "display": "said during the consultation (speaker not identified)"}


def _line_base(kind: str, report: ConsultationReport, line: MedicationLine, decision: ReviewDecision | None,
               refs: _Refs, res_id: str) -> dict[str, Any]:
    """What a line's MedicationRequest and MedicationStatement share: the product, the patient, the evidence."""
    return {
        "resourceType": kind,
        "id": res_id,
        "meta": _meta(ai=not _added(line)),
        "contained": [medication(line)],
        "extension": _line_extensions(line, decision),
        "medicationReference": {"reference": "#med", "display": line.name},
        "subject": {"reference": refs.patient},
        "note": _notes(report, line, decision),
    }


def _medication_request(report: ConsultationReport, line: MedicationLine, decision: ReviewDecision | None,
                        refs: _Refs, res_id: str) -> dict[str, Any]:
    approved = decision is not None and decision.decision == "approved"
    resource = _line_base("MedicationRequest", report, line, decision, refs, res_id)
    resource.update({
        "status": "active" if approved else "draft",
        "intent": "order" if approved else "proposal",
        "encounter": {"reference": refs.encounter},
        "authoredOn": report.created_at.isoformat(),
        "requester": {"reference": refs.practitioner},
        "dosageInstruction": [_dosage(line)],
    })
    if line.status in ("renewed", "changed"):
        what = "renewed unchanged" if line.status == "renewed" else "changed (new dose or posology)"
        resource["priorPrescription"] = {"display": f"the current prescription of {line.name}, {what}"}
        resource["note"].insert(0, {"text": f"Ongoing treatment {what} during the consultation."})
    dispense: dict[str, Any] = {}
    if line.quantity_for is not None:
        dispense["expectedSupplyDuration"] = _duration(line.quantity_for)
    if line.renewals is not None:
        dispense["numberOfRepeatsAllowed"] = line.renewals
    if dispense:
        resource["dispenseRequest"] = dispense
    if approved and decision is not None and decision.ald:
        resource["category"] = [{
            "coding": [{"system": REQUEST_CATEGORY, "code": "ald", "display": ALD_TEXT}],
            "text": ALD_TEXT,
        }]
        resource["note"].append({"text": f"{ALD_TEXT}: prescribed for the patient's exempting long-term "
                                         "condition (ordonnance bizone, upper zone)."})
    return resource


def _medication_statement(report: ConsultationReport, line: MedicationLine, decision: ReviewDecision | None,
                          refs: _Refs, res_id: str) -> dict[str, Any]:
    source = _speaker_ref(report, line, refs)
    if line.status == "stopped":
        status = "stopped"
        reason: dict[str, Any] | None = {"text": "stopped during the consultation: "
                                                 + (line.sig or line.evidence.text)}
    else:
        status = "active" if report.role_of(line.evidence.speaker) == "patient" else "unknown"
        reason = None
    resource = _line_base("MedicationStatement", report, line, decision, refs, res_id)
    resource.update({
        "status": status,
        "context": {"reference": refs.encounter},
        "dateAsserted": report.created_at.isoformat(),
        "informationSource": source,
        "dosage": [_dosage(line)],
    })
    if reason is not None:
        resource["statusReason"] = [reason]
    return resource


def line_resource(report: ConsultationReport, line: MedicationLine, decision: ReviewDecision | None = None,
                  *, refs: _Refs | None = None) -> dict[str, Any]:
    """The FHIR resource (as a dict) of one line with the review decision applied: see the module table."""
    refs = refs or _shared_refs(report)
    res_id = _urn(report, line.id).removeprefix("urn:uuid:")
    if resource_kind(line) == "MedicationRequest":
        return _medication_request(report, line, decision, refs, res_id)
    return _medication_statement(report, line, decision, refs, res_id)


def _shared_refs(report: ConsultationReport) -> _Refs:
    return _Refs(*(_urn(report, k) for k in ("patient", "practitioner", "encounter", "device")))


def _device(report: ConsultationReport) -> dict[str, Any]:
    from consult import __version__

    versions = [{"type": {"text": "consult"}, "value": __version__}]
    versions += [{"type": {"text": f"{m.stage} model"}, "value": f"{m.name} {m.version}".strip()}
                 for m in report.models]
    return {
        "resourceType": "Device",
        "meta": _meta(ai=False),
        "deviceName": [{"name": "consult", "type": "model-name"}],
        "type": {"text": "AI consultation transcription and medication extraction software"},
        "version": versions,
    }


def _shared_resources(report: ConsultationReport, refs: _Refs) -> list[tuple[str, dict[str, Any]]]:
    encounter: dict[str, Any] = {
        "resourceType": "Encounter",
        "meta": _meta(ai=False, placeholder=True),
        "status": "finished",
        "class": {"system": V3_ACT_CODE, "code": "AMB", "display": "ambulatory"},
        "subject": {"reference": refs.patient},
        "participant": [{"individual": {"reference": refs.practitioner}}],
    }
    if report.audio is not None:
        encounter["length"] = {"value": round(report.audio.duration, 1), "unit": "s", "system": UCUM, "code": "s"}
    return [
        (refs.patient, {"resourceType": "Patient", "meta": _meta(ai=False, placeholder=True)}),
        (refs.practitioner, {"resourceType": "Practitioner", "meta": _meta(ai=False, placeholder=True)}),
        (refs.encounter, encounter),
        (refs.device, _device(report)),
    ]


def _provenances(report: ConsultationReport, targets: list[str], approved: list[tuple[str, ReviewDecision]],
                 refs: _Refs) -> list[tuple[str, dict[str, Any]]]:
    if report.audio is not None:
        source = {"identifier": {"system": SOURCE_SHA256, "value": report.audio.sha256},
                  "display": "consultation recording (SHA-256 of the file)"}
    elif report.text_source is not None:
        source = {"identifier": {"system": SOURCE_SHA256, "value": report.text_source.sha256},
                  "display": "consultation transcript (SHA-256 of the text)"}
    else:
        source = {"display": "consultation"}
    out = [(_urn(report, "provenance"), {
        "resourceType": "Provenance",
        "target": [{"reference": t} for t in targets],
        "recorded": report.created_at.isoformat(),
        "activity": {"coding": [{"system": V3_DATA_OPERATION, "code": "CREATE", "display": "create"}],
                     "text": "AI transcription of the consultation and medication extraction (a draft)"},
        "agent": [{
            "type": {"coding": [{"system": PARTICIPANT_TYPE, "code": "assembler", "display": "Assembler"}],
                     "text": "AI system"},
            "who": {"reference": refs.device, "display": "consult"},
        }],
        "entity": [{"role": "source", "what": source}],
    })]
    if approved:
        reviewers = sorted({d.reviewer for _, d in approved if d.reviewer})
        times = [d.at for _, d in approved if d.at is not None]
        out.append((_urn(report, "provenance-review"), {
            "resourceType": "Provenance",
            "target": [{"reference": url} for url, _ in approved],
            "recorded": (max(times) if times else datetime.now(timezone.utc)).isoformat(),
            "activity": {"text": "checked and approved by a clinician"},
            "agent": [{
                "type": {"coding": [{"system": PARTICIPANT_TYPE, "code": "verifier", "display": "Verifier"}]},
                "who": {"reference": refs.practitioner, "display": ", ".join(reviewers) or "reviewer"},
            }],
        }))
    return out


def build_bundle(report: ConsultationReport, decisions: Sequence[ReviewDecision] | None = None, *,
                 bundle_type: BundleType = "collection") -> Bundle:
    """Build and validate the R4B Bundle of a report (see the module docstring for what goes where).

    Without decisions every prescribed line is a draft proposal. With decisions: approved lines become orders,
    rejected lines are left out, pending lines stay drafts; ``decision.line`` (an edited line) replaces the
    extracted one (and its status decides the resource). ``bundle_type="transaction"``: each entry has a
    ``POST`` request, ready for a FHIR server.
    """
    from fhir.resources.R4B.bundle import Bundle

    if bundle_type not in BUNDLE_TYPES:
        raise FhirError(f"bundle type {bundle_type!r}: use one of {', '.join(BUNDLE_TYPES)}")
    from consult.review import added_decisions

    by_id = {d.line_id: d for d in decisions or []}
    added = [d.line for d in added_decisions(report, by_id.values()) if d.line is not None]
    unknown = set(by_id) - {m.id for m in report.medications} - {line.id for line in added}
    if unknown:
        raise FhirError(f"review decisions name unknown medication lines: {', '.join(sorted(unknown))}")
    refs = _shared_refs(report)
    resources = _shared_resources(report, refs)
    approved: list[tuple[str, ReviewDecision]] = []
    typed: set[str] = set()
    for line in [*report.medications, *added]:
        decision = by_id.get(line.id)
        if decision is not None and decision.decision == "rejected":
            continue
        effective = decision.line if decision is not None and decision.line is not None else line
        url = _urn(report, line.id)
        resources.append((url, line_resource(report, effective, decision, refs=refs)))
        if _added(effective):
            typed.add(url)
        if decision is not None and decision.decision == "approved":
            approved.append((url, decision))
    # the AI's provenance covers what it made, not the lines the reviewer typed
    targets = [url for url, res in resources if res["resourceType"] != "Device" and url not in typed]
    resources += _provenances(report, targets, approved, refs)
    entries = []
    for url, res in resources:
        res = dict(res)
        res.setdefault("id", url.removeprefix("urn:uuid:"))
        if not res.get("meta"):
            res.pop("meta", None)
        entry: dict[str, Any] = {"fullUrl": url, "resource": res}
        if bundle_type == "transaction":
            entry["request"] = {"method": "POST", "url": res["resourceType"]}
        entries.append(entry)
    data = {
        "resourceType": "Bundle",
        "id": _fhir_id(report.id),
        "identifier": {"system": BUNDLE_ID_SYSTEM, "value": report.id},
        "type": bundle_type,
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "entry": entries,
    }
    try:
        return Bundle.model_validate(data)
    except Exception as exc:
        raise FhirError(f"the FHIR bundle does not validate: {exc}") from exc


def bundle_json(bundle: Bundle) -> str:
    """The bundle as indented JSON (absent elements left out)."""
    return str(bundle.model_dump_json(indent=2, exclude_none=True))


def as_bundle_type(text: str, bundle_type: BundleType) -> str:
    """A stored bundle's JSON as ``bundle_type``: a ``collection`` made a ``transaction`` gets a ``POST`` request
    on each entry (and back), its content unchanged (a reviewed bundle keeps its decisions)."""
    if bundle_type not in BUNDLE_TYPES:
        raise FhirError(f"bundle type {bundle_type!r}: use one of {', '.join(BUNDLE_TYPES)}")
    data = json.loads(text)
    if data.get("type") == bundle_type:
        return text
    data["type"] = bundle_type
    for entry in data.get("entry", []):
        if bundle_type == "transaction":
            entry["request"] = {"method": "POST", "url": entry["resource"]["resourceType"]}
        else:
            entry.pop("request", None)
    return bundle_json(validate_bundle_json(json.dumps(data)))


_REQUEST_STATES = {("draft", "proposal"), ("active", "order")}
_STATEMENT_STATES = {"stopped", "active", "unknown"}


def line_resources(bundle: Bundle) -> dict[str, Any]:
    """The line resources of a bundle by line id (MedicationRequest and MedicationStatement)."""
    out = {}
    for entry in bundle.entry or []:
        res = entry.resource
        for ext in getattr(res, "extension", None) or []:
            if ext.url == EXT_LINE_ID:
                out[ext.valueString] = res
    return out


def validate_bundle_json(text: str | bytes) -> Bundle:
    """Parse and validate a bundle JSON; checks our restrictions too: only ``collection``/``transaction``,
    MedicationRequest draft/proposal or active/order, and no stopped or mentioned line as a MedicationRequest."""
    from fhir.resources.R4B.bundle import Bundle

    try:
        bundle = Bundle.model_validate_json(text)
    except Exception as exc:
        raise FhirError(f"invalid FHIR R4B bundle: {exc}") from exc
    if bundle.type not in BUNDLE_TYPES:
        raise FhirError(f"bundle type {bundle.type!r}: consult bundles are of type collection or transaction")
    from fhir.resources.R4B.medicationrequest import MedicationRequest
    from fhir.resources.R4B.medicationstatement import MedicationStatement

    for entry in bundle.entry or []:
        res = entry.resource
        status = next((x.valueCode for x in getattr(res, "extension", None) or [] if x.url == EXT_LINE_STATUS), None)
        if isinstance(res, MedicationRequest):
            if (res.status, res.intent) not in _REQUEST_STATES:
                raise FhirError(f"MedicationRequest {res.id}: status/intent {res.status}/{res.intent} not allowed")
            if status in ("stopped", "mentioned"):
                raise FhirError(f"MedicationRequest {res.id}: a {status} line must be a MedicationStatement")
        elif isinstance(res, MedicationStatement) and res.status not in _STATEMENT_STATES:
            raise FhirError(f"MedicationStatement {res.id}: status {res.status} not allowed")
    return bundle
