"""The extraction core shared by every medication back-end (rules, tagger, LLM, and any fourth one).

A back-end finds drug mentions and reads their posology its own way; it then builds its lines with these
pieces, so that every back-end gives evidence, confidence, review reasons and routes the same way:

- :class:`Field`: a value read for one field of a line, with its :class:`~schemas.medication.Evidence` and
  how sure the reader is of it; :class:`Mention`: one drug mention and the fields read for it.
- :func:`word_spans`, :func:`evidence_for` and :class:`EvidenceIndex`: the evidence of a character span of a
  segment (its words' audio times, speaker and lowest ASR probability).
- :class:`Region`, :class:`DrugFinder` and :class:`PosologyReader`: the hooks of
  :class:`consult.extract.extractor.RuleBasedExtractor` (where the drugs come from, how a posology is read).
- :func:`score_fields`, :func:`plausibility_reasons`, :func:`unmarketed_strength`: review reasons (the line's
  confidence and review decision are calibrated: :mod:`consult.extract.calibration`).
- :func:`infer_route` (:data:`ROUTE_OF_FORM`), :func:`line_fields` and :func:`build_line`: the
  :class:`~schemas.MedicationLine` itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from consult.extract.calibration import (
    FieldReading,
    LineEvidence,
    LineSupport,
    calibrate,
    drug_word_evidence,
    homophone_reasons,
    method_kind,
    unread_as_needed,
    unread_numbers,
    word_quality,
)
from consult.extract.lexicon import DrugEntry, DrugLexicon, DrugMatch
from consult.extract.numbers import HOMOPHONE_CERTAINTY
from consult.extract.text import key_of, split_sentences
from schemas import MedicationLine, Segment
from schemas.medication import Evidence, Frequency, MedicationStatus, Quantity
from schemas.transcript import Word

NUMERIC_FIELDS = (
    "strength",
    "dose",
    "frequency",
    "duration",
    "max_per_day",
    "max_per_intake",
    "min_interval",
    "quantity_for",
    "renewals",
)
"""Fields whose confidence enters the line's (a misheard number is what review must catch)."""

VALUE_FIELDS = (
    "strength", "dose", "form", "route", "frequency", "duration", "max_per_day", "max_per_intake",
    "min_interval", "quantity_for", "renewals",
)
"""Fields copied as they are onto a :class:`MedicationLine` (``when``, ``as_needed`` and ``single_dose`` are
converted)."""

ROUTE_OF_FORM: dict[str, str] = {
    "comprimé": "oral",
    "gélule": "oral",
    "sachet": "oral",
    "lyophilisat": "oral",
    "tablet": "oral",
    "capsule": "oral",
    "sirop": "oral",
    "solution buvable": "oral",
    "suspension buvable": "oral",
    "cuillère à café": "oral",
    "cuillère à soupe": "oral",
    "cuillère": "oral",
    "bouffée": "inhalation",
    "puff": "inhalation",
    "inhalateur": "inhalation",
    "inhalation": "inhalation",
    "crème": "cutaneous",
    "pommade": "cutaneous",
    "gel": "cutaneous",
    "patch": "transdermal",
    "collyre": "ophthalmic",
    "spray nasal": "nasal",
    "suppositoire": "rectal",
}
"""Route implied by the dose or product form that was said (docs/labels.md)."""

MAX_INTAKE_MG: dict[str, float] = {
    "paracetamol": 1000,
    "ibuprofene": 800,
    "amoxicilline": 3000,
    "acide acetylsalicylique": 1000,
    "tramadol": 200,
    "codeine": 60,
    "metformine": 1000,
    "prednisolone": 100,
    "prednisone": 100,
    "naproxene": 1000,
    "diclofenac": 150,
    "ketoprofene": 200,
    "nefopam": 40,
    "morphine": 100,
}
"""Highest sensible amount per intake (mg) of common substances (adult SmPC), by folded French name."""
MAX_DAY_MG: dict[str, float] = {
    "paracetamol": 4000,
    "ibuprofene": 2400,
    "amoxicilline": 6000,
    "acide acetylsalicylique": 4000,
    "tramadol": 400,
    "codeine": 240,
    "metformine": 3000,
    "naproxene": 1500,
    "diclofenac": 150,
}
"""Highest sensible amount per day (mg), by folded French name."""
GENERIC_MAX_INTAKE_MG = 5000.0
MAX_UNITS_PER_INTAKE = 4.0
MAX_INTAKES_PER_DAY = 12
COUNTABLE_FORMS = frozenset({"comprimé", "gélule", "tablet", "capsule", "sachet", "suppositoire", "pastille",
                             "lyophilisat"})


# --------------------------------------------------------------------------- fields, mentions, evidence
@dataclass
class Field:
    """A value read for one field of a line, the words that said it and the reader's certainty (0-1)."""

    value: object
    evidence: Evidence
    certainty: float


@dataclass
class Mention:
    """One mention of a drug and what was read for it; mentions of one drug merge into one line."""

    match: DrugMatch
    seg_index: int
    order: int
    status: MedicationStatus
    status_certainty: float
    evidence: Evidence
    fields: dict[str, Field] = field(default_factory=dict)
    sig: list[tuple[int, int, int]] = field(default_factory=list)
    """(seg_index, start, end) of the sentences the posology came from."""
    sentence: int = -1
    """Index of the mention's sentence among the consultation's sentences (-1: not known)."""
    decided_by: int = -1
    """Index of the later sentence, naming no drug, whose words decided the status ("Vous arrêtez dès
    aujourd'hui.", "Le gel, oui, ..." after "Je peux continuer ?"); -1: the mention's own sentence decided."""
    clause: tuple[int, int] | None = None
    """The part (start, end) of its sentence whose cues are this drug's when the sentence names several
    (:func:`consult.extract.status.drug_clause`; None: the whole sentence)."""


def word_spans(seg: Segment) -> list[tuple[int, int]]:
    """Char span of each word of ``seg`` in ``seg.text`` (words joined by single spaces)."""
    spans: list[tuple[int, int]] = []
    pos = 0
    text = seg.text
    for w in seg.words:
        token = w.text.strip()
        idx = text.find(token, pos) if token else -1
        if idx < 0:
            idx = pos
        spans.append((idx, idx + len(token)))
        pos = idx + len(token)
    return spans


def evidence_for(seg: Segment, a: int, b: int, spans: Sequence[tuple[int, int]] | None = None) -> Evidence:
    """Evidence of ``seg.text[a:b]``: the audio times, speaker and lowest ASR probability of the words it
    covers (``spans``: :func:`word_spans` of ``seg``, computed when not given; none for a text transcript)."""
    if spans is None:
        spans = word_spans(seg)
    covering = [w for w, (ws, we) in zip(seg.words, spans, strict=True) if ws < b and we > a]
    return Evidence(
        segment_id=seg.id,
        char_start=a,
        char_end=b,
        text=seg.text[a:b],
        start=min(w.start for w in covering) if covering else None,
        end=max(w.end for w in covering) if covering else None,
        speaker=seg.speaker,
        asr_probability=min(w.probability for w in covering) if covering else None,
    )


def covered_words(seg: Segment, a: int, b: int, spans: Sequence[tuple[int, int]] | None = None) -> list[Word]:
    """The recognised words of ``seg`` that ``seg.text[a:b]`` covers (none for a text transcript)."""
    if spans is None:
        spans = word_spans(seg)
    return [w for w, (ws, we) in zip(seg.words, spans, strict=True) if ws < b and we > a]


class EvidenceIndex:
    """:func:`evidence_for` over the segments of one transcript, each segment's word spans computed once:
    ``index(seg_index, a, b)``."""

    def __init__(self, segments: Sequence[Segment]) -> None:
        self.segments = list(segments)
        self._spans: dict[int, list[tuple[int, int]]] = {}

    def __call__(self, seg_index: int, a: int, b: int) -> Evidence:
        return evidence_for(self.segments[seg_index], a, b, self.spans(seg_index))

    def spans(self, seg_index: int) -> list[tuple[int, int]]:
        """:func:`word_spans` of segment ``seg_index``."""
        spans = self._spans.get(seg_index)
        if spans is None:
            spans = self._spans[seg_index] = word_spans(self.segments[seg_index])
        return spans

    def words(self, seg_index: int, a: int, b: int) -> list[Word]:
        """:func:`covered_words` of ``segments[seg_index].text[a:b]``."""
        return covered_words(self.segments[seg_index], a, b, self.spans(seg_index))


# --------------------------------------------------------------------------- back-end hooks
@dataclass(frozen=True)
class Region:
    """Characters ``[start, end)`` of segment ``seg_index`` (whose whole text is ``text``) where a posology
    may be read for a mention."""

    seg_index: int
    start: int
    end: int
    text: str
    drug_spans: tuple[tuple[int, int], ...] = ()
    """The mention's name in ``text`` when the region is its own sentence; empty for a following sentence."""
    asr: bool = False
    """The text comes from speech recognition (homophones of numbers are read)."""
    lead: str = ""
    """The words of the same sentence before ``start``: context only, never a posology of this mention."""


class DrugFinder(Protocol):
    """Drug mentions of one sentence, offsets in the sentence (e.g. :meth:`DrugLexicon.find`)."""

    def __call__(self, sentence: str, /) -> list[DrugMatch]: ...


class PosologyReader(Protocol):
    """Reads the posology said in ``region`` into ``mention.fields`` (a field already there is kept);
    True when the region said a posology for the mention."""

    def __call__(self, mention: Mention, region: Region, evidence: EvidenceIndex) -> bool: ...


# --------------------------------------------------------------------------- scoring
def score_fields(
    drug_score: float, drug_ev: Evidence, fields: Mapping[str, Field], threshold: float
) -> tuple[float, list[str]]:
    """Line confidence (drug match score x its ASR probability x the weakest numeric field's certainty x its
    ASR probability) and the review reasons for the drug and the numeric fields below ``threshold``."""
    drug_conf = drug_score * (drug_ev.asr_probability if drug_ev.asr_probability is not None else 1.0)
    reasons: list[str] = []
    if drug_conf < threshold:
        reasons.append(f"drug match uncertain ({drug_conf:.2f})")
    field_confs: list[float] = []
    for fname in NUMERIC_FIELDS:
        f = fields.get(fname)
        if f is None:
            continue
        asr = f.evidence.asr_probability
        c = f.certainty * (asr if asr is not None else 1.0)
        field_confs.append(c)
        if c < threshold:
            reasons.append(f"{fname} uncertain ({c:.2f})")
    return drug_conf * (min(field_confs) if field_confs else 1.0), reasons


def plausibility_reasons(name: str, fields: Mapping[str, Field]) -> list[str]:
    """Review reasons ("absurd dose: ...", "unusual frequency: ...") for a dose, strength, maximum or
    frequency that no adult posology of the substance ``name`` (normalised French name) has."""
    key = key_of(name)
    reasons: list[str] = []
    dose = fields.get("dose")
    strength = fields.get("strength")
    dose_q = dose.value if dose is not None else None
    strength_q = strength.value if strength is not None else None
    per_intake = None
    if isinstance(dose_q, Quantity):
        per_intake = mg_of(dose_q)
        if per_intake is None and isinstance(strength_q, Quantity) and mg_of(strength_q) is not None:
            per_intake = (dose_q.value_high or dose_q.value) * (mg_of(strength_q) or 0.0)
        if dose_q.unit in COUNTABLE_FORMS and (dose_q.value_high or dose_q.value) > MAX_UNITS_PER_INTAKE:
            reasons.append(f"unusual dose: {dose_q.value:g} {dose_q.unit} per intake")
    limit = MAX_INTAKE_MG.get(key, GENERIC_MAX_INTAKE_MG)
    if per_intake is not None and per_intake > limit:
        reasons.append(f"absurd dose: {per_intake:g} mg per intake (max {limit:g} mg)")
    elif per_intake is None and isinstance(strength_q, Quantity):
        s_mg = mg_of(strength_q)
        if s_mg is not None and s_mg > max(limit, GENERIC_MAX_INTAKE_MG if key not in MAX_INTAKE_MG else 0):
            reasons.append(f"absurd strength: {s_mg:g} mg (max {limit:g} mg per intake)")
    mpd = fields.get("max_per_day")
    if mpd is not None and isinstance(mpd.value, Quantity):
        day_mg = mg_of(mpd.value)
        if day_mg is not None and key in MAX_DAY_MG and day_mg > MAX_DAY_MG[key]:
            reasons.append(f"absurd maximum: {day_mg:g} mg per day (max {MAX_DAY_MG[key]:g} mg)")
    freq = fields.get("frequency")
    if freq is not None:
        per_day = intakes_per_day(freq.value)
        if per_day is not None and per_day > MAX_INTAKES_PER_DAY:
            reasons.append(f"unusual frequency: {per_day:g} intakes per day")
    return reasons


def unmarketed_strength(strength: Field | None, name: str, lexicon: DrugLexicon) -> list[str]:
    """A mass strength that no marketed product of the substance ``name`` has (BDPM): often a misheard number."""
    if strength is None or not isinstance(strength.value, Quantity):
        return []
    mg = mg_of(strength.value)
    marketed = lexicon.marketed_strengths_mg(name)
    if mg is None or len(marketed) < 2 or lexicon.is_marketed_strength(name, mg):
        return []
    known = ", ".join(f"{m:g} mg" for m in sorted(marketed)[:10])
    return [f"unusual strength: {mg:g} mg is not a marketed strength ({known})"]


def microgram_homophone(fields: dict[str, Field], name: str, lexicon: DrugLexicon) -> None:
    """Speech only: a strength or dose heard in micrograms of a substance whose every marketed product is dosed in
    milligrams (BDPM: none under 1 mg), when that number of milligrams is one of them, is read
    in milligrams, with a homophone's certainty (the line is flagged): the bundled Whisper writes "milligrams" as
    "micrograms" (a voiced dev consultation: "cetirizine 10 micrograms", "the 5 microgram tablets" of
    prednisolone). A number a microgram would fit is left as heard."""
    marketed = lexicon.marketed_strengths_mg(name)
    if not marketed or min(marketed) < 1.0:
        return
    for key in ("strength", "dose"):
        f = fields.get(key)
        if f is None or not isinstance(f.value, Quantity) or f.value.unit != "ug" or f.evidence.asr_probability is None:
            continue
        if lexicon.is_marketed_strength(name, f.value.value):
            fields[key] = Field(f.value.model_copy(update={"unit": "mg"}), f.evidence,
                                min(f.certainty, HOMOPHONE_CERTAINTY))


def mg_of(q: Quantity) -> float | None:
    """The (highest) amount of a mass quantity in mg; None for other units."""
    v = q.value_high or q.value
    return {"mg": v, "g": v * 1000.0, "ug": v / 1000.0}.get(q.unit)


def intakes_per_day(freq: object) -> float | None:
    """The (highest) number of intakes per day of a :class:`Frequency`; None for anything else."""
    if not isinstance(freq, Frequency):
        return None
    hours = {"h": 1.0, "d": 24.0, "wk": 168.0, "mo": 720.0}[freq.period_unit] * freq.period
    return (freq.count_max or freq.count) * 24.0 / hours


# --------------------------------------------------------------------------- lines
def infer_route(fields: dict[str, Field]) -> None:
    """The route implied by the form said (:data:`ROUTE_OF_FORM`), when no route was said."""
    if "route" not in fields and "form" in fields:
        form = fields["form"]
        route = ROUTE_OF_FORM.get(str(form.value))
        if route is not None:
            fields["route"] = Field(route, form.evidence, form.certainty)


def line_fields(fields: Mapping[str, Field]) -> dict[str, object]:
    """The posology keyword arguments of a :class:`MedicationLine` from the merged fields."""
    as_needed = fields.get("as_needed")
    when = fields.get("when")
    out: dict[str, object] = {}
    for name in VALUE_FIELDS:
        f = fields.get(name)
        out[name] = f.value if f is not None else None
    out["when"] = list(when.value) if when is not None else []  # type: ignore[call-overload]
    out["as_needed"] = as_needed is not None
    out["single_dose"] = "single_dose" in fields
    out["as_needed_condition"] = (as_needed.value or None) if as_needed is not None else None
    return out


def build_line(
    line_id: str,
    *,
    name: str,
    entry: DrugEntry | None,
    drug_score: float,
    drug_evidence: Evidence,
    fields: dict[str, Field],
    status: MedicationStatus,
    sig: str,
    threshold: float,
    lexicon: DrugLexicon,
    language: str,
    reasons: Sequence[str] = (),
    status_certainty: float | None = None,
    check_marketed: bool = True,
    extra_evidence: Mapping[str, Evidence] | None = None,
    support: LineSupport | None = None,
    risk_threshold: float | None = None,
) -> MedicationLine:
    """The :class:`MedicationLine` of one drug from its merged ``fields`` (the route is inferred into them).

    ``name`` is the lexicon's normalised (French) substance or product name, which the plausibility tables
    know; ``entry`` its lexicon entry (None: a drug the lexicon does not know). The line's ``name`` is that name
    in the consultation's ``language`` (:meth:`DrugLexicon.name_in`: "metformin" in English, "metformine" in
    French; the words said choose between English names such as paracetamol and acetaminophen); a drug the
    lexicon does not know keeps ``name``.

    ``confidence`` is the calibrated probability that the line is right and ``needs_review`` says that it is
    below the risk threshold or that a hard reason holds (:func:`consult.extract.calibration.calibrate`, from
    the fields, ``drug_score``, ``status_certainty`` and what the back-end knows besides: ``support``;
    ``risk_threshold`` overrides the model's threshold). Hard reasons, which always flag: the back-end's own
    ``reasons``, an implausible posology (:func:`plausibility_reasons`), a strength no marketed product has
    when ``check_marketed`` (:func:`unmarketed_strength`), a number read from a recogniser homophone, a drug
    the lexicon does not know, a product no longer marketed. Soft reasons, listed when the line is flagged: the
    drug and numeric fields below ``threshold`` (:func:`score_fields`) and a status below ``threshold``.
    ``extra_evidence`` adds evidence for what is not a field (e.g. ``status``)."""
    support = support or LineSupport()
    heuristic, soft = score_fields(drug_score, drug_evidence, fields, threshold)
    if status_certainty is not None and status != "mentioned" and status_certainty < threshold:
        soft.append(f"status uncertain ({status_certainty:.2f}): is it really {status}?")
    hard = list(reasons)
    microgram_homophone(fields, name, lexicon)
    hard += plausibility_reasons(name, fields)
    if check_marketed:
        hard += unmarketed_strength(fields.get("strength"), name, lexicon)
    if entry is None or any(r.startswith(("absurd", "unusual")) for r in hard):
        heuristic = min(heuristic, threshold)
    infer_route(fields)
    readings = {
        k: FieldReading(f.certainty, f.evidence.asr_probability, k in NUMERIC_FIELDS, f.evidence.text)
        for k, f in fields.items()
    }
    hard += homophone_reasons(readings)
    if entry is None and not any("lexicon" in r for r in hard):
        hard.append("drug not in the lexicon")
    if entry is not None and not entry.marketed:
        said = drug_evidence.text or entry.surface
        hard.append(f"not marketed: {said} is no longer on the French market (BDPM); check the product")
    words = support.drug_words
    drug_asr, second_pass, second_prob = drug_word_evidence(words) if words else (
        drug_evidence.asr_probability, False, None)
    evidence = LineEvidence(
        drug_score=drug_score,
        method=method_kind(support.method),
        raw_method=support.method,
        known_drug=entry is not None,
        speech=bool(words) or drug_evidence.asr_probability is not None,
        drug_asr=drug_asr,
        second_pass=second_pass,
        second_pass_probability=second_prob,
        fields=readings,
        status=status,
        status_certainty=status_certainty,
        status_probability=support.status_probability,
        mentions=support.mentions,
        speaker_role=support.speaker_role,
        role_confidence=support.role_confidence,
        unread_numbers=unread_numbers(sig, [f.evidence.text for f in fields.values()]),
        unread_as_needed=unread_as_needed(sig, "as_needed" in fields),
        hard_reasons=tuple(dict.fromkeys(hard)),
        language=language,
        atc=entry.atc if entry is not None else None,
        sentence_drugs=support.sentence_drugs,
        sig_sentences=len(split_sentences(sig)) if sig.strip() else 0,
        **dict(zip(("sig_asr_mean", "sig_asr_low"), word_quality(support.sig_word_probabilities), strict=True)),
    )
    decided = calibrate(evidence, soft, heuristic=heuristic, risk_threshold=risk_threshold)
    field_evidence = {k: f.evidence for k, f in fields.items()}
    field_evidence.update(extra_evidence or {})
    return MedicationLine(
        id=line_id,
        drug_text=drug_evidence.text,
        name=lexicon.name_in(name, language, said=drug_evidence.text) if entry is not None else name,
        atc=entry.atc if entry is not None else None,
        cis=entry.cis if entry is not None else None,
        **line_fields(fields),
        status=status,
        sig=sig,
        confidence=decided.confidence,
        needs_review=decided.needs_review,
        review_reasons=decided.reasons,
        evidence=drug_evidence,
        field_evidence=field_evidence,
    )


__all__ = [
    "NUMERIC_FIELDS",
    "ROUTE_OF_FORM",
    "DrugFinder",
    "EvidenceIndex",
    "Field",
    "Mention",
    "PosologyReader",
    "Region",
    "build_line",
    "covered_words",
    "evidence_for",
    "infer_route",
    "intakes_per_day",
    "line_fields",
    "mg_of",
    "plausibility_reasons",
    "score_fields",
    "unmarketed_strength",
    "word_spans",
]
