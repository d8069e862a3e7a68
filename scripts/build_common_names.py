"""Build consult/data/common_names.txt: the drug names people say every day, French and English.

    .venv/bin/python scripts/build_common_names.py [--shared ../shared]

A prior, as a language model's: a bent word that sounds like a commonly prescribed medicine more likely is that
medicine than a rare brand it sounds like too. The speech stage's second pass accepts a common name with a wider
margin than a rare one (consult.config.AsrOptions), and the name index ranks it first.

Sources: the most prescribed substances and brands of French and UK primary care (CNAM Medic'AM and NHS
prescription cost analysis top lists, as curated below), the NHS list of common medicines with their brands
(../shared/data/drugs/en-dictionaries/all_nhs_drugs.json) and, for each of these, the lexicon's French name.
Only names the lexicon knows are kept. One folded key per line (consult.extract.text.key_of).
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CURATED = {
    "fr": "paracétamol Doliprane Dafalgan Efferalgan amoxicilline Augmentin ibuprofène Advil oméprazole ésoméprazole "
          "pantoprazole lévothyroxine Levothyrox metformine atorvastatine rosuvastatine Kardégic amlodipine ramipril "
          "périndopril bisoprolol furosémide colécalciférol tramadol codéine prednisolone salbutamol Ventoline "
          "phloroglucinol Spasfon macrogol zolpidem alprazolam sertraline escitalopram apixaban rivaroxaban cétirizine "
          "azithromycine "
          # the brands French patients and doctors say for the most reimbursed substances (CNAM Medic'AM and GERS
          # top lists): in France a drug is named by its brand at least as often as by its DCI
          "Dafalgan Efferalgan Codoliprane Lamaline Ixprim Topalgic Contramal Nurofen Antadys Spedifen Voltarène "
          "Profénid Bi-Profénid Inexium Mopral Lanzor Ogast Eupantol Inipomp Gaviscon Smecta Débridat Motilium "
          "Vogalène Primpéran Forlax Movicol Duphalac Tahor Crestor Ezetrol Zocor Lasilix Esidrex Fludex Aldactone "
          "Coversyl Triatec Amlor Loxen Aprovel Cozaar Kenzen Cotareg Tareg Micardis Cardensiel Détensiel Témerit "
          "Avlocardyl Cordarone Xarelto Eliquis Pradaxa Previscan Plavix Kardégic Glucophage Stagid Diamicron "
          "Januvia Janumet Lantus Toujeo Novorapid Humalog Ozempic Trulicity Victoza Levothyrox Euthyral Xanax "
          "Lexomil Seresta Témesta Stilnox Imovane Atarax Deroxat Seroplex Zoloft Prozac Effexor Laroxyl Lyrica "
          "Neurontin Ventoline Seretide Symbicort Spiriva Flixotide Aerius Zyrtec Xyzall Clarityne Dexeryl "
          "Diprosone Daktarin Fucidine Solupred Cortancyl Célestène Orelox Clamoxyl Oflocet Monuril Zithromax "
          "Pyostacine Flagyl Uvedose Zymad Tardyféron Spéciafoldine Diffu-K Kaleorid Lovenox Spasfon Augmentin "
          "Doliprane Advil Levothyrox Ventoline",
    "en": "paracetamol amoxicillin ibuprofen omeprazole lansoprazole atorvastatin simvastatin levothyroxine metformin "
          "amlodipine ramipril bisoprolol furosemide colecalciferol aspirin sertraline citalopram fluoxetine "
          "salbutamol beclometasone codeine tramadol prednisolone co-amoxiclav doxycycline clarithromycin cetirizine "
          "apixaban",
}


def common_names(shared: Path) -> dict[str, list[str]]:
    """Names per language, as said (brands keep their case)."""
    from consult.extract.lexicon import DrugLexicon

    lex = DrugLexicon.load()
    nhs = json.loads((shared / "data" / "drugs" / "en-dictionaries" / "all_nhs_drugs.json").read_text("utf-8"))
    english = CURATED["en"].split()
    for item in nhs:
        m = re.match(r"^([^(]+?)\s*(?:\(([^)]*)\))?$", item["name"].strip())
        if not m:
            continue
        english.append(re.split(r" (?:for|and|with) ", m.group(1).strip().lower())[0])
        if m.group(2):
            english.extend(b.strip() for b in m.group(2).split(",") if b.strip())
    english = [n for n in dict.fromkeys(english) if re.fullmatch(r"[A-Za-z][A-Za-z -]+", n) and len(n) >= 4]
    french = CURATED["fr"].split()
    for n in english:
        entry = lex.lookup_name(n)
        if entry is not None and " + " not in entry.name:
            french.append(entry.name)

    def known(name: str) -> bool:
        found = lex.find(name)
        return lex.lookup_name(name) is not None or (len(found) == 1 and found[0].end - found[0].start == len(name))

    return {"en": [n for n in english if known(n)], "fr": [n for n in dict.fromkeys(french) if known(n)]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    ap.add_argument("--out", type=Path, default=ROOT / "consult" / "data" / "common_names.txt")
    args = ap.parse_args(argv)
    from consult.extract.text import key_of

    names = common_names(args.shared)
    keys = sorted({key_of(n) for lang in ("fr", "en") for n in names[lang]})
    args.out.write_text("# Drug names people say every day, French and English (scripts/build_common_names.py).\n"
                        + "\n".join(keys) + "\n", encoding="utf-8")
    print(f"wrote {args.out}: {len(keys)} names ({len(names['fr'])} French, {len(names['en'])} English)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
