"""Generate the consultation audio fixtures and their ground truth from the scripts.

For every ``audio_fixtures/scripts/<name>.json`` this script:

* synthesises each turn with the voice of its speaker (pico2wave or espeak-ng + mbrola),
  post-processed by sox (resample to 16 kHz mono, optional tempo / pitch change);
* trims the synthesiser's own leading/trailing silence, normalises the level;
* concatenates the turns with deterministic pauses (0.3-0.8 s, seeded by the fixture name);
* writes ``<name>.flac`` (16 kHz mono, 16 bit) and, from the actual sample positions,
  ``<name>.truth.json``, ``<name>.rttm`` and ``<name>.ref.txt``.

Run: ``.venv/bin/python audio_fixtures/generate.py [--only NAME] [--out DIR]``.
Running it twice gives byte-identical truth files (and audio, for a given TTS version).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import random
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

logger = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
SCRIPTS_DIR = HERE / "scripts"
SAMPLE_RATE = 16_000
PAUSE_RANGE_S = (0.3, 0.8)
LEAD_SILENCE_S = 0.5
TAIL_SILENCE_S = 0.6
TARGET_PEAK = 0.7
TRIM_THRESHOLD = 0.01  # fraction of full scale, on a 10 ms frame RMS
TRIM_MARGIN_S = 0.03
INSTALL_HINT = (
    "Install the TTS tools (Debian contrib/non-free), see DEVELOPERS.md "
    "'Regenerating the audio fixtures'."
)


class FixtureError(RuntimeError):
    """A script is invalid or a TTS tool failed / is missing."""


@dataclass(frozen=True)
class Voice:
    """A synthetic voice: engine + voice name + sox post-processing."""

    engine: str  # "pico2wave" or "espeak-ng"
    voice: str  # pico language (fr-FR) or espeak voice (mb-fr1)
    speed: int | None = None  # espeak-ng words per minute
    tempo: float | None = None  # sox tempo factor (keeps pitch)
    pitch_cents: int | None = None  # sox pitch shift

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Voice:
        engine = data.get("engine")
        if engine not in ("pico2wave", "espeak-ng"):
            raise FixtureError(f"unknown TTS engine {engine!r} (pico2wave or espeak-ng)")
        return cls(
            engine=engine,
            voice=str(data["voice"]),
            speed=data.get("speed"),
            tempo=data.get("tempo"),
            pitch_cents=data.get("pitch_cents"),
        )


def _require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise FixtureError(f"TTS tool '{tool}' not found on PATH. {INSTALL_HINT}")
    return path


def _run(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise FixtureError(f"command failed ({proc.returncode}): {cmd[0]} ... {proc.stderr.strip()[:500]}")


def synthesise(text: str, voice: Voice, workdir: Path) -> np.ndarray:
    """Synthesise ``text`` with ``voice``; return float32 mono samples at 16 kHz."""
    raw = workdir / "raw.wav"
    out = workdir / "out.wav"
    for f in (raw, out):
        f.unlink(missing_ok=True)
    if voice.engine == "pico2wave":
        _run([_require("pico2wave"), "-l", voice.voice, "-w", str(raw), text])
    else:
        cmd = [_require("espeak-ng"), "-v", voice.voice]
        if voice.speed is not None:
            cmd += ["-s", str(voice.speed)]
        _run([*cmd, "-w", str(raw), text])
        if voice.voice.startswith("mb-") and raw.stat().st_size < 1000:
            raise FixtureError(
                f"espeak-ng voice {voice.voice} produced no audio: is the mbrola voice installed? "
                + INSTALL_HINT
            )
    # sox: no dither (-D), repeatable (-R): identical output on every run.
    effects: list[str] = []
    if voice.pitch_cents:
        effects += ["pitch", str(voice.pitch_cents)]
    if voice.tempo and voice.tempo != 1.0:
        effects += ["tempo", "-s", str(voice.tempo)]
    effects += ["rate", "-h", str(SAMPLE_RATE)]
    _run([_require("sox"), "-R", "-D", str(raw), "-c", "1", "-b", "16", str(out), *effects])
    audio, sr = sf.read(str(out), dtype="float32", always_2d=True)
    if sr != SAMPLE_RATE:
        raise FixtureError(f"sox produced {sr} Hz, expected {SAMPLE_RATE}")
    return audio[:, 0]


def trim(audio: np.ndarray) -> np.ndarray:
    """Cut leading/trailing silence (10 ms frame RMS under threshold), keep a small margin."""
    frame = SAMPLE_RATE // 100
    n = len(audio) // frame
    if n == 0:
        raise FixtureError("TTS produced an empty utterance")
    rms = np.sqrt(np.mean(audio[: n * frame].reshape(n, frame) ** 2, axis=1))
    peak = float(np.max(np.abs(audio))) or 1.0
    voiced = np.flatnonzero(rms > TRIM_THRESHOLD * peak)
    if voiced.size == 0:
        raise FixtureError("TTS produced a silent utterance")
    margin = int(TRIM_MARGIN_S * SAMPLE_RATE)
    start = max(0, int(voiced[0]) * frame - margin)
    end = min(len(audio), (int(voiced[-1]) + 1) * frame + margin)
    return audio[start:end]


def normalise(audio: np.ndarray) -> np.ndarray:
    peak = float(np.max(np.abs(audio)))
    return (audio * (TARGET_PEAK / peak)).astype(np.float32) if peak > 0 else audio


def load_script(path: Path) -> dict[str, Any]:
    script = json.loads(path.read_text(encoding="utf-8"))
    for key in ("language", "voices", "turns", "medications"):
        if key not in script:
            raise FixtureError(f"{path.name}: missing key {key!r}")
    speakers = {t["speaker"] for t in script["turns"]}
    missing = speakers - set(script["voices"])
    if missing:
        raise FixtureError(f"{path.name}: no voice for speaker(s) {sorted(missing)}")
    return script


def _seed(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big")


def build(name: str, script: dict[str, Any], out_dir: Path) -> dict[str, Any]:
    """Synthesise one fixture; write audio + truth files; return the truth dict."""
    voices = {spk: Voice.from_json(v) for spk, v in script["voices"].items()}
    rng = random.Random(_seed(name))
    pieces: list[np.ndarray] = [np.zeros(int(LEAD_SILENCE_S * SAMPLE_RATE), np.float32)]
    cursor = len(pieces[0])
    turns: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="consult-tts-") as tmp:
        for i, turn in enumerate(script["turns"]):
            if i > 0:
                pause = int(round(rng.uniform(*PAUSE_RANGE_S) * SAMPLE_RATE))
                pieces.append(np.zeros(pause, np.float32))
                cursor += pause
            speech = normalise(trim(synthesise(turn["text"], voices[turn["speaker"]], Path(tmp))))
            turns.append(
                {
                    "index": i,
                    "speaker": turn["speaker"],
                    "text": turn["text"],
                    "start": round(cursor / SAMPLE_RATE, 3),
                    "end": round((cursor + len(speech)) / SAMPLE_RATE, 3),
                    "start_sample": cursor,
                    "end_sample": cursor + len(speech),
                }
            )
            pieces.append(speech)
            cursor += len(speech)
    pieces.append(np.zeros(int(TAIL_SILENCE_S * SAMPLE_RATE), np.float32))
    audio = np.concatenate(pieces)
    total = len(audio)

    out_dir.mkdir(parents=True, exist_ok=True)
    audio_path = out_dir / f"{name}.flac"
    pcm = np.clip(np.round(audio * 32767.0), -32768, 32767).astype(np.int16)
    sf.write(str(audio_path), pcm, SAMPLE_RATE, format="FLAC", subtype="PCM_16")

    truth = {
        "name": name,
        "audio": audio_path.name,
        "language": script["language"],
        "description": script.get("description", ""),
        "sample_rate": SAMPLE_RATE,
        "num_samples": total,
        "duration": round(total / SAMPLE_RATE, 3),
        "voices": script["voices"],
        "speakers": sorted(voices),
        "turns": turns,
        "medications": script["medications"],
    }
    (out_dir / f"{name}.truth.json").write_text(
        json.dumps(truth, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    rttm = "".join(
        f"SPEAKER {name} 1 {t['start']:.3f} {t['end'] - t['start']:.3f} <NA> <NA> {t['speaker']} <NA> <NA>\n"
        for t in turns
    )
    (out_dir / f"{name}.rttm").write_text(rttm, encoding="utf-8")
    (out_dir / f"{name}.ref.txt").write_text(
        "".join(f"{t['text']}\n" for t in turns), encoding="utf-8"
    )
    return truth


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", help="fixture name (repeatable)")
    parser.add_argument("--out", type=Path, default=HERE, help="output folder (default: audio_fixtures/)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    paths = sorted(SCRIPTS_DIR.glob("*.json"))
    if args.only:
        wanted = set(args.only)
        paths = [p for p in paths if p.stem in wanted]
        unknown = wanted - {p.stem for p in paths}
        if unknown:
            parser.error(f"unknown fixture(s): {', '.join(sorted(unknown))}")
    try:
        for path in paths:
            truth = build(path.stem, load_script(path), args.out)
            logger.info(
                "%s: %.1f s, %d turns, %d medications",
                path.stem, truth["duration"], len(truth["turns"]), len(truth["medications"]),
            )
    except FixtureError as exc:
        logger.error("error: %s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
