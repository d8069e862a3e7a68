"""Calibrated line confidence: the probability that a medication line is right, and review flags by risk.

A line is *right* when its drug is a drug of the consultation and every main field (strength, dose, route,
frequency, duration, as needed, status) is what was said (whole-line exact, :func:`consult.scoring.score`).
Every back-end builds its lines with :func:`consult.extract.core.build_line`, which gathers what it knows of
the line into a :class:`LineEvidence` and calls :func:`calibrate`:

- ``confidence`` = the probability, fitted on the labelled dev lines (text transcripts and recordings) by
  ``scripts/train_calibration.py``, that the line is right given its :func:`line_features`: how the drug was
  matched (exact, glued, approximate; the match score), how the recogniser heard the drug and the numbers
  (ASR word probabilities; none for typed text), whether the drug name was put in by the speech stage's
  second pass and that pass's posterior, the certainty of the fields the parser read, whether a posology was
  read, numbers or "as needed" words left unread in the posology's sentences, the number of mentions, the
  status decided and the status model's probability of it, who named the drug and how sure that role is; at
  most :data:`CONFIDENCE_CAP` (0.5 for an unknown drug or an absurd value), and just below the review bar for a
  line a hard reason flags;
- ``needs_review`` = the confidence is below the model's risk threshold (chosen on dev so that 90 % of the
  wrong dev lines are flagged, with as few right ones as possible), or a hard safety reason holds, which
  always flags: an absurd or unusual dose, strength or frequency, a strength no marketed product has, a number
  read from a recogniser homophone, a drug the lexicon does not know, a back-end's own doubt;
- ``review_reasons`` of a flagged line: the hard reasons, the specific soft ones ("dose uncertain (0.38)",
  "drug match uncertain (0.41)") and ``calibrated risk: ...``; a line that is not flagged has none.

The model ships as JSON (``consult/data/models/calibration/calibration.json``, card in its README.md): a
logistic regression over standardised features, optionally followed by an isotonic map; prediction is a dot
product, a sigmoid and a piecewise-linear interpolation, with no training library. When the file is missing or
unreadable, every line keeps the product-of-heuristics confidence of earlier versions and is flagged as
before (any reason flags it).

:func:`reliability` and :func:`flag_shares` summarise (confidence, flagged, right) outcomes for ``consult
eval`` (:func:`consult.scoring.score` fills them)."""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from consult.extract.numbers import HOMOPHONE_CERTAINTY, find_numbers
from consult.extract.text import fold
from consult.resources import packaged_path
from schemas.transcript import Word

logger = logging.getLogger(__name__)

MODEL_RESOURCE = "data/models/calibration/calibration.json"
"""The bundled model, relative to the ``consult`` package."""
FEATURES_VERSION = 1
"""Version of :func:`line_features`; a model trained on other features is refused."""

EXACT_METHODS = frozenset({"exact"})
GLUED_METHODS = frozenset({"glued", "plural", "elided"})
"""Lexicon match methods (:class:`~consult.extract.lexicon.DrugMatch`) that read the name as written, glued
or declined; any other method (phonetic, fuzzy, spelling, confusion, a tagger's or an LLM's) is approximate."""

APPROXIMATE_NAME_METHODS = frozenset({"phonetic", "fuzzy", "spelling", "confusion"})
"""Lexicon and :class:`~consult.extract.names.NameIndex` methods that read a name from a neighbour of what was
written or heard (an LLM's or a tagger's name is grounded by its own checks)."""
HARD_PREFIXES = ("absurd", "unusual", "number homophone", "drug not in the lexicon", "drug name", "number heard",
                 "not marketed")
"""Review reasons that always flag a line, whatever its calibrated confidence."""

_AS_NEEDED_WORDS = re.compile(
    r"\b(?:if (?:you |i |he |she |they )?(?:need|needed)|as needed|when needed|as and when|as required|"
    r"when required|if required|prn|sometimes|occasionally|here and there|now and then|every now|"
    r"if (?:the |it |you |i |my |his |her |she |he |they )|when (?:the |it |you |i |my |his |her |she |he |they )|"
    r"si besoin|au besoin|en cas de|si (?:la |le |les |vous |il |elle |j'|je |ca |c'est )|si necessaire|"
    r"quand (?:vous |j'|je |il |elle |ca )|au moment des?|parfois|de temps en temps)"
)
UNKNOWN_DRUG_CAP = 0.5
"""Highest confidence of a line whose drug the lexicon does not know: no dev line of the rule extractor has one
to fit on, and nothing checks the name."""
CONFIDENCE_CAP = 0.95
"""Highest confidence of any line: the output is a draft a clinician checks, and above this the dev lines are too
few to say how sure a line is (a logistic fit extrapolates past them: a speech line read whole gave 0.98 where the
out-of-fold speech lines never passed 0.9)."""
ABSURD_CAP = 0.5
"""Highest confidence of a line with an absurd value (a dose or strength far above the drug's maximum, reason
"absurd ..."): the value is misread or must be confirmed whatever else the line shows; the dev lines hold too
few of them for the fit to learn it (the "hard" feature mixes them with milder reasons)."""
LOW_WORD_PROBABILITY = 0.5
"""A word heard below this probability counts as poorly heard (:attr:`LineEvidence.sig_asr_low`)."""
PRN_ATC = ("N02", "M01A", "R03AC", "R06A", "A02", "A03", "R05", "N05C", "A06")
"""ATC classes mostly taken when needed (analgesics, NSAIDs, reliever inhalers, antihistamines, antacids,
antispasmodics, cough remedies, hypnotics, laxatives)."""
SUPPLEMENT_ATC = ("A11", "A12", "V06", "V03")
"""Vitamins, minerals, food and other products: often talked about and not a medication line."""


# --------------------------------------------------------------------------- what a back-end knows of a line
@dataclass(frozen=True)
class LineSupport:
    """What a back-end knows of a line beyond its fields, for :func:`consult.extract.core.build_line`."""

    method: str | None = None
    """How the drug was matched (:class:`~consult.extract.lexicon.DrugMatch` ``method``; None: not said)."""
    mentions: int = 1
    """Mentions of the drug merged into the line."""
    status_probability: float | None = None
    """The status model's probability of the status decided (None: the rules or the back-end decided)."""
    speaker_role: str | None = None
    """Role of who named the drug: doctor, patient or unknown (None: not said)."""
    role_confidence: float | None = None
    """How sure that role is (1 for a labelled text transcript; from diarisation for a recording)."""
    drug_words: tuple[Word, ...] = ()
    """The recognised words of the drug's mention (empty for typed text)."""
    sentence_drugs: int = 1
    """Drug mentions in the sentence of the line's main mention (itself included)."""
    sig_word_probabilities: tuple[float, ...] = ()
    """ASR probabilities of the words of the sentences the posology was read from (first-pass and coverage words;
    empty for typed text)."""


@dataclass(frozen=True)
class FieldReading:
    """One field of a line as :func:`line_features` sees it."""

    certainty: float
    asr_probability: float | None
    numeric: bool
    text: str = ""
    """The words that said it."""


@dataclass(frozen=True)
class LineEvidence:
    """Everything a line's calibrated confidence is computed from (built by
    :func:`consult.extract.core.build_line`)."""

    drug_score: float
    method: str
    """exact, glued or approximate (:func:`method_kind`)."""
    known_drug: bool
    speech: bool
    """The line comes from speech recognition (the words have ASR probabilities)."""
    drug_asr: float | None
    """Lowest ASR probability of the drug's words the recogniser heard itself (None: typed text, or only
    second-pass words)."""
    second_pass: bool
    """Some word of the drug was put in by the speech stage's second pass."""
    second_pass_probability: float | None
    """The second pass's posterior for it (the lowest, when several)."""
    fields: Mapping[str, FieldReading]
    status: str
    status_certainty: float | None
    status_probability: float | None
    mentions: int = 1
    speaker_role: str | None = None
    role_confidence: float | None = None
    unread_numbers: int = 0
    """Numbers said in the posology's sentences that no field took."""
    unread_as_needed: bool = False
    """"if needed", "si besoin"... said in the posology's sentences, and the line is not as needed."""
    hard_reasons: tuple[str, ...] = ()
    language: str = "en"
    atc: str | None = None
    """ATC code of the drug (None: not known)."""
    sentence_drugs: int = 1
    """Drug mentions in the sentence of the line's main mention (itself included)."""
    sig_sentences: int = 1
    """Sentences the posology was read from."""
    sig_asr_mean: float | None = None
    """Mean ASR probability of the words of those sentences (None: typed text)."""
    sig_asr_low: float | None = None
    raw_method: str | None = None
    """The finder's own match method ("exact", "phonetic", "confusion", "llm"...)."""
    """Share of those words heard with a probability below :data:`LOW_WORD_PROBABILITY`."""


def method_kind(method: str | None) -> str:
    """``exact``, ``glued`` or ``approximate`` (:data:`EXACT_METHODS`, :data:`GLUED_METHODS`)."""
    if method in EXACT_METHODS:
        return "exact"
    if method in GLUED_METHODS:
        return "glued"
    return "approximate"


def drug_word_evidence(words: Sequence[Word]) -> tuple[float | None, bool, float | None]:
    """(lowest ASR probability of the words the recogniser heard itself, whether some word came from the
    second pass, the lowest second-pass posterior) of a drug's words."""
    heard = [w.probability for w in words if w.origin != "second_pass"]
    second = [w.probability for w in words if w.origin == "second_pass"]
    return (min(heard) if heard else None, bool(second), min(second) if second else None)


def word_quality(probabilities: Sequence[float]) -> tuple[float | None, float | None]:
    """(mean probability, share below :data:`LOW_WORD_PROBABILITY`) of heard words; (None, None) for none."""
    if not probabilities:
        return None, None
    return (sum(probabilities) / len(probabilities),
            sum(p < LOW_WORD_PROBABILITY for p in probabilities) / len(probabilities))


def unread_numbers(sig: str, field_texts: Sequence[str]) -> int:
    """Numbers said in ``sig`` (the posology's sentences) beyond those in the fields' words."""
    said = len(find_numbers(fold(sig)))
    taken = sum(len(find_numbers(fold(t))) for t in field_texts if t)
    return max(0, said - taken)


def unread_as_needed(sig: str, as_needed: bool) -> bool:
    """The posology's sentences say "if needed" (or the like) and the line is not as needed."""
    return not as_needed and _AS_NEEDED_WORDS.search(fold(sig)) is not None


def is_hard_reason(reason: str) -> bool:
    """A review reason that always flags its line (:data:`HARD_PREFIXES`)."""
    return reason.startswith(HARD_PREFIXES)


def hearing_reasons(ev: LineEvidence) -> list[str]:
    """Safety reasons that do not wait for the calibrated risk: a drug name read approximately (a spelling or
    sound neighbour of what was written or heard), a drug name or a number the recogniser heard with a word
    probability below :data:`LOW_WORD_PROBABILITY`. On the dev lines these say little about whether the whole
    line is right (the fit drops them), but a wrong name or number is the costliest error a reader can miss."""
    out: list[str] = []
    if ev.raw_method is not None and ev.raw_method.rsplit("+", 1)[-1] in APPROXIMATE_NAME_METHODS:
        # the finder's method, or a back-end's with it ("tagger+fuzzy": the tagger's span read by the lexicon)
        out.append("drug name read approximately: check it against the audio or the text")
    if ev.speech and ev.drug_asr is not None and ev.drug_asr < LOW_WORD_PROBABILITY:
        out.append(f"drug name heard with low certainty ({ev.drug_asr:.2f})")
    for name, r in ev.fields.items():
        if r.numeric and r.asr_probability is not None and r.asr_probability < LOW_WORD_PROBABILITY:
            out.append(f"number heard with low certainty: {name} ({r.asr_probability:.2f})")
    return out


def always_flag_reasons(ev: LineEvidence) -> list[str]:
    """The reasons that flag the line whatever its calibrated confidence: its hard reasons and
    :func:`hearing_reasons` (what :func:`calibrate` flags on, and what training counts as flagged anyway)."""
    hard = list(ev.hard_reasons)
    return hard + [r for r in hearing_reasons(ev) if r not in hard]


def homophone_reasons(fields: Mapping[str, FieldReading]) -> list[str]:
    """A number read from a recogniser homophone ("de comprimés" -> 2): its field's certainty is at most
    :data:`~consult.extract.numbers.HOMOPHONE_CERTAINTY`."""
    return [f"number homophone: {name} read from {r.text!r}" for name, r in fields.items()
            if r.numeric and r.certainty <= HOMOPHONE_CERTAINTY + 1e-9]


# --------------------------------------------------------------------------- features
FEATURES: tuple[str, ...] = (
    "drug_doubt",
    "method_glued",
    "method_approximate",
    "speech",
    "drug_asr_doubt",
    "second_pass",
    "second_pass_doubt",
    "posology",
    "numeric_fields",
    "numeric_doubt",
    "numeric_asr_doubt",
    "other_fields",
    "other_doubt",
    "unread_numbers",
    "unread_as_needed",
    "log_mentions",
    "status_action",
    "status_doubt",
    "status_rule_doubt",
    "role_patient",
    "role_unknown",
    "role_doubt",
    "hard",
    "french",
    "prn_class_not_prn",
    "supplement",
    "no_atc",
    "action_no_dose",
    "action_no_frequency",
    "other_drugs",
    "sig_sentences",
    "sig_asr_doubt",
    "sig_asr_low",
)
"""The features of :func:`line_features`, in the model's order (each 0 when it does not apply)."""

MONOTONE: dict[str, int] = {
    "drug_doubt": -1,
    "drug_asr_doubt": -1,
    "sig_asr_doubt": -1,
    "second_pass_doubt": -1,
    "numeric_doubt": -1,
    "numeric_asr_doubt": -1,
    "status_doubt": -1,
    "hard": -1,
}
"""The main evidence: the sign the probability of a right line must have in each of these features (-1:
more doubt, less probably right). Training drops a feature whose fitted sign disagrees."""


def line_features(ev: LineEvidence) -> dict[str, float]:
    """The features of one line (:data:`FEATURES`)."""
    numeric = [r for r in ev.fields.values() if r.numeric]
    other = [r for r in ev.fields.values() if not r.numeric]
    numeric_asr = [r.asr_probability for r in numeric if r.asr_probability is not None]
    kind = ev.method
    atc = ev.atc or ""
    action = ev.status != "mentioned"
    return {
        "drug_doubt": 1.0 - max(0.0, min(1.0, ev.drug_score)),
        "method_glued": float(kind == "glued"),
        "method_approximate": float(kind == "approximate"),
        "speech": float(ev.speech),
        "drug_asr_doubt": 1.0 - ev.drug_asr if ev.speech and ev.drug_asr is not None else 0.0,
        "second_pass": float(ev.second_pass),
        "second_pass_doubt": (1.0 - (ev.second_pass_probability or 0.0)) if ev.second_pass else 0.0,
        "posology": float(bool(ev.fields)),
        "numeric_fields": float(len(numeric)),
        "numeric_doubt": 1.0 - min(r.certainty for r in numeric) if numeric else 0.0,
        "numeric_asr_doubt": 1.0 - min(numeric_asr) if ev.speech and numeric_asr else 0.0,
        "other_fields": float(len(other)),
        "other_doubt": 1.0 - min(r.certainty for r in other) if other else 0.0,
        "unread_numbers": float(min(ev.unread_numbers, 4)),
        "unread_as_needed": float(ev.unread_as_needed),
        "log_mentions": math.log(max(1, ev.mentions)),
        "status_action": float(ev.status != "mentioned"),
        "status_doubt": 1.0 - ev.status_probability if ev.status_probability is not None else 0.0,
        "status_rule_doubt": 1.0 - ev.status_certainty if ev.status_certainty is not None else 0.0,
        "role_patient": float(ev.speaker_role == "patient"),
        "role_unknown": float(ev.speaker_role not in ("doctor", "patient")),
        "role_doubt": (1.0 - ev.role_confidence) if ev.role_confidence is not None else 0.0,
        "hard": float(len(ev.hard_reasons) > 0),
        "french": float(ev.language == "fr"),
        "prn_class_not_prn": float(atc.startswith(PRN_ATC) and "as_needed" not in ev.fields),
        "supplement": float(atc.startswith(SUPPLEMENT_ATC)),
        "no_atc": float(not atc),
        "action_no_dose": float(action and "dose" not in ev.fields),
        "action_no_frequency": float(action and "frequency" not in ev.fields and "as_needed" not in ev.fields),
        "other_drugs": float(min(3, max(0, ev.sentence_drugs - 1))),
        "sig_sentences": float(min(4, max(1, ev.sig_sentences))),
        "sig_asr_doubt": 1.0 - ev.sig_asr_mean if ev.speech and ev.sig_asr_mean is not None else 0.0,
        "sig_asr_low": ev.sig_asr_low if ev.speech and ev.sig_asr_low is not None else 0.0,
    }


# --------------------------------------------------------------------------- the model
@dataclass(frozen=True)
class CalibrationModel:
    """Logistic regression over standardised :func:`line_features`, then an optional isotonic map."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    threshold: float
    """A line of typed text whose probability of being right is below this is flagged for review."""
    threshold_speech: float | None = None
    """The same for a line from speech recognition (None: :attr:`threshold`)."""
    isotonic_x: tuple[float, ...] = ()
    isotonic_y: tuple[float, ...] = ()
    meta: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CalibrationModel:
        if int(data.get("features_version", -1)) != FEATURES_VERSION:
            raise ValueError(f"calibration model for features v{data.get('features_version')}, "
                             f"this code computes v{FEATURES_VERSION}")
        feats = tuple(str(f) for f in data["features"])
        unknown = set(feats) - set(FEATURES)
        if unknown:
            raise ValueError(f"calibration model: unknown features {sorted(unknown)}")
        mean, scale, coef = (tuple(float(x) for x in data[k]) for k in ("mean", "scale", "coef"))
        if not len(feats) == len(mean) == len(scale) == len(coef):
            raise ValueError("calibration model: features, mean, scale and coef differ in length")
        iso = data.get("isotonic") or {}
        xs, ys = tuple(float(x) for x in iso.get("x", ())), tuple(float(y) for y in iso.get("y", ()))
        if len(xs) != len(ys) or any(b < a for a, b in zip(xs, xs[1:], strict=False)):
            raise ValueError("calibration model: isotonic x must be sorted and as long as y")
        meta = {k: v for k, v in data.items() if k not in ("features", "mean", "scale", "coef", "intercept",
                                                           "isotonic", "threshold", "threshold_speech")}
        speech = data.get("threshold_speech")
        return cls(feats, mean, scale, coef, float(data["intercept"]), float(data["threshold"]),
                   float(speech) if speech is not None else None, xs, ys, meta)

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.meta,
            "features_version": FEATURES_VERSION,
            "features": list(self.features),
            "mean": list(self.mean),
            "scale": list(self.scale),
            "coef": list(self.coef),
            "intercept": self.intercept,
            "isotonic": {"x": list(self.isotonic_x), "y": list(self.isotonic_y)} if self.isotonic_x else None,
            "threshold": self.threshold,
            "threshold_speech": self.threshold_speech,
        }

    @classmethod
    def load(cls, path: str | None = None) -> CalibrationModel:
        """The model in the JSON file ``path`` (default: the bundled one)."""
        p = packaged_path(MODEL_RESOURCE) if path is None else path
        with open(p, encoding="utf-8") as fh:
            return cls.from_dict(json.load(fh))

    def logistic(self, features: Mapping[str, float]) -> float:
        """The logistic regression's probability (before the isotonic map)."""
        z = self.intercept
        for name, m, s, c in zip(self.features, self.mean, self.scale, self.coef, strict=True):
            z += c * (features.get(name, 0.0) - m) / s
        return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0

    def probability(self, features: Mapping[str, float]) -> float:
        """Probability that the line is right."""
        p = self.logistic(features)
        return interpolate(p, self.isotonic_x, self.isotonic_y) if self.isotonic_x else p

    def threshold_for(self, speech: bool) -> float:
        """The risk threshold of a line from speech (``speech``) or typed text."""
        return self.threshold_speech if speech and self.threshold_speech is not None else self.threshold

    @property
    def version(self) -> str:
        return str(self.meta.get("version", "unknown"))


def interpolate(x: float, xs: Sequence[float], ys: Sequence[float]) -> float:
    """Piecewise-linear interpolation of (xs, ys) at ``x``, constant beyond the ends (as scikit-learn's
    ``IsotonicRegression(out_of_bounds="clip")``)."""
    if x <= xs[0]:
        return ys[0]
    if x >= xs[-1]:
        return ys[-1]
    lo, hi = 0, len(xs) - 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if xs[mid] <= x:
            lo = mid
        else:
            hi = mid
    if xs[hi] == xs[lo]:
        return ys[hi]
    return ys[lo] + (ys[hi] - ys[lo]) * (x - xs[lo]) / (xs[hi] - xs[lo])


@lru_cache(maxsize=1)
def bundled_model() -> CalibrationModel | None:
    """The bundled :class:`CalibrationModel`, loaded once; None when it is missing or unreadable."""
    try:
        return CalibrationModel.load()
    except FileNotFoundError:
        logger.warning("calibration model %s not found: line confidence from heuristics", MODEL_RESOURCE)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        logger.warning("calibration model %s unreadable (%s): line confidence from heuristics", MODEL_RESOURCE,
                       exc)
    return None


# --------------------------------------------------------------------------- the decision
@dataclass(frozen=True)
class Calibrated:
    """A line's calibrated confidence and review decision."""

    confidence: float
    needs_review: bool
    reasons: list[str]


_recording: ContextVar[list[tuple[LineEvidence, Calibrated]] | None] = ContextVar("calibration_recording",
                                                                                   default=None)


@contextmanager
def recording() -> Iterator[list[tuple[LineEvidence, Calibrated]]]:
    """Records the (evidence, decision) of every line :func:`calibrate` decides inside the block, in order
    (the training script reads the features of the lines this way)."""
    record: list[tuple[LineEvidence, Calibrated]] = []
    token = _recording.set(record)
    try:
        yield record
    finally:
        _recording.reset(token)


def calibrate(
    ev: LineEvidence,
    soft_reasons: Sequence[str],
    *,
    heuristic: float,
    model: CalibrationModel | None = None,
    risk_threshold: float | None = None,
) -> Calibrated:
    """The line's confidence and review decision (see the module docstring). ``soft_reasons``: the specific
    reasons that do not always flag ("dose uncertain (0.38)"); ``heuristic``: the product-of-heuristics
    confidence, kept when no model is shipped; ``model``: default the bundled one; ``risk_threshold``: flag
    below this probability instead of the model's own threshold."""
    model = model if model is not None else bundled_model()
    hard = always_flag_reasons(ev)
    if model is None:
        reasons = hard + [r for r in soft_reasons if r not in hard]
        out = Calibrated(max(0.0, min(1.0, round(heuristic, 3))), bool(reasons), reasons)
    else:
        p = model.probability(line_features(ev))
        if not ev.known_drug:
            p = min(p, UNKNOWN_DRUG_CAP)
        if any(r.startswith("absurd") for r in ev.hard_reasons):
            p = min(p, ABSURD_CAP)
        p = min(p, CONFIDENCE_CAP)
        threshold = model.threshold_for(ev.speech) if risk_threshold is None else risk_threshold
        confidence = max(0.0, min(1.0, round(p, 3)))
        risky = confidence < threshold
        flagged = bool(hard) or risky
        reasons = []
        if flagged:
            reasons = hard + [r for r in soft_reasons if r not in hard]
            if risky:
                reasons.append(f"calibrated risk: {1 - confidence:.0%} that a value of this line is wrong "
                               f"(review above {1 - threshold:.0%})")
            else:
                # flagged whatever its risk: the confidence shown stays below the review bar ("needs review" and
                # "sure enough" must not be read together: a name read approximately showed 0.94)
                confidence = max(0.0, round(threshold - 0.001, 3))
        out = Calibrated(confidence, flagged, reasons)
    record = _recording.get()
    if record is not None:
        record.append((ev, out))
    return out


# --------------------------------------------------------------------------- evaluation
@dataclass(frozen=True)
class LineOutcome:
    """One predicted line as scored: its confidence, whether it was flagged, whether it was right."""

    confidence: float
    flagged: bool
    right: bool


@dataclass(frozen=True)
class ReliabilityBin:
    low: float
    high: float
    lines: int
    mean_confidence: float
    share_right: float


def reliability(outcomes: Sequence[LineOutcome], bins: int = 10) -> list[ReliabilityBin]:
    """Lines per equal-width confidence bin (the last one closed), with their mean confidence and the share of
    them that is right; empty bins are left out."""
    out: list[ReliabilityBin] = []
    for k in range(bins):
        lo, hi = k / bins, (k + 1) / bins
        inside = [o for o in outcomes if lo <= o.confidence < hi or (k == bins - 1 and o.confidence == hi)]
        if inside:
            out.append(ReliabilityBin(lo, hi, len(inside), sum(o.confidence for o in inside) / len(inside),
                                      sum(o.right for o in inside) / len(inside)))
    return out


def flag_shares(outcomes: Sequence[LineOutcome]) -> dict[str, Any]:
    """Wrong and right lines, and how many of each are flagged for review; the expected calibration error
    (mean |confidence - share right| over :func:`reliability`'s bins, weighted by lines) and the Brier score."""
    wrong = [o for o in outcomes if not o.right]
    right = [o for o in outcomes if o.right]
    n = len(outcomes)
    ece = sum(b.lines * abs(b.mean_confidence - b.share_right) for b in reliability(outcomes)) / n if n else 0.0
    brier = sum((o.confidence - o.right) ** 2 for o in outcomes) / n if n else 0.0
    return {
        "lines": n,
        "wrong": len(wrong),
        "wrong_flagged": sum(o.flagged for o in wrong),
        "wrong_flagged_share": round(sum(o.flagged for o in wrong) / len(wrong), 4) if wrong else None,
        "right": len(right),
        "right_flagged": sum(o.flagged for o in right),
        "right_flagged_share": round(sum(o.flagged for o in right) / len(right), 4) if right else None,
        "ece": round(ece, 4),
        "brier": round(brier, 4),
    }


def calibration_summary(outcomes: Sequence[LineOutcome]) -> dict[str, Any]:
    """:func:`flag_shares` and the :func:`reliability` table, as JSON-ready values."""
    return {
        **flag_shares(outcomes),
        "reliability": [
            {"bin": f"{b.low:.1f}-{b.high:.1f}", "lines": b.lines, "mean_confidence": round(b.mean_confidence, 4),
             "share_right": round(b.share_right, 4)}
            for b in reliability(outcomes)
        ],
    }


def format_calibration(outcomes: Sequence[LineOutcome]) -> str:
    """The line-level review flags and the reliability table, as text."""
    s = flag_shares(outcomes)
    if not s["lines"]:
        return "line calibration: no predicted lines\n"

    def share(k: str, n: str) -> str:
        return f"{s[k]}/{s[n]}" + (f" = {s[k] / s[n]:.1%}" if s[n] else "")

    rows = [
        f"line review flags: wrong lines flagged {share('wrong_flagged', 'wrong')}; right lines flagged "
        f"{share('right_flagged', 'right')} (a line is right when its drug is labelled and every main field matches)",
        f"line confidence: ECE {s['ece']:.3f}, Brier {s['brier']:.3f}",
        f"{'confidence':<12}{'lines':>7}{'mean conf':>11}{'share right':>13}",
    ]
    for b in reliability(outcomes):
        rows.append(f"{b.low:.1f}-{b.high:.1f}{'':<5}{b.lines:>7}{b.mean_confidence:>11.3f}{b.share_right:>13.3f}")
    return "\n".join(rows) + "\n"


__all__ = [
    "FEATURES",
    "FEATURES_VERSION",
    "HARD_PREFIXES",
    "MODEL_RESOURCE",
    "LOW_WORD_PROBABILITY",
    "MONOTONE",
    "PRN_ATC",
    "SUPPLEMENT_ATC",
    "UNKNOWN_DRUG_CAP",
    "ABSURD_CAP",
    "CONFIDENCE_CAP",
    "Calibrated",
    "CalibrationModel",
    "FieldReading",
    "LineEvidence",
    "LineOutcome",
    "LineSupport",
    "ReliabilityBin",
    "bundled_model",
    "calibrate",
    "calibration_summary",
    "drug_word_evidence",
    "flag_shares",
    "format_calibration",
    "always_flag_reasons",
    "hearing_reasons",
    "homophone_reasons",
    "interpolate",
    "is_hard_reason",
    "line_features",
    "method_kind",
    "recording",
    "reliability",
    "unread_as_needed",
    "unread_numbers",
    "word_quality",
]
