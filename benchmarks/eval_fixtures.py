"""Score the real pipeline on the generated fixtures: drugs found, field accuracy, DER, WER, speed.

    .venv/bin/python benchmarks/eval_fixtures.py [--fixtures audio_fixtures] [--json out.json]
    .venv/bin/python benchmarks/eval_fixtures.py --diarisation-only   # DER only, no ASR (seconds, not minutes)

Drug matching: an expected line is found when a medication's normalised name matches the expected INN
(accent-insensitive fuzzy ratio >= 85). Field accuracy: over the expected lines found, for each field the
truth gives (strength, dose, frequency, when, duration, as_needed, max_per_day, status), exact equality.
DER: pyannote.metrics, collar 0.5 s total (±0.25 s). WER: jiwer on consult.evaluation.normalise_text.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "0")

from rapidfuzz import fuzz  # noqa: E402

from consult.evaluation import der, read_rttm, wer  # noqa: E402
from consult.extract.text import strip_accents  # noqa: E402
from consult.pipeline import Pipeline  # noqa: E402

FIELDS = ("strength", "dose", "frequency", "when", "duration", "as_needed", "max_per_day", "status")


def _strip(s: str) -> str:
    return strip_accents(s.lower())


def _field(line, name):  # type: ignore[no-untyped-def]
    v = getattr(line, name)
    if v is None or isinstance(v, bool | str | list):
        return v
    d = v.model_dump()
    if name == "frequency":
        return {"count": d["count"], "period": d["period"], "period_unit": d["period_unit"]}
    return {"value": d["value"], "unit": d["unit"]}


def _same(exp, got) -> bool:  # type: ignore[no-untyped-def]
    if isinstance(exp, dict) and isinstance(got, dict):
        return all(_same(v, got.get(k)) for k, v in exp.items())
    if isinstance(exp, int | float) and isinstance(got, int | float):
        return abs(float(exp) - float(got)) < 1e-6
    if isinstance(exp, str) and isinstance(got, str):
        return _strip(exp).rstrip("s") == _strip(got).rstrip("s")
    return bool(exp == got)


def _diarisation_only(fixtures: Path, out: Path | None) -> int:
    """DER of the offline diariser alone on each fixture, with the pipeline's default speaker bounds."""
    import warnings

    warnings.filterwarnings("ignore", message="'uem' was approximated")
    from consult.audio import load_audio
    from consult.backends.offline_diar import OfflineDiariser
    from consult.config import DiarisationOptions

    d = DiarisationOptions()
    diariser = OfflineDiariser()
    rows = []
    for truth_path in sorted(fixtures.glob("*.truth.json")):
        name = truth_path.name.removesuffix(".truth.json")
        audio = load_audio(fixtures / f"{name}.flac")
        t = time.perf_counter()
        turns = diariser.diarise(audio.samples, num_speakers=d.num_speakers, min_speakers=d.min_speakers,
                                 max_speakers=d.max_speakers)
        wall = time.perf_counter() - t
        row = {"name": name, "der": round(der(read_rttm(fixtures / f"{name}.rttm"), turns, collar=0.5), 4),
               "speakers": len({x.speaker for x in turns}), "wall_s": round(wall, 2)}
        rows.append(row)
        print(json.dumps(row), flush=True)
    summary = {"mean_der": round(sum(r["der"] for r in rows) / len(rows), 4),
               "max_der": max(r["der"] for r in rows)}
    print(json.dumps(summary))
    if out:
        out.write_text(json.dumps({"rows": rows, "summary": summary}, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fixtures", type=Path, default=Path(__file__).resolve().parent.parent / "audio_fixtures")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--diarisation-only", action="store_true",
                    help="run only the offline diariser (default speaker bounds) and report DER per file")
    args = ap.parse_args(argv)
    if args.diarisation_only:
        return _diarisation_only(args.fixtures, args.json)
    t0 = time.perf_counter()
    pipe = Pipeline()
    load = time.perf_counter() - t0
    rows = []
    tot = {"expected": 0, "found": 0, "extracted": 0, "fields": 0, "fields_ok": 0}
    per_field = {f: [0, 0] for f in FIELDS}
    for truth_path in sorted(args.fixtures.glob("*.truth.json")):
        truth = json.loads(truth_path.read_text(encoding="utf-8"))
        name = truth_path.name.removesuffix(".truth.json")
        t = time.perf_counter()
        report = pipe.process(args.fixtures / f"{name}.flac", language=truth["language"])
        wall = time.perf_counter() - t
        hyp = " ".join(s.text for s in report.segments)
        ref = " ".join(x["text"] for x in truth["turns"])
        row = {"name": name, "duration": report.audio.duration, "wall_s": round(wall, 2),
               "rtf": round(wall / report.audio.duration, 3),
               "der": round(der(read_rttm(args.fixtures / f"{name}.rttm"), report.turns, collar=0.5), 4),
               "wer": round(wer(ref, hyp), 4), "expected": len(truth["medications"]),
               "extracted": len(report.medications), "found": 0, "missing": [], "field_errors": []}
        for exp in truth["medications"]:
            best, score = None, 0.0
            for m in report.medications:
                sc = max(fuzz.ratio(_strip(exp["drug"]), _strip(m.name)),
                         fuzz.partial_ratio(_strip(exp["drug"]), _strip(m.name)))
                if sc > score:
                    best, score = m, sc
            if best is None or score < 85:
                row["missing"].append(exp["drug"])
                continue
            row["found"] += 1
            for f in FIELDS:
                want = exp.get(f)
                if want in (None, [], False) and f not in ("status",):
                    if _field(best, f) in (None, [], False):
                        continue  # not said, not extracted: not scored
                per_field[f][1] += 1
                ok = _same(want, _field(best, f))
                per_field[f][0] += ok
                if not ok:
                    row["field_errors"].append(f"{exp['drug']}.{f}: want {want} got {_field(best, f)}")
        for k in ("expected", "found", "extracted"):
            tot[k] += row[k]
        rows.append(row)
        print(json.dumps(row, ensure_ascii=False), flush=True)
    ok = sum(v[0] for v in per_field.values())
    n = sum(v[1] for v in per_field.values())
    summary = {
        "model_load_s": round(load, 2),
        "drugs_found": f"{tot['found']}/{tot['expected']}",
        "lines_extracted": tot["extracted"],
        "field_accuracy": round(ok / n, 4) if n else None,
        "per_field": {f: f"{a}/{b}" for f, (a, b) in per_field.items()},
        "mean_der": round(sum(r["der"] for r in rows) / len(rows), 4),
        "mean_wer": round(sum(r["wer"] for r in rows) / len(rows), 4),
        "longest": max(rows, key=lambda r: r["duration"]),
    }
    print(json.dumps(summary, ensure_ascii=False, indent=2))
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "summary": summary}, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
