"""What the review page does with the pipeline, the report store and files — without Gradio.

:class:`ReviewService` runs the pipeline in-process (models loaded once, on first use), keeps every processed
recording in the report store (:mod:`consult.store`, job id = :func:`consult.config.job_id`) so the
pharmacist's queue sees it, reopens a stored report with its last review, and saves a review (who, when, the
decisions and edits, the reviewed FHIR bundle). The files offered for download are written by the functions at
the bottom. Nothing here logs transcript text, file names or patient data: job ids and counts only.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from consult.audio import sha256_file
from consult.errors import ConsultError
from consult.outputs import atomic_write, write_outputs
from consult.store import REVIEW_ACTIONS, Event, Job, ReportStore, default_store_url
from demo.i18n import texts
from demo.table import (
    TableError,
    decision_records,
    decisions_from_records,
    review_status,
    reviewed_report,
    rows_to_decisions,
)
from demo.views import transcript_text
from schemas import ConsultationReport, ReviewDecision

if TYPE_CHECKING:
    from consult.live import LiveSession
    from consult.pipeline import Pipeline

logger = logging.getLogger(__name__)

__all__ = [
    "AUDIO_DIR_ENV",
    "OpenedReport",
    "ReviewError",
    "ReviewService",
    "SavedReview",
    "WorkDir",
    "default_audio_dir",
    "make_bundle_file",
    "make_plan_files",
    "make_pseudonymised_transcript",
    "make_report_file",
]

AUDIO_DIR_ENV = "CONSULT_AUDIO_DIR"

ProgressFn = Callable[[float, str], None]

# Share of the whole run given to each pipeline stage, for one progress bar.
_STAGE_SPAN = {
    "audio": (0.02, 0.05),
    "diarisation": (0.05, 0.35),
    "transcription": (0.35, 0.88),
    "extraction": (0.88, 0.96),
}


class ReviewError(Exception):
    """Something the reviewer must fix or know; the message is in the page's language."""


def default_audio_dir(store: str | Path | None = None) -> Path:
    """Where recordings processed on the page are kept so that a later reviewer can listen to them:
    ``$CONSULT_AUDIO_DIR``, else an ``audio`` folder next to a SQLite store, else
    ``$XDG_DATA_HOME/consult/audio`` (``~/.local/share/consult/audio``)."""
    env = os.environ.get(AUDIO_DIR_ENV, "").strip()
    if env:
        return Path(env).expanduser().resolve()
    url = str(store if store is not None else default_store_url()).strip()
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme in ("", "sqlite"):
        path = Path(url[len("sqlite://"):] if scheme else url).expanduser()
        return path.resolve().parent / "audio"
    xdg = os.environ.get("XDG_DATA_HOME", "").strip()
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".local" / "share"
    return (base / "consult" / "audio").resolve()


class _LazyPipeline:
    """Creates the pipeline (loads the models) on first use, once, even with concurrent first calls."""

    def __init__(self, factory: Callable[[], Pipeline]) -> None:
        self._factory = factory
        self._pipeline: Pipeline | None = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._pipeline is not None

    def get(self) -> Pipeline:
        with self._lock:
            if self._pipeline is None:
                logger.info("loading the pipeline (first run)")
                self._pipeline = self._factory()
            return self._pipeline


def _default_pipeline() -> Pipeline:
    from consult.pipeline import Pipeline

    return Pipeline()


@dataclass
class WorkDir:
    """A private temporary folder (mode 700) for the files offered for download, removed at exit; each
    :meth:`fresh` sub-folder is removed after ``keep_seconds``."""

    path: Path
    keep_seconds: float = 3600.0

    @classmethod
    def create(cls) -> WorkDir:
        import atexit

        path = Path(tempfile.mkdtemp(prefix="consult-review-")).resolve()
        atexit.register(shutil.rmtree, path, ignore_errors=True)
        return cls(path)

    def fresh(self) -> Path:
        """A new empty sub-folder (older ones are removed)."""
        import time

        limit = time.time() - self.keep_seconds
        for old in self.path.iterdir():
            try:
                if old.is_dir() and old.stat().st_mtime < limit:
                    shutil.rmtree(old, ignore_errors=True)
            except OSError:
                continue
        return Path(tempfile.mkdtemp(dir=self.path))


@dataclass(frozen=True)
class OpenedReport:
    """A stored report as the page shows it: the pipeline's draft, the last saved decisions, its job."""

    report: ConsultationReport
    decisions: list[ReviewDecision]
    job: Job | None
    last_review: Event | None
    audio_path: Path | None


@dataclass(frozen=True)
class SavedReview:
    """What a save wrote: the store's event (action, actor, time), the status and the files."""

    action: str
    actor: str
    at: datetime
    status: str
    decisions: list[ReviewDecision]
    bundle_path: Path
    report_path: Path
    plan_path: Path
    plan_markdown: str


class ReviewService:
    """The review page's work: pipeline runs, the store, the review files.

    Args:
        store: a :class:`ReportStore`, or its URL/path (opened on first use); None: ``default_store_url()``.
        pipeline_factory: builds the pipeline, called once on the first run (default ``Pipeline()``).
        audio_dir: where processed recordings are kept (default :func:`default_audio_dir`).
        lang: the page's language, for error messages.
    """

    def __init__(
        self,
        store: ReportStore | str | Path | None = None,
        pipeline_factory: Callable[[], Pipeline] | None = None,
        *,
        audio_dir: str | Path | None = None,
        lang: str = "fr",
    ) -> None:
        self.lang = lang
        self._store = store if isinstance(store, ReportStore) else None
        self._store_url = None if isinstance(store, ReportStore) else store
        source = store.url if isinstance(store, ReportStore) else store
        self.audio_dir = Path(audio_dir).expanduser().resolve() if audio_dir else default_audio_dir(source)
        self.pipeline = _LazyPipeline(pipeline_factory or _default_pipeline)
        self.work = WorkDir.create()
        self._lock = threading.Lock()
        self._live_lock = threading.Lock()
        self._live_dir: Path | None = None

    @property
    def store(self) -> ReportStore:
        """The report store, opened on first use."""
        with self._lock:
            if self._store is None:
                self._store = ReportStore.open(self._store_url)
            return self._store

    # -------------------------------------------------------------------------------- processing

    def keep_audio(self, source: Path, job_id: str) -> Path:
        """Keep a processed recording in :attr:`audio_dir` as ``<job id>.flac`` (once), re-encoded from the decoded
        audio (16 kHz, its channels kept): whatever the upload was named or hid (an HTML or SVG polyglot), what the
        page serves back is plain FLAC with an audio type, never the uploaded bytes."""
        import soundfile as sf

        from consult.audio import SAMPLE_RATE, load_audio

        self.audio_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        dest = self.audio_dir / f"{job_id}.flac"
        if not dest.exists():
            audio = load_audio(source, keep_channels=True)
            data = audio.channels.T if audio.channels is not None else audio.samples
            fd, tmp = tempfile.mkstemp(prefix=f".{job_id}.", suffix=".flac", dir=self.audio_dir)
            os.close(fd)
            try:
                sf.write(tmp, data, SAMPLE_RATE, format="FLAC", subtype="PCM_16")
                os.replace(tmp, dest)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        return dest

    def process(self, audio: str | Path, *, progress: ProgressFn | None = None,
                actor: str | None = None) -> tuple[str, bool]:
        """Run the pipeline on ``audio`` and store the report; returns (job id, whether it was already stored).

        A recording already processed with the same settings (same job id) is not run again.
        Raises :class:`ReviewError` when the pipeline fails on this input.
        """
        t = texts(self.lang)
        path = Path(audio)

        def say(fraction: float, key: str) -> None:
            if progress is not None:
                progress(max(0.0, min(1.0, fraction)), t[key])

        if not self.pipeline.loaded:
            say(0.0, "stage_models")
        pipeline = self.pipeline.get()
        sha = sha256_file(path)
        settings = getattr(pipeline, "settings", None)
        if settings is not None:
            from consult.config import job_id

            known = self.store.get(job_id(sha, settings))
            if known is not None and known.status == "done":
                logger.info("job %s already in the store: reopened", known.id)
                return known.id, True

        def hook(stage: str, fraction: float) -> None:
            lo, hi = _STAGE_SPAN.get(stage, (0.0, 0.96))
            key = f"stage_{stage}" if f"stage_{stage}" in t else "stage_transcription"
            say(lo + (hi - lo) * max(0.0, min(1.0, fraction)), key)

        try:
            report = pipeline.process(path, hook=hook)
        except ConsultError as exc:
            logger.warning("pipeline failed: %s", type(exc).__name__)
            raise ReviewError(t["pipeline_error"].format(error=exc)) from exc
        say(0.97, "stage_store")
        self.store_report(report, path, sha, actor=actor)
        return report.id, False

    def warm_live(self) -> None:
        """Load the page's models and warm the extractor (:func:`consult.live.warm_up`) before a live recording
        starts: the live tab calls it when it is opened. Without it the first recording's first seconds (the
        models loading, then 12 s of parser loading) had no session to go to and were lost."""
        from consult.live import warm_up

        warm_up(self.pipeline.get().extractor)

    def live_session(self) -> LiveSession:
        """A new live session on the page's models; its recording goes to a private temporary folder (the final
        pass keeps it like an uploaded recording, see :meth:`process`)."""
        from consult.live import LiveSession

        pipeline = self.pipeline.get()
        settings = pipeline.settings
        with self._live_lock:
            if self._live_dir is None:
                import atexit

                self._live_dir = Path(tempfile.mkdtemp(prefix="consult-live-")).resolve()
                atexit.register(shutil.rmtree, self._live_dir, ignore_errors=True)
        recording = Path(tempfile.mkdtemp(dir=self._live_dir)) / "live-recording.flac"
        return LiveSession(pipeline.transcriber, pipeline.extractor, language=settings.asr.language,
                           english_threshold=settings.asr.english_threshold, asr=settings.asr, recording=recording)

    def store_report(self, report: ConsultationReport, audio: Path, sha: str, *, actor: str | None = None) -> None:
        """Submit and complete the report's job (its audio kept in :attr:`audio_dir`); a done job is kept."""
        from consult.fhir import build_bundle, bundle_json

        kept = self.keep_audio(audio, report.id)
        store = self.store
        store.submit(report.id, input_path=kept, input_name=audio.name, audio_sha256=sha, actor=actor)
        store.complete(
            report.id,
            report_json=report.model_dump_json(),
            bundle_json=bundle_json(build_bundle(report)),
            summary={
                "language": report.language,
                "medications": len(report.medications),
                "needs_review": sum(1 for m in report.medications if m.needs_review),
                "audio_seconds": report.audio.duration if report.audio else 0.0,
            },
        )
        logger.info("job %s stored (%d line(s))", report.id, len(report.medications))

    # -------------------------------------------------------------------------------- reading

    def last_review(self, job_id: str) -> tuple[Event | None, list[dict[str, Any]]]:
        """The job's last review event and its decision records (empty when never reviewed)."""
        events = [e for e in self.store.history(job_id) if e.kind in REVIEW_ACTIONS]
        if not events:
            return None, []
        last = events[-1]
        records = last.details.get("decisions") or []
        return last, [r for r in records if isinstance(r, dict)]

    def open(self, job_id: str) -> OpenedReport:
        """The stored draft report of ``job_id`` with its last saved decisions and its recording, if still there."""
        t = texts(self.lang)
        job = self.store.get(job_id)
        text = self.store.report_json(job_id, draft=True) if job is not None else None
        if text is None:
            raise ReviewError(t["unknown_job"].format(job=job_id))
        report = ConsultationReport.model_validate_json(text)
        last, records = self.last_review(job_id)
        audio = Path(job.input_path) if job is not None and job.input_path else None
        if audio is not None and not audio.is_file():
            audio = None
        return OpenedReport(report, decisions_from_records(report, records), job, last, audio)

    def queue(self, status: str = "to_review", *, limit: int = 200) -> list[tuple[Job, Event | None]]:
        """Finished jobs, newest first, with their last review; ``status`` a review status or ``all``."""
        jobs = self.store.list(status="done", review_status=None if status == "all" else status, limit=limit)
        return [(job, self.last_review(job.id)[0]) for job in jobs]

    # -------------------------------------------------------------------------------- saving

    def save(self, report: ConsultationReport, rows: Sequence[Sequence[Any]], reviewer: str, *,
             sign: bool) -> SavedReview:
        """Save the table's review of ``report`` in the store as ``reviewer``.

        ``sign``: every line must be approved or rejected; the event is ``signed``. Otherwise the event is
        ``edited`` (a line was corrected) or ``reviewed``. Writes the reviewed bundle (approved lines active,
        rejected lines left out, edited lines as corrected), the reviewed report and the patient's plan.
        Raises :class:`ReviewError` (missing reviewer, pending lines when signing, unreadable cells).
        """
        from consult.fhir import build_bundle, bundle_json

        t = texts(self.lang)
        actor = (reviewer or "").strip()
        if not actor:
            raise ReviewError(t["no_reviewer"])
        try:
            decisions = rows_to_decisions(report, rows, actor, lang=self.lang)
        except TableError as exc:
            raise ReviewError(str(exc)) from exc
        pending = [d.line_id for d in decisions if d.decision == "pending"]
        if sign and pending:
            raise ReviewError(t["pending_lines"].format(lines=", ".join(pending)))
        status = review_status(decisions)
        action = "signed" if sign else ("edited" if any(d.line is not None for d in decisions) else "reviewed")
        bundle_text = bundle_json(build_bundle(report, decisions))
        reviewed = reviewed_report(report, decisions)
        try:
            self.store.save_review(
                report.id,
                reviewed_report_json=reviewed.model_dump_json(),
                bundle_json=bundle_text,
                decisions=decision_records(report, decisions),
                actor=actor,
                action=action,  # type: ignore[arg-type]
                review_status=status,
            )
        except ConsultError as exc:
            raise ReviewError(t["store_error"].format(error=exc)) from exc
        event, _ = self.last_review(report.id)
        out = self.work.fresh()
        bundle_path = write_outputs(reviewed, out, bundle_json=bundle_text, files=("bundle",))["bundle"]
        report_path = make_report_file(reviewed, out)
        plan_path, plan_md = make_plan_files(report, decisions, out)
        return SavedReview(
            action=action,
            actor=actor,
            at=event.at if event is not None else datetime.now(timezone.utc),
            status=status,
            decisions=decisions,
            bundle_path=bundle_path,
            report_path=report_path,
            plan_path=plan_path,
            plan_markdown=plan_md,
        )


# ------------------------------------------------------------------------------------------------ files


def make_bundle_file(
    report: ConsultationReport,
    rows: Sequence[Sequence[Any]],
    out_dir: str | Path,
    *,
    reviewer: str | None = None,
    lang: str = "fr",
) -> Path:
    """Write ``out_dir/bundle.json``: the FHIR R4B bundle of ``report`` with the table's decisions and edits."""
    from consult.fhir import build_bundle, bundle_json

    decisions = rows_to_decisions(report, rows, reviewer, lang=lang)
    text = bundle_json(build_bundle(report, decisions))
    return write_outputs(report, Path(out_dir), bundle_json=text, files=("bundle",))["bundle"]


def make_report_file(report: ConsultationReport, out_dir: str | Path) -> Path:
    """Write ``out_dir/report.json`` (the one writer: :func:`consult.outputs.write_outputs`)."""
    return write_outputs(report, Path(out_dir), files=("report",))["report"]


def make_plan_files(report: ConsultationReport, decisions: Sequence[ReviewDecision],
                    out_dir: str | Path) -> tuple[Path, str]:
    """Write the patient's printable plan (approved lines, consultation's language) as ``out_dir/plan.html``;
    returns its path and the same plan as Markdown."""
    from consult.plan import patient_plan, plan_html, plan_markdown

    plan = patient_plan(report, decisions)
    path = Path(out_dir) / "plan.html"
    atomic_write(path, plan_html(plan))
    return path, plan_markdown(plan)


def make_pseudonymised_transcript(report: ConsultationReport, out_dir: str | Path, lang: str = "fr") -> Path:
    """Write the transcript by speaker turn with names, dates, phone numbers, e-mails, social security numbers
    and addresses replaced by placeholders (:func:`consult.pseudonymise.pseudonymise_report`)."""
    from consult.pseudonymise import pseudonymise_report

    path = Path(out_dir) / texts(lang)["pseudo_name"]
    atomic_write(path, transcript_text(pseudonymise_report(report), lang))
    return path
