"""Transcript records: words, segments and speaker turns.

Times are seconds from the start of the (normalised, 16 kHz mono) audio.
"""

from __future__ import annotations

from pydantic import Field

from schemas._base import Frozen


class Word(Frozen):
    """One recognised word with its timing and the speaker it was assigned to."""

    text: str = Field(description="The word as recognised, with its leading space stripped.")
    start: float = Field(ge=0, description="Start time in seconds.")
    end: float = Field(ge=0, description="End time in seconds.")
    probability: float = Field(ge=0, le=1, description="ASR word probability (0-1).")
    speaker: str | None = Field(default=None, description="Speaker id (e.g. SPEAKER_00) or null.")
    interpolated: bool = Field(
        default=False, description="True when the timing was interpolated (no ASR timestamp)."
    )


class Segment(Frozen):
    """A stretch of speech by one speaker (an ASR segment split at speaker changes)."""

    id: int = Field(ge=0, description="Index of the segment in the report.")
    start: float = Field(ge=0)
    end: float = Field(ge=0)
    text: str = Field(description="Text of the segment: its words joined by single spaces.")
    speaker: str | None = Field(default=None, description="Majority speaker of the words.")
    words: list[Word] = Field(default_factory=list)
    avg_logprob: float | None = None
    no_speech_prob: float | None = None


class SpeakerTurn(Frozen):
    """A diarisation turn: who spoke when (RTTM line)."""

    speaker: str
    start: float = Field(ge=0)
    end: float = Field(ge=0)

    @property
    def duration(self) -> float:
        return max(0.0, self.end - self.start)
