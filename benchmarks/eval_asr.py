"""WER of consult (the whole pipeline, default settings) against bare faster-whisper, on every speech set, one run.

    .venv/bin/python benchmarks/eval_asr.py [--sets fixtures fleurs voiced:dev:clean ...] [--json out.json]
        [--limit N] [--no-cache] [--ours-only] [--reports DIR]

Sets: ``fixtures`` (audio_fixtures/*.flac), ``fleurs`` (../shared/data/speech/fleurs, 5 FR + 5 EN real read
clips), ``voiced:<split>:<variant>`` (real dialogues voiced by benchmarks/voiced.py under .cache/voiced).
"ours" is ``Pipeline.process`` with ``Settings()`` (what ``consult run`` does), its words taken from the report's
segments; "bare" is ``WhisperModel.transcribe(audio, language=<the item's language>, beam_size=5,
vad_filter=True)`` with faster-whisper's other defaults, on the same model folder and compute type, in the same
process. Bare results are cached per audio sha256 and model under .cache/eval_asr (they do not change when consult
does; --no-cache recomputes). Corpus WER per set (jiwer over all files of the set, consult.evaluation's
normaliser), the ratio ours/bare (target <= 1.02), wall time of each, and the recall of prescribed drug names
(labelled lines with status new/renewed/changed/stopped whose name the reference text says, found spelled right
by an exact lexicon match in the transcript).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "0")

import jiwer  # noqa: E402

from consult.audio import load_audio  # noqa: E402
from consult.config import Settings  # noqa: E402
from consult.evaluation import normalise_text  # noqa: E402
from consult.outputs import write_outputs  # noqa: E402
from schemas import ConsultationReport  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "speech"
CACHE = ROOT / ".cache" / "eval_asr"


@dataclass
class Item:
    path: Path
    language: str
    reference: str
    prescribed: list[str] = field(default_factory=list)


def _items(name: str) -> list[Item]:
    if name == "fixtures":
        out = []
        for p in sorted((ROOT / "audio_fixtures").glob("*.flac")):
            truth = json.loads(p.with_suffix(".truth.json").read_text(encoding="utf-8"))
            out.append(Item(p, truth["language"], p.with_suffix(".ref.txt").read_text(encoding="utf-8"),
                            [m["drug"] for m in truth["medications"] if m.get("status") != "mentioned"]))
        return out
    if name == "fleurs":
        return [Item(p, p.stem.split("-")[1], p.with_suffix(".txt").read_text(encoding="utf-8"))
                for p in sorted((SHARED / "fleurs").glob("*.ogg"))]
    if name.startswith("voiced:"):
        _, split, variant = name.split(":")
        out = []
        for t in sorted((ROOT / ".cache" / "voiced" / split / variant).glob("*.truth.json")):
            truth = json.loads(t.read_text(encoding="utf-8"))
            stem = t.name.removesuffix(".truth.json")
            out.append(Item(t.parent / f"{stem}.flac", truth["language"],
                            (t.parent / f"{stem}.ref.txt").read_text(encoding="utf-8"),
                            [m["drug"] for m in truth["medications"] if m.get("status") != "mentioned"]))
        return out
    raise SystemExit(f"unknown set {name!r}: fixtures, fleurs, voiced:<dev|blind>:<clean|noise|reverb|telephone>")


class NameRecall:
    """Prescribed drug names said in the reference and spelled right (exact lexicon match) in a transcript."""

    def __init__(self) -> None:
        from consult.scoring import DrugResolver

        self.resolver = DrugResolver()

    def said(self, text: str, drug: str) -> bool:
        return bool(self._found(text, drug, exact=False))

    def heard(self, text: str, drug: str) -> bool:
        return bool(self._found(text, drug, exact=True))

    def _found(self, text: str, drug: str, *, exact: bool) -> list[str]:
        want = self.resolver.keys(drug)
        out = []
        for m in self.resolver.lexicon.find(text):
            if exact and m.score < 0.95:
                continue
            if want & self.resolver.keys(m.entry.name, m.entry.atc):
                out.append(m.entry.name)
        return out


def _bare(model: object, item: Item, model_id: str, use_cache: bool) -> tuple[str, float]:
    digest = hashlib.sha256(item.path.read_bytes()).hexdigest()[:16]
    cache = CACHE / f"bare-{model_id}-{item.language}-{digest}.json"
    if use_cache and cache.exists():
        data = json.loads(cache.read_text())
        return data["text"], data["seconds"]
    audio = load_audio(item.path).samples
    t0 = time.perf_counter()
    segs, _ = model.transcribe(audio, language=item.language, beam_size=5, vad_filter=True)  # type: ignore[attr-defined]
    text = " ".join(s.text.strip() for s in segs)
    seconds = time.perf_counter() - t0
    CACHE.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps({"text": text, "seconds": seconds, "file": item.path.name}))
    return text, seconds


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", nargs="*", default=["fixtures", "fleurs", "voiced:dev:clean"])
    ap.add_argument("--limit", type=int, default=0, help="at most N files per set")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--no-cache", action="store_true")
    ap.add_argument("--ours-only", action="store_true", help="skip bare faster-whisper (its cache is still read)")
    ap.add_argument("--show", action="store_true", help="print each transcript pair (dev sets only!)")
    ap.add_argument("--reports", type=Path, default=None, metavar="DIR",
                    help="keep each report (consult run's files) under DIR/<set>/<stem>/ and reuse those already "
                         "there; `consult eval LABELS --audio --reports DIR/<set>` then scores them")
    args = ap.parse_args(argv)

    from faster_whisper import WhisperModel

    from consult.backends.whisper import FasterWhisperTranscriber
    from consult.pipeline import Pipeline

    settings = Settings()
    pipe = Pipeline(settings)
    folder = FasterWhisperTranscriber.model_folder(settings.asr, settings.cache_dir)
    model_id = hashlib.sha256(str(folder).encode()).hexdigest()[:8] + "-" + settings.asr.compute_type
    bare_model = WhisperModel(str(folder), device="cpu", compute_type=settings.asr.compute_type)
    names = NameRecall()
    summary: dict[str, dict[str, object]] = {}
    for set_name in args.sets:
        items = _items(set_name)
        if args.limit:
            items = items[: args.limit]
        if not items:
            print(f"{set_name}: no files (run benchmarks/voiced.py first?)", file=sys.stderr)
            continue
        refs, ours, bares = [], [], []
        t_ours = t_bare = audio_s = 0.0
        said = heard_ours = heard_bare = 0
        rows = []
        for it in items:
            kept = args.reports / set_name.replace(":", "_") / it.path.stem if args.reports else None
            if kept is not None and (kept / "report.json").exists():
                report = ConsultationReport.model_validate_json((kept / "report.json").read_text(encoding="utf-8"))
                dt = sum(t.seconds for t in report.timings)
            else:
                t0 = time.perf_counter()
                report = pipe.process(it.path)
                dt = time.perf_counter() - t0
                if kept is not None:
                    write_outputs(report, kept)
            hyp = " ".join(s.text for s in report.segments)
            if args.ours_only and not (CACHE.exists()):
                hyp_bare, dt_bare = "", 0.0
            else:
                hyp_bare, dt_bare = _bare(bare_model, it, model_id, not args.no_cache)
            r, o, b = normalise_text(it.reference), normalise_text(hyp), normalise_text(hyp_bare)
            refs.append(r)
            ours.append(o)
            bares.append(b)
            t_ours += dt
            t_bare += dt_bare
            audio_s += report.audio.duration if report.audio else 0.0
            for drug in dict.fromkeys(it.prescribed):
                if names.said(it.reference, drug):
                    said += 1
                    heard_ours += names.heard(hyp, drug)
                    heard_bare += names.heard(hyp_bare, drug)
            w_o, w_b = jiwer.wer(r, o) if r else 0.0, jiwer.wer(r, b) if r else 0.0
            rows.append({"file": it.path.name, "language": it.language, "detected": report.language,
                         "wer_ours": round(w_o, 4), "wer_bare": round(w_b, 4), "seconds_ours": round(dt, 2),
                         "seconds_bare": round(dt_bare, 2), "warnings": report.warnings})
            print(f"  {set_name} {it.path.name}: ours {w_o:.3f} bare {w_b:.3f} lang {report.language}"
                  f" ({dt:.1f} s / {dt_bare:.1f} s)", flush=True)
            if args.show:
                print(f"    REF  {r}\n    OURS {o}\n    BARE {b}")
        w_ours, w_bare = jiwer.wer(refs, ours), jiwer.wer(refs, bares)
        s = {"files": len(items), "audio_s": round(audio_s, 1), "wer_ours": round(w_ours, 4),
             "wer_bare": round(w_bare, 4), "ratio": round(w_ours / w_bare, 3) if w_bare else None,
             "seconds_ours": round(t_ours, 1), "seconds_bare": round(t_bare, 1),
             "names_said": said, "names_ours": heard_ours, "names_bare": heard_bare, "rows": rows}
        summary[set_name] = s
    print(f"\n{'set':24} {'files':>5} {'audio':>7} {'WER ours':>9} {'bare':>7} {'ratio':>6} {'names ours':>11} "
          f"{'bare':>6} {'time ours':>10} {'bare':>7}")
    for k, s in summary.items():
        print(f"{k:24} {s['files']:>5} {s['audio_s']:>6.0f}s {s['wer_ours']:>9.4f} {s['wer_bare']:>7.4f} "
              f"{s['ratio'] or 0:>6.3f} {s['names_ours']:>5}/{s['names_said']:<5} {s['names_bare']:>3}/"
              f"{s['names_said']:<3} {s['seconds_ours']:>9.1f}s {s['seconds_bare']:>6.1f}s")
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
