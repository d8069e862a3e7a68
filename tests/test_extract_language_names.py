"""Drug names in the consultation's language: English INNs for English visits, French DCI for French ones,
the same ATC code either way (issue 12 part 4)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from consult.extract import extract_from_text
from consult.extract.lexicon import DrugLexicon
from consult.review import line_substances
from consult.scoring import DrugResolver, LabelledConsultation, score

ROOT = Path(__file__).resolve().parents[1]


def _one(text: str, language: str):
    (line,) = extract_from_text(text, language=language)[1]
    return line


def test_english_visit_gets_the_english_inn_with_the_same_atc():
    en = _one("Doctor: I'll start you on metformin 500 mg twice a day.", "en")
    assert (en.name, en.atc) == ("metformin", "A10BA02")
    assert en.strength is not None and en.strength.value == 500
    fr = _one("Médecin : je vous mets sous metformine 500 mg matin et soir.", "fr")
    assert (fr.name, fr.atc) == ("metformine", "A10BA02")


@pytest.mark.parametrize(
    ("text", "language", "name"),
    [
        ("Doctor: Take Doliprane 1000, one tablet three times a day.", "en", "paracetamol"),
        ("Médecin : Doliprane 1000, un comprimé trois fois par jour.", "fr", "paracétamol"),
        ("Doctor: Take acetaminophen 500 mg when you need it.", "en", "acetaminophen"),  # what was said
        ("Doctor: Some guaifenesin syrup for the cough.", "en", "guaifenesin"),
        ("Doctor: I'll prescribe amoxicillin 500 mg three times a day.", "en", "amoxicillin"),
        ("Médecin : je vous prescris de l'amoxicilline 500 mg.", "fr", "amoxicilline"),
        ("Doctor: Zyrtec, one tablet at night.", "en", "cetirizine"),  # BDPM names its salt in French
        ("Doctor: You can give her Calpol, five mils.", "en", "paracetamol"),  # not "paracetamol for children"
    ],
)
def test_names_follow_the_language(text: str, language: str, name: str):
    line = _one(text, language)
    assert line.name == name
    fr_name = DrugLexicon.load().normalised_name(line.name)
    assert line.atc == DrugLexicon.load().lookup_name(fr_name).atc  # type: ignore[union-attr]


def test_lexicon_names_both_ways():
    lex = DrugLexicon.load()
    assert lex.name_in("metformine", "en") == "metformin"
    assert lex.name_in("metformine", "fr") == "metformine"
    assert lex.name_in("paracétamol", "en", said="Acetaminophen") == "acetaminophen"
    assert lex.name_in("paracétamol", "en", said="Doliprane") == "paracetamol"
    assert lex.name_in("amlodipine", "en") == "amlodipine"  # the same in both
    assert lex.name_in("ibuprofène + paracétamol", "en") == "ibuprofen + paracetamol"
    assert lex.normalised_name("metformin") == "metformine"
    assert lex.normalised_name("acetaminophen") == "paracétamol"
    assert lex.normalised_name("ibuprofen + paracetamol") == "ibuprofène + paracétamol"
    assert lex.normalised_name("metformine") == "metformine"
    # every English name leads back to an entry of its substance (same ATC code)
    for fr, names in lex.english_names.items():
        entry = lex.lookup_name(fr)
        for en in names:
            back = lex.lookup_name(lex.normalised_name(en)) or lex.lookup_name(en)
            assert back is not None, en
            assert None in (entry and entry.atc, back.atc) or back.atc == entry.atc, (fr, en)  # type: ignore[union-attr]


def test_english_names_come_from_the_dictionaries():
    lex = DrugLexicon.load()
    assert len(lex.english_names) >= 400
    assert lex.english_names["paracétamol"][0] == "paracetamol"
    assert "acetaminophen" in lex.english_names["paracétamol"]
    assert lex.english_names["guaïfénésine"] == ("guaifenesin",)


def test_build_rules_transliterate_french_dci():
    spec = importlib.util.spec_from_file_location("build_lexicon", ROOT / "scripts" / "build_lexicon.py")
    assert spec is not None and spec.loader is not None
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    assert "metformin" in build.transliterations("metformine")
    assert "guaifenesin" in build.transliterations("guaifenesine")
    assert "ibuprofen" in build.transliterations("ibuprofene")
    assert "folic acid" in build.transliterations("acide folique")
    assert "potassium chloride" in build.transliterations("chlorure de potassium")
    assert build.transliterations("paracetamol")[0] == "paracetamol"


def test_review_reads_english_names_as_their_substance():
    line = _one("Doctor: I'll start you on metformin 500 mg twice a day.", "en")
    assert line_substances(line) == ("metformine",)


def test_scoring_matches_french_and_english_names_of_one_drug():
    resolver = DrugResolver()
    for a, b in [("metformin", "metformine"), ("paracetamol", "paracétamol"), ("acetaminophen", "paracétamol"),
                 ("guaifenesin", "guaïfénésine"), ("amoxicillin", "amoxicilline")]:
        assert resolver.same(resolver.keys(a), resolver.keys(b), a, b), (a, b)
    line = _one("Doctor: I'll start you on metformin 500 mg twice a day.", "en")
    for label in ("metformine", "metformin"):
        item = LabelledConsultation.model_validate(
            {"id": "x", "language": "en", "transcript": "Doctor: ...", "path": ROOT / "x.json",
             "medications": [{"drug": label, "status": "new"}]}
        )
        s = score([item], {"x": [line]}, resolver=resolver)
        assert (s.drug.tp, s.drug.fp, s.drug.fn) == (1, 0, 0)
