"""Diarisation error rate of the offline diariser on the AMI meeting excerpts (real far-field speech, 3-5 people).

    .venv/bin/python benchmarks/eval_ami.py [--split dev|blind|all] [--ami ../shared/data/speech/ami]
                                            [--max-speakers 6] [--sample] [--json out.json]

Data: the pyannote "debug" AMI subset (12 one-minute excerpts, RTTM references, UEM scoring regions; see the
folder's SOURCE.txt; 30 s each). DER with pyannote.metrics, collar 0.5 s total (±0.25 s), overlapped speech scored,
restricted to each file's UEM; the total is accumulated over files (sum of errors / sum of reference speech).

``--split`` takes the excerpts of benchmarks/split.json (dev: 8; blind: dev00, trn02, trn03, trn08, "not tuned on
since the split": all 12 were tuned on in an earlier round). Tune on dev only.

``--sample`` also scores pyannote.audio's own two-speaker ``sample.wav`` (real voices, 30 s, with its RTTM; found
in the installed pyannote.audio package), as its own item with the pipeline's default speaker bounds (1-4),
collar 0.5 s, no UEM. It is measured only, never tuned on.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "0")

from consult.audio import load_audio  # noqa: E402
from consult.backends.offline_diar import OfflineDiariser, OfflineDiarOptions  # noqa: E402
from consult.extract.text import strip_accents  # noqa: E402

DEFAULT = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "speech" / "ami"
SPLIT = Path(__file__).resolve().parent / "split.json"


def pyannote_sample() -> tuple[Path, Path]:
    """(sample.wav, sample.rttm) of the installed pyannote.audio package; SystemExit naming the fix if absent."""
    import importlib.util

    spec = importlib.util.find_spec("pyannote.audio")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("pyannote.audio is not installed: pip install -e '.[test]'")
    folder = Path(next(iter(spec.submodule_search_locations))) / "sample"
    wav, rttm = folder / "sample.wav", folder / "sample.rttm"
    if not (wav.exists() and rttm.exists()):
        raise SystemExit(f"pyannote.audio has no sample.wav/sample.rttm in {folder}")
    return wav, rttm


def _read(ami: Path) -> tuple[list[str], dict[str, list[tuple[float, float, str]]], dict[str, tuple[float, float]]]:
    names: list[str] = []
    ref: dict[str, list[tuple[float, float, str]]] = defaultdict(list)
    uem: dict[str, tuple[float, float]] = {}
    for part in ("train", "development"):
        # the list file spells one name with a stray accent ("trñ00"): names are folded like the RTTM's
        names += [strip_accents(n.strip()) for n in (ami / f"debug.{part}.lst").read_text().split() if n.strip()]
        for line in (ami / f"debug.{part}.rttm").read_text(encoding="utf-8").splitlines():
            f = line.split()
            if len(f) >= 8 and f[0] == "SPEAKER":
                ref[f[1]].append((float(f[3]), float(f[3]) + float(f[4]), f[7]))
        for line in (ami / f"debug.{part}.uem").read_text().splitlines():
            f = line.split()
            if len(f) == 4:
                uem[f[0]] = (float(f[2]), float(f[3]))
    return names, ref, uem


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ami", type=Path, default=DEFAULT)
    ap.add_argument("--min-speakers", type=int, default=1)
    ap.add_argument("--max-speakers", type=int, default=6)
    ap.add_argument("--split", choices=("dev", "blind", "all"), default="dev")
    ap.add_argument("--sample", action="store_true", help="also score pyannote's sample.wav (measured only)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    if not (args.ami / "debug.train.lst").exists():
        print(f"no AMI excerpts in {args.ami}", file=sys.stderr)
        return 2
    from pyannote.core import Annotation, Segment, Timeline
    from pyannote.metrics.diarization import DiarizationErrorRate

    names, ref, uem = _read(args.ami)
    if args.split != "all":
        keep = set(json.loads(SPLIT.read_text(encoding="utf-8"))["ami"][args.split])
        names = [n for n in names if n in keep]
    diariser = OfflineDiariser(options=OfflineDiarOptions())
    metric = DiarizationErrorRate(collar=0.5, skip_overlap=False)
    rows = []
    t_all = time.perf_counter()
    for name in names:
        wav = args.ami / f"{name}.wav"
        if not wav.exists():
            continue
        audio = load_audio(wav)
        t0 = time.perf_counter()
        turns = diariser.diarise(audio.samples, min_speakers=args.min_speakers, max_speakers=args.max_speakers)
        secs = time.perf_counter() - t0
        r, h = Annotation(uri=name), Annotation(uri=name)
        for i, (s, e, spk) in enumerate(ref[name]):
            r[Segment(s, e), i] = spk
        for i, t in enumerate(turns):
            h[Segment(t.start, t.end), i] = t.speaker
        region = Timeline([Segment(*uem.get(name, (0.0, audio.info.duration)))])
        c = metric(r, h, uem=region, detailed=True)
        d = c["diarization error rate"]
        parts = {k: round(c[key], 2) for k, key in (("scored_s", "total"), ("missed_s", "missed detection"),
                                                    ("false_alarm_s", "false alarm"), ("confusion_s", "confusion"))}
        rows.append({"file": name, "der": round(d, 4), **parts, "ref_speakers": len(r.labels()),
                     "hyp_speakers": len(h.labels()), "seconds": round(secs, 2)})
        print(f"{name}  DER {d:6.3f}  (missed {parts['missed_s']:4.1f} s, false alarm {parts['false_alarm_s']:4.1f} s, "
              f"confusion {parts['confusion_s']:4.1f} s of {parts['scored_s']:4.1f} s)  "
              f"speakers ref {len(r.labels())} / found {len(h.labels())}  {secs:.1f} s")
    total = abs(metric)
    print(f"{args.split}: total DER (accumulated, collar ±0.25 s, UEM): {total:.3f} over {len(rows)} excerpts "
          f"in {time.perf_counter() - t_all:.0f} s")
    out: dict = {"split": args.split, "total_der": total, "files": rows}
    if args.sample:
        from consult.config import DiarisationOptions
        from consult.evaluation import der, read_rttm

        wav, rttm = pyannote_sample()
        opts = DiarisationOptions()
        audio = load_audio(wav)
        t0 = time.perf_counter()
        turns = diariser.diarise(audio.samples, num_speakers=opts.num_speakers, min_speakers=opts.min_speakers,
                                 max_speakers=opts.max_speakers)
        secs = time.perf_counter() - t0
        reference = read_rttm(rttm)
        d = der(reference, turns, collar=0.5)
        found = len({t.speaker for t in turns})
        out["sample"] = {"der": round(d, 4), "ref_speakers": len({t.speaker for t in reference}),
                         "hyp_speakers": found, "seconds": round(secs, 2)}
        print(f"pyannote sample.wav  DER {d:6.3f}  speakers ref {out['sample']['ref_speakers']} / found {found}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
