"""Build consult/data/ordinary_words.txt.gz: the ordinary words of French and English (drug names left out).

    .venv/bin/python scripts/build_ordinary_words.py [--words /usr/share/dict/french ...]

A word of the language is not a bent drug name by itself, however close its sound to one ("continue", "matins",
"parti" for quinidine, amatine, pariet): the name index never proposes a name for a single ordinary word, the
speech stage's second pass looks at ordinary words only when several are heard with doubt, and the extractor's
finder reads an approximate name only where some word is no word of the language ("Moxisiline", "profaine").
Every word of the lists (Debian wfrench, GPL-2+; wamerican and wbritish, SCOWL, permissive), and of the medical
words below that those lists lack (drug classes, common clinical words), that is not itself a lexicon name,
folded, one per line. The file is a derived data file of wfrench and is distributed under its
licence (GPL-2+), as a separate data file of the package (LEXICON_SOURCES.md).
"""

from __future__ import annotations

import argparse
import gzip
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from consult.extract.lexicon import DrugLexicon  # noqa: E402
from consult.extract.text import key_of  # noqa: E402

DEFAULT_WORDS = [Path("/usr/share/dict/french"), Path("/usr/share/dict/american-english"),
                 Path("/usr/share/dict/british-english")]
OUT = ROOT / "consult" / "data" / "ordinary_words.txt.gz"
# Words of medical talk that general dictionaries lack: drug classes (which are not drug lines: LABELLING.md) and
# common clinical words; without them a class word sounds like a drug ("statin" and nystatin, "NSAIDs" and Ansaid).
MEDICAL_WORDS = """
statin statins nsaid nsaids ssri ssris snri snris ppi ppis acei arb arbs dmard dmards biologic biologics biological
antihistamine antihistamines anticoagulant anticoagulants antiplatelet antiplatelets diuretic diuretics opioid
opioids opiate opiates steroid steroids corticosteroid corticosteroids antibiotic antibiotics antiviral antivirals
antifungal antifungals antidepressant antidepressants antipsychotic antipsychotics anticonvulsant anticonvulsants
antiemetic antiemetics laxative laxatives emollient emollients analgesic analgesics antacid antacids inhaler inhalers
betablocker betablockers bisphosphonate bisphosphonates immunosuppressant immunosuppressants benzodiazepine
benzodiazepines triptan triptans gliptin gliptins sulfonylurea sulfonylureas insulins dermal transdermal topical
subcutaneous intramuscular intravenous sublingual crohn crohns psoriatic antalgic eczema asthmatic covid
statine statines ains ipp corticoide corticoides antibiotique antibiotiques antiviral antiviraux antifongique
antihistaminique antihistaminiques anticoagulant anticoagulants antiagregant antiagregants diuretique diuretiques
opioide opioides morphinique morphiniques antidepresseur antidepresseurs antipsychotique neuroleptique neuroleptiques
anxiolytique anxiolytiques hypnotique hypnotiques antalgique antalgiques laxatif laxatifs emollient emollients
betabloquant betabloquants bisphosphonate bisphosphonates benzodiazepine benzodiazepines triptan triptans
sulfamide sulfamides corticotherapie antibiotherapie
""".split()
CUTOFF = 0.78


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--words", nargs="+", type=Path, default=DEFAULT_WORDS)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    missing = [p for p in args.words if not p.exists()]
    if missing:
        print(f"missing word lists: {missing}; apt-get install wfrench wamerican wbritish", file=sys.stderr)
        return 2
    lexicon = DrugLexicon.load()
    drug_keys = {e.key for e in lexicon.entries} | {e.key.replace(" ", "") for e in lexicon.entries}
    keys: set[str] = set()
    for path in args.words:
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            k = key_of(line.strip())
            if k and " " not in k and len(k) >= 2 and not any(c.isdigit() for c in k):
                keys.add(k)
    keys.update(MEDICAL_WORDS)
    out = sorted(k for k in keys if k not in drug_keys)
    header = (f"# ordinary words of French and English, drug names left out (scripts/build_ordinary_words.py; "
              f"{len(keys)} dictionary words)\n")
    args.out.write_bytes(gzip.compress((header + "\n".join(out) + "\n").encode("utf-8"), mtime=0))
    print(f"{len(out)} ordinary words of {len(keys)} -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
