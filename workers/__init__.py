"""Batch processing: per-stage Ray actors, the in-process loop, store-backed batches and the watch folder.

``import workers`` is cheap: ray, the models and the store are imported on first use of a name below.

- :mod:`workers.stages`: transcriber, diariser and extractor stages as plain classes (what the actors hold).
- :mod:`workers.tasks`: ``Task``/``TaskResult`` and the ``InProcessExecutor`` (no Ray).
- :mod:`workers.ray_runner`: ``RayExecutor`` (per-stage actor pools), ``run_batch`` (Ray, no store).
- :mod:`workers.batch`: ``run_jobs``: jobs in the report store, resume after a crash, outputs, progress bar.
- :mod:`workers.watch`: ``Watcher``: INBOX -> OUTBOX for integrators.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workers.batch import (
        BatchProgress,
        JobDirExporter,
        JobOutcome,
        StemExporter,
        export_outputs,
        recover_interrupted,
        run_jobs,
    )
    from workers.ray_runner import RayExecutor, StageResources, WorkerStartError, default_resources, run_batch
    from workers.stages import DiariserStage, ExtractorStage, StageFailure, TranscriberStage
    from workers.tasks import InProcessExecutor, Task, TaskResult
    from workers.watch import Watcher

_WHERE = {
    "BatchProgress": "batch",
    "JobDirExporter": "batch",
    "JobOutcome": "batch",
    "StemExporter": "batch",
    "export_outputs": "batch",
    "recover_interrupted": "batch",
    "run_jobs": "batch",
    "RayExecutor": "ray_runner",
    "StageResources": "ray_runner",
    "WorkerStartError": "ray_runner",
    "default_resources": "ray_runner",
    "run_batch": "ray_runner",
    "DiariserStage": "stages",
    "ExtractorStage": "stages",
    "StageFailure": "stages",
    "TranscriberStage": "stages",
    "InProcessExecutor": "tasks",
    "Task": "tasks",
    "TaskResult": "tasks",
    "Watcher": "watch",
}

__all__ = [
    "BatchProgress",
    "DiariserStage",
    "ExtractorStage",
    "InProcessExecutor",
    "JobDirExporter",
    "JobOutcome",
    "RayExecutor",
    "StageFailure",
    "StageResources",
    "StemExporter",
    "Task",
    "TaskResult",
    "TranscriberStage",
    "Watcher",
    "WorkerStartError",
    "default_resources",
    "export_outputs",
    "recover_interrupted",
    "run_batch",
    "run_jobs",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'workers' has no attribute {name!r}")
    return getattr(importlib.import_module(f"workers.{module}"), name)
