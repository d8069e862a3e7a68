"""Decide which speaker is the doctor.

Doctor-likeness of a speaker = density of prescribing and posology language ("je vous prescris", "prenez",
"milligrammes", "fois par jour", "take", "twice a day"), of clinical questions ("depuis quand", "avez-vous",
"do you") and of drug-name mentions, per word spoken. The speaker with the highest score is the doctor;
the others are patients. One speaker only: doctor if the score is clearly clinical, else unknown.
``doctor_speaker`` overrides.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Mapping, Sequence

from schemas import Segment, Speaker
from schemas.report import Role

_CUES = [
    # French prescribing / posology
    r"je vous (prescris|prescrit|mets|donne|propose|conseille|renouvelle)", r"\bprescri\w*", r"\bordonnance",
    r"\bprenez\b", r"\bprendre\b", r"\bprendrez\b", r"\barr[eê]tez\b", r"\bcontinuez\b",
    r"\bcomprim[eé]s?\b", r"\bg[eé]lules?\b", r"\bsachets?\b", r"\bbouff[eé]es?\b",
    r"\bmilligrammes?\b", r"\bmg\b", r"\bgrammes?\b", r"fois par (jour|semaine)", r"matin et soir",
    r"\bpendant \w+ (jours|semaines|mois)\b", r"\bpar jour\b", r"\bposologie\b", r"\btraitement\b",
    r"\bsi (besoin|douleur|fi[eè]vre)\b", r"\bsans d[eé]passer\b", r"\bexamen\b", r"\bausculter\b",
    r"\btension\b", r"\bbilan\b",
    # French clinical questions
    r"\bdepuis quand\b", r"\bavez-vous\b", r"\best-ce que vous\b", r"\bvous avez\b.*\?", r"\bqu'est-ce qui\b",
    r"\bo[uù] avez-vous mal\b", r"\bvous prenez\b", r"\ballergi",
    # English
    r"\bi('ll| will| am going to)? ?(prescribe|start you|give you|recommend)\b", r"\bprescri\w*",
    r"\btake\b", r"\btablets?\b", r"\bcapsules?\b", r"\bpuffs?\b", r"\bmilligrams?\b",
    r"\b(once|twice|three times|four times) (a|per) day\b", r"\bfor (a|one|two|\d+) (days?|weeks?)\b",
    r"\bdo you\b", r"\bhave you\b", r"\bhow long\b", r"\bany allerg", r"\bstop taking\b",
]
_CUE_RE = [re.compile(c, re.IGNORECASE) for c in _CUES]


def _norm(text: str) -> str:
    return unicodedata.normalize("NFC", text.lower())


def doctor_scores(segments: Sequence[Segment]) -> dict[str, tuple[float, float]]:
    """speaker -> (score, seconds of speech). Score = cue hits per 100 words + questions per turn."""
    text: dict[str, list[str]] = defaultdict(list)
    seconds: dict[str, float] = defaultdict(float)
    for seg in segments:
        if seg.speaker is None:
            continue
        text[seg.speaker].append(seg.text)
        seconds[seg.speaker] += max(0.0, seg.end - seg.start)
    out: dict[str, tuple[float, float]] = {}
    for spk, parts in text.items():
        joined = _norm(" ".join(parts))
        n_words = max(1, len(joined.split()))
        hits = sum(len(r.findall(joined)) for r in _CUE_RE)
        questions = joined.count("?")
        out[spk] = (100.0 * hits / n_words + 2.0 * questions / max(1, len(parts)), seconds[spk])
    return out


def assign_roles(segments: Sequence[Segment], speakers: Sequence[str], *,
                 doctor_speaker: str | None = None) -> list[Speaker]:
    scores = doctor_scores(segments)
    ids = list(dict.fromkeys([*speakers, *scores.keys()]))
    if doctor_speaker is not None and doctor_speaker not in ids:
        raise ValueError(
            f"--doctor-speaker {doctor_speaker!r} is not a speaker of this recording; "
            f"speakers are: {', '.join(ids) or 'none'}"
        )
    doctor = doctor_speaker
    if doctor is None and ids:
        best = max(ids, key=lambda s: scores.get(s, (0.0, 0.0))[0])
        best_score = scores.get(best, (0.0, 0.0))[0]
        if len(ids) > 1 or best_score >= 3.0:
            doctor = best if best_score > 0 else None
    result = []
    for s in ids:
        score, secs = scores.get(s, (0.0, 0.0))
        role: Role
        if doctor is None:
            role = "unknown"
        else:
            role = "doctor" if s == doctor else "patient"
        result.append(Speaker(id=s, role=role, role_score=round(score, 3), speech_seconds=round(secs, 2)))
    return result


def role_map(speakers: Sequence[Speaker]) -> Mapping[str, Role]:
    return {s.id: s.role for s in speakers}
