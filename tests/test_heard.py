"""Posology words as the recogniser writes them (consult.extract.heard), read back as said by the posology parser."""

from __future__ import annotations

import json

from consult.extract.heard import RESOURCE, canonical, respell, table, words
from consult.extract.numbers import HOMOPHONE_CERTAINTY
from consult.extract.posology import parse_posology
from consult.extract.text import fold
from consult.resources import read_packaged

PAIRS = {("incomprime",): ("1", "comprime"), ("vendant",): ("pendant",), ("a", "comprimer"): ("1", "comprime"),
         ("2", "comprimer"): ("2", "comprimes")}


def test_respell_maps_every_character_back_to_the_words_heard() -> None:
    heard = "losartan 50mg, incomprimé le matin, vendant 5 jours."
    out = respell(fold(heard), PAIRS)
    assert out.text == "losartan 50mg, 1 comprime le matin, pendant 5 jours."
    a = out.text.index("1 comprime")
    assert heard[out.starts[a]: out.ends[a + len("1 comprime") - 1]] == "incomprimé"
    b = out.text.index("le matin")
    assert heard[out.starts[b]: out.ends[b + len("le matin") - 1]] == "le matin"  # unchanged text keeps its place
    assert out.put_in == [(a, a + 1)]  # the 1 was not heard: it is put in
    # a number that was heard is not put in; a stretch of two words is read as one
    two = respell(fold("deux comprimer le soir"), PAIRS)
    assert two.text == "2 comprimes le soir" and two.put_in == []
    assert respell(fold("à comprimer matin et soir"), PAIRS).text == "1 comprime matin et soir"
    # nothing to respell: the same text, every character in its place
    same = respell("un comprime le soir", PAIRS)
    assert same.text == "un comprime le soir" and same.starts == list(range(19)) and same.put_in == []
    assert words("cinq milligrammes") == ["5", "mg"] and canonical("une") == "1"
    # French says these endings alike: the heard words are matched by one key
    assert {canonical(w) for w in ("comprimer", "comprimez", "comprimes", "comprime")} == {"comprime"}
    assert respell("incomprimez le soir", PAIRS).text == "1 comprime le soir"


def test_the_shipped_table_reads_what_the_bundled_model_heard() -> None:
    data = json.loads(read_packaged(RESOURCE))
    assert data["counts"]["fr"]["said"] >= 400 and data["counts"]["en"]["said"] >= 400
    raw = [(h.split(), s.split()) for t in data["tables"].values() for h, s in t.items()]
    assert len(raw) > 50 and len(table()) > 50
    for heard, said in raw:
        assert heard != said
        # numbers and units heard are read as heard; a strength is never respelled
        assert not any(w.isdigit() or w in ("mg", "g", "kg", "ml") for w in heard), heard
        assert not any(w in ("mg", "g") for w in said), said
    # no lone function word is respelled everywhere ("de" for "deux" would break "comprimé de 500"), and a phrase
    # also said as it is ("en comprimé": in tablet form) is not read as a count
    pairs = table()
    assert ("de",) not in pairs and ("a",) not in pairs and ("le",) not in pairs
    assert ("en", "comprime") not in pairs and ("to", "spray") not in pairs and ("de", "foi") not in pairs


def test_posology_from_speech_reads_a_glued_count_flagged_and_keeps_its_evidence() -> None:
    text = "Losartan 50mg, incomprimé le matin, vendant 5 jours."
    heard = respell(fold(text))
    if "1 comprime" not in heard.text:  # the table has no such pair: nothing to check on the parser
        raise AssertionError(f"the shipped table does not read 'incomprimé': {heard.text}")
    pos = parse_posology(text, asr=True)
    assert pos.dose is not None and (pos.dose.value.value, pos.dose.value.unit) == (1, "comprimé")
    assert pos.dose.certainty <= HOMOPHONE_CERTAINTY  # a count put in: flagged for review
    assert text[pos.dose.start: pos.dose.end] == "incomprimé"
    assert pos.duration is not None and (pos.duration.value.value, pos.duration.value.unit) == (5, "d")
    # typed text is read as written
    typed = parse_posology(text)
    assert typed.dose is None


def test_the_build_keeps_only_pairs_safe_on_any_speech() -> None:
    import importlib.util
    import sys
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "scripts" / "build_posology_confusions.py"
    spec = importlib.util.spec_from_file_location("build_posology_confusions", path)
    assert spec is not None and spec.loader is not None
    build = importlib.util.module_from_spec(spec)
    sys.modules["build_posology_confusions"] = build
    spec.loader.exec_module(build)
    # alignment of what was said and heard, numbers and units alike written
    assert build.pairs("Amlodipine cinq milligrammes, un comprimé le matin.", "Amlodipine 5mg, incomprimé le matin.") \
        == [("incomprime", "1 comprime")]
    # "de" for "deux" says nothing safe alone: the number is learnt with the form word heard after it
    assert build.pairs("Prenez deux comprimés le soir.", "Prenez de comprimer le soir.") == [
        ("de comprimer", "2 comprimes")]
    keep = build.keep
    assert keep("incomprimer", "1 comprime", "fr") and keep("a comprimer", "1 comprime", "fr", 6)
    # a preposition that stands before a form or a time word as it is never becomes a number, however often
    assert not keep("de fois", "2 fois", "fr", 12) and not keep("to tablets", "2 tablets", "en", 9)
    assert not keep("velule de", "gelule 2", "fr")  # the "de" of "gélule de 500 mg"
    assert keep("puloverisation", "pulverisation", "fr") and keep("cap seals", "capsules", "en")
    assert not keep("5000 g", "5 mg", "fr")  # a number or a unit heard is read as heard
    assert not keep("cardegique", "kardegic", "fr")  # not a posology word: drug names have their own table
    assert not keep("once per day", "1 spray", "en")  # a posology word heard is never rewritten into another
    assert not keep("supositoires au", "suppositoires", "fr")  # the "au" of "au coucher"
    assert not keep("depuis hierz", "2 cuilleres", "fr")  # does not sound like it
    assert not keep("seconds", "sachets", "en") and not keep("cuff", "puff", "en")  # ordinary words
    assert not keep("en comprimer", "1 comprime", "fr", 2)  # "en comprimé" is also said as it is


def test_thousands_of_grams_from_speech_are_milligrams_flagged() -> None:
    """French "dix milligrammes" is heard "10 000 grammes" or "dix mille grammes" (a voiced dev consultation read
    périndopril 10 000 g): thousands of grams are no dose, the homophone is milligrams, read with a homophone's
    certainty (flagged); typed text and other thousands are read as written."""
    text = "Vous passez à 10 000 gramme, toujours un comprimé le matin."
    pos = parse_posology(text, asr=True)
    assert pos.strength is not None and (pos.strength.value.value, pos.strength.value.unit) == (10, "mg")
    assert pos.strength.certainty <= HOMOPHONE_CERTAINTY
    assert "10 000 gramme" in text[pos.strength.start: pos.strength.end]
    words_said = parse_posology("on passe à dix mille grammes le soir", asr=True)
    assert words_said.strength is not None and (words_said.strength.value.value,
                                                 words_said.strength.value.unit) == (10, "mg")
    assert respell(fold("10 000 personnes, 2 grammes par jour")).text == "10 000 personnes, 2 grammes par jour"
    # with no number before it, the strength is left unread rather than read a thousand times too high
    for unheard in ("Vous passez à des mille grammes, toujours un comprimé.", "Colchicine à 1000 grammes le soir."):
        assert parse_posology(unheard, asr=True).strength is None, unheard
    typed = parse_posology(text)
    assert typed.strength is not None and typed.strength.value.unit == "g"
