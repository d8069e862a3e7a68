"""Pseudonymisation: names, dates, phones, e-mails, NIR/NHS numbers and addresses out; drugs and doses kept."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from consult.extract import extract_from_text
from consult.pseudonymise import pseudonymise_report, pseudonymise_text
from schemas.report import ConsultationReport
from schemas.transcript import Word


def test_title_name_goes_drug_and_dose_stay():
    text = "Bonjour Madame Martin, je vous prescris du Doliprane 1000 mg, un comprimé trois fois par jour."
    new, mapping = pseudonymise_text(text, "fr")
    assert new == "Bonjour Madame [NOM_1], je vous prescris du Doliprane 1000 mg, un comprimé trois fois par jour."
    assert mapping == {"[NOM_1]": "Martin"}


def test_same_value_same_placeholder():
    new, mapping = pseudonymise_text("Monsieur Martin et Madame Martin. Martin va mieux, Monsieur Durand aussi.")
    assert new == "Monsieur [NOM_1] et Madame [NOM_1]. [NOM_1] va mieux, Monsieur [NOM_2] aussi."
    assert mapping == {"[NOM_1]": "Martin", "[NOM_2]": "Durand"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Je m'appelle Sophie Lemaire, née le 12 mars 1985.", "Je m'appelle [NOM_1] [NOM_2], née le [DATE_1]."),
        ("Le Dr Jean-Pierre Lefebvre vous a vu le 12/03/2024.", "Le Dr [NOM_1] [NOM_2] vous a vu le [DATE_1]."),
        ("Votre fille Claire Dubois a appelé.", "Votre fille [NOM_1] [NOM_2] a appelé."),
        ("Pierre Dupont viendra avec Marie.", "[NOM_1] [NOM_2] viendra avec [NOM_3]."),
        ("Rappelez-moi au 06 12 34 56 78 ou au +33 6 98 76 54 32.", "Rappelez-moi au [TEL_1] ou au [TEL_2]."),
        ("Mon mail : sophie.lemaire@gmail.com", "Mon mail : [EMAIL_1]"),
        ("C'est jean point dupont arobase orange point fr.", "C'est [EMAIL_1]."),
        ("Numéro de sécu 1 85 05 78 006 084 91, merci.", "Numéro de sécu [NIR_1], merci."),
        ("J'habite au 12 rue Victor Hugo, 75011 Paris.", "J'habite au [ADRESSE_1]."),
        ("On se revoit le lundi 3 juin, ou en mars 2025.", "On se revoit le [DATE_1], ou en [DATE_2]."),
        ("Contrôle de l'INR le 15/06.", "Contrôle de l'INR le [DATE_1]."),
    ],
)
def test_french_identifiers(text, expected):
    assert pseudonymise_text(text, "fr")[0] == expected


@pytest.mark.parametrize(
    "text",
    [
        "Votre tension est à 13/8, on continue le Kardégic 75 le matin.",
        "Prenez du Previscan 20 mg, trois quarts de comprimé le soir, et de la Ventoline 2 bouffées si besoin.",
        "Rose est une couleur, la rose fleurit en mai.",
        "Prenez du Rennie après les repas, et on arrête la Diane 35.",  # drugs that are also first names
        "Augmentin 1 g matin et soir pendant 7 jours, 14 comprimés au total, puis 1000 mg de Doliprane.",
        "Le matin, prenez 2 comprimés de Metformine 850 et 40 gouttes de Tramadol.",
        "Il faudra faire une X Ray du genou, et si à un moment on voit un point at the top, on en reparle.",
    ],
)
def test_clinical_text_is_left_alone(text):
    assert pseudonymise_text(text, "fr") == (text, {})


@pytest.mark.parametrize(
    "text",
    [
        "We'll get an X Ray of the right knee, and if at any point this gets worse, come back.",
        "I Haven't taken the ACE inhibitor, just Ventolin 2 puffs and paracetamol 1 g four times a day.",
        "Blood pressure 140/90, take ramipril 5 mg once a day and see the nurse in May.",
    ],
)
def test_english_clinical_text_is_left_alone(text):
    assert pseudonymise_text(text, "en") == (text, {})


def test_english_identifiers():
    text = ("Good morning Mrs Jones, I'm Dr. Patel. My name is John Smith, born on March 12, 1960. "
            "Call me on 07700 900123. I live at 221 Baker Street, NW1 6XE. NHS number 943 476 5919. "
            "Take paracetamol 500 mg, two tablets four times a day.")
    new, mapping = pseudonymise_text(text, "en")
    assert new == ("Good morning Mrs [NAME_1], I'm Dr. [NAME_2]. My name is [NAME_3] [NAME_4], born on [DATE_1]. "
                   "Call me on [PHONE_1]. I live at [ADDRESS_1], [ADDRESS_2]. NHS number [NHS_1]. "
                   "Take paracetamol 500 mg, two tablets four times a day.")
    assert mapping["[NAME_4]"] == "Smith" and mapping["[DATE_1]"] == "March 12, 1960"


def test_english_dates_and_ambiguous_names():
    new, _ = pseudonymise_text("Will you see Grace on the 12th of May? Mark it down; take Ventolin as needed.", "en")
    assert new == "Will you see [NAME_1] on [DATE_1]? Mark it down; take Ventolin as needed."


def test_report_segments_words_and_evidence():
    text = (
        "DOC: Bonjour Madame Martin, vous êtes née le 12 mars 1956 ?\n"
        "PAT: Oui. Mon numéro c'est le 06 12 34 56 78.\n"
        "DOC: Madame Martin, je vous prescris du Doliprane 1000 mg, un comprimé trois fois par jour pendant 5 jours.\n"
    )
    segments, lines = extract_from_text(text, "fr")
    timed = []
    for seg in segments:
        words = [Word(text=w, start=seg.id * 10 + i * 0.3, end=seg.id * 10 + i * 0.3 + 0.25, probability=0.9)
                 for i, w in enumerate(seg.text.split(" "))]
        timed.append(seg.model_copy(update={"words": words}))
    rep = ConsultationReport(id="c", created_at=datetime(2024, 3, 12, tzinfo=timezone.utc), language="fr",
                             segments=timed, medications=lines)
    out = pseudonymise_report(rep)
    assert out.segments[0].text == "Bonjour Madame [NOM_1], vous êtes née le [DATE_1] ?"
    assert out.segments[1].text == "Oui. Mon numéro c'est le [TEL_1]."
    assert [w.text for w in out.segments[0].words] == ["Bonjour", "Madame", "[NOM_1],", "vous", "êtes", "née", "le",
                                                       "[DATE_1]", "?"]
    date_word = out.segments[0].words[7]
    assert date_word.start == pytest.approx(7 * 0.3) and date_word.end == pytest.approx(9 * 0.3 + 0.25)
    for seg in out.segments:
        assert seg.text == " ".join(w.text for w in seg.words)
        assert "Martin" not in seg.text
    (doli,) = out.medications
    assert doli.drug_text == "Doliprane" and doli.strength is not None and doli.strength.value == 1000
    assert doli.sig.startswith("Madame [NOM_1], je vous prescris du Doliprane 1000 mg")
    for ev in [doli.evidence, *doli.field_evidence.values()]:
        seg = out.segments[ev.segment_id]
        assert seg.text[ev.char_start : ev.char_end] == ev.text
    assert doli.evidence.text == "Doliprane"
    assert rep.segments[0].text.startswith("Bonjour Madame Martin")  # the input report is unchanged


@pytest.mark.parametrize(
    ("text", "lang", "gone"),
    [
        ("Bonjour docteur, je suis jean-marc lefebvre, j'ai rendez-vous.", "fr", ["jean-marc", "lefebvre"]),
        ("Hi, I'm sarah thompson, I have an appointment.", "en", ["sarah", "thompson"]),
        ("Mon numéro c'est le zéro six douze trente-quatre cinquante-six soixante-dix-huit.", "fr",
         ["douze trente-quatre"]),
        ("Mon numéro de sécu, un quatre-vingt-cinq zéro cinq soixante-quinze cent douze trois cent quarante.", "fr",
         ["quatre-vingt-cinq zéro cinq"]),
        ("It's oh seven seven double oh nine hundred one two three.", "en", ["seven seven double"]),
        ("J'ai été hospitalisée à l'hôpital Saint-Louis l'an dernier.", "fr", ["Saint-Louis"]),
        ("Je suis suivie au CHU de Bordeaux et j'habite à Pessac.", "fr", ["Bordeaux", "Pessac"]),
        ("I was seen at Leeds General Infirmary, I live in Harrogate.", "en", ["Harrogate"]),
        ("J'ai soixante-dix-huit ans et je prends du Kardégic.", "fr", ["soixante-dix-huit ans"]),
        ("She is a 45-year-old teacher.", "en", ["45-year-old"]),
    ],
)
def test_identifiers_the_pseudonymiser_used_to_miss(text, lang, gone):
    out, mapping = pseudonymise_text(text, lang)
    for piece in gone:
        assert piece.lower() not in out.lower(), out
    assert mapping


@pytest.mark.parametrize(
    "text",
    [
        "Je suis fatigué depuis trois jours, je prends deux comprimés trois fois par jour.",
        "Prenez un comprimé le matin pendant dix jours, puis un demi.",
        "I'm fine, I take two tablets twice a day for seven days.",
        "Depuis deux ans j'ai de l'asthme, je prends de la Ventoline.",
    ],
)
def test_doses_and_durations_said_in_words_stay(text):
    lang = "en" if text.startswith("I'm") else "fr"
    assert pseudonymise_text(text, lang) == (text, {})


def test_pseudonymised_report_has_no_file_name_or_linkable_id():
    from schemas.report import AudioInfo

    rep = ConsultationReport(
        id="0123456789abcdef01234567", created_at=datetime(2024, 3, 12, tzinfo=timezone.utc), language="fr",
        audio=AudioInfo(name="Martin_Jeanne_2024-03-12.flac", sha256="ab" * 32, duration=60, sample_rate=16000,
                        channels=1), segments=[], medications=[])
    out = pseudonymise_report(rep)
    dumped = out.model_dump_json()
    assert "Martin" not in dumped and "ab" * 32 not in dumped and rep.id not in dumped
    assert out.audio is not None and out.audio.name == "recording.flac"
