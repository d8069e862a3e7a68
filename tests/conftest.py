"""Shared test set-up: offline, no telemetry, real bundled models, fixtures from audio_fixtures/."""

from __future__ import annotations

import json
import os
from pathlib import Path

# Before anything imports huggingface_hub, pyannote, ray or gradio.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["PYANNOTE_METRICS_ENABLED"] = "0"
os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
REPO = Path(__file__).resolve().parent.parent
os.environ.setdefault("CONSULT_CACHE_DIR", str(REPO / ".cache" / "consult"))

import pytest  # noqa: E402

FIXTURES = REPO / "audio_fixtures"
FIXTURE_NAMES = sorted(p.name.removesuffix(".truth.json") for p in FIXTURES.glob("*.truth.json"))


def load_truth(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.truth.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def pipeline():
    """The real pipeline with the bundled models, loaded once for the whole session."""
    from consult.pipeline import Pipeline

    return Pipeline()


_REPORTS: dict[str, object] = {}


@pytest.fixture(scope="session")
def fixture_report(pipeline):
    """fixture_report(name) -> ConsultationReport of the real pipeline, default settings, on
    audio_fixtures/<name>.flac (cached)."""

    def get(name: str):
        if name not in _REPORTS:
            _REPORTS[name] = pipeline.process(FIXTURES / f"{name}.flac")  # default settings: language detected
        return _REPORTS[name]

    return get


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (for a server a test starts)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def chromium_path() -> str:
    """The system Chromium the browser tests drive through Playwright (never ``playwright install``)."""
    import shutil

    path = os.environ.get("CONSULT_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.fail("Chromium is needed for the browser tests: apt-get install chromium (or set CONSULT_CHROMIUM)")
    return path


PRESCRIBING_TURN = (27.5, 40.5)
"""fr_consult_1's prescribing turn (s): "Oui. Je vous prescris un antibiotique, amoxicilline, mille milligrammes,
un comprimé matin et soir, pendant six jours." The live-mode tests stream it."""


def prescribing_turn(before_s: float = 0.0, after_s: float = 0.0):  # -> np.ndarray
    """That turn as 16 kHz float samples, with ``before_s`` and ``after_s`` of silence around it."""
    import numpy as np

    from consult.audio import load_audio

    samples = load_audio(FIXTURES / "fr_consult_1.flac").samples
    a, b = (int(t * 16000) for t in PRESCRIBING_TURN)
    pad = [np.zeros(int(s * 16000), np.float32) for s in (before_s, after_s)]
    return np.concatenate([pad[0], samples[a:b], pad[1]])
