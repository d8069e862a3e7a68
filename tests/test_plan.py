"""Patient medication plan: approved lines only, times of day table, as-needed limits, stopped drugs, languages."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from html.parser import HTMLParser

from consult.extract import extract_from_text
from consult.plan import format_date, format_frequency, format_quantity, patient_plan, plan_html, plan_markdown
from schemas.medication import Duration, Evidence, Frequency, MedicationLine, Quantity
from schemas.report import ConsultationReport, ReviewDecision

DIALOGUE = (
    "DOC: Alors je vous prescris du Doliprane 1000 mg, un comprimé trois fois par jour pendant 5 jours.\n"
    "DOC: Et de l'Advil 200, un à deux comprimés si douleur, au maximum 6 par jour.\n"
    "DOC: Amoxicilline 1 g, un comprimé matin et soir pendant 7 jours.\n"
    "DOC: Le Levothyrox 50, un comprimé le matin à jeun, on continue.\n"
    "DOC: On arrête le Zocor.\n"
    "PAT: Je prends aussi du Kardégic 75.\n"
)


def consultation(language: str = "fr") -> ConsultationReport:
    segments, lines = extract_from_text(DIALOGUE, "fr")
    return ConsultationReport(id="c1", created_at=datetime(2024, 3, 1, 9, 30, tzinfo=timezone.utc),
                              language=language, segments=segments, medications=lines)


def approve_all(rep: ConsultationReport) -> list[ReviewDecision]:
    return [ReviewDecision(line_id=line.id, decision="approved") for line in rep.medications]


def by_drug(rep: ConsultationReport, drug: str) -> MedicationLine:
    return next(line for line in rep.medications if line.drug_text.lower() == drug.lower())


def test_extracted_lines_are_what_the_plan_tests_expect():
    rep = consultation()
    assert {line.drug_text: line.status for line in rep.medications} == {
        "Doliprane": "new", "Advil": "new", "Amoxicilline": "new", "Levothyrox": "renewed", "Zocor": "stopped",
        "Kardégic": "mentioned"}
    assert by_drug(rep, "Amoxicilline").when == ["MORN", "EVE"]


def test_french_markdown_schedule():
    rep = consultation()
    md = plan_markdown(patient_plan(rep, approve_all(rep)))
    assert md.startswith("# Vos médicaments")
    assert "*Consultation du 1er mars 2024*" in md
    assert "| Médicament | Matin | Midi | Soir | Coucher | Durée |" in md
    assert "| Amoxicilline 1 g | 1 comprimé |  | 1 comprimé |  | 7 jours |" in md
    assert re.search(r"\| Levothyrox 50 µg — à jeun, avant le petit-déjeuner \| 1 comprimé \|  \|  \|  \|  \|", md)
    assert "- **Doliprane 1000 mg** : 1 comprimé, 3 fois par jour, pendant 5 jours" in md
    assert "## Si besoin" in md
    assert "- **Advil 200 mg** : 1 à 2 comprimés, si besoin (douleur), au maximum 6 comprimés par jour" in md
    assert "## À arrêter" in md and "- **Zocor** : ne plus prendre" in md
    assert "Kardégic" not in md  # mentioned only: not part of the prescription


def test_english_plan_of_the_same_lines():
    rep = consultation(language="en")
    plan = patient_plan(rep, approve_all(rep))
    assert plan.lang == "en"
    md = plan_markdown(plan)
    assert "*Consultation of 1 March 2024*" in md
    assert "| Medicine | Morning | Noon | Evening | Bedtime | How long |" in md
    assert "| Amoxicilline 1 g | 1 tablet |  | 1 tablet |  | 7 days |" in md
    assert "- **Doliprane 1000 mg**: 1 tablet, 3 times a day, for 5 days" in md
    assert "1 to 2 tablets, if needed (douleur), no more than 6 tablets a day" in md
    assert "- **Zocor**: stop taking" in md
    assert plan_markdown(plan, "fr").startswith("# Vos médicaments")


def test_only_approved_lines_and_edited_values():
    rep = consultation()
    doli = by_drug(rep, "Doliprane")
    edited = doli.model_copy(update={"duration": Duration(value=3, unit="d")})
    decisions = [
        ReviewDecision(line_id=doli.id, decision="approved", line=edited),
        ReviewDecision(line_id=by_drug(rep, "Advil").id, decision="rejected"),
        ReviewDecision(line_id=by_drug(rep, "Zocor").id, decision="pending"),
    ]
    plan = patient_plan(rep, decisions)
    assert [i.line.drug_text for i in plan.items] == ["Doliprane"]
    md = plan_markdown(plan)
    assert "pendant 3 jours" in md and "5 jours" not in md
    assert "Advil" not in md and "Zocor" not in md and "Amoxicilline" not in md
    empty = plan_markdown(patient_plan(rep, None))
    assert "Aucun médicament validé" in empty and "|" not in empty


def test_printable_html_is_self_contained_and_escaped():
    rep = consultation()
    amox = by_drug(rep, "Amoxicilline")
    tricky = amox.model_copy(update={"drug_text": "Amox <b>&</b>"})
    decisions = approve_all(rep) + [ReviewDecision(line_id=amox.id, decision="approved", line=tricky)]
    page = plan_html(patient_plan(rep, decisions))
    assert page.startswith("<!DOCTYPE html>") and '<html lang="fr">' in page
    assert "@media print" in page and "@page" in page
    assert "<script" not in page and "http" not in page and "<link" not in page
    assert "Amox &lt;b&gt;&amp;&lt;/b&gt; 1 g" in page
    assert '<td class="text" colspan="4">1 comprimé, 3 fois par jour</td><td class="dur">5 jours</td>' in page

    class Tags(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.stack: list[str] = []
            self.ok = True

        def handle_starttag(self, tag: str, attrs: list) -> None:
            if tag not in ("br", "meta"):
                self.stack.append(tag)

        def handle_endtag(self, tag: str) -> None:
            self.ok = self.ok and bool(self.stack) and self.stack.pop() == tag

    parser = Tags()
    parser.feed(page)
    assert parser.ok and parser.stack == []


def _line(**kw: object) -> MedicationLine:
    base: dict[str, object] = {"id": "m", "drug_text": "Ventoline", "name": "salbutamol", "confidence": 0.9,
                               "evidence": Evidence(segment_id=0, char_start=0, char_end=9, text="Ventoline")}
    return MedicationLine(**{**base, **kw})  # type: ignore[arg-type]


def test_wording_of_quantities_frequencies_and_dates():
    assert format_quantity(Quantity(value=0.5, unit="comprimé")) == "½ comprimé"
    assert format_quantity(Quantity(value=1.5, unit="comprimé")) == "1 ½ comprimé"
    assert format_quantity(Quantity(value=2, unit="bouffée"), "en") == "2 puffs"
    assert format_quantity(Quantity(value=20, unit="[drp]")) == "20 gouttes"
    assert format_frequency(Frequency(count=1, period=6, period_unit="h")) == "toutes les 6 heures"
    assert format_frequency(Frequency(count=1, period=6, period_unit="h"), "en") == "every 6 hours"
    assert format_frequency(Frequency(count=2, period=1, period_unit="d"), "en") == "twice a day"
    assert format_frequency(Frequency(count=1, period=1, period_unit="wk")) == "1 fois par semaine"
    assert format_frequency(Frequency(count=2, count_max=3, period=1, period_unit="d")) == "2 à 3 fois par jour"
    assert format_date(datetime(2024, 8, 15)) == "15 août 2024"
    assert format_date(datetime(2024, 8, 15), "en") == "15 August 2024"


def test_as_needed_inhaler_with_interval_and_bedtime_line():
    ventoline = _line(id="m1", dose=Quantity(value=2, unit="bouffée"), as_needed=True,
                      as_needed_condition="gêne respiratoire", min_interval=Duration(value=4, unit="h"),
                      max_per_day=Quantity(value=8, unit="bouffée"))
    zolpidem = _line(id="m2", drug_text="Stilnox", name="zolpidem", strength=Quantity(value=10, unit="mg", ucum=True),
                     dose=Quantity(value=0.5, unit="comprimé"), when=["HS"],
                     frequency=Frequency(count=1, period=1, period_unit="d"), duration=Duration(value=2, unit="wk"))
    rep = ConsultationReport(id="c2", created_at=datetime(2024, 1, 9, tzinfo=timezone.utc), language="fr",
                             medications=[ventoline, zolpidem])
    md = plan_markdown(patient_plan(rep, approve_all(rep)))
    assert ("- **Ventoline** : 2 bouffées, si besoin (gêne respiratoire), au moins 4 heures entre deux prises, "
            "au maximum 8 bouffées par jour") in md
    assert "| Stilnox 10 mg |  |  |  | ½ comprimé | 2 semaines |" in md
    assert "*Consultation du 9 janvier 2024*" in md
