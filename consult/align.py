"""Assign diarisation speakers to ASR words, word by word, and split segments at speaker changes.

Pure functions over schemas (no model). A word takes the speaker whose turn overlaps it most (the whisperX
idea, without mutating dicts); a word that overlaps no turn takes the nearest turn's speaker within
``max_gap`` seconds, else stays unassigned. Words with a degenerate timing (end <= start, as Whisper gives
for some numbers) get a timing interpolated between their neighbours first.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Sequence

from schemas import Segment, SpeakerTurn, Word


def interpolate_word_times(words: Sequence[Word], seg_start: float, seg_end: float) -> list[Word]:
    """Give words with no usable timing (end <= start) a span between their timed neighbours."""
    out = list(words)
    n = len(out)
    i = 0
    while i < n:
        if out[i].end > out[i].start:
            i += 1
            continue
        j = i
        while j < n and out[j].end <= out[j].start:
            j += 1
        left = out[i - 1].end if i > 0 else seg_start
        right = out[j].start if j < n else max(seg_end, left)
        if right < left:
            right = left
        step = (right - left) / (j - i) if j > i else 0.0
        for k in range(i, j):
            s = left + step * (k - i)
            e = s + step if step > 0 else s + 0.01
            out[k] = out[k].model_copy(update={"start": round(s, 3), "end": round(e, 3),
                                               "interpolated": True})
        i = j
    return out


def speaker_for_span(start: float, end: float, turns: Sequence[SpeakerTurn], starts: Sequence[float],
                     max_gap: float = 1.0) -> str | None:
    """Speaker of the turn overlapping [start, end] most; nearest turn within max_gap otherwise."""
    if not turns:
        return None
    hi = bisect_left(starts, end)
    overlap: Counter[str] = Counter()
    # turns are sorted by start; look back over the turns that may still cover the span
    for k in range(hi - 1, -1, -1):
        t = turns[k]
        ov = min(end, t.end) - max(start, t.start)
        if ov > 0:
            overlap[t.speaker] += ov  # type: ignore[assignment]  # typeshed: Counter holds int; floats work
        if t.end < start - 30.0:  # turns longer than 30 s are rare: stop scanning far back
            break
    if overlap:
        return overlap.most_common(1)[0][0]
    best, best_d = None, max_gap
    for k in (hi - 1, hi):
        if 0 <= k < len(turns):
            t = turns[k]
            d = max(t.start - end, start - t.end, 0.0)
            if d <= best_d:
                best, best_d = t.speaker, d
    return best


def assign_speakers(segments: Sequence[Segment], turns: Sequence[SpeakerTurn],
                    *, max_gap: float = 1.0) -> list[Segment]:
    """Return new segments: each word gets a speaker; segments are split where the speaker changes.

    Segment ids are renumbered 0..n-1 in time order; segment speaker is its words' speaker.
    """
    sorted_turns = sorted(turns, key=lambda t: (t.start, t.end))
    starts = [t.start for t in sorted_turns]
    out: list[Segment] = []
    for seg in segments:
        words = interpolate_word_times(seg.words, seg.start, seg.end)
        labelled = [
            w.model_copy(update={"speaker": speaker_for_span(w.start, w.end, sorted_turns, starts, max_gap)})
            for w in words
        ]
        if not labelled:
            continue
        labelled = snap_to_sentences(labelled)
        run: list[Word] = [labelled[0]]
        for w in labelled[1:]:
            if w.speaker != run[-1].speaker:
                out.append(_segment_of(run, seg))
                run = [w]
            else:
                run.append(w)
        out.append(_segment_of(run, seg))
    return [s.model_copy(update={"id": i}) for i, s in enumerate(out)]


_SENTENCE_END = (".", "?", "!", "…")


def snap_to_sentences(words: list[Word], *, max_shift: int = 2, max_seconds: float = 1.0) -> list[Word]:
    """Move a speaker change that falls one or two words away from a sentence end onto it.

    Diarisation turn edges are often late or early by a word ("... pour trois mois. Et | pour le
    cholestérol"): when the words between the change and the nearest sentence end (., ?, !) within
    ``max_shift`` words last less than ``max_seconds``, they take the speaker of the sentence they belong
    to. A change with no sentence end nearby is left where the timing put it."""
    out = list(words)
    i = 1
    while i < len(out):
        if out[i].speaker == out[i - 1].speaker or out[i].speaker is None or out[i - 1].speaker is None:
            i += 1
            continue
        if out[i - 1].text.endswith(_SENTENCE_END):
            i += 1
            continue
        best: int | None = None
        for shift in range(1, max_shift + 1):
            for j in (i - shift, i + shift):  # new change position: words[j - 1] ends a sentence
                if 1 <= j < len(out) and out[j - 1].text.endswith(_SENTENCE_END):
                    lo, hi = min(i, j), max(i, j)
                    if out[hi - 1].end - out[lo].start <= max_seconds and best is None:
                        best = j
            if best is not None:
                break
        if best is None:
            i += 1
            continue
        if best < i:  # words best..i-1 belong to the next sentence: the new speaker's
            for k in range(best, i):
                out[k] = out[k].model_copy(update={"speaker": out[i].speaker})
        else:  # words i..best-1 end the previous speaker's sentence
            for k in range(i, best):
                out[k] = out[k].model_copy(update={"speaker": out[i - 1].speaker})
        i = max(best, i) + 1
    return out


def _segment_of(words: list[Word], parent: Segment) -> Segment:
    return Segment(
        id=0,
        start=words[0].start,
        end=max(w.end for w in words),
        text=" ".join(w.text for w in words),
        speaker=words[0].speaker,
        words=words,
        avg_logprob=parent.avg_logprob,
        no_speech_prob=parent.no_speech_prob,
    )


def turns_from_segments(segments: Sequence[Segment]) -> list[tuple[str | None, float, float, list[Segment]]]:
    """Group consecutive segments of the same speaker into speaker turns (for transcripts)."""
    groups: list[tuple[str | None, float, float, list[Segment]]] = []
    for seg in segments:
        if groups and groups[-1][0] == seg.speaker:
            spk, s, _, segs = groups[-1]
            groups[-1] = (spk, s, seg.end, [*segs, seg])
        else:
            groups.append((seg.speaker, seg.start, seg.end, [seg]))
    return groups
