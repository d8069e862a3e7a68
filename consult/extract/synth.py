"""Synthetic consultation sentences with character-span labels, to train the token tagger
(``scripts/train_tagger.py``, ``consult.backends.tagger``). Training only: the span labels and the everyday
words it shares with the runtime tagger are in :mod:`consult.extract.tagset`.

French and English doctor and patient turns are built from phrase templates over the shipped drug
lexicon and the posology grammar (strength, dose + form, route, frequency, times of day, duration, as
needed, maxima, supply, renewals), with numbers in digits and in words, ranges, halves and spoken
corrections, sentences without any drug, and speech-recognition noise (drug names respelled
phonetically, accents, punctuation and capitals dropped, fillers). Pure Python and deterministic: the
``i``-th example depends only on the settings, the split and ``i``.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import unicodedata
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache

from consult.extract.lexicon import DrugEntry, DrugLexicon
from consult.extract.stopwords import STOPWORDS
from consult.extract.tagset import ordinary_vocabulary, ordinary_words

GENERATOR_VERSION = "3"
"""Bump when the templates or vocabularies change: it enters :meth:`SynthConfig.fingerprint`."""

@dataclass(frozen=True)
class Span:
    start: int
    end: int
    label: str


@dataclass(frozen=True)
class Example:
    """One transcript turn: its text, labelled spans (non-overlapping, sorted) and the normalised names
    of the drugs it names."""

    text: str
    spans: tuple[Span, ...]
    language: str
    role: str
    kind: str
    drugs: tuple[str, ...] = ()


@dataclass(frozen=True)
class SynthConfig:
    """Settings of the generator; every example is a function of these, the split and its index."""

    seed: int = 13
    english: float = 0.4
    """Share of English examples."""
    no_drug: float = 0.3
    """Share of turns without any drug (small talk, history, symptoms, look-alike words)."""
    chatter: float = 0.35
    """Chance of everyday-word chatter: a no-drug turn made of it, or words around a drug sentence."""
    pseudo_words: float = 0.3
    """Share of the chatter's content words that are made-up everyday-looking words."""
    dialogue: float = 0.12
    """Share of examples taken from short doctor-patient exchanges (answers, follow-up turns)."""
    join: float = 0.1
    """Chance that an example is two or three turns of the same speaker joined (longer inputs)."""
    number_words: float = 0.5
    """Chance that a number is said in words rather than digits."""
    misspell: float = 0.18
    """Chance that a drug name is respelled as speech recognition might write it."""
    lowercase: float = 0.25
    no_accents: float = 0.15
    no_punctuation: float = 0.2
    fillers: float = 0.12
    core_drugs: float = 0.6
    """Chance to draw a drug from the common-drug list rather than from the whole lexicon."""
    heldout_names: int = 10
    """One lexicon name in this many is used only in the held-out split (unseen names are scored)."""

    def fingerprint(self) -> str:
        """sha256 of the settings and :data:`GENERATOR_VERSION` (independent of the git commit)."""
        data = json.dumps({"version": GENERATOR_VERSION, **asdict(self)}, sort_keys=True)
        return hashlib.sha256(data.encode()).hexdigest()


# --------------------------------------------------------------------------- numbers in words
_FR_SMALL = (
    "zéro un deux trois quatre cinq six sept huit neuf dix onze douze treize quatorze quinze seize dix-sept "
    "dix-huit dix-neuf"
).split()
_FR_TENS = {2: "vingt", 3: "trente", 4: "quarante", 5: "cinquante", 6: "soixante"}
_EN_SMALL = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen"
).split()
_EN_TENS = {2: "twenty", 3: "thirty", 4: "forty", 5: "fifty", 6: "sixty", 7: "seventy", 8: "eighty", 9: "ninety"}


def fr_words(n: int, feminine: bool = False) -> str:
    """French words of ``0 <= n < 1_000_000`` ("une" when ``feminine``)."""
    if n == 1:
        return "une" if feminine else "un"
    if n < 20:
        return _FR_SMALL[n]
    if n < 70:
        t, u = divmod(n, 10)
        base = _FR_TENS[t]
        return base if u == 0 else base + (" et un" if u == 1 else "-" + _FR_SMALL[u])
    if n < 80:
        return "soixante" + (" et onze" if n == 71 else "-" + _FR_SMALL[n - 60])
    if n < 100:
        return "quatre-vingts" if n == 80 else "quatre-vingt-" + _FR_SMALL[n - 80]
    if n < 1000:
        h, r = divmod(n, 100)
        head = "cent" if h == 1 else _FR_SMALL[h] + (" cents" if r == 0 else " cent")
        return head if r == 0 else head + " " + fr_words(r)
    th, r = divmod(n, 1000)
    head = "mille" if th == 1 else fr_words(th) + " mille"
    return head if r == 0 else head + " " + fr_words(r)


def en_words(n: int) -> str:
    """English words of ``0 <= n < 1_000_000``."""
    if n < 20:
        return _EN_SMALL[n]
    if n < 100:
        t, u = divmod(n, 10)
        return _EN_TENS[t] + ("" if u == 0 else "-" + _EN_SMALL[u])
    if n < 1000:
        h, r = divmod(n, 100)
        return _EN_SMALL[h] + " hundred" + ("" if r == 0 else " and " + en_words(r))
    th, r = divmod(n, 1000)
    return en_words(th) + " thousand" + ("" if r == 0 else " " + en_words(r))


# --------------------------------------------------------------------------- vocabularies
# (French singular, French plural, feminine, English singular, English plural, route)
_FORMS: tuple[tuple[str, str, bool, str, str], ...] = (
    ("comprimé", "comprimés", False, "tablet", "tablets"),
    ("comprimé", "comprimés", False, "pill", "pills"),
    ("gélule", "gélules", True, "capsule", "capsules"),
    ("sachet", "sachets", False, "sachet", "sachets"),
    ("bouffée", "bouffées", True, "puff", "puffs"),
    ("pulvérisation", "pulvérisations", True, "spray", "sprays"),
    ("goutte", "gouttes", True, "drop", "drops"),
    ("cuillère à café", "cuillères à café", True, "teaspoon", "teaspoons"),
    ("suppositoire", "suppositoires", False, "suppository", "suppositories"),
    ("patch", "patchs", False, "patch", "patches"),
    ("ampoule", "ampoules", True, "injection", "injections"),
)
_FORM_WEIGHTS = (30, 8, 14, 6, 8, 3, 4, 3, 2, 2, 2)

_ROUTES = {
    "fr": ["par voie orale", "par la bouche", "en inhalation", "sous la langue", "dans chaque narine",
           "sur la peau", "en intramusculaire", "en sous-cutanée", "par voie rectale",
           "dans les yeux", "par voie nasale", "à avaler"],
    "en": ["by mouth", "orally", "under the tongue", "in each nostril", "on the skin", "inhaled",
           "into the muscle", "under the skin", "rectally", "in each eye", "in both eyes", "topically"],
}

_WHEN = {
    "fr": ["le matin", "le soir", "matin et soir", "matin, midi et soir", "le matin et le soir", "au coucher",
           "le midi", "au moment des repas", "pendant les repas", "avant les repas", "après les repas", "à jeun",
           "avant le petit-déjeuner", "le matin à jeun", "au réveil", "le soir au coucher", "chaque matin",
           "tous les soirs", "matin midi et soir", "au dîner", "le soir avant de vous coucher"],
    "en": ["in the morning", "at night", "at bedtime", "in the evening", "with meals", "with food",
           "before meals", "after meals", "in the morning and in the evening", "every morning", "every evening",
           "before breakfast", "on an empty stomach", "at lunchtime", "before bed", "when you wake up",
           "every night"],
}

_PRN = {
    "fr": ["si besoin", "si nécessaire", "au besoin", "en cas de douleur", "en cas de douleurs", "en cas de fièvre",
           "si douleur", "si fièvre", "si vous avez mal", "en cas de crise", "en cas de toux", "à la demande",
           "en cas de besoin", "si vous avez de la fièvre", "en cas de nausées", "en cas de mal de tête",
           "quand vous avez mal", "si vous avez des douleurs", "de temps en temps", "au cas où",
           "occasionnellement"],
    "en": ["as needed", "when needed", "if needed", "as required", "if you have pain", "in case of fever",
           "when you have pain", "if you get headaches", "when you're wheezy", "if necessary", "if needed for pain",
           "if you have fever", "when you feel short of breath", "in case of nausea", "just in case",
           "occasionally", "from time to time"],
}
_PATIENT_PRN = {
    "fr": ["quand j'ai mal", "en cas de douleur", "quand j'en ai besoin", "si besoin",
           "quand j'ai mal à la tête", "en cas de crise", "en cas de fièvre", "de temps en temps",
           "de temps à autre", "à l'occasion", "au cas où"],
    "en": ["when I'm wheezy", "when I need it", "when I have pain", "as needed", "when I get headaches",
           "when I'm short of breath", "when I need them", "on occasion", "occasionally", "from time to time",
           "once in a while", "just in case", "whenever I need it"],
}

_CONFUSABLE = {
    # ordinary words that sound or look like drug names
    "fr": ["augmentation", "avril", "cardiaque", "spasme", "ventilation", "aventure", "parachute", "parasite",
           "dolmen", "lever", "levure", "smecta", "maxime", "prévision", "inexistant", "cortège", "lasagne",
           "médiator", "parallèle", "ventouse", "amoxie", "tension", "doléance", "dauphin", "effervescent",
           "spasmes", "aspiration", "aspirateur", "solution", "sérieux", "seringue", "Doris", "Valentine",
           "Caroline", "Séverine", "Pauline", "Ventura", "Kevin", "Eliot", "paradis", "tramway", "ventouses",
           "plavier", "cortex", "parasol", "cardigan", "dolomites", "avion", "champion", "immunité"],
    "en": ["augmentation", "April", "cardiac", "spasm", "ventilation", "adventure", "parachute", "parasite",
           "lever", "leverage", "maxim", "prevision", "tension", "dolphin", "effervescent", "aspiration",
           "solution", "serious", "syringe", "Caroline", "Pauline", "Kevin", "Eliot", "paradise", "tramway",
           "cortex", "parasol", "cardigan", "champion", "immunity", "Adele", "Zoe", "motor", "tylenol-like"],
}

_CLASSES = {
    "fr": ["un antibiotique", "des antibiotiques", "un anti-inflammatoire", "des antidouleurs", "un antalgique",
           "un somnifère", "un anxiolytique", "un antidépresseur", "la pilule", "un sirop pour la toux",
           "des vitamines", "un traitement pour la tension", "un anticoagulant", "de l'alcool", "du tabac",
           "un vaccin", "une crème", "des gouttes pour les yeux"],
    "en": ["an antibiotic", "antibiotics", "an anti-inflammatory", "painkillers", "sleeping pills",
           "blood pressure pills", "an antidepressant", "the pill", "a cough syrup", "vitamins", "a blood thinner",
           "alcohol", "cigarettes", "a vaccine", "some cream", "eye drops", "an inhaler"],
}

_FILLERS = {"fr": ["euh", "bon", "alors", "voilà", "bah", "donc", "hein", "ben"],
            "en": ["uh", "um", "so", "okay", "well", "right", "you know"]}

_COMMON_FR = (
    "Doliprane Dafalgan Efferalgan paracétamol amoxicilline Augmentin ibuprofène Advil Nurofen Spasfon Smecta "
    "Gaviscon Inexium oméprazole ésoméprazole pantoprazole Mopral Kardégic aspirine Levothyrox lévothyroxine "
    "metformine Glucophage Ventoline salbutamol Seretide Symbicort prednisolone Solupred Cortancyl prednisone Xanax "
    "alprazolam Lexomil bromazépam Stilnox zolpidem tramadol Ixprim Topalgic codéine Lamaline Aerius desloratadine "
    "cétirizine Zyrtec azithromycine Zithromax Orelox Pyostacine Lasilix furosémide ramipril Triatec amlodipine "
    "Amlor bisoprolol Cardensiel atorvastatine Tahor Crestor rosuvastatine simvastatine Eliquis apixaban Xarelto "
    "rivaroxaban Previscan Coumadine warfarine Plavix clopidogrel Lovenox énoxaparine sertraline Zoloft "
    "escitalopram Seroplex Deroxat paroxétine Effexor venlafaxine Laroxyl amitriptyline Lyrica prégabaline "
    "Neurontin gabapentine Voltarène diclofénac kétoprofène Bi-Profénid naproxène Apranax macrogol Forlax "
    "Movicol Duphalac lactulose Débridat trimébutine Motilium dompéridone Vogalène Primpéran métopimazine "
    "Dexeryl Diprosone Bétadine Fucidine Biafine Uvedose colécalciférol Dédrogyl Tardyferon Spasfon Nicopatch "
    "phloroglucinol Flagyl métronidazole Clamoxyl ciprofloxacine Ciflox ofloxacine Monuril fosfomycine Oflocet "
    "Celestene bétaméthasone Maxilase Hextril Humex Fervex Toplexil Helicidine Rhinofluimucil Derinox Nasonex "
    "Avamys Atarax hydroxyzine Tercian Risperdal Abilify Depakine Lamictal Keppra Tégrétol Imovane zopiclone "
    "Temesta lorazépam Valium diazépam Seresta Lantus insuline Novorapid Januvia Jardiance Ozempic Diamicron "
    "gliclazide Coversyl périndopril Cozaar losartan irbésartan Aprovel valsartan Tareg Temerit nébivolol "
    "Avlocardyl propranolol Cordarone amiodarone Lanzor lansoprazole Ogast Eupantol Pariet Zymad Calcidose "
    "Cacit Oroken Josacine Bactrim Vibramycine doxycycline Tamiflu Zovirax aciclovir Valtrex Diflucan Daktarin"
)
_COMMON_EN = (
    "paracetamol acetaminophen Tylenol ibuprofen Advil Motrin Nurofen aspirin amoxicillin Augmentin co-amoxiclav "
    "omeprazole Prilosec Nexium esomeprazole lansoprazole pantoprazole ranitidine Zantac atorvastatin Lipitor "
    "simvastatin Zocor rosuvastatin Crestor levothyroxine Synthroid metformin Glucophage amlodipine Norvasc "
    "ramipril lisinopril losartan bisoprolol metoprolol atenolol propranolol furosemide Lasix "
    "hydrochlorothiazide warfarin apixaban Eliquis rivaroxaban Xarelto clopidogrel Plavix sertraline Zoloft "
    "citalopram escitalopram Lexapro fluoxetine Prozac amitriptyline venlafaxine mirtazapine diazepam Valium "
    "lorazepam Ativan alprazolam Xanax zopiclone zolpidem Ambien tramadol codeine morphine oxycodone naproxen "
    "Aleve diclofenac Voltaren prednisolone prednisone salbutamol albuterol Ventolin beclometasone Qvar "
    "Seretide Symbicort fluticasone cetirizine Zyrtec loratadine Claritin fexofenadine Benadryl "
    "diphenhydramine doxycycline clarithromycin azithromycin Zithromax ciprofloxacin Cipro nitrofurantoin "
    "trimethoprim cephalexin Keflex penicillin flucloxacillin metronidazole Flagyl colecalciferol insulin "
    "Lantus gabapentin pregabalin Lyrica sumatriptan Imitrex ondansetron Zofran domperidone metoclopramide "
    "loperamide Imodium lactulose senna Gaviscon buscopan mebeverine allopurinol colchicine methotrexate"
)
_GLUE_FR = ["comprimé", "gélule", "sachet", "sirop", "crème", "inhalateur", "spray", "patch"]

# Speech-recognition respellings of common names (the generator also respells any name by rule).
_ASR_SPELLINGS: dict[str, tuple[str, ...]] = {
    "paracétamol": ("par assez tamol", "para cétamol", "paracétamole", "parasétamol", "para c'est tamol"),
    "doliprane": ("dolly prane", "doli prane", "doliprame", "dolipran", "d'oliprane"),
    "amoxicilline": ("amoxiciline", "amoxy cilline", "amoxicilin", "à moxicilline", "amoxi siline"),
    "ibuprofène": ("ibu profène", "ibuprofen", "ibuprophène", "hibou profène"),
    "ventoline": ("vent au line", "ventolin", "vent tôt line", "ventolyne"),
    "kardégic": ("kardéjic", "cardégic", "car des gics", "kardégique"),
    "levothyrox": ("lévotirox", "lévo tyrox", "levo thyrox", "lévothirox"),
    "metformine": ("met formine", "mètre formine", "metformin"),
    "spasfon": ("spas fond", "spasse fon", "spasphone"),
    "augmentin": ("augmentine", "og mentin", "augmentin"),
    "efferalgan": ("éfféralgan", "effet ralgan", "efféralgant"),
    "dafalgan": ("dafalgant", "da falgan", "dafalguan"),
    "inexium": ("inexiome", "inexium", "i nexium"),
    "xanax": ("zanax", "xanaxe"),
    "tramadol": ("trama dol", "tramadole"),
    "amoxicillin": ("amoxicilin", "a moxicillin", "amoxy cillin"),
    "paracetamol": ("para cetamol", "paracetamole", "parasetamol"),
    "ibuprofen": ("ibu profen", "ibuprofin", "i be profen"),
    "salbutamol": ("sal butamol", "salbutamole", "salbu tamol"),
    "omeprazole": ("ome prazole", "omeprazol", "o mepra zole"),
    "sertraline": ("sertralin", "cert raline"),
    "atorvastatin": ("atorva statin", "a torva statin"),
}

_ARTICLE_FEM_ENDINGS = ("ine", "ide", "ole", "one", "ase", "ade", "ène", "yne")


# --------------------------------------------------------------------------- drug pools
@dataclass(frozen=True)
class _Drug:
    surface: str
    entry: DrugEntry
    brand: bool


def _stable_hash(text: str) -> int:
    return zlib.crc32(text.encode("utf-8"))


def _usable(e: DrugEntry) -> bool:
    s = e.surface
    words = e.key.split()
    if not 1 <= len(words) <= 3 or len(s) > 28 or len(e.key.replace(" ", "")) < 4:
        return False
    if not re.fullmatch(r"[^\W\d_]+(?:[ '-][^\W\d_]+)*", s):
        return False
    return not any(w in STOPWORDS for w in words) and e.key not in STOPWORDS


@dataclass
class _Pools:
    core: dict[str, list[_Drug]]
    tail: dict[str, dict[str, list[_Drug]]]
    """language -> split -> drugs."""


def _title(surface: str) -> str:
    return " ".join(w[:1].upper() + w[1:] for w in surface.split(" "))


@lru_cache(maxsize=4)
def _pools(heldout_names: int) -> _Pools:
    lex = DrugLexicon.load()
    core: dict[str, list[_Drug]] = {"fr": [], "en": []}
    for lang, names in (("fr", _COMMON_FR), ("en", _COMMON_EN)):
        seen: set[str] = set()
        for name in names.split():
            entry = lex.lookup_name(name)
            if entry is None or name.lower() in seen:
                continue
            seen.add(name.lower())
            core[lang].append(_Drug(name, entry, name[:1].isupper()))
    core_keys = {d.entry.key for ds in core.values() for d in ds}
    tail: dict[str, dict[str, list[_Drug]]] = {lang: {"train": [], "heldout": []} for lang in ("fr", "en")}
    seen_keys: set[str] = set()
    from consult.extract.extractor import PHYSIOLOGICAL, RECREATIONAL
    from consult.extract.text import key_of

    ordinary = ordinary_words() | {key_of(w) for ws in _CONFUSABLE.values() for w in ws}
    for e in lex.entries:
        if e.key in seen_keys or e.key in core_keys or not _usable(e) or e.key in lex.not_drugs:
            continue
        if e.key in ordinary:  # "levure", "fer": an everyday word first
            continue
        if key_of(e.name) in RECREATIONAL or key_of(e.name) in PHYSIOLOGICAL:
            continue
        seen_keys.add(e.key)
        lang = "en" if e.kind == "en" else "fr"
        brand = e.kind != "substance" and e.surface != e.name
        surface = _title(e.surface) if brand else e.surface
        split = "heldout" if _stable_hash(e.key) % heldout_names == 0 else "train"
        tail[lang][split].append(_Drug(surface, e, brand))
        if e.kind == "substance":  # INNs are said in both languages
            tail["en"][split].append(_Drug(e.surface, e, False))
    return _Pools(core, tail)


# --------------------------------------------------------------------------- text builder
_NO_SPACE_BEFORE = (",", ".", "?", "!", ";", ":", "…", ")")


class _Builder:
    def __init__(self, ctx: _Ctx) -> None:
        self.ctx = ctx
        self.text = ""
        self.spans: list[Span] = []

    def add(self, piece: str, label: str | None = None, *, glue: bool = False) -> None:
        piece = self.ctx.surface(piece, literal=label is None)
        if not piece:
            return
        if (
            self.text
            and not glue
            and not piece.startswith(_NO_SPACE_BEFORE)
            and not self.text.endswith(("'", "’", " ", "-"))
        ):
            self.text += " "
        if label is not None:
            self.spans.append(Span(len(self.text), len(self.text) + len(piece), label))
        self.text += piece

    def filler(self) -> None:
        if self.ctx.rng.random() < self.ctx.filler_rate:
            self.add(self.ctx.rng.choice(_FILLERS[self.ctx.lang]))


@dataclass
class _Ctx:
    """State of one example: its random stream, language, noise switches and current drug."""

    rng: random.Random
    lang: str
    cfg: SynthConfig
    split: str
    lowercase: bool = False
    no_accents: bool = False
    no_punctuation: bool = False
    filler_rate: float = 0.0
    drugs: list[str] = field(default_factory=list)

    def surface(self, piece: str, *, literal: bool) -> str:
        if self.no_accents:
            piece = "".join(c for c in unicodedata.normalize("NFKD", piece) if not unicodedata.combining(c))
        if self.lowercase:
            piece = piece.lower()
        if self.no_punctuation and literal:
            piece = re.sub(r"[,.;:?!…]", "", piece).strip()
        return piece

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def pick(self, items: Sequence[str]) -> str:
        return self.rng.choice(list(items))

    # numbers --------------------------------------------------------------
    def number(self, n: float, *, feminine: bool = False, words: bool | None = None) -> str:
        words = self.chance(self.cfg.number_words) if words is None else words
        if n != int(n):
            whole = int(n)
            if self.lang == "fr":
                return (f"{n:g}".replace(".", ",")) if not words or whole > 10 else (
                    fr_words(whole, feminine) + " virgule " + fr_words(int(round((n - whole) * 10))))
            return f"{n:g}" if not words or whole > 10 else en_words(whole) + " point " + en_words(
                int(round((n - whole) * 10)))
        n = int(n)
        if not words:
            return str(n) if n < 1000 or self.chance(0.6) else f"{n // 1000} {n % 1000:03d}"
        return fr_words(n, feminine) if self.lang == "fr" else en_words(n)

    # drugs -----------------------------------------------------------------
    def drug(self) -> _Drug:
        pools = _pools(self.cfg.heldout_names)
        if self.chance(self.cfg.core_drugs):
            d = self.rng.choice(pools.core[self.lang])
        else:
            d = self.rng.choice(pools.tail[self.lang][self.split])
        self.drugs.append(d.entry.name)
        return d

    def drug_text(self, d: _Drug) -> str:
        text = d.surface
        if not d.brand and self.chance(0.08):
            text = text.capitalize()
        if d.brand and self.chance(0.2):
            text = text.lower()
        if self.chance(self.cfg.misspell):
            text = misspell(text, self.rng)
        return text


def _elide(word: str) -> bool:
    return word[:1].lower() in "aeiouyéèêâîôûh"


def _fr_article(kind: str, d: _Drug, text: str) -> str:
    """French article before a drug name: ``partitive`` (du/de la/de l'), ``definite`` (le/la/l'), ``de``."""
    fem = not d.brand and d.surface.lower().endswith(_ARTICLE_FEM_ENDINGS)
    if kind == "de":
        return "d'" if _elide(text) else "de"
    if _elide(text):
        return "de l'" if kind == "partitive" else "l'"
    if kind == "partitive":
        return "de la" if fem else "du"
    return "la" if fem else "le"


def _add_drug(b: _Builder, d: _Drug, article: str = "") -> None:
    """Article (French) then the drug name, labelled DRUG."""
    text = b.ctx.drug_text(d)
    if b.ctx.lang == "fr" and article:
        art = _fr_article(article, d, text)
        b.add(art)
        b.add(text, "DRUG", glue=art.endswith("'"))
    else:
        if article == "en-some" and b.ctx.chance(0.4):
            b.add("some")
        elif article == "en-the" and b.ctx.chance(0.5):
            b.add(b.ctx.pick(["the", "your"]))
        b.add(text, "DRUG")


# --------------------------------------------------------------------------- ASR respelling
_RESPELL: tuple[tuple[str, str], ...] = (
    ("ph", "f"), ("th", "t"), ("y", "i"), ("qu", "k"), ("ll", "l"), ("mm", "m"), ("nn", "n"), ("ss", "s"),
    ("tt", "t"), ("ff", "f"), ("é", "e"), ("è", "e"), ("ine", "in"), ("ol", "ole"), ("ex", "exe"), ("c", "k"),
    ("z", "s"), ("s", "z"), ("x", "ks"), ("an", "en"), ("en", "an"), ("o", "au"), ("i", "y"), ("ai", "é"),
)


def misspell(name: str, rng: random.Random) -> str:
    """A speech-recognition spelling of ``name``: a known respelling, a letter swap that sounds the same,
    a split into two pieces, or the elided article glued to it."""
    known = _ASR_SPELLINGS.get(name.lower())
    if known and rng.random() < 0.5:
        return rng.choice(known)
    out = name
    for _ in range(rng.choice((1, 1, 2))):
        options = [(a, b) for a, b in _RESPELL if a in out.lower()]
        if not options:
            break
        a, b = rng.choice(options)
        idx = [m.start() for m in re.finditer(re.escape(a), out.lower())]
        k = rng.choice(idx)
        out = out[:k] + b + out[k + len(a):]
    if len(out) >= 8 and " " not in out and rng.random() < 0.35:
        vowels = [i for i in range(3, len(out) - 3) if out[i].lower() in "aeiouyé" and out[i + 1].lower() not in
                  "aeiouyé"]
        if vowels:
            k = rng.choice(vowels) + 1
            out = out[:k] + " " + out[k:]
    if rng.random() < 0.05 and out[:1].lower() in "aeiou":
        out = "l" + out
    if out.strip() and out != name:
        return out
    return name + "e" if not name.endswith("e") else name[:-1]


# --------------------------------------------------------------------------- posology phrases
@dataclass
class _Form:
    sg: str
    pl: str
    fem: bool

    def word(self, n: float) -> str:
        return self.sg if n <= 1 else self.pl


def _form(ctx: _Ctx) -> _Form:
    fr_sg, fr_pl, fem, en_sg, en_pl = ctx.rng.choices(_FORMS, weights=_FORM_WEIGHTS)[0]
    return _Form(fr_sg, fr_pl, fem) if ctx.lang == "fr" else _Form(en_sg, en_pl, False)


_STRENGTH_RE = re.compile(r"(\d+(?:[ ,.]\d+)?)\s*(mg|g|µg|ui|ml|%)")
_DEFAULT_STRENGTHS = (
    (1, "mg"), (2.5, "mg"), (5, "mg"), (10, "mg"), (20, "mg"), (25, "mg"), (40, "mg"), (50, "mg"), (75, "mg"),
    (80, "mg"), (100, "mg"), (200, "mg"), (250, "mg"), (400, "mg"), (500, "mg"), (850, "mg"), (1000, "mg"),
    (1, "g"), (2, "g"), (100, "µg"), (200, "µg"), (5, "ml"),
)
_UNIT_WORDS = {
    "fr": {"mg": ["mg", "milligrammes", "mg", "milligrammes"], "g": ["g", "gramme", "grammes"],
           "µg": ["microgrammes", "µg", "gammas"], "ml": ["ml", "millilitres"], "ui": ["UI", "unités"],
           "%": ["%"]},
    "en": {"mg": ["mg", "milligrams", "mg"], "g": ["g", "gram", "grams"], "µg": ["micrograms", "mcg"],
           "ml": ["ml", "millilitres", "mL"], "ui": ["units", "IU"], "%": ["%", "percent"]},
}


def _strength_value(ctx: _Ctx, d: _Drug | None) -> tuple[float, str]:
    options: list[tuple[float, str]] = []
    if d is not None:
        for s in d.entry.strengths:
            m = _STRENGTH_RE.fullmatch(s.strip().lower())
            if m:
                value = float(m.group(1).replace(" ", "").replace(",", "."))
                if 0 < value <= 5000:
                    options.append((value, m.group(2)))
    if not options or ctx.chance(0.2):
        options = list(_DEFAULT_STRENGTHS)
    return ctx.rng.choice(options)


def _unit_text(ctx: _Ctx, value: float, unit: str) -> str:
    words = _UNIT_WORDS[ctx.lang][unit]
    w = ctx.pick(words)
    if w in ("gramme", "gram") and value > 1:
        w += "s"
    if w in ("grammes", "grams") and value <= 1:
        w = w[:-1]
    return w


def _strength(ctx: _Ctx, d: _Drug | None) -> str:
    value, unit = _strength_value(ctx, d)
    num = ctx.number(value)
    unit_w = _unit_text(ctx, value, unit)
    if num[-1].isdigit() and unit_w in ("mg", "g", "ml", "mL") and ctx.chance(0.25):
        return num + unit_w
    return f"{num} {unit_w}"


def _dose_count(ctx: _Ctx, form: _Form) -> float:
    if form.sg in ("goutte", "drop"):
        return ctx.rng.choice((1, 2, 3, 5, 10, 15, 20, 30))
    return ctx.rng.choices((1, 2, 3, 4, 0.5, 1.5), weights=(50, 25, 6, 2, 5, 3))[0]


def _dose(ctx: _Ctx, form: _Form) -> str:
    fr = ctx.lang == "fr"
    if ctx.chance(0.08):  # a range: "un à deux comprimés"
        lo = ctx.rng.choice((1, 1, 2))
        words = ctx.chance(ctx.cfg.number_words)
        joiner = ctx.pick(["à", "ou"]) if fr else ctx.pick(["to", "or"])
        if not words and ctx.chance(0.3):
            return f"{lo}-{lo + 1} {form.pl}"
        return f"{ctx.number(lo, feminine=form.fem, words=words)} {joiner} " \
               f"{ctx.number(lo + 1, feminine=form.fem, words=words)} {form.pl}"
    if ctx.chance(0.05):  # a mass or a volume per intake
        value, unit = ctx.rng.choice(((1, "g"), (500, "mg"), (5, "ml"), (10, "ml"), (2, "g"), (400, "mg")))
        return f"{ctx.number(value)} {_unit_text(ctx, value, unit)}"
    n = _dose_count(ctx, form)
    if n == 0.5:
        if fr:
            return ctx.pick([f"{'une' if form.fem else 'un'} demi {form.sg}", f"un demi-{form.sg}"]) \
                if form.sg in ("comprimé", "sachet", "gélule") else f"{'une' if form.fem else 'un'} demi {form.sg}"
        return f"half a {form.sg}" if ctx.chance(0.3) else f"one half {form.sg}"
    if n == 1.5:
        if fr:
            return f"{'une' if form.fem else 'un'} {form.sg} et {'demie' if form.fem else 'demi'}"
        return f"one and a half {form.pl}"
    if n == 1 and not fr and ctx.chance(0.4):
        return f"{'an' if form.sg[0] in 'aeiou' else 'a'} {form.sg}"
    return f"{ctx.number(n, feminine=form.fem)} {form.word(n)}"


def _route(ctx: _Ctx) -> str:
    return ctx.pick(_ROUTES[ctx.lang])


def _freq(ctx: _Ctx) -> str:
    fr = ctx.lang == "fr"
    r = ctx.rng.random()
    if r < 0.45:
        n = ctx.rng.choices((1, 2, 3, 4), weights=(3, 5, 5, 1))[0]
        if fr:
            per = ctx.pick(["par jour", "par jour", "/jour", "dans la journée"]) if ctx.chance(0.9) \
                else ctx.pick(["par semaine", "par mois"])
            return f"{ctx.number(n, feminine=True)} fois {per}".replace(" /", "/")
        if n <= 3 and ctx.chance(0.6):
            word = {1: "once", 2: "twice", 3: "three times"}[n]
            return f"{word} {ctx.pick(['a day', 'daily', 'a day', 'per day'])}" if ctx.chance(0.9) \
                else f"{word} a week"
        return f"{ctx.number(n)} times {ctx.pick(['a day', 'a day', 'daily', 'per day'])}"
    if r < 0.6:
        h = ctx.rng.choice((4, 6, 6, 8, 8, 12))
        return f"toutes les {ctx.number(h, feminine=True)} heures" if fr else f"every {ctx.number(h)} hours"
    if r < 0.75:
        return ctx.pick(["une fois par jour", "tous les jours", "chaque jour", "quotidiennement", "une fois par jour"]
                        if fr else ["once a day", "every day", "daily", "once daily"])
    if r < 0.85:
        return ctx.pick(["un jour sur deux", "tous les deux jours", "une fois par semaine", "une fois par mois"]
                        if fr else ["every other day", "once a week", "once a month", "every two days"])
    lo = ctx.rng.choice((1, 2, 3))
    if fr:
        return f"{ctx.number(lo, feminine=True)} à {ctx.number(lo + 1, feminine=True)} fois par jour"
    return f"{ctx.number(lo)} to {ctx.number(lo + 1)} times a day"


def _when(ctx: _Ctx) -> str:
    return ctx.pick(_WHEN[ctx.lang])


def _duration(ctx: _Ctx) -> str:
    fr = ctx.lang == "fr"
    unit = ctx.rng.choices(("d", "wk", "mo"), weights=(6, 3, 2))[0]
    n = {"d": ctx.rng.choice((3, 5, 6, 7, 8, 10, 14, 15, 21, 30)), "wk": ctx.rng.choice((1, 2, 3, 4, 6)),
         "mo": ctx.rng.choice((1, 2, 3, 6))}[unit]
    if fr:
        word = {"d": "jours", "wk": "semaines", "mo": "mois"}[unit]
        if n == 1:
            word = {"d": "jour", "wk": "semaine", "mo": "mois"}[unit]
        num = ctx.number(n, feminine=unit == "wk")
        prep = ctx.rng.choices(["pendant", "durant", "sur", "pour", ""], weights=(10, 1, 2, 2, 2))[0]
        return f"{prep} {num} {word}".strip()
    word = {"d": "days", "wk": "weeks", "mo": "months"}[unit]
    if n == 1:
        return f"for {ctx.pick(['a', 'one'])} {word[:-1]}"
    prep = ctx.rng.choices(["for", "for the next", ""], weights=(10, 2, 1))[0]
    return f"{prep} {ctx.number(n)} {word}".strip()


def _prn(ctx: _Ctx, patient: bool = False) -> str:
    return ctx.pick((_PATIENT_PRN if patient else _PRN)[ctx.lang])


def _max(ctx: _Ctx, form: _Form) -> str:
    fr = ctx.lang == "fr"
    r = ctx.rng.random()
    if r < 0.55:  # per day
        if ctx.chance(0.6):
            n = ctx.rng.choice((3, 4, 6, 8))
            what = form.word(n)
        else:
            n = ctx.rng.choice((3, 4))
            what = _unit_text(ctx, n, "g")
        num = ctx.number(n, feminine=form.fem)
        if fr:
            lead = ctx.pick(["sans dépasser", "sans jamais dépasser", "pas plus de", "maximum", "au maximum",
                             "jamais plus de"])
            per = ctx.pick(["par jour", "par 24 heures", "par jour"])
            return f"{lead} {num} {what} {per}"
        lead = ctx.pick(["no more than", "do not exceed", "up to", "a maximum of", "never take more than", "maximum"])
        return f"{lead} {num} {what} {ctx.pick(['a day', 'per day', 'in 24 hours'])}"
    if r < 0.75:  # per intake
        n = ctx.rng.choice((1, 2))
        num = ctx.number(n, feminine=form.fem)
        if fr:
            return ctx.pick([f"{num} {form.word(n)} maximum par prise", f"au maximum {num} {form.word(n)} par prise",
                             f"pas plus de {num} {form.word(n)} par prise"])
        return ctx.pick([f"no more than {num} {form.word(n)} at a time", f"up to {num} {form.word(n)} at a time",
                         f"a maximum of {num} {form.word(n)} per dose"])
    h = ctx.rng.choice((4, 6, 8))  # minimum interval
    num = ctx.number(h, feminine=True)
    if fr:
        return ctx.pick([f"au moins {num} heures entre deux prises", f"espacez les prises d'au moins {num} heures",
                         f"attendez au moins {num} heures entre deux prises"])
    return ctx.pick([f"at least {num} hours between doses", f"leave at least {num} hours between doses",
                     f"wait at least {num} hours between doses"])


def _qsp(ctx: _Ctx) -> str:
    fr = ctx.lang == "fr"
    unit = ctx.rng.choices(("mo", "d", "wk"), weights=(6, 2, 1))[0]
    n = {"mo": ctx.rng.choice((1, 1, 2, 3, 3, 6)), "d": ctx.rng.choice((5, 7, 10, 30)), "wk": ctx.rng.choice((1, 2))}[
        unit]
    if fr:
        word = {"mo": "mois", "d": "jours" if n > 1 else "jour", "wk": "semaines" if n > 1 else "semaine"}[unit]
        num = ctx.number(n, feminine=unit == "wk")
        return ctx.pick([f"QSP {num} {word}", f"qsp {num} {word}", f"quantité suffisante pour {num} {word}",
                         f"ordonnance pour {num} {word}"])
    word = {"mo": "months", "d": "days", "wk": "weeks"}[unit]
    if n == 1:
        one = word[:-1]
        return ctx.pick([f"a {one}'s supply", f"a supply of one {one}", f"prescription for one {one}"])
    num = ctx.number(n)
    return ctx.pick([f"{num} {word} supply", f"a supply of {num} {word}", f"prescription for {num} {word}",
                     f"{num} {word}' supply"])


def _renewal(ctx: _Ctx) -> str:
    fr = ctx.lang == "fr"
    n = ctx.rng.choice((0, 1, 2, 2, 3, 5, 11))
    if fr:
        if n == 0:
            return ctx.pick(["sans renouvellement", "pas de renouvellement"])
        num = ctx.number(n, feminine=True)
        return ctx.pick([f"à renouveler {num} fois", f"renouvelable {num} fois", f"avec {ctx.number(n)} "
                         f"renouvellement{'s' if n > 1 else ''}", f"à renouveler {num} fois"])
    if n == 0:
        return ctx.pick(["no refills", "with no repeats"])
    if n in (1, 2) and ctx.chance(0.5):
        return f"{ctx.pick(['renewable', 'repeatable', 'refill'])} {'once' if n == 1 else 'twice'}"
    num = ctx.number(n)
    return ctx.pick([f"with {num} refill{'s' if n > 1 else ''}", f"{num} repeat{'s' if n > 1 else ''}",
                     f"renewable {num} times"])


# --------------------------------------------------------------------------- sentence templates
_LEADS: dict[str, dict[str, list[tuple[str, str]]]] = {
    # (words before the drug, French article kind or English article hint)
    "fr": {
        "new": [("Je vous prescris", "partitive"), ("Je vous mets sous", ""), ("On va commencer", "partitive"),
                ("Je vais vous donner", "partitive"), ("Je vous propose", "partitive"), ("Prenez", "partitive"),
                ("Vous prendrez", "partitive"), ("On part sur", "partitive"), ("Je vous fais une ordonnance", "de"),
                ("Je vais vous prescrire", "partitive"), ("On démarre", "partitive"), ("Je vous mets", "partitive"),
                ("Je vous donne", "partitive"), ("Vous allez prendre", "partitive"), ("", "")],
        "renewed": [("On continue", "definite"), ("Je vous renouvelle", "definite"), ("On garde", "definite"),
                    ("Continuez", "definite"), ("Je renouvelle", "definite"), ("On poursuit", "definite"),
                    ("Vous continuez", "definite")],
        "changed": [("On augmente", "definite"), ("On diminue", "definite"), ("On passe", "definite"),
                    ("On baisse", "definite"), ("On change la dose", "de")],
        "stopped": [("On arrête", "definite"), ("Arrêtez", "definite"), ("Vous arrêtez", "definite"),
                    ("Ne prenez plus", "definite"), ("Stoppez", "definite"), ("On suspend", "definite")],
        "question": [("Est-ce que vous prenez", "partitive"), ("Vous avez déjà pris", "partitive"),
                     ("Vous prenez toujours", "definite"), ("Vous êtes sous", ""), ("Vous supportez bien", "definite"),
                     ("Vous avez pris", "partitive"), ("Vous avez essayé", "definite")],
        "ruled_out": [("Je ne vous donne pas", "de"), ("Pas", "de"), ("On évite", "definite"),
                      ("Surtout pas", "de"), ("Je ne vais pas vous prescrire", "de"), ("Vous êtes allergique à", "")],
        "patient": [("Je prends", "partitive"), ("J'ai pris", "partitive"), ("Je suis sous", ""),
                    ("Je prenais", "partitive"), ("Le médecin m'a donné", "partitive"), ("J'ai essayé", "definite"),
                    ("Je prends toujours", "definite"), ("Moi je prends", "partitive"),
                    ("J'ai déjà pris", "partitive")],
        "patient_other": [("Je suis allergique à", ""), ("Je ne supporte pas", "definite"),
                          ("Est-ce que je peux prendre", "partitive"), ("J'ai arrêté", "definite"),
                          ("Je n'ai jamais pris", "de"), ("Je ne prends plus", "definite")],
    },
    "en": {
        "new": [("I'm going to prescribe", "en-some"), ("I'll start you on", ""), ("Let's start", "en-some"),
                ("I'll give you", "en-some"), ("Take", "en-some"), ("I'd like you to take", "en-some"),
                ("I'm going to put you on", ""), ("I'll prescribe", "en-some"), ("You'll take", "en-some"),
                ("We'll try", "en-some"), ("", "")],
        "renewed": [("Let's continue", "en-the"), ("Keep taking", "en-the"), ("Carry on with", "en-the"),
                    ("I'll renew", "en-the"), ("Continue", "en-the"), ("We'll keep", "en-the")],
        "changed": [("Let's increase", "en-the"), ("We'll reduce", "en-the"), ("Let's lower", "en-the"),
                    ("I'll switch you to", ""), ("We'll change", "en-the")],
        "stopped": [("Stop", "en-the"), ("Let's stop", "en-the"), ("Please stop taking", "en-the"),
                    ("I want you to stop", "en-the"), ("Don't take", "en-the")],
        "question": [("Are you taking", "en-some"), ("Have you ever taken", "en-some"), ("Do you still take", "en-the"),
                     ("Have you tried", "en-some"), ("Did you take", "en-some"), ("Are you on", "")],
        "ruled_out": [("I won't give you", "en-some"), ("No", ""), ("We'll avoid", "en-the"),
                      ("I'm not going to prescribe", "en-some"), ("You're allergic to", "")],
        "patient": [("I take", "en-some"), ("I took", "en-some"), ("I'm on", ""), ("I've been taking", "en-some"),
                    ("My doctor gave me", "en-some"), ("I tried", "en-some"), ("I use", "en-the")],
        "patient_other": [("I'm allergic to", ""), ("I can't take", ""), ("Can I take", "en-some"),
                          ("I stopped", "en-the"), ("I've never taken", "en-some"), ("I don't tolerate", "")],
    },
}

_FOLLOW_LEADS = {
    "fr": ["Vous en prendrez", "Prenez-en", "Ce sera", "Vous prenez", "À prendre", "Alors", "Donc", "Il faut prendre",
           "Vous le prendrez", "Vous allez en prendre", "La posologie c'est", ""],
    "en": ["Take", "You'll take", "That's", "It's", "You should take", "The dose is", "So", ""],
}
_CHANGE_TO = {"fr": ["à", "à", "sur"], "en": ["to", "to"]}


def _posology(
    b: _Builder, d: _Drug | None, form: _Form, *, strength: bool, rich: bool = True, patient: bool = False
) -> None:
    ctx = b.ctx
    if strength:
        if d is not None and ctx.chance(0.2) and any(s.endswith(" mg") for s in d.entry.strengths) and ctx.lang == "fr":
            # "Doliprane 1000": a bare marketed strength right after the name
            values = [s[:-3].replace(" ", "") for s in d.entry.strengths if re.fullmatch(r"\d[\d ]*\d? mg", s)]
            if values:
                b.add(ctx.pick(values), "STRENGTH")
            else:
                b.add(_strength(ctx, d), "STRENGTH")
        else:
            if ctx.chance(0.12):
                b.add(ctx.pick(["dosé à", "à", ","] if ctx.lang == "fr" else [",", "at"]))
            b.add(_strength(ctx, d), "STRENGTH")
    p: Callable[[float], float] = (lambda x: x) if rich else (lambda x: x * 0.5)
    slots: list[tuple[str, Callable[[], str]]] = []
    if ctx.chance(p(0.7)):
        slots.append(("DOSE", lambda: _dose(ctx, form)))
    if ctx.chance(p(0.12)):
        slots.append(("ROUTE", lambda: _route(ctx)))
    has_freq = ctx.chance(p(0.5))
    if has_freq:
        slots.append(("FREQ", lambda: _freq(ctx)))
    if ctx.chance(p(0.3 if has_freq else 0.55)):
        slots.append(("WHEN", lambda: _when(ctx)))
    if not patient and ctx.chance(p(0.45)):
        slots.append(("DURATION", lambda: _duration(ctx)))
    if ctx.chance(p(0.2)):
        slots.append(("PRN", lambda: _prn(ctx, patient)))
    if not patient and ctx.chance(p(0.12)):
        slots.append(("MAX", lambda: _max(ctx, form)))
    if not patient and ctx.chance(p(0.08)):
        slots.append(("QSP", lambda: _qsp(ctx)))
    if not patient and ctx.chance(p(0.07)):
        slots.append(("RENEWAL", lambda: _renewal(ctx)))
    # mostly the usual order, sometimes two neighbours swapped
    for _ in range(2):
        if len(slots) > 1 and ctx.chance(0.2):
            k = ctx.rng.randrange(len(slots) - 1)
            slots[k], slots[k + 1] = slots[k + 1], slots[k]
    for i, (label, make) in enumerate(slots):
        if i > 0 or strength:
            r = ctx.rng.random()
            if r < 0.3:
                b.add(",")
            elif r < 0.36:
                b.add("et" if ctx.lang == "fr" else "and")
        b.filler()
        if label == "DOSE" and ctx.chance(0.04):
            _correction(b, form)
            continue
        b.add(make(), label)


def _correction(b: _Builder, form: _Form) -> None:
    """ "deux... non, un comprimé": only the corrected dose is labelled."""
    ctx = b.ctx
    wrong, right = ctx.rng.sample((1, 2, 3), 2)
    b.add(ctx.number(wrong, feminine=form.fem))
    b.add(ctx.pick(["... non,", ", pardon,", "... enfin", ", non plutôt"] if ctx.lang == "fr"
                   else ["... no,", ", sorry,", "... I mean", ", no make that"]))
    b.add(f"{ctx.number(right, feminine=form.fem)} {form.word(right)}", "DOSE")


def _end(b: _Builder, question: bool = False) -> None:
    ctx = b.ctx
    if question:
        b.add(" ?" if ctx.lang == "fr" and ctx.chance(0.5) else "?", glue=True)
    elif ctx.chance(0.9):
        b.add(".")


def _doctor_prescription(b: _Builder, status: str) -> None:
    ctx = b.ctx
    lead, art = ctx.rng.choice(_LEADS[ctx.lang][status])
    d = ctx.drug()
    form = _form(ctx)
    b.filler()
    b.add(lead)
    _add_drug(b, d, art)
    if status == "changed" and ctx.chance(0.6):
        b.add(ctx.pick(_CHANGE_TO[ctx.lang]))
        if ctx.chance(0.5):
            b.add(_strength(ctx, d), "STRENGTH")
        else:
            b.add(_dose(ctx, form), "DOSE")
            if ctx.chance(0.5):
                b.add(_freq(ctx), "FREQ")
            else:
                b.add(_when(ctx), "WHEN")
        _end(b)
        return
    if status == "stopped":
        if ctx.chance(0.3):
            b.add(ctx.pick(["pour le moment", "pendant le traitement", "à partir de demain"] if ctx.lang == "fr"
                           else ["for now", "while you're on the antibiotics", "from tomorrow"]))
        _end(b)
        return
    two_sentences = status == "new" and ctx.chance(0.25)
    _posology(b, d, form, strength=ctx.chance(0.55), rich=not two_sentences)
    if ctx.chance(0.1) and status == "new":  # a second drug in the same sentence
        b.add("et" if ctx.lang == "fr" else "and")
        d2 = ctx.drug()
        _add_drug(b, d2, "partitive" if ctx.lang == "fr" else "")
        _posology(b, d2, _form(ctx), strength=ctx.chance(0.5))
    _end(b)
    if two_sentences:
        b.add(ctx.pick(_FOLLOW_LEADS[ctx.lang]))
        _posology(b, None, form, strength=False)
        _end(b)


def _follow_only(b: _Builder) -> None:
    """A doctor turn that gives the posology of a drug named before (no drug in it)."""
    ctx = b.ctx
    b.filler()
    b.add(ctx.pick(_FOLLOW_LEADS[ctx.lang]))
    _posology(b, None, _form(ctx), strength=False)
    _end(b)


def _question(b: _Builder) -> None:
    ctx = b.ctx
    lead, art = ctx.rng.choice(_LEADS[ctx.lang]["question"])
    b.add(lead)
    _add_drug(b, ctx.drug(), art)
    if ctx.chance(0.2):
        b.add(_strength(ctx, None), "STRENGTH")
    if ctx.chance(0.25):
        b.add(ctx.pick(["en ce moment", "pour la douleur", "parfois", "régulièrement"] if ctx.lang == "fr"
                       else ["at the moment", "for the pain", "sometimes", "regularly"]))
    _end(b, question=True)


def _ruled_out(b: _Builder) -> None:
    ctx = b.ctx
    lead, art = ctx.rng.choice(_LEADS[ctx.lang]["ruled_out"])
    b.add(lead)
    _add_drug(b, ctx.drug(), art)
    if ctx.chance(0.5):
        b.add(ctx.pick([", vous êtes allergique", ", ça ne vous réussit pas", "avec votre estomac",
                        ", ce n'est pas indiqué"] if ctx.lang == "fr"
                       else [", you're allergic", "with your stomach", ", it's not indicated",
                             "because of your kidneys"]))
    _end(b)


def _patient_taking(b: _Builder) -> None:
    ctx = b.ctx
    kind = "patient" if ctx.chance(0.75) else "patient_other"
    lead, art = ctx.rng.choice(_LEADS[ctx.lang][kind])
    b.filler()
    d = ctx.drug()
    if kind == "patient" and ctx.chance(0.3):  # "j'ai pris deux Doliprane"
        b.add(lead.split(" du")[0] if ctx.lang == "fr" else lead)
        n = ctx.rng.choice((1, 2, 3))
        b.add(ctx.number(n), "DOSE")
        if ctx.lang == "en" and ctx.chance(0.5):
            b.add("of")
        b.add(ctx.drug_text(d), "DRUG")
    else:
        b.add(lead)
        _add_drug(b, d, art)
    if kind == "patient":
        _posology(b, d, _form(ctx), strength=ctx.chance(0.35), rich=False, patient=True)
        if ctx.chance(0.3):
            b.add(ctx.pick(["depuis deux ans", "depuis des années", "depuis trois mois", "depuis longtemps",
                            "depuis une semaine", "hier soir", "ce matin"] if ctx.lang == "fr"
                           else ["for years", "since last year", "for two months", "last night", "this morning",
                                 "for a long time"]))
    _end(b, question=kind == "patient_other" and lead.startswith(("Est-ce", "Can")))


_NO_DRUG: dict[str, list[str]] = {
    "fr": [
        "J'ai mal à la tête depuis {n} jours.", "Ça a commencé il y a {n} semaines.", "J'ai {age} ans.",
        "Je me réveille {n} fois par nuit.", "Je fume {n} cigarettes par jour.", "Je bois {n} cafés le matin.",
        "On va faire une prise de sang.", "Je vous revois dans {n} jours.", "Vous avez de la fièvre ?",
        "Je marche {n} minutes par jour.", "C'est une {conf} de la douleur.", "Vous avez un problème {conf} ?",
        "Il faut boire au moins {n} litres d'eau par jour.", "Ce n'est pas {cls} qu'il vous faut.",
        "Je ne vais pas vous donner {cls}.", "Vous avez déjà pris {cls} ?", "Je dors {n} heures par nuit.",
        "Madame {name}, installez-vous.", "Bonjour monsieur {name}.", "C'est le {conf} de la semaine.",
        "On se revoit dans {n} mois pour faire le point.", "La tension est à {n} sur {n2}.",
        "Vous pesez combien ? {n2} kilos.", "Respirez fort, encore {n} fois.", "J'ai eu {cls} l'an dernier.",
        "La douleur est à {n} sur dix.", "Vous travaillez combien d'heures par jour ?", "Ça dure depuis {n} mois.",
        "Le {conf} c'est mon mari.", "Je fais du sport {n} fois par semaine.", "Il y a eu une {conf} hier.",
        "D'accord.", "Très bien, merci docteur.", "Oui.", "Non, pas du tout.", "Je ne sais pas.",
        "Vous êtes allergique à quelque chose ?", "Vous prenez un traitement ?", "Je ne prends rien.",
        "Vous avez des antécédents ?", "J'ai une {conf} qui me gêne.", "On va faire une radio des poumons.",
        "Déshabillez-vous, je vais vous examiner.", "Il faut faire {n} séances de kiné.",
    ],
    "en": [
        "I've had this headache for {n} days.", "It started {n} weeks ago.", "I'm {age} years old.",
        "I wake up {n} times a night.", "I smoke {n} cigarettes a day.", "I drink {n} cups of coffee in the morning.",
        "We'll do a blood test.", "I'll see you again in {n} weeks.", "Do you have a fever?",
        "I walk {n} minutes a day.", "There's been an {conf} of the pain.", "Any {conf} problems?",
        "You should drink at least {n} litres of water a day.", "I don't think you need {cls}.",
        "Have you ever taken {cls}?", "I sleep {n} hours a night.", "Mrs {name}, please come in.",
        "Hello Mr {name}.", "Come back in {n} months.", "Your blood pressure is {n2} over {n}.",
        "How much do you weigh? {n2} kilos.", "Breathe in, {n} more times.", "The pain is {n} out of ten.",
        "It's been going on for {n} months.", "I exercise {n} times a week.", "Okay.", "Thank you, doctor.",
        "Yes.", "No, not at all.", "I don't know.", "Are you allergic to anything?", "Are you on any medication?",
        "I don't take anything.", "Any past medical history?", "We'll get a chest X-ray.",
        "I'll examine you now.", "You'll need {n} sessions of physio.", "I had {cls} last year.",
        "My {conf} is fine.", "It feels like a {conf}.",
    ],
}
_NAMES = ["Dupont", "Martin", "Durand", "Lefèvre", "Diane", "Valentin", "Adèle", "Smith", "Jones", "Brown", "Patel",
          "Advil", "Levy", "Bernard", "Laurent", "Morel", "Ventura", "Xavier", "Olivia"]


def _no_drug(b: _Builder) -> None:
    ctx = b.ctx
    template = ctx.pick(_NO_DRUG[ctx.lang])
    values = {
        "n": ctx.number(ctx.rng.choice((2, 3, 4, 5, 6, 8, 10, 15, 20, 30))),
        "n2": ctx.number(ctx.rng.choice((70, 80, 120, 130, 140, 65))),
        "age": ctx.number(ctx.rng.randrange(18, 90)),
        "conf": ctx.pick(_CONFUSABLE[ctx.lang]),
        "cls": ctx.pick(_CLASSES[ctx.lang]),
        "name": ctx.pick(_NAMES),
    }
    b.filler()
    b.add(template.format(**values))
    if ctx.chance(0.15):  # an ordinary word close to a drug name, from the shipped not-drug list
        word = ctx.pick(_not_drug_words())
        b.add(ctx.pick(["C'est", "Il a dit", "Je pense à", "Le mot c'est"] if ctx.lang == "fr"
                       else ["It's", "He said", "I'm thinking of", "The word is"]))
        b.add(word)
        _end(b)


@lru_cache(maxsize=2)
def _char_model(lang: str) -> dict[str, list[str]]:
    """Order-3 letter model of the everyday words of ``lang`` (for pseudo-words)."""
    model: dict[str, list[str]] = {}
    for w in ordinary_vocabulary(lang):
        if not w.isalpha() or len(w) < 4:
            continue
        padded = "^^" + w.lower() + "$"
        for i in range(len(padded) - 2):
            model.setdefault(padded[i : i + 2], []).append(padded[i + 2])
    return model


def pseudo_word(rng: random.Random, lang: str) -> str:
    """A pronounceable made-up word with the letter statistics of everyday ``lang`` words: it stands for
    the many ordinary words no list holds (the tagger must not read every unseen word as a drug)."""
    model = _char_model(lang)
    lexicon = DrugLexicon.load()
    for _ in range(20):
        out, ctx2 = "", "^^"
        while len(out) < 14:
            c = rng.choice(model.get(ctx2, ["$"]))
            if c == "$":
                break
            out += c
            ctx2 = ctx2[1] + c
        if 4 <= len(out) <= 13 and lexicon.get(out) is None and out not in ordinary_vocabulary(lang):
            return out
    return rng.choice(ordinary_vocabulary(lang))


def _chatter(ctx: _Ctx, n_min: int = 3, n_max: int = 14) -> str:
    """A run of everyday words (loosely ordered: frequent function words between content words), some of
    them made-up words."""
    words = ordinary_vocabulary(ctx.lang)
    n = ctx.rng.randint(n_min, n_max)
    out: list[str] = []
    for i in range(n):
        if i % 2 == 0 and ctx.chance(0.6):
            w = ctx.rng.choice(words[:120])
        elif ctx.chance(ctx.cfg.pseudo_words):
            w = pseudo_word(ctx.rng, ctx.lang)
            if ctx.chance(0.15):
                w = w.capitalize()
        else:
            w = ctx.rng.choice(words)
        out.append(w)
        if ctx.chance(0.06) and i < n - 1:
            out[-1] += ","
    return " ".join(out)


_MENTION_LINKS = {
    "fr": ["du", "de la", "le", "la", "avec le", "c'est", "genre", "un", "des", "pris du", "sous", "j'ai eu du"],
    "en": ["the", "some", "my", "called", "like", "with", "took", "on", "taking", "had", "it's", "a"],
}


def _mention_in_chatter(b: _Builder) -> None:
    """A drug named in the middle of everyday talk, with no template around it ("because apparently,
    Ibuprofen doesn't help me", "it's called tamsulosin")."""
    ctx = b.ctx
    b.filler()
    if ctx.chance(0.7):
        b.add(_chatter(ctx, 1, 7))
    if ctx.chance(0.5):
        b.add(ctx.pick(_MENTION_LINKS[ctx.lang]))
    d = ctx.drug()
    if ctx.chance(0.2):
        n = ctx.rng.choice((1, 2, 2, 3))
        b.add(ctx.number(n), "DOSE")
    b.add(ctx.drug_text(d), "DRUG")
    if ctx.chance(0.15):
        b.add(_strength(ctx, d), "STRENGTH")
    if ctx.chance(0.7):
        b.add(_chatter(ctx, 1, 8))
    _end(b, question=ctx.chance(0.2))


def _chatter_sentence(b: _Builder) -> None:
    ctx = b.ctx
    b.filler()
    b.add(_chatter(ctx))
    _end(b, question=ctx.chance(0.2))


@lru_cache(maxsize=1)
def _not_drug_words() -> tuple[str, ...]:
    words = sorted(DrugLexicon.load().not_drugs)
    return tuple(w for w in words if 6 <= len(w) <= 11)


def _dialogue(ctx: _Ctx) -> list[tuple[str, Example]]:
    """A short exchange: the doctor asks, the patient answers with a drug or not, the doctor prescribes
    and gives the posology in a second turn."""
    turns: list[tuple[str, Example]] = []
    fr = ctx.lang == "fr"
    q = _Builder(ctx)
    q.add(ctx.pick(["Vous prenez quelque chose pour la douleur ?", "Vous avez un traitement en ce moment ?",
                    "Qu'est-ce que vous avez pris ?", "Vous prenez quoi le matin ?"] if fr
                   else ["Are you taking anything for the pain?", "Are you on any treatment?", "What did you take?",
                         "What do you take in the morning?"]))
    turns.append(("doctor", _example(q, ctx, "doctor", "dialogue")))
    a = _Builder(ctx)
    if ctx.chance(0.7):
        a.add(ctx.pick(["Oui,", "Juste", "Un peu", "Bah", "Oui j'ai pris"] if fr
                       else ["Yes,", "Just", "A bit of", "Well,", "I took"]))
        _add_drug(a, ctx.drug(), "partitive" if fr else "en-some")
        if ctx.chance(0.4):
            if ctx.chance(0.5):
                a.add(_when(ctx), "WHEN")
            else:
                a.add(_prn(ctx, patient=True), "PRN")
        _end(a)
    else:
        a.add(ctx.pick(["Non, rien.", "Non.", "Rien du tout.", "Pas vraiment."] if fr
                       else ["No, nothing.", "No.", "Nothing at all.", "Not really."]))
    turns.append(("patient", _example(a, ctx, "patient", "dialogue")))
    p = _Builder(ctx)
    _doctor_prescription(p, "new")
    turns.append(("doctor", _example(p, ctx, "doctor", "dialogue")))
    if ctx.chance(0.5):
        f = _Builder(ctx)
        _follow_only(f)
        turns.append(("doctor", _example(f, ctx, "doctor", "dialogue")))
    if ctx.chance(0.5):
        ok = _Builder(ctx)
        ok.add(ctx.pick(["D'accord.", "Très bien.", "Merci docteur.", "Ok, merci."] if fr
                        else ["Okay.", "Alright.", "Thank you.", "Okay, thanks."]))
        turns.append(("patient", _example(ok, ctx, "patient", "dialogue")))
    return turns


def _example(b: _Builder, ctx: _Ctx, role: str, kind: str) -> Example:
    text = b.text
    if text and not ctx.lowercase:
        text = text[0].upper() + text[1:]
    drugs = tuple(dict.fromkeys(ctx.drugs))
    ctx.drugs = []
    return Example(text, tuple(b.spans), ctx.lang, role, kind, drugs)


_KINDS: tuple[tuple[str, float], ...] = (
    ("new", 30), ("renewed", 8), ("changed", 4), ("stopped", 5), ("question", 6), ("ruled_out", 4),
    ("follow", 6), ("patient", 12), ("mention", 10),
)


def _one(ctx: _Ctx) -> Example:
    b = _Builder(ctx)
    if ctx.chance(ctx.cfg.no_drug):
        if ctx.chance(ctx.cfg.chatter):
            _chatter_sentence(b)
        else:
            _no_drug(b)
        if ctx.chance(ctx.cfg.chatter):
            _chatter_sentence(b)
        return _example(b, ctx, ctx.pick(["doctor", "patient"]), "no_drug")
    if ctx.chance(ctx.cfg.chatter):  # everyday words before the drug sentence
        b.add(_chatter(ctx, 1, 8))
        b.add(ctx.pick([",", ".", "", ""]))
    kind = ctx.rng.choices([k for k, _ in _KINDS], weights=[w for _, w in _KINDS])[0]
    if kind in ("new", "renewed", "changed", "stopped"):
        _doctor_prescription(b, kind)
        role = "doctor"
    elif kind == "question":
        _question(b)
        role = "doctor"
    elif kind == "ruled_out":
        _ruled_out(b)
        role = "doctor"
    elif kind == "follow":
        _follow_only(b)
        role = "doctor"
    elif kind == "mention":
        _mention_in_chatter(b)
        role = ctx.pick(["doctor", "patient"])
    else:
        _patient_taking(b)
        role = "patient"
    if ctx.chance(ctx.cfg.chatter):  # and after it
        if b.text and b.text[-1] in ".?!":
            _chatter_sentence(b)
        else:
            b.add(ctx.pick(["mais", "et", "parce que", "enfin"] if ctx.lang == "fr"
                           else ["but", "and", "because", "so"]))
            b.add(_chatter(ctx, 2, 10))
            _end(b)
    return _example(b, ctx, role, kind)


def _context(cfg: SynthConfig, split: str, index: int) -> _Ctx:
    rng = random.Random(f"consult-synth:{cfg.seed}:{split}:{index}")
    lang = "en" if rng.random() < cfg.english else "fr"
    ctx = _Ctx(rng=rng, lang=lang, cfg=cfg, split=split)
    ctx.lowercase = rng.random() < cfg.lowercase
    ctx.no_accents = rng.random() < cfg.no_accents
    ctx.no_punctuation = rng.random() < cfg.no_punctuation
    ctx.filler_rate = 0.15 if rng.random() < cfg.fillers else 0.0
    return ctx


def _join(parts: Sequence[Example]) -> Example:
    text = ""
    spans: list[Span] = []
    for p in parts:
        if text:
            text += " "
        spans += [Span(s.start + len(text), s.end + len(text), s.label) for s in p.spans]
        text += p.text
    drugs = tuple(dict.fromkeys(n for p in parts for n in p.drugs))
    return Example(text, tuple(spans), parts[0].language, parts[0].role, "joined", drugs)


def example(cfg: SynthConfig, index: int, split: str = "train") -> list[Example]:
    """The examples of item ``index`` of ``split`` (one turn, or the turns of a short dialogue)."""
    ctx = _context(cfg, split, index)
    if ctx.chance(cfg.dialogue):
        return [ex for _, ex in _dialogue(ctx)]
    first = _one(ctx)
    if ctx.chance(cfg.join):
        parts = [first]
        for _ in range(ctx.rng.choice((1, 1, 2))):
            nxt = _one(ctx)
            if nxt.role == first.role:
                parts.append(nxt)
        return [_join(parts)]
    return [first]


def generate(cfg: SynthConfig, n: int, split: str = "train") -> list[Example]:
    """``n`` examples of ``split`` (``train`` or ``heldout``: other random streams, and the lexicon names
    kept apart for it); the first ``k`` of ``generate(cfg, n)`` are those of ``generate(cfg, k)``."""
    out: list[Example] = []
    for ex in _iter(cfg, split):
        out.append(ex)
        if len(out) >= n:
            break
    return out


def _iter(cfg: SynthConfig, split: str) -> Iterator[Example]:
    i = 0
    while True:
        yield from example(cfg, i, split)
        i += 1


def lexicon_names() -> list[str]:
    """Surface forms of the lexicon entries the generator draws from (tokenizer training material)."""
    pools = _pools(SynthConfig().heldout_names)
    names = {d.surface for ds in pools.core.values() for d in ds}
    for lang in pools.tail.values():
        for split in lang.values():
            names.update(d.surface for d in split)
    return sorted(names)


__all__ = ["GENERATOR_VERSION", "Example", "Span", "SynthConfig", "example", "generate", "misspell", "pseudo_word"]
