"""Reliability of a batch: bad inputs fail alone with clear errors, and kill -9 then resume loses nothing.

    .venv/bin/python benchmarks/reliability.py [--good 25] [--seconds 8] [--workers 1] [--kill-after 8]

The batch: ``--good`` real consultations (``--seconds`` clips cut from audio_fixtures/ at spread offsets) and 5 bad
files mixed among them: ``corrupt.wav`` (random bytes), ``empty.flac`` (0 bytes), ``not_audio.mp3`` (a PDF),
``truncated.flac`` (the first half of a real FLAC) and ``huge.flac`` (a FLAC whose header says 5 hours: over the
4-hour --max-duration, refused before decoding).

It runs ``consult run ALL --out OUT --store DB --workers N`` as a subprocess, sends it SIGKILL after
``--kill-after`` files have been reported ``ok`` (0: no kill), runs the same command again, then counts from the
store and the output folder: reports (done jobs with exactly one report and four output files), clear errors
(failed jobs whose message names the file and the expected reason), crashes (a dead worker, a traceback, an exit
code other than 0/1), lost (good files without a report) and duplicated (jobs finished more than once).
Target: ``--good`` reports, 5 clear errors, 0 crashes, 0 lost, 0 duplicated.
"""

from __future__ import annotations

import argparse
import os
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "audio_fixtures"

# Bad file name -> words its error message must contain.
BAD_FILES = {
    "corrupt.wav": "could not be decoded",
    "empty.flac": "empty",
    "not_audio.mp3": "could not be decoded",
    "truncated.flac": "truncated",
    "huge.flac": "longer than the limit",
}


def _clip(src: Path, dst: Path, seconds: float, k: int, per_source: int) -> Path:
    import soundfile as sf

    audio, rate = sf.read(str(src), dtype="float32")
    n = int(seconds * rate)
    span = max(0, len(audio) - n)
    start = int(span * k / max(1, per_source - 1)) if per_source > 1 else 0
    sf.write(str(dst), audio[start:start + n], rate)
    return dst


def _huge_flac(real: Path, dst: Path, hours: float = 5.0) -> Path:
    """A copy of the FLAC ``real`` whose STREAMINFO claims ``hours`` of audio (only the header is changed)."""
    data = bytearray(real.read_bytes())
    if data[:4] != b"fLaC" or data[4] & 0x7F != 0:
        raise ValueError(f"{real}: not a FLAC file starting with STREAMINFO")
    packed = struct.unpack(">Q", bytes(data[18:26]))[0]  # rate (20) | channels-1 (3) | bps-1 (5) | samples (36)
    rate = packed >> 44
    total = int(hours * 3600 * rate)
    data[18:26] = struct.pack(">Q", (packed & ~((1 << 36) - 1)) | total)
    dst.write_bytes(bytes(data))
    return dst


def make_inputs(folder: Path, good: int = 25, seconds: float = 8.0) -> tuple[list[Path], list[Path], list[Path]]:
    """Write the batch into ``folder``: (all inputs in batch order, good ones, bad ones)."""
    import random

    folder.mkdir(parents=True, exist_ok=True)
    sources = sorted(FIXTURES.glob("*_consult_*.flac"))
    if not sources:
        raise SystemExit(f"no fixtures in {FIXTURES}: run audio_fixtures/generate.py")
    per_source = -(-good // len(sources))
    good_paths = [
        _clip(sources[i % len(sources)], folder / f"{sources[i % len(sources)].stem}_{i // len(sources):02d}.flac",
              seconds, i // len(sources), per_source)
        for i in range(good)
    ]
    rng = random.Random(5)
    bad = {
        "corrupt.wav": bytes(rng.getrandbits(8) for _ in range(20_000)),
        "empty.flac": b"",
        "not_audio.mp3": b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\n" * 200,
        "truncated.flac": good_paths[0].read_bytes()[: good_paths[0].stat().st_size // 2],
    }
    bad_paths = []
    for name, content in bad.items():
        (folder / name).write_bytes(content)
        bad_paths.append(folder / name)
    bad_paths.append(_huge_flac(good_paths[-1], folder / "huge.flac"))
    # Bad files spread through the batch, not bunched at one end.
    order: list[Path] = list(good_paths)
    step = max(1, len(order) // len(bad_paths))
    for i, path in enumerate(bad_paths):
        order.insert(min(len(order), 1 + i * (step + 1)), path)
    return order, good_paths, bad_paths


def consult_command(inputs: list[Path], out: Path, store: Path, workers: int) -> list[str]:
    return [sys.executable, "-m", "consult", "run", *map(str, inputs), "--out", str(out), "--store", str(store),
            "--workers", str(workers), "--no-progress"]


def run_and_kill(cmd: list[str], kill_after: int, timeout: float = 1800) -> tuple[int, str, str, bool]:
    """Run ``cmd``; SIGKILL it once ``kill_after`` lines start with ``ok`` (0: never). (rc, stdout, stderr, killed)"""
    env = dict(os.environ, PYTHONUNBUFFERED="1", HF_HUB_OFFLINE="1", RAY_USAGE_STATS_ENABLED="0")
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True, env=env, cwd=str(ROOT))
        lines: list[str] = []
        killed = False
        watchdog = threading.Timer(timeout, proc.kill)  # a hung run is killed (and shows as a crash)
        watchdog.start()
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                lines.append(line)
                if kill_after and sum(x.startswith("ok ") for x in lines) >= kill_after:
                    os.kill(proc.pid, signal.SIGKILL)
                    killed = True
                    break
            proc.wait()
        finally:
            watchdog.cancel()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        rest = proc.stdout.read() if proc.stdout is not None and not killed else ""
        err.seek(0)
        return proc.returncode, "".join(lines) + rest, err.read(), killed


def audit(store_path: Path, out: Path, good: list[Path], bad: list[Path]) -> dict[str, int]:
    """Counts from the store and the output folder (see the module doc)."""
    from consult.store import ReportStore

    counts = {"reports": 0, "clear_errors": 0, "crashes": 0, "lost": 0, "duplicated": 0, "unclear_errors": 0}
    with ReportStore.open(store_path) as store:
        jobs = {j.input_name: j for j in store.list(limit=None)}
        for job in jobs.values():
            history = store.history(job.id)
            if sum(e.kind == "done" for e in history) > 1:
                counts["duplicated"] += 1
            if any("crashed" in str(e.details.get("error", "")) for e in history):
                counts["crashes"] += 1
        for path in good:
            job = jobs.get(path.name)
            folder = out / path.stem
            files_ok = all((folder / f).is_file() for f in ("report.json", "bundle.json", "transcript.txt",
                                                            "diarization.rttm"))
            if job is not None and job.status == "done" and store.report_json(job.id) is not None and files_ok:
                counts["reports"] += 1
            else:
                counts["lost"] += 1
        for path in bad:
            job = jobs.get(path.name)
            words = BAD_FILES[path.name]
            if job is not None and job.status == "failed" and path.name in (job.error or "") and \
                    words in (job.error or ""):
                counts["clear_errors"] += 1
            else:
                counts["unclear_errors"] += 1
    leftovers = [p for p in out.rglob("*.tmp")] if out.exists() else []
    counts["temp_files_left"] = len(leftovers)
    return counts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--good", type=int, default=25)
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--kill-after", type=int, default=8, help="SIGKILL after this many ok files (0: no kill).")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="consult-reliability-") as tmp:
        work = Path(tmp)
        inputs, good, bad = make_inputs(work / "in", args.good, args.seconds)
        out, store = work / "out", work / "store.db"
        cmd = consult_command(inputs, out, store, args.workers)
        print(f"{len(inputs)} files ({len(good)} good x {args.seconds:g} s, {len(bad)} bad), "
              f"--workers {args.workers}", flush=True)
        t0 = time.perf_counter()
        rc1, out1, err1, killed = run_and_kill(cmd, args.kill_after)
        t1 = time.perf_counter()
        from consult.store import ReportStore

        with ReportStore.open(store) as s:
            at_kill = s.counts()
        print(f"run 1: {'killed with SIGKILL' if killed else f'exit {rc1}'} after {t1 - t0:.1f} s; store then: "
              f"{at_kill}", flush=True)
        rc2, out2, err2, _ = run_and_kill(cmd, 0)
        t2 = time.perf_counter()
        already = sum(line.startswith("ok ") and ": already done (" in line for line in out2.splitlines())
        print(f"run 2: exit {rc2} after {t2 - t1:.1f} s; {already} file(s) reported 'already done', "
              f"{at_kill['running']} interrupted job(s) recovered and run again", flush=True)
        counts = audit(store, out, good, bad)
        tracebacks = sum(e.count("Traceback") for e in (err1, err2))
        counts["crashes"] += tracebacks + (rc2 not in (0, 1))
        print(f"reports {counts['reports']}/{len(good)} · clear errors {counts['clear_errors']}/{len(bad)} · "
              f"crashes {counts['crashes']} · lost {counts['lost']} · duplicated {counts['duplicated']} · "
              f"unclear errors {counts['unclear_errors']} · temporary files left {counts['temp_files_left']}")
        ok = (counts["reports"] == len(good) and counts["clear_errors"] == len(bad) and counts["crashes"] == 0
              and counts["lost"] == 0 and counts["duplicated"] == 0)
        if not ok:
            sys.stderr.write(err2[-4000:])
        return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
