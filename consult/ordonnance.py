"""The ordonnance: the prescription of the approved lines, printable (HTML for A4, PDF through Chromium).

French consultations get a French ordonnance with the mentions a French prescription needs: the prescriber's
identity and RPPS (from a prescriber profile), the date, the patient's identity (fields to fill, or given), each
drug in DCI with the specialty when one was named, its strength and form, the posology in words, the duration or
the quantity (QSP) and the renewals; drugs to stop are listed apart. When the reviewer marked at least one
prescribed line as treating the patient's ALD (affection de longue durée, :attr:`ReviewDecision.ald`), the French
ordonnance takes the "bizone" layout: an upper zone for the ALD prescriptions (the exempting condition, 100 %
coverage), a separator, and a lower zone for the prescriptions unrelated to it (intercurrent illnesses); with no
ALD line it is the single list. English consultations get an English prescription layout, a single list where an
ALD line says so after the drug. Nothing is printable while a line is undecided (:class:`UndecidedLines`), and the
ordonnance lists exactly the lines the reviewed FHIR bundle carries as active MedicationRequests (the ALD ones
with the ALD ``category``).
"""

from __future__ import annotations

import html
import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from pydantic import BaseModel, Field

from consult.errors import ConsultError
from consult.extract.text import key_of
from consult.plan import describe, format_strength, format_time
from consult.review import decisions_by_line, effective_lines
from schemas.medication import MedicationLine
from schemas.report import ConsultationReport, ReviewDecision

__all__ = ["Ordonnance", "OrdonnanceItem", "Prescriber", "UndecidedLines", "build_ordonnance", "html_to_pdf",
           "ordonnance_html"]

_PRESCRIBED = frozenset({"new", "renewed", "changed"})


class Prescriber(BaseModel):
    """The prescriber profile (a JSON file: ``consult`` never guesses who prescribes)."""

    name: str = Field(description="Dr Prénom Nom")
    rpps: str | None = Field(default=None, description="RPPS number (11 digits)")
    specialty: str | None = None
    address: str | None = None
    phone: str | None = None

    @classmethod
    def load(cls, path: Path | str) -> Prescriber:
        try:
            return cls.model_validate(json.loads(Path(path).read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            raise ConsultError(f"{path}: not a prescriber profile (JSON with name, rpps...): {exc}") from exc


class UndecidedLines(ConsultError):
    """Some lines are neither approved nor rejected: the ordonnance is not printable yet."""

    def __init__(self, line_ids: list[str]) -> None:
        self.line_ids = line_ids
        super().__init__(f"decide every line before printing the ordonnance (still pending: {', '.join(line_ids)})")


@dataclass(frozen=True)
class OrdonnanceItem:
    line_id: str
    dci: str
    specialty: str | None
    strength: str | None
    form: str | None
    posology: str
    duration: str | None
    renewals: int | None
    ald: bool = False


@dataclass(frozen=True)
class Ordonnance:
    lang: str
    prescriber: Prescriber
    day: date
    patient: str | None
    items: list[OrdonnanceItem]
    stopped: list[str]


def _item(line: MedicationLine, lang: str, ald: bool) -> OrdonnanceItem:
    said = line.drug_text.strip()
    specialty = said if said and key_of(said) != key_of(line.name) else None
    if line.duration is not None:
        duration: str | None = format_time(line.duration, lang)
    elif line.quantity_for is not None:
        duration = ("QSP " if lang == "fr" else "supply for ") + format_time(line.quantity_for, lang)
    else:
        duration = None
    posology = describe(line.model_copy(update={"duration": None}), lang)
    return OrdonnanceItem(line.id, line.name, specialty,
                          format_strength(line.strength, lang) if line.strength is not None else None,
                          line.form, posology, duration, line.renewals, ald)


def build_ordonnance(report: ConsultationReport,
                     decisions: Iterable[ReviewDecision] | Mapping[str, ReviewDecision] | None,
                     prescriber: Prescriber, *, patient: str | None = None, day: date | None = None,
                     lang: str | None = None) -> Ordonnance:
    """The ordonnance of the approved lines; :class:`UndecidedLines` while any line is pending."""
    decs = decisions_by_line(decisions)
    pending = [m.id for m in report.medications if m.id not in decs or decs[m.id].decision == "pending"]
    pending += [i for i, d in decs.items() if d.decision == "pending" and i not in pending]
    if pending:
        raise UndecidedLines(pending)
    lang = "en" if (lang or report.language) == "en" else "fr"
    approved = effective_lines(report, decs, approved_only=True)
    # the ALD mark is the decision's: by the line id it names, and by its edited line's id
    ald_ids = {i for i, d in decs.items() if d.ald} | {d.line.id for d in decs.values() if d.ald and d.line}
    items = [_item(line, lang, line.id in ald_ids) for line in approved if line.status in _PRESCRIBED]
    stopped = [line.name for line in approved if line.status == "stopped"]
    return Ordonnance(lang, prescriber, day or report.created_at.date(), patient, items, stopped)


_T = {
    "fr": {"title": "Ordonnance", "rpps": "RPPS", "date": "Le", "patient": "Patient(e)", "fill": "……………………………",
           "born": "Né(e) le", "renew": "À renouveler {n} fois", "stop": "Traitements arrêtés", "sign": "Signature",
           "for": "Durée", "specialty": "spécialité",
           "ald_zone": "Prescriptions relatives au traitement de l'affection de longue durée reconnue (liste ou "
           "hors liste)", "ald_sub": "(AFFECTION EXONÉRANTE)",
           "other_zone": "Prescriptions SANS RAPPORT avec l'affection de longue durée",
           "other_sub": "(MALADIES INTERCURRENTES)", "ai": "Projet établi à partir de l'enregistrement de la "
           "consultation, relu et validé par le prescripteur."},
    "en": {"title": "Prescription", "rpps": "Prescriber number", "date": "Date", "patient": "Patient",
           "fill": "……………………………", "born": "Date of birth", "renew": "Repeats: {n}", "stop": "Stopped medicines",
           "sign": "Signature", "for": "Duration", "specialty": "brand", "ald": "long-term condition, ALD",
           "ai": "Drafted from the consultation recording, checked and approved by the prescriber."},
}


def ordonnance_html(o: Ordonnance) -> str:
    """Printable A4 HTML (self-contained, no script, no external resource)."""
    t = _T[o.lang]
    e = html.escape
    colon = " :" if o.lang == "fr" else ":"
    p = o.prescriber
    head = [f"<strong>{e(p.name)}</strong>"]
    head += [e(x) for x in (p.specialty, p.address, p.phone) if x]
    if p.rpps:
        head.append(f"{t['rpps']} : {e(p.rpps)}" if o.lang == "fr" else f"{t['rpps']}: {e(p.rpps)}")
    day = o.day.strftime("%d/%m/%Y") if o.lang == "fr" else o.day.isoformat()
    patient = e(o.patient) if o.patient else t["fill"]

    def entry(i: int, it: OrdonnanceItem) -> str:
        name = e(it.dci.upper() if o.lang == "fr" else it.dci)
        if it.specialty:
            name += f" ({t['specialty']} {e(it.specialty)})"
        detail = " ".join(e(x) for x in (it.strength, it.form) if x)
        mark = f" ({t['ald']})" if it.ald and o.lang == "en" else ""
        lines = [f"<div class='drug'>{i}. {name}{(' — ' + detail) if detail else ''}{mark}</div>",
                 f"<div class='sig'>{e(it.posology)}</div>"]
        if it.duration:
            lines.append(f"<div class='sig'>{t['for']}{colon} {e(it.duration)}</div>")
        if it.renewals:
            lines.append(f"<div class='sig'>{e(t['renew'].format(n=it.renewals))}</div>")
        return f"<li data-line='{e(it.line_id)}'>{''.join(lines)}</li>"

    if o.lang == "fr" and any(it.ald for it in o.items):
        # Ordonnance bizone: the ALD zone above the line, the rest below; one numbering down the page.
        upper = [it for it in o.items if it.ald]
        lower = [it for it in o.items if not it.ald]
        upper_rows = "".join(entry(i, it) for i, it in enumerate(upper, 1))
        lower_rows = "".join(entry(i, it) for i, it in enumerate(lower, len(upper) + 1))
        body = (f"<section class='zone' data-zone='ald'><h2>{t['ald_zone']}<br>{t['ald_sub']}</h2>"
                f"<ol>{upper_rows}</ol></section><hr class='bizone'>"
                f"<section class='zone' data-zone='other'><h2>{t['other_zone']}<br>{t['other_sub']}</h2>"
                f"<ol>{lower_rows}</ol></section>")
    else:
        body = f"<ol>{''.join(entry(i, it) for i, it in enumerate(o.items, 1))}</ol>"
    stopped = (f"<h2>{t['stop']}</h2><ul>" + "".join(f"<li>{e(s)}</li>" for s in o.stopped) + "</ul>"
               if o.stopped else "")
    return f"""<!DOCTYPE html>
<html lang="{o.lang}"><head><meta charset="utf-8"><title>{t['title']}</title>
<style>@page {{ size: A4; margin: 18mm; }} body {{ font-family: serif; font-size: 12pt; }}
.prescriber {{ float: left; }} .date {{ float: right; }} .patient {{ clear: both; padding-top: 1em; }}
ol {{ list-style: none; padding: 0; }} li {{ margin: .8em 0; }} .drug {{ font-weight: bold; }}
.sig {{ margin-left: 1.5em; }} .foot {{ margin-top: 3em; font-size: 9pt; color: #444; }}
.signature {{ margin-top: 2em; text-align: right; }} .zone h2 {{ font-size: 11pt; text-align: center; }}
hr.bizone {{ border: 0; border-top: 2px solid #000; margin: 1.5em 0; }}</style></head>
<body><div class="prescriber">{'<br>'.join(head)}</div><div class="date">{t['date']} {day}</div>
<div class="patient">{t['patient']}{colon} {patient}<br>{t['born']}{colon} {t['fill']}</div>
<h1>{t['title']}</h1>{body}{stopped}
<div class="signature">{t['sign']}</div><div class="foot">{t['ai']}</div></body></html>
"""


def html_to_pdf(html_text: str, pdf_path: Path | str, *, chromium: str | None = None) -> Path:
    """Print ``html_text`` to a PDF with a headless Chromium (Debian ``chromium``; nothing is fetched)."""
    exe = chromium or shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if exe is None:
        raise ConsultError("printing to PDF needs Chromium (apt-get install chromium); the HTML prints from any "
                           "browser (Ctrl+P)")
    out = Path(pdf_path)
    with tempfile.TemporaryDirectory(prefix="consult-print-") as tmp:
        page = Path(tmp) / "ordonnance.html"
        page.write_text(html_text, encoding="utf-8")
        r = subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
                            f"--user-data-dir={tmp}/profile", f"--print-to-pdf={out}", page.as_uri()],
                           capture_output=True, text=True, timeout=120)
    if r.returncode != 0 or not out.is_file() or out.read_bytes()[:4] != b"%PDF":
        raise ConsultError(f"Chromium could not print the ordonnance ({r.stderr.strip()[-300:]})")
    return out
