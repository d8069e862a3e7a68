"""Posology words as speech recognition writes them, read back as they were said.

The bundled Whisper writes "un comprimé" as "incomprimé" or "à comprimer", "deux comprimés" as "décomprimés",
"comprimé" as "comprimez", "pendant" as "vendant". The pairs (heard words -> said words) are learnt from data:
``scripts/build_posology_confusions.py`` has prescribing sentences said by development TTS voices, transcribed
by the bundled model, and keeps what was heard in place of a posology word; the table ships as
``consult/data/asr_posology.json``.

:func:`respell` applies the table to folded text from speech (the posology parser, :mod:`consult.extract.posology`,
does so with ``asr=True``), with a map from each character of the result back to the heard text, so that evidence
stays on the words as heard. A number the table puts in (the "in" of "incomprimé" read as 1) is marked: the
parser reads it with the certainty of a homophone, and the line is flagged for review.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from functools import lru_cache

from consult.extract.numbers import number_word_value
from consult.resources import read_packaged

log = logging.getLogger(__name__)

RESOURCE = "data/asr_posology.json"

UNIT_WORDS = {"milligrammes": "mg", "milligramme": "mg", "milligrams": "mg", "milligram": "mg", "grammes": "g",
              "gramme": "g", "grams": "g", "gram": "g"}
"""Mass units as the table writes them, for matching only."""
MAX_WORDS = 3
"""Longest heard stretch of the table, in words."""

_WORD = re.compile(r"\d+|[a-z]+")


def said_word(word: str) -> str:
    """A folded word as the table writes what was said: number words as digits
    (:func:`consult.extract.numbers.number_word_value`), mass units as mg / g."""
    value = number_word_value(word)
    return str(value) if value is not None else UNIT_WORDS.get(word, word)


def canonical(word: str) -> str:
    """The key a folded word is matched by (:func:`said_word`, then endings French does not say): a final s,
    then a final -ez, -er or -ee read as -e ("comprimer", "comprimez", "comprimés" and "comprimé" sound the
    same, and so do "incomprimer" and "incomprimé")."""
    word = said_word(word)
    if len(word) > 4 and word.endswith("s") and not word.isdigit():
        word = word[:-1]
    if len(word) >= 5 and word[-2:] in ("ez", "er", "ee"):
        word = word[:-2] + "e"
    return word


def words(folded: str) -> list[str]:
    """The keys of the words of folded text (:func:`canonical`)."""
    return [canonical(m.group(0)) for m in _WORD.finditer(folded)]


def said_words(folded: str) -> list[str]:
    """The words of folded text as the table writes what was said (:func:`said_word`)."""
    return [said_word(m.group(0)) for m in _WORD.finditer(folded)]


@lru_cache(maxsize=1)
def table() -> dict[tuple[str, ...], tuple[str, ...]]:
    """Heard words (by their :func:`canonical` keys) -> said words, French and English together (a heard
    stretch is in one language's table only or means the same in both); empty when the file is not shipped."""
    try:
        data = json.loads(read_packaged(RESOURCE).decode("utf-8"))
    except FileNotFoundError:
        log.warning("%s is not shipped: posology words are read as heard (scripts/build_posology_confusions.py)",
                    RESOURCE)
        return {}
    out: dict[tuple[str, ...], tuple[str, ...]] = {}
    for language in sorted(data["tables"]):
        for heard, said in data["tables"][language].items():
            out.setdefault(tuple(canonical(w) for w in heard.split()), tuple(said.split()))
    return out


@dataclass(frozen=True)
class Respelled:
    """Folded text with the table applied: ``text``; for each of its characters, the start and the (exclusive)
    end of what it stands for in the heard text (``starts``, ``ends``); ``put_in``: the spans of ``text`` holding
    a number that the heard words did not have."""

    text: str
    starts: list[int]
    ends: list[int]
    put_in: list[tuple[int, int]]


def mille_grammes(canon: list[str], tokens: list[re.Match[str]], i: int) -> tuple[int, tuple[str, ...]] | None:
    """(words read, words said) when the words from ``i`` on are a number, then "000" or "mille", then grams
    ("10 000 grammes", "dix mille grammes"): the French homophone of that number of milligrams ("dix
    milligrammes"; a voiced dev consultation's "Vous passez à 10 000 gramme" for périndopril 10 mg). Thousands of
    grams are no dose of any medicine: :func:`respell` reads milligrams, the number with a homophone's certainty
    (the line is flagged for review). "Mille grammes" with no number before it ("vous passez à des mille
    grammes", "colchicine à 1000 grammes") is read as milligrams with no number: the strength is left unread
    rather than a thousand times too high. A rule of the language, not a learnt pair. None otherwise."""
    if (i + 2 < len(tokens) and canon[i].isdigit() and canon[i + 1] in ("000", "1000") and canon[i + 2] == "g"
            and tokens[i + 1].start() - tokens[i].end() <= 1):
        return 3, (canon[i], "mg")
    if canon[i] == "1000" and i + 1 < len(tokens) and canon[i + 1] == "g" and not (i and canon[i - 1].isdigit()):
        return 2, ("mg",)  # "des mille grammes" (dix milligrammes): milligrams, the number not heard
    return None


def respell(folded: str, pairs: dict[tuple[str, ...], tuple[str, ...]] | None = None) -> Respelled:
    """``folded`` (text from speech, :func:`consult.extract.text.fold`) with each heard stretch of the table
    (:func:`table`, or ``pairs``: heard words -> said words) replaced by the words said, matched by their
    :func:`canonical` keys; the longest stretch first, left to right; and :func:`mille_grammes`."""
    pairs = table() if pairs is None else {tuple(canonical(w) for w in h): s for h, s in pairs.items()}
    tokens = list(_WORD.finditer(folded))
    canon = [canonical(m.group(0)) for m in tokens]
    parts: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    put_in: list[tuple[int, int]] = []
    pos = 0
    i = 0
    while i < len(tokens):
        hit = mille_grammes(canon, tokens, i)
        homophone = hit is not None  # its number was heard, but as another word: put in all the same
        if hit is None:
            for n in range(min(MAX_WORDS, len(tokens) - i), 0, -1):
                said = pairs.get(tuple(canon[i : i + n]))
                if said is not None:
                    hit = (n, said)
                    break
        if hit is None:
            i += 1
            continue
        n, said = hit
        a, b = tokens[i].start(), tokens[i + n - 1].end()
        parts.append(folded[pos:a])
        starts.extend(range(pos, a))
        ends.extend(range(pos + 1, a + 1))
        at = len(starts)  # one entry per character of the text built so far
        heard = set(canon[i : i + n])
        for word in said:
            if word.isdigit() and (word not in heard or homophone):
                put_in.append((at, at + len(word)))
            at += len(word) + 1  # the word and the space after it
        replacement = " ".join(said)
        parts.append(replacement)
        starts.extend([a] * len(replacement))
        ends.extend([b] * len(replacement))
        pos = b
        i += n
    parts.append(folded[pos:])
    starts.extend(range(pos, len(folded)))
    ends.extend(range(pos + 1, len(folded) + 1))
    return Respelled("".join(parts), starts, ends, put_in)


__all__ = ["MAX_WORDS", "RESOURCE", "UNIT_WORDS", "Respelled", "canonical", "mille_grammes", "respell", "said_word",
           "said_words", "table", "words"]
