"""Speed and memory benchmark: ``consult bench``.

One run measures, in this process: model load time; wall time, real-time factor and peak RSS of every pipeline
stage (audio decoding, diarisation, transcription, extraction, whole file); and our transcription stage (language
detection, first pass, coverage check, second pass) and the whole pipeline against bare faster-whisper as a user
runs it (``WhisperModel.transcribe(audio, language=<the file's>, beam_size=5, vad_filter=True)`` on the same model
folder and compute type, other options at their defaults), sequential and, with ``batch_size > 0``, batched
(``BatchedInferencePipeline``). Word counts are reported so that a speed-up obtained by dropping words shows.

Memory: a sampling thread reads the resident set size (psutil when installed, else ``/proc/self/statm``) every
``interval`` seconds and keeps the maximum per stage; ``resource.getrusage`` ``ru_maxrss`` gives the process's
high-water mark (and how much each stage raised it).
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from consult.audio import SAMPLE_RATE, load_audio
from consult.config import Settings
from consult.errors import ConsultError

DEFAULT_FIXTURES = Path(__file__).resolve().parent.parent / "audio_fixtures"
MB = 1024.0 * 1024.0
PIPELINE_STAGES = ("audio", "diarisation", "transcription", "alignment", "roles", "extraction")


# -- generated long audio ------------------------------------------------------------------------------


@dataclass(frozen=True)
class GeneratedAudio:
    """A long consultation made by concatenating fixtures; ``pieces`` = (fixture name, start s, length s)."""

    path: Path
    seconds: float
    pieces: tuple[tuple[str, float, float], ...]


def fixture_files(fixtures_dir: Path, language: str) -> list[Path]:
    """The bundled fixtures of ``language`` (``<lang>_*.flac``), sorted by name."""
    files = sorted(Path(fixtures_dir).glob(f"{language}_*.flac"))
    if not files:
        raise ConsultError(
            f"no {language} fixture (<lang>_*.flac) in {fixtures_dir}: pass an AUDIO file or --fixtures DIR."
        )
    return files


def make_long_audio(
    fixtures_dir: Path, language: str, seconds: float, out_path: Path, *, pause_s: float = 1.0
) -> GeneratedAudio:
    """Concatenate the ``language`` fixtures (cycling, ``pause_s`` of silence between them) up to exactly
    ``seconds`` and write a 16 kHz mono 16-bit FLAC to ``out_path``."""
    import soundfile as sf

    if seconds <= 0:
        raise ConsultError("--minutes must be positive.")
    sources = [(p.stem, load_audio(p).samples) for p in fixture_files(fixtures_dir, language)]
    target = int(round(seconds * SAMPLE_RATE))
    pause = np.zeros(int(round(pause_s * SAMPLE_RATE)), dtype=np.float32)
    chunks: list[np.ndarray] = []
    pieces: list[tuple[str, float, float]] = []
    total = 0
    i = 0
    while total < target:
        if chunks:
            chunks.append(pause)
            total += pause.size
        name, samples = sources[i % len(sources)]
        take = samples[: max(0, target - total)]
        if take.size:
            pieces.append((name, total / SAMPLE_RATE, take.size / SAMPLE_RATE))
            chunks.append(take)
            total += take.size
        i += 1
    audio = np.concatenate(chunks)[:target]
    out_path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(out_path), audio, SAMPLE_RATE, format="FLAC", subtype="PCM_16")
    return GeneratedAudio(path=out_path, seconds=target / SAMPLE_RATE, pieces=tuple(pieces))


# -- memory sampling -----------------------------------------------------------------------------------


def _rss_reader() -> tuple[str, Any]:
    try:
        import psutil

        proc = psutil.Process()
        return "psutil", lambda: float(proc.memory_info().rss)
    except ImportError:
        pass
    statm = Path("/proc/self/statm")
    if statm.exists():
        page = os.sysconf("SC_PAGE_SIZE")
        return "/proc/self/statm", lambda: float(int(statm.read_text().split()[1]) * page)
    return "none", None


def ru_maxrss_bytes() -> float:
    """The process's peak RSS so far (``ru_maxrss`` is KiB on Linux, bytes on macOS)."""
    import resource
    import sys

    v = float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    return v if sys.platform == "darwin" else v * 1024.0


class RssSampler:
    """Background thread keeping the largest RSS seen while each label is current (``mark``)."""

    def __init__(self, interval: float = 0.01) -> None:
        self.method, self._read = _rss_reader()
        self.interval = interval
        self.label: str | None = None
        self.peak: dict[str, float] = {}
        self.start_rss: dict[str, float] = {}
        self.maxrss_rise: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self._cpu_at_mark = time.process_time()
        self._maxrss_at_mark = 0.0
        self._lock = threading.Lock()
        self._generation = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def rss(self) -> float:
        return self._read() if self._read is not None else ru_maxrss_bytes()

    def _record(self) -> None:
        # A reading belongs to a label only when that label was current both before and after it:
        # a sample taken under one label must not be credited to the next one (race with ``mark``).
        with self._lock:
            label, generation = self.label, self._generation
        value = self.rss()
        with self._lock:
            if label is not None and generation == self._generation and value > self.peak.get(label, 0.0):
                self.peak[label] = value

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._record()

    def mark(self, label: str | None) -> None:
        """End the current label (sample once more) and start ``label`` (None: nothing is measured)."""
        self._record()
        now_max = ru_maxrss_bytes()
        now_cpu = time.process_time()
        with self._lock:
            if self.label is not None:
                self.maxrss_rise[self.label] = self.maxrss_rise.get(self.label, 0.0) + now_max - self._maxrss_at_mark
                self.cpu[self.label] = self.cpu.get(self.label, 0.0) + now_cpu - self._cpu_at_mark
            self._maxrss_at_mark = now_max
            self._cpu_at_mark = now_cpu
            self.label = label
            self._generation += 1
            if label is not None:
                self.start_rss.setdefault(label, self.rss())
        if label is not None:
            self._record()

    def __enter__(self) -> RssSampler:
        if self._read is not None:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.mark(None)
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    @contextmanager
    def measure(self, label: str) -> Iterator[None]:
        self.mark(label)
        try:
            yield
        finally:
            self.mark(None)


class _Marking:
    """Wraps a back-end so that the sampler knows which pipeline stage is running."""

    def __init__(self, inner: Any, sampler: RssSampler, method: str, label: str, after: str) -> None:
        self._inner, self._sampler, self._method, self._label, self._after = inner, sampler, method, label, after
        self.last: Any = None

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name != self._method:
            return attr

        def wrapped(*args: Any, **kwargs: Any) -> Any:
            self._sampler.mark(self._label)
            try:
                self.last = attr(*args, **kwargs)
                return self.last
            finally:
                self._sampler.mark(self._after)

        return wrapped


# -- results -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StageResult:
    """One pipeline stage: wall seconds, CPU seconds (all threads), RTF (seconds / audio seconds), speed
    (audio seconds / seconds), peak RSS while it ran, RSS rise over the stage's start, and how much it raised
    the process peak."""

    stage: str
    seconds: float
    cpu_seconds: float | None
    rtf: float
    speed_x: float
    peak_rss_mb: float | None
    rss_rise_mb: float | None
    maxrss_rise_mb: float | None


@dataclass(frozen=True)
class AsrRun:
    """One transcription of the whole audio: ours (consult's stage) or bare faster-whisper."""

    impl: str  # "consult" | "bare"
    mode: str  # "sequential" | "batched"
    seconds: float
    cpu_seconds: float | None
    rtf: float
    speed_x: float
    words: int
    segments: int
    peak_rss_mb: float | None


@dataclass(frozen=True)
class BenchResult:
    """Everything ``consult bench`` measured; ``to_dict`` is what ``--json`` writes."""

    audio: str
    audio_seconds: float
    generated_from: list[str]
    model: str
    model_path: str
    device: str
    compute_type: str
    cpu_threads: int
    beam_size: int
    batch_size: int
    language: str | None
    load_seconds: float
    bare_load_seconds: float
    stages: list[StageResult]
    asr: list[AsrRun]
    ratio: dict[str, float]  # mode -> consult wall seconds / bare wall seconds
    cpu_ratio: dict[str, float]  # mode -> consult CPU seconds / bare CPU seconds
    peak_rss_mb: float
    memory_method: str
    medications: int
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def stage(self, name: str) -> StageResult:
        return next(s for s in self.stages if s.stage == name)


def _mb(x: float | None) -> float | None:
    return None if x is None else round(x / MB, 1)


def _speed(seconds: float, audio_seconds: float) -> tuple[float, float]:
    rtf = seconds / audio_seconds if audio_seconds > 0 else 0.0
    return round(rtf, 4), round(audio_seconds / seconds, 2) if seconds > 0 else 0.0


def _count(segments: Any) -> tuple[int, int]:
    words = 0
    n = 0
    for seg in segments:
        n += 1
        words += len(seg.text.split())
    return words, n


# -- the benchmark -------------------------------------------------------------------------------------


def run_bench(
    audio_path: Path, settings: Settings, *, generated_from: list[str] | None = None, sample_interval: float = 0.01
) -> BenchResult:
    """Benchmark the pipeline and bare faster-whisper on ``audio_path``; see the module docstring."""
    from faster_whisper import BatchedInferencePipeline, WhisperModel

    from consult.backends.factory import build_diariser, build_extractor, build_transcriber
    from consult.backends.whisper import FasterWhisperTranscriber
    from consult.pipeline import Pipeline

    asr = settings.asr
    language = None if asr.language == "auto" else asr.language
    threads = asr.cpu_threads or (os.cpu_count() or 1)
    notes: list[str] = []
    with RssSampler(sample_interval) as sampler:
        with sampler.measure("load"):
            t0 = time.perf_counter()
            transcriber = build_transcriber(settings)
            diariser = build_diariser(settings)
            extractor = build_extractor(settings)
            load_seconds = time.perf_counter() - t0
        model_id = transcriber.model_info()[0].name
        model_path = FasterWhisperTranscriber.model_folder(asr, settings.cache_dir)
        with sampler.measure("bare-load"):
            t0 = time.perf_counter()
            bare = WhisperModel(
                model_path, device=asr.device, compute_type=asr.compute_type, cpu_threads=threads, local_files_only=True
            )
            bare_load_seconds = time.perf_counter() - t0
        # Warm-up on 3 s (loads Silero VAD and fills CTranslate2's caches) so neither side pays it alone.
        warm = load_audio(audio_path, max_duration=settings.audio.max_duration_s).samples[: 3 * SAMPLE_RATE].copy()
        list(bare.transcribe(warm, language=language or "fr", beam_size=asr.beam_size, vad_filter=True)[0])
        notes.append("warm-up: bare faster-whisper on the first 3 s before timing")

        marked_asr = _Marking(transcriber, sampler, "transcribe", "transcription", "alignment")
        pipeline = Pipeline(
            settings,
            transcriber=marked_asr,
            diariser=_Marking(diariser, sampler, "diarise", "diarisation", "between"),
            extractor=_Marking(extractor, sampler, "extract", "extraction", "between"),
        )
        rss0 = sampler.rss()
        maxrss0 = ru_maxrss_bytes()
        sampler.mark("audio")
        t0 = time.perf_counter()
        report = pipeline.process(audio_path, language=asr.language)
        whole = time.perf_counter() - t0
        sampler.mark(None)
        cpu_whole = sum(
            sampler.cpu.get(k, 0.0)
            for k in ("audio", "diarisation", "transcription", "alignment", "extraction", "between")
        )
        audio_seconds = report.audio.duration if report.audio else 0.0
        timings = {t.stage: t.seconds for t in report.timings}
        # bare faster-whisper as a user runs it: the file's language (ours detected or forced), beam search, VAD,
        # every other option at faster-whisper's default
        bare_kwargs: dict[str, Any] = dict(language=report.language, beam_size=asr.beam_size, vad_filter=True)

        stages: list[StageResult] = []
        peaks: list[float] = []
        for name in PIPELINE_STAGES:
            if name not in timings:
                continue
            label = name  # the sampler's "alignment" label covers alignment and roles (both tiny)
            peak = sampler.peak.get(label)
            start = sampler.start_rss.get(label)
            if peak is not None:
                peaks.append(peak)
            rtf, speed = _speed(timings[name], audio_seconds)
            cpu = sampler.cpu.get(label)
            stages.append(
                StageResult(
                    stage=name,
                    seconds=timings[name],
                    cpu_seconds=None if cpu is None else round(cpu, 3),
                    rtf=rtf,
                    speed_x=speed,
                    peak_rss_mb=_mb(peak),
                    rss_rise_mb=_mb(None if peak is None or start is None else max(0.0, peak - start)),
                    maxrss_rise_mb=_mb(sampler.maxrss_rise.get(label)) if peak is not None else None,
                )
            )
        if "between" in sampler.peak:
            peaks.append(sampler.peak["between"])
        rtf, speed = _speed(whole, audio_seconds)
        whole_peak = max(peaks) if peaks else None
        stages.append(
            StageResult(
                stage="whole file",
                seconds=round(whole, 3),
                cpu_seconds=round(cpu_whole, 3),
                rtf=rtf,
                speed_x=speed,
                peak_rss_mb=_mb(whole_peak),
                rss_rise_mb=_mb(None if whole_peak is None else max(0.0, whole_peak - rss0)),
                maxrss_rise_mb=_mb(ru_maxrss_bytes() - maxrss0),
            )
        )

        samples = load_audio(audio_path, max_duration=settings.audio.max_duration_s).samples
        runs: list[AsrRun] = []
        main_mode = "batched" if asr.batch_size > 0 else "sequential"
        modes = ["sequential"] + (["batched"] if asr.batch_size > 0 else [])
        for mode in modes:
            if mode == main_mode:
                words, nseg = sum(len(s.words) for s in report.segments), len(report.segments)
                ours_s = timings["transcription"]
                ours_cpu = sampler.cpu.get("transcription", 0.0)
                ours_peak = sampler.peak.get("transcription")
            else:
                other = FasterWhisperTranscriber(asr.model_copy(update={"batch_size": 0}), cache_dir=settings.cache_dir)
                label = f"consult-{mode}"
                with sampler.measure(label):
                    t0 = time.perf_counter()
                    res = other.transcribe(samples, language=report.language)
                    ours_s = time.perf_counter() - t0
                words, nseg = _count(res.segments)
                ours_cpu = sampler.cpu.get(label, 0.0)
                ours_peak = sampler.peak.get(label)
                del other
            rtf, speed = _speed(ours_s, audio_seconds)
            runs.append(
                AsrRun("consult", mode, round(ours_s, 3), round(ours_cpu, 3), rtf, speed, words, nseg, _mb(ours_peak))
            )

            label = f"bare-{mode}"
            with sampler.measure(label):
                t0 = time.perf_counter()
                if mode == "batched":
                    segs, _info = BatchedInferencePipeline(bare).transcribe(
                        samples, batch_size=asr.batch_size, **bare_kwargs
                    )
                else:
                    segs, _info = bare.transcribe(samples, **bare_kwargs)
                words, nseg = _count(segs)  # the generator does the work while it is consumed
                bare_s = time.perf_counter() - t0
            rtf, speed = _speed(bare_s, audio_seconds)
            runs.append(
                AsrRun(
                    "bare",
                    mode,
                    round(bare_s, 3),
                    round(sampler.cpu.get(label, 0.0), 3),
                    rtf,
                    speed,
                    words,
                    nseg,
                    _mb(sampler.peak.get(label)),
                )
            )

    ratio: dict[str, float] = {}
    cpu_ratio: dict[str, float] = {}
    for mode in modes:
        ours = next(r for r in runs if r.impl == "consult" and r.mode == mode)
        bare_run = next(r for r in runs if r.impl == "bare" and r.mode == mode)
        ratio[mode] = round(ours.seconds / bare_run.seconds, 3) if bare_run.seconds > 0 else 0.0
        cpu_ratio[mode] = round((ours.cpu_seconds or 0.0) / bare_run.cpu_seconds, 3) if bare_run.cpu_seconds else 0.0
    bare_seq = next(r for r in runs if r.impl == "bare" and r.mode == "sequential")
    if bare_seq.seconds > 0:
        # the target of the speech issue: the whole pipeline (all stages) against bare faster-whisper alone
        ratio["whole pipeline vs bare sequential"] = round(whole / bare_seq.seconds, 3)
    return BenchResult(
        audio=Path(audio_path).name,
        audio_seconds=audio_seconds,
        generated_from=list(generated_from or []),
        model=model_id,
        model_path=model_path,
        device=asr.device,
        compute_type=asr.compute_type,
        cpu_threads=threads,
        beam_size=asr.beam_size,
        batch_size=asr.batch_size,
        language=language,
        load_seconds=round(load_seconds, 3),
        bare_load_seconds=round(bare_load_seconds, 3),
        stages=stages,
        asr=runs,
        ratio=ratio,
        cpu_ratio=cpu_ratio,
        peak_rss_mb=_mb(ru_maxrss_bytes()) or 0.0,
        memory_method=f"sampled {sampler.method} every {sample_interval * 1000:.0f} ms + ru_maxrss",
        medications=len(report.medications),
        notes=notes,
    )


def _fmt(x: float | None, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def format_bench(r: BenchResult) -> str:
    """Human-readable report of a :class:`BenchResult`."""
    src = f" (generated from {', '.join(r.generated_from)})" if r.generated_from else ""
    lines = [
        f"audio: {r.audio}, {r.audio_seconds:.1f} s{src}",
        f"model: {r.model} [{r.model_path}], {r.compute_type} on {r.device}, {r.cpu_threads} threads, "
        f"beam {r.beam_size}, batch {r.batch_size}, language {r.language or 'auto'}",
        f"model load: {r.load_seconds:.2f} s (Whisper + diariser + extractor); "
        f"bare WhisperModel {r.bare_load_seconds:.2f} s",
        "",
        f"{'stage':<15}{'wall s':>9}{'CPU s':>9}{'RTF':>8}{'x real time':>13}{'peak RSS MB':>13}{'RSS rise MB':>13}",
    ]
    for s in r.stages:
        lines.append(
            f"{s.stage:<15}{s.seconds:>9.2f}{_fmt(s.cpu_seconds, '.2f'):>9}{s.rtf:>8.3f}"
            f"{_fmt(s.speed_x or None, '.1f'):>13}"
            f"{_fmt(s.peak_rss_mb, '.0f'):>13}{_fmt(s.rss_rise_mb, '.0f'):>13}"
        )
    lines += [
        "",
        f"transcription: consult vs bare faster-whisper (same model folder, {r.compute_type}, beam {r.beam_size}, "
        f"language {r.language or 'auto'}, vad_filter, word_timestamps, same audio array)",
        f"{'mode':<12}{'impl':<9}{'wall s':>9}{'CPU s':>9}{'RTF':>8}{'x real time':>13}{'words':>8}{'segments':>10}"
        f"{'peak RSS MB':>13}",
    ]
    for a in r.asr:
        lines.append(
            f"{a.mode:<12}{a.impl:<9}{a.seconds:>9.2f}{_fmt(a.cpu_seconds, '.2f'):>9}{a.rtf:>8.3f}"
            f"{a.speed_x:>13.1f}{a.words:>8}"
            f"{a.segments:>10}{_fmt(a.peak_rss_mb, '.0f'):>13}"
        )
    for mode, ratio in r.ratio.items():
        lines.append(f"ratio consult/bare ({mode}): {ratio:.3f} wall, {r.cpu_ratio.get(mode, 0.0):.3f} CPU")
    lines += [
        "",
        f"process peak RSS (ru_maxrss): {r.peak_rss_mb:.0f} MB; memory: {r.memory_method}",
        f"medication lines: {r.medications}",
    ]
    lines += [f"note: {n}" for n in r.notes]
    return "\n".join(lines) + "\n"


@contextmanager
def bench_audio(
    audio: Path | None, *, minutes: float, language: str, fixtures_dir: Path = DEFAULT_FIXTURES
) -> Iterator[tuple[Path, list[str]]]:
    """Yield (path, fixture names): ``audio`` itself, or a generated ``minutes``-long consultation in a temp
    folder (deleted afterwards) made of the ``language`` fixtures (French for ``auto``)."""
    if audio is not None:
        yield Path(audio), []
        return
    lang = language if language in ("fr", "en") else "fr"
    with tempfile.TemporaryDirectory(prefix="consult-bench-") as tmp:
        minutes_label = f"{minutes:g}".replace(".", "_")
        out = Path(tmp) / f"{lang}-generated-{minutes_label}min.flac"
        gen = make_long_audio(fixtures_dir, lang, minutes * 60.0, out)
        yield gen.path, sorted({name for name, _s, _l in gen.pieces})
