"""Pharmacist review flags: dose range, duplicates, ANSM interactions, unknown drugs, decisions."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from consult.extract import extract_from_text
from consult.review import Flag, daily_mg, effective_lines, review_flags
from schemas import MedicationLine
from schemas.medication import Duration, Evidence, Frequency, Quantity
from schemas.report import ConsultationReport, ReviewDecision


def med(
    line_id: str,
    drug_text: str,
    name: str,
    *,
    atc: str | None = None,
    status: str = "new",
    strength: tuple[float, str] | None = None,
    dose: tuple[float, str] | None = None,
    per_day: int | None = None,
    route: str | None = None,
    as_needed: bool = False,
    max_per_day: tuple[float, str] | None = None,
    duration_days: float | None = None,
    confidence: float = 0.95,
    needs_review: bool = False,
) -> MedicationLine:
    def q(x: tuple[float, str] | None) -> Quantity | None:
        if x is None:
            return None
        return Quantity(value=x[0], unit=x[1], ucum=x[1] in ("mg", "g", "ug", "mL"))

    return MedicationLine(
        id=line_id,
        drug_text=drug_text,
        name=name,
        atc=atc,
        strength=q(strength),
        dose=q(dose),
        route=route,
        frequency=Frequency(count=per_day, period=1, period_unit="d") if per_day else None,
        duration=Duration(value=duration_days, unit="d") if duration_days else None,
        as_needed=as_needed,
        max_per_day=q(max_per_day),
        status=status,  # type: ignore[arg-type]
        confidence=confidence,
        needs_review=needs_review,
        review_reasons=["absurd dose"] if needs_review else [],
        evidence=Evidence(segment_id=0, char_start=0, char_end=len(drug_text), text=drug_text),
    )


def report(*lines: MedicationLine, language: str = "fr") -> ConsultationReport:
    return ConsultationReport(id="r1", created_at=datetime(2024, 3, 12, 10, 0, tzinfo=timezone.utc),
                              language=language, medications=list(lines))


def kinds(flags: list[Flag], kind: str) -> list[Flag]:
    return [f for f in flags if f.kind == kind]


# --------------------------------------------------------------------------- dose range
def test_paracetamol_overdose_is_critical_and_said_in_both_languages():
    line = med("med-1", "Doliprane", "paracétamol", atc="N02BE01", strength=(1000, "mg"), dose=(2, "comprimé"),
               per_day=4)
    flags = review_flags(report(line))
    dose = kinds(flags, "dose_range")
    assert len(dose) == 1 and dose[0].severity == "critical" and dose[0].line_id == "med-1"
    assert "8 g par jour" in dose[0].message and "4 g" in dose[0].message and "Doliprane" in dose[0].message
    assert dose[0].details["daily_mg"] == 8000 and "4.2" in dose[0].details["ref"]
    en = kinds(review_flags(report(line), lang="en"), "dose_range")[0]
    assert "8 g a day" in en.message and "maximum" in en.message


def test_usual_paracetamol_dose_is_not_flagged():
    line = med("med-1", "Doliprane", "paracétamol", atc="N02BE01", strength=(1000, "mg"), dose=(1, "comprimé"),
               per_day=3, duration_days=5)
    assert review_flags(report(line)) == []


def test_ibuprofen_prescription_and_non_prescription_limits():
    otc = med("med-1", "ibuprofène", "ibuprofène", atc="M01AE01", strength=(400, "mg"), dose=(1, "comprimé"),
              per_day=4)
    flag = kinds(review_flags(report(otc)), "dose_range")[0]
    assert flag.severity == "info" and "sans ordonnance" in flag.message and "1,6 g" in flag.message
    high = otc.model_copy(update={"dose": Quantity(value=2, unit="comprimé")})
    flag = kinds(review_flags(report(high)), "dose_range")[0]
    assert flag.severity == "warning" and "3,2 g" in flag.message


def test_stated_maximum_per_day_of_an_as_needed_line_is_checked():
    line = med("med-1", "Advil", "ibuprofène", atc="M01AE01", strength=(400, "mg"), dose=(1, "comprimé"),
               as_needed=True, max_per_day=(8, "comprimé"))
    daily, info = daily_mg(line)
    assert daily == 3200 and info["max_per_day_mg"] == 3200
    assert kinds(review_flags(report(line)), "dose_range")[0].severity == "warning"


def test_dose_of_another_route_is_not_compared():
    gel = med("med-1", "Voltarène", "diclofénac", atc="M02AA15", strength=(1, "%"), dose=(4, "application"),
              per_day=4, route="cutaneous")
    tablet = med("med-2", "Voltarène", "diclofénac", atc="M01AB05", strength=(50, "mg"), dose=(2, "comprimé"),
                 per_day=3, route="oral")
    assert kinds(review_flags(report(gel)), "dose_range") == []
    assert kinds(review_flags(report(tablet)), "dose_range")[0].details["max_mg"] == 150


def test_daily_methotrexate_is_a_critical_schedule_error():
    daily = med("med-1", "Novatrex", "méthotrexate", atc="L01BA01", strength=(2.5, "mg"), dose=(4, "comprimé"),
                per_day=1)
    flags = review_flags(report(daily))
    assert flags[0].kind == "schedule" and flags[0].severity == "critical"
    assert "une fois par semaine" in flags[0].message
    weekly = daily.model_copy(update={"frequency": Frequency(count=1, period=1, period_unit="wk")})
    assert kinds(review_flags(report(weekly)), "schedule") == []


# --------------------------------------------------------------------------- duplicates
def test_two_paracetamol_products_are_a_duplicate_with_their_total():
    doli = med("med-1", "Doliprane", "paracétamol", atc="N02BE01", strength=(1000, "mg"), dose=(1, "comprimé"),
               per_day=3)
    dafa = med("med-2", "Dafalgan", "paracétamol", atc="N02BE01", strength=(500, "mg"), dose=(2, "gélule"),
               per_day=2)
    dup = kinds(review_flags(report(doli, dafa)), "duplicate")
    assert len(dup) == 1 and dup[0].details["line_ids"] == ["med-1", "med-2"]
    assert dup[0].severity == "critical" and dup[0].details["total_daily_mg"] == 5000
    assert "Doliprane" in dup[0].message and "Dafalgan" in dup[0].message and "du paracétamol" in dup[0].message
    small = dafa.model_copy(update={"dose": Quantity(value=1, unit="gélule")})
    assert kinds(review_flags(report(doli, small)), "duplicate")[0].severity == "warning"


def test_paracetamol_inside_a_combination_is_a_duplicate():
    doli = med("med-1", "Doliprane", "paracétamol", atc="N02BE01", strength=(1000, "mg"), dose=(1, "comprimé"),
               per_day=3)
    ixprim = med("med-2", "Ixprim", "paracétamol + tramadol", atc="N02AJ13", dose=(1, "comprimé"), per_day=3)
    dup = kinds(review_flags(report(doli, ixprim)), "duplicate")
    assert len(dup) == 1 and dup[0].details["substances"] == ["paracétamol"]


def test_two_nsaids_and_same_atc_code_are_duplicates():
    advil = med("med-1", "Advil", "ibuprofène", atc="M01AE01", strength=(200, "mg"), dose=(1, "comprimé"), per_day=3)
    profenid = med("med-2", "Profénid", "kétoprofène", atc="M01AE03", strength=(100, "mg"), dose=(1, "gélule"),
                   per_day=2)
    flags = review_flags(report(advil, profenid))
    assert "AINS" in kinds(flags, "duplicate")[0].message
    # the ANSM thesaurus also says two NSAIDs are a "not recommended" combination
    assert any("association déconseillée" in f.message for f in kinds(flags, "interaction"))
    a = med("med-1", "Truc", "truc", atc="C09AA05")
    b = med("med-2", "Machin", "machin", atc="C09AA05")
    assert kinds(review_flags(report(a, b)), "duplicate")[0].details["atc"] == "C09AA05"


def test_stopped_and_mentioned_lines_are_not_duplicates():
    stopped = med("med-1", "Advil", "ibuprofène", atc="M01AE01", status="stopped")
    mentioned = med("med-2", "Doliprane", "paracétamol", atc="N02BE01", status="mentioned")
    new = med("med-3", "ibuprofène", "ibuprofène", atc="M01AE01", strength=(400, "mg"), dose=(1, "comprimé"),
              per_day=3)
    new_para = med("med-4", "paracétamol", "paracétamol", atc="N02BE01", strength=(500, "mg"), dose=(1, "comprimé"),
                   per_day=3)
    assert kinds(review_flags(report(stopped, mentioned, new, new_para)), "duplicate") == []


# --------------------------------------------------------------------------- interactions
def test_contraindicated_pair_from_the_ansm_thesaurus():
    zeclar = med("med-1", "Zeclar", "clarithromycine", atc="J01FA09", strength=(500, "mg"), dose=(1, "comprimé"),
                 per_day=2, duration_days=7)
    zocor = med("med-2", "Zocor", "simvastatine", atc="C10AA01", strength=(40, "mg"), dose=(1, "comprimé"), per_day=1)
    flags = review_flags(report(zeclar, zocor))
    inter = kinds(flags, "interaction")
    assert len(inter) == 1 and inter[0].severity == "critical"
    assert "contre-indication" in inter[0].message and "Zeclar" in inter[0].message
    assert inter[0].details["level"] == "contre-indication" and inter[0].details["line_ids"] == ["med-1", "med-2"]
    assert flags[0] == inter[0]  # most severe first
    en = kinds(review_flags(report(zeclar, zocor), lang="en"), "interaction")[0]
    assert "contraindicated" in en.message


def test_interaction_with_a_current_treatment_is_a_warning_and_names_it():
    coumadine = med("med-1", "Coumadine", "warfarine", atc="B01AA03", status="mentioned")
    advil = med("med-2", "Advil", "ibuprofène", atc="M01AE01", strength=(200, "mg"), dose=(1, "comprimé"), per_day=3)
    inter = kinds(review_flags(report(coumadine, advil)), "interaction")
    assert len(inter) == 1 and inter[0].severity == "warning" and inter[0].line_id == "med-2"
    assert "association déconseillée" in inter[0].message and "Traitement déjà pris" in inter[0].message
    assert inter[0].details["mentioned_line_ids"] == ["med-1"]
    both_new = coumadine.model_copy(update={"status": "renewed"})
    assert kinds(review_flags(report(both_new, advil)), "interaction")[0].severity == "critical"


@pytest.mark.parametrize("status", ["stopped", "mentioned"])
def test_no_interaction_without_an_active_line(status):
    coumadine = med("med-1", "Coumadine", "warfarine", atc="B01AA03", status=status)
    advil = med("med-2", "Advil", "ibuprofène", atc="M01AE01", status=status)
    assert kinds(review_flags(report(coumadine, advil)), "interaction") == []


def test_stopped_line_does_not_interact():
    coumadine = med("med-1", "Coumadine", "warfarine", atc="B01AA03", status="stopped")
    advil = med("med-2", "Advil", "ibuprofène", atc="M01AE01")
    assert kinds(review_flags(report(coumadine, advil)), "interaction") == []


def test_salt_names_reach_the_thesaurus():
    levo = med("med-1", "Levothyrox", "lévothyroxine sodique", atc="H03AA01", per_day=1)
    calcium = med("med-2", "Cacit", "carbonate de calcium", atc="A12AA04", per_day=2)
    inter = kinds(review_flags(report(levo, calcium)), "interaction")
    assert len(inter) == 1 and inter[0].severity == "warning" and "précaution d'emploi" in inter[0].message


# --------------------------------------------------------------------------- single-line checks
def test_unknown_drug_low_confidence_and_unmarketed_strength():
    unknown = med("med-1", "Xyzzyplex", "xyzzyplex", per_day=2)
    unsure = med("med-2", "Advil", "ibuprofène", atc="M01AE01", confidence=0.4, needs_review=True)
    odd = med("med-3", "Doliprane", "paracétamol", atc="N02BE01", strength=(1200, "mg"))
    fine = med("med-4", "Doliprane", "paracétamol", atc="N02BE01", strength=(1, "g"), status="mentioned")
    flags = review_flags(report(unknown, unsure, odd, fine))
    assert [f.line_id for f in kinds(flags, "unknown_drug")] == ["med-1"]
    assert "non reconnu" in kinds(flags, "unknown_drug")[0].message
    low = kinds(flags, "low_confidence")
    assert [f.line_id for f in low] == ["med-2"] and "40 %" in low[0].message
    assert low[0].details["reasons"] == ["absurd dose"]
    strength = kinds(flags, "unmarketed_strength")
    assert [f.line_id for f in strength] == ["med-3"] and "1000 mg" in strength[0].message
    assert strength[0].severity == "warning"
    british = kinds(review_flags(report(odd, language="en"), lang="en"), "unmarketed_strength")
    assert british[0].severity == "info" and "not marketed in France" in british[0].message


# --------------------------------------------------------------------------- decisions
def test_decisions_reject_and_edit_lines():
    over = med("med-1", "Doliprane", "paracétamol", atc="N02BE01", strength=(1000, "mg"), dose=(2, "comprimé"),
               per_day=4)
    other = med("med-2", "Zocor", "simvastatine", atc="C10AA01", strength=(20, "mg"), per_day=1)
    fixed = over.model_copy(update={"dose": Quantity(value=1, unit="comprimé")})
    decisions = [ReviewDecision(line_id="med-1", decision="approved", line=fixed),
                 ReviewDecision(line_id="med-2", decision="rejected")]
    rep = report(over, other)
    assert [line.id for line in effective_lines(rep, decisions)] == ["med-1"]
    assert effective_lines(rep, decisions)[0].dose.value == 1  # type: ignore[union-attr]
    assert kinds(review_flags(rep), "dose_range") and review_flags(rep, decisions) == []


def test_flags_on_an_extracted_french_consultation():
    text = (
        "DOC: Bonjour. Vous prenez quoi en ce moment ?\n"
        "PAT: Du Zocor 40 le soir, pour le cholestérol.\n"
        "DOC: Pour votre sinusite je vous mets du Zeclar 500, un comprimé matin et soir pendant 7 jours.\n"
        "DOC: Et du Doliprane 1000, deux comprimés quatre fois par jour si douleur.\n"
    )
    segments, lines = extract_from_text(text, "fr")
    rep = ConsultationReport(id="c1", created_at=datetime(2024, 3, 12, tzinfo=timezone.utc), language="fr",
                             segments=segments, medications=lines)
    flags = review_flags(rep)
    by_kind = {f.kind for f in flags}
    assert {"interaction", "dose_range"} <= by_kind
    inter = kinds(flags, "interaction")[0]
    assert {"Zeclar", "Zocor"} <= set(inter.message.replace("(", " ").split())
    assert inter.severity in ("warning", "critical")
