"""What an executor is given (a :class:`Task`: one file) and gives back (a :class:`TaskResult`), and the
in-process executor: the plain sequential loop, no Ray.

An executor pulls tasks with ``next_task()`` (``None``: nothing more for now) and reports each file once with
``on_result(result)``, in completion order; ``next_task`` may return tasks again after having returned
``None`` (a failed file queued for another attempt by ``on_result``), so executors call it until it returns
``None`` while nothing is in flight. The driver (:mod:`workers.batch` with the report store, or
:func:`workers.ray_runner.run_batch` without) decides what a result means.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from consult.config import Settings
from workers.stages import Finished, StageFailure, failure_from, finish_report

__all__ = ["Executor", "InProcessExecutor", "Task", "TaskResult"]


@dataclass(frozen=True)
class Task:
    """One file to process; ``key`` identifies it for the driver (a job id)."""

    key: str
    path: str


@dataclass(frozen=True)
class TaskResult:
    key: str
    path: str
    finished: Finished | None
    failure: StageFailure | None
    seconds: float

    @property
    def ok(self) -> bool:
        return self.finished is not None


NextTask = Callable[[], "Task | None"]
OnResult = Callable[[TaskResult], None]


class Executor(Protocol):
    name: str

    def run(self, next_task: NextTask, on_result: OnResult) -> None: ...

    def close(self) -> None: ...


class InProcessExecutor:
    """One :class:`consult.pipeline.Pipeline` in this process, one file after the other.

    A file that crashes the process (segfault, kernel OOM kill) takes the batch down with it; the report store
    still resumes it (``consult run`` again), but only Ray workers isolate such a file from the others.
    ``file_hook(name)`` may return a progress hook for each file (an object with ``__call__(stage, fraction)``
    and ``close()``), e.g. the per-stage bar of a single-file ``consult run``.
    """

    name = "in-process"

    def __init__(self, settings: Settings, *, file_hook: Callable[[str], Any] | None = None) -> None:
        from consult.pipeline import Pipeline

        self.settings = settings
        self.pipeline = Pipeline(settings)
        self.file_hook = file_hook

    def run(self, next_task: NextTask, on_result: OnResult) -> None:
        while (task := next_task()) is not None:
            t0 = time.perf_counter()
            hook = self.file_hook(Path(task.path).name) if self.file_hook is not None else None
            try:
                report = self.pipeline.process(Path(task.path), hook=hook)
                result = TaskResult(task.key, task.path, finish_report(report), None, time.perf_counter() - t0)
            except Exception as exc:  # noqa: BLE001 - the file fails, the loop goes on
                result = TaskResult(task.key, task.path, None, failure_from("pipeline", exc),
                                    time.perf_counter() - t0)
            finally:
                if hook is not None:
                    hook.close()
            on_result(result)

    def close(self) -> None:
        """Nothing to release (the models go with the object)."""
