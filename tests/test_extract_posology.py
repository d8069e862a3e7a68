"""Posology slots in French and English, with spans."""

from __future__ import annotations

import re

import pytest

from consult.extract import extract_from_text
from consult.extract.posology import Posology, parse_posology


def _span(text: str, pos: Posology, name: str) -> str:
    slot = pos.slots()[name]
    return text[slot.start : slot.end]


def test_full_french_sentence() -> None:
    text = "Vous en prendrez un comprimé matin et soir pendant sept jours."
    pos = parse_posology(text)
    assert pos.dose is not None and pos.dose.value.value == 1 and pos.dose.value.unit == "comprimé"
    assert pos.form is not None and pos.form.value == "comprimé"
    assert pos.frequency is not None
    assert (pos.frequency.value.count, pos.frequency.value.period, pos.frequency.value.period_unit) == (
        2,
        1,
        "d",
    )
    assert pos.when is not None and pos.when.value == ["MORN", "EVE"]
    assert pos.duration is not None and (pos.duration.value.value, pos.duration.value.unit) == (7, "d")
    assert _span(text, pos, "duration") == "pendant sept jours"
    assert _span(text, pos, "dose") == "un comprimé"


def test_strength_in_words_after_drug() -> None:
    text = "Doliprane mille milligrammes, un comprimé"
    pos = parse_posology(text, drug_spans=[(0, 9)])
    assert pos.strength is not None
    assert (pos.strength.value.value, pos.strength.value.unit, pos.strength.value.ucum) == (1000, "mg", True)
    assert _span(text, pos, "strength") == "mille milligrammes"


def test_strength_units_ucum() -> None:
    for text, unit in [
        ("10 µg", "ug"),
        ("100 microgrammes", "ug"),
        ("5 ml", "mL"),
        ("1000 UI", "[iU]"),
        ("2 %", "%"),
        ("1 g", "g"),
    ]:
        pos = parse_posology("produit " + text, drug_spans=[(0, 7)])
        q = pos.strength or pos.dose
        assert q is not None, text
        assert q.value.unit == unit and q.value.ucum, text


def test_every_six_hours_as_needed_and_max() -> None:
    text = "un comprimé toutes les six heures si douleur, sans dépasser six comprimés par jour"
    pos = parse_posology(text)
    assert pos.frequency is not None
    assert (pos.frequency.value.count, pos.frequency.value.period, pos.frequency.value.period_unit) == (
        1,
        6,
        "h",
    )
    assert pos.as_needed is not None and pos.as_needed.value == "douleur"
    assert pos.max_per_day is not None
    assert (pos.max_per_day.value.value, pos.max_per_day.value.unit) == (6, "comprimé")
    assert pos.dose is not None and pos.dose.value.value == 1  # the max is not read as a dose


def test_max_in_grams_and_range_dose() -> None:
    pos = parse_posology("prenez un à deux comprimés trois fois par jour en cas de fièvre, maximum 4 g par jour")
    assert pos.dose is not None and (pos.dose.value.value, pos.dose.value.value_high) == (1, 2)
    assert pos.frequency is not None and pos.frequency.value.count == 3
    assert pos.as_needed is not None and pos.as_needed.value == "fièvre"
    assert pos.max_per_day is not None and (pos.max_per_day.value.value, pos.max_per_day.value.unit) == (
        4,
        "g",
    )


def test_half_tablet_at_bedtime_for_a_month() -> None:
    pos = parse_posology("un demi comprimé au coucher pendant un mois")
    assert pos.dose is not None and pos.dose.value.value == 0.5
    assert pos.when is not None and pos.when.value == ["HS"]
    assert pos.duration is not None and (pos.duration.value.value, pos.duration.value.unit) == (1, "mo")


def test_weekly_and_decimal_words() -> None:
    pos = parse_posology("deux virgule cinq milligrammes une fois par semaine")
    # a mass without an intake verb is the strength; "prenez 2,5 mg" would be the dose
    assert pos.strength is not None and pos.strength.value.value == 2.5 and pos.strength.value.unit == "mg"
    assert pos.dose is None
    assert pos.frequency is not None and pos.frequency.value.period_unit == "wk"


def test_route_and_drops() -> None:
    pos = parse_posology("une goutte dans chaque oeil matin, midi et soir, trois semaines")
    assert pos.route is not None and pos.route.value == "ophthalmic"
    assert pos.dose is not None and pos.dose.value.unit == "[drp]" and pos.dose.value.ucum
    assert pos.when is not None and pos.when.value == ["MORN", "NOON", "EVE"]
    assert pos.frequency is not None and pos.frequency.value.count == 3
    assert pos.duration is not None and (pos.duration.value.value, pos.duration.value.unit) == (3, "wk")
    assert parse_posology("par voie orale").route.value == "oral"  # type: ignore[union-attr]
    assert parse_posology("par la bouche").route.value == "oral"  # type: ignore[union-attr]
    assert parse_posology("deux bouffées en inhalation").route.value == "inhalation"  # type: ignore[union-attr]
    assert parse_posology("apply a thin layer on the skin").route.value == "cutaneous"  # type: ignore[union-attr]


def test_english_puffs() -> None:
    text = "2 puffs twice a day for a week"
    pos = parse_posology(text)
    assert pos.dose is not None and (pos.dose.value.value, pos.dose.value.unit) == (2, "puff")
    assert pos.frequency is not None and (pos.frequency.value.count, pos.frequency.value.period_unit) == (
        2,
        "d",
    )
    assert pos.duration is not None and (pos.duration.value.value, pos.duration.value.unit) == (1, "wk")


def test_english_amoxicillin() -> None:
    text = "amoxicillin 500 mg three times a day for 5 days"
    pos = parse_posology(text, drug_spans=[(0, 11)])
    assert pos.strength is not None and (pos.strength.value.value, pos.strength.value.unit) == (500, "mg")
    assert pos.frequency is not None and pos.frequency.value.count == 3
    assert pos.duration is not None and pos.duration.value.value == 5
    assert pos.dose is None


def test_english_once_daily_as_needed_max() -> None:
    pos = parse_posology("Take one tablet once daily by mouth, no more than 8 a day, as needed")
    assert pos.frequency is not None and pos.frequency.value.count == 1
    assert pos.route is not None and pos.route.value == "oral"
    assert pos.as_needed is not None and pos.as_needed.value is None
    assert pos.max_per_day is not None and pos.max_per_day.value.value == 8
    assert parse_posology("one puff if wheezing").as_needed.value == "wheezing"  # type: ignore[union-attr]


@pytest.mark.parametrize("said", [
    "Sometimes, for cramps, I'll take an ibuprofen",
    "I take a Tums here and there",
    "Salbutamol, just as and when",
    "when I like need it, the Ventolin",
    "Tums or something like that if my reflux is bad",
    "I take Advil when my joint pains are really bad",
    "you can give ibuprofen too if she's still uncomfortable",
    "I'll take ibuprofen if the pain is bad enough",
    "You can take paracetamol if you need to.",
    "two puffs whenever you need to take it",
    "Take it if you need.",
    "Vous pouvez prendre du paracétamol si vous en avez besoin.",
    "Prenez le Spasfon si vous en ressentez le besoin.",
    "je prends du Doliprane quand j'en ai besoin",
    "I take one tablet as soon as the headache starts",
    "one tablet at the first sign of a migraine",
    "take it as soon as the migraine attack comes on",
])
def test_use_when_needed_as_people_say_it(said: str) -> None:
    pos = parse_posology(said)
    assert pos.as_needed is not None
    assert not re.search(r"\b(?:starts|comes)\b", pos.as_needed.value or "")  # the condition, not its verb


@pytest.mark.parametrize("said", [
    "Ibuprofen can sometimes make hives worse.",  # "sometimes" qualifies another verb than taking
    "Loratadine, they can sometimes help with the itchiness",
    "cefuroxime for five days, and if symptoms don't resolve in a week, come back",  # the safety net
    "see if your coughing stops with the amoxicillin",
    "we'll do a chest X-ray and if we need to, we'll give you some Ventolin",
    "the Advil helped when the pain was coming on",  # a past event
    "Take paracetamol. If you need to come back, call us.",  # "need to" another verb than taking
    "Take the first tablet as soon as you get home",  # a start, not a condition
])
def test_contingencies_and_other_verbs_are_not_as_needed(said: str) -> None:
    assert parse_posology(said).as_needed is None


def test_history_is_not_posology() -> None:
    assert parse_posology("ça fait trois semaines que j'ai mal").duration is None
    assert parse_posology("j'ai pris un comprimé hier soir").when is None
    assert parse_posology("bonjour docteur").is_empty()


@pytest.mark.parametrize(
    "text",
    [
        "une gélule le matin à jeun",
        "one capsule each morning before breakfast",
        "un comprimé avant le petit-déjeuner",
    ],
)
def test_before_breakfast_is_acm_once_a_day(text: str) -> None:
    pos = parse_posology(text)
    assert pos.when is not None and pos.when.value == ["ACM"]
    assert pos.frequency is not None and (pos.frequency.value.count, pos.frequency.value.period_unit) == (1, "d")


def test_morning_and_night_is_twice_a_day() -> None:
    pos = parse_posology("two puffs morning and night")
    assert pos.when is not None and pos.when.value == ["MORN", "NIGHT"]
    assert pos.frequency is not None and pos.frequency.value.count == 2
    assert parse_posology("I slept badly last night").when is None


def test_every_morning_is_morn_once_a_day() -> None:
    pos = parse_posology("one tablet every morning")
    assert pos.when is not None and pos.when.value == ["MORN"]
    assert pos.frequency is not None and pos.frequency.value.count == 1


@pytest.mark.parametrize(
    "text",
    [
        "two puffs when you're short of breath, but no more than eight puffs a day",
        "deux bouffées en cas de gêne respiratoire, sans dépasser huit bouffées par jour",
    ],
)
def test_as_needed_with_daily_ceiling_has_no_frequency(text: str) -> None:
    pos = parse_posology(text)
    assert pos.as_needed is not None
    assert pos.frequency is None
    assert pos.dose is not None and pos.dose.value.value == 2
    assert pos.max_per_day is not None and pos.max_per_day.value.value == 8


def test_patient_when_clause_is_as_needed() -> None:
    assert parse_posology("deux bouffées quand je suis gêné").as_needed is not None


def test_indication_is_not_as_needed() -> None:
    assert parse_posology("I've been taking ibuprofen for the fever").as_needed is None


def test_misspelt_milligrams_and_mass_without_verb() -> None:
    pos = parse_posology("vingt miligrammes, une gélule")
    assert pos.strength is not None and (pos.strength.value.value, pos.strength.value.unit) == (20, "mg")
    pos = parse_posology("pour mon diabète, cinq cents milligrammes le matin")
    assert pos.strength is not None and pos.strength.value.value == 500 and pos.dose is None
    pos = parse_posology("prenez 500 mg le matin")
    assert pos.dose is not None and pos.dose.value.value == 500


# ----------------------------------------------------------------- supply, renewals, per intake, interval
@pytest.mark.parametrize(
    ("text", "value", "unit"),
    [
        ("QSP 3 mois", 3, "mo"),
        ("q.s.p. un mois", 1, "mo"),
        ("quantité suffisante pour quinze jours", 15, "d"),
        ("ordonnance pour 6 mois", 6, "mo"),
        ("I'll give you a three month supply", 3, "mo"),
        ("a 28 day supply", 28, "d"),
    ],
)
def test_quantity_for(text: str, value: float, unit: str) -> None:
    pos = parse_posology(text)
    assert pos.quantity_for is not None and pos.duration is None
    assert (pos.quantity_for.value.value, pos.quantity_for.value.unit) == (value, unit)


@pytest.mark.parametrize(
    ("text", "n"),
    [
        ("à renouveler 2 fois", 2),
        ("renouvelable trois fois", 3),
        ("ordonnance renouvelable une fois", 1),
        ("with two refills", 2),
        ("3 renouvellements", 3),
        ("no refills", 0),
    ],
)
def test_renewals(text: str, n: int) -> None:
    pos = parse_posology(text)
    assert pos.renewals is not None and pos.renewals.value == n
    assert pos.frequency is None  # "2 fois" here is not an intake frequency


def test_max_per_intake_min_interval_and_max_per_day_together() -> None:
    text = ("un à deux comprimés, au maximum 2 comprimés par prise, en respectant au moins 6 heures entre "
            "deux prises, sans dépasser 6 comprimés par jour")
    pos = parse_posology(text)
    assert pos.dose is not None and (pos.dose.value.value, pos.dose.value.value_high) == (1, 2)
    assert pos.max_per_intake is not None and pos.max_per_intake.value.value == 2
    assert pos.max_per_intake.value.unit == "comprimé"
    assert pos.max_per_day is not None and pos.max_per_day.value.value == 6
    assert pos.min_interval is not None and (pos.min_interval.value.value, pos.min_interval.value.unit) == (6, "h")
    assert _span(text, pos, "min_interval") == "au moins 6 heures entre deux prises"


def test_english_per_intake_and_interval_take_the_dose_unit() -> None:
    pos = parse_posology("take one or two tablets, no more than 2 at a time, at least 4 hours between doses, "
                         "up to 8 a day")
    assert pos.max_per_intake is not None and pos.max_per_intake.value.unit == "tablet"
    assert pos.max_per_day is not None and (pos.max_per_day.value.value, pos.max_per_day.value.unit) == (8, "tablet")
    assert pos.min_interval is not None and pos.min_interval.value.value == 4


def test_at_least_without_between_is_not_an_interval() -> None:
    assert parse_posology("au moins 6 heures de sommeil").min_interval is None


@pytest.mark.parametrize(
    ("text", "dose", "count"),
    [
        ("prenez deux... non, un comprimé le soir", 1, 1),
        ("deux comprimés, pardon, un comprimé matin et soir", 1, 2),
        ("take two, sorry, one tablet in the morning", 1, 1),
        ("un comprimé matin... non, pardon, deux comprimés matin et soir", 2, 2),
        ("two tablets, no, sorry, one tablet at night", 1, 1),
    ],
)
def test_spoken_corrections_keep_the_corrected_number(text: str, dose: float, count: int) -> None:
    pos = parse_posology(text)
    assert pos.dose is not None and pos.dose.value.value == dose
    assert pos.frequency is not None and pos.frequency.value.count == count


def test_a_hesitation_is_no_sentence_end_and_the_correction_holds() -> None:
    from consult.extract.text import split_sentences

    said = "Cefpodoxime, cent milligrammes : un comprimé matin... non, pardon, deux comprimés matin et soir."
    assert len(split_sentences(said)) == 1
    assert [s.text for s in split_sentences("Euh... Je ne sais pas. Bon… Alors! 1.5 mg.")] == [
        "Euh...", "Je ne sais pas.", "Bon…", "Alors!", "1.5 mg."]
    (line,) = extract_from_text("DOC: " + said, "fr")[1]
    assert line.dose is not None and line.dose.value == 2
    assert line.frequency is not None and line.frequency.count == 2 and line.when == ["MORN", "EVE"]


@pytest.mark.parametrize(
    ("text", "value", "unit"),
    [("it's normally a three day course", 3, "d"), ("une cure de 10 jours", 10, "d"), ("a 2-week course", 2, "wk")],
)
def test_course_is_a_duration(text: str, value: float, unit: str) -> None:
    pos = parse_posology(text)
    assert pos.duration is not None and (pos.duration.value.value, pos.duration.value.unit) == (value, unit)


@pytest.mark.parametrize(
    ("text", "slot", "expected"),
    [
        ("un comprimé un jour sur deux", "frequency", (1, 2.0, "d")),
        ("tous les deux jours", "frequency", (1, 2.0, "d")),
        ("respectez un intervalle de 4 heures entre deux prises", "min_interval", (4.0, "h")),
        ("pommade à 5 pour cent", "dose", (5.0, "%")),
        ("deux gouttes dans l'œil", "route", "ophthalmic"),
        ("si j'ai mal", "as_needed", "mal"),
        ("quand j'ai de la fièvre", "as_needed", "fièvre"),
        ("if you have a fever", "as_needed", "fever"),
        ("never more than 8 a day", "max_per_day", (8.0, "dose")),
        ("half a tablet at night", "dose", (0.5, "tablet")),
        ("pendant une durée de 10 jours", "duration", (10.0, "d")),
    ],
)
def test_phrasings_found_while_generating_tagger_data(text: str, slot: str, expected: object) -> None:
    value = getattr(parse_posology(text), slot)
    assert value is not None, slot
    v = value.value
    if slot == "frequency":
        got: object = (v.count, v.period, v.period_unit)
    elif slot in ("dose", "max_per_day"):
        got = (v.value, v.unit)
    elif slot in ("min_interval", "duration"):
        got = (v.value, v.unit)
    else:
        got = v
    assert got == expected


def test_renewal_count_does_not_make_a_new_prescription_renewed() -> None:
    from consult.extract import extract_from_text

    (line,) = extract_from_text("DOC: Ramipril 5 mg, un comprimé le matin, à renouveler deux fois.", "fr")[1]
    assert line.status == "new" and line.renewals == 2


@pytest.mark.parametrize(
    ("text", "count", "period_unit", "when"),
    [
        ("un comprimé tous les soirs au coucher", 1, "d", ["HS"]),
        ("one capsule in the evening, at bedtime", 1, "d", ["HS"]),
        ("un comprimé le matin et le soir, tous les jours", 2, "d", ["MORN", "EVE"]),
        ("une injection sous-cutanée par semaine", 1, "wk", []),
        ("one patch a week, on the same day", 1, "wk", []),
    ],
)
def test_times_of_day_and_weekly_intakes(text: str, count: int, period_unit: str, when: list[str]) -> None:
    pos = parse_posology(text)
    assert pos.frequency is not None
    assert (pos.frequency.value.count, pos.frequency.value.period_unit) == (count, period_unit)
    assert (pos.when.value if pos.when else []) == when


@pytest.mark.parametrize("text", ["the cough started a week ago", "come back in a week", "for a month or so"])
def test_a_week_that_is_not_a_schedule(text: str) -> None:
    assert parse_posology(text).frequency is None


@pytest.mark.parametrize(
    ("text", "when"),
    [
        ("one tablet with breakfast", ["MORN", "C"]),
        ("one tablet twice a day, with breakfast and with your evening meal", ["MORN", "EVE", "C"]),
        ("one tablet morning and evening", ["MORN", "EVE"]),
        ("take it after food, not on an empty stomach", ["PC"]),
        ("ne le prenez pas le soir, prenez-le le matin", ["MORN"]),
    ],
)
def test_meals_and_times_of_day_as_said(text: str, when: list[str]) -> None:
    pos = parse_posology(text)
    assert pos.when is not None and sorted(pos.when.value) == sorted(when)


@pytest.mark.parametrize(
    "text",
    [
        "if his symptoms persist for three to five days, come back",
        "it should resolve in about six months",
        "si les symptômes persistent pendant plus de trois jours, reconsultez",
        "take some time off and rest for two days",
    ],
)
def test_a_duration_of_the_illness_or_rest_is_not_the_treatments(text: str) -> None:
    assert parse_posology(text).duration is None


def test_the_rest_of_the_course_keeps_its_duration() -> None:
    pos = parse_posology("take the rest of the tablets for five days")
    assert pos.duration is not None and pos.duration.value.value == 5


@pytest.mark.parametrize(
    ("text", "value"),
    [("un comprimé si besoin, trois comprimés maximum dans la journée", 3), ("one tablet, eight tablets max a day", 8)],
)
def test_a_daily_ceiling_said_after_the_count(text: str, value: float) -> None:
    pos = parse_posology(text)
    assert pos.max_per_day is not None and pos.max_per_day.value.value == value


def test_after_breakfast_is_after_meals() -> None:
    pos = parse_posology("une gélule par jour, après le petit déjeuner")
    assert pos.when is not None and pos.when.value == ["PC"]


def test_a_preference_before_meals_is_a_time_of_day_and_a_trailing_maximum_is_one() -> None:
    from consult.extract.posology import parse_posology

    # "de préférence" ends in "ce": it no longer reads as "ce" (this) negating the time said after it
    p = parse_posology("une gélule trois fois par jour, de préférence avant les repas, pendant trois jours.")
    assert p.when is not None and p.when.value == ["AC"]
    assert parse_posology("pas ce soir").when is None
    p = parse_posology("un comprimé si besoin, et trois comprimés par jour au maximum.")
    assert p.max_per_day is not None and p.max_per_day.value.value == 3 and p.frequency is None
    p = parse_posology("two tablets a day at most")
    assert p.max_per_day is not None and p.max_per_day.value.value == 2


def test_an_oral_lyophilisate_is_a_countable_form() -> None:
    from consult.extract.posology import parse_posology

    p = parse_posology("Un lyophilisat si vous avez des nausées, et pas plus de quatre par jour.")
    assert p.dose is not None and p.dose.value.unit == "lyophilisat" and p.dose.value.value == 1
    assert p.max_per_day is not None and p.max_per_day.value.unit == "lyophilisat"


def test_breakfast_is_morning_and_jusqua_a_maximum_only_with_a_unit() -> None:
    from consult.extract.posology import parse_posology

    p = parse_posology("un comprimé au petit déjeuner et un au dîner.")
    assert p.when is not None and p.when.value == ["MORN", "EVE"]
    assert p.frequency is not None and p.frequency.value.count == 2
    assert parse_posology("un sachet au déjeuner").when.value == ["NOON"]  # type: ignore[union-attr]
    p = parse_posology("deux bouffées à la demande, jusqu'à huit bouffées par jour.")
    assert p.max_per_day is not None and p.max_per_day.value.value == 8
    assert parse_posology("des préservatifs jusqu'à sept jours après la fin de la gastro").max_per_day is None


@pytest.mark.parametrize("text", [
    "un comprimé trois fois par jour aux repas",
    "un comprimé à chaque repas",
    "one tablet with each meal",
    "take it at mealtimes",
])
def test_with_meals_as_people_say_it(text: str) -> None:
    pos = parse_posology(text)
    assert pos.when is not None and pos.when.value == ["C"]


def test_before_the_meal_is_not_with_it() -> None:
    assert parse_posology("un comprimé avant le repas").when.value == ["AC"]  # type: ignore[union-attr]


@pytest.mark.parametrize(("text", "count"), [("20 mg BD", 2), ("500 mg TDS for five days", 3), ("1 g QDS", 4)])
def test_latin_abbreviations_of_a_daily_count(text: str, count: int) -> None:
    pos = parse_posology(text)
    assert pos.frequency is not None and (pos.frequency.value.count, pos.frequency.value.period_unit) == (count, "d")


def test_od_is_the_right_eye_not_once_daily() -> None:
    assert parse_posology("une goutte dans l'OD").frequency is None
