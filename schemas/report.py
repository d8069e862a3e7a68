"""The ConsultationReport: everything consult produced for one audio file."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from schemas._base import Frozen
from schemas.medication import MedicationLine
from schemas.transcript import AsrRevision, Segment, SpeakerTurn, SpeechGap

SCHEMA_VERSION = "1.0"

Role = Literal["doctor", "patient", "unknown"]


class AudioInfo(Frozen):
    name: str = Field(description="File name of the input (no directory).")
    sha256: str = Field(description="SHA-256 of the input file bytes.")
    duration: float = Field(ge=0, description="Duration in seconds.")
    sample_rate: int = Field(gt=0, description="Sample rate of the input file.")
    channels: int = Field(ge=1, description="Channels of the input file.")


class TextSource(Frozen):
    """The input when it was a text transcript (``consult extract``) rather than a recording."""

    name: str = Field(description="File name of the transcript (no directory).")
    sha256: str = Field(description="SHA-256 of the transcript bytes.")
    lines: int = Field(ge=0, description="Number of transcript lines (segments) read.")


class Speaker(Frozen):
    id: str
    role: Role = "unknown"
    role_score: float = Field(default=0.0, description="Doctor-likeness score used for the role.")
    role_confidence: float | None = Field(
        default=None, ge=0, le=1,
        description="How sure the role is (0-1; 1 when set by --doctor-speaker); null in reports written "
                    "before it was computed.")
    speech_seconds: float = Field(default=0.0, ge=0)


class ModelInfo(Frozen):
    stage: str = Field(description="asr, vad, diarisation, embedding, extraction...")
    name: str
    version: str


class StageTiming(Frozen):
    stage: str
    seconds: float = Field(ge=0)


class ConsultationReport(Frozen):
    """Draft produced by consult. Every medication line is a draft until a clinician approves it."""

    schema_version: str = SCHEMA_VERSION
    id: str = Field(description="Job id: derived from the audio sha256 and the settings.")
    created_at: datetime
    audio: AudioInfo | None = Field(default=None, description="The recording; None for a text transcript.")
    text_source: TextSource | None = Field(default=None, description="The transcript, for text input.")
    language: str
    language_probability: float | None = None
    speakers: list[Speaker] = Field(default_factory=list)
    turns: list[SpeakerTurn] = Field(default_factory=list)
    segments: list[Segment] = Field(default_factory=list)
    medications: list[MedicationLine] = Field(default_factory=list)
    timings: list[StageTiming] = Field(default_factory=list)
    models: list[ModelInfo] = Field(default_factory=list)
    settings: dict[str, Any] = Field(default_factory=dict, description="Settings used.")
    warnings: list[str] = Field(default_factory=list)
    asr_revisions: list[AsrRevision] = Field(
        default_factory=list, description="Windows re-decoded for drug names: both readings and the choice."
    )
    speech_gaps: list[SpeechGap] = Field(
        default_factory=list, description="Speech the first pass left without words, and what its re-decode gave."
    )

    def role_of(self, speaker: str | None) -> Role:
        for s in self.speakers:
            if s.id == speaker:
                return s.role
        return "unknown"


Decision = Literal["approved", "rejected", "pending"]


class ReviewDecision(Frozen):
    """A reviewer's decision on one medication line; ``line`` holds the edited line if edited."""

    line_id: str
    decision: Decision
    line: MedicationLine | None = Field(default=None, description="Edited line, when edited.")
    reviewer: str | None = None
    at: datetime | None = None
    comment: str | None = None
    ald: bool = Field(
        default=False,
        description="The reviewer marks the line as treating the patient's ALD (affection de longue durée, "
                    "the exempting long-term condition covered at 100 %): the French ordonnance prints it in the "
                    "upper zone of the bizone layout and the FHIR MedicationRequest says so.")
