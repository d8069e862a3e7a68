"""Evaluation helpers: WER (jiwer) with a documented normaliser, DER (pyannote.metrics), medication scores.

Text normaliser (French and English): lower case; ``’`` -> ``'``; elisions split (``l'amoxicilline`` ->
``l amoxicilline``); hyphens -> spaces; punctuation removed; digits kept as digits (so "trente-neuf" vs
"39" counts as an error: numbers are compared as said, which is what a clinician reads); whitespace collapsed.

DER: ``pyannote.metrics.diarization.DiarizationErrorRate`` with ``collar`` = total forgiveness collar in
seconds around each reference boundary (pyannote's convention: collar=0.5 forgives ±0.25 s), overlapped
speech scored. Needs ``pyannote.metrics`` (installed with the ``pyannote`` or ``test`` extra).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import Path

from schemas import SpeakerTurn

_PUNCT = re.compile(r"[^\w\s']", re.UNICODE)


def normalise_text(text: str) -> str:
    t = unicodedata.normalize("NFC", text).lower().replace("’", "'").replace("‘", "'")
    t = re.sub(r"(\w)-(\w)", r"\1 \2", t)
    t = _PUNCT.sub(" ", t)
    t = re.sub(r"\b(\w+)'(?=\w)", r"\1 ", t)  # elisions: l'amox -> l amox, qu'est -> qu est
    t = t.replace("'", " ")
    return " ".join(t.split())


def wer(reference: str, hypothesis: str) -> float:
    import jiwer

    ref = normalise_text(reference)
    hyp = normalise_text(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    return float(jiwer.wer(ref, hyp))


def read_rttm(path: Path | str) -> list[SpeakerTurn]:
    turns = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) >= 8 and parts[0] == "SPEAKER":
            start, dur = float(parts[3]), float(parts[4])
            turns.append(SpeakerTurn(speaker=parts[7], start=start, end=start + dur))
    return turns


def _annotation(turns: Iterable[SpeakerTurn]):  # type: ignore[no-untyped-def]
    from pyannote.core import Annotation, Segment

    ann = Annotation()
    for i, t in enumerate(turns):
        if t.end > t.start:
            ann[Segment(t.start, t.end), i] = t.speaker
    return ann


def der(reference: Sequence[SpeakerTurn], hypothesis: Sequence[SpeakerTurn], *, collar: float = 0.5,
        uem: tuple[float, float] | None = None) -> float:
    """Diarisation error rate (0-1+). ``collar`` is pyannote's total collar (0.5 = ±0.25 s)."""
    from pyannote.core import Segment, Timeline
    from pyannote.metrics.diarization import DiarizationErrorRate

    metric = DiarizationErrorRate(collar=collar, skip_overlap=False)
    kwargs = {}
    if uem is not None:
        kwargs["uem"] = Timeline([Segment(*uem)])
    return float(metric(_annotation(reference), _annotation(hypothesis), **kwargs))
