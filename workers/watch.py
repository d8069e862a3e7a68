"""Watch folder for integrators: audio dropped in INBOX becomes a FHIR bundle in OUTBOX.

:class:`Watcher` scans INBOX (not its sub-folders) for audio files (``consult.audio.SUPPORTED_SUFFIXES``; names
starting with ``.`` are ignored, so a sender can upload ``.name.wav`` or ``name.wav.part`` and rename it when
complete). A file is taken once its size and modification time have not changed for ``settle_s`` seconds
(a file still being copied keeps changing). Each one becomes a store job (:func:`workers.batch.run_jobs`);
for each file the outbox gets, in this order, each written atomically (temporary file, then rename):

- ``OUTBOX/<job id>/bundle.json`` and ``OUTBOX/<job id>/report.json`` when it succeeded,
- then one manifest: ``OUTBOX/<name>.done.json`` (job id, relative paths of the two files, counts) or
  ``OUTBOX/<name>.error.json`` (the reason), where ``<name>`` is the input file name.

An integrator polls for the manifest, never for the report itself. A file whose manifest records its current size
and modification time is not processed again; replacing the file (new content under the same name) processes it
again. The same audio under two names is processed once (the job id comes from the content). A failed file is
tried again after ``consult jobs retry JOB_ID``: the watcher sees the job queued again and picks the file up.
Input files are never modified, moved or deleted.
"""

from __future__ import annotations

import json
import logging
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from consult.audio import SUPPORTED_SUFFIXES
from consult.config import Settings
from consult.errors import ConsultError
from consult.outputs import atomic_write
from consult.store import ReportStore
from workers.batch import JobDirExporter, JobOutcome, run_jobs
from workers.tasks import Executor

log = logging.getLogger(__name__)

__all__ = ["DONE_SUFFIX", "ERROR_SUFFIX", "Watcher"]

DONE_SUFFIX = ".done.json"
ERROR_SUFFIX = ".error.json"


@dataclass(frozen=True)
class _State:
    size: int
    mtime_ns: int


class Watcher:
    """Scan INBOX, process the complete new files, write results and manifests to OUTBOX (see the module doc).

    ``get_executor(n)`` gives the executor (in-process or Ray) when there is work; the caller owns and closes
    it, so the models stay loaded between scans.
    """

    def __init__(
        self,
        inbox: Path,
        outbox: Path,
        store: ReportStore,
        settings: Settings,
        get_executor: Callable[[int], Executor],
        *,
        settle_s: float = 2.0,
        max_attempts: int = 2,
        on_outcome: Callable[[JobOutcome], None] | None = None,
        on_retry: Callable[[str, str, str, int], None] | None = None,
    ) -> None:
        self.inbox = Path(inbox)
        self.outbox = Path(outbox)
        if not self.inbox.is_dir():
            raise ConsultError(f"{self.inbox}: the inbox is not a folder")
        if self.inbox.resolve() == self.outbox.resolve():
            raise ConsultError("the outbox must be another folder than the inbox")
        self.outbox.mkdir(parents=True, exist_ok=True)
        self.store = store
        self.settings = settings
        self.get_executor = get_executor
        self.settle_s = settle_s
        self.max_attempts = max_attempts
        self.on_outcome = on_outcome
        self.on_retry = on_retry
        self._seen: dict[str, tuple[_State, float]] = {}  # name -> (state, when first seen in that state)
        self._done: dict[str, _State] = {}  # files with a done manifest for their current state (not re-read)
        self._links_seen: set[str] = set()  # symbolic links already warned about

    # ------------------------------------------------------------------------------------------ scanning

    def _candidates(self) -> dict[str, _State]:
        found: dict[str, _State] = {}
        try:
            entries = list(self.inbox.iterdir())
        except OSError as exc:
            raise ConsultError(f"{self.inbox}: cannot list the inbox ({exc.strerror or exc})") from exc
        for path in entries:
            if path.name.startswith(".") or path.suffix.lower() not in SUPPORTED_SUFFIXES:
                continue
            try:
                st = path.lstat()  # never follow a link: a writer of the inbox must not get other files read
            except OSError:  # removed meanwhile
                continue
            if stat.S_ISLNK(st.st_mode):
                if path.name not in self._links_seen:
                    self._links_seen.add(path.name)
                    log.warning("inbox entry %s is a symbolic link: ignored (copy the file itself)", path.name)
                continue
            if stat.S_ISREG(st.st_mode):
                found[path.name] = _State(st.st_size, st.st_mtime_ns)
        return found

    def _manifest(self, name: str) -> dict[str, Any] | None:
        for suffix in (DONE_SUFFIX, ERROR_SUFFIX):
            path = self.outbox / f"{name}{suffix}"
            try:
                manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
                return manifest
            except FileNotFoundError:
                continue
            except (OSError, ValueError):
                return None  # unreadable: process the file again, which rewrites it
        return None

    def _handled(self, name: str, state: _State) -> bool:
        if self._done.get(name) == state:
            return True
        manifest = self._manifest(name)
        if manifest is None or manifest.get("size") != state.size or manifest.get("mtime_ns") != state.mtime_ns:
            return False
        if manifest.get("status") == "failed" and manifest.get("job_id"):
            job = self.store.get(str(manifest["job_id"]))
            if job is not None and job.status == "queued":  # consult jobs retry: take it again
                return False
        elif manifest.get("status") == "done":
            self._done[name] = state
        return True

    def observe(self, now: float | None = None) -> list[Path]:
        """One scan: the files that are new (no up-to-date manifest) and unchanged for ``settle_s`` seconds."""
        now = time.monotonic() if now is None else now
        found = self._candidates()
        ready: list[Path] = []
        for cache in (self._seen, self._done):
            for name in [n for n in cache if n not in found]:
                del cache[name]
        for name, state in sorted(found.items()):
            previous = self._seen.get(name)
            if previous is None or previous[0] != state:
                if self._handled(name, state):
                    self._seen.pop(name, None)
                    continue
                self._seen[name] = (state, now)
                continue
            if now - previous[1] >= self.settle_s and not self._handled(name, state):
                ready.append(self.inbox / name)
        return ready

    # ------------------------------------------------------------------------------------------ processing

    def process(self, paths: list[Path], stop: threading.Event | None = None) -> list[JobOutcome]:
        """Run ``paths`` as store jobs and write their outputs and manifests."""
        paths = [p for p in paths if not p.is_symlink()]  # replaced by a link since it was seen: not read
        if not paths:
            return []
        states = {p.name: self._seen.get(p.name, (None, 0.0))[0] for p in paths}

        def manifest(outcome: JobOutcome) -> None:
            for raw in outcome.paths or (outcome.name,):
                name = Path(raw).name
                if name in states:
                    self._write_manifest(name, states[name], outcome)
            if self.on_outcome is not None:
                self.on_outcome(outcome)

        return run_jobs(self.store, self.settings, self.get_executor, paths=paths,
                        export=JobDirExporter(self.outbox), max_attempts=self.max_attempts, on_outcome=manifest,
                        on_retry=self.on_retry, stop=stop)

    def _write_manifest(self, name: str, state: _State | None, outcome: JobOutcome) -> None:
        if outcome.status in ("busy", "skipped"):
            return  # another process has it: look again at the next scan
        data: dict[str, Any] = {
            "input": name,
            "job_id": outcome.job_id,
            "size": state.size if state else None,
            "mtime_ns": state.mtime_ns if state else None,
            "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        if outcome.ok:
            job = self.store.get(outcome.job_id) if outcome.job_id else None
            data.update({
                "status": "done",
                "report": f"{outcome.job_id}/report.json",
                "bundle": f"{outcome.job_id}/bundle.json",
                "audio_sha256": job.audio_sha256 if job else None,
                "language": job.language if job else None,
                "medications": outcome.medications,
                "needs_review": outcome.needs_review,
                "audio_seconds": outcome.audio_seconds,
            })
            keep, drop = DONE_SUFFIX, ERROR_SUFFIX
        else:
            data.update({"status": "failed", "error": outcome.error})
            keep, drop = ERROR_SUFFIX, DONE_SUFFIX
        atomic_write(self.outbox / f"{name}{keep}", json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        (self.outbox / f"{name}{drop}").unlink(missing_ok=True)
        self._seen.pop(name, None)

    # ------------------------------------------------------------------------------------------ loop

    def run(self, *, once: bool = False, interval_s: float = 2.0, stop: threading.Event | None = None) -> int:
        """Scan every ``interval_s`` seconds until ``stop`` is set; with ``once``, scan, wait ``settle_s``, scan
        again, process what is complete and return. Returns the number of files processed."""
        stop = stop or threading.Event()
        processed = 0
        if once:
            self.observe()
            if self.settle_s > 0 and stop.wait(self.settle_s):
                return 0
            return len(self.process(self.observe(), stop))
        while not stop.is_set():
            ready = self.observe()
            if ready:
                processed += len(self.process(ready, stop))
            stop.wait(interval_s)
        return processed
