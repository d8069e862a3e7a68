"""Persistent job and report store: SQLite (WAL) by default, PostgreSQL by URL for a shared deployment.

A job is one audio file processed with one set of settings; its id (``consult.config.job_id``) is derived
from the audio content and the settings, so submitting the same work twice is a no-op. Every state change
is one explicit transaction: a finished job's report, FHIR bundle, summary and ``done`` status are written
together or not at all, so a process killed at any point (``kill -9``) leaves each job either done with
exactly one report or not done; :meth:`ReportStore.recover` puts the jobs that were running back in the
queue when a batch restarts. Each job keeps an append-only history (created, started, done, failed,
reviewed, edited, approved, rejected, signed: who and when, in UTC).

Only the standard library is imported here; ``psycopg`` (3.x) is imported when a ``postgresql://`` URL is
opened. Nothing here logs report text, transcripts or patient names: log lines carry job ids and statuses.
See docs/store.md.
"""

from __future__ import annotations

import builtins
import json
import logging
import os
import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from consult.errors import ConsultError

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_STORE_ENV",
    "EVENT_KINDS",
    "JOB_STATUSES",
    "REVIEW_ACTIONS",
    "REVIEW_STATUSES",
    "SCHEMA_VERSION",
    "Event",
    "Job",
    "ReportStore",
    "StoreError",
    "default_store_url",
    "discard_kept_audio",
    "kept_audio",
    "private_files",
]

DEFAULT_STORE_ENV = "CONSULT_STORE"
SCHEMA_VERSION = 2
JOB_STATUSES = ("queued", "running", "done", "failed")
REVIEW_STATUSES = ("to_review", "approved", "rejected", "partly_approved")
REVIEW_ACTIONS = ("reviewed", "edited", "approved", "rejected", "signed")
EVENT_KINDS = ("created", "queued", "started", "done", "failed", "retried", *REVIEW_ACTIONS)

# SQLite waits this long for another connection's write lock before giving up with "database is locked".
_BUSY_TIMEOUT_MS = 30_000
# Stored error messages are cut to this length (a traceback can be huge; the history keeps every one).
_MAX_ERROR_CHARS = 4000


class StoreError(ConsultError):
    """The report store cannot be opened or used, or an operation is not allowed in the job's state."""


def default_store_url() -> str:
    """``$CONSULT_STORE`` when set, else the SQLite file ``$XDG_DATA_HOME/consult/consult.db``.

    ``$XDG_DATA_HOME`` defaults to ``~/.local/share`` (and is ignored when not absolute, as the XDG spec says).
    """
    env = os.environ.get(DEFAULT_STORE_ENV, "").strip()
    if env:
        return env
    xdg = os.environ.get("XDG_DATA_HOME", "").strip()
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".local" / "share"
    return "sqlite://" + str((base / "consult" / "consult.db").resolve())


@dataclass(frozen=True)
class Job:
    """One row of the jobs table (the report itself is read with ``report_json``/``bundle_json``)."""

    id: str
    input_path: str
    input_name: str
    audio_sha256: str
    status: str
    attempts: int
    error: str | None
    created_at: datetime
    updated_at: datetime
    worker: str | None
    review_status: str | None
    language: str | None
    medications: int
    needs_review: int
    audio_seconds: float


@dataclass(frozen=True)
class Event:
    """One entry of a job's history."""

    job_id: str
    kind: str
    actor: str | None
    at: datetime
    details: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------- schema

# Written once per dialect with {serial} (auto-increasing primary key), {ts} (UTC time) and {real}.
# jobs.seq orders jobs by submission (no reliance on clocks of several machines); events.seq likewise.
_SCHEMA_V1 = """
CREATE TABLE jobs (
    seq {serial},
    id TEXT NOT NULL UNIQUE,
    input_path TEXT NOT NULL,
    input_name TEXT NOT NULL,
    audio_sha256 TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    created_at {ts} NOT NULL,
    updated_at {ts} NOT NULL,
    worker TEXT,
    review_status TEXT CHECK (review_status IN ('to_review', 'approved', 'rejected', 'partly_approved')),
    language TEXT,
    medications INTEGER NOT NULL DEFAULT 0,
    needs_review INTEGER NOT NULL DEFAULT 0,
    audio_seconds {real} NOT NULL DEFAULT 0
);
CREATE INDEX jobs_by_status ON jobs (status, seq);
CREATE INDEX jobs_by_review ON jobs (review_status, seq);
CREATE INDEX jobs_by_audio ON jobs (audio_sha256);
CREATE TABLE reports (
    job_id TEXT PRIMARY KEY REFERENCES jobs (id),
    report_json TEXT NOT NULL,
    bundle_json TEXT NOT NULL,
    reviewed_report_json TEXT,
    reviewed_bundle_json TEXT,
    created_at {ts} NOT NULL,
    reviewed_at {ts}
);
CREATE TABLE events (
    seq {serial},
    job_id TEXT NOT NULL REFERENCES jobs (id),
    kind TEXT NOT NULL,
    actor TEXT,
    at {ts} NOT NULL,
    details TEXT NOT NULL
);
CREATE INDEX events_by_job ON events (job_id, seq)
"""

# Version 2: an audit trail that outlives the jobs it names (a purge records that it happened, with no content).
_SCHEMA_V2 = """
CREATE TABLE audit (
    seq {serial},
    kind TEXT NOT NULL,
    actor TEXT,
    at {ts} NOT NULL,
    details TEXT NOT NULL
)
"""

# version -> DDL that brings the schema from version-1 to version. Never edit a released entry: add one.
_MIGRATIONS: dict[int, str] = {1: _SCHEMA_V1, 2: _SCHEMA_V2}

_JOB_COLUMNS = (
    "id, input_path, input_name, audio_sha256, status, attempts, error, created_at, updated_at, worker, "
    "review_status, language, medications, needs_review, audio_seconds"
)


def kept_audio(job: Job) -> Path | None:
    """The copy of a job's recording that consult keeps (the API's and the review page's ``<job id><suffix>``
    files), None when the input is the user's own file (``consult run``, the watch folder): never deleted."""
    path = Path(job.input_path)
    return path if path.stem == job.id else None


def discard_kept_audio(job: Job) -> Path | None:
    """Delete the copy of a purged job's recording that consult kept (:func:`kept_audio`); returns it, or None
    when there was none to delete."""
    path = kept_audio(job)
    if path is not None:
        path.unlink(missing_ok=True)
    return path


def private_files(db_path: Path) -> None:
    """The SQLite store's folder 0700 when we create it, the database and its -wal/-shm files 0600 (created so,
    or tightened when this user owns them); a folder others can read gets a warning."""
    folder = db_path.parent
    if not folder.exists():
        folder.mkdir(parents=True, mode=0o700)
    elif folder.stat().st_mode & 0o077:
        log.warning("the report store's folder %s is readable by other users: chmod 700 it", folder)
    if not db_path.exists():
        os.close(os.open(db_path, os.O_CREAT | os.O_WRONLY, 0o600))
    for path in (db_path, Path(f"{db_path}-wal"), Path(f"{db_path}-shm")):
        try:
            st = path.stat()
        except FileNotFoundError:
            continue
        if st.st_mode & 0o077 and st.st_uid == os.getuid():
            os.chmod(path, 0o600)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _redact(url: str) -> str:
    """``url`` without its password (for messages and logs)."""
    url = re.sub(r"(?i)(password=)[^&]*", r"\1***", url)
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = (parts.username or "") + ":***"
    return urlunsplit(parts._replace(netloc=f"{user}@{netloc[-1]}"))


def _check_json(text: Any, what: str) -> str:
    if not isinstance(text, str):
        raise StoreError(f"{what} must be a JSON string, got {type(text).__name__}")
    try:
        json.loads(text)
    except ValueError as exc:
        raise StoreError(f"{what} is not valid JSON: {exc}") from None
    return text


# ------------------------------------------------------------------------------------------- backends


class _Backend:
    """What differs between SQLite and PostgreSQL: connecting, transactions, placeholders, types."""

    name: str
    for_update: str = ""
    driver_errors: tuple[type[BaseException], ...] = ()

    def connect(self) -> Any:
        raise NotImplementedError

    def usable(self, conn: Any) -> bool:
        return True

    @contextmanager
    def transaction(self, conn: Any) -> Iterator[None]:
        raise NotImplementedError

    def sql(self, text: str) -> str:
        return text

    def ddl(self, text: str) -> str:
        raise NotImplementedError

    def lock_schema(self, conn: Any) -> None:
        """Serialise schema creation between processes (inside the schema transaction)."""

    def after_purge(self, conn: Any) -> None:
        """Make deleted rows unreadable in the files (SQLite: empty the write-ahead log)."""

    def to_db(self, t: datetime) -> Any:
        return t

    def from_db(self, value: Any) -> datetime:
        at: datetime = value.astimezone(timezone.utc)
        return at


class _SQLite(_Backend):
    name = "sqlite"
    driver_errors = (sqlite3.Error,)

    def after_purge(self, conn: sqlite3.Connection) -> None:
        # secure_delete zeroes the freed pages of the database file; the old pages still sit in the WAL
        # until a checkpoint: copy back and truncate it now (a reader holding a snapshot delays it).
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        except sqlite3.Error:
            log.warning("SQLite store: the write-ahead log could not be checkpointed after a purge")

    def __init__(self, path: Path) -> None:
        self.path = path

    def connect(self) -> sqlite3.Connection:
        private_files(self.path)
        # isolation_level=None: the driver never opens transactions on its own; we issue BEGIN IMMEDIATE.
        # check_same_thread=False only so that close() may close every thread's connection; each
        # connection is otherwise used by the one thread that opened it.
        conn = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                               check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            log.warning("SQLite store: the file system does not support WAL (journal_mode=%s)", mode)
        # FULL, not NORMAL: in WAL mode NORMAL already survives a killed process, but a power cut or an OS
        # crash may roll back the last commits. A commit here is a finished report (seconds to minutes of
        # compute) or a clinician's review, a few commits per job, so one fsync each costs nothing
        # measurable and makes every committed report and review survive a power loss too.
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        # A deleted report is overwritten with zeros, not left readable in free pages of the file.
        conn.execute("PRAGMA secure_delete = ON")
        return conn

    @contextmanager
    def transaction(self, conn: sqlite3.Connection) -> Iterator[None]:
        # IMMEDIATE takes the write lock now (waiting up to busy_timeout), so a read-then-write never fails
        # half-way with SQLITE_BUSY and every write transaction sees the latest committed state.
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def ddl(self, text: str) -> str:
        return text.format(serial="INTEGER PRIMARY KEY AUTOINCREMENT", ts="TEXT", real="REAL")

    def to_db(self, t: datetime) -> str:
        # Fixed-width ISO 8601 in UTC: sorts as text, parses back exactly.
        return t.astimezone(timezone.utc).isoformat(timespec="microseconds")

    def from_db(self, value: Any) -> datetime:
        return datetime.fromisoformat(value).astimezone(timezone.utc)


class _Postgres(_Backend):
    name = "postgresql"
    for_update = " FOR UPDATE"

    def __init__(self, url: str) -> None:
        try:
            import psycopg
        except ImportError as exc:
            raise StoreError(
                "a postgresql:// store needs psycopg 3: pip install 'psycopg[binary]>=3.2'"
            ) from exc
        self.url = url
        self.psycopg = psycopg
        self.driver_errors = (psycopg.Error,)

    def connect(self) -> Any:
        from psycopg.rows import dict_row

        kwargs: dict[str, Any] = {"autocommit": True, "row_factory": dict_row}
        if "connect_timeout" not in self.url:
            kwargs["connect_timeout"] = 10
        if "application_name" not in self.url:
            kwargs["application_name"] = "consult"
        conn = self.psycopg.connect(self.url, **kwargs)
        conn.execute("SET TIME ZONE 'UTC'")
        return conn

    def usable(self, conn: Any) -> bool:
        return not (conn.closed or conn.broken)

    @contextmanager
    def transaction(self, conn: Any) -> Iterator[None]:
        # READ COMMITTED; every read-then-write locks its rows (FOR UPDATE) or guards its UPDATE with the
        # expected status, so two machines never both claim or both complete one job.
        with conn.transaction():
            yield

    def sql(self, text: str) -> str:
        return text.replace("?", "%s")

    def ddl(self, text: str) -> str:
        return text.format(serial="BIGSERIAL PRIMARY KEY", ts="TIMESTAMPTZ", real="DOUBLE PRECISION")

    def lock_schema(self, conn: Any) -> None:
        # Several machines may open a fresh database at once; CREATE TABLE races would fail one of them.
        conn.execute("SELECT pg_advisory_xact_lock(4242424201)")


def _backend_for(url: str | Path) -> tuple[_Backend, str]:
    """The back-end for ``url`` and the URL as shown to people (password hidden)."""
    if isinstance(url, Path):
        path = url
    else:
        text = str(url).strip()
        if not text:
            raise StoreError("empty store URL")
        scheme = text.split("://", 1)[0].lower() if "://" in text else ""
        if scheme in ("postgresql", "postgres"):
            return _Postgres(text), _redact(text)
        if scheme == "sqlite":
            path_text = text[len("sqlite://"):]
            if not path_text:
                raise StoreError("sqlite:// URL without a path: use sqlite:///absolute/path/consult.db")
        elif scheme:
            raise StoreError(f"unsupported store URL scheme {scheme!r}: use a file path, sqlite:///path "
                             "or postgresql://user@host/dbname")
        else:
            path_text = text
        if path_text in (":memory:", "/:memory:") or path_text.startswith("file:"):
            raise StoreError("in-memory and file: URI SQLite stores are not supported: give a file path")
        path = Path(path_text)
    path = path.expanduser()
    return _SQLite(path.resolve()), "sqlite://" + str(path.resolve())


# ---------------------------------------------------------------------------------------------- store


class _Tx:
    """Statement runner bound to one connection (inside or outside a transaction)."""

    def __init__(self, backend: _Backend, conn: Any) -> None:
        self._backend = backend
        self._conn = conn

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        return self._conn.execute(self._backend.sql(sql), params)

    def one(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        return self.execute(sql, params).fetchone()

    def all(self, sql: str, params: tuple[Any, ...] = ()) -> builtins.list[Any]:
        rows: builtins.list[Any] = self.execute(sql, params).fetchall()
        return rows


class ReportStore:
    """Jobs, reports and their history in SQLite (default) or PostgreSQL.

    Open with :meth:`open`. Safe to share between threads: each thread gets its own connection. Every
    write is one transaction. Times are UTC. Not shared across ``fork``: open it in the child.
    """

    def __init__(self, url: str | Path | None = None) -> None:
        raw = default_store_url() if url is None else url
        self._raw_url = raw
        self._backend, self.url = _backend_for(raw)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._conns: builtins.list[Any] = []
        self._closed = False
        self._migrate()
        log.debug("report store open: %s", self.url)

    @classmethod
    def open(cls, url: str | Path | None = None) -> ReportStore:
        """Open (creating if needed) the store at ``url``: a path, ``sqlite:///path``, ``postgresql://...``;
        ``None`` means :func:`default_store_url`."""
        return cls(url)

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self._backend.name

    def __repr__(self) -> str:
        return f"ReportStore({self.url!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled (e.g. into a Ray actor) as its URL: the copy opens its own connections.
        return (type(self).open, (self._raw_url,))

    def close(self) -> None:
        """Close every connection this store opened (in any thread)."""
        with self._lock:
            self._closed = True
            conns, self._conns = self._conns, []
        for conn in conns:
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - closing must not fail
                log.debug("closing a store connection failed", exc_info=True)

    def __enter__(self) -> ReportStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------------------ connections & tx

    def _conn(self) -> Any:
        if self._closed:
            raise StoreError("the report store is closed")
        conn = getattr(self._local, "conn", None)
        if conn is not None and self._backend.usable(conn):
            return conn
        try:
            conn = self._backend.connect()
        except self._backend.driver_errors as exc:
            raise StoreError(f"cannot open the report store {self.url}: {exc}") from exc
        except OSError as exc:
            raise StoreError(f"cannot create the report store {self.url}: {exc}") from exc
        with self._lock:
            if self._closed:
                conn.close()
                raise StoreError("the report store is closed")
            self._conns.append(conn)
        self._local.conn = conn
        return conn

    @contextmanager
    def _tx(self) -> Iterator[_Tx]:
        """One write transaction; driver errors become StoreError, any exception rolls back."""
        conn = self._conn()
        try:
            with self._backend.transaction(conn):
                yield _Tx(self._backend, conn)
        except self._backend.driver_errors as exc:
            raise StoreError(f"report store {self.url}: {exc}") from exc

    @contextmanager
    def _read(self) -> Iterator[_Tx]:
        conn = self._conn()
        try:
            yield _Tx(self._backend, conn)
        except self._backend.driver_errors as exc:
            raise StoreError(f"report store {self.url}: {exc}") from exc

    def _migrate(self) -> None:
        with self._tx() as tx:
            self._backend.lock_schema(tx._conn)
            tx.execute(self._backend.ddl(
                "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied_at {ts} NOT NULL)"
            ))
            row = tx.one("SELECT MAX(version) AS v FROM schema_version")
            current = (row["v"] if row is not None else None) or 0
            if current > SCHEMA_VERSION:
                raise StoreError(f"the report store {self.url} has schema version {current}, newer than this "
                                 f"consult understands ({SCHEMA_VERSION}): upgrade consult")
            for version in range(current + 1, SCHEMA_VERSION + 1):
                for statement in self._backend.ddl(_MIGRATIONS[version]).split(";"):
                    if statement.strip():
                        tx.execute(statement)
                tx.execute("INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
                           (version, self._backend.to_db(_now())))
                log.info("report store %s: schema version %d", self.url, version)

    def schema_version(self) -> int:
        """The schema version recorded in the database."""
        with self._read() as tx:
            return int(tx.one("SELECT MAX(version) AS v FROM schema_version")["v"])

    # ------------------------------------------------------------------------------------- helpers

    def _job(self, row: Any) -> Job:
        b = self._backend
        return Job(
            id=row["id"], input_path=row["input_path"], input_name=row["input_name"],
            audio_sha256=row["audio_sha256"], status=row["status"], attempts=int(row["attempts"]),
            error=row["error"], created_at=b.from_db(row["created_at"]), updated_at=b.from_db(row["updated_at"]),
            worker=row["worker"], review_status=row["review_status"], language=row["language"],
            medications=int(row["medications"]), needs_review=int(row["needs_review"]),
            audio_seconds=float(row["audio_seconds"]),
        )

    def _event(self, tx: _Tx, job_id: str, kind: str, actor: str | None, at: datetime,
               details: dict[str, Any] | None = None) -> None:
        tx.execute("INSERT INTO events (job_id, kind, actor, at, details) VALUES (?, ?, ?, ?, ?)",
                   (job_id, kind, actor, self._backend.to_db(at), json.dumps(details or {}, ensure_ascii=False)))

    def _locked_job(self, tx: _Tx, job_id: str) -> Any:
        row = tx.one(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id = ?{self._backend.for_update}", (job_id,))
        if row is None:
            raise StoreError(f"unknown job {job_id}")
        return row

    # ----------------------------------------------------------------------------------- lifecycle

    def _insert_job(self, tx: _Tx, job_id: str, input_path: str | Path, input_name: str, audio_sha256: str,
                    actor: str | None, now: datetime) -> bool:
        ts = self._backend.to_db(now)
        cur = tx.execute(
            "INSERT INTO jobs (id, input_path, input_name, audio_sha256, status, attempts, created_at, "
            "updated_at) VALUES (?, ?, ?, ?, 'queued', 0, ?, ?) ON CONFLICT (id) DO NOTHING",
            (job_id, str(input_path), input_name, audio_sha256, ts, ts),
        )
        if cur.rowcount != 1:
            return False
        self._event(tx, job_id, "created", actor, now)
        return True

    def submit(self, job_id: str, *, input_path: str | Path, input_name: str, audio_sha256: str,
               actor: str | None = None) -> bool:
        """Queue a job. True when new; an existing job (queued, running, done or failed) is left untouched."""
        with self._tx() as tx:
            new = self._insert_job(tx, job_id, input_path, input_name, audio_sha256, actor, _now())
        if new:
            log.debug("job %s queued", job_id)
        return new

    def submit_many(self, jobs: Iterable[Mapping[str, Any]], *, actor: str | None = None) -> builtins.list[str]:
        """:meth:`submit` for many jobs in one transaction (one disk sync for a whole folder).

        Each item has the keys ``job_id``, ``input_path``, ``input_name``, ``audio_sha256``. Returns the ids
        that were new, in order.
        """
        items = builtins.list(jobs)
        now = _now()
        with self._tx() as tx:
            new = [j["job_id"] for j in items if self._insert_job(
                tx, j["job_id"], j["input_path"], j["input_name"], j["audio_sha256"], actor, now)]
        log.debug("%d job(s) submitted, %d new", len(items), len(new))
        return new

    def claim(self, job_id: str, *, worker: str) -> bool:
        """queued -> running (attempts + 1, ``started`` event). False when the job is not queued."""
        now = _now()
        with self._tx() as tx:
            cur = tx.execute(
                "UPDATE jobs SET status = 'running', attempts = attempts + 1, worker = ?, error = NULL, "
                "updated_at = ? WHERE id = ? AND status = 'queued'",
                (worker, self._backend.to_db(now), job_id),
            )
            if cur.rowcount != 1:
                return False
            attempt = tx.one("SELECT attempts FROM jobs WHERE id = ?", (job_id,))["attempts"]
            self._event(tx, job_id, "started", worker, now, {"worker": worker, "attempt": int(attempt)})
        log.debug("job %s started on %s (attempt %d)", job_id, worker, attempt)
        return True

    def complete(self, job_id: str, *, report_json: str, bundle_json: str, summary: dict[str, Any]) -> None:
        """Store the report and bundle, mark the job done and fill its summary columns, in one transaction.

        ``summary`` may hold ``language``, ``medications``, ``needs_review``, ``audio_seconds``. Completing a
        job that is already done changes nothing (the first report is kept). A queued, running or failed
        job may be completed (a worker that outlived a ``recover`` still delivers its result once).
        """
        _check_json(report_json, "report_json")
        _check_json(bundle_json, "bundle_json")
        language = summary.get("language")
        values = (
            None if language is None else str(language),
            int(summary.get("medications") or 0),
            int(summary.get("needs_review") or 0),
            float(summary.get("audio_seconds") or 0.0),
        )
        now = _now()
        ts = self._backend.to_db(now)
        with self._tx() as tx:
            cur = tx.execute(
                "UPDATE jobs SET status = 'done', error = NULL, review_status = 'to_review', language = ?, "
                "medications = ?, needs_review = ?, audio_seconds = ?, updated_at = ? "
                "WHERE id = ? AND status <> 'done'",
                (*values, ts, job_id),
            )
            if cur.rowcount != 1:
                self._locked_job(tx, job_id)  # raises for an unknown job
                log.debug("job %s already done: completion ignored", job_id)
                return
            tx.execute(
                "INSERT INTO reports (job_id, report_json, bundle_json, created_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (job_id) DO UPDATE SET report_json = excluded.report_json, "
                "bundle_json = excluded.bundle_json, reviewed_report_json = NULL, reviewed_bundle_json = NULL, "
                "created_at = excluded.created_at, reviewed_at = NULL",
                (job_id, report_json, bundle_json, ts),
            )
            worker = tx.one("SELECT worker FROM jobs WHERE id = ?", (job_id,))["worker"]
            self._event(tx, job_id, "done", worker, now, {
                "language": values[0], "medications": values[1], "needs_review": values[2],
                "audio_seconds": values[3],
            })
        log.debug("job %s done", job_id)

    def fail(self, job_id: str, *, error: str, retryable: bool, max_attempts: int = 3) -> str:
        """Record a failed attempt. Returns the new status: ``queued`` when ``retryable`` and fewer than
        ``max_attempts`` attempts were made, else ``failed``. A job already done stays done."""
        now = _now()
        message = str(error)[:_MAX_ERROR_CHARS]
        with self._tx() as tx:
            row = self._locked_job(tx, job_id)
            if row["status"] == "done":
                log.warning("job %s: failure reported after it was done; ignored", job_id)
                return "done"
            attempts = int(row["attempts"])
            # A job already failed stays failed: only retry() (an explicit decision) queues it again.
            requeue = retryable and attempts < max_attempts and row["status"] != "failed"
            status = "queued" if requeue else "failed"
            tx.execute("UPDATE jobs SET status = ?, error = ?, updated_at = ? WHERE id = ?",
                       (status, message, self._backend.to_db(now), job_id))
            self._event(tx, job_id, "failed", row["worker"], now, {
                "error": message, "retryable": bool(retryable), "attempt": attempts, "status": status,
            })
        log.info("job %s failed (attempt %d): now %s", job_id, attempts, status)
        return status

    def retry(self, job_id: str, *, actor: str | None = None) -> None:
        """failed -> queued with the attempt count reset. StoreError when the job is unknown or not failed."""
        now = _now()
        with self._tx() as tx:
            row = self._locked_job(tx, job_id)
            if row["status"] != "failed":
                raise StoreError(f"job {job_id} is {row['status']}, not failed: nothing to retry")
            tx.execute("UPDATE jobs SET status = 'queued', attempts = 0, error = NULL, worker = NULL, "
                       "updated_at = ? WHERE id = ?", (self._backend.to_db(now), job_id))
            self._event(tx, job_id, "retried", actor, now,
                        {"previous_attempts": int(row["attempts"]), "previous_error": row["error"]})
        log.info("job %s queued again", job_id)

    def recover(self, *, worker_prefix: str | None = None, max_attempts: int | None = None) -> int:
        """After a crash: put every ``running`` job back to ``queued``; returns how many were recovered.

        ``worker_prefix`` limits this to jobs claimed by workers whose name starts with it (several machines
        sharing one PostgreSQL: recover only your own). With ``max_attempts``, a job already started that
        many times is marked ``failed`` instead (a file that kills the process every time it is read).
        """
        now = _now()
        ts = self._backend.to_db(now)
        sql = "SELECT id, worker, attempts FROM jobs WHERE status = 'running'"
        params: tuple[Any, ...] = ()
        if worker_prefix:
            sql += " AND substr(worker, 1, length(CAST(? AS TEXT))) = ?"
            params = (worker_prefix, worker_prefix)
        with self._tx() as tx:
            rows = tx.all(sql + " ORDER BY seq" + self._backend.for_update, params)
            for row in rows:
                attempts = int(row["attempts"])
                if max_attempts is not None and attempts >= max_attempts:
                    error = f"interrupted {attempts} time(s): the process running it died"
                    tx.execute("UPDATE jobs SET status = 'failed', error = ?, updated_at = ? WHERE id = ?",
                               (error, ts, row["id"]))
                    self._event(tx, row["id"], "failed", row["worker"], now, {
                        "error": error, "retryable": False, "attempt": attempts, "status": "failed",
                        "reason": "recovered"})
                else:
                    tx.execute("UPDATE jobs SET status = 'queued', updated_at = ? WHERE id = ?", (ts, row["id"]))
                    self._event(tx, row["id"], "queued", None, now,
                                {"reason": "recovered", "worker": row["worker"], "attempt": attempts})
        if rows:
            log.info("recovered %d interrupted job(s)", len(rows))
        return len(rows)

    # --------------------------------------------------------------------------------------- reads

    def pending(self, *, limit: int | None = None) -> builtins.list[Job]:
        """Queued jobs, oldest first."""
        sql = f"SELECT {_JOB_COLUMNS} FROM jobs WHERE status = 'queued' ORDER BY seq"
        params: tuple[Any, ...] = ()
        if limit is not None:
            sql += " LIMIT ?"
            params = (int(limit),)
        with self._read() as tx:
            return [self._job(r) for r in tx.all(sql, params)]

    def get(self, job_id: str) -> Job | None:
        """The job, or None when unknown."""
        with self._read() as tx:
            row = tx.one(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,))
        return None if row is None else self._job(row)

    def list(self, *, status: str | None = None, review_status: str | None = None,
             limit: int | None = 100) -> builtins.list[Job]:
        """Jobs, newest first, optionally filtered by status and review status."""
        where: builtins.list[str] = []
        params: builtins.list[Any] = []
        if status is not None:
            if status not in JOB_STATUSES:
                raise StoreError(f"unknown job status {status!r}: one of {', '.join(JOB_STATUSES)}")
            where.append("status = ?")
            params.append(status)
        if review_status is not None:
            if review_status not in REVIEW_STATUSES:
                raise StoreError(f"unknown review status {review_status!r}: one of {', '.join(REVIEW_STATUSES)}")
            where.append("review_status = ?")
            params.append(review_status)
        sql = f"SELECT {_JOB_COLUMNS} FROM jobs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY seq DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        with self._read() as tx:
            return [self._job(r) for r in tx.all(sql, tuple(params))]

    def counts(self) -> dict[str, int]:
        """Number of jobs per status (every status present, zeros included)."""
        with self._read() as tx:
            rows = tx.all("SELECT status, COUNT(*) AS n FROM jobs GROUP BY status")
        out = dict.fromkeys(JOB_STATUSES, 0)
        out.update({r["status"]: int(r["n"]) for r in rows})
        return out

    def report_json(self, job_id: str, *, draft: bool = False) -> str | None:
        """The reviewed report when a review stored one, else the pipeline's draft (``draft=True``: always
        the draft). None when the job has no report."""
        column = "report_json" if draft else "COALESCE(reviewed_report_json, report_json)"
        with self._read() as tx:
            row = tx.one(f"SELECT {column} AS v FROM reports WHERE job_id = ?", (job_id,))
        return None if row is None else row["v"]

    def bundle_json(self, job_id: str, *, draft: bool = False) -> str | None:
        """The reviewed FHIR bundle when reviewed, else the draft bundle (``draft=True``: always the draft)."""
        column = "bundle_json" if draft else "COALESCE(reviewed_bundle_json, bundle_json)"
        with self._read() as tx:
            row = tx.one(f"SELECT {column} AS v FROM reports WHERE job_id = ?", (job_id,))
        return None if row is None else row["v"]

    # -------------------------------------------------------------------------------------- review

    def save_review(self, job_id: str, *, reviewed_report_json: str | None, bundle_json: str,
                    decisions: builtins.list[dict[str, Any]], actor: str,
                    action: Literal["reviewed", "edited", "approved", "rejected", "signed"],
                    review_status: str) -> None:
        """Store a review in one transaction: the reviewed bundle (and report, unless None: then the previous
        reviewed report is kept), the review status, and an event with the actor, time and decisions.

        The pipeline's draft report and bundle are never overwritten (``report_json(job_id, draft=True)``).
        """
        if action not in REVIEW_ACTIONS:
            raise StoreError(f"unknown review action {action!r}: one of {', '.join(REVIEW_ACTIONS)}")
        if review_status not in REVIEW_STATUSES:
            raise StoreError(f"unknown review status {review_status!r}: one of {', '.join(REVIEW_STATUSES)}")
        if not isinstance(actor, str) or not actor.strip():
            raise StoreError("a review needs the reviewer's name (actor)")
        if not isinstance(decisions, builtins.list) or not all(isinstance(d, dict) for d in decisions):
            raise StoreError("decisions must be a list of dicts (line id, decision, edited fields)")
        _check_json(bundle_json, "bundle_json")
        if reviewed_report_json is not None:
            _check_json(reviewed_report_json, "reviewed_report_json")
        try:
            details = json.dumps({"review_status": review_status, "decisions": decisions}, ensure_ascii=False)
        except (TypeError, ValueError) as exc:
            raise StoreError(f"decisions are not JSON-serialisable: {exc}") from None
        now = _now()
        ts = self._backend.to_db(now)
        with self._tx() as tx:
            row = self._locked_job(tx, job_id)
            if row["status"] != "done":
                raise StoreError(f"job {job_id} is {row['status']}: only a finished report can be reviewed")
            cur = tx.execute(
                "UPDATE reports SET reviewed_bundle_json = ?, "
                "reviewed_report_json = COALESCE(?, reviewed_report_json), reviewed_at = ? WHERE job_id = ?",
                (bundle_json, reviewed_report_json, ts, job_id),
            )
            if cur.rowcount != 1:
                raise StoreError(f"job {job_id} has no stored report")
            tx.execute("UPDATE jobs SET review_status = ?, updated_at = ? WHERE id = ?", (review_status, ts, job_id))
            tx.execute("INSERT INTO events (job_id, kind, actor, at, details) VALUES (?, ?, ?, ?, ?)",
                       (job_id, action, actor, ts, details))
        log.info("job %s %s: review status %s (%d decision(s))", job_id, action, review_status, len(decisions))

    def purge(self, job_id: str, *, actor: str | None = None, force: bool = False) -> Job | None:
        """Remove a job with its report, reviews and history; returns the removed job (None when unknown).

        A running job is refused unless ``force`` (its worker would write it back). An ``audit`` row records that
        a purge happened (job id, who, when; no content). SQLite overwrites the deleted content
        (``secure_delete``) and the write-ahead log is checkpointed, so the report's text is gone from the files.
        Files (kept audio, exports) are the caller's: see :func:`discard_kept_audio`.
        """
        now = _now()
        with self._tx() as tx:
            row = tx.one(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,))
            if row is None:
                return None
            if row["status"] == "running" and not force:
                raise StoreError(f"job {job_id} is being processed: purge it once it is done or failed")
            job = self._job(row)
            tx.execute("DELETE FROM events WHERE job_id = ?", (job_id,))
            tx.execute("DELETE FROM reports WHERE job_id = ?", (job_id,))
            tx.execute("DELETE FROM jobs WHERE id = ?", (job_id,))
            tx.execute("INSERT INTO audit (kind, actor, at, details) VALUES (?, ?, ?, ?)",
                       ("purged", actor, self._backend.to_db(now), json.dumps({"job_id": job_id})))
        self._backend.after_purge(self._conn())
        log.info("job %s purged%s", job_id, f" by {actor}" if actor else "")
        return job

    def purge_older_than(self, days: float, *, actor: str | None = None) -> builtins.list[Job]:
        """Purge every job (not running) last updated more than ``days`` days ago (the retention setting)."""
        from datetime import timedelta

        cutoff = self._backend.to_db(_now() - timedelta(days=days))
        with self._read() as tx:
            ids = [r["id"] for r in tx.all(
                "SELECT id FROM jobs WHERE updated_at < ? AND status <> 'running' ORDER BY seq", (cutoff,))]
        removed = [self.purge(i, actor=actor) for i in ids]
        return [j for j in removed if j is not None]

    def audit(self) -> builtins.list[Event]:
        """The audit trail (purges), oldest first; ``job_id`` is the job the entry is about."""
        with self._read() as tx:
            rows = tx.all("SELECT kind, actor, at, details FROM audit ORDER BY seq")
        out = []
        for r in rows:
            details = json.loads(r["details"])
            out.append(Event(job_id=str(details.get("job_id", "")), kind=r["kind"], actor=r["actor"],
                             at=self._backend.from_db(r["at"]), details=details))
        return out

    def history(self, job_id: str) -> builtins.list[Event]:
        """The job's events, oldest first (empty for an unknown job)."""
        with self._read() as tx:
            rows = tx.all("SELECT job_id, kind, actor, at, details FROM events WHERE job_id = ? ORDER BY seq",
                          (job_id,))
        return [Event(job_id=r["job_id"], kind=r["kind"], actor=r["actor"], at=self._backend.from_db(r["at"]),
                      details=json.loads(r["details"])) for r in rows]
