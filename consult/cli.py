"""Command line: ``consult run | extract | eval | bench | schema | serve``.

The CLI only fills in ``Settings``; all behaviour lives in the library. Exit codes: 0 all inputs succeeded,
1 at least one input failed (the others are still written), 2 usage or set-up error.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

from consult.audio import SUPPORTED_SUFFIXES
from consult.config import AsrOptions, DiarisationOptions, ExtractionOptions, Settings
from consult.errors import ConsultError

log = logging.getLogger("consult")

EPILOG = """\
Outputs, for each input AUDIO, in OUT/<audio stem>/:
  report.json       ConsultationReport (JSON Schema: `consult schema`): audio sha256/duration, language,
                    speakers and roles, segments with words (start, end, probability, speaker), medications
                    with evidence, stage timings, model names and versions
  bundle.json       FHIR R4B Bundle (collection), one MedicationRequest per medication line, status
                    draft / intent proposal until a clinician approves it in the review UI
  transcript.txt    one line per speaker turn: [mm:ss] Doctor: ...
  diarization.rttm  who spoke when (RTTM)

Every output is an AI DRAFT that a clinician must check (numbers, units and drug names above all).
Nothing leaves this machine: models load from local paths or installed packages.
Environment: CONSULT_CACHE_DIR (joined model files, default ~/.cache/consult), CONSULT_ASR__MODEL, ...
Exit codes: 0 every input succeeded; 1 at least one failed (the others are written); 2 usage/set-up error.
"""


def _add_model_args(p: argparse.ArgumentParser) -> None:
    a = AsrOptions()
    g = p.add_argument_group("transcription (faster-whisper)")
    g.add_argument("--asr-model", default=a.model, metavar="NAME_OR_PATH",
                   help="'base' = bundled multilingual Whisper base (default); a local CTranslate2 folder "
                        "(e.g. a downloaded large-v3-turbo); or a model name with --allow-download.")
    g.add_argument("--language", default=a.language, help="fr (default), en, or auto.")
    g.add_argument("--device", default=a.device, choices=["cpu", "cuda", "auto"],
                   help="device for the models (default cpu).")
    g.add_argument("--compute-type", default=None,
                   help="CTranslate2 compute type (default int8 on CPU, float16 on CUDA).")
    g.add_argument("--beam-size", type=int, default=a.beam_size)
    g.add_argument("--batch-size", type=int, default=a.batch_size,
                   help="batched transcription (faster-whisper BatchedInferencePipeline); 0 = sequential.")
    g.add_argument("--cpu-threads", type=int, default=a.cpu_threads, help="0 = all cores.")
    g.add_argument("--allow-download", action="store_true",
                   help="allow downloading a named Whisper model from the Hugging Face hub (off by default).")
    d = DiarisationOptions()
    g = p.add_argument_group("diarisation")
    g.add_argument("--diarisation", "--diarization", dest="diarisation", default=d.backend,
                   choices=["offline", "pyannote"],
                   help="offline = Silero VAD + resemblyzer + clustering (bundled, default); "
                        "pyannote = a local pyannote.audio pipeline (--pyannote-pipeline).")
    g.add_argument("--pyannote-pipeline", metavar="PATH",
                   help="folder (or config.yaml) of a local pyannote pipeline, e.g. a downloaded "
                        "speaker-diarization-community-1.")
    g.add_argument("--num-speakers", type=int, default=None, help="force the number of speakers.")
    g.add_argument("--min-speakers", type=int, default=d.min_speakers)
    g.add_argument("--max-speakers", type=int, default=d.max_speakers)
    g.add_argument("--doctor-speaker", metavar="SPEAKER_ID",
                   help="which speaker (e.g. SPEAKER_01) is the doctor; default: decided from the speech.")
    _add_extraction_args(p)
    p.add_argument("--stereo-channels", default="auto", choices=["auto", "mix", "split"],
                   help="stereo recordings: auto = one speaker per channel when the channels are separated "
                        "(e.g. a phone line), else mixed; split = always; mix = always downmix (default auto).")
    p.add_argument("--max-duration", type=float, default=4 * 3600.0,
                   help="refuse inputs longer than this many seconds (default 4 h).")


def _add_extraction_args(p: argparse.ArgumentParser) -> None:
    e = ExtractionOptions()
    g = p.add_argument_group("extraction")
    g.add_argument("--extractor", default=e.backend, choices=["rules", "tagger", "llm"],
                   help="rules = lexicon + posology grammar (default); tagger = the bundled token-classification "
                        "model (or --tagger-model); llm = an OpenAI-compatible endpoint (--llm-url, --llm-model), "
                        "output kept only where grounded in the transcript. The transcript is sent to that "
                        "endpoint: use a local server unless you are allowed to send it elsewhere.")
    g.add_argument("--tagger-model", metavar="PATH", default=e.tagger_model,
                   help="folder of a token-classification model trained by scripts/train_tagger.py.")
    g.add_argument("--llm-url", default=e.llm_url, metavar="URL",
                   help="base URL of an OpenAI-compatible API, e.g. http://127.0.0.1:8000/v1 "
                        "(API key from $CONSULT_LLM_API_KEY).")
    g.add_argument("--llm-model", default=e.llm_model, metavar="NAME", help="model name for --llm-url.")
    g.add_argument("--review-threshold", type=float, default=e.review_threshold,
                   help="fields below this confidence are flagged for review.")


def _extraction_settings(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {"backend": args.extractor, "review_threshold": args.review_threshold,
                           "tagger_model": args.tagger_model, "llm_url": args.llm_url, "llm_model": args.llm_model}
    return {k: v for k, v in out.items() if v is not None}


def settings_from_args(args: argparse.Namespace) -> Settings:
    compute = args.compute_type or ("float16" if args.device == "cuda" else "int8")
    return Settings(
        audio={"max_duration_s": args.max_duration, "stereo_channels": args.stereo_channels},
        asr={
            "model": args.asr_model, "language": args.language, "device": args.device,
            "compute_type": compute, "beam_size": args.beam_size, "batch_size": args.batch_size,
            "cpu_threads": args.cpu_threads, "allow_download": args.allow_download,
        },
        diarisation={
            "backend": args.diarisation, "pyannote_pipeline": args.pyannote_pipeline,
            "num_speakers": args.num_speakers, "min_speakers": args.min_speakers,
            "max_speakers": args.max_speakers, "device": args.device,
        },
        extraction=_extraction_settings(args),
        doctor_speaker=args.doctor_speaker,
    )


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="consult", description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv: debug).")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="audio -> report.json, bundle.json, transcript.txt, diarization.rttm",
                       description="Transcribe, diarise and extract medications from consultation recordings.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    r.add_argument("audio", nargs="+", type=Path,
                   help=f"audio files ({', '.join(SUPPORTED_SUFFIXES)}; any rate, mono or stereo).")
    r.add_argument("--out", "-o", type=Path, required=True, help="output folder (one sub-folder per input).")
    r.add_argument("--workers", type=int, default=1,
                   help="Ray workers for a batch of several files (default 1).")
    r.add_argument("--ray-address", default=os.environ.get("RAY_ADDRESS"),
                   help="address of an existing Ray cluster (default: an embedded local Ray for batches).")
    r.add_argument("--in-process", action="store_true",
                   help="process several files one after the other in this process, without Ray.")
    r.add_argument("--no-progress", action="store_true", help="no progress bar.")
    _add_model_args(r)

    x = sub.add_parser("extract", help="text transcript -> report.json, bundle.json (no audio)",
                       description="Extract medications from a text transcript: one turn per line, prefixed "
                                   "DOC:/PAT:, Doctor:/Patient:, Médecin :/Patient : (or plain text, roles "
                                   "unknown); lines starting with # are comments. Writes the same report.json "
                                   "and bundle.json as `consult run`, in OUT/<transcript stem>/.",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    x.add_argument("transcript", nargs="+", type=Path, help="text transcript files (UTF-8, or UTF-16 with a BOM).")
    x.add_argument("--out", "-o", type=Path, required=True, help="output folder (one sub-folder per input).")
    x.add_argument("--language", choices=["fr", "en"], default=None,
                   help="language of the transcript (default: guessed from its words, French when unsure).")
    _add_extraction_args(x)

    e = sub.add_parser("eval", help="score extraction (and speech) on a labelled set",
                       description="Score medication extraction on a labelled set (docs/labels.md): precision, "
                                   "recall and F1 for the drug and each field, whole-line exact match. Text mode "
                                   "(default) reads each consultation's transcript; --audio also runs the whole "
                                   "pipeline on the consultations that have a recording and adds WER and DER.",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    e.add_argument("labels", nargs="+", type=Path, help="labelled JSON files or folders of them.")
    e.add_argument("--audio", action="store_true",
                   help="also score through speech recognition, on the items that have an 'audio' file.")
    e.add_argument("--json", type=Path, default=None, help="write all scores (and per-item errors) here.")
    e.add_argument("--errors", action="store_true", help="print each consultation's misses and field errors.")
    e.add_argument("--by-language", action="store_true", help="also print one table per language.")
    _add_model_args(e)

    b = sub.add_parser("bench", help="speed and memory benchmark (stages, RTF, peak RSS, vs bare faster-whisper)",
                       description="Benchmark one recording in one process: model load time; wall time, real-time "
                                   "factor and peak RSS of every stage; our transcription against bare "
                                   "faster-whisper (same model folder, compute type, beam size, language, VAD, word "
                                   "timestamps), sequential and, with --batch-size N, batched. Without AUDIO, a "
                                   "--minutes long consultation is generated from the bundled fixtures of "
                                   "--language (French by default) in a temporary file.",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    b.add_argument("audio", nargs="?", type=Path, default=None,
                   help="audio file to benchmark (default: a generated consultation, see --minutes).")
    b.add_argument("--minutes", type=float, default=10.0,
                   help="length of the generated consultation when no AUDIO is given (default 10).")
    b.add_argument("--fixtures", type=Path, default=None,
                   help="folder of the <lang>_*.flac fixtures to build it from (default: audio_fixtures/).")
    b.add_argument("--json", type=Path, default=None, help="also write every measurement as JSON here.")
    _add_model_args(b)

    s = sub.add_parser("schema", help="print the JSON Schema of report.json")
    s.add_argument("--out", "-o", type=Path, default=None, help="write to this file instead of stdout.")

    sub.add_parser("serve", help="open the review page (Gradio) on 127.0.0.1",
                   description="Open the review page. Options are those of `python -m demo`: "
                               "--host (default 127.0.0.1), --port (7860), --lang fr|en, --auth user:password.",
                   add_help=False)
    return p


class _Progress:
    """tqdm progress over the stages of one file."""

    STAGES = ("audio", "diarisation", "transcription", "extraction")

    def __init__(self, name: str, enabled: bool) -> None:
        self.bar: Any = None
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=100 * len(self.STAGES), desc=name, unit="%", leave=False,
                            bar_format="{desc}: {percentage:3.0f}%|{bar}| {postfix}", file=sys.stderr)

    def __call__(self, stage: str, fraction: float) -> None:
        if self.bar is None:
            return
        idx = self.STAGES.index(stage) if stage in self.STAGES else 0
        target = int(100 * idx + 100 * max(0.0, min(1.0, fraction)))
        if target > self.bar.n:
            self.bar.update(target - self.bar.n)
        self.bar.set_postfix_str(stage)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _print_outcome(o: Any) -> None:
    name = Path(o.path).name
    if o.ok:
        print(f"ok      {name}: {o.medications} medication line(s), {o.audio_seconds:.0f} s of audio "
              f"in {o.seconds:.1f} s -> {o.out_dir}")
    else:
        print(f"FAILED  {name}: {o.error}", file=sys.stderr)


def cmd_run(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    paths: list[Path] = list(args.audio)
    args.out.mkdir(parents=True, exist_ok=True)
    show = not args.no_progress and sys.stderr.isatty()
    t0 = time.perf_counter()
    if len(paths) > 1 and not args.in_process:
        from workers import run_batch

        outcomes = run_batch(paths, args.out, settings, workers=max(1, args.workers),
                             address=args.ray_address, on_result=_print_outcome)
    else:
        from consult.pipeline import Pipeline, process_file

        pipeline = Pipeline(settings)
        outcomes = []
        for path in paths:
            bar = _Progress(path.name, show)
            try:
                o = process_file(pipeline, path, args.out, hook=bar)
            finally:
                bar.close()
            _print_outcome(o)
            outcomes.append(o)
    failed = [o for o in outcomes if not o.ok]
    print(f"{len(outcomes) - len(failed)} succeeded, {len(failed)} failed, "
          f"{time.perf_counter() - t0:.1f} s in all")
    return 1 if failed else 0


def cmd_extract(args: argparse.Namespace) -> int:
    from consult.extract.textinput import read_transcript_file
    from consult.pipeline import build_extractor, report_from_text, write_outputs

    settings = Settings(extraction=_extraction_settings(args))
    extractor = build_extractor(settings)
    args.out.mkdir(parents=True, exist_ok=True)
    failed = 0
    for path in args.transcript:
        try:
            text = read_transcript_file(path)
            report = report_from_text(text, name=path.name, extractor=extractor, settings=settings,
                                      language=args.language)
            out_dir = args.out / path.stem
            paths = write_outputs(report, out_dir)
            flagged = sum(m.needs_review for m in report.medications)
            print(f"ok      {path.name}: {len(report.medications)} medication line(s) ({flagged} to check), "
                  f"language {report.language} -> {paths['report'].parent}")
        except ConsultError as exc:
            failed += 1
            print(f"FAILED  {path.name}: {exc}", file=sys.stderr)
    print(f"{len(args.transcript) - failed} succeeded, {failed} failed")
    return 1 if failed else 0


def cmd_eval(args: argparse.Namespace) -> int:
    import json

    from consult.evaluation import der, read_rttm, wer
    from consult.extract.textinput import parse_text_transcript
    from consult.pipeline import build_extractor
    from consult.scoring import format_scores, load_labelled_set, score

    items = [item for path in args.labels for item in load_labelled_set(path)]
    settings = settings_from_args(args)
    extractor = build_extractor(settings)
    results: dict[str, Any] = {"labels": [str(p) for p in args.labels], "extractor": args.extractor}

    def report(title: str, preds: dict[str, Any], subset: list[Any]) -> dict[str, Any]:
        scores = score(subset, preds)
        print(format_scores(scores, title))
        if args.by_language:
            for lang in sorted({i.language for i in subset}):
                part = [i for i in subset if i.language == lang]
                print(format_scores(score(part, preds), f"{title}, {lang} ({len(part)} consultations)"))
        if args.errors:
            for r in scores.items:
                for msg in ([f"missed {d}" for d in r.missed] + [f"not labelled: {d}" for d in r.invented]
                            + r.field_errors):
                    print(f"  {r.id}: {msg}")
        return scores.to_dict()

    t0 = time.perf_counter()
    text_preds: dict[str, Any] = {}
    for item in items:
        segments, roles = parse_text_transcript(item.transcript_text())
        text_preds[item.id] = extractor.extract(segments, roles=roles, language=item.language)
    secs = time.perf_counter() - t0
    results["text"] = report(f"text transcripts ({len(items)} consultations, extraction {secs:.2f} s)",
                             text_preds, items)
    if args.audio:
        from consult.pipeline import Pipeline

        with_audio = [i for i in items if i.audio_path() is not None]
        if not with_audio:
            raise ConsultError("--audio: none of the labelled consultations has an 'audio' file")
        pipeline = Pipeline(settings, extractor=extractor)
        audio_preds: dict[str, Any] = {}
        speech: list[dict[str, Any]] = []
        for item in with_audio:
            rep = pipeline.process(item.audio_path(), language=item.language)  # type: ignore[arg-type]
            audio_preds[item.id] = rep.medications
            segments, _ = parse_text_transcript(item.transcript_text())
            row: dict[str, Any] = {"id": item.id, "language": item.language,
                                   "duration": rep.audio.duration if rep.audio else 0.0,
                                   "wer": wer(" ".join(s.text for s in segments),
                                              " ".join(s.text for s in rep.segments))}
            rttm = item.rttm_path()
            if rttm is not None:
                try:
                    row["der"] = der(read_rttm(rttm), rep.turns, collar=0.5)
                except ImportError:
                    row["der_note"] = "DER needs pyannote.metrics: pip install 'consult[pyannote]'"
            speech.append(row)
        results["audio"] = report(f"through speech recognition ({len(with_audio)} recordings)", audio_preds,
                                  with_audio)
        print("== speech (WER: jiwer on consult.evaluation.normalise_text; DER: pyannote.metrics, collar 0.5 s "
              "total = ±0.25 s)")
        for row in speech:
            extra = f"  DER {row['der']:.3f}" if "der" in row else ""
            print(f"  {row['id']:<28} {row['language']}  WER {row['wer']:.3f}{extra}")
        results["speech"] = speech
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
        print(f"wrote {args.json}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    import json

    from consult.bench import DEFAULT_FIXTURES, bench_audio, format_bench, run_bench

    settings = settings_from_args(args)
    with bench_audio(args.audio, minutes=args.minutes, language=args.language,
                     fixtures_dir=args.fixtures or DEFAULT_FIXTURES) as (path, sources):
        result = run_bench(path, settings, generated_from=sources)
    sys.stdout.write(format_bench(result))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result.to_dict(), indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from consult.pipeline import dump_schema

    text = dump_schema(args.out)
    if args.out is None:
        sys.stdout.write(text)
    else:
        print(f"wrote {args.out}")
    return 0


def cmd_serve(rest: list[str]) -> int:
    from demo.__main__ import main as demo_main

    return int(demo_main([a for a in rest if a != "--"]))


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "0")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "serve":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    level = logging.WARNING - 10 * min(2, args.verbose)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "run":
            return cmd_run(args)
        if args.command == "schema":
            return cmd_schema(args)
        if args.command == "extract":
            return cmd_extract(args)
        if args.command == "eval":
            return cmd_eval(args)
        if args.command == "serve":
            return cmd_serve(extra)
        if args.command == "bench":
            return cmd_bench(args)
    except ConsultError as exc:
        print(f"consult: error: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:  # pydantic validation of settings
        print(f"consult: invalid option: {exc}", file=sys.stderr)
        return 2
    parser.error(f"unknown command {args.command!r}")
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
