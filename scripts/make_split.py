"""Fix the dev/blind split of every evaluation set, once, before any tuning (benchmarks/SPLIT.md).

Writes benchmarks/split.json with explicit item lists, so that the split stays what it was even if the sources or
this script change later. Deterministic: a seeded shuffle per source (random.Random(SEED)) of the sorted item ids.

    .venv/bin/python scripts/make_split.py [--shared ../shared] [--check]

Rules (also in SPLIT.md): items already labelled in benchmarks/devset were tuned on in earlier rounds and are dev.
The others are shuffled and cut in half: the first half is dev, the second blind. A blind item somebody looked
into while working moves to dev (edit split.json by hand, in a commit that says which and why).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

SEED = 20261204
ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "split.json"


def _halves(items: list[str], rng: random.Random) -> tuple[list[str], list[str]]:
    items = sorted(items)
    rng.shuffle(items)
    cut = (len(items) + 1) // 2
    return sorted(items[:cut]), sorted(items[cut:])


def build(shared: Path) -> dict[str, object]:
    text = shared / "data" / "text"
    speech = shared / "data" / "speech"
    labelled = {p.stem for p in (ROOT / "benchmarks" / "devset").glob("*/*.json")}
    sources = {
        "osce": sorted("osce_" + p.stem.lower() for p in (text / "osce-en" / "transcripts").glob("*.txt")),
        "primock": sorted(
            "primock_" + p.name.removesuffix("_doctor.TextGrid")
            for p in (text / "primock57-en" / "transcripts").glob("*_doctor.TextGrid")
        ),
        "simsamu": sorted("simsamu_" + p.name for p in (text / "simsamu-fr").iterdir() if p.is_dir()),
        "labforsims2": sorted(
            "labforsims2_" + p.name.lower() for p in (text / "labforsims2-fr" / "dialogues").iterdir() if p.is_dir()
        ),
    }
    split: dict[str, object] = {"seed": SEED, "rules": "benchmarks/SPLIT.md"}
    text_split: dict[str, dict[str, list[str]]] = {}
    for name, items in sources.items():
        rng = random.Random(f"{SEED}:{name}")
        old = [i for i in items if i in labelled]
        new = [i for i in items if i not in labelled]
        dev, blind = _halves(new, rng)
        text_split[name] = {"dev": sorted(old + dev), "blind": blind, "labelled_before": sorted(old)}
    split["text"] = text_split

    # LibriSpeech real voices: train-clean-100 speakers (one utterance each) cut in half; the 5 test-other speakers
    # (10 utterances each) are dev only (they calibrate multi-turn speaker similarity).
    libri = speech / "librispeech"
    speakers = sorted(p.name.split("-")[0] for p in (libri / "train-clean-100").glob("*.flac"))
    dev, blind = _halves(speakers, random.Random(f"{SEED}:librispeech"))
    split["librispeech"] = {
        "train-clean-100": {"dev": dev, "blind": blind},
        "test-other": {"dev": sorted(p.name for p in (libri / "test-other").iterdir() if p.is_dir()), "blind": []},
    }
    # AMI: the 12 excerpts were all used to tune the diariser's threshold in round 9. Four are held out from now on.
    ami = sorted(p.stem for p in (speech / "ami").glob("*.wav"))
    rng = random.Random(f"{SEED}:ami")
    held = sorted(rng.sample(ami, 4))
    split["ami"] = {"dev": [a for a in ami if a not in held], "blind": held,
                    "note": "all 12 were tuned on in round 9; the 4 blind ones are not tuned on from this split on"}
    split["fleurs"] = {"test": sorted(p.stem for p in (speech / "fleurs").glob("*.ogg")),
                       "note": "read speech: measured, never tuned on"}
    split["voiced"] = {"rule": "a voiced dialogue belongs to the split of the text it voices (text.*)"}
    return split


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    ap.add_argument("--check", action="store_true", help="fail if split.json differs from a fresh build")
    args = ap.parse_args()
    split = build(args.shared)
    text = json.dumps(split, indent=1, ensure_ascii=False) + "\n"
    if args.check:
        if not OUT.is_file() or json.loads(OUT.read_text()) != split:
            print("benchmarks/split.json differs from a fresh build", file=sys.stderr)
            return 1
        return 0
    if OUT.exists():
        print(f"{OUT} exists: the split is fixed; edit it by hand (SPLIT.md) or delete it on purpose", file=sys.stderr)
        return 1
    OUT.write_text(text)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
