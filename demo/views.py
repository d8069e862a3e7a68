"""HTML of the review page: report header, transcript by speaker turn, audio player, medication line cards.

Pure functions over :mod:`schemas` records returning HTML strings; every transcript word and every value coming
from a report is escaped here. Elements with a ``data-seek`` attribute (seconds) play the recording from that
moment when clicked: :data:`HEAD` holds the small script that does it and the page's style sheet.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from html import escape

from consult.align import turns_from_segments
from consult.outputs import format_mmss
from consult.plan import describe, format_date, what
from consult.review import Flag, is_added_line
from consult.store import Event, Job
from demo.i18n import check_language, month_short, texts
from schemas import ConsultationReport, MedicationLine, ReviewDecision, Segment

__all__ = [
    "HEAD",
    "LOW_PROBABILITY",
    "PLAYER_ID",
    "TRANSCRIPT_ID",
    "event_text",
    "flags_for_line",
    "flags_html",
    "format_datetime",
    "line_card_html",
    "player_html",
    "report_header_html",
    "speaker_label",
    "table_problems_html",
    "transcript_html",
    "transcript_text",
    "translate_warning",
]

LOW_PROBABILITY = 0.6
"""Words recognised below this probability are highlighted in the transcript."""

PLAYER_ID = "consult-player"
TRANSCRIPT_ID = "consult-transcript"

_NUMBER_WORDS = frozenset(  # "un", "une", "one" left out: mostly articles
    "deux trois quatre cinq six sept huit neuf dix onze douze treize quatorze quinze seize vingt trente "
    "quarante cinquante soixante cent cents mille demi demie moitié quart "
    "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen twenty thirty "
    "forty fifty sixty hundred thousand half quarter".split()
)
_EDGE = re.compile(r"^\W+|\W+$")


def speaker_label(report: ConsultationReport, speaker: str | None, lang: str) -> str:
    """``Médecin`` / ``Patient`` from the speaker's role, else ``Locuteur SPEAKER_02``."""
    t = texts(lang)
    role = report.role_of(speaker)
    if role in ("doctor", "patient"):
        return t[role]
    return f"{t['unknown']} {speaker}" if speaker else t["unknown"]


def format_datetime(when: datetime, lang: str, *, short: bool = False) -> str:
    """A UTC time in the machine's local time: ``1er mars 2025 à 10:05`` / ``1 March 2025, 10:05``;
    ``short``: ``1 mars 2025 10:05`` / ``1 Mar 2025 10:05``."""
    local = when.astimezone()
    clock = local.strftime("%H:%M")
    if short:
        return f"{local.day} {month_short(local.month, lang)} {local.year} {clock}"
    return f"{format_date(local, lang)} à {clock}" if lang == "fr" else f"{format_date(local, lang)}, {clock}"


def event_text(event: Event | None, lang: str, *, short: bool = False) -> str:
    """``signé par Dr X le 1er mars 2025 à 10:05``; ``pas encore relu`` for None."""
    t = texts(lang)
    if event is None:
        return t["never_reviewed"]
    action = t.get(f"ev_{event.kind}", event.kind)
    return t["by_on"].format(action=action, actor=event.actor or "?", date=format_datetime(event.at, lang,
                                                                                           short=short))


# ------------------------------------------------------------------------------------------ transcript


def _is_number(word: str) -> bool:
    """Digits, or a number word ("trois", "vingt-cinq", "fifty"), elided article removed ("d'un")."""
    core = re.split(r"['’]", _EDGE.sub("", word.lower()))[-1]
    return any(c.isdigit() for c in core) or any(part in _NUMBER_WORDS for part in core.split("-"))


def _word_html(text: str, probability: float | None) -> str:
    shown = escape(text)
    if _is_number(text):
        shown = f'<b class="num">{shown}</b>'
    if probability is not None and probability < LOW_PROBABILITY:
        shown = f'<mark class="low" title="p = {probability:.2f}">{shown}</mark>'
    return shown


def _segment_html(segment: Segment) -> str:
    if segment.words:
        inner = " ".join(_word_html(w.text, w.probability) for w in segment.words)
    else:
        inner = " ".join(_word_html(w, None) for w in segment.text.split())
    return (f'<span class="seg" data-seek="{segment.start:.2f}" data-end="{segment.end:.2f}" '
            f'data-segment="{segment.id}">{inner}</span>')


def transcript_html(report: ConsultationReport, lang: str = "fr") -> str:
    """The transcript by speaker turn: a ▶ time stamp and the speaker's role, then the turn's segments.

    Consecutive segments of one speaker make one turn. Each segment and each time stamp plays the recording
    from its start when clicked; words below :data:`LOW_PROBABILITY` are in ``<mark class="low">``, numbers
    (digits or number words) in ``<b class="num">``.
    """
    t = texts(check_language(lang))
    if not report.segments:
        return f'<div class="transcript"><p class="empty">{escape(t["empty_transcript"])}</p></div>'
    turns: list[str] = []
    for speaker, start, _end, segs in turns_from_segments(report.segments):
        role = report.role_of(speaker)
        who = escape(speaker_label(report, speaker, lang))
        stamp = format_mmss(start)
        turns.append(
            f'<div class="turn role-{role}">'
            f'<button type="button" class="ts" data-seek="{start:.2f}" title="{escape(t["listen"])}">'
            f"▶ {stamp}</button> <span class=\"who\">{who}</span> "
            + " ".join(_segment_html(s) for s in segs)
            + "</div>"
        )
    legend = f'<p class="legend">{t["transcript_help"]}</p>'
    return f'<div class="transcript">{legend}{"".join(turns)}</div>'


def transcript_text(report: ConsultationReport, lang: str = "fr") -> str:
    """Plain text, one line per speaker turn: ``[00:05] Médecin : ...``."""
    sep = " :" if lang == "fr" else ":"
    lines = [
        f"[{format_mmss(start)}] {speaker_label(report, speaker, lang)}{sep} {' '.join(s.text for s in segs)}"
        for speaker, start, _end, segs in turns_from_segments(report.segments)
    ]
    return "\n".join(lines) + ("\n" if lines else "")


def player_html(url: str | None, lang: str = "fr") -> str:
    """The audio player the transcript and the line cards seek; a notice when the recording is not available."""
    t = texts(lang)
    if not url:
        return f'<div class="player missing">{escape(t["audio_missing"])}</div>'
    return (
        f'<div class="player"><audio controls preload="metadata" src="{escape(url)}"></audio>'
        f'<div class="hint">{escape(t["player_help"])}</div></div>'
    )


# ------------------------------------------------------------------------------------------ report header


def report_header_html(
    report: ConsultationReport,
    lang: str = "fr",
    *,
    review_status: str | None = None,
    last_review: Event | None = None,
    job: Job | None = None,
) -> str:
    """Who, when, how long, which speakers, how many lines to check, and the review state, in a few lines."""
    t = texts(check_language(lang))
    name = report.audio.name if report.audio else report.text_source.name if report.text_source else report.id
    status = review_status or (job.review_status if job is not None else None) or "to_review"
    received = job.created_at if job is not None else report.created_at
    speakers = ", ".join(f"{escape(speaker_label(report, s.id, lang))} ({escape(s.id)})" for s in report.speakers)
    to_check = sum(1 for m in report.medications if m.needs_review)
    duration = format_mmss(report.audio.duration) if report.audio else "-"
    facts = [
        f"<b>{t['received']}</b> {escape(format_datetime(received, lang))}",
        f"<b>{t['duration_label']}</b> {duration}",
        f"<b>{t['language_label']}</b> {escape(report.language)}",
        f"<b>{t['speakers_label']}</b> {speakers or '-'}",
        f"<b>{t['medications_label']}</b> {len(report.medications)} ({to_check} {t['to_review_label']})",
    ]
    sep = " : " if lang == "fr" else ": "
    parts = [
        '<div class="report-head">',
        f'<div class="rh-title"><span class="rh-name">{escape(name)}</span> '
        f'<span class="badge rs-{escape(status)}">{escape(t.get(f"rs_{status}", status))}</span> '
        f'<span class="rh-job">{t["job_label"]} {escape(report.id)}</span></div>',
        f'<div class="rh-facts">{" · ".join(facts)}</div>',
        f'<div class="rh-last"><b>{t["last_review"]}</b>{sep}{escape(event_text(last_review, lang))}</div>',
    ]
    warnings = [w for w in (translate_warning(w, lang) for w in report.warnings) if w]
    if warnings:
        parts.append(
            f'<div class="rh-warn"><b>{t["warnings_label"]}</b>{sep}' + "; ".join(escape(w) for w in warnings)
            + "</div>"
        )
    parts.append("</div>")
    return "".join(parts)


_NEED_REVIEW = re.compile(r"^\d+ medication line\(s\) need review$")
_DROPPED = re.compile(r"^(\d+) transcript segment\(s\) dropped as likely hallucinations")
_FR_WARNINGS = {
    "no speech was recognised in the recording": "aucune parole reconnue dans l'enregistrement",
    "the doctor could not be identified; pass --doctor-speaker":
        "le médecin n'a pas été identifié (option --doctor-speaker)",
}


def translate_warning(warning: str, lang: str) -> str | None:
    """A pipeline warning in the page's language; None for "N line(s) need review" (the header counts them)."""
    if _NEED_REVIEW.match(warning):
        return None
    if lang != "fr":
        return warning
    dropped = _DROPPED.match(warning)
    if dropped:
        return f"{dropped.group(1)} segment(s) de transcription écarté(s) (silence, bruit ou répétition)"
    return _FR_WARNINGS.get(warning, warning)


# ------------------------------------------------------------------------------------------ line cards


def flags_html(flags: Sequence[Flag], lang: str) -> str:
    """A line's alerts, by severity (the review screen's medication cards and the live cards)."""
    t = texts(lang)
    items = "".join(
        f'<li class="flag sev-{f.severity}"><span class="sev">{escape(t["sev_" + f.severity])}</span> '
        f"{escape(f.message)}</li>"
        for f in flags
    )
    return f'<ul class="ml-flags">{items}</ul>'


def flags_for_line(flags: Sequence[Flag], line_id: str) -> list[Flag]:
    """The flags on one line, including pair flags (duplicate, interaction) that name it."""
    return [f for f in flags if f.line_id == line_id or line_id in (f.details.get("line_ids") or [])]


def _quote(report: ConsultationReport, line: MedicationLine) -> str:
    """The sentence the drug was heard in, the drug's words in bold, cut to about 160 characters."""
    ev = line.evidence
    segment = next((s for s in report.segments if s.id == ev.segment_id), None)
    if segment is None or not (0 <= ev.char_start <= ev.char_end <= len(segment.text)):
        return escape(ev.text)
    text = segment.text
    before, span, after = text[: ev.char_start], text[ev.char_start : ev.char_end], text[ev.char_end :]
    if len(before) > 80:
        before = "…" + before[-80:].split(" ", 1)[-1]
    if len(after) > 80:
        after = after[:80].rsplit(" ", 1)[0] + "…"
    return f"{escape(before)}<b>{escape(span)}</b>{escape(after)}"


def line_card_html(
    report: ConsultationReport,
    original: MedicationLine,
    decision: ReviewDecision | None,
    flags: Sequence[Flag],
    lang: str = "fr",
) -> str:
    """One medication line as a pharmacist reads it: name and strength, the schedule in plain words, the
    sentence it was heard in (▶ plays it), the alerts by severity, and the decision."""
    t = texts(check_language(lang))
    line = decision.line if decision is not None and decision.line is not None else original
    state = decision.decision if decision is not None else "pending"
    schedule = describe(line, lang) or (t["stop_schedule"] if line.status == "stopped" else "—")
    head = [
        f'<span class="ml-id">{escape(original.id)}</span>',
        f'<span class="ml-name">{escape(what(line, lang))}</span>',
        f'<span class="ml-status st-{line.status}">{escape(t[line.status])}</span>',
    ]
    if line.name and line.name.lower() != line.drug_text.lower():
        head.append(f'<span class="ml-inn">{escape(line.name)}{" · " + escape(line.atc) if line.atc else ""}</span>')
    elif line.atc:
        head.append(f'<span class="ml-inn">{escape(line.atc)}</span>')
    added = is_added_line(original)
    if added:
        head.append(f'<span class="ml-edited ml-added">{escape(t["added_badge"])}</span>')
    elif decision is not None and decision.line is not None:
        head.append(f'<span class="ml-edited">{escape(t["edited_badge"])}</span>')
    head.append(f'<span class="ml-conf">{escape(t["confidence"].format(pct=round(line.confidence * 100)))}</span>')
    ev = original.evidence
    who = escape(speaker_label(report, ev.speaker, lang)) if ev.speaker else ""
    if ev.start is not None:
        seek = (f'<button type="button" class="ts" data-seek="{ev.start:.2f}" title="{escape(t["listen"])}">'
                f"▶ {format_mmss(ev.start)}</button> ")
    else:
        seek = ""
    if added:
        heard = f'<div class="ml-ev">{escape(t["added_note"])}</div>'
    else:
        heard = f'<div class="ml-ev">{seek}<span class="who">{who}</span> « {_quote(report, original)} »</div>'
    if decision is not None and decision.comment:
        heard += f'<div class="ml-comment">💬 {escape(decision.comment)}</div>'
    if state == "rejected":
        alerts = ""
    elif flags:
        alerts = flags_html(flags, lang)
    else:
        alerts = f'<div class="ml-noflag">✓ {escape(t["no_flags"])}</div>'
    worst = min((f.severity for f in flags), key=lambda s: ("critical", "warning", "info").index(s), default="none")
    return (
        f'<div class="ml dec-{state} worst-{worst}" data-line="{escape(original.id)}">'
        f'<div class="ml-head">{" ".join(head)}</div>'
        f'<div class="ml-sig">{escape(schedule)}</div>'
        f"{heard}{alerts}</div>"
    )


def table_problems_html(problems: Sequence[str], lang: str = "fr") -> str:
    """The unreadable cells of the table, as a list above the cards."""
    t = texts(lang)
    items = "".join(f"<li>{escape(p)}</li>" for p in problems)
    return f'<div class="table-problems"><b>{escape(t["table_problems"])}</b><ul>{items}</ul></div>'


# ------------------------------------------------------------------------------------------ style and script

_CSS = """
.gradio-container { max-width: 1480px !important; }
#consult-header h1 { font-size: 1.45rem; font-weight: 700; margin: 0 0 .3rem; }
#consult-header .ai-warning { margin: 0; padding: .45rem .7rem; border-left: 4px solid #b45309;
  background: #fffbeb; color: #451a03; font-size: .92rem; }
.report-head { border: 1px solid #cbd5e1; border-radius: 8px; padding: .55rem .8rem; background: #f8fafc;
  color: #0f172a; }
.report-head .rh-title { font-size: 1.15rem; font-weight: 600; }
.report-head .rh-job { font-size: .8rem; font-weight: normal; color: #64748b; margin-left: .6rem; }
.report-head .rh-facts, .report-head .rh-last, .report-head .rh-warn { font-size: .92rem; margin-top: .2rem; }
.report-head .rh-warn { color: #92400e; }
.badge { display: inline-block; border-radius: 999px; padding: .05rem .6rem; font-size: .85rem;
  font-weight: 600; vertical-align: middle; }
.rs-to_review { background: #e2e8f0; color: #1e293b; }
.rs-approved { background: #dcfce7; color: #14532d; }
.rs-rejected { background: #fee2e2; color: #7f1d1d; }
.rs-partly_approved { background: #fef9c3; color: #713f12; }
.ml { border: 1px solid #cbd5e1; border-left: 6px solid #94a3b8; border-radius: 8px; padding: .45rem .7rem;
  background: #fff; color: #0f172a; }
.ml.dec-approved { border-left-color: #16a34a; background: #f0fdf4; }
.ml.dec-rejected { border-left-color: #dc2626; background: #fef2f2; }
.ml.dec-rejected .ml-name, .ml.dec-rejected .ml-sig { text-decoration: line-through; color: #7f1d1d; }
.ml-head { display: flex; flex-wrap: wrap; gap: .45rem; align-items: baseline; }
.ml-id { font-family: monospace; font-size: .8rem; color: #64748b; }
.ml-name { font-size: 1.12rem; font-weight: 700; }
.ml-inn, .ml-conf { font-size: .85rem; color: #475569; }
.ml-status { font-size: .8rem; border-radius: 4px; padding: 0 .35rem; background: #e2e8f0; color: #1e293b; }
.ml-status.st-new { background: #dbeafe; color: #1e3a8a; }
.ml-status.st-stopped { background: #fee2e2; color: #7f1d1d; }
.ml-status.st-changed, .ml-status.st-renewed { background: #ede9fe; color: #4c1d95; }
.ml-edited { font-size: .8rem; font-weight: 600; color: #1d4ed8; }
.ml-sig { font-size: 1.02rem; margin: .15rem 0; }
.ml-ev { font-size: .9rem; color: #334155; }
.ml-comment { font-size: .9rem; color: #1e3a8a; background: #eff6ff; border-radius: 4px; padding: .15rem .4rem;
  margin-top: .2rem; }
.ml-flags { list-style: none; margin: .3rem 0 0; padding: 0; }
.flag { margin: .15rem 0; padding: .2rem .5rem; border-radius: 4px; font-size: .92rem; }
.flag .sev { font-weight: 700; margin-right: .3rem; }
.flag.sev-critical { background: #fee2e2; color: #7f1d1d; border-left: 4px solid #dc2626; }
.flag.sev-warning { background: #fef3c7; color: #78350f; border-left: 4px solid #d97706; }
.flag.sev-info { background: #e0f2fe; color: #0c4a6e; border-left: 4px solid #0284c7; }
.ml-noflag { font-size: .9rem; color: #166534; margin-top: .2rem; }
.med-row { align-items: stretch !important; gap: .5rem !important; margin-bottom: .4rem; flex-wrap: nowrap !important; }
.med-row > .med-card { flex: 1 1 auto !important; min-width: 0 !important; }
.med-row > .decision { flex: 0 0 170px !important; min-width: 170px !important; align-self: center; }
.med-row .decision .wrap { display: flex; flex-direction: column; gap: .3rem; }
.med-row .decision label { font-weight: 600; width: 100%; }
.ts { border: 1px solid #94a3b8; border-radius: 4px; background: #f1f5f9; color: #0f172a; cursor: pointer;
  font-family: monospace; font-size: .85rem; line-height: 1.35; padding: 0 .3rem; margin: 0; min-height: 0; }
#consult-header, #consult-report-head { margin-bottom: .2rem; }
#consult-refresh, #consult-open, #consult-sign, #consult-save { align-self: flex-end; max-height: 3rem; }
.ml ul, .ml li { list-style: none; }
.ts:hover { background: #dbeafe; }
.player audio { width: 100%; }
.player .hint { font-size: .85rem; color: #475569; }
.player.missing { font-style: italic; color: #64748b; }
.transcript { font-size: .95rem; line-height: 1.5; color: #0f172a; }
.transcript .legend { font-size: .82rem; color: #475569; margin: 0 0 .4rem; }
.transcript .turn { margin: 0 0 .45rem; padding: .1rem .35rem; border-radius: 4px; }
.transcript .turn.role-doctor { background: #f1f5f9; }
.transcript .who { font-weight: 700; }
.turn.role-doctor .who { color: #1e3a8a; }
.turn.role-patient .who { color: #065f46; }
.transcript .seg { cursor: pointer; }
.transcript .seg:hover { text-decoration: underline dotted; }
.transcript .seg.playing { background: #bfdbfe; }
mark.low { background: #fde68a; color: #000; padding: 0 .1rem; border-radius: 2px; }
b.num { font-weight: 700; }
.table-problems { border: 1px solid #dc2626; background: #fef2f2; color: #7f1d1d; border-radius: 6px;
  padding: .4rem .7rem; margin-bottom: .4rem; }
#consult-signoff-status p { font-size: 1rem; font-weight: 600; }
"""

_JS = """
(() => {
  if (window.__consultSeek) return;
  window.__consultSeek = true;
  const player = () => document.querySelector('#%(player)s audio');
  window.consultLockDecisions = () => {
    const inputs = document.querySelectorAll('.med-row .decision input');
    inputs.forEach((input) => { input.disabled = true; });
    setTimeout(() => inputs.forEach((input) => { if (input.isConnected) input.disabled = false; }), 3000);
  };
  document.addEventListener('click', (event) => {
    const el = event.target.closest('[data-seek]');
    if (!el) return;
    const audio = player();
    const at = parseFloat(el.dataset.seek);
    if (!audio || !isFinite(at)) return;
    event.preventDefault();
    audio.currentTime = at;
    const playing = audio.play();
    if (playing) playing.catch(() => {});
  });
  document.addEventListener('timeupdate', (event) => {
    const audio = event.target;
    if (!(audio instanceof HTMLMediaElement) || !audio.closest('#%(player)s')) return;
    const now = audio.currentTime;
    document.querySelectorAll('#%(transcript)s .seg').forEach((seg) => {
      const on = parseFloat(seg.dataset.seek) <= now && now < parseFloat(seg.dataset.end);
      seg.classList.toggle('playing', on);
    });
  }, true);
})();
""" % {"player": PLAYER_ID, "transcript": TRANSCRIPT_ID}

HEAD = f"<style>{_CSS}</style>\n<script>{_JS}</script>"
"""Style sheet and seek script, put in the document head by the page's header component."""
