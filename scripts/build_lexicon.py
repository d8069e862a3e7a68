#!/usr/bin/env python3
"""Build the compact drug lexicon shipped in ``consult/data/lexicon.json.gz``.

Sources (see ``consult/data/LEXICON_SOURCES.md``):

* BDPM 2022 (ANSM/HAS/UNCAM open data): ``CIS_bdpm.txt`` (products) and ``CIS_COMPO_bdpm.txt``
  (substances + dosage per unit). Both are cp1252 text, tab separated, no header.
* edsnlp ``drugs.json`` (BSD-3, AP-HP, from Romedi): ``{ATC: [brand names + INN]}``.
* fastdatascience English dictionaries (MIT): Wikipedia / MedlinePlus names + brand synonyms, NHS A-Z.

Usage::

    python scripts/build_lexicon.py [DRUGS_DIR] [-o consult/data/lexicon.json.gz]

Only authorised, commercialised, non-homeopathic products are kept. Output format (version 1)::

    {"version": 1, "sources": [...],
     "entries": [{"s": surface, "k": accent-free key, "n": normalised name, "t": kind,
                  "a": ATC|null, "c": CIS|null, "sub": [substances], "st": [strengths],
                  "f": [forms], "r": [routes]}, ...]}

``t`` is ``substance`` (French INN), ``brand`` (French specialty) or ``en`` (English name).

``en_names`` (``{French substance: [English names, preferred first]}``) gives the name of each substance in an
English consultation; :func:`english_names` says how it is built (dictionaries, then ATC codes, then a few
spelling rules whose result must be an English dictionary name).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import re
import sys
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DRUGS = REPO.parent / "shared" / "data" / "drugs"
DEFAULT_OUT = REPO / "consult" / "data" / "lexicon.json.gz"

# Salt / qualifier words removed from BDPM substance names ("RANITIDINE (CHLORHYDRATE DE)").
_SALT_PREFIX = re.compile(
    r"^(chlorhydrate|bromhydrate|sulfate|sel de sodium|sel|maléate|fumarate|tartrate|citrate|"
    r"mésilate|bésilate|succinate|acétate|phosphate|dipropionate|propionate|valérate|furoate|"
    r"trihydrate|dihydrate|monohydrate)\s+(de |d')",
)
_QUALIFIERS = re.compile(
    r"\b(base|anhydre|monohydraté|monohydrate|trihydraté|trihydrate|dihydraté|dihydrate|"
    r"hémihydraté|sodique|potassique|calcique|micronisé|micronisée|exprimé en|exprimée en)\b"
)
_STRENGTH_START = re.compile(r"\s\d|\s\(|,")
_HOMEO_STRENGTH = re.compile(r"\b\d+\s*(ch|dh|k|lm)\b", re.I)
_EN_SKIP = re.compile(
    r"\b(injection|vaccine|and|with|topical|ophthalmic|oral|nasal|inhalation|"
    r"transdermal|rectal|vaginal|otic|extended|release)\b"
)


def strip_accents(text: str) -> str:
    nfkd = unicodedata.normalize("NFKD", text)
    return "".join(c for c in nfkd if not unicodedata.combining(c))


def key_of(text: str) -> str:
    """Accent-free lower-case key with single spaces (same rule as consult.extract.lexicon)."""
    text = strip_accents(text.lower()).replace("®", " ")
    text = re.sub(r"[^a-z0-9]+", " ", text)
    return " ".join(text.split())


_ACID_INVERTED = re.compile(r"^([a-zéèêàçï-]+) \(acide\)(.*)$")
"""BDPM's "FUSIDIQUE (ACIDE)": the substance is "acide fusidique"."""
_ELEMENTS = ("sodium", "potassium", "calcium", "magnésium", "lithium", "zinc", "fer", "aluminium", "ammonium")
"""Cations of the salts BDPM writes inverted ("SODIUM (FUSIDATE DE)") and of the "X-ate de sodium" salts whose
English name is "sodium X-ate" (same anion spelling)."""
_ELEMENT_KEYS = frozenset(strip_accents(e) for e in _ELEMENTS)
_ELEMENT_SALT = re.compile(
    r"^(" + "|".join(_ELEMENTS) + r") "
    r"\(([a-zéèêàçï-]+(?: [a-zéèêàçï-]+)?) (de|d')\)(.*)$"
)
"""BDPM's "SODIUM (FUSIDATE DE)", "MAGNÉSIUM (CARBONATE DE) LOURD": the salt of the element, said "fusidate de
sodium", "carbonate de magnésium lourd" (the element alone, "sodium", is not what the product is)."""


def clean_substance(raw: str) -> str:
    name = raw.strip().lower()
    acid = _ACID_INVERTED.match(name)
    if acid is not None:
        name = f"acide {acid.group(1)}{acid.group(2)}"
    salt = _ELEMENT_SALT.match(name)
    if salt is not None:
        join = "d'" if salt.group(3) == "d'" else "de "
        name = f"{salt.group(2)} {join}{salt.group(1)}{salt.group(4)}"
    paren = re.search(r"\(([^)]*)\)", name)
    if paren and re.match(
        r"^[a-zéèêàç\- ]+ \((chlorhydrate|sulfate|bromhydrate|maléate|"
        r"fumarate|tartrate|citrate|mésilate|bésilate|succinate|acétate|"
        r"phosphate|sel|dipropionate|propionate)",
        name,
    ):
        name = name[: paren.start()]
    name = re.sub(r"\(.*?\)", " ", name)
    name = _SALT_PREFIX.sub("", name)
    name = _QUALIFIERS.sub(" ", name)
    name = re.sub(r"\s+", " ", name).strip(" ,.-")
    return name


def norm_strength(dosage: str) -> str:
    """``1000,00 mg`` -> ``1000 mg``; ``100 microgrammes`` -> ``100 µg``."""
    text = " ".join(dosage.lower().split())
    text = re.sub(r"(\d+),0+\b", r"\1", text)
    text = re.sub(r"(\d+,\d*?)0+\b", r"\1", text)
    text = text.replace("microgrammes", "µg").replace("microgramme", "µg")
    text = text.replace("milligrammes", "mg").replace("grammes", "g")
    return text


def read_tsv(path: Path) -> list[list[str]]:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("cp1252")
    return [line.split("\t") for line in text.splitlines() if line.strip()]


def brand_of(product_name: str) -> str:
    """``DOLIPRANE 1000 mg, comprimé`` -> ``doliprane``."""
    m = _STRENGTH_START.search(" " + product_name)
    head = (" " + product_name)[: m.start()] if m else " " + product_name
    head = head.replace("®", " ")
    head = re.sub(r"\bl\.\s?p\.?(?=\s|$)", " ", head, flags=re.I)  # "SKENAN L.P.": said "Skenan"
    head = re.sub(r"\b(adultes?|enfants?|nourrissons?|adulte|lp|gé|ge|sans sucre)\b", " ", head, flags=re.I)
    return " ".join(head.lower().split())


def load_bdpm(drugs: Path, *, marketed: bool = True
              ) -> tuple[dict[str, dict[str, object]], dict[str, list[tuple[str, str]]]]:
    """The BDPM products (CIS -> name, form, routes) and their compositions: the products on the market
    (``marketed``: active authorisation, marketed), or every other one (not marketed, authorisation archived,
    withdrawn or suspended: a patient's old box)."""
    products: dict[str, dict[str, object]] = {}
    for row in read_tsv(drugs / "bdpm-2022" / "CIS_bdpm.txt"):
        if len(row) < 7:
            continue
        cis, name, form, routes, amm, procedure, status = (c.strip() for c in row[:7])
        on_market = amm == "Autorisation active" and status.startswith("Commercialis")
        if on_market != marketed:
            continue
        if "homéo" in procedure.lower() or "homeo" in procedure.lower():
            continue
        products[cis] = {"name": name, "form": form.lower(), "routes": routes.lower()}
    compo: dict[str, list[tuple[str, str]]] = defaultdict(list)
    # Per (cis, link number) prefer the FT (therapeutic fraction) row over SA.
    best: dict[tuple[str, str], tuple[str, str, str]] = {}
    for row in read_tsv(drugs / "bdpm-2022" / "CIS_COMPO_bdpm.txt"):
        if len(row) < 8:
            continue
        cis, _elem, _code, subst, dosage, _ref, nature, link = (c.strip() for c in row[:8])
        if cis not in products:
            continue
        if _HOMEO_STRENGTH.search(dosage):
            products.pop(cis, None)
            continue
        k = (cis, link)
        if k not in best or nature == "FT":
            best[k] = (subst, dosage, nature)
    for (cis, _link), (subst, dosage, _nature) in best.items():
        if cis in products:
            compo[cis].append((clean_substance(subst), dosage))
    return products, compo


def load_atc(drugs: Path) -> dict[str, str]:
    data = json.loads((drugs / "edsnlp-atc" / "drugs.json").read_text(encoding="utf-8"))
    out: dict[str, str] = {}
    for atc, names in data.items():
        for name in names:
            k = key_of(name)
            # Prefer the most specific (longest) ATC code for a name.
            if k and (k not in out or len(atc) > len(out[k])):
                out[k] = atc
    return out


def load_english(drugs: Path) -> list[tuple[str, list[str]]]:
    """(generic, [brands]) pairs from the English dictionaries."""
    out: list[tuple[str, list[str]]] = []
    en = drugs / "en-dictionaries"
    for fname in ("drugs_dictionary_wikipedia.csv", "drugs_dictionary_medlineplus.csv"):
        with (en / fname).open(encoding="utf-8") as fh:
            reader = csv.reader(fh)
            next(reader, None)
            for row in reader:
                if len(row) < 2:
                    continue
                common = row[1].strip()
                syn = [s.strip() for s in (row[2] if len(row) > 2 else "").split("|") if s.strip()]
                out.append((common, syn))
    nhs = json.loads((en / "all_nhs_drugs.json").read_text(encoding="utf-8"))
    for item in nhs:
        name = str(item.get("name", ""))
        m = re.match(r"^([^(]+?)\s*\(([^)]*)\)\s*$", name)
        if m:
            out.append((m.group(1), [b.strip() for b in re.split(r",| and ", m.group(2))]))
        elif name:
            out.append((name, []))
    return out


def en_to_fr_key(key: str) -> list[str]:
    """Candidate French keys for an English INN key (amoxicillin -> amoxicilline)."""
    cands = [key, key + "e"]
    if key.endswith("en"):
        cands.append(key + "e")  # ibuprofen -> ibuprofene
    if key.endswith("ine"):
        cands.append(key[:-1])
    return cands


EN_ALIASES = {
    "acetaminophen": "paracétamol",
    "albuterol": "salbutamol",
    "epinephrine": "adrénaline",
    "norepinephrine": "noradrénaline",
    "levothyroxine": "lévothyroxine sodique",
    "tylenol": "paracétamol",
    "glyceryl trinitrate": "trinitrine",
    "aspirin": "acide acétylsalicylique",
    "aspirine": "acide acétylsalicylique",
    "insulin": "insuline",
    "penicillin": "pénicilline",
    "vitamin d": "colécalciférol",
    "vitamine d": "colécalciférol",
    "iron": "fer",
}


EN_COMBINATIONS: dict[str, tuple[str, str]] = {
    "co-amoxiclav": ("acide clavulanique + amoxicilline", "J01CR02"),
    "co-codamol": ("codéine + paracétamol", "N02AA59"),
    "co-trimoxazole": ("sulfaméthoxazole + triméthoprime", "J01EE01"),
    "co-careldopa": ("carbidopa + lévodopa", "N04BA02"),
    "co-beneldopa": ("bensérazide + lévodopa", "N04BA02"),
    "co-amilofruse": ("amiloride + furosémide", "C03EB01"),
    "co-tenidone": ("aténolol + chlortalidone", "C07BB03"),
}
"""British approved names of fixed combinations ("co-amoxiclav 625, one tablet three times a day") -> the French
combination name of the BDPM products and its ATC code. The English dictionaries list some without a code and
lack co-codamol, the commonest."""
EN_BRANDS: dict[str, tuple[str, str]] = {
    "eltroxin": ("lévothyroxine sodique", "H03AA01"),
    "advair": ("fluticasone + salmétérol", "R03AK06"),
    "keflex": ("céfalexine monohydratée", "J01DB01"),
    "macrobid": ("nitrofurantoïne", "J01XE01"),
    "gravol": ("dimenhydrinate", "A04AD"),
    "percocet": ("oxycodone + paracétamol", "N02AJ17"),
    "tramacet": ("paracétamol + tramadol", "N02AJ13"),
    "yasmin": ("drospirénone + éthinylestradiol", "G03AA12"),
    "alesse": ("lévonorgestrel + éthinylestradiol", "G03AA07"),
    "microgynon": ("lévonorgestrel + éthinylestradiol", "G03AA07"),
    "rigevidon": ("lévonorgestrel + éthinylestradiol", "G03AA07"),
    "proscar": ("finastéride", "G04CB01"),
    "epilim": ("valproate de sodium", "N03AG01"),
    "estrace": ("estradiol", "G03CA03"),
    "dermovate": ("clobétasol", "D07AD01"),
    "betnovate": ("bétaméthasone", "D07AC01"),
    "colofac": ("mébévérine", "A03AA04"),
    "gaviscon advance": ("alginate de sodium + bicarbonate de potassium", "A02BX13"),
}
"""British and Canadian brands that the English dictionaries lack (checked against a list of 291 names said in
English consultations), with the French substance or combination name and the ATC code of the product."""
EN_PART_NAMES = {"acide clavulanique": "clavulanic acid", "sulfaméthoxazole": "sulfamethoxazole",
                 "bensérazide": "benserazide", "éthinylestradiol": "ethinylestradiol",
                 "céfalexine monohydratée": "cefalexin", "valproate de sodium": "sodium valproate",
                 "alginate de sodium": "sodium alginate", "bicarbonate de potassium": "potassium bicarbonate"}
"""English names of the substances of :data:`EN_COMBINATIONS` and :data:`EN_BRANDS` that the English dictionaries
do not give (an English visit's co-amoxiclav line reads "clavulanic acid + amoxicillin")."""

SPOKEN_NAMES: dict[str, str] = {
    "pénicilline": "J01C",
    "insuline": "A10A",
    "cortisone": "H02AB10",
}
"""French names people say for a drug that the BDPM has no substance of, with their ATC code: a class said as
one drug ("allergique à la pénicilline", "je fais de l'insuline") or a substance no product holds any more
(cortisone). Each is a substance entry of its own (the English aliases above point to them). A class said as a
class ("sulfamides", "les antibiotiques") is no line (benchmarks/LABELLING.md)."""


# --------------------------------------------------------------------------- English names of the substances
_EN_QUALIFIER = re.compile(
    r"\s+(?:for\s.*|injection|oral inhalation|oral|rectal|topical|ophthalmic|nasal spray|nasal|inhalers?|"
    r"tablets?(?:,.*)?|capsules?|cream|gel|ointment|skin cream|eye drops|drops|syrup|spray|patch(?:es)?|"
    r"supplements?|\(medication\))$"
)


def english_dictionary_names(drugs: Path) -> tuple[dict[str, str], dict[str, str]]:
    """The English dictionaries' generic (common) names and all their names (common names and synonyms),
    each as accent-free key -> lower-case spelling. Form and use qualifiers are cut ("Amitriptyline for
    depression", "Epinephrine Injection", "Budesonide inhalers")."""
    generics: dict[str, str] = {}
    every: dict[str, str] = {}
    for common, syns in load_english(drugs):
        for i, raw in enumerate([common, *syns]):
            name = " ".join(raw.lower().split())
            for _ in range(2):
                name = _EN_QUALIFIER.sub("", name).strip()
            k = key_of(name)
            if not k or len(k) < 3 or _EN_SKIP.search(k) or "/" in name or len(k.split()) > 3:
                continue
            every.setdefault(k, name)
            if i == 0:
                generics.setdefault(k, name)
    return generics, every


_ANION_OF = {"chlorure": "chloride", "bromure": "bromide", "iodure": "iodide", "fluorure": "fluoride",
             "sulfate": "sulfate", "carbonate": "carbonate", "phosphate": "phosphate", "acetate": "acetate",
             "citrate": "citrate", "gluconate": "gluconate", "oxyde": "oxide", "hydroxyde": "hydroxide"}
_CATION_OF = {"sodique": "sodium", "potassique": "potassium", "calcique": "calcium", "magnesique": "magnesium"}


def _word_variants(word: str) -> list[str]:
    """English spellings a French DCI word may have (accent-free): as is; the final -e dropped
    (-ine/-in, -ide/-id, -ène/-en, -ione/-ion, -ole/-ol, -ate/-at...); -ique/-ic."""
    out = [word]
    if word.endswith("ique"):
        out.append(word[:-4] + "ic")
    elif len(word) > 4 and word.endswith("e") and word[-2] not in "aeiouy":
        out.append(word[:-1])
    return out


def transliterations(fr_key: str) -> list[str]:
    """Candidate English keys of a French substance key, most likely first. The rules: accents dropped (the
    key has none); each word's final -e dropped or -ique -> -ic (:func:`_word_variants`); "acide X" ->
    "X acid" (acide folique -> folic acid); "chlorure de X" -> "X chloride" and the other anions of
    :data:`_ANION_OF`, "X-ate de sodium" -> "sodium X-ate" (:data:`_ELEMENT_KEYS`); "X sodique" -> "X sodium"
    (:data:`_CATION_OF`). A candidate is an English name only
    when an English dictionary lists it."""
    words = fr_key.split()
    if len(words) >= 2 and words[0] == "acide":
        words = [*words[1:], "acid"]
    elif len(words) == 3 and words[0] in _ANION_OF and words[1] in ("de", "d"):
        words = [words[2], _ANION_OF[words[0]]]
    elif len(words) == 3 and words[0].endswith("ate") and words[1] in ("de", "d") and words[2] in _ELEMENT_KEYS:
        words = [words[2], words[0]]  # alginate de sodium -> sodium alginate, valproate de sodium
    elif len(words) == 2 and words[1] in _CATION_OF:
        words = [words[0], _CATION_OF[words[1]]]
    cands = [""]
    for w in words:
        cands = [f"{c} {v}".strip() for c in cands for v in _word_variants(w)]
    return [c for c in dict.fromkeys([fr_key, *cands])]


def english_names(
    entries: list[dict[str, object]], generics: dict[str, str], every: dict[str, str]
) -> dict[str, list[str]]:
    """English names of each French substance name (the ``substance`` entries' names, and the French names
    that English entries map to, such as "insuline"), preferred first, from data only:

    1. the English dictionary name that the spelling rules of :func:`transliterations` give, the French
       name without its accents first (paracetamol, atenolol; metformine -> metformin, guaïfénésine ->
       guaifenesin, acide folique -> folic acid);
    2. the English dictionaries' generic names that have the substance's ATC code in this lexicon (same ATC,
       same substance: acetaminophen for paracétamol, epinephrine for adrénaline), where the code is that of
       one substance (its salts aside: the names of the code share their first word) and the name is no
       French specialty's.

    A name whose list would only repeat it gets none; one with no English name stays French in English
    consultations."""
    substances: dict[str, str] = {}  # French name -> ATC
    for e in entries:
        name = str(e["n"])
        if e["t"] == "substance" or (e["t"] == "en" and key_of(name) != e["k"] and " + " not in name):
            if substances.get(name) is None:
                substances[name] = str(e.get("a") or "")
    by_atc: dict[str, set[str]] = defaultdict(set)
    for name, atc in substances.items():
        if atc:
            by_atc[atc].add(name)
    brands = {str(e["k"]) for e in entries if e["t"] == "brand"}
    en_by_atc: dict[str, list[str]] = defaultdict(list)  # the ATC of an English generic is its entry's
    for e in entries:
        k = str(e["k"])
        if e.get("a") and k in generics and k not in brands:  # a French specialty name is no INN (Nicorette)
            en_by_atc[str(e["a"])].append(generics[k])
    out: dict[str, list[str]] = {}
    for name, atc in sorted(substances.items()):
        names: list[str] = []
        for cand in transliterations(key_of(name)):
            if cand in every:
                names.append(every[cand])
                break
        if atc and len({key_of(n).split()[0] for n in by_atc[atc]}) == 1:
            names += en_by_atc.get(atc, [])
        names = list(dict.fromkeys(names))
        if names and names != [name]:
            out[name] = names
    return out


def collect_products(products: dict[str, dict[str, object]], compo: dict[str, list[tuple[str, str]]], *,
                     taken_words: frozenset[str] = frozenset()
                     ) -> tuple[dict[str, dict[str, set[str]]], dict[str, dict[str, object]]]:
    """Substances (name -> strengths, forms, routes) and brands (key -> name, substances, CIS by strength, forms,
    routes) of BDPM products. ``taken_words``: first words of other products' names (the marketed ones, for the
    products no longer marketed), never made a short brand name here."""
    subs: dict[str, dict[str, set[str]]] = defaultdict(lambda: {"st": set(), "f": set(), "r": set()})
    brands: dict[str, dict[str, object]] = {}
    shorts: dict[str, list[tuple[str, str]]] = {}
    for cis, prod in sorted(products.items()):
        comps = compo.get(cis, [])
        if not comps:
            continue
        sub_names = sorted({c for c, _ in comps if c})
        form = str(prod["form"])
        routes = [r.strip() for r in str(prod["routes"]).split(";") if r.strip()]
        for sub, dosage in comps:
            if not sub:
                continue
            if dosage and len(comps) == 1:
                subs[sub]["st"].add(norm_strength(dosage))
            subs[sub]["f"].add(form)
            subs[sub]["r"].update(routes)
        brand = brand_of(str(prod["name"]))
        bkey = key_of(brand)
        if not bkey or len(bkey) < 3:
            continue
        # Generics named after their substance ("PARACETAMOL BIOGARAN") add nothing new.
        if any(bkey.startswith(key_of(s)) for s in sub_names):
            continue
        b = brands.setdefault(bkey, {"s": brand, "subs": set(), "cis": {}, "f": set(), "r": set()})
        b["subs"].update(sub_names)  # type: ignore[attr-defined]
        m = re.search(r"(\d[\d ,.]*\s*(mg|g|µg|microgrammes|ml|ui|%))", str(prod["name"]), re.I)
        strength = norm_strength(m.group(1)) if m else ""
        b["cis"].setdefault(strength, cis)  # type: ignore[attr-defined]
        b["f"].add(form)  # type: ignore[attr-defined]
        b["r"].update(routes)  # type: ignore[attr-defined]
        short = short_brand(brand, sub_names)
        if short:
            shorts.setdefault(key_of(short), []).append((short, bkey))

    # "DOLIRHUME PARACETAMOL ET PSEUDOEPHEDRINE": said "Dolirhume". The brand's own word before its substances'
    # names is a name of its own when no product is called so already and every product whose name starts with
    # that word has the same substances (else it would not say which: "Strepsils" is several products).
    first_word_subs: dict[str, set[frozenset[str]]] = defaultdict(set)
    for bkey, b in brands.items():
        first_word_subs[bkey.split()[0]].add(frozenset(b["subs"]))  # type: ignore[arg-type]
    for skey, pairs in sorted(shorts.items()):
        if skey in brands or skey in taken_words or len(skey) < 5 or len(first_word_subs[skey]) != 1:
            continue
        fulls = sorted({bkey for _, bkey in pairs})
        first = brands[fulls[0]]
        brands[skey] = {"s": pairs[0][0], "subs": set(first["subs"]),  # type: ignore[call-overload]
                        "cis": {s: c for k in fulls for s, c in brands[k]["cis"].items()},  # type: ignore[attr-defined]
                        "f": {f for k in fulls for f in brands[k]["f"]},  # type: ignore[attr-defined]
                        "r": {r for k in fulls for r in brands[k]["r"]}}  # type: ignore[attr-defined]
    return subs, brands


def short_brand(brand: str, sub_names: list[str]) -> str | None:
    """``dolirhume paracetamol et pseudoephedrine`` (substances paracétamol, pseudoéphédrine) -> ``dolirhume``:
    the first word, when all the others are the product's substance names (and "et", "/"); None otherwise."""
    sub_words = {w for s in sub_names for w in key_of(s).split()} | {key_of(s).replace(" ", "") for s in sub_names}
    words = brand.split()
    cut = len(words)
    while cut > 1 and (key_of(words[cut - 1]) in sub_words or key_of(words[cut - 1]) in ("et", "/", "")):
        cut -= 1
    if cut == len(words) or not any(key_of(w) in sub_words for w in words[cut:]):
        return None
    return words[0] if cut == 1 else None


def _top(values: set[str], n: int) -> list[str]:
    return sorted(values)[:n]


def substance_entry(sub: str, info: dict[str, set[str]], atc_by_key: dict[str, str], *, strengths: bool = True
                    ) -> dict[str, object]:
    """The lexicon entry of a substance of :func:`collect_products` (without its strengths: ``strengths`` False)."""
    k = key_of(sub)
    entry: dict[str, object] = {"s": sub, "k": k, "n": sub, "t": "substance", "a": atc_by_key.get(k)}
    if strengths:
        entry["st"] = _top(info["st"], 12)
    entry.update({"f": _top(info["f"], 8), "r": _top(info["r"], 6)})
    return entry


def brand_entry(bkey: str, b: dict[str, object], atc_by_key: dict[str, str]) -> dict[str, object]:
    """The lexicon entry of a brand of :func:`collect_products`: its substances' name, its ATC code (the brand's,
    else its single substance's), its first CIS, strengths, forms and routes."""
    sub_list = sorted(b["subs"])  # type: ignore[call-overload]
    cis_map: dict[str, str] = b["cis"]  # type: ignore[assignment]
    atc = atc_by_key.get(bkey)
    if atc is None and len(sub_list) == 1:
        atc = atc_by_key.get(key_of(sub_list[0]))
    return {
        "s": b["s"],
        "k": bkey,
        "n": " + ".join(sub_list) if len(sub_list) <= 3 else b["s"],
        "t": "brand",
        "a": atc,
        "c": cis_map[sorted(cis_map)[0]],
        "sub": sub_list[:6],
        "st": sorted(s for s in cis_map if s)[:12],
        "f": _top(b["f"], 8),  # type: ignore[arg-type]
        "r": _top(b["r"], 6),  # type: ignore[arg-type]
    }


def build(drugs: Path) -> dict[str, object]:
    products, compo = load_bdpm(drugs)
    atc_by_key = load_atc(drugs)

    subs, brands = collect_products(products, compo)

    entries: list[dict[str, object]] = []
    seen: set[str] = set()

    def add(entry: dict[str, object]) -> None:
        k = str(entry["k"])
        if k in seen or len(k) < 3:
            return
        seen.add(k)
        entries.append({key: v for key, v in entry.items() if v not in (None, [], "")})

    sub_key_to_name: dict[str, str] = {}
    for sub in sorted(subs):
        sub_key_to_name.setdefault(key_of(sub), sub)
        add(substance_entry(sub, subs[sub], atc_by_key))
    for bkey in sorted(brands):
        add(brand_entry(bkey, brands[bkey], atc_by_key))

    for spoken, atc in SPOKEN_NAMES.items():
        if key_of(spoken) not in sub_key_to_name:
            sub_key_to_name[key_of(spoken)] = spoken
            add({"s": spoken, "k": key_of(spoken), "n": spoken, "t": "substance", "a": atc})
    for alias, (fr, atc) in {**EN_COMBINATIONS, **EN_BRANDS}.items():
        add({"s": alias, "k": key_of(alias), "n": fr, "t": "en", "a": atc})
    for alias, fr in EN_ALIASES.items():
        add({"s": alias, "k": key_of(alias), "n": fr, "t": "en",
             "a": atc_by_key.get(key_of(fr)) or SPOKEN_NAMES.get(fr)})
    # English names: generic INN mapped to the French substance where the keys agree.
    en_pairs = load_english(drugs)
    for common, syns in en_pairs:
        ck = key_of(common)
        if not ck or _EN_SKIP.search(ck) or len(ck.split()) > 3:
            continue
        fr = EN_ALIASES.get(ck)
        if fr is None:
            fr = next((sub_key_to_name[c] for c in en_to_fr_key(ck) if c in sub_key_to_name), None)
        name = fr or common.lower()
        atc = atc_by_key.get(key_of(name)) or atc_by_key.get(ck)
        add({"s": common.lower(), "k": ck, "n": name, "t": "en", "a": atc})
        for syn in syns:
            sk = key_of(syn)
            if sk and not _EN_SKIP.search(sk) and len(sk.split()) <= 3:
                add({"s": syn.lower(), "k": sk, "n": name, "t": "en", "a": atc})

    # Products no longer marketed (a patient's old box): their brands and substances, when no marketed entry
    # has the name, flagged "nm"; never a source of strengths ("unusual strength" reads the marketed ones).
    marketed_words = frozenset(k.split()[0] for k in brands)
    old_subs, old_brands = collect_products(*load_bdpm(drugs, marketed=False), taken_words=marketed_words)
    for sub in sorted(old_subs):
        k = key_of(sub)
        if k not in seen:
            sub_key_to_name.setdefault(k, sub)
            add({**substance_entry(sub, old_subs[sub], atc_by_key, strengths=False), "nm": 1})
    for bkey in sorted(old_brands):
        add({**brand_entry(bkey, old_brands[bkey], atc_by_key), "nm": 1})

    counts = Counter(str(e["t"]) for e in entries)
    counts["not_marketed"] = sum(1 for e in entries if e.get("nm"))
    generics, every = english_dictionary_names(drugs)
    en_names = english_names(entries, generics, every)
    for fr, en in EN_PART_NAMES.items():
        en_names.setdefault(fr, [en])
    counts["en_names"] = len(en_names)
    return {
        "version": 1,
        "sources": [
            "BDPM 2022 (ANSM/HAS/UNCAM)",
            "edsnlp drugs.json (AP-HP, BSD-3, Romedi)",
            "fastdatascience drug_named_entity_recognition (MIT)",
        ],
        "counts": dict(counts),
        "entries": entries,
        "en_names": en_names,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("drugs", nargs="?", type=Path, default=DEFAULT_DRUGS)
    ap.add_argument("-o", "--output", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)
    if not (args.drugs / "bdpm-2022" / "CIS_bdpm.txt").exists():
        print(f"error: no BDPM files under {args.drugs}", file=sys.stderr)
        return 2
    lexicon = build(args.drugs)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    payload = json.dumps(lexicon, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    with gzip.GzipFile(args.output, "wb", mtime=0) as fh:
        fh.write(payload)
    print(f"wrote {args.output} ({args.output.stat().st_size} bytes): {lexicon['counts']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
