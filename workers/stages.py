"""The three heavy stages of the pipeline as plain classes (no Ray), each loading its model once.

``TranscriberStage`` (faster-whisper), ``DiariserStage`` (offline or pyannote) and ``ExtractorStage``
(speaker alignment, roles, medication extraction, report and FHIR bundle) are what the Ray actors of
:mod:`workers.ray_runner` hold; they are usable and testable without Ray. Transcriber and diariser read the
audio from its path themselves, so only the path goes to them and only small results (segments, speaker
turns, a few hundred kB of JSON) come back: no audio array travels through Ray's object store. On a cluster
the input files must therefore be on storage that every node sees at the same path (NFS, a shared volume).

A stage method never raises for a bad input: it returns a :class:`StageFailure` that says whether retrying
can help. Only Ray's own errors (a dead worker process) cross the process boundary as exceptions.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from consult.config import Settings
from consult.errors import ConsultError
from consult.interfaces import AsrResult
from schemas import ConsultationReport, ModelInfo, SpeakerTurn, StageTiming
from schemas.report import AudioInfo

log = logging.getLogger(__name__)

__all__ = [
    "DiariserStage",
    "Diarised",
    "ExtractorStage",
    "Finished",
    "StageFailure",
    "TranscriberStage",
    "Transcribed",
    "failure_from",
    "finish_report",
]


@dataclass(frozen=True)
class StageFailure:
    """A file that a stage could not process.

    ``retryable`` is False for errors that the same input would raise again (every ``ConsultError``: a corrupt,
    empty, too long or non-audio file, a stage that cannot handle this recording) and True for errors of the
    machine rather than of the file (out of memory, a CUDA error, a worker process that died).
    """

    stage: str
    error: str
    retryable: bool
    crashed: bool = False


@dataclass(frozen=True)
class Transcribed:
    info: AudioInfo
    asr: AsrResult
    models: list[ModelInfo]
    load_seconds: float
    seconds: float


@dataclass(frozen=True)
class Diarised:
    sha256: str
    turns: list[SpeakerTurn]
    models: list[ModelInfo]
    seconds: float


@dataclass(frozen=True)
class Finished:
    """A finished report, as the store keeps it: compact report JSON, FHIR bundle JSON and a summary."""

    report_id: str
    report_json: str
    bundle_json: str
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def audio_seconds(self) -> float:
        return float(self.summary.get("audio_seconds") or 0.0)

    @property
    def medications(self) -> int:
        return int(self.summary.get("medications") or 0)


def failure_from(stage: str, exc: BaseException) -> StageFailure:
    """The :class:`StageFailure` for an exception raised while ``stage`` processed a file."""
    if isinstance(exc, ConsultError):
        return StageFailure(stage, str(exc), retryable=False)
    first = (str(exc).strip().splitlines() or [""])[0][:300]
    log.error("%s: unexpected %s while processing a file", stage, type(exc).__name__, exc_info=exc)
    return StageFailure(stage, f"{stage}: unexpected {type(exc).__name__}: {first}", retryable=True)


def finish_report(report: ConsultationReport) -> Finished:
    """Report JSON, FHIR bundle JSON and the store's summary columns of one report."""
    from consult.fhir import build_bundle, bundle_json

    summary = {
        "language": report.language,
        "medications": len(report.medications),
        "needs_review": sum(m.needs_review for m in report.medications),
        "audio_seconds": report.audio.duration if report.audio is not None else 0.0,
    }
    return Finished(report.id, report.model_dump_json(), bundle_json(build_bundle(report)), summary)


def _settings(settings_json: Mapping[str, Any] | Settings) -> Settings:
    # Plain data that pickles anywhere, rebuilt here: the worker uses exactly the driver's settings (its own
    # environment variables are not read again).
    if isinstance(settings_json, Settings):
        return settings_json
    return Settings.model_validate(dict(settings_json))


class _Stage:
    stage = "stage"

    def ready(self) -> str:
        """Called once after construction: returns where this stage runs (host/pid), for logs."""
        return f"{socket.gethostname()}/{os.getpid()}"


class TranscriberStage(_Stage):
    """Loads the Whisper model once; ``transcribe(path)`` reads the file and transcribes it."""

    stage = "transcription"

    def __init__(self, settings_json: Mapping[str, Any] | Settings) -> None:
        from consult.backends.factory import build_transcriber

        self.settings = _settings(settings_json)
        self.transcriber = build_transcriber(self.settings)

    def transcribe(self, path: str, language: str | None = None) -> Transcribed | StageFailure:
        from consult.pipeline import load_for
        from consult.transcribe import transcribe_stage

        try:
            t0 = time.perf_counter()
            audio = load_for(self.settings, Path(path))
            t1 = time.perf_counter()
            asr = transcribe_stage(self.transcriber, self.settings, audio, None, language)
            return Transcribed(audio.info, asr, list(self.transcriber.model_info()), round(t1 - t0, 3),
                               round(time.perf_counter() - t1, 3))
        except Exception as exc:  # noqa: BLE001 - every error becomes this file's failure
            return failure_from(self.stage, exc)


class DiariserStage(_Stage):
    """Loads the diarisation models once; ``diarise(path)`` reads the file and finds who spoke when."""

    stage = "diarisation"

    def __init__(self, settings_json: Mapping[str, Any] | Settings) -> None:
        from consult.backends.factory import build_diariser

        self.settings = _settings(settings_json)
        self.diariser = build_diariser(self.settings)

    def diarise(self, path: str) -> Diarised | StageFailure:
        from consult.pipeline import diarise_stage, load_for

        try:
            audio = load_for(self.settings, Path(path))
            t0 = time.perf_counter()
            turns = diarise_stage(self.diariser, self.settings, audio, None)
            return Diarised(audio.info.sha256, turns, list(self.diariser.model_info()),
                            round(time.perf_counter() - t0, 3))
        except Exception as exc:  # noqa: BLE001
            return failure_from(self.stage, exc)


class ExtractorStage(_Stage):
    """Loads the medication extractor once; ``assemble`` turns both stages' results into the finished report."""

    stage = "extraction"

    def __init__(self, settings_json: Mapping[str, Any] | Settings) -> None:
        from consult.backends.factory import build_extractor

        self.settings = _settings(settings_json)
        self.extractor = build_extractor(self.settings)

    def assemble(self, transcribed: Transcribed, diarised: Diarised) -> Finished | StageFailure:
        from consult.pipeline import assemble_report

        try:
            if transcribed.info.sha256 != diarised.sha256:
                return StageFailure(self.stage, f"{transcribed.info.name}: the file changed while it was being "
                                    "processed; it will be read again", retryable=True)
            models = [*transcribed.models, *diarised.models, *self.extractor.model_info()]
            report = assemble_report(self.settings, transcribed.info, diarised.turns, transcribed.asr,
                                     self.extractor, models=models)
            timings = [StageTiming(stage="audio", seconds=transcribed.load_seconds),
                       StageTiming(stage="diarisation", seconds=diarised.seconds),
                       StageTiming(stage="transcription", seconds=transcribed.seconds), *report.timings]
            return finish_report(report.model_copy(update={"timings": timings}))
        except Exception as exc:  # noqa: BLE001
            return failure_from(self.stage, exc)
