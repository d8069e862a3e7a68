"""Run consult over many files with Ray: one long-lived actor per worker, models loaded once per actor.

``PipelineWorker`` is a plain class (usable and testable without Ray): it builds a
:class:`consult.pipeline.Pipeline` once in ``__init__`` and processes one file per call.
:func:`run_batch` wraps it in Ray actors, keeps exactly one file in flight per actor, and turns a crashed
worker into a failed :class:`~consult.pipeline.FileOutcome` for the file it was processing only: the dead
actor is replaced and the rest of the batch goes on.

Ray is either started here (an embedded, local, dashboard-free instance that is shut down at the end) or,
with ``address=`` or ``$RAY_ADDRESS``, joined. On a remote cluster every node must have consult installed
in the Python environment its workers use; on this machine the source tree of the running consult is put
on the workers' ``PYTHONPATH``.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import sysconfig
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from consult.config import Settings
from consult.errors import ConsultError
from consult.pipeline import FileOutcome, Pipeline, process_file

logger = logging.getLogger(__name__)

__all__ = ["PipelineWorker", "WorkerStartError", "run_batch"]

# Shared memory for Ray's object store. Only paths and small FileOutcome records travel through it, so
# a small store is plenty; the default (30% of RAM) fails or warns on containers with a small /dev/shm.
_OBJECT_STORE_BYTES = 128 * 1024 * 1024


class WorkerStartError(ConsultError):
    """A Ray worker could not be started (its Pipeline failed to load, or the cluster lacks resources)."""


class PipelineWorker:
    """Holds one loaded :class:`Pipeline` and processes files with it, one per call.

    ``settings_json`` is ``Settings.model_dump(mode="json")``: plain data that pickles anywhere, rebuilt
    here with ``model_validate`` so the worker uses exactly the driver's settings (its own environment
    variables are not read again).
    """

    def __init__(self, settings_json: Mapping[str, Any]) -> None:
        settings = Settings.model_validate(dict(settings_json))
        self._pipeline = Pipeline(settings)

    def process(self, path: str, out_root: str) -> FileOutcome:
        """Process one file into ``out_root/<stem>/``. Never raises for a bad input (see ``process_file``)."""
        return process_file(self._pipeline, Path(path), Path(out_root))

    def __call__(self, path: str, out_root: str) -> FileOutcome:
        return self.process(path, out_root)


def _source_roots() -> list[str]:
    """Folders holding the imported consult/schemas/workers packages, unless they live in site-packages.

    A source checkout that is not pip-installed is importable in the driver (from its working directory
    or ``sys.path``) but not necessarily in a Ray worker, whose working directory is Ray's; putting these
    folders on the workers' ``PYTHONPATH`` makes both cases behave the same.
    """
    site_dirs = {
        os.path.realpath(p) for key in ("purelib", "platlib") if (p := sysconfig.get_paths().get(key))
    }
    roots: list[str] = []
    for name in ("consult", "schemas", "workers"):
        module = sys.modules.get(name)
        file = getattr(module, "__file__", None)
        if not file:
            continue
        root = os.path.realpath(os.path.dirname(os.path.dirname(file)))
        if root not in site_dirs and root not in roots:
            roots.append(root)
    return roots


def _runtime_env() -> dict[str, Any]:
    roots = _source_roots()
    if not roots:
        return {}
    existing = os.environ.get("PYTHONPATH")
    pythonpath = os.pathsep.join([*roots, *([existing] if existing else [])])
    return {"env_vars": {"PYTHONPATH": pythonpath}}


def _start_ray(address: str | None, *, num_cpus: int, log_to_driver: bool) -> bool:
    """Connect to or start Ray. Returns True when this call initialised Ray (and so must shut it down)."""
    import ray

    if ray.is_initialized():
        logger.info("Ray already initialised by the caller: reusing it")
        return False
    # Ray's anonymous usage statistics: off unless the user explicitly turned them on.
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    common: dict[str, Any] = {
        "runtime_env": _runtime_env(),
        # consult is a library: never install handlers; Ray's own loggers propagate to the root logger.
        "configure_logging": False,
        "log_to_driver": log_to_driver,
    }
    if address:
        logger.info("Connecting to the Ray cluster at %s", address)
        ray.init(address=address, **common)
    else:
        logger.info("Starting an embedded Ray instance with %d CPU slot(s)", num_cpus)
        ray.init(
            address="local",  # never silently join a cluster that happens to run on this machine
            num_cpus=num_cpus,
            include_dashboard=False,
            object_store_memory=_OBJECT_STORE_BYTES,
            **common,
        )
    return True


def _check_resources(workers: int, num_cpus: float, num_gpus: float) -> None:
    """Fail fast where an actor could never be placed (Ray would otherwise wait forever)."""
    import ray

    available = ray.cluster_resources()
    for name, per_worker in (("CPU", num_cpus), ("GPU", num_gpus)):
        have = float(available.get(name, 0.0))
        if per_worker > have:
            raise WorkerStartError(
                f"each worker asks for {per_worker:g} {name} but this Ray instance has {have:g}; "
                f"lower num_{name.lower()}s_per_worker (0 for CPU-only) or run on a machine that has them"
            )
    logger.debug("Ray resources: %s for %d worker(s)", available, workers)


def _failed(path: Path, error: str, seconds: float) -> FileOutcome:
    return FileOutcome(path=str(path), ok=False, out_dir=None, error=error, seconds=seconds)


def _last_line(exc: BaseException) -> str:
    """The final line of a Ray error, which names the original exception (``ImportError: ...``)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__


def _crash_message(exc: BaseException) -> str:
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return (
        f"worker crashed while processing this file ({type(exc).__name__}: {first_line}); "
        "it was skipped and the worker replaced. A process that dies hard is usually out of memory "
        "or a native library crash: see Ray's worker logs (/tmp/ray/session_latest/logs)."
    )


def run_batch(
    paths: Sequence[Path],
    out_root: Path,
    settings: Settings,
    *,
    workers: int = 1,
    address: str | None = None,
    num_cpus_per_worker: float = 1,
    num_gpus_per_worker: float = 0,
    on_result: Callable[[FileOutcome], None] | None = None,
    log_to_driver: bool = False,
    worker_cls: type[PipelineWorker] = PipelineWorker,
) -> list[FileOutcome]:
    """Process ``paths`` with ``workers`` Ray actors; return one outcome per path, in input order.

    Each actor loads the models once and processes one file at a time. ``on_result`` is called in the
    driver as each file finishes (completion order), e.g. to advance a progress bar. A file whose worker
    dies (hard crash, out of memory) gets a failed outcome and the actor is replaced; an actor that cannot
    even load its Pipeline raises :class:`WorkerStartError`, since every other worker would fail the same
    way. ``worker_cls`` exists for tests (a subclass of :class:`PipelineWorker`).

    Ray is started locally unless ``address`` (or ``$RAY_ADDRESS``) names a cluster, or Ray is already
    initialised in this process; it is shut down at the end only if this call started it.
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    if num_cpus_per_worker < 0 or num_gpus_per_worker < 0:
        raise ValueError("num_cpus_per_worker and num_gpus_per_worker must be >= 0")
    paths = [Path(p) for p in paths]
    if not paths:
        return []
    duplicated = [stem for stem, n in Counter(p.stem for p in paths).items() if n > 1]
    if duplicated:
        logger.warning(
            "%d file stem(s) appear more than once; their outputs share out_root/<stem>/ and overwrite "
            "each other: %s",
            len(duplicated),
            ", ".join(sorted(duplicated)[:5]),
        )

    import ray
    from ray.exceptions import RayActorError

    n_actors = min(workers, len(paths))
    address = address or os.environ.get("RAY_ADDRESS") or None
    started = _start_ray(
        address,
        num_cpus=max(1, math.ceil(n_actors * num_cpus_per_worker)),
        log_to_driver=log_to_driver,
    )
    remote_cls = ray.remote(worker_cls).options(
        num_cpus=num_cpus_per_worker,
        num_gpus=num_gpus_per_worker,
        # No automatic restarts or retries: a file that kills its worker (native crash, OOM) would kill
        # the restarted one too, and a retried task would rerun a slow file for nothing. We replace the
        # actor ourselves and report that one file as failed.
        max_restarts=0,
        max_task_retries=0,
    )
    settings_json = settings.model_dump(mode="json")
    out_root_str = str(out_root)
    outcomes: list[FileOutcome | None] = [None] * len(paths)
    pending: dict[Any, tuple[Any, int, float]] = {}  # ObjectRef -> (actor, index, start time)
    actors: list[Any] = []
    next_index = 0

    def new_actor() -> Any:
        actor = remote_cls.remote(settings_json)
        actors.append(actor)
        return actor

    def submit(actor: Any) -> None:
        nonlocal next_index
        if next_index >= len(paths):
            return
        index = next_index
        next_index += 1
        ref = actor.process.remote(str(paths[index]), out_root_str)
        pending[ref] = (actor, index, time.perf_counter())

    try:
        if started and not address:
            _check_resources(n_actors, num_cpus_per_worker, num_gpus_per_worker)
        for _ in range(n_actors):
            submit(new_actor())
        while pending:
            [ref], _ = ray.wait(list(pending), num_returns=1)
            actor, index, t0 = pending.pop(ref)
            try:
                outcome: FileOutcome = ray.get(ref)
            except RayActorError as exc:
                if exc.actor_init_failed:
                    raise WorkerStartError(
                        f"a Ray worker could not load the pipeline ({_last_line(exc)}); fix the "
                        "settings or the installation (full traceback chained below)"
                    ) from exc
                logger.error("worker died on file #%d (%s); replacing it", index, type(exc).__name__)
                outcome = _failed(paths[index], _crash_message(exc), time.perf_counter() - t0)
                ray.kill(actor, no_restart=True)
                actors.remove(actor)
                actor = new_actor()
            except ray.exceptions.RayError as exc:
                # An exception escaped process() (process_file should prevent that) or Ray lost the
                # result: this file fails, the actor is still alive and takes the next file.
                cause = getattr(exc, "cause", None) or exc
                logger.error("file #%d failed in Ray (%s)", index, type(cause).__name__)
                message = (str(cause).strip().splitlines() or [""])[0]
                outcome = _failed(
                    paths[index], f"{type(cause).__name__}: {message}", time.perf_counter() - t0
                )
            outcomes[index] = outcome
            if on_result is not None:
                on_result(outcome)
            submit(actor)
    finally:
        for actor in actors:
            ray.kill(actor, no_restart=True)
        if started:
            ray.shutdown()

    done = [o for o in outcomes if o is not None]
    if len(done) != len(paths):  # pragma: no cover - the loop above fills every slot
        raise RuntimeError("run_batch lost track of some files")
    return done
