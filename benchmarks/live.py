"""Live mode benchmark: commit delay, card delay, live WER against the offline pass, flat memory.

    .venv/bin/python benchmarks/live.py [AUDIO ...] [--json OUT.json]         # real-time pace (default: fixtures)
    .venv/bin/python benchmarks/live.py --memory-minutes 30 [--step 5]      # a 30-minute stream, as fast as possible

Real-time mode plays each recording at real-time pace into a :class:`consult.live.LiveSession` (the worker thread
decodes as ``consult live --realtime`` does) and measures, on one machine, one process, the bundled base model:

* **commit delay**: for each committed word, the wall time (since the first audio) at which it was committed minus
  the time its audio ended (ASR word end): median and 95th percentile over all words;
* **card delay**: for each medication card, when it first appeared minus the end of the sentence that names the
  drug (the first word ending in . ? ! after the name, else the end of the turn); negative when the card appeared
  before the sentence ended;
* **WER** of the live transcript and of the offline pass (the full pipeline, as ``consult run``) against the spoken
  reference (``<stem>.ref.txt`` beside the audio), and their ratio;
* **final report identical**: the full pipeline on the recording the session wrote (16-bit FLAC) against the full
  pipeline on the input file: same segments, speakers and medication lines (ids, times, words, fields).

Memory mode streams ``--memory-minutes`` of the bundled fixtures (concatenated) as fast as decoding allows, one
decode per ``--step`` seconds of audio (the buffer and the extraction window behave as at real-time pace; only the
number of decodes changes), and samples the process's RSS every minute of audio.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from consult.audio import SAMPLE_RATE, load_audio  # noqa: E402
from consult.backends.factory import build_extractor, build_transcriber  # noqa: E402
from consult.config import Settings  # noqa: E402
from consult.evaluation import wer  # noqa: E402
from consult.live import CardEvent, LiveOptions, LiveSession, RevisionEvent, TextEvent, feed_realtime  # noqa: E402
from schemas import MedicationLine, Segment  # noqa: E402

_END = re.compile(r"[.?!]$")


def sentence_end(line: MedicationLine, segments: list[Segment]) -> float | None:
    """End time of the sentence that names the line's drug (see the module docstring), found by time in the final
    live transcript: second readings renumber the turns after a card appeared, so its segment id may name another
    turn by then."""
    end = line.evidence.end
    if end is None:
        return None
    turn = next((s for s in segments if s.start - 0.05 <= end <= s.end + 0.05), None)
    words = [w for s in ([turn] if turn is not None else segments) for w in s.words if w.end >= end - 0.05]
    for w in words:
        if _END.search(w.text):
            return w.end
    return turn.end if turn is not None else None


def percentile(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


def run_realtime(path: Path, transcriber: Any, extractor: Any, settings: Settings, pipeline: Any,
                 options: LiveOptions, *, identity: bool = True, with_offline: bool = True) -> dict[str, Any]:
    events: list[Any] = []
    with tempfile.TemporaryDirectory(prefix="consult-live-bench-") as tmp:
        recording = Path(tmp) / "recording.flac"
        session = LiveSession(transcriber, extractor, language=settings.asr.language,
                              english_threshold=settings.asr.english_threshold, options=options, asr=settings.asr,
                              recording=recording, on_event=events.append)
        samples = load_audio(path).samples
        n = SAMPLE_RATE // 4
        t0 = time.perf_counter()
        feed_realtime(session, (samples[i:i + n] for i in range(0, samples.size, n)))
        session.wait()
        live_wall = time.perf_counter() - t0
        snap = session.snapshot()
        offline = pipeline.process(path) if with_offline else None
        again = pipeline.process(recording) if identity and offline is not None else None
    delays = [ev.wall - w.end for ev in events if isinstance(ev, TextEvent) for w in ev.words]
    # words an utterance's second reading adds after the committed text are committed by it
    delays += [ev.wall - w.end for ev in events if isinstance(ev, RevisionEvent) for seg in ev.segments
               for w in seg.words if (w.start + w.end) / 2 > ev.new_after]
    card_delays: dict[str, float] = {}
    for ev in events:
        if isinstance(ev, CardEvent) and ev.kind == "added" and ev.key not in card_delays:
            end = sentence_end(ev.line, snap.segments)  # the sentence that made the card appear
            if end is not None:
                card_delays[ev.key] = round(ev.wall - end, 2)
    ref_path = path.with_name(path.name.rsplit(".", 1)[0] + ".ref.txt")
    out: dict[str, Any] = {
        "file": path.name, "audio_s": round(samples.size / SAMPLE_RATE, 1), "wall_s": round(live_wall, 1),
        "words": len(delays), "commit_delay_median_s": _r(statistics.median(delays) if delays else None),
        "commit_delay_p95_s": _r(percentile(delays, 95)), "card_delays_s": card_delays,
        "live_cards": sorted(snap.cards),
        "final_lines": sorted(m.name for m in offline.medications) if offline is not None else None,
        "session": session.stats(), "final_identical": _same(offline, again) if again is not None else None,
        "_delays": delays,
    }
    if ref_path.is_file():
        ref = ref_path.read_text(encoding="utf-8")
        live_text = " ".join(s.text for s in snap.segments)
        out["wer_live"] = round(wer(ref, live_text), 4)
        if offline is not None:
            out["wer_offline"] = round(wer(ref, " ".join(s.text for s in offline.segments)), 4)
    return out


def _same(a: Any, b: Any) -> bool:
    def key(r: Any) -> Any:
        return (r.language, [s.model_dump() for s in r.segments], [s.model_dump() for s in r.speakers],
                [m.model_dump() for m in r.medications])
    return bool(key(a) == key(b))


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 2)


def run_memory(minutes: float, transcriber: Any, extractor: Any, settings: Settings, step: float) -> dict[str, Any]:
    from consult.bench import _rss_reader, make_long_audio

    _kind, rss = _rss_reader()
    with tempfile.TemporaryDirectory(prefix="consult-live-mem-") as tmp:
        gen = make_long_audio(ROOT / "audio_fixtures", "fr", minutes * 60, Path(tmp) / "long.flac")
        samples = load_audio(gen.path).samples
        session = LiveSession(transcriber, extractor, language="fr", options=LiveOptions(step_s=step),
                              recording=Path(tmp) / "recording.flac")
        n = SAMPLE_RATE // 2
        per_minute: list[float] = []
        t0 = time.perf_counter()
        for i in range(0, samples.size, n):
            session.feed(samples[i:i + n])
            session.step()
            if (i + n) % (60 * SAMPLE_RATE) < n:
                per_minute.append(round(rss() / 2**20, 1))
                print(f"  minute {len(per_minute)}: RSS {per_minute[-1]} MiB, {session.stats()}", flush=True)
        session.finish()
        wall = time.perf_counter() - t0
    later = per_minute[4:] if len(per_minute) > 5 else per_minute
    slope = float(np.polyfit(np.arange(len(later)), later, 1)[0]) * 10 if len(later) > 1 else 0.0
    return {"minutes": minutes, "step_s": step, "wall_s": round(wall, 1), "rss_mib_per_minute": per_minute,
            "rss_first_mib": per_minute[0] if per_minute else None,
            "rss_last_mib": per_minute[-1] if per_minute else None,
            "rss_max_mib": max(per_minute) if per_minute else None,
            "slope_mib_per_10_min_after_min5": round(slope, 2), "session": session.stats(),
            "segments": len(session.snapshot().segments), "cards": len(session.snapshot().cards)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("audio", nargs="*", type=Path)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--memory-minutes", type=float, default=None)
    ap.add_argument("--no-offline", action="store_true", help="live pass only (no offline WER, no identity check)")
    ap.add_argument("--no-identity", action="store_true",
                    help="skip the second full pass on the recording (the identity check)")
    ap.add_argument("--step", type=float, default=None, help="decode every STEP s of new audio")
    ap.add_argument("--beam", type=int, default=None, help="beam size of the live decodes (default LiveOptions)")
    ap.add_argument("--context", type=int, default=None, help="LiveOptions.context_chars")
    ap.add_argument("--force-after", type=float, default=None, help="LiveOptions.force_after_s")
    ap.add_argument("--no-revise", action="store_true", help="LiveOptions.revise_utterances=False")
    ap.add_argument("--revise-context", type=float, default=None, help="LiveOptions.revise_context_s")
    ap.add_argument("--max-buffer", type=float, default=None, help="LiveOptions.max_buffer_s")
    args = ap.parse_args(argv)
    settings = Settings()
    transcriber = build_transcriber(settings)
    extractor = build_extractor(settings)
    if args.memory_minutes:
        result: dict[str, Any] = run_memory(args.memory_minutes, transcriber, extractor, settings, args.step or 5.0)
        print(json.dumps(result, indent=1))
    else:
        from consult.pipeline import Pipeline

        pipeline = Pipeline(settings, transcriber=transcriber, extractor=extractor)
        files = args.audio or sorted((ROOT / "audio_fixtures").glob("*.flac"))
        changes = {k: v for k, v in (("step_s", args.step), ("beam_size", args.beam), ("context_chars", args.context),
                                     ("force_after_s", args.force_after),
                                     ("revise_context_s", args.revise_context),
                                     ("max_buffer_s", args.max_buffer)) if v is not None}
        if args.no_revise:
            changes["revise_utterances"] = False
        options = LiveOptions(**changes)
        items = []
        for path in files:
            r = run_realtime(path, transcriber, extractor, settings, pipeline, options,
                             identity=not args.no_identity, with_offline=not args.no_offline)
            items.append(r)
            print(json.dumps({k: v for k, v in r.items() if not k.startswith("_")}), flush=True)
        delays = [d for r in items for d in r["_delays"]]
        cards = [d for r in items for d in r["card_delays_s"].values()]
        wl = [r["wer_live"] for r in items if "wer_live" in r]
        wo = [r["wer_offline"] for r in items if "wer_offline" in r]
        result = {
            "files": len(items), "words": len(delays),
            "commit_delay_median_s": _r(statistics.median(delays) if delays else None),
            "commit_delay_p95_s": _r(percentile(delays, 95)),
            "card_delay_median_s": _r(statistics.median(cards) if cards else None),
            "card_delay_max_s": _r(max(cards) if cards else None), "cards": len(cards),
            "wer_live_mean": _r4(wl), "wer_offline_mean": _r4(wo),
            "wer_ratio": round(float(np.mean(wl)) / float(np.mean(wo)), 3) if wl and wo and np.mean(wo) > 0 else None,
            "final_identical": sum(bool(r["final_identical"]) for r in items),
            "items": [{k: v for k, v in r.items() if not k.startswith("_")} for r in items],
        }
        print(json.dumps({k: v for k, v in result.items() if k != "items"}, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


def _r4(values: list[float]) -> float | None:
    return round(float(np.mean(values)), 4) if values else None


if __name__ == "__main__":
    raise SystemExit(main())
