"""Drug lexicon: packaged data, ASR-noise matching, no drug invented from ordinary words."""

from __future__ import annotations

from pathlib import Path

import pytest

from consult.extract import extract_from_text
from consult.extract.lexicon import DrugLexicon

DATA = Path(__file__).parent / "data" / "extract"


@pytest.fixture(scope="module")
def lex() -> DrugLexicon:
    return DrugLexicon.load()


def test_load_is_cached_and_complete(lex: DrugLexicon) -> None:
    assert DrugLexicon.load() is lex
    assert len(lex.entries) > 5000
    doli = lex.get("doliprane")
    assert doli is not None and doli.name == "paracétamol" and doli.atc == "N02BE01" and doli.cis
    assert "1000 mg" in doli.strengths
    amox = lex.get("amoxicilline")
    assert amox is not None and amox.atc == "J01CA04"


@pytest.mark.parametrize(
    ("text", "said", "name"),
    [
        ("je vous donne de l'amoxiciline", "amoxiciline", "amoxicilline"),
        ("prenez du par assez tamol", "par assez tamol", "paracétamol"),
        ("un dolly prane le soir", "dolly prane", "paracétamol"),
        ("de l'ibuprofène", "ibuprofène", "ibuprofène"),
        ("some ibuprofen", "ibuprofen", "ibuprofène"),
        ("Doliprane® 1000", "Doliprane", "paracétamol"),
        ("the Ventolin inhaler", "Ventolin", "salbutamol"),
        ("metformin 500", "metformin", "metformine"),
        ("atorvastatin and ramipril", "atorvastatin", "atorvastatine"),
        ("deux dolipranes", "dolipranes", "paracétamol"),
    ],
)
def test_asr_spellings(lex: DrugLexicon, text: str, said: str, name: str) -> None:
    matches = lex.find(text)
    assert matches, text
    m = matches[0]
    assert text[m.start : m.end] == said
    assert m.entry.name == name


@pytest.mark.parametrize(("said", "name"), [
    ("dolirhume", "paracétamol + pseudo-éphédrine"),  # DOLIRHUME PARACETAMOL ET PSEUDOEPHEDRINE
    ("klipal", "codéine + paracétamol"),  # KLIPAL CODEINE
])
def test_a_brand_is_said_without_the_substances_its_name_lists(lex: DrugLexicon, said: str, name: str) -> None:
    entry = lex.get(said)
    assert entry is not None and entry.name == name and entry.cis


def test_a_first_word_of_several_products_names_none_of_them(lex: DrugLexicon) -> None:
    # Strepsils is several products with different substances; Microlax (marketed: sorbitol) is not the old
    # macrogol product of the same first word
    assert lex.get("strepsils") is None
    assert lex.get("microlax") is None


def test_exact_beats_approximate(lex: DrugLexicon) -> None:
    (exact,) = lex.find("paracétamol")
    (noisy,) = lex.find("par assez tamol")
    assert exact.score == 1.0 and noisy.score < exact.score


@pytest.mark.parametrize(
    "text",
    [
        "Bonjour docteur, j'ai mal le matin pendant la nuit, surtout après le pain et la dose de café.",
        "Il faut prendre une vitamine ? Je suis fatiguée, j'ai de la fièvre et je tousse depuis une semaine.",
        "I have been feeling physically tired, with some chest pain and reflux since the pandemic started.",
        "Do you have any allergies or reactions to medications? Any cholesterol problems? Certain foods?",
        "Vous avez combien de frères et soeurs ? Je me suis sentie constipée, ça m'a soulagé.",
    ],
)
def test_no_drug_in_ordinary_sentences(lex: DrugLexicon, text: str) -> None:
    assert lex.find(text) == []


@pytest.mark.parametrize(
    ("fname", "expected"),
    [
        ("labforsims2_interne01.txt", {"paracétamol"}),
        ("labforsims2_interne10.txt", {"paracétamol"}),
        (
            "osce_res0004.txt",
            {"salbutamol", "fluticasone propionate", "cétirizine", "paracétamol", "ibuprofène"},
        ),
    ],
)
def test_real_dialogue_excerpts_exact_drugs(fname: str, expected: set[str]) -> None:
    """Real dialogues (sources named in the files): only the hand-labelled drugs are found."""
    _, lines = extract_from_text((DATA / fname).read_text(encoding="utf-8"))
    assert {line.name for line in lines} == expected
    assert all(line.status == "mentioned" for line in lines)  # patients saying what they take


@pytest.mark.parametrize(
    ("text", "said", "name"),
    [
        ("Oui, la mètre formine mille milligrammes", "mètre formine", "metformine"),
        ("je vous prescris de l'aventoline cent microgrammes", "ventoline", "salbutamol"),
    ],
)
def test_asr_split_and_elision(lex: DrugLexicon, text: str, said: str, name: str) -> None:
    (m,) = lex.find(text)
    assert m.entry.name == name and text[m.start : m.end] == said and m.score < 1.0


@pytest.mark.parametrize(
    "text",
    [
        "l'amidie, l'adresse, l'attente et l'avenir",
        "la même formule que le mètre carré",
        "on se voit la semaine prochaine pour le petit déjeuner",
    ],
)
def test_split_and_elision_do_not_invent_drugs(lex: DrugLexicon, text: str) -> None:
    assert lex.find(text) == []
