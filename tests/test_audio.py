"""Audio loading: formats, rates, channels, and the clear errors for bad files."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from consult.audio import SAMPLE_RATE, load_audio
from consult.errors import AudioError


def _tone(sr: int, seconds: float = 1.0, channels: int = 1) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    x = 0.3 * np.sin(2 * np.pi * 440 * t).astype(np.float32)
    return np.stack([x] * channels, axis=1) if channels > 1 else x


@pytest.mark.parametrize("sr,channels,ext", [(16000, 1, "wav"), (44100, 2, "wav"), (48000, 1, "flac"),
                                              (22050, 2, "ogg")])
def test_soundfile_formats_any_rate_and_channels(tmp_path, sr, channels, ext):
    path = tmp_path / f"a.{ext}"
    sf.write(path, _tone(sr, 1.5, channels), sr)
    audio = load_audio(path)
    assert audio.samples.dtype == np.float32 and audio.samples.ndim == 1
    assert abs(audio.duration - 1.5) < 0.02
    assert audio.info.sample_rate == sr and audio.info.channels == channels
    assert len(audio.info.sha256) == 64


def _encode(path, samples: np.ndarray, sr: int, codec: str) -> None:
    """Write a stereo float signal with PyAV (FFmpeg inside the av wheel; no ffmpeg CLI needed)."""
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=sr, layout="stereo")
        fmt = stream.codec_context.codec.audio_formats[0].name
        frame_len = 1152
        for i in range(0, len(samples), frame_len):
            chunk = np.ascontiguousarray(samples[i:i + frame_len].T)  # (channels, n)
            frame = av.AudioFrame.from_ndarray(chunk.astype(np.float32), format="fltp", layout="stereo")
            frame.sample_rate = sr
            frame.pts = i
            if fmt != "fltp":
                frame = av.AudioResampler(format=fmt, layout="stereo", rate=sr).resample(frame)[0]
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


@pytest.mark.parametrize("ext,codec", [("mp3", "libmp3lame"), ("m4a", "aac"), ("webm", "libopus")])
def test_compressed_formats_via_pyav(tmp_path, ext, codec):
    sr = 48000 if codec == "libopus" else 44100
    out = tmp_path / f"a.{ext}"
    _encode(out, _tone(sr, 2.0, 2), sr, codec)
    audio = load_audio(out)
    assert abs(audio.duration - 2.0) < 0.1
    assert audio.info.channels == 2
    # the tone survives: energy at 440 Hz dominates
    spec = np.abs(np.fft.rfft(audio.samples[:SAMPLE_RATE]))
    assert abs(np.argmax(spec) - 440) <= 2


def test_fixture_loads(fixtures_dir):
    audio = load_audio(fixtures_dir / "fr_consult_1.flac")
    assert audio.info.sample_rate == 16000 and audio.duration > 30


def test_missing_file(tmp_path):
    with pytest.raises(AudioError, match="not found"):
        load_audio(tmp_path / "nope.wav")


def test_empty_file(tmp_path):
    p = tmp_path / "empty.wav"
    p.write_bytes(b"")
    with pytest.raises(AudioError, match="empty"):
        load_audio(p)


def test_not_audio(tmp_path):
    p = tmp_path / "notes.wav"
    p.write_text("this is a text file, not a recording\n" * 50)
    with pytest.raises(AudioError, match="decoded|audio stream"):
        load_audio(p)


def test_truncated_file(tmp_path, fixtures_dir):
    data = (fixtures_dir / "fr_consult_1.flac").read_bytes()
    p = tmp_path / "cut.mp3"
    p.write_bytes(data[:200])  # a header and nothing else
    with pytest.raises(AudioError):
        load_audio(p)


def test_too_long(tmp_path):
    p = tmp_path / "long.wav"
    sf.write(p, np.zeros(16000 * 5, np.float32), 16000)
    with pytest.raises(AudioError, match="longer than the limit"):
        load_audio(p, max_duration=2.0)


def test_directory_is_not_a_file(tmp_path):
    with pytest.raises(AudioError, match="not a file"):
        load_audio(tmp_path)
