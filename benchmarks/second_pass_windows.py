"""Windows of the contextual second pass on labelled recordings: how each candidate name scores, right or wrong.

    .venv/bin/python benchmarks/second_pass_windows.py DIR [DIR ...] [--out windows.json]

DIR holds recordings with ``<id>.truth.json`` (audio_fixtures, or .cache/voiced/<split>/<variant> made by
benchmarks/voiced.py). For every recording: the first pass (the transcriber as ``consult run`` calls it, language
from the truth file; cached under .cache/firstpass by audio sha256), every window ``consult.transcribe.drug_windows``
proposes with permissive settings (similarity >= 0.72, any word probability, 4 candidates), and each window scored by
``consult.transcribe.score_window``. A candidate is *right* when its substance is one of the recording's labelled
drugs (consult.scoring.DrugResolver), else *wrong*. The summary says, for the settings in consult.config, how many
windows a right name would replace the heard words and how many a wrong name would, so the margin, separation and
gates in AsrOptions are chosen on dev recordings only (never run this on blind recordings before the final score).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from consult.audio import load_audio  # noqa: E402
from consult.config import AsrOptions, Settings  # noqa: E402
from consult.scoring import DrugResolver  # noqa: E402
from consult.transcribe import decide, drug_windows, score_window  # noqa: E402
from schemas import Segment  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".cache" / "firstpass"
PERMISSIVE = dict(second_pass_min_similarity=0.72, second_pass_max_probability=1.0, second_pass_candidates=6)


def first_pass(transcriber: object, path: Path, language: str) -> list[Segment]:
    sha = hashlib.sha256(path.read_bytes()).hexdigest()[:20]
    cached = CACHE / f"{sha}-{language}.json"
    if cached.exists():
        return [Segment.model_validate(s) for s in json.loads(cached.read_text(encoding="utf-8"))]
    audio = load_audio(path).samples
    result = transcriber.transcribe(audio, language=language)  # type: ignore[attr-defined]
    CACHE.mkdir(parents=True, exist_ok=True)
    cached.write_text(json.dumps([s.model_dump(mode="json") for s in result.segments]), encoding="utf-8")
    return list(result.segments)


def collect(dirs: list[Path]) -> list[dict[str, object]]:
    from consult.backends.factory import build_transcriber

    settings = Settings()
    transcriber = build_transcriber(settings)
    options = AsrOptions(**PERMISSIVE)
    default = AsrOptions()
    resolver = DrugResolver()
    rows: list[dict[str, object]] = []
    for d in dirs:
        for truth_path in sorted(d.glob("*.truth.json")):
            truth = json.loads(truth_path.read_text(encoding="utf-8"))
            audio_path = truth_path.with_name(truth_path.name.replace(".truth.json", ".flac"))
            if not audio_path.exists():
                continue
            lang = truth["language"]
            labelled = [resolver.keys(m["drug"]) for m in truth.get("medications", [])]
            segments = first_pass(transcriber, audio_path, lang)
            audio = load_audio(audio_path).samples
            for win in drug_windows(segments, lang, options):
                scored = score_window(transcriber, audio, segments, win, lang)
                ranked = scored.ranked()
                chosen, _ = decide(scored, default)
                for rank, x in enumerate(ranked):
                    keys = resolver.keys(x.reading.name)
                    rows.append({
                        "item": f"{d.name}/{truth_path.name.split('.')[0]}", "language": lang,
                        "heard": scored.heard, "candidate": x.reading.name, "rank": rank,
                        "similarity": x.reading.similarity, "common": x.reading.common,
                        "bent": win.bent, "unsure": round(win.unsure, 3),
                        "kept": chosen is not None and chosen.reading.name == x.reading.name,
                        "words": x.reading.last - x.reading.first + 1, "first": round(scored.first_logprob, 3),
                        "score": round(x.logprob, 3),
                        "next": round(ranked[rank + 1].logprob, 3) if rank + 1 < len(ranked) else None,
                        "right": any(keys & k for k in labelled),
                    })
            print(f"{d.name}/{truth_path.name}: {len(rows)} candidate rows so far", file=sys.stderr, flush=True)
    return rows


def summary(rows: list[dict[str, object]]) -> str:
    """Replacements the default decision rule (consult.transcribe.decide) makes, right and wrong."""
    windows = {(r["item"], r["heard"], r["first"]) for r in rows}
    reachable = {(r["item"], r["heard"], r["first"]) for r in rows if r["right"]}
    right = sum(1 for r in rows if r["kept"] and r["right"])
    wrong = [str(r["candidate"]) for r in rows if r["kept"] and not r["right"]]
    return (f"windows {len(windows)} (a right candidate in {len(reachable)}): {right} right names put in, "
            f"{len(wrong)} wrong names put in {wrong}, {len(reachable) - right} windows with a right name left "
            "as heard")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dirs", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    rows = collect(args.dirs)
    if args.out:
        args.out.write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")
    print(summary(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
