"""Common French and English words that must never be read as a drug name.

Hand-made list of frequent dialogue words (function words, consultation vocabulary, body parts,
symptoms, times, numbers). Keys are folded (lower-case, no accents).
"""

from __future__ import annotations

_FR = """
a ai aie aies ait alors au aucun aussi autre autres aux avant avec avez avoir avons bah ben bien bon
bonjour bonsoir ca car ce ceci cela celle celui ces cet cette chez ci comme comment dans de des depuis
deja doit donc dont du elle elles en encore entre est et etait etais ete etre eu euh eux fait faire
fais faut fois hein hier ici il ils je jamais juste la le les leur leurs lui ma mais me meme mes moi
moins mon ne ni non nos notre nous on ont ou oui par pas peu peut peux plus pour pourquoi quand que
quel quelle quelles quels qui quoi sa sans se ses si sinon son sont sous sur ta te tes toi ton tous
tout toute toutes tres tu un une vos votre vous vu y voila voici alors apres avant ok okay daccord
accord merci madame monsieur docteur medecin patient patiente enfant enfants mari femme fils fille
matin midi soir nuit jour jours semaine semaines mois an ans annee heure heures minute minutes
aujourd hui demain maintenant toujours souvent parfois temps moment fin debut coup
mal douleur douleurs ventre tete dos bras jambe jambes pied pieds main mains coeur poitrine gorge nez
oeil yeux oreille oreilles peau sang ventre estomac foie rein reins poumon poumons cou epaule genou
fievre toux rhume grippe nausee nausees vomissement vomissements diarrhee constipation fatigue
allergie allergies infection traitement traitements medicament medicaments ordonnance pharmacie
comprime comprimes gelule gelules sachet sachets goutte gouttes sirop creme pommade dose doses
vitamine vitamines cachet cachets pilule pilules piqure vaccin vaccins analyse analyses prise prises
prendre prenez prends pris prise prenait mange manger boire bu eau repas dejeuner diner petit grand
grande gros bonne mauvais mauvaise normal normale probleme problemes question questions
examen examens radio scanner prise sang tension pression poids taille age
chose choses gens personne rien tout tres trop assez beaucoup plutot vraiment peut etre sais sait
savoir vois voir venir viens vient venu venue aller vais va vas allez dire dis dit parler
pense penser crois croire veux vouloir voulez peux pouvez dois devez mettre mets met
tabac alcool cafe the sport travail maison voiture chat chien famille pere mere frere soeur
marche marcher dormir sommeil respirer respiration manger mangé tousse tousser
pain sel sucre lait beurre viande poisson fruit fruits legumes
chaud froid fort forte forts doux douce calme calmer soulage soulager passe passer
gauche droite droit haut bas cote milieu dessus dessous devant derriere
un deux trois quatre cinq six sept huit neuf dix onze douze treize quatorze quinze seize vingt
trente quarante cinquante soixante cent cents mille demi demie
premier premiere second seconde dernier derniere prochain prochaine
sinus regle regles enceinte grossesse poids bilan sang urine urines selles
"""

_EN = """
a about after again against all also am an and any are as at be because been before being
between both but by can could did do does doing don done down during each few for from further
had has have having he her here hers herself him himself his how i if in into is it its itself
just me more most my myself no nor not now of off on once only or other our ours out over own
same she should so some such than that the their them then there these they this those through
to too under until up very was we were what when where which while who whom why will with would
you your yours yourself yes yeah okay ok um uh hmm alright right well thanks thank hello hi bye
doctor patient nurse mum mom dad wife husband son daughter child children family friend
morning noon evening night day days week weeks month months year years hour hours minute minutes
today tomorrow yesterday time times now always often sometimes never
pain pains ache head back arm leg legs foot feet hand hands heart chest throat nose eye eyes ear
ears skin blood stomach belly liver kidney lung lungs neck shoulder knee
fever cough cold flu nausea vomiting diarrhea diarrhoea constipation tired fatigue allergy
allergies infection treatment medication medications medicine medicines prescription pharmacy
tablet tablets pill pills capsule capsules drop drops syrup cream ointment dose doses puff puffs
vitamin vitamins vaccine vaccines test tests scan xray pressure weight height age
thing things people nothing everything something anything really quite pretty much many little
know think feel feeling take taking took taken get got go going went come came say said tell
see seen look want need like make made put give gave help try tried
food water drink drinking alcohol coffee tea smoke smoking work home car sport exercise sleep
breath breathing walk walking eat eating bread salt sugar milk meat fish fruit
hot warm sharp dull strong mild severe better worse good bad fine normal
left right up down side top bottom front
one two three four five six seven eight nine ten eleven twelve twenty thirty forty fifty
hundred thousand half first second last next
ella able lead iron gold air oxygen daily rid act drill mate pin pins souci soucis soufre souffre
raisin raising raised crystal crystals proper generic radium radius active physical physically
cholesterol certain exertion exerting reaction reactions pandemic shortly noticing examine
reflux anytime attention primary primarily center centre rested worsen worsens sentences shorter
brilliant covers cover recover correctly suspect contraction median pancreatic transient
percent mission seventh contains contain hormones traitant vivants purchase orally metals
pertussis challenges banana priors subside exhale exhales exhaustion exhausting marvelous
start started starting stop stopped call called some will would else used spasms spots spot
constipe constipee combien sentais sentie sentez antalgique antalgiques structures entourage
structure thyroid thyroids surface bronchioles sentence reacting commit nickel
"""

FRENCH_STOPWORDS: frozenset[str] = frozenset(_FR.split())
"""The French part of :data:`STOPWORDS` (an accented word is never one of the English ones: "homé" is not "home")."""
STOPWORDS: frozenset[str] = FRENCH_STOPWORDS | frozenset(_EN.split())
"""Folded common words; a lexicon entry equal to one of these is never matched."""
