"""Numbers in French and English transcripts: digits ("1,5", "1 000") and words ("mille",
"deux virgule cinq", "un demi", "vingt et un", "twenty-five"), with ranges ("un à deux", "2-3").

Works on folded text (see :func:`consult.extract.text.fold`): offsets are those of the original text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DIGIT_CERTAINTY = 1.0
WORD_CERTAINTY = 0.95

_UNITS: dict[str, int] = {
    # French
    "zero": 0,
    "un": 1,
    "une": 1,
    "deux": 2,
    "trois": 3,
    "quatre": 4,
    "cinq": 5,
    "six": 6,
    "sept": 7,
    "huit": 8,
    "neuf": 9,
    "dix": 10,
    "onze": 11,
    "douze": 12,
    "treize": 13,
    "quatorze": 14,
    "quinze": 15,
    "seize": 16,
    "vingt": 20,
    "vingts": 20,
    "trente": 30,
    "quarante": 40,
    "cinquante": 50,
    "soixante": 60,
    "septante": 70,
    "huitante": 80,
    "nonante": 90,
    # English
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
_HUNDRED = {"cent", "cents", "hundred", "hundreds"}
_THOUSAND = {"mille", "thousand", "mil"}
_HALF = {"demi", "demie", "half"}
_DECIMAL = {"virgule", "point"}
_RANGE = {"a", "ou", "to", "or"}

HOMOPHONE_CERTAINTY = 0.4
"""Certainty of a number read from an ASR homophone: below the review threshold, so always flagged."""
# French number words that speech recognition writes as a homophone ("sans microgrammes" for "cent",
# "de comprimés" for "deux"). Read as numbers only in ASR text and only right before a unit or form word.
_HOMOPHONES: dict[str, int] = {"sans": 100, "sang": 100, "de": 2, "vin": 20, "vins": 20, "cette": 7, "set": 7}
_UNIT_AFTER = re.compile(
    r"(?:mg|milligrammes?|miligrammes?|microgrammes?|grammes?|g|ml|millilitres?|comprim(?:ee?s?|er|ez)|gelules?|"
    r"bouffees?|bouffer|bouffez|sachets?|gouttes?|heures?)$"
)

_TOKEN = re.compile(r"\d+(?:[.,]\d+)?|[a-z]+|-|/")


@dataclass(frozen=True)
class NumberSpan:
    value: float
    start: int
    end: int
    value_high: float | None = None
    certainty: float = DIGIT_CERTAINTY
    in_words: bool = False


@dataclass(frozen=True)
class _Tok:
    text: str
    start: int
    end: int


def _parse_words(toks: list[_Tok], i: int, text: str = "") -> tuple[float, int] | None:
    """Parse a number written in words starting at ``toks[i]``; returns (value, next index).

    Punctuation between two words ends the number ("vingt, un comprimé" is 20 then 1)."""
    total = 0
    current = 0
    j = i
    seen = False
    while j < len(toks):
        w = toks[j].text
        if j > i and text and text[toks[j - 1].end : toks[j].start].strip(" -"):
            break
        if w == "-" and seen and j + 1 < len(toks) and _is_number_word(toks[j + 1].text):
            j += 1
            continue
        if w in ("et", "and") and seen and j + 1 < len(toks):
            nxt = toks[j + 1].text
            if nxt in ("un", "une", "onze") and current % 100 >= 20:
                j += 1
                continue
            if w == "and" and nxt in _UNITS and current % 100 == 0 and current > 0:
                j += 1
                continue
            break
        if w in _UNITS:
            v = _UNITS[w]
            low = current % 100
            if not seen:
                current = v
            elif w in ("vingt", "vingts") and low == 4:
                current += 76  # quatre-vingt
            elif low in (60, 80) and v < 20:
                current += v  # soixante-dix, quatre-vingt-douze
            elif low == 10 and current == 10 and 7 <= v <= 9:
                current += v  # dix-sept
            elif low >= 20 and low % 10 == 0 and v < 10:
                current += v  # vingt-cinq, twenty-five
            elif low == 0 and current > 0 and v < 100:
                current += v  # cent cinq
            else:
                break
            seen = True
            j += 1
            continue
        if w in _HUNDRED and (seen or w in ("cent", "hundred")):  # "a hundred and twenty-five": 125, not 25
            current = (current or 1) * 100
            seen = True
            j += 1
            continue
        if w in _THOUSAND:
            total += (current or 1) * 1000
            current = 0
            seen = True
            j += 1
            continue
        break
    if not seen:
        return None
    return float(total + current), j


def number_word_value(word: str) -> int | None:
    """The value of a folded number word on its own ("deux": 2, "cent": 100, "thousand": 1000), else None (also
    for "demi" and "half", whose value depends on the word they go with)."""
    if word in _UNITS:
        return _UNITS[word]
    if word in _HUNDRED:
        return 100
    if word in _THOUSAND:
        return 1000
    return None


def _is_number_word(w: str) -> bool:
    return w in _UNITS or w in _HUNDRED or w in _THOUSAND or w in _HALF


def _digit_value(text: str) -> float:
    return float(text.replace(",", "."))


def _parse_one(toks: list[_Tok], i: int, text: str) -> tuple[float, int, bool] | None:
    """One number (digits or words, with decimals and halves) at ``toks[i]``."""
    t = toks[i].text
    words = False
    if t[0].isdigit():
        value = _digit_value(t)
        j = i + 1
        # "1 000" written with a thousands space
        while (
            j < len(toks)
            and re.fullmatch(r"\d{3}", toks[j].text)
            and text[toks[j - 1].end : toks[j].start] == " "
            and "," not in toks[j - 1].text
            and "." not in toks[j - 1].text
            and value < 1000
        ):
            value = value * 1000 + float(toks[j].text)
            j += 1
    elif t in _HALF:
        return 0.5, i + 1, True
    else:
        res = _parse_words(toks, i, text)
        if res is None:
            return None
        value, j = res
        words = True
        # "un demi", "une demi" -> 0.5 ; "un quart" -> 0.25
        if value == 1 and j < len(toks) and toks[j].text in _HALF and t in ("un", "une"):
            return 0.5, j + 1, True
        if value == 1 and j < len(toks) and toks[j].text == "quart" and t in ("un", "une"):
            return 0.25, j + 1, True
        # "Xanax zéro vingt-cinq", "zéro cinq": French says a strength under one without its "virgule" (0,25;
        # 0,5); not a phone number ("zéro six douze trente-quatre": numbers go on right after it)
        if (t == "zero" and j < len(toks) and toks[j].text not in _DECIMAL
                and text[toks[j - 1].end : toks[j].start] == " "):
            dec = _parse_words(toks, j, text)
            if dec is not None and 0 < dec[0] < 100:
                after = dec[1]
                if (after >= len(toks) or text[toks[after - 1].end : toks[after].start] != " "
                        or _parse_words(toks, after, text) is None and not toks[after].text[0].isdigit()):
                    digits = len(str(int(dec[0])))
                    return dec[0] / (10**digits), after, True
        # decimals: "deux virgule cinq"
        if j + 1 < len(toks) and toks[j].text in _DECIMAL:
            dec = _parse_words(toks, j + 1, text)
            if dec is not None:
                dval, j2 = dec
                digits = len(str(int(dval)))
                value = value + dval / (10**digits)
                j = j2
    # "et demi", "and a half"
    if j + 1 < len(toks) and toks[j].text in ("et", "and"):
        if toks[j + 1].text in _HALF:
            value += 0.5
            j += 2
        elif toks[j + 1].text == "a" and j + 2 < len(toks) and toks[j + 2].text == "half":
            value += 0.5
            j += 3
    return value, j, words


def find_numbers(folded: str, *, asr_homophones: bool = False) -> list[NumberSpan]:
    """All numbers in ``folded`` text, ranges merged ("un à deux" -> 1..2). With ``asr_homophones`` (text
    from speech recognition), a homophone of a French number right before a unit or form word is read as
    that number with :data:`HOMOPHONE_CERTAINTY` ("de comprimés" -> 2, flagged for review)."""
    toks = [_Tok(m.group(0), m.start(), m.end()) for m in _TOKEN.finditer(folded)]
    out: list[NumberSpan] = []
    i = 0
    while i < len(toks):
        t = toks[i].text
        if (
            asr_homophones
            and t in _HOMOPHONES
            and i + 1 < len(toks)
            and _UNIT_AFTER.fullmatch(toks[i + 1].text)
            and not (i > 0 and (toks[i - 1].text[0].isdigit() or _is_number_word(toks[i - 1].text)))
        ):
            out.append(NumberSpan(value=float(_HOMOPHONES[t]), start=toks[i].start, end=toks[i].end,
                                  certainty=HOMOPHONE_CERTAINTY, in_words=True))
            i += 1
            continue
        if not (t[0].isdigit() or _is_number_word(t)) or t == "-":
            i += 1
            continue
        if t in ("cent", "cents") and i > 0 and toks[i - 1].text == "pour":
            i += 1  # "5 pour cent": a percentage, not a hundred
            continue
        if t == "half" and i + 2 < len(toks) and toks[i + 1].text in ("a", "an"):
            # "half a tablet": 0.5, the article belongs to the number
            out.append(NumberSpan(value=0.5, start=toks[i].start, end=toks[i + 1].end,
                                  certainty=WORD_CERTAINTY, in_words=True))
            i += 2
            continue
        # "un/une" alone before a non-number word is still 1 ("un comprimé"); "a" is never a number.
        first = _parse_one(toks, i, folded)
        if first is None:
            i += 1
            continue
        value, j, words = first
        start, end = toks[i].start, toks[j - 1].end
        high: float | None = None
        # ranges: "un à deux", "2-3", "2 ou 3", "one to two", "deux trois"
        if j < len(toks):
            k = j + 1 if toks[j].text in _RANGE or toks[j].text == "-" else j
            if k < len(toks) and (toks[k].text[0].isdigit() or _is_number_word(toks[k].text)):
                second = _parse_one(toks, k, folded)
                if second is not None:
                    v2, j2, w2 = second
                    adjacent = k == j
                    if v2 > value and (not adjacent or (v2 == value + 1 and value < 10 and words and w2)):
                        high = v2
                        end = toks[j2 - 1].end
                        words = words or w2
                        j = j2
        out.append(
            NumberSpan(
                value=value,
                start=start,
                end=end,
                value_high=high,
                certainty=WORD_CERTAINTY if words else DIGIT_CERTAINTY,
                in_words=words,
            )
        )
        i = j
    return out
