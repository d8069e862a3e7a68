"""Throughput of a batch through Ray (1 and 2 worker lanes) against the same batch in-process, in one run.

    .venv/bin/python benchmarks/ray_throughput.py [--files 20] [--seconds 15] [--workers 1 2] [--json OUT]

The batch: ``--files`` consultations of ``--seconds`` each, cut from the bundled fixtures (audio_fixtures/, French
and English, 44-61 s) at evenly spaced offsets, so every file is different. Each mode runs the real ``consult run``
code path (:func:`workers.batch.run_jobs`: report store in a fresh temporary SQLite file, outputs written) with
the bundled models on CPU and ``--language auto``:

- ``in-process``: one Pipeline, the files one after the other (``consult run --in-process``);
- ``ray-N``: an embedded Ray with N lanes of transcriber + diariser actors (``consult run --workers N``);
- with ``--torch-threads K``, also ``in-process-tK``: in-process with ``torch.set_num_threads(K)``. Ray gives each
  actor ``OMP_NUM_THREADS`` = its CPU request (1 here), so the diariser's torch runs single-threaded there, while
  in-process torch uses every core; on the 2-core development machine that made diarisation ~10x slower
  in-process. This mode shows the in-process baseline with the diariser single-threaded too.

Two figures per mode: *total* (files / wall time including model loading and Ray start) and *steady* (files /
wall time from the first file handed to the executor to the last result). Ratios are against in-process.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

from consult.config import Settings  # noqa: E402
from consult.store import ReportStore  # noqa: E402
from workers.batch import StemExporter, run_jobs  # noqa: E402

FIXTURES = ROOT / "audio_fixtures"


def make_batch(folder: Path, n: int, seconds: float) -> list[Path]:
    """``n`` different clips of ``seconds`` from the fixtures (round-robin over fixtures, spread offsets)."""
    sources = sorted(FIXTURES.glob("*_consult_*.flac"))
    if not sources:
        raise SystemExit(f"no fixtures in {FIXTURES}: run audio_fixtures/generate.py")
    per_source = -(-n // len(sources))
    paths: list[Path] = []
    for i in range(n):
        src = sources[i % len(sources)]
        k = i // len(sources)
        audio, rate = sf.read(str(src), dtype="float32")
        span = max(0, len(audio) - int(seconds * rate))
        start = int(span * k / max(1, per_source - 1)) if per_source > 1 else 0
        clip = audio[start:start + int(seconds * rate)]
        if len(clip) < int(seconds * rate):  # a fixture shorter than the clip: loop it
            clip = np.resize(audio, int(seconds * rate))
        path = folder / f"{src.stem}_{k:02d}.flac"
        sf.write(str(path), clip, rate)
        paths.append(path)
    return paths


def run_mode(mode: str, paths: list[Path], settings: Settings, work: Path) -> dict[str, float]:
    """Run the batch in ``mode`` (``in-process`` or ``ray-N``); wall times and checks."""
    store = ReportStore.open(work / f"{mode}.db")
    marks: dict[str, float] = {}
    executor_holder: list = []

    def get_executor(n_jobs: int):
        if mode.startswith("in-process"):
            from workers.tasks import InProcessExecutor

            executor = InProcessExecutor(settings)
        else:
            from workers.ray_runner import RayExecutor

            executor = RayExecutor(settings, workers=int(mode.split("-")[1]))
            executor.start()
        executor_holder.append(executor)
        marks["ready"] = time.perf_counter()
        return executor

    threads_before = None
    if mode.startswith("in-process-t"):
        import torch

        threads_before = torch.get_num_threads()
        torch.set_num_threads(int(mode.removeprefix("in-process-t")))
    t0 = time.perf_counter()
    try:
        outcomes = run_jobs(store, settings, get_executor, paths=paths, export=StemExporter(work / mode))
    finally:
        for executor in executor_holder:
            executor.close()
        if threads_before is not None:
            import torch

            torch.set_num_threads(threads_before)
    t_end = time.perf_counter()
    done = sum(o.status == "done" for o in outcomes)
    counts = store.counts()
    store.close()
    if done != len(paths) or counts["done"] != len(paths):
        raise SystemExit(f"{mode}: only {done} of {len(paths)} files done ({counts}): {outcomes}")
    audio = sum(o.audio_seconds for o in outcomes)
    return {
        "files": len(paths),
        "audio_seconds": audio,
        "total_s": t_end - t0,
        "steady_s": t_end - marks["ready"],
        "startup_s": marks["ready"] - t0,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--language", default="auto")
    ap.add_argument("--torch-threads", type=int, default=None,
                    help="also run in-process with torch.set_num_threads(N) (see the module doc).")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)

    settings = Settings(asr={"language": args.language})
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="consult-ray-bench-") as tmp:
        work = Path(tmp)
        (work / "in").mkdir()
        paths = make_batch(work / "in", args.files, args.seconds)
        print(f"{len(paths)} files x {args.seconds:g} s, CPU, {os.cpu_count()} cores; language {args.language}",
              flush=True)
        extra = [f"in-process-t{args.torch_threads}"] if args.torch_threads else []
        for mode in ["in-process", *extra, *[f"ray-{n}" for n in args.workers]]:
            r = run_mode(mode, paths, settings, work)
            results[mode] = r
            print(f"{mode:<14} total {r['total_s']:6.1f} s ({r['files'] / r['total_s'] * 60:5.1f} files/min, "
                  f"start-up {r['startup_s']:4.1f} s)  steady {r['steady_s']:6.1f} s "
                  f"({r['files'] / r['steady_s'] * 60:5.1f} files/min, "
                  f"{r['audio_seconds'] / r['steady_s']:.2f} audio h/h)", flush=True)
    for base_name in [m for m in results if m.startswith("in-process")]:
        base = results[base_name]
        print(f"throughput relative to {base_name} (higher is better):")
        for mode, r in results.items():
            if mode.startswith("in-process"):
                continue
            print(f"  {mode:<14} total x{base['total_s'] / r['total_s']:.2f}   "
                  f"steady x{base['steady_s'] / r['steady_s']:.2f}")
    if len(args.workers) > 1:
        a, b = f"ray-{args.workers[0]}", f"ray-{args.workers[-1]}"
        print(f"  {b} vs {a}: steady x{results[a]['steady_s'] / results[b]['steady_s']:.2f}")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"settings": vars(args) | {"json": str(args.json)}, "results": results},
                                        indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
