"""Voice the real dialogues of the evaluation sets with offline TTS: one voice per speaker, clean and degraded.

    .venv/bin/python benchmarks/voiced.py --split dev --lang fr [--items ID ...] [--max-minutes 30]
        [--variants clean noise reverb telephone] [--out .cache/voiced]

For each labelled dialogue (benchmarks/devset or blindset, ``<id>.txt`` + ``<id>.json``) it writes, per variant,
``OUT/<split>/<variant>/<id>.flac`` with ``<id>.truth.json`` (the text labels plus turn times: the format
``consult eval --audio`` reads), ``<id>.rttm`` and ``<id>.ref.txt`` (what was spoken). The synthesis is
audio_fixtures/generate.py's (one ``build`` for fixtures and voiced dialogues). Deterministic: voices, pauses and
noise are seeded by the item id.

``--scripts`` voices the consultation scripts (``*_script_*.json``, turns and labels in one file) of the split.

Text given to the voices: the transcript's words, with unit abbreviations spelled out ("500mg" -> "500
milligrams", MBROLA reads "mg" letter by letter) and transcription tags removed; the reference is that same text.

Voices: dev dialogues use the fixtures' voices (pico fr-FR, mb-fr1, mb-fr4; pico en-US, mb-en1, mb-us1); blind
dialogues use mostly voices never used on dev (mb-fr2, mb-fr3, mb-fr6, mb-fr7; pico en-GB, mb-us2) and one dev voice.
Doctor and patient get voices of different sex when the pool allows.

Variants: ``clean``; ``noise``: pink noise at 12 dB SNR; ``reverb``: sox reverb (room 60 %, reverberance 50 %);
``telephone``: 300-3400 Hz band, 8 kHz mu-law, back to 16 kHz. Selection without ``--items``: the dialogues of
the split and language with at least one prescribing decision (new/renewed/changed/stopped line), shortest
first, until ``--max-minutes`` of speech (150 words a minute).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "audio_fixtures"))
from generate import build  # noqa: E402

FOLDERS = {"dev": ROOT / "benchmarks" / "devset", "blind": ROOT / "benchmarks" / "blindset"}

# (engine, voice, sex)
VOICES = {
    ("dev", "fr"): [("pico2wave", "fr-FR", "F"), ("espeak-ng", "mb-fr1", "M"), ("espeak-ng", "mb-fr4", "F")],
    ("blind", "fr"): [("espeak-ng", "mb-fr2", "F"), ("espeak-ng", "mb-fr3", "M"), ("espeak-ng", "mb-fr6", "M"),
                      ("espeak-ng", "mb-fr7", "M"), ("pico2wave", "fr-FR", "F")],
    ("dev", "en"): [("pico2wave", "en-US", "F"), ("espeak-ng", "mb-en1", "M"), ("espeak-ng", "mb-us1", "F")],
    ("blind", "en"): [("pico2wave", "en-GB", "F"), ("espeak-ng", "mb-us2", "M"), ("espeak-ng", "mb-en1", "M")],
}
UNITS = {
    "fr": {"mg": "milligrammes", "g": "grammes", "mcg": "microgrammes", "µg": "microgrammes", "ml": "millilitres",
           "%": "pour cent"},
    "en": {"mg": "milligrams", "g": "grams", "mcg": "micrograms", "µg": "micrograms", "ml": "millilitres",
           "%": "percent"},
}
VARIANTS = ("clean", "noise", "reverb", "telephone")
WORDS_PER_MINUTE = 150


def _seed(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def speakable(text: str, lang: str) -> str:
    """The transcript's words as the voices should say them (units spelled out, tags and symbols removed)."""
    units = UNITS[lang]
    t = re.sub(r"<[^>]*>|\[[^\]]*\]", " ", text)
    t = re.sub(r"(\d)\s*(mg|mcg|µg|ml|g)\b", lambda m: f"{m.group(1)} {units[m.group(2).lower()]}", t, flags=re.I)
    t = re.sub(r"\b(mg|mcg)\b", lambda m: units[m.group(1).lower()], t, flags=re.I)
    t = re.sub(r"(\d)\s*%", lambda m: f"{m.group(1)} {units['%']}", t)
    t = re.sub(r"[*_#~^|\\/]+", " ", t)
    return " ".join(t.split())


def read_turns(path: Path) -> list[tuple[str, str]]:
    turns = []
    for line in path.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^(DOC|PAT)\s*:\s*(.*)$", line)
        if m and m.group(2).strip():
            turns.append(("doctor" if m.group(1) == "DOC" else "patient", m.group(2).strip()))
    return turns


def pick_voices(split: str, lang: str, item: str) -> dict[str, dict[str, object]]:
    pool = VOICES[(split, lang)]
    rng = random.Random(_seed(f"voices:{item}"))
    doc = rng.choice(pool)
    others = [v for v in pool if v[2] != doc[2]] or [v for v in pool if v != doc]
    pat = rng.choice(others)
    out = {}
    for role, (engine, voice, _sex) in (("doctor", doc), ("patient", pat)):
        v: dict[str, object] = {"engine": engine, "voice": voice}
        if engine == "espeak-ng":
            v["speed"] = rng.choice([140, 150, 160, 170])
        out[role] = v
    return out


def select(split: str, lang: str, max_minutes: float) -> list[str]:
    folder = FOLDERS[split] / lang
    cands = []
    for label in sorted(folder.glob("*.json")):
        data = json.loads(label.read_text(encoding="utf-8"))
        if not any(m.get("status") != "mentioned" for m in data.get("medications", [])):
            continue
        txt = label.with_suffix(".txt")
        if not txt.exists():
            continue  # consultation scripts are voiced with --scripts
        words = sum(len(t.split()) for _, t in read_turns(txt))
        cands.append((words, label.stem))
    cands.sort()
    chosen, total = [], 0.0
    for words, item in cands:
        if total + words / WORDS_PER_MINUTE > max_minutes:
            continue
        chosen.append(item)
        total += words / WORDS_PER_MINUTE
    return chosen


def degrade(clean: Path, dst: Path, variant: str, seed: int) -> None:
    audio, sr = sf.read(str(clean), dtype="float32")
    if variant == "noise":
        rng = np.random.default_rng(seed)
        white = rng.standard_normal(len(audio) + 64).astype(np.float32)
        spec = np.fft.rfft(white)
        f = np.arange(len(spec), dtype=np.float32)
        f[0] = 1.0
        pink = np.fft.irfft(spec / np.sqrt(f), n=len(white))[: len(audio)].astype(np.float32)
        speech = audio[np.abs(audio) > 1e-4]
        p_s = float(np.mean(np.square(speech))) if speech.size else 1e-6
        pink *= np.sqrt(p_s / 10 ** (12 / 10) / float(np.mean(np.square(pink))))
        out = audio + pink
        out *= 0.9 / max(1e-6, float(np.max(np.abs(out))))
        sf.write(str(dst), np.round(out * 32767).astype(np.int16), sr, format="FLAC", subtype="PCM_16")
        return
    with tempfile.TemporaryDirectory() as tmp:
        mid = Path(tmp) / "mid.wav"
        if variant == "reverb":
            subprocess.run(["sox", "-R", "-D", str(clean), str(mid), "reverb", "50", "50", "60", "norm", "-1"],
                           check=True, capture_output=True)
        elif variant == "telephone":
            tel = Path(tmp) / "tel.wav"
            subprocess.run(["sox", "-R", "-D", str(clean), "-r", "8000", "-e", "u-law", str(tel),
                            "sinc", "300-3400"], check=True, capture_output=True)
            subprocess.run(["sox", "-R", "-D", str(tel), "-e", "signed-integer", "-b", "16", str(mid),
                            "rate", "-h", "16000", "norm", "-1"], check=True, capture_output=True)
        else:
            raise ValueError(variant)
        subprocess.run(["sox", "-R", "-D", str(mid), "-c", "1", "-b", "16", str(dst)], check=True, capture_output=True)


def voice_item(split: str, lang: str, item: str, out: Path, variants: list[str]) -> None:
    folder = FOLDERS[split] / lang
    label = json.loads((folder / f"{item}.json").read_text(encoding="utf-8"))
    if "turns" in label:  # a consultation script: turns and labels in one file
        raw_turns = [(t["speaker"], t["text"]) for t in label["turns"]]
    else:
        raw_turns = read_turns(folder / f"{item}.txt")
    turns = [(who, speakable(text, lang)) for who, text in raw_turns]
    turns = [(w, t) for w, t in turns if re.search(r"\w", t)]
    script = {
        "language": lang,
        "description": f"TTS of {label.get('source', item)}",
        "voices": pick_voices(split, lang, item),
        "turns": [{"speaker": w, "text": t} for w, t in turns],
        "medications": label["medications"],
    }
    clean_dir = out / split / "clean"
    if not (clean_dir / f"{item}.truth.json").exists():
        truth = build(item, script, clean_dir)
        truth.update({"id": item, "source": label.get("source"), "split": split})
        (clean_dir / f"{item}.truth.json").write_text(json.dumps(truth, ensure_ascii=False, indent=2) + "\n",
                                                      encoding="utf-8")
    for variant in variants:
        if variant == "clean":
            continue
        vdir = out / split / variant
        vdir.mkdir(parents=True, exist_ok=True)
        if (vdir / f"{item}.truth.json").exists():
            continue
        degrade(clean_dir / f"{item}.flac", vdir / f"{item}.flac", variant, _seed(f"{variant}:{item}"))
        for ext in (".rttm", ".ref.txt"):
            shutil.copy(clean_dir / f"{item}{ext}", vdir / f"{item}{ext}")
        truth = json.loads((clean_dir / f"{item}.truth.json").read_text(encoding="utf-8"))
        truth["variant"] = variant
        (vdir / f"{item}.truth.json").write_text(json.dumps(truth, ensure_ascii=False, indent=2) + "\n",
                                                 encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", choices=sorted(FOLDERS), required=True)
    ap.add_argument("--lang", choices=["fr", "en"], required=True)
    ap.add_argument("--items", nargs="*")
    ap.add_argument("--max-minutes", type=float, default=30.0)
    ap.add_argument("--variants", nargs="*", default=["clean"], choices=VARIANTS)
    ap.add_argument("--out", type=Path, default=ROOT / ".cache" / "voiced")
    ap.add_argument("--list", action="store_true", help="print the selection and stop")
    ap.add_argument("--scripts", action="store_true",
                    help="voice the consultation scripts of the split (benchmarks/scripts, split.json 'scripts')")
    args = ap.parse_args(argv)
    if args.scripts:
        split = json.loads((ROOT / "benchmarks" / "split.json").read_text(encoding="utf-8"))
        items = args.items or split["scripts"][args.lang][args.split]
    else:
        items = args.items or select(args.split, args.lang, args.max_minutes)
    if args.list:
        print("\n".join(items))
        return 0
    for item in items:
        voice_item(args.split, args.lang, item, args.out, args.variants)
        print(f"voiced {args.split}/{item}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
