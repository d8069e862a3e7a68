"""consult's exceptions.

Hierarchy::

    ConsultError                 base of everything consult raises on purpose
    ├── AudioError               the input is missing, empty, corrupt, not audio, or too long
    ├── ModelLoadError           a model could not be found or loaded (path, package, back-end)
    ├── StageError               a pipeline stage failed on valid input (carries the stage name)
    ├── ExtractionError          a transcript could not be read for extraction
    └── FhirError                the FHIR bundle could not be built or does not validate

Third-party errors are translated at the adapter (``raise AudioError(...) from exc``); messages say what
to do next.
"""

from __future__ import annotations


class ConsultError(Exception):
    """Base class of consult's errors."""


class AudioError(ConsultError):
    """The audio input cannot be used (missing, empty, corrupt, not audio, too long)."""


class ModelLoadError(ConsultError):
    """A model could not be resolved or loaded."""


class StageError(ConsultError):
    """A pipeline stage failed."""

    def __init__(self, stage: str, message: str) -> None:
        super().__init__(f"{stage}: {message}")
        self.stage = stage


class ExtractionError(ConsultError):
    """A transcript could not be parsed for extraction."""


class FhirError(ConsultError):
    """The FHIR bundle could not be built or failed validation."""
