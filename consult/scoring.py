"""Scoring medication extraction against a labelled set (format: docs/labels.md).

``load_labelled_set(path)`` reads one JSON file or a folder of them; ``score(items, predictions)`` matches
predicted lines to labelled lines (same lexicon entry or ATC code, else accent-folded fuzzy name >= 85) and
counts, per field, true positives (label has the value, prediction equals it), false positives (prediction has
a value the label has not, or a different one) and false negatives (label has a value the prediction has not,
or a different one). Whole-line exact match: a labelled line matched with every field equal.

Values are compared in one vocabulary: masses in mg, volumes in mL, durations and periods in hours, count
units through :data:`UNIT_SYNONYMS` (comprimé = tablet...), routes through :data:`ROUTE_SYNONYMS`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from consult.errors import ConsultError
from consult.extract.calibration import LineOutcome, calibration_summary, format_calibration
from consult.extract.posology import FIELDS as POSOLOGY_FIELDS
from consult.extract.text import strip_accents
from schemas import MedicationLine
from schemas.medication import DurationUnit, MedicationStatus, PeriodUnit, WhenCode

SCORED_FIELDS = (*(f for f in POSOLOGY_FIELDS if f not in ("form", "single_dose")), "status")
"""Fields scored, in the order printed: every posology slot the parser fills (the form is judged through
the dose unit and the route), and the status. ``drug`` is scored separately (line matching)."""

MAIN_FIELDS = ("strength", "dose", "route", "frequency", "duration", "as_needed", "status")
"""The fields the extraction issue targets (per-field F1 >= 0.93); the others are reported too."""
RIGHT_LINE_FIELDS = MAIN_FIELDS
"""A predicted line is *right* (the target of the calibrated confidence, :mod:`consult.extract.calibration`)
when it is matched to a labelled line and each of these fields equals the label's."""

UNIT_SYNONYMS: dict[str, str] = {
    "comprimé": "tablet", "comprime": "tablet", "cp": "tablet", "tablet": "tablet", "tab": "tablet",
    "pill": "tablet", "cachet": "tablet",
    "gélule": "capsule", "gelule": "capsule", "capsule": "capsule",
    "bouffée": "puff", "bouffee": "puff", "puff": "puff", "inhalation": "puff", "actuation": "puff",
    "pulvérisation": "spray", "pulverisation": "spray", "spray": "spray",
    "[drp]": "drop", "goutte": "drop", "drop": "drop",
    "cuillère à café": "teaspoon", "teaspoon": "teaspoon", "cuillère à soupe": "tablespoon",
    "tablespoon": "tablespoon", "cuillère": "spoon",
    "suppositoire": "suppository", "suppository": "suppository", "pastille": "lozenge", "lozenge": "lozenge",
    "lyophilisat": "oral lyophilisate", "oral lyophilisate": "oral lyophilisate",
    "[iu]": "[iU]", "ui": "[iU]", "iu": "[iU]", "unit": "[iU]", "units": "[iU]",
    "ml": "mL", "l": "mL", "mg": "mg", "g": "mg", "ug": "mg", "µg": "mg", "mcg": "mg",
}
_TO_BASE = {"g": 1000.0, "ug": 0.001, "µg": 0.001, "mcg": 0.001, "l": 1000.0}
ROUTE_SYNONYMS = {"topical": "cutaneous", "auricular": "otic", "inhaled": "inhalation", "by mouth": "oral"}
_HOURS = {"h": 1.0, "d": 24.0, "wk": 168.0, "mo": 720.0}


class _Label(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LabelQuantity(_Label):
    value: float
    value_high: float | None = None
    unit: str


class LabelDuration(_Label):
    value: float
    value_high: float | None = None
    unit: DurationUnit


class LabelFrequency(_Label):
    count: int
    count_max: int | None = None
    period: float = 1
    period_unit: PeriodUnit = "d"


class LabelledMedication(_Label):
    """One labelled medication line (docs/labels.md)."""

    drug: str
    atc: str | None = None
    strength: LabelQuantity | None = None
    dose: LabelQuantity | None = None
    route: str | None = None
    frequency: LabelFrequency | None = None
    when: list[WhenCode] = Field(default_factory=list)
    duration: LabelDuration | None = None
    as_needed: bool = False
    max_per_day: LabelQuantity | None = None
    max_per_intake: LabelQuantity | None = None
    min_interval: LabelDuration | None = None
    quantity_for: LabelDuration | None = None
    renewals: int | None = None
    status: MedicationStatus
    note: str | None = None


class LabelledTurn(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    speaker: str
    text: str


class LabelledConsultation(BaseModel):
    """One labelled consultation: transcript (file or turns), optional audio, medications."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    language: Literal["fr", "en"]
    source: str | None = None
    transcript: str | None = None
    turns: list[LabelledTurn] | None = None
    audio: str | None = None
    rttm: str | None = None
    medications: list[LabelledMedication]
    path: Path

    def transcript_text(self) -> str:
        """The transcript in ``consult extract`` format (``DOC:``/``PAT:`` lines)."""
        if self.transcript is not None:
            from consult.extract.textinput import read_transcript_file

            return read_transcript_file(self.path.parent / self.transcript)
        if self.turns is not None:
            return "".join(
                f"{'DOC' if t.speaker.lower().startswith(('doc', 'méd', 'med', 'clin')) else 'PAT'}: {t.text}\n"
                for t in self.turns
            )
        raise ConsultError(f"{self.path}: no 'transcript' file and no 'turns'")

    def audio_path(self) -> Path | None:
        return self.path.parent / self.audio if self.audio else None

    def rttm_path(self) -> Path | None:
        if self.rttm:
            return self.path.parent / self.rttm
        if self.audio:
            guess = (self.path.parent / self.audio).with_suffix(".rttm")
            return guess if guess.exists() else None
        return None


def load_labelled_set(path: Path | str) -> list[LabelledConsultation]:
    """Labelled consultations from a JSON file or a folder searched recursively (``*.json``; files without a
    ``medications`` key are ignored; a folder holding ``*.truth.json`` files is read for those only).
    Raises ConsultError naming the file and the field for a bad label."""
    p = Path(path)
    if not p.exists():
        raise ConsultError(f"{p}: no such labelled set (a JSON file or a folder of them, see docs/labels.md)")
    if p.is_file():
        files = [p]
    else:  # the generated fixtures' folder: their *.truth.json, not the generator scripts
        files = sorted(p.glob("*.truth.json")) or sorted(p.rglob("*.json"))
    items: list[LabelledConsultation] = []
    for f in files:
        try:
            data = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ConsultError(f"{f}: not a readable JSON file ({exc})") from exc
        if not isinstance(data, dict) or "medications" not in data:
            continue
        data.setdefault("id", data.get("name") or f.name.split(".")[0])
        try:
            item = LabelledConsultation.model_validate({**data, "path": f})
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(x) for x in first["loc"])
            raise ConsultError(f"{f}: invalid label at {where}: {first['msg']} (format: docs/labels.md)") from exc
        if item.transcript is None and item.turns is None:
            raise ConsultError(f"{f}: a labelled consultation needs 'transcript' (a file) or 'turns'")
        items.append(item)
    if not items:
        raise ConsultError(f"{p}: no labelled consultation found (JSON files with a 'medications' list)")
    ids = [i.id for i in items]
    dup = {i for i in ids if ids.count(i) > 1}
    if dup:
        raise ConsultError(f"{p}: duplicate consultation ids: {', '.join(sorted(dup))}")
    return items


# ----------------------------------------------------------------------------- normalisation
def _fold(s: str) -> str:
    return " ".join(strip_accents(s.lower()).replace("-", " ").split())


def _unit(u: str) -> str:
    key = u.strip().lower()
    if key.endswith("s") and key[:-1] in UNIT_SYNONYMS:
        key = key[:-1]
    return UNIT_SYNONYMS.get(key, UNIT_SYNONYMS.get(_fold(key), _fold(key)))


def _num(x: float | None, factor: float = 1.0) -> float | None:
    return None if x is None else round(float(x) * factor, 6)


def norm_quantity(q: Any) -> tuple[Any, ...] | None:
    if q is None:
        return None
    unit = str(q.unit)
    factor = _TO_BASE.get(unit.strip().lower(), 1.0)
    return (_num(q.value, factor), _num(q.value_high, factor), _unit(unit))


def norm_duration(d: Any) -> tuple[Any, ...] | None:
    if d is None:
        return None
    h = _HOURS[d.unit]
    return (_num(d.value, h), _num(d.value_high, h))


def norm_frequency(f: Any) -> tuple[Any, ...] | None:
    if f is None:
        return None
    count_max = f.count_max if f.count_max and f.count_max > f.count else None
    # "every 12 hours" = "twice a day": compare intakes per period in hours, reduced
    return (round(f.count / (f.period * _HOURS[f.period_unit]), 6),
            None if count_max is None else round(count_max / (f.period * _HOURS[f.period_unit]), 6))


def norm_route(r: str | None) -> str | None:
    if not r:
        return None
    k = _fold(r)
    return ROUTE_SYNONYMS.get(k, k)


def field_value(line: Any, name: str) -> Any:
    """The comparable value of field ``name`` of a labelled or predicted line (None = not said)."""
    v = getattr(line, name, None)
    if name in ("strength", "dose", "max_per_day", "max_per_intake"):
        return norm_quantity(v)
    if name in ("duration", "min_interval", "quantity_for"):
        return norm_duration(v)
    if name == "frequency":
        return norm_frequency(v)
    if name == "route":
        return norm_route(v)
    if name == "when":
        return tuple(sorted(set(v))) if v else None
    if name == "as_needed":
        return True if v else None
    return v


# ----------------------------------------------------------------------------- matching
@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def support(self) -> int:
        return self.tp + self.fn

    def add(self, other: Counts) -> None:
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn


@dataclass
class ItemResult:
    id: str
    language: str
    expected: int
    predicted: int
    matched: int
    exact: int
    missed: list[str] = field(default_factory=list)
    invented: list[str] = field(default_factory=list)
    field_errors: list[str] = field(default_factory=list)


@dataclass
class Scores:
    drug: Counts = field(default_factory=Counts)
    fields: dict[str, Counts] = field(default_factory=lambda: {f: Counts() for f in SCORED_FIELDS})
    lines: int = 0
    exact: int = 0
    items: list[ItemResult] = field(default_factory=list)
    review: dict[str, int] = field(default_factory=lambda: {
        "wrong": 0, "wrong_line_flagged": 0, "wrong_field_flagged": 0,
        "right": 0, "right_field_flagged": 0, "invented": 0, "invented_flagged": 0,
    })
    """How the review flags cover the errors: wrong field values (of matched lines) on a line flagged
    ``needs_review`` / flagged on that field itself; right values flagged; invented lines flagged."""
    line_outcomes: list[LineOutcome] = field(default_factory=list)
    """Every predicted line: its confidence, whether it is flagged, whether it is right (:func:`line_is_right`)."""

    @property
    def exact_match(self) -> float:
        return self.exact / self.lines if self.lines else 1.0

    def field_f1(self, names: Iterable[str] = MAIN_FIELDS) -> float:
        """Micro-averaged F1 over ``names``."""
        total = Counts()
        for n in names:
            total.add(self.fields[n])
        return total.f1

    def to_dict(self) -> dict[str, Any]:
        def c(x: Counts) -> dict[str, Any]:
            return {"tp": x.tp, "fp": x.fp, "fn": x.fn, "precision": round(x.precision, 4),
                    "recall": round(x.recall, 4), "f1": round(x.f1, 4)}

        return {
            "drug": c(self.drug),
            "fields": {k: c(v) for k, v in self.fields.items()},
            "main_fields_f1": round(self.field_f1(), 4),
            "lines": self.lines,
            "exact_lines": self.exact,
            "exact_match": round(self.exact_match, 4),
            "review": dict(self.review),
            "calibration": calibration_summary(self.line_outcomes),
            "items": [vars(i) for i in self.items],
        }


class DrugResolver:
    """Resolves a drug name to a comparable key: lexicon entry (substance name) and ATC code."""

    def __init__(self) -> None:
        from consult.extract.lexicon import DrugLexicon

        self.lexicon = DrugLexicon.load()

    def keys(self, name: str, atc: str | None = None) -> set[str]:
        keys = {"name:" + _fold(name)}
        if atc:
            keys.add("atc:" + atc)
        parts = [p.strip() for p in name.replace("/", "+").split("+")] if "+" in name or "/" in name else [name]
        for part in parts:
            entry = self.lexicon.lookup_name(part)
            if entry is None:
                matches = self.lexicon.find(part)
                entry = matches[0].entry if len(matches) == 1 and matches[0].score >= 0.95 else None
            if entry is not None:
                keys.add("name:" + _fold(entry.name))
                if entry.atc and len(parts) == 1:
                    keys.add("atc:" + entry.atc)
        return keys

    def same(self, a: set[str], b: set[str], a_name: str, b_name: str) -> bool:
        if a & b:
            return True
        from rapidfuzz import fuzz

        return fuzz.ratio(_fold(a_name), _fold(b_name)) >= 85


def pair_lines(
    gold: Sequence[LabelledMedication], pred: Sequence[MedicationLine], resolver: DrugResolver
) -> list[tuple[int, int]]:
    """(labelled index, predicted index) of the lines that match: each labelled line, in order, takes the
    first predicted line not yet taken whose drug is the same (:meth:`DrugResolver.same`). :func:`score` and
    the training of the status model (scripts/train_status.py) align lines this way."""
    gkeys = [resolver.keys(g.drug, g.atc) for g in gold]
    pkeys = [resolver.keys(p.name, p.atc) | resolver.keys(p.drug_text) for p in pred]
    pairs: list[tuple[int, int]] = []
    used: set[int] = set()
    for gi, g in enumerate(gold):
        for pi, p in enumerate(pred):
            if pi not in used and resolver.same(gkeys[gi], pkeys[pi], g.drug, p.name):
                pairs.append((gi, pi))
                used.add(pi)
                break
    return pairs


def line_is_right(gold: LabelledMedication, pred: MedicationLine, names: Sequence[str] = RIGHT_LINE_FIELDS) -> bool:
    """Every field of ``names`` of the predicted line equals the labelled line's (:func:`field_value`)."""
    return all(field_value(gold, n) == field_value(pred, n) for n in names)


def judge_lines(
    gold: Sequence[LabelledMedication], pred: Sequence[MedicationLine], resolver: DrugResolver,
    pairs: Sequence[tuple[int, int]] | None = None,
) -> list[bool]:
    """Whether each predicted line is right: matched to a labelled line (:func:`pair_lines`, or the ``pairs``
    already made) with every field of :data:`RIGHT_LINE_FIELDS` equal; a line with no labelled drug is wrong."""
    out = [False] * len(pred)
    for gi, pi in (pair_lines(gold, pred, resolver) if pairs is None else pairs):
        out[pi] = line_is_right(gold[gi], pred[pi])
    return out


def score(
    items: Sequence[LabelledConsultation],
    predictions: Mapping[str, Sequence[MedicationLine]],
    *,
    resolver: DrugResolver | None = None,
) -> Scores:
    """Score ``predictions`` (consultation id -> lines) against the labels of ``items``."""
    resolver = resolver or DrugResolver()
    out = Scores()
    for item in items:
        pred = list(predictions.get(item.id, []))
        gold = list(item.medications)
        pairs = pair_lines(gold, pred, resolver)
        used = {pi for _, pi in pairs}
        right = judge_lines(gold, pred, resolver, pairs)
        out.line_outcomes += [LineOutcome(p.confidence, p.needs_review, ok) for p, ok in zip(pred, right, strict=True)]
        res = ItemResult(item.id, item.language, len(gold), len(pred), len(pairs), 0)
        matched_g = {gi for gi, _ in pairs}
        res.missed = [g.drug for gi, g in enumerate(gold) if gi not in matched_g]
        res.invented = [f"{p.name} ({p.drug_text!r})" for pi, p in enumerate(pred) if pi not in used]
        out.drug.tp += len(pairs)
        out.drug.fn += len(gold) - len(pairs)
        out.drug.fp += len(pred) - len(pairs)
        for gi, pi in pairs:
            g, p = gold[gi], pred[pi]
            all_ok = True
            for name in SCORED_FIELDS:
                gv, pv = field_value(g, name), field_value(p, name)
                c = out.fields[name]
                flagged = _field_flagged(p, name)
                if gv is not None and gv == pv:
                    c.tp += 1
                    out.review["right"] += 1
                    out.review["right_field_flagged"] += flagged
                    continue
                if gv != pv:
                    out.review["wrong"] += 1
                    out.review["wrong_line_flagged"] += p.needs_review
                    out.review["wrong_field_flagged"] += flagged
                if gv is not None:
                    c.fn += 1
                if pv is not None:
                    c.fp += 1
                if gv != pv:
                    all_ok = False
                    res.field_errors.append(f"{g.drug}.{name}: expected {gv}, got {pv}")
            if all_ok:
                res.exact += 1
        for gi, g in enumerate(gold):
            if gi not in matched_g:
                for name in SCORED_FIELDS:
                    if field_value(g, name) is not None:
                        out.fields[name].fn += 1
        for pi, p in enumerate(pred):
            if pi not in used:
                out.review["invented"] += 1
                out.review["invented_flagged"] += p.needs_review
                for name in SCORED_FIELDS:
                    if field_value(p, name) is not None:
                        out.fields[name].fp += 1
        out.lines += len(gold)
        out.exact += res.exact
        out.items.append(res)
    return out


def _field_flagged(line: MedicationLine, name: str) -> bool:
    """The line's review reasons name this field (or the drug, which puts every value in doubt)."""
    return any(r.startswith((name, "drug", "absurd", "unusual")) for r in line.review_reasons)


def format_scores(scores: Scores, title: str = "") -> str:
    """A plain-text table: drug and per-field precision/recall/F1, whole-line exact match."""
    rows = [f"{'field':<16}{'P':>7}{'R':>7}{'F1':>7}{'TP':>6}{'FP':>5}{'FN':>5}"]

    def row(name: str, c: Counts) -> str:
        return f"{name:<16}{c.precision:>7.3f}{c.recall:>7.3f}{c.f1:>7.3f}{c.tp:>6}{c.fp:>5}{c.fn:>5}"

    rows.append(row("drug", scores.drug))
    for name in SCORED_FIELDS:
        c = scores.fields[name]
        if c.tp + c.fp + c.fn:
            rows.append(row(name, c))
    rows.append(f"main fields F1 ({', '.join(MAIN_FIELDS)}): {scores.field_f1():.3f}")
    rows.append(f"whole-line exact match: {scores.exact}/{scores.lines} = {scores.exact_match:.3f}")
    invented = sum(len(i.invented) for i in scores.items)
    rows.append(f"consultations: {len(scores.items)}; predicted lines not in the labels: {invented}")
    r = scores.review
    rows.append(f"review flags: {r['wrong_line_flagged']}/{r['wrong']} wrong values on a line flagged for review "
                f"({r['wrong_field_flagged']} flagged on the field itself); {r['right_field_flagged']}/{r['right']} "
                f"right values flagged; {r['invented_flagged']}/{r['invented']} unlabelled lines flagged")
    return (f"== {title}\n" if title else "") + "\n".join(rows) + "\n" + format_calibration(scores.line_outcomes)
