"""Narrow interfaces of the heavy stages. Back-ends implement them; the pipeline only sees these."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
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


@runtime_checkable
class Transcriber(Protocol):
    def transcribe(
        self,
        audio: np.ndarray,
        *,
        language: str | None,
        hook: ProgressHook | None = None,
        hotwords: str | None = None,
    ) -> AsrResult: ...

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
    ) -> list[MedicationLine]: ...

    def model_info(self) -> list[ModelInfo]: ...
