"""The ordonnance of the approved lines: French mentions, English layout, nothing printable while a line is
undecided, the bizone layout for ALD lines, and the same lines as the reviewed FHIR bundle's active
MedicationRequests (ALD ones included)."""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timezone

import pytest
from fhirjs import assert_valid
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


def _decisions(ald: tuple[str, ...] = (), **by_id: str) -> list[ReviewDecision]:
    return [ReviewDecision(line_id=k.replace("_", "-"), decision=v, reviewer="dr.martin",
                           ald=k.replace("_", "-") in ald) for k, v in by_id.items()]


ALD_ZONE = ("Prescriptions relatives au traitement de l'affection de longue durée reconnue (liste ou hors liste)"
            "<br>(AFFECTION EXONÉRANTE)")
OTHER_ZONE = "Prescriptions SANS RAPPORT avec l'affection de longue durée<br>(MALADIES INTERCURRENTES)"


def _zones(page: str) -> dict[str, list[str]]:
    """The line ids printed in each zone of a bizone page (``{}`` for a single list)."""
    zones = re.findall(r"<section class='zone' data-zone='(\w+)'>(.*?)</section>", page, re.S)
    return {name: re.findall(r"data-line='([^']+)'", body) for name, body in zones}


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


def test_an_ald_line_gives_the_bizone_layout_with_each_line_in_its_zone():
    report = _report().model_copy(update={"medications": [*_report().medications, AMOX.model_copy(update={
        "id": "med-5", "name": "metformine", "drug_text": "metformine", "atc": "A10BA02"})]})
    decisions = _decisions(ald=("med-5",), med_1="approved", med_2="approved", med_3="approved",
                           med_4="rejected", med_5="approved")
    o = build_ordonnance(report, decisions, DR)
    assert [(i.line_id, i.ald) for i in o.items] == [("med-1", False), ("med-2", False), ("med-5", True)]
    page = ordonnance_html(o)
    assert ALD_ZONE in page and OTHER_ZONE in page and "<hr class='bizone'>" in page
    assert page.index(ALD_ZONE) < page.index("<hr class='bizone'>") < page.index(OTHER_ZONE)
    assert _zones(page) == {"ald": ["med-5"], "other": ["med-1", "med-2"]}
    # one numbering down the page: the ALD zone first
    assert "1. METFORMINE" in page and "2. AMOXICILLINE" in page and "3. PARACÉTAMOL" in page
    assert page.index("Traitements arrêtés") > page.index(OTHER_ZONE)  # stopped drugs stay after the zones


def test_no_ald_line_keeps_the_single_list():
    for decisions in (
        _decisions(med_1="approved", med_2="approved", med_3="approved", med_4="rejected"),
        # ALD marked on lines that print nothing: a rejected prescription, a stopped drug
        _decisions(ald=("med-2", "med-3"), med_1="approved", med_2="rejected", med_3="approved", med_4="rejected"),
    ):
        page = ordonnance_html(build_ordonnance(_report(), decisions, DR))
        assert "AFFECTION EXONÉRANTE" not in page and "MALADIES INTERCURRENTES" not in page
        assert "bizone'" not in page and _zones(page) == {}
        assert "1. AMOXICILLINE" in page


def test_english_ordonnance_marks_the_ald_line_in_a_single_list():
    decisions = _decisions(ald=("med-2",), med_1="approved", med_2="approved", med_3="rejected", med_4="rejected")
    page = ordonnance_html(build_ordonnance(_report("en"), decisions, DR))
    assert _zones(page) == {} and "AFFECTION" not in page
    assert page.count("(long-term condition, ALD)") == 1
    para = re.search(r"<li data-line='med-2'>.*?</li>", page, re.S)
    assert para is not None and "(long-term condition, ALD)" in para.group(0)


def test_fhir_bundle_marks_exactly_the_ald_lines_of_the_ordonnance(tmp_path):
    report = _report()
    decisions = _decisions(ald=("med-2",), med_1="approved", med_2="approved", med_3="approved", med_4="approved")
    o = build_ordonnance(report, decisions, DR)
    text = bundle_json(build_bundle(report, decisions))
    lines = {}
    for e in json.loads(text)["entry"]:
        r = e["resource"]
        line_id = next((x["valueString"] for x in r.get("extension", []) if x["url"].endswith("line-id")), None)
        if line_id is not None:
            lines[line_id] = r
    ald_in_bundle = {i for i, r in lines.items()
                     if any(c.get("code") == "ald" for cat in r.get("category", []) for c in cat["coding"])}
    assert ald_in_bundle == {i.line_id for i in o.items if i.ald} == {"med-2"}
    para = lines["med-2"]
    assert (para["resourceType"], para["status"], para["intent"]) == ("MedicationRequest", "active", "order")
    assert para["category"][0]["text"] == "ALD (affection de longue durée)"
    assert any("ALD (affection de longue durée)" in n["text"] for n in para["note"])
    assert not any("ALD" in n["text"] for n in lines["med-1"]["note"])
    # a pending draft marked ALD is not an order yet: it says nothing about the ALD either
    draft = bundle_json(build_bundle(report, _decisions(ald=("med-2",), med_2="pending")))
    assert '"ald"' not in draft and "affection de longue" not in draft
    path = tmp_path / "ald.json"
    path.write_text(text)
    assert_valid([path])
