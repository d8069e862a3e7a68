"""Pseudonymisation of transcripts: person names, dates, phone numbers, e-mails, social security numbers
(French NIR, NHS number), numbers read out as words, postal addresses, hospitals and home towns, and ages are
replaced by consistent placeholders (``[NOM_1]``, ``[DATE_1]``, ``[TEL_1]`` in French, ``[NAME_1]``,
``[DATE_1]``, ``[PHONE_1]`` in English); the same value always gets the same placeholder within one text or report.
A run of five or more numbers said as words is a number read out (phone, NIR), never a dose ("deux comprimés
trois fois par jour" is broken by its words).

Names are found after a civility title ("Madame Martin", "Dr Patel"), after "je m'appelle" / "my name is" (and,
for listed names only, even in lower case, after "je suis" / "I'm"), and from a list of first names and surnames
(``consult/data/person_names.txt.gz``, from Faker; see ``scripts/build_review_data.py``). A listed name that is
also an ordinary word or a drug ("Rose", "Pierre", "Martin") is replaced only next to a title or another name; a
drug the lexicon recognises is never replaced by the list, so "Doliprane 1000 mg" survives. Numbers that are doses
(1000 mg, 12/8 of blood pressure) are not dates or phone numbers: a date needs a year or a month name, a phone
number ten digits.
"""

from __future__ import annotations

import gzip
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from consult.extract.lexicon import DrugLexicon
from consult.extract.stopwords import STOPWORDS
from consult.extract.text import key_of
from consult.resources import read_packaged
from schemas.medication import Evidence, MedicationLine
from schemas.report import ConsultationReport
from schemas.transcript import Segment, Word

NAMES_RESOURCE = "data/person_names.txt.gz"

LABELS = {
    "fr": {"name": "NOM", "date": "DATE", "phone": "TEL", "email": "EMAIL", "nir": "NIR", "nhs": "NHS",
           "address": "ADRESSE", "place": "LIEU", "age": "AGE", "number": "NUMERO"},
    "en": {"name": "NAME", "date": "DATE", "phone": "PHONE", "email": "EMAIL", "nir": "NIR", "nhs": "NHS",
           "address": "ADDRESS", "place": "PLACE", "age": "AGE", "number": "NUMBER"},
}
_PRIORITY = {"email": 0, "nir": 1, "nhs": 2, "phone": 3, "number": 4, "address": 5, "place": 6, "age": 7,
             "date": 8, "name": 9}

# --------------------------------------------------------------------------- patterns
_UP = "A-ZÀÂÄÇÉÈÊËÎÏÔÖÙÛÜŸÆŒ"
_CAP = rf"[{_UP}][\w'’]*(?:-[{_UP}]?[\w'’]+)*"
_MONTHS_FR = (r"janvier|f[ée]vrier|mars|avril|mai|juin|juillet|ao[uû]t|septembre|octobre|novembre|d[ée]cembre|"
              r"janv\.?|f[ée]vr?\.?|avr\.?|juil\.?|sept\.?|oct\.?|nov\.?|d[ée]c\.?")
_MONTHS_EN = (r"January|February|March|April|May|June|July|August|September|October|November|December|"
              r"Jan\.?|Feb\.?|Mar\.?|Apr\.?|Jun\.?|Jul\.?|Aug\.?|Sept?\.?|Oct\.?|Nov\.?|Dec\.?")
_DAYS_FR = r"lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche"
_DAYS_EN = r"Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday"
_DAY_NUM = r"(?:1er|premier|0?[1-9]|[12]\d|3[01])"
_EN_DAY_NUM = r"(?:0?[1-9]|[12]\d|3[01])(?:st|nd|rd|th)?"
_YEAR = r"(?:19|20)\d{2}"

_DATE_PATTERNS = [
    re.compile(r"(?<![\d/.-])(?:0?[1-9]|[12]\d|3[01])[/.-](?:0?[1-9]|1[0-2])[/.-](?:(?:19|20)?\d{2})(?!\d|[/.-]\d)"),
    re.compile(rf"(?<![\d-])(?:{_YEAR})-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])(?![\d-])"),
    re.compile(rf"\b(?:(?:{_DAYS_FR})\s+)?{_DAY_NUM}\s+(?:{_MONTHS_FR})(?:\s+{_YEAR})?(?!\w)", re.I),
    re.compile(rf"\b(?:{_MONTHS_FR})\s+{_YEAR}\b", re.I),
    re.compile(rf"\b(?:(?:{_DAYS_EN}),?\s+)?(?:the\s+)?{_EN_DAY_NUM}\s+(?:of\s+)?(?:{_MONTHS_EN})(?:,?\s+{_YEAR})?(?!\w)"),
    re.compile(rf"\b(?:(?:{_DAYS_EN}),?\s+)?(?:{_MONTHS_EN})\s+(?:the\s+)?{_EN_DAY_NUM}(?:,?\s+{_YEAR})?(?!\w)"),
    re.compile(rf"\b(?:{_MONTHS_EN})\s+{_YEAR}\b"),
    re.compile(rf"\b(?:n[ée]e?|born)\s+(?:en|in)\s+{_YEAR}\b", re.I),
]
_SHORT_DATE = re.compile(
    r"\b(?:le|du|au|jusqu'au|depuis le|on|the|from|until)\s+((?:0?[1-9]|[12]\d|3[01])/(?:0?[1-9]|1[0-2]))(?![\d/])",
    re.I,
)
_PHONE_PATTERNS = [
    # French: 06 12 34 56 78, 06.12.34.56.78, 0612345678, +33 6 12 34 56 78, 0033 (0)6 12 34 56 78
    re.compile(r"(?<![\d+])(?:(?:\+|00)\s?33\s?(?:\(0\)\s?)?[1-9](?:[\s.-]?\d{2}){4}|0[1-9](?:(?:[\s.-]\d{2}){4}|\d{8}))"
               r"(?!\d)"),
    # UK: +44 7700 900123, 07700 900123, 020 7946 0958, 0161 496 0000
    re.compile(r"(?<![\d+])(?:(?:\+|00)\s?44\s?(?:\(0\)\s?)?[1-9]\d{1,3}|0[1-9]\d{1,3})[\s-]?\d{3,4}[\s-]?\d{3,4}(?!\d)"),
    # any other international number
    re.compile(r"(?<![\d+])\+\s?\d{1,3}(?:[\s.-]?\d){7,12}(?!\d)"),
]
_TLD = r"com|fr|org|net|eu|be|ch|ca|io|uk|info|nhs"
_EMAIL_PATTERNS = [
    re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"),
    # said aloud: "jean point dupont arobase gmail point com", "john dot smith at nhs dot net"
    re.compile(rf"\b[\w-]+(?:\s+point\s+[\w-]+)*\s+arobase\s+[\w-]+(?:\s+point\s+[\w-]+)*\s+point\s+(?:{_TLD})\b",
               re.I),
    re.compile(rf"\b[\w-]+(?:\s+dot\s+[\w-]+)*\s+at\s+[\w-]+(?:\s+dot\s+[\w-]+)*\s+dot\s+(?:{_TLD})\b", re.I),
]
_NIR = re.compile(
    r"(?<![\d])([12])\s?(\d{2})\s?(0[1-9]|1[0-2]|[2-9]\d)\s?(\d{2}|2[AB])\s?(\d{3})\s?(\d{3})(?:\s?(\d{2}))?(?![\d])"
)
_NHS = re.compile(r"(?<![\d])(\d{3})[\s-]?(\d{3})[\s-]?(\d{4})(?![\d])")
_FR_STREET = (r"rue|avenue|av\.|boulevard|bd|place|chemin|all[ée]e|impasse|route|quai|cours|square|passage|"
              r"r[ée]sidence|lotissement|lieu-dit|hameau")
_PARTICLE = r"(?:de la|de l'|du|des|de|d'|la|le|les|l'|saint|sainte)"
_FR_ADDRESS = re.compile(
    rf"\b\d{{1,4}}(?:\s?(?:bis|ter))?,?\s+(?i:{_FR_STREET})\s+(?i:{_PARTICLE}\s*)?{_CAP}"
    rf"(?:\s+(?i:{_PARTICLE}\s*)?{_CAP})*(?:,?\s+\d{{5}}(?:\s+{_CAP}(?:[\s-](?:sur|sous|en|lès|les|le|la)[\s-]{_CAP})*)?)?"
)
_FR_POSTCODE = re.compile(rf"(?<![\d])\d{{5}}\s+[{_UP}][a-zà-ÿ'’]+(?:[\s-](?:sur|sous|en|lès|les|le|la)[\s-]{_CAP})*")
_EN_ADDRESS = re.compile(
    r"\b\d{1,5}[A-Za-z]?,?\s+(?:[A-Z][a-z]+\s+){1,3}(?:Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Drive|Close|Way|Court|"
    r"Place|Crescent|Gardens|Terrace|Boulevard|Blvd|Grove|Square|Mews|Row)\b\.?"
)
_UK_POSTCODE = re.compile(r"\b(?:[A-Z]{1,2}\d[A-Z\d]?|GIR)\s?\d[A-Z]{2}\b")

_TITLE = re.compile(
    r"\b(?:monsieur|madame|mademoiselle|docteure?|professeure?|ma[iî]tre|doctor|professor|sir|miss|"
    r"mister|missus|mrs|mr|ms|mme|mlle|dr|pr|prof)\b\.?|\b(?-i:M)\.",
    re.I,
)
_INTRO = re.compile(r"\b(?:je m'appelle|je m’appelle|je me nomme|my name is|my name's|i am called|i'm called)\b",
                    re.I)
# "je suis jean-marc lefebvre", "I'm sarah": only names of the list, so "je suis fatigué" stays
_WEAK_INTRO = re.compile(r"\b(?:je suis|moi c'est|moi c’est|c'est|c’est|i am|i'm|this is)\b", re.I)
_WORD = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")
# Numbers spoken as words: a run of five or more is a phone or social security number read out, not a dose.
_NUMBER_WORDS = (
    "zero|zéro|un|une|deux|trois|quatre|cinq|six|sept|huit|neuf|dix|onze|douze|treize|quatorze|quinze|seize|"
    "vingt|trente|quarante|cinquante|soixante|cent|cents|mille|"
    "oh|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|"
    "seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|double|triple"
)
_NUM_TOKEN = rf"(?:\d+|(?:{_NUMBER_WORDS})(?:-(?:et-)?(?:{_NUMBER_WORDS}))*)"
_SPOKEN_NUMBER = re.compile(rf"(?<![\w-]){_NUM_TOKEN}(?:(?:\s+|\s*[,.]\s*|\s+et\s+){_NUM_TOKEN}){{4,}}(?![\w-])",
                            re.I)
# Ages: "j'ai 45 ans", "âgée de quatre-vingts ans", "45-year-old", "I'm 45 years old"
_AGE = re.compile(
    rf"\b(?:j'ai|j’ai|il a|elle a|âgée?s? de|agée?s? de|de)\s+{_NUM_TOKEN}\s+ans\b"
    rf"|\b{_NUM_TOKEN}[\s-]years?[\s-]old\b|\b(?:i am|i'm|he is|she is|aged)\s+{_NUM_TOKEN}(?=\s*(?:years|[,.]|$))",
    re.I,
)
# Places that identify: hospitals, clinics, care homes, and "I live in X" / "j'habite à X"
_PLACE = re.compile(
    rf"\b(?:h[ôo]pital|chu|chr|clinique|centre hospitalier|ehpad|maison de sant[ée]|hospital|infirmary|clinic|"
    rf"care home)(?:\s+(?:de la|de l'|du|des|de|d'|saint|sainte|st))?\s+(?-i:{_CAP})(?:[\s-](?-i:{_CAP}))*"
    rf"|\b(?:(?:j'habite|j’habite)\s+(?:à|a|au|dans|en)|je vis\s+(?:à|a|au|dans)|je viens de|"
    rf"i live\s+(?:in|near)|i come from)\s+(?:le |la |les )?(?-i:{_CAP})(?:[\s-](?-i:{_CAP}))*",
    re.I,
)
_NOT_NAMES = frozenset(
    key_of(w)
    for w in (_MONTHS_FR + "|" + _MONTHS_EN + "|" + _DAYS_FR + "|" + _DAYS_EN).replace("\\.?", "").split("|")
    if "[" not in w
) | {"fevrier", "aout", "decembre", "mars", "mai", "god", "dieu", "france", "doc", "doctor", "nurse"}
_STRONG_DRUG_METHODS = frozenset({"exact", "glued", "plural"})


@lru_cache(maxsize=1)
def name_list() -> dict[str, str]:
    """Folded name -> flags (``f`` first name, ``l`` surname, ``w`` also a word, ``d`` also a drug)."""
    text = gzip.decompress(read_packaged(NAMES_RESOURCE)).decode("utf-8")
    out: dict[str, str] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, flags = line.partition("\t")
        out[name] = flags
    return out


# --------------------------------------------------------------------------- spans
@dataclass(frozen=True)
class Span:
    start: int
    end: int
    kind: str
    key: str
    """Normalised value: the same key gets the same placeholder."""


def _nhs_ok(m: re.Match[str]) -> bool:
    digits = [int(c) for c in "".join(m.groups())]
    total = sum(d * (10 - i) for i, d in enumerate(digits[:9]))
    check = 11 - total % 11
    check = 0 if check == 11 else check
    return check != 10 and check == digits[9]


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _norm(text: str) -> str:
    return " ".join(key_of(text).split())


def _regex_spans(text: str) -> list[Span]:
    spans: list[Span] = []
    for p in _EMAIL_PATTERNS:
        spans += [Span(m.start(), m.end(), "email", _norm(m.group())) for m in p.finditer(text)]
    for m in _NIR.finditer(text):  # a wrong key is kept: a misheard NIR still identifies the patient
        spans.append(Span(m.start(), m.end(), "nir", re.sub(r"\s", "", m.group())))
    for m in _NHS.finditer(text):
        if _nhs_ok(m):
            spans.append(Span(m.start(), m.end(), "nhs", _digits(m.group())))
    for p in _PHONE_PATTERNS:
        spans += [Span(m.start(), m.end(), "phone", _digits(m.group())[-9:]) for m in p.finditer(text)
                  if len(_digits(m.group())) >= 10]
    for p in (_FR_ADDRESS, _EN_ADDRESS, _UK_POSTCODE, _FR_POSTCODE):
        for m in p.finditer(text):
            end = m.end()
            tail = re.search(rf"(?:\s+{_PARTICLE})+$", m.group(), re.I)  # "rue Victor Hugo de" -> no "de"
            if tail is not None:
                end = m.start() + tail.start()
            spans.append(Span(m.start(), end, "address", _norm(text[m.start() : end])))
    for m in _SPOKEN_NUMBER.finditer(text):
        spans.append(Span(m.start(), m.end(), "number", _norm(m.group())))
    for m in _AGE.finditer(text):
        spans.append(Span(m.start(), m.end(), "age", _norm(m.group())))
    for m in _PLACE.finditer(text):
        spans.append(Span(m.start(), m.end(), "place", _norm(m.group())))
    for p in _DATE_PATTERNS:
        spans += [Span(m.start(), m.end(), "date", _norm(m.group())) for m in p.finditer(text)]
    for m in _SHORT_DATE.finditer(text):  # "le 15/06": a day and month after an article (not "à 13/8")
        spans.append(Span(m.start(1), m.end(1), "date", m.group(1)))
    return spans


@dataclass(frozen=True)
class _Tok:
    text: str
    start: int
    end: int

    @property
    def key(self) -> str:
        return key_of(self.text)

    @property
    def capitalised(self) -> bool:
        return self.text[:1].isupper()


def _tokens(text: str) -> list[_Tok]:
    return [_Tok(m.group(), m.start(), m.end()) for m in _WORD.finditer(text)]


def _listed(tok: _Tok, names: dict[str, str]) -> str | None:
    """Flags of a listed name (a hyphenated name: every part listed), or None."""
    parts = tok.key.split()
    flags = [names.get(p) for p in parts]
    if any(f is None for f in flags):
        return None
    if len(parts) > 1:
        return "f"  # "Jean-Pierre": two names joined is a name
    return flags[0]


def _sentence_start(text: str, pos: int) -> bool:
    before = text[:pos].rstrip(" \t\"«“'’(-—")
    return not before or before[-1] in ".!?:;…\n"


def _is_word(tok: _Tok) -> bool:
    return tok.key in STOPWORDS or len(tok.key) < 2


def _name_spans(text: str, known: set[str], lex: DrugLexicon) -> list[Span]:
    names = name_list()
    toks = _tokens(text)
    if not toks:
        return []
    drugs = [(m.start, m.end) for m in lex.find(text) if m.method in _STRONG_DRUG_METHODS]

    def is_drug(tok: _Tok) -> bool:
        return any(s < tok.end and tok.start < e for s, e in drugs)

    def names_after(pattern: re.Pattern[str], accept: Callable[[_Tok], bool]) -> set[int]:
        """After each match: up to three tokens that ``accept``, separated by spaces only."""
        found: set[int] = set()
        for m in pattern.finditer(text):
            pos, taken = m.end(), 0
            for i, tok in enumerate(toks):
                if tok.start < pos:
                    continue
                gap = text[pos : tok.start]
                if taken == 3 or gap.strip() not in ("", ".") or len(gap) > 2 or not accept(tok):
                    break
                found.add(i)
                pos, taken = tok.end, taken + 1
        return found

    def name_like(tok: _Tok) -> bool:
        listed = _listed(tok, names) is not None
        if _is_word(tok) or tok.key in _NOT_NAMES or not (tok.capitalised or listed):
            return False
        return listed or not is_drug(tok)

    def listed_name(tok: _Tok) -> bool:
        flags = _listed(tok, names)
        return not (flags is None or "w" in flags or "d" in flags or is_drug(tok) or tok.key in _NOT_NAMES)

    # 1. after a title or "my name is": up to three name-like tokens, separated by spaces only
    chosen = names_after(_TITLE, name_like) | names_after(_INTRO, name_like)
    # 1b. after "je suis", "I'm": listed names only (written in lower case too), not ordinary words
    chosen |= names_after(_WEAK_INTRO, listed_name)
    # 2. listed names written with a capital; ambiguous ones (words, drugs) need a neighbour
    strong: set[int] = set()
    weak: set[int] = set()
    for i, tok in enumerate(toks):
        if i in chosen or not tok.capitalised or _is_word(tok) or tok.key in _NOT_NAMES:
            continue
        if tok.text in known:
            strong.add(i)
            continue
        if tok.text.isupper() or (i > 0 and len(toks[i - 1].text) == 1 and toks[i - 1].text.isupper()):
            continue  # an acronym (ACE, RICE) or a letter and a word ("X Ray")
        if text[tok.end : tok.end + 2] in ("'t", "’t"):
            continue  # "Haven't"
        flags = _listed(tok, names)
        if flags is None or is_drug(tok):
            continue
        ambiguous = "w" in flags or "d" in flags
        # an ambiguous name is a name when written with a capital inside a sentence ("avec Marie")
        (weak if ambiguous and _sentence_start(text, tok.start) else strong).add(i)
    chosen |= strong

    # 3. a capitalised word right after a first name, or a listed word next to a name, is a name too
    def adjacent(i: int, j: int) -> bool:
        a, b = (toks[i], toks[j]) if i < j else (toks[j], toks[i])
        return text[a.end : b.start] in (" ", "-")

    changed = True
    while changed:
        changed = False
        for i, tok in enumerate(toks):
            if i in chosen or not tok.capitalised or _is_word(tok) or tok.key in _NOT_NAMES:
                continue
            left = i - 1 in chosen and adjacent(i - 1, i)
            right = i + 1 in chosen and adjacent(i, i + 1)
            follows_first = left and "f" in (names.get(toks[i - 1].key) or "")
            nxt = toks[i + 1] if i + 1 < len(toks) else None
            # "Olivier Giroud" at the start of a sentence: a listed first name and a capitalised word
            first_of_pair = (
                i in weak and "f" in (names.get(tok.key) or "") and nxt is not None and nxt.capitalised
                and adjacent(i, i + 1) and not _is_word(nxt) and not is_drug(nxt) and nxt.key not in _NOT_NAMES
            )
            if (i in weak and (left or right)) or first_of_pair or (follows_first and not is_drug(tok)):
                chosen.add(i)
                changed = True
    return [Span(toks[i].start, toks[i].end, "name", toks[i].key) for i in sorted(chosen)]


def _select(spans: list[Span]) -> list[Span]:
    """Non-overlapping spans: by kind priority, then the longest."""
    spans = sorted(spans, key=lambda s: (_PRIORITY[s.kind], -(s.end - s.start), s.start))
    out: list[Span] = []
    for s in spans:
        if s.end > s.start and all(s.end <= o.start or s.start >= o.end for o in out):
            out.append(s)
    return sorted(out, key=lambda s: s.start)


# --------------------------------------------------------------------------- the pseudonymiser
@dataclass(frozen=True)
class Replacement:
    start: int
    end: int
    new_start: int
    new_end: int


@dataclass
class Pseudonymiser:
    """Stateful replacement: one placeholder per value across every text it is given."""

    lang: str = "fr"
    mapping: dict[str, str] = field(default_factory=dict)
    """placeholder -> original text (first surface form seen)."""
    _by_key: dict[tuple[str, str], str] = field(default_factory=dict)
    _counts: dict[str, int] = field(default_factory=dict)
    known_names: set[str] = field(default_factory=set)
    """Name tokens found so far (as written); found again anywhere, they are replaced."""

    def __post_init__(self) -> None:
        self.lang = "en" if self.lang.lower().startswith("en") else "fr"

    def find(self, text: str) -> list[Span]:
        lex = DrugLexicon.load()
        spans = _regex_spans(text) + _name_spans(text, self.known_names, lex)
        return _select(spans)

    def learn(self, text: str) -> None:
        """Remember the names of ``text`` without replacing anything (first pass over a report)."""
        for s in self.find(text):
            if s.kind == "name":
                self.known_names.add(text[s.start : s.end])

    def placeholder(self, kind: str, key: str, original: str) -> str:
        ph = self._by_key.get((kind, key))
        if ph is None:
            label = LABELS[self.lang][kind]
            self._counts[label] = self._counts.get(label, 0) + 1
            ph = f"[{label}_{self._counts[label]}]"
            self._by_key[(kind, key)] = ph
            self.mapping[ph] = original
        return ph

    def replace(self, text: str) -> tuple[str, list[Replacement]]:
        """``text`` with its identifying spans replaced, and where each replacement went."""
        out: list[str] = []
        reps: list[Replacement] = []
        pos = 0
        length = 0
        for s in self.find(text):
            out.append(text[pos : s.start])
            length += s.start - pos
            original = text[s.start : s.end]
            if s.kind == "name":
                self.known_names.add(original)
            ph = self.placeholder(s.kind, s.key, original)
            out.append(ph)
            reps.append(Replacement(s.start, s.end, length, length + len(ph)))
            length += len(ph)
            pos = s.end
        out.append(text[pos:])
        return "".join(out), reps


def _mapper(reps: list[Replacement]) -> Callable[[int, bool], int]:
    """Old offset -> new offset; an offset inside a replaced span goes to its start (``end=False``) or end."""

    def f(pos: int, end: bool) -> int:
        delta = 0
        for r in reps:
            if pos <= r.start:
                break
            if pos < r.end:
                return r.new_end if end else r.new_start
            delta = r.new_end - r.end
        return pos + delta

    return f


# --------------------------------------------------------------------------- public API
def pseudonymise_text(text: str, lang: str = "fr") -> tuple[str, dict[str, str]]:
    """``text`` with names, dates, phones, e-mails, NIR/NHS numbers and addresses replaced, and the mapping
    ``{placeholder: original}``."""
    p = Pseudonymiser(lang)
    p.learn(text)
    new, _ = p.replace(text)
    return new, dict(p.mapping)


def _words(seg: Segment, new_text: str, reps: list[Replacement]) -> list[Word]:
    """Words of a segment after replacement: words inside one replaced span are merged into one word."""
    if not seg.words:
        return []
    offsets: list[tuple[int, int] | None] = []
    pos = 0
    for w in seg.words:
        i = seg.text.find(w.text.strip(), pos) if w.text.strip() else -1
        if i < 0:
            offsets.append(None)
            continue
        offsets.append((i, i + len(w.text.strip())))
        pos = i + len(w.text.strip())
    if any(o is None for o in offsets):
        return list(seg.words)  # words that do not spell the text: left alone (the text is what is shown)
    m = _mapper(reps)
    out: list[Word] = []
    group: list[int] = []

    def flush() -> None:
        if not group:
            return
        first, last = seg.words[group[0]], seg.words[group[-1]]
        s, e = offsets[group[0]], offsets[group[-1]]
        assert s is not None and e is not None
        text = new_text[m(s[0], False) : m(e[1], True)]
        out.append(first.model_copy(update={
            "text": text,
            "end": last.end,
            "probability": min(seg.words[k].probability for k in group),
        }))
        group.clear()

    for k, o in enumerate(offsets):
        assert o is not None
        span = next((r for r in reps if r.start < o[1] and o[0] < r.end), None)
        if group:
            prev = offsets[group[-1]]
            assert prev is not None
            prev_span = next((r for r in reps if r.start < prev[1] and prev[0] < r.end), None)
            if span is None or span != prev_span:
                flush()
        group.append(k)
    flush()
    return out


def _evidence(ev: Evidence, texts: dict[int, tuple[str, str, list[Replacement]]], p: Pseudonymiser) -> Evidence:
    seg = texts.get(ev.segment_id) if ev.segment_id is not None else None
    if seg is not None:
        old, new, reps = seg
        if old[ev.char_start : ev.char_end] == ev.text:
            m = _mapper(reps)
            s, e = m(ev.char_start, False), m(ev.char_end, True)
            return ev.model_copy(update={"char_start": s, "char_end": e, "text": new[s:e]})
    text, _ = p.replace(ev.text)
    return ev.model_copy(update={"text": text})


def _line(line: MedicationLine, texts: dict[int, tuple[str, str, list[Replacement]]], p: Pseudonymiser) -> (
    MedicationLine
):
    update: dict[str, object] = {
        "evidence": _evidence(line.evidence, texts, p),
        "field_evidence": {k: _evidence(v, texts, p) for k, v in line.field_evidence.items()},
        "sig": p.replace(line.sig)[0],
    }
    if line.as_needed_condition:
        update["as_needed_condition"] = p.replace(line.as_needed_condition)[0]
    return line.model_copy(update=update)


def pseudonymise_report(report: ConsultationReport, lang: str | None = None) -> ConsultationReport:
    """A copy of ``report`` whose segment texts, words and medication evidence are pseudonymised (evidence offsets
    follow the new texts), with a fresh id and neither the file name nor the content hash of the recording (nothing
    links it back to the patient's file). Drug names, doses and timings are kept."""
    p = Pseudonymiser(lang or report.language)
    for seg in report.segments:
        p.learn(seg.text)
    texts: dict[int, tuple[str, str, list[Replacement]]] = {}
    segments: list[Segment] = []
    for seg in report.segments:
        new, reps = p.replace(seg.text)
        texts[seg.id] = (seg.text, new, reps)
        segments.append(seg.model_copy(update={"text": new, "words": _words(seg, new, reps)}))
    meds = [_line(line, texts, p) for line in report.medications]
    # Nothing that links the copy back to the patient's recording: no file name, no content hash, a fresh id.
    update: dict[str, object] = {"segments": segments, "medications": meds, "id": uuid.uuid4().hex[:24]}
    if report.audio is not None:
        suffix = Path(report.audio.name).suffix
        update["audio"] = report.audio.model_copy(update={"name": f"recording{suffix}", "sha256": ""})
    if report.text_source is not None:
        update["text_source"] = report.text_source.model_copy(update={"name": "transcript.txt", "sha256": ""})
    return report.model_copy(update=update)


__all__ = ["Pseudonymiser", "Span", "name_list", "pseudonymise_report", "pseudonymise_text"]
