"""`consult bench`: the generated long consultation, and a short benchmark run end to end through the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from consult.bench import RssSampler, bench_audio, make_long_audio

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "audio_fixtures"


def test_generated_audio_has_the_duration_and_is_made_of_the_fixtures(tmp_path):
    gen = make_long_audio(FIXTURES, "fr", 200.0, tmp_path / "long.flac", pause_s=1.0)
    data, sr = sf.read(str(gen.path), dtype="int16")
    info = sf.info(str(gen.path))
    assert sr == 16000 and info.channels == 1
    assert len(data) == 200 * 16000 and gen.seconds == 200.0
    # fr_consult_1 (61.0 s), 2 (51.0 s), 3 (43.9 s) then 1 again, cut at 200 s, 1 s pauses between
    names = [name for name, _start, _len in gen.pieces]
    assert names == ["fr_consult_1", "fr_consult_2", "fr_consult_3", "fr_consult_1"]
    for name, start, length in gen.pieces:
        ref, _ = sf.read(str(FIXTURES / f"{name}.flac"), dtype="int16")
        a = int(round(start * 16000))
        n = int(round(length * 16000))
        assert np.array_equal(data[a : a + n], ref[:n]), name
    ends = [int(round((s + n) * 16000)) for _name, s, n in gen.pieces[:-1]]
    for end in ends:
        assert not data[end : end + 16000].any()  # the pause after each fixture is silence
    assert gen.pieces[-1][1] + gen.pieces[-1][2] == pytest.approx(200.0, abs=1e-3)
    assert gen.pieces[-1][2] < 61.0  # the last fixture is cut to fit


def test_generated_audio_is_temporary_and_english_works(tmp_path):
    with bench_audio(None, minutes=0.25, language="en") as (path, sources):
        assert path.is_file() and sf.info(str(path)).duration == pytest.approx(15.0)
        assert sources == ["en_consult_1"]
    assert not path.exists()
    given = tmp_path / "x.flac"
    with bench_audio(given, minutes=10, language="fr") as (path, sources):
        assert path == given and sources == []


def test_sampler_sees_a_large_allocation():
    with RssSampler(0.005) as s:
        with s.measure("big"):
            block = np.ones(200 * 1024 * 1024 // 8)  # 200 MB, touched
            assert block.sum() > 0
            del block
        with s.measure("small"):
            pass
    assert s.peak["big"] - s.start_rss["big"] > 150 * 1024 * 1024
    # What "small" adds over its own start, not its absolute peak: the allocator may keep the freed block mapped.
    assert s.peak["small"] - s.start_rss["small"] < 50 * 1024 * 1024
    assert s.cpu["big"] > 0


@pytest.mark.slow
def test_bench_cli_end_to_end(tmp_path):
    out = tmp_path / "bench.json"
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1")
    r = subprocess.run(
        [sys.executable, "-m", "consult", "bench", "--minutes", "0.5", "--batch-size", "4", "--json", str(out)],
        capture_output=True, text=True, timeout=300, env=env, cwd=REPO,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    text = r.stdout
    assert "model load:" in text and "bare WhisperModel" in text
    for stage in ("audio", "diarisation", "transcription", "extraction", "whole file"):
        assert f"\n{stage} " in text, stage
    assert "RTF" in text and "x real time" in text and "peak RSS MB" in text
    assert "ratio consult/bare (sequential):" in text and "ratio consult/bare (batched):" in text
    data = json.loads(out.read_text())
    assert {"audio_seconds", "load_seconds", "bare_load_seconds", "stages", "asr", "ratio", "cpu_ratio",
            "peak_rss_mb", "generated_from"} <= set(data)
    assert data["audio_seconds"] == pytest.approx(30.0)
    assert data["generated_from"] == ["fr_consult_1"]
    stages = {s["stage"]: s for s in data["stages"]}
    assert {"audio", "diarisation", "transcription", "extraction", "whole file"} <= set(stages)
    for s in stages.values():
        assert {"seconds", "cpu_seconds", "rtf", "speed_x", "peak_rss_mb", "rss_rise_mb"} <= set(s)
    whole = stages["whole file"]
    assert whole["seconds"] >= stages["diarisation"]["seconds"] + stages["transcription"]["seconds"]
    assert whole["rtf"] == pytest.approx(whole["seconds"] / 30.0, rel=0.01)
    assert whole["peak_rss_mb"] > 100 and data["peak_rss_mb"] >= whole["peak_rss_mb"]
    runs = {(a["impl"], a["mode"]): a for a in data["asr"]}
    assert set(runs) == {("consult", "sequential"), ("bare", "sequential"), ("consult", "batched"),
                         ("bare", "batched")}
    for a in runs.values():
        assert a["seconds"] > 0 and a["words"] > 20
    # same model, same options, same audio: the same number of words within a few
    for mode in ("sequential", "batched"):
        assert abs(runs[("consult", mode)]["words"] - runs[("bare", mode)]["words"]) <= 5
        assert data["ratio"][mode] == pytest.approx(
            runs[("consult", mode)]["seconds"] / runs[("bare", mode)]["seconds"], rel=0.01)
