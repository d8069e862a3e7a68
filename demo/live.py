"""The review page's live tab: sessions of :class:`consult.live.LiveSession` per browser, and their views.

The browser streams the microphone in chunks (Gradio streaming audio); each chunk is fed to the page's live session,
whose worker thread decodes and commits. The page shows the committed transcript (the tentative tail greyed) and the
medication cards as they are heard; the doctor may already approve or reject cards. When the recording stops, the
full pipeline runs on the recording and its report replaces the live draft, with the decisions carried over for the
lines that are the same (:func:`consult.review.carry_decisions`).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from html import escape
from pathlib import Path

import numpy as np

from consult.live import LiveSession, LiveSnapshot
from consult.outputs import format_mmss
from consult.plan import describe
from consult.review import line_flags, unheard_lines
from demo.i18n import texts
from demo.views import flags_html
from schemas import ConsultationReport, MedicationLine, ReviewDecision

log = logging.getLogger(__name__)

__all__ = ["LOSS_SLACK_S", "TAP_KEEP", "Arrivals", "LiveRegistry", "StreamChunkTap", "as_chunk", "card_choices",
           "live_cards_html", "live_decisions", "live_lines", "live_transcript_html", "read_chunk", "remove_recording",
           "replaced_note"]


LOSS_SLACK_S = 2.0
"""Audio that arrives later than the clock by up to this much is in transit, not lost."""


class Arrivals:
    """The browser's audio against the wall clock, for one recording.

    Gradio's streaming audio sends the microphone in 0.1 s chunks, and a chunk that arrives while the page's
    handler is still busy with the one before replaces any other waiting (``/stream/{event_id}`` keeps only the
    latest): on a loaded server chunks are lost before they reach the session, and with them words of the
    consultation, in the live draft and in the recording the full report is made from. :class:`StreamChunkTap`
    recovers them; whatever is still lost (a page launched without the tap, chunks in flight at stop) is measured,
    so that the doctor is told: audio that keeps pace with the clock lost nothing, the shortfall beyond the
    transport's delay never arrived."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._first: float | None = None
        self.received_s = 0.0

    def add(self, seconds: float) -> None:
        now = self._clock()
        if self._first is None:
            self._first = now - seconds
        self.received_s += seconds

    def missing_s(self) -> float:
        """Seconds of the recording that never arrived (0 while the shortfall is within :data:`LOSS_SLACK_S`)."""
        if self._first is None:
            return 0.0
        short = self._clock() - self._first - self.received_s
        return short if short > LOSS_SLACK_S else 0.0


class StreamChunkTap:
    """ASGI middleware that keeps every streamed audio chunk the browser sends, in arrival order.

    Each 0.1 s chunk of Gradio's streaming audio is uploaded as a file, then named in a ``POST
    .../stream/{event_id}``; Gradio keeps only the latest of the chunks that wait for the handler (:class:`Arrivals`).
    The tap reads each such request's body before Gradio does and files the chunk's path under the page's session
    (:meth:`LiveRegistry.tap`); the live handler takes them all (:meth:`LiveRegistry.take_chunks`), the ones Gradio
    skipped included. Only files in Gradio's upload folder are kept (the body is the browser's: a path elsewhere is
    ignored). Install it with the page (``app_kwargs={"middleware": [Middleware(StreamChunkTap, registry=...)]}``);
    without it the page works as before and the loss is measured."""

    def __init__(self, app: Callable[..., object], registry: LiveRegistry,
                 upload_dir: str | Path | None = None) -> None:
        self.app = app
        self.registry = registry
        registry.tapped = True
        self._upload_dir = Path(upload_dir).resolve() if upload_dir is not None else None

    def upload_dir(self) -> Path:
        if self._upload_dir is None:
            from gradio.utils import get_upload_folder

            self._upload_dir = Path(get_upload_folder()).resolve()
        return self._upload_dir

    async def __call__(self, scope: dict, receive: Callable[..., object], send: Callable[..., object]) -> None:
        path = scope.get("path", "") if scope.get("type") == "http" else ""
        if scope.get("method") != "POST" or "/stream/" not in path or path.endswith("/close"):
            await self.app(scope, receive, send)  # type: ignore[misc]
            return
        messages = []
        body = b""
        while True:
            message = await receive()  # type: ignore[misc]
            messages.append(message)
            body += message.get("body", b"")
            if not message.get("more_body", False) or message.get("type") != "http.request":
                break
        self._file(body)

        async def replay() -> object:
            return messages.pop(0) if messages else await receive()  # type: ignore[misc]

        await self.app(scope, replay, send)  # type: ignore[misc]

    def _file(self, body: bytes) -> None:
        try:
            payload = json.loads(body)
            session = payload.get("session_hash")
            chunk = next((d for d in payload.get("data", []) if isinstance(d, dict) and d.get("path")), None)
        except (ValueError, AttributeError):
            return
        if not isinstance(session, str) or chunk is None:
            return
        file = Path(str(chunk["path"])).resolve()
        if file.is_relative_to(self.upload_dir()) and file.suffix.lower() == ".wav":
            self.registry.tap(session, file)


def read_chunk(path: Path) -> tuple[np.ndarray, int] | None:
    """A streamed chunk's file as (samples, rate); None when unreadable or empty."""
    import soundfile as sf

    try:
        samples, rate = sf.read(path, dtype="int16", always_2d=False)
    except (sf.LibsndfileError, RuntimeError, OSError):
        return None
    return as_chunk((rate, samples))


TAP_KEEP = 600
"""Chunk paths kept per page session between two handler calls (60 s of audio): beyond, the oldest go."""


class LiveRegistry:
    """The page's live sessions by id (a browser tab holds its id in a ``gr.State``); sessions idle for
    ``idle_s`` are closed (a tab closed while recording). Each keeps the audio's :class:`Arrivals` and the views
    last sent to its page (a view that did not change is not sent again: ten chunks a second each sending the
    whole transcript kept the handler busy, and chunks were lost meanwhile)."""

    def __init__(self, *, idle_s: float = 900.0) -> None:
        self._sessions: dict[str, tuple[LiveSession, float]] = {}
        self._arrivals: dict[str, Arrivals] = {}
        self._shown: dict[str, tuple[object, ...]] = {}
        self._tapped: dict[str, list[tuple[float, Path]]] = {}
        self._lock = threading.Lock()
        self.idle_s = idle_s
        self.tapped = False
        """True once a :class:`StreamChunkTap` files the chunks: the handler then takes them from here only."""

    def tap(self, page: str, path: Path) -> None:
        """A streamed chunk's file, as it arrived for the page session ``page`` (:class:`StreamChunkTap`)."""
        with self._lock:
            chunks = self._tapped.setdefault(page, [])
            chunks.append((time.monotonic(), path))
            del chunks[:-TAP_KEEP]

    def take_chunks(self, page: str | None, *, since: float | None = None) -> list[Path]:
        """The chunk files tapped for the page session since the last call, in arrival order (those tapped before
        ``since``, a monotonic time, are dropped: the tail of an earlier recording)."""
        if not page:
            return []
        with self._lock:
            chunks = self._tapped.pop(page, [])
        return [p for at, p in chunks if since is None or at >= since]

    def arrived(self, key: str | None, seconds: float) -> None:
        if not key:
            return
        with self._lock:
            if key in self._sessions:
                self._arrivals.setdefault(key, Arrivals()).add(seconds)

    def missing_s(self, key: str | None) -> float:
        """Seconds of the session's recording that never reached the server (:class:`Arrivals`)."""
        with self._lock:
            arrivals = self._arrivals.get(key or "")
        return arrivals.missing_s() if arrivals is not None else 0.0

    def swap_shown(self, key: str | None, views: tuple[object, ...]) -> tuple[object, ...] | None:
        """Record ``views`` as sent to the session's page; the views sent before (None at first)."""
        if not key:
            return None
        with self._lock:
            before = self._shown.get(key)
            if key in self._sessions:
                self._shown[key] = views
        return before

    def open(self, session: LiveSession) -> str:
        self.sweep()
        key = uuid.uuid4().hex
        with self._lock:
            self._sessions[key] = (session.start(), time.monotonic())
        return key

    def get(self, key: str | None) -> LiveSession | None:
        if not key:
            return None
        with self._lock:
            item = self._sessions.get(key)
            if item is None:
                return None
            self._sessions[key] = (item[0], time.monotonic())
            return item[0]

    def close(self, key: str | None) -> LiveSession | None:
        """Remove the session and close its input (the caller waits for it and reads its recording)."""
        if not key:
            return None
        with self._lock:
            item = self._sessions.pop(key, None)
            self._arrivals.pop(key, None)
            self._shown.pop(key, None)
        if item is None:
            return None
        item[0].close_input()
        return item[0]

    def sweep(self) -> None:
        now = time.monotonic()
        with self._lock:
            stale = [k for k, (_s, seen) in self._sessions.items() if now - seen > self.idle_s]
        for key in stale:
            session = self.close(key)
            if session is not None:
                session.wait(30)
                if session.recording is not None:
                    session.recording.unlink(missing_ok=True)
                log.info("closed an idle live session")

    def __len__(self) -> int:
        with self._lock:
            return len(self._sessions)


def as_chunk(value: object) -> tuple[np.ndarray, int] | None:
    """A Gradio streaming-audio value ``(rate, samples)`` as (mono samples, rate); None when empty."""
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        return None
    rate, samples = value
    x = np.asarray(samples)  # int16 or float, mono or (frames, channels): LiveSession.feed takes them all
    if x.size == 0 or not rate:
        return None
    return x, int(rate)


LIVE_TURNS_SHOWN = 40
"""The live transcript shows the last turns only (a 30-minute consultation is redrawn several times a second)."""


def live_transcript_html(snap: LiveSnapshot | None, lang: str) -> str:
    t = texts(lang)
    if snap is None:
        return f"<div class='live-empty'>{escape(t['live_idle'])}</div>"
    shown = snap.segments[-LIVE_TURNS_SHOWN:]
    parts = [f"<p class='live-turn'><span class='live-time'>[{format_mmss(seg.start)}]</span> {escape(seg.text)}</p>"
             for seg in shown]
    if len(snap.segments) > len(shown):
        parts.insert(0, f"<p class='live-earlier' style='color:#666'>… {len(snap.segments) - len(shown)} "
                        f"{escape(t['live_earlier'])}</p>")
    if snap.tentative:
        parts.append(f"<p class='live-turn'><span class='live-tentative' style='color:#888'>"
                     f"{escape(snap.tentative)}</span></p>")
    if not parts:
        parts.append(f"<div class='live-empty'>{escape(t['live_listening'])}</div>")
    return "<div class='live-transcript'>" + "".join(parts) + "</div>"


def _card_title(line: MedicationLine, lang: str) -> str:
    t = texts(lang)
    strength = f" {line.strength.value:g} {line.strength.unit}" if line.strength is not None else ""
    return f"{line.name}{strength} — {t[line.status]}"


def live_cards_html(snap: LiveSnapshot | None, lang: str) -> str:
    t = texts(lang)
    if snap is None or not snap.cards:
        return f"<div class='live-empty'>{escape(t['live_no_cards'])}</div>"
    out = []
    for key, line in snap.cards.items():
        ev = line.evidence
        when = f"[{format_mmss(ev.start)}] " if ev.start is not None else ""
        out.append(
            f"<div class='live-card' data-card='{escape(key)}' style='border:1px solid #ccc;border-radius:6px;"
            f"padding:6px;margin:4px 0'><strong>{escape(_card_title(line, lang))}</strong>"
            f"<div>{escape(describe(line, lang))}</div>"
            f"<div style='color:#555;font-size:90%'>{escape(when)}« {escape(ev.text)} »</div>"
            f"{flags_html(flags, lang) if (flags := line_flags(line, snap.language or lang, lang)) else ''}</div>"
        )
    return f"<div class='live-cards' data-count='{len(snap.cards)}'>" + "".join(out) + "</div>"


def card_choices(snap: LiveSnapshot | None, lang: str) -> list[tuple[str, str]]:
    """(label, card id) of each live card, for the approve / reject checkboxes.

    A card that a later reading dropped keeps its choice, labelled as no longer heard: a box the doctor ticked must
    stay among the choices (Gradio refuses a value that is not one of them, and the page's next event would fail).
    """
    if snap is None:
        return []
    gone = texts(lang)["live_gone"]
    return [*((_card_title(line, lang), key) for key, line in snap.cards.items()),
            *((f"{_card_title(line, lang)} ({gone})", key) for key, line in snap.dropped.items())]


def live_lines(snap: LiveSnapshot) -> list[MedicationLine]:
    """Every line the doctor could decide on while live: the cards shown now and those no longer heard."""
    return [*snap.cards.values(), *snap.dropped.values()]


def live_decisions(cards: Iterable[MedicationLine], approved: Sequence[str] | None,
                   rejected: Sequence[str] | None, reviewer: str | None) -> list[ReviewDecision]:
    """The decisions the doctor made on live cards (a card both ticked approved and rejected stays pending)."""
    ok, no = set(approved or []), set(rejected or [])
    out = []
    for line in cards:
        if (line.id in ok) == (line.id in no):
            continue
        out.append(ReviewDecision(line_id=line.id, decision="approved" if line.id in ok else "rejected",
                                  reviewer=reviewer or None))
    return out


def replaced_note(snap: LiveSnapshot, made: Sequence[ReviewDecision], carried: Sequence[ReviewDecision],
                  final: ConsultationReport, lang: str, *, missing_s: float = 0.0) -> str:
    """The status once the full report replaces the live draft: the seconds of the recording that never reached
    the server (:class:`Arrivals`), the decisions carried over and, by name, each card the doctor saw at the end
    or decided on that no line of the report names (the complete reading did not hear it): such a line is never
    lost unseen, the doctor checks the recording before signing."""
    t = texts(lang)
    decided = {d.line_id for d in made}
    seen = [*snap.cards.values(), *(line for line in snap.dropped.values() if line.id in decided)]
    note = t["live_replaced"].format(carried=len(carried), made=len(made))
    if missing_s > 0:
        note = t["live_lost_final"].format(seconds=missing_s) + " " + note
    missing = []
    for line, d in unheard_lines(seen, made, final):
        at = f", {format_mmss(line.evidence.start)}" if line.evidence.start is not None else ""
        tag = t["live_unheard_approved"] if d is not None and d.decision == "approved" else t["live_unheard_seen"]
        missing.append(f"{line.name} ({tag}{at})")
    if missing:
        note += " " + t["live_unheard"].format(lines=", ".join(missing))
    return note


def remove_recording(path: Path | None) -> None:
    if path is not None:
        path.unlink(missing_ok=True)
