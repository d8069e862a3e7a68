"""Batches backed by the report store: every file is a job, every result a transaction, nothing lost on a crash.

:func:`run_jobs` is what ``consult run`` and ``consult watch`` do:

1. put back in the queue the jobs left ``running`` by a process of this machine that has died (``kill -9``,
   power cut), see :func:`recover_interrupted`;
2. hash each input and submit its job (id ``consult.config.job_id(sha256, settings)``): a file already done
   with the same settings is not processed again, its outputs are written from the store ("already done");
3. claim each queued job just before an executor (in-process or Ray) takes it, store the report, the FHIR
   bundle and ``done`` in one transaction, then write the output files;
4. a failed file is tried again when retrying can help (a dead worker, out of memory: ``max_attempts`` in
   all), else marked ``failed`` with its reason (a corrupt file: at once); ``consult jobs retry`` re-queues it.

A job's ``worker`` is ``<host>/<pid>.<process start time>/<executor>``: a later run on the same machine can tell
a dead process's jobs (recovered) from those of a ``consult`` still running (left alone), even when the pid has
been reused. Several machines on one PostgreSQL store each recover only their own jobs.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from consult.config import Settings
from consult.fhir import BundleType
from consult.outputs import OUTPUT_FILES, write_outputs
from consult.store import ReportStore
from workers.tasks import Executor, Task, TaskResult

log = logging.getLogger(__name__)

__all__ = [
    "OUTPUT_FILES",
    "BatchProgress",
    "JobDirExporter",
    "JobOutcome",
    "StemExporter",
    "export_outputs",
    "process_token",
    "recover_interrupted",
    "run_jobs",
]



# ------------------------------------------------------------------------------------------ outputs


def export_outputs(out_dir: Path, report_json: str, bundle_json: str,
                   files: Iterable[str] = tuple(OUTPUT_FILES), bundle_type: BundleType = "collection",
                   ) -> dict[str, Path]:
    """Write a stored report's files into ``out_dir`` with :func:`consult.outputs.write_outputs` (the stored FHIR
    bundle, not a rebuilt one)."""
    from schemas import ConsultationReport

    return write_outputs(ConsultationReport.model_validate_json(report_json), Path(out_dir),
                         bundle_json=bundle_json, files=files, bundle_type=bundle_type)


class Exporter(Protocol):
    def __call__(self, job_id: str, paths: Sequence[str], input_name: str, report_json: str,
                 bundle_json: str) -> list[str]: ...


class StemExporter:
    """``consult run``'s layout: ``OUT/<audio stem>/`` with report.json, bundle.json, transcript.txt and
    diarization.rttm, for each input path of the job (or its stored name for a resumed job)."""

    def __init__(self, out_root: Path, bundle_type: BundleType = "collection") -> None:
        self.out_root = Path(out_root)
        self.bundle_type = bundle_type
        self._owner: dict[str, str] = {}  # stem -> job id written there by this exporter

    def __call__(self, job_id: str, paths: Sequence[str], input_name: str, report_json: str,
                 bundle_json: str) -> list[str]:
        stems = list(dict.fromkeys(Path(p).stem for p in paths)) or [Path(input_name).stem]
        out = []
        for stem in stems:
            previous = self._owner.setdefault(stem, job_id)
            if previous != job_id:
                log.warning("two different recordings are named %r: the second overwrites OUT/%s/ (rename one)",
                            stem, stem)
                self._owner[stem] = job_id
            export_outputs(self.out_root / stem, report_json, bundle_json, bundle_type=self.bundle_type)
            out.append(str(self.out_root / stem))
        return out


class JobDirExporter:
    """``consult watch``'s layout: ``OUTBOX/<job id>/`` with ``files`` (default report.json and bundle.json)."""

    def __init__(self, out_root: Path, files: Sequence[str] = ("report", "bundle"),
                 bundle_type: BundleType = "collection") -> None:
        self.out_root = Path(out_root)
        self.files = tuple(files)
        self.bundle_type = bundle_type

    def __call__(self, job_id: str, paths: Sequence[str], input_name: str, report_json: str,
                 bundle_json: str) -> list[str]:
        export_outputs(self.out_root / job_id, report_json, bundle_json, self.files, self.bundle_type)
        return [str(self.out_root / job_id)]


# ------------------------------------------------------------------------------------------ processes


def _proc_stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (state first), or None when there is no such process."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()


def process_token(pid: int | None = None) -> str:
    """``<host>/<pid>.<start time>``: names a process uniquely on this machine, even after its pid is reused."""
    pid = os.getpid() if pid is None else pid
    stat = _proc_stat(pid)
    start = stat[19] if stat is not None and len(stat) > 19 else "0"
    return f"{socket.gethostname()}/{pid}.{start}"


def _alive(pid: int, start: str) -> bool:
    stat = _proc_stat(pid)
    if stat is None:
        if Path("/proc/self/stat").exists():
            return False
        try:  # no /proc (macOS): the pid alone
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    if stat[0] in ("Z", "X"):  # a zombie has finished running
        return False
    return start in ("0", "") or len(stat) <= 19 or stat[19] == start


def recover_interrupted(store: ReportStore, *, max_attempts: int | None = None) -> int:
    """Queue again the jobs left ``running`` by processes of this machine that are gone (or by this process).

    Jobs claimed by a live process (another ``consult run`` on the same store) or by another machine are left
    alone. With ``max_attempts``, a job already started that many times is failed instead (a file that kills
    the process reading it). Returns how many jobs were recovered.
    """
    host = socket.gethostname()
    me = process_token()
    dead: set[str] = set()
    for job in store.list(status="running", limit=None):
        parts = (job.worker or "").split("/")
        if len(parts) < 2 or parts[0] != host:
            continue
        token = f"{parts[0]}/{parts[1]}"
        pid, _, start = parts[1].partition(".")
        if not pid.isdigit():
            continue
        if token == me or not _alive(int(pid), start):
            dead.add(token)
    recovered = sum(store.recover(worker_prefix=token + "/", max_attempts=max_attempts) for token in sorted(dead))
    if recovered:
        log.info("recovered %d job(s) interrupted by the end of %d process(es)", recovered, len(dead))
    return recovered


# ------------------------------------------------------------------------------------------ outcomes


@dataclass(frozen=True)
class JobOutcome:
    """What happened to one job (or to an input that could not become one) in this run.

    ``status``: ``done`` (processed now), ``already_done`` (done before: outputs written from the store),
    ``failed`` (now), ``failed_earlier`` (failed in an earlier run; ``consult jobs retry``), ``busy`` (being
    processed by another live process), ``skipped`` (a queued job submitted with other settings).
    """

    status: str
    name: str
    paths: tuple[str, ...] = ()
    job_id: str | None = None
    error: str | None = None
    out_dirs: tuple[str, ...] = ()
    medications: int = 0
    needs_review: int = 0
    audio_seconds: float = 0.0
    seconds: float = 0.0
    crashed: bool = False

    @property
    def ok(self) -> bool:
        return self.status in ("done", "already_done")


class BatchProgress:
    """A tqdm bar over the files of a batch: done, failed, left and audio hours processed per hour of wall time.

    Disabled (``enabled=False``), it only counts. :meth:`write` prints a line without breaking the bar.
    """

    def __init__(self, enabled: bool = True, *, desc: str = "consult") -> None:
        self.enabled = enabled
        self.desc = desc
        self.bar: Any = None
        self.total = 0
        self.done = 0
        self.failed = 0
        self.other = 0  # busy elsewhere: neither done nor failed here
        self.audio_seconds = 0.0
        self.t0 = time.perf_counter()

    def start(self, total: int) -> None:
        self.total = total
        self.t0 = time.perf_counter()
        if self.enabled and total > 0:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=self.desc, unit="file", file=sys.stderr, dynamic_ncols=True,
                            bar_format="{desc}: {n_fmt}/{total_fmt} |{bar}| {elapsed}<{remaining}{postfix}")
            self.bar.set_postfix_str(self.postfix())

    def postfix(self, now: float | None = None) -> str:
        elapsed = max(1e-9, (time.perf_counter() if now is None else now) - self.t0)
        left = max(0, self.total - self.done - self.failed - self.other)
        return (f"done {self.done} · failed {self.failed} · left {left} · "
                f"{self.audio_seconds / elapsed:.2f} audio h/h")

    def advance(self, outcome: JobOutcome) -> None:
        if outcome.status == "done":
            self.done += 1
            self.audio_seconds += outcome.audio_seconds
        elif outcome.status == "failed":
            self.failed += 1
        else:
            self.other += 1
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix_str(self.postfix())

    def write(self, line: str, *, err: bool = False) -> None:
        stream = sys.stderr if err else sys.stdout
        if self.bar is not None:
            from tqdm import tqdm

            tqdm.write(line, file=stream)
        else:
            print(line, file=stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


# ------------------------------------------------------------------------------------------ the driver


def _read_error(path: Path) -> str | None:
    """Why ``path`` cannot be an input (the same words as ``consult.audio.load_audio``), or None."""
    if not path.exists():
        return f"{path}: file not found."
    if not path.is_file():
        return f"{path}: not a file."
    return None


def run_jobs(
    store: ReportStore,
    settings: Settings,
    get_executor: Callable[[int], Executor],
    *,
    paths: Sequence[Path | str] = (),
    resume: bool = False,
    export: Exporter,
    max_attempts: int = 2,
    on_outcome: Callable[[JobOutcome], None] | None = None,
    on_retry: Callable[[str, str, str, int], None] | None = None,
    progress: BatchProgress | None = None,
    stop: threading.Event | None = None,
) -> list[JobOutcome]:
    """Process ``paths`` (and, with ``resume``, every queued job of the store) as store jobs; see the module doc.

    ``get_executor(n)`` is called only when there is work (``n`` jobs to process), so a re-run over finished
    files loads no model. ``export`` writes a finished job's files (:class:`StemExporter`,
    :class:`JobDirExporter`). ``on_outcome`` sees every :class:`JobOutcome` as it happens;
    ``on_retry(job_id, name, error, attempt)`` each failure that is tried again. Once ``stop`` is set no new
    file is started; the files in flight finish and the others stay queued. One call at a time per process:
    the jobs this process left running are recovered when a call starts. Returns the outcomes:
    inputs that are not files first, then jobs in input order (resumed jobs after), then the processed ones
    in completion order.
    """
    from consult.audio import sha256_file
    from consult.config import job_id as make_job_id

    if max_attempts < 1:
        raise ValueError(f"max_attempts must be at least 1, got {max_attempts}")
    progress = progress or BatchProgress(enabled=False)
    me = process_token()
    outcomes: list[JobOutcome] = []

    def emit(outcome: JobOutcome) -> None:
        outcomes.append(outcome)
        if on_outcome is not None:
            on_outcome(outcome)

    # A job interrupted with its process gets one more start than a failing one before it is failed: the
    # process may have been killed by a person, not by the file.
    recover_interrupted(store, max_attempts=max_attempts + 1)

    order: list[str] = []
    paths_of: dict[str, list[str]] = {}
    submissions: list[dict[str, Any]] = []
    for raw in paths:
        path = Path(raw)
        problem = _read_error(path)
        digest = None
        if problem is None:
            try:
                digest = sha256_file(path)
            except OSError as exc:
                problem = f"{path}: cannot be read ({exc.strerror or exc})."
        if digest is None:
            emit(JobOutcome("failed", path.name, (str(path),), error=problem))
            continue
        jid = make_job_id(digest, settings)
        if jid not in paths_of:
            order.append(jid)
            paths_of[jid] = []
            submissions.append({"job_id": jid, "input_path": str(path.resolve()), "input_name": path.name,
                                "audio_sha256": digest})
        paths_of[jid].append(str(path))
    if submissions:
        store.submit_many(submissions, actor=me)

    queue: deque[str] = deque()
    names: dict[str, str] = {}
    inputs: dict[str, str] = {}  # job id -> the path its audio is read from
    for jid in order:
        job = store.get(jid)
        if job is None:  # pragma: no cover - submitted just above
            raise RuntimeError(f"job {jid} vanished from the store")
        names[jid] = Path(paths_of[jid][0]).name
        # Absolute: Ray workers do not share this process's working directory.
        inputs[jid] = str(Path(paths_of[jid][0]).resolve())
        job_paths = tuple(paths_of[jid])
        if job.status == "done":
            emit(_export_done(store, export, jid, job_paths, names[jid], "already_done"))
        elif job.status == "failed":
            emit(JobOutcome("failed_earlier", names[jid], job_paths, jid, error=job.error))
        elif job.status == "running":
            emit(JobOutcome("busy", names[jid], job_paths, jid, error=f"being processed by {job.worker}"))
        else:
            queue.append(jid)
    if resume:
        for job in store.pending(limit=None):
            if job.id in paths_of:
                continue
            if make_job_id(job.audio_sha256, settings) != job.id:
                emit(JobOutcome("skipped", job.input_name, (job.input_path,), job.id,
                                error="queued with other settings or another version of consult: resume it "
                                      "with the options and the version it was queued with"))
                continue
            paths_of[job.id] = []
            names[job.id] = job.input_name
            inputs[job.id] = job.input_path
            queue.append(job.id)
    if not queue:
        return outcomes

    executor = get_executor(len(queue))
    worker = f"{me}/{executor.name}"
    progress.start(len(queue))

    def next_task() -> Task | None:
        while queue and not (stop is not None and stop.is_set()):
            jid = queue.popleft()
            if store.claim(jid, worker=worker):
                return Task(jid, inputs[jid])
            job = store.get(jid)
            outcome = JobOutcome("busy", names[jid], tuple(paths_of[jid]), jid,
                                 error=f"taken by {job.worker if job else 'another process'} meanwhile")
            progress.advance(outcome)
            emit(outcome)
        return None

    def on_result(result: TaskResult) -> None:
        jid = result.key
        job_paths = tuple(paths_of[jid])
        if result.finished is not None and result.finished.report_id != jid:
            store.fail(jid, error=f"{names[jid]}: the file changed since it was queued (its content no longer "
                       "gives this job id); submit it again", retryable=False)
            outcome = JobOutcome("failed", names[jid], job_paths, jid, error="the file changed since it was queued",
                                 seconds=result.seconds)
        elif result.finished is not None:
            f = result.finished
            store.complete(jid, report_json=f.report_json, bundle_json=f.bundle_json, summary=f.summary)
            outcome = _export_done(store, export, jid, job_paths, names[jid], "done", seconds=result.seconds)
        else:
            failure = result.failure
            assert failure is not None
            status = store.fail(jid, error=failure.error, retryable=failure.retryable, max_attempts=max_attempts)
            if status == "queued":
                job = store.get(jid)
                attempt = job.attempts if job else 0
                if on_retry is not None:
                    on_retry(jid, names[jid], failure.error, attempt)
                queue.append(jid)
                return
            if status == "done":  # a late failure for a job that another process finished
                outcome = _export_done(store, export, jid, job_paths, names[jid], "done", seconds=result.seconds)
            else:
                outcome = JobOutcome("failed", names[jid], job_paths, jid, error=failure.error,
                                     seconds=result.seconds, crashed=failure.crashed)
        progress.advance(outcome)
        emit(outcome)

    try:
        executor.run(next_task, on_result)
    finally:
        progress.close()
        # Normally nothing is left running; after an exception (Ctrl-C, workers that cannot start) the jobs this
        # process had claimed go back to the queue at once instead of waiting for the next run's recovery.
        try:
            left = store.recover(worker_prefix=me + "/")
            if left:
                log.warning("%d job(s) in flight were queued again", left)
        except Exception:  # noqa: BLE001 - do not hide the original error
            log.warning("could not re-queue the jobs in flight", exc_info=True)
    return outcomes


def _export_done(store: ReportStore, export: Exporter, jid: str, paths: tuple[str, ...], name: str, status: str,
                 seconds: float = 0.0) -> JobOutcome:
    """Write a done job's files from the store (the pipeline's draft, not a later review)."""
    job = store.get(jid)
    report_json = store.report_json(jid, draft=True)
    bundle_json = store.bundle_json(jid, draft=True)
    if job is None or report_json is None or bundle_json is None:
        return JobOutcome("failed", name, paths, jid, error="the store has no report for this finished job")
    try:
        out_dirs = export(jid, paths, job.input_name, report_json, bundle_json)
    except OSError as exc:
        return JobOutcome("failed", name, paths, jid, seconds=seconds,
                          error=f"the report is stored but its files could not be written ({exc}); run again "
                                "to write them")
    return JobOutcome(status, name, paths, jid, out_dirs=tuple(out_dirs), medications=job.medications,
                      needs_review=job.needs_review, audio_seconds=job.audio_seconds, seconds=seconds)
