#!/usr/bin/env python3
"""Build the data files behind the pharmacist review and the pseudonymiser.

* ``consult/data/max_daily_doses.json``: usual maximum adult daily dose of ~60 common substances, read by
  ``consult.review`` (dose-range flags). No file of ``../shared/data`` gives maximum doses (the BDPM files
  give products, strengths and compositions only; no WHO ATC/DDD file is shipped), so each value below is
  the adult maximum stated in section 4.2 ("Posologie et mode d'administration" / "Posology and method of
  administration") of the Summary of Product Characteristics (SmPC, French RCP) named in its ``ref``.
  ATC codes are read from the packaged drug lexicon (BDPM + edsnlp/Romedi, see LEXICON_SOURCES.md); a name
  that the lexicon does not know stops the build.
* ``consult/data/person_names.txt.gz``: first names and surnames for ``consult.pseudonymise``, from the
  person providers of the Faker package (MIT licence, github.com/joke2k/faker): locales ``fr_FR``,
  ``en_GB``, ``en_US`` and ``en``. Each name is flagged ``w`` when it is also an ordinary word of the
  Debian word lists (wfrench ``/usr/share/dict/french``, GPL-2+; wamerican/wbritish SCOWL, permissive):
  such names ("Rose", "Pierre", "Martin") are only replaced next to a title or another name.

Usage (Faker is needed at build time only)::

    pip install --target /tmp/fakerlib faker==40.54.0
    PYTHONPATH=/tmp/fakerlib .venv/bin/python scripts/build_review_data.py
"""

from __future__ import annotations

import argparse
import gzip
import importlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from consult.extract.lexicon import DrugLexicon  # noqa: E402
from consult.extract.text import key_of  # noqa: E402

DATA = ROOT / "consult" / "data"
DOSES_OUT = DATA / "max_daily_doses.json"
NAMES_OUT = DATA / "person_names.txt.gz"
WORD_LISTS = [
    Path("/usr/share/dict/french"),
    Path("/usr/share/dict/american-english"),
    Path("/usr/share/dict/british-english"),
]
FAKER_LOCALES = ("fr_FR", "en_GB", "en_US", "en")

ORAL = ["oral"]
SMPC = "SmPC/RCP section 4.2"

# substance (French INN, as in the lexicon), maximum adult daily dose in mg, routes it applies to, reference.
# Optional keys: "otc_max_mg" (maximum without prescription), "weekly" (taken once a week: a daily schedule
# is flagged), "note".
MAX_DAILY_DOSES: list[dict[str, object]] = [
    {"substance": "paracétamol", "max_mg": 4000, "routes": ["oral", "rectal", "intravenous"],
     "ref": f"{SMPC}, Doliprane 1000 mg comprimé (ANSM): adults over 50 kg, no more than 4 g a day"},
    {"substance": "ibuprofène", "max_mg": 2400, "otc_max_mg": 1200, "routes": ORAL,
     "ref": f"{SMPC}, Brufen 400 mg (prescription, rheumatology: up to 2400 mg/day); "
            "Advil 200/400 mg (non-prescription: no more than 1200 mg/day)"},
    {"substance": "acide acétylsalicylique", "max_mg": 3000, "routes": ORAL,
     "ref": f"{SMPC}, Aspirine UPSA 500 mg / Aspégic 1000 mg (analgesic use): no more than 3 g a day"},
    {"substance": "diclofénac", "max_mg": 150, "routes": ["oral", "rectal"],
     "ref": f"{SMPC}, Voltarène 50 mg / 75 mg LP: maximum 150 mg a day"},
    {"substance": "célécoxib", "max_mg": 400, "routes": ORAL,
     "ref": f"{SMPC}, Celebrex 100/200 mg (EMA): maximum 400 mg a day (rheumatoid arthritis)"},
    {"substance": "tramadol", "max_mg": 400, "routes": ORAL,
     "ref": f"{SMPC}, Topalgic / Contramal 50 mg: total daily dose of 400 mg should not be exceeded"},
    {"substance": "metformine", "max_mg": 3000, "routes": ORAL,
     "ref": f"{SMPC}, Glucophage 500/850/1000 mg: maximum 3 g a day in 3 intakes"},
    {"substance": "amoxicilline", "max_mg": 6000, "routes": ORAL,
     "ref": f"{SMPC}, Clamoxyl / Amoxil (harmonised EU SmPC): adults up to 6 g a day in severe infections"},
    {"substance": "clarithromycine", "max_mg": 1000, "routes": ORAL,
     "ref": f"{SMPC}, Zeclar 250/500 mg: 500 mg twice a day at most"},
    {"substance": "ciprofloxacine", "max_mg": 1500, "routes": ORAL,
     "ref": f"{SMPC}, Ciflox 250/500/750 mg: up to 750 mg twice a day"},
    {"substance": "lévofloxacine", "max_mg": 1000, "routes": ORAL,
     "ref": f"{SMPC}, Tavanic 500 mg: up to 500 mg twice a day"},
    {"substance": "ofloxacine", "max_mg": 800, "routes": ORAL,
     "ref": f"{SMPC}, Oflocet 200 mg: up to 400 mg twice a day"},
    {"substance": "aciclovir", "max_mg": 4000, "routes": ORAL,
     "ref": f"{SMPC}, Zovirax 200/800 mg (herpes zoster: 800 mg five times a day)"},
    {"substance": "atorvastatine", "max_mg": 80, "routes": ORAL, "ref": f"{SMPC}, Tahor: maximum 80 mg a day"},
    {"substance": "simvastatine", "max_mg": 80, "routes": ORAL,
     "ref": f"{SMPC}, Zocor: maximum 80 mg a day (80 mg only for high-risk patients)"},
    {"substance": "rosuvastatine", "max_mg": 40, "routes": ORAL, "ref": f"{SMPC}, Crestor: maximum 40 mg a day"},
    {"substance": "pravastatine", "max_mg": 40, "routes": ORAL, "ref": f"{SMPC}, Elisor/Vasten: maximum 40 mg a day"},
    {"substance": "amlodipine", "max_mg": 10, "routes": ORAL, "ref": f"{SMPC}, Amlor: maximum 10 mg a day"},
    {"substance": "ramipril", "max_mg": 10, "routes": ORAL, "ref": f"{SMPC}, Triatec: maximum 10 mg a day"},
    {"substance": "énalapril", "max_mg": 40, "routes": ORAL, "ref": f"{SMPC}, Renitec: maximum 40 mg a day"},
    {"substance": "lisinopril", "max_mg": 80, "routes": ORAL, "ref": f"{SMPC}, Zestril: maximum 80 mg a day"},
    {"substance": "valsartan", "max_mg": 320, "routes": ORAL, "ref": f"{SMPC}, Tareg/Diovan: maximum 320 mg a day"},
    {"substance": "candésartan", "max_mg": 32, "routes": ORAL, "ref": f"{SMPC}, Atacand: maximum 32 mg a day"},
    {"substance": "irbésartan", "max_mg": 300, "routes": ORAL, "ref": f"{SMPC}, Aprovel: maximum 300 mg a day"},
    {"substance": "losartan", "max_mg": 150, "routes": ORAL,
     "ref": f"{SMPC}, Cozaar: 100 mg in hypertension, up to 150 mg a day in heart failure"},
    {"substance": "bisoprolol", "max_mg": 20, "routes": ORAL,
     "ref": f"{SMPC}, Detensiel/Concor (hypertension): maximum 20 mg a day (10 mg in heart failure)"},
    {"substance": "sertraline", "max_mg": 200, "routes": ORAL, "ref": f"{SMPC}, Zoloft: maximum 200 mg a day"},
    {"substance": "fluoxétine", "max_mg": 60, "routes": ORAL, "ref": f"{SMPC}, Prozac: maximum 60 mg a day"},
    {"substance": "paroxétine", "max_mg": 60, "routes": ORAL,
     "ref": f"{SMPC}, Deroxat: 50 mg (depression), 60 mg a day (obsessive-compulsive and panic disorders)"},
    {"substance": "citalopram", "max_mg": 40, "routes": ORAL,
     "ref": f"{SMPC}, Seropram (2011 QT update): maximum 40 mg a day, 20 mg over 65 years"},
    {"substance": "escitalopram", "max_mg": 20, "routes": ORAL, "ref": f"{SMPC}, Seroplex: maximum 20 mg a day"},
    {"substance": "venlafaxine", "max_mg": 375, "routes": ORAL,
     "ref": f"{SMPC}, Effexor LP: maximum 375 mg a day (severe depression, hospital)"},
    {"substance": "mirtazapine", "max_mg": 45, "routes": ORAL, "ref": f"{SMPC}, Norset: maximum 45 mg a day"},
    {"substance": "zolpidem", "max_mg": 10, "routes": ORAL, "ref": f"{SMPC}, Stilnox: 10 mg a day, not more"},
    {"substance": "zopiclone", "max_mg": 7.5, "routes": ORAL, "ref": f"{SMPC}, Imovane: 7.5 mg a day, not more"},
    {"substance": "alprazolam", "max_mg": 4, "routes": ORAL, "ref": f"{SMPC}, Xanax: maximum 4 mg a day"},
    {"substance": "gabapentine", "max_mg": 3600, "routes": ORAL,
     "ref": f"{SMPC}, Neurontin: maximum 3600 mg a day"},
    {"substance": "prégabaline", "max_mg": 600, "routes": ORAL, "ref": f"{SMPC}, Lyrica: maximum 600 mg a day"},
    {"substance": "cétirizine", "max_mg": 10, "routes": ORAL, "ref": f"{SMPC}, Zyrtec: 10 mg once a day"},
    {"substance": "loratadine", "max_mg": 10, "routes": ORAL, "ref": f"{SMPC}, Clarityne: 10 mg once a day"},
    {"substance": "desloratadine", "max_mg": 5, "routes": ORAL, "ref": f"{SMPC}, Aerius: 5 mg once a day"},
    {"substance": "fexofénadine", "max_mg": 180, "routes": ORAL,
     "ref": f"{SMPC}, Telfast 120/180 mg: 180 mg once a day at most"},
    {"substance": "hydroxyzine", "max_mg": 100, "routes": ORAL,
     "ref": f"{SMPC}, Atarax (EMA 2015 QT review): adults maximum 100 mg a day"},
    {"substance": "montélukast", "max_mg": 10, "routes": ORAL, "ref": f"{SMPC}, Singulair: 10 mg once a day"},
    {"substance": "métoclopramide", "max_mg": 30, "routes": ORAL,
     "ref": f"{SMPC}, Primperan (EMA 2013 review): maximum 30 mg a day"},
    {"substance": "dompéridone", "max_mg": 30, "routes": ORAL,
     "ref": f"{SMPC}, Motilium (EMA 2014 review): maximum 30 mg a day"},
    {"substance": "lopéramide", "max_mg": 16, "routes": ORAL,
     "ref": f"{SMPC}, Imodium 2 mg: maximum 8 capsules (16 mg) a day"},
    {"substance": "colchicine", "max_mg": 3, "routes": ORAL,
     "ref": f"{SMPC}, Colchicine Opocalcium 1 mg: maximum 3 mg on the first day of a gout attack, "
            "then 2 mg a day", "note": "first-day maximum"},
    {"substance": "apixaban", "max_mg": 20, "routes": ORAL,
     "ref": f"{SMPC}, Eliquis: 10 mg twice a day for the first 7 days of venous thromboembolism treatment"},
    {"substance": "rivaroxaban", "max_mg": 30, "routes": ORAL,
     "ref": f"{SMPC}, Xarelto: 15 mg twice a day for the first 21 days of venous thromboembolism treatment"},
    {"substance": "dabigatran étexilate", "max_mg": 300, "routes": ORAL, "ref": f"{SMPC}, Pradaxa: 150 mg twice a day"},
    {"substance": "quétiapine", "max_mg": 800, "routes": ORAL, "ref": f"{SMPC}, Xeroquel: maximum 800 mg a day"},
    {"substance": "olanzapine", "max_mg": 20, "routes": ORAL, "ref": f"{SMPC}, Zyprexa: maximum 20 mg a day"},
    {"substance": "sumatriptan", "max_mg": 300, "routes": ORAL,
     "ref": f"{SMPC}, Imigrane 50 mg: no more than 300 mg in 24 hours"},
    {"substance": "zolmitriptan", "max_mg": 10, "routes": ORAL,
     "ref": f"{SMPC}, Zomig: no more than 10 mg in 24 hours"},
    {"substance": "tamsulosine", "max_mg": 0.4, "routes": ORAL, "ref": f"{SMPC}, Omix LP 0.4 mg: 0.4 mg once a day"},
    {"substance": "sildénafil", "max_mg": 100, "routes": ORAL,
     "ref": f"{SMPC}, Viagra: maximum 100 mg, not more than once a day"},
    {"substance": "tadalafil", "max_mg": 20, "routes": ORAL,
     "ref": f"{SMPC}, Cialis: maximum 20 mg, not more than once a day"},
    {"substance": "méthotrexate", "max_mg": None, "weekly": True, "routes": ORAL,
     "ref": f"{SMPC}, Novatrex 2.5 mg / Imeth: taken ONCE A WEEK (rheumatoid arthritis, psoriasis); "
            "ANSM safety information on fatal daily-dosing errors"},
]


def build_doses(lex: DrugLexicon) -> dict[str, object]:
    entries = []
    for row in MAX_DAILY_DOSES:
        name = str(row["substance"])
        entry = lex.lookup_name(name)
        if entry is None or entry.atc is None:
            raise SystemExit(f"substance not in the lexicon or without ATC: {name}")
        entries.append({**row, "atc": entry.atc})
    return {
        "version": 1,
        "source": "Adult maximum daily doses from section 4.2 of each product's SmPC/RCP (reference per "
        "entry); ATC codes from the consult drug lexicon. Built by scripts/build_review_data.py.",
        "entries": entries,
    }


def _read_words(paths: list[Path]) -> set[str]:
    """Lower-case ordinary words of the word lists (capitalised entries are proper nouns: skipped)."""
    words: set[str] = set()
    for path in paths:
        if not path.exists():
            raise SystemExit(f"word list missing: {path} (apt-get install wfrench wamerican wbritish)")
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            w = line.strip()
            if w and w == w.lower():
                words.add(key_of(w))
    return words


def _faker_names() -> tuple[set[str], set[str]]:
    first: set[str] = set()
    last: set[str] = set()
    for loc in FAKER_LOCALES:
        mod = importlib.import_module(f"faker.providers.person.{loc}")
        prov = mod.Provider
        for attr in ("first_names", "first_names_male", "first_names_female"):
            first.update(str(n) for n in getattr(prov, attr, ()))
        last.update(str(n) for n in getattr(prov, "last_names", ()))
    return first, last


def build_names(lex: DrugLexicon, words: set[str]) -> list[str]:
    first, last = _faker_names()
    flags: dict[str, set[str]] = {}
    for names, flag in ((first, "f"), (last, "l")):
        for raw in names:
            for part in raw.replace("-", " ").split():
                k = key_of(part)
                if len(k) < 3 or not k.isalpha():
                    continue
                flags.setdefault(k, set()).add(flag)
    lines = []
    for k in sorted(flags):
        f = flags[k]
        if k in words:
            f.add("w")
        if lex.get(k) is not None:
            f.add("d")  # also a drug name in the lexicon: never replaced by the name list
        lines.append(f"{k}\t{''.join(sorted(f))}")
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--words", nargs="+", type=Path, default=WORD_LISTS)
    args = ap.parse_args(argv)
    lex = DrugLexicon.load()
    doses = build_doses(lex)
    body = ",\n".join(json.dumps(e, ensure_ascii=False) for e in doses["entries"])  # type: ignore[union-attr]
    head = json.dumps({k: v for k, v in doses.items() if k != "entries"}, ensure_ascii=False)[:-1]
    DOSES_OUT.write_text(f'{head}, "entries": [\n{body}\n]}}\n', encoding="utf-8")
    print(f"{DOSES_OUT.relative_to(ROOT)}: {len(doses['entries'])} substances")  # type: ignore[arg-type]
    import faker

    lines = build_names(lex, _read_words(args.words))
    header = [
        "# first names (f) and surnames (l) for consult.pseudonymise; w = also an ordinary word, d = a drug name",
        f"# from Faker {faker.VERSION} person providers {', '.join(FAKER_LOCALES)} (MIT); "
        "words: Debian wfrench (GPL-2+), wamerican/wbritish (SCOWL)",
    ]
    NAMES_OUT.write_bytes(gzip.compress(("\n".join(header + lines) + "\n").encode("utf-8"), mtime=0))
    print(f"{NAMES_OUT.relative_to(ROOT)}: {len(lines)} names")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
