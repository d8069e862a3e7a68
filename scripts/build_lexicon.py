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


def clean_substance(raw: str) -> str:
    name = raw.strip().lower()
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
    head = re.sub(r"\b(adultes?|enfants?|nourrissons?|adulte|lp|gé|ge|sans sucre)\b", " ", head, flags=re.I)
    return " ".join(head.lower().split())


def load_bdpm(drugs: Path) -> tuple[dict[str, dict[str, object]], dict[str, list[tuple[str, str]]]]:
    products: dict[str, dict[str, object]] = {}
    for row in read_tsv(drugs / "bdpm-2022" / "CIS_bdpm.txt"):
        if len(row) < 7:
            continue
        cis, name, form, routes, amm, procedure, marketed = (c.strip() for c in row[:7])
        if amm != "Autorisation active" or not marketed.startswith("Commercialis"):
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


def build(drugs: Path) -> dict[str, object]:
    products, compo = load_bdpm(drugs)
    atc_by_key = load_atc(drugs)

    subs: dict[str, dict[str, set[str]]] = defaultdict(lambda: {"st": set(), "f": set(), "r": set()})
    brands: dict[str, dict[str, object]] = {}
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

    entries: list[dict[str, object]] = []
    seen: set[str] = set()

    def add(entry: dict[str, object]) -> None:
        k = str(entry["k"])
        if k in seen or len(k) < 3:
            return
        seen.add(k)
        entries.append({key: v for key, v in entry.items() if v not in (None, [], "")})

    def top(values: set[str], n: int) -> list[str]:
        return sorted(values)[:n]

    sub_key_to_name: dict[str, str] = {}
    for sub in sorted(subs):
        k = key_of(sub)
        sub_key_to_name.setdefault(k, sub)
        info = subs[sub]
        add(
            {
                "s": sub,
                "k": k,
                "n": sub,
                "t": "substance",
                "a": atc_by_key.get(k),
                "st": top(info["st"], 12),
                "f": top(info["f"], 8),
                "r": top(info["r"], 6),
            }
        )
    for bkey in sorted(brands):
        b = brands[bkey]
        sub_list = sorted(b["subs"])  # type: ignore[arg-type]
        cis_map: dict[str, str] = b["cis"]  # type: ignore[assignment]
        atc = atc_by_key.get(bkey)
        if atc is None and len(sub_list) == 1:
            atc = atc_by_key.get(key_of(sub_list[0]))
        add(
            {
                "s": b["s"],
                "k": bkey,
                "n": " + ".join(sub_list) if len(sub_list) <= 3 else b["s"],
                "t": "brand",
                "a": atc,
                "c": cis_map[sorted(cis_map)[0]],
                "sub": sub_list[:6],
                "st": sorted(s for s in cis_map if s)[:12],
                "f": top(b["f"], 8),  # type: ignore[arg-type]
                "r": top(b["r"], 6),
            }
        )  # type: ignore[arg-type]

    for alias, fr in EN_ALIASES.items():
        add({"s": alias, "k": key_of(alias), "n": fr, "t": "en", "a": atc_by_key.get(key_of(fr))})
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

    counts = Counter(str(e["t"]) for e in entries)
    return {
        "version": 1,
        "sources": [
            "BDPM 2022 (ANSM/HAS/UNCAM)",
            "edsnlp drugs.json (AP-HP, BSD-3, Romedi)",
            "fastdatascience drug_named_entity_recognition (MIT)",
        ],
        "counts": dict(counts),
        "entries": entries,
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
