"""RuleBasedExtractor over segments (with word timings) and text transcripts."""

from __future__ import annotations

import pytest

from consult.extract import RuleBasedExtractor, extract_from_text
from consult.extract.calibration import is_hard_reason
from consult.interfaces import MedicationExtractor
from schemas import MedicationLine, Quantity, Segment, Word

ROLES = {"S0": "doctor", "S1": "patient"}


def _segment(seg_id: int, text: str, speaker: str, t0: float, low: dict[str, float] | None = None) -> Segment:
    words = []
    t = t0
    for w in text.split():
        words.append(Word(text=w, start=t, end=t + 0.3, probability=(low or {}).get(w, 0.95), speaker=speaker))
        t += 0.4
    return Segment(id=seg_id, start=t0, end=t, text=" ".join(text.split()), speaker=speaker, words=words)


@pytest.fixture(scope="module")
def extractor() -> RuleBasedExtractor:
    return RuleBasedExtractor()


def _by_name(lines: list[MedicationLine]) -> dict[str, MedicationLine]:
    return {line.name: line for line in lines}


def test_implements_protocol(extractor: RuleBasedExtractor) -> None:
    assert isinstance(extractor, MedicationExtractor)
    (info,) = extractor.model_info()
    assert info.stage == "extraction" and info.name


def test_prescription_over_two_sentences_with_evidence(extractor: RuleBasedExtractor) -> None:
    segs = [
        _segment(0, "Bonjour, j'ai mal à la gorge.", "S1", 0.0),
        _segment(
            1,
            "Je vous prescris de l'amoxicilline 1 g. Vous en prendrez un comprimé matin et soir pendant sept jours.",
            "S0",
            3.0,
        ),
    ]
    (line,) = extractor.extract(segs, roles=ROLES, language="fr")
    assert line.name == "amoxicilline" and line.atc == "J01CA04" and line.status == "new"
    assert line.strength is not None and (line.strength.value, line.strength.unit) == (1, "g")
    assert line.dose is not None and (line.dose.value, line.dose.unit) == (1, "comprimé")
    assert line.frequency is not None and line.frequency.count == 2 and line.frequency.period_unit == "d"
    assert line.when == ["MORN", "EVE"]
    assert line.duration is not None and (line.duration.value, line.duration.unit) == (7, "d")
    # every word heard at 0.95 and read: no specific doubt (whether the line is flagged is its calibrated risk)
    assert not any("uncertain" in r or is_hard_reason(r) for r in line.review_reasons), line.review_reasons
    assert 0 < line.confidence <= 1 and line.needs_review == (line.review_reasons != [])
    ev = line.evidence
    assert (ev.segment_id, ev.text, ev.speaker) == (1, "amoxicilline", "S0")
    assert segs[1].text[ev.char_start : ev.char_end] == "l'amoxicilline"[2:]
    assert ev.start is not None and ev.end is not None and 3.0 < ev.start < ev.end
    assert ev.asr_probability == pytest.approx(0.95)
    dur = line.field_evidence["duration"]
    assert dur.text == "pendant sept jours" and dur.start is not None and dur.start > ev.start
    assert "matin et soir" in line.sig


def test_repeated_mentions_merge_and_later_corrects(extractor: RuleBasedExtractor) -> None:
    text = (
        "DOC: On va mettre du Doliprane 500 mg.\n"
        "PAT: D'accord.\n"
        "DOC: Finalement, prenez le paracétamol 1000 mg, un comprimé trois fois par jour si douleur.\n"
    )
    _, lines = extract_from_text(text)
    (line,) = lines
    assert line.name == "paracétamol" and line.status == "new"
    assert line.strength is not None and line.strength.value == 1000
    assert line.frequency is not None and line.frequency.count == 3
    assert line.as_needed and line.as_needed_condition == "douleur"


def test_several_drugs_and_statuses(extractor: RuleBasedExtractor) -> None:
    text = (
        "Médecin : Qu'est-ce que vous prenez ?\n"
        "Patient : Je prends du Doliprane et du Spasfon quand j'ai mal.\n"
        "Médecin : Arrêtez le Spasfon. On continue le Doliprane, un comprimé si douleur, "
        "sans dépasser quatre comprimés par jour.\n"
        "Médecin : Par contre pas d'ibuprofène.\n"
        "Médecin : Et je vous prescris du ramipril 5 mg, un comprimé le matin.\n"
    )
    _, lines = extract_from_text(text)
    got = _by_name(lines)
    assert got["paracétamol"].status == "renewed"
    assert got["paracétamol"].max_per_day is not None and got["paracétamol"].max_per_day.value == 4
    spasfon = [line for line in lines if line.drug_text == "Spasfon"]
    assert spasfon and spasfon[0].status == "stopped"
    assert got["ibuprofène"].status == "mentioned"
    assert got["ramipril"].status == "new" and got["ramipril"].when == ["MORN"]
    assert [line.id for line in lines] == [f"med-{i}" for i in range(1, len(lines) + 1)]


def test_patient_mention_is_not_prescription() -> None:
    _, lines = extract_from_text("PAT: Hier soir j'ai pris deux comprimés de Doliprane.\nDOC: D'accord, et la fièvre ?")
    (line,) = lines
    assert line.status == "mentioned"
    assert line.dose is not None and line.dose.value == 2  # what the patient took, for the record


def test_asr_noise_drug_in_prescription() -> None:
    _, lines = extract_from_text(
        "DOC: Je vous mets du dolly prane mille milligrammes, un comprimé toutes les six heures."
    )
    (line,) = lines
    assert line.name == "paracétamol" and line.drug_text == "dolly prane"
    assert line.strength is not None and (line.strength.value, line.strength.unit) == (1000, "mg")
    assert line.frequency is not None and (line.frequency.period, line.frequency.period_unit) == (6, "h")
    assert line.confidence < 1.0


def test_english_transcript() -> None:
    text = (
        "Doctor: I'll prescribe amoxicillin 500 mg three times a day for 5 days.\n"
        "Patient: OK.\n"
        "Doctor: And the Ventolin, 2 puffs twice a day for a week.\n"
        "Patient: Fine.\n"
        "Doctor: Stop taking the ibuprofen.\n"
    )
    _, lines = extract_from_text(text, language="en")
    got = _by_name(lines)
    amox = got["amoxicillin"]  # an English consultation gets English INNs
    assert amox.status == "new" and amox.strength is not None and amox.strength.value == 500
    assert amox.frequency is not None and amox.frequency.count == 3
    assert amox.duration is not None and (amox.duration.value, amox.duration.unit) == (5, "d")
    salb = got["salbutamol"]
    assert salb.dose is not None and (salb.dose.value, salb.dose.unit) == (2, "puff")
    assert salb.duration is not None and salb.duration.unit == "wk"
    assert got["ibuprofen"].status == "stopped"


def test_empty_and_no_medication(extractor: RuleBasedExtractor) -> None:
    assert extractor.extract([], roles={}, language="fr") == []
    segs, lines = extract_from_text("")
    assert segs == [] and lines == []
    _, lines = extract_from_text(
        "DOC: Bonjour Madame, qu'est-ce qui vous amène ?\nPAT: J'ai mal au ventre depuis hier soir.\n"
        "DOC: Vous avez de la fièvre ? Vous prenez des médicaments ?\nPAT: Non, pas de médicament.\n"
    )
    assert lines == []


def test_absurd_dose_flagged() -> None:
    _, lines = extract_from_text("DOC: Prenez du paracétamol 10 g trois fois par jour.")
    (line,) = lines
    assert line.needs_review
    assert any("absurd" in r for r in line.review_reasons)
    assert line.confidence <= 0.6
    _, lines = extract_from_text("DOC: Paracétamol 1 g, deux comprimés, maximum 8 g par jour.")
    assert lines[0].needs_review


def test_low_asr_probability_number_flagged(extractor: RuleBasedExtractor) -> None:
    segs = [_segment(0, "Je vous prescris du ramipril cinq milligrammes le matin.", "S0", 0.0, low={"cinq": 0.3})]
    (line,) = extractor.extract(segs, roles=ROLES, language="fr")
    assert line.needs_review and any(r.startswith("strength") for r in line.review_reasons)
    assert line.field_evidence["strength"].asr_probability == pytest.approx(0.3)
    segs = [_segment(0, "Je vous prescris du ramipril cinq milligrammes le matin.", "S0", 0.0, low={"ramipril": 0.4})]
    (line,) = extractor.extract(segs, roles=ROLES, language="fr")
    assert line.needs_review and any(r.startswith("drug") for r in line.review_reasons)


def test_long_transcript_merges_repeated_prescriptions(extractor: RuleBasedExtractor) -> None:
    """180 turns repeating one prescription: one line (speed is measured in benchmarks/extraction_speed.py)."""
    block = [
        _segment(0, "Bonjour docteur, j'ai toujours mal au dos le matin et je dors mal la nuit.", "S1", 0),
        _segment(
            0,
            "Je vous prescris du Doliprane 1000 mg, un comprimé trois fois par jour pendant cinq jours.",
            "S0",
            0,
        ),
        _segment(0, "Est-ce que vous avez des allergies ou d'autres problèmes de santé à signaler ?", "S0", 0),
    ]
    segs = [s.model_copy(update={"id": i}) for i, s in enumerate(block * 60)]  # ~180 turns, ~2600 words
    (line,) = extractor.extract(segs, roles=ROLES, language="fr")
    assert line.name == "paracétamol" and line.status == "new"
    assert line.strength == Quantity(value=1000, unit="mg", ucum=True)
    assert line.frequency is not None and line.frequency.count == 3 and line.duration is not None


def test_sentence_cut_across_segments_keeps_its_status(extractor: RuleBasedExtractor) -> None:
    segs = [
        _segment(0, "And I'm almost out of my blue inhaler.", "S1", 0.0),
        _segment(1, "I'll renew", "S0", 2.0),
        _segment(2, "your salbutamol inhaler, 100 micrograms, two puffs when you're short of breath.", "S0", 3.0),
    ]
    (line,) = extractor.extract(segs, roles=ROLES, language="en")
    assert line.name == "salbutamol" and line.status == "renewed" and line.as_needed
    assert line.frequency is None


def test_carry_on_without_posology_is_renewed(extractor: RuleBasedExtractor) -> None:
    lines = _by_name(
        extract_from_text(
            "Patient: I take sertraline, fifty milligrams every morning.\n"
            "Doctor: Yes, carry on with the sertraline as usual.\n"
            "Doctor: We'll continue the omeprazole, twenty milligrams, one capsule each morning.",
            "en",
        )[1]
    )
    # the doctor decides that the treatment goes on (docs/labels.md): renewed, posology as the patient said
    assert lines["sertraline"].status == "renewed"
    assert lines["sertraline"].strength is not None and lines["sertraline"].strength.value == 50
    (omeprazole,) = [line for name, line in lines.items() if name.endswith("prazole")]
    assert omeprazole.status == "renewed"


def test_second_drug_takes_only_what_follows_it(extractor: RuleBasedExtractor) -> None:
    (_, lines) = extract_from_text(
        "Patient: Oui, la metformine 1000 mg, un comprimé matin et soir pendant les repas, et le Kardégic le midi.\n",
        "fr",
    )
    by = _by_name(lines)
    aspirin = next(line for line in lines if line.name != "metformine")
    assert aspirin.when == ["NOON"] and aspirin.strength is None and aspirin.dose is None
    assert by["metformine"].when == ["MORN", "EVE", "C"]


def test_vous_prenez_with_posology_is_a_prescription(extractor: RuleBasedExtractor) -> None:
    (_, lines) = extract_from_text(
        "Doctor: Vous prenez du Doliprane mille milligrammes, un comprimé toutes les huit heures si fièvre.\n"
        "Doctor: Vous prenez toujours la metformine ?",
        "fr",
    )
    by = {line.name: line for line in lines}
    assert by["paracétamol"].status == "new" and by["paracétamol"].as_needed
    assert by["metformine"].status == "mentioned"


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("PAT: I've been checking my glucose levels.", "en", set()),
        ("DOC: You're not losing sodium or potassium with the diarrhoea?", "en", set()),
        ("DOC: Do you use cocaine or amphetamines?", "en", set()),
        ("PAT: Je fume du cannabis le soir.", "fr", set()),
        ("PAT: I'm taking calcium and vitamin D.", "en", {"calcium", "colecalciferol"}),
        ("DOC: Je vous prescris du potassium, un sachet par jour.", "fr", {"potassium"}),
        ("DOC: A nicotine patch, 21 mg once a day.", "en", {"nicotine"}),
    ],
)
def test_street_drugs_and_lab_values_are_not_medications(text: str, language: str, expected: set[str]) -> None:
    assert {line.name for line in extract_from_text(text, language)[1]} == expected


def test_asr_number_homophones_are_read_and_flagged_only_in_asr_text(extractor: RuleBasedExtractor) -> None:
    said = "Je vous prescris de la Ventoline sans microgrammes, de bouffées si gêne respiratoire."
    (line,) = extractor.extract([_segment(0, said, "S0", 0.0)], roles=ROLES, language="fr")
    assert line.strength == Quantity(value=100, unit="ug", ucum=True)  # "sans" heard for "cent"
    assert line.dose is not None and (line.dose.value, line.dose.unit) == (2, "bouffée")  # "de" for "deux"
    assert line.needs_review
    assert any(r.startswith("strength uncertain") for r in line.review_reasons)
    assert any(r.startswith("dose uncertain") for r in line.review_reasons)
    # the same words typed in a transcript (no ASR words): no number is read from "sans" or "de"
    (typed,) = extract_from_text("DOC: " + said, "fr")[1]
    assert typed.strength is None and typed.dose is None


def test_strength_no_marketed_product_has_is_flagged() -> None:
    (odd,) = extract_from_text("DOC: Omeprazole 2 mg, one capsule every morning.", "en")[1]
    assert odd.needs_review and any("not a marketed strength" in r and "20 mg" in r for r in odd.review_reasons)
    assert odd.strength is not None and odd.strength.value == 2  # kept as heard, for the reviewer to correct
    (usual,) = extract_from_text("DOC: Omeprazole 20 mg, one capsule every morning.", "en")[1]
    assert not any("not a marketed strength" in r for r in usual.review_reasons)
    assert usual.confidence > odd.confidence  # the hard reason is evidence of a wrong line too


def test_person_names_counts_and_doctor_questions() -> None:
    # "monsieur DIANE": a surname, not the Diane contraceptive
    assert extract_from_text("DOC: Bonjour monsieur DIANE, je suis le médecin du SAMU.", "fr")[1] == []
    # a count right before the product name is the dose, in product units
    (doli,) = extract_from_text("PAT: Aspirine non, j'ai pris deux dolipranes hier.", "fr")[1][1:]
    assert doli.dose == Quantity(value=2, unit="dose") and doli.status == "mentioned"
    # the doctor's follow-up question does not give the patient's drug a posology
    (para,) = extract_from_text(
        "PAT: Du paracétamol de temps en temps.\nDOC: Vous en prenez tous les jours ou souvent ?\n"
        "DOC: Et par rapport au repas du soir", "fr")[1]
    assert para.frequency is None and para.when == []


def test_alternatives_share_posology_and_decision() -> None:
    lines = _by_name(extract_from_text(
        "Doctor: I'll prescribe either nitrofurantoin, or trimethoprim. It's normally a three day course. "
        "So, one tablet, twice a day, for three days.", "en")[1])
    for name in ("nitrofurantoin", "trimethoprim"):
        line = lines[name]
        assert line.status == "new" and line.frequency is not None and line.frequency.count == 2
        assert line.duration is not None and line.duration.value == 3 and line.dose is not None


def test_uncertain_decision_is_flagged_but_a_dictated_prescription_is_not() -> None:
    (line,) = extract_from_text("DOC: Vous prenez du tramadol pendant trois jours.", "fr")[1]
    assert line.status == "new" and line.needs_review
    assert any(r.startswith("status uncertain") for r in line.review_reasons)
    (dictated,) = extract_from_text("DOC: Omeprazole 20 mg, one capsule every morning.", "en")[1]
    assert dictated.status == "new" and not any(r.startswith("status uncertain") for r in dictated.review_reasons)


def _line(text: str, language: str) -> MedicationLine:
    _, lines = extract_from_text(text, language=language)
    assert len(lines) == 1, [line.name for line in lines]
    return lines[0]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("DOC: Et le Coversyl cinq, le matin.", 5),
        ("DOC: Le Doliprane mille, un comprimé si douleur.", 1000),
        ("DOC: Vous gardez le Kardégic soixante-quinze.", 75),
        ("DOC: Vous prendrez deux comprimés de cinq cents de Doliprane.", 500),
    ],
)
def test_a_marketed_strength_said_in_words_after_the_name_or_a_form(text: str, value: float) -> None:
    line = _line(text, "fr")
    assert line.strength is not None and line.strength.value == value and line.strength.unit == "mg"


@pytest.mark.parametrize(
    "text",
    [
        "DOC: Doliprane, deux comprimés le soir.",  # a count of forms, not a strength
        "DOC: Le Doliprane trois fois par jour.",  # a frequency
        "DOC: Le Tahor sept, le soir.",  # no Tahor 7 mg is marketed
    ],
)
def test_a_number_in_words_that_is_not_a_marketed_strength_is_not_one(text: str) -> None:
    assert _line(text, "fr").strength is None


@pytest.mark.parametrize(
    ("text", "dose"),
    [
        ("PAT: When my back is bad I take an Advil and it settles.", 1),
        ("PAT: Last night I took a Nurofen before bed.", 1),
        ("PAT: I'm taking a Ramipril for my blood pressure.", None),  # a treatment, not one intake
        ("PAT: I used to take a citalopram years ago.", None),
        ("PAT: I took a Tylenol cold and sinus at night.", None),  # another product of the brand
        ("PAT: Do you use an EpiPen?", None),
    ],
)
def test_an_english_article_after_take_is_one_dose(text: str, dose: float | None) -> None:
    line = _line(text, "en")
    assert (line.dose.value if line.dose else None) == dose
    if dose is not None:
        assert line.dose is not None and line.dose.unit == "dose"


def test_a_liquid_dose_in_mils_and_its_concentration() -> None:
    line = _line(
        "DOC: I'm prescribing amoxicillin liquid, two hundred and fifty milligrams in five mils. "
        "Give her five mils three times a day for a week, and no more than three doses in a day.",
        "en",
    )
    assert line.strength is not None and (line.strength.value, line.strength.unit) == (250, "mg")
    assert line.dose is not None and (line.dose.value, line.dose.unit) == (5, "mL")
    assert line.max_per_day is not None and line.max_per_day.unit == "dose"


def test_a_plural_form_named_with_the_drug_gives_the_route() -> None:
    assert _line("PAT: Beclometasone inhalers?", "en").route == "inhalation"


@pytest.mark.parametrize(
    "text",
    [
        "PAT: I took some ibuprofen and hopefully I'll be better in a day or two.",
        "PAT: I took some ibuprofen, but the next morning the pain was back.",
    ],
)
def test_a_day_or_the_next_morning_is_not_a_frequency(text: str) -> None:
    line = _line(text, "en")
    assert line.frequency is None and not line.when


def test_a_second_drug_of_the_sentence_keeps_the_verb_said_between_the_names() -> None:
    text = "PAT: I'm on amlodipine, and I take some naproxen sometimes for my hip."
    _, lines = extract_from_text(text, language="en")
    by_name = {line.name: line for line in lines}
    assert by_name["naproxen"].as_needed is True
    assert by_name["amlodipine"].as_needed is not True


def test_a_second_drug_does_not_take_the_first_drugs_posology() -> None:
    _, lines = extract_from_text("DOC: Amlodipine five milligrams once a day, and naproxen.", language="en")
    by_name = {line.name: line for line in lines}
    assert by_name["amlodipine"].frequency is not None
    assert by_name["naproxen"].frequency is None and by_name["naproxen"].strength is None


def test_hesitations_do_not_break_a_condition() -> None:
    line = _line("PAT: I take Nurofen um when my uh back pain is really bad.", "en")
    assert line.as_needed is True


def test_alternatives_taken_sometimes_are_both_as_needed() -> None:
    _, lines = extract_from_text("PAT: She takes Zyrtec or Claritin for her hay fever sometimes.", language="en")
    assert {line.name: line.as_needed for line in lines} == {"cetirizine": True, "loratadine": True}


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("DOC: Any allergies to medicines?\nPAT: Just penicillin, I get a rash.", True),
        ("DOC: Do you have any allergies?\nPAT: Penicillin.", True),
        ("DOC: He doesn't have a penicillin allergy, so amoxicillin is fine.", False),
        ("DOC: Penicillin was a great discovery.", False),  # a class-like name with no cue
    ],
)
def test_a_penicillin_allergy_is_a_mention(text: str, found: bool) -> None:
    _, lines = extract_from_text(text, language="en")
    pen = [line for line in lines if line.name == "penicillin"]
    assert bool(pen) == found
    assert all(line.status == "mentioned" for line in pen)


@pytest.mark.parametrize(
    ("text", "language", "name", "atc"),
    [
        ("PAT: Je suis allergique à la pénicilline, j'ai fait de l'urticaire.", "fr", "pénicilline", "J01C"),
        ("PAT: Je fais de l'insuline le soir, dix unités.", "fr", "insuline", "A10A"),
        ("DOC: Je vous prescris de la cortisone pendant cinq jours.", "fr", "cortisone", "H02AB10"),
        ("PAT: I'm allergic to penicillin.", "en", "penicillin", "J01C"),
        # British approved names of combinations
        ("DOC: The co-amoxiclav is one tablet three times a day for seven days.", "en",
         "clavulanic acid + amoxicillin", "J01CR02"),
        ("PAT: I took some co-codamol for the headache.", "en", "codeine + paracetamol", "N02AA59"),
        # British and Canadian brands the English dictionaries lack
        ("PAT: I'm on Microgynon.", "en", "levonorgestrel + ethinylestradiol", "G03AA07"),
        ("DOC: I'll give you some Dermovate for the patches.", "en", "clobetasol", "D07AD01"),
        ("PAT: I took Percocet after the surgery.", "en", "oxycodone + paracetamol", "N02AJ17"),
    ],
)
def test_names_people_say_that_the_drug_database_lacks(text: str, language: str, name: str, atc: str) -> None:
    # a class said as one drug, or a substance no product holds any more: a line, coded, in the visit's language
    (line,) = extract_from_text(text, language=language)[1]
    assert (line.name, line.atc) == (name, atc)


@pytest.mark.parametrize(
    ("text", "language", "name"),
    [
        ("PAT: J'avais de la Clarityne à la maison, j'en ai pris une.", "fr", "loratadine"),
        ("PAT: Je prends du Noctamide le soir.", "fr", "lormétazépam"),
        ("PAT: I took some Clarityne I had at home.", "en", "loratadine"),
    ],
)
def test_a_brand_no_longer_marketed_is_its_substance_flagged(text: str, language: str, name: str) -> None:
    # a patient's old box (BDPM: authorisation archived or product no longer marketed) still names its substance
    (line,) = extract_from_text(text, language=language)[1]
    assert line.name == name and line.atc
    assert line.needs_review and any(r.startswith("not marketed") for r in line.review_reasons)


def test_a_brand_no_longer_marketed_is_never_read_from_a_neighbouring_sound() -> None:
    from consult.extract.lexicon import DrugLexicon
    from consult.extract.names import NameIndex

    lexicon = DrugLexicon.load()
    old = lexicon.lookup_name("clarityne")
    assert old is not None and not old.marketed and old.atc == "R06AX13"
    assert lexicon.lookup_name("doliprane").marketed  # type: ignore[union-attr]
    # approximate matching (the second pass's candidates, a bent name) never proposes it
    assert all(c.entry.marketed for c in NameIndex.load().candidates("clarityne", language="fr"))
    # the strengths of products no longer sold do not widen what counts as a marketed strength
    assert lexicon.marketed_strengths_mg("loratadine") == frozenset({10.0})


def test_a_class_talked_about_is_the_drug_of_that_class_named_with_it() -> None:
    _, lines = extract_from_text("PAT: My wife is diabetic, she's on insulin, Lantus, every night.", language="en")
    assert [line.name for line in lines] == ["insulin glargine"]
    _, lines = extract_from_text("PAT: Je vous appelle pour l'insuline.\nPAT: Le Lantus, je le fais le soir.", "fr")
    assert [line.name for line in lines] == ["insuline glargine"]


@pytest.mark.parametrize(
    "text",
    [
        # an allergy to the class beside a drug of the class: the pharmacist must see both
        "PAT: I'm allergic to penicillin.\nDOC: Then no amoxicillin: I'll give you clarithromycin.\n"
        "PAT: I took amoxicillin once, it was fine.",
        # alternatives prescribed
        "DOC: We will give him a prescription for penicillin or amoxicillin for 10 days.",
    ],
)
def test_a_class_said_as_an_allergy_or_prescribed_stays_its_own_line(text: str) -> None:
    names = {line.name for line in extract_from_text(text, language="en")[1]}
    assert {"penicillin", "amoxicillin"} <= names


@pytest.mark.parametrize(
    ("text", "language", "field", "value"),
    [
        # an English name has its substance's marketed strengths (BDPM): "ibuprofen 400" is 400 mg
        ("DOC: You'll take ibuprofen 400 three times a day, after meals, for five days.", "en", "strength", 400),
        ("DOC: Je vous mets du Spasfon, deux comprimés au moment des douleurs.", "fr", "as_needed", True),
        ("DOC: Ventoline, deux bouffées si vous êtes essoufflé.", "fr", "as_needed", True),
        ("DOC: The amoxicillin is a course, so take it three times a day for a full week.", "en", "duration", 1),
        ("DOC: Un demi-comprimé de zolpidem au coucher.", "fr", "dose", 0.5),
        ("DOC: Le Seresta, un demi-comprimé le soir si vous n'arrivez pas à dormir.", "fr", "as_needed", True),
        # the answer to a question about the dose is the drug's posology, whoever gives it
        ("DOC: What dose of metformin are you on?\nPAT: 500 milligrams twice a day.", "en", "strength", 500),
        ("PAT: Le Kardégic, je le prends à quelle dose ?\nDOC: 75 milligrammes, un sachet par jour.", "fr",
         "strength", 75),
    ],
)
def test_posology_as_people_say_it(text: str, language: str, field: str, value: object) -> None:
    (line,) = extract_from_text(text, language=language)[1]
    got = getattr(line, field)
    assert (got.value if hasattr(got, "value") else got) == value


def test_the_product_said_last_decides_the_route() -> None:
    line = _line(
        "DOC: Je vous fais du Profénid en intraveineuse maintenant. "
        "Ensuite du Profénid en comprimés, un comprimé matin et soir, pendant cinq jours.",
        "fr",
    )
    assert line.route == "oral"


@pytest.mark.parametrize(
    ("text", "language", "route"),
    [
        ("DOC: Vous faites douze unités de Lantus le soir, en sous-cutané.", "fr", "subcutaneous"),
        ("DOC: Amoxicillin, it's a liquid, five mils three times a day.", "en", "oral"),
    ],
)
def test_routes_said_as_people_say_them(text: str, language: str, route: str) -> None:
    assert _line(text, language).route == route


def test_two_spellings_of_one_substance_make_one_line() -> None:
    text = "DOC: Il prend du ZymaD, trois gouttes le matin. Continuez la vitamine D."
    _, lines = extract_from_text(text, language="fr")
    assert len(lines) == 1 and lines[0].atc == "A11CC05"
    assert lines[0].dose is not None and lines[0].dose.value == 3


@pytest.mark.parametrize("said", ["and there was a daily inhaler, Spiriva, I believe.",
                                  "I also have another inhaler called Spiriva that I use."])
def test_a_form_named_just_before_the_drug_gives_its_route(said: str) -> None:
    _, lines = extract_from_text(f"PAT: {said}", "en")
    assert [(line.name, line.route) for line in lines] == [("tiotropium", "inhalation")]
    _, lines = extract_from_text("PAT: The inhaler was fine. I take Spiriva.", "en")
    assert [(line.name, line.route) for line in lines] == [("tiotropium", None)]  # another sentence: not said


def test_the_decision_after_the_patients_answer_is_the_drugs() -> None:
    """The doctor asks about a drug, the patient answers, the doctor decides without naming it: the decision and
    its posology are that drug's, and a later naming with no cue does not undo it."""
    text = ("DOC: L'Aprovel, vous êtes à cent cinquante ?\nPAT: Oui, un comprimé le matin.\n"
            "DOC: On monte à trois cents milligrammes. Un comprimé de trois cents le matin, à la place du cent "
            "cinquante.\nPAT: Mon mari a du Lasilix.\nDOC: Pour vous ce n'est pas adapté. Si un jour l'Aprovel à "
            "trois cents ne suffit pas, on pourra ajouter un diurétique.")
    _, lines = extract_from_text(text, "fr")
    line = _by_name(lines)["irbésartan"]
    assert line.status == "changed"
    assert line.strength is not None and line.strength.value == 300
    text = ("DOC: Rappelez-moi, le Levothyrox, vous êtes à combien en ce moment ?\n"
            "PAT: Soixante-quinze. Un comprimé le matin, une demi-heure avant le petit déjeuner.\n"
            "DOC: D'accord. Vu la TSH, on va monter un peu : vous passez à quatre-vingt-huit microgrammes, toujours "
            "un comprimé le matin à jeun.")
    _, lines = extract_from_text(text, "fr")
    assert _by_name(lines)["lévothyroxine"].status == "changed"
    text = ("PAT: Je prends du Dolirhume, deux comprimés matin et soir.\nDOC: Le Dolirhume, il y a dedans de la "
            "pseudoéphédrine. Ça fait monter la tension. Vous arrêtez dès aujourd'hui.")
    _, lines = extract_from_text(text, "fr")
    assert [line.status for line in lines] == ["stopped"]


def test_the_patients_own_posology_after_the_name_and_the_answer_to_a_question() -> None:
    """What the patient says of the drug in the sentences after naming it, and the answer to the doctor's question
    about it, are that drug's posology; a frequency alone may be another thing's (the blood tests)."""
    _, lines = extract_from_text("PAT: Just my cholesterol one. Simvastatin. Forty milligrams, at night.", "en")
    line = _by_name(lines)["simvastatin"]
    assert line.strength is not None and line.strength.value == 40 and line.when == ["NIGHT"]
    _, lines = extract_from_text("PAT: Il a l'Eliquis, pour le cœur. Cinq milligrammes matin et soir.", "fr")
    line = _by_name(lines)["apixaban"]
    assert line.strength is not None and line.strength.value == 5 and line.frequency is not None
    _, lines = extract_from_text("DOC: Et pour la tension, vous êtes toujours sous Cotareg ?\n"
                                 "PAT: Oui, un comprimé le matin.", "fr")
    line = next(iter(lines))
    assert line.dose is not None and line.dose.value == 1 and line.when == ["MORN"]
    _, lines = extract_from_text("PAT: I've been on warfarin for three years, and the blood tests are driving me "
                                 "mad. Every two weeks, sometimes every week.", "en")
    assert _by_name(lines)["warfarin"].frequency is None


def test_the_answer_to_how_do_i_take_it_is_the_posology() -> None:
    text = ("DOC: I'm going to take you off the Clenil, and let's try you on Seretide instead. It's a combination "
            "inhaler.\nPAT: Okay. How do I take that one?\nDOC: Two puffs in the morning and two puffs in the evening, "
            "every day.")
    _, lines = extract_from_text(text, "en")
    line = _by_name(lines)["fluticasone + salmeterol"]
    assert line.dose is not None and line.dose.value == 2 and line.when == ["MORN", "EVE"]


def test_yes_to_can_i_go_on_the_dose_asked_and_the_pill_named_before() -> None:
    """The doctor's yes to the patient's "Je peux continuer ?" renews the drug; the patient's answer to the
    doctor's "Quel dosage ?" is its posology; "la pilule" is the contraceptive pill named before."""
    _, lines = extract_from_text(
        "PAT: Et pour mon genou, je mets du Voltarène en gel. Je peux continuer ?\nDOC: Le gel, oui, en petite "
        "quantité, deux fois par jour sur le genou, ça ne pose pas de problème.", "fr")
    line = _by_name(lines)["diclofénac"]
    assert line.status == "renewed" and line.route == "cutaneous"
    _, lines = extract_from_text("PAT: Ben, de la tension, oui. Je prends de l'Amlor.\nDOC: Quel dosage ?\n"
                                 "PAT: Cinq milligrammes, un comprimé le matin.\nDOC: D'accord.", "fr")
    line = _by_name(lines)["amlodipine"]
    assert line.strength is not None and line.strength.value == 5 and line.when == ["MORN"]
    assert line.status == "mentioned"
    _, lines = extract_from_text("PAT: Ah, et je prends la pilule, Leeloo. Ça pose un problème ?\n"
                                 "DOC: Vous continuez la pilule normalement, mais avec des préservatifs.", "fr")
    assert [(line.name, line.status) for line in lines] == [("lévonorgestrel + éthinylestradiol", "renewed")]
    # no pill named before: "la pilule" alone is no line
    _, lines = extract_from_text("DOC: Vous continuez la pilule normalement.", "fr")
    assert lines == []


def test_the_answer_to_can_i_go_on_that_names_the_drug_decides_it() -> None:
    """A voiced dev consultation: "J'ai pris du doliprane ce matin, de comprimer de 500. Je peux continuer ?"
    "Oui, aucun problème avec le doliprane. Vous pouvez reprendre..." was read as a mention (the doctor named the
    drug, so the answer was read as a sentence of its own). The doctor's answer decides what the patient asked."""
    _, lines = extract_from_text(
        "PAT: Peu ? – J'ai pris du doliprane ce matin, de comprimer de 500. Je peux continuer ?\n"
        "DOC: Oui, aucun problème avec le doliprane. Vous pouvez reprendre de comprimer toutes les 6 heures si vous "
        "avez mal.", "fr")
    assert _by_name(lines)["paracétamol"].status == "renewed"
    _, lines = extract_from_text("PAT: J'ai pris du doliprane ce matin. Je peux continuer ?\n"
                                 "DOC: Non, pas de doliprane pour l'instant.", "fr")
    assert _by_name(lines)["paracétamol"].status == "stopped"
    # a question about another drug decides nothing of this one
    _, lines = extract_from_text("PAT: J'ai pris du Spasfon ce matin. Je peux continuer ?\n"
                                 "DOC: Oui, et le doliprane aussi si vous voulez.", "fr")
    assert _by_name(lines)["paracétamol"].status != "renewed"


def test_a_no_to_can_i_still_take_it_stops_a_current_drug_and_declines_a_new_one() -> None:
    _, lines = extract_from_text("PAT: Can I still take my Nurofen?\nDOC: I'd rather you didn't, with your kidneys.",
                                 "en")
    assert _by_name(lines)["ibuprofen"].status == "stopped"
    _, lines = extract_from_text("PAT: Do I keep going with the lansoprazole?\nDOC: Yes, carry on.", "en")
    assert _by_name(lines)["lansoprazole"].status == "renewed"
    # a drug the patient does not take yet, asked for and declined, is only talked about
    _, lines = extract_from_text("PAT: J'ai du Voltarène à la maison, en comprimés, je peux en prendre ?\n"
                                 "DOC: Je préfère pas, votre fonction rénale est un peu limite.", "fr")
    assert _by_name(lines)["diclofénac"].status == "mentioned"
    _, lines = extract_from_text("DOC: Le Kardégic, vous le gardez, et on ajoute du Plavix soixante-quinze, un par "
                                 "jour.", "fr")
    assert {line.name: line.status for line in lines} == {"acide acétylsalicylique": "renewed",
                                                          "clopidogrel": "new"}


def test_a_short_decision_after_the_answer_and_a_replacement_said_with_mettre() -> None:
    _, lines = extract_from_text("DOC: Vous prenez toujours le Deroxat ?\nPAT: Oui, un le matin.\n"
                                 "DOC: Bon, on continue comme ça.", "fr")
    assert _by_name(lines)["paroxétine"].status == "renewed"
    _, lines = extract_from_text("DOC: On va arrêter le Mopral et mettre de l'Inexium à la place.", "fr")
    assert {line.name: line.status for line in lines} == {"oméprazole": "stopped", "ésoméprazole": "new"}
    _, lines = extract_from_text("DOC: I'll increase your levothyroxine to a hundred micrograms.", "en")
    line = _by_name(lines)["levothyroxine"]
    assert line.strength is not None and line.strength.value == 100


def test_a_spoken_question_the_recogniser_ended_with_a_full_stop_is_still_asked(extractor) -> None:
    """A voiced dev consultation: "J'ai du Toplexil à la maison, je peux le prendre." (the recogniser wrote a full
    stop) and the doctor's yes, whose name it bent ("Le sérotop laxile, oui, vous pouvez..."), was a mention. From
    speech, a patient's last clause that asks ("je peux le prendre", "can I take it") is a question; leave to take
    a drug, given, is a new prescription; refused, it stays a mention."""
    segs = [_segment(0, "J'ai du Toplexil à la maison, je peux le prendre.", "S1", 0.0),
            _segment(1, "Le sérotop laxile, oui, vous pouvez, mais seulement le soir, parce que ça fait dormir. Une "
                        "cuillère à soupe au coucher, pendant 5 jours maximum.", "S0", 5.0)]
    line = _by_name(extractor.extract(segs, roles=ROLES, language="fr"))["oxomémazine"]
    assert line.status == "new" and line.duration is not None and line.duration.value == 5
    refused = [segs[0], _segment(1, "Je préfère pas, votre fonction rénale est un peu limite.", "S0", 5.0)]
    assert _by_name(extractor.extract(refused, roles=ROLES, language="fr"))["oxomémazine"].status == "mentioned"
    # typed text keeps its punctuation: a statement is no question
    _, lines = extract_from_text("PAT: J'ai du Toplexil à la maison, je peux le prendre.\nDOC: Oui, d'accord.", "fr")
    assert _by_name(lines)["oxomémazine"].status == "mentioned"


def test_a_sentence_the_recogniser_cut_into_two_segments_is_read_whole(extractor) -> None:
    """A voiced dev consultation: "I'd also like you to take some prednisolone, which is a steroid, to stop the
    reaction" | "coming back. Forty milligrams once a day..." (two segments of the doctor): read alone, the first
    piece stopped the drug it prescribes. The words the recogniser put in the next segment complete the sentence;
    their question mark does not make the drug's sentence a question."""
    segs = [_segment(0, "I'd also like you to take some prednisolone, which is a steroid, to stop the reaction",
                     "S0", 0.0),
            _segment(1, "coming back. 40 milligrams, once a day, in the morning, for three days.", "S0", 6.0)]
    line = _by_name(extractor.extract(segs, roles=ROLES, language="en"))["prednisolone"]
    assert line.status == "new" and line.duration is not None and line.duration.value == 3
    segs = [_segment(0, "Uh, so, similar to ibuprofen, but taking, instead of ibuprofen, not at the same time,",
                     "S0", 0.0),
            _segment(1, "and taking that regularly with food?", "S0", 6.0)]
    assert _by_name(extractor.extract(segs, roles=ROLES, language="en"))["ibuprofen"].status == "stopped"
    # a stop said in one piece stays a stop
    segs = [_segment(0, "Please stop the ibuprofen", "S0", 0.0), _segment(1, "for now, okay.", "S0", 3.0)]
    assert _by_name(extractor.extract(segs, roles=ROLES, language="en"))["ibuprofen"].status == "stopped"


def test_micrograms_heard_for_a_drug_dosed_in_milligrams_are_milligrams_flagged(extractor) -> None:
    """The bundled Whisper writes "milligrams" as "micrograms" ("cetirizine 10 micrograms" in a voiced dev
    consultation): a drug whose every marketed product is dosed in milligrams, heard in micrograms with a number
    that is one of its strengths, is read in milligrams and flagged; a drug a microgram fits keeps it; typed text
    is read as written."""
    segs = [_segment(0, "I'm prescribing cetirizine 10 micrograms, one tablet a day for five days.", "S0", 0.0)]
    line = _by_name(extractor.extract(segs, roles=ROLES, language="en"))["cetirizine"]
    assert line.strength is not None and (line.strength.value, line.strength.unit) == (10, "mg")
    assert line.needs_review and any("homophone" in r for r in line.review_reasons)
    segs = [_segment(0, "I'm prescribing levothyroxine 100 micrograms, one tablet a day.", "S0", 0.0)]
    line = _by_name(extractor.extract(segs, roles=ROLES, language="en"))["levothyroxine"]
    assert line.strength is not None and (line.strength.value, line.strength.unit) == (100, "ug")
    _, lines = extract_from_text("DOC: I'm prescribing cetirizine 10 micrograms, one tablet a day.", "en")
    assert _by_name(lines)["cetirizine"].strength.unit == "ug"


@pytest.mark.parametrize(("text", "language", "expected"), [
    ("DOC: Stop the simvastatin and take atorvastatin 20 mg at night instead.", "en",
     {"simvastatin": "stopped", "atorvastatin": "new"}),
    ("DOC: Instead of the ibuprofen, let's try naproxen.", "en", {"ibuprofen": "stopped", "naproxen": "new"}),
    # the cue said after the first drug is the second's ("let's" is no French pronoun object)
    ("DOC: Stop the naproxen, let's try paracetamol.", "en", {"naproxen": "stopped", "paracetamol": "new"}),
    ("DOC: Since the omeprazole isn't working, I'm going to give you lansoprazole.", "en",
     {"omeprazole": "mentioned", "lansoprazole": "new"}),
    ("Médecin : Au lieu du Kardégic, vous prendrez du Plavix, un comprimé par jour.", "fr",
     {"acide acétylsalicylique": "stopped", "clopidogrel": "new"}),
    # "start" begins the second drug's clause, and the frame of a drug is read in its own clause
    ("DOC: So we'd stop the citalopram, and start mirtazapine, fifteen milligrams, one tablet at bedtime.", "en",
     {"citalopram": "stopped", "mirtazapine": "new"}),
    ("DOC: Stop the citalopram and start mirtazapine 15 mg at bedtime.", "en",
     {"citalopram": "stopped", "mirtazapine": "new"}),
    ("Médecin : On arrête le Januvia et on commence l'Ozempic.", "fr",
     {"sitagliptine": "stopped", "sémaglutide": "new"}),
])
def test_a_switch_in_one_sentence_stops_one_drug_and_gives_the_other(text: str, language: str,
                                                                    expected: dict[str, str]) -> None:
    """Each drug's status comes from its own clause: the stop said of the first is not the second's."""
    _, lines = extract_from_text(text, language)
    assert {name: line.status for name, line in _by_name(lines).items()} == expected


@pytest.mark.parametrize(("text", "language", "drug"), [
    ("DOC: Take prednisolone 40 mg every morning for five days and then stop.", "en", "prednisolone"),
    ("Médecin : Vous prendrez la prednisolone 20 mg le matin pendant cinq jours, puis vous arrêtez.", "fr",
     "prednisolone"),
    ("Médecin : Vous prendrez la prednisolone 20 mg le matin pendant cinq jours.\nMédecin : Ensuite, vous arrêtez.",
     "fr", "prednisolone"),
])
def test_the_end_of_a_course_is_no_stop(text: str, language: str, drug: str) -> None:
    """A course prescribed with its end ("then stop") is new with its duration; shown as stopped it would leave
    the patient without it."""
    _, lines = extract_from_text(text, language)
    line = _by_name(lines)[drug]
    assert line.status == "new" and line.duration is not None and line.duration.value == 5
    _, lines = extract_from_text("DOC: Take the naproxen for a week, then stop the ibuprofen.", "en")
    assert _by_name(lines)["ibuprofen"].status == "stopped"


def test_a_stop_of_it_then_a_start_is_the_named_drugs_start() -> None:
    """"you can stop it and start the mirtazapine": "it" is the drug before (here unnamed); the mirtazapine is new,
    never shown as stopped."""
    _, lines = extract_from_text(
        "DOC: At twenty milligrams, after six weeks, you can stop it and start the mirtazapine the same night.", "en")
    assert _by_name(lines)["mirtazapine"].status == "new"


def test_a_class_talked_about_with_a_time_of_day_is_still_the_drug_named() -> None:
    """"De l'insuline aux repas" (a time of day, no amount) is talk about the class: it joins the Lantus line."""
    _, lines = extract_from_text(
        "PAT: Je fais mes dix unités de Lantus tous les soirs au coucher.\nDOC: On augmente de deux unités, "
        "vous faites douze unités de Lantus le soir au coucher.\nPAT: Et s'il fallait de l'insuline aux repas, "
        "comme ma femme ?\nDOC: C'est le docteur qui verra.", "fr")
    assert [line.name for line in lines] == ["insuline glargine"]


@pytest.mark.parametrize(("text", "language", "expected"), [
    ("Médecin : Vous prenez toujours votre Amlor ?\nPatient : Oui.\nMédecin : Très bien, on continue.", "fr",
     "renewed"),
    ("Doctor: Are you still taking the amlodipine?\nPatient: Yes.\nDoctor: Good, carry on with that.", "en", "renewed"),
    # the doctor moves on with the visit, or the patient does not take it
    ("Médecin : Vous prenez toujours votre Amlor ?\nPatient : Oui.\nMédecin : D'accord, on continue l'examen.", "fr",
     "mentioned"),
    ("Médecin : Vous prenez toujours votre Amlor ?\nPatient : Non.\nMédecin : D'accord, on continue comme ça.", "fr",
     "mentioned"),
])
def test_the_doctors_decision_after_a_yes_is_about_the_drug_asked(text: str, language: str, expected: str) -> None:
    _, lines = extract_from_text(text, language)
    assert [line.status for line in lines] == [expected]
