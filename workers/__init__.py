"""Batch processing with Ray: the only package of consult that imports ray.

``import workers`` is cheap: ray and the pipeline are imported on first use of a name below.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workers.ray_runner import PipelineWorker, WorkerStartError, run_batch

__all__ = ["PipelineWorker", "WorkerStartError", "run_batch"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from workers import ray_runner

        return getattr(ray_runner, name)
    raise AttributeError(f"module 'workers' has no attribute {name!r}")
