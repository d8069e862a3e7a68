"""The review page (Gradio): the doctor's upload, the pharmacist's queue, and one review screen for both.

:func:`build_app` only wires Gradio components to functions that work without a browser: the table
(:mod:`demo.table`), the HTML (:mod:`demo.views`) and the pipeline/store work (:mod:`demo.service`).

- **Doctor** (first tab): upload or record a consultation; the pipeline runs in-process (models loaded once, on
  the first run) with a progress bar; the report is stored in the report store and opened below.
- **Pharmacist** (second tab): the store's finished reports, filtered by review status; a click opens one.
- **Review** (below the tabs, for both): report header; one card per medication line (plain-language schedule,
  the sentence it was heard in with ▶ to play it, the alerts of :func:`consult.review.review_flags`) with an
  approved / rejected choice; the recording and the transcript by speaker turn (click a time stamp or a
  sentence to hear it, low-probability words highlighted); the editable table; sign-off (who and when, saved in
  the store with the reviewed FHIR bundle); exports (bundle, report, printable patient plan, pseudonymised
  transcript).
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # before gradio is imported: no telemetry, no version check

import gradio as gr  # noqa: E402

from consult.errors import ConsultError  # noqa: E402
from consult.ordonnance import Prescriber  # noqa: E402
from consult.review import added_decisions, carry_decisions, is_added  # noqa: E402
from consult.store import ReportStore  # noqa: E402
from demo.i18n import QUEUE_FILTERS, check_language, headers, queue_headers, texts  # noqa: E402
from demo.live import (  # noqa: E402
    LiveRegistry,
    as_chunk,
    card_choices,
    live_cards_html,
    live_decisions,
    live_lines,
    live_transcript_html,
    read_chunk,
    remove_recording,
    replaced_note,
)
from demo.service import (  # noqa: E402
    OpenedReport,
    ReviewError,
    ReviewService,
    make_bundle_file,
    make_plan_files,
    make_pseudonymised_transcript,
    make_report_file,
)
from demo.table import (  # noqa: E402
    COL,
    STATIC_COLUMNS,
    TableError,
    decision_of_row,
    format_duration,
    format_frequency,
    format_quantity,
    parse_duration,
    parse_frequency,
    parse_quantity,
    report_to_rows,
    reviewed_report,
    row_ids,
    rows_to_decisions,
    set_all_decisions,
    set_decision,
)
from demo.views import (  # noqa: E402
    HEAD,
    LOW_PROBABILITY,
    PLAYER_ID,
    TRANSCRIPT_ID,
    event_text,
    flags_for_line,
    format_datetime,
    line_card_html,
    player_html,
    report_header_html,
    table_problems_html,
    transcript_html,
)
from schemas import ConsultationReport, ReviewDecision  # noqa: E402

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from consult.live import LiveSession
    from consult.pipeline import Pipeline
    from consult.store import Event, Job

__all__ = [
    "COL",
    "LOW_PROBABILITY",
    "TableError",
    "MAX_LINES",
    "build_app",
    "cards_update",
    "format_duration",
    "format_frequency",
    "format_quantity",
    "lines_view",
    "make_bundle_file",
    "make_report_file",
    "parse_duration",
    "parse_frequency",
    "parse_quantity",
    "queue_rows",
    "report_to_rows",
    "rows_to_decisions",
    "set_all_decisions",
    "set_decision",
]


# ------------------------------------------------------------------------------------------- pure helpers


def lines_view(
    report: ConsultationReport, rows: Sequence[Sequence[Any]], lang: str = "fr"
) -> tuple[list[str], list[tuple[str, str, str]]]:
    """What the line cards show for the current table: the unreadable cells (if any) and, per line,
    (line id, card HTML, decision). Cells that cannot be read are listed, and those lines shown as extracted."""
    from consult.review import review_flags

    problems: list[str] = []
    try:
        decisions = rows_to_decisions(report, rows, lang=lang)
    except TableError as exc:
        problems = exc.problems
        said = {str(r[COL["id"]]): decision_of_row(r) for r in rows if len(r) == len(COL)}
        decisions = [ReviewDecision(line_id=m.id, decision=said.get(m.id) or "pending") for m in report.medications]
    flags = review_flags(report, decisions, lang)
    by_id = {d.line_id: d for d in decisions}
    cards: list[tuple[str, str, str]] = [
        (m.id, line_card_html(report, m, by_id.get(m.id), flags_for_line(flags, m.id), lang),
         by_id[m.id].decision if m.id in by_id else "pending")
        for m in report.medications
    ]
    cards += [  # the lines the reviewer added in the table, after the report's
        (d.line_id, line_card_html(report, d.line, d, flags_for_line(flags, d.line_id), lang), d.decision)
        for d in added_decisions(report, decisions) if d.line is not None
    ]
    return problems, cards


def card_line_ids(state: Mapping[str, Any] | None, rows: Sequence[Sequence[Any]]) -> list[str]:
    """The line id shown in each card slot, in :func:`lines_view`'s order: the report's lines, then the lines the
    reviewer added in the table."""
    known = [str(m["id"]) for m in (state or {}).get("medications") or []]
    return known + [i for i in row_ids(rows) if is_added(i) and i not in known]


def queue_rows(entries: Sequence[tuple[Job, Event | None]], lang: str = "fr") -> list[list[str]]:
    """One row of the pharmacist's queue per job: received, recording, language, duration, lines, lines to
    check, review status, last review."""
    from consult.outputs import format_mmss

    t = texts(lang)
    return [
        [
            format_datetime(job.created_at, lang, short=True),
            job.input_name,
            job.language or "",
            format_mmss(job.audio_seconds),
            str(job.medications),
            str(job.needs_review),
            t.get(f"rs_{job.review_status}", job.review_status or ""),
            event_text(event, lang, short=True),
        ]
        for job, event in entries
    ]


def _report_from_state(state: Mapping[str, Any] | None, lang: str) -> ConsultationReport:
    if not state:
        raise gr.Error(texts(lang)["no_report"], print_exception=False)
    return ConsultationReport.model_validate(state)


def _actor(request: gr.Request | None, typed: str | None) -> str:
    """The reviewer: the Gradio login when the page has one, else the name typed on the page."""
    user = getattr(request, "username", None) if request is not None else None
    return str(user).strip() if user else (typed or "").strip()


# ------------------------------------------------------------------------------------------------ wiring


def build_app(
    pipeline_factory: Callable[[], Pipeline] | None = None,
    *,
    language: str = "fr",
    store: ReportStore | str | Path | None = None,
    audio_dir: str | Path | None = None,
    may: Callable[[str | None, str], bool] | None = None,
    prescriber: Prescriber | None = None,
) -> gr.Blocks:
    """The review page.

    Args:
        pipeline_factory: builds the pipeline (default ``Pipeline()``), called once, at the first run.
        language: the page's language, ``fr`` (default) or ``en``.
        store: the report store or its URL (default ``consult.store.default_store_url()``), opened on first use.
        audio_dir: where processed recordings are kept (default: next to a SQLite store, see
            :func:`demo.service.default_audio_dir`).
        may: ``may(login, action)`` for the roles of the accounts file (``consult.accounts.Accounts.may``;
            actions ``transcribe``, ``edit``, ``sign``); None: every logged-in reviewer may do everything.
        prescriber: the prescriber profile printed on the ordonnance (:mod:`consult.ordonnance`); None: no
            ordonnance (the button says how to give one).
    """
    lang = check_language(language)
    t = texts(lang)
    service = ReviewService(store, pipeline_factory, audio_dir=audio_dir, lang=lang)
    # The player reads the recordings from these two private folders (and from nowhere else).
    gr.set_static_paths([service.work.path, service.audio_dir])
    served = (service.work.path, service.audio_dir)

    def audio_url(path: Path | None) -> str | None:
        if path is None:
            return None
        path = path.resolve()
        if not any(path.is_relative_to(root) for root in served):
            copy = service.work.fresh() / path.name
            shutil.copyfile(path, copy)
            path = copy
        return "gradio_api/file=" + quote(str(path), safe="/")

    def show(opened: OpenedReport) -> tuple[Any, ...]:
        report = opened.report
        return (
            report.model_dump(mode="json"),
            report_header_html(report, lang, last_review=opened.last_review, job=opened.job),
            player_html(audio_url(opened.audio_path), lang),
            transcript_html(report, lang),
            report_to_rows(report, lang, opened.decisions),
            "",
            *(_file(None) for _ in range(4)),
            "",
            gr.update(visible=True),
        )

    def queue_view(status: str) -> tuple[Any, ...]:
        entries = service.queue(status)
        rows = queue_rows(entries, lang)
        choices = [(f"{r[0]} — {r[1]} — {r[6]}", job.id) for r, (job, _e) in zip(rows, entries, strict=True)]
        note = "" if entries else t["queue_empty"]
        return rows, [job.id for job, _e in entries], gr.update(choices=choices, value=None), note

    # ---------------------------------------------------------------------------------------- callbacks

    def permitted(request: gr.Request | None, action: str) -> bool:
        return may is None or may(getattr(request, "username", None), action)

    def allowed(request: gr.Request | None, action: str) -> None:
        if not permitted(request, action):
            raise gr.Error(t["not_allowed"].format(action=t[f"action_{action}"]), print_exception=False)

    def run(audio: str | None, typed: str, request: gr.Request,
            progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:  # noqa: B008
        allowed(request, "transcribe")
        if not audio:
            raise gr.Error(t["no_audio"], print_exception=False)
        try:
            job_id, reused = service.process(
                audio, progress=lambda f, desc: progress(f, desc=desc), actor=_actor(request, typed) or None
            )
            opened = service.open(job_id)
        except ReviewError as exc:
            raise gr.Error(str(exc), duration=None, print_exception=False) from exc
        if reused:
            gr.Info(t["already_done"])
        return show(opened)

    def open_job(job_id: str | None) -> tuple[Any, ...]:
        if not job_id:
            raise gr.Error(t["no_job"], print_exception=False)
        try:
            return show(service.open(job_id))
        except ReviewError as exc:
            raise gr.Error(str(exc), print_exception=False) from exc

    def open_row(ids: list[str], evt: gr.SelectData) -> tuple[Any, ...]:
        index = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
        if not isinstance(index, int) or not 0 <= index < len(ids or []):
            raise gr.Error(t["no_job"], print_exception=False)
        return open_job(ids[index])

    def save(state: dict[str, Any] | None, rows: list[list[Any]], typed: str, status: str,
             request: gr.Request, *, sign: bool) -> tuple[Any, ...]:
        allowed(request, "sign" if sign else "edit")
        report = _report_from_state(state, lang)
        try:
            saved = service.save(report, rows or [], _actor(request, typed), sign=sign)
        except ReviewError as exc:
            raise gr.Error(str(exc), duration=None, print_exception=False) from exc
        event, _ = service.last_review(report.id)
        message = t["signed_ok" if sign else "saved_ok"].format(
            actor=saved.actor, date=format_datetime(saved.at, lang), status=t[f"rs_{saved.status}"]
        )
        header = report_header_html(report, lang, review_status=saved.status, last_review=event,
                                    job=service.store.get(report.id))
        return (message, header, _file(saved.bundle_path), _file(saved.report_path), _file(saved.plan_path),
                saved.plan_markdown, *queue_view(status))

    def sign(state: dict[str, Any] | None, rows: list[list[Any]], typed: str, status: str,
             request: gr.Request) -> tuple[Any, ...]:
        return save(state, rows, typed, status, request, sign=True)

    def save_unsigned(state: dict[str, Any] | None, rows: list[list[Any]], typed: str, status: str,
                      request: gr.Request) -> tuple[Any, ...]:
        return save(state, rows, typed, status, request, sign=False)

    def bundle(state: dict[str, Any] | None, rows: list[list[Any]], typed: str, request: gr.Request) -> Any:
        report = _report_from_state(state, lang)
        try:
            return _file(make_bundle_file(report, rows or [], service.work.fresh(),
                                          reviewer=_actor(request, typed) or None, lang=lang))
        except TableError as exc:
            raise gr.Error(str(exc), duration=None, print_exception=False) from exc

    def current_decisions(report: ConsultationReport, rows: list[list[Any]]) -> list[ReviewDecision]:
        try:
            return rows_to_decisions(report, rows or [], lang=lang)
        except TableError as exc:
            raise gr.Error(str(exc), duration=None, print_exception=False) from exc

    def report_download(state: dict[str, Any] | None, rows: list[list[Any]]) -> Any:
        report = _report_from_state(state, lang)
        return _file(make_report_file(reviewed_report(report, current_decisions(report, rows)), service.work.fresh()))

    def plan(state: dict[str, Any] | None, rows: list[list[Any]]) -> tuple[Any, str]:
        report = _report_from_state(state, lang)
        path, markdown = make_plan_files(report, current_decisions(report, rows), service.work.fresh())
        return _file(path), markdown

    def ordonnance_download(state: dict[str, Any] | None, rows: list[list[Any]]) -> Any:
        from consult.ordonnance import UndecidedLines, build_ordonnance, html_to_pdf, ordonnance_html
        from consult.outputs import atomic_write

        if prescriber is None:
            raise gr.Error(t["no_prescriber"], print_exception=False)
        report = _report_from_state(state, lang)
        try:
            o = build_ordonnance(report, current_decisions(report, rows), prescriber)
        except UndecidedLines as exc:
            raise gr.Error(t["ordonnance_pending"].format(lines=", ".join(exc.line_ids)), print_exception=False
                           ) from exc
        folder = service.work.fresh()
        path = folder / "ordonnance.html"
        text = ordonnance_html(o)
        atomic_write(path, text)
        paths = [str(path)]
        try:  # the PDF too when Chromium is there (the HTML prints from any browser)
            paths.append(str(html_to_pdf(text, folder / "ordonnance.pdf")))
        except ConsultError as exc:
            log.info("ordonnance as HTML only: %s", exc)
        return gr.update(value=paths, visible=True)

    def pseudonymised(state: dict[str, Any] | None) -> Any:
        report = _report_from_state(state, lang)
        return _file(make_pseudonymised_transcript(report, service.work.fresh(), lang))

    def on_load(request: gr.Request) -> Any:
        user = getattr(request, "username", None)
        reviewer_update = (
            gr.update(value=user, interactive=False, label=t["reviewer_auth"].format(user=user))
            if user
            else gr.update()
        )
        return reviewer_update

    # ------------------------------------------------------------------------------------------ live tab
    live = LiveRegistry()

    def live_view(session: LiveSession | None, missing_s: float = 0.0) -> tuple[Any, ...]:
        snap = session.snapshot() if session is not None else None
        choices = card_choices(snap, lang)
        status = t["live_running"].format(seconds=snap.fed_s, cards=len(snap.cards)) if snap is not None else ""
        if snap is not None and missing_s > 0:
            status += " " + t["live_lost"].format(seconds=missing_s)
        if snap is not None and snap.error:
            status = t["live_failed"].format(error=snap.error)
        return (live_transcript_html(snap, lang), live_cards_html(snap, lang), gr.update(choices=choices),
                gr.update(choices=choices), status)

    def live_start(key: str | None, request: gr.Request) -> tuple[Any, ...]:
        began = time.monotonic()
        allowed(request, "transcribe")
        if key:
            old = live.close(key)
            if old is not None:
                old.wait(30)
                remove_recording(old.recording)
        try:
            session = service.live_session()
        except ConsultError as exc:
            raise gr.Error(str(exc), duration=None, print_exception=False) from exc
        new_key = live.open(session)
        # the chunks that came before this recording had its key (from a second before this call); older ones are the
        # tail of the recording before, stopped long since
        feed_live(session, new_key, chunks_of(request, since=began - 1.0))
        return (new_key, *live_view(session), gr.update(value=[]), gr.update(value=[]))

    def live_warm(key: str | None, request: gr.Request) -> Any:
        """The live tab opened: load the models now, not when the doctor starts speaking (see
        ReviewService.warm_live); then say the page is ready. A recording under way keeps its status."""
        if not permitted(request, "transcribe") or live.get(key) is not None:
            return gr.skip()
        try:
            service.warm_live()
        except ConsultError as exc:  # said again, with its reason, when recording starts
            log.warning("live models not loaded: %s", type(exc).__name__)
            return gr.skip()
        return gr.skip() if live.get(key) is not None else t["live_ready"]

    def feed_live(session: LiveSession, key: str | None, values: list[tuple[Any, int]]) -> None:
        for samples, rate in values:
            live.arrived(key, samples.shape[0] / rate)
            try:
                session.feed(samples, rate)
            except RuntimeError:  # the last chunks of a recording that was just stopped
                return

    def chunks_of(request: gr.Request | None, chunk: Any = None, *, since: float | None = None) -> list[Any]:
        """The audio chunks to feed: every chunk the tap filed for this page since the last call (Gradio's own
        argument is only the latest of them), or, without the tap, that argument."""
        if not live.tapped:
            value = as_chunk(chunk)
            return [value] if value is not None else []
        files = live.take_chunks(getattr(request, "session_hash", None), since=since)
        return [v for v in map(read_chunk, files) if v is not None]

    def live_chunk(chunk: Any, key: str | None, request: gr.Request) -> tuple[Any, ...]:
        session = live.get(key)
        # without a running session (the key not yet back from live_start) the tapped chunks stay for live_start
        if session is not None and not session.input_closed:
            feed_live(session, key, chunks_of(request, chunk))
        views = live_view(session, live.missing_s(key))
        before = live.swap_shown(key, views)
        # a view sent already is not sent again (see LiveRegistry): the handler returns quickly for the next chunk
        return views if before is None else tuple(gr.skip() if v == b else v for v, b in zip(views, before,
                                                                                                 strict=True))

    def live_stop(key: str | None, approved: list[str] | None, rejected: list[str] | None, typed: str,
                  request: gr.Request, progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:  # noqa: B008
        allowed(request, "transcribe")
        running = live.get(key)
        if running is not None and not running.input_closed:  # the chunks filed since the last handler call
            feed_live(running, key, chunks_of(request))
        missing_s = live.missing_s(key)
        session = live.close(key)
        if session is None:
            raise gr.Error(t["no_audio"], print_exception=False)
        if missing_s > 0:  # the seconds only: nothing of what was said
            log.warning("live recording: about %.0f s of audio did not reach the server", missing_s)
        progress(0.0, desc=t["live_final"])
        session.wait(600)
        snap = session.snapshot()
        made = live_decisions(live_lines(snap), approved, rejected, _actor(request, typed) or None)
        recording = session.recording
        if recording is None or session.fed_s < 0.5:
            raise gr.Error(t["no_audio"], print_exception=False)
        try:
            job_id, _reused = service.process(recording, progress=lambda f, desc: progress(f, desc=desc),
                                              actor=_actor(request, typed) or None)
            opened = service.open(job_id)
        except ReviewError as exc:
            raise gr.Error(str(exc), duration=None, print_exception=False) from exc
        finally:
            remove_recording(recording)
        carried = carry_decisions(live_lines(snap), made, opened.report)
        decisions = {d.line_id: d for d in [*carried, *opened.decisions]}
        shown_values = list(show(opened))
        shown_values[4] = report_to_rows(opened.report, lang, decisions.values())
        note = replaced_note(snap, made, carried, opened.report, lang, missing_s=missing_s)
        return (*shown_values, note, *live_view(None)[:2])

    # ------------------------------------------------------------------------------------------- layout
    # api_name=False: an event with no API endpoint. gradio 5 documents it; gradio 6 still reads it so
    # (Blocks.set_event_trigger) but types api_name as ``str | None``, hence the ignores on those calls.

    app: gr.Blocks  # gradio leaves Blocks.__enter__ unannotated
    with gr.Blocks(title=t["title"], analytics_enabled=False, delete_cache=(3600, 3600)) as app:
        gr.HTML(t["header"], head=HEAD, elem_id="consult-header", js_on_load=None, apply_default_css=False)
        state = gr.State(None)
        queue_ids = gr.State([])
        with gr.Tabs():
            with gr.Tab(t["tab_doctor"], id="doctor"):
                with gr.Row(equal_height=False):
                    audio_in = gr.Audio(sources=["upload", "microphone"], type="filepath", label=t["audio_in"],
                                        elem_id="consult-audio-in", scale=3)
                    with gr.Column(scale=2):
                        gr.Markdown(t["doctor_help"])
                        run_btn = gr.Button(t["run"], variant="primary", elem_id="consult-run")
            with gr.Tab(t["tab_live"], id="live") as live_tab:
                gr.Markdown(t["live_help"])
                live_key = gr.State(None)
                with gr.Row(equal_height=False):
                    live_audio = gr.Audio(sources=["microphone"], type="numpy", streaming=True,
                                          label=t["live_audio"], elem_id="consult-live-audio", scale=3)
                    live_status = gr.Markdown(elem_id="consult-live-status")
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3):
                        gr.Markdown(f"### {t['live_transcript']}")
                        live_transcript = gr.HTML(live_transcript_html(None, lang), elem_id="consult-live-transcript",
                                                  max_height=480, js_on_load=None, apply_default_css=False)
                    with gr.Column(scale=2):
                        gr.Markdown(f"### {t['live_cards']}")
                        live_cards = gr.HTML(live_cards_html(None, lang), elem_id="consult-live-cards",
                                             js_on_load=None, apply_default_css=False)
                        live_approved = gr.CheckboxGroup(choices=[], label=t["live_approve"],
                                                         elem_id="consult-live-approve")
                        live_rejected = gr.CheckboxGroup(choices=[], label=t["live_reject"],
                                                         elem_id="consult-live-reject")
            with gr.Tab(t["tab_queue"], id="queue") as queue_tab:
                gr.Markdown(t["queue_help"])
                with gr.Row(equal_height=False):
                    queue_filter = gr.Radio(
                        choices=[(t[f"f_{f}"], f) for f in QUEUE_FILTERS], value="to_review",
                        label=t["filter_label"], elem_id="consult-queue-filter", scale=4,
                    )
                    refresh_btn = gr.Button(t["refresh"], scale=1, size="md", elem_id="consult-refresh")
                queue_table = gr.Dataframe(headers=queue_headers(lang), datatype="str", type="array",
                                           interactive=False, wrap=True, label=t["queue_label"],
                                           elem_id="consult-queue")
                queue_note = gr.Markdown()
                with gr.Row(equal_height=False):
                    open_choice = gr.Dropdown(choices=[], label=t["open_label"], elem_id="consult-open-choice",
                                              scale=4)
                    open_btn = gr.Button(t["open_btn"], variant="primary", scale=1, elem_id="consult-open")

        with gr.Column(visible=False, elem_id="consult-review") as review_area:
            header = gr.HTML(elem_id="consult-report-head", js_on_load=None, apply_default_css=False)
            with gr.Row(equal_height=False):
                with gr.Column(scale=7, min_width=520):
                    gr.Markdown(f"### {t['lines_title']}\n{t['lines_help']}")
                    table = gr.Dataframe(headers=headers(lang), datatype="str", type="array", interactive=True,
                                         static_columns=STATIC_COLUMNS, wrap=True, label=t["table"], show_label=False,
                                         column_widths=_TABLE_WIDTHS, elem_id="consult-table", render=False)

                    problems_box = gr.HTML(visible=False, js_on_load=None, apply_default_css=False)
                    no_lines = gr.Markdown(t["no_lines"], visible=False)
                    # One fixed slot per line (shown as needed): no component is created after the page loaded.
                    slots: list[tuple[gr.Row, gr.HTML, gr.Radio]] = []
                    for index in range(MAX_LINES):
                        with gr.Row(visible=False, elem_classes=["med-row"], equal_height=False) as slot_row:
                            card = gr.HTML(js_on_load=None, apply_default_css=False, elem_classes=["med-card"])
                            choice = gr.Radio(
                                choices=[(f"✓ {t['approved']}", "approved"), (f"✗ {t['rejected']}", "rejected"),
                                         (t["pending"], "pending")],
                                value="pending", show_label=False, container=False, interactive=True,
                                min_width=160, elem_id=f"consult-decision-{index}", elem_classes=["decision"],
                            )
                        choice.input(partial(_set_slot, index=index, lang=lang), inputs=[state, table, choice],
                                     outputs=[table], show_progress="hidden", js=_LOCK_JS,
                                     api_name=False)  # type: ignore[arg-type]  # api_name=False: see "layout"
                        slots.append((slot_row, card, choice))

                    with gr.Row():
                        approve_btn = gr.Button(t["approve_all"], size="sm")
                        reset_btn = gr.Button(t["reset"], size="sm")
                with gr.Column(scale=5, min_width=420):
                    player = gr.HTML(elem_id=PLAYER_ID, js_on_load=None, apply_default_css=False)
                    gr.Markdown(f"### {t['transcript']}")
                    transcript = gr.HTML(elem_id=TRANSCRIPT_ID, max_height=640, js_on_load=None,
                                         apply_default_css=False)
            with gr.Accordion(t["table"], open=True):
                gr.Markdown(t["decision_help"])
                table.render()  # type: ignore[no-untyped-call]  # Block.render is unannotated in gradio
            with gr.Group():
                gr.Markdown(f"### {t['signoff_title']}\n{t['signoff_help']}")
                with gr.Row(equal_height=False, elem_id="consult-signoff-row"):
                    reviewer = gr.Textbox(label=t["reviewer_label"], placeholder=t["reviewer_placeholder"],
                                          elem_id="consult-reviewer", scale=3)
                    sign_btn = gr.Button(t["sign_btn"], variant="primary", scale=1, elem_id="consult-sign")
                    save_btn = gr.Button(t["save_btn"], scale=1, elem_id="consult-save")
                signoff_status = gr.Markdown(elem_id="consult-signoff-status")
            gr.Markdown(f"### {t['exports_title']}")
            with gr.Row():
                bundle_btn = gr.Button(t["bundle_btn"], size="sm")
                report_btn = gr.Button(t["report_btn"], size="sm")
                plan_btn = gr.Button(t["plan_btn"], size="sm")
                pseudo_btn = gr.Button(t["pseudo_btn"], size="sm")
                ordonnance_btn = gr.Button(t["ordonnance_btn"], size="sm", elem_id="consult-ordonnance")
            with gr.Row():
                files = {
                    key: gr.File(label=t[f"{key}_file"], interactive=False, elem_id=f"consult-{key}-file",
                                 visible=False, file_count="multiple" if key == "ordonnance" else "single")
                    for key in ("bundle", "report", "plan", "pseudo", "ordonnance")
                }
                bundle_file, report_file, plan_file, pseudo_file = (files[k] for k in ("bundle", "report", "plan",
                                                                                        "pseudo"))
            with gr.Accordion(t["plan_title"], open=False):
                plan_md = gr.Markdown(elem_id="consult-plan")

        card_outputs = [problems_box, no_lines, *(c for slot in slots for c in slot)]
        table.change(lambda s, rows: cards_update(s, rows, lang), inputs=[state, table], outputs=card_outputs,
                     show_progress="hidden", api_name=False)  # type: ignore[arg-type]  # api_name=False: see "layout"
        shown = [state, header, player, transcript, table, signoff_status, bundle_file, report_file, plan_file,
                 pseudo_file, plan_md, review_area]
        queue_out = [queue_table, queue_ids, open_choice, queue_note]

        run_btn.click(run, inputs=[audio_in, reviewer], outputs=shown, api_name="transcribe",
                      show_progress_on=[audio_in], scroll_to_output=True).then(
            queue_view, inputs=[queue_filter], outputs=queue_out, api_name=False
        )
        open_btn.click(open_job, inputs=[open_choice], outputs=shown, api_name="open",
                       scroll_to_output=True)
        queue_table.select(open_row, inputs=[queue_ids], outputs=shown, scroll_to_output=True)
        for trigger in (queue_filter.change, refresh_btn.click, queue_tab.select):
            trigger(queue_view, inputs=[queue_filter], outputs=queue_out, api_name=False)  # type: ignore[arg-type]  # api_name=False: see "layout"
        approve_btn.click(lambda rows: set_all_decisions(rows or [], "approved", lang), inputs=[table],
                          outputs=[table], api_name="approve_all", js=_LOCK_JS)
        reset_btn.click(lambda s: report_to_rows(_report_from_state(s, lang), lang), inputs=[state],
                        outputs=[table], api_name="reset")
        saved_out = [signoff_status, header, bundle_file, report_file, plan_file, plan_md, *queue_out]
        sign_btn.click(sign, inputs=[state, table, reviewer, queue_filter], outputs=saved_out, api_name="sign")
        save_btn.click(save_unsigned, inputs=[state, table, reviewer, queue_filter], outputs=saved_out,
                       api_name="save")
        bundle_btn.click(bundle, inputs=[state, table, reviewer], outputs=[bundle_file], api_name="bundle")
        report_btn.click(report_download, inputs=[state, table], outputs=[report_file], api_name="report")
        plan_btn.click(plan, inputs=[state, table], outputs=[plan_file, plan_md], api_name="plan")
        pseudo_btn.click(pseudonymised, inputs=[state], outputs=[pseudo_file], api_name="pseudonymised")
        ordonnance_btn.click(ordonnance_download, inputs=[state, table], outputs=[files["ordonnance"]],
                             api_name="ordonnance")
        live_out = [live_transcript, live_cards, live_approved, live_rejected, live_status]
        live_tab.select(live_warm, inputs=[live_key], outputs=[live_status], show_progress="hidden",
                        api_name=False)  # type: ignore[arg-type]  # api_name=False: see "layout"
        live_audio.start_recording(live_start, inputs=[live_key],
                                   outputs=[live_key, *live_out, live_approved, live_rejected],
                                   show_progress="hidden", api_name=False)  # type: ignore[arg-type]  # api_name=False: see "layout"
        live_audio.stream(live_chunk, inputs=[live_audio, live_key], outputs=live_out, stream_every=0.5,
                          time_limit=4 * 3600, show_progress="hidden", concurrency_limit=None,
                          api_name=False)  # type: ignore[arg-type]  # api_name=False: see "layout"
        live_audio.stop_recording(live_stop, inputs=[live_key, live_approved, live_rejected, reviewer],
                                  outputs=[*shown, live_status, live_transcript, live_cards],
                                  scroll_to_output=True, api_name=False).then(  # type: ignore[arg-type]
            queue_view, inputs=[queue_filter], outputs=queue_out, api_name=False  # type: ignore[arg-type]
        )
        # the queue fills when its tab is opened, with the filter shown (filling it here too raced with the filter:
        # an answer to the page load arriving after the filter's replaced "toutes" by "à relire")
        app.load(on_load, outputs=[reviewer], api_name=False)  # type: ignore[arg-type]  # api_name=False: see "layout"
    app.consult_service = service  # type: ignore[attr-defined]
    app.consult_live = live  # type: ignore[attr-defined]  # for StreamChunkTap (demo.__main__)
    return app


MAX_LINES = 40
"""Medication lines shown as cards with their own decision; further lines are decided in the table."""

# Widths of the medication table's columns (COLUMNS order): the values a reviewer corrects get the room.
_TABLE_WIDTHS: list[str | int] = ["4%", "8%", "9%", "6%", "6%", "8%", "5%", "5%", "8%", "5%", "4%", "7%", "4%", "7%",
                                  "4%", "10%"]


# Before a decision is sent: the cards' choices are locked until they are re-drawn with the new table, so that a
# second click cannot send a table that misses the first decision (re-enabled after 3 s at the latest).
_LOCK_JS = "(...args) => { if (window.consultLockDecisions) window.consultLockDecisions(); return args; }"


def _file(path: Path | None) -> Any:
    """A download component's update: shown with its file, hidden without."""
    return gr.update(value=str(path) if path is not None else None, visible=path is not None)


def _set_slot(state: Mapping[str, Any] | None, rows: list[list[Any]], choice: str, *, index: int,
              lang: str) -> list[list[Any]]:
    """The choice made on the card in slot ``index``, written into the decision cell of that line."""
    ids = card_line_ids(state, rows or [])
    if index >= len(ids):
        return rows
    decision = choice if choice in ("approved", "rejected", "pending") else "pending"
    return set_decision(rows or [], ids[index], decision, lang)  # type: ignore[arg-type]


def cards_update(state: Mapping[str, Any] | None, rows: list[list[Any]] | None, lang: str) -> list[Any]:
    """Updates of the line cards for the current table: the unreadable cells, the "no medication" notice, then
    (row, card, choice) for each of the :data:`MAX_LINES` slots."""
    t = texts(lang)
    hidden = gr.update(visible=False)
    if not state:
        return [hidden, hidden, *([hidden, gr.update(), gr.update()] * MAX_LINES)]
    report = ConsultationReport.model_validate(state)
    problems, cards = lines_view(report, rows or [], lang)
    notice = table_problems_html(problems, lang) if problems else ""
    if len(cards) > MAX_LINES:
        notice += f'<div class="table-problems">{escape(t["too_many_lines"].format(n=MAX_LINES))}</div>'
    out: list[Any] = [
        gr.update(value=notice, visible=True) if notice else hidden,
        gr.update(visible=not cards),
    ]
    for index in range(MAX_LINES):
        if index < len(cards):
            line_id, card, decision = cards[index]
            out += [gr.update(visible=True), card,
                    gr.update(value=decision, label=t["decision_label"].format(line=line_id))]
        else:
            out += [hidden, "", gr.update(value="pending")]
    return out
