"""Narrow interfaces of the heavy stages. Back-ends implement them; the pipeline only sees these."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from schemas import MedicationLine, ModelInfo, Segment, SpeakerTurn
from schemas.report import Role

ProgressHook = Callable[[str, float], None]
"""``hook(stage, fraction_done)``; fraction in [0, 1]."""


@dataclass(frozen=True)
class AsrResult:
    segments: list[Segment]
    language: str
    language_probability: float | None
    duration: float
    dropped: dict[str, int] = field(default_factory=dict)
    """Segments the hallucination guards dropped or trimmed, per reason (counts only: no text)."""


@runtime_checkable
class Transcriber(Protocol):
    def transcribe(
        self,
        audio: np.ndarray,
        *,
        language: str | None,
        hook: ProgressHook | None = None,
        hotwords: str | None = None,
        vad_filter: bool | None = None,
    ) -> AsrResult: ...

    def detect_language(self, audio: np.ndarray) -> dict[str, float]:
        """Language code -> probability on the speech of ``audio`` (empty: no speech)."""
        ...

    def speech_regions(self, audio: np.ndarray) -> list[tuple[float, float]]:
        """Speech stretches (s) the transcript must cover."""
        ...

    def score_texts(self, audio: np.ndarray, texts: list[str], *, language: str) -> list[float]:
        """Log-probability of each text as the transcript of ``audio`` (<= 30 s), with no prompt."""
        ...

    def model_info(self) -> list[ModelInfo]: ...


@runtime_checkable
class Diariser(Protocol):
    def diarise(
        self,
        audio: np.ndarray,
        *,
        num_speakers: int | None = None,
        min_speakers: int = 1,
        max_speakers: int = 4,
        hook: ProgressHook | None = None,
    ) -> list[SpeakerTurn]: ...

    def model_info(self) -> list[ModelInfo]: ...


@runtime_checkable
class MedicationExtractor(Protocol):
    def extract(
        self,
        segments: Sequence[Segment],
        *,
        roles: Mapping[str, Role],
        language: str,
        role_confidence: Mapping[str, float] | None = None,
    ) -> list[MedicationLine]:
        """Medication lines of ``segments``; ``role_confidence``: speaker -> how sure diarisation and role detection
        are of that speaker's role (0-1; a speaker not in it counts as sure): evidence, not a veto."""
        ...

    def model_info(self) -> list[ModelInfo]: ...
