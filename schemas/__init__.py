"""consult's data contract: frozen pydantic v2 records, JSON Schema exportable."""

from schemas.medication import (
    Duration,
    Evidence,
    Frequency,
    MedicationLine,
    MedicationStatus,
    Quantity,
)
from schemas.report import (
    SCHEMA_VERSION,
    AudioInfo,
    ConsultationReport,
    ModelInfo,
    ReviewDecision,
    Speaker,
    StageTiming,
)
from schemas.transcript import AsrRevision, Segment, SpeakerTurn, SpeechGap, Word

__all__ = [
    "SCHEMA_VERSION",
    "AsrRevision",
    "AudioInfo",
    "ConsultationReport",
    "Duration",
    "Evidence",
    "Frequency",
    "MedicationLine",
    "MedicationStatus",
    "ModelInfo",
    "Quantity",
    "ReviewDecision",
    "Segment",
    "Speaker",
    "SpeakerTurn",
    "SpeechGap",
    "StageTiming",
    "Word",
]
