"""WER of the consult pipeline against bare faster-whisper on FLEURS clips (real read speech), same model.

    .venv/bin/python benchmarks/eval_fleurs.py [--fleurs ../shared/data/speech/fleurs] [--language fr]

"ours" is the whole pipeline (`Pipeline.process`: VAD, drug hotwords, hallucination guards, diarisation,
word alignment); "bare" is `WhisperModel.transcribe(audio, language=..., beam_size=5)` with faster-whisper's
defaults, on the same model folder and compute type, in the same process. Corpus WER (jiwer over all clips)
on consult.evaluation.normalise_text; the relative difference is (ours - bare) / bare.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "0")

import jiwer  # noqa: E402

from consult.audio import load_audio  # noqa: E402
from consult.config import Settings  # noqa: E402
from consult.evaluation import normalise_text  # noqa: E402
from consult.pipeline import Pipeline  # noqa: E402

DEFAULT = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "speech" / "fleurs"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fleurs", type=Path, default=DEFAULT)
    ap.add_argument("--language", default="fr", choices=["fr", "en"])
    args = ap.parse_args(argv)
    clips = sorted(args.fleurs.glob(f"fleurs-{args.language}-*.ogg"))
    if not clips:
        print(f"no FLEURS {args.language} clips in {args.fleurs}", file=sys.stderr)
        return 2
    from faster_whisper import WhisperModel

    settings = Settings(asr={"language": args.language})
    pipe = Pipeline(settings)
    from consult.backends.whisper import FasterWhisperTranscriber

    folder = FasterWhisperTranscriber.model_folder(settings.asr, settings.cache_dir)
    bare = WhisperModel(str(folder), device="cpu", compute_type=settings.asr.compute_type)
    refs, ours, bares = [], [], []
    for clip in clips:
        ref = normalise_text(clip.with_suffix(".txt").read_text(encoding="utf-8"))
        report = pipe.process(clip, language=args.language)
        hyp = normalise_text(" ".join(s.text for s in report.segments))
        segs, _ = bare.transcribe(load_audio(clip).samples, language=args.language, beam_size=5)
        hyp_bare = normalise_text(" ".join(s.text for s in segs))
        refs.append(ref)
        ours.append(hyp)
        bares.append(hyp_bare)
        print(f"{clip.name}: ours {jiwer.wer(ref, hyp):.3f}  bare {jiwer.wer(ref, hyp_bare):.3f}")
    w_ours, w_bare = jiwer.wer(refs, ours), jiwer.wer(refs, bares)
    rel = (w_ours - w_bare) / w_bare if w_bare else 0.0
    print(f"corpus WER ({len(clips)} {args.language} clips): ours {w_ours:.4f}, bare {w_bare:.4f}, "
          f"relative difference {100 * rel:+.1f} % (target within ±5 %)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
