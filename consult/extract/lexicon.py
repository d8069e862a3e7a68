"""Drug lexicon (shipped ``consult/data/lexicon.json.gz``) and tolerant matching of transcript tokens.

Matching survives ASR spelling: accent-free keys, 1-3 tokens glued ("dolly prane"), a phonetic key
(French/English spelling collapsed: ph->f, qu->k, doubled letters, silent endings) and rapidfuzz
scores, with a stop-list and minimum lengths so that ordinary words never become drugs.
"""

from __future__ import annotations

import gzip
import json
import logging
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

from rapidfuzz import fuzz, process

from consult.extract.stopwords import STOPWORDS
from consult.extract.text import Token, key_of, tokenize
from consult.resources import read_packaged

logger = logging.getLogger(__name__)

NOT_DRUGS_RESOURCE = "data/not_drugs.txt.gz"
LEXICON_RESOURCE = "data/lexicon.json.gz"

EXACT_SCORE = 1.0
GLUED_SCORE = 0.95
PHONETIC_SCORE = 0.85
FUZZY_MIN = 88.0
"""rapidfuzz ratio (0-100) needed for a fuzzy match on phonetic keys."""
FUZZY_MIN_LEN = 6
FUZZY_MIN_PHONETIC = 7
"""Fuzzy matching is for single tokens whose phonetic key has at least this many letters."""
"""Minimum length (letters) of a candidate for fuzzy or phonetic matching."""


@dataclass(frozen=True)
class DrugEntry:
    surface: str
    key: str
    name: str
    kind: str
    atc: str | None = None
    cis: str | None = None
    substances: tuple[str, ...] = ()
    strengths: tuple[str, ...] = ()
    forms: tuple[str, ...] = ()
    routes: tuple[str, ...] = ()
    marketed: bool = True
    """False for a brand or substance of BDPM products no longer on the market (a patient's old box): read
    exactly as said, never from a neighbouring sound, and flagged for review."""


@dataclass(frozen=True)
class DrugMatch:
    entry: DrugEntry
    start: int
    end: int
    score: float
    """0-1: 1.0 exact, lower for glued/phonetic/fuzzy matches."""
    method: str


_PHONETIC_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(p), r)
    for p, r in [
        (r"(?<=..)es$", ""),  # silent plural/feminine endings
        (r"(?<=..)e$", ""),
        (r"(?<=.)(ez|er|et)$", "e"),  # assez ~ "asse"
        (r"ph", "f"),
        (r"th", "t"),
        (r"qu", "k"),
        (r"ck", "k"),
        (r"c(?=[eiy])", "s"),
        (r"c", "k"),
        (r"x", "ks"),
        (r"z", "s"),
        (r"y", "i"),
        (r"w", "v"),
        (r"(?<!c)h", ""),
        (r"eau|au", "o"),
        (r"ai|ei", "e"),
        (r"en(?=[^aeiou]|$)", "an"),
        (r"(.)\1+", r"\1"),
        (r"(?<=..)s$", ""),
    ]
]


def phonetic_token(token: str) -> str:
    out = token
    for pattern, repl in _PHONETIC_RULES:
        out = pattern.sub(repl, out)
    return out


def phonetic_key(key: str) -> str:
    """Phonetic-ish key of an accent-free key: tokens collapsed, then glued without spaces."""
    joined = "".join(phonetic_token(t) for t in key.split())
    return re.sub(r"(.)\1+", r"\1", joined)


_SALT_OF = re.compile(
    r"(?:mono|di|tri)?(?:chlorhydrate|bromhydrate|maleate|maléate|fumarate|bésilate|mésilate|tartrate|succinate|"
    r"sulfate|phosphate|citrate|acétate) d(?:e |')(.+)"
)


class DrugLexicon:
    """Indexes of the lexicon entries; build once with :meth:`load` (cached)."""

    def __init__(self, entries: list[DrugEntry], english_names: Mapping[str, Sequence[str]] | None = None) -> None:
        self.entries = entries
        self.english_names: dict[str, tuple[str, ...]] = {
            name: tuple(names) for name, names in (english_names or {}).items() if names
        }
        """English names of French normalised names, preferred first (``en_names`` of the lexicon file,
        scripts/build_lexicon.py); a name missing here is the same in English or has no English name known."""
        self._french_of: dict[str, str] = {}
        for rank in (0, 1):  # preferred names first, then the alternates
            for name, names in sorted(self.english_names.items()):
                for en in names[:1] if rank == 0 else names[1:]:
                    self._french_of.setdefault(key_of(en), name)
        for name in self.english_names:  # a French name is its own
            self._french_of[key_of(name)] = name
        self._by_key: dict[str, DrugEntry] = {}
        self._by_glued: dict[str, DrugEntry] = {}
        self._by_phonetic: dict[str, DrugEntry] = {}
        self._fuzzy_blocks: dict[str, list[str]] = defaultdict(list)
        for entry in entries:
            key = entry.key
            if key in STOPWORDS or len(key) < 3:
                continue
            self._by_key.setdefault(key, entry)
            glued = key.replace(" ", "")
            self._by_glued.setdefault(glued, entry)
            if not _is_core(entry):
                continue
            ph = phonetic_key(key)
            if len(ph) >= FUZZY_MIN_LEN - 1 and ph not in self._by_phonetic:
                self._by_phonetic[ph] = entry
                self._fuzzy_blocks[ph[0]].append(ph)
        self.max_tokens = 3
        self._strengths: dict[str, frozenset[float]] | None = None
        self.not_drugs: frozenset[str] = frozenset()
        """Ordinary words never matched approximately (scripts/build_not_drugs.py)."""

    @classmethod
    def from_json(cls, data: dict[str, object]) -> DrugLexicon:
        raw = data.get("entries", [])
        assert isinstance(raw, list)
        entries = [
            DrugEntry(
                surface=str(e["s"]),
                key=str(e["k"]),
                name=str(e["n"]),
                kind=str(e.get("t", "")),
                atc=e.get("a"),
                cis=e.get("c"),
                substances=tuple(e.get("sub", ())),
                strengths=tuple(e.get("st", ())),
                forms=tuple(e.get("f", ())),
                routes=tuple(e.get("r", ())),
                marketed=not e.get("nm"),
            )
            for e in raw
        ]
        names = data.get("en_names", {})
        assert isinstance(names, dict)
        return cls(entries, names)

    @classmethod
    def load(cls) -> DrugLexicon:
        """The packaged lexicon, parsed and indexed once per process."""
        return _load_packaged()

    def marketed_strengths_mg(self, name: str) -> frozenset[float]:
        """Mass strengths (mg) of every single-substance product of ``name`` in the lexicon (BDPM)."""
        if self._strengths is None:
            index: dict[str, set[float]] = {}
            for e in self.entries:
                if len(e.substances) <= 1 and e.marketed:
                    index.setdefault(e.name, set()).update(_strengths_mg(e.strengths))
            self._strengths = {k: frozenset(v) for k, v in index.items()}
        return self._strengths.get(name, frozenset())

    def is_marketed_strength(self, name: str, mg: float) -> bool:
        """``mg`` is one of the mass strengths of ``name``'s marketed products (:meth:`marketed_strengths_mg`)."""
        return any(abs(mg - m) < 1e-6 for m in self.marketed_strengths_mg(name))

    def get(self, key: str) -> DrugEntry | None:
        return self._by_key.get(key)

    def lookup_name(self, name: str) -> DrugEntry | None:
        """Entry of a normalised name (exact key), French or English ("metformin": the entry of metformine)."""
        key = key_of(name)
        entry = self._by_key.get(key)
        if entry is None and key in self._french_of:
            entry = self._by_key.get(key_of(self._french_of[key]))
        return entry

    def name_in(self, name: str, language: str, *, said: str | None = None) -> str:
        """The normalised name ``name`` (French, as the lexicon has it) for a consultation in ``language``:
        unchanged unless the language is English, then its English name where one is known ("metformine" ->
        "metformin", "paracétamol" -> "paracetamol"), a combination "a + b" part by part. ``said``: the words
        said for the drug; when they are one of the substance's English names ("acetaminophen"), that one."""
        if not language.lower().startswith("en"):
            return name
        parts = name.split(" + ")
        out: list[str] = []
        for part in parts:
            names = self.english_names.get(part)
            if not names:
                # a salt named by BDPM ("dichlorhydrate de cétirizine"): the English name of its substance
                salt = _SALT_OF.match(part)
                names = self.english_names.get(salt.group(1)) if salt is not None else None
            if not names:
                out.append(part)
                continue
            choice = names[0]
            if said is not None and len(parts) == 1:
                said_key = key_of(said)
                choice = next((n for n in names if key_of(n) == said_key), choice)
            out.append(choice)
        return " + ".join(out)

    def normalised_name(self, name: str) -> str:
        """The lexicon's (French) normalised name of a normalised name in either language ("metformin" ->
        "metformine", "amoxicillin + clavulanic acid" part by part); unchanged when it is not an English name."""
        return " + ".join(self._french_of.get(key_of(part), part) for part in name.split(" + "))

    # ------------------------------------------------------------------ matching
    def _match_candidate(self, toks: list[Token]) -> tuple[DrugEntry, float, str] | None:
        words = [t.text for t in toks]
        if any(w.isdigit() for w in words):
            return None
        spaced = " ".join(words)
        glued = "".join(words)
        n = len(words)
        entry = self._by_key.get(spaced)
        if entry is not None:
            return entry, EXACT_SCORE, "exact"
        if n > 1 and words[-1] not in STOPWORDS and min(len(w) for w in words) >= 3:
            entry = self._by_glued.get(glued)
            if entry is not None and len(glued) >= FUZZY_MIN_LEN:
                return entry, GLUED_SCORE, "glued"
        if len(glued) < FUZZY_MIN_LEN:
            return None
        if n == 1 and (words[0] in STOPWORDS or words[0] in self.not_drugs):
            return None
        if n == 1 and glued.endswith("s"):
            entry = self._by_key.get(glued[:-1])  # plural: "dolipranes"
            if entry is not None:
                return entry, GLUED_SCORE, "plural"
        if n > 1 and all(w in STOPWORDS for w in words):
            return None
        if n > 1 and (words[-1] in STOPWORDS or min(len(w) for w in words) < 3):
            return None
        ph = phonetic_key(spaced)
        if len(ph) < FUZZY_MIN_LEN - 1 or (n > 1 and len(ph) < 7):
            return None
        entry = self._by_phonetic.get(ph)
        if entry is not None:
            return entry, PHONETIC_SCORE, "phonetic"
        # Fuzzy only when the candidate does not start or end on a common word. Two glued tokens
        # ("mètre formine") need a longer key and the same first three and last letters.
        if n > 2 or len(ph) < FUZZY_MIN_PHONETIC or (n == 2 and (len(ph) < 8 or words[0] in STOPWORDS)):
            return None
        block = self._fuzzy_blocks.get(ph[0])
        if not block:
            return None
        best = process.extractOne(
            ph,
            block,
            scorer=fuzz.ratio,
            score_cutoff=FUZZY_MIN,
            processor=None,
        )
        if best is None:
            return None
        cand = best[0]
        if abs(len(cand) - len(ph)) > 2 or cand[:2] != ph[:2]:
            return None
        if n == 2 and (cand[:3] != ph[:3] or cand[-1] != ph[-1]):
            return None
        score = PHONETIC_SCORE * float(best[1]) / 100.0
        return self._by_phonetic[cand], score, "fuzzy"

    def _match_elided(self, text: str, tok: Token) -> tuple[DrugEntry, float, str] | None:
        """ "de l'aventoline" is "de la Ventoline" cut at the wrong place: after an elided "l'",
        a token starting with "a" may be the article's vowel glued to the drug name."""
        if not tok.text.startswith("a") or len(tok.text) < FUZZY_MIN_LEN + 1:
            return None
        before = text[max(0, tok.start - 2) : tok.start].lower()
        if before not in ("l'", "l’"):
            return None
        rest = Token(tok.text[1:], tok.start + 1, tok.end)
        res = self._match_candidate([rest])
        if res is None:
            return None
        entry, score, _ = res
        return entry, score * 0.95, "elided"

    def find(self, text: str) -> list[DrugMatch]:
        """Drug mentions in ``text`` (non-overlapping, longest and best first), offsets in ``text``."""
        tokens = tokenize(text)
        found: list[DrugMatch] = []
        for i in range(len(tokens)):
            for n in range(min(self.max_tokens, len(tokens) - i), 0, -1):
                span = tokens[i : i + n]
                # Tokens must be adjacent (no punctuation other than spaces, hyphens or apostrophes).
                if any(not _joinable(text[span[j].end : span[j + 1].start]) for j in range(len(span) - 1)):
                    continue
                res = self._match_candidate(span)
                start = span[0].start
                if res is None and n == 1:
                    res = self._match_elided(text, span[0])
                    start += 1 if res is not None else 0
                if res is not None:
                    entry, score, method = res
                    found.append(DrugMatch(entry, start, span[-1].end, score, method))
        found.sort(key=lambda m: (-m.score, -(m.end - m.start), m.start))
        chosen: list[DrugMatch] = []
        for m in found:
            if all(m.end <= c.start or m.start >= c.end for c in chosen):
                chosen.append(m)
        chosen.sort(key=lambda m: m.start)
        return chosen


_STRENGTH_TEXT = re.compile(r"(\d+(?:[.,]\d+)?)\s*(mg|g|µg|ug|mcg)")
_MG_PER_UNIT = {"mg": 1.0, "g": 1000.0, "µg": 0.001, "ug": 0.001, "mcg": 0.001}


def _strengths_mg(strengths: tuple[str, ...]) -> set[float]:
    out: set[float] = set()
    for s in strengths:
        m = _STRENGTH_TEXT.fullmatch(s.strip().lower())
        if m is not None:
            out.add(round(float(m.group(1).replace(",", ".")) * _MG_PER_UNIT[m.group(2)], 6))
    return out


def _is_core(entry: DrugEntry) -> bool:
    """Entries allowed in approximate (phonetic/fuzzy) matching: drugs on the market with an ATC code whose
    normalised name is a French substance. Exotic brand synonyms of the English lists and products no longer
    marketed stay exact-only."""
    if entry.atc is None or not entry.marketed:
        return False
    return entry.kind in ("substance", "brand") or entry.name != entry.surface


def _joinable(gap: str) -> bool:
    return len(gap) <= 3 and all(c in " -'’" for c in gap)


# English dictionary entries whose name is not a substance name: the substance they mean.
EN_NAME_ALIASES = {
    "thyroxine": "lévothyroxine",
    "calcium supplement": "calcium carbonate",
    "insulin (medication)": "insuline",
}
# English INN spellings that the French-first lexicon does not list: name -> substance entry.
EN_INN = {"acetylsalicylic acid": "acide acétylsalicylique", "levothyroxine sodium": "lévothyroxine"}
_EN_FORM_SUFFIX = re.compile(
    r"\s+(?:inhalers?|tablets?|capsules?|cream|gel|ointment|injections?|supplements?|patch(?:es)?|"
    r"eye drops|drops|syrup|spray)$|\s*\([^)]*\)$|"
    r"\s+for (?:adults|children|kids|infants|babies|skin|pain|thrush|depression)$"  # NHS leaflet titles
)


def _normalise_en_names(lex: DrugLexicon) -> DrugLexicon:
    """English dictionary names such as "salbutamol inhalers" or "insulin (medication)" are resolved to the
    substance entry ("salbutamol"), so that one drug has one name and one ATC code; an English name of a
    substance takes the substance's marketed strengths."""
    fixed: list[DrugEntry] = []
    for e in lex.entries:
        target_name = EN_NAME_ALIASES.get(e.name)
        if target_name is None and e.kind == "en":
            stripped = _EN_FORM_SUFFIX.sub("", e.name).strip()
            target_name = stripped if stripped != e.name else None
        target = lex.lookup_name(target_name) if target_name else None
        if target is not None and target.name != e.name:
            e = replace(e, name=target.name, atc=target.atc or e.atc, substances=target.substances)
        if e.kind == "en" and not e.strengths:
            # the English name of a substance has its marketed strengths ("ibuprofen 400": the strength)
            same = lex.lookup_name(e.name)
            if same is not None and same.kind == "substance" and same.strengths:
                e = replace(e, strengths=same.strengths)
        fixed.append(e)
    base = {x.key for x in fixed}
    for alias, name in EN_INN.items():
        target = lex.lookup_name(name)
        if target is not None and key_of(alias) not in base:
            fixed.append(replace(target, surface=alias, key=key_of(alias), kind="en", cis=None))
    return DrugLexicon(fixed, lex.english_names)


@lru_cache(maxsize=1)
def _load_packaged() -> DrugLexicon:
    data = json.loads(gzip.decompress(read_packaged(LEXICON_RESOURCE)).decode("utf-8"))
    lex = _normalise_en_names(DrugLexicon.from_json(data))
    words = gzip.decompress(read_packaged(NOT_DRUGS_RESOURCE)).decode("utf-8").splitlines()
    lex.not_drugs = frozenset(w for w in words if w and not w.startswith("#"))
    logger.debug("drug lexicon loaded: %d entries", len(lex.entries))
    return lex
