"""``consult api``: the HTTP service for integrators (FastAPI on uvicorn, 127.0.0.1 by default).

Endpoints (``/v1``; every one but ``/v1/health`` needs ``Authorization: Bearer TOKEN``):

- ``POST /v1/consultations`` (multipart: ``audio`` file, optional ``language`` auto|fr|en) -> ``202`` with the
  job id and ``Location``. The upload is decoded before it is queued: a file that is not audio gets a ``422``
  with the reason (nothing queued, nothing else touched); over the size limit ``413``; no length ``411``.
  The same audio with the same options is one job (its id comes from the content and the settings).
- ``GET /v1/consultations`` -> the API's jobs, newest first; ``GET /v1/consultations/{id}`` -> status
  (queued, running, done, failed), attempts, error, and progress (stage and fraction while it runs here).
- ``GET .../bundle`` (``application/fhir+json``; ``?type=transaction`` ready to POST to a FHIR server),
  ``.../report`` (report.json), ``.../transcript`` (text): ``409`` until the job is done.
- ``DELETE /v1/consultations/{id}`` -> ``204``: the job, its report, reviews, history and kept audio are gone.
- ``WS /v1/live?language=auto|fr|en&sample_rate=16000`` (``Authorization`` header as above): a live
  consultation. The client sends binary frames of 16-bit little-endian mono PCM at ``sample_rate``; the server sends
  JSON text frames: ``{"type": "ready"}``, then ``{"type": "text", "segment", "text", "words", "at"}`` for each
  commit (local agreement, :mod:`consult.live`), ``{"type": "revised", "from_segment", "segments"}`` when an
  utterance, read again whole at its end, replaces the turns from ``from_segment`` on, and ``{"type": "card",
  "event": "added"|"updated"|"removed", "key", "line"}`` for the medication cards. The client ends with the text
  frame ``{"type": "stop"}``: the recording is queued as a job (as if POSTed) and the server answers
  ``{"type": "done", "job", "location"}`` before closing; the final report and bundle come from the job. A client
  that disconnects without ``stop`` leaves nothing behind. Without valid credentials the handshake is refused (HTTP
  403); close codes 1003 for a bad ``sample_rate``, 1013 when too many live consultations run at once.

Jobs are rows of the report store (:mod:`consult.store`) processed by :func:`workers.batch.run_jobs` on the same
executors as ``consult run`` (in-process or Ray), in a background thread of the server. The uploaded audio is
kept in ``DATA_DIR/audio/<job id><suffix>`` (mode 0600) until the job is deleted: a server killed at any point
(``kill -9``) resumes its queued and interrupted jobs when it starts again, each finished exactly once.

Tokens come from a file (one ``name:token`` or bare ``token`` per line, ``#`` comments); only their SHA-256 is
kept in memory. Without a file (loopback only) a random token is made for the launch, printed once and written
to ``DATA_DIR/api-token`` (0600). Nothing here logs transcript text or patient names.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
import shutil
import tempfile
import threading
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from fastapi import Depends, FastAPI, File, Form, HTTPException, Query, Request, UploadFile, WebSocket
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBasic, HTTPBasicCredentials, HTTPBearer
from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Receive, Scope, Send

from consult.accounts import INTEGRATOR, Accounts, role_may
from consult.audio import SUPPORTED_SUFFIXES, load_audio, sha256_file
from consult.config import Settings
from consult.config import job_id as make_job_id
from consult.errors import AudioError, ConsultError, FhirError
from consult.fhir import BundleType, as_bundle_type
from consult.outputs import transcript_text
from consult.security import LOOPBACK_NAMES, HostOriginGuard, secret_file_lines
from consult.store import Job, ReportStore, StoreError, discard_kept_audio
from schemas import ConsultationReport

log = logging.getLogger(__name__)

__all__ = [
    "API_ACTOR_PREFIX",
    "FHIR_JSON",
    "LANGUAGES",
    "ApiOptions",
    "Caller",
    "JobRunner",
    "JobStatus",
    "LiveModels",
    "create_app",
    "load_tokens",
    "make_token_file",
    "openapi_json",
]

FHIR_JSON = "application/fhir+json"
LANGUAGES = ("auto", "fr", "en")
API_ACTOR_PREFIX = "api:"
Language = Literal["auto", "fr", "en"]


# ------------------------------------------------------------------------------------------------ tokens

def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def load_tokens(path: Path) -> dict[str, str]:
    """SHA-256 of each token -> its name, from a file of ``name:token`` or ``token`` lines."""
    tokens: dict[str, str] = {}
    for n, line in secret_file_lines(path, "tokens"):
        name, _, token = line.rpartition(":")
        if len(token) < 16:
            raise ConsultError(f"{path}, line {n}: a token needs at least 16 characters (e.g. python -c "
                               "'import secrets; print(secrets.token_urlsafe(32))')")
        tokens[_digest(token)] = name or f"token-{n}"
    if not tokens:
        raise ConsultError(f"{path}: no token in the file (one 'name:token' per line)")
    if os.stat(path).st_mode & 0o077:
        log.warning("the tokens file %s is readable by other users: chmod 600 it", path)
    return tokens


def make_token_file(data_dir: Path) -> tuple[str, Path]:
    """A random token for this launch, written to ``data_dir/api-token`` (0600)."""
    from consult.outputs import atomic_write

    token = secrets.token_urlsafe(32)
    path = Path(data_dir) / "api-token"
    atomic_write(path, f"launch:{token}\n", mode=0o600)
    return token, path


# ------------------------------------------------------------------------------------------------ runner

@dataclass(frozen=True)
class ApiOptions:
    """``data_dir``: kept audio and the launch token; ``max_upload_bytes``: the largest upload accepted;
    ``allowed_hosts``: the Host names answered (others get 400: DNS rebinding), see :class:`HostOriginGuard`."""

    data_dir: Path
    max_upload_bytes: int = 500 * 1024 * 1024
    max_attempts: int = 2
    allowed_hosts: frozenset[str] = LOOPBACK_NAMES
    max_live: int = 2
    """Live consultations (``/v1/live``) at once: each decodes continuously."""

    @property
    def audio_dir(self) -> Path:
        return Path(self.data_dir) / "audio"


class LiveModels:
    """The transcriber and extractor of ``/v1/live``, built in this process at the first live consultation and
    shared by the next ones (the job runner's models may live in Ray workers)."""

    def __init__(self, settings: Settings, build: Callable[[], tuple[Any, Any]] | None = None) -> None:
        self.settings = settings
        self._build = build
        self._models: tuple[Any, Any] | None = None
        self._lock = threading.Lock()

    def get(self) -> tuple[Any, Any]:
        with self._lock:
            if self._models is None:
                if self._build is not None:
                    self._models = self._build()
                else:
                    from consult.backends.factory import build_extractor, build_transcriber

                    self._models = (build_transcriber(self.settings), build_extractor(self.settings))
            return self._models


class _Progress:
    """A file hook of the in-process executor: the stage and fraction of the file it runs."""

    def __init__(self, runner: JobRunner, job_id: str) -> None:
        self.runner, self.job_id = runner, job_id

    def __call__(self, stage: str, fraction: float) -> None:
        with self.runner._lock:
            self.runner._progress[self.job_id] = (stage, round(float(fraction), 3))

    def close(self) -> None:
        with self.runner._lock:
            self.runner._progress.pop(self.job_id, None)


class JobRunner:
    """The server's background thread: runs the store's queued jobs (``run_jobs(resume=True)``) for each language
    setting, whenever woken (a new job) and every ``poll_s`` seconds (jobs queued by ``consult jobs retry``).

    ``executor_for(settings, file_hook)`` gives a ``get_executor`` (:class:`workers.executors.LazyExecutor`); one
    is made per language on first need and kept, so the models stay loaded between jobs.
    """

    def __init__(self, store: ReportStore, settings: Settings,
                 executor_for: Callable[[Settings, Callable[[str], Any]], Any], *, max_attempts: int = 2,
                 poll_s: float = 5.0) -> None:
        self.store = store
        self.settings = settings
        self.executor_for = executor_for
        self.max_attempts = max_attempts
        self.poll_s = poll_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._progress: dict[str, tuple[str, float]] = {}
        self._executors: dict[str, Any] = {}
        self._thread = threading.Thread(target=self._loop, name="consult-api-jobs", daemon=True)

    def settings_for(self, language: str | None) -> Settings:
        """The server's settings with the request's language (None: the server's own)."""
        if language is None or language == self.settings.asr.language:
            return self.settings
        return self.settings.model_copy(update={"asr": self.settings.asr.model_copy(update={"language": language})})

    def progress(self, job_id: str) -> tuple[str, float] | None:
        with self._lock:
            return self._progress.get(job_id)

    def start(self) -> None:
        self._thread.start()
        self._wake.set()  # resume what a previous server left queued or running

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float | None = 30.0) -> None:
        """No new file is started; waits up to ``timeout`` for the file in flight (the next start resumes it)."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        for executor in self._executors.values():
            try:
                executor.close()
            except Exception:  # noqa: BLE001 - closing must not fail the shutdown
                log.warning("closing an executor failed", exc_info=True)

    def _hook(self, name: str) -> _Progress:
        return _Progress(self, name.split(".", 1)[0])

    def _loop(self) -> None:
        from workers.batch import run_jobs

        while not self._stop.is_set():
            self._wake.wait(self.poll_s)
            self._wake.clear()
            if self._stop.is_set():
                break
            for language in LANGUAGES:
                settings = self.settings_for(language)
                if language not in self._executors:
                    self._executors[language] = self.executor_for(settings, self._hook)
                try:
                    run_jobs(self.store, settings, self._executors[language], resume=True, export=_no_export,
                             max_attempts=self.max_attempts, stop=self._stop)
                except Exception:  # noqa: BLE001 - the service goes on; the jobs stay queued
                    log.exception("the job runner failed (language %s); trying again in %.0f s", language,
                                  self.poll_s)


def _no_export(job_id: str, paths: Any, input_name: str, report_json: str, bundle_json: str) -> list[str]:
    """The API serves results from the store: nothing is written elsewhere."""
    return []


# ------------------------------------------------------------------------------------------------ models

class Links(BaseModel):
    self_: str = Field(alias="self")
    bundle: str
    report: str
    transcript: str


class Progress(BaseModel):
    stage: str = Field(description="Pipeline stage running now (audio, diarisation, transcription...).")
    fraction: float = Field(ge=0, le=1)


class JobStatus(BaseModel):
    """A consultation job as the API shows it (no transcript text, no file path)."""

    id: str
    status: Literal["queued", "running", "done", "failed"]
    attempts: int
    error: str | None = None
    created_at: str
    updated_at: str
    language: str | None = None
    medications: int = 0
    needs_review: int = 0
    audio_seconds: float = 0.0
    review_status: str | None = None
    progress: Progress | None = Field(default=None, description="While running in this server: stage, fraction.")
    links: Links


class JobList(BaseModel):
    consultations: list[JobStatus]


class Problem(BaseModel):
    detail: str


def _status(job: Job, runner: JobRunner) -> JobStatus:
    base = f"/v1/consultations/{job.id}"
    progress = runner.progress(job.id) if job.status == "running" else None
    return JobStatus(
        id=job.id, status=job.status,
        attempts=job.attempts, error=job.error,
        created_at=job.created_at.isoformat(timespec="seconds"),
        updated_at=job.updated_at.isoformat(timespec="seconds"),
        language=job.language, medications=job.medications, needs_review=job.needs_review,
        audio_seconds=job.audio_seconds, review_status=job.review_status,
        progress=Progress(stage=progress[0], fraction=progress[1]) if progress else None,
        links=Links.model_validate({"self": base, "bundle": f"{base}/bundle", "report": f"{base}/report",
                                    "transcript": f"{base}/transcript"}),
    )


# ------------------------------------------------------------------------------------------------ app

class _UploadLimit:
    """ASGI middleware: a POST needs a Content-Length (411 otherwise) no larger than the limit (413)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("POST", "PUT"):
            headers = dict(scope["headers"])
            length = headers.get(b"content-length")
            problem: tuple[int, str] | None = None
            if length is None:
                problem = (411, "send the upload with a Content-Length header (no chunked uploads)")
            elif not length.isdigit() or int(length) > self.limit:
                problem = (413, f"the upload is larger than the limit ({self.limit // (1024 * 1024)} MiB; "
                                "consult api --max-upload-mb)")
            if problem is not None:
                await JSONResponse({"detail": problem[1]}, status_code=problem[0])(scope, receive, send)
                return
        await self.app(scope, receive, send)


_SAFE_NAME = re.compile(r"[^\w.\- ]+")


def _safe_name(raw: str | None) -> tuple[str, str]:
    """(a file name without folders or odd characters, its lower-case suffix)."""
    name = _SAFE_NAME.sub("_", Path(raw or "").name).strip() or "upload"
    return name[-120:], Path(name).suffix.lower()


@dataclass(frozen=True)
class Caller:
    """Who makes a request: a token's name (an integrator: every action) or an account with its role."""

    name: str
    role: str = INTEGRATOR

    def may(self, action: str) -> bool:
        return role_may(self.role, action)


def create_app(store: ReportStore, runner: JobRunner, tokens: Mapping[str, str], options: ApiOptions,
               accounts: Accounts | None = None, live_models: LiveModels | None = None) -> FastAPI:
    """The FastAPI application; the runner starts and stops with it. ``tokens``: SHA-256 of each bearer token ->
    its name; ``accounts``: logins (HTTP Basic) with roles, e.g. a pharmacist may read but not delete;
    ``live_models``: the models of ``/v1/live`` (default: built from the runner's settings at the first use)."""
    live_models = live_models or LiveModels(runner.settings)
    live_slots = threading.BoundedSemaphore(options.max_live)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runner.start()
        try:
            yield
        finally:
            runner.stop()

    app = FastAPI(
        title="consult API", version=_version(), lifespan=lifespan,
        docs_url=None, redoc_url=None,  # their pages load scripts from a CDN: nothing leaves the machine
        description="Send consultation recordings, follow their jobs, fetch the FHIR R4B bundle (an AI draft "
                    "a clinician checks), the report and the transcript. Every endpoint but /v1/health needs "
                    "`Authorization: Bearer TOKEN`.",
    )
    app.add_middleware(_UploadLimit, limit=options.max_upload_bytes)
    app.add_middleware(HostOriginGuard, allowed=options.allowed_hosts)  # outermost: checked first
    bearer = HTTPBearer(auto_error=False)
    basic = HTTPBasic(auto_error=False)

    def caller_of(token: str | None, login: tuple[str, str] | None) -> Caller | None:
        """The caller a bearer token or an account login (name, password) names; None: neither is valid."""
        if token:
            given = _digest(token)
            for digest, name in tokens.items():
                if hmac.compare_digest(given, digest):
                    return Caller(name)
        if login is not None and accounts is not None:
            account = accounts.check(*login)
            if account is not None:
                return Caller(account.name, account.role)
        return None

    def authenticated(credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
                      login: HTTPBasicCredentials | None = Depends(basic)) -> Caller:
        who = caller_of(credentials.credentials if credentials is not None
                        and credentials.scheme.lower() == "bearer" else None,
                        (login.username, login.password) if login is not None else None)
        if who is not None:
            return who
        raise HTTPException(status_code=401, detail="a valid bearer token (or account login) is required",
                            headers={"WWW-Authenticate": "Bearer"})

    def allowed(action: str) -> Callable[[Caller], str]:
        def check(who: Caller = Depends(authenticated)) -> str:
            if not who.may(action):
                raise HTTPException(status_code=403, detail=f"the {who.role} role may not {action}")
            return who.name
        return check

    caller = allowed("open")

    def job_or_404(job_id: str) -> Job:
        job = store.get(job_id) if re.fullmatch(r"[0-9a-f]{8,64}", job_id) else None
        if job is None:
            raise HTTPException(status_code=404, detail=f"no consultation job {job_id}")
        return job

    def done_or_409(job: Job) -> None:
        if job.status != "done":
            why = f": {job.error}" if job.error else ""
            raise HTTPException(status_code=409, detail=f"job {job.id} is {job.status}{why}; poll "
                                                        f"GET /v1/consultations/{job.id} until it is done")

    problems: dict[int | str, dict[str, Any]] = {
        401: {"model": Problem, "description": "missing or unknown bearer token"},
        403: {"model": Problem, "description": "the account's role may not do this"},
        404: {"model": Problem, "description": "unknown job"},
    }

    @app.get("/v1/health", tags=["service"])
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/consultations", status_code=202, response_model=JobStatus, tags=["consultations"],
              responses={401: problems[401], 411: {"model": Problem}, 413: {"model": Problem},
                         415: {"model": Problem}, 422: {"model": Problem, "description": "not readable audio"}})
    def submit(audio: UploadFile = File(description="the recording (wav, flac, ogg, opus, mp3, m4a, webm...)"),
               language: Language | None = Form(default=None, description="auto (default), fr or en"),
               who: str = Depends(allowed("transcribe"))) -> JSONResponse:
        name, suffix = _safe_name(audio.filename)
        if suffix not in SUPPORTED_SUFFIXES:
            raise HTTPException(status_code=415, detail=f"{name}: unsupported file type {suffix or '(none)'}; "
                                                        f"send one of {', '.join(SUPPORTED_SUFFIXES)}")
        options.audio_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp_name = tempfile.mkstemp(prefix=".upload-", suffix=suffix, dir=options.audio_dir)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as f:
                shutil.copyfileobj(audio.file, f, 1024 * 1024)
                f.flush()
                os.fsync(f.fileno())
            job = queue_recording(tmp, name, suffix, runner.settings_for(language), who)
        finally:
            tmp.unlink(missing_ok=True)
        return JSONResponse(_status(job, runner).model_dump(mode="json", by_alias=True), status_code=202,
                            headers={"Location": f"/v1/consultations/{job.id}"})

    def queue_recording(tmp: Path, name: str, suffix: str, settings: Settings, who: str) -> Job:
        """Decode ``tmp`` (422 when it is not audio), keep it as ``<job id><suffix>`` and queue its job."""
        try:
            load_audio(tmp, max_duration=settings.audio.max_duration_s)
        except AudioError as exc:
            raise HTTPException(status_code=422, detail=f"{name}: {_without_path(str(exc), tmp)}") from exc
        digest = sha256_file(tmp)
        jid = make_job_id(digest, settings)
        final = options.audio_dir / f"{jid}{suffix}"
        os.replace(tmp, final)
        store.submit(jid, input_path=str(final), input_name=name, audio_sha256=digest,
                     actor=f"{API_ACTOR_PREFIX}{who}")
        job = store.get(jid)
        assert job is not None
        if job.status == "queued":
            runner.wake()
        log.info("job %s submitted by %s (%s)", jid, who, job.status)
        return job

    def websocket_caller(ws: WebSocket) -> Caller | None:
        """The caller of a WebSocket, from its ``Authorization`` header (bearer token or account login)."""
        scheme, _, value = ws.headers.get("authorization", "").partition(" ")
        value = value.strip()
        if scheme.lower() == "bearer" and value:
            return caller_of(value, None)
        if scheme.lower() == "basic" and value:
            import base64
            import binascii

            try:
                user, _, password = base64.b64decode(value).decode("utf-8").partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return None
            return caller_of(None, (user, password))
        return None

    @app.websocket("/v1/live")
    async def live(ws: WebSocket, language: Language = "auto", sample_rate: int = 16000) -> None:
        """Live consultation (see the module doc): 16-bit PCM frames in, committed text and medication cards out;
        at ``{"type": "stop"}`` the recording is queued as a job like ``POST /v1/consultations``."""
        who = websocket_caller(ws)
        if who is None or not who.may("transcribe"):
            await ws.close(code=1008, reason="a valid bearer token (or account login) is required")
            return
        if not 8000 <= sample_rate <= 192000:
            await ws.accept()
            await ws.close(code=1003, reason="sample_rate must be between 8000 and 192000")
            return
        if not live_slots.acquire(blocking=False):
            await ws.accept()
            await ws.close(code=1013, reason="too many live consultations at once; try again later")
            return
        try:
            await _live_session(ws, who, language, sample_rate)
        finally:
            live_slots.release()

    async def _live_session(ws: WebSocket, who: Caller, language: str, sample_rate: int) -> None:
        import asyncio
        import json

        from starlette.concurrency import run_in_threadpool
        from starlette.websockets import WebSocketDisconnect

        from consult.live import CardEvent, LiveSession, RevisionEvent, pcm16_to_float

        await ws.accept()
        settings = runner.settings_for(language)  # the WebSocket is accepted here (see ``live``)
        transcriber, extractor = await run_in_threadpool(live_models.get)
        loop = asyncio.get_running_loop()
        outbox: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()

        def on_event(event: Any) -> None:
            message: dict[str, Any]
            if isinstance(event, CardEvent):
                message = {"type": "card", "event": event.kind, "key": event.key, "at": round(event.at, 3),
                           "line": event.line.model_dump(mode="json")}
            elif isinstance(event, RevisionEvent):
                message = {"type": "revised", "from_segment": event.first_segment, "at": round(event.at, 3),
                           "segments": [{"segment": seg.id, "text": seg.text,
                                         "words": [w.model_dump(mode="json") for w in seg.words]}
                                        for seg in event.segments]}
            else:
                message = {"type": "text", "segment": event.segment_id, "at": round(event.at, 3),
                           "text": event.text, "words": [w.model_dump(mode="json") for w in event.words]}
            loop.call_soon_threadsafe(outbox.put_nowait, message)

        options.audio_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, rec_name = tempfile.mkstemp(prefix=".live-", suffix=".flac", dir=options.audio_dir)
        os.close(fd)
        recording = Path(rec_name)
        session = await run_in_threadpool(
            lambda: LiveSession(transcriber, extractor, language=settings.asr.language,
                                english_threshold=settings.asr.english_threshold, asr=settings.asr,
                                recording=recording, on_event=on_event).start())

        async def sender() -> None:
            while True:
                message = await outbox.get()
                if message is None:
                    return
                await ws.send_text(json.dumps(message, ensure_ascii=False))

        send_task = asyncio.create_task(sender())
        stopped = False
        try:
            await ws.send_text(json.dumps({"type": "ready", "sample_rate": sample_rate}))
            while not stopped:
                message = await ws.receive()
                if message["type"] == "websocket.disconnect":
                    break
                if message.get("bytes"):
                    session.feed(pcm16_to_float(message["bytes"]), sample_rate)
                elif message.get("text"):
                    try:
                        kind = json.loads(message["text"]).get("type")
                    except (ValueError, AttributeError):
                        kind = None
                    if kind == "stop":
                        stopped = True
                    else:
                        await outbox.put({"type": "error", "detail": 'text frames: {"type": "stop"} only'})
        except WebSocketDisconnect:
            pass
        finally:
            session.close_input()
            await run_in_threadpool(session.wait)
        try:
            if not stopped:  # the client went away: nothing is kept
                recording.unlink(missing_ok=True)
                await outbox.put(None)
                await send_task
                return
            if session.error:
                await outbox.put({"type": "error", "detail": f"live decoding stopped: {session.error}"})
            if session.fed_s < 0.5:
                recording.unlink(missing_ok=True)
                await outbox.put({"type": "error", "detail": "no audio was received; nothing queued"})
                await outbox.put(None)
                await send_task
                await ws.close(code=1000)
                return
            try:
                job = await run_in_threadpool(queue_recording, recording, "live.flac", ".flac", settings, who.name)
            except HTTPException as exc:
                await outbox.put({"type": "error", "detail": str(exc.detail)})
                job = None
            if job is not None:
                await outbox.put({"type": "done", "job": job.id, "status": job.status,
                                  "location": f"/v1/consultations/{job.id}",
                                  "cards": len(session.snapshot().cards)})
            await outbox.put(None)
            await send_task
            await ws.close(code=1000)
        finally:
            recording.unlink(missing_ok=True)
            if not send_task.done():
                send_task.cancel()

    @app.get("/v1/consultations", response_model=JobList, tags=["consultations"],
             responses={401: problems[401]})
    def list_jobs(status: Literal["queued", "running", "done", "failed"] | None = Query(default=None),
                  limit: int = Query(default=100, ge=1, le=1000), who: str = Depends(caller)) -> dict[str, Any]:
        jobs = [j for j in store.list(status=status, limit=None)
                if Path(j.input_path).parent == options.audio_dir][:limit]
        return {"consultations": [_status(j, runner).model_dump(mode="json", by_alias=True) for j in jobs]}

    @app.get("/v1/consultations/{job_id}", response_model=JobStatus, tags=["consultations"], responses=problems)
    def get_job(job_id: str, who: str = Depends(caller)) -> dict[str, Any]:
        return _status(job_or_404(job_id), runner).model_dump(mode="json", by_alias=True)

    @app.get("/v1/consultations/{job_id}/bundle", tags=["results"],
             responses={**problems, 409: {"model": Problem, "description": "not done yet"},
                        200: {"content": {FHIR_JSON: {}}, "description": "FHIR R4B Bundle"}})
    def get_bundle(job_id: str, type: BundleType = Query(default="collection"),  # noqa: A002 - the API's name
                   who: str = Depends(caller)) -> Response:
        job = job_or_404(job_id)
        done_or_409(job)
        text = store.bundle_json(job.id)
        if text is None:
            raise HTTPException(status_code=404, detail=f"job {job.id} has no stored bundle")
        try:
            text = as_bundle_type(text, type)
        except FhirError as exc:
            raise HTTPException(status_code=500, detail=str(exc)) from exc
        return Response(text, media_type=FHIR_JSON)

    @app.get("/v1/consultations/{job_id}/report", tags=["results"],
             responses={**problems, 409: {"model": Problem, "description": "not done yet"},
                        200: {"content": {"application/json": {}}, "description": "report.json"}})
    def get_report(job_id: str, who: str = Depends(caller)) -> Response:
        job = job_or_404(job_id)
        done_or_409(job)
        return Response(store.report_json(job.id) or "{}", media_type="application/json")

    @app.get("/v1/consultations/{job_id}/transcript", tags=["results"], response_class=PlainTextResponse,
             responses={**problems, 409: {"model": Problem, "description": "not done yet"}})
    def get_transcript(job_id: str, who: str = Depends(caller)) -> PlainTextResponse:
        job = job_or_404(job_id)
        done_or_409(job)
        report = ConsultationReport.model_validate_json(store.report_json(job.id) or "{}")
        return PlainTextResponse(transcript_text(report))

    @app.delete("/v1/consultations/{job_id}", status_code=204, tags=["consultations"],
                responses={**problems, 409: {"model": Problem, "description": "being processed"}})
    def delete_job(job_id: str, who: str = Depends(allowed("purge"))) -> Response:
        job = job_or_404(job_id)
        try:
            removed = store.purge(job.id, actor=f"{API_ACTOR_PREFIX}{who}")
        except StoreError as exc:
            raise HTTPException(status_code=409, detail=str(exc)) from exc
        if removed is not None:
            discard_kept_audio(removed)
        return Response(status_code=204)

    @app.exception_handler(StoreError)
    async def store_error(request: Request, exc: StoreError) -> JSONResponse:
        log.error("report store error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "the report store is not available; try again"}, status_code=503)

    return app


def _without_path(message: str, path: Path) -> str:
    """An audio error about the spooled upload, without the server's file path."""
    for text in (f"{path}: ", f"{path.name}: "):
        message = message.replace(text, "")
    return message.replace(str(path), "the upload").replace(path.name, "the upload")


def _version() -> str:
    from consult import __version__

    return __version__


def openapi_json() -> str:
    """The OpenAPI document of the API (docs/openapi.json is this, written by ``consult api --openapi``)."""
    import json

    with tempfile.TemporaryDirectory() as tmp:
        store = ReportStore.open(Path(tmp) / "schema.db")
        try:
            runner = JobRunner(store, Settings(), lambda settings, hook: None)
            app = create_app(store, runner, {}, ApiOptions(Path(tmp)))
            return json.dumps(app.openapi(), indent=2, ensure_ascii=False) + "\n"
        finally:
            store.close()

