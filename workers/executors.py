"""The executor a batch runs on, created on first need: one home for ``consult run``, ``consult watch`` and
``consult api``.

:class:`LazyExecutor` is the ``get_executor(n_jobs)`` of :func:`workers.batch.run_jobs`: no model is loaded
while every job is already done; the first call with work builds an in-process executor (one pipeline in this
process) or a Ray executor (worker lanes on an embedded or existing cluster), kept until :meth:`close`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from consult.config import Settings
from workers.tasks import Executor

__all__ = ["ExecutorOptions", "LazyExecutor"]


@dataclass(frozen=True)
class ExecutorOptions:
    """Where files are processed: ``in_process`` (no Ray), else Ray with ``workers`` lanes on ``ray_address``
    (None: an embedded local Ray) asking ``cpus_per_worker`` and ``gpus_per_worker`` each."""

    in_process: bool = False
    workers: int = 1
    ray_address: str | None = None
    cpus_per_worker: float = 1.0
    gpus_per_worker: float | None = None


class LazyExecutor:
    """``get_executor`` for :func:`workers.batch.run_jobs`: builds the executor on the first call, then returns it.

    ``single_in_process``: a batch of one file without a cluster stays in this process (``consult run``), and
    the Ray lanes never outnumber the jobs. ``file_hook(name)``: progress hook per file (in-process only).
    """

    def __init__(self, settings: Settings, options: ExecutorOptions, *, single_in_process: bool = False,
                 file_hook: Callable[[str], Any] | None = None) -> None:
        self.settings = settings
        self.options = options
        self.single_in_process = single_in_process
        self.file_hook = file_hook
        self.executor: Executor | None = None

    def __call__(self, n_jobs: int) -> Executor:
        if self.executor is None:
            o = self.options
            in_process = o.in_process or (self.single_in_process and n_jobs <= 1 and not o.ray_address)
            if in_process:
                from workers.tasks import InProcessExecutor

                hook = self.file_hook if n_jobs <= 1 or not self.single_in_process else None
                self.executor = InProcessExecutor(self.settings, file_hook=hook)
            else:
                from workers.ray_runner import RayExecutor

                lanes = max(1, min(o.workers, n_jobs) if self.single_in_process else o.workers)
                executor = RayExecutor(self.settings, workers=lanes, address=o.ray_address,
                                       cpus_per_worker=o.cpus_per_worker, gpus_per_worker=o.gpus_per_worker)
                executor.start()
                self.executor = executor
        return self.executor

    def close(self) -> None:
        if self.executor is not None:
            self.executor.close()
            self.executor = None
