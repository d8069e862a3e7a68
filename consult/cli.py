"""Command line: ``consult run | jobs | watch | extract | eval | bench | schema | serve``.

The CLI only fills in ``Settings``; all behaviour lives in the library. Exit codes: 0 all inputs succeeded,
1 at least one input failed (the others are still written), 2 usage or set-up error.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
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
  bundle.json       FHIR R4B Bundle (collection): a MedicationRequest (draft / proposal until a clinician
                    approves it) for each drug prescribed, a MedicationStatement for each drug stopped or
                    only mentioned, Patient / Practitioner / Encounter placeholders, Device, Provenance
  transcript.txt    one line per speaker turn: [mm:ss] Doctor: ...
  diarization.rttm  who spoke when (RTTM)

Every output is an AI DRAFT that a clinician must check (numbers, units and drug names above all).
Nothing leaves this machine: models load from local paths or installed packages.
Environment: CONSULT_CACHE_DIR (joined model files, default ~/.cache/consult), CONSULT_ASR__MODEL, ...
Report store: every input is a job of the store (--store, default ~/.local/share/consult/consult.db): running
the same files with the same options again does no work for the finished ones ("already done"; their outputs
are written again from the store). A batch that was stopped, even with kill -9, resumes when run again: the
finished files are kept, the interrupted ones run once more. Several files go through Ray (one transcriber and
one diariser actor per --workers lane) unless --in-process. See also `consult jobs` and `consult watch`.
Exit codes: 0 every input succeeded; 1 at least one failed (the others are written); 2 usage/set-up error.
"""

JOBS_EPILOG = """\
Examples:
  consult jobs list --status failed
  consult jobs show 3f9c0a1b2c3d4e5f6a7b8c9d          fields and history (created, started, done, reviewed...)
  consult jobs retry --all-failed                     then: consult run --resume --out DIR
A failed job is not run again by `consult run` until it is retried here: retrying makes sense after a fix (a
repaired file, more memory), not for a file that is corrupt.
"""

WATCH_EPILOG = """\
For each file NAME in INBOX, in OUTBOX:
  <job id>/bundle.json, <job id>/report.json   written first, atomically (temporary file, then rename)
  NAME.done.json                               then this manifest: job_id, report, bundle, counts
  NAME.error.json                              instead, when the file failed: error
Poll for the manifests. Names starting with "." and other suffixes are ignored: upload as .NAME.wav or
NAME.wav.part and rename when complete. The same content under another name is processed once.
"""


def _add_model_args(p: argparse.ArgumentParser) -> None:
    a = AsrOptions()
    g = p.add_argument_group("transcription (faster-whisper)")
    g.add_argument("--asr-model", default=a.model, metavar="NAME_OR_PATH",
                   help="'base' = bundled multilingual Whisper base (default); a local CTranslate2 folder "
                        "(e.g. a downloaded large-v3-turbo); or a model name with --allow-download.")
    g.add_argument("--language", default=a.language, choices=["auto", "fr", "en"],
                   help="auto (default): detected on the speech, French when unsure (English needs "
                        f"{a.english_threshold * 100:.0f}%% of the French+English probability); fr or en to force.")
    g.add_argument("--device", default=a.device, choices=["cpu", "cuda", "auto"],
                   help="device for the models (default cpu).")
    g.add_argument("--compute-type", default=None,
                   help="CTranslate2 compute type (default int8 on CPU, float16 on CUDA).")
    g.add_argument("--beam-size", type=int, default=a.beam_size)
    g.add_argument("--batch-size", type=int, default=a.batch_size,
                   help="batched transcription (faster-whisper BatchedInferencePipeline); 0 = sequential.")
    g.add_argument("--cpu-threads", type=int, default=a.cpu_threads, help="0 = all cores.")
    g.add_argument("--allow-download", action="store_true",
                   help="allow downloading a named Whisper model, or a pyannote pipeline given by hub id (with "
                        "the token in $HF_TOKEN), from the Hugging Face hub, once, into the cache (off by default).")
    d = DiarisationOptions()
    g = p.add_argument_group("diarisation")
    g.add_argument("--diarisation", "--diarization", dest="diarisation", default=d.backend,
                   choices=["offline", "pyannote"],
                   help="offline = Silero VAD + resemblyzer + clustering (bundled, default); "
                        "pyannote = a local pyannote.audio pipeline (--pyannote-pipeline).")
    g.add_argument("--pyannote-pipeline", metavar="PATH_OR_ID",
                   help="folder (or config.yaml) of a local pyannote pipeline, e.g. a downloaded "
                        "speaker-diarization-community-1; or the hub id pyannote/speaker-diarization-community-1 "
                        "with --allow-download.")
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
    g.add_argument("--llm-pseudonymise", action="store_true", default=e.llm_pseudonymise,
                   help="send the transcript to --llm-url with names, dates, phone and social security numbers and "
                        "addresses replaced by placeholders (mapped back in the answer).")
    g.add_argument("--review-threshold", type=float, default=e.review_threshold,
                   help="a flagged line names its drug and numbers below this certainty among its review "
                        "reasons (whether a line is flagged is decided by its calibrated risk).")


def _extraction_settings(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {"backend": args.extractor, "review_threshold": args.review_threshold,
                           "tagger_model": args.tagger_model, "llm_url": args.llm_url, "llm_model": args.llm_model,
                           "llm_pseudonymise": args.llm_pseudonymise}
    return {k: v for k, v in out.items() if v is not None}


def _add_batch_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("report store and workers")
    g.add_argument("--store", default=None, metavar="URL",
                   help="report store: a SQLite file path, sqlite:///path or postgresql://user@host/db (default "
                        "$CONSULT_STORE, else ~/.local/share/consult/consult.db; see docs/store.md).")
    g.add_argument("--workers", type=int, default=1,
                   help="Ray worker lanes (one transcriber and one diariser actor each; default 1).")
    g.add_argument("--ray-address", default=os.environ.get("RAY_ADDRESS"),
                   help="address of an existing Ray cluster (default $RAY_ADDRESS, else an embedded local Ray "
                        "started and stopped by this command). Input files must be on storage every node sees.")
    g.add_argument("--cpus-per-worker", type=float, default=1.0,
                   help="logical CPUs one worker lane asks Ray for, split between its transcriber and diariser "
                        "(default 1).")
    g.add_argument("--gpus-per-worker", type=float, default=None,
                   help="GPU share of one lane when --device cuda (default 0.5: two lanes per GPU).")
    g.add_argument("--max-attempts", type=int, default=2,
                   help="attempts for a file whose worker died or ran out of memory (default 2); a corrupt or "
                        "unreadable file fails at once.")


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
            "max_speakers": args.max_speakers, "device": args.device, "allow_download": args.allow_download,
        },
        extraction=_extraction_settings(args),
        doctor_speaker=args.doctor_speaker,
    )


def _add_bundle_type_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--bundle-type", choices=["collection", "transaction"], default="collection",
                   help="bundle.json as a FHIR collection (default) or a transaction (each entry a POST, ready "
                        "for a FHIR server).")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="consult", description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv: debug).")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="audio -> report.json, bundle.json, transcript.txt, diarization.rttm",
                       description="Transcribe, diarise and extract medications from consultation recordings.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    r.add_argument("audio", nargs="*", type=Path,
                   help=f"audio files ({', '.join(SUPPORTED_SUFFIXES)}; any rate, mono or stereo).")
    r.add_argument("--out", "-o", type=Path, required=True, help="output folder (one sub-folder per input).")
    r.add_argument("--resume", action="store_true",
                   help="also process every job queued in the report store (interrupted batches, `consult jobs "
                        "retry`); with no AUDIO, only those. Use the options the jobs were submitted with.")
    r.add_argument("--in-process", action="store_true",
                   help="process the files one after the other in this process, without Ray (a file that crashes "
                        "the process stops the batch; run again to resume).")
    r.add_argument("--no-progress", action="store_true", help="no progress bar.")
    r.add_argument("--no-store", action="store_true",
                   help="a one-off run: the jobs live in a private temporary store deleted at the end (nothing "
                        "is kept but the files written to --out; no resume after a crash).")
    _add_bundle_type_arg(r)
    _add_batch_args(r)
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
    _add_bundle_type_arg(x)
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
    e.add_argument("--reports", type=Path, default=None, metavar="DIR",
                   help="with --audio: score the report.json that `consult run --out DIR` wrote for each recording "
                        "(DIR/<recording stem>/report.json) instead of running the pipeline again.")
    e.add_argument("--re-extract", action="store_true",
                   help="with --reports: extract the medications again from each stored report's segments and "
                        "speakers with this version's extractor (its calibrated confidence and review flags), "
                        "instead of scoring the lines stored in the report.")
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

    lv = sub.add_parser("live", help="live transcript and medication lines while the consultation goes on",
                        description="Transcribe as the audio comes (local agreement over successive decodes of the "
                                    "growing buffer), print each committed turn and each medication line as it is "
                                    "heard, then run the whole pipeline on the recording and write the same outputs "
                                    "as `consult run` in OUT/<name>/ (recording.flac too when the audio came from "
                                    "the microphone or stdin).",
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    lv.add_argument("audio", nargs="?", default=None,
                    help="an audio file, or - for stdin (a 16-bit PCM WAV stream, or raw 16-bit mono PCM at "
                         "--sample-rate); none with --mic.")
    lv.add_argument("--out", "-o", type=Path, required=True, help="output folder (OUT/<name>/ per consultation).")
    lv.add_argument("--realtime", action="store_true",
                    help="play a file at real-time pace, as if spoken now (default: as fast as decoding allows).")
    lv.add_argument("--mic", action="store_true", help="read the microphone (Ctrl+C ends the consultation).")
    lv.add_argument("--mic-device", default=None, help="sounddevice input device (name or index).")
    lv.add_argument("--sample-rate", type=int, default=16000, help="rate of raw PCM on stdin (default 16000).")
    lv.add_argument("--step", type=float, default=0.5,
                    help="decode again after this much new audio (s, default %(default)s).")
    lv.add_argument("--no-final", action="store_true",
                    help="stop after the live pass (no final pipeline run, no output files but recording.flac).")
    _add_bundle_type_arg(lv)
    _add_model_args(lv)

    s = sub.add_parser("schema", help="print the JSON Schema of report.json")
    s.add_argument("--out", "-o", type=Path, default=None, help="write to this file instead of stdout.")

    sub.add_parser("serve", help="open the review page (Gradio) on 127.0.0.1",
                   description="Open the review page. Options are those of `python -m demo`: "
                               "--host (default 127.0.0.1), --port (7860), --lang fr|en, --auth user:password.",
                   add_help=False)

    j = sub.add_parser("jobs", help="list, show and retry the jobs of the report store",
                       description="The jobs of the report store (docs/store.md). A job is one audio file run with "
                                   "one set of options; its id comes from the audio content and the options.",
                       epilog=JOBS_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    jsub = j.add_subparsers(dest="jobs_command", required=True)
    jl = jsub.add_parser("list", help="jobs, newest first")
    jl.add_argument("--status", choices=["queued", "running", "done", "failed"], default=None)
    jl.add_argument("--review-status", choices=["to_review", "approved", "rejected", "partly_approved"],
                    default=None)
    jl.add_argument("--limit", type=int, default=50, help="at most this many (default 50; 0 = all).")
    jl.add_argument("--json", action="store_true", help="one JSON object per line instead of a table.")
    js = jsub.add_parser("show", help="one job: its fields and history (no transcript text)")
    js.add_argument("job_id")
    js.add_argument("--json", action="store_true", help="print JSON.")
    jr = jsub.add_parser("retry", help="queue failed jobs again (then: consult run --resume --out DIR)")
    jr.add_argument("job_ids", nargs="*", metavar="JOB_ID")
    jr.add_argument("--all-failed", action="store_true", help="every failed job.")
    jp = jsub.add_parser("purge", help="delete jobs: report, reviews, history and the audio consult kept",
                         description="Delete jobs for good: their report, reviews, history and the copy of the "
                                     "recording that consult kept (the review page's and the API's; your own input "
                                     "files are never touched). An audit entry records the purge, with no content. "
                                     "Exports written with --out are yours to delete.")
    jp.add_argument("job_ids", nargs="*", metavar="JOB_ID")
    jp.add_argument("--older-than", default=None, metavar="AGE",
                    help="every job not updated for AGE (e.g. 30d, 12h, 2w): the retention setting.")
    for q in (jl, js, jr, jp):
        q.add_argument("--store", default=None, metavar="URL",
                       help="report store (default $CONSULT_STORE, else ~/.local/share/consult/consult.db).")

    w = sub.add_parser("watch", help="process audio files dropped in a folder (for integrators)",
                       description="Watch INBOX: each audio file, once complete (size and time unchanged for "
                                   "--settle seconds), becomes a job of the report store; its report.json and FHIR "
                                   "bundle.json are written to OUTBOX/<job id>/, then a manifest "
                                   "OUTBOX/<file name>.done.json (or .error.json with the reason). Files are never "
                                   "moved or deleted. Stop with Ctrl-C or SIGTERM (files in flight finish; kill -9 "
                                   "is safe too: the next start resumes).",
                       epilog=WATCH_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    w.add_argument("inbox", type=Path, help="folder to watch (not its sub-folders).")
    w.add_argument("--out", "-o", dest="outbox", type=Path, required=True, help="outbox folder.")
    w.add_argument("--once", action="store_true", help="scan, wait --settle seconds, process what is complete, exit.")
    w.add_argument("--interval", type=float, default=2.0, help="seconds between scans (default 2).")
    w.add_argument("--settle", type=float, default=2.0,
                   help="a file is complete when unchanged for this many seconds (default 2).")
    w.add_argument("--in-process", action="store_true",
                   help="no Ray: one pipeline in this process (a file that crashes it stops the watcher).")
    _add_batch_args(w)
    _add_model_args(w)

    ac = sub.add_parser("accounts", help="accounts of the review page and the API (hashed passwords, roles)",
                        description="One file of accounts (name:role:scrypt hash, mode 0600) for `python -m demo "
                                    "--accounts` and `consult api --accounts`. Roles: doctor (transcribe, edit, "
                                    "sign), pharmacist (edit, sign), admin (transcribe, purge). The password is "
                                    "asked on the terminal, or read from the first line of standard input.")
    acs = ac.add_subparsers(dest="accounts_command", required=True)
    aa = acs.add_parser("add", help="add or replace an account")
    aa.add_argument("name")
    aa.add_argument("--role", choices=["doctor", "pharmacist", "admin"], required=True)
    al = acs.add_parser("list", help="names and roles")
    for q in (aa, al):
        q.add_argument("--file", type=Path, default=None,
                       help="accounts file (default $CONSULT_ACCOUNTS, else ~/.config/consult/accounts).")

    a = sub.add_parser("api", help="HTTP API for integrators: send consultations, fetch FHIR bundles",
                       description="Serve the consult HTTP API (FastAPI, uvicorn): POST /v1/consultations (audio) "
                                   "-> job; GET its status, bundle (application/fhir+json), report, transcript; "
                                   "DELETE it. Jobs live in the report store and run on the same workers as "
                                   "`consult run`; a restart resumes them. Every request needs a bearer token. "
                                   "See the README's 'Integrating' section and docs/openapi.json.",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    a.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1; another address needs --tokens-file).")
    a.add_argument("--port", type=int, default=8000, help="port (default 8000).")
    a.add_argument("--tokens-file", type=Path, default=None,
                   help="bearer tokens, one 'name:token' per line (default: a random token for this launch, "
                        "printed and written to DATA_DIR/api-token; loopback only).")
    a.add_argument("--data-dir", type=Path, default=None,
                   help="where uploaded audio is kept until its job is deleted (default "
                        "~/.local/share/consult/api).")
    a.add_argument("--max-upload-mb", type=float, default=500.0, help="largest upload accepted (default 500 MiB).")
    a.add_argument("--max-live", type=int, default=2,
                   help="live consultations (WebSocket /v1/live) at once (default 2; each decodes continuously).")
    a.add_argument("--allowed-host", action="append", default=[], metavar="NAME",
                   help="a Host name clients use besides the loopback names and --host (e.g. a TLS proxy's); "
                        "other Host headers are refused. Repeat for several.")
    a.add_argument("--accounts", type=Path, default=os.environ.get("CONSULT_ACCOUNTS") or None,
                   help="also accept account logins (HTTP Basic) from this file, with their roles: a pharmacist may "
                        "read, not delete (default $CONSULT_ACCOUNTS; see consult accounts).")
    a.add_argument("--in-process", action="store_true", help="no Ray: one pipeline in the server process.")
    a.add_argument("--openapi", type=Path, default=None, metavar="FILE",
                   help="write the OpenAPI document to FILE and exit (docs/openapi.json).")
    _add_batch_args(a)
    _add_model_args(a)
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


def _executors(args: argparse.Namespace, settings: Settings, *, single_in_process: bool,
               file_hook: Any = None) -> Any:
    """The lazily built executor of a batch command (Ray unless --in-process; see workers.executors)."""
    from workers.executors import ExecutorOptions, LazyExecutor

    options = ExecutorOptions(in_process=args.in_process, workers=args.workers, ray_address=args.ray_address,
                              cpus_per_worker=args.cpus_per_worker, gpus_per_worker=args.gpus_per_worker)
    return LazyExecutor(settings, options, single_in_process=single_in_process, file_hook=file_hook)


def _outcome_printer(progress: Any) -> Any:
    def show(o: Any) -> None:
        dirs = ", ".join(o.out_dirs)
        job = f"job {o.job_id}" if o.job_id else "no job"
        if o.status == "done":
            progress.write(f"ok      {o.name}: {o.medications} medication line(s), {o.audio_seconds:.0f} s of audio "
                           f"in {o.seconds:.1f} s -> {dirs}")
        elif o.status == "already_done":
            progress.write(f"ok      {o.name}: already done ({job}), {o.medications} medication line(s) -> {dirs}")
        elif o.status == "failed":
            progress.write(f"FAILED  {o.name}: {o.error}", err=True)
        elif o.status == "failed_earlier":
            progress.write(f"FAILED  {o.name}: failed in an earlier run ({job}): {o.error} -- to try again: "
                           f"consult jobs retry {o.job_id}, then consult run --resume", err=True)
        else:  # busy, skipped
            progress.write(f"{o.status:<7} {o.name}: {o.error} ({job})", err=True)

    return show


def _retry_printer(progress: Any, max_attempts: int) -> Any:
    def show(job_id: str, name: str, error: str, attempt: int) -> None:
        progress.write(f"retry   {name}: attempt {attempt} of {max_attempts} failed ({error}); queued again",
                       err=True)

    return show


def _open_store(url: str | None) -> Any:
    from consult.store import ReportStore

    return ReportStore.open(url)


def cmd_run(args: argparse.Namespace) -> int:
    from workers.batch import BatchProgress, StemExporter, run_jobs

    if not args.audio and not args.resume:
        print("consult: error: give audio files, or --resume to process the jobs queued in the store",
              file=sys.stderr)
        return 2
    if args.workers < 1 or args.max_attempts < 1:
        print("consult: error: --workers and --max-attempts must be at least 1", file=sys.stderr)
        return 2
    if args.no_store and (args.resume or args.store):
        print("consult: error: --no-store keeps nothing to resume: drop --resume and --store", file=sys.stderr)
        return 2
    settings = settings_from_args(args)
    args.out.mkdir(parents=True, exist_ok=True)
    show = not args.no_progress and sys.stderr.isatty()
    t0 = time.perf_counter()
    scratch = tempfile.TemporaryDirectory(prefix="consult-run-") if args.no_store else None
    store = _open_store(str(Path(scratch.name) / "consult.db") if scratch is not None else args.store)
    print("report store: none (--no-store: nothing is kept after this run)" if scratch is not None
          else f"report store: {store.url}")
    progress = BatchProgress(enabled=show)
    single = len(args.audio) <= 1 and not args.resume
    executors = _executors(args, settings, single_in_process=True,
                           file_hook=(lambda name: _Progress(name, show)) if single else None)
    try:
        outcomes = run_jobs(store, settings, executors, paths=args.audio, resume=args.resume,
                            export=StemExporter(args.out, bundle_type=args.bundle_type), max_attempts=args.max_attempts,
                            on_outcome=_outcome_printer(progress),
                            on_retry=_retry_printer(progress, args.max_attempts), progress=progress)
        queued_elsewhere = store.counts()["queued"]
    except KeyboardInterrupt:
        print("\nconsult: interrupted; the finished files are kept, run the same command again to resume",
              file=sys.stderr)
        return 130
    finally:
        executors.close()
        store.close()
        if scratch is not None:
            scratch.cleanup()
    ok = sum(o.ok for o in outcomes)
    failed = sum(o.status in ("failed", "failed_earlier") for o in outcomes)
    already = sum(o.status == "already_done" for o in outcomes)
    other = len(outcomes) - ok - failed
    line = f"{ok} succeeded, {failed} failed, {time.perf_counter() - t0:.1f} s in all"
    if already:
        line += f" ({already} already done)"
    if other:
        line += f"; {other} not processed (busy elsewhere or queued with other options)"
    print(line)
    if queued_elsewhere and not args.resume:
        print(f"{queued_elsewhere} other job(s) are queued in the store: consult run --resume --out DIR")
    return 1 if failed or other else 0


def _format_details(details: dict[str, Any], actor: str | None = None) -> str:
    parts = []
    for key, value in details.items():
        if key == "worker" and value == actor:
            continue
        if key == "decisions" and isinstance(value, list):
            parts.append(f"{len(value)} decision(s)")
        elif isinstance(value, (dict, list)):
            parts.append(f"{key}: {len(value)} item(s)")
        elif value is not None:
            parts.append(f"{key}: {value}")
    return ", ".join(parts)


def _job_dict(job: Any) -> dict[str, Any]:
    from dataclasses import asdict

    data = asdict(job)
    for key in ("created_at", "updated_at"):
        data[key] = data[key].isoformat(timespec="seconds")
    return data


def parse_age(text: str) -> float:
    """``30d``, ``12h``, ``2w`` (or a bare number of days) as days."""
    import re

    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([hdw]?)\s*", text or "")
    if m is None:
        raise ValueError(f"age {text!r}: write e.g. 30d, 12h or 2w")
    return float(m.group(1)) * {"h": 1 / 24, "d": 1.0, "w": 7.0, "": 1.0}[m.group(2)]


def _purge(store: Any, args: argparse.Namespace) -> int:
    from consult.store import StoreError, discard_kept_audio

    if not args.job_ids and args.older_than is None:
        print("consult: error: give JOB_ID(s) or --older-than AGE", file=sys.stderr)
        return 2
    actor = _whoami()
    errors = 0
    removed = []
    for jid in args.job_ids:
        try:
            job = store.purge(jid, actor=actor)
        except StoreError as exc:
            errors += 1
            print(f"consult: error: {exc}", file=sys.stderr)
            continue
        if job is None:
            errors += 1
            print(f"consult: error: no job {jid} in {store.url}", file=sys.stderr)
            continue
        removed.append(job)
    if args.older_than is not None:
        removed += store.purge_older_than(parse_age(args.older_than), actor=actor)
    for job in removed:
        audio = discard_kept_audio(job)
        print(f"purged  {job.id}" + ("  (and its kept audio)" if audio is not None else ""))
    print(f"{len(removed)} job(s) purged")
    return 1 if errors else 0


def cmd_jobs(args: argparse.Namespace) -> int:
    import json

    from consult.store import StoreError

    store = _open_store(args.store)
    try:
        if args.jobs_command == "list":
            jobs = store.list(status=args.status, review_status=args.review_status,
                              limit=None if args.limit <= 0 else args.limit)
            if args.json:
                for job in jobs:
                    print(json.dumps(_job_dict(job), ensure_ascii=False))
                return 0
            counts = store.counts()
            print(f"report store: {store.url}")
            print(" · ".join(f"{k} {v}" for k, v in counts.items()))
            if jobs:
                print(f"{'JOB ID':<24}  {'STATUS':<7} {'REVIEW':<15} {'ATT':>3} {'MEDS':>4} {'AUDIO':>7}  "
                      f"{'UPDATED (UTC)':<19}  INPUT")
            for job in jobs:
                print(f"{job.id:<24}  {job.status:<7} {job.review_status or '-':<15} {job.attempts:>3} "
                      f"{job.medications:>4} {job.audio_seconds:>6.0f}s  "
                      f"{job.updated_at.strftime('%Y-%m-%d %H:%M:%S')}  {job.input_name}")
            return 0
        if args.jobs_command == "show":
            job = store.get(args.job_id)
            if job is None:
                print(f"consult: error: no job {args.job_id} in {store.url}", file=sys.stderr)
                return 1
            history = store.history(job.id)
            if args.json:
                print(json.dumps({"job": _job_dict(job), "history": [
                    {"kind": e.kind, "actor": e.actor, "at": e.at.isoformat(timespec="seconds"),
                     "details": e.details} for e in history]}, indent=2, ensure_ascii=False))
                return 0
            rows = [
                ("job", job.id), ("input", f"{job.input_name} ({job.input_path})"), ("audio sha256", job.audio_sha256),
                ("status", f"{job.status}, {job.attempts} attempt(s)"), ("worker", job.worker or "-"),
                ("error", job.error or "-"), ("review", job.review_status or "-"),
                ("report", f"language {job.language or '-'}, {job.medications} medication line(s), "
                           f"{job.needs_review} to review, {job.audio_seconds:.0f} s of audio"
                 if job.status == "done" else "-"),
                ("created", job.created_at.isoformat(timespec="seconds")),
                ("updated", job.updated_at.isoformat(timespec="seconds")),
            ]
            for key, value in rows:
                print(f"{key:<13} {value}")
            print("history:")
            for e in history:
                who = f" by {e.actor}" if e.actor else ""
                details = _format_details(e.details, e.actor)
                tail = f"  ({details})" if details else ""
                print(f"  {e.at.isoformat(timespec='seconds')}  {e.kind:<9}{who}{tail}")
            return 0
        if args.jobs_command == "purge":
            return _purge(store, args)
        # retry
        if not args.job_ids and not args.all_failed:
            print("consult: error: give JOB_ID(s) or --all-failed", file=sys.stderr)
            return 2
        ids = list(args.job_ids)
        if args.all_failed:
            ids += [j.id for j in store.list(status="failed", limit=None) if j.id not in ids]
        actor = _whoami()
        errors = 0
        for jid in ids:
            try:
                store.retry(jid, actor=actor)
                print(f"queued  {jid}")
            except StoreError as exc:
                errors += 1
                print(f"consult: error: {exc}", file=sys.stderr)
        queued = len(ids) - errors
        print(f"{queued} job(s) queued again" + (": process them with consult run --resume --out DIR "
                                                 "(or a running consult watch picks up its own files)"
                                                 if queued else ""))
        return 1 if errors else 0
    finally:
        store.close()


def _whoami() -> str:
    import getpass
    import socket

    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in some containers
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def cmd_watch(args: argparse.Namespace) -> int:
    import signal
    import threading

    from workers.batch import BatchProgress
    from workers.watch import Watcher

    if args.workers < 1 or args.max_attempts < 1:
        print("consult: error: --workers and --max-attempts must be at least 1", file=sys.stderr)
        return 2
    settings = settings_from_args(args)
    store = _open_store(args.store)
    progress = BatchProgress(enabled=False)
    executors = _executors(args, settings, single_in_process=False)
    stop = threading.Event()
    failed = 0

    def count(o: Any) -> None:
        nonlocal failed
        failed += o.status in ("failed", "failed_earlier")
        _outcome_printer(progress)(o)

    def on_signal(signum: int, frame: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        print("consult watch: stopping after the files in flight (again to stop now)", file=sys.stderr)
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        watcher = Watcher(args.inbox, args.outbox, store, settings, executors, settle_s=args.settle,
                          max_attempts=args.max_attempts, on_outcome=count,
                          on_retry=_retry_printer(progress, args.max_attempts))
        print(f"report store: {store.url}")
        print(f"watching {args.inbox} -> {args.outbox}" + (" (once)" if args.once else ""), flush=True)
        n = watcher.run(once=args.once, interval_s=args.interval, stop=stop)
        print(f"{n} file(s) processed, {failed} failed")
    except KeyboardInterrupt:
        print("consult watch: stopped; files in flight are queued again and taken at the next start",
              file=sys.stderr)
        return 130
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        executors.close()
        store.close()
    return 1 if args.once and failed else 0


def cmd_extract(args: argparse.Namespace) -> int:
    from consult.backends.factory import build_extractor
    from consult.extract.textinput import read_transcript_file
    from consult.outputs import write_outputs
    from consult.pipeline import report_from_text

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
            paths = write_outputs(report, out_dir, bundle_type=args.bundle_type)
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

    from consult.backends.factory import build_extractor
    from consult.evaluation import der, read_rttm, wer
    from consult.extract.textinput import parse_text_transcript
    from consult.roles import role_map
    from consult.scoring import format_scores, load_labelled_set, score
    from schemas import ConsultationReport

    items = [item for path in args.labels for item in load_labelled_set(path)]
    if args.re_extract and args.reports is None:
        raise ConsultError("--re-extract needs --audio --reports DIR (stored reports to extract again)")
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
        pipeline = Pipeline(settings, extractor=extractor) if args.reports is None else None
        audio_preds: dict[str, Any] = {}
        speech: list[dict[str, Any]] = []
        for item in with_audio:
            if pipeline is not None:
                # the language as `consult run` would decide it (--language, default auto), not the label's
                rep = pipeline.process(item.audio_path())  # type: ignore[arg-type]
            else:
                stored = args.reports / item.audio_path().stem / "report.json"  # type: ignore[union-attr]
                if not stored.exists():
                    raise ConsultError(f"--reports: no {stored} (consult run {item.audio_path()} --out "
                                       f"{args.reports})")
                rep = ConsultationReport.model_validate_json(stored.read_text(encoding="utf-8"))
                if args.re_extract:
                    rep = rep.model_copy(update={"medications": extractor.extract(
                        rep.segments, roles=role_map(rep.speakers), language=rep.language,
                        role_confidence={s.id: s.role_confidence for s in rep.speakers
                                         if s.role_confidence is not None})})
            audio_preds[item.id] = rep.medications
            segments, _ = parse_text_transcript(item.transcript_text())
            row: dict[str, Any] = {"id": item.id, "language": item.language, "detected": rep.language,
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
            lang = row["language"] if row["detected"] == row["language"] else f"{row['language']}->{row['detected']}"
            print(f"  {row['id']:<28} {lang:<6} WER {row['wer']:.3f}{extra}")
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


def cmd_accounts(args: argparse.Namespace) -> int:
    from consult.accounts import ACCOUNTS_ENV, add_account

    path = args.file or Path(os.environ.get(ACCOUNTS_ENV) or os.path.expanduser("~/.config/consult/accounts"))
    if args.accounts_command == "list":
        from consult.accounts import Accounts

        for account in Accounts.load(path).accounts.values():
            print(f"{account.name}\t{account.role}")
        return 0
    if sys.stdin.isatty():
        import getpass

        password = getpass.getpass(f"password for {args.name}: ")
        if getpass.getpass("again: ") != password:
            print("consult: error: the two passwords differ", file=sys.stderr)
            return 2
    else:
        password = sys.stdin.readline().rstrip("\n")
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    account = add_account(path, args.name, args.role, password)
    print(f"account {account.name} ({account.role}) written to {path}")
    return 0


def cmd_api(args: argparse.Namespace) -> int:
    from consult.api import ApiOptions, JobRunner, create_app, load_tokens, make_token_file, openapi_json
    from consult.outputs import atomic_write
    from consult.security import allowed_hosts, is_loopback

    if args.openapi is not None:
        atomic_write(args.openapi, openapi_json())
        print(f"OpenAPI document written to {args.openapi}")
        return 0
    if not is_loopback(args.host) and args.tokens_file is None:
        print(f"consult: error: listening on {args.host} (not loopback) needs --tokens-file", file=sys.stderr)
        return 2
    import uvicorn

    from workers.executors import ExecutorOptions, LazyExecutor

    settings = settings_from_args(args)
    # Absolute: the jobs keep the audio's path, and a restarted server may run from another folder.
    data_dir = (args.data_dir or Path(os.path.expanduser("~/.local/share/consult/api"))).resolve()
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    if args.tokens_file is not None:
        tokens = load_tokens(args.tokens_file)
    else:
        token, path = make_token_file(data_dir)
        tokens = load_tokens(path)
        print(f"API token for this launch (also in {path}): {token}", flush=True)
    options = ExecutorOptions(in_process=args.in_process, workers=args.workers, ray_address=args.ray_address,
                              cpus_per_worker=args.cpus_per_worker, gpus_per_worker=args.gpus_per_worker)
    store = _open_store(args.store)
    runner = JobRunner(store, settings, lambda s, hook: LazyExecutor(s, options, file_hook=hook),
                       max_attempts=args.max_attempts)
    api_options = ApiOptions(data_dir, int(args.max_upload_mb * 1024 * 1024), args.max_attempts,
                             allowed_hosts(args.host, args.allowed_host), max_live=max(1, args.max_live))
    from consult.accounts import Accounts

    accounts = Accounts.load(args.accounts) if args.accounts else None
    app = create_app(store, runner, tokens, api_options, accounts)
    print(f"report store: {store.url}")
    print(f"consult API on http://{args.host}:{args.port}/v1 (OpenAPI: /openapi.json)", flush=True)
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=args.verbose > 0)
    finally:
        store.close()
    return 0


class _LivePrinter:
    """``consult live``'s output: committed words as they come (a line per turn), medication lines between."""

    def __init__(self, out: Any = None) -> None:
        self.out = out or sys.stdout
        self.segment: int | None = None
        self.session: Any = None  # the LiveSession: its language, once decided, words the posology

    def __call__(self, event: Any) -> None:
        from consult.live import RevisionEvent, TextEvent
        from consult.outputs import format_mmss
        from consult.plan import describe

        if isinstance(event, RevisionEvent):  # the utterance read again whole: its turns as they now read
            for seg in event.segments:
                self.out.write(f"\n✎ [{format_mmss(seg.start)}] {seg.text}")
            self.segment = None
        elif isinstance(event, TextEvent):
            if event.segment_id != self.segment:
                prefix = "\n" if self.segment is not None else ""
                self.out.write(f"{prefix}[{format_mmss(event.words[0].start)}] ")
                self.segment = event.segment_id
            else:
                self.out.write(" ")
            self.out.write(event.text)
        else:
            line = event.line
            mark = {"added": "+", "updated": "~", "removed": "-"}[event.kind]
            strength = f" {line.strength.value:g} {line.strength.unit}" if line.strength is not None else ""
            lang = getattr(self.session, "language", None) or "fr"
            posology = describe(line, lang) if event.kind != "removed" else ""
            check = ""
            if event.kind != "removed" and line.needs_review:
                check = " (à vérifier)" if lang == "fr" else " (to check)"
            self.out.write(f"\n    {mark} {line.name}{strength} [{line.status}]"
                           f"{(' — ' + posology) if posology else ''}{check}")
            self.segment = None if self.segment is None else -1
        self.out.flush()


def cmd_live(args: argparse.Namespace) -> int:
    import threading
    from datetime import datetime

    from consult.backends.factory import build_extractor, build_transcriber
    from consult.live import LiveOptions, LiveSession, feed_fast, feed_realtime, file_chunks, mic_chunks, stream_chunks
    from consult.outputs import write_outputs
    from consult.pipeline import Pipeline

    if args.mic == (args.audio is not None):
        print("consult: error: give an audio file (or - for stdin), or --mic", file=sys.stderr)
        return 2
    source = None if args.mic or args.audio == "-" else Path(args.audio)
    if source is not None and not source.is_file():
        print(f"consult: error: {source}: no such file", file=sys.stderr)
        return 2
    if args.mic:
        from consult.live import microphone

        microphone()  # before the models load: say at once what is missing
    settings = settings_from_args(args)
    name = source.stem if source is not None else \
        f"{'microphone' if args.mic else 'stdin'}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
    out_dir = args.out / name
    recording = None if source is not None else out_dir / "recording.flac"
    transcriber = build_transcriber(settings)
    extractor = build_extractor(settings)
    printer = _LivePrinter()
    session = LiveSession(transcriber, extractor, language=settings.asr.language,
                          english_threshold=settings.asr.english_threshold, options=LiveOptions(step_s=args.step),
                          asr=settings.asr,
                          recording=recording, on_event=printer)
    printer.session = session
    print(f"live: {'microphone' if args.mic else source or 'stdin'} (Ctrl+C ends the consultation)", flush=True)
    stop = threading.Event()
    try:
        if source is not None:
            chunks = file_chunks(source, max_duration=settings.audio.max_duration_s)
            if args.realtime:
                feed_realtime(session, chunks)
            else:
                feed_fast(session, chunks)
        else:
            session.start()
            feed = mic_chunks(device=args.mic_device, stop=stop) if args.mic else None
            if feed is not None:
                for chunk in feed:
                    session.feed(chunk)
            else:
                for chunk, rate in stream_chunks(sys.stdin.buffer, sample_rate=args.sample_rate):
                    session.feed(chunk, rate)
    except KeyboardInterrupt:
        stop.set()
        print("\nlive: stopped", file=sys.stderr)
    except ValueError as exc:
        raise ConsultError(str(exc)) from exc
    session.close_input()
    session.wait()
    print()
    stats = session.stats()
    print(f"live: {stats['fed_s']:.1f} s heard, {stats['decodes']} decodes, {len(session.snapshot().cards)} "
          f"medication line(s)", flush=True)
    if session.error:
        print(f"consult: live decoding failed ({session.error}); the final pass runs on what was recorded",
              file=sys.stderr)
    audio_path = source or session.recording
    if args.no_final or audio_path is None:
        return 1 if session.error else 0
    if session.fed_s < 0.5:
        print("consult: error: no audio was received", file=sys.stderr)
        return 1
    print("final pass: diarisation, roles, both ASR passes, extraction...", flush=True)
    report = Pipeline(settings, transcriber=transcriber, extractor=extractor).process(audio_path)
    paths = write_outputs(report, out_dir, bundle_type=args.bundle_type)
    flagged = sum(m.needs_review for m in report.medications)
    print(f"ok      {name}: {len(report.medications)} medication line(s) ({flagged} to check), language "
          f"{report.language} -> {paths['report'].parent}")
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
        if args.command == "jobs":
            return cmd_jobs(args)
        if args.command == "watch":
            return cmd_watch(args)
        if args.command == "api":
            return cmd_api(args)
        if args.command == "live":
            return cmd_live(args)
        if args.command == "accounts":
            return cmd_accounts(args)
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
