"""Live consultation: the transcript and the medication cards fill in while the doctor speaks.

Audio arrives in chunks (a microphone, a file at real-time pace, a browser, a WebSocket). A worker thread decodes the
growing buffer with the same transcriber as ``consult run`` and commits text by **local agreement**
(whisper_streaming, Macháček et al. 2023): a word is committed once two successive decodes of the growing buffer
agree on it, the rest of the last decode is shown as the tentative tail. When the VAD hears the speaker stop (a
pause of ``end_silence_s``, heard at the end of the buffer or inside it), the whole utterance, with a few seconds of
audio before it (``revise_context_s``; at most 28 s in all), is decoded once more with the final pass's beam and
drug-name pass: that reading replaces what was committed during the utterance (a :class:`RevisionEvent`), so the
greedy decodes that keep the delay short do not decide the text the doctor reads. A second reading with far fewer
words than the live decodes heard is not trusted (speech is never erased by it). Committed audio is dropped
from the buffer (at an utterance end, or at the last committed word once the buffer is longer than
``max_buffer_s``), so memory stays bounded however long the consultation; the whole recording goes to a FLAC file
on disk for the final pass.

After each commit the committed turns run through the medication extractor and the cards are updated. Live text is a
draft of a draft: when the recording stops, the full pipeline (diarisation, roles, both ASR passes, extraction) runs
on the recording and its report replaces the live one (:func:`consult.review.carry_decisions` keeps the decisions
made on live cards for the lines that are the same).

One home for ``consult live``, the review page's live tab and the API's ``/v1/live`` WebSocket.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Literal

import numpy as np
from pydantic import BaseModel, Field

from consult.audio import SAMPLE_RATE
from consult.config import AsrOptions
from consult.interfaces import MedicationExtractor, Transcriber
from schemas import MedicationLine, Segment, Word

__all__ = ["LIVE_SPEAKER", "CardEvent", "LiveEvent", "LiveOptions", "LiveSession", "LiveSnapshot", "LocalAgreement",
           "RevisionEvent", "TextEvent", "card_key", "feed_fast", "feed_realtime", "file_chunks", "mic_chunks",
           "microphone", "pcm16_to_float", "stream_chunks", "warm_up"]

log = logging.getLogger(__name__)

LIVE_SPEAKER = "LIVE"
"""The one speaker of the live transcript (diarisation runs in the final pass)."""
MAX_UTTERANCE_S = 28
"""The recent audio kept for second readings (s; Whisper's window is 30 s): an utterance and its context."""
LIVE_ROLE_CONFIDENCE = 0.2


class LiveOptions(BaseModel):
    """How the live transcript is decoded and committed."""

    step_s: float = Field(default=0.5, gt=0, description="Decode again once this much new audio has arrived (s).")
    end_silence_s: float = Field(default=0.6, gt=0,
                                 description="A pause this long after speech ends the utterance (committed whole).")
    beam_size: int = Field(default=1, ge=1, description="Beam size of the live decodes (greedy: faster; the final "
                                                         "pass uses the configured beam).")
    force_after_s: float = Field(
        default=3.0, gt=0,
        description="A word still unagreed this long after it ended (s of audio heard since) is committed as the "
                    "last decode read it: two decodes that keep disagreeing must not hold the text back.")
    revise_utterances: bool = Field(
        default=True,
        description="At each utterance end, decode the whole utterance (up to 28 s) again with the final pass's "
                    "beam and let that reading replace the words committed during it (a RevisionEvent).")
    revise_at_sentences: bool = Field(
        default=True,
        description="Also read the utterance again at a committed sentence end, without waiting for a pause, when "
                    "that sentence may hold a misheard drug name (a bent word near medication talk that no live "
                    "decode read as a name): in a long turn the card must not wait for the speaker to pause.")
    revise_context_s: float = Field(
        default=5.0, ge=0, le=20,
        description="Audio before the utterance decoded with it when it is read again (s): the decoder hears the "
                    "utterance in context, as the final pass does; only the utterance's words are replaced. "
                    "Measured on the dev fixtures (benchmarks/live.py, one run each): 0 s: live WER x1.10 of the "
                    "offline pass, 3 s: x1.15, 5 s: x1.04, 8 s: x1.005 but a median commit delay of 3.3 s.")
    context_chars: int = Field(default=0, ge=0, le=400,
                               description="Committed text before the buffer given to the decoder as its prompt "
                                           "(characters; 0: none).")
    max_buffer_s: float = Field(default=10.0, ge=3, le=28,
                                description="Buffer length past which the committed audio is dropped (s).")
    turn_gap_s: float = Field(default=0.8, gt=0, description="A pause this long between words starts a new turn (s).")
    extract_window_s: float = Field(default=180.0, gt=0,
                                    description="Turns re-read by the extractor at each commit: the last this many s.")
    language_after_s: float = Field(default=2.0, gt=0,
                                    description="With language 'auto': speech heard before deciding it (s).")


# -- local agreement ------------------------------------------------------------------------------------------------

def _norm(text: str) -> str:
    return re.sub(r"[^\w]+", "", text.lower())


class LocalAgreement:
    """Commit the longest common prefix of two successive hypotheses (whisper_streaming's HypothesisBuffer).

    Times are absolute (seconds from the start of the stream)."""

    def __init__(self) -> None:
        self.committed: list[Word] = []
        self.pending: list[Word] = []

    @property
    def committed_end(self) -> float:
        return self.committed[-1].end if self.committed else 0.0

    def _new_part(self, words: Sequence[Word]) -> list[Word]:
        """The hypothesis words after what is committed, without a repeat of the committed tail."""
        end = self.committed_end
        # a word is new when most of it comes after the committed text: word times move by a tenth of a second or
        # two between decodes, and a next word starting a little before the committed end is still new
        new = [w for w in words if (w.start + w.end) / 2 > end]
        if new and self.committed and abs(new[0].start - end) < 1.0:
            # the decode may repeat the last committed words (their audio is still in the buffer): drop an n-gram
            # at the head of ``new`` that equals the committed tail
            for n in range(min(5, len(new), len(self.committed)), 0, -1):
                tail = [_norm(w.text) for w in self.committed[-n:]]
                head = [_norm(w.text) for w in new[:n]]
                if tail == head:
                    new = new[n:]
                    break
        return new

    def insert(self, words: Sequence[Word]) -> list[Word]:
        """A new hypothesis; returns the words it commits (agreed with the previous hypothesis)."""
        new = self._new_part(words)
        agreed: list[Word] = []
        for a, b in zip(self.pending, new, strict=False):
            if _norm(a.text) != _norm(b.text):
                break
            agreed.append(b)
        self.pending = new[len(agreed):]
        self.committed.extend(agreed)
        return agreed

    def commit_until(self, t: float) -> list[Word]:
        """Commit the pending words (a prefix) that end before ``t``: words that have had plenty of audio after them
        and still change between decodes are taken as the last decode read them (bounds the delay)."""
        n = 0
        while n < len(self.pending) and self.pending[n].end <= t:
            n += 1
        taken, self.pending = self.pending[:n], self.pending[n:]
        self.committed.extend(taken)
        return taken

    def commit_all(self, words: Sequence[Word]) -> list[Word]:
        """The utterance is over: commit every word of this (last) hypothesis."""
        new = self._new_part(words)
        self.pending = []
        self.committed.extend(new)
        return new

    def replace_since(self, t: float, words: Sequence[Word]) -> None:
        """The committed words whose middle is after ``t`` are now ``words`` (an utterance read again whole)."""
        self.committed = [w for w in self.committed if (w.start + w.end) / 2 <= t] + list(words)
        self.pending = []

    def forget_before(self, t: float) -> None:
        """Drop committed words that end before ``t`` (kept elsewhere; bounds memory)."""
        keep = [w for w in self.committed if w.end >= t]
        self.committed = keep[-8:] if keep else self.committed[-8:]


# -- events ---------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TextEvent:
    """Words committed to the transcript; ``at``: stream time (s of audio fed) when they were committed."""

    kind: Literal["text"]
    segment_id: int
    words: tuple[Word, ...]
    at: float
    wall: float

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)


@dataclass(frozen=True)
class CardEvent:
    """A medication card appeared (``added``), changed (``updated``) or went away (``removed``)."""

    kind: Literal["added", "updated", "removed"]
    key: str
    line: MedicationLine
    at: float
    wall: float


@dataclass(frozen=True)
class RevisionEvent:
    """The utterance is over and was read again whole (``LiveOptions.revise_utterances``): the committed turns from
    ``first_segment`` on are now ``segments`` (they replace every turn from that id on). ``new_after``: the end of
    the text committed before this event (its words after that are new, not revised)."""

    kind: Literal["revised"]
    first_segment: int
    segments: tuple[Segment, ...]
    new_after: float
    at: float
    wall: float

    @property
    def text(self) -> str:
        return " ".join(seg.text for seg in self.segments)


LiveEvent = TextEvent | CardEvent | RevisionEvent


@dataclass
class LiveSnapshot:
    """What the live view shows now."""

    segments: list[Segment]
    tentative: str
    cards: dict[str, MedicationLine]
    language: str | None
    fed_s: float
    running: bool
    error: str | None = None
    card_times: dict[str, float] = field(default_factory=dict)
    dropped: dict[str, MedicationLine] = field(default_factory=dict)
    """Cards a later reading no longer found, as they were last shown (a decision the doctor made on one is carried
    to the final report only where the report's line is the same); never a key of :attr:`cards`."""


def card_key(line: MedicationLine, seen: Mapping[str, int] | None = None) -> str:
    """A card's identity across re-extractions: the drug's normalised name (and its rank when it comes twice)."""
    from consult.extract.text import key_of

    base = key_of(line.name) or _norm(line.drug_text)
    n = (seen or {}).get(base, 0)
    return base if n == 0 else f"{base}#{n + 1}"


def pcm16_to_float(data: bytes) -> np.ndarray:
    """Little-endian signed 16-bit PCM bytes as float32 samples in [-1, 1]."""
    usable = len(data) - len(data) % 2
    return np.frombuffer(data[:usable], dtype="<i2").astype(np.float32) / 32768.0


class _Recorder:
    """The recording, as it arrives, in a 16-bit FLAC file (the final pass reads it; memory stays flat)."""

    def __init__(self, path: Path) -> None:
        import soundfile as sf

        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file = sf.SoundFile(str(path), "w", samplerate=SAMPLE_RATE, channels=1, format="FLAC",
                                  subtype="PCM_16")

    def write(self, samples: np.ndarray) -> None:
        self._file.write(np.clip(samples, -1.0, 1.0))

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()


class _Resampler:
    def __init__(self, rate: int) -> None:
        import soxr

        self.rate = rate
        self._stream = soxr.ResampleStream(rate, SAMPLE_RATE, 1, dtype="float32", quality="HQ")

    def __call__(self, samples: np.ndarray, *, last: bool = False) -> np.ndarray:
        return np.asarray(self._stream.resample_chunk(np.ascontiguousarray(samples, dtype=np.float32), last=last),
                          dtype=np.float32)


# -- the session ----------------------------------------------------------------------------------------------------

class LiveSession:
    """One live consultation.

    Args:
        transcriber: the ASR back-end (``consult.backends.factory.build_transcriber``), shared and already loaded.
        extractor: the medication extractor.
        language: ``fr``, ``en`` or ``auto`` (decided on the first ``language_after_s`` of speech, French when
            unsure, as ``consult run`` decides).
        english_threshold: see :class:`consult.config.AsrOptions`.
        asr: the ASR options of the final pass (its drug-name second pass also runs on each commit).
        recording: the FLAC file the whole recording is written to (None: not kept).
        on_event: called from the worker thread with each :data:`LiveEvent` (keep it quick).

    ``feed`` may be called from any thread; decoding runs in the session's worker thread (:meth:`start`) or, for
    tests and simulations, synchronously through :meth:`step`.
    """

    def __init__(self, transcriber: Transcriber, extractor: MedicationExtractor, *, language: str = "auto",
                 english_threshold: float = 0.6, options: LiveOptions | None = None, asr: AsrOptions | None = None,
                 recording: Path | None = None,
                 on_event: Callable[[LiveEvent], None] | None = None, clock: Callable[[], float] = time.monotonic
                 ) -> None:
        self.options = options or LiveOptions()
        self.asr = asr or AsrOptions()
        variant = getattr(transcriber, "variant", None)  # the same model, decoded greedily (FasterWhisperTranscriber)
        self.transcriber: Transcriber = (variant(beam_size=self.options.beam_size, temperature_fallback=False)
                                         if callable(variant) else transcriber)
        self.full_transcriber = transcriber  # the final pass's decoding options: each utterance is read again with it
        self.extractor = extractor
        self.english_threshold = english_threshold
        self.language: str | None = None if language in (None, "", "auto") else language
        self.on_event = on_event
        self._clock = clock
        self._t0: float | None = None  # the clock when the first audio arrived
        self._lock = threading.Condition()
        self._feed_lock = threading.Lock()
        self._buffer = np.zeros(0, dtype=np.float32)
        self._buffer_start = 0.0  # stream time of buffer[0]
        self._recent = np.zeros(0, dtype=np.float32)  # the last 28 s of audio (an utterance is read again in it)
        self._recent_start = 0.0  # stream time of _recent[0]
        self._utterance_start = 0.0  # stream time where the utterance going on started
        self._utterance_segment = 0  # id of the first committed turn of the utterance going on
        self.revisions = 0
        self._sentence_checked = 0.0  # end of the last committed sentence looked at for a misheard name
        self._fed = 0  # samples fed (16 kHz)
        self._decoded_at = 0  # self._fed when the last decode started
        self._agreement = LocalAgreement()
        self._segments: list[Segment] = []
        self._turn_closed = False
        self._tentative: list[Word] = []
        self._cards: dict[str, MedicationLine] = {}
        self._dropped: dict[str, MedicationLine] = {}
        self._card_times: dict[str, float] = {}
        self._events: deque[LiveEvent] = deque(maxlen=20000)
        self._resampler: _Resampler | None = None
        self._recorder = _Recorder(recording) if recording is not None else None
        self._closed = False
        self._finished = False
        self._thread: threading.Thread | None = None
        self.error: str | None = None
        warm_up(extractor)
        self.decodes = 0
        self.decode_seconds = 0.0
        self.max_buffer_seen_s = 0.0

    # -- input ----------------------------------------------------------------------------------------------------
    def feed(self, samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> None:
        """Append audio (mono float in [-1, 1], or int16; any rate: resampled to 16 kHz). Raises RuntimeError once
        the input is closed."""
        with self._feed_lock:  # the resampler's state: one chunk at a time
            self._feed(samples, sample_rate)

    def _feed(self, samples: np.ndarray, sample_rate: int) -> None:
        x = np.asarray(samples)
        if x.ndim == 2:
            x = x.mean(axis=1) if x.shape[1] <= 8 else x.mean(axis=0)
        if x.dtype == np.int16:
            x = x.astype(np.float32) / 32768.0
        elif x.dtype == np.int32:
            x = x.astype(np.float32) / 2147483648.0
        x = x.astype(np.float32, copy=False)
        if sample_rate != SAMPLE_RATE:
            if self._resampler is None or self._resampler.rate != sample_rate:
                self._resampler = _Resampler(int(sample_rate))
            x = self._resampler(x)
        if x.size == 0:
            return
        with self._lock:
            if self._t0 is None:
                self._t0 = self._clock()
            if self._closed:
                raise RuntimeError("this live session is closed")
            self._buffer = np.concatenate([self._buffer, x])
            self._keep_recent(x)
            self._fed += x.size
            if self._recorder is not None:
                self._recorder.write(x)
            self._lock.notify_all()

    def close_input(self) -> None:
        """No more audio: the worker commits what is left and stops (see :meth:`wait`)."""
        with self._feed_lock, self._lock:
            if self._closed:
                return
            if self._resampler is not None:
                tail = self._resampler(np.zeros(0, np.float32), last=True)
                if tail.size:
                    self._buffer = np.concatenate([self._buffer, tail])
                    self._keep_recent(tail)
                    self._fed += tail.size
                    if self._recorder is not None:
                        self._recorder.write(tail)
            self._closed = True
            self._lock.notify_all()

    def _keep_recent(self, x: np.ndarray) -> None:
        """Append to the recent audio (under the lock); past 28 s its start is dropped (Whisper's window)."""
        if not self.options.revise_utterances:
            return
        self._recent = np.concatenate([self._recent, x])
        extra = self._recent.size - MAX_UTTERANCE_S * SAMPLE_RATE
        if extra > 0:
            self._recent = self._recent[int(extra):].copy()
            self._recent_start += int(extra) / SAMPLE_RATE

    def _utterance_done(self, t: float) -> None:
        """The utterance ended at stream time ``t``: the next one starts there."""
        with self._lock:
            self._utterance_start = max(self._utterance_start, t)
            self._utterance_segment = len(self._segments)

    # -- worker -----------------------------------------------------------------------------------------------------
    def start(self) -> LiveSession:
        """Decode in a worker thread until the input is closed and everything is committed."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="consult-live", daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        try:
            while True:
                with self._lock:
                    while not self._closed and (self._fed - self._decoded_at) < self.options.step_s * SAMPLE_RATE:
                        self._lock.wait(0.25)
                    closed = self._closed
                if closed:
                    self._finish()
                    return
                self.step()
        except Exception as exc:  # reported to the caller; the recording so far is kept
            log.exception("live decoding failed")
            self.error = f"{type(exc).__name__}: {exc}"
            self._finish_recording()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the worker to finish (after :meth:`close_input`); True when it has."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def finish(self, timeout: float | None = None) -> LiveSnapshot:
        """Close the input, commit what is left and return the last snapshot."""
        self.close_input()
        if self._thread is None:
            self._finish()
        else:
            self.wait(timeout)
        return self.snapshot()

    # -- decoding ---------------------------------------------------------------------------------------------------
    def now(self) -> float:
        """Seconds since the first audio arrived (wall clock)."""
        return 0.0 if self._t0 is None else self._clock() - self._t0

    @property
    def fed_s(self) -> float:
        return self._fed / SAMPLE_RATE

    def step(self, *, final: bool = False) -> bool:
        """One decode of the buffer if enough new audio arrived (or ``final``); True when it decoded."""
        with self._lock:
            if not final and (self._fed - self._decoded_at) < self.options.step_s * SAMPLE_RATE:
                return False
            self._decoded_at = self._fed
            buf = self._buffer
            start = self._buffer_start
        if buf.size < SAMPLE_RATE // 10:
            return False
        o = self.options
        length = buf.size / SAMPLE_RATE
        self.max_buffer_seen_s = max(self.max_buffer_seen_s, length)
        regions = self.transcriber.speech_regions(buf)
        if not regions:
            if length > 3.0:  # nothing said: keep only the last second (a word may be starting)
                self._trim(start + length - 1.0)
                with self._lock:
                    nothing_yet = len(self._segments) == self._utterance_segment
                if nothing_yet:  # no utterance going on: its audio starts there too
                    self._utterance_done(start + length - 1.0)
            self._set_tentative([])
            return True
        if self.language is None:
            speech = sum(b - a for a, b in regions)
            if speech < o.language_after_s and not final:
                return True
            from consult.transcribe import choose_language

            choice = choose_language(self.transcriber.detect_language(buf), english_threshold=self.english_threshold)
            self.language = choice.language
        speech_end = regions[-1][1]
        ended = final or (length - speech_end) >= o.end_silence_s
        resume: float | None = None
        if not ended and o.revise_utterances:
            # a pause the decodes did not land in (decodes come every second or so): it ended the utterance too,
            # and the next one, already in the buffer, starts after it
            gaps = [i for i in range(len(regions) - 1) if regions[i + 1][0] - regions[i][1] >= o.end_silence_s]
            if gaps:
                ended, speech_end, resume = True, regions[gaps[-1]][1], regions[gaps[-1] + 1][0]
        if not ended and o.revise_utterances and o.revise_at_sentences:
            said_to = self._doubtful_sentence_end(start)
            if said_to is not None:  # read the utterance again up to that sentence end, as at a pause there
                nxt = [w.start for w in self._agreement.pending if w.start >= said_to]
                ended, speech_end, resume = True, said_to - start, (min(nxt) if nxt else said_to) - start
        dbuf, dstart, transcriber, hotwords = buf, start, self.transcriber, self._context(start)
        revise, since = False, 0.0
        if ended and o.revise_utterances:
            upto = start + (length if resume is None else resume)
            with self._lock:
                # the utterance and up to revise_context_s before it (at most 28 s in all)
                wstart = max(self._recent_start, self._utterance_start - o.revise_context_s)
                a = int(round((wstart - self._recent_start) * SAMPLE_RATE))
                b = int(round((upto - self._recent_start) * SAMPLE_RATE))
                window = self._recent[max(0, a):max(0, b)]
                since = max(self._utterance_start, wstart)
            if window.size >= SAMPLE_RATE // 10 and since < upto:
                # the utterance is over: read it again whole, as the final pass would (its beam, no prompt)
                dbuf, dstart, transcriber, hotwords, revise = window, wstart, self.full_transcriber, None, True
            elif resume is not None:  # its audio is not all there: go on as if no pause had been heard
                ended, speech_end, resume = False, regions[-1][1], None
        pending_before = list(self._agreement.pending)
        t0 = time.perf_counter()
        result = transcriber.transcribe(dbuf, language=self.language, vad_filter=True, hotwords=hotwords)
        self.decode_seconds += time.perf_counter() - t0
        self.decodes += 1
        words = [w.model_copy(update={"start": w.start + dstart, "end": w.end + dstart})
                 for seg in result.segments for w in seg.words]
        words = self._name_pass(words, dbuf, dstart)
        cut: float | None = None
        if ended and not final:
            # the VAD heard the speaker stop; words it had not yet counted as speech (a new utterance starting in
            # the last few hundred ms) stay in the buffer for the next decode
            cut = start + speech_end
            later = [w for w in words if w.end > cut + 0.2]
            if later:
                cut = min(cut, later[0].start)
                words = [w for w in words if w.end <= cut + 0.2]
        if ended:
            until = cut if cut is not None else start + length
            committed = self._revise(words, since, until) if revise else self._agreement.commit_all(words)
            if final:
                cut = start + length
            self._set_tentative([])
            if resume is not None and cut is not None:
                # the next utterance's words the last decode read stay as the tentative text: the next decode
                # may agree with them at once
                self._agreement.pending = [w for w in pending_before if (w.start + w.end) / 2 > cut + 0.1]
                self._set_tentative(self._agreement.pending)
        else:
            committed = self._agreement.insert(words)
            committed += self._agreement.commit_until(start + length - o.force_after_s)
            self._set_tentative(self._agreement.pending)
            if length > o.max_buffer_s and self._agreement.committed:
                cut = self._cut_point(start, length)
            if cut is None and length > 28.0:  # nothing agreed in 28 s (Whisper's window: 30 s): take this decode
                committed += self._agreement.commit_all(self._agreement.pending)
                cut = self._agreement.committed_end
                self._set_tentative([])
        if committed:
            self._commit(committed, utterance_end=ended)
        if cut is not None and cut > start:
            self._trim(cut)
        if ended and cut is not None:
            self._utterance_done(cut)
        return True

    def _revise(self, words: list[Word], since: float, until: float) -> list[Word]:
        """The utterance's reading at its end (``words``, from ``since`` to ``until``): the words it adds after the
        committed text are returned (committed as usual); where it reads the utterance differently, its turns are
        replaced (a :class:`RevisionEvent`). A reading with far fewer words than the live decodes heard is not
        trusted (a decode that lost speech must not erase it): then the live decodes' reading is committed."""
        with self._lock:
            first = self._utterance_segment
            old = [w for seg in self._segments[first:] for w in seg.words]
        # past 28 s the utterance's audio starts inside it: a committed word cut by that start stays as it was,
        # and what the second reading heard before its end (nothing, or a piece of it) is left out
        since = max([since, *(w.end for w in old if w.start < since)])
        keep = [w for w in old if (w.start + w.end) / 2 <= since]
        replaced = [w for w in old if (w.start + w.end) / 2 > since]
        words = [w for w in words if (w.start + w.end) / 2 > since]
        pending = [w for w in self._agreement.pending if (w.start + w.end) / 2 <= until + 0.2]
        if len(words) < 0.6 * (len(replaced) + len(pending)):
            return self._agreement.commit_all(pending)
        heard, read = _drug_names(replaced), _drug_names(words)
        if heard - read and not read - heard:
            # it lost a drug name the live decodes heard and reads none in its place ("amoxicilline" read again as
            # "ma oxysyline" on a garbled microphone): a name is never erased by it; the final pass decides
            return self._agreement.commit_all(pending)
        same = [_norm(w.text) for w in replaced] == [_norm(w.text) for w in words[:len(replaced)]]
        if not replaced or same:
            return self._agreement.commit_all(words)
        at, wall = self.fed_s, self.now()
        new_after = self._agreement.committed_end
        with self._lock:
            segs = self._segments[:first]
            closed = True  # an utterance starts a turn
            for w in [*keep, *words]:
                _add_word(segs, w, new_turn=closed, gap=self.options.turn_gap_s)
                closed = False
            self._segments = segs
            self._turn_closed = True
            revised = tuple(segs[first:])
        self._agreement.replace_since(since, words)
        self.revisions += 1
        self._emit([RevisionEvent("revised", first, revised, new_after, at, wall)])
        self._extract(at, wall)
        return []

    def _doubtful_sentence_end(self, start: float) -> float | None:
        """The end of the last committed word when it ends a sentence of the utterance going on (inside the buffer)
        that may hold a misheard drug name: a window of the speech stage's second pass (a bent word near medication
        talk, :func:`consult.transcribe.drug_windows`) that no live decode read as a name. None otherwise; each
        sentence end is looked at once."""
        committed = self._agreement.committed
        if not committed or not self.asr.second_pass or self.language not in ("fr", "en"):
            return None
        last = committed[-1]
        if (not re.search(r"[.?!]$", last.text) or last.end <= self._sentence_checked
                or last.end <= max(start, self._utterance_start) + 1.0):
            return None
        self._sentence_checked = last.end
        from consult.transcribe import drug_windows, eligible

        with self._lock:
            words = [w for seg in self._segments[-12:] for w in seg.words
                     if (w.start + w.end) / 2 > self._utterance_start and w.end <= last.end + 1e-3]
        if not words:
            return None
        seg = Segment(id=0, start=words[0].start, end=words[-1].end, text=" ".join(w.text for w in words),
                      words=words, speaker=LIVE_SPEAKER)
        windows = drug_windows([seg], self.language, self.asr, cue_before=self._cue_before(self._utterance_start))
        if not any(eligible(r, self.asr) for win in windows for r in win.readings):
            return None
        return last.end

    def _cue_before(self, t: float) -> bool:
        """The last committed words said before stream time ``t`` (``CUE_WORDS`` of them) hold a medication cue: the
        speech stage's second pass counts it as a cue before the words it is given."""
        from consult.extract.names import medication_cue
        from consult.transcribe import CUE_WORDS

        with self._lock:
            before = [w.text for seg in self._segments[-12:] for w in seg.words if w.end <= t + 0.05]
        return medication_cue(" ".join(before[-CUE_WORDS:]), self.language)

    def _context(self, start: float) -> str | None:
        """The committed text said before the buffer (the decoder's prompt), or None."""
        n = self.options.context_chars
        if n <= 0:
            return None
        with self._lock:
            words = [w.text for seg in self._segments[-6:] for w in seg.words if w.end <= start + 0.05]
        text = " ".join(words)[-n:]
        return text.split(" ", 1)[-1] if len(text) == n and " " in text else (text or None)

    def _name_pass(self, words: list[Word], buf: np.ndarray, start: float) -> list[Word]:
        """The contextual second pass of ``consult run`` (:func:`consult.transcribe.second_pass`) on each decode of
        the buffer, before agreement: a drug name the greedy decode bent or split ("amoxiceline", "l'ibu profaine")
        is scored against the few lexicon names it sounds like, with the buffer's audio; a name that wins is what
        the next decode must agree with. The buffer starts after committed text: medication talk in its last
        words counts as a cue before the buffer ("... un comprimé matin et soir." then "Et le cardégi que midi")."""
        if not words or not self.asr.second_pass or self.language not in ("fr", "en"):
            return words
        from consult.transcribe import second_pass

        rel = [w.model_copy(update={"start": max(0.0, w.start - start), "end": max(0.0, w.end - start)})
               for w in words]
        seg = Segment(id=0, start=rel[0].start, end=rel[-1].end, text=" ".join(w.text for w in rel), words=rel,
                      speaker=LIVE_SPEAKER)
        revised, _ = second_pass(self.transcriber, buf, [seg], self.language, self.asr,
                                 cue_before=self._cue_before(start))
        return [w.model_copy(update={"start": w.start + start, "end": w.end + start})
                for s in revised for w in s.words]

    def _cut_point(self, buffer_start: float, length: float) -> float | None:
        """Where to drop committed audio once the buffer is long: after the last committed word that ends a
        sentence; past 2 x ``max_buffer_s`` after the last committed word followed by a pause, else the last
        committed word (cutting inside a sentence costs the next decode its context)."""
        words = [w for w in self._agreement.committed if w.end > buffer_start + 1.0]
        if not words:
            return None
        for w in reversed(words):
            if re.search(r"[.?!]$", w.text):
                return w.end
        if length < 2 * self.options.max_buffer_s:
            return None
        for prev, nxt in zip(reversed(words[:-1]), reversed(words[1:]), strict=True):
            if nxt.start - prev.end >= 0.2:
                return prev.end
        return words[-1].end

    def _trim(self, t: float) -> None:
        with self._lock:
            drop = int(round((t - self._buffer_start) * SAMPLE_RATE))
            drop = max(0, min(drop, self._buffer.size))
            self._buffer = self._buffer[drop:].copy()
            self._buffer_start += drop / SAMPLE_RATE
        self._agreement.forget_before(self._buffer_start - 1.0)

    def _set_tentative(self, words: Sequence[Word]) -> None:
        with self._lock:
            self._tentative = list(words)

    def _commit(self, words: list[Word], *, utterance_end: bool) -> None:
        at, wall = self.fed_s, self.now()
        new_events: list[LiveEvent] = []
        with self._lock:
            segs = self._segments
            for w in words:
                _add_word(segs, w, new_turn=self._turn_closed, gap=self.options.turn_gap_s)
                self._turn_closed = False
                ev_words = [w]
                if new_events and isinstance(new_events[-1], TextEvent) and \
                        new_events[-1].segment_id == segs[-1].id:
                    prev = new_events.pop()
                    assert isinstance(prev, TextEvent)
                    ev_words = [*prev.words, w]
                new_events.append(TextEvent("text", segs[-1].id, tuple(ev_words), at, wall))
            if utterance_end:
                self._turn_closed = True
        self._emit(new_events)
        self._extract(at, wall)

    def _extract(self, at: float, wall: float) -> None:
        """Re-extract the turns of the last ``extract_window_s``; cards of older turns stay as they were (the cost
        of a commit does not grow with the length of the consultation)."""
        with self._lock:
            segments = list(self._segments)
        if not segments:
            return
        window_start = segments[-1].end - self.options.extract_window_s
        recent = [seg for seg in segments if seg.end >= window_start]
        # No diarisation while live: one speaker, read as a clinician whose role is unsure (the status model takes
        # the role as weak evidence; a patient's "je prends X" stays a mention). The final pass decides.
        lines = self.extractor.extract(recent, roles={LIVE_SPEAKER: "doctor"}, language=self.language or "fr",
                                       role_confidence={LIVE_SPEAKER: LIVE_ROLE_CONFIDENCE})
        events: list[LiveEvent] = []
        with self._lock:
            old = self._cards
            first_recent = recent[0].id
            cards = {k: v for k, v in old.items()
                     if v.evidence.segment_id is not None and v.evidence.segment_id < first_recent}
            seen: dict[str, int] = {}
            for line in lines:
                key = card_key(line, seen)
                base = key.split("#")[0]
                seen[base] = seen.get(base, 0) + 1
                cards[key] = line.model_copy(update={"id": key})  # one id per card across re-extractions
            for key, line in cards.items():
                if key not in old:
                    events.append(CardEvent("added", key, line, at, wall))
                    self._card_times[key] = wall
                elif _card_fields(old[key]) != _card_fields(line):
                    events.append(CardEvent("updated", key, line, at, wall))
            for key, line in old.items():
                if key not in cards:
                    events.append(CardEvent("removed", key, line, at, wall))
                    self._dropped[key] = line
            for key in cards:
                self._dropped.pop(key, None)
            self._cards = cards
        self._emit(events)

    def _emit(self, events: Sequence[LiveEvent]) -> None:
        with self._lock:
            self._events.extend(events)
        if self.on_event is not None:
            for ev in events:
                self.on_event(ev)

    def _finish(self) -> None:
        with self._lock:
            if self._finished:
                return
        if self._buffer.size:
            self.step(final=True)
        self._finish_recording()
        with self._lock:
            self._finished = True

    def _finish_recording(self) -> None:
        if self._recorder is not None:
            self._recorder.close()

    # -- output ---------------------------------------------------------------------------------------------------
    @property
    def input_closed(self) -> bool:
        return self._closed

    @property
    def finished(self) -> bool:
        return self._finished

    @property
    def recording(self) -> Path | None:
        return self._recorder.path if self._recorder is not None else None

    def events(self) -> list[LiveEvent]:
        with self._lock:
            return list(self._events)

    def snapshot(self) -> LiveSnapshot:
        with self._lock:
            return LiveSnapshot(segments=list(self._segments), tentative=" ".join(w.text for w in self._tentative),
                                cards=dict(self._cards), language=self.language, fed_s=self.fed_s,
                                running=not self._finished, error=self.error, card_times=dict(self._card_times),
                                dropped=dict(self._dropped))

    def stats(self) -> dict[str, Any]:
        with self._lock:
            buffer_s = self._buffer.size / SAMPLE_RATE
            recent_s = self._recent.size / SAMPLE_RATE
        return {"fed_s": round(self.fed_s, 2), "decodes": self.decodes, "decode_s": round(self.decode_seconds, 2),
                "revisions": self.revisions, "buffer_s": round(buffer_s, 2), "recent_s": round(recent_s, 2),
                "max_buffer_s": round(self.max_buffer_seen_s, 2)}


_WARM: set[int] = set()
_WARM_LOCK = threading.Lock()


def warm_up(extractor: MedicationExtractor) -> None:
    """Load what the extractor loads on its first call (lexicons, parsers: 12 s for spaCy's French pipeline on 2
    cores) before the audio comes, not during the first commit. A page calls it before the doctor records: audio
    that comes while the session is being made has no session to go to. Once per extractor; a second caller waits
    for the first."""
    with _WARM_LOCK:
        if id(extractor) in _WARM:
            return
        probe = Segment(id=0, start=0.0, end=1.0, text="paracétamol 500 mg", speaker=LIVE_SPEAKER)
        for language in ("fr", "en"):
            extractor.extract([probe], roles={LIVE_SPEAKER: "doctor"}, language=language)
        _WARM.add(id(extractor))


def _drug_names(words: Sequence[Word]) -> set[str]:
    """The drug names spelled exactly (a lexicon match) in ``words``."""
    from consult.extract.lexicon import DrugLexicon

    return {m.entry.name for m in DrugLexicon.load().find(" ".join(w.text for w in words)) if m.score >= 0.95}


def _add_word(segs: list[Segment], w: Word, *, new_turn: bool, gap: float) -> None:
    """Append a committed word to the live turns: a new turn after an utterance end or a pause of ``gap``."""
    last = segs[-1] if segs else None
    if last is None or new_turn or w.start - last.end >= gap:
        segs.append(Segment(id=len(segs), start=w.start, end=w.end, text=w.text, words=[w], speaker=LIVE_SPEAKER))
    else:
        segs[-1] = last.model_copy(update={"end": max(last.end, w.end), "text": f"{last.text} {w.text}",
                                           "words": [*last.words, w]})


def _card_fields(line: MedicationLine) -> dict[str, Any]:
    return line.model_dump(mode="json", exclude={"id", "evidence", "field_evidence", "confidence", "needs_review",
                                                 "review_reasons", "sig"})


# -- sources --------------------------------------------------------------------------------------------------------

def file_chunks(path: Path | str, *, chunk_s: float = 0.25, max_duration: float = 4 * 3600.0
                ) -> Iterator[np.ndarray]:
    """The decoded recording (16 kHz mono) in chunks of ``chunk_s``."""
    from consult.audio import load_audio

    samples = load_audio(path, max_duration=max_duration).samples
    n = max(1, int(chunk_s * SAMPLE_RATE))
    for i in range(0, samples.size, n):
        yield samples[i:i + n]


def stream_chunks(stream: BinaryIO, *, sample_rate: int = SAMPLE_RATE, chunk_s: float = 0.25
                  ) -> Iterator[tuple[np.ndarray, int]]:
    """Audio from a byte stream (stdin, a socket): a WAV stream (its header gives the rate; 16-bit PCM) or raw
    little-endian 16-bit mono PCM at ``sample_rate``. Yields ``(samples, rate)`` as the bytes come."""
    head = _read_exactly(stream, 12)
    rate, channels = sample_rate, 1
    pending = b""
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        while True:
            chunk = _read_exactly(stream, 8)
            if len(chunk) < 8:
                return
            size = int.from_bytes(chunk[4:8], "little")
            if chunk[:4] == b"fmt ":
                fmt = _read_exactly(stream, size + size % 2)
                audio_format, channels, rate = (int.from_bytes(fmt[0:2], "little"), int.from_bytes(fmt[2:4], "little"),
                                                int.from_bytes(fmt[4:8], "little"))
                bits = int.from_bytes(fmt[14:16], "little")
                if audio_format not in (1, 0xFFFE) or bits != 16:
                    raise ValueError("a WAV stream must be 16-bit PCM; convert it (e.g. sox IN -b 16 -e signed "
                                     "OUT.wav) or send raw 16-bit PCM")
            elif chunk[:4] == b"data":
                break
            else:
                _read_exactly(stream, size + size % 2)
    else:
        pending = head
    frame = 2 * channels
    n = max(frame, int(chunk_s * rate) * frame)
    while True:
        data = pending + _read_exactly(stream, n - len(pending))
        pending = b""
        usable = len(data) - len(data) % frame
        if usable:
            x = pcm16_to_float(data[:usable])
            yield (x.reshape(-1, channels).mean(axis=1) if channels > 1 else x), rate
        if len(data) < n:
            return


def _read_exactly(stream: BinaryIO, n: int) -> bytes:
    out = b""
    while len(out) < n:
        more = stream.read(n - len(out))
        if not more:
            break
        out += more
    return out


def microphone() -> Any:
    """The sounddevice module, or a :class:`~consult.errors.ConsultError` that says how to get it."""
    try:
        import sounddevice  # type: ignore[import-not-found,unused-ignore]
    except (ImportError, OSError) as exc:
        from consult.errors import ConsultError

        raise ConsultError("reading the microphone needs sounddevice and PortAudio: pip install 'consult[mic]' "
                           "and apt-get install libportaudio2 (or stream a file: consult live --realtime FILE)"
                           ) from exc
    return sounddevice


def mic_chunks(*, sample_rate: int = SAMPLE_RATE, chunk_s: float = 0.25, device: str | int | None = None,
               stop: threading.Event | None = None) -> Iterator[np.ndarray]:
    """The microphone (sounddevice, ``pip install 'consult[mic]'``; PortAudio on the system) until ``stop``."""
    sd = microphone()
    import queue

    q: queue.Queue[np.ndarray] = queue.Queue()

    def callback(indata: np.ndarray, frames: int, time_info: object, status: object) -> None:
        q.put(indata[:, 0].copy())

    with sd.InputStream(samplerate=sample_rate, channels=1, dtype="float32", device=device,
                        blocksize=int(chunk_s * sample_rate), callback=callback):
        while stop is None or not stop.is_set():
            try:
                yield q.get(timeout=0.5)
            except queue.Empty:
                continue


def feed_realtime(session: LiveSession, chunks: Iterable[np.ndarray], *, sample_rate: int = SAMPLE_RATE,
                  sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic) -> None:
    """Feed ``chunks`` at real-time pace (a file played as if it were spoken now); the session's worker decodes."""
    t0 = clock()
    fed = 0.0
    session.start()
    for chunk in chunks:
        fed += len(chunk) / sample_rate
        session.feed(chunk, sample_rate)
        ahead = t0 + fed - clock()
        if ahead > 0:
            sleep(ahead)
    session.close_input()


def feed_fast(session: LiveSession, chunks: Iterable[np.ndarray], *, sample_rate: int = SAMPLE_RATE) -> None:
    """Feed ``chunks`` as fast as decoding allows (one decode per ``step_s`` of audio, in this thread)."""
    for chunk in chunks:
        session.feed(chunk, sample_rate)
        session.step()
    session.finish()
