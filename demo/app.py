"""The review page: a function of the pipeline's output.

The callbacks are pure functions over :mod:`schemas` records, at module level, so they can be tested without a
browser: :func:`report_to_rows`, :func:`rows_to_decisions`, :func:`transcript_markdown`,
:func:`make_bundle_file`, :func:`make_report_file`, :func:`set_all_decisions`.
:func:`build_app` only wires them to Gradio components. The pipeline (models) is created lazily, once,
on the first run.

Cell formats of the medication table (what :func:`report_to_rows` writes and the parsers read back):

========== ==================================== ==========================================
column     written as                           also read
========== ==================================== ==========================================
strength   ``500 mg``, ``1-2 comprimé``         ``0,5 g``, ``1/2 comprimé``, ``1 à 2 ...``
frequency  ``3/d``, ``1-2/d``, ``1/8h``          ``3 x/j``, ``2 fois / jour``, ``1/sem``
duration   ``7 d``, ``2 wk``, ``3 mo``           ``7 jours``, ``2 semaines``, ``10 days``
when       ``matin, soir`` (labels)             FHIR codes ``MORN, EVE``
========== ==================================== ==========================================
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import shutil
import tempfile
import threading
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # before gradio is imported: no telemetry, no version check

import gradio as gr  # noqa: E402

from consult.align import turns_from_segments  # noqa: E402
from consult.pipeline import format_mmss  # noqa: E402
from demo.i18n import COLUMNS, WHEN_LABELS, check_language, headers, texts  # noqa: E402
from schemas import (  # noqa: E402
    ConsultationReport,
    Duration,
    Frequency,
    MedicationLine,
    Quantity,
    ReviewDecision,
    Segment,
)
from schemas.medication import MedicationStatus, WhenCode  # noqa: E402
from schemas.report import Decision  # noqa: E402

if TYPE_CHECKING:
    from consult.pipeline import Pipeline

logger = logging.getLogger(__name__)

__all__ = [
    "LOW_PROBABILITY",
    "TableError",
    "build_app",
    "format_duration",
    "format_frequency",
    "format_quantity",
    "make_bundle_file",
    "make_report_file",
    "parse_duration",
    "parse_frequency",
    "parse_quantity",
    "report_to_rows",
    "rows_to_decisions",
    "set_all_decisions",
    "summary_markdown",
    "transcript_markdown",
]

LOW_PROBABILITY = 0.6
"""Words recognised below this probability are highlighted in the transcript."""

COL = {key: i for i, key in enumerate(COLUMNS)}
STATIC_COLUMNS = [COL["id"], COL["drug_text"], COL["confidence"], COL["needs_review"]]

_DECISIONS: tuple[Decision, ...] = get_args(Decision)
_STATUSES: tuple[MedicationStatus, ...] = get_args(MedicationStatus)
_WHEN_CODES: tuple[str, ...] = get_args(WhenCode)

# Units that are UCUM codes when typed by a reviewer (a form word such as "comprimé" is not).
_UCUM_UNITS = frozenset(
    {
        "mg",
        "g",
        "ug",
        "ng",
        "kg",
        "mL",
        "L",
        "dL",
        "cL",
        "[iU]",
        "[IU]",
        "U",
        "[drp]",
        "mmol",
        "meq",
        "%",
        "mg/mL",
        "mg/kg",
        "ug/h",
        "mg/d",
        "ug/d",
        "[iU]/mL",
    }
)


# --------------------------------------------------------------------------------------------- formatting


def _num(value: float) -> str:
    """500.0 -> "500", 0.5 -> "0.5"."""
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return text or "0"


def format_quantity(q: Quantity | None) -> str:
    """``500 mg``, ``1-2 comprimé``; empty for None."""
    if q is None:
        return ""
    value = _num(q.value) if q.value_high is None else f"{_num(q.value)}-{_num(q.value_high)}"
    return f"{value} {q.unit}".strip()


def format_frequency(f: Frequency | None) -> str:
    """``3/d``, ``1-2/d``, ``1/8h``; empty for None."""
    if f is None:
        return ""
    count = str(f.count) if f.count_max is None else f"{f.count}-{f.count_max}"
    period = "" if f.period == 1 else _num(f.period)
    return f"{count}/{period}{f.period_unit}"


def format_duration(d: Duration | None) -> str:
    """``7 d``; empty for None."""
    return "" if d is None else f"{_num(d.value)} {d.unit}"


def _format_when(codes: Sequence[str], lang: str) -> str:
    labels = WHEN_LABELS[lang]
    return ", ".join(labels.get(code, code) for code in codes)


# ------------------------------------------------------------------------------------------------ parsing


def _fold(text: str) -> str:
    """Lower case, no accents, single spaces: what cell words are compared on."""
    decomposed = unicodedata.normalize("NFKD", text.strip().lower())
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())


_NUM = r"\d+(?:[.,]\d+)?(?:/\d+)?"
_QUANTITY_RE = re.compile(rf"^({_NUM})\s*(?:(?:-|–|à|a|to)\s*({_NUM})\s*)?(\S.*)$")

_PERIOD_UNITS: dict[str, str] = {}
for _unit, _aliases in {
    "h": ("h", "hr", "hrs", "heure", "heures", "hour", "hours"),
    "d": ("d", "j", "jr", "jour", "jours", "day", "days", "jour(s)"),
    "wk": ("wk", "sem", "semaine", "semaines", "week", "weeks"),
    "mo": ("mo", "mois", "month", "months"),
}.items():
    for _alias in _aliases:
        _PERIOD_UNITS[_alias] = _unit

_FREQUENCY_RE = re.compile(
    r"^(\d+)\s*(?:-\s*(\d+)\s*)?(?:x|fois|times)?\s*(?:/|par|per|a|every|toutes les|tous les)\s*"
    r"(\d+(?:[.,]\d+)?)?\s*([a-z()]+)$"
)
_DURATION_RE = re.compile(r"^(\d+(?:[.,]\d+)?)\s*([a-z()]+)$")
_ATC_RE = re.compile(r"^[A-Z](\d{2}([A-Z]([A-Z](\d{2})?)?)?)?$")


def _to_float(text: str) -> float:
    if "/" in text:
        num, den = text.split("/", 1)
        return float(num.replace(",", ".")) / float(den)
    return float(text.replace(",", "."))


def parse_quantity(text: str, previous: Quantity | None = None) -> Quantity | None:
    """Read ``500 mg`` / ``1-2 comprimé`` / ``0,5 g`` / ``1/2 comprimé`` back; empty -> None.

    The UCUM flag is kept from ``previous`` when the unit did not change, else set for known UCUM units.
    Raises ValueError when the text cannot be read.
    """
    text = text.strip()
    if not text:
        return None
    match = _QUANTITY_RE.match(text)
    if match is None:
        raise ValueError(text)
    try:
        value = _to_float(match.group(1))
        high = _to_float(match.group(2)) if match.group(2) else None
    except (ValueError, ZeroDivisionError) as exc:
        raise ValueError(text) from exc
    unit = match.group(3).strip()
    if high is not None and high < value:
        raise ValueError(text)
    ucum = previous.ucum if previous is not None and previous.unit == unit else unit in _UCUM_UNITS
    return Quantity(value=value, value_high=high, unit=unit, ucum=ucum)


def parse_frequency(text: str) -> Frequency | None:
    """Read ``3/d`` / ``1-2/d`` / ``1/8h`` / ``3 x/j`` / ``2 fois par jour`` back; empty -> None."""
    folded = _fold(text)
    if not folded:
        return None
    match = _FREQUENCY_RE.match(folded)
    if match is None or match.group(4) not in _PERIOD_UNITS:
        raise ValueError(text)
    count = int(match.group(1))
    count_max = int(match.group(2)) if match.group(2) else None
    period = _to_float(match.group(3)) if match.group(3) else 1.0
    if count < 1 or period <= 0 or (count_max is not None and count_max < count):
        raise ValueError(text)
    return Frequency(
        count=count,
        count_max=count_max,
        period=period,
        period_unit=_PERIOD_UNITS[match.group(4)],  # type: ignore[arg-type]
    )


def parse_duration(text: str) -> Duration | None:
    """Read ``7 d`` / ``2 wk`` / ``3 mo`` / ``10 jours`` back; empty -> None."""
    folded = _fold(text)
    if not folded:
        return None
    match = _DURATION_RE.match(folded)
    unit = _PERIOD_UNITS.get(match.group(2)) if match else None
    if match is None or unit not in ("d", "wk", "mo"):
        raise ValueError(text)
    value = _to_float(match.group(1))
    if value <= 0:
        raise ValueError(text)
    return Duration(value=value, unit=unit)  # type: ignore[arg-type]


def _when_aliases() -> dict[str, str]:
    aliases = {_fold(code): code for code in _WHEN_CODES}
    for labels in WHEN_LABELS.values():
        aliases.update({_fold(label): code for code, label in labels.items()})
    return aliases


_WHEN_ALIASES = _when_aliases()


def _parse_when(text: str) -> list[WhenCode]:
    codes: list[WhenCode] = []
    for part in re.split(r"[,;+]", text):
        if not part.strip():
            continue
        code = _WHEN_ALIASES.get(_fold(part))
        if code is None:
            raise ValueError(part)
        if code not in codes:
            codes.append(code)  # type: ignore[arg-type]
    return codes


def _word_map(keys: Sequence[str]) -> dict[str, str]:
    """Folded label (both languages) or key -> key."""
    out = {_fold(key): key for key in keys}
    for lang in ("fr", "en"):
        t = texts(lang)
        out.update({_fold(t[key]): key for key in keys})
    return out


_DECISION_WORDS = {**_word_map(_DECISIONS), "approuve": "approved", "rejete": "rejected", "": "pending"}
_STATUS_WORDS = _word_map(_STATUSES)
_BOOL_WORDS = {
    "oui": True,
    "yes": True,
    "true": True,
    "1": True,
    "x": True,
    "non": False,
    "no": False,
    "false": False,
    "0": False,
    "": False,
}


# ----------------------------------------------------------------------------------------- pure callbacks


class TableError(ValueError):
    """The edited table holds cells that cannot be read back. ``problems`` lists each, in the UI language."""

    def __init__(self, problems: Sequence[str], lang: str = "fr") -> None:
        self.problems = list(problems)
        super().__init__(texts(lang)["table_error"].format(errors="\n".join(f"- {p}" for p in self.problems)))


def _decision_label(decision: Decision, lang: str) -> str:
    return texts(lang)[decision]


def _review_flag(line: MedicationLine, lang: str) -> str:
    t = texts(lang)
    if not line.needs_review:
        return t["no"]
    reasons = "; ".join(line.review_reasons)
    return f"⚠ {t['yes']}" + (f" : {reasons}" if reasons else "")


def report_to_rows(report: ConsultationReport, lang: str = "fr") -> list[list[str]]:
    """One table row per medication line (every cell a string), decisions all pending."""
    check_language(lang)
    t = texts(lang)
    rows: list[list[str]] = []
    for line in report.medications:
        cells = {
            "id": line.id,
            "drug_text": line.drug_text,
            "name": line.name,
            "atc": line.atc or "",
            "strength": format_quantity(line.strength),
            "dose": format_quantity(line.dose),
            "route": line.route or "",
            "frequency": format_frequency(line.frequency),
            "when": _format_when(line.when, lang),
            "duration": format_duration(line.duration),
            "as_needed": t["yes"] if line.as_needed else t["no"],
            "status": t[line.status],
            "confidence": f"{line.confidence:.2f}",
            "needs_review": _review_flag(line, lang),
            "decision": _decision_label("pending", lang),
        }
        rows.append([cells[key] for key in COLUMNS])
    return rows


def set_all_decisions(rows: Sequence[Sequence[Any]], decision: Decision, lang: str = "fr") -> list[list[Any]]:
    """The same rows with every decision cell set to ``decision`` (edits kept)."""
    label = _decision_label(decision, lang)
    out: list[list[Any]] = []
    for row in rows:
        new = list(row)
        if len(new) == len(COLUMNS):
            new[COL["decision"]] = label
        out.append(new)
    return out


def _cell(row: Sequence[Any], key: str) -> str:
    value = row[COL[key]]
    if value is None:
        return ""
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, float) and value != value:  # NaN from an emptied numeric cell
        return ""
    return str(value).strip()


def _edited_line(line: MedicationLine, row: Sequence[Any], lang: str, problems: list[str]) -> MedicationLine:
    """The line with the row's editable cells applied; unreadable cells are added to ``problems``."""
    t = texts(lang)
    update: dict[str, Any] = {}

    def problem(key: str, expected: str) -> None:
        problems.append(
            t["cell_error"].format(
                line=line.id, column=t[f"col_{key}"], value=_cell(row, key), expected=t[expected]
            )
        )

    name = _cell(row, "name")
    if name:
        update["name"] = name
    else:
        problems.append(f"{line.id} : {t['empty_name']}")

    atc = _cell(row, "atc").upper().replace(" ", "")
    if atc and not _ATC_RE.match(atc):
        problem("atc", "expect_atc")
    else:
        update["atc"] = atc or None

    for key in ("strength", "dose"):
        try:
            update[key] = parse_quantity(_cell(row, key), getattr(line, key))
        except ValueError:
            problem(key, "expect_quantity")
    try:
        update["frequency"] = parse_frequency(_cell(row, "frequency"))
    except ValueError:
        problem("frequency", "expect_frequency")
    try:
        update["duration"] = parse_duration(_cell(row, "duration"))
    except ValueError:
        problem("duration", "expect_duration")
    try:
        update["when"] = _parse_when(_cell(row, "when"))
    except ValueError:
        problem("when", "expect_when")

    update["route"] = _cell(row, "route") or None

    as_needed = _BOOL_WORDS.get(_fold(_cell(row, "as_needed")))
    if as_needed is None:
        problem("as_needed", "expect_bool")
    else:
        update["as_needed"] = as_needed
        if not as_needed:
            update["as_needed_condition"] = None

    status = _STATUS_WORDS.get(_fold(_cell(row, "status")))
    if status is None:
        problem("status", "expect_status")
    else:
        update["status"] = status

    # Keep a parsed value equal to the original object when the text did not change its meaning
    # (e.g. "500 mg" -> 500.0 mg): compare on the dumped values.
    data = line.model_dump()
    for key, value in update.items():
        dumped = value.model_dump() if hasattr(value, "model_dump") else value
        data[key] = dumped
    return MedicationLine.model_validate(data)


def rows_to_decisions(
    report: ConsultationReport,
    rows: Sequence[Sequence[Any]],
    reviewer: str | None = None,
    *,
    lang: str = "fr",
    at: datetime | None = None,
) -> list[ReviewDecision]:
    """One ReviewDecision per medication line of ``report``, read from the (edited) table rows.

    A line whose cells were edited carries the full edited line in ``ReviewDecision.line``.
    A line missing from the table stays pending. Raises :class:`TableError` listing every cell that cannot
    be read (nothing is silently dropped).
    """
    check_language(lang)
    t = texts(lang)
    when = at or datetime.now(timezone.utc)
    lines = {line.id: line for line in report.medications}
    problems: list[str] = []
    decided: dict[str, ReviewDecision] = {}
    for index, row in enumerate(rows, start=1):
        cells = ["" if c is None else str(c).strip() for c in row]
        if not any(cells):
            continue  # an empty row added in the browser
        if len(cells) != len(COLUMNS):
            problems.append(t["bad_row"].format(index=index, count=len(cells), expected=len(COLUMNS)))
            continue
        line_id = _cell(row, "id")
        line = lines.get(line_id)
        if line is None:
            problems.append(t["unknown_line"].format(line=line_id))
            continue
        if line_id in decided:
            problems.append(t["duplicate_line"].format(line=line_id))
            continue
        decision = _DECISION_WORDS.get(_fold(_cell(row, "decision")))
        if decision is None:
            problems.append(
                t["cell_error"].format(
                    line=line_id,
                    column=t["col_decision"],
                    value=_cell(row, "decision"),
                    expected=t["expect_decision"],
                )
            )
            continue
        n_before = len(problems)
        edited = _edited_line(line, row, lang, problems)
        if len(problems) > n_before:
            continue
        decided[line_id] = ReviewDecision(
            line_id=line_id,
            decision=decision,  # type: ignore[arg-type]
            line=None if edited == line else edited,
            reviewer=reviewer,
            at=when,
        )
    if problems:
        raise TableError(problems, lang)
    return [
        decided.get(line.id)
        or ReviewDecision(line_id=line.id, decision="pending", reviewer=reviewer, at=when)
        for line in report.medications
    ]


def _speaker_label(report: ConsultationReport, speaker: str | None, lang: str) -> str:
    t = texts(lang)
    role = report.role_of(speaker)
    if role in ("doctor", "patient"):
        return t[role]
    return f"{t['unknown']} {speaker}" if speaker else t["unknown"]


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")


def _md_escape(text: str) -> str:
    """Escape HTML then Markdown so transcript words are shown as typed, never as markup."""
    return _MD_SPECIAL.sub(r"\\\1", escape(text, quote=False))


def _segment_markdown(segment: Segment) -> str:
    if not segment.words:
        return _md_escape(segment.text)
    parts: list[str] = []
    for word in segment.words:
        shown = _md_escape(word.text)
        if word.probability < LOW_PROBABILITY:
            shown = f'<mark title="p={word.probability:.2f}">{shown}</mark>'
        parts.append(shown)
    return " ".join(parts)


def transcript_markdown(report: ConsultationReport, lang: str = "fr") -> str:
    """The transcript by speaker turn: ``**[mm:ss] Médecin :** ...``; low-probability words in ``<mark>``.

    Consecutive segments of one speaker are joined into one turn, stamped with the turn's start time.
    """
    check_language(lang)
    if not report.segments:
        return texts(lang)["empty_transcript"]
    sep = " :" if lang == "fr" else ":"
    return "\n\n".join(
        f"**[{format_mmss(start)}] {_speaker_label(report, speaker, lang)}{sep}** "
        + " ".join(_segment_markdown(seg) for seg in segs)
        for speaker, start, _end, segs in turns_from_segments(report.segments)
    )


def summary_markdown(report: ConsultationReport, lang: str = "fr") -> str:
    """A few facts about the run: duration, language, speakers and roles, counts, warnings."""
    t = texts(lang)
    speakers = ", ".join(f"{s.id} ({_speaker_label(report, s.id, lang)})" for s in report.speakers) or "-"
    to_check = sum(1 for m in report.medications if m.needs_review)
    lines = [
        f"- **{t['duration_label']}** : {format_mmss(report.audio.duration) if report.audio else '-'}",
        f"- **{t['language_label']}** : {report.language}",
        f"- **{t['speakers_label']}** : {speakers}",
        f"- **{t['medications_label']}** : {len(report.medications)} ({to_check} {t['to_review_label']})",
    ]
    if report.warnings:
        lines.append(f"- **{t['warnings_label']}** : " + "; ".join(_md_escape(w) for w in report.warnings))
    return "\n".join(lines)


def make_bundle_file(
    report: ConsultationReport,
    rows: Sequence[Sequence[Any]],
    out_dir: str | Path,
    *,
    reviewer: str | None = None,
    lang: str = "fr",
) -> Path:
    """Write ``out_dir/bundle.json``: the FHIR bundle of ``report`` with the table's decisions and edits."""
    from consult.fhir import build_bundle, bundle_json

    decisions = rows_to_decisions(report, rows, reviewer, lang=lang)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "bundle.json"
    path.write_text(bundle_json(build_bundle(report, decisions)), encoding="utf-8")
    return path


def make_report_file(report: ConsultationReport, out_dir: str | Path) -> Path:
    """Write ``out_dir/report.json`` (the report as produced by the pipeline)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "report.json"
    path.write_text(report.model_dump_json(indent=2), encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------------------ wiring


def _default_pipeline() -> Pipeline:
    from consult.pipeline import Pipeline

    return Pipeline()


class _LazyPipeline:
    """Creates the pipeline (loads the models) on first use, once, even with concurrent first calls."""

    def __init__(self, factory: Callable[[], Pipeline]) -> None:
        self._factory = factory
        self._pipeline: Pipeline | None = None
        self._lock = threading.Lock()

    def get(self) -> Pipeline:
        with self._lock:
            if self._pipeline is None:
                logger.info("loading the pipeline (first run)")
                self._pipeline = self._factory()
            return self._pipeline


@dataclass
class _WorkDir:
    """A private temporary folder for the files offered for download, removed at exit."""

    path: Path

    @classmethod
    def create(cls) -> _WorkDir:
        path = Path(tempfile.mkdtemp(prefix="consult-review-"))
        atexit.register(shutil.rmtree, path, ignore_errors=True)
        return cls(path)

    def fresh(self) -> Path:
        return Path(tempfile.mkdtemp(dir=self.path))


def _report_from_state(state: Mapping[str, Any] | None, lang: str) -> ConsultationReport:
    if not state:
        raise gr.Error(texts(lang)["no_report"])
    return ConsultationReport.model_validate(state)


def build_app(pipeline_factory: Callable[[], Pipeline] | None = None, *, language: str = "fr") -> gr.Blocks:
    """The review page. ``pipeline_factory`` (default ``Pipeline()``) is called once, at the first run."""
    lang = check_language(language)
    t = texts(lang)
    pipeline = _LazyPipeline(pipeline_factory or _default_pipeline)
    work = _WorkDir.create()

    def run(audio: str | None, progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:  # noqa: B008
        if not audio:
            raise gr.Error(t["no_audio"])
        from consult.errors import ConsultError

        def hook(stage: str, fraction: float) -> None:
            progress(max(0.0, min(1.0, fraction)), desc=stage)

        try:
            progress(0.0, desc="models")
            report = pipeline.get().process(audio, hook=hook)
        except ConsultError as exc:
            logger.warning("pipeline failed: %s", type(exc).__name__)
            raise gr.Error(t["pipeline_error"].format(error=exc), print_exception=False) from exc
        report_file = make_report_file(report, work.fresh())
        return (
            report.model_dump(mode="json"),
            audio,
            summary_markdown(report, lang),
            transcript_markdown(report, lang),
            report_to_rows(report, lang),
            str(report_file),
            None,
        )

    def approve_all(rows: list[list[Any]]) -> list[list[Any]]:
        return set_all_decisions(rows or [], "approved", lang)

    def reset(state: dict[str, Any] | None) -> list[list[str]]:
        return report_to_rows(_report_from_state(state, lang), lang)

    def bundle(state: dict[str, Any] | None, rows: list[list[Any]], request: gr.Request) -> str:
        report = _report_from_state(state, lang)
        reviewer = getattr(request, "username", None) if request is not None else None
        try:
            return str(make_bundle_file(report, rows or [], work.fresh(), reviewer=reviewer, lang=lang))
        except TableError as exc:
            raise gr.Error(str(exc), duration=None, print_exception=False) from exc

    def report_download(state: dict[str, Any] | None) -> str:
        return str(make_report_file(_report_from_state(state, lang), work.fresh()))

    with gr.Blocks(title=t["title"], analytics_enabled=False, delete_cache=(3600, 3600)) as app:
        gr.Markdown(t["header"])
        state = gr.State(None)
        with gr.Row():
            with gr.Column():
                audio_in = gr.Audio(sources=["upload", "microphone"], type="filepath", label=t["audio_in"])
                run_btn = gr.Button(t["run"], variant="primary")
            with gr.Column():
                player = gr.Audio(type="filepath", label=t["player"], interactive=False)
                summary = gr.Markdown(label=t["summary"])
        gr.Markdown(f"### {t['transcript']}")
        transcript = gr.Markdown(sanitize_html=True)
        gr.Markdown(f"### {t['table']}\n{t['decision_help']}")
        table = gr.Dataframe(
            headers=headers(lang),
            datatype="str",
            type="array",
            interactive=True,
            static_columns=STATIC_COLUMNS,
            wrap=True,
            label=t["table"],
        )
        with gr.Row():
            approve_btn = gr.Button(t["approve_all"])
            reset_btn = gr.Button(t["reset"])
            bundle_btn = gr.Button(t["bundle_btn"], variant="primary")
            report_btn = gr.Button(t["report_btn"])
        with gr.Row():
            bundle_file = gr.File(label=t["bundle_file"], interactive=False)
            report_file = gr.File(label=t["report_file"], interactive=False)

        run_btn.click(
            run,
            inputs=[audio_in],
            outputs=[state, player, summary, transcript, table, report_file, bundle_file],
            api_name="transcribe",
        )
        approve_btn.click(approve_all, inputs=[table], outputs=[table], api_name="approve_all")
        reset_btn.click(reset, inputs=[state], outputs=[table], api_name="reset")
        bundle_btn.click(bundle, inputs=[state, table], outputs=[bundle_file], api_name="bundle")
        report_btn.click(report_download, inputs=[state], outputs=[report_file], api_name="report")
    return app
