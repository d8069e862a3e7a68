"""Build consult/data/asr_confusions.json.gz: how the bundled Whisper mishears common drug names.

    .venv/bin/python scripts/build_confusions.py [--shared ../shared] [--limit N] [--out PATH]

Each common drug name is said by offline TTS voices inside a carrier sentence ("Je vous prescris {name} matin et
soir." / "I am prescribing {name} every morning."), transcribed by the bundled model as the first pass of
``consult run`` does (language forced, no prompt), and the words heard between the carrier's words are kept when
they differ from the name: (heard pieces -> name) pairs, learnt from data instead of written by hand.
``consult.extract.names.NameIndex`` proposes the name when those pieces are heard again (method ``confusion``).

Names: the common names of scripts/build_common_names.py (curated top lists, the NHS list of common medicines
with their brands, and their French names), each in its language. Voices: the development voices of
benchmarks/voiced.py only (pico fr-FR and mb-fr1, pico en-US and mb-en1), never the voices of the blind
recordings. A pair is kept when the heard pieces have at least 5 letters, are not the name itself, sound at least
somewhat like it (phonetic similarity >= 0.5) and were not heard for another name too.

Needs the TTS tools of DEVELOPERS.md. About 20 minutes on 2 cores. Deterministic for a given TTS and model.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "audio_fixtures"))
sys.path.insert(0, str(ROOT / "scripts"))

from build_common_names import common_names  # noqa: E402
from generate import Voice, normalise, synthesise, trim  # noqa: E402

CARRIERS = {
    "fr": ("Je vous prescris", "matin et soir."),
    "en": ("I am prescribing", "every morning."),
}
VOICES = {
    "fr": [Voice("pico2wave", "fr-FR"), Voice("espeak-ng", "mb-fr1", speed=150)],
    "en": [Voice("pico2wave", "en-US"), Voice("espeak-ng", "mb-en1", speed=150)],
}
MIN_LETTERS = 5
LEADING = {"du", "de", "des", "la", "le", "les", "un", "une", "à", "a", "an", "the", "some", "of"}
MIN_SIMILARITY = 0.5


def heard_between(text: str, language: str) -> str | None:
    """The words heard between the carrier's opening and closing words, or None when the carrier was not heard."""
    from rapidfuzz import fuzz

    opening, closing = CARRIERS[language]
    words = text.replace(",", " ").replace(".", " ").split()
    folded = [w.lower() for w in words]
    last_open = opening.split()[-1].lower()
    first_close = closing.split()[0].lower()
    try:
        a = next(i for i, w in enumerate(folded) if fuzz.ratio(w, last_open) >= 75) + 1
        b = next(i for i in range(len(folded) - 1, a - 1, -1) if fuzz.ratio(folded[i], first_close) >= 75)
    except StopIteration:
        return None
    middle = words[a:b]
    while middle and middle[0].lower().strip("'’") in LEADING:
        middle = middle[1:]  # "du paracétamol", "the amoxicillin": the article is not the name
    if middle and re.match(r"^[ldLD]['’]\w", middle[0]):
        middle[0] = middle[0][2:]
    return " ".join(middle) if middle else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    ap.add_argument("--limit", type=int, default=0, help="at most this many names per language (0: all)")
    ap.add_argument("--out", type=Path, default=ROOT / "consult" / "data" / "asr_confusions.json.gz")
    args = ap.parse_args(argv)

    from rapidfuzz import fuzz

    from consult.backends.factory import build_transcriber
    from consult.config import Settings
    from consult.extract.lexicon import phonetic_key
    from consult.extract.text import key_of

    transcriber = build_transcriber(Settings())
    names = common_names(args.shared)
    tables: dict[str, dict[str, str]] = {}
    counts: dict[str, dict[str, int]] = {}
    for language in ("fr", "en"):
        heard_for: dict[str, set[str]] = {}
        said = heard_ok = 0
        todo = names[language][: args.limit or None]
        with tempfile.TemporaryDirectory() as tmp:
            for k, name in enumerate(todo):
                opening, closing = CARRIERS[language]
                for voice in VOICES[language]:
                    audio = normalise(trim(synthesise(f"{opening} {name} {closing}", voice, Path(tmp))))
                    result = transcriber.transcribe(audio, language=language)
                    text = " ".join(s.text for s in result.segments)
                    heard = heard_between(text, language)
                    said += 1
                    if heard is None:
                        continue
                    heard_key = key_of(heard).replace(" ", "")
                    name_key = key_of(name).replace(" ", "")
                    if heard_key == name_key:
                        heard_ok += 1
                        continue
                    letters = sum(c.isalpha() for c in heard_key)
                    sim = fuzz.ratio(phonetic_key(key_of(heard)), phonetic_key(key_of(name))) / 100.0
                    if letters >= MIN_LETTERS and sim >= MIN_SIMILARITY:
                        heard_for.setdefault(heard_key, set()).add(name_key)
                if k % 25 == 0:
                    print(f"{language}: {k + 1}/{len(todo)} names", file=sys.stderr, flush=True)
        tables[language] = {h: next(iter(ns)) for h, ns in sorted(heard_for.items()) if len(ns) == 1}
        counts[language] = {"names": len(todo), "said": said, "heard_right": heard_ok, "pairs": len(tables[language])}
        print(f"{language}: {counts[language]}", file=sys.stderr)
    data = {
        "about": "Pieces the bundled Whisper base model heard for common drug names said by TTS voices "
                 "(scripts/build_confusions.py): heard glued key -> lexicon glued key.",
        "counts": counts,
        "tables": tables,
    }
    args.out.write_bytes(gzip.compress(json.dumps(data, ensure_ascii=False, sort_keys=True).encode("utf-8"),
                                       mtime=0))
    print(f"wrote {args.out}: {sum(len(t) for t in tables.values())} pairs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
