"""Rule-based medication extractor: lexicon matching + posology parser + status rules.

Each drug mention takes the posology of its own sentence and of the following doctor sentences
until the next drug; repeated mentions of the same drug merge into one :class:`MedicationLine`.
Every field carries an :class:`Evidence` (segment, char span, audio time, speaker, ASR probability).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from consult.extract.lexicon import DrugLexicon, DrugMatch
from consult.extract.posology import Posology, parse_posology
from consult.extract.status import classify_status, continuation_cue
from consult.extract.text import key_of, split_sentences, tokenize
from schemas import MedicationLine, ModelInfo, Segment
from schemas.medication import Evidence, MedicationStatus, Quantity
from schemas.report import Role

logger = logging.getLogger(__name__)

EXTRACTOR_NAME = "consult-rule-based"
EXTRACTOR_VERSION = "1.0"

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

# Route implied by the dose or product form that was said (docs/labels.md).
ROUTE_OF_FORM: dict[str, str] = {
    "comprimé": "oral",
    "gélule": "oral",
    "sachet": "oral",
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

# Highest sensible amount per intake (mg) and per day (mg) for common substances (adult SmPC).
_MAX_INTAKE_MG: dict[str, float] = {
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
_MAX_DAY_MG: dict[str, float] = {
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
_GENERIC_MAX_INTAKE_MG = 5000.0
_MAX_UNITS_PER_INTAKE = 4.0
_MAX_INTAKES_PER_DAY = 12
_COUNTABLE = {"comprimé", "gélule", "tablet", "capsule", "sachet", "suppositoire", "pastille"}
_SHORT_REPLY_WORDS = 4
_MAX_FOLLOW_SENTENCES = 3


@dataclass(frozen=True)
class ExtractorOptions:
    """Thresholds of the rule-based extractor."""

    review_threshold: float = 0.6
    """A drug match or a number below this confidence sets ``needs_review``."""
    max_follow_sentences: int = _MAX_FOLLOW_SENTENCES
    """Doctor sentences after a mention that may complete its posology."""


@dataclass(frozen=True)
class _Sentence:
    seg_index: int
    start: int
    end: int
    role: Role
    matches: tuple[DrugMatch, ...]


@dataclass
class _Field:
    value: object
    evidence: Evidence
    certainty: float


@dataclass
class _Mention:
    match: DrugMatch
    seg_index: int
    order: int
    status: MedicationStatus
    status_certainty: float
    evidence: Evidence
    fields: dict[str, _Field] = field(default_factory=dict)
    sig: list[tuple[int, int, int]] = field(default_factory=list)
    """(seg_index, start, end) of the sentences the posology came from."""


def _word_spans(seg: Segment) -> list[tuple[int, int]]:
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


class RuleBasedExtractor:
    """Medication extractor implementing :class:`consult.interfaces.MedicationExtractor`."""

    def __init__(self, lexicon: DrugLexicon | None = None, options: ExtractorOptions | None = None) -> None:
        self.lexicon = lexicon if lexicon is not None else DrugLexicon.load()
        self.options = options or ExtractorOptions()

    def model_info(self) -> list[ModelInfo]:
        return [
            ModelInfo(
                stage="extraction",
                name=EXTRACTOR_NAME,
                version=f"{EXTRACTOR_VERSION}+lexicon{len(self.lexicon.entries)}",
            )
        ]

    # ------------------------------------------------------------------ public
    def extract(
        self,
        segments: Sequence[Segment],
        *,
        roles: Mapping[str, Role],
        language: str,
    ) -> list[MedicationLine]:
        segs = list(segments)
        word_spans = [_word_spans(s) for s in segs]
        sentences: list[_Sentence] = []
        for i, seg in enumerate(segs):
            role: Role = roles.get(seg.speaker, "unknown") if seg.speaker is not None else "unknown"
            for sent in split_sentences(seg.text):
                matches = tuple(
                    DrugMatch(m.entry, m.start + sent.start, m.end + sent.start, m.score, m.method)
                    for m in self.lexicon.find(sent.text)
                    if is_medication_mention(m.entry.name, sent.text, m.entry.atc, said=m.entry.key)
                    and not _after_title(sent.text, m.start)
                )
                sentences.append(_Sentence(i, sent.start, sent.end, role, matches))

        def evidence(seg_index: int, a: int, b: int) -> Evidence:
            seg = segs[seg_index]
            covering = [w for w, (ws, we) in zip(seg.words, word_spans[seg_index], strict=True) if ws < b and we > a]
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

        mentions: list[_Mention] = []
        for k, sent in enumerate(sentences):
            seg = segs[sent.seg_index]
            first = len(mentions)
            for j, m in enumerate(sent.matches):
                # a second drug of the sentence takes the posology said after its name only
                region_start = m.start if j > 0 else sent.start
                region_end = sent.matches[j + 1].start if j + 1 < len(sent.matches) else sent.end
                prefix = self._carried_prefix(sentences, k, segs)
                status, s_cert = classify_status(
                    prefix + seg.text[sent.start : sent.end],
                    drug_start=len(prefix) + m.start - sent.start,
                    role=sent.role,
                    language=language,
                )
                mention = _Mention(
                    match=m,
                    seg_index=sent.seg_index,
                    order=len(mentions),
                    status=status,
                    status_certainty=s_cert,
                    evidence=evidence(sent.seg_index, m.start, m.end),
                )
                self._add_posology(
                    mention, sent.seg_index, region_start, region_end, seg.text, [(m.start, m.end)], evidence,
                    asr=bool(seg.words),
                )
                mention.sig.append((sent.seg_index, sent.start, sent.end))
                if j + 1 == len(sent.matches):
                    self._follow(mention, sentences, k, segs, evidence)
                if status == "new" and s_cert <= 0.5 and not mention.fields:
                    mention.status, mention.status_certainty = "mentioned", 0.5
                elif status == "new" and s_cert <= 0.5 and {"dose", "frequency"} & set(mention.fields):
                    # the doctor dictates a drug with its posology ("Omeprazole 20 mg, one capsule a day")
                    mention.status_certainty = 0.7
                mentions.append(mention)
            _share_alternatives(mentions[first:], seg.text)
        lines = self._merge(mentions, segs)
        logger.debug("extracted %d medication lines from %d segments", len(lines), len(segs))
        return lines

    # ------------------------------------------------------------------ steps
    @staticmethod
    def _carried_prefix(sentences: list[_Sentence], k: int, segs: list[Segment]) -> str:
        """Text of the previous sentence when the ASR cut one sentence into two segments of the same
        speaker ("I'll renew" + "your salbutamol inhaler, ..."): it carries the status verb."""
        sent = sentences[k]
        if k == 0 or sent.start > 0 and segs[sent.seg_index].text[: sent.start].strip():
            return ""
        prev = sentences[k - 1]
        if prev.seg_index == sent.seg_index or prev.role != sent.role or prev.matches:
            return ""
        if segs[prev.seg_index].speaker != segs[sent.seg_index].speaker:
            return ""
        text = segs[prev.seg_index].text[prev.start : prev.end].strip()
        if not text or text[-1] in ".?!":
            return ""
        return text + " "

    def _add_posology(
        self,
        mention: _Mention,
        seg_index: int,
        a: int,
        b: int,
        text: str,
        drug_spans: list[tuple[int, int]],
        evidence: object,
        *,
        asr: bool = False,
    ) -> bool:
        part = text[a:b]
        pos: Posology = parse_posology(
            part, drug_spans=[(s - a, e - a) for s, e in drug_spans], asr=asr
        )
        if pos.strength is None and drug_spans:
            strength = _bare_strength(text, drug_spans[0][1], b, mention.match.entry.strengths)
            if strength is not None:
                q, s0, e0 = strength
                ev = evidence(seg_index, s0, e0)  # type: ignore[operator]
                mention.fields.setdefault("strength", _Field(q, ev, 0.9))
        if pos.dose is None and drug_spans and "dose" not in mention.fields:
            count = _count_before(text, drug_spans[0][0], 0)
            if count is not None:
                q, s0, e0 = count
                ev = evidence(seg_index, s0, e0)  # type: ignore[operator]
                mention.fields["dose"] = _Field(q, ev, 0.9)
        if pos.is_empty():
            return "strength" in mention.fields or "dose" in mention.fields
        for name, slot in pos.slots().items():
            if name in mention.fields:
                continue
            ev = evidence(seg_index, a + slot.start, a + slot.end)  # type: ignore[operator]
            mention.fields[name] = _Field(slot.value, ev, slot.certainty)
        return True

    def _follow(
        self,
        mention: _Mention,
        sentences: list[_Sentence],
        k: int,
        segs: list[Segment],
        evidence: object,
    ) -> None:
        origin = sentences[k]
        taken = 0
        for nxt in sentences[k + 1 :]:
            if nxt.matches or taken >= self.options.max_follow_sentences:
                return
            text = segs[nxt.seg_index].text
            if nxt.role == "patient":
                if len(tokenize(text[nxt.start : nxt.end])) <= _SHORT_REPLY_WORDS:
                    continue
                return
            if nxt.role == "unknown" and origin.role != "unknown":
                return
            taken += 1
            said = text[nxt.start : nxt.end]
            cue = continuation_cue(said)
            if said.rstrip().endswith("?") or origin.role == "patient" and cue not in ("renewed", "changed", "stopped"):
                # the doctor asks about the patient's drug, or comments: not a posology for it
                continue
            asr = bool(segs[nxt.seg_index].words)
            if self._add_posology(mention, nxt.seg_index, nxt.start, nxt.end, text, [], evidence, asr=asr):
                mention.sig.append((nxt.seg_index, nxt.start, nxt.end))
                if (
                    mention.status == "mentioned"
                    and origin.role == "patient"
                    and cue in ("renewed", "changed", "stopped")
                ):
                    mention.status, mention.status_certainty = cue, 0.6
                elif mention.status == "mentioned" and origin.role != "patient" and cue == "new":
                    mention.status, mention.status_certainty = "new", 0.6

    def _merge(self, mentions: list[_Mention], segs: list[Segment]) -> list[MedicationLine]:
        groups: dict[str, list[_Mention]] = {}
        for m in mentions:
            groups.setdefault(m.match.entry.name, []).append(m)
        lines: list[MedicationLine] = []
        for idx, (name, group) in enumerate(sorted(groups.items(), key=lambda kv: kv[1][0].order), start=1):
            lines.append(self._line(f"med-{idx}", name, group, segs))
        return lines

    def _line(self, line_id: str, name: str, group: list[_Mention], segs: list[Segment]) -> MedicationLine:
        status: MedicationStatus = "mentioned"
        primary = group[0]
        fields: dict[str, _Field] = {}
        for m in group:
            action = m.status != "mentioned"
            if action:
                status, primary = m.status, m
            for fname, f in m.fields.items():
                if fname not in fields or action or status == "mentioned":
                    fields[fname] = f
        sig_parts: list[str] = []
        for m in group:
            for seg_index, a, b in m.sig:
                text = segs[seg_index].text[a:b].strip()
                if (m.fields or m is primary) and text not in sig_parts:
                    sig_parts.append(text)
        entry = primary.match.entry
        drug_ev = primary.evidence
        thr = self.options.review_threshold
        confidence, reasons = score_fields(primary.match.score, drug_ev, fields, thr)
        reasons.extend(self._absurd(name, fields))
        reasons.extend(_unmarketed_strength(fields.get("strength"), name, self.lexicon))
        status_cert = primary.status_certainty
        if status != "mentioned" and status_cert < thr:
            reasons.append(f"status uncertain ({status_cert:.2f}): is it really {status}?")
        if any(r.startswith(("absurd", "unusual")) for r in reasons):
            confidence = min(confidence, thr)
        infer_route(fields)
        return MedicationLine(
            id=line_id,
            drug_text=drug_ev.text,
            name=name,
            atc=entry.atc,
            cis=entry.cis,
            **line_fields(fields),
            status=status,
            sig=" ".join(sig_parts),
            confidence=max(0.0, min(1.0, round(confidence, 3))),
            needs_review=bool(reasons),
            review_reasons=reasons,
            evidence=drug_ev,
            field_evidence={k: f.evidence for k, f in fields.items()},
        )

    def _absurd(self, name: str, fields: dict[str, _Field]) -> list[str]:
        key = key_of(name)
        reasons: list[str] = []
        dose = fields.get("dose")
        strength = fields.get("strength")
        dose_q = dose.value if dose is not None else None
        strength_q = strength.value if strength is not None else None
        per_intake = None
        if isinstance(dose_q, Quantity):
            per_intake = _mg(dose_q)
            if per_intake is None and isinstance(strength_q, Quantity) and _mg(strength_q) is not None:
                per_intake = (dose_q.value_high or dose_q.value) * (_mg(strength_q) or 0.0)
            if dose_q.unit in _COUNTABLE and (dose_q.value_high or dose_q.value) > _MAX_UNITS_PER_INTAKE:
                reasons.append(f"unusual dose: {dose_q.value:g} {dose_q.unit} per intake")
        limit = _MAX_INTAKE_MG.get(key, _GENERIC_MAX_INTAKE_MG)
        if per_intake is not None and per_intake > limit:
            reasons.append(f"absurd dose: {per_intake:g} mg per intake (max {limit:g} mg)")
        elif per_intake is None and isinstance(strength_q, Quantity):
            s_mg = _mg(strength_q)
            if s_mg is not None and s_mg > max(limit, _GENERIC_MAX_INTAKE_MG if key not in _MAX_INTAKE_MG else 0):
                reasons.append(f"absurd strength: {s_mg:g} mg (max {limit:g} mg per intake)")
        mpd = fields.get("max_per_day")
        if mpd is not None and isinstance(mpd.value, Quantity):
            day_mg = _mg(mpd.value)
            if day_mg is not None and key in _MAX_DAY_MG and day_mg > _MAX_DAY_MG[key]:
                reasons.append(f"absurd maximum: {day_mg:g} mg per day (max {_MAX_DAY_MG[key]:g} mg)")
        freq = fields.get("frequency")
        if freq is not None:
            f = freq.value
            per_day = _per_day(f)
            if per_day is not None and per_day > _MAX_INTAKES_PER_DAY:
                reasons.append(f"unusual frequency: {per_day:g} intakes per day")
        return reasons


# Substances that consultations mostly name as street drugs: never a medication line.
RECREATIONAL = frozenset(
    "cocaine amphetamine amphetamines methamphetamine heroine heroin cannabis marijuana mdma ecstasy lsd "
    "crack ketamine".split()
)
# Substances that are also lab values or body chemistry ("glucose levels", "losing sodium"): a medication
# only when the sentence says so (taking, supplement, tablet, a dose...).
PHYSIOLOGICAL = frozenset(
    [*"glucose sodium potassium calcium magnesium fer iron cholesterol nicotine zinc phosphore phosphate "
      "oxygene oxygen".split(), "chlorure de sodium", "chlorure de potassium"]
)
# Names that usually mean a drug class or a hormone in conversation.
CLASS_LIKE = frozenset(["penicilline", "penicillin", "adrenaline", "adrenalin", "cortisone", "hormone", "vitamines"])
_MEDICATION_CUE = re.compile(
    r"\b(?:tak(?:e|es|ing)|took|prescri\w*|supplements?|suppl[ée]ments?|tablets?|pills?|capsules?|patch(?:es)?|"
    r"gum|gomme|substituts?|replacement|sachets?|comprim[ée]s?|g[ée]lules?|prend\w*|pris|prise|donne\w*|"
    r"mg|milligram\w*|ampoules?|injection|perfusion|iv|drip|cure|traitement|treatment)\b"
)


_ALTERNATIVE = re.compile(r"\s*,?\s*(?:or|or else|ou|ou bien|ou alors)\s*,?\s*", re.IGNORECASE)


def _share_alternatives(sentence_mentions: list[_Mention], text: str) -> None:
    """"either nitrofurantoin or trimethoprim, one tablet twice a day": the alternatives share the posology
    and the decision said for the last one."""
    for j in range(len(sentence_mentions) - 2, -1, -1):
        cur, nxt = sentence_mentions[j], sentence_mentions[j + 1]
        if not _ALTERNATIVE.fullmatch(text[cur.match.end : nxt.match.start]):
            continue
        for name, f in nxt.fields.items():
            cur.fields.setdefault(name, f)
        if cur.status == "mentioned" and nxt.status != "mentioned":
            cur.status, cur.status_certainty = nxt.status, min(0.6, nxt.status_certainty)


_TITLE_BEFORE = re.compile(
    r"\b(?:monsieur|madame|mademoiselle|mme|mlle|mr|mrs|ms|miss|dr|docteur|doctor|professeur|pr)\.?\s+$",
    re.IGNORECASE,
)


def _after_title(sentence: str, start: int) -> bool:
    """"monsieur DIANE ...": a capitalised word after a civility title is a person's name."""
    before = sentence[max(0, start - 14) : start]
    return sentence[start : start + 1].isupper() and _TITLE_BEFORE.search(before) is not None


def is_medication_mention(name: str, sentence: str, atc: str | None = None, *, said: str | None = None) -> bool:
    """False for street drugs and vaccines (FHIR Immunization, not MedicationRequest), and for
    body-chemistry substances and class-like names said without a medication cue ("allergic to penicillin",
    "the adrenaline was pumping")."""
    key = key_of(name)
    if key in RECREATIONAL or (atc or "").startswith("J07"):
        return False
    # the name as said: "EpiPen" is a medicine even though "adrenaline" alone may be the hormone
    said_key = key_of(said) if said else key
    if said_key in PHYSIOLOGICAL or said_key in CLASS_LIKE or said_key.rstrip("s") in CLASS_LIKE:
        return _MEDICATION_CUE.search(key_of(sentence)) is not None
    return True


def _unmarketed_strength(strength: _Field | None, name: str, lexicon: DrugLexicon) -> list[str]:
    """A mass strength that no marketed product of this substance has (BDPM): often a misheard number."""
    if strength is None or not isinstance(strength.value, Quantity):
        return []
    mg = _mg(strength.value)
    marketed = lexicon.marketed_strengths_mg(name)
    if mg is None or len(marketed) < 2 or any(abs(mg - m) < 1e-6 for m in marketed):
        return []
    known = ", ".join(f"{m:g} mg" for m in sorted(marketed)[:10])
    return [f"unusual strength: {mg:g} mg is not a marketed strength ({known})"]


_COUNT_BEFORE = re.compile(r"(\d+|un|une|deux|trois|quatre|one|two|three|four)\s+(?:de\s+|d'|of\s+)?$", re.I)
_COUNT_WORDS = {"un": 1, "une": 1, "deux": 2, "trois": 3, "quatre": 4, "one": 1, "two": 2, "three": 3, "four": 4}


def _count_before(text: str, drug_start: int, limit: int) -> tuple[Quantity, int, int] | None:
    """"deux Doliprane", "2 Advil": a count said right before the product name is the dose, in units of
    the product as taken (``dose``: the form was not said)."""
    m = _COUNT_BEFORE.search(text[max(limit, drug_start - 12) : drug_start])
    if m is None:
        return None
    word = m.group(1).lower()
    value = float(word) if word.isdigit() else float(_COUNT_WORDS[word])
    if not 0 < value <= 10:
        return None
    off = max(limit, drug_start - 12)
    return Quantity(value=value, unit="dose"), off + m.start(1), off + m.end(1)


_BARE_NUMBER = re.compile(r"\s*,?\s*(\d+(?:[.,]\d+)?)\b(?!\s*(?:fois|times|x\b|%|jours?|days?|h\b|heures?|hours?))")


def _bare_strength(
    text: str, drug_end: int, limit: int, strengths: Sequence[str]
) -> tuple[Quantity, int, int] | None:
    """"Doliprane 1000", "Kardégic 75": a bare number right after the product name that is one of its
    marketed strengths (BDPM) is the strength in that unit."""
    m = _BARE_NUMBER.match(text, drug_end, limit)
    if m is None or not strengths:
        return None
    value = float(m.group(1).replace(",", "."))
    if re.match(r"\s*(?:mg|g|µg|ug|mcg|ml|milligram|gram|microgram|ui|iu|units?)\b", text[m.end() : limit], re.I):
        return None  # a unit follows: the posology parser reads it
    for s in strengths:
        sm = re.fullmatch(r"(\d+(?:[.,]\d+)?)\s*(mg|g|µg|ml|ui)", s.strip().lower())
        if sm is None or abs(float(sm.group(1).replace(",", ".")) - value) > 1e-9:
            continue
        unit = {"µg": "ug", "ml": "mL", "ui": "[iU]"}.get(sm.group(2), sm.group(2))
        return Quantity(value=value, unit=unit, ucum=True), m.start(1), m.end(1)
    return None


def score_fields(
    drug_score: float, drug_ev: Evidence, fields: Mapping[str, _Field], threshold: float
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


def infer_route(fields: dict[str, _Field]) -> None:
    """The route implied by the form said (:data:`ROUTE_OF_FORM`), when no route was said."""
    if "route" not in fields and "form" in fields:
        form = fields["form"]
        route = ROUTE_OF_FORM.get(str(form.value))
        if route is not None:
            fields["route"] = _Field(route, form.evidence, form.certainty)


def line_fields(fields: Mapping[str, _Field]) -> dict[str, object]:
    """The posology keyword arguments of a :class:`MedicationLine` from the merged fields."""
    as_needed = fields.get("as_needed")
    when = fields.get("when")
    out: dict[str, object] = {
        name: _val(fields, name)
        for name in ("strength", "dose", "form", "route", "frequency", "duration", "max_per_day",
                     "max_per_intake", "min_interval", "quantity_for", "renewals")
    }
    out["when"] = list(when.value) if when is not None else []  # type: ignore[call-overload]
    out["as_needed"] = as_needed is not None
    out["as_needed_condition"] = (as_needed.value or None) if as_needed is not None else None
    return out


def _val(fields: Mapping[str, _Field], name: str) -> object:
    f = fields.get(name)
    return f.value if f is not None else None


def _mg(q: Quantity) -> float | None:
    v = q.value_high or q.value
    return {"mg": v, "g": v * 1000.0, "ug": v / 1000.0}.get(q.unit)


def _per_day(freq: object) -> float | None:
    from schemas.medication import Frequency

    if not isinstance(freq, Frequency):
        return None
    hours = {"h": 1.0, "d": 24.0, "wk": 168.0, "mo": 720.0}[freq.period_unit] * freq.period
    return (freq.count_max or freq.count) * 24.0 / hours


__all__ = ["ExtractorOptions", "RuleBasedExtractor"]
