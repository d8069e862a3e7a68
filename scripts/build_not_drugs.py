"""Build consult/data/not_drugs.txt.gz: ordinary French and English words that the lexicon's approximate
matching (plural, phonetic key, fuzzy) would otherwise read as a drug ("prochains" -> procaïne,
"vingtaine" -> vintène). Exact drug names that are also words (calcium, fer), and a drug's own plural or
spelling variant ("aspirines", "adrenalin"), are kept as drugs.

    .venv/bin/python scripts/build_not_drugs.py [--words /usr/share/dict/french ...]

Word lists (Debian packages, install with apt): wfrench (/usr/share/dict/french, GPL-2+),
wamerican and wbritish (/usr/share/dict/{american,british}-english, SCOWL, permissive). Only the colliding
words are shipped (a few thousand), one folded key per line.
"""

from __future__ import annotations

import argparse
import gzip
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from consult.extract.lexicon import DrugLexicon  # noqa: E402
from consult.extract.text import key_of, tokenize  # noqa: E402

DEFAULT_WORDS = [
    Path("/usr/share/dict/french"),
    Path("/usr/share/dict/american-english"),
    Path("/usr/share/dict/british-english"),
]
OUT = ROOT / "consult" / "data" / "not_drugs.txt.gz"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--words", nargs="+", type=Path, default=DEFAULT_WORDS)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    missing = [p for p in args.words if not p.exists()]
    if missing:
        print(f"missing word lists: {', '.join(map(str, missing))} (apt-get install wfrench wamerican wbritish)",
              file=sys.stderr)
        return 2
    lex = DrugLexicon.load()
    lex.not_drugs = frozenset()  # judge every word with the plain matcher
    t0 = time.perf_counter()
    keys: set[str] = set()
    for path in args.words:
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            word = line.strip()
            if not word or word[0].isupper() or "'" in word:
                continue  # proper nouns and possessives are not ordinary words
            keys.add(key_of(word))
    blocked: set[str] = set()
    for key in sorted(keys):
        toks = tokenize(key)
        if len(toks) != 1:
            continue
        res = lex._match_candidate(toks)
        if res is None or res[2] == "exact":
            continue
        drug = res[0].key
        # the drug's own plural or spelling variant ("aspirines", "adrenalin") stays a drug
        if key.rstrip("s") in (drug, drug.rstrip("e")) or key.rstrip("e") == drug.rstrip("e"):
            continue
        blocked.add(key)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(args.out, "wt", encoding="utf-8") as f:
        f.write("# ordinary words never read as a drug by approximate matching; scripts/build_not_drugs.py\n")
        f.write("# from: wfrench 1.2.7 (GPL-2+), wamerican/wbritish (SCOWL)\n")
        for k in sorted(blocked):
            f.write(k + "\n")
    print(f"{len(keys)} dictionary words checked in {time.perf_counter() - t0:.0f} s; "
          f"{len(blocked)} would have matched a drug approximately -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
