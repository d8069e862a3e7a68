"""French and English posology parser: strength, dose, form, route, frequency, times of day,
duration, as-needed (with its condition) and maximum per day, each with its character span.

Numbers are found first (:mod:`consult.extract.numbers`) and replaced by placeholders ``§i§`` in a
rewritten string; the slot patterns run on that string and spans are mapped back to the input.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Generic, TypeVar

from consult.extract.heard import respell
from consult.extract.numbers import HOMOPHONE_CERTAINTY, NumberSpan, find_numbers
from consult.extract.text import fold
from schemas.medication import Duration, Frequency, Quantity, WhenCode

T = TypeVar("T")


@dataclass(frozen=True)
class Slot(Generic[T]):
    """A parsed value and the span ``[start, end)`` of the text it came from."""

    value: T
    start: int
    end: int
    certainty: float = 1.0


@dataclass
class Posology:
    strength: Slot[Quantity] | None = None
    dose: Slot[Quantity] | None = None
    form: Slot[str] | None = None
    route: Slot[str] | None = None
    frequency: Slot[Frequency] | None = None
    when: Slot[list[WhenCode]] | None = None
    duration: Slot[Duration] | None = None
    as_needed: Slot[str | None] | None = None
    """Set when the intake is as needed; its value is the condition ("douleur") or None."""
    max_per_day: Slot[Quantity] | None = None
    max_per_intake: Slot[Quantity] | None = None
    min_interval: Slot[Duration] | None = None
    quantity_for: Slot[Duration] | None = None
    """Supply to dispense ("QSP 3 mois")."""
    renewals: Slot[int] | None = None
    single_dose: Slot[bool] | None = None
    """One intake only, not repeated ("en une seule prise", "as a single dose"): no daily frequency."""

    def slots(self) -> dict[str, Slot[object]]:
        out: dict[str, Slot[object]] = {}
        for name in FIELDS:
            slot = getattr(self, name)
            if slot is not None:
                out[name] = slot
        return out

    def is_empty(self) -> bool:
        return not self.slots()


FIELDS = (
    "strength",
    "dose",
    "form",
    "route",
    "frequency",
    "when",
    "duration",
    "as_needed",
    "max_per_day",
    "max_per_intake",
    "min_interval",
    "quantity_for",
    "renewals",
    "single_dose",
)

# --------------------------------------------------------------------------- vocabularies
_N = r"§(\d+)§"

_MASS_UNITS: list[tuple[str, str]] = [
    (r"mg|milligrammes?|milligrams?|milli grammes?|miligrammes?|miligrams?", "mg"),
    (r"µg|ug|mcg|microgrammes?|micrograms?|gammas?", "ug"),
    (r"g|grammes?|grams?|gr", "g"),
    (r"ml|mls|mils|millilitres?|milliliters?|cc", "mL"),  # "five mils": British speech
    (r"ui|u\.i\.?|unites? internationales?|international units?|units?|unites?", "[iU]"),
    (r"%|pour ?cent|percent|per cent", "%"),
]
_UNIT_RE = "|".join(f"(?:{p})" for p, _ in _MASS_UNITS)

_FORMS: list[tuple[str, str]] = [
    # "comprimer", "comprimez": the recogniser's spellings of "comprimé(s)" (French says the endings alike)
    (r"comprim(?:ee?s?|er|ez)|cp|cachets?", "comprimé"),
    (r"gelules?", "gélule"),
    (r"sachets?(?:-doses?)?", "sachet"),
    (r"bouffees?|bouffer|bouffez", "bouffée"),
    (r"pulverisations?", "pulvérisation"),
    (r"gouttes?|drops?", "[drp]"),
    (r"cuilleres? a cafe|cuillerees? a cafe|teaspoons?(?:ful)?|tsp", "cuillère à café"),
    (r"cuilleres? a soupe|cuillerees? a soupe|tablespoons?(?:ful)?", "cuillère à soupe"),
    (r"cuilleres?|cuillerees?|doses? pipettes?|pipettes?", "cuillère"),
    (r"ampoules?|vials?", "ampoule"),
    (r"suppositoires?|suppositor(?:y|ies)", "suppositoire"),
    (r"patchs?|patches", "patch"),
    (r"inhalations?", "inhalation"),
    (r"injections?|piqures?|shots?", "injection"),
    (r"applications?", "application"),
    (r"pastilles?|lozenges?", "pastille"),
    (r"lyophilisats?(?: oraux| oral)?|lyocs?", "lyophilisat"),
    (r"tablets?|tabs?|pills?", "tablet"),
    (r"capsules?|caps", "capsule"),
    (r"puffs?", "puff"),
    (r"sprays?", "spray"),
    (r"doses?", "dose"),
]
_FORM_RE = "|".join(f"(?:{p})" for p, _ in _FORMS)

_PRODUCT_FORMS: list[tuple[str, str]] = [
    (r"sirop|syrup", "sirop"),
    (r"creme|cream", "crème"),
    (r"pommade|ointment", "pommade"),
    (r"collyre|eye ?drops", "collyre"),
    (r"spray nasal|nasal spray", "spray nasal"),
    (r"inhalateur|inhaler|aerosol|puffer", "inhalateur"),
    (r"gel", "gel"),
    (r"solution buvable|oral solution|(?<!paraffin )liquid|liquide", "solution buvable"),
    (r"suspension buvable|oral suspension", "suspension buvable"),
    (r"(?:en |in )?" + _FORM_RE, ""),
]

_ROUTES: list[tuple[str, str]] = [
    (r"(?:par )?voie orale|par la bouche|per os|oralement|by mouth|orally|a avaler|swallowed?", "oral"),
    (r"(?:en |par )?inhalation|a inhaler|inhaled?|(?:par )?voie inhalee", "inhalation"),
    (r"(?:par )?voie cutanee|sur la peau|application locale|on the skin|topically|to the skin", "cutaneous"),
    (r"dans (?:l'|les |chaque )(?:oeil|œil|yeux)|in (?:the|each|both|your) eyes?|voie ophtalmique", "ophthalmic"),
    (
        r"dans (?:le nez|chaque narine|les narines)|in (?:the|each|your) nos(?:e|tril)|(?:par )?voie nasale",
        "nasal",
    ),
    (r"dans (?:l'|les |chaque )oreilles?|in (?:the|each|your) ears?", "otic"),
    (r"(?:par )?voie rectale|rectally|par voie anale", "rectal"),
    (r"(?:par )?voie vaginale|vaginally", "vaginal"),
    (r"sous la langue|under the tongue|sublingual(?:e|ly)?", "sublingual"),
    (r"(?:en |par voie )?intramusculaire|into the muscle|intramuscular(?:ly)?", "intramuscular"),
    (r"(?:en |par voie )?intraveineuse|intravenous(?:ly)?|en perfusion", "intravenous"),
    (r"(?:en |par voie )?sous[- ]cutanee?s?|subcutaneous(?:ly)?|under the skin", "subcutaneous"),
]

_NO_WHEN_BEFORE = re.compile(
    r"\b(hier|ce|cette|demain|last|this|yesterday|tonight|depuis|since|aujourd'hui|next|following|same|not|pas)"
    r"\s+$"
)
_WHEN: list[tuple[str, WhenCode]] = [
    (
        r"(?:(?:le |chaque |tous les )?matins? )?(?:a jeun )?avant (?:le |son |votre )?petit[- ]dejeuner|"
        r"(?:le |chaque |tous les )?matins? a jeune?\b|a jeune? le matin|"
        r"(?:(?:in the |every |each )?mornings? )?before (?:your |you have )?breakfast",
        "ACM",
    ),
    (r"au reveil|on waking|when you wake up|upon waking", "WAKE"),
    (r"(?:au|avec le|avec son|avec votre|pendant le) petit[- ]dejeuner|(?:at|with) (?:your )?breakfast", "MORN"),
    (
        r"au coucher|avant de (?:vous )?coucher|avant le coucher|at bedtime|before bed(?:time)?|"
        r"before (?:you go to )?sleep",
        "HS",
    ),
    (r"(?:le |les |chaque |tous les )?matins?|(?:in the|every|each) morning|mornings?", "MORN"),
    (r"(?:le |a |chaque )?midi|at (?:noon|lunch(?:time)?)|au dejeuner", "NOON"),
    (r"(?:l')?apres[- ]midi|in the afternoon", "AFT"),
    (
        r"(?:le |les |chaque |tous les )?soirs?|(?:in the |every |each )?evenings?|au diner|at dinner(?:time)?",
        "EVE",
    ),
    (r"(?:la |chaque )nuit|at night|every night|(?<=morning and )night|(?<=mornings and )nights", "NIGHT"),
    (r"(?:au moment|au cours|au milieu|pendant) (?:du|des|le|les) repas|(?<!avant )(?<!apres )(?:aux|au) repas|"
     r"a chaque repas|avec (?:le |les |un |chaque |)repas|en mangeant|"
     r"with (?:your |each |every )?(?:food|meals?|a meal)|at mealtimes?|during meals", "C"),
    (r"avant (?:le |les )?repas|a jeun|before (?:meals|food|eating)|on an empty stomach", "AC"),
    (r"apres (?:le |les )?repas|apres (?:le |son |votre )?petit[- ]dejeuner|after (?:meals|food|eating|breakfast)",
     "PC"),
]

_DUR_UNITS = {
    "jour": "d",
    "jours": "d",
    "j": "d",
    "day": "d",
    "days": "d",
    "journee": "d",
    "semaine": "wk",
    "semaines": "wk",
    "week": "wk",
    "weeks": "wk",
    "mois": "mo",
    "month": "mo",
    "months": "mo",
}
_DUR_UNIT_RE = r"jours?|j|days?|semaines?|weeks?|mois|months?"
_PERIOD_UNITS = {"heure": "h", "heures": "h", "h": "h", "hour": "h", "hours": "h", "hrs": "h", **_DUR_UNITS}
_PERIOD_WORD_RE = r"jour|journee|24 ?h(?:eures)?|j|day|semaine|week|mois|month"

_SYMPTOMS = (
    r"douleurs?|fievre|mal(?: a la tete| au ventre| de tete)?|crises?|toux|nausees?|vomissements?|"
    r"demangeaisons?|insomnies?|anxiete|angoisses?|genes?|essoufflements?|essouffle(?:e|s|es)?|sifflements?|"
    r"diarrhees?|"
    r"constipation|migraines?|spasmes?|allergies?|brulures?|contractions?|saignements?|"
    r"pain|fever|headaches?|cough(?:ing)?|nausea|wheez(?:e|ing)|itch(?:ing)?|anxiety|"
    r"shortness of breath|short of breath|out of breath|breathless(?:ness)?|wheezy|"
    r"heartburn|migraines?|symptoms?|attacks?|flare(?:-ups?)?|reflux|cramps?|aches?"
)


def _re(p: str) -> re.Pattern[str]:
    return re.compile(p)


_P_MAX = _re(
    r"(?:sans (?:jamais )?depasser|ne (?:jamais )?pas depasser|pas plus de|jamais plus de|au maximum|"
    r"maximum|max|au plus|no more than|not more than|never more than|(?:do not|don't|never) (?:exceed|take more than)|"
    r"maximum of|a maximum of|up to|not to exceed)\s+(?:de |d'|of )?"
    + _N
    + r"(?:\s*("
    + _UNIT_RE
    + r"|"
    + _FORM_RE
    + r")\b)?"
    r"(?:\s*(?:par|/|dans la|per|a|in a|in any|each|every)\s*(?:" + _PERIOD_WORD_RE + r")\b|"
    r"\s*(?:in|en) 24 ?h(?:ours|eures)?)?"
)
_P_MAX_AFTER = _re(
    _N + r"\s*(" + _UNIT_RE + r"|" + _FORM_RE + r")\b\s*(?:au maximum|maximum|max|au plus|at most|tops)\s*"
    r"(?:par|/|dans la|sur la|per|a|in a|in any|each|every)\s*(?:" + _PERIOD_WORD_RE + r")\b"
)
_P_MAX_UPTO = _re(
    r"jusqu'a\s+" + _N + r"\s*(" + _UNIT_RE + r"|" + _FORM_RE + r")\b\s*(?:par|/|dans la|sur la)\s*"
    r"(?:" + _PERIOD_WORD_RE + r")\b"
)
"""'jusqu'à huit bouffées par jour' (a unit or form and a period said: 'jusqu'à sept jours après' is no maximum)."""
_P_MAX_TRAIL = _re(
    _N + r"\s*(" + _UNIT_RE + r"|" + _FORM_RE + r")\b\s*(?:par|/|dans la|sur la|per|a|in a|in any|each|every)\s*"
    r"(?:" + _PERIOD_WORD_RE + r")\b\s*(?:au maximum|maximum|max|au plus|at most|at the most|tops)\b"
)
_PER_INTAKE = r"(?:par prise|a chaque prise|per dose|per intake|at a time|at once|each time|in one go)"
_P_MAX_INTAKE = _re(
    r"(?:(?:au maximum|maximum|max|au plus|jusqu'a|pas plus de|jamais plus de|no more than|not more than|"
    r"up to|a maximum of|maximum of)\s+(?:de |d'|of )?" + _N + r"(?:\s*(" + _UNIT_RE + r"|" + _FORM_RE + r")\b)?"
    r"\s*" + _PER_INTAKE + r"|"
    + _N + r"(?:\s*(" + _UNIT_RE + r"|" + _FORM_RE + r")\b)?\s*(?:au maximum|maximum|max|au plus|at most|tops)\s*"
    + _PER_INTAKE + r")"
)
_P_MIN_INTERVAL = _re(
    r"(?:(?:au moins|minimum|au minimum|at least|a minimum of|respectez? (?:un )?(?:intervalle|delai) (?:minimum |"
    r"minimal )?de|respectez? (?:§\d+§ )?(?:intervalle|delai) (?:minimum |minimal )?de|"
    r"(?:attendez|attendre|wait|leave)(?:\s+au moins|\s+at least)?|"
    r"espace[rz]? (?:les prises|chaque prise) (?:d'au moins|de|d'|d'au minimum))"
    r"\s*" + _N + r"\s*(heures?|h|hours?|hrs|jours?|days?)\b"
    r"(?:\s*(?:minimum|au minimum|at least))?"
    r"(?:\s*(?:entre (?:§\d+§|chaque|les) prises|between (?:doses|each dose|§\d+§ doses|them)|"
    r"d'intervalle|apart))?"
    r")"
)
_P_QSP = _re(
    r"(?:\bq\.?\s?s\.?\s?p\.?|quantite suffisante pour|(?:ordonnance|prescription|traitement a delivrer|"
    r"a delivrer|delivrance|supply|a supply|prescribe you|prescription)\s+(?:valable\s+|valid\s+)?(?:pour|for|of)"
    r")\s*(?:une duree de\s+)?(?:" + _N + r"|(un|une|a|an|one))\s*(" + _DUR_UNIT_RE + r")\b"
    r"|(?:" + _N + r"|(a|an|one))\s*(" + _DUR_UNIT_RE + r")(?:'s|s')?\s+(?:supply|worth)\b"
)
_P_RENEW = _re(
    r"(?:a renouveler|renouvelables?|renouvelee?s?|a renouveller|renewable|repeat(?:able)?|refill(?:able)?|"
    r"renew(?:ed)?|(?:je vous|on) (?:la |le |les )?renouvel(?:le|lera)s?)\s*(?:(?:une|la) ordonnance\s*)?"
    r"(?:" + _N + r"|(une|un|one|once|twice))\s*(?:fois|times)?"
    r"|(?:" + _N + r"|(une|un|one|two))\s*(?:renouvellements?|refills?|repeats?)\b"
    r"|\b(?:with |avec )?(no|pas de|aucun|sans) (?:refills?|repeats?|renouvellements?)\b"
)
_CORRECTION = re.compile(
    # "deux... non, un comprimé", "un comprimé matin... non, pardon, deux comprimés": one or more words of correction
    r"§(\d+)§(?:\s*[a-z']+){0,3}?[\s.,;:!…-]*(?:(?:euh\s+)?(?:non|pardon|plutot|enfin|je veux dire|je me trompe|"
    r"no|sorry|i mean|rather|actually)[\s.,;:!…-]+)+(?:plutot\s+|make (?:that|it)\s+)?(?=§\d+§)"
)
_MAX_CUE_BEFORE = re.compile(
    r"\b(?:depasser|pas plus de|jamais plus de|maximum|au plus|more than|than|exceed|up to)\b[^.;!?]*$"
)
_P_FREQ_TIMES = _re(
    _N + r"\s*(?:fois|x|times)\s*(?:par|/|dans la|le|chaque|a|per|each|every|an?)?\s*(" + _PERIOD_WORD_RE + r")\b"
)
_P_FREQ_DAILY = _re(_N + r"\s*(?:fois|x|times)\s+(daily|weekly|monthly)\b")
_P_FREQ_EN = _re(r"\b(once|twice|thrice)\s+(?:(?:a|per|each|every)\s+(day|week|month)|(daily|weekly|monthly))\b")
_P_FREQ_LATIN = _re(r"\b(bd|tds|tid|qds|qid)\b")
"""Prescribers' Latin abbreviations of a daily count (twice, three, four times a day); "od" is left out (the
French "OD" is the right eye)."""
_LATIN_COUNTS = {"bd": 2, "tds": 3, "tid": 3, "qds": 4, "qid": 4}
_P_EVERY = _re(
    r"(?:toutes les|tous les|every)\s+(?:" + _N + r"\s*)?(heures?|h|hours?|hrs|jours?|days?|semaines?|weeks?|"
    r"mois|months?)\b"
)
_P_WITH_MEAL = _re(
    r"\bwith (?:your |his |her |their |the )?(breakfast|lunch|dinner|supper|(?:your |the )?evening meal|tea)\b"
)
_NOT_TREATMENT_BEFORE = _re(
    r"\b(?:persists?|persisting|lasts?|lasting|resolve[sd]?|clears?|settles?|isolate|off work|(?<!the )rest|stay home|"
    r"symptoms?|better|worse|recover\w*|heal\w*|should go away|persiste\w*|dure\w*|durer|guerir|gueri\w*|"
    r"arret de travail|repos|symptomes?)\b"
)
"""A duration in a clause about the illness, work or rest ("if his symptoms persist for three days", "take some
time off for two days") is not the treatment's."""
_P_PER_PERIOD = _re(
    r"(?<!\bfor )(?<!\bin )(?<!\bwithin )(?<!\bover )(?<!\bpour )(?<!\bdans )"
    r"\b(?:par|per|chaque|each|a|an) (semaine|week|mois|month)\b"
    r"(?!\s+(?:ago|earlier|later|before|after|or|and a half|plus tot|plus tard|avant|apres))"
)
_P_SINGLE_DOSE = _re(
    # "en une seule prise", "en une seule fois", "en prise unique", "une dose unique", "as a single dose", "a
    # one-off dose", "just the one dose"; not "une seule fois par jour" nor "une seule prise le matin" (a daily
    # frequency), nor "un seul sachet" (an amount, often a question)
    r"\ben " + _N + r" seule (?:prise|fois)\b(?! par\b| chaque\b| tous\b| toutes\b)"
    r"|\b" + _N + r" seule (?:prise|fois)\b(?! par\b| chaque\b| tous\b| toutes\b| le\b| la\b| les\b| dans\b| au\b| a\b)"
    r"|\b(?:en )?prise unique\b|\bdose unique\b"
    r"|\b(?:as )?(?:a )?single dose\b|\bjust (?:the )?" + _N + r" dose\b|\bonce only\b"
    r"|(?:\bone|" + _N + r")[- ]off(?: dose)?\b|(?:\bone|" + _N + r")[- ]time dose\b"
)
_P_EVERY_OTHER = _re(r"(?:§\d+§ jour sur §\d+§|\bevery other day\b|\btous les §\d+§ jours\b)")
_P_DAILY = _re(
    # not "better in a day or two", "within a day"
    r"(?<!\bin )(?<!\bwithin )\b(?!a day or two\b|a day or so\b)"
    r"(?:tous les jours|chaque jour|par jour|une fois par jour|quotidiennement|every day|daily|"
    r"once daily|a day|per day)\b"
)
_P_DURATION = _re(
    r"(?:pendant|durant|pour|sur|during|for)\s+(?:§\d+§ duree de\s+|§\d+§ periode de\s+|the next\s+)?"
    r"(?:" + _N + r"|(a|an))\s*(?:full\s+|whole\s+|entire\s+|complete\s+)?(" + _DUR_UNIT_RE + r")\b"
)
_P_COURSE = _re(
    r"(?:" + _N + r"|(a|an|one))[- ]?(days?|weeks?|months?)[- ]course\b|"
    r"(?:cure|traitement) de\s+" + _N + r"\s*(jours?|semaines?|mois)\b"
)
_P_DURATION_BARE = _re(_N + r"\s*(" + _DUR_UNIT_RE + r")\b(?!\s*(?:ago|plus tot|avant|sur §))")
_NO_BARE_DURATION_BEFORE = re.compile(
    r"(depuis|il y a|ca fait|ça fait|since|past|last|dans|in|within|tous les|toutes les|every|"
    r"sur|pendant|for|de|d'|les|ces|these|the|a|after|apres|avant|before)\s*$"
)
_P_PRN_GENERIC = _re(
    r"\b(?:si besoin|si necessaire|au besoin|a la demande|en cas de besoin|as needed|as required|"
    r"when needed|if needed|if required|when required|if necessary|when necessary|prn|"
    r"(?:quand|si|lorsque) (?:ca|ça) (?:ne )?va pas|quand (?:j'en|on en|vous en) (?:ai|a|avez) besoin|"
    r"(?:when|if|whenever) (?:i|you|he|she|they)(?: (?:really|still|like|ever|only))? needs? (?:it|them|one|some|"
    r"something|to (?=take|use|have)|to(?=\s*(?:[.,;!?]|$)))|"
    r"(?:when|if|whenever) (?:i|you|he|she|they)(?: (?:really|still|like|ever|only))? needs?(?=\s*(?:[.,;!?]|$))|"
    r"as and when|"
    r"(?:si|quand|lorsque) (?:vous|tu|on|il|elle|je |j')\s?(?:en )?(?:avez|as|a|ai|ressentez|ressens|ressent|"
    r"eprouvez|sentez) (?:le )?besoin|"
    r"(?:if|when) (?:(?:the|my|your|his|her|their) )?(?:[a-z]+ )?(?:" + _SYMPTOMS + r")[a-z]* (?:is|are|gets?|'s) "
    r"(?:really |very |quite |too |)(?:bad|severe|unbearable)|"
    r"(?:if|when) (?:you're|you are|she's|she is|he's|he is|i'm|i am|they're|they are|it's|it is) "
    r"(?:still |really |very |quite |)(?:uncomfortable|sore|in pain|painful|unwell)|"
    # occasional use without a schedule (docs/labels.md)
    r"de temps en temps|de temps a autre|a l'occasion|occasionnellement|au cas ou|"
    r"on occasion|occasionally|from time to time|every (?:so often|once in a while)|once in a while|"
    r"just in case|whenever (?:i|you|my|the|it|they)\b[^.;!?]{0,40}|"
    r"(?:si|quand|lorsque) (?:vous n'arrivez pas|vous ne pouvez pas|vous n'y arrivez pas|je n'arrive pas) a dormir|"
    r"(?:if|when) (?:you|i) (?:can't|cannot|can not|are unable to|struggle to) (?:get to )?sleep)\b"
)
_P_PRN_OCCASIONAL = _re(r"\b(?:sometimes|at times|parfois|des fois|here and there|now and then)\b")
"""Occasional use said with a word that also qualifies other verbs ("it can sometimes make hives worse"): read as
needed only in a clause with a verb of taking (``_INTAKE_VERB``), or a few words from one: "I take some ibuprofen
sometimes", "Sometimes, you know, I'll take"."""
_OCCASIONAL_REACH = 6
_INTAKE_VERB = _re(
    r"\b(?:take|takes|taking|took|use|uses|using|used|give|gives|giving|pop|prends|prend|prenez|prendre|prenais|"
    r"pris|utilise\w*|donne\w*)\b")
_NOT_SAFETY_NET = (
    r"(?![^.;!?]{0,30}\b(?:worse|worsen\w*|persist\w*|resolve\w*|improv\w*|better|settle\w*|go(?:es)? away|"
    r"stops?|clears?|do not|does not|don't|doesn't|didn't|don|doesn|didn|was|were|due to|pire|aggrav\w*|ameliore\w*|"
    r"passe pas|s'arrete)\b)"
)
"""After the symptom of a condition: not the advice to come back when it lasts or worsens ("if symptoms don't
resolve", "if the pain's getting worse"), nor a past event ("when the pain was coming on")."""
_P_PRN_COND = _re(
    r"\b(?:en cas d(?:e |')|(?:au moment|a l'apparition|des l'apparition|des le debut) d(?:es |e la |u |e l')|"
    r"(?:si|quand|lorsque) (?:vous avez |il y a |vous etes |je suis |j'ai |vous |"
    r"vous vous sentez |je me sens |)(?:de la |des |du |de l'|§\d+§ |)|"
    r"in case of |at the (?:first )?(?:sign|start|onset|beginning) of (?:(?:a|an|the|my|your|his|her|their) )?|"
    r"as soon as (?:(?:the|a|an|my|your|his|her|their) )?(?=(?:[a-z]+ )?(?:" + _SYMPTOMS + r")[a-z]* "
    r"(?:starts?|comes? on|begins?|kicks? in))(?:[a-z]+ (?!" + _SYMPTOMS + r"))?|"
    r"(?:if|when(?:ever)?) (?:(?:you|i|he|she|they) (?:have|get|feel|are|has|gets|feels) |you're |"
    r"(?:you|i|he|she|they) (?:are|am|is|start) (?:feeling|getting|having) |you're (?:feeling|getting|having) |"
    r"i'm |i am |there is |there's |(?:my|your|his|her|their) (?:[a-z]+ )?|)(?:a |an |any |some |§\d+§ )?)"
    r"((?:" + _SYMPTOMS + r")" + _NOT_SAFETY_NET
    + r"(?:\s+(?!et\b|and\b|sans\b|pendant\b|maximum\b|jusqu|starts?\b|comes?\b|begins?\b|kicks?\b)[a-z']+){0,2})"
)
_P_PRN_CASE = _re(r"\ben cas d(?:e |')((?:[a-z']+)(?:\s+(?!et\b|sans\b|pendant\b|maximum\b)[a-z']+){0,2})")
_P_DOSE_FORM = _re(_N + r"[\s-]*(?:de |d')?(" + _FORM_RE + r")\b(?:\s+(?:et|and)\s+(?:" + _N + r"|a half))?")
_P_DOSE_A = _re(
    r"\b(a|an)\s+(tablet|pill|capsule|puff|sachet|teaspoon(?:ful)?|tablespoon(?:ful)?|"
    r"spray|patch|suppository|lozenge|drop|dose|injection)\b"
)
_P_QTY = _re(_N + r"\s*(" + _UNIT_RE + r")(?![a-z])")
_PRODUCT_WORD = (
    r"(inhalers?|inhalateurs?|puffers?|creams?|cremes?|ointments?|pommades?|gels?|syrups?|sirops?|collyres?)"
)
_PRODUCT_AT_NAME = re.compile(r"\s*\b" + _PRODUCT_WORD + r"\b")
_PRODUCT_BEFORE_NAME = re.compile(
    r"\b" + _PRODUCT_WORD + r"(?:\s+(?:called|named|which is|that's|appele|appelee|qui s'appelle|nomme|nommee))?[\s,:]*"
    r"(?:the|le|la|les|du|de la|de l'|l')?\s*$"
)
"""A form named right before the drug, in the words of its sentence before it (``Region.lead``)."""
_PER_VOLUME = _re(
    r"\s*(?:in|per|pour|par|dans|/)\s*(?:every\s+|each\s+|chaque\s+)?§\d+§\s*"
    r"(?:ml|mls|mils|millilitres?|milliliters?)(?![a-z])"
)
_STRENGTH_BEFORE = re.compile(
    r"(?:dose|dosee?s?|de|d'|a|of|,|strength|comprimes?|gelules?|sachets?|tablets?|capsules?)\s*$"
)
_DOSE_VERB_BEFORE = re.compile(r"(?:prenez|prendre|prendrez|take|give|donnez|administrer|injectez|inject)\s+$")
_STRENGTH_FROM_FORM = re.compile(r"(?:" + _FORM_RE + r")\s+(?:dosee?s?\s+)?(?:de|d'|a|of)\s*$")


def _lookup(table: Sequence[tuple[str, str]], text: str) -> str:
    for pattern, value in table:
        if re.fullmatch(pattern, text):
            return value
    return text


def unit_of(text: str) -> tuple[str, bool]:
    """Normalised unit and whether it is UCUM (mass/volume units, [iU], %, [drp])."""
    t = text.strip()
    for pattern, value in _MASS_UNITS:
        if re.fullmatch(pattern, t):
            return value, True
    form = _lookup(_FORMS, t)
    return form, form == "[drp]"


_SCHEDULE_WORD = re.compile(r"(?:fois|times|once|twice|daily|hourly|weekly|nightly|quotidien\w*)")


def posology_word(word: str) -> bool:
    """Whether one heard word is a number, a unit, a dose form or a schedule word ("une", "20", "milligrammes",
    "comprimé", "fois"): the speech stage's second pass never puts a drug name in place of such a word."""
    folded = fold(word).strip(" .,;:!?'’\"()-")
    if not folded:
        return False
    if any(c.isdigit() for c in folded) or find_numbers(folded) or _SCHEDULE_WORD.fullmatch(folded):
        return True
    return form_of(folded) is not None or unit_of(folded)[1]


def dose_word(word: str) -> bool:
    """Whether one word says a dose, not only a count: a digit, a unit, a dose form or a schedule word ("500",
    "mg", "comprimé", "twice"); a number word alone ("une", "one") is not one."""
    folded = fold(word).strip(" .,;:!?'’\"()-")
    if not folded:
        return False
    if any(c.isdigit() for c in folded) or _SCHEDULE_WORD.fullmatch(folded):
        return True
    return form_of(folded) is not None or unit_of(folded)[1]


def form_of(text: str) -> str | None:
    """The normalised dose or product form of a folded form word ("gelules" -> "gélule", "cream" ->
    "crème", "drops" -> "[drp]"), or None when it names no form the grammar knows."""
    for pattern, norm in [*_PRODUCT_FORMS[:-1], *_FORMS]:
        if re.fullmatch(pattern, text):
            return norm
    return None


def route_of(text: str) -> str | None:
    """The route (``oral``, ``inhalation``...) that a folded phrase names ("by mouth", "sous la langue"), or
    None when it names none."""
    for pattern, value in _ROUTES:
        if re.fullmatch(pattern, text):
            return value
    return None


_BARE_NUMBER = re.compile(r"\s*,?\s*(\d+(?:[.,]\d+)?)\b(?!\s*(?:fois|times|x\b|%|jours?|days?|h\b|heures?|hours?))")


_WORD_AFTER_COUNT = re.compile(
    r"\s*(?:-\s*)?(?:de |d')?(?:" + _FORM_RE + r"|" + _UNIT_RE + r"|fois|times|jours?|days?|semaines?|weeks?|mois|"
    r"months?|heures?|hours?|ans?|years?|par|per|a|an|sur|of|et demi|and a half)\b"
)


_FORM_OF = re.compile(r"\b(?:" + _FORM_RE + r")\s+(?:dosee?s?\s+)?(?:de|d'|a|of)\s*$")


def strength_after_form(text: str, a: int, b: int, strengths: Sequence[str]) -> tuple[Quantity, int, int] | None:
    """"deux comprimés de cinq cents", "one tablet of 20": a number without a unit after a form word in
    ``text[a:b]`` that is one of the product's marketed strengths (BDPM ``strengths``) is its strength."""
    if not strengths:
        return None
    folded = fold(text[a:b])
    for num in find_numbers(folded):
        if num.value_high is not None or not _FORM_OF.search(folded[max(0, num.start - 30) : num.start]):
            continue
        if re.match(r"\s*(?:" + _UNIT_RE + r")\b", folded[num.end :]):
            continue
        q = _marketed(num.value, strengths)
        if q is not None:
            return q, a + num.start, a + num.end
    return None


def bare_strength(
    text: str, drug_end: int, limit: int, strengths: Sequence[str]
) -> tuple[Quantity, int, int] | None:
    """"Doliprane 1000", "Kardégic 75": a bare number right after the product name (``text[drug_end:limit]``)
    that is one of its marketed strengths (BDPM ``strengths``, e.g. ``"1000 mg"``) is the strength in that
    unit: the quantity and the number's span in ``text``."""
    if not strengths:
        return None
    m = _BARE_NUMBER.match(text, drug_end, limit)
    if m is not None:
        value, start, end = float(m.group(1).replace(",", ".")), m.start(1), m.end(1)
    else:
        # in words ("le Tahor vingt", "Doliprane mille", "le Kardégic soixante-quinze")
        tail = fold(text[drug_end:limit])
        nums = find_numbers(tail)
        if not nums or not nums[0].in_words or nums[0].value_high is not None:
            return None
        if tail[: nums[0].start].strip(" ,") or re.match(_WORD_AFTER_COUNT, tail[nums[0].end :]):
            return None
        value, start, end = nums[0].value, drug_end + nums[0].start, drug_end + nums[0].end
    if re.match(r"\s*(?:mg|g|µg|ug|mcg|ml|milligram|gram|microgram|ui|iu|units?)\b", text[end:limit], re.I):
        return None  # a unit follows: the posology parser reads it
    q = _marketed(value, strengths)
    return (q, start, end) if q is not None else None


def _marketed(value: float, strengths: Sequence[str]) -> Quantity | None:
    """The strength ``value`` in the unit of the marketed strength (BDPM ``strengths``, e.g. ``"1000 mg"``) it
    equals, or None when no marketed strength has that value."""
    for s in strengths:
        sm = re.fullmatch(r"(\d+(?:[.,]\d+)?)\s*(mg|g|µg|ml|ui)", s.strip().lower())
        if sm is not None and abs(float(sm.group(1).replace(",", ".")) - value) <= 1e-9:
            unit = {"µg": "ug", "ml": "mL", "ui": "[iU]"}.get(sm.group(2), sm.group(2))
            return Quantity(value=value, unit=unit, ucum=True)
    return None


_FILLER = re.compile(r"\b(?:uh|um|uhm|umm|er|erm|euh|heu|hum|hmm)\b,?\s*")


class _Text:
    """The folded input with numbers replaced by ``§i§`` and an offset map back to the input."""

    def __init__(self, text: str, asr: bool = False) -> None:
        self.original = text
        folded = fold(text)
        # text from speech: posology words as the recogniser writes them are read as said ("incomprimé": "1
        # comprime"); a number put in that way is read with a homophone's certainty (the line is flagged)
        heard = respell(folded) if asr else None
        if heard is not None:
            folded = heard.text
        self.numbers: list[NumberSpan] = find_numbers(folded, asr_homophones=asr)
        if heard is not None and heard.put_in:
            self.numbers = [
                replace(n, certainty=min(n.certainty, HOMOPHONE_CERTAINTY))
                if any(a < n.end and n.start < b for a, b in heard.put_in) else n
                for n in self.numbers
            ]
        # hesitations are left out ("when my uh joint pains are bad"), numbers become placeholders
        cuts: list[tuple[int, int, str]] = [(n.start, n.end, f"§{i}§") for i, n in enumerate(self.numbers)]
        cuts += [
            (m.start(), m.end(), "")
            for m in _FILLER.finditer(folded)
            if not any(n.start < m.end() and m.start() < n.end for n in self.numbers)
        ]
        cuts.sort()
        parts: list[str] = []
        starts: list[int] = []
        ends: list[int] = []
        pos = 0
        for start, end, ph in cuts:
            chunk = folded[pos:start]
            parts.append(chunk)
            starts.extend(range(pos, start))
            ends.extend(range(pos + 1, start + 1))
            parts.append(ph)
            starts.extend([start] * len(ph))
            ends.extend([end] * len(ph))
            pos = end
        parts.append(folded[pos:])
        starts.extend(range(pos, len(folded)))
        ends.extend(range(pos + 1, len(folded) + 1))
        self.rw = "".join(parts)
        if heard is not None:  # back to the words as heard
            starts = [heard.starts[k] for k in starts]
            ends = [heard.ends[k - 1] for k in ends]
        self._starts = starts
        self._ends = ends
        self.used = [False] * len(self.rw)

    def span(self, a: int, b: int) -> tuple[int, int]:
        if b <= a:
            return self._starts[a] if a < len(self._starts) else len(self.original), self._starts[a]
        return self._starts[a], self._ends[b - 1]

    def free(self, a: int, b: int) -> bool:
        return not any(self.used[a:b])

    def take(self, a: int, b: int) -> None:
        for k in range(a, b):
            self.used[k] = True

    def num(self, group: str | None) -> NumberSpan:
        assert group is not None
        return self.numbers[int(group)]


def _qty(num: NumberSpan, unit_text: str | None, default_unit: str | None = None) -> Quantity | None:
    if unit_text:
        unit, ucum = unit_of(unit_text)
    elif default_unit:
        unit, ucum = default_unit, False
    else:
        return None
    return Quantity(value=num.value, value_high=num.value_high, unit=unit, ucum=ucum)


def _clause_before(text: str, start: int) -> str:
    """The words of ``text`` before ``start`` back to the last punctuation mark."""
    return text[max(text.rfind(c, 0, start) for c in ",.;!?") + 1 : start]


def _near_intake(text: str, start: int, end: int) -> bool:
    """A verb of taking in the clause of ``text[start:end]`` (between punctuation marks) or within
    ``_OCCASIONAL_REACH`` words of it."""
    a = max(text.rfind(c, 0, start) for c in ",.;!?") + 1
    b = min([i for i in (text.find(c, end) for c in ",.;!?") if i >= 0] or [len(text)])
    near = " ".join(text[:start].split()[-_OCCASIONAL_REACH:] + text[end:].split()[:_OCCASIONAL_REACH])
    return bool(_INTAKE_VERB.search(text[a:b]) or _INTAKE_VERB.search(near))


def parse_posology(
    text: str,
    *,
    drug_spans: Sequence[tuple[int, int]] = (),
    asr: bool = False,
    lead: str = "",
) -> Posology:
    """Parse the posology said in ``text`` (one sentence or a few). ``drug_spans`` are the drug
    mentions in ``text``: a quantity right after a drug name is its strength. ``asr``: the text comes
    from speech recognition (number homophones before units are read, with a low certainty). ``lead``: the
    words of the same sentence said before ``text``, read only as context (the verb of taking in "he takes
    Zyrtec or Claritin sometimes" for the second name)."""
    t = _Text(text, asr=asr)
    rw = t.rw
    pos = Posology()

    def slot(value: T, a: int, b: int, certainty: float = 1.0) -> Slot[T]:
        s, e = t.span(a, b)
        return Slot(value, s, e, certainty)

    def ncert(*groups: str | None) -> float:
        vals = [t.num(g).certainty for g in groups if g is not None]
        return min(vals) if vals else 1.0

    m: re.Match[str] | None
    # corrections ("deux... non, un comprimé"): the corrected number is not read
    for m in _CORRECTION.finditer(rw):
        t.take(m.start(), m.end())

    # supply (QSP) and renewals, before the duration and frequency patterns read them
    for m in _P_QSP.finditer(rw):
        if not t.free(m.start(), m.end()):
            continue
        grp = m.group(1) if m.group(3) is not None else m.group(4)
        unit_text = m.group(3) or m.group(6)
        value = t.num(grp).value if grp else 1.0
        cert = ncert(grp)
        if value > 0 and unit_text:
            dur = Duration(value=value, unit=_DUR_UNITS[unit_text])
            pos.quantity_for = slot(dur, m.start(), m.end(), cert)
            t.take(m.start(), m.end())
            break
    for m in _P_RENEW.finditer(rw):
        if not t.free(m.start(), m.end()):
            continue
        if m.group(5) is not None:
            n, cert = 0.0, 1.0
        elif m.group(1) is not None or m.group(3) is not None:
            num = t.num(m.group(1) or m.group(3))
            n, cert = num.value, num.certainty
        else:
            word = m.group(2) or m.group(4)
            n, cert = {"une": 1, "un": 1, "one": 1, "once": 1, "twice": 2, "two": 2}[word], 1.0
        if n >= 0 and float(n).is_integer():
            pos.renewals = slot(int(n), m.start(), m.end(), cert)
            t.take(m.start(), m.end())
            break

    # minimum interval between intakes
    for m in _P_MIN_INTERVAL.finditer(rw):
        if not t.free(m.start(), m.end()):
            continue
        num = t.num(m.group(1))
        unit = _PERIOD_UNITS.get(m.group(2), "h")
        explicit = bool(re.search(r"entre|between|intervalle|delai|apart|espac|attend|wait|leave", m.group(0)))
        if num.value > 0 and explicit:
            pos.min_interval = slot(Duration(value=num.value, unit=unit), m.start(), m.end(), num.certainty)
            t.take(m.start(), m.end())
            break

    # maximum per intake, before the maximum per day reads "maximum 2 comprimés"
    for m in _P_MAX_INTAKE.finditer(rw):
        if not t.free(m.start(), m.end()):
            continue
        grp, unit_text = (m.group(1), m.group(2)) if m.group(1) is not None else (m.group(3), m.group(4))
        num = t.num(grp)
        q = _qty(num, unit_text, "dose")
        if q is not None:
            pos.max_per_intake = slot(q, m.start(), m.end(), num.certainty)
            t.take(m.start(), m.end())
            break

    # max per day first, so that its numbers are not read as a dose or a frequency
    for m in _P_MAX.finditer(rw):
        if not t.free(m.start(), m.end()) or re.match(r"\s*(?:fois|times)", rw[m.end() :]):
            continue
        num = t.num(m.group(1))
        q = _qty(num, m.group(2), "dose")
        if q is not None:
            pos.max_per_day = slot(q, m.start(), m.end(), num.certainty)
            t.take(m.start(), m.end())
            break
    for rx in (_P_MAX_AFTER, _P_MAX_TRAIL, _P_MAX_UPTO):
        # "trois comprimés maximum dans la journée", "eight tablets max a day"; "trois comprimés par jour au
        # maximum", "six a day at most"
        if pos.max_per_day is not None:
            break
        m = rx.search(rw)
        if m is not None and t.free(m.start(), m.end()):
            num = t.num(m.group(1))
            q = _qty(num, m.group(2), "dose")
            if q is not None:
                pos.max_per_day = slot(q, m.start(), m.end(), num.certainty)
                t.take(m.start(), m.end())

    # as needed (+ condition)
    for prn_pattern in (_P_PRN_COND, _P_PRN_CASE):
        for m in prn_pattern.finditer(rw):
            if t.free(m.start(), m.end()):
                cond = " ".join(text[slice(*t.span(m.start(1), m.end(1)))].split())
                pos.as_needed = slot(cond or None, m.start(), m.end(), 0.9)
                t.take(m.start(), m.end())
                break
        if pos.as_needed is not None:
            break
    if pos.as_needed is None:
        m = _P_PRN_GENERIC.search(rw)
        if m is None:
            ctx = fold(lead)
            m = next(
                (
                    o
                    for o in _P_PRN_OCCASIONAL.finditer(rw)
                    if _near_intake(ctx + rw, len(ctx) + o.start(), len(ctx) + o.end())
                ),
                None,
            )
        if m is not None:
            pos.as_needed = slot(None, m.start(), m.end())
            t.take(m.start(), m.end())

    # duration
    for m in _P_DURATION.finditer(rw):
        if not t.free(m.start(), m.end()) or _NOT_TREATMENT_BEFORE.search(_clause_before(rw, m.start())):
            continue
        value = t.num(m.group(1)).value if m.group(1) else 1.0
        if value <= 0:
            continue
        unit = _DUR_UNITS[m.group(3)]
        pos.duration = slot(Duration(value=value, unit=unit), m.start(), m.end(), ncert(m.group(1)))
        t.take(m.start(), m.end())
        break
    if pos.duration is None:
        for m in _P_COURSE.finditer(rw):
            if not t.free(m.start(), m.end()):
                continue
            grp, unit_text = (m.group(1), m.group(3)) if m.group(3) else (m.group(4), m.group(5))
            value = t.num(grp).value if grp else 1.0
            if value > 0 and unit_text:
                unit = _DUR_UNITS.get(unit_text, _DUR_UNITS.get(unit_text.rstrip("s"), "d"))
                pos.duration = slot(Duration(value=value, unit=unit), m.start(), m.end(), ncert(grp))
                t.take(m.start(), m.end())
                break
    if pos.duration is None:
        for m in _P_DURATION_BARE.finditer(rw):
            before = rw[max(0, m.start() - 14) : m.start()]
            if not t.free(m.start(), m.end()) or _NO_BARE_DURATION_BEFORE.search(before):
                continue
            if _NOT_TREATMENT_BEFORE.search(_clause_before(rw, m.start())):
                continue
            if re.match(r"\s*(?:plus tard|later|ago)", rw[m.end() :]):
                continue
            num = t.num(m.group(1))
            if num.value <= 0:
                continue
            unit = _DUR_UNITS[m.group(2)]
            pos.duration = slot(Duration(value=num.value, unit=unit), m.start(), m.end(), 0.8 * num.certainty)
            t.take(m.start(), m.end())
            break

    # one intake only: no frequency is read from the times of day or "par jour" said with it
    for m in _P_SINGLE_DOSE.finditer(rw):
        numbers = [g for g in m.groups() if g is not None]
        if t.free(m.start(), m.end()) and all(t.num(g).value == 1 for g in numbers):
            pos.single_dose = slot(True, m.start(), m.end(), ncert(*numbers))
            t.take(m.start(), m.end())
            break

    # frequency
    def set_freq(count: float, count_max: float | None, period: float, unit: str, a: int, b: int, c: float) -> None:
        if pos.frequency is None and count >= 1 and period > 0:
            freq = Frequency(
                count=int(round(count)),
                count_max=int(round(count_max)) if count_max and count_max > count else None,
                period=period,
                period_unit=unit,
            )
            pos.frequency = slot(freq, a, b, c)
            t.take(a, b)

    for m in _P_FREQ_TIMES.finditer(rw):
        if t.free(m.start(), m.end()):
            num = t.num(m.group(1))
            unit = (
                "d"
                if m.group(2).startswith(("24", "jour", "journee", "j", "day"))
                else _PERIOD_UNITS.get(m.group(2), "d")
            )
            set_freq(num.value, num.value_high, 1, unit, m.start(), m.end(), num.certainty)
            break
    if pos.frequency is None:
        m = _P_FREQ_DAILY.search(rw)
        if m is not None and t.free(m.start(), m.end()):
            num = t.num(m.group(1))
            unit = {"daily": "d", "weekly": "wk", "monthly": "mo"}[m.group(2)]
            set_freq(num.value, num.value_high, 1, unit, m.start(), m.end(), num.certainty)
    if pos.frequency is None:
        m = _P_FREQ_EN.search(rw)
        if m is not None and t.free(m.start(), m.end()):
            count = {"once": 1, "twice": 2, "thrice": 3}[m.group(1)]
            per = m.group(2) or m.group(3)
            unit = {"day": "d", "daily": "d", "week": "wk", "weekly": "wk", "month": "mo", "monthly": "mo"}[per]
            set_freq(count, None, 1, unit, m.start(), m.end(), 1.0)
    if pos.frequency is None:
        m = _P_FREQ_LATIN.search(rw)
        if m is not None and t.free(m.start(), m.end()):
            set_freq(_LATIN_COUNTS[m.group(1)], None, 1, "d", m.start(), m.end(), 1.0)
    if pos.frequency is None:
        m = _P_EVERY_OTHER.search(rw)
        if m is not None and t.free(m.start(), m.end()):
            set_freq(1, None, 2, "d", m.start(), m.end(), 1.0)
    if pos.frequency is None:
        for m in _P_EVERY.finditer(rw):
            if not t.free(m.start(), m.end()):
                continue
            period = t.num(m.group(1)).value if m.group(1) else 1.0
            unit = _PERIOD_UNITS.get(m.group(2), "d")
            if period == 1 and unit == "d":
                continue  # "tous les jours", "every day": times of day said with it count ("matin et soir")
            set_freq(1, None, period, unit, m.start(), m.end(), ncert(m.group(1)))
            break
    if pos.frequency is None:
        m = _P_PER_PERIOD.search(rw)
        if m is not None and t.free(m.start(), m.end()):
            set_freq(1, None, 1, _PERIOD_UNITS[m.group(1)], m.start(), m.end(), 1.0)

    # times of day
    codes: list[WhenCode] = []
    spans: dict[str, tuple[int, int]] = {}
    w_start, w_end = -1, -1

    def said_when(m: re.Match[str], *said: WhenCode) -> None:
        """Record the times of day ``said`` by match ``m`` unless it is taken or negated ("not at night")."""
        nonlocal w_start, w_end
        if not t.free(m.start(), m.end()) or _NO_WHEN_BEFORE.search(rw[max(0, m.start() - 16) : m.start()]):
            return
        for code in said:
            if code not in codes:
                codes.append(code)
                spans[code] = (m.start(), m.end())
        t.take(m.start(), m.end())
        w_start = m.start() if w_start < 0 else min(w_start, m.start())
        w_end = max(w_end, m.end())

    # "with breakfast", "with your evening meal": a time of day and with food
    for m in _P_WITH_MEAL.finditer(rw):
        meal = m.group(1)
        said_when(m, "MORN" if meal == "breakfast" else "NOON" if meal == "lunch" else "EVE", "C")
    for pattern, code in _WHEN:
        for m in re.finditer(r"\b(?:" + pattern + r")\b", rw):
            said_when(m, code)
    # "le soir au coucher", "in the evening at bedtime": one intake, at bedtime
    if "EVE" in spans and "HS" in spans and re.fullmatch(r"[\s,]*", rw[spans["EVE"][1] : spans["HS"][0]]):
        codes.remove("EVE")
    if codes:
        order = [
            c
            for c, _ in ((c, 0) for c in ("WAKE", "ACM", "MORN", "NOON", "AFT", "EVE", "NIGHT", "HS", "AC", "C", "PC"))
            if c in codes
        ]
        pos.when = slot(order, w_start, w_end)
        daily = [c for c in order if c in ("WAKE", "MORN", "NOON", "AFT", "EVE", "NIGHT", "HS", "ACM")]
        if pos.frequency is None and daily and pos.single_dose is None:
            set_freq(len(daily), None, 1, "d", w_start, w_end, 1.0)
    if pos.frequency is None and pos.single_dose is None:
        m = _P_DAILY.search(rw)
        # "sans dépasser huit bouffées par jour": a daily ceiling, not one intake a day
        if (
            m is not None
            and t.free(m.start(), m.end())
            and not _MAX_CUE_BEFORE.search(rw[max(0, m.start() - 40) : m.start()])
        ):
            set_freq(1, None, 1, "d", m.start(), m.end(), 1.0)

    # dose as a form ("un comprimé", "2 puffs", "un comprimé et demi")
    for m in _P_DOSE_FORM.finditer(rw):
        if not t.free(m.start(), m.end()):
            continue
        num = t.num(m.group(1))
        value = num.value
        if m.group(3) is not None:
            value += t.num(m.group(3)).value if t.num(m.group(3)).value < 1 else 0
        elif m.group(0).endswith("a half"):
            value += 0.5
        unit, ucum = unit_of(m.group(2))
        q = Quantity(value=value, value_high=num.value_high, unit=unit, ucum=ucum)
        pos.dose = slot(q, m.start(), m.end(), num.certainty)
        if unit != "dose":
            pos.form = slot(unit if unit != "[drp]" else "goutte", m.start(2), m.end(2))
        t.take(m.start(), m.end())
        break
    if pos.dose is None:
        m = _P_DOSE_A.search(rw)
        if m is not None and t.free(m.start(), m.end()):
            unit, ucum = unit_of(m.group(2))
            pos.dose = slot(Quantity(value=1, unit=unit, ucum=ucum), m.start(), m.end(), 0.9)
            pos.form = slot(unit if unit != "[drp]" else "goutte", m.start(2), m.end(2))
            t.take(m.start(), m.end())

    # quantities with a unit: strength or dose
    folded_drug_ends = [e for _, e in drug_spans]
    for m in _P_QTY.finditer(rw):
        if not t.free(m.start(), m.end()):
            continue
        num = t.num(m.group(1))
        q = _qty(num, m.group(2))
        if q is None:
            continue
        s_orig, _ = t.span(m.start(), m.end())
        before_rw = rw[max(0, m.start() - 30) : m.start()]
        gap_ok = any(0 <= s_orig - e <= 12 and _gap_is_strength(fold(text[e:s_orig])) for e in folded_drug_ends)
        after_form = _STRENGTH_FROM_FORM.search(before_rw) is not None
        is_volume = q.unit == "mL"
        is_mass = q.unit in ("mg", "g", "ug")
        dose_verb = _DOSE_VERB_BEFORE.search(before_rw) is not None
        # a mass said without an intake verb ("la metformine, 500 mg le matin") is the strength
        if pos.strength is None and (
            is_mass and not dose_verb or not is_volume and (gap_ok or after_form or pos.dose is not None)
        ):
            if dose_verb and pos.dose is None:
                pos.dose = slot(q, m.start(), m.end(), num.certainty)
            else:
                pos.strength = slot(q, m.start(), m.end(), num.certainty)
                # a liquid's concentration ("125 mg in 5 mL", "120 mg/5 ml"): the volume belongs to the strength
                per = _PER_VOLUME.match(rw, m.end())
                if per is not None and t.free(per.start(), per.end()):
                    t.take(per.start(), per.end())
        elif pos.dose is None:
            pos.dose = slot(q, m.start(), m.end(), num.certainty)
        elif pos.strength is None and not is_volume:
            pos.strength = slot(q, m.start(), m.end(), num.certainty)
        else:
            continue
        t.take(m.start(), m.end())

    # product form, if no dose form said it
    if pos.form is None:
        for pattern, form_name in _PRODUCT_FORMS:
            m = re.search(r"\b(?:" + pattern + r")\b", rw)
            if m is not None and form_name:
                pos.form = slot(form_name, m.start(), m.end(), 0.9)
                break
        if pos.form is None:
            # the form named with the drug, plural included ("salbutamol inhalers", "Daktarin creams")
            for s, e in drug_spans:
                fm = _PRODUCT_AT_NAME.search(fold(text[s:e])) or _PRODUCT_AT_NAME.match(fold(text[e : e + 16]))
                if fm is not None:
                    product = _lookup(_PRODUCT_FORMS[:-1], fm.group(1).rstrip("s"))
                    if product:
                        pos.form = Slot(product, s, e, 0.9)
                        break
        if pos.form is None and drug_spans and lead:
            # the form named just before the drug ("a daily inhaler, Spiriva", "an inhaler called Spiriva")
            fm = _PRODUCT_BEFORE_NAME.search(fold(lead))
            if fm is not None:
                product = _lookup(_PRODUCT_FORMS[:-1], fm.group(1).rstrip("s"))
                if product:
                    pos.form = Slot(product, drug_spans[0][0], drug_spans[0][1], 0.8)
        if pos.form is None:
            m = re.search(r"\b(?:en|in)\s+(" + _FORM_RE + r")\b", rw)
            if m is not None:
                unit, _ = unit_of(m.group(1))
                pos.form = slot(unit if unit != "[drp]" else "goutte", m.start(1), m.end(1), 0.9)

    # "no more than 2 at a time", "up to 8 a day": the unit is the dose's
    if pos.dose is not None:
        for name in ("max_per_intake", "max_per_day"):
            cur = getattr(pos, name)
            said_doses = cur is not None and re.search(r"\bdoses?\b", fold(text[cur.start : cur.end])) is not None
            if cur is not None and cur.value.unit == "dose" and pos.dose.value.unit != "dose" and not said_doses:
                q = cur.value.model_copy(update={"unit": pos.dose.value.unit, "ucum": pos.dose.value.ucum})
                setattr(pos, name, Slot(q, cur.start, cur.end, cur.certainty))

    # route
    for pattern, route_name in _ROUTES:
        m = re.search(r"(?<![a-z])(?:" + pattern + r")(?![a-z])", rw)
        if m is not None:
            pos.route = slot(route_name, m.start(), m.end())
            break
    return pos


def _gap_is_strength(gap: str) -> bool:
    g = gap.strip()
    return g in ("", ",", "a", "de", "dose a", "dosee a", "dosé à", "of", "at") or bool(
        re.fullmatch(r"[,\s]*(?:dose[es]*\s+)?(?:a|de|d')?\s*", g)
    )
