"""Medication lines on speech with no medicine in it: the whole pipeline (``consult run``'s defaults) on real
non-medical recordings, where every line is an invented drug.

    .venv/bin/python benchmarks/ood_lines.py [--librispeech 60] [--seed 7] [--json out.json] [--reports DIR]

Sets (../shared/data/speech): LibriSpeech book readings (a seeded sample of ``--librispeech`` utterances of the
train-clean-100 and test-other folders; the 5 x 10 and 251 x 1 real voices), the 12 AMI meeting excerpts, the
FLEURS French and English clips and ``misc/jfk.flac``. Prints, per set, the files, the lines (target: 0) and each
invented line's name, drug words and time; the transcript text itself is not printed (only the names).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from consult.config import Settings  # noqa: E402

SPEECH = REPO.parent / "shared" / "data" / "speech"


def sets(librispeech: int, seed: int) -> dict[str, list[Path]]:
    libri = sorted((SPEECH / "librispeech").rglob("*.flac"))
    random.Random(seed).shuffle(libri)
    return {
        "librispeech": sorted(libri[:librispeech]),
        "ami": sorted((SPEECH / "ami").glob("*.wav")),
        "fleurs": sorted(p for p in (SPEECH / "fleurs").rglob("*") if p.suffix in {".ogg", ".wav", ".flac"}),
        "misc": [p for p in [SPEECH / "misc" / "jfk.flac"] if p.exists()],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--librispeech", type=int, default=60, help="LibriSpeech utterances (seeded sample)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--reports", type=Path, default=None, metavar="DIR",
                    help="also write each report as DIR/<set>/<file stem>/report.json (`consult eval --reports "
                         "--re-extract` and extractor changes can then be checked on them without the speech stage)")
    args = ap.parse_args(argv)
    if not SPEECH.exists():
        print(f"{SPEECH}: not found (../shared beside the repository)", file=sys.stderr)
        return 2

    from consult.pipeline import Pipeline

    pipe = Pipeline(Settings())
    summary: dict[str, dict[str, object]] = {}
    for name, files in sets(args.librispeech, args.seed).items():
        lines: list[dict[str, object]] = []
        audio_s = 0.0
        t0 = time.perf_counter()
        for path in files:
            report = pipe.process(path)
            if args.reports is not None:
                folder = args.reports / name / path.stem
                folder.mkdir(parents=True, exist_ok=True)
                (folder / "report.json").write_text(report.model_dump_json(), encoding="utf-8")
            audio_s += report.audio.duration if report.audio else 0.0
            for m in report.medications:
                lines.append({"file": path.name, "name": m.name, "drug_text": m.drug_text,
                              "start": m.evidence.start, "status": m.status, "needs_review": m.needs_review,
                              "confidence": m.confidence, "language": report.language})
        summary[name] = {"files": len(files), "audio_s": round(audio_s, 1), "lines": len(lines),
                         "seconds": round(time.perf_counter() - t0, 1), "invented": lines}
        print(f"{name:12} {len(files):>4} files {audio_s:>7.0f} s of speech: {len(lines)} medication lines", flush=True)
        for line in lines:
            print(f"    {line['file']}: {line['name']} ({line['drug_text']!r} at {line['start']} s, "
                  f"{line['status']}, review {line['needs_review']})")
    total = sum(int(s["lines"]) for s in summary.values())  # type: ignore[call-overload]
    print(f"total: {total} medication lines on {sum(int(s['files']) for s in summary.values())} files "  # type: ignore[call-overload]
          "with no medicine in them (target 0)")
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1, ensure_ascii=False), encoding="utf-8")
    return 0 if total == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
