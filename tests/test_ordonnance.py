"""The ordonnance of the approved lines: French mentions, English layout, nothing printable while a line is
undecided, and the same lines as the reviewed FHIR bundle's active MedicationRequests."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone

import pytest
from test_fhir import AMOX, IBU, OME, PARA

from consult.fhir import build_bundle, bundle_json
from consult.ordonnance import Prescriber, UndecidedLines, build_ordonnance, html_to_pdf, ordonnance_html
from schemas import AudioInfo, ConsultationReport, ReviewDecision, Speaker

DR = Prescriber(name="Dr Claire Martin", rpps="10101010101", specialty="Médecine générale",
                address="3 rue des Lilas, 33000 Bordeaux")


def _report(lang: str = "fr") -> ConsultationReport:
    return ConsultationReport(
        id="0123456789abcdef01234567", created_at=datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc),
        audio=AudioInfo(name="c.flac", sha256="0" * 64, duration=60.0, sample_rate=16000, channels=1),
        language=lang, speakers=[Speaker(id="SPEAKER_00", role="doctor")], segments=[],
        medications=[AMOX.model_copy(update={"renewals": 2, "drug_text": "Clamoxyl"}), PARA, IBU, OME])


def _decisions(**by_id: str) -> list[ReviewDecision]:
    return [ReviewDecision(line_id=k.replace("_", "-"), decision=v, reviewer="dr.martin") for k, v in by_id.items()]


def test_nothing_is_printable_while_a_line_is_undecided():
    with pytest.raises(UndecidedLines, match="med-2, med-3, med-4"):
        build_ordonnance(_report(), _decisions(med_1="approved"), DR)
    with pytest.raises(UndecidedLines, match="med-4"):
        build_ordonnance(_report(), _decisions(med_1="approved", med_2="rejected", med_3="approved",
                                               med_4="pending"), DR)


def test_french_ordonnance_has_the_mentions_and_only_the_approved_prescriptions():
    decisions = _decisions(med_1="approved", med_2="rejected", med_3="approved", med_4="approved")
    o = build_ordonnance(_report(), decisions, DR, day=date(2026, 11, 23))
    (item,) = o.items  # paracetamol rejected, ibuprofen stopped, omeprazole only mentioned
    assert (item.dci, item.specialty, item.strength, item.form) == ("amoxicilline", "Clamoxyl", "1000 mg", None)
    assert item.posology.startswith("1 comprimé") and item.duration == "6 jours" and item.renewals == 2
    assert o.stopped == ["ibuprofène"]
    page = ordonnance_html(o)
    for mention in ("Dr Claire Martin", "RPPS : 10101010101", "Le 23/11/2026", "AMOXICILLINE",
                    "spécialité Clamoxyl", "1000 mg", "Durée : 6 jours", "À renouveler 2 fois",
                    "Traitements arrêtés", "ibuprofène", "Patient(e) :"):
        assert mention in page, mention
    assert "<script" not in page and "http" not in page  # nothing to fetch, nothing to run


def test_ordonnance_and_fhir_bundle_say_the_same_thing():
    report = _report()
    decisions = _decisions(med_1="approved", med_2="approved", med_3="approved", med_4="rejected")
    o = build_ordonnance(report, decisions, DR)
    bundle = json.loads(bundle_json(build_bundle(report, decisions)))
    active = {}
    for e in bundle["entry"]:
        r = e["resource"]
        if r["resourceType"] == "MedicationRequest":
            assert (r["status"], r["intent"]) == ("active", "order")
            line_id = next(x["valueString"] for x in r["extension"] if x["url"].endswith("line-id"))
            active[line_id] = r
    assert [i.line_id for i in o.items] == list(active)
    for item in o.items:
        med = active[item.line_id]["contained"][0]
        assert med["code"]["text"] == item.dci
        strength = med["ingredient"][0]["strength"]["numerator"]
        assert item.strength == f"{strength['value']:g} {strength['unit']}"
        repeats = active[item.line_id].get("dispenseRequest", {}).get("numberOfRepeatsAllowed")
        assert repeats == item.renewals


def test_english_layout_and_pdf(tmp_path):
    decisions = _decisions(med_1="approved", med_2="approved", med_3="rejected", med_4="rejected")
    o = build_ordonnance(_report("en"), decisions, DR, patient="Jane Doe", day=date(2026, 11, 23))
    page = ordonnance_html(o)
    assert "<h1>Prescription</h1>" in page and "Patient: Jane Doe" in page and "2026-11-23" in page
    assert "Repeats: 2" in page and "if needed" in page and "Duration: 6 days" in page  # in English words
    pdf = html_to_pdf(page, tmp_path / "rx.pdf")
    assert pdf.read_bytes()[:4] == b"%PDF" and pdf.stat().st_size > 1000
