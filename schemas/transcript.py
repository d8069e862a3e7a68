"""Transcript records: words, segments and speaker turns.

Times are seconds from the start of the (normalised, 16 kHz mono) audio.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas._base import Frozen

WordOrigin = Literal["first_pass", "coverage", "second_pass"]


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
    origin: WordOrigin = Field(
        default="first_pass",
        description="first_pass: the recogniser's plain decode; coverage: recovered by re-decoding speech the first "
                    "pass left without words; second_pass: a drug name put in place of bent words by the contextual "
                    "second pass because the recogniser finds it probable there (ConsultationReport.asr_revisions).",
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


class AsrRevision(Frozen):
    """One window of the contextual second pass for drug names: the first pass's reading, the candidate names
    proposed for the words it heard there, the model's log-probability of the window's text with each of them
    spliced in, and whether a name replaced the heard words. Log-probabilities are the recogniser's own, with no
    prompt, over the whole window (forced alignment)."""

    start: float = Field(ge=0)
    end: float = Field(ge=0)
    heard: str = Field(description="The first-pass words the candidates were proposed for.")
    first: str = Field(description="The window as the first pass heard it.")
    second: str = Field(description="The window with the chosen (or the most probable) candidate spliced in.")
    candidates: list[str] = Field(
        default_factory=list, description="Candidate names scored (those that sound close enough), best match first."
    )
    chosen: str | None = Field(default=None, description="The name put in place of the heard words (None: kept).")
    scores: dict[str, float] = Field(
        default_factory=dict, description="Log-probability of the window's text with each candidate spliced in."
    )
    first_logprob: float | None = None
    second_logprob: float | None = Field(default=None, description="Log-probability of ``second``.")
    probability: float | None = Field(
        default=None, ge=0, le=1,
        description="Share of the chosen (or most probable) name among the candidate names' readings (softmax of "
                    "their log-probabilities): how sure the recogniser is of this name rather than another. It is "
                    "the probability of the word put in.",
    )
    accepted: bool
    reason: str


class SpeechGap(Frozen):
    """A stretch the voice activity detector calls speech that the first pass left without words."""

    start: float = Field(ge=0)
    end: float = Field(ge=0)
    recovered_words: int = Field(ge=0, description="Words the re-decode of the stretch alone gave (0: still lost).")
