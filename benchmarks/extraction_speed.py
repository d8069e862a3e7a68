"""Extraction speed on real consultation text: seconds per transcript and for a 10-minute consultation.

    .venv/bin/python benchmarks/extraction_speed.py [TRANSCRIPT.txt | FOLDER ...] [--extractor rules|tagger]

A 10-minute consultation is taken as 1,500 words (150 spoken words a minute). Default input: the labelled
development set (benchmarks/devset). Each transcript is extracted 3 times after one warm-up; the median counts.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from consult.backends.factory import build_extractor  # noqa: E402
from consult.config import ExtractionOptions, Settings  # noqa: E402
from consult.extract.textinput import parse_text_transcript, read_transcript_file  # noqa: E402
from consult.pipeline import guess_language  # noqa: E402

WORDS_PER_10_MIN = 1500
DEFAULT = Path(__file__).resolve().parent / "devset"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("inputs", nargs="*", type=Path, default=[DEFAULT])
    ap.add_argument("--extractor", default="rules", choices=["rules", "tagger"])
    args = ap.parse_args(argv)
    files = [f for p in args.inputs for f in ([p] if p.is_file() else sorted(p.rglob("*.txt")))]
    if not files:
        print("no transcript found", file=sys.stderr)
        return 2
    extractor = build_extractor(Settings(extraction=ExtractionOptions(backend=args.extractor)))
    total_words, total_s, worst = 0, 0.0, (0.0, "")
    for f in files:
        text = read_transcript_file(f)
        segments, roles = parse_text_transcript(text)
        lang = guess_language(text)
        extractor.extract(segments, roles=roles, language=lang)
        runs = []
        for _ in range(3):
            t0 = time.perf_counter()
            extractor.extract(segments, roles=roles, language=lang)
            runs.append(time.perf_counter() - t0)
        s = statistics.median(runs)
        words = sum(len(seg.text.split()) for seg in segments)
        total_words += words
        total_s += s
        if s > worst[0]:
            worst = (s, f"{f.name} ({words} words)")
    per_word = total_s / max(1, total_words)
    print(f"extractor: {args.extractor}; transcripts: {len(files)}; words: {total_words}")
    print(f"total extraction time: {total_s:.3f} s; {1000 * per_word * 1000:.1f} ms per 1000 words")
    print(f"10-minute consultation ({WORDS_PER_10_MIN} words): {per_word * WORDS_PER_10_MIN:.3f} s "
          f"(target < 1 s on CPU)")
    print(f"slowest transcript: {worst[0]:.3f} s, {worst[1]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
