"""Medication extraction by an OpenAI-compatible chat-completions endpoint (Albert API, vLLM, llama.cpp...).

The model reads the transcript as numbered segments and answers JSON: each medication with the segment
that names it and the exact words it relied on, field by field. Its answer is only a proposal: a medication
is kept when its name is in the cited segment, a field when its quote is in the transcript and every number of
its value is said in that quote. Names are normalised through the drug lexicon; evidence, confidence and
review flags follow the rule-based extractor. Nothing is sent unless the user set ``llm_url``.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, get_args
from urllib.parse import urlsplit

from pydantic import ValidationError
from rapidfuzz import fuzz

from consult.backends import package_version
from consult.config import ExtractionOptions
from consult.errors import ModelLoadError, StageError
from consult.extract.calibration import LineSupport
from consult.extract.core import EvidenceIndex, Field, build_line
from consult.extract.lexicon import DrugEntry, DrugLexicon, DrugMatch
from consult.extract.numbers import find_numbers
from consult.extract.posology import form_of, parse_posology, route_of, unit_of
from consult.extract.status import classify_status
from consult.extract.text import fold, key_of, split_sentences
from consult.security import is_loopback
from schemas import MedicationLine, ModelInfo, Segment
from schemas.medication import (
    Duration,
    DurationUnit,
    Evidence,
    Frequency,
    MedicationStatus,
    PeriodUnit,
    Quantity,
    WhenCode,
)
from schemas.report import Role

logger = logging.getLogger(__name__)

STAGE = "extraction"
EXTRACTOR_NAME = "consult-openai-compatible"
GROUNDING_VERSION = "1.0"

DRUG_MIN_SCORE = 85.0
"""rapidfuzz partial ratio (accent-free) for the drug name in its cited segment."""
QUOTE_MIN_SCORE = 90.0
"""rapidfuzz partial ratio for a field quote in a segment (numbers are then checked on the transcript span)."""
_EXACT_ONLY_LEN = 4
_REASON_VALUE_LEN = 30

STATUSES: tuple[str, ...] = get_args(MedicationStatus)
WHEN_CODES: tuple[str, ...] = get_args(WhenCode)
DURATION_UNITS: tuple[str, ...] = get_args(DurationUnit)
PERIOD_UNITS: tuple[str, ...] = get_args(PeriodUnit)
ROUTES: tuple[str, ...] = (
    "oral", "inhalation", "cutaneous", "transdermal", "ophthalmic", "nasal", "otic", "rectal", "vaginal",
    "sublingual", "intramuscular", "intravenous", "subcutaneous",
)

QUANTITY_FIELDS = ("strength", "dose", "max_per_day", "max_per_intake")
DURATION_FIELDS = ("duration", "min_interval", "quantity_for")
FIELDS = (
    "strength", "dose", "form", "route", "frequency", "when", "duration", "as_needed",
    "max_per_day", "max_per_intake", "min_interval", "quantity_for", "renewals",
)
"""Fields read from the model's answer (``status`` is handled apart)."""

_TIME_UNITS = {
    "h": "h", "hour": "h", "hours": "h", "heure": "h", "heures": "h",
    "d": "d", "day": "d", "days": "d", "jour": "d", "jours": "d", "j": "d",
    "wk": "wk", "week": "wk", "weeks": "wk", "semaine": "wk", "semaines": "wk",
    "mo": "mo", "month": "mo", "months": "mo", "mois": "mo",
}
_UCUM_UNITS = {"mg", "g", "ug", "mL", "[iU]", "%", "[drp]"}
_ROLE_TAG = {"doctor": "DOCTOR", "patient": "PATIENT", "unknown": "SPEAKER"}


# --------------------------------------------------------------------------- prompt and output schema
def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def _obj(props: dict[str, Any]) -> dict[str, Any]:
    props = {**props, "quote": {"type": ["string", "null"]}, "segment": {"type": ["integer", "null"]}}
    return _nullable({"type": "object", "properties": props, "required": list(props), "additionalProperties": False})


def output_schema() -> dict[str, Any]:
    """JSON Schema of the answer asked from the model (``response_format`` json_schema)."""
    quantity = _obj(
        {"value": {"type": "number"}, "value_high": {"type": ["number", "null"]}, "unit": {"type": "string"}}
    )
    duration = _obj(
        {
            "value": {"type": "number"},
            "value_high": {"type": ["number", "null"]},
            "unit": {"type": "string", "enum": list(DURATION_UNITS)},
        }
    )
    med: dict[str, Any] = {
        "drug": {"type": "string"},
        "segment": {"type": "integer"},
        "quote": {"type": "string"},
        "strength": quantity,
        "dose": quantity,
        "form": _obj({"value": {"type": "string"}}),
        "route": _obj({"value": {"type": "string", "enum": list(ROUTES)}}),
        "frequency": _obj(
            {
                "count": {"type": "integer"},
                "count_max": {"type": ["integer", "null"]},
                "period": {"type": "number"},
                "period_unit": {"type": "string", "enum": list(PERIOD_UNITS)},
            }
        ),
        "when": _obj({"value": {"type": "array", "items": {"type": "string", "enum": list(WHEN_CODES)}}}),
        "duration": duration,
        "as_needed": _obj({"value": {"type": "boolean"}, "condition": {"type": ["string", "null"]}}),
        "max_per_day": quantity,
        "max_per_intake": quantity,
        "min_interval": duration,
        "quantity_for": duration,
        "renewals": _obj({"value": {"type": "integer"}}),
        "status": _obj({"value": {"type": "string", "enum": list(STATUSES)}}),
    }
    item = {"type": "object", "properties": med, "required": list(med), "additionalProperties": False}
    return {
        "type": "object",
        "properties": {"medications": {"type": "array", "items": item}},
        "required": ["medications"],
        "additionalProperties": False,
    }


_EXAMPLE = {
    "medications": [
        {
            "drug": "amoxicilline",
            "segment": 4,
            "quote": "amoxicilline 500 mg, deux gélules matin et soir pendant six jours",
            "strength": {"value": 500, "value_high": None, "unit": "mg", "quote": "amoxicilline 500 mg",
                         "segment": 4},
            "dose": {"value": 2, "value_high": None, "unit": "gélule", "quote": "deux gélules", "segment": 4},
            "form": {"value": "gélule", "quote": "gélules", "segment": 4},
            "route": None,
            "frequency": {"count": 2, "count_max": None, "period": 1, "period_unit": "d",
                          "quote": "matin et soir", "segment": 4},
            "when": {"value": ["MORN", "EVE"], "quote": "matin et soir", "segment": 4},
            "duration": {"value": 6, "value_high": None, "unit": "d", "quote": "pendant six jours", "segment": 4},
            "as_needed": None,
            "max_per_day": None,
            "max_per_intake": None,
            "min_interval": None,
            "quantity_for": None,
            "renewals": None,
            "status": {"value": "new", "quote": "je vous prescris", "segment": 4},
        }
    ]
}

_PROMPT_FR = """Tu extrais les médicaments d'une transcription de consultation médicale pour préparer un brouillon \
d'ordonnance qu'un médecin vérifiera.
La transcription est une liste de segments numérotés « [id] RÔLE: texte » ; RÔLE vaut DOCTOR (médecin), PATIENT ou \
SPEAKER (inconnu). Le texte vient d'une reconnaissance vocale : il peut contenir des fautes.

Liste chaque médicament nommé (nom commercial ou substance) : prescrit, renouvelé, modifié, arrêté ou seulement \
évoqué. Une entrée par médicament. Les classes (« un antibiotique ») ne comptent pas.

Règles :
- N'invente rien. Un champ qui n'a pas été dit vaut null. Ne convertis pas les unités (1 g reste 1 g).
- "drug" : le nom du médicament recopié tel qu'il est écrit dans la transcription. "segment" : l'id du segment où ce \
nom est écrit. "quote" : les mots exacts de ce segment sur lesquels tu t'appuies (le nom et sa posologie).
- Chaque champ vaut null ou un objet avec sa valeur, "quote" (les mots exacts, recopiés d'un seul segment, qui le \
disent, nombres compris tels qu'ils sont écrits) et "segment" (l'id de ce segment).
- strength : dosage du produit (500 mg, « Doliprane 1000 » → 1000 mg). dose : quantité par prise (unit : mg, g, mL, \
comprimé, gélule, sachet, bouffée, goutte, cuillère à café...). « un demi » = 0.5 ; « un à deux » = value 1, \
value_high 2.
- form : forme galénique dite. route : oral, inhalation, cutaneous, transdermal, ophthalmic, nasal, otic, rectal, \
vaginal, sublingual, intramuscular, intravenous, subcutaneous (dite ou impliquée par la forme dite).
- frequency : count prises toutes les period period_unit (h, d, wk, mo). « trois fois par jour » = 3, 1, d ; \
« toutes les six heures » = 1, 6, h ; « matin et soir » = 2, 1, d.
- when : codes MORN, NOON, AFT, EVE, NIGHT, HS (coucher), WAKE (réveil), C (pendant le repas), AC (avant le repas, à \
jeun), PC (après le repas), ACM (avant le petit-déjeuner).
- duration (durée du traitement), min_interval (intervalle minimal entre deux prises), quantity_for (QSP) : value, \
unit (h, d, wk, mo).
- as_needed : value true et la condition (« douleur ») pour « si besoin », « en cas de ».
- max_per_day, max_per_intake : quantités maximales par jour, par prise. renewals : nombre de renouvellements.
- status : new (prescrit maintenant), renewed (poursuivi ou renouvelé par le médecin), changed (dose ou posologie \
modifiée), stopped (arrêté par le médecin), mentioned (seulement évoqué : le patient dit le prendre, une question, \
une allergie, un traitement écarté).

Réponds uniquement par un objet JSON de la forme {"medications": [...]}, sans texte autour. Exemple d'une entrée :
"""

_PROMPT_EN = """You extract the medications of a medical consultation transcript to prepare a prescription draft \
that a doctor will check.
The transcript is a list of numbered segments "[id] ROLE: text"; ROLE is DOCTOR, PATIENT or SPEAKER (unknown). The \
text comes from speech recognition: it may contain errors.

List every medication named (brand or substance): prescribed, renewed, changed, stopped or only mentioned. One entry \
per medication. Drug classes ("an antibiotic") do not count.

Rules:
- Invent nothing. A field that was not said is null. Do not convert units (1 g stays 1 g).
- "drug": the medication name copied as written in the transcript. "segment": the id of the segment where that name \
is written. "quote": the exact words of that segment you relied on (the name and its posology).
- Each field is null or an object with its value, "quote" (the exact words, copied from one segment, that state it, \
numbers included as written) and "segment" (that segment's id).
- strength: the product's strength (500 mg). dose: amount per intake (unit: mg, g, mL, tablet, capsule, sachet, puff, \
drop, teaspoon...). "half" = 0.5; "one to two" = value 1, value_high 2.
- form: the dose form said. route: oral, inhalation, cutaneous, transdermal, ophthalmic, nasal, otic, rectal, vaginal, \
sublingual, intramuscular, intravenous, subcutaneous (said, or implied by the form said).
- frequency: count intakes every period period_unit (h, d, wk, mo). "three times a day" = 3, 1, d; "every six hours" = \
1, 6, h; "morning and evening" = 2, 1, d.
- when: codes MORN, NOON, AFT, EVE, NIGHT, HS (bedtime), WAKE, C (with meals), AC (before meals, empty stomach), PC \
(after meals), ACM (before breakfast).
- duration (treatment length), min_interval (minimum time between two intakes), quantity_for (supply): value, unit \
(h, d, wk, mo).
- as_needed: value true and the condition ("pain") for "as needed", "if".
- max_per_day, max_per_intake: maximum amounts per day, per intake. renewals: number of renewals (refills).
- status: new (prescribed now), renewed (continued or renewed by the doctor), changed (dose or posology modified), \
stopped (stopped by the doctor), mentioned (only talked about: the patient says they take it, a question, an allergy, \
a treatment ruled out).

Answer with a JSON object {"medications": [...]} only, no text around it. Example of one entry:
"""


def system_prompt(language: str) -> str:
    """Instructions and the output JSON, in French for ``fr*`` and in English otherwise."""
    base = _PROMPT_FR if language.lower().startswith("fr") else _PROMPT_EN
    return base + json.dumps(_EXAMPLE["medications"][0], ensure_ascii=False)


def _role_of(seg: Segment, roles: Mapping[str, Role]) -> Role:
    return roles.get(seg.speaker, "unknown") if seg.speaker is not None else "unknown"


def format_transcript(segments: Sequence[Segment], roles: Mapping[str, Role]) -> str:
    """One line per segment: ``[id] ROLE: text``."""
    return "\n".join(
        f"[{s.id}] {_ROLE_TAG[_role_of(s, roles)]}: {' '.join(s.text.split())}" for s in segments if s.text.strip()
    )


# --------------------------------------------------------------------------- answer parsing
_THINK = re.compile(r"<think>.*?</think>", re.S)
_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.S)


def parse_answer(content: str) -> list[dict[str, Any]]:
    """The medication objects of the model's answer; :class:`StageError` when it is not the expected JSON."""
    text = _THINK.sub("", content).strip()
    fence = _FENCE.match(text)
    if fence:
        text = fence.group(1)
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        a, b = text.find("{"), text.rfind("}")
        try:
            data = json.loads(text[a : b + 1]) if 0 <= a < b else None
        except json.JSONDecodeError:
            data = None
        if data is None:
            raise StageError(STAGE, "the LLM endpoint's answer is not valid JSON") from None
    meds = data.get("medications") if isinstance(data, dict) else data
    if not isinstance(meds, list):
        raise StageError(STAGE, "the LLM endpoint's answer has no 'medications' list")
    return [m for m in meds if isinstance(m, dict)]


# --------------------------------------------------------------------------- grounding helpers
def _segment_ref(raw: object) -> int | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    if isinstance(raw, str):
        m = re.fullmatch(r"\s*\[?\s*(\d+)\s*\]?\s*", raw)
        return int(m.group(1)) if m else None
    return None


def _expand_to_words(text: str, a: int, b: int) -> tuple[int, int]:
    while a > 0 and a < len(text) and text[a - 1].isalnum() and text[a].isalnum():
        a -= 1
    while 0 < b < len(text) and text[b - 1].isalnum() and text[b].isalnum():
        b += 1
    while a < b and not text[a].isalnum():
        a += 1
    while b > a and not text[b - 1].isalnum():
        b -= 1
    return a, b


def find_quote(needle: str, hay: str, min_score: float) -> tuple[int, int, float] | None:
    """Span ``[a, b)`` of ``needle`` in ``hay`` (accent- and case-insensitive, then fuzzy) and its score 0-100."""
    n = " ".join(fold(needle).split()).strip(" \"'«»“”.,;:!?")
    h = fold(hay)
    if not n or len(n) > len(h):
        return None
    i = h.find(n)
    if i >= 0:
        a, b = _expand_to_words(h, i, i + len(n))
        return (a, b, 100.0) if b > a else None
    if len(n) < _EXACT_ONLY_LEN:
        return None
    res = fuzz.partial_ratio_alignment(n, h, score_cutoff=min_score)
    if res is None or res.score < min_score:
        return None
    a, b = _expand_to_words(h, res.dest_start, res.dest_end)
    return (a, b, float(res.score)) if b > a else None


def _same_value(a: object, b: object) -> bool:
    if isinstance(a, Quantity) and isinstance(b, Quantity):
        return a.value == b.value and a.value_high == b.value_high and a.unit == b.unit
    if isinstance(a, Duration) and isinstance(b, Duration):
        return a.value == b.value and a.value_high == b.value_high and a.unit == b.unit
    if isinstance(a, Frequency) and isinstance(b, Frequency):
        return (a.count, a.count_max, a.period, a.period_unit) == (b.count, b.count_max, b.period, b.period_unit)
    return a == b


def ground_value(name: str, value: object, text: str) -> tuple[object, float] | None:
    """``(value, certainty)`` when every number of ``value`` is said in ``text``, else None.

    Numbers are read on the folded text ("deux" is 2, "un demi" 0.5). The posology parser run on ``text``
    also vouches for a value equal to its own ("once a day", "un comprimé et demi"); when it reads the same
    numbers with another unit, or another form, route or time of day, its reading (the words said) replaces
    the proposed one. A frequency's count or
    period of 1 may be implicit ("toutes les six heures", "le soir") unless the parser reads another one.
    """
    parsed_slot = parse_posology(text).slots().get(name)
    parsed = parsed_slot.value if parsed_slot is not None else None
    if parsed_slot is not None and _same_value(parsed, value):
        return value, parsed_slot.certainty
    if name in ("form", "route", "when") and parsed_slot is not None:
        return parsed, parsed_slot.certainty  # words the parser reads as another value: its reading wins
    needed: list[float] = []
    if isinstance(value, (Quantity, Duration)):
        if parsed_slot is not None and type(parsed) is type(value):
            if (parsed.value, parsed.value_high) == (value.value, value.value_high):
                return parsed, parsed_slot.certainty  # same numbers, the unit as said
        needed = [value.value] + ([value.value_high] if value.value_high is not None else [])
    elif isinstance(value, Frequency):
        if isinstance(parsed, Frequency) and (
            (value.count == 1 and parsed.count != 1) or (value.period == 1 and parsed.period != 1)
        ):
            return None
        needed = [float(value.count)] if value.count != 1 else []
        needed += [float(value.count_max)] if value.count_max is not None else []
        needed += [value.period] if value.period != 1 else []
    elif isinstance(value, int) and not isinstance(value, bool):
        needed = [float(value)]
    said = [(v, n.certainty) for n in find_numbers(fold(text)) for v in (n.value, n.value_high) if v is not None]
    certainty = 1.0
    for x in needed:
        found = [c for v, c in said if abs(v - x) < 1e-9]
        if not found:
            return None
        certainty = min(certainty, max(found))
    return value, certainty


def _float(raw: object) -> float | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, (int, float)):
        return float(raw)
    if isinstance(raw, str):
        try:
            return float(raw.strip().replace(",", "."))
        except ValueError:
            return None
    return None


def _quantity(raw: dict[str, Any]) -> Quantity | None:
    value, high, unit = _float(raw.get("value")), _float(raw.get("value_high")), raw.get("unit")
    if value is None or value < 0 or not isinstance(unit, str) or not unit.strip():
        return None
    unit = unit.strip()
    if unit in _UCUM_UNITS:
        norm, ucum = unit, True
    else:
        norm, ucum = unit_of(fold(unit))
        if norm == fold(unit) and not ucum:
            norm = unit.lower()  # a form word unknown to the parser: keep it as written
    return Quantity(value=value, value_high=high if high is not None and high > value else None, unit=norm, ucum=ucum)


def _duration(raw: dict[str, Any]) -> Duration | None:
    value, high = _float(raw.get("value")), _float(raw.get("value_high"))
    unit = _TIME_UNITS.get(fold(str(raw.get("unit", ""))).strip())
    if value is None or value <= 0 or unit is None:
        return None
    return Duration(value=value, value_high=high if high is not None and high > value else None, unit=unit)


def _frequency(raw: dict[str, Any]) -> Frequency | None:
    count, cmax, period = _float(raw.get("count")), _float(raw.get("count_max")), _float(raw.get("period", 1))
    unit = _TIME_UNITS.get(fold(str(raw.get("period_unit", ""))).strip())
    if count is None or not count.is_integer() or count < 1 or period is None or period <= 0 or unit is None:
        return None
    count_max = int(cmax) if cmax is not None and cmax.is_integer() and cmax > count else None
    return Frequency(count=int(count), count_max=count_max, period=period, period_unit=unit)


def _form(raw: dict[str, Any]) -> str | None:
    value = raw.get("value")
    if not isinstance(value, str) or not value.strip():
        return None
    norm = form_of(fold(value).strip())
    return norm if norm is not None else value.strip().lower()


def _route(raw: dict[str, Any]) -> str | None:
    value = raw.get("value")
    if not isinstance(value, str):
        return None
    folded = fold(value).strip()
    norm = folded if folded in ROUTES else route_of(folded)
    return norm if norm in ROUTES else None


def _when(raw: dict[str, Any]) -> list[str] | None:
    value = raw.get("value")
    codes = [value] if isinstance(value, str) else value
    if not isinstance(codes, list):
        return None
    out = [c.strip().upper() for c in codes if isinstance(c, str) and c.strip().upper() in WHEN_CODES]
    return list(dict.fromkeys(out)) or None


def _renewals(raw: dict[str, Any]) -> int | None:
    value = _float(raw.get("value"))
    return int(value) if value is not None and value.is_integer() and value >= 0 else None


_MISSING = object()


def _field_value(name: str, raw: dict[str, Any]) -> object:
    """The schema value of field ``name`` from the model's object; None when malformed; _MISSING when empty."""
    if name == "as_needed":
        flag = raw.get("value", True)
        if flag is False or flag is None:
            return _MISSING
        cond = raw.get("condition")
        return cond.strip() if isinstance(cond, str) and cond.strip() else ""
    if all(raw.get(k) is None for k in ("value", "count")):
        return _MISSING
    try:
        if name in QUANTITY_FIELDS:
            return _quantity(raw)
        if name in DURATION_FIELDS:
            return _duration(raw)
        if name == "frequency":
            return _frequency(raw)
        return {"form": _form, "route": _route, "when": _when, "renewals": _renewals}[name](raw)
    except (ValidationError, TypeError, ValueError):
        return None


# --------------------------------------------------------------------------- grounded medications
@dataclass
class _Grounded:
    entry: DrugEntry | None
    name: str
    score: float
    seg_index: int
    evidence: Evidence
    status: MedicationStatus
    fields: dict[str, Field] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    spans: list[tuple[int, int, int]] = field(default_factory=list)
    """(seg_index, start, end) of the grounded quotes, for the verbatim ``sig``."""


class _Transcript:
    """Segments with their roles, word spans and lexicon matches (computed on demand)."""

    def __init__(self, segments: list[Segment], roles: Mapping[str, Role], lexicon: DrugLexicon) -> None:
        self.segs = segments
        self.roles = roles
        self.lexicon = lexicon
        self.index: dict[int, int] = {}
        for i, s in enumerate(segments):
            self.index.setdefault(s.id, i)
        self.evidence = EvidenceIndex(segments)
        """Evidence of a span of a segment: ``evidence(i, a, b)``."""
        self._matches: dict[int, list[DrugMatch]] = {}

    def role(self, i: int) -> Role:
        return _role_of(self.segs[i], self.roles)

    def matches(self, i: int) -> list[DrugMatch]:
        if i not in self._matches:
            self._matches[i] = self.lexicon.find(self.segs[i].text)
        return self._matches[i]

    def locate(self, quote: object, first: Sequence[int | None], around: int) -> tuple[int, int, int, float] | None:
        """Segment index and span of ``quote`` in the drug's own segment ``around`` or a neighbour (the segments
        of ``first`` tried first): a dose said for another drug, further away, must not attach to this one."""
        if not isinstance(quote, str) or not quote.strip():
            return None
        near = [i for i in (around, around - 1, around + 1) if 0 <= i < len(self.segs)]
        order = [i for i in dict.fromkeys(first) if i is not None and i in near]
        order += [i for i in near if i not in order]
        for i in order:
            found = find_quote(quote, self.segs[i].text, QUOTE_MIN_SCORE)
            if found is not None:
                return i, found[0], found[1], found[2]
        return None

    def sentence(self, i: int, pos: int) -> tuple[int, int]:
        for s in split_sentences(self.segs[i].text):
            if s.start <= pos < s.end:
                return s.start, s.end
        return 0, len(self.segs[i].text)


def _short(value: object) -> str:
    text = str(value)
    return text if len(text) <= _REASON_VALUE_LEN else text[: _REASON_VALUE_LEN - 1] + "…"


class OpenAICompatibleExtractor:
    """Medication extractor (:class:`consult.interfaces.MedicationExtractor`) backed by an OpenAI-compatible
    chat endpoint, its answer kept only where it is grounded in the transcript."""

    def __init__(
        self,
        url: str,
        model: str,
        *,
        api_key_env: str = "CONSULT_LLM_API_KEY",
        timeout: float = 120.0,
        review_threshold: float = 0.6,
        lexicon: DrugLexicon | None = None,
        pseudonymise: bool = False,
    ) -> None:
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ModelLoadError(
                "llm_url must be an http(s) URL such as http://127.0.0.1:8000/v1 "
                "(set CONSULT_EXTRACTION__LLM_URL or --llm-url)."
            )
        if parts.username or parts.password or parts.query:
            raise ModelLoadError(
                "llm_url must not carry credentials (user:password@ or ?key=): put the key in the environment "
                f"variable {api_key_env}; the URL is recorded in every report."
            )
        if parts.scheme == "http" and not is_loopback(parts.hostname):
            raise ModelLoadError(
                f"llm_url {parts.scheme}://{parts.hostname}: the transcript would cross the network unencrypted; "
                "use https (or an endpoint on this machine, http://127.0.0.1:PORT/v1)."
            )
        self.url = url.strip().rstrip("/")
        self.model = model
        self.api_key_env = api_key_env
        self.timeout = timeout
        self.review_threshold = review_threshold
        self.pseudonymise = pseudonymise
        self.lexicon = lexicon if lexicon is not None else DrugLexicon.load()
        self._json_schema = True
        """False once the endpoint refused ``response_format`` json_schema: json_object is asked instead."""

    @classmethod
    def from_options(cls, options: ExtractionOptions) -> OpenAICompatibleExtractor:
        """Build from :class:`ExtractionOptions`; ``llm_url`` and ``llm_model`` are required."""
        missing = [
            f"{name} (CONSULT_EXTRACTION__{name.upper()} or --{name.replace('_', '-')})"
            for name in ("llm_url", "llm_model")
            if not (getattr(options, name) or "").strip()
        ]
        if missing:
            raise ModelLoadError(
                "the llm extraction back-end needs " + " and ".join(missing) + ", e.g. llm_url="
                "http://127.0.0.1:8000/v1 for a local vLLM or llama.cpp server. The transcript is sent there."
            )
        _httpx()
        return cls(
            str(options.llm_url),
            str(options.llm_model).strip(),
            api_key_env=options.llm_api_key_env,
            timeout=options.llm_timeout,
            review_threshold=options.review_threshold,
            pseudonymise=options.llm_pseudonymise,
        )

    @property
    def host(self) -> str:
        parts = urlsplit(self.url)
        return f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)

    def model_info(self) -> list[ModelInfo]:
        return [
            ModelInfo(
                stage="extraction",
                name=f"{EXTRACTOR_NAME}:{self.model}",
                version=f"grounding{GROUNDING_VERSION}+lexicon{len(self.lexicon.entries)}"
                f"+httpx{package_version('httpx')}",
            )
        ]

    # ------------------------------------------------------------------ public
    def extract(
        self,
        segments: Sequence[Segment],
        *,
        roles: Mapping[str, Role],
        language: str,
        role_confidence: Mapping[str, float] | None = None,
    ) -> list[MedicationLine]:
        """``role_confidence`` is accepted for the interface; the model reads the roles as the transcript labels
        them and each item's status is grounded in its quoted words."""
        segs = list(segments)
        if not any(s.text.strip() for s in segs):
            return []
        transcript = format_transcript(segs, roles)
        mapping: dict[str, str] = {}
        if self.pseudonymise:
            from consult.pseudonymise import pseudonymise_text

            transcript, mapping = pseudonymise_text(transcript, language)
        messages = [
            {"role": "system", "content": system_prompt(language)},
            {"role": "user", "content": transcript},
        ]
        logger.info("asking the LLM endpoint at %s about %d segments", self.host, len(segs))
        answer = self._complete(messages)
        for placeholder, original in sorted(mapping.items(), key=lambda kv: -len(kv[0])):
            answer = answer.replace(placeholder, json.dumps(original, ensure_ascii=False)[1:-1])
        items = parse_answer(answer)
        tr = _Transcript(segs, roles, self.lexicon)
        grounded: list[_Grounded] = []
        dropped = 0
        for item in items:
            g = self._ground(item, tr, language)
            if g is None:
                dropped += 1
            else:
                grounded.append(g)
        lines = self._merge(grounded, tr, language)
        logger.info("LLM proposed %d medications: %d kept, %d not grounded", len(items), len(items) - dropped, dropped)
        return lines

    # ------------------------------------------------------------------ HTTP
    def _response_format(self, mode: str) -> dict[str, Any]:
        if mode == "json_schema":
            return {
                "type": "json_schema",
                "json_schema": {"name": "medications", "strict": True, "schema": output_schema()},
            }
        return {"type": "json_object"}

    def _complete(self, messages: list[dict[str, str]]) -> str:
        httpx = _httpx()
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        key = os.environ.get(self.api_key_env, "").strip()
        if key:
            headers["Authorization"] = f"Bearer {key}"
        modes = ["json_schema", "json_object"] if self._json_schema else ["json_object"]
        endpoint = f"{self.url}/chat/completions"
        try:
            with httpx.Client(timeout=self.timeout) as client:
                for mode in modes:
                    body = {
                        "model": self.model,
                        "messages": messages,
                        "temperature": 0,
                        "response_format": self._response_format(mode),
                    }
                    resp = client.post(endpoint, json=body, headers=headers)
                    if mode == "json_schema" and resp.status_code in (400, 422) and len(modes) > 1:
                        logger.info(
                            "LLM endpoint at %s refused json_schema output (HTTP %d): asking for json_object",
                            self.host, resp.status_code,
                        )
                        continue
                    if mode == "json_object" and resp.status_code < 400:
                        self._json_schema = False
                    break
        except httpx.TimeoutException as exc:
            raise StageError(
                STAGE, f"the LLM endpoint at {self.host} did not answer within {self.timeout:g} s "
                "(raise llm_timeout / CONSULT_EXTRACTION__LLM_TIMEOUT for slow models)"
            ) from exc
        except httpx.HTTPError as exc:
            raise StageError(
                STAGE, f"cannot reach the LLM endpoint at {self.host} ({type(exc).__name__}); check llm_url"
            ) from exc
        if resp.status_code >= 400:
            raise StageError(STAGE, _http_message(resp.status_code, self.host, self.api_key_env))
        try:
            data = resp.json()
        except ValueError as exc:
            raise StageError(STAGE, f"the LLM endpoint at {self.host} did not answer JSON") from exc
        try:
            choice = data["choices"][0]
            content = choice["message"]["content"]
        except (KeyError, IndexError, TypeError) as exc:
            raise StageError(
                STAGE, f"the LLM endpoint at {self.host} did not answer in the chat-completions shape"
            ) from exc
        if not isinstance(content, str):
            raise StageError(STAGE, f"the LLM endpoint at {self.host} answered no message content")
        if isinstance(choice, dict) and choice.get("finish_reason") == "length":
            logger.warning("the LLM answer was cut at its token limit; its JSON may be incomplete")
        return content

    # ------------------------------------------------------------------ grounding
    def _normalise(self, drug: str) -> DrugEntry | None:
        entry = self.lexicon.lookup_name(drug)
        if entry is not None:
            return entry
        found = self.lexicon.find(drug)
        return found[0].entry if found else None

    def _locate_drug(
        self, drug: str, i: int, tr: _Transcript
    ) -> tuple[DrugEntry | None, int, int, float] | None:
        """Entry, span and match score (0-1) of ``drug`` in segment ``i``, or None when it is not there."""
        target = self._normalise(drug)
        matches = tr.matches(i)
        if target is not None:
            for m in matches:
                if m.entry.name == target.name:
                    return m.entry, m.start, m.end, m.score
        found = find_quote(drug, tr.segs[i].text, DRUG_MIN_SCORE)
        if found is None:
            return None
        a, b, score = found
        for m in matches:
            if m.start < b and m.end > a:
                return m.entry, m.start, m.end, m.score
        return target, a, b, score / 100.0

    def _ground(self, item: dict[str, Any], tr: _Transcript, language: str) -> _Grounded | None:
        drug = item.get("drug")
        ref = _segment_ref(item.get("segment"))
        i = tr.index.get(ref) if ref is not None else None
        if not isinstance(drug, str) or not drug.strip() or i is None:
            return None
        loc = self._locate_drug(drug.strip(), i, tr)
        if loc is None:
            return None
        entry, a, b, score = loc
        drug_ev = tr.evidence(i, a, b)
        reasons: list[str] = []
        if entry is None:
            reasons.append("drug not in the lexicon")
        g = _Grounded(
            entry=entry,
            name=entry.name if entry is not None else " ".join(drug.split()),
            score=score,
            seg_index=i,
            evidence=drug_ev,
            status="mentioned",
            reasons=reasons,
            spans=[(i, *tr.sentence(i, a))],
        )
        med_quote = tr.locate(item.get("quote"), [i], i)
        if med_quote is not None:
            g.spans.append(med_quote[:3])
        for name in FIELDS:
            self._ground_field(g, name, item.get(name), item.get("quote"), i, tr)
        self._ground_status(g, item.get("status"), item.get("quote"), tr, language)
        return g

    def _ground_field(
        self, g: _Grounded, name: str, raw: object, med_quote: object, i: int, tr: _Transcript
    ) -> None:
        if raw is None or raw is False or raw == {} or raw == []:
            return
        if not isinstance(raw, dict):
            raw = {"value": raw}
        value = _field_value(name, raw)
        if value is _MISSING:
            return
        if value is None:
            g.reasons.append(f"{name} not understood in the LLM answer")
            return
        said = raw.get("quote")
        quote = said if isinstance(said, str) and said.strip() else med_quote
        ref = _segment_ref(raw.get("segment"))
        loc = tr.locate(quote, [tr.index.get(ref) if ref is not None else None, i], i)
        grounded: tuple[object, float] | None = None
        if loc is not None:
            j, a, b, score = loc
            if name == "as_needed" and value:
                sa, sb = tr.sentence(j, a)
                if fuzz.partial_ratio(fold(str(value)), fold(tr.segs[j].text[sa:sb])) < DRUG_MIN_SCORE:
                    value = ""  # the condition was not said there: keep "as needed" only
            grounded = ground_value(name, value, tr.segs[j].text[a:b])
        if loc is None or grounded is None:
            g.reasons.append(f"{name} not found in the transcript")
            return
        value, certainty = grounded
        g.fields[name] = Field(value, tr.evidence(j, a, b), certainty * score / 100.0)
        g.spans.append((j, *tr.sentence(j, a)))

    def _ground_status(
        self, g: _Grounded, raw: object, med_quote: object, tr: _Transcript, language: str
    ) -> None:
        i = g.seg_index
        a, b = tr.sentence(i, g.evidence.char_start)
        rule_status, _ = classify_status(
            tr.segs[i].text[a:b], drug_start=g.evidence.char_start - a, role=tr.role(i), language=language
        )
        if not isinstance(raw, dict):
            raw = {"value": raw}
        value = raw.get("value")
        if value is None:
            g.status = rule_status
            return
        if not isinstance(value, str) or value.strip().lower() not in STATUSES:
            g.reasons.append(f"status {_short(value)!r} refused (not one of {', '.join(STATUSES)})")
            g.status = rule_status
            return
        status: MedicationStatus = value.strip().lower()  # type: ignore[assignment]
        said = raw.get("quote")
        quote = said if isinstance(said, str) and said.strip() else None
        j = i
        if quote is not None:
            ref = _segment_ref(raw.get("segment"))
            loc = tr.locate(quote, [tr.index.get(ref) if ref is not None else None, i], i)
            if loc is None:
                g.reasons.append("status not found in the transcript")
                g.status = rule_status
                return
            j, qa, qb, _ = loc
            g.fields["status"] = Field(status, tr.evidence(j, qa, qb), 1.0)
        if status != "mentioned" and tr.role(j) == "patient":
            g.reasons.append(f"status {status} rests on the patient's words")
        g.status = status

    # ------------------------------------------------------------------ lines
    def _merge(self, grounded: list[_Grounded], tr: _Transcript, language: str) -> list[MedicationLine]:
        groups: dict[str, list[_Grounded]] = {}
        for g in sorted(grounded, key=lambda g: (g.seg_index, g.evidence.char_start)):
            groups.setdefault(key_of(g.name), []).append(g)
        return [self._line(f"med-{k}", group, tr, language) for k, group in enumerate(groups.values(), start=1)]

    def _line(self, line_id: str, group: list[_Grounded], tr: _Transcript, language: str) -> MedicationLine:
        primary = group[0]
        status: MedicationStatus = "mentioned"
        fields: dict[str, Field] = {}
        reasons: list[str] = []
        spans: list[tuple[int, int, int]] = []
        for g in group:
            action = g.status != "mentioned"
            if action:
                status, primary = g.status, g
            for fname, f in g.fields.items():
                if fname not in fields or action or status == "mentioned":
                    fields[fname] = f
            reasons += [r for r in g.reasons if r not in reasons]
            spans += [s for s in g.spans if s not in spans]
        fields.pop("status", None)
        # a field dropped in one mention but grounded in another is not missing
        reasons = [r for r in reasons if not any(r.startswith(f"{f} not") for f in fields)]
        sig_parts: list[str] = []
        for j, a, b in sorted(spans):
            text = tr.segs[j].text[a:b].strip()
            if text and not any(text in s for s in sig_parts):
                sig_parts = [s for s in sig_parts if s not in text] + [text]
        status_field = next((g.fields["status"] for g in reversed(group) if "status" in g.fields), None)
        extra = {"status": status_field.evidence} if status_field is not None and status_field.value == status else {}
        return build_line(
            line_id,
            name=primary.name,
            entry=primary.entry,
            drug_score=primary.score,
            drug_evidence=primary.evidence,
            fields=fields,
            status=status,
            sig=" ".join(sig_parts),
            threshold=self.review_threshold,
            lexicon=self.lexicon,
            language=language,
            reasons=reasons,
            check_marketed=False,
            extra_evidence=extra,
            support=LineSupport(
                method="llm",
                mentions=len(group),
                speaker_role=tr.role(primary.seg_index),
                drug_words=tuple(tr.evidence.words(primary.seg_index, primary.evidence.char_start,
                                                   primary.evidence.char_end)),
            ),
        )


def _http_message(status: int, host: str, key_env: str) -> str:
    hint = {
        401: f"the API key was refused: set ${key_env}",
        403: f"access denied: check the API key in ${key_env}",
        404: "not found: llm_url should end with the API root (e.g. .../v1) and llm_model be served there",
        408: "the request timed out on the server",
        413: "the transcript is too long for the endpoint",
        429: "rate limited: try again later",
    }.get(status, "the endpoint refused the request (model name, context length?)" if status < 500
          else "the endpoint failed")
    return f"the LLM endpoint at {host} answered HTTP {status}: {hint}"


def _httpx() -> Any:
    try:
        import httpx
    except ImportError as exc:  # pragma: no cover - httpx comes with gradio
        raise ModelLoadError("the llm extraction back-end needs httpx: pip install httpx") from exc
    return httpx


__all__ = ["OpenAICompatibleExtractor", "find_quote", "ground_value", "output_schema", "parse_answer"]
