"""Audio loading: any common file -> mono float32 at 16 kHz, with clear errors.

WAV/FLAC/OGG are read with soundfile (libsndfile); MP3/M4A/WebM and anything libsndfile refuses are decoded
with PyAV (FFmpeg), which faster-whisper already depends on.

Two-channel files read by soundfile can keep their channels (``load_audio(keep_channels=True)``) for
channel-based diarisation; :func:`channels_separated` tells whether each channel carries its own speaker.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from consult.errors import AudioError
from schemas import AudioInfo

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
SUPPORTED_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".m4a", ".mp4", ".aac", ".webm")


@dataclass(frozen=True)
class Audio:
    """Decoded audio: ``samples`` is mono float32 in [-1, 1] at 16 kHz; ``channels``, when kept, is the
    (2, n) stereo signal at 16 kHz (``samples`` is its mean)."""

    samples: np.ndarray
    info: AudioInfo
    channels: np.ndarray | None = None

    @property
    def duration(self) -> float:
        return len(self.samples) / SAMPLE_RATE


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class _Sink:
    """Growable float32 buffer of (channels, n) written block by block (no full-file temporaries)."""

    def __init__(self, channels: int, expected: int) -> None:
        self.data = np.empty((channels, max(expected, 1)), np.float32)
        self.n = 0

    def write(self, block: np.ndarray) -> None:  # block: (frames, channels)
        k = block.shape[0]
        if self.n + k > self.data.shape[1]:
            grown = np.empty((self.data.shape[0], max(self.n + k, int(self.data.shape[1] * 1.25))), np.float32)
            grown[:, : self.n] = self.data[:, : self.n]
            self.data = grown
        self.data[:, self.n:self.n + k] = block.T
        self.n += k

    def array(self) -> np.ndarray:
        return self.data[:, : self.n]


def _read_soundfile(path: Path, max_duration: float,
                    keep_channels: bool) -> tuple[np.ndarray, np.ndarray | None, int, int] | None:
    """(mono 16 kHz, stereo 16 kHz or None, source rate, channels), or None when libsndfile cannot read it.

    Read in blocks of about 16 s, down-mixed and resampled (soxr, streaming) as they come, into one
    preallocated buffer: memory is the 16 kHz float32 result (230 MB an hour), not the source at its own
    rate and channel count plus copies."""
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError):
        return None
    if info.samplerate and info.frames / info.samplerate > max_duration:
        raise AudioError(
            f"{path.name}: {info.frames / info.samplerate:.0f} s is longer than the limit of "
            f"{max_duration:.0f} s; split the file or raise the limit (--max-duration)."
        )
    sr, channels = int(info.samplerate), int(info.channels)
    stereo = keep_channels and channels == 2
    width = 3 if stereo else 1  # mono mix (+ the two channels)
    expected = int(np.ceil(info.frames * SAMPLE_RATE / sr)) + 64 if sr else 0
    sink = _Sink(width, expected)
    resampler = None
    if sr != SAMPLE_RATE:
        import soxr

        resampler = soxr.ResampleStream(sr, SAMPLE_RATE, width, dtype="float32", quality="HQ")
    try:
        for block in sf.blocks(str(path), blocksize=1 << 18, dtype="float32", always_2d=True):
            out = block.mean(axis=1, keepdims=True, dtype=np.float32)
            if stereo:
                out = np.concatenate([out, block[:, :2]], axis=1)
            if resampler is not None:
                out = resampler.resample_chunk(np.ascontiguousarray(out))
            sink.write(out)
        if resampler is not None:
            sink.write(resampler.resample_chunk(np.zeros((0, width), np.float32), last=True))
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise AudioError(f"{path.name}: the audio data is corrupt or truncated ({exc}).") from exc
    data = sink.array()
    return data[0], (data[1:3] if stereo and data.shape[1] > 0 else None), sr, channels


def _read_av(path: Path, max_duration: float) -> tuple[np.ndarray, int, int]:
    import av

    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise AudioError(f"{path.name}: the file holds no audio stream.")
            stream = container.streams.audio[0]
            src_rate = int(stream.sample_rate or stream.codec_context.sample_rate or 0)
            channels = int(stream.codec_context.channels or 1)
            if stream.duration is not None and stream.time_base is not None:
                if float(stream.duration * stream.time_base) > max_duration:
                    raise AudioError(
                        f"{path.name}: longer than the limit of {max_duration:.0f} s; split the file or "
                        "raise the limit (--max-duration)."
                    )
            resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
            chunks: list[np.ndarray] = []
            total = 0
            for frame in container.decode(stream):
                frame.pts = None
                for out in resampler.resample(frame):
                    arr = out.to_ndarray().reshape(-1)
                    chunks.append(arr)
                    total += arr.size
                if total / SAMPLE_RATE > max_duration:
                    raise AudioError(
                        f"{path.name}: longer than the limit of {max_duration:.0f} s; split the file or "
                        "raise the limit (--max-duration)."
                    )
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
    except AudioError:
        raise
    except (av.error.FFmpegError, ValueError, OSError) as exc:
        raise AudioError(
            f"{path.name}: could not be decoded as audio ({type(exc).__name__}). Supported: "
            f"{', '.join(SUPPORTED_SUFFIXES)}."
        ) from exc
    samples = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
    return samples, src_rate or SAMPLE_RATE, channels


def load_audio(path: str | Path, *, max_duration: float = 4 * 3600.0, keep_channels: bool = False) -> Audio:
    """Load ``path`` as 16 kHz mono float32 (with ``keep_channels``, a 2-channel file read by soundfile also
    keeps its two channels in ``Audio.channels``).

    Raises:
        AudioError: missing, empty, not audio, corrupt, silent-length (no samples) or too long.
    """
    p = Path(path)
    if not p.exists():
        raise AudioError(f"{p}: file not found.")
    if not p.is_file():
        raise AudioError(f"{p}: not a file.")
    size = p.stat().st_size
    if size == 0:
        raise AudioError(f"{p.name}: the file is empty (0 bytes).")
    got = _read_soundfile(p, max_duration, keep_channels)
    stereo: np.ndarray | None = None
    if got is None:
        samples, src_rate, channels = _read_av(p, max_duration)
    else:
        samples, stereo, src_rate, channels = got
    if samples.size == 0:
        raise AudioError(f"{p.name}: the file holds no audio samples.")
    if not np.isfinite(samples).all():
        raise AudioError(f"{p.name}: the audio holds NaN or infinite samples (corrupt file).")
    samples = np.clip(samples, -1.0, 1.0, out=samples if samples.flags.writeable else None)
    if stereo is not None:
        stereo = np.clip(np.nan_to_num(stereo), -1.0, 1.0)
    info = AudioInfo(
        name=p.name,
        sha256=sha256_file(p),
        duration=round(samples.size / SAMPLE_RATE, 3),
        sample_rate=src_rate,
        channels=channels,
    )
    log.debug("loaded audio: %.1f s, %d Hz, %d ch", info.duration, src_rate, channels)
    return Audio(samples=samples, info=info, channels=stereo)


def _frame_db(x: np.ndarray, frame: int) -> np.ndarray:
    n = len(x) // frame
    e = np.square(x[: n * frame].astype(np.float64)).reshape(n, frame).mean(axis=1)
    db: np.ndarray = 10.0 * np.log10(e + 1e-12)
    return db


def channels_separated(channels: np.ndarray, *, dominance_db: float = 10.0, min_share: float = 0.1,
                       max_correlation: float = 0.5) -> bool:
    """True when the two channels of ``channels`` (2, n) carry different speakers.

    On 50 ms frames with sound (within 40 dB of the loudest frames), each channel must be the louder by
    ``dominance_db`` in at least ``min_share`` of them (dominance alternates between the channels), and the
    correlation of the two signals must stay below ``max_correlation`` (not the same sound on both)."""
    if channels.ndim != 2 or channels.shape[0] != 2 or channels.shape[1] < SAMPLE_RATE:
        return False
    frame = SAMPLE_RATE // 20
    left, right = _frame_db(channels[0], frame), _frame_db(channels[1], frame)
    loud = np.maximum(left, right)
    top = float(np.percentile(loud, 95))
    active = loud > max(top - 40.0, -70.0)
    if active.sum() < 20:
        return False
    diff = (left - right)[active]
    share_left = float(np.mean(diff > dominance_db))
    share_right = float(np.mean(diff < -dominance_db))
    a, b = channels[0].astype(np.float64), channels[1].astype(np.float64)
    denom = float(np.sqrt(np.dot(a, a) * np.dot(b, b)))
    corr = abs(float(np.dot(a, b)) / denom) if denom > 0 else 1.0
    log.debug("stereo: left-dominant %.2f, right-dominant %.2f, correlation %.2f", share_left, share_right, corr)
    return share_left >= min_share and share_right >= min_share and corr < max_correlation
