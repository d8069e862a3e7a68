"""The speech stage: language, a plain first pass, a coverage check, and a contextual second pass for drug names.

1. **Language.** Forced by ``AsrOptions.language`` (``fr``/``en``) or ``--language``; with ``auto`` (the default) the
   model's language probabilities are averaged over up to three 30 s windows of the speech the VAD finds, and the
   file is English when English holds at least ``english_threshold`` of the French+English probability, else French
   (French-first: unsure means French). A file clearly in a third language (its top language above 0.5 and above
   French and English together) is transcribed in that language, with no drug pass. One language per file.
2. **First pass**: the recogniser as bare faster-whisper runs it (VAD, beam search, each window conditioned on the
   previous text, no initial prompt, no hotwords), so the transcript loses nothing that bare faster-whisper keeps.
   A long hotword prompt was measured to skip whole 30 s windows and to put drug names into speech that had none;
   the first pass has none.
3. **Coverage check**: every stretch the VAD calls speech (``coverage_min_s`` or longer) must be covered by words.
   An uncovered stretch is re-decoded on its own, without prompt; what it still does not give is named, with its
   times, in the report's warnings (``speech_gaps``). Silent loss of speech is the worst failure of this product.
4. **Second pass for drug names**: the stretches where a drug is likely - a medication cue near a word n-gram
   that sounds and is spelled like a lexicon name without being one (:class:`consult.extract.names.NameIndex`),
   with a word that is no word of the language or that the recogniser was unsure of - get at most
   ``second_pass_candidates`` names. With no prompt and one encoding of the clip, the recogniser scores (forced
   alignment) the window's first-pass text and that text with each name in place of the heard words. A name is
   put in only when it is close enough to what was heard (:func:`eligible`), the recogniser finds it about as
   probable as its first reading (``second_pass_margin``: a common name; ``second_pass_margin_rare``: any other)
   and clearly ahead of the other names (``second_pass_separation``). Every window scored, both readings and the
   choice go to the report (``asr_revisions``); speech with no medication cue is never touched.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from consult.config import AsrOptions, Settings
from consult.interfaces import AsrResult, ProgressHook, Transcriber
from schemas import AsrRevision, Segment, SpeechGap, Word

if TYPE_CHECKING:
    from consult.extract.lexicon import DrugEntry, DrugLexicon

log = logging.getLogger(__name__)

SR = 16_000
PAD_S = 0.3
"""Audio kept on each side of a re-decoded stretch or window."""
FIRST_PASS_SHARE = 0.9
"""Share of the speech stage's progress bar given to the first pass (the second pass has the rest)."""
CONTEXT_S = 2.5
"""Audio re-decoded on each side of the heard words in the second pass (the sentence around a name)."""


@dataclass(frozen=True)
class LanguageChoice:
    language: str
    probability: float
    forced: bool


def choose_language(probs: Mapping[str, float], *, english_threshold: float) -> LanguageChoice:
    """French or English from the model's language probabilities, French when unsure (see module doc)."""
    if not probs:
        return LanguageChoice("fr", 0.0, False)
    p_fr, p_en = float(probs.get("fr", 0.0)), float(probs.get("en", 0.0))
    top, p_top = max(probs.items(), key=lambda kv: kv[1])
    if top not in ("fr", "en") and p_top >= 0.5 and p_top > p_fr + p_en:
        return LanguageChoice(top, float(p_top), False)
    share_en = p_en / (p_fr + p_en) if p_fr + p_en > 0 else 0.0
    if share_en >= english_threshold:
        return LanguageChoice("en", share_en, False)
    return LanguageChoice("fr", 1.0 - share_en, False)


def resolve_language(transcriber: Transcriber, options: AsrOptions, audio: np.ndarray,
                     language: str | None = None) -> LanguageChoice:
    wanted = language or options.language
    if wanted != "auto":
        return LanguageChoice(wanted, 1.0, True)
    return choose_language(transcriber.detect_language(audio), english_threshold=options.english_threshold)


# -- coverage -----------------------------------------------------------------------------------------------

def uncovered(regions: Sequence[tuple[float, float]], segments: Sequence[Segment], *, min_s: float,
              tolerance: float = 0.25) -> list[tuple[float, float]]:
    """Sub-stretches of the speech ``regions`` at least ``min_s`` long that no word (widened by ``tolerance``)
    touches. Pure: words with no duration count from their start."""
    spans = sorted((w.start - tolerance, max(w.end, w.start) + tolerance) for s in segments for w in s.words)
    merged: list[list[float]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    gaps: list[tuple[float, float]] = []
    k = 0
    for rs, re_ in regions:
        pos = rs
        while k < len(merged) and merged[k][1] <= rs:
            k += 1
        j = k
        while j < len(merged) and merged[j][0] < re_:
            a, b = merged[j]
            if a - pos >= min_s:
                gaps.append((pos, a))
            pos = max(pos, b)
            j += 1
        if re_ - pos >= min_s:
            gaps.append((pos, re_))
    return gaps


def _shift(words: Sequence[Word], offset: float, origin: str) -> list[Word]:
    return [w.model_copy(update={"start": round(w.start + offset, 3), "end": round(w.end + offset, 3),
                                 "origin": origin}) for w in words]


def insert_words(segments: Sequence[Segment], words: Sequence[Word]) -> list[Segment]:
    """Put recovered ``words`` into the segment whose time span holds them (text rebuilt), or into a new segment
    of their own; segments stay in time order, renumbered."""
    if not words:
        return list(segments)
    mid = (words[0].start + words[-1].end) / 2
    out = list(segments)
    for i, seg in enumerate(out):
        if seg.start - 0.05 <= mid <= seg.end + 0.05:
            merged = sorted([*seg.words, *words], key=lambda w: (w.start, w.end))
            out[i] = seg.model_copy(update={"words": merged, "text": " ".join(w.text for w in merged),
                                            "start": min(seg.start, merged[0].start),
                                            "end": max(seg.end, merged[-1].end)})
            break
    else:
        out.append(Segment(id=0, start=words[0].start, end=max(w.end for w in words),
                           text=" ".join(w.text for w in words), words=list(words)))
    out.sort(key=lambda s: (s.start, s.end))
    return [s.model_copy(update={"id": i}) for i, s in enumerate(out)]


def fill_gaps(transcriber: Transcriber, audio: np.ndarray, segments: list[Segment], language: str,
              options: AsrOptions) -> tuple[list[Segment], list[SpeechGap]]:
    """Coverage check (module doc, 3): re-decode every uncovered speech stretch alone, without prompt."""
    regions = transcriber.speech_regions(audio)
    gaps = uncovered(regions, segments, min_s=options.coverage_min_s)
    records: list[SpeechGap] = []
    for a, b in gaps:
        lo, hi = max(0.0, a - PAD_S), min(len(audio) / SR, b + PAD_S)
        part = transcriber.transcribe(audio[int(lo * SR): int(hi * SR)], language=language, hotwords=None,
                                      vad_filter=False)
        words = [w for s in _shift_segments(part.segments, lo) for w in s.words
                 if a - PAD_S <= (w.start + w.end) / 2 <= b + PAD_S]
        existing = [w for s in segments for w in s.words]
        words = [w for w in words if not any(min(w.end, e.end) - max(w.start, e.start) > 0.5 * (w.end - w.start)
                                             for e in existing)]
        if words:
            segments = insert_words(segments, _shift(words, 0.0, "coverage"))
        records.append(SpeechGap(start=round(a, 3), end=round(b, 3), recovered_words=len(words)))
    if records:
        log.info("coverage check: %d uncovered speech stretch(es), %d recovered", len(records),
                 sum(1 for r in records if r.recovered_words))
    return segments, records


def _shift_segments(segments: Sequence[Segment], offset: float) -> list[Segment]:
    return [s.model_copy(update={"start": s.start + offset, "end": s.end + offset,
                                 "words": _shift(s.words, offset, "first_pass")}) for s in segments]


# -- second pass --------------------------------------------------------------------------------------------

CUE_WORDS = 10
"""A bent name is looked for only within this many words of a medication cue (consult.extract.names)."""


def word_spans(seg: Segment) -> list[tuple[int, int]]:
    """Char span of each word of ``seg`` in ``seg.text`` (its words joined by single spaces)."""
    spans, pos = [], 0
    for w in seg.words:
        idx = seg.text.find(w.text, pos)
        if idx < 0:
            idx = pos
        spans.append((idx, idx + len(w.text)))
        pos = idx + len(w.text)
    return spans


_EDGE_PUNCT = ".,;:!?…\"«»()"


@dataclass
class WordBlock:
    """A run of first-pass words with no pause over ``_BLOCK_GAP_S`` (ASR segment edges and punctuation ignored:
    "Ome Brazil. | till." is one bent name)."""

    words: list[tuple[int, int]]
    """(segment index, word index) of each word."""
    text: str
    spans: list[tuple[int, int]]


_BLOCK_GAP_S = 0.8
_EDGE_PUNCT = ".,;:!?…\"«»()"


def _blocks(segments: Sequence[Segment]) -> list[WordBlock]:
    blocks: list[WordBlock] = []
    cur: list[tuple[int, int]] = []
    last_end = -1e9
    for si, seg in enumerate(segments):
        for wi, w in enumerate(seg.words):
            if cur and w.start - last_end > _BLOCK_GAP_S:
                blocks.append(_block_of(cur, segments))
                cur = []
            cur.append((si, wi))
            last_end = max(last_end, w.end)
    if cur:
        blocks.append(_block_of(cur, segments))
    return blocks


def _block_of(refs: list[tuple[int, int]], segments: Sequence[Segment]) -> WordBlock:
    parts, spans, pos = [], [], 0
    for si, wi in refs:
        t = segments[si].words[wi].text.strip(_EDGE_PUNCT) or segments[si].words[wi].text
        spans.append((pos, pos + len(t)))
        parts.append(t)
        pos += len(t) + 1
    return WordBlock(refs, " ".join(parts), spans)


@dataclass(frozen=True)
class Reading:
    """One candidate name for the heard words ``first``..``last`` (indices in the block's words, inclusive)."""

    first: int
    last: int
    name: str
    """As written in the transcript (``spelled_in``)."""
    similarity: float
    common: bool
    spelling: float = 1.0
    """How closely the heard words are spelled like the name (:func:`consult.extract.names.spelling_similarity`)."""


@dataclass
class DrugWindow:
    """Heard words that may be a bent drug name, and the candidate readings for them and for overlapping
    stretches ("Ome Brazil." omeprazole and "Brazil. till." brisdelle are weighed against each other)."""

    block: WordBlock
    first: int
    last: int
    """The union of the readings' words (indices in ``block.words``, inclusive)."""
    readings: list[Reading]
    bent: bool = False
    """Some heard word is no word of the language ("profaine", "Moxisiline")."""
    unsure: float = 1.0
    """Lowest recogniser probability of the heard words."""

    @property
    def score(self) -> float:
        """Best similarity of a reading to its heard words (0-1)."""
        return max(r.similarity for r in self.readings)

    @property
    def candidates(self) -> list[str]:
        return list(dict.fromkeys(r.name for r in self.readings))


def drug_windows(segments: Sequence[Segment], language: str, options: AsrOptions, *,
                 cue_before: bool = False) -> list[DrugWindow]:
    """The first-pass stretches worth a second look for a drug name (module doc, 4), best first: word n-grams
    within ``CUE_WORDS`` words of a medication cue that sound like a lexicon name (NameIndex) where the extractor
    reads no name, and that hold a word of no language ("profaine"), or are several ordinary words heard with some
    doubt ("searcher line" for sertraline). Names glued from pieces ("a moxicillin") count. Overlapping stretches
    form one window with up to ``second_pass_candidates`` names per stretch.

    ``cue_before``: the words said just before ``segments`` (not given: live mode's buffer starts after the text
    it committed) held a medication cue; it counts as a cue right before the first block ("... un comprimé matin
    et soir." then the buffer's "Et le cardégi que midi")."""
    from consult.extract.lexicon import DrugLexicon
    from consult.extract.names import MEDICATION_CUES, NameIndex, spelling_similarity
    from consult.extract.posology import posology_word
    from consult.extract.stopwords import STOPWORDS
    from consult.extract.text import key_of

    cue = MEDICATION_CUES.get(language)
    if cue is None:
        return []
    index = NameIndex.load()
    lexicon = DrugLexicon.load()
    out: list[DrugWindow] = []
    for n_block, block in enumerate(_blocks(segments)):
        lead = cue_before and n_block == 0
        if not lead and not cue.search(block.text):
            continue
        cue_at = [k for k, (a, b) in enumerate(block.spans) if cue.fullmatch(block.text[a:b])
                  or cue.match(block.text[a:])] + ([-1] if lead else [])
        exact = [(m.start, m.end) for m in lexicon.find(block.text) if m.score >= 0.95]
        dose_words = [posology_word(segments[si].words[wi].text) for si, wi in block.words]
        stretches: dict[tuple[int, int], list[Reading]] = {}
        facts: dict[tuple[int, int], tuple[bool, float]] = {}
        for cand in index.candidates(block.text, k=200, language=language, prefer_whole=False,
                                     cutoff=options.second_pass_min_similarity):
            if any(a < cand.end and cand.start < b for a, b in exact):
                continue  # the extractor already reads a name there
            idx = [j for j, (a, b) in enumerate(block.spans) if a < cand.end and cand.start < b]
            if not idx:
                continue
            if not any(abs(k - idx[0]) <= CUE_WORDS or abs(k - idx[-1]) <= CUE_WORDS for k in cue_at):
                continue  # no medication talk around these words
            if any(dose_words[j] for j in idx):
                continue  # a name never takes the place of a number, unit, form or schedule word ("Voilà, une")
            words = [segments[si].words[wi] for si, wi in (block.words[j] for j in idx)]
            unsure = min(w.probability for w in words)
            bent = any(key_of(w.text) not in index.ordinary and key_of(w.text) not in STOPWORDS for w in words)
            glued = cand.method == "exact"
            if not bent and not glued and (len(idx) == 1 or unsure > options.second_pass_max_probability):
                continue  # one ordinary word, or ordinary words heard with confidence
            key = (idx[0], idx[-1])
            readings = stretches.setdefault(key, [])
            name = spelled_in(cand.entry, language, lexicon)
            if len(readings) < options.second_pass_candidates and all(r.name != name for r in readings):
                readings.append(Reading(idx[0], idx[-1], name, round(cand.score, 4), index.is_common(cand.entry),
                                        round(spelling_similarity(cand.heard, cand.entry, cand.method), 4)))
                facts[key] = (bent or glued, unsure)
        # overlapping stretches -> one window
        for key in sorted(stretches):
            lo, hi = key
            merged = next((w for w in out if w.block is block and w.first <= hi and lo <= w.last), None)
            bent, unsure = facts[key]
            if merged is None:
                out.append(DrugWindow(block, lo, hi, list(stretches[key]), bent, unsure))
            else:
                merged.first, merged.last = min(merged.first, lo), max(merged.last, hi)
                merged.readings.extend(stretches[key])
                merged.bent = merged.bent or bent
                merged.unsure = min(merged.unsure, unsure)
    out.sort(key=lambda w: (-w.score, -any(r.common for r in w.readings)))
    return out


def spelled_in(entry: DrugEntry, language: str, lexicon: DrugLexicon) -> str:
    """How a candidate is written in the transcript: a brand as the brand (capitalised), a substance in the file's
    language ("paracetamol" in English, "paracétamol" in French)."""
    from consult.extract.text import key_of

    surface = entry.surface
    if entry.kind == "brand" and surface.islower():
        return surface[:1].upper() + surface[1:]  # a brand is written with its capital: "Kardegic"
    if entry.kind == "brand" or key_of(surface) != key_of(entry.name):
        return surface
    return lexicon.name_in(entry.name, language)


_ELIDED = re.compile(r"^([lLdD]['’])")
_TRAILING = re.compile(r"[.,;:!?…]+$")


def spellings(name: str, heard: str) -> list[str]:
    """The ways a candidate ``name`` may be written in place of the ``heard`` words: with the case of the heard
    words' first letter (a brand keeps its capital), their trailing punctuation, and, when they began with an elided
    article, also with it ("l'homé-prasole" -> "oméprazole", "l'oméprazole")."""
    m = _ELIDED.match(heard)
    tail = _TRAILING.search(heard)
    punct = tail.group(0) if tail else ""
    first = heard[len(m.group(1)):][:1] if m else heard[:1]
    base = name[:1].upper() + name[1:] if first.isupper() or name[:1].isupper() else name
    forms = [base + punct]
    if m and not name.lower().startswith(m.group(1)[0].lower() + "'"):
        forms.append(m.group(1) + base + punct)
    return forms


@dataclass(frozen=True)
class Scored:
    """A reading's best spelling and its log-probability."""

    reading: Reading
    form: str
    logprob: float


@dataclass
class ScoredWindow:
    """A window's readings scored by the recogniser (:func:`score_window`)."""

    refs: list[tuple[int, int]]
    """(segment, word) of every word of the clip, in order."""
    words: dict[tuple[int, int], str]
    """Their text."""
    block_refs: list[tuple[int, int]]
    """(segment, word) of the block's words, by block index."""
    start: float
    end: float
    heard: str
    first_text: str
    clip_seconds: float
    first_logprob: float = 0.0
    best: dict[str, Scored] = field(default_factory=dict)
    """candidate name -> its most probable reading."""

    def ranked(self) -> list[Scored]:
        return sorted(self.best.values(), key=lambda x: -x.logprob)

    def text_with(self, reading: Reading, form: str) -> str:
        """The clip's text with ``form`` in place of ``reading``'s heard words."""
        lo, hi = self.block_refs[reading.first], self.block_refs[reading.last]
        return " ".join([*(self.words[r] for r in self.refs if r < lo), form,
                         *(self.words[r] for r in self.refs if r > hi)])

    def name_share(self, name: str) -> float:
        """Softmax share of ``name``'s reading among the candidate names' readings: how sure the recogniser is that
        this name, rather than another candidate, was said (the probability of a name the second pass puts in)."""
        values = [x.logprob for x in self.best.values() if math.isfinite(x.logprob)]
        target = self.best[name].logprob
        if not values or not math.isfinite(target):
            return 0.0
        peak = max(values)
        return math.exp(target - peak) / sum(math.exp(v - peak) for v in values)


def eligible(reading: Reading, options: AsrOptions) -> bool:
    """Whether a reading sounds close enough to its heard words to be put in (:func:`decide`); a name that is not
    commonly prescribed must be spelled close to them too (a phonetic key alone is loose: "tarax" and doryx)."""
    if reading.common:
        return reading.similarity >= options.second_pass_similarity
    return (reading.similarity >= options.second_pass_similarity_rare
            and reading.spelling >= options.second_pass_spelling_rare)


def score_window(transcriber: Transcriber, audio: np.ndarray, segments: Sequence[Segment], win: DrugWindow,
                 language: str, options: AsrOptions | None = None) -> ScoredWindow:
    """The log-probability, under the recogniser with no prompt, of the window's first-pass text and of that text
    with each reading (in each of its :func:`spellings`) in place of its heard words: one encoding of the clip,
    one forced alignment per reading. With ``options``, only the :func:`eligible` readings are scored (the others
    cannot be put in)."""
    readings = [r for r in win.readings if options is None or eligible(r, options)]
    span = win.block.words[win.first: win.last + 1]
    t0 = segments[span[0][0]].words[span[0][1]].start
    t1 = max(segments[si].words[wi].end for si, wi in span)
    refs = [(si, wi) for si, wi in win.block.words
            if segments[si].words[wi].end >= t0 - CONTEXT_S and segments[si].words[wi].start <= t1 + CONTEXT_S]
    words = {ref: segments[ref[0]].words[ref[1]].text for ref in refs}
    duration = len(audio) / SR
    lo = max(0.0, segments[refs[0][0]].words[refs[0][1]].start - PAD_S)
    hi = min(duration, max(segments[si].words[wi].end for si, wi in refs) + PAD_S, lo + 30.0)
    scored = ScoredWindow(refs=refs, words=words, block_refs=list(win.block.words), start=t0, end=t1,
                          heard=" ".join(words[ref] for ref in span), first_text=" ".join(words[r] for r in refs),
                          clip_seconds=hi - lo)
    variants: list[tuple[Reading, str]] = []
    for r in readings:
        heard = " ".join(words[ref] for ref in win.block.words[r.first: r.last + 1])
        variants.extend((r, form) for form in spellings(r.name, heard))
    texts = [scored.first_text] + [scored.text_with(r, form) for r, form in variants]
    scores = transcriber.score_texts(audio[int(lo * SR): int(hi * SR)], texts, language=language)
    scored.first_logprob = scores[0]
    for (r, form), sc in zip(variants, scores[1:], strict=True):
        if r.name not in scored.best or sc > scored.best[r.name].logprob:
            scored.best[r.name] = Scored(r, form, sc)
    return scored


def decide(scored: ScoredWindow, options: AsrOptions) -> tuple[Scored | None, str]:
    """The reading that replaces its heard words (None: the first reading stays), and why.

    Eligible names sound close to the heard words: ``second_pass_similarity`` for a commonly prescribed name (the
    prior), ``second_pass_similarity_rare`` for any other. The most probable eligible name is kept when the
    recogniser finds the window with it at most ``second_pass_margin`` (common) or ``second_pass_margin_rare``
    nats less probable than its own first reading, and at least ``second_pass_separation`` nats more probable
    than the next eligible name."""
    ranked = [x for x in scored.ranked() if eligible(x.reading, options)]
    if not ranked:
        return None, "no candidate name sounds close enough to the heard words"
    top = ranked[0]
    margin = options.second_pass_margin if top.reading.common else options.second_pass_margin_rare
    if not math.isfinite(top.logprob) or top.logprob < scored.first_logprob - margin:
        return None, "the first reading is more probable than any candidate name"
    if len(ranked) > 1 and top.logprob < ranked[1].logprob + options.second_pass_separation:
        return None, f"two candidate names are about as probable ({top.reading.name}, {ranked[1].reading.name})"
    return top, (("a common name" if top.reading.common else "a name") + " the recogniser finds about as probable "
                 "as its first reading, clearly more than the other candidates")


def second_pass(transcriber: Transcriber, audio: np.ndarray, segments: list[Segment], language: str,
                options: AsrOptions, hook: ProgressHook | None = None, *,
                cue_before: bool = False) -> tuple[list[Segment], list[AsrRevision]]:
    """Contextual second pass (module doc, 4). Returns the segments (accepted names spliced in) and a record of
    every window tried. ``cue_before``: see :func:`drug_windows`."""
    windows = drug_windows(segments, language, options, cue_before=cue_before)
    if not windows:
        return segments, []
    duration = len(audio) / SR
    budget = max(options.second_pass_max_share * duration, 3 * (2 * CONTEXT_S + 2.0))
    spent = 0.0
    revisions: list[AsrRevision] = []
    replaced: dict[tuple[int, int], Word] = {}
    """(segment, word) of the first word of an accepted span -> the name that replaces the span."""
    removed: set[tuple[int, int]] = set()
    for n, win in enumerate(windows):
        if spent >= budget:
            break
        if not any(eligible(r, options) for r in win.readings):
            continue  # no name there sounds close enough to be put in: not worth the recogniser's time
        scored = score_window(transcriber, audio, segments, win, language, options)
        spent += scored.clip_seconds
        chosen, reason = decide(scored, options)
        top = chosen or scored.ranked()[0]
        posterior = scored.name_share(top.reading.name)
        revisions.append(AsrRevision(
            start=round(scored.start, 3), end=round(scored.end, 3), heard=scored.heard, first=scored.first_text,
            second=scored.text_with(top.reading, top.form), candidates=list(scored.best),
            chosen=chosen.reading.name if chosen is not None else None,
            scores={c: round(x.logprob, 3) for c, x in scored.best.items()},
            first_logprob=round(scored.first_logprob, 3), second_logprob=round(top.logprob, 3),
            probability=round(posterior, 4), accepted=chosen is not None, reason=reason))
        if hook:
            hook("transcription", FIRST_PASS_SHARE + (1 - FIRST_PASS_SHARE) * (n + 1) / len(windows))
        if chosen is None:
            continue
        span = win.block.words[top.reading.first: top.reading.last + 1]
        span_words = [segments[si].words[wi] for si, wi in span]
        replaced[span[0]] = Word(text=top.form, start=span_words[0].start, end=max(w.end for w in span_words),
                                 probability=round(posterior, 4), origin="second_pass")
        removed.update(span)
    log.info("second pass: %d window(s) scored (%.1f s of audio), %d name(s) kept", len(revisions), spent,
             sum(r.accepted for r in revisions))
    if not replaced:
        return segments, revisions
    out: list[Segment] = []
    for si, seg in enumerate(segments):
        words: list[Word] = []
        for wi, w in enumerate(seg.words):
            if (si, wi) in replaced:
                words.append(replaced[(si, wi)])
            elif (si, wi) not in removed:
                words.append(w)
        if words:
            out.append(seg.model_copy(update={"words": words, "text": " ".join(w.text for w in words),
                                              "start": min(seg.start, words[0].start),
                                              "end": max(seg.end, max(w.end for w in words))}))
    return out, revisions


# -- the stage ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SpeechStage(AsrResult):
    """What the speech stage gives the report: the transcript and how it was obtained."""

    language_forced: bool = False
    revisions: list[AsrRevision] = field(default_factory=list)
    gaps: list[SpeechGap] = field(default_factory=list)


def transcribe_stage(transcriber: Transcriber, settings: Settings, audio: object, hook: ProgressHook | None = None,
                     language: str | None = None, *,
                     on_language: Callable[[str], None] | None = None) -> SpeechStage:
    """Language, first pass, coverage check and second pass (module doc) on ``audio`` (a consult.audio.Audio or a
    16 kHz float32 array). ``language`` overrides ``settings.asr.language``. ``on_language`` is told the language
    as soon as it is decided, before the first pass (the pipeline starts loading what extraction needs)."""
    o = settings.asr
    samples = audio if isinstance(audio, np.ndarray) else audio.samples  # type: ignore[attr-defined]
    choice = resolve_language(transcriber, o, samples, language)
    if on_language is not None:
        on_language(choice.language)

    def first_hook(stage: str, fraction: float) -> None:  # the first pass is 0-90 % of the stage's progress
        if hook is not None:
            hook(stage, FIRST_PASS_SHARE * fraction)

    first = transcriber.transcribe(samples, language=choice.language, hook=first_hook if hook else None,
                                   hotwords=None)
    segments = list(first.segments)
    gaps: list[SpeechGap] = []
    revisions: list[AsrRevision] = []
    if o.coverage_check and segments is not None:
        segments, gaps = fill_gaps(transcriber, samples, segments, choice.language, o)
    if o.second_pass and choice.language in ("fr", "en"):
        segments, revisions = second_pass(transcriber, samples, segments, choice.language, o, hook)
    segments = [s.model_copy(update={"id": i}) for i, s in enumerate(segments)]
    if hook:
        hook("transcription", 1.0)
    return SpeechStage(
        segments=segments, language=choice.language,
        language_probability=choice.probability if not choice.forced else first.language_probability,
        duration=first.duration, dropped=dict(first.dropped), language_forced=choice.forced,
        revisions=revisions, gaps=gaps)


def stage_warnings(result: AsrResult) -> list[str]:
    """The report warnings of the speech stage: dropped and trimmed segments, speech still lost."""
    from consult.outputs import format_mmss

    warnings: list[str] = []
    counts = dict(result.dropped)
    trimmed = counts.pop("trimmed_loop", 0)
    counts.pop("untimed_words_kept", 0)
    dropped = sum(counts.values())
    if dropped:
        reasons = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in sorted(counts.items()))
        warnings.append(f"{dropped} transcript segment(s) dropped as likely hallucinations ({reasons})")
    if trimmed:
        warnings.append(f"{trimmed} transcript segment(s) cut where the recogniser started repeating itself")
    lost = [g for g in getattr(result, "gaps", []) if g.recovered_words == 0]
    if lost:
        spans = ", ".join(f"{format_mmss(g.start)}-{format_mmss(g.end)}" for g in lost[:10])
        more = f" and {len(lost) - 10} more" if len(lost) > 10 else ""
        warnings.append(f"speech without transcript at {spans}{more}: listen to these moments "
                        f"({sum(g.end - g.start for g in lost):.1f} s in all)")
    return warnings


__all__ = ["DrugWindow", "LanguageChoice", "Reading", "Scored", "ScoredWindow", "SpeechStage", "WordBlock",
           "choose_language", "decide", "drug_windows", "eligible", "fill_gaps", "insert_words", "resolve_language",
           "score_window", "second_pass", "spelled_in", "spellings", "stage_warnings", "transcribe_stage",
           "uncovered", "word_spans"]
