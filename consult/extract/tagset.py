"""The tagger's vocabulary, shared by the training-data generator and the runtime back-end.

:data:`LABELS` are the span labels of the token tagger (``scripts/train_tagger.py`` trains on them,
:mod:`consult.backends.tagger` decodes them); :func:`ordinary_words` are everyday French and English words,
never a drug name: the generator (:mod:`consult.extract.synth`) builds its chatter from them, and the tagger
refuses an unknown drug span made of them. Kept apart from the 1.4k-line generator so that the runtime does
not import it.
"""

from __future__ import annotations

from functools import lru_cache

from consult.extract.text import key_of

LABELS: tuple[str, ...] = (
    "DRUG", "STRENGTH", "DOSE", "ROUTE", "FREQ", "WHEN", "DURATION", "PRN", "MAX", "QSP", "RENEWAL",
)
"""Span labels. MAX covers the maximum per day, the maximum per intake and the minimum interval."""


# Frequent words of everyday French and English conversation (general frequency lists, consultation
# vocabulary): ordinary words, never drugs. Chatter built from them keeps the tagger from reading any word
# it has not seen as a drug name.
_ORDINARY: dict[str, str] = {
    "fr": """
le la les un une des de du et à au aux en dans sur sous avec sans pour par chez vers entre je tu il elle on nous
vous ils elles me te se moi toi lui leur eux mon ma mes ton ta tes son sa ses notre votre nos vos ce cet cette ces
ça cela ceci qui que quoi dont où quand comment pourquoi combien quel quelle oui non ouais si pas plus ne rien
personne jamais toujours souvent parfois encore déjà aussi très trop peu beaucoup assez bien mal mieux moins
vraiment peut-être d'accord voilà enfin quand même bah ben bon alors donc mais puis ensuite après avant depuis
pendant là ici là-bas comme tout tous toute toutes autre autres même chaque quelque quelques chose choses gens
est suis es sommes êtes sont était étais été être ai as a avons avez ont avait avais eu avoir fait fais faire
faites vais va vas allez allons aller allé allée viens vient venu venue venir dit dis dire vois voit vu voir sais
sait savoir peux peut pouvoir veux veut vouloir faut falloir mets met mis mettre passe passé passer reste rester
sens sent senti sentais sentir pense pensé penser crois croire trouve trouvé trouver parle parler mange mangé
manger bois bu boire dors dormi dormir travaille travaillé travailler marche marché marcher tombe tombé tomber
arrive arrivé arriver commence commencé commencer essaie essayé essayer appelle appelé appeler regarde regardé
regarder attend attendu attendre habite habiter vomi vomir toussé tousser gêne gêné gêner inquiète inquiet
maison travail bureau école famille enfants enfant mari femme fils fille mère père maman papa frère sœur ami amie
copain collègue voisin médecin docteur infirmière hôpital urgences pharmacien rendez-vous examen analyse résultats
radio échographie prise sang tension cœur poitrine poumons respiration souffle toux fièvre douleur douleurs tête
ventre dos cou épaule genou jambe jambes bras main mains pied pieds peau bouton boutons yeux œil oreille oreilles
gorge nez bouche dents dent corps poids sommeil fatigue fatigué fatiguée vertiges nausées vomissements diarrhée
symptômes température fiévreuse fiévreux opérée opéré opération chirurgie accident chute voiture vélo télé
téléphone temps moment heure minute année an ans hier aujourd'hui demain début fin fois coup côté endroit
particulier problème problèmes question questions allergie allergies antécédents traitement situation histoire
idée raison cas genre type truc machin sport cuisine repas café thé eau vin bière cigarette tabac alcool stress
travail vacances week-end dimanche lundi mardi mercredi jeudi vendredi samedi janvier février mars juin juillet
août septembre octobre novembre décembre grand grande petit petite gros grosse bon bonne mauvais mauvaise normal
normale fort forte faible chaud froid rouge gonflé gonflée sec sèche dur difficile facile nouveau nouvelle vieux
vieille jeune âgé âgée seul seule premier première dernier dernière long longue court courte propre sale
inquiétant grave léger légère sûr sûre possible important bizarre pareil content contente triste
""",
    "en": """
the a an and or but so if then than that this these those there here what which who whom whose when where why
how i you he she it we they me him her us them my your his its our their mine yours is am are was were be been
being have has had having do does did doing done go goes went going gone get gets got getting gotten make made
making say said saying tell told know knew known think thought see saw seen come came coming take took taken give
gave given feel felt feeling want wanted need needed try tried look looked seem seemed keep kept start started
stop stopped happen happened notice noticed live lived work worked use used help helped call called eat ate
drink drank sleep slept walk walked run ran sit sat stand stood lie lay fall fell hurt hurts wake woke breathe
cough coughed sneeze vomit vomited throw threw can could will would shall should may might must not no yes yeah
yep nope okay ok alright right well oh uh um hmm like just really very quite pretty rather too also still
already again ever never always often sometimes usually maybe probably actually basically definitely exactly
sure kind sort bit lot little much many more most less least some any every each all both few several other
another something anything nothing everything someone anyone everyone somebody anybody nobody somewhere anywhere
everywhere today yesterday tomorrow tonight now soon later ago before after during while until since about
around over under up down out in on at by for with without from into onto off through between against across
home house work job office school college family mother father mom dad mum wife husband son daughter kids
children child brother sister friend friends partner boyfriend girlfriend doctor nurse hospital clinic
emergency appointment test tests results scan x-ray blood pressure heart chest lungs breathing breath fever
pain ache aches headache stomach belly back neck shoulder shoulders knee knees leg legs arm arms hand hands foot
feet skin rash rashes eye eyes ear ears throat nose mouth teeth tooth head body weight sleep tired tiredness
fatigue dizzy dizziness nausea vomiting diarrhea diarrhoea symptoms symptom better worse bad good fine normal
sick ill worried concerned concern change changes changed smoke smoking drinking alcohol exercise diet food water
coffee tea beer wine history medical condition conditions problem problems issue issues question questions
allergy allergies allergic surgery operation diagnosed diagnosis treatment thing things stuff way time times
day days week weeks month months year years hour hours minute minutes moment morning afternoon weekend monday
tuesday wednesday thursday friday saturday sunday january february march april may june july august september
october november december first second last next new old young big small large long short hot cold warm red
swollen dry wet hard easy difficult sharp dull constant severe mild great nice terrible awful happy sad
stressed anxious busy careful important possible different same whole able pretty sore itchy tender stiff
""",
}


@lru_cache(maxsize=2)
def ordinary_vocabulary(language: str) -> tuple[str, ...]:
    """The everyday words of ``language`` (``"fr"`` or ``"en"``) as written, in list order, each once."""
    return tuple(dict.fromkeys(_ORDINARY[language].split()))


@lru_cache(maxsize=1)
def ordinary_words() -> frozenset[str]:
    """Folded keys of the everyday words of both languages (never a drug name)."""
    return frozenset(k for lang in _ORDINARY.values() for w in lang.split() for k in key_of(w).split())


__all__ = ["LABELS", "ordinary_vocabulary", "ordinary_words"]
