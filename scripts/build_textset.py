"""Write the real-dialogue transcripts of the evaluation sets (``consult extract`` text format) from ../shared.

    .venv/bin/python scripts/build_textset.py [--shared ../shared] [--only ID ...] [--check]

Each item of benchmarks/split.json's ``text`` section becomes ``benchmarks/{devset,blindset}/{en,fr}/<id>.txt``:
``#`` lines naming the source, its licence and what was changed, then one turn per line ``DOC: ...`` / ``PAT: ...``.
The words are the sources' own. Items already written are left alone unless ``--force``; ``--check`` only verifies
that every existing transcript is what this script would write (the dev transcripts of earlier rounds included).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

OSCE_HEADER = (
    "# Source: osce-en transcripts/{name} - 'A dataset of simulated patient-physician medical interviews with a focus "
    "on respiratory cases'\n"
    "# Fareez F., Parikh T., Wavell C., Shahab S., Chevalier M., Good S., De Blasi I., Rhouma R., McMahon C., "
    "Lam J.-P., Lo T., Smith C. W., Scientific Data 9, 313 (2022), doi:10.1038/s41597-022-01423-1; data: figshare "
    "doi:10.6084/m9.figshare.c.5545842.v1\n"
    "# Licence: CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/)\n"
    "# Changes: prefixes D:/P: (also 'D;' and 'p:') replaced by DOC:/PAT:, wrapped continuation lines joined to their "
    "turn with one space, blank lines and line-end spaces removed; words unchanged.\n"
)
PRIMOCK_HEADER = (
    "# Source: primock57-en transcripts/{stem}_doctor.TextGrid + {stem}_patient.TextGrid "
    "(https://github.com/babylonhealth/primock57, commit cd2ac707ad03cb4d2531f4ec6b90c659bf4357c5)\n"
    "# PriMock57, Papadopoulos Korfiatis A., Moramarco F., Sarac R., Savkov A., ACL 2022; Babylon Health\n"
    "# Licence: CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/)\n"
    "# Changes: doctor and patient intervals merged by start time; consecutive intervals of one speaker joined with "
    "one space into one turn; <UNSURE>/</UNSURE> tags removed (their words kept), <UNIN/> and <INAUDIBLE_SPEECH/> tags "
    "removed (a tag between two letters becomes a space), intervals left empty dropped, runs of spaces collapsed; "
    "words unchanged.\n"
)
SIMSAMU_HEADER = (
    "# Source: Simsamu dataset, {name}/{name}.srt (text) + {name}.json (speaker ids) "
    "(https://github.com/manalland/simsamu (commit 77a71d54b75a1442ef5d071b6f073c22f0184b71), "
    "mirror of HF medkit/simsamu)\n"
    "# Simulated SAMU medical-dispatch call (HeKA research team); audio not included\n"
    "# Licence: MIT. Copyright (c) 2023 HeKA Research Team\n"
    "# Changes: speaker 'medecin' -> DOC, caller -> PAT; consecutive subtitles of one speaker merged into one line; "
    "words unchanged.\n"
)


def _merge(turns: list[tuple[str, str]], *, collapse: bool = True) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for who, text in turns:
        text = (re.sub(r"\s+", " ", text) if collapse else text).strip()
        if not text:
            continue
        if out and out[-1][0] == who:
            out[-1] = (who, out[-1][1] + " " + text)
        else:
            out.append((who, text))
    return out


def osce(shared: Path, item: str) -> str:
    folder = shared / "data" / "text" / "osce-en" / "transcripts"
    path = next(p for p in folder.glob("*.txt") if p.stem.lower() == item.removeprefix("osce_"))
    raw = path.read_bytes()
    text = raw.decode("utf-16") if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else raw.decode("utf-8-sig")
    turns: list[list[str]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        m = re.match(r"^([DdPp])\s*[:;]\s*(.*)$", line)
        if m:
            turns.append(["DOC" if m.group(1).lower() == "d" else "PAT", m.group(2).strip()])
        elif turns:
            turns[-1][1] = (turns[-1][1] + " " + line).strip()
    body = "".join(f"{w}: {t}\n" for w, t in turns if t)
    return OSCE_HEADER.format(name=path.name) + body


def _textgrid(path: Path) -> list[tuple[float, str]]:
    out: list[tuple[float, str]] = []
    xmin = None
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        s = line.strip()
        if s.startswith("xmin ="):
            xmin = float(s.split("=", 1)[1])
        elif s.startswith("text =") and xmin is not None:
            t = s.split("=", 1)[1].strip()
            if t.startswith('"') and t.endswith('"'):
                t = t[1:-1].replace('""', '"')
            out.append((xmin, t))
    return out


def _clean_primock(t: str) -> str:
    t = re.sub(r"(?<=\w)</?(?:UNSURE|UNIN/|INAUDIBLE_SPEECH/)>(?=\w)", " ", t)
    t = re.sub(r"</?(?:UNSURE|UNIN/|INAUDIBLE_SPEECH/)>", "", t)
    return re.sub(r"\s+", " ", t).strip()


def primock(shared: Path, item: str) -> str:
    stem = item.removeprefix("primock_")
    folder = shared / "data" / "text" / "primock57-en" / "transcripts"
    events: list[tuple[float, int, str, str]] = []
    for k, (who, suffix) in enumerate((("DOC", "doctor"), ("PAT", "patient"))):
        for start, text in _textgrid(folder / f"{stem}_{suffix}.TextGrid"):
            text = _clean_primock(text)
            if text:
                events.append((start, k, who, text))
    events.sort()
    body = "".join(f"{w}: {t}\n" for w, t in _merge([(w, t) for _s, _k, w, t in events]))
    return PRIMOCK_HEADER.format(stem=stem) + body


def simsamu(shared: Path, item: str) -> str:
    name = item.removeprefix("simsamu_")
    folder = shared / "data" / "text" / "simsamu-fr" / name
    srt = (folder / f"{name}.srt").read_text(encoding="utf-8")
    subs: list[tuple[float, str]] = []
    for block in re.split(r"\n\s*\n", srt.strip()):
        lines = block.strip().splitlines()
        if len(lines) < 2:
            continue
        m = re.match(r"(\d+):(\d+):(\d+),(\d+) -->", lines[1])
        if not m:
            continue
        h, mi, s, ms = (int(x) for x in m.groups())
        subs.append((h * 3600 + mi * 60 + s + ms / 1000, " ".join(lines[2:])))
    mono = json.loads((folder / f"{name}.json").read_text(encoding="utf-8"))["monologues"]
    turns = []
    for start, text in subs:
        best = min(mono, key=lambda m: abs(float(m["start"]) - start))
        who = "DOC" if best["speaker"]["id"] == "medecin" else "PAT"
        turns.append((who, text))
    body = "".join(f"{w}: {t}\n" for w, t in _merge(turns, collapse=False))
    return SIMSAMU_HEADER.format(name=name) + body


CONVERTERS = {"osce": (osce, "en"), "primock": (primock, "en"), "simsamu": (simsamu, "fr")}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    ap.add_argument("--only", nargs="*")
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args()
    split = json.loads((ROOT / "benchmarks" / "split.json").read_text())
    bad = written = 0
    for source, (fn, lang) in CONVERTERS.items():
        for part, folder in (("dev", "devset"), ("blind", "blindset")):
            for item in split["text"][source][part]:
                if args.only and item not in args.only:
                    continue
                path = ROOT / "benchmarks" / folder / lang / f"{item}.txt"
                text = fn(args.shared, item)
                if args.check:
                    if path.exists() and path.read_text(encoding="utf-8") != text:
                        print(f"differs: {path.relative_to(ROOT)}")
                        bad += 1
                    continue
                if path.exists() and not args.force:
                    continue
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
                written += 1
    if args.check:
        print(f"{bad} transcript(s) differ")
        return 1 if bad else 0
    print(f"wrote {written} transcript(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
