"""The editable medication table of the review page: cells <-> schema records, and review decisions.

Pure functions over :mod:`schemas` records (no Gradio): :func:`report_to_rows` writes one row of strings per
medication line, :func:`rows_to_decisions` reads the edited rows back into :class:`schemas.ReviewDecision`
records, and the helpers below turn decisions into what the report store keeps.

Cell formats (what :func:`report_to_rows` writes, in the page's language, and what the parsers read back):

========== ====================================== ==========================================
column     written as (fr / en)                   also read
========== ====================================== ==========================================
strength   ``500 mg``, ``0,5 g`` / ``0.5 g``      ``1/2 comprimé``, ``1 à 2 ...``
frequency  ``3/j``, ``1/8h``, ``2/sem`` / ``3/d`` ``3 x/j``, ``2 fois / jour``, ``1/wk``
duration   ``7 j``, ``2 sem``, ``3 mois`` / ``7 d`` ``7 jours``, ``2 semaines``, ``10 days``
when       ``matin, soir`` (labels)               FHIR codes ``MORN, EVE``
ald        ``oui`` / ``yes``, empty when not ALD  ``non``, ``no``, ``x``, ``1``, ``0``
========== ====================================== ==========================================

The ``comment`` column is the reviewer's remark on the line (:attr:`ReviewDecision.comment`, a ``note`` of the
line's FHIR resource). The ``ald`` column is the reviewer's mark (not a field of the line): :attr:`ReviewDecision.ald`,
the line treats the patient's affection de longue durée (the ordonnance's upper "bizone" zone, ``category`` ALD in
FHIR).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from typing import Any, get_args

from consult.review import ADDED_PREFIX, added_decisions, added_line, is_added
from demo.i18n import COLUMNS, UNIT_LABELS, WHEN_LABELS, check_language, texts
from schemas import ConsultationReport, Duration, Frequency, MedicationLine, Quantity, ReviewDecision
from schemas.medication import MedicationStatus, WhenCode
from schemas.report import Decision

__all__ = [
    "COL",
    "STATIC_COLUMNS",
    "TableError",
    "decision_of_row",
    "decision_records",
    "decisions_from_records",
    "edited_fields",
    "format_duration",
    "format_frequency",
    "format_quantity",
    "parse_duration",
    "parse_frequency",
    "parse_quantity",
    "report_to_rows",
    "row_ids",
    "review_status",
    "reviewed_report",
    "rows_to_decisions",
    "set_all_decisions",
    "set_decision",
]

COL = {key: i for i, key in enumerate(COLUMNS)}
STATIC_COLUMNS = [COL["id"], COL["drug_text"], COL["confidence"]]

_DECISIONS: tuple[Decision, ...] = get_args(Decision)
_STATUSES: tuple[MedicationStatus, ...] = get_args(MedicationStatus)
_WHEN_CODES: tuple[str, ...] = get_args(WhenCode)

# Units that are UCUM codes when typed by a reviewer (a form word such as "comprimé" is not).
_UCUM_UNITS = frozenset(
    {"mg", "g", "ug", "ng", "kg", "mL", "L", "dL", "cL", "[iU]", "[IU]", "U", "[drp]", "mmol", "meq", "%",
     "mg/mL", "mg/kg", "ug/h", "mg/d", "ug/d", "[iU]/mL"}
)


# --------------------------------------------------------------------------------------------- formatting


def _num(value: float, lang: str = "en") -> str:
    """500.0 -> "500", 0.5 -> "0.5" ("0,5" in French)."""
    text = f"{value:.6f}".rstrip("0").rstrip(".") or "0"
    return text.replace(".", ",") if lang == "fr" else text


def format_quantity(q: Quantity | None, lang: str = "fr") -> str:
    """``500 mg``, ``1-2 comprimé``, ``0,5 g`` (fr) / ``0.5 g`` (en); empty for None."""
    if q is None:
        return ""
    value = _num(q.value, lang) if q.value_high is None else f"{_num(q.value, lang)}-{_num(q.value_high, lang)}"
    return f"{value} {q.unit}".strip()


def format_frequency(f: Frequency | None, lang: str = "fr") -> str:
    """``3/j``, ``1-2/j``, ``1/8h``, ``2/sem`` (fr) / ``3/d``, ``2/wk`` (en); empty for None."""
    if f is None:
        return ""
    count = str(f.count) if f.count_max is None else f"{f.count}-{f.count_max}"
    period = "" if f.period == 1 else _num(f.period, lang)
    return f"{count}/{period}{UNIT_LABELS[lang][f.period_unit]}"


_SINGLE_DOSE = {"fr": "1 seule prise", "en": "single dose"}
"""The frequency cell of a line taken once (``single_dose``); read back in either language."""
_SINGLE_DOSE_WORDS = {"1 seule prise", "une seule prise", "prise unique", "dose unique", "single dose", "once only"}


def format_duration(d: Duration | None, lang: str = "fr") -> str:
    """``7 j``, ``2 sem``, ``3 mois`` (fr) / ``7 d``, ``2 wk``, ``3 mo`` (en); empty for None."""
    return "" if d is None else f"{_num(d.value, lang)} {UNIT_LABELS[lang][d.unit]}"


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
        period_unit=_PERIOD_UNITS[match.group(4)],
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
    return Duration(value=value, unit=unit)


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


def _line_cells(line_id: str, line: MedicationLine, decision: ReviewDecision | None, lang: str) -> list[str]:
    t = texts(lang)
    cells = {
        "id": line_id,
        "drug_text": line.drug_text,
        "name": line.name,
        "atc": line.atc or "",
        "strength": format_quantity(line.strength, lang),
        "dose": format_quantity(line.dose, lang),
        "route": line.route or "",
        "frequency": format_frequency(line.frequency, lang) or (_SINGLE_DOSE[lang] if line.single_dose else ""),
        "when": _format_when(line.when, lang),
        "duration": format_duration(line.duration, lang),
        "as_needed": t["yes"] if line.as_needed else t["no"],
        "status": t[line.status],
        "confidence": _num(round(line.confidence, 2), lang),
        "decision": _decision_label(decision.decision if decision is not None else "pending", lang),
        "ald": t["yes"] if decision is not None and decision.ald else "",
        "comment": (decision.comment or "") if decision is not None else "",
    }
    return [cells[key] for key in COLUMNS]


def report_to_rows(
    report: ConsultationReport,
    lang: str = "fr",
    decisions: Iterable[ReviewDecision] | None = None,
) -> list[list[str]]:
    """One table row per medication line (every cell a string).

    Without ``decisions`` every decision is pending; with them (e.g. a saved review) each row shows the
    reviewer's decision and, for an edited line, the edited values; the lines the reviewer added
    (:func:`consult.review.is_added`) follow the report's lines.
    """
    check_language(lang)
    by_id = {d.line_id: d for d in decisions or []}
    rows: list[list[str]] = []
    for original in report.medications:
        decision = by_id.get(original.id)
        line = decision.line if decision is not None and decision.line is not None else original
        rows.append(_line_cells(original.id, line, decision, lang))
    rows += [_line_cells(d.line_id, d.line, d, lang) for d in added_decisions(report, by_id.values())
             if d.line is not None]
    return rows


def row_ids(rows: Sequence[Sequence[Any]]) -> list[str]:
    """The line id of each row: its id cell; for a row the reviewer added in the table (empty id cell, some
    other cell filled) the first ``added-N`` that no other row uses, in table order. An empty row gets ""."""
    cells = [["" if c is None else str(c).strip() for c in row] for row in rows]
    ids = [c[COL["id"]] if len(c) == len(COLUMNS) else "" for c in cells]
    used = set(ids)
    n = 0
    out: list[str] = []
    for row_cells, line_id in zip(cells, ids, strict=True):
        if line_id or not any(row_cells) or len(row_cells) != len(COLUMNS):
            out.append(line_id)
            continue
        n += 1
        while f"{ADDED_PREFIX}{n}" in used:
            n += 1
        out.append(f"{ADDED_PREFIX}{n}")
        used.add(out[-1])
    return out


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
    if _fold(_cell(row, "frequency")) in _SINGLE_DOSE_WORDS:
        update["frequency"], update["single_dose"] = None, True
    else:
        try:
            update["frequency"] = parse_frequency(_cell(row, "frequency"))
            update["single_dose"] = False
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
    """One ReviewDecision per medication line of ``report``, read from the (edited) table rows, then one per
    line the reviewer added.

    A line whose cells were edited carries the full edited line in ``ReviewDecision.line``.
    A line missing from the table stays pending. A row with no id (added in the browser) whose name cell holds a
    drug is a line the reviewer adds (:func:`consult.review.added_line`: named and coded from the lexicon, status
    ``new`` unless the status cell says otherwise, pending until decided). Raises :class:`TableError` listing
    every cell that cannot be read (nothing is silently dropped).
    """
    check_language(lang)
    t = texts(lang)
    when = at or datetime.now(timezone.utc)
    lines = {line.id: line for line in report.medications}
    problems: list[str] = []
    decided: dict[str, ReviewDecision] = {}
    added: list[str] = []
    ids = row_ids(rows)
    for index, row in enumerate(rows, start=1):
        cells = ["" if c is None else str(c).strip() for c in row]
        if not any(cells):
            continue  # an empty row added in the browser
        if len(cells) != len(COLUMNS):
            problems.append(t["bad_row"].format(index=index, count=len(cells), expected=len(COLUMNS)))
            continue
        line_id = ids[index - 1]
        line = lines.get(line_id)
        if line is None and is_added(line_id):
            row, line = _added_row(report, line_id, row, lang, problems)
            if line is None:
                continue
            if line_id not in decided:
                added.append(line_id)
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
        ald = _BOOL_WORDS.get(_fold(_cell(row, "ald")))
        if ald is None:
            problems.append(
                t["cell_error"].format(
                    line=line_id, column=t["col_ald"], value=_cell(row, "ald"), expected=t["expect_bool"]
                )
            )
        if len(problems) > n_before:
            continue
        decided[line_id] = ReviewDecision(
            line_id=line_id,
            decision=decision,
            comment=_cell(row, "comment") or None,
            line=edited if is_added(line_id) and line_id not in lines else (None if edited == line else edited),
            reviewer=reviewer,
            at=when,
            ald=bool(ald),
        )
    if problems:
        raise TableError(problems, lang)
    return [
        decided.get(line.id)
        or ReviewDecision(line_id=line.id, decision="pending", reviewer=reviewer, at=when)
        for line in report.medications
    ] + [decided[line_id] for line_id in added]


def _added_row(report: ConsultationReport, line_id: str, row: Sequence[Any], lang: str,
               problems: list[str]) -> tuple[Sequence[Any], MedicationLine | None]:
    """(the row as read, the line it adds) for a row the reviewer added; (row, None) with a problem when the row
    names no drug. The drug as said is the row's said cell (a saved added line) or else its name cell; the name
    and ATC cells, when they only repeat what was typed or are empty, take the lexicon's name and code."""
    t = texts(lang)
    said = _cell(row, "drug_text") or _cell(row, "name")
    if not said:
        problems.append(t["added_no_name"].format(line=line_id))
        return row, None
    line = added_line(line_id, said, report.language)
    out = list(row)
    name = _cell(row, "name")
    if not name or _fold(name) == _fold(said):
        out[COL["name"]] = line.name
    if not _cell(row, "atc"):
        out[COL["atc"]] = line.atc or ""
    if not _cell(row, "status"):
        out[COL["status"]] = t[line.status]
    return out, line



# ------------------------------------------------------------------------------------- decisions


def decision_of_row(row: Sequence[Any]) -> Decision | None:
    """The decision written in a table row (either language), or None when it cannot be read."""
    if len(row) != len(COLUMNS):
        return None
    return _DECISION_WORDS.get(_fold(_cell(row, "decision")))  # type: ignore[return-value]


def set_decision(rows: Sequence[Sequence[Any]], line_id: str, decision: Decision, lang: str = "fr") -> list[list[Any]]:
    """The same rows with the decision of line ``line_id`` set (edits and other lines kept)."""
    label = _decision_label(decision, lang)
    out: list[list[Any]] = []
    for row, row_id in zip(rows, row_ids(rows), strict=True):
        new = list(row)
        if len(new) == len(COLUMNS) and row_id == line_id:
            new[COL["decision"]] = label
        out.append(new)
    return out


def edited_fields(original: MedicationLine, edited: MedicationLine | None) -> list[str]:
    """Names of the fields the reviewer changed (empty when not edited)."""
    if edited is None:
        return []
    before, after = original.model_dump(mode="json"), edited.model_dump(mode="json")
    return [key for key in before if before[key] != after.get(key)]


def decision_records(report: ConsultationReport, decisions: Iterable[ReviewDecision]) -> list[dict[str, Any]]:
    """The decisions as the report store keeps them in a review event: line id, decision, edited fields, the
    edited line (None when not edited), reviewer, time and the ALD mark."""
    lines = {line.id: line for line in report.medications}
    out: list[dict[str, Any]] = []
    for d in decisions:
        original = lines.get(d.line_id)
        out.append({
            "line_id": d.line_id,
            "decision": d.decision,
            "edited": edited_fields(original, d.line) if original is not None else [],
            "line": d.line.model_dump(mode="json") if d.line is not None else None,
            "reviewer": d.reviewer,
            "at": d.at.isoformat() if d.at is not None else None,
            "ald": d.ald,
            "comment": d.comment,
            "added": original is None and is_added(d.line_id),
        })
    return out


def decisions_from_records(report: ConsultationReport, records: Iterable[dict[str, Any]]) -> list[ReviewDecision]:
    """Read :func:`decision_records` back (records of lines the report does not have are ignored, unless they are
    lines the reviewer added, with their line; a record saved before the ALD mark existed reads as not ALD)."""
    known = {line.id for line in report.medications}
    out: list[ReviewDecision] = []
    for rec in records:
        line_id = rec.get("line_id")
        ours = line_id in known or (is_added(line_id) and bool(rec.get("line")))
        if not ours or rec.get("decision") not in _DECISIONS:
            continue
        out.append(ReviewDecision(
            line_id=rec["line_id"],
            decision=rec["decision"],
            line=MedicationLine.model_validate(rec["line"]) if rec.get("line") else None,
            reviewer=rec.get("reviewer"),
            at=datetime.fromisoformat(rec["at"]) if rec.get("at") else None,
            ald=rec.get("ald") is True,
            comment=rec["comment"] if isinstance(rec.get("comment"), str) and rec["comment"] else None,
        ))
    return out


def review_status(decisions: Sequence[ReviewDecision]) -> str:
    """The store's review status for these decisions: ``to_review`` while a line is pending, else
    ``approved`` (all approved, or no line), ``rejected`` (all rejected) or ``partly_approved``."""
    kinds = {d.decision for d in decisions}
    if "pending" in kinds:
        return "to_review"
    if kinds <= {"approved"}:
        return "approved"
    if kinds == {"rejected"}:
        return "rejected"
    return "partly_approved"


def reviewed_report(report: ConsultationReport, decisions: Iterable[ReviewDecision]) -> ConsultationReport:
    """The report with each edited line in place of the extracted one (every line kept, ids unchanged), then the
    lines the reviewer added and did not reject."""
    decided = list(decisions)
    edits = {d.line_id: d.line for d in decided if d.line is not None}
    added = [d.line for d in added_decisions(report, decided) if d.line is not None and d.decision != "rejected"]
    return report.model_copy(update={"medications": [edits.get(m.id, m) for m in report.medications] + added})


def now_utc() -> datetime:
    """The current time, UTC."""
    return datetime.now(timezone.utc)
