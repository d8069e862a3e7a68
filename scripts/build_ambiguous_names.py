"""Build consult/data/ambiguous_names.txt: drug names that are also everyday words or first names.

    .venv/bin/python scripts/build_ambiguous_names.py [--shared ../shared] [--dict /usr/share/dict/french ...]

"This is Diane in New Jersey", "a student named Caroline": a brand that is also a first name or an ordinary word
is read as a drug only in a sentence of medication talk (consult.extract.names.DrugNameFinder). The list: every
lexicon key of a brand or of an English dictionary name that is a lower-case word of the word lists (Debian
wfrench, wamerican, wbritish) or a first name of consult/data/person_names.txt.gz, except the names people use
for medicines every day: consult/data/common_names.txt, the NHS list of common medicines and their brands
(../shared/data/drugs/en-dictionaries/all_nhs_drugs.json) and the international names of substances with an ATC
code (also with a final -e added or removed: aspirine/aspirin). One folded key per line.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DICTS = [Path("/usr/share/dict/french"), Path("/usr/share/dict/american-english"),
         Path("/usr/share/dict/british-english")]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    ap.add_argument("--dict", type=Path, nargs="*", default=DICTS)
    ap.add_argument("--out", type=Path, default=ROOT / "consult" / "data" / "ambiguous_names.txt")
    args = ap.parse_args(argv)

    from consult.extract.lexicon import DrugLexicon
    from consult.extract.text import key_of

    missing = [str(p) for p in args.dict if not p.exists()]
    if missing:
        raise SystemExit(f"word lists missing: {', '.join(missing)} (apt-get install wfrench wamerican wbritish)")
    words: set[str] = set()
    for path in args.dict:
        for line in path.read_text(encoding="utf-8", errors="ignore").splitlines():
            w = line.strip()
            if w and not w[0].isupper():
                words.add(key_of(w))
    first_names = set()
    for line in gzip.decompress((ROOT / "consult" / "data" / "person_names.txt.gz").read_bytes()).decode().splitlines():
        name, _, flags = line.partition("\t")
        if not line.startswith("#") and "f" in flags:
            first_names.add(name)
    text = (ROOT / "consult" / "data" / "common_names.txt").read_text(encoding="utf-8")
    common = {key_of(x) for x in text.splitlines() if x.strip() and not x.startswith("#")}
    nhs = json.loads((args.shared / "data" / "drugs" / "en-dictionaries" / "all_nhs_drugs.json").read_text("utf-8"))
    for item in nhs:
        common.update(key_of(p) for p in re.split(r"[(),]", item["name"]) if p.strip())
    lexicon = DrugLexicon.load()
    inn = {e.key for e in lexicon.entries if e.kind == "substance" and e.atc}
    inn.update(key_of(n) for names in lexicon.english_names.values() for n in names)
    out = sorted({e.key for e in lexicon.entries
                  if e.kind in ("brand", "en") and (e.key in words or e.key in first_names)
                  and not {e.key, e.key.rstrip("e"), e.key + "e"} & (common | inn)})
    header = ("# Drug names that are also everyday words or first names (scripts/build_ambiguous_names.py): read as a "
              "drug only in medication talk.\n")
    args.out.write_text(header + "\n".join(out) + "\n", encoding="utf-8")
    print(f"wrote {args.out}: {len(out)} names")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
