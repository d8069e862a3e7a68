"""Ray executor: one pool of actors per heavy stage, so diarisation of one file overlaps transcription of another.

Each "worker" (``workers=N``) is a lane of one :class:`~workers.stages.TranscriberStage` actor and one
:class:`~workers.stages.DiariserStage` actor; ``extractors`` :class:`~workers.stages.ExtractorStage` actors
(default 1) serve all lanes. Every actor loads its model once. For each file the driver sends the *path* to a
free transcriber and a free diariser (each reads the audio itself), then hands both results (small: segments and
speaker turns) as object references to a free extractor, which aligns speakers, assigns
roles, extracts medications and returns the report and FHIR bundle as JSON. A diariser that finishes early
takes the next file while the transcriber is still on the previous one. Each actor has at most one task at a
time, so a dying actor takes only the file it was processing with it.

Ray is either started here (embedded, ``address="local"``, no dashboard UI, usage statistics off, stopped
by :meth:`RayExecutor.close`) or joined with ``address=`` / ``$RAY_ADDRESS``. On a cluster every node needs
consult installed (the source tree of the running consult is put on the local workers' ``PYTHONPATH``) and
the audio files at the same path (shared storage): actors read them from disk.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import sysconfig
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from consult.config import Settings
from consult.errors import ConsultError
from workers.stages import (
    Diarised,
    DiariserStage,
    ExtractorStage,
    Finished,
    StageFailure,
    Transcribed,
    TranscriberStage,
)
from workers.tasks import NextTask, OnResult, Task, TaskResult

logger = logging.getLogger(__name__)

__all__ = ["STAGES", "RayExecutor", "StageResources", "WorkerStartError", "default_resources", "run_batch"]

STAGES = ("transcriber", "diariser", "extractor")
_METHOD = {"transcriber": "transcribe", "diariser": "diarise", "extractor": "assemble"}
_DEFAULT_CLASSES: dict[str, type] = {
    "transcriber": TranscriberStage,
    "diariser": DiariserStage,
    "extractor": ExtractorStage,
}

# Shared memory for Ray's object store. Only paths, segments, speaker turns and report JSON travel through it,
# so a small store is plenty; the default (30% of RAM) fails or warns on containers with a small /dev/shm.
_OBJECT_STORE_BYTES = 128 * 1024 * 1024
# A stage whose fresh actors die this many times in a row before finishing their start-up (loading the model)
# stops the batch: every other replacement would die the same way.
_MAX_STARTUP_DEATHS = 3


class WorkerStartError(ConsultError):
    """Ray workers could not be started (a model failed to load, or the cluster lacks the resources)."""


@dataclass(frozen=True)
class StageResources:
    """What one actor of a stage asks Ray for (logical resources: Ray schedules with them, it does not
    limit the threads a model uses)."""

    num_cpus: float
    num_gpus: float = 0.0


def _on_gpu(device: str, gpu_available: bool) -> bool:
    return device == "cuda" or (device == "auto" and gpu_available)


def default_resources(settings: Settings, *, cpus_per_worker: float = 1.0, gpus_per_worker: float | None = None,
                      gpu_available: bool = False) -> dict[str, StageResources]:
    """Per-stage requests for one worker lane.

    A lane's ``cpus_per_worker`` is split evenly between its transcriber and diariser. A stage whose device is
    ``cuda`` (or ``auto`` on a cluster with GPUs) also asks for a share of ``gpus_per_worker`` (default 0.5: two
    lanes per GPU; lower it to pack more lanes on a large GPU): all of it when only one stage is on the GPU,
    half each when both are. The extractor asks for nothing: it takes milliseconds (rules) to a fraction of a
    second (tagger) per file and must never keep a lane from being placed.
    """
    if cpus_per_worker < 0 or (gpus_per_worker is not None and gpus_per_worker < 0):
        raise ValueError("cpus_per_worker and gpus_per_worker must be >= 0")
    asr_gpu = _on_gpu(settings.asr.device, gpu_available)
    diar_gpu = _on_gpu(settings.diarisation.device, gpu_available)
    gpus = (0.5 if asr_gpu or diar_gpu else 0.0) if gpus_per_worker is None else gpus_per_worker
    share = 0.5 if asr_gpu and diar_gpu else 1.0
    return {
        "transcriber": StageResources(cpus_per_worker / 2, gpus * share if asr_gpu else 0.0),
        "diariser": StageResources(cpus_per_worker / 2, gpus * share if diar_gpu else 0.0),
        "extractor": StageResources(0.0, 0.0),
    }


def _source_roots() -> list[str]:
    """Folders holding the imported consult/schemas/workers packages, unless they live in site-packages.

    A source checkout that is not pip-installed is importable in the driver (from its working directory or
    ``sys.path``) but not necessarily in a Ray worker, whose working directory is Ray's; putting these folders
    on the workers' ``PYTHONPATH`` makes both cases behave the same.
    """
    site_dirs = {os.path.realpath(p) for key in ("purelib", "platlib") if (p := sysconfig.get_paths().get(key))}
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
    return {"env_vars": {"PYTHONPATH": os.pathsep.join([*roots, *([existing] if existing else [])])}}


_SINGLE_MACHINE_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


def _single_machine_ray() -> Callable[[], None]:
    """Make the next embedded Ray listen on 127.0.0.1 only; returns what undoes it (once Ray has started).

    Ray binds its servers (GCS, raylets, workers, dashboard and runtime-env agents) to the node's address, and
    ``ray.init`` turns a loopback ``_node_ip_address`` into the machine's routable address; in its single-machine
    mode (``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``, Ray's switch, read when ``ray`` is imported) the node address is
    127.0.0.1 and so is every listening socket. Nothing on the network can then reach the job-submission API or the
    gRPC servers of a batch.
    """
    previous_env = os.environ.get(_SINGLE_MACHINE_ENV)
    os.environ[_SINGLE_MACHINE_ENV] = "0"
    constants = sys.modules.get("ray._private.ray_constants")  # already imported: its flag was read then
    previous_flag = getattr(constants, "ENABLE_RAY_CLUSTER", None)
    if constants is not None:
        vars(constants)["ENABLE_RAY_CLUSTER"] = False

    def undo() -> None:
        if previous_env is None:
            os.environ.pop(_SINGLE_MACHINE_ENV, None)
        else:
            os.environ[_SINGLE_MACHINE_ENV] = previous_env
        loaded = sys.modules.get("ray._private.ray_constants")
        if loaded is not None:  # the flag as it was, or as Ray reads it without our switch
            if previous_flag is not None:
                vars(loaded)["ENABLE_RAY_CLUSTER"] = previous_flag
            elif previous_env is None:
                vars(loaded)["ENABLE_RAY_CLUSTER"] = not getattr(loaded, "IS_WINDOWS_OR_OSX", False)
            else:
                vars(loaded)["ENABLE_RAY_CLUSTER"] = previous_env.strip().lower() in ("1", "true")

    return undo


def start_ray(address: str | None, *, num_cpus: int, log_to_driver: bool = False) -> bool:
    """Connect to or start Ray. True when this call initialised Ray (and so must shut it down).

    An embedded Ray (no ``address``) listens on 127.0.0.1 only (:func:`_single_machine_ray`)."""
    undo = _single_machine_ray() if not address else None
    if address:
        _cluster_auth()
    try:
        return _start_ray(address, num_cpus=num_cpus, log_to_driver=log_to_driver)
    finally:
        if undo is not None:
            undo()


def _start_ray(address: str | None, *, num_cpus: int, log_to_driver: bool) -> bool:
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
        token = cluster_token_source()
        try:
            ray.init(address=address, **common)
        except ConnectionError as exc:
            raise WorkerStartError(_cluster_refused(address, token)) from exc
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


def _cluster_auth() -> None:
    """Ray turns token authentication on for `ray start --head` clusters but, for an explicit address, only when
    RAY_AUTH_MODE says so: set it (as Ray's own ``_enable_token_auth`` does: the variable, then its cached
    configuration when Ray is already loaded) when a token is where Ray looks for one and the mode is unset."""
    token = cluster_token_source()
    if token is None or "RAY_AUTH_MODE" in os.environ:
        return
    os.environ["RAY_AUTH_MODE"] = "token"
    raylet = sys.modules.get("ray._raylet")
    if raylet is not None:
        raylet.Config.initialize("")
    logger.info("Ray token authentication on (token from %s)", token)


def cluster_token_source() -> str | None:
    """Where Ray would read its cluster token, as Ray documents it: ``$RAY_AUTH_TOKEN``, the file
    ``$RAY_AUTH_TOKEN_PATH``, else ``~/.ray/auth_token``; None when there is none (the token is never read here)."""
    if os.environ.get("RAY_AUTH_TOKEN", "").strip():
        return "$RAY_AUTH_TOKEN"
    path = os.environ.get("RAY_AUTH_TOKEN_PATH", "").strip()
    if path:
        return path if Path(path).expanduser().is_file() else None
    default = Path.home() / ".ray" / "auth_token"
    return str(default) if default.is_file() else None


def _cluster_refused(address: str, token: str | None) -> str:
    mode = os.environ.get("RAY_AUTH_MODE", "")
    if token is None and mode.lower() != "disabled":
        why = ("no Ray token was found here, and clusters started with `ray start --head` require one: copy the "
               "head's ~/.ray/auth_token to ~/.ray/auth_token on this machine (chmod 600), or set "
               "RAY_AUTH_TOKEN / RAY_AUTH_TOKEN_PATH; RAY_AUTH_MODE=token is then set for you")
    elif token is not None:
        why = (f"the token from {token} was refused or the head is unreachable: use the head's own token "
               "(~/.ray/auth_token on the head) and check the address and port (`ray status` on the head)")
    else:
        why = "RAY_AUTH_MODE=disabled here: the head may require a token, or the address is wrong"
    return f"cannot connect to the Ray cluster at {address}: {why} (see docs/security.md)."


def _crash_message(stage: str, exc: BaseException) -> str:
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return (f"the {stage} worker crashed while processing this file ({type(exc).__name__}: {first}); "
            "the worker was replaced. A process that dies hard is usually out of memory or a native library "
            "crash: see Ray's worker logs (/tmp/ray/session_latest/logs).")


def _last_line(exc: BaseException) -> str:
    """The final line of a Ray error, which names the original exception (``ImportError: ...``)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__


@dataclass
class _Slot:
    """One actor of a stage and what it is doing."""

    stage: str
    handle: Any
    ready: bool = False
    busy: int | None = None  # admission number of the file in flight


@dataclass
class _File:
    task: Task
    t0: float
    refs: dict[str, Any] = field(default_factory=dict)  # stage -> ObjectRef of its finished result


class RayExecutor:
    """Runs files through per-stage Ray actors (see the module docstring). Use as a context manager, or call
    :meth:`start` (optional: :meth:`run` starts it) and :meth:`close`.

    ``stage_classes`` replaces the class of a stage (tests: a transcriber that crashes on a given file);
    ``resources`` replaces the per-stage requests of :func:`default_resources`. At most ``max_in_flight`` files
    (default ``2 * workers + extractors``) are admitted at once, so a diariser can run ahead of the transcriber
    by about one file per lane.
    """

    name = "ray"

    def __init__(
        self,
        settings: Settings,
        *,
        workers: int = 1,
        extractors: int = 1,
        address: str | None = None,
        cpus_per_worker: float = 1.0,
        gpus_per_worker: float | None = None,
        resources: Mapping[str, StageResources] | None = None,
        stage_classes: Mapping[str, type] | None = None,
        max_in_flight: int | None = None,
        log_to_driver: bool = False,
        start_timeout_s: float = 900.0,
    ) -> None:
        if workers < 1 or extractors < 1:
            raise ValueError(f"workers and extractors must be at least 1, got {workers} and {extractors}")
        unknown = set(stage_classes or {}) | set(resources or {})
        if unknown - set(STAGES):
            raise ValueError(f"unknown stage(s) {sorted(unknown - set(STAGES))}: one of {', '.join(STAGES)}")
        self.settings = settings
        self.workers = workers
        self.extractors = extractors
        self.address = address or os.environ.get("RAY_ADDRESS") or None
        self.cpus_per_worker = cpus_per_worker
        self.gpus_per_worker = gpus_per_worker
        self._resources_override = dict(resources or {})
        self.classes = {**_DEFAULT_CLASSES, **dict(stage_classes or {})}
        self.max_in_flight = max_in_flight or 2 * workers + extractors
        self.log_to_driver = log_to_driver
        self.start_timeout_s = start_timeout_s
        self.resources: dict[str, StageResources] = {}
        self._started_ray = False
        self._running = False
        self._remote: dict[str, Any] = {}
        self._pools: dict[str, list[_Slot]] = {s: [] for s in STAGES}
        self._pending: dict[Any, tuple[_Slot, int | None]] = {}  # ObjectRef -> (slot, admission or None: ready)
        self._startup_deaths = dict.fromkeys(STAGES, 0)
        self._settings_json = settings.model_dump(mode="json")
        self._admitted = 0  # files admitted so far (numbers stay unique across run() calls)
        self.crashes = 0  # worker processes that died while processing a file (replaced)

    # ------------------------------------------------------------------------------------------ set-up

    def _counts(self) -> dict[str, int]:
        return {"transcriber": self.workers, "diariser": self.workers, "extractor": self.extractors}

    def start(self) -> None:
        """Start (or join) Ray, create every actor and wait until each has loaded its model."""
        if self._running:
            return
        import ray

        local = not self.address and not ray.is_initialized()
        if local:
            # Logical CPUs of the embedded instance: exactly what the actors ask for, so a request that can never
            # be placed is detected below instead of waiting forever.
            wanted = default_resources(self.settings, cpus_per_worker=self.cpus_per_worker,
                                       gpus_per_worker=self.gpus_per_worker)
            wanted.update(self._resources_override)
            need = sum(wanted[s].num_cpus * n for s, n in self._counts().items())
            self._started_ray = start_ray(None, num_cpus=max(1, math.ceil(need - 1e-9)),
                                          log_to_driver=self.log_to_driver)
        else:
            self._started_ray = start_ray(self.address, num_cpus=1, log_to_driver=self.log_to_driver)
        self._running = True
        try:
            available = ray.cluster_resources()  # type: ignore[no-untyped-call]  # unannotated in ray
            gpu_available = float(available.get("GPU", 0.0)) > 0
            self.resources = default_resources(self.settings, cpus_per_worker=self.cpus_per_worker,
                                               gpus_per_worker=self.gpus_per_worker, gpu_available=gpu_available)
            self.resources.update(self._resources_override)
            self._check_resources(available)
            for stage in STAGES:
                r = self.resources[stage]
                self._remote[stage] = ray.remote(self.classes[stage]).options(
                    num_cpus=r.num_cpus,
                    num_gpus=r.num_gpus,
                    # Ray's defaults, chosen on purpose. max_restarts=0: Ray does not restart a dead actor by
                    # itself; the driver replaces it (_replace) because only the driver knows which file was in
                    # flight, and it decides, through the report store's bounded attempts, whether that file
                    # is tried again. max_task_retries=0: a task whose actor died is never re-run by Ray: the
                    # same file would likely kill the new actor too (a poisoned file), and a re-run must be
                    # counted as an attempt in the store. Ray's at-least-once retries would do neither.
                    max_restarts=0,
                    max_task_retries=0,
                    max_concurrency=1,  # one file at a time per actor: a crash loses that file only
                )
                self._pools[stage] = [_Slot(stage, self._remote[stage].remote(self._settings_json))
                                      for _ in range(self._counts()[stage])]
            self._wait_ready()
        except BaseException:
            self.close()
            raise

    def _check_resources(self, available: Mapping[str, float]) -> None:
        """Fail fast where an actor could never be placed (Ray would otherwise wait forever)."""
        for stage in STAGES:
            r = self.resources[stage]
            for name, per_actor in (("CPU", r.num_cpus), ("GPU", r.num_gpus)):
                have = float(available.get(name, 0.0))
                if per_actor > have:
                    raise WorkerStartError(
                        f"each {stage} actor asks for {per_actor:g} {name} but this Ray instance has {have:g}; "
                        "lower --cpus-per-worker / --gpus-per-worker, use --device cpu, or add nodes that have them"
                    )
        logger.debug("Ray resources %s for %s", dict(available), self._counts())

    def _wait_ready(self) -> None:
        import ray
        from ray.exceptions import GetTimeoutError, RayActorError

        slots = [slot for pool in self._pools.values() for slot in pool]
        try:
            ray.get([slot.handle.ready.remote() for slot in slots], timeout=self.start_timeout_s)
        except RayActorError as exc:
            raise WorkerStartError(f"a Ray worker could not load its model ({_last_line(exc)}); fix the settings "
                                   "or the installation (full traceback chained below)") from exc
        except GetTimeoutError as exc:
            raise WorkerStartError(
                f"the Ray workers were not all started within {self.start_timeout_s:.0f} s: the cluster may lack "
                f"the resources they ask for ({self.resources})"
            ) from exc
        for slot in slots:
            slot.ready = True
        logger.info("Ray workers ready: %s", self._counts())

    def _replace(self, slot: _Slot) -> None:
        """Kill ``slot``'s actor and start a new one in its place (it becomes usable once ready)."""
        import ray

        try:
            ray.kill(slot.handle, no_restart=True)
        except Exception:  # noqa: BLE001 - already dead
            logger.debug("killing a dead actor failed", exc_info=True)
        slot.handle = self._remote[slot.stage].remote(self._settings_json)
        slot.ready = False
        slot.busy = None
        self._pending[slot.handle.ready.remote()] = (slot, None)

    # ------------------------------------------------------------------------------------------ running

    def run(self, next_task: NextTask, on_result: OnResult) -> None:
        """Process tasks until ``next_task()`` returns None and no file is in flight."""
        import ray

        self.start()
        files: dict[int, _File] = {}
        queues: dict[str, deque[int]] = {s: deque() for s in STAGES}
        admitted = self._admitted
        while True:
            no_more = False
            while len(files) < self.max_in_flight:
                task = next_task()
                if task is None:
                    no_more = True
                    break
                admitted += 1
                files[admitted] = _File(task, time.perf_counter())
                queues["transcriber"].append(admitted)
                queues["diariser"].append(admitted)
            self._admitted = admitted
            if no_more and not files:
                return
            self._dispatch(files, queues)
            if not self._pending:  # pragma: no cover - every file in flight has a queued or running stage
                raise RuntimeError("RayExecutor: files in flight but nothing running")
            # A timeout keeps Ctrl-C responsive (ray.wait blocks in native code).
            ready, _ = ray.wait(list(self._pending), num_returns=1, timeout=1.0)
            for ref in ready:
                self._collect(ref, files, queues, on_result)

    def _dispatch(self, files: dict[int, _File], queues: dict[str, deque[int]]) -> None:
        for stage in STAGES:
            queue = queues[stage]
            for slot in self._pools[stage]:
                if not slot.ready or slot.busy is not None:
                    continue
                while queue and queue[0] not in files:
                    queue.popleft()  # that file already failed in another stage
                if not queue:
                    break
                number = queue.popleft()
                f = files[number]
                method = getattr(slot.handle, _METHOD[stage])
                if stage == "extractor":
                    # Object references: Ray hands the transcriber's and diariser's results to the extractor
                    # straight from the object store.
                    ref = method.remote(f.refs["transcriber"], f.refs["diariser"])
                else:
                    ref = method.remote(f.task.path)
                slot.busy = number
                self._pending[ref] = (slot, number)

    def _collect(self, ref: Any, files: dict[int, _File], queues: dict[str, deque[int]],
                 on_result: OnResult) -> None:
        import ray
        from ray.exceptions import RayActorError, RayError

        slot, number = self._pending.pop(ref)
        stage = slot.stage
        try:
            value: Any = ray.get(ref)
        except RayActorError as exc:
            if exc.actor_init_failed:
                raise WorkerStartError(f"a Ray {stage} worker could not load its model ({_last_line(exc)})") from exc
            if number is None:  # a replacement died while loading its model
                self._startup_deaths[stage] += 1
                if self._startup_deaths[stage] >= _MAX_STARTUP_DEATHS:
                    raise WorkerStartError(f"{self._startup_deaths[stage]} {stage} workers in a row died while "
                                           "loading the model; see Ray's worker logs") from exc
                logger.error("a new %s worker died while starting; starting another", stage)
                self._replace(slot)
                return
            self.crashes += 1
            logger.error("the %s worker died on a file (%s); replacing it", stage, type(exc).__name__)
            self._replace(slot)
            value = StageFailure(stage, _crash_message(stage, exc), retryable=True, crashed=True)
        except RayError as exc:  # Ray lost the result or could not run the task: the actor is still usable
            cause = getattr(exc, "cause", None) or exc
            first = (str(cause).strip().splitlines() or [""])[0][:300]
            logger.error("%s task failed in Ray (%s)", stage, type(cause).__name__)
            slot.busy = None
            value = StageFailure(stage, f"{stage}: {type(cause).__name__}: {first}", retryable=True)
        else:
            if number is None:
                slot.ready = True
                self._startup_deaths[stage] = 0
                return
            slot.busy = None
        f = files.get(number) if number is not None else None
        if number is None or f is None:
            return  # the file already failed in its other stage: this result is not needed
        if isinstance(value, StageFailure):
            del files[number]
            on_result(TaskResult(f.task.key, f.task.path, None, value, time.perf_counter() - f.t0))
            return
        if stage == "extractor":
            del files[number]
            if not isinstance(value, Finished):  # pragma: no cover - a stage class returning something else
                value = StageFailure(stage, f"unexpected result {type(value).__name__}", retryable=False)
                on_result(TaskResult(f.task.key, f.task.path, None, value, time.perf_counter() - f.t0))
                return
            on_result(TaskResult(f.task.key, f.task.path, value, None, time.perf_counter() - f.t0))
            return
        expected = Transcribed if stage == "transcriber" else Diarised
        if not isinstance(value, expected):  # pragma: no cover - a stage class returning something else
            del files[number]
            failure = StageFailure(stage, f"unexpected result {type(value).__name__}", retryable=False)
            on_result(TaskResult(f.task.key, f.task.path, None, failure, time.perf_counter() - f.t0))
            return
        f.refs[stage] = ref
        if "transcriber" in f.refs and "diariser" in f.refs:
            queues["extractor"].append(number)

    def close(self) -> None:
        """Kill the actors; stop Ray if :meth:`start` started it."""
        if not self._running:
            return
        import ray

        self._running = False
        for pool in self._pools.values():
            for slot in pool:
                try:
                    ray.kill(slot.handle, no_restart=True)
                except Exception:  # noqa: BLE001
                    logger.debug("killing an actor failed", exc_info=True)
            pool.clear()
        self._pending.clear()
        if self._started_ray:
            ray.shutdown()
            self._started_ray = False

    def __enter__(self) -> RayExecutor:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class FileOutcome:
    """Result of one file in a batch (picklable)."""

    path: str
    ok: bool
    out_dir: str | None
    error: str | None
    seconds: float
    audio_seconds: float = 0.0
    medications: int = 0


def run_batch(
    paths: Sequence[Path],
    out_root: Path,
    settings: Settings,
    *,
    workers: int = 1,
    address: str | None = None,
    on_result: Callable[[FileOutcome], None] | None = None,
    max_attempts: int = 2,
    **executor_options: Any,
) -> list[FileOutcome]:
    """Process ``paths`` with a :class:`RayExecutor`, without a report store; one outcome per path, in input order.

    Outputs go to ``out_root/<stem>/`` (report.json, bundle.json, transcript.txt, diarization.rttm).
    ``on_result`` is called as each file finishes. A file whose worker died or that hit a machine error (out of
    memory, CUDA) is tried again up to ``max_attempts`` times in all; a bad file (``AudioError``...) fails at
    once. Extra keyword arguments go to :class:`RayExecutor`. ``consult run`` uses :mod:`workers.batch`
    instead, which records every job in the report store.
    """
    from workers.batch import export_outputs

    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    paths = [Path(p) for p in paths]
    if not paths:
        return []
    queue = deque(Task(str(i), str(p)) for i, p in enumerate(paths))
    attempts = [0] * len(paths)
    outcomes: list[FileOutcome | None] = [None] * len(paths)

    def next_task() -> Task | None:
        if not queue:
            return None
        task = queue.popleft()
        attempts[int(task.key)] += 1
        return task

    def collect(result: TaskResult) -> None:
        i = int(result.key)
        if result.finished is not None:
            out_dir = out_root / paths[i].stem
            export_outputs(out_dir, result.finished.report_json, result.finished.bundle_json)
            outcome = FileOutcome(result.path, True, str(out_dir), None, result.seconds,
                                  result.finished.audio_seconds, result.finished.medications)
        else:
            failure = result.failure or StageFailure("?", "no result", retryable=False)
            if failure.retryable and attempts[i] < max_attempts:
                logger.warning("file #%d failed (%s stage); trying again", i, failure.stage)
                queue.append(Task(result.key, result.path))
                return
            outcome = FileOutcome(result.path, False, None, failure.error, result.seconds)
        outcomes[i] = outcome
        if on_result is not None:
            on_result(outcome)

    with RayExecutor(settings, workers=min(workers, len(paths)), address=address, **executor_options) as ex:
        ex.run(next_task, collect)
    done = [o for o in outcomes if o is not None]
    if len(done) != len(paths):  # pragma: no cover - run() returns once every file has a result
        raise RuntimeError("run_batch lost track of some files")
    return done
