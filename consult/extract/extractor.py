"""Rule-based medication extractor: lexicon matching + posology parser + status rules.

Each drug mention takes the posology of its own sentence and of the following doctor sentences
until the next drug; repeated mentions of the same drug merge into one :class:`MedicationLine`.
Every field carries an :class:`Evidence` (segment, char span, audio time, speaker, ASR probability).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from rapidfuzz import fuzz

from consult.extract.calibration import LineSupport
from consult.extract.core import (
    DrugFinder,
    EvidenceIndex,
    Field,
    Mention,
    PosologyReader,
    Region,
    build_line,
    covered_words,
)
from consult.extract.lexicon import DrugEntry, DrugLexicon, DrugMatch
from consult.extract.names import DrugNameFinder
from consult.extract.posology import Posology, bare_strength, parse_posology, strength_after_form
from consult.extract.status import (
    answer_decides,
    asks_to_go_on,
    classify_status,
    continuation_cue,
    drug_clause,
    elliptic_decision,
    says_yes,
)
from consult.extract.status_model import (
    LineContext,
    StatusDecider,
    StatusMention,
    Utterance,
    bundled_model,
    decide_status,
    decide_status_detail,
    frame_status,
)
from consult.extract.status_model import prepare as prepare_status
from consult.extract.text import fold, key_of, split_sentences, tokenize
from schemas import MedicationLine, ModelInfo, Segment
from schemas.medication import MedicationStatus, Quantity
from schemas.report import Role

logger = logging.getLogger(__name__)

EXTRACTOR_NAME = "consult-rule-based"
EXTRACTOR_VERSION = "1.0"

_SHORT_REPLY_WORDS = 4
_MAX_FOLLOW_SENTENCES = 3


@dataclass(frozen=True)
class ExtractorOptions:
    """Thresholds of the rule-based extractor."""

    review_threshold: float = 0.6
    """A drug match, a number or a status below this certainty is named among a flagged line's review reasons."""
    risk_threshold: float | None = None
    """Flag a line whose calibrated probability of being right is below this (None: the calibration model's
    own threshold, :mod:`consult.extract.calibration`)."""
    max_follow_sentences: int = _MAX_FOLLOW_SENTENCES
    """Doctor sentences after a mention that may complete its posology."""


class StatusDetail(Protocol):
    """Decides a line's status, its certainty and the model's probability of it (None: no model), as
    :func:`~consult.extract.status_model.decide_status_detail` and
    :meth:`~consult.extract.status_model.StatusModel.decide_detail`."""

    def __call__(self, ctx: LineContext) -> tuple[MedicationStatus, float, float | None]: ...


@dataclass(frozen=True)
class _Sentence:
    seg_index: int
    start: int
    end: int
    role: Role
    matches: tuple[DrugMatch, ...]
    question: bool = False
    """The sentence ends with a question mark."""


class RuleBasedExtractor:
    """Medication extractor implementing :class:`consult.interfaces.MedicationExtractor`.

    The steps (mentions per sentence, status, posology of the mention's sentence and of the doctor's
    following sentences, alternatives, merging into lines) take their drugs from ``find_drugs`` (default:
    :class:`~consult.extract.names.DrugNameFinder` over the shipped lexicon; a given ``lexicon``'s own
    :meth:`~consult.extract.lexicon.DrugLexicon.find`) and their posology from ``read_posology``
    (default: :func:`grammar_posology`): another back-end (the tagger) reuses the steps with its own hooks.
    Each line's status is decided over all its mentions by ``decide_line_status`` (default:
    :func:`~consult.extract.status_model.decide_status`, the trained status model, or the rules' status
    when no model is shipped)."""

    def __init__(
        self,
        lexicon: DrugLexicon | None = None,
        options: ExtractorOptions | None = None,
        *,
        find_drugs: DrugFinder | None = None,
        read_posology: PosologyReader | None = None,
        decide_line_status: StatusDecider | None = None,
        status_detail: StatusDetail | None = None,
    ) -> None:
        self.lexicon = lexicon if lexicon is not None else DrugLexicon.load()
        self.options = options or ExtractorOptions()
        if find_drugs is None:
            # the lexicon's names, read in context, and the names the recogniser bent (consult.extract.names)
            find_drugs = DrugNameFinder() if lexicon is None else self.lexicon.find
        self.find_drugs: DrugFinder = find_drugs
        self.read_posology: PosologyReader = read_posology if read_posology is not None else grammar_posology
        self.decide_line_status: StatusDecider = decide_line_status if decide_line_status is not None else decide_status
        if status_detail is None and self.decide_line_status is decide_status:
            status_detail = decide_status_detail
        self.status_detail = status_detail
        """Decides the status with the status model's probability of it (a feature of the line's calibrated
        confidence); used instead of ``decide_line_status`` when set."""

    def prepare(self, language: str) -> None:
        """Load what extracting ``language`` needs and is loaded on first use (the status model's French parser),
        e.g. in a thread while the recording is still being transcribed; extraction works without it."""
        if self.decide_line_status is decide_status:
            prepare_status(language)

    def model_info(self) -> list[ModelInfo]:
        status = "rules"
        if self.decide_line_status is decide_status:
            model = bundled_model()
            status = f"model-{model.version}" if model is not None else "rules"
        return [
            ModelInfo(
                stage="extraction",
                name=EXTRACTOR_NAME,
                version=f"{EXTRACTOR_VERSION}+lexicon{len(self.lexicon.entries)}+status-{status}",
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
        """Medication lines of ``segments``. ``role_confidence`` (speaker -> 0-1, e.g. from diarisation) tells
        the status model how far to trust each speaker's role; a speaker not in it counts as sure."""
        segs = list(segments)
        sentences: list[_Sentence] = []
        pill: DrugEntry | None = None  # the oral contraceptive named last: what "la pilule" stands for
        for i, seg in enumerate(segs):
            role: Role = roles.get(seg.speaker, "unknown") if seg.speaker is not None else "unknown"
            for piece in split_sentences(seg.text):
                matches = tuple(
                    DrugMatch(m.entry, m.start + piece.start, m.end + piece.start, m.score, m.method)
                    for m in self.find_drugs(piece.text)
                    if is_medication_mention(m.entry.name, piece.text, m.entry.atc, said=m.entry.key,
                                             context=segs[i - 1].text if i > 0 else "")
                    and not _after_title(piece.text, m.start)
                )
                named_pill = [m.entry for m in matches if (m.entry.atc or "").startswith(_PILL_ATC)]
                if named_pill:
                    pill = named_pill[-1]
                elif pill is not None:
                    # "Je prends la pilule, Leeloo." ... "Vous continuez la pilule normalement.": the pill named
                    matches = tuple(sorted(
                        (*matches, *(DrugMatch(pill, piece.start + a.start(1), piece.start + a.end(1), 0.9, "anaphora")
                                     for a in _THE_PILL.finditer(piece.text))), key=lambda m: m.start))
                question = piece.text.rstrip().endswith("?") or (
                    role == "patient" and bool(seg.words) and _UNMARKED_QUESTION.search(fold(piece.text)) is not None)
                sentences.append(_Sentence(i, piece.start, piece.end, role, matches, question))
        confidence = role_confidence or {}
        # the status model reads a sentence that names a drug with the words the ASR cut off before it
        prefixes = [self._carried_prefix(sentences, k, segs) if s.matches else "" for k, s in enumerate(sentences)]
        # ... and the words of it the ASR put in the next segment ("... to stop the reaction" + "coming back.")
        suffixes = [self._carried_suffix(sentences, k, segs) if s.matches else "" for k, s in enumerate(sentences)]
        utterances = [
            Utterance(
                prefixes[k] + segs[s.seg_index].text[s.start : s.end] + suffixes[k],
                s.role,
                confidence.get(segs[s.seg_index].speaker or "", 1.0) if s.role != "unknown" else 0.0,
                len(s.matches),
            )
            for k, s in enumerate(sentences)
        ]

        evidence = EvidenceIndex(segs)
        mentions: list[Mention] = []
        for k, sent in enumerate(sentences):
            seg = segs[sent.seg_index]
            first = len(mentions)
            prefix = prefixes[k]
            # the sentence as the status rules read it (with the words the ASR cut off before it) and its names' spans
            said = prefix + seg.text[sent.start : sent.end] + suffixes[k]
            spans = [(len(prefix) + o.start - sent.start, len(prefix) + o.end - sent.start) for o in sent.matches]
            for j, m in enumerate(sent.matches):
                # a second drug of the sentence takes the posology said after its name, and the words
                # between the two names when they say no posology ("Ramipril, and I take some ibuprofen
                # sometimes"): the verb of taking, not the first drug's dose
                region_start = sent.start
                if j > 0:
                    gap = seg.text[sent.matches[j - 1].end : m.start]
                    region_start = sent.matches[j - 1].end if parse_posology(gap).is_empty() else m.start
                region_end = sent.matches[j + 1].start if j + 1 < len(sent.matches) else sent.end
                drug_start = spans[j][0]
                a, b = drug_clause(said, spans, j)
                status, s_cert = classify_status(said[a:b], drug_start=drug_start - a, role=sent.role,
                                                 language=language)
                if status == "changed" and j > 0 and mentions[-1].status == "stopped":
                    # "On arrête le Januvia, et on passe à l'Ozempic": a switch, the drug taken up is new
                    # (benchmarks/LABELLING.md: a switch from A to B is A stopped, B new)
                    status = "new"
                if s_cert <= 0.5 and sent.role != "patient":
                    # no cue of the rules: who does what to the drug ("we'll keep you on X", "on poursuit X"), in
                    # its own clause ("Stop the citalopram and start mirtazapine": the stop is not mirtazapine's)
                    framed = frame_status(said[a:b], drug_start - a, drug_start - a + m.end - m.start, language)
                    if framed is not None:
                        status, s_cert = framed, 0.6
                if sent.role != "patient" and (status == "mentioned" or status == "new" and s_cert <= 0.7):
                    # the doctor's answer names the drug the patient asked to go on with or to stop: "Je peux
                    # continuer ?" "Oui, aucun problème avec le Doliprane."
                    asked = _asked_to_go_on(sentences[max(0, k - 3) : k], segs, m.entry.name)
                    answered = answer_decides(asked, said) if asked is not None else None
                    if answered is not None:
                        status, s_cert = answered, 0.6
                mention = Mention(
                    match=m,
                    seg_index=sent.seg_index,
                    order=len(mentions),
                    status=status,
                    status_certainty=s_cert,
                    evidence=evidence(sent.seg_index, m.start, m.end),
                    sentence=k,
                    clause=(a, b) if len(spans) > 1 else None,
                )
                region = Region(sent.seg_index, region_start, region_end, seg.text, ((m.start, m.end),),
                                asr=bool(seg.words), lead=seg.text[sent.start : region_start])
                self.read_posology(mention, region, evidence)
                mention.sig.append((sent.seg_index, sent.start, sent.end))
                if j + 1 == len(sent.matches):
                    self._follow(mention, sentences, k, segs, evidence)
                # the doctor named it, no cue said what to do (and the sentences after it decided nothing)
                weak_new = status == "new" and s_cert <= 0.5 and mention.status == "new"
                if weak_new and _echoes_patient(said, m.entry.name, sentences[max(0, k - 2) : k]):
                    # "D'accord, trois grammes par jour de Doliprane." after the patient's "je prends du Doliprane
                    # mille trois fois par jour": the doctor repeats what the patient takes
                    mention.status, mention.status_certainty = "mentioned", 0.8
                elif weak_new and not mention.fields:
                    mention.status, mention.status_certainty = "mentioned", 0.5
                elif weak_new and {"dose", "frequency"} & set(mention.fields):
                    # the doctor dictates a drug with its posology ("Omeprazole 20 mg, one capsule a day")
                    mention.status_certainty = 0.7
                mentions.append(mention)
            _share_alternatives(mentions[first:], seg.text)
        starts = [s.start - len(prefixes[k]) for k, s in enumerate(sentences)]
        lines = self._merge(mentions, segs, language, utterances, starts)
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

    @staticmethod
    def _carried_suffix(sentences: list[_Sentence], k: int, segs: list[Segment]) -> str:
        """Text of the next sentence when the ASR cut one sentence into two segments of the same speaker ("I'd
        also like you to take some prednisolone, which is a steroid, to stop the reaction" + "coming back."): it
        may say what a verb of the sentence is about; its question mark is left out (the piece that names the
        drug gives the sentence's mood: "..., instead of ibuprofen, not at the same time," + "and taking that
        regularly with food?" is no question about ibuprofen). Not when the next piece names a drug of its own."""
        if k + 1 >= len(sentences):
            return ""
        sent, nxt = sentences[k], sentences[k + 1]
        own = segs[sent.seg_index].text
        if nxt.seg_index == sent.seg_index or own[sent.end :].strip() or own[sent.start : sent.end].rstrip()[-1:] in (
                ".", "?", "!"):
            return ""
        if nxt.role != sent.role or nxt.matches or segs[nxt.seg_index].speaker != segs[sent.seg_index].speaker:
            return ""
        if segs[nxt.seg_index].text[: nxt.start].strip():
            return ""
        return " " + segs[nxt.seg_index].text[nxt.start : nxt.end].strip().rstrip("?").rstrip()

    def _follow(
        self,
        mention: Mention,
        sentences: list[_Sentence],
        k: int,
        segs: list[Segment],
        evidence: EvidenceIndex,
    ) -> None:
        """Complete ``mention`` (named last in sentence ``k``) from the sentences after it that name no drug: the
        answer to a dose question, the doctor's posology, a decision by a pronoun ("keep taking it") or without
        one ("Vous arrêtez dès aujourd'hui.", "On monte à trois cents milligrammes." after "L'Aprovel, vous êtes à
        cent cinquante ?" "Oui, un comprimé le matin.")."""
        origin = sentences[k]
        taken = 0
        start = k + 1
        strict = False  # after the patient's reply: the doctor's words count only with a decision
        first = sentences[k + 1] if k + 1 < len(sentences) else None
        dose_question = origin.question and _DOSE_QUESTION.search(
            fold(segs[origin.seg_index].text[origin.start : origin.end])) is not None
        if (first is not None and origin.question and not first.matches and first.role != origin.role
                and (dose_question or first.role == "patient")):
            # the answer to a question about the drug, in up to two sentences of one turn: "What dose of metformin
            # are you on?" "500 milligrams twice a day." (whoever answers); "Vous êtes toujours sous Cotareg ?"
            # "Oui, un comprimé le matin."
            for j in range(k + 1, min(k + 3, len(sentences))):
                nxt = sentences[j]
                if nxt.matches or nxt.seg_index != first.seg_index or nxt.question:
                    break
                if self._read_from(mention, nxt, segs, evidence):
                    start, strict = j + 1, True
        asked = origin.question and origin.role != "patient"
        replies = 0
        own = 0
        decided = False
        # the patient's question about going on or stopping ("Je peux continuer ?", "Should I stop it?"): a yes
        # from the doctor is that decision
        pending = asks_to_go_on(segs[origin.seg_index].text[origin.start : origin.end]) \
            if origin.role == "patient" and origin.question else None
        dose_asked = False  # the doctor asked how much of the patient's drug ("Quel dosage ?")
        for idx in range(start, len(sentences)):
            nxt = sentences[idx]
            if nxt.matches or taken >= self.options.max_follow_sentences:
                return
            text = segs[nxt.seg_index].text
            said = text[nxt.start : nxt.end]
            if nxt.role == "patient":
                if origin.role == "patient" and nxt.seg_index == origin.seg_index and nxt.question:
                    pending = asks_to_go_on(said) or pending
                    continue
                if dose_asked and replies < 2:
                    # "Je prends de l'Amlor." "Quel dosage ?" "Le cinq milligrammes, un le matin."
                    replies += 1
                    self._read_from(mention, nxt, segs, evidence)
                    continue
                if origin.role == "patient" and nxt.seg_index == origin.seg_index and own < 2 and not nxt.question:
                    # the patient names the drug, then says how it is taken: "Simvastatin. Forty milligrams, at
                    # night."; "Il a l'Eliquis, pour le cœur. Cinq milligrammes matin et soir." (an amount said: a
                    # frequency alone may be another thing's, "Every two weeks" for the blood tests)
                    own += 1
                    heard = parse_posology(said)
                    if heard.dose is not None or heard.strength is not None:
                        self._read_from(mention, nxt, segs, evidence)
                    continue
                if len(tokenize(said)) <= _SHORT_REPLY_WORDS:
                    if asked and taken == 0 and replies < 2 and says_yes(said):
                        # "Vous prenez toujours votre Amlor ?" "Oui." "Très bien, on continue.": the doctor's
                        # decision that follows is about the drug asked about
                        replies += 1
                        strict = True
                    continue
                if nxt.question and taken > 0 and _HOW_TO_TAKE.search(fold(said)):
                    # "Okay. How do I take that one?": the doctor's answer is the drug's posology
                    continue
                if (asked or strict) and taken == 0 and replies < 2:
                    # the patient answers the doctor's question about the drug; the doctor may decide next
                    replies += 1
                    strict = True
                    continue
                return
            if nxt.role == "unknown" and origin.role != "unknown":
                return
            taken += 1
            folded = fold(said)
            cue = continuation_cue(said)
            elliptic = elliptic_decision(said)
            if origin.role == "patient" and nxt.question and _DOSE_QUESTION.search(folded):
                dose_asked = True
                continue
            if pending is not None and taken == 1 and elliptic is None and cue in (None, pending):
                # "Je peux continuer ?" "Le gel, oui, ça ne pose pas de problème."; "Can I still take my Nurofen?"
                # "I'd rather you didn't, with your kidneys."
                elliptic = answer_decides(pending, said)
            undecided = mention.status == "mentioned" or mention.status == "new" and mention.status_certainty <= 0.5
            if elliptic is not None and undecided:
                # the decision on the drug just talked about, which it does not name
                mention.status, mention.status_certainty = elliptic, 0.6
                mention.decided_by = idx
                decided = True
            if (strict and undecided and not decided and cue in ("renewed", "changed", "stopped")
                    and not nxt.question and len(tokenize(said)) <= 6 and not _MOVES_ON.search(folded)):
                # "Vous prenez toujours le Deroxat ?" "Oui, un le matin." "Bon, on continue comme ça."
                mention.status, mention.status_certainty = cue, 0.6
                mention.decided_by = idx
                decided = True
            if strict and not decided and cue not in ("renewed", "changed", "stopped"):
                continue
            if nxt.question or (origin.role == "patient" and not decided
                                               and cue not in ("renewed", "changed", "stopped")):
                # the doctor asks about the patient's drug, or comments: not a posology for it
                continue
            if (undecided and cue in ("renewed", "changed", "stopped")
                    and _ACTS_ON_IT.search(folded)):
                # "Should I keep taking my aspirin?" "Yes, keep taking it.": the doctor acts on the drug by a
                # pronoun, with no posology to read
                mention.status, mention.status_certainty = cue, 0.6
                mention.decided_by = idx
            if self._read_from(mention, nxt, segs, evidence):
                if (
                    mention.status == "mentioned"
                    and origin.role == "patient"
                    and cue in ("renewed", "changed", "stopped")
                ):
                    mention.status, mention.status_certainty = cue, 0.6
                    mention.decided_by = idx
                elif mention.status == "mentioned" and origin.role != "patient" and cue is not None:
                    # the doctor asks, then acts on the drug asked about ("You're on bisoprolol, 2.5 mg once a
                    # day?" "I'd like to increase that to five milligrams")
                    mention.status, mention.status_certainty = cue, 0.6
                    mention.decided_by = idx

    def _read_from(self, mention: Mention, sent: _Sentence, segs: list[Segment], evidence: EvidenceIndex) -> bool:
        """Read a posology for ``mention`` in ``sent``, a sentence after it that names no drug; True when one was
        read (the sentence then joins the mention's evidence)."""
        seg = segs[sent.seg_index]
        region = Region(sent.seg_index, sent.start, sent.end, seg.text, asr=bool(seg.words))
        if not self.read_posology(mention, region, evidence):
            return False
        mention.sig.append((sent.seg_index, sent.start, sent.end))
        return True

    def _merge(
        self,
        mentions: list[Mention],
        segs: list[Segment],
        language: str,
        utterances: Sequence[Utterance],
        starts: Sequence[int],
    ) -> list[MedicationLine]:
        groups: dict[str, list[Mention]] = {}
        for m in mentions:
            groups.setdefault(_same_substance(m.match.entry.name, m.match.entry.atc, groups), []).append(m)
        _fold_classes(groups, [u.text for u in utterances])
        _fold_components(groups, [u.text for u in utterances])
        lines: list[MedicationLine] = []
        for idx, (name, group) in enumerate(sorted(groups.items(), key=lambda kv: kv[1][0].order), start=1):
            lines.append(self._line(f"med-{idx}", name, group, segs, language, utterances, starts))
        return lines

    def _line(
        self,
        line_id: str,
        name: str,
        group: list[Mention],
        segs: list[Segment],
        language: str,
        utterances: Sequence[Utterance],
        starts: Sequence[int],
    ) -> MedicationLine:
        status: MedicationStatus = "mentioned"
        # the first mention of the line's own name (a class folded into it may come first: "insulin, Lantus")
        primary = next((m for m in group if m.match.entry.name == name), group[0])
        fields: dict[str, Field] = {}
        for m in group:
            action = m.status != "mentioned"
            # a later naming with no cue ("Si un jour l'Aprovel à trois cents ne suffit pas...") does not undo a
            # decision said before ("On monte à trois cents milligrammes.")
            weak = m.status == "new" and m.status_certainty <= 0.5
            if action and not (weak and status != "mentioned" and primary.status_certainty > 0.5):
                status, primary = m.status, m
            for fname, f in m.fields.items():
                if fname not in fields or action or status == "mentioned":
                    fields[fname] = f
                    if fname == "form" and "route" not in m.fields:
                        # "du Profénid en intraveineuse" ... "du kétoprofène en comprimés": the product said
                        # last decides the route (a route said with another form no longer holds)
                        fields.pop("route", None)
        sig_parts: list[str] = []
        for m in group:
            for seg_index, a, b in m.sig:
                text = segs[seg_index].text[a:b].strip()
                if (m.fields or m is primary) and text not in sig_parts:
                    sig_parts.append(text)
        context = LineContext(
            language=language,
            mentions=tuple(
                sm
                for m in group
                for sm in (
                    StatusMention(
                        m.sentence,
                        m.match.start - starts[m.sentence],
                        m.match.end - starts[m.sentence],
                        m.status,
                        m.status_certainty,
                        posology=bool(m.fields),
                        clause=m.clause,
                    ),
                    # the later sentence that decided, as the model's evidence (it names no drug: no span)
                    *((StatusMention(m.decided_by, 0, 0, m.status, m.status_certainty, posology=bool(m.fields)),)
                      if m.decided_by >= 0 else ()),
                )
            ),
            utterances=utterances,
            rule_status=status,
            rule_certainty=primary.status_certainty,
        )
        status_probability: float | None = None
        if self.status_detail is not None:
            status, status_certainty, status_probability = self.status_detail(context)
        else:
            status, status_certainty = self.decide_line_status(context)
        said_by = utterances[primary.sentence] if 0 <= primary.sentence < len(utterances) else None
        support = LineSupport(
            method=primary.match.method,
            mentions=len(group),
            status_probability=status_probability,
            speaker_role=said_by.role if said_by is not None else None,
            role_confidence=said_by.role_confidence if said_by is not None else None,
            drug_words=tuple(covered_words(segs[primary.seg_index], primary.match.start, primary.match.end)),
            sentence_drugs=said_by.drugs if said_by is not None else 1,
            sig_word_probabilities=tuple(
                w.probability
                for seg_index, a, b in dict.fromkeys(s for m in group for s in m.sig)
                for w in covered_words(segs[seg_index], a, b)
                if w.origin != "second_pass"
            ),
        )
        return build_line(
            line_id,
            name=name,
            entry=primary.match.entry,
            drug_score=primary.match.score,
            drug_evidence=primary.evidence,
            fields=fields,
            status=status,
            sig=" ".join(sig_parts),
            threshold=self.options.review_threshold,
            lexicon=self.lexicon,
            language=language,
            status_certainty=status_certainty,
            support=support,
            risk_threshold=self.options.risk_threshold,
        )


def grammar_posology(mention: Mention, region: Region, evidence: EvidenceIndex) -> bool:
    """The rule-based :class:`~consult.extract.core.PosologyReader`: the posology grammar
    (:func:`~consult.extract.posology.parse_posology`) on the region, a bare marketed strength after the
    name ("Doliprane 1000") and a count before it ("deux Doliprane")."""
    a, b, text = region.start, region.end, region.text
    drug_spans = region.drug_spans
    pos: Posology = parse_posology(
        text[a:b], drug_spans=[(s - a, e - a) for s, e in drug_spans], asr=region.asr, lead=region.lead
    )
    if pos.strength is None and drug_spans:
        strength = bare_strength(text, drug_spans[0][1], b, mention.match.entry.strengths) or strength_after_form(
            text, a, b, mention.match.entry.strengths
        )
        if strength is not None:
            q, s0, e0 = strength
            mention.fields.setdefault("strength", Field(q, evidence(region.seg_index, s0, e0), 0.9))
    if pos.dose is None and drug_spans and "dose" not in mention.fields:
        count = _count_before(text, drug_spans[0][0], 0) or _article_before(text, drug_spans[0], 0)
        if count is not None:
            q, s0, e0 = count
            mention.fields["dose"] = Field(q, evidence(region.seg_index, s0, e0), 0.9)
    if pos.is_empty():
        return "strength" in mention.fields or "dose" in mention.fields
    for name, slot in pos.slots().items():
        if name in mention.fields:
            continue
        mention.fields[name] = Field(slot.value, evidence(region.seg_index, a + slot.start, a + slot.end),
                                     slot.certainty)
    return True


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


def _same_substance(name: str, atc: str | None, groups: Mapping[str, list[Mention]]) -> str:
    """The line a mention of ``name`` joins: the line of an earlier name that is the same substance under another
    spelling or as a salt (same full ATC code and "cholécalciférol" / "colécalciférol", "hémifumarate de
    bisoprolol" / "bisoprolol"), else its own."""
    if atc is None or len(atc) != 7 or name in groups:
        return name
    folded = key_of(name)
    for other, group in groups.items():
        if group[0].match.entry.atc != atc:
            continue
        o = key_of(other)
        if fuzz.ratio(folded, o) >= 90 or re.search(rf"\b{re.escape(o)}$", folded) or re.search(
            rf"\b{re.escape(folded)}$", o
        ):
            return other
    return name


_ACKNOWLEDGE = re.compile(
    r"^\W*(?:(?:ok|okay|right|alright|all right|so|d'accord|bien|tres bien|entendu|je vois|donc|ah|oh|hmm|mm|"
    r"uh|um|euh)\b\W*)+"
)


_UNMARKED_QUESTION = re.compile(
    r"(?:^|[,;:] |\b(?:et|mais|alors|and|but|so) )"
    r"(?:est-ce que|est-ce qu'|je (?:le |la |les |l'|en )?(?:peux|pourrais)|(?:can|could|should|shall|may|do) i)\b"
    r"[^,;:]*[.!]?$"
)
"""A patient's sentence from speech whose last clause asks ("J'ai du Toplexil à la maison, je peux le prendre.",
"Je peux continuer."): the recogniser often ends a spoken question with a full stop."""


def _asked_to_go_on(before: Sequence[_Sentence], segs: Sequence[Segment], name: str) -> MedicationStatus | None:
    """What the patient asked of the drug ``name`` right before the doctor's sentence (``before``: the sentences
    just before it, the last one the patient's): "J'ai pris du Doliprane ce matin. Je peux continuer ?" (renewed),
    "Should I stop the ibuprofen?" (stopped); None when the patient's last sentence asks no such thing or the
    patient's turn does not name the drug."""
    if not before or before[-1].role != "patient" or not before[-1].question:
        return None
    last = before[-1]
    turn = [s for s in before if s.seg_index == last.seg_index and s.role == "patient"]
    if not any(o.entry.name == name for s in turn for o in s.matches):
        return None
    return asks_to_go_on(segs[last.seg_index].text[last.start : last.end])


def _echoes_patient(said: str, name: str, before: Sequence[_Sentence]) -> bool:
    """A doctor's sentence that only acknowledges ("OK, ...", "D'accord, ...") and names a drug the patient named
    in one of the two sentences before: a restatement of what the patient takes, not a prescription. Not when the
    patient asked something (the doctor's answer may decide: "Je peux continuer ?")."""
    if _ACKNOWLEDGE.match(fold(said)) is None or any(s.role == "patient" and s.question for s in before):
        return False
    return any(s.role == "patient" and any(o.entry.name == name for o in s.matches) for s in before)


_DOSE_QUESTION = re.compile(
    r"\b(?:what|which) (?:dose|strength|amount)|\bhow (?:much|many|often)\b|\bwhat (?:milligrams|mg)\b|"
    r"\bquelle (?:dose|posologie|quantite)|\bquels? (?:dosages?|milligrammages?)\b|\bwhat dosage\b|"
    r"\bcombien\b|\ba quelle (?:dose|frequence)|\bdose of\b|\bla dose\b"
)
"""A question about how much or how often a drug is taken: its answer is the drug's posology."""
_PILL_ATC = ("G03AA", "G03AB", "G03AC")
"""Hormonal contraceptives for systemic use taken as a pill (ATC G03AA/AB/AC)."""
_THE_PILL = re.compile(r"\b(?:la|votre|ta|sa|ma|cette|the|your|her|my|this)\s+((?:contraceptive\s+)?pill|pilule)\b",
                       re.IGNORECASE)
_HOW_TO_TAKE = re.compile(
    r"\bhow (?:do|should|shall|would|will|can) (?:i|we|he|she) (?:take|use|have)\b|\bhow (?:many|much|often)\b|"
    r"\bwhen (?:do|should) (?:i|we) (?:take|use)\b|\bcomment (?:est-ce qu'on |est-ce que je |je |on |il |elle )?"
    r"(?:le |la |les |l')?(?:prend|utilise|donne)|\bcombien\b|\bje (?:le |la |les |l')?(?:prends|donne) comment\b|"
    r"\bquand (?:est-ce que )?(?:je|il|elle) (?:le |la |les |l')?(?:prend|donne)"
)
"""A patient's question about how to take the drug the doctor has just named ("How do I take that one?",
"Je le prends comment ?")."""
_ACTS_ON_IT = re.compile(
    r"\b(?:keep|continue|carry on|stay|stop|come off|increase|reduce|lower|double|halve|put|bump|cut|drop)\w*\s+"
    r"(?:(?:taking|using|with|on)\s+)?(?:it|them|those|that one)\b|"
    r"\b(?:le|la|les|l')\s*(?:continu|gard|pren|repren|arret|maint|poursui|augment|diminu|baiss|reduis|reduir|"
    r"double)\w*|"
    r"\b(?:continu|gard|pren|arret|poursui|augment|diminu|baiss)\w*-(?:le|la|les)\b"
)
"""A doctor's sentence that acts on a drug named before by a pronoun ("keep taking it", "stop them", "vous le
continuez", "arrêtez-la")."""


def _fold_classes(groups: dict[str, list[Mention]], sentences: Sequence[str]) -> None:
    """A class said as one drug ("l'insuline", "insulin": ATC A10A) with a drug of that class named in the same
    consultation ("she's on insulin, Lantus") is that drug: each of its mentions joins the line of the class
    member named nearest to it. Only a class merely talked about is folded: one prescribed or given a posology is
    a line of its own ("penicillin or amoxicillin for 10 days": two alternatives), and so is an allergy
    ("allergique à la pénicilline" stays its own line beside an amoxicilline prescription: the pharmacist must see
    both)."""
    for name, group in list(groups.items()):
        atc = group[0].match.entry.atc
        if atc is None or len(atc) >= 7:
            continue
        members = [o for o, g in groups.items() if o != name and (g[0].match.entry.atc or "").startswith(atc)
                   and len(g[0].match.entry.atc or "") == 7]
        if not members or any(m.status != "mentioned" or _line_of_its_own(m, sentences) for m in group):
            continue
        del groups[name]
        for m in group:
            target = min(members, key=lambda o: min(abs(x.order - m.order) for x in groups[o]))
            groups[target] = sorted([*groups[target], m], key=lambda x: x.order)


def _line_of_its_own(mention: Mention, sentences: Sequence[str]) -> bool:
    """A mention that keeps its own line whatever it is said with: given an amount of its own (a dose, a
    frequency...), or said in an allergy ("allergique à la pénicilline": the pharmacist must see it apart)."""
    return bool(_POSOLOGY_AMOUNTS & set(mention.fields)) or (
        0 <= mention.sentence < len(sentences) and _ALLERGY_CUE.search(key_of(sentences[mention.sentence])) is not None
    )


def _fold_components(groups: dict[str, list[Mention]], sentences: Sequence[str]) -> None:
    """A substance named after a combination product that holds it ("Du Dolirhume." ... "Le Dolirhume, il y a
    dedans de la pseudoéphédrine. [...] Vous arrêtez dès aujourd'hui.") is that product: its mentions join the
    product's line, when it is only talked about or stopped (prescribed, or with an amount of its own, it is a
    line of its own: "du paracétamol tout seul, un à deux comprimés") and one product of the consultation holds
    it. Without this the product's line lost its stop to a second line the labels do not hold."""
    def squash(name: str) -> str:
        return key_of(name).replace(" ", "")

    for name, group in list(groups.items()):
        if " + " in name:
            continue
        hosts = [o for o, g in groups.items() if " + " in o and g[0].order < group[0].order
                 and squash(name) in {squash(c) for c in o.split(" + ")}]
        if len(hosts) != 1 or any(
            # a change with nothing to change to is a cue misread ("ça peut faire monter la tension")
            m.status in ("new", "renewed") or m.status == "changed" and m.fields or _line_of_its_own(m, sentences)
            for m in group
        ):
            continue
        del groups[name]
        groups[hosts[0]] = sorted([*groups[hosts[0]], *group], key=lambda x: x.order)


_MOVES_ON = re.compile(
    r"\b(?:on continue|continuons|let's (?:carry on|continue|move on)|we'll (?:carry on|continue|move on)|"
    r"carry on|continue)\s+(?:l'(?!on\b)|le (?!traitement|meme)|la (?!meme)|les |"
    r"avec (?!ca|cela|lui|elle|le traitement)|"
    r"with (?!that|it|them|those|this|the same|your (?:tablets?|medication|treatment))|on to|par |sur |the |your )"
)
"""The doctor moving on with the consultation ("on continue l'examen", "let's carry on with the examination"),
not a decision on the drug just talked about."""
_POSOLOGY_AMOUNTS = frozenset({"strength", "dose", "frequency", "duration", "as_needed", "max_per_day"})
"""Fields that make a class mention a posology of its own (a time of day or a form alone does not: "de l'insuline
aux repas, comme ma femme" is still talk about the class)."""


_ALTERNATIVE = re.compile(r"\s*,?\s*(?:or|or else|ou|ou bien|ou alors)\s*,?\s*", re.IGNORECASE)


def _share_alternatives(sentence_mentions: list[Mention], text: str) -> None:
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


def is_medication_mention(
    name: str, sentence: str, atc: str | None = None, *, said: str | None = None, context: str = ""
) -> bool:
    """False for street drugs and vaccines (FHIR Immunization, not MedicationRequest), and for
    body-chemistry substances and class-like names said without a medication cue ("the adrenaline was
    pumping"). A class-like name said as an allergy, in the sentence or in answer to ``context`` (the turn
    before: "Any allergies?" "Just penicillin."), is a mention, unless the sentence denies it ("he doesn't have
    a penicillin allergy")."""
    key = key_of(name)
    if key in RECREATIONAL or (atc or "").startswith("J07"):
        return False
    # the name as said: "EpiPen" is a medicine even though "adrenaline" alone may be the hormone
    said_key = key_of(said) if said else key
    class_like = said_key in CLASS_LIKE or said_key.rstrip("s") in CLASS_LIKE
    if class_like and _ALLERGY_CUE.search(key_of(f"{context} {sentence}")):
        return _DENIED.search(key_of(sentence)) is None
    if said_key in PHYSIOLOGICAL or class_like:
        return _MEDICATION_CUE.search(key_of(sentence)) is not None
    return True


_ALLERGY_CUE = re.compile(
    r"\b(?:allerg\w*|rash|rashes|hives|anaphyla\w*|intoleran\w*|urticaire|eruption|reaction allergique)\b"
)
_DENIED = re.compile(r"\b(?:no|not|doesn t|don t|isn t|aren t|never|without|pas|aucune?|sans|ni)\b")


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


_ARTICLE_BEFORE = re.compile(r"\b(an?)\s+$", re.I)
# one intake, said with "take" or "took" ("taking a Ramipril", "I use an insulin pump", "used to take" are a treatment)
_INTAKE_BEFORE = re.compile(r"(?<!used to )\b(?:take|took|pop|popped)\b(?:(?!\b(?:and|but|or|because|if)\b)[^.;!?])*$",
                            re.I)
_PRODUCT_AFTER = re.compile(
    r"\s*(?:[a-z]+\s+)?(?:inhalers?|tablets?|pills?|capsules?|prescriptions?|course|cream|gel|ointment|patch|"
    r"spray|injection|shot|script|dose|drip|infusion|liquid|syrup|suspension|solution|drops?|based|type|like|"
    r"derivative|allergy|reaction|cold|flu|sinus|night|extra|plus|max|strength|junior|infant|children)\b",
    re.I,
)


def _article_before(text: str, drug: tuple[int, int], limit: int) -> tuple[Quantity, int, int] | None:
    """"I took a Tylenol", "I'll take an Advil": in English, an article right before the product name after a
    verb of taking is one dose (the French "un Doliprane" is a count of :func:`_count_before`). Not when a
    form or another noun follows the name ("an amoxicillin prescription", "a salbutamol inhaler")."""
    drug_start, end = drug
    off = max(limit, drug_start - 6)
    m = _ARTICLE_BEFORE.search(text[off:drug_start])
    if m is None:
        return None
    if not _INTAKE_BEFORE.search(text[max(limit, drug_start - 60) : drug_start]):
        return None
    if _PRODUCT_AFTER.match(text, end):
        return None
    return Quantity(value=1, unit="dose"), off + m.start(1), off + m.end(1)


__all__ = ["ExtractorOptions", "RuleBasedExtractor", "StatusDetail", "grammar_posology", "is_medication_mention"]
