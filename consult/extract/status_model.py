"""Status of a medication line (new / renewed / changed / stopped / mentioned) decided by a trained model.

The rules of :mod:`consult.extract.status` read one sentence at a time; a line's status is a decision taken
over the whole exchange ("I take salbutamol" ... "carry on with it"). The model is a multinomial logistic
regression, trained by ``scripts/train_status.py`` on the labelled dev dialogues (benchmarks/devset), over
features of every mention of the drug and of the consultation around them (:func:`line_features`):

- who does what to the drug (:class:`Frame`): the verb it depends on and its kind (prescribe, take, continue,
  change, stop, consider), the agent (I/we, you, someone else), the time (past, present, future, modal,
  imperative) and negation; French from the dependency parse and lemmas of spaCy's ``fr_core_news_sm``
  (loaded once per process, only for the sentences that name a drug), English from the words of the clause
  (no English parser is installable here);
- who says it (doctor / patient / unknown, weighted by the role's confidence: a doctor said with confidence
  0.7 counts 0.7 as doctor and 0.3 as unknown, so the role is evidence, not a veto), who named the drug
  first and whether it was there before any decision, how many times and where in the consultation;
- the rules' own reading (:func:`~consult.extract.status.classify_status` of each mention and of the line,
  and each of their cues on its own: :func:`~consult.extract.status.status_cues`);
- first-person plans ("I'll give you", "je vais vous"), advice ("you can take"), modal or conditional
  wording ("might", "could consider", "if it doesn't settle", "éventuellement"), history ("I took", "j'ai
  pris"), allergy, a posology read with the mention, a later doctor sentence that continues, changes or stops;
- the words before the drug (French: spaCy lemmas).

The coefficients ship as JSON (``consult/data/models/status/status.json``, card in its README.md): prediction
is a dot product, a softmax and the decision of least expected cost (a drug only talked about decided new,
renewed or changed costs most), with no training library. When the file is missing, :func:`decide_status`
keeps the rules' status (and logs it once)."""

from __future__ import annotations

import json
import logging
import math
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

from consult.extract.status import classify_status, continuation_cue, status_cues
from consult.extract.text import fold
from consult.resources import packaged_path
from schemas.medication import MedicationStatus

logger = logging.getLogger(__name__)

MODEL_RESOURCE = "data/models/status/status.json"
"""The bundled model, relative to the ``consult`` package."""
FEATURES_VERSION = 1
"""Version of :func:`line_features`; a model trained on other features is refused."""
SPACY_FR = "fr_core_news_sm"
WINDOW = 4
"""Words before the drug that become features (the words after it did not help in cross-validation)."""
FOLLOW_SENTENCES = 3
"""Sentences after a mention searched for a doctor's continuation cue ("Continuez.")."""

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?|\d+")
_PLAN = re.compile(
    r"\b(?:i'll|i will|i'm going to|i am going to|im going to|i'm gonna|we'll|we will|we're going to|we are going to|"
    r"let's|let me|i'd like (?:you )?to|i would like (?:you )?to|i want you to|i'm (?:just )?going to|"
    r"i'd (?:encourage|recommend|suggest|advise)|i (?:encourage|recommend|suggest|advise)|"
    r"je vais|je vous|on va|nous allons|je (?:te|lui|la|le) |on vous|on (?:le|la|lui) |"
    r"je (?:prescris|mets|donne|propose|renouvelle|prefere))"
)
_ADVICE = re.compile(
    r"\b(?:you can|you could|you should|you need to|you'll need to|you must|you may want to|make sure|"
    r"vous pouvez|vous devez|il faut|il faudra|vous allez|vous prendrez|vous continuez|vous arretez|vous faites)\b"
)
_MODAL = re.compile(
    r"\b(?:might|may|could|would|consider|considering|maybe|perhaps|possibly|potentially|options?|"
    r"in the future|later on|down the line|some people|generally|usually|typically|"
    r"peut etre|eventuellement|pourrait|pourrions|pourriez|pourra|envisager|plus tard|en general|parfois)\b"
)
_CONDITION = re.compile(r"\b(?:if|unless|in case|whether|si|sinon|au cas ou|en cas de|s'il|s'ils)\b")
_HISTORY = re.compile(
    r"\b(?:took|tried|was on|were on|have been|has been|had|used to|before|previously|ago|already|last|"
    r"currently|at the moment|right now|i take|i'm on|i am on|i use|i've been|i was|he takes|she takes|"
    r"started me|put me on|gave me|j'ai pris|j'avais|je prends|je suis sous|j'ai eu|il prend|elle prend|"
    r"deja|depuis|avant|actuellement|en ce moment|habituellement|d'habitude|prenait|preniez|il y a)\b"
)
_ALLERGY = re.compile(r"\b(?:allerg\w*|reaction to|intoleran\w*|react to|supporte pas)\b")
_INSTEAD = re.compile(r"\b(?:instead|rather than|switch\w*|a la place|plutot|remplac\w*)\b")
_MORE_LESS = re.compile(
    r"\b(?:up to|increase|double|higher|more|less|lower|half|reduce|cut down|augment\w*|diminu\w*|baiss\w*|"
    r"moitie|passer a|passe a)\b"
)
_RENEW = re.compile(r"\b(?:repeat|renew\w*|refill|same dose|as before|as usual|comme avant|comme d'habitude|"
                    r"keep|carry on|continu\w*|poursui\w*|garde\w*|maint\w*)\b")
_PRESCRIBE = re.compile(r"\b(?:prescri\w*|ordonnance|prescription|script|pharmacy|pharmacie|chemist)\b")
_FIRST_PERSON = re.compile(r"^(?:\W*(?:um|uh|so|and|yeah|yes|oui|alors|bah|ben|euh)\W+)*(?:i|j'|je|my|mon|ma)\b")

_SIDE = {"doctor": "D", "patient": "P"}

# --------------------------------------------------------------------------- who does what (action frames)
VERB_CLASSES: dict[str, tuple[str, ...]] = {
    "prescribe": ("prescrire", "mettre", "donner", "commencer", "demarrer", "introduire", "proposer", "ajouter",
                  "debuter", "conseiller", "recommander", "prescribe", "give", "start", "put", "add", "recommend",
                  "suggest", "encourage", "offer", "try", "advise", "send"),
    "take": ("prendre", "utiliser", "appliquer", "faire", "mettre", "avaler", "acheter", "take", "use", "apply",
             "have", "be_on", "need", "buy"),
    "continue": ("continuer", "poursuivre", "garder", "maintenir", "renouveler", "reprendre", "rester",
                 "represcrire", "continue", "keep", "carry", "stay", "stick", "renew", "repeat", "restart",
                 "resume"),
    "change": ("augmenter", "diminuer", "baisser", "passer", "remplacer", "changer", "doubler", "modifier",
               "reduire", "monter", "descendre", "increase", "decrease", "reduce", "lower", "raise", "double",
               "halve", "switch", "change", "up", "bump", "cut", "drop", "titrate"),
    "stop": ("arreter", "stopper", "suspendre", "eviter", "cesser", "stop", "discontinue", "avoid", "hold", "quit"),
    "consider": ("envisager", "discuter", "penser", "reflechir", "consider", "think", "discuss", "talk", "look"),
}
"""Verb lemma -> kind of action on a drug (a lemma may say two: "mettre" = prescribe or apply)."""
_VERB_CLASS: dict[str, list[str]] = {}
for _kind, _lemmas in VERB_CLASSES.items():
    for _lemma in _lemmas:
        _VERB_CLASS.setdefault(_lemma, []).append(_kind)

# English surface forms -> (lemma, past): no English parser ships here, so the verb the drug depends on is the
# nearest verb of VERB_CLASSES before it in its clause.
_EN_FORMS: dict[str, tuple[str, bool]] = {}
for _lemma, _forms in {
    "prescribe": "prescribe prescribes prescribing|prescribed", "give": "give gives giving|gave given",
    "start": "start starts starting|started", "put": "put puts putting|", "add": "add adds adding|added",
    "recommend": "recommend recommends recommending|recommended", "suggest": "suggest suggests suggesting|suggested",
    "encourage": "encourage encourages encouraging|encouraged", "offer": "offer offers offering|offered",
    "try": "try tries trying|tried", "advise": "advise advises advising|advised", "send": "send sends sending|sent",
    "take": "take takes taking|took taken", "use": "use uses using|used", "apply": "apply applies applying|applied",
    "have": "having|had", "need": "need needs|needed",
    "continue": "continue continues continuing|continued", "keep": "keep keeps keeping|kept",
    "carry": "carry|carried", "stay": "stay stays staying|stayed", "stick": "stick|stuck",
    "restart": "restart restarts restarting|restarted", "resume": "resume resumes resuming|resumed",
    "bump": "bump bumping|bumped", "cut": "cut cuts cutting|", "drop": "dropping|dropped",
    "titrate": "titrate titrating|titrated", "buy": "buy buys buying|bought",
    "renew": "renew renews renewing|renewed", "repeat": "repeat|repeated",
    "increase": "increase increases increasing|increased", "decrease": "decrease decreasing|decreased",
    "reduce": "reduce reduces reducing|reduced", "lower": "lower lowering|lowered", "raise": "raise|raised",
    "double": "double|doubled", "halve": "halve|halved", "switch": "switch switching|switched",
    "change": "change changing|changed", "stop": "stop stops stopping|stopped",
    "discontinue": "discontinue|discontinued", "avoid": "avoid avoiding|avoided", "hold": "hold|held",
    "quit": "quit quitting|", "consider": "consider considers considering|considered",
    "think": "think thinking|thought", "discuss": "discuss discussing|discussed", "talk": "talk talking|talked",
    "look": "look looking|looked",
}.items():
    _present, _past = _forms.split("|")
    for _form in _present.split():
        _EN_FORMS[_form] = (_lemma, False)
    for _form in _past.split():
        _EN_FORMS[_form] = (_lemma, True)
_FR_IRREGULAR = {
    "prendre": "prends prend prenez prenons prennent pris prise prendre prendrez prendra",
    "reprendre": "reprends reprend reprenez reprenons repris reprise reprendre",
    "mettre": "mets met mettez mettons mis mise mettre mettrai",
    "poursuivre": "poursuis poursuit poursuivez poursuivons poursuivi poursuivre",
    "maintenir": "maintiens maintient maintenez maintenons maintenu maintenir",
    "faire": "fais fait faites faisons faire ferez fera",
    "suspendre": "suspends suspend suspendez suspendu suspendre",
    "introduire": "introduis introduit introduisez introduire",
    "prescrire": "prescris prescrit prescrivez prescrire prescrirai",
    "cesser": "cesse cessez cesser",
    "reflechir": "reflechis reflechit reflechir",
}
_FR_FORMS: dict[str, str] = {}
for _lemma in {x for v in VERB_CLASSES.values() for x in v}:
    if _lemma.endswith("er"):
        _stem = _lemma[:-2]
        for _end in ("e", "es", "ent", "ez", "ons", "e", "ee", "es", "er", "ait", "erai", "erez", "era"):
            _FR_FORMS.setdefault(_stem + _end, _lemma)
for _lemma, _forms in _FR_IRREGULAR.items():
    for _form in _forms.split():
        _FR_FORMS[_form] = _lemma

_EN_AGENT = {"i": "1", "we": "1", "let's": "1", "lets": "1", "you": "2", "he": "3", "she": "3", "they": "3",
             "it": "3", "doctor": "3", "gp": "3", "doc": "3"}
_EN_FUTURE = {"will", "i'll", "we'll", "you'll", "going", "gonna", "i'd", "we'd", "like", "want", "let's", "lets"}
_EN_MODAL = {"can", "could", "might", "may", "would", "should", "must", "shall"}
_EN_PAST = {"was", "were", "been", "did", "have", "has", "had", "i've", "i'd", "used", "ago"}
_EN_NEG = {"not", "don't", "dont", "didn't", "never", "no", "won't", "can't", "haven't", "wouldn't", "shouldn't"}
_CLAUSE_BREAK = re.compile(r"[.;:!?]|,\s*(?:and|but|so|or|because)\b|\b(?:but|because|which)\b")


# --------------------------------------------------------------------------- what the extractor gives
@dataclass(frozen=True)
class Utterance:
    """One sentence of the consultation, as the extractor split it."""

    text: str
    role: str
    """``doctor``, ``patient`` or ``unknown``."""
    role_confidence: float = 1.0
    """How sure the role is (1 for a labelled text transcript; from diarisation otherwise)."""
    drugs: int = 0
    """Drug mentions the extractor found in it."""


@dataclass(frozen=True)
class StatusMention:
    """One mention of the line's drug: the utterance it is in, the drug's characters in that utterance's text,
    the rules' status for it (after their own follow-up adjustments) and whether a posology was read for it."""

    utterance: int
    start: int
    end: int
    status: MedicationStatus
    certainty: float
    posology: bool = False
    clause: tuple[int, int] | None = None
    """The part (start, end) of the utterance's text whose cues are this drug's when it names several drugs
    (:func:`consult.extract.status.drug_clause`: "Stop the simvastatin | and take atorvastatin instead"); None:
    the whole text."""


def mention_clause(u: Utterance, m: StatusMention) -> tuple[str, int]:
    """The text whose status cues are the mention's drug's (its clause, or the whole utterance) and the drug's
    offset in it."""
    if m.clause is None:
        return u.text, m.start
    a, b = m.clause
    return u.text[a:b], m.start - a


@dataclass(frozen=True)
class LineContext:
    """Everything the status of one medication line is decided from."""

    language: str
    mentions: tuple[StatusMention, ...]
    utterances: Sequence[Utterance]
    rule_status: MedicationStatus
    """The rules' status of the line (the last decision among its mentions)."""
    rule_certainty: float


class StatusDecider(Protocol):
    """Decides a line's status and its certainty (0-1) from its :class:`LineContext`."""

    def __call__(self, ctx: LineContext) -> tuple[MedicationStatus, float]: ...


# --------------------------------------------------------------------------- French parse
_FRENCH_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def _load_french() -> Any | None:
    try:
        import spacy

        return spacy.load(SPACY_FR, exclude=["ner"])
    except (ImportError, OSError) as exc:
        logger.warning("status model: %s not available (%s); French parse features left out", SPACY_FR, exc)
        return None


def french_pipeline() -> Any | None:
    """spaCy's ``fr_core_news_sm`` without its entity recogniser, loaded once per process (a second caller
    waits for the first load); None when spaCy or the model is not installed (the French parse features are
    then absent)."""
    with _FRENCH_LOCK:
        return _load_french()


def prepare(language: str) -> None:
    """Load what deciding the status of ``language`` lines needs (the French parser: 4-7 s on 2 cores, the
    most of a French file's first extraction), so that a caller can do it while the recording is transcribed."""
    if language == "fr":
        french_pipeline()


@lru_cache(maxsize=2048)
def parse_french(text: str) -> Any | None:
    """The spaCy ``Doc`` of a French sentence (cached: a sentence naming two drugs is parsed once)."""
    nlp = french_pipeline()
    return nlp(text) if nlp is not None else None


def _morph(tok: Any, key: str) -> str:
    values = tok.morph.get(key)
    return values[0] if values else ""


@dataclass(frozen=True)
class Frame:
    """Who does what to the drug: the verb it depends on (lemma, kinds of :data:`VERB_CLASSES`), its agent
    (``1``: I/we/on, ``2``: you/vous or an imperative, ``3``: someone else, ``none``), its time (``past``,
    ``future``, ``modal``, ``imperative``, ``infinitive``, ``present``) and whether it is negated."""

    verb: str = "none"
    kinds: tuple[str, ...] = ()
    agent: str = "none"
    time: str = "none"
    negated: bool = False
    ceased: bool = False
    """The negation says "no more" ("ne prenez plus", "don't take it anymore", "no longer take"): a stop."""

    def status(self) -> str:
        """What the frame alone says of the drug: ``new`` (someone prescribes it, or tells the patient to take
        it now), ``renewed``, ``changed``, ``stopped``, ``history`` (taken before), ``option`` (could, might,
        consider), ``taking`` (someone takes it), ``negated`` or ``none`` (no verb found)."""
        kinds = set(self.kinds)
        if not kinds:
            return "none"
        if self.time == "past":
            return "history"
        if "stop" in kinds:
            return "renewed" if self.negated else "stopped"  # "don't stop taking it": go on
        if self.negated and self.ceased and "take" in kinds and self.time != "past":
            return "stopped"  # "ne prenez plus d'ibuprofène", "don't take it anymore"
        if self.negated:
            return "negated"
        if "consider" in kinds or self.time == "modal" and self.agent in ("1", "3", "none") and "take" not in kinds:
            return "option"
        if "change" in kinds:
            return "changed"
        if "continue" in kinds:
            return "renewed"
        if "prescribe" in kinds and self.agent != "3":
            return "new"
        if self.agent == "2" and self.time in ("imperative", "modal", "future"):
            return "new"
        return "taking"

    def features(self) -> dict[str, float]:
        out = {f"agent={self.agent}": 1.0, f"says={self.status()}": 1.0, f"time={self.time}": 1.0,
               f"agent={self.agent}&time={self.time}": 1.0}
        if self.verb != "none":
            out[f"verb={self.verb}"] = 1.0
        for kind in self.kinds or ("none",):
            out[f"act={kind}"] = 1.0
            out[f"act={kind}&agent={self.agent}"] = 1.0
            out[f"act={kind}&time={self.time}"] = 1.0
        if self.negated:
            out["negated"] = 1.0
        return out


_EN_SUBJECT_CONTRACTIONS = {"i'll": "1", "i'm": "1", "i've": "1", "i'd": "1", "we're": "1", "we'll": "1",
                            "we've": "1", "you're": "2", "you'll": "2", "you've": "2", "you'd": "2", "he's": "3",
                            "she's": "3", "they're": "3", "he'll": "3", "she'll": "3", "it's": "3"}
_EN_BE = {"i'm", "am", "you're", "are", "he's", "she's", "is", "be", "been", "we're", "was", "were", "they're"}


def english_frame(text: str, start: int) -> Frame:
    """The :class:`Frame` of the drug at ``start`` in an English sentence, from the words of its clause before
    it (the nearest verb of :data:`VERB_CLASSES`, "be on X" included) and the pronoun and auxiliaries before
    that verb."""
    left = fold(text)[:start]
    cut = max((m.end() for m in _CLAUSE_BREAK.finditer(left)), default=0)
    words = _WORD.findall(left[cut:])
    at = -1
    lemma, past = "none", False
    for i in range(len(words) - 1, -1, -1):
        w = words[i]
        if w in _EN_FORMS:
            at, (lemma, past) = i, _EN_FORMS[w]
            break
        if w == "on" and i > 0 and words[i - 1] in _EN_BE:
            at, lemma, past = i, "be_on", words[i - 1] in ("was", "were")
            break
    if at < 0:
        if words[-2:] == ["no", "more"]:  # "no more ibuprofen for you"
            return Frame("stop", ("stop",), "2", "imperative")
        return Frame()
    kinds = list(_VERB_CLASS.get(lemma, ()))
    for w in words[max(0, at - 4) : at]:  # "I'd encourage you to take", "we'll start you on"
        if w in _EN_FORMS:
            kinds += [k for k in _VERB_CLASS.get(_EN_FORMS[w][0], ()) if k not in kinds]
    before = words[max(0, at - 5) : at]
    agent = "none"
    for w in reversed(before):
        if w in _EN_AGENT or w in _EN_SUBJECT_CONTRACTIONS:
            agent = _EN_AGENT.get(w) or _EN_SUBJECT_CONTRACTIONS[w]
            break
    if past and not (set(before) & (_EN_FUTURE | _EN_MODAL)) or set(before) & {"been", "used", "had", "did"}:
        time = "past"
    elif set(before) & _EN_FUTURE or any(w.endswith("'ll") for w in before):
        time = "future"
    elif set(before) & _EN_MODAL:
        time = "modal"
    elif agent == "none" and all(w in ("so", "and", "then", "um", "uh", "ok", "okay", "just", "please", "also",
                                       "now", "well", "yes", "yeah", "right", "alright") for w in words[:at]):
        agent, time = "2", "imperative"
    elif words[at].endswith("ing") and agent == "none":
        time = "infinitive"
    else:
        time = "present"
    no_longer = "no longer" in " ".join(words[max(0, at - 3): at])
    negated = bool(set(before) & _EN_NEG) or no_longer
    after = _WORD.findall(fold(text)[start:])[:6]
    ceased = negated and ("anymore" in after or " any more" in " " + " ".join(after) or no_longer)
    return Frame(lemma, tuple(kinds), agent, time, negated, ceased)


_FR_AGENT = {"je": "1", "nous": "1", "on": "1", "j'": "1", "vous": "2", "tu": "2"}


def french_frame(doc: Any, start: int, end: int) -> Frame:
    """The :class:`Frame` of the drug at ``[start, end)`` from the French dependency parse ``doc``: the verb
    the drug depends on (up to two steps up), the verb governing it ("vous pouvez arrêter", "on va mettre"),
    their subject, mood, tense and auxiliaries."""
    span = doc.char_span(start, end, alignment_mode="expand")
    if span is None or len(span) == 0:
        return Frame()
    tok = span.root
    verb = tok.head
    for _ in range(2):
        if verb.pos_ in ("VERB", "AUX") or verb.head is verb:
            break
        verb = verb.head
    if verb is tok or verb.pos_ not in ("VERB", "AUX") or verb.i > tok.i and _fr_lexical_verb(doc, tok.i):
        return _french_surface_frame(doc, tok.i)
    lemma = fold(verb.lemma_.lower())
    governor = verb.head if verb.dep_ in ("xcomp", "ccomp") and verb.head is not verb else None
    gov_lemma = fold(governor.lemma_.lower()) if governor is not None else ""
    agent, negated, aux, ceased = "none", False, False, False
    for holder in (verb, governor):
        if holder is None:
            continue
        for child in holder.children:
            c = fold(child.lemma_.lower())
            if child.dep_.startswith("nsubj") and agent == "none":
                agent = _FR_AGENT.get(c, "3")
            elif child.dep_ == "aux:tense":
                aux = True
            elif c in ("ne", "pas", "plus", "jamais", "n'"):
                negated = True
                ceased = ceased or c == "plus"
    moods = {_morph(verb, "Mood")} | ({_morph(governor, "Mood")} if governor is not None else set())
    tense = _morph(verb, "Tense")
    if "Imp" in moods:
        time = "imperative"
        agent = "2" if agent == "none" else agent
    elif "Cnd" in moods or gov_lemma in ("pouvoir", "devoir", "falloir", "vouloir"):
        time = "modal"
    elif aux or tense == "Imp" or tense == "Past" and _morph(verb, "VerbForm") != "Part":
        time = "past"
    elif tense == "Fut" or gov_lemma == "aller":
        time = "future"
    elif _morph(verb, "VerbForm") == "Inf":
        time = "infinitive"
    else:
        time = "present"
    kinds = list(_VERB_CLASS.get(lemma, ()))
    kinds += [k for k in _VERB_CLASS.get(gov_lemma, ()) if k not in kinds]
    if "change" in kinds and any(c.dep_ == "obj" and c.i != tok.i and not c.is_ancestor(tok) and c.pos_ == "NOUN"
                                 for c in verb.children):
        # the verb changes something else: "Avec l'Eliquis, les anti-inflammatoires augmentent le risque de
        # saignement" (an effect explained, not a dose changed; "on augmente la dose de Levothyrox" keeps it)
        kinds.remove("change")
    return Frame(lemma, tuple(kinds), agent, time, negated, ceased and negated)


def _fr_lexical_verb(doc: Any, i: int) -> int | None:
    """Index of the nearest token before ``i`` (same clause) that is a form of a verb of VERB_CLASSES."""
    for j in range(i - 1, max(-1, i - 6), -1):
        t = doc[j]
        if t.text in ".;:!?":
            return None
        if fold(t.lemma_.lower()) in _VERB_CLASS or fold(t.text.lower()) in _FR_FORMS:
            return j
    return None


def _french_surface_frame(doc: Any, i: int) -> Frame:
    """A :class:`Frame` from the words before the drug when the parse gives it no verb ("On garde le ...",
    "Prenez du ..." tagged as nouns by the small model)."""
    j = _fr_lexical_verb(doc, i)
    if j is None:
        return Frame()
    t = doc[j]
    form = fold(t.text.lower())
    lemma = fold(t.lemma_.lower())
    lemma = lemma if lemma in _VERB_CLASS else _FR_FORMS.get(form, lemma)
    agent = "none"
    for k in range(j - 1, max(-1, j - 4), -1):
        w = fold(doc[k].text.lower())
        if w in _FR_AGENT:
            agent = _FR_AGENT[w]
            break
    near = [fold(doc[k].text.lower()) for k in range(max(0, j - 3), i)]
    negated = any(w in ("ne", "n'", "pas", "plus") for w in near)
    ceased = negated and "plus" in near
    if form.endswith(("e", "es")) and form[-2:] not in ("ee",) and lemma.endswith("er") and agent == "none":
        time = "present"
    elif form.endswith("ez") and agent == "none":
        agent, time = "2", "imperative"
    elif form.endswith(("é", "e", "is", "it", "u")) and j > 0 and fold(doc[j - 1].lemma_.lower()) in ("avoir",
                                                                                                        "etre"):
        time = "past"
    elif form.endswith(("er", "re", "ir")):
        time = "infinitive"
    else:
        time = "present"
    return Frame(lemma, tuple(_VERB_CLASS.get(lemma, ())), agent, time, negated, ceased)


def frame_of(sentence: str, start: int, end: int, language: str) -> Frame:
    """The :class:`Frame` of the drug at ``[start, end)`` of ``sentence``: French from spaCy's parse (when
    installed), English (and French without spaCy: no frame) from the words of its clause."""
    if language == "fr":
        doc = parse_french(sentence)
        return french_frame(doc, start, end) if doc is not None else Frame()
    return english_frame(sentence, start)


FRAME_DECISIONS = ("new", "renewed", "changed", "stopped")


def frame_status(sentence: str, start: int, end: int, language: str) -> MedicationStatus | None:
    """The decision the drug's frame says by itself ("we'll keep you on X": renewed; "on poursuit le X":
    renewed; "vous pouvez arrêter le X": stopped), or None when it says none (history, an option, someone
    taking it, no verb). The rule extractor uses it where the status rules found no cue."""
    said = frame_of(sentence, start, end, language).status()
    return said if said in FRAME_DECISIONS else None  # type: ignore[return-value]


# --------------------------------------------------------------------------- features
def _role_weights(u: Utterance) -> dict[str, float]:
    """Feature prefix (D doctor, P patient, U unknown) -> weight: a role known with confidence c weighs c
    and the rest goes to unknown."""
    side = _SIDE.get(u.role)
    if side is None:
        return {"U": 1.0}
    c = min(1.0, max(0.0, u.role_confidence))
    return {side: c, "U": 1.0 - c} if c < 1.0 else {side: 1.0}


def _left_words(text: str, start: int, doc: Any | None) -> list[str]:
    """The :data:`WINDOW` words before the drug (French: spaCy lemmas)."""
    if doc is not None:
        left = [fold(t.lemma_.lower()) for t in doc if t.idx + len(t) <= start and not t.is_punct]
    else:
        left = _WORD.findall(fold(text)[:start])
    return left[-WINDOW:]


def mention_features(ctx: LineContext, m: StatusMention) -> dict[str, float]:
    """Features of one mention, whoever says it (:func:`line_features` adds the speaker's copies)."""
    u = ctx.utterances[m.utterance]
    text = u.text
    folded = fold(text)
    out: dict[str, float] = {f"m={m.status}": 1.0}
    # the rules' cues in the drug's own clause: "Stop the simvastatin and take atorvastatin instead" stops one
    clause, at = mention_clause(u, m)
    cue_status, _ = classify_status(clause, drug_start=at, role="unknown", language=ctx.language)
    out[f"cue_status={cue_status}"] = 1.0
    for name, present in status_cues(clause, drug_start=at).items():
        if present:
            out[f"cue:{name}"] = 1.0
    for name, rx in (
        ("plan", _PLAN), ("advice", _ADVICE), ("modal", _MODAL), ("condition", _CONDITION),
        ("history", _HISTORY), ("allergy", _ALLERGY), ("instead", _INSTEAD), ("more_less", _MORE_LESS),
        ("renew", _RENEW), ("prescribe", _PRESCRIBE), ("first_person", _FIRST_PERSON),
    ):
        if rx.search(folded):
            out[f"rx:{name}"] = 1.0
        if rx.search(folded[: m.start]):
            out[f"rx_before:{name}"] = 1.0
    if m.posology:
        out["posology"] = 1.0
    if not _WORD.findall(folded[: m.start])[-2:]:
        out["drug_first"] = 1.0  # "Glucophage mille, matin et soir" : a drug dictated at the start
    if u.drugs > 1:
        out["several_drugs"] = 1.0
    doc = parse_french(text) if ctx.language == "fr" else None
    for w in _left_words(text, m.start, doc):
        out[f"l:{w}"] = 1.0
    frame = frame_of(text, m.start, m.end, ctx.language)
    for name, v in frame.features().items():
        out[f"f:{name}"] = v
    return out


def line_features(ctx: LineContext) -> dict[str, float]:
    """Features of one medication line: each mention's features (:func:`mention_features`) once as they are
    and once under the speaker's prefix (D/P/U, weighted by the role's confidence), the last doctor-side
    mention's again under ``last:``, the rules' line status, who spoke first, counts and positions, and the
    cues of the doctor's sentences that follow a mention. Values lie in [0, 1]."""
    f: dict[str, float] = {}

    def add(name: str, v: float = 1.0) -> None:
        if v > 0 and v > f.get(name, 0.0):
            f[name] = v

    ms = ctx.mentions
    n_utt = max(1, len(ctx.utterances))
    add(f"rule={ctx.rule_status}")
    add("bias_lang=" + ctx.language)
    add("n_mentions", min(len(ms), 6) / 6.0)
    add("single_mention", float(len(ms) == 1))
    add("pos_first", ms[0].utterance / n_utt)
    add("pos_last", ms[-1].utterance / n_utt)
    for side, w in _role_weights(ctx.utterances[ms[0].utterance]).items():
        add(f"first_role={side}", w)
    last_doctor: dict[str, float] | None = None
    sides_seen: dict[str, float] = {}
    for m in ms:
        weights = _role_weights(ctx.utterances[m.utterance])
        mf = mention_features(ctx, m)
        for name, v in mf.items():
            add(name, v)
            for side, w in weights.items():
                add(f"{side}:{name}", v * w)
        for side, w in weights.items():
            sides_seen[side] = sides_seen.get(side, 0.0) + w
        if weights.get("P", 0.0) < 0.5:
            last_doctor = mf
        for cue, weight in _follow_cues(ctx, m).items():
            add(cue, weight)
    for side, count in sides_seen.items():
        add(f"n_{side}", min(count, 4.0) / 4.0)
    # the drug was already there before any decision: the patient named it, or said they take it, first
    actions = [m.status for m in ms if m.status != "mentioned"]
    first_action = next((i for i, m in enumerate(ms) if m.status != "mentioned"), len(ms))
    existing = any(
        ctx.utterances[m.utterance].role == "patient" or m.status == "mentioned" and "?" in ctx.utterances[
            m.utterance].text
        for m in ms[:first_action]
    )
    # "stop taking the X", "keep you on X", "on augmente le X": these verbs presuppose a drug already taken
    presupposed = any(
        ctx.utterances[m.utterance].role != "patient" and m.status in ("renewed", "changed", "stopped")
        for m in ms
    )
    add("presupposed", float(presupposed))
    existing = existing or presupposed
    add("existing", float(existing))
    add(f"existing&rule={ctx.rule_status}", float(existing))
    for a in dict.fromkeys(actions):
        add(f"any={a}")
        add(f"existing&any={a}", float(existing))
    if actions:
        add(f"first_action={actions[0]}")
        add(f"first_action={actions[0]}&rule={ctx.rule_status}")
    add("n_actions", min(len(actions), 4) / 4.0)
    for name, v in (last_doctor or {}).items():
        if not name.startswith(("l:", "r:")):
            add(f"last:{name}", v)
    return f


def _follow_cues(ctx: LineContext, m: StatusMention) -> dict[str, float]:
    """Cues of the (non-patient) sentences after a mention, up to the next drug: "Continuez.", "On arrête."."""
    out: dict[str, float] = {}
    said_by = ctx.utterances[m.utterance].role
    for k in range(m.utterance + 1, min(len(ctx.utterances), m.utterance + 1 + FOLLOW_SENTENCES)):
        u = ctx.utterances[k]
        if u.drugs:
            break
        if u.role == "patient":
            continue
        prefix = "follow_after_patient" if said_by == "patient" else "follow"
        cue = continuation_cue(u.text)
        if cue is not None:
            out[f"{prefix}={cue}"] = 1.0
        folded = fold(u.text)
        if folded.rstrip().endswith("?"):
            out[f"{prefix}_question"] = 1.0
        if _MODAL.search(folded) or _CONDITION.search(folded):
            out[f"{prefix}_modal"] = 1.0
    return out


def stop_said(ctx: LineContext) -> bool:
    """Whether a stop was said in a sentence that names the drug: a mention read as stopped, a stop verb or "no
    more" (:func:`consult.extract.status.status_cues`), or "instead of" ("instead of ibuprofen, take naproxen")."""
    for m in ctx.mentions:
        text, at = mention_clause(ctx.utterances[m.utterance], m)
        if m.status == "stopped" or status_cues(text, drug_start=at)["stopped"] or _INSTEAD.search(fold(text)):
            return True
    return ctx.rule_status == "stopped"


# --------------------------------------------------------------------------- the model
ACTIONS: tuple[MedicationStatus, ...] = ("new", "renewed", "changed")
"""Decisions that put a drug on the prescription: the costliest error is one of these for a drug only talked
about."""


def decision_cost(true: MedicationStatus, decided: MedicationStatus, mentioned_as_action: float) -> float:
    """0 when right, ``mentioned_as_action`` for new/renewed/changed decided for a drug that was only ``mentioned``
    or that was ``stopped`` (both show as a prescription a drug the patient must not be given: the costliest
    errors of this product), else 1."""
    if true == decided:
        return 0.0
    return mentioned_as_action if true in ("mentioned", "stopped") and decided in ACTIONS else 1.0


def expected_cost(probs: Mapping[MedicationStatus, float], decided: MedicationStatus, mentioned_as_action: float
                  ) -> float:
    return sum(p * decision_cost(t, decided, mentioned_as_action) for t, p in probs.items())


def choose_status(probs: Mapping[MedicationStatus, float], rule: MedicationStatus | None = None, *,
                  rule_certainty: float = 1.0, stop_said: bool = True, decision_cost: float = 1.0,
                  override_threshold: float = 0.0, stop_veto: float = 1.0, mention_veto: float = 1.0
                  ) -> MedicationStatus:
    """The status of least expected cost (:func:`decision_cost`; ties: the more probable); the rules' status
    ``rule`` instead when the model's is less probable than ``override_threshold``; and when the rules read a
    stop ("you can stop the ibuprofen now", "arrêtez l'ibuprofène": a stop verb on the drug) another status only
    with at least ``stop_veto`` probability: a stopped drug shown as prescribed is the error that harms, and stops
    are rare in the data the model learns from. Likewise, when the rules read a mention from a cue (certainty
    ``rule_certainty`` above 0.5: the patient speaks, the doctor asks "So you're on amlodipine five milligrams once
    a day?" or rules it out), new, renewed or changed only with at least ``mention_veto`` probability: a phrasing
    the dev set never showed must not turn a question into a prescription (a doctor's mention without any cue,
    certainty 0.5, is the model's to decide). And "stopped" only when a stop was said of the drug (``stop_said``,
    :func:`stop_said`) or it is the model's likeliest status: weighing a stopped drug shown as prescribed so high
    must not make "stopped" the model's hedge for a prescription it is unsure of ("we will get you some
    Ventolin", 23 % stopped). The runtime
    (:meth:`StatusModel.choose`) and the training script decide with this one function."""
    likeliest = max(probs, key=lambda c: probs[c])
    classes = [c for c in probs if stop_said or c != "stopped" or likeliest == "stopped"]
    best = min(classes, key=lambda a: (expected_cost(probs, a, decision_cost), -probs[a]))
    if rule is not None and best != rule and probs[best] < override_threshold:
        return rule
    if rule == "stopped" and best != "stopped" and probs[best] < stop_veto:
        return "stopped"
    if rule == "mentioned" and rule_certainty > 0.5 and best in ACTIONS and probs[best] < mention_veto:
        return "mentioned"
    return best


@dataclass(frozen=True)
class StatusModel:
    """A multinomial logistic regression over :func:`line_features`: ``coef[feature][k]`` is the weight of
    the feature for ``classes[k]``."""

    classes: tuple[MedicationStatus, ...]
    intercept: tuple[float, ...]
    coef: Mapping[str, Sequence[float]]
    meta: Mapping[str, Any]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StatusModel:
        if data.get("features_version") != FEATURES_VERSION:
            raise ValueError(
                f"status model made for features v{data.get('features_version')}, this code computes "
                f"v{FEATURES_VERSION}: retrain it with scripts/train_status.py"
            )
        classes = tuple(data["classes"])
        coef = {k: tuple(float(x) for x in v) for k, v in data["coef"].items()}
        if any(len(v) != len(classes) for v in coef.values()) or len(data["intercept"]) != len(classes):
            raise ValueError("status model: coefficient rows do not match the classes")
        meta = {k: v for k, v in data.items() if k not in ("classes", "intercept", "coef")}
        return cls(classes, tuple(float(x) for x in data["intercept"]), coef, meta)

    @classmethod
    def load(cls, path: str | None = None) -> StatusModel:
        """The model in the JSON file ``path`` (default: the bundled one)."""
        p = packaged_path(MODEL_RESOURCE) if path is None else path
        with open(p, encoding="utf-8") as fh:
            return cls.from_dict(json.load(fh))

    def probabilities(self, features: Mapping[str, float]) -> dict[MedicationStatus, float]:
        scores = list(self.intercept)
        for name, v in features.items():
            row = self.coef.get(name)
            if row is None:
                continue
            for k, c in enumerate(row):
                scores[k] += c * v
        top = max(scores)
        exp = [math.exp(s - top) for s in scores]
        total = sum(exp)
        return {c: e / total for c, e in zip(self.classes, exp, strict=True)}

    @property
    def mentioned_as_action_cost(self) -> float:
        """Cost of deciding new/renewed/changed for a drug only talked about, other errors costing 1."""
        return float(self.meta.get("hyper", {}).get("decision_cost", 1.0))

    @property
    def override_threshold(self) -> float:
        """The model overrides the rules' status only with at least this probability."""
        return float(self.meta.get("hyper", {}).get("override_threshold", 0.0))

    @property
    def stop_veto(self) -> float:
        """The model overrules the rules' ``stopped`` only with at least this probability."""
        return float(self.meta.get("hyper", {}).get("stop_veto", 1.0))

    @property
    def mention_veto(self) -> float:
        """The model turns the rules' ``mentioned`` into new, renewed or changed only with at least this
        probability."""
        return float(self.meta.get("hyper", {}).get("mention_veto", 1.0))

    def choose(self, probs: Mapping[MedicationStatus, float], rule: MedicationStatus | None = None,
               rule_certainty: float = 1.0, stop_said: bool = True) -> MedicationStatus:
        """:func:`choose_status` with the model's decision hyper-parameters."""
        return choose_status(probs, rule, rule_certainty=rule_certainty, stop_said=stop_said,
                             decision_cost=self.mentioned_as_action_cost,
                             override_threshold=self.override_threshold, stop_veto=self.stop_veto,
                             mention_veto=self.mention_veto)

    def decide(self, ctx: LineContext) -> tuple[MedicationStatus, float]:
        """The status (:meth:`choose`) and its certainty: the rules' certainty when the model agrees with them
        (the review flags stay where the rules put them), the model's probability when it overrules them (a
        "status uncertain" review flag below the review threshold)."""
        status, certainty, _ = self.decide_detail(ctx)
        return status, certainty

    def decide_detail(self, ctx: LineContext) -> tuple[MedicationStatus, float, float]:
        """:meth:`decide`, and the model's own probability of the status decided (an evidence of the line's
        calibrated confidence, :mod:`consult.extract.calibration`)."""
        probs = self.probabilities(line_features(ctx))
        best = self.choose(probs, ctx.rule_status, ctx.rule_certainty, stop_said(ctx))
        certainty = ctx.rule_certainty if best == ctx.rule_status else probs[best]
        return best, round(certainty, 3), round(probs[best], 4)

    @property
    def version(self) -> str:
        return str(self.meta.get("version", "unknown"))


@lru_cache(maxsize=1)
def bundled_model() -> StatusModel | None:
    """The bundled :class:`StatusModel`, loaded once; None (rules only) when it is missing or unreadable."""
    try:
        return StatusModel.load()
    except FileNotFoundError:
        logger.warning("status model %s not found: line status from the rules only", MODEL_RESOURCE)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        logger.warning("status model %s unreadable (%s): line status from the rules only", MODEL_RESOURCE, exc)
    return None


def rule_status(ctx: LineContext) -> tuple[MedicationStatus, float]:
    """The rules' decision (:class:`StatusDecider`): the fallback when no model is shipped."""
    return ctx.rule_status, ctx.rule_certainty


def decide_status(ctx: LineContext) -> tuple[MedicationStatus, float]:
    """The line's status and certainty from the bundled model, or from the rules when it is missing: the
    :class:`StatusDecider` every back-end that builds lines from mentions calls."""
    status, certainty, _ = decide_status_detail(ctx)
    return status, certainty


def decide_status_detail(ctx: LineContext) -> tuple[MedicationStatus, float, float | None]:
    """:func:`decide_status`, and the model's probability of the status it decided (None: no model, the
    rules decided)."""
    model = bundled_model()
    if model is None:
        status, certainty = rule_status(ctx)
        return status, certainty, None
    return model.decide_detail(ctx)


__all__ = [
    "ACTIONS",
    "FEATURES_VERSION",
    "MODEL_RESOURCE",
    "bundled_model",
    "choose_status",
    "decide_status",
    "decide_status_detail",
    "decision_cost",
    "english_frame",
    "expected_cost",
    "Frame",
    "frame_of",
    "frame_status",
    "french_frame",
    "french_pipeline",
    "prepare",
    "line_features",
    "LineContext",
    "mention_features",
    "parse_french",
    "rule_status",
    "StatusDecider",
    "stop_said",
    "StatusMention",
    "StatusModel",
    "Utterance",
]
