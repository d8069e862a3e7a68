"""Medication lines extracted from a consultation, each grounded in the transcript.

Units follow UCUM where one applies (``mg``, ``g``, ``ug``, ``mL``, ``[iU]``, ``[drp]``, ...);
countable forms (tablets, capsules, puffs, sachets) keep a form word as unit
(``comprimé``, ``gélule``, ``tablet``, ``puff``) and ``ucum`` is then ``{tbl}``-style annotation or null.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas._base import Frozen

MedicationStatus = Literal["new", "renewed", "changed", "stopped", "mentioned"]
"""new: prescribed now; renewed: continued/renewed; changed: dose or posology modified;
stopped: the doctor stops it; mentioned: talked about only (already taken, asked about, ruled out)."""

PeriodUnit = Literal["h", "d", "wk", "mo"]
DurationUnit = Literal["h", "d", "wk", "mo"]

# FHIR Timing.repeat.when codes (http://hl7.org/fhir/event-timing): MORN, NOON, AFT, EVE, NIGHT, HS
# (at bedtime), WAKE, C (with a meal), AC (before a meal), PC (after a meal), ACM/ACD/ACV, PCM/PCD/PCV.
WhenCode = Literal[
    "MORN", "NOON", "AFT", "EVE", "NIGHT", "HS", "WAKE", "C", "AC", "PC",
    "ACM", "ACD", "ACV", "CM", "CD", "CV", "PCM", "PCD", "PCV",
]


class Evidence(Frozen):
    """Where a value came from: a span of one transcript segment, and its audio time."""

    segment_id: int | None = Field(default=None, description="Segment index in the report (or line).")
    char_start: int = Field(ge=0, description="Start offset in the segment text.")
    char_end: int = Field(ge=0, description="End offset (exclusive) in the segment text.")
    text: str = Field(description="The exact words of the span, as transcribed.")
    start: float | None = Field(default=None, ge=0, description="Audio start time (s), if audio.")
    end: float | None = Field(default=None, ge=0, description="Audio end time (s), if audio.")
    speaker: str | None = None
    asr_probability: float | None = Field(
        default=None, ge=0, le=1, description="Lowest ASR word probability inside the span."
    )


class Quantity(Frozen):
    """A numeric value with a unit; ``value_high`` is set for ranges ("un à deux")."""

    value: float
    value_high: float | None = None
    unit: str = Field(description="Unit as normalised: UCUM code or a form word (comprimé, puff).")
    ucum: bool = Field(default=False, description="True when ``unit`` is a UCUM code.")


class Duration(Frozen):
    """A length of time (treatment duration, supply, minimum interval); ``value_high`` for ranges."""

    value: float = Field(gt=0)
    value_high: float | None = None
    unit: DurationUnit


class Frequency(Frozen):
    """``count`` intakes every ``period`` ``period_unit`` (FHIR timing.repeat)."""

    count: int = Field(ge=1)
    count_max: int | None = Field(default=None, description="Upper bound for ranges (2-3 x/day).")
    period: float = Field(gt=0)
    period_unit: PeriodUnit


class MedicationLine(Frozen):
    """One medication as heard in the consultation: a prescription draft line."""

    id: str = Field(description="Stable id within the report (med-1, med-2...).")
    drug_text: str = Field(description="The drug as said (transcript words).")
    name: str = Field(description="Normalised name (substance/INN, or specialty name).")
    atc: str | None = Field(default=None, description="ATC code when known.")
    cis: str | None = Field(default=None, description="French CIS code of the matched specialty.")
    strength: Quantity | None = None
    dose: Quantity | None = Field(default=None, description="Amount per intake.")
    form: str | None = None
    route: str | None = None
    frequency: Frequency | None = None
    when: list[WhenCode] = Field(default_factory=list, description="Times of day (FHIR codes).")
    duration: Duration | None = None
    as_needed: bool = False
    as_needed_condition: str | None = None
    max_per_day: Quantity | None = None
    max_per_intake: Quantity | None = Field(default=None, description="Maximum per intake (\"2 at most\").")
    min_interval: Duration | None = Field(
        default=None, description="Minimum time between two intakes (\"au moins 6 heures entre deux prises\")."
    )
    quantity_for: Duration | None = Field(
        default=None, description="Supply to dispense, as a duration (QSP, \"quantité suffisante pour 3 mois\")."
    )
    renewals: int | None = Field(default=None, ge=0, description="Number of renewals (refills) allowed.")
    single_dose: bool = Field(
        default=False,
        description="One intake only, not repeated (\"en une seule prise\", \"as a single dose\"); FHIR "
        "timing.repeat.count 1. Times of day said with it (\"le soir au coucher\") say when, not a daily frequency.",
    )
    status: MedicationStatus = "new"
    sig: str = Field(default="", description="Verbatim posology text (the sentence(s) said).")
    confidence: float = Field(ge=0, le=1)
    needs_review: bool = Field(default=False, description="True when a field is low-confidence.")
    review_reasons: list[str] = Field(default_factory=list)
    evidence: Evidence = Field(description="Evidence of the drug mention.")
    field_evidence: dict[str, Evidence] = Field(
        default_factory=dict, description="Evidence per field (strength, dose, frequency...)."
    )
