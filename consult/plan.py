"""The patient's medication plan: a plain-language schedule of the approved lines, as Markdown or printable HTML.

Only lines a reviewer **approved** are used (the edited line when the reviewer edited it). ``new``, ``renewed`` and
``changed`` lines are to take: in a morning / noon / evening / bedtime table when the times of day were said, else
as "3 fois par jour"; as-needed lines in their own section with their limits; ``stopped`` lines under "À arrêter".
``mentioned`` lines (talked about, not prescribed) are left out.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal, TypedDict

from consult.review import effective_lines
from schemas.medication import Duration, Frequency, MedicationLine, Quantity
from schemas.report import ConsultationReport, ReviewDecision

Section = Literal["regular", "as_needed", "stop"]
SLOTS = ("morning", "noon", "evening", "bedtime")
_SLOT_OF_WHEN = {
    "MORN": "morning", "WAKE": "morning", "ACM": "morning", "CM": "morning", "PCM": "morning",
    "NOON": "noon", "ACD": "noon", "CD": "noon", "PCD": "noon",
    "EVE": "evening", "ACV": "evening", "CV": "evening", "PCV": "evening",
    "HS": "bedtime", "NIGHT": "bedtime",
}
_TAKE = frozenset({"new", "renewed", "changed"})


@dataclass(frozen=True)
class PlanItem:
    """One approved line and where it goes in the plan; ``slots`` are its table columns (empty: said as text)."""

    line_id: str
    line: MedicationLine
    section: Section
    slots: tuple[str, ...] = ()


@dataclass(frozen=True)
class Plan:
    lang: str
    date: date | None
    items: tuple[PlanItem, ...]

    def section(self, name: Section) -> list[PlanItem]:
        return [i for i in self.items if i.section == name]

    @property
    def is_empty(self) -> bool:
        return not self.items


# --------------------------------------------------------------------------- words
# The plan's words in one language (``slots``: the table's column heads by slot). The functional form because
# ``for`` is a keyword.
_Words = TypedDict(
    "_Words",
    {
        "title": str, "of": str, "regular": str, "other": str, "as_needed": str, "stop": str, "drug": str,
        "duration": str, "slots": dict[str, str], "empty": str, "footer": str, "stop_line": str,
        "if_needed": str, "max_day": str, "max_intake": str, "interval": str, "up_to": str, "for": str,
        "check": str, "range": str, "single": str,
    },
)
_T: dict[str, _Words] = {
    "fr": {
        "title": "Vos médicaments",
        "of": "Consultation du {date}",
        "regular": "À prendre",
        "other": "Autres prises",
        "as_needed": "Si besoin",
        "stop": "À arrêter",
        "drug": "Médicament",
        "duration": "Durée",
        "slots": {"morning": "Matin", "noon": "Midi", "evening": "Soir", "bedtime": "Coucher"},
        "empty": "Aucun médicament validé pour cette consultation.",
        "footer": "Plan établi à partir de l'ordonnance validée par votre médecin. En cas de doute, demandez à "
        "votre médecin ou à votre pharmacien.",
        "stop_line": "ne plus prendre",
        "if_needed": "si besoin",
        "single": "en une seule prise",
        "max_day": "au maximum {q} par jour",
        "max_intake": "au maximum {q} par prise",
        "interval": "au moins {d} entre deux prises",
        "up_to": "jusqu'à {f}",
        "for": "pendant {d}",
        "check": "✓",
        "range": "{a} à {b}",
    },
    "en": {
        "title": "Your medicines",
        "of": "Consultation of {date}",
        "regular": "To take",
        "other": "Other times",
        "as_needed": "If needed",
        "stop": "To stop",
        "drug": "Medicine",
        "duration": "How long",
        "slots": {"morning": "Morning", "noon": "Noon", "evening": "Evening", "bedtime": "Bedtime"},
        "empty": "No approved medicine for this consultation.",
        "footer": "Plan made from the prescription approved by your doctor. If in doubt, ask your doctor or "
        "pharmacist.",
        "stop_line": "stop taking",
        "if_needed": "if needed",
        "single": "as a single dose",
        "max_day": "no more than {q} a day",
        "max_intake": "no more than {q} at a time",
        "interval": "at least {d} between doses",
        "up_to": "up to {f}",
        "for": "for {d}",
        "check": "✓",
        "range": "{a} to {b}",
    },
}
_MONTHS = {
    "fr": ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
           "novembre", "décembre"],
    "en": ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"],
}
# unit -> (French singular, French plural, English singular, English plural)
_UNITS: dict[str, tuple[str, str, str, str]] = {
    "comprimé": ("comprimé", "comprimés", "tablet", "tablets"),
    "tablet": ("comprimé", "comprimés", "tablet", "tablets"),
    "gélule": ("gélule", "gélules", "capsule", "capsules"),
    "capsule": ("gélule", "gélules", "capsule", "capsules"),
    "sachet": ("sachet", "sachets", "sachet", "sachets"),
    "bouffée": ("bouffée", "bouffées", "puff", "puffs"),
    "puff": ("bouffée", "bouffées", "puff", "puffs"),
    "pulvérisation": ("pulvérisation", "pulvérisations", "spray", "sprays"),
    "spray": ("pulvérisation", "pulvérisations", "spray", "sprays"),
    "[drp]": ("goutte", "gouttes", "drop", "drops"),
    "cuillère à café": ("cuillère à café", "cuillères à café", "teaspoon", "teaspoons"),
    "cuillère à soupe": ("cuillère à soupe", "cuillères à soupe", "tablespoon", "tablespoons"),
    "cuillère": ("cuillère", "cuillères", "spoon", "spoons"),
    "ampoule": ("ampoule", "ampoules", "ampoule", "ampoules"),
    "suppositoire": ("suppositoire", "suppositoires", "suppository", "suppositories"),
    "patch": ("patch", "patchs", "patch", "patches"),
    "inhalation": ("inhalation", "inhalations", "inhalation", "inhalations"),
    "injection": ("injection", "injections", "injection", "injections"),
    "application": ("application", "applications", "application", "applications"),
    "pastille": ("pastille", "pastilles", "lozenge", "lozenges"),
    "lyophilisat": ("lyophilisat", "lyophilisats", "oral lyophilisate", "oral lyophilisates"),
    "dose": ("dose", "doses", "dose", "doses"),
    "ug": ("µg", "µg", "µg", "µg"),
    "[iU]": ("UI", "UI", "IU", "IU"),
}
# duration/period unit -> (French singular, French plural, English singular, English plural)
_TIME = {
    "h": ("heure", "heures", "hour", "hours"),
    "d": ("jour", "jours", "day", "days"),
    "wk": ("semaine", "semaines", "week", "weeks"),
    "mo": ("mois", "mois", "month", "months"),
}
_PERIOD_FR = {"h": "heure", "d": "jour", "wk": "semaine", "mo": "mois"}
_PERIOD_EN = {"h": "an hour", "d": "a day", "wk": "a week", "mo": "a month"}
_MEALS = {
    "C": ("pendant le repas", "with food"),
    "AC": ("avant le repas", "before meals"),
    "PC": ("après le repas", "after meals"),
    "ACM": ("à jeun, avant le petit-déjeuner", "before breakfast"),
    "WAKE": ("au réveil", "on waking"),
}
_FRACTIONS = {0.25: "¼", 0.5: "½", 0.75: "¾"}


def _lang(lang: str | None) -> str:
    return "en" if (lang or "fr").lower().startswith("en") else "fr"


def format_date(d: date | datetime, lang: str = "fr") -> str:
    """``12 mars 2024`` / ``1er mars 2024`` (fr), ``12 March 2024`` (en)."""
    lang = _lang(lang)
    month = _MONTHS[lang][d.month - 1]
    day = "1er" if lang == "fr" and d.day == 1 else str(d.day)
    return f"{day} {month} {d.year}"


def format_amount(value: float, lang: str = "fr") -> str:
    """``0.5`` -> ``½``, ``1.5`` -> ``1 ½``, ``2.5`` -> ``2,5`` is never needed for halves; other decimals in
    the language's style (``0,2`` / ``0.2``)."""
    whole = int(value)
    frac = round(value - whole, 4)
    if frac == 0:
        return str(whole)
    if frac in _FRACTIONS:
        return _FRACTIONS[frac] if whole == 0 else f"{whole} {_FRACTIONS[frac]}"
    text = f"{round(value, 3):g}"
    return text.replace(".", ",") if _lang(lang) == "fr" else text


def _plural(value: float, lang: str) -> bool:
    return value >= 2 if lang == "fr" else value != 1


def unit_word(unit: str, value: float, lang: str = "fr") -> str:
    lang = _lang(lang)
    words = _UNITS.get(unit)
    if words is None:
        return unit
    plural = _plural(value, lang)
    return words[(0 if lang == "fr" else 2) + (1 if plural else 0)]


def format_quantity(q: Quantity, lang: str = "fr") -> str:
    """``1 comprimé``, ``2 comprimés``, ``½ comprimé``, ``1 à 2 bouffées``, ``1 g``, ``10 drops``."""
    lang = _lang(lang)
    top = q.value_high if q.value_high is not None else q.value
    number = format_amount(q.value, lang)
    if q.value_high is not None:
        number = _T[lang]["range"].format(a=number, b=format_amount(q.value_high, lang))
    return f"{number} {unit_word(q.unit, top, lang)}"


def format_time(d: Duration, lang: str = "fr") -> str:
    """``7 jours``, ``5 à 7 jours``, ``1 mois`` / ``for``-less English ``7 days``."""
    lang = _lang(lang)
    top = d.value_high if d.value_high is not None else d.value
    words = _TIME[d.unit]
    word = words[(0 if lang == "fr" else 2) + (1 if _plural(top, lang) else 0)]
    number = format_amount(d.value, lang)
    if d.value_high is not None:
        number = _T[lang]["range"].format(a=number, b=format_amount(d.value_high, lang))
    return f"{number} {word}"


def format_frequency(f: Frequency, lang: str = "fr") -> str:
    """``3 fois par jour``, ``toutes les 6 heures``, ``1 fois par semaine``, ``tous les 2 jours`` /
    ``3 times a day``, ``every 6 hours``, ``once a week``, ``every 2 days``."""
    lang = _lang(lang)
    if lang == "fr":
        count = f"{f.count} à {f.count_max}" if f.count_max else str(f.count)
        if f.period == 1:
            return f"{count} fois par {_PERIOD_FR[f.period_unit]}"
        period = format_time(Duration(value=f.period, unit=f.period_unit), "fr")
        every = "toutes les" if f.period_unit in ("h", "wk") else "tous les"
        if f.count == 1 and not f.count_max:
            return f"{every} {period}"
        return f"{count} fois {every} {period}"
    names = {1: "once", 2: "twice"}
    count = f"{f.count} to {f.count_max} times" if f.count_max else names.get(f.count, f"{f.count} times")
    if f.period == 1:
        return f"{count} {_PERIOD_EN[f.period_unit]}"
    period = format_time(Duration(value=f.period, unit=f.period_unit), "en")
    if f.count == 1 and not f.count_max:
        return f"every {period}"
    return f"{count} every {period}"


def format_strength(q: Quantity, lang: str = "fr") -> str:
    number = format_amount(q.value, lang) if q.value < 1 else f"{round(q.value, 3):g}"
    if _lang(lang) == "fr":
        number = number.replace(".", ",")
    unit = unit_word(q.unit, q.value, lang) if q.unit in ("ug", "[iU]") else q.unit
    return f"{number} {unit}"


def what(line: MedicationLine, lang: str = "fr") -> str:
    """The drug as said, with its strength: ``Doliprane 1000 mg``."""
    name = (line.drug_text.strip() or line.name).strip()
    name = name[:1].upper() + name[1:]
    if line.strength is not None and not any(c.isdigit() for c in name):
        name = f"{name} {format_strength(line.strength, lang)}"
    return name


def how_much(line: MedicationLine, lang: str = "fr") -> str | None:
    return format_quantity(line.dose, lang) if line.dose is not None else None


def slots_of(line: MedicationLine) -> tuple[str, ...]:
    """Table columns of a line: its times of day when they are the whole schedule, else ``()``."""
    if line.single_dose:  # once, not every day: not a row of the daily table
        return ()
    other = [w for w in line.when if w not in _SLOT_OF_WHEN and w not in _MEALS]
    slots = tuple(s for s in SLOTS if any(_SLOT_OF_WHEN.get(w) == s for w in line.when))
    if not slots or other:
        return ()
    f = line.frequency
    if f is not None and not (f.period == 1 and f.period_unit == "d" and f.count == len(slots) and not f.count_max):
        return ()
    return slots


def notes(line: MedicationLine, lang: str = "fr") -> list[str]:
    """Meal and limits remarks: "pendant le repas", "au moins 6 heures entre deux prises"."""
    lang = _lang(lang)
    t = _T[lang]
    out: list[str] = [t["single"]] if line.single_dose else []
    for code in line.when:
        if code in _MEALS:
            out.append(_MEALS[code][0 if lang == "fr" else 1])
    if line.min_interval is not None:
        out.append(t["interval"].format(d=format_time(line.min_interval, lang)))
    if line.max_per_intake is not None:
        out.append(t["max_intake"].format(q=format_quantity(line.max_per_intake, lang)))
    if line.max_per_day is not None:
        out.append(t["max_day"].format(q=format_quantity(line.max_per_day, lang)))
    return out


_PHRASES = {
    "morning": ("le matin", "in the morning"),
    "noon": ("à midi", "at noon"),
    "afternoon": ("l'après-midi", "in the afternoon"),
    "evening": ("le soir", "in the evening"),
    "bedtime": ("au coucher", "at bedtime"),
}


def when_text(line: MedicationLine, lang: str = "fr") -> str | None:
    """The schedule as words, for a line outside the table: "3 fois par jour", "le matin et le soir"."""
    lang = _lang(lang)
    parts: list[str] = []
    if line.frequency is not None:
        freq = format_frequency(line.frequency, lang)
        parts.append(_T[lang]["up_to"].format(f=freq) if line.as_needed else freq)
    codes = {_SLOT_OF_WHEN.get(w, "afternoon" if w == "AFT" else "") for w in line.when} - {""}
    times = [_PHRASES[s][0 if lang == "fr" else 1] for s in _PHRASES if s in codes]
    if times:
        parts.append((" et " if lang == "fr" else " and ").join(times))
    return ", ".join(parts) or None


def describe(line: MedicationLine, lang: str = "fr") -> str:
    """One line of plain words: ``1 comprimé, 3 fois par jour, pendant 7 jours``."""
    lang = _lang(lang)
    t = _T[lang]
    parts: list[str] = []
    amount = how_much(line, lang)
    if amount:
        parts.append(amount)
    if line.as_needed:
        cond = (line.as_needed_condition or "").strip()
        parts.append(f"{t['if_needed']} ({cond})" if cond else t["if_needed"])
    wt = when_text(line, lang)
    if wt:
        parts.append(wt)
    parts.extend(notes(line, lang))
    if line.duration is not None:
        parts.append(t["for"].format(d=format_time(line.duration, lang)))
    return ", ".join(parts)


# --------------------------------------------------------------------------- the plan
def patient_plan(
    report: ConsultationReport,
    decisions: Iterable[ReviewDecision] | Mapping[str, ReviewDecision] | None,
    lang: str | None = None,
) -> Plan:
    """The plan of the approved lines, in ``lang`` (default: the consultation's language, French otherwise)."""
    lang = _lang(lang or report.language)
    items: list[PlanItem] = []
    for line in effective_lines(report, decisions, approved_only=True):
        if line.status == "stopped":
            items.append(PlanItem(line.id, line, "stop"))
        elif line.status in _TAKE:
            if line.as_needed:
                items.append(PlanItem(line.id, line, "as_needed"))
            else:
                items.append(PlanItem(line.id, line, "regular", slots_of(line)))
    day = report.created_at.date() if report.created_at is not None else None
    return Plan(lang=lang, date=day, items=tuple(items))


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def plan_markdown(plan: Plan, lang: str | None = None) -> str:
    """The plan as Markdown: a table of the times of day, then other intakes, as-needed and stopped drugs."""
    lang = _lang(lang or plan.lang)
    t = _T[lang]
    out = [f"# {t['title']}", ""]
    if plan.date is not None:
        out += [f"*{t['of'].format(date=format_date(plan.date, lang))}*", ""]
    if plan.is_empty:
        out += [t["empty"], ""]
    regular = plan.section("regular")
    table = [i for i in regular if i.slots]
    listed = [i for i in regular if not i.slots]
    if regular:
        out += [f"## {t['regular']}", ""]
    if table:
        head = [t["drug"], *(t["slots"][s] for s in SLOTS), t["duration"]]
        out.append("| " + " | ".join(head) + " |")
        out.append("|" + "|".join(["---"] + [":---:"] * len(SLOTS) + ["---"]) + "|")
        for item in table:
            line = item.line
            name = what(line, lang)
            extra = notes(line, lang)
            if extra:
                name += " — " + ", ".join(extra)
            cell = how_much(line, lang) or t["check"]
            cells = [cell if s in item.slots else "" for s in SLOTS]
            dur = format_time(line.duration, lang) if line.duration is not None else ""
            out.append("| " + " | ".join(_md_cell(c) for c in [name, *cells, dur]) + " |")
        out.append("")
    if listed:
        if table:
            out += [f"### {t['other']}", ""]
        sep = " : " if lang == "fr" else ": "
        for item in listed:
            desc = describe(item.line, lang)
            out.append(f"- **{what(item.line, lang)}**" + (f"{sep}{desc}" if desc else ""))
        out.append("")
    needed = plan.section("as_needed")
    if needed:
        out += [f"## {t['as_needed']}", ""]
        for item in needed:
            desc = describe(item.line, lang)
            sep = " : " if lang == "fr" else ": "
            out.append(f"- **{what(item.line, lang)}**{sep}{desc}")
        out.append("")
    stop = plan.section("stop")
    if stop:
        out += [f"## {t['stop']}", ""]
        sep = " : " if lang == "fr" else ": "
        out += [f"- **{what(item.line, lang)}**{sep}{t['stop_line']}" for item in stop]
        out.append("")
    out += ["---", "", t["footer"], ""]
    return "\n".join(out)


_CSS = """
body { font-family: "DejaVu Sans", Arial, Helvetica, sans-serif; font-size: 13pt; color: #000; margin: 2em auto;
       padding: 0 1.5em; max-width: 60em; line-height: 1.35; }
h1 { font-size: 1.6em; margin: 0 0 .2em; }
h2 { font-size: 1.25em; margin: 1.2em 0 .4em; border-bottom: 2px solid #000; }
.date { font-style: italic; margin: 0 0 1em; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid #333; padding: .45em .5em; text-align: left; vertical-align: top; }
thead th { background: #e8e8e8; }
tbody th { font-weight: normal; }
td.slot, th.slot { text-align: center; width: 11%; font-weight: bold; }
td.text { font-style: italic; }
td.dur, th.dur { white-space: nowrap; width: 10%; }
.note { font-size: .9em; }
ul { padding-left: 1.2em; } li { margin: .3em 0; }
.stop li { text-decoration: none; }
footer { margin-top: 2em; font-size: .9em; border-top: 1px solid #666; padding-top: .5em; }
@page { size: A4; margin: 15mm; }
@media print {
  body { margin: 0; padding: 0; max-width: none; font-size: 12pt; }
  thead th { background: #e8e8e8 !important; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  tr, li { break-inside: avoid; page-break-inside: avoid; }
  h2 { break-after: avoid; page-break-after: avoid; }
}
"""


def plan_html(plan: Plan, lang: str | None = None) -> str:
    """The plan as a self-contained printable HTML page (inline CSS, A4 print styles, no script)."""
    lang = _lang(lang or plan.lang)
    t = _T[lang]
    e = html.escape
    title = t["title"]
    body: list[str] = [f"<h1>{e(title)}</h1>"]
    if plan.date is not None:
        body.append(f'<p class="date">{e(t["of"].format(date=format_date(plan.date, lang)))}</p>')
    if plan.is_empty:
        body.append(f"<p>{e(t['empty'])}</p>")
    regular = plan.section("regular")
    if regular:
        body.append(f"<h2>{e(t['regular'])}</h2>")
        head = "".join(f'<th class="slot" scope="col">{e(t["slots"][s])}</th>' for s in SLOTS)
        rows = [f'<table><thead><tr><th scope="col">{e(t["drug"])}</th>{head}'
                f'<th class="dur" scope="col">{e(t["duration"])}</th></tr></thead><tbody>']
        for item in regular:
            line = item.line
            extra = notes(line, lang) if item.slots else []
            name = f"<strong>{e(what(line, lang))}</strong>"
            if extra:
                name += f'<br><span class="note">{e(", ".join(extra))}</span>'
            dur = format_time(line.duration, lang) if line.duration is not None else ""
            if item.slots:
                cell = how_much(line, lang) or t["check"]
                cells = "".join(f'<td class="slot">{e(cell) if s in item.slots else ""}</td>' for s in SLOTS)
            else:
                desc = describe(line.model_copy(update={"duration": None}), lang)
                cells = f'<td class="text" colspan="{len(SLOTS)}">{e(desc)}</td>'
            rows.append(f'<tr><th scope="row">{name}</th>{cells}<td class="dur">{e(dur)}</td></tr>')
        rows.append("</tbody></table>")
        body.append("".join(rows))
    needed = plan.section("as_needed")
    if needed:
        body.append(f"<h2>{e(t['as_needed'])}</h2><ul>")
        sep = " : " if lang == "fr" else ": "
        for item in needed:
            body.append(f"<li><strong>{e(what(item.line, lang))}</strong>{sep}{e(describe(item.line, lang))}</li>")
        body.append("</ul>")
    stop = plan.section("stop")
    if stop:
        body.append(f'<h2>{e(t["stop"])}</h2><ul class="stop">')
        sep = " : " if lang == "fr" else ": "
        for item in stop:
            body.append(f"<li><strong>{e(what(item.line, lang))}</strong>{sep}{e(t['stop_line'])}</li>")
        body.append("</ul>")
    body.append(f"<footer>{e(t['footer'])}</footer>")
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}">\n<head>\n<meta charset="utf-8">\n'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">\n<title>{e(title)}</title>\n'
        f"<style>{_CSS}</style>\n</head>\n<body>\n" + "\n".join(body) + "\n</body>\n</html>\n"
    )


__all__ = [
    "Plan",
    "PlanItem",
    "describe",
    "format_date",
    "format_frequency",
    "format_quantity",
    "format_time",
    "patient_plan",
    "plan_html",
    "plan_markdown",
    "what",
]
