"""Drug names through ASR noise: the lexicon names a heard stretch of words may stand for.

Whisper base bends drug names it does not know into ordinary words or pieces ("moxi-siline", "ibus profaine",
"d'eau libra ne", "meute formine", "Flagel"). :class:`NameIndex` finds, for a text, the word n-grams (1-3 tokens
joined across spaces, hyphens and elisions) whose spelling or sound is close to a lexicon name, and proposes
those names with a similarity score:

- ``phonetic``: rapidfuzz ratio between phonetic keys (:func:`consult.extract.lexicon.phonetic_key` for French,
  Metaphone from ``jellyfish`` for English, the better of the two) of the glued n-gram and of the name;
- ``spelling``: ratio between the accent-free glued letters;
- ``confusion``: the n-gram was heard for that name when the bundled Whisper transcribed TTS sentences
  (``consult/data/asr_confusions.json``, built by ``scripts/build_confusions.py``).

It serves two callers: the speech stage's second pass (:mod:`consult.transcribe`), which has the recogniser score
the window's text with each of the few names proposed for it, and the extractor's :class:`DrugNameFinder`.
The index proposes; it never decides that a drug was said.
"""

from __future__ import annotations

import gzip
import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz import fuzz, process

from consult.extract.lexicon import PHONETIC_SCORE, DrugEntry, DrugLexicon, DrugMatch, phonetic_key
from consult.extract.posology import dose_word
from consult.extract.stopwords import FRENCH_STOPWORDS, STOPWORDS
from consult.extract.text import fold, key_of
from consult.resources import read_packaged

log = logging.getLogger(__name__)

CONFUSIONS_RESOURCE = "data/asr_confusions.json.gz"
ORDINARY_RESOURCE = "data/ordinary_words.txt.gz"
AMBIGUOUS_RESOURCE = "data/ambiguous_names.txt"
COMMON_RESOURCE = "data/common_names.txt"
MIN_LETTERS = 5
"""A heard n-gram needs at least this many letters (glued) to be compared with names."""
MAX_TOKENS = 3


@dataclass(frozen=True)
class NameCandidate:
    """A lexicon name that the words ``heard`` (characters ``start``:``end`` of the text) may stand for."""

    entry: DrugEntry
    start: int
    end: int
    heard: str
    score: float
    """0-1 similarity (1: the very spelling)."""
    method: str
    """``exact``, ``phonetic``, ``spelling`` or ``confusion``."""

    @property
    def name(self) -> str:
        return self.entry.surface


def english_key(glued: str) -> str:
    """Metaphone key of an accent-free glued word (English sound)."""
    import jellyfish

    return str(jellyfish.metaphone(glued)).lower()


def _glue(key: str) -> str:
    return key.replace(" ", "")


class NameIndex:
    """Phonetic and spelling index over the lexicon's drug names (substances and brands with an ATC code, and
    English generic names). Build once per process with :meth:`load`."""

    def __init__(self, lexicon: DrugLexicon, confusions: dict[str, dict[str, str]] | None = None,
                 ordinary: frozenset[str] = frozenset(), common: frozenset[str] = frozenset()) -> None:
        self.lexicon = lexicon
        self._entries: list[DrugEntry] = []
        seen: set[str] = set()
        for e in lexicon.entries:
            glued = _glue(e.key)
            if len(glued) < MIN_LETTERS or e.key in STOPWORDS or glued in seen or any(c.isdigit() for c in glued):
                continue
            if e.atc is None and e.kind != "substance" or not e.marketed:
                continue
            seen.add(glued)
            self._entries.append(e)
        self._glued = [_glue(e.key) for e in self._entries]
        self._fr = [phonetic_key(e.key) for e in self._entries]
        self._en = [english_key(g) for g in self._glued]
        self._by_glued = {g: e for g, e in zip(self._glued, self._entries, strict=True)}
        self.confusions = confusions or {}
        """language -> {heard glued key -> lexicon key}: pieces the bundled Whisper heard for a name."""
        self.ordinary = ordinary
        """Dictionary words (folded) that sound like a drug name: a single one is never proposed as a bent name
        (scripts/build_ordinary_words.py)."""
        self.common = common
        """Names people say every day (scripts/build_common_names.py): the prior of the second pass."""

    def is_common(self, entry: DrugEntry) -> bool:
        """Whether ``entry`` (a brand, a substance or an English name) is a commonly prescribed medicine."""
        if entry.key in self.common:
            return True
        english = {key_of(n) for n in self.lexicon.english_names.get(entry.name, ())}
        if entry.kind == "brand" or (entry.kind == "en" and entry.key not in english):
            return False  # a rare brand of a common substance is a rare name
        return key_of(entry.name) in self.common or bool(english & self.common)

    @classmethod
    def load(cls) -> NameIndex:
        return _load_index()

    def __len__(self) -> int:
        return len(self._entries)

    def neighbours(self, heard: str, *, k: int = 3, cutoff: float = 0.7,
                   language: str | None = None) -> list[tuple[DrugEntry, float, str]]:
        """Up to ``k`` lexicon entries closest to the heard words (any spelling), best first:
        (entry, score 0-1, method)."""
        key = key_of(heard)
        glued = _glue(key)
        if len(glued) < MIN_LETTERS:
            return []
        found: dict[str, tuple[DrugEntry, float, str]] = {}

        def add(entry: DrugEntry, score: float, method: str) -> None:
            prev = found.get(entry.name)
            if prev is None or score > prev[1]:
                found[entry.name] = (entry, score, method)

        exact = self._by_glued.get(glued)
        if exact is not None:
            add(exact, 1.0, "exact")
        for lang in ([language] if language else list(self.confusions)):
            target = self.confusions.get(lang or "", {}).get(glued)
            if target is not None and target in self._by_glued:
                add(self._by_glued[target], 0.95, "confusion")
        cut = 100.0 * cutoff
        for choices, probe, method in (
            (self._fr, phonetic_key(key), "phonetic"),
            (self._en, english_key(glued), "phonetic"),
            (self._glued, glued, "spelling"),
        ):
            if len(probe) < 3:
                continue
            for _choice, score, idx in process.extract(probe, choices, scorer=fuzz.ratio, limit=k + 2,
                                                        score_cutoff=cut, processor=None):
                cand = choices[idx]
                if abs(len(cand) - len(probe)) > max(3, len(probe) // 3):
                    continue
                add(self._entries[idx], min(0.99, score / 100.0), method)
        return sorted(found.values(), key=lambda t: -t[1])[:k]

    def candidates(self, text: str, *, k: int = 3, cutoff: float = 0.72, language: str | None = None,
                   prefer_whole: bool = True) -> list[NameCandidate]:
        """Names the word n-grams of ``text`` may stand for, best first, one per name and occurrence (the best of
        its overlapping n-grams: "l'ibu profaine" or "ibu profaine").

        ``prefer_whole``: a name proposed for a piece ("siline") loses to one proposed for the whole bent word
        that holds the piece ("moxi-siline" -> amoxicilline) unless it is clearly closer (the extractor's finder,
        which reads one name per stretch). The speech stage's second pass keeps both and lets the recogniser
        weigh them ("a pagliflozin": dapagliflozin and empagliflozin)."""
        best: dict[str, list[NameCandidate]] = {}
        for start, end, heard in ngrams(text, language):
            if " " not in heard.strip() and "-" not in heard and key_of(heard) in self.ordinary:
                continue
            for entry, score, method in self.neighbours(heard, k=k, cutoff=cutoff, language=language):
                cand = NameCandidate(entry, start, end, heard, score, method)
                seen = best.setdefault(entry.name, [])
                for i, prev in enumerate(seen):
                    if prev.start < end and start < prev.end:  # the same occurrence: keep its best n-gram
                        if score > prev.score or (score == prev.score and end - start < prev.end - prev.start):
                            seen[i] = cand
                        break
                else:
                    seen.append(cand)  # another occurrence of the name in the text
        cands = [c for seen in best.values() for c in seen]
        if prefer_whole:
            cands = prefer_wholes(cands)
        return sorted(cands, key=lambda c: (-c.score, c.start))[:k]


WHOLE_MARGIN = 0.06
"""A name read from a piece beats one read from the longer stretch that holds it only when this much closer."""


def prefer_wholes(cands: list[NameCandidate]) -> list[NameCandidate]:
    """``cands`` less each one read from a piece ("siline") of a longer stretch ("moxi-siline") for which another
    candidate is about as close (within ``WHOLE_MARGIN``)."""
    return [c for c in cands if not any(
        o is not c and o.start <= c.start and c.end <= o.end and (o.end - o.start) > (c.end - c.start)
        and o.score >= c.score - WHOLE_MARGIN for o in cands)]


_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
_ELISION = re.compile(r"^(?:l|d|qu|j|n|s|c)['’]", re.IGNORECASE)
_JOINABLE = re.compile(r"^[\s\-'’]{0,3}$")


def spelling_similarity(heard: str, entry: DrugEntry, method: str | None = None) -> float:
    """How closely the heard words are spelled like the name, pieces joined (0-1, rapidfuzz ratio: "tarax" and
    atarax 0.91, doryx 0.40); 1 for pieces the recogniser was seen to hear for that name (``confusion``)."""
    if method == "confusion":
        return 1.0
    return fuzz.ratio(_glue(key_of(heard)), _glue(entry.key)) / 100.0


def _function_word(folded: str, said: str, language: str | None = None) -> bool:
    """A common function word (:data:`STOPWORDS`); an accented word only when it is a French one. In French text
    (``language`` "fr") only a French function word counts: "four" is an oven there ("du four relax": Forlax)."""
    if folded not in STOPWORDS:
        return False
    if language == "fr":
        return folded in FRENCH_STOPWORDS
    return folded in FRENCH_STOPWORDS or said.lower() == folded


def ngrams(text: str, language: str | None = None) -> Iterable[tuple[int, int, str]]:
    """(start, end, words) of the 1..3 word n-grams of ``text`` whose words are joined by spaces, hyphens or
    apostrophes only, that do not start or end with a common function word (a 3-gram may end with one of up to
    three letters, a 2-gram with a French one: "homé prazzo le", "cardégi que"), and that hold at least
    ``MIN_LETTERS`` letters; an elided article is tried with and without its consonant ("d'eau libra ne").
    ``language``: the text's, when known (:func:`_function_word`)."""
    folded = fold(text)
    words = [(m.start(), m.end()) for m in _WORD.finditer(folded)]
    for i in range(len(words)):
        for n in range(1, MAX_TOKENS + 1):
            if i + n > len(words):
                break
            span = words[i: i + n]
            if any(not _JOINABLE.match(folded[span[j][1]: span[j + 1][0]]) for j in range(n - 1)):
                break
            first, last = folded[span[0][0]: span[0][1]], folded[span[-1][0]: span[-1][1]]
            first_function = _function_word(first, text[span[0][0]: span[0][1]], language)
            if n > 1 and (len(last) == 1 or (first_function and len(first) > 1)):
                continue  # "Arrêtez l": an elided article belongs to the next word
            if n > 1 and last in STOPWORDS and (len(last) > 3 or n == 2 and last not in FRENCH_STOPWORDS):
                continue  # a last short piece that is also a word may end a name ("homé prazzo le", "cardégi que")
            if n == 1 and first_function:
                continue
            a, b = span[0][0], span[-1][1]
            letters = sum(e - s for s, e in span)
            if letters >= MIN_LETTERS:
                yield a, b, text[a:b]
            # "d'eau libra ne": the elided consonant may belong to the name
            pre = folded[max(0, a - 2): a]
            if len(pre) == 2 and pre[1] in "'’" and pre[0] in "dl" and letters + 1 >= MIN_LETTERS:
                yield a - 2, b, text[a - 2: b]


MEDICATION_CUES = {
    "fr": re.compile(
        r"\b(?:prescri\w*|prene[zr]|prendre|prends|prend|pris|prise|comprim\w*|g[ée]lules?|sachets?|sirop|"
        r"cr[èe]me|pommade|collyre|gouttes?|bouff[ée]es?|patchs?|injections?|piq[ûu]res?|ampoules?|milligrammes?|"
        r"microgrammes?|grammes?|mg|ml|millilitres?|fois par|par jour|traitements?|m[ée]dicaments?|ordonnance|"
        r"renouvel\w*|arr[êe]te[zr]?|continue[zr]?|je vous (?:mets|donne|remets)|mets? sous|doses?|"
        r"antibiotiques?|cachets?|allergiques?|allergies?|posologie|pharmacie|unit[ée]s|pilule|preniez|prenais|"
        r"prenait|donner (?:du|de la|de l)|donn[ée] (?:du|de la|de l)|(?:suis|es|est|[êe]tes) sous)\b|"
        r"\d\s?(?:mg|ml|µg)\b", re.IGNORECASE),
    "en": re.compile(
        r"\b(?:prescri\w*|take|takes|taking|took|tablets?|capsules?|pills?|syrup|cream|ointment|drops?|puffs?|"
        r"inhalers?|patch(?:es)?|injections?|milligrams?|micrograms?|grams?|mg|ml|mls|once a|twice|times a day|"
        r"daily|medications?|medicines?|meds|start(?:ed)? you on|give you|put you on|keep you on|continue|stop|"
        r"doses?|course|antibiotics?|allergic|allerg(?:y|ies)|painkillers?|pharmacy|prescription|have (?:uh, |um, )?|"
        r"units|gave (?:him|her|them|you|me) (?:some )?|give (?:him|her|them) (?:some )?|"
        r"(?:get|got|getting) (?:you|him|her) (?:some |a |an )?|"
        r"(?:i'm|i am|you're|you are|he's|she's|i was|been) on)\b|\d\s?(?:mg|ml|mcg)\b",
        re.IGNORECASE),
}
"""Words of medication talk, per language: a name the recogniser bent, or a name that is also an everyday word or
a first name, is read as a drug only near one of these (the speech stage's second pass, :class:`DrugNameFinder`)."""


CUE_NEAR_WORDS = 3
"""How many words before a name, and after it, :func:`medication_cue_near` reads."""
_ALLERGY_AFTER = re.compile(r"\b(?:allerg\w*|intol[ée]ran\w*)", re.IGNORECASE)


def medication_cue_near(text: str, start: int, end: int, language: str | None = None,
                        words: int = CUE_NEAR_WORDS) -> bool:
    """True when ``text[start:end]`` (a name) stands where a medicine is named: a word of medication talk
    (``MEDICATION_CUES``) within ``words`` words before it ("allergic to penicillin", "je prends du thym", "on
    Diane"), or a dose or an allergy word within ``words`` words after it ("Diane 35", "romarin, un comprimé",
    "penicillin allergy"). A cue after the name belongs to the next clause ("the pain should recede, I take
    nothing"), a count alone is no dose ("Diane, une amie")."""
    before = text[:start].split()[-words:]
    after = text[end:].split()[:words]
    return (medication_cue(" ".join(before), language) or any(dose_word(w) for w in after)
            or bool(_ALLERGY_AFTER.search(" ".join(after))))


def medication_cue(text: str, language: str | None = None) -> bool:
    """True when ``text`` holds a word of medication talk (``MEDICATION_CUES``; both languages when None)."""
    cues = [MEDICATION_CUES[language]] if language in MEDICATION_CUES else list(MEDICATION_CUES.values())
    return any(c.search(text) for c in cues)


_STRENGTH_AFTER = re.compile(
    r"^[\s,]*(\d+(?:[.,]\d+)?)\s*(mg|milligrammes?|milligrams?|g|grammes?|grams?|µg|mcg|microgrammes?|micrograms?)?\b",
    re.IGNORECASE)
_MG = {"mg": 1.0, "g": 1000.0, "µg": 0.001, "mcg": 0.001}


def _strength_after(text: str) -> float | None:
    """The number said right after a name, in mg when a mass unit follows (else as said)."""
    m = _STRENGTH_AFTER.match(text)
    if m is None:
        return None
    value = float(m.group(1).replace(",", "."))
    unit = (m.group(2) or "mg").lower()
    factor = next((f for u, f in _MG.items() if unit.startswith(u[0]) and (unit == u or unit.startswith(
        {"mg": "milli", "g": "gram", "µg": "micro", "mcg": "micro"}[u]))), 1.0)
    return value * factor


class DrugNameFinder:
    """The extractor's drug finder (``consult.extract.core.DrugFinder``): the lexicon's exact and glued matches, and
    the names the recogniser (or a typist) bent.

    - An exact match of a name that is also an everyday word or a first name (``ambiguous``: "Diane", "Caroline",
      "recede", a substance with no ATC code such as "poly" or "avocat") counts only where a medicine is named:
      a medication cue just before it or a dose just after it (:func:`medication_cue_near`). Consultations are
      full of medication talk: a cue somewhere in the sentence does not make "j'ai vu mon avocat" or "the pain
      should recede" a drug.
    - The lexicon's approximate matches (phonetic, fuzzy, elided) and the :class:`NameIndex` candidates of the words
      it did not match are read only where some word is no word of the language (:meth:`bent`: ordinary words that
      sound like a name are left to the speech stage, which hears them), spelled close to the name, and in a
      sentence with a medication cue unless one word spells a common name almost right ("Uh, yes, amoxycillin.").
    - Among the names proposed for one stretch of words the closest wins, a number said right after the name that
      is one of its marketed strengths (BDPM) adding ``STRENGTH_BONUS`` ("Moxisiline 1000 mg": amoxicilline, not
      moxisylyte). The match's score is ``APPROXIMATE_SCORE`` x the similarity, below an exact match's: reviewed.
    """

    APPROXIMATE_SCORE = 0.85
    MIN_SIMILARITY = 0.86
    MIN_SPELLING = 0.7
    MIN_SPELLING_RARE = 0.9
    NO_CUE_SPELLING = 0.85
    STRENGTH_BONUS = 0.05
    SOUND_ALIKE = 0.97
    MIN_SPELLING_SOUND = 0.6
    JOINED_SPELLING = 0.95

    def __init__(self, index: NameIndex | None = None, ambiguous: frozenset[str] | None = None) -> None:
        self.index = index if index is not None else NameIndex.load()
        self.lexicon = self.index.lexicon
        self.ambiguous = ambiguous if ambiguous is not None else _ambiguous_names()

    def is_ambiguous(self, entry: DrugEntry) -> bool:
        return entry.key in self.ambiguous or (entry.kind == "substance" and entry.atc is None)

    def bent(self, words: str) -> bool:
        """Some word of ``words`` (3 letters or more) is no word of French or English: a name the recogniser (or
        a typist) bent, as "Moxisiline", "profaine", "prasole" ("wouldn", "couldn": the words of "wouldn't")."""
        ordinary = self.index.ordinary
        for m in _WORD.finditer(fold(words)):
            w = m.group(0)
            if len(w) < 3 or w in ordinary or w in STOPWORDS:
                continue
            if w.endswith("n") and (w[:-1] in ordinary or w[:-1] in STOPWORDS):
                continue
            return True
        return False

    def _plausible(self, heard: str, entry: DrugEntry, method: str, score: float = 0.0,
                   strength_said: bool = False) -> float:
        """How closely an approximate reading is spelled (0: not plausible). Some word must be bent; then pieces the
        recogniser was seen to hear for the name (``confusion``) count as 1, other readings need a spelling close to
        the name's (``MIN_SPELLING``) as well as its sound (a phonetic key alone is too loose: "statin" and ketotifen,
        "wouldn" and loratadine), closer still for a name that is not commonly prescribed
        (``MIN_SPELLING_RARE``: medical words the dictionaries lack sound like rare brands, "Crohn" and Creon).

        Three readings pass otherwise: a common name whose sound the bent word has all but exactly (``score`` ≥
        ``SOUND_ALIKE``, spelled at least ``MIN_SPELLING_SOUND``: "cardégique" Kardégic, "l'entue" Lantus); any
        name whose sound it has all but exactly, spelled at least ``MIN_SPELLING``, when the number said right after
        it is one of the name's marketed strengths (``strength_said``: "Fos Fomisin 3g dans sachet", fosfomycine
        3 g; the BDPM strengths are evidence a bent word alone is not); and ordinary words that, joined, spell a
        common name exactly ("tram à d'ol": tramadol)."""
        spelling = spelling_similarity(heard, entry, method)
        common = self.index.is_common(entry)
        if not self.bent(heard):
            joined = len(_WORD.findall(heard)) > 1
            # ordinary words ("love the idea"): only the second pass, which hears them, may say; unless joined
            # they spell a common name
            return spelling if joined and common and spelling >= self.JOINED_SPELLING else 0.0
        if common and score >= self.SOUND_ALIKE and spelling >= self.MIN_SPELLING_SOUND:
            return spelling
        if strength_said and score >= self.SOUND_ALIKE and spelling >= self.MIN_SPELLING:
            return spelling
        needed = self.MIN_SPELLING if common else self.MIN_SPELLING_RARE
        return spelling if spelling >= needed else 0.0

    def __call__(self, sentence: str) -> list[DrugMatch]:
        cue = medication_cue(sentence)
        out: list[DrugMatch] = []
        approximate: list[DrugMatch] = []
        unnamed: list[tuple[int, int]] = []  # everyday words spelled like a name, not used as one here
        for m in self.lexicon.find(sentence):
            if m.score >= 0.95:
                if not self.is_ambiguous(m.entry) or medication_cue_near(sentence, m.start, m.end):
                    out.append(m)
                else:
                    unnamed.append((m.start, m.end))
            else:
                approximate.append(m)
        if not self.bent(sentence):
            return out  # every word is a word of the language: nothing bent to read
        # an everyday word left out is not read as a neighbouring name either ("penicillin": penicilline v)
        taken = [(m.start, m.end) for m in out] + unnamed
        # (match, its spelling similarity, a marketed strength of it said right after it)
        proposals: list[tuple[DrugMatch, float, bool]] = []
        for m in approximate:
            spelling = self._plausible(sentence[m.start:m.end], m.entry, "fuzzy")
            if spelling:
                said = self._marketed_after(m.entry, sentence[m.end:])
                weighed = self._weigh(m.score / PHONETIC_SCORE, said)
                proposals.append((DrugMatch(m.entry, m.start, m.end, weighed, m.method), spelling, said))
        # id(candidate) -> its spelling similarity and whether a marketed strength of it is said right after it
        plausible: dict[int, tuple[float, bool]] = {}
        cands = self.index.candidates(sentence, k=50, cutoff=self.MIN_SIMILARITY - self.STRENGTH_BONUS,
                                      prefer_whole=False)
        for c in cands:
            if c.method == "exact" and " " not in c.heard.strip() and "-" not in c.heard and "'" not in c.heard:
                continue  # a single word spelled like a name: the lexicon's own match decides
            said = self._marketed_after(c.entry, sentence[c.end:])
            spelling = self._plausible(c.heard, c.entry, c.method, c.score, strength_said=said)
            if spelling:
                plausible[id(c)] = (spelling, said)
        # the whole bent word's name wins over a piece's among plausible readings only: an implausible whole
        # reading ("le lazilie" for some rare brand) does not hide the piece's (lazilie: Lasilix)
        for c in prefer_wholes([c for c in cands if id(c) in plausible]):
            spelling, said = plausible[id(c)]
            proposals.append((DrugMatch(c.entry, c.start, c.end, self._weigh(c.score, said), c.method), spelling,
                              said))
        proposals.sort(key=lambda p: (-p[0].score, -(p[0].end - p[0].start), p[0].start))
        for m, spelling, strength_said in proposals:
            if m.score < self.MIN_SIMILARITY or any(m.start < b and a < m.end for a, b in taken):
                continue
            one_word = len(_WORD.findall(sentence[m.start:m.end])) == 1
            if not cue and not strength_said and not (
                    one_word and spelling >= self.NO_CUE_SPELLING and self.index.is_common(m.entry)):
                # outside medication talk only one word, a common name spelled almost right ("amoxycillin"), or a
                # name followed by one of its marketed strengths ("Fos Fomisin 3g dans": the sentence went on in
                # the next turn)
                continue
            out.append(DrugMatch(m.entry, m.start, m.end, round(self.APPROXIMATE_SCORE * min(1.0, m.score), 4),
                                 m.method))
            taken.append((m.start, m.end))
        out.sort(key=lambda m: m.start)
        return out

    def _marketed_after(self, entry: DrugEntry, after: str) -> bool:
        """The strength said right after the name (``after``: the text that follows it) is one of its marketed
        strengths (BDPM)."""
        said = _strength_after(after)
        if said is None:
            return False
        return self.lexicon.is_marketed_strength(entry.name, said)

    def _weigh(self, similarity: float, strength_said: bool) -> float:
        """A reading's similarity, ``STRENGTH_BONUS`` more when a marketed strength of its name follows it."""
        return similarity + self.STRENGTH_BONUS if strength_said else similarity


def _read_keys(resource: str) -> frozenset[str]:
    """One key per line of a shipped text file (``#`` comments; gzip when the name ends in .gz)."""
    raw = read_packaged(resource)
    text = (gzip.decompress(raw) if resource.endswith(".gz") else raw).decode("utf-8")
    return frozenset(w.strip() for w in text.splitlines() if w.strip() and not w.startswith("#"))


@lru_cache(maxsize=1)
def _ambiguous_names() -> frozenset[str]:
    return _read_keys(AMBIGUOUS_RESOURCE)


@lru_cache(maxsize=1)
def _load_index() -> NameIndex:
    confusions: dict[str, dict[str, str]] = {}
    try:
        data = json.loads(gzip.decompress(read_packaged(CONFUSIONS_RESOURCE)).decode("utf-8"))
        confusions = {lang: dict(table) for lang, table in data.get("tables", {}).items()}
    except FileNotFoundError:
        log.warning("%s is not shipped: no learnt ASR confusions (scripts/build_confusions.py)", CONFUSIONS_RESOURCE)
    return NameIndex(DrugLexicon.load(), confusions, _read_keys(ORDINARY_RESOURCE), _read_keys(COMMON_RESOURCE))


__all__ = ["CUE_NEAR_WORDS", "MEDICATION_CUES", "DrugNameFinder", "NameCandidate", "NameIndex", "english_key",
           "medication_cue", "medication_cue_near", "ngrams", "spelling_similarity"]
