"""Status of a drug mention (new / renewed / changed / stopped / mentioned) from its sentence and
the speaker's role. A patient saying "je prends du Doliprane" is never a prescription."""

from __future__ import annotations

import re
from collections.abc import Sequence

from consult.extract.numbers import find_numbers
from consult.extract.text import fold
from schemas.medication import MedicationStatus

_STOPPED = re.compile(
    r"\b(arretez|arreter|arrete|on arrete|stoppez|stopper|ne prenez plus|n'en prenez plus|"
    r"suspend(?:ez|re|s)?|stop(?:s|ping)? (?:taking|the|your|it)|stop\b|discontinue|come off|"
    r"no longer take|(?:don't|do not|not to|not) take (?:[\w']+\s+){0,2}?any ?more|no more(?! than)|"
    r"(?:don't|do not|not to|never) take (?:it|them|that|those|[\w']+) again|"
    r"(?:^|[.,;:!?]\s*)(?:et |mais |donc |alors )?plus d(?:e |u |es |')(?!\s*(?:\d|un |une |deux|trois|quatre|cinq))|"
    r"n'(?:avez|aurez|a|aura) plus besoin d|n'en (?:avez|aurez) plus besoin|no longer need|"
    r"(?:take|taking|get|getting|come|coming) (?:you |him |her |them )?off|hold off on|"
    r"(?:rather|prefer(?: it if)?|like it if) (?:you|he|she|they) (?:came|come|went|go) off|"
    r"laiss\w* (?:tomber|(?:[\w']+ ){0,3}?de cote)|"
    r"(?:don't|do not|never|please don't) (?:re-?start|resume|go back on)|"
    r"ne (?:lui |leur )?(?:en |le |la |les |l')?(?:reprenez|recommencez|redonnez) (?:pas|plus))"
)
_NEGATED_STOP = re.compile(
    r"\b(?:(?:don't|dont|do not|never|mustn't|must not|shouldn't|should not|won't|will not|not to)\s+"
    r"(?:\w+\s+){0,2}?(?:stop|discontinue|come off|give up)|"
    r"n'(?:arretez|arrete|arretons|interrompez|stoppez|suspendez)\s+(?:\w+\s+)?(?:pas|jamais)|"
    r"ne (?:l'|les |le |la )?(?:arretez|arrete|arretons|interrompez|stoppez|suspendez)\s+(?:\w+\s+)?(?:pas|jamais)|"
    r"(?:ne )?(?:pas|jamais|surtout pas) (?:l'|les |le |la )?(?:arreter|interrompre|stopper|suspendre)|"
    r"sans (?:l'|les |le |la )?(?:arreter|interrompre))"
)
"""A stop said in the negative ("don't stop taking it", "n'arrêtez pas le ramipril", "il ne faut surtout pas
arrêter le Kardégic"): the doctor tells the patient to go on, the opposite of a stop."""
_CHANGED = re.compile(
    r"\b(on (?:le |la |les |l')?passe a|passer a|passez a|on (?:l')?augmente|augmentez|augmenter|"
    r"on (?:la |le |les |l')?diminue|diminuez|diminuer|on (?:la |le |les )?baisse|baissez|remplac\w*|"
    r"on change|changer|on modifie|a la place|"
    r"on reduit|reduisez|reduire|on (?:re)?monte|montez|monter|on descend|descendez|descendre|on double|doublez|"
    r"increase|decrease|reduce|lower|raise|switch(?:ing)? (?:you )?to|change (?:you )?to|instead|titrat\w*|"
    r"halve|double (?:the|your|it)|(?:'ll|will|let's|to) up (?:your|the|his|her)|"
    r"(?:bump|put|go|going|push) (?:\w+ ){0,3}?up|(?:cut|drop|bring|come|go) "
    r"(?:\w+ ){0,3}?(?:down|back) (?:to|a bit|a little))\b"
)
_RENEWED = re.compile(
    r"\b(on continue|continuez|continuer|je (?:vous )?renouvelle|renouvel\w*|on garde|gardez|poursuivez|"
    r"poursuivre|on maintient|keep (?:taking|on|using)|continue|carry on|renew\w*|repeat prescription|"
    r"(?:keep|leave) (?:you|him|her|them) on|stay on|(?:je vous|on vous|je te|on te) (?:laisse|garde|maintiens?) "
    r"sous|restez sous|restart\w*|resum(?:e|ing) (?:the|your|taking)|(?<!en )reprenez|(?<!en )reprendre|"
    r"on reprend|re-?prescri\w*|(?:je vous|on vous|on) laisse (?:le|la|les|l')(?!(?:[\w']+ ){0,3}?de cote)|"
    r"on reste (?:a|sur|sous)|restez (?:a|sur)|"
    r"refill (?:your|the|his|her|it|them)|refilling|keep going with|"
    r"(?:je vous|on vous|je te|on te) remets?|on (?:le |la |les |l')?remet|remettre|"
    r"put (?:you|him|her|them) back on|back on (?:the|your|his|her))\b"
)
_NEW = re.compile(
    r"\b(je vous (?:prescris|prescrit|mets|donne|propose|fais une ordonnance)|"
    r"je vais vous (?:prescrire|mettre|donner)|"
    r"on (?:va )?(?:commence|commencer|demarre|mettre|met|part sur|introduit)|prescri\w*|ordonnance|"
    r"prenez|prendrez|prendre|vous allez prendre|mettez|appliquez|faites|"
    r"i(?:'ll| will| am going to|'m going to) (?:prescribe|start|give|put)|prescribe|start (?:you )?on|"
    r"take|use|apply|try|give you|giving you|(?:get|getting) (?:you|him|her) (?:some|a|an|started|on)|"
    r"(?:you can|you could) (?:buy|get|pick up)|"
    r"vous pouvez (?:acheter|en acheter|prendre|lui donner|lui en donner)|achetez|donnez(?:-lui|-leur)?|"
    r"(?:you can|you could) give (?:him|her|them)|give (?:him|her|them) (?:some|a|an)|"
    r"(?:on|je|j') ?(?:r?ajoute|va r?ajouter|vais (?:vous )?r?ajouter)|ajoutez|(?:i'll|we'll|let's|i will|we will) add|"
    r"(?:i'd|i would) (?:like to )?add|adding|(?:et|puis|and) (?:mettre|donner|prescrire|commencer|demarrer))\b"
)
_NEGATION = re.compile(
    r"\b(pas d'|pas de|jamais d[e']|aucun|sans|don't take|do not take|not take|no|never|avoid|evitez|"
    r"eviter|ne prenez pas|pas pris|not taking|haven't|didn't)\s*(?:[\w']+\s*){0,2}$"
)
_DECLARATIVE_TAKE = re.compile(r"^(?:vous prenez|you take|you'll take|you will take)\b")
_UNCHANGED = re.compile(
    r"\b(on ne change rien|ne changez rien|on ne touche (?:pas|a rien)|sans changement|no change to|"
    r"leave (?:the|your|that|it|them|this) (?:\w+ )?(?:as it is|as they are|unchanged|alone)|tel quel|telle quelle|"
    r"(?:reste|restent) (?:a (?:\d|un|une|deux|trois|quatre|cinq|six|sept|huit|neuf|dix|douze|quinze|vingt|trente|"
    r"quarante|cinquante|soixante|cent|mille)|a la meme dose|au meme dosage|le meme|la meme|pareil|comme (?:avant|ca))|"
    r"stays? (?:the same|at|as (?:it is|before))|"
    r"(?:same|unchanged) dose)\b"
)
"""An unchanged treatment: the doctor keeps it as it is ("on ne touche pas au Lasilix", "the warfarin stays the
same", "let's leave that as it is"): a continuation (benchmarks/LABELLING.md: continues a current drug)."""
_QUESTION_START = re.compile(
    r"^(?:est-ce que|est ce que|avez-vous|avez vous|prenez-vous|prenez vous|vous avez pris|"
    r"do you|did you|are you|have you|any|what|quel|quels|quelle)\b"
)


_RENEWALS_COUNT = re.compile(
    r"\b(?:a renouveler|renouvelables?|a renouveller)\s+(?:\d+|une|un|deux|trois|quatre|cinq|six)\s+fois\b"
)
_PURPOSE_STOP = re.compile(
    r"\b(?:to|will|would|should|can|helps?(?: to)?|which|that|it'll|pour|qui|ca va|ca)\s+"
    r"(?:stop|stops|arreter|arrete|arretera)\s+(?:the |it |them |your |le |la |les |l')?(?:[\w']+\s+){0,3}?"
    r"(?:coming back|from \w+ing|getting worse|happening|spreading|recurring|returning|de revenir|de recommencer|"
    r"de s'aggraver|de saigner)\b"
)
"""What a drug is for, said with a stop verb ("prednisolone ... to stop the reaction coming back", "pour arrêter
la crise de revenir"): not a stop of the drug."""


def _cue_text(folded: str) -> str:
    """``folded`` with the phrases that look like cues and are not blanked out (same length): renewal counts of a
    new prescription ("à renouveler 2 fois"), what a drug is for ("to stop the reaction coming back")."""
    for rx in (_RENEWALS_COUNT, _PURPOSE_STOP, _END_OF_COURSE):
        folded = rx.sub(lambda m: " " * len(m.group(0)), folded)
    return folded


_END_OF_COURSE = re.compile(
    r"\b(?:(?:and|et) )?(?:then|puis|ensuite|after that|apres (?:ca|cela))[, ]+"
    r"(?:you (?:can |should |will |may )?|vous (?:pouvez |pourrez |devez )?|on |tu )?"
    r"(?:stop(?:ping)?|arretez|arreterez|arreter|arrete|arret|arretes)"
    r"(?: (?:it|them|taking it|taking them|le traitement|tout|la|le|les))?(?=\s*(?:[.,;:!?]|$))"
)
"""The end of a course said after it ("for five days and then stop", "pendant cinq jours, puis vous arrêtez",
"Ensuite, vous arrêtez."): the drug is prescribed for that long, not stopped (a stop that names what it stops,
"then stop the ibuprofen", is one)."""


_GIVEN = re.compile(
    r"\b(?:give|giving|prescribe|prescribing|start|try|put you on|switch you to|je vous (?:prescris|donne|mets)|"
    r"on (?:va )?(?:mettre|donner|prescrire)|je vais vous (?:prescrire|donner|mettre))\b"
)
_INSTEAD = re.compile(r"\b(?:instead(?: of \w+)?|a la place(?: d[eu] \w+)?)\b")
_INSTEAD_OF = re.compile(
    r"\b(?:instead of|rather than|a la place d(?:e |u |es |')|au lieu d(?:e |u |es |'))\s*"
    r"(?:(?:the|your|his|her|le|la|les|votre|vos|son|sa|ses) |l')?$"
)
"""The words before a drug that another replaces: "instead of the ibuprofen", "au lieu du Doliprane"."""
_AFTER_ANOTHER = re.compile(r"\s*(?:,|;|and\b|then\b|et\b|puis\b)")
"""A drug's clause that starts after another drug's (:func:`drug_clause`): "Stop the simvastatin | and take
atorvastatin instead" (the drug given in the other's place is new)."""
_REPLACE = re.compile(
    r"\b(?:remplac\w*|replac\w*|swap\w*)\b.*?\b(?P<by>par|with|by|for)\b|"
    r"\bswitch\w* (?:you |him |her )?from\b.*?\b(?P<to>to)\b"
)
"""A drug replaced by another: "Le Tramadol, on le remplace par du Doliprane codéiné", "replace the naproxen with
paracetamol", "switch you from warfarin to apixaban" (the first is stopped, the second new)."""


_REFUSED = re.compile(
    r"\b(?:can't|cannot|can not|won't|will not|wouldn't|would not|not going to|don't want to|do not want to|"
    r"shouldn't|should not|not able to)\s+(?:[\w']+\s+){0,3}?(?:give|prescribe|start|put|recommend|renew|repeat|"
    r"offer)\b|"
    r"\bne (?:vous |te |lui )?(?:peux|peut|pourrai|vais|veux|souhaite|prefere)\s+pas\s+(?:vous\s+|te\s+|lui\s+)?"
    r"(?:\w+\s+)?(?:prescrire|donner|mettre|renouveler|represcrire|proposer)|"
    r"\b(?:je|on) ne (?:vous |te |lui )?(?:prescris|prescrit|donne|mets|renouvelle|propose)\s+pas\b"
)
"""The doctor declines to give the drug named after ("So I can't give you a repeat of the Microgynon", "je ne
peux pas vous prescrire d'antibiotique"): a mention, never a prescription."""


_DEFERRED = re.compile(
    r"\b(?:on pourra(?:it)?|nous pourrons|nous pourrions|on (?:en )?(?:reparlera|rediscutera|verra))\s+"
    r"(?:(?:peut-etre|eventuellement|alors|ensuite|plus tard|toujours)\s+)?(?:discuter|parler|reparler|envisager|"
    r"reflechir|penser)\b|"
    r"\bwe (?:could|might|may|can) (?:then |later |always )?(?:consider|discuss|talk about|think about|look at)\b"
)
"""A drug talked about as a possibility for later ("on pourra discuter de la prégabaline, mais pas maintenant",
"we could consider a statin if it stays high"): a mention, not a prescription."""


def classify_status(
    sentence: str, *, drug_start: int, role: str, language: str = "fr"
) -> tuple[MedicationStatus, float]:
    """Status of the drug at ``drug_start`` in ``sentence`` and a certainty (0-1).

    ``role`` is ``doctor``, ``patient`` or ``unknown`` (text without speakers: doctor cues still count).
    """
    s = fold(sentence)
    before = s[:drug_start]
    stripped = s.strip()
    # "à renouveler 2 fois" on a new prescription is a number of renewals, not a renewal decision
    s = _cue_text(s)
    if role == "patient":
        return "mentioned", 0.9
    if _NEGATED_STOP.search(s):
        return "renewed", 0.8
    if _NEGATION.search(before):
        if _STOPPED.search(s):
            return "stopped", 0.8
        return "mentioned", 0.8
    if stripped.endswith("?") or _QUESTION_START.search(stripped):
        return "mentioned", 0.85
    refused = list(_REFUSED.finditer(before))
    if refused and len(before[refused[-1].end():].split()) <= 5 and not re.search(
            r"[,;:]|\b(?:but|mais|and|et|instead|plutot)\b", before[refused[-1].end():]):
        return "mentioned", 0.8
    if _DEFERRED.search(before):
        return "mentioned", 0.8
    if _INSTEAD_OF.search(before):
        # "Instead of the ibuprofen, let's try naproxen": the drug another replaces is stopped
        return "stopped", 0.8
    replaced = _REPLACE.search(s)
    if replaced is not None:
        by = replaced.start("by") if replaced.group("by") else replaced.start("to")
        if drug_start < by:
            return "stopped", 0.8
        return "new", 0.8
    if _STOPPED.search(s):
        return "stopped", 0.85
    if _UNCHANGED.search(s):
        return "renewed", 0.8
    if _DECLARATIVE_TAKE.search(stripped):
        # "vous prenez X ..." without a question mark: an instruction if a posology follows
        return "new", 0.5
    if _CHANGED.search(s) or _changes_it_to_a_number(s, drug_start):
        if (_GIVEN.search(s) or re.search(r"\b(?:du|de la|des|de l'|d'|some)\s*$", before)
                or _AFTER_ANOTHER.match(s)) \
                and not _CHANGED.search(_INSTEAD.sub(" ", s)):
            # "I'll give you clarithromycin instead", "prenez plutôt du Doliprane à la place": the drug given in
            # place of another is new (benchmarks/LABELLING.md: a switch from A to B is A stopped, B new)
            return "new", 0.8
        return "changed", 0.8
    if _RENEWED.search(s):
        return "renewed", 0.85
    if _NEW.search(s):
        return "new", 0.85
    if role == "doctor":
        return "new", 0.5
    return "mentioned", 0.5


def drug_clause(sentence: str, spans: Sequence[tuple[int, int]], index: int) -> tuple[int, int]:
    """The part ``(start, end)`` of ``sentence`` whose cues decide the status of the drug named at
    ``spans[index]`` (the char spans of every drug name of the sentence, in order).

    - It starts at the nearest comma or conjunction before the name (after the previous name) from which the words
      up to the name hold a status cue of their own: "on va arrêter les hydrex | et on le remplace par du
      losartan" (the stop is another drug's), "I'll stop it | and give you naproxen", "Le Doliprane | , vous
      l'arrêtez, et l'ibuprofène aussi" (the cue said between two names is both drugs'). Else at the sentence's
      start.
    - It ends where the next name's own clause starts, when the words between the two names end with one ("I'll
      give you paracetamol | and stop the ibuprofen") that holds no pronoun standing for the first drug ("Le
      Tramadol, on le remplace par du Doliprane codéiné"). Else at the sentence's end."""
    lo = spans[index - 1][1] if index > 0 else 0
    start = next((a for a in reversed(_joins(sentence, lo, spans[index][0]))
                  if _has_cue(sentence[a : spans[index][0]]) or _STARTS.search(fold(sentence[a : spans[index][0]]))),
                 0)
    end = len(sentence)
    if index + 1 < len(spans):
        joins = _joins(sentence, spans[index][1], spans[index + 1][0])
        tail = sentence[joins[-1] : spans[index + 1][0]] if joins else ""
        if joins and _has_cue(tail) and not _PRONOUN_OBJECT.search(fold(tail)):
            end = joins[-1]
    return start, end


_STARTS = re.compile(r"\b(?:start|starts|starting|begin|commenc\w*|demarr\w*)\b")
"""A verb of starting after another drug's clause ("we'd stop the citalopram, and start mirtazapine"): the clause
of the drug it names begins there, even where it is no status cue of its own (a bare "start" alone is too weak a
cue of a prescription, but the stop before it is not this drug's)."""
_PRONOUN_OBJECT = re.compile(r"\b(?:le|la|les)\s+[a-z]|\bl'\s*[a-z]|\b(?:it|them)\b")
"""A pronoun object in the words between two names ("Le Tramadol, on le remplace par ..."): the verb acts on the
first drug, whose clause goes on."""
_CLAUSE_JOIN = re.compile(r",|;|\b(?:and|then|but|or|et|puis|mais|ou|ensuite)\b", re.IGNORECASE)


def _joins(sentence: str, a: int, b: int) -> list[int]:
    """Offsets of the commas and conjunctions in ``sentence[a:b]``."""
    return [a + m.start() for m in _CLAUSE_JOIN.finditer(sentence[a:b])]


def _has_cue(text: str) -> bool:
    folded = fold(text)
    return any(rx.search(folded) for rx in (_STOPPED, _CHANGED, _RENEWED, _NEW))


_ELLIPTIC_STOP = re.compile(
    r"^(?:(?:bon|alors|donc|et|mais|ok|okay|d'accord|so|right|then)\W+)*(?:vous |on |nous )?"
    r"(?:arretez|arrete|arretons|stoppez|stoppe|stop|stop it)"
    r"(?:\W+(?:des aujourd'hui|des maintenant|des ce soir|aujourd'hui|maintenant|tout de suite|immediatement|"
    r"completement|definitivement|carrement|now|today|straight away|completely))*\W*$"
)
_ELLIPTIC_CHANGE = re.compile(
    r"\b(?:(?:on|nous|je|vous)\s+(?:va |allons |vais |allez )?(?:(?:re)?mont\w*|pass\w*|augment\w*|descend\w*|"
    r"baiss\w*|diminu\w*|redui\w*|redescend\w*)|"
    r"(?:increase|increasing|raise|raising|reduce|reducing|lower|lowering|go up|going up|bump it up|cut it down|"
    r"drop it|come down|coming down)(?:\s+(?:it|that|this|them|the dose))?)\s+(?:a|au|to)\s+(?=\S)"
)


def elliptic_decision(sentence: str) -> MedicationStatus | None:
    """A doctor's sentence that decides on the drug just talked about without naming it or a pronoun for it:
    a bare stop ("Vous arrêtez dès aujourd'hui.", "On arrête.") or a change to a number ("On monte à trois cents
    milligrammes.", "Vous passez à quatre-vingt-huit microgrammes", "Let's go up to ten"). The extractor gives it
    to the one drug of the exchange (:meth:`RuleBasedExtractor._follow`)."""
    s = fold(sentence).strip()
    if s.endswith("?"):
        return None
    if _ELLIPTIC_STOP.search(s):
        return "stopped"
    m = _ELLIPTIC_CHANGE.search(s)
    if m is not None and _number_at(s, m.end()):
        return "changed"
    return None


def _number_at(folded: str, at: int) -> bool:
    """A number starts at ``folded[at:]`` (within two characters): the dose a change goes to."""
    numbers = find_numbers(folded[at:])
    return bool(numbers) and numbers[0].start <= 2


_CHANGE_IT_TO = re.compile(
    r"\b(?:on|je|nous|vous) (?:vous |lui )?(?:passe|passons|passez|monte|montons|montez|augmente|augmentons|"
    r"augmentez|diminue|diminuons|diminuez|baisse|baissons|baissez|reduis|reduit|reduisons|reduisez|descend|"
    r"descendons|descendez) (?:le |la |les |l'|votre |vos |son |sa |ses )"
)
"""A French change verb whose object is the drug: "on passe le bisoprolol à 5 mg"."""


def _changes_it_to_a_number(folded: str, drug_start: int) -> bool:
    """The drug at ``drug_start`` is the object of a French change verb (:data:`_CHANGE_IT_TO`) and the sentence
    goes on, within four words after it, to "à"/"au" and a number: "on passe le bisoprolol à 5 mg par jour", "vous
    baissez le Levothyrox à 75" (the verb alone, "on passe le relais", changes nothing)."""
    for m in _CHANGE_IT_TO.finditer(folded):
        if m.end() > drug_start or drug_start - m.end() > 3:
            continue
        after = re.match(r"[\w'-]+(?:\s+[\w'-]+){0,3}?\s+(?:a|au|jusqu'a)\s+", folded[drug_start:])
        if after is not None and _number_at(folded, drug_start + after.end()):
            return True
    return False


def continuation_cue(sentence: str) -> MedicationStatus | None:
    """Status cue of a follow-up doctor sentence that does not name the drug ("Continuez.")."""
    s = _cue_text(fold(sentence))
    if _NEGATED_STOP.search(s):
        return "renewed"
    if _STOPPED.search(s):
        return "stopped"
    if _CHANGED.search(s):
        return "changed"
    if _RENEWED.search(s):
        return "renewed"
    if _NEW.search(s):
        return "new"
    return None


_AFFIRM = re.compile(
    r"^\W*(?:[\w']+\s+){0,2}?[\w']*\W*\b(?:oui|yes|yeah|yep|bien sur|of course|absolument|absolutely|tout a fait|"
    r"sure|certainly|bien entendu|pas de (?:souci|probleme)|no problem|that's fine|that is fine|c'est bon|"
    r"aucun probleme|ca ne pose pas de probleme|that's no problem|go ahead|allez-y)\b"
)
"""A doctor's answer that says yes (first words): "Oui, ...", "Le gel, oui, ...", "Of course.", "No problem"."""
_DECLINE = re.compile(
    r"^\W*(?:(?:no|non|nope)\b|i'd rather (?:you didn't|not)|better not|(?:please )?don't\b|je prefere (?:pas|que non|"
    r"que vous arretiez)|plutot pas|surtout pas|evitez|avoid)"
)
"""A doctor's answer that says no (first words) to the patient's question about going on with a drug."""
_YES_REPLY = re.compile(
    r"^\W*(?:oui|ouais|yes|yeah|yep|yup|toujours|always|still|bien sur|of course|absolument|absolutely|tout a fait|"
    r"exactement|exactly|c'est ca|that's right|that is right|correct|voila|je (?:le |la |les |l')?prends|i (?:do|am))\b"
)


def says_yes(reply: str) -> bool:
    """The patient's short reply to a question about their drug says yes ("Oui.", "Yes, still.", "Toujours.")."""
    s = fold(reply)
    return _YES_REPLY.search(s) is not None and _DECLINE.search(s) is None


_GO_ON_QUESTION = re.compile(
    r"\b(?:can|should|do|shall|may) i (?:still (?:take|use|have)|keep (?:taking|using|going)|carry on|continue|"
    r"go on)|"
    r"\bje (?:peux|dois|pourrais) (?:continuer|garder|toujours (?:le |la |les |en |l')?(?:prendre|mettre))|"
    r"\bje (?:le |la |les |l')?continue\b|\bje (?:le |la |les |l')?garde\b"
)


_MAY_I_TAKE = re.compile(
    r"\bje (?:le |la |les |l'|en )?(?:peux|pourrais) (?:le |la |les |l'|en )?(?:prendre|utiliser|mettre)\b|"
    r"\b(?:can|could|may) i (?:take|use|have|try) (?:it|them|some|that|those|this)\b"
)
"""The patient asks leave to take a drug ("J'ai du Toplexil à la maison, je peux le prendre ?", "Can I take some?")."""


def asks_to_go_on(sentence: str) -> MedicationStatus | None:
    """The status a patient's question asks for: "Can I still take my Nurofen?", "Je peux continuer ?" (renewed),
    "Should I stop it?" (stopped), "Je peux le prendre ?" (new: leave to take it); None when it asks no such
    thing."""
    s = fold(sentence)
    if _GO_ON_QUESTION.search(s):
        return "renewed"
    cue = continuation_cue(sentence)
    if cue in ("renewed", "stopped"):
        return cue
    return "new" if _MAY_I_TAKE.search(s) else None


def answer_decides(asked: MedicationStatus, answer: str) -> MedicationStatus | None:
    """What the doctor's ``answer`` decides of a drug the patient asked to go on with or to stop (``asked``, from
    :func:`asks_to_go_on`): a yes is that decision ("Je peux continuer ?" "Le gel, oui, ça ne pose pas de
    problème."), a no to going on is a stop ("Can I still take my Nurofen?" "I'd rather you didn't."); None when it
    says neither."""
    folded = fold(answer)
    if _AFFIRM.search(folded):
        return asked
    if asked == "renewed" and _DECLINE.search(folded):
        return "stopped"
    return None


_CHANGE_TO = re.compile(
    r"\b(?:increas\w*|rais\w*|bump\w*|put|go|going|reduc\w*|lower\w*|drop\w*|cut|bring|chang\w*|switch\w*|"
    r"doubl\w*|halv\w*|augment\w*|pass\w*|mont\w*|diminu\w*|baiss\w*|redui\w*|descend\w*|double\w*)\b"
    r"(?:\s+[\w']+){0,4}?\s+(?:up to|down to|to|a|au|jusqu'a)\s+"
)


def changes_to_a_number(sentence: str) -> bool:
    """A change verb then, within a few words, "to"/"à" and a number: "We'll bump the sertraline up to 100", "on
    passe le Levothyrox à 88", "increase that to five milligrams" (a new dose said with the change)."""
    s = fold(sentence)
    return any(_number_at(s, m.end()) for m in _CHANGE_TO.finditer(s))


STATUS_CUES = ("stopped", "changed", "renewed", "new", "negation", "unchanged", "question", "declarative_take",
               "change_to_number")
"""Names of the rule cues :func:`status_cues` reports."""


def status_cues(sentence: str, *, drug_start: int) -> dict[str, bool]:
    """Which of the rules' cues the sentence holds for the drug at ``drug_start`` (each regular expression of
    :func:`classify_status` on its own): features of the trained status model
    (:mod:`consult.extract.status_model`)."""
    s = _cue_text(fold(sentence))
    before = fold(sentence)[:drug_start]
    stripped = s.strip()
    return {
        "stopped": _STOPPED.search(s) is not None and _NEGATED_STOP.search(s) is None,
        "changed": _CHANGED.search(s) is not None,
        "renewed": _RENEWED.search(s) is not None,
        "new": _NEW.search(s) is not None,
        "negation": _NEGATION.search(before) is not None,
        "unchanged": _UNCHANGED.search(s) is not None,
        "question": stripped.endswith("?") or _QUESTION_START.search(stripped) is not None,
        "declarative_take": _DECLARATIVE_TAKE.search(stripped) is not None,
        "change_to_number": changes_to_a_number(s),
    }
