"""pyannote.audio back-end, run for real on a tiny randomly initialised pipeline built under tmp_path.

Random weights give meaningless speakers: these tests check the loading path (local folder, no hub), the
shape of the output (sorted, bounded, normalised turns), the speaker-count options, the progress hook and
the error translation, not the diarisation quality.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "0")

pytest.importorskip("pyannote.audio", reason="pyannote.audio not installed: pip install 'consult[pyannote]'")

from consult.backends.pyannote_backend import (  # noqa: E402
    SAMPLE_RATE,
    PyannoteDiariser,
    annotation_to_turns,
)
from consult.errors import AudioError, ModelLoadError  # noqa: E402
from consult.interfaces import Diariser  # noqa: E402
from schemas import SpeakerTurn  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "audio_fixtures"
CLIP_SECONDS = 12.0

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _load_builder() -> ModuleType:
    """Import tests/pyannote_tiny whether or not tests/ is a package."""
    init = Path(__file__).with_name("pyannote_tiny") / "__init__.py"
    spec = importlib.util.spec_from_file_location(
        "pyannote_tiny", init, submodule_search_locations=[str(init.parent)]
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


build_tiny_pipeline = _load_builder().build_tiny_pipeline


def _synthetic_clip(seconds: float) -> np.ndarray:
    """Two alternating 'voices' (different harmonic tones with noise) separated by short silences."""
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    voice_a = 0.3 * np.sin(2 * np.pi * 140 * t) + 0.15 * np.sin(2 * np.pi * 280 * t)
    voice_b = 0.3 * np.sin(2 * np.pi * 230 * t) + 0.15 * np.sin(2 * np.pi * 690 * t)
    which = (t // 2.0).astype(int) % 2
    signal = np.where(which == 0, voice_a, voice_b) + 0.02 * rng.standard_normal(t.size)
    signal[(t % 2.0) > 1.7] = 0.0
    return signal.astype(np.float32)


def _clip() -> np.ndarray:
    """First seconds of a real fixture when the generated fixtures exist, else a synthetic clip."""
    for flac in sorted(FIXTURES.glob("*.flac")):
        import soundfile as sf

        audio, rate = sf.read(flac, dtype="float32", frames=int(CLIP_SECONDS * SAMPLE_RATE))
        if rate == SAMPLE_RATE and audio.size:
            return audio if audio.ndim == 1 else audio.mean(axis=1).astype(np.float32)
    return _synthetic_clip(CLIP_SECONDS)


@pytest.fixture(scope="module")
def tiny_pipeline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_pipeline(tmp_path_factory.mktemp("pyannote") / "tiny-diarization")


@pytest.fixture(scope="module")
def diariser(tiny_pipeline: Path) -> PyannoteDiariser:
    return PyannoteDiariser(tiny_pipeline)


@pytest.fixture(scope="module")
def clip() -> np.ndarray:
    return _clip()


@pytest.fixture
def no_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if anything tries to download from the Hugging Face hub."""
    import pyannote.audio.utils.hf_hub as hf_hub

    def _forbidden(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"hub download attempted: {args} {kwargs}")

    monkeypatch.setattr(hf_hub, "hf_hub_download", _forbidden)


def _copy(tiny_pipeline: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(tiny_pipeline, tmp_path / "copy"))


def _assert_well_formed(turns: list[SpeakerTurn], duration: float) -> None:
    assert turns, "the tiny pipeline found no speech at all"
    starts = [(t.start, t.end) for t in turns]
    assert starts == sorted(starts)
    for turn in turns:
        assert 0.0 <= turn.start < turn.end <= duration + 1e-6
    first_seen: list[str] = []
    for turn in turns:
        if turn.speaker not in first_seen:
            first_seen.append(turn.speaker)
    assert first_seen == [f"SPEAKER_{i:02d}" for i in range(len(first_seen))]


# ----------------------------------------------------------------------------------------------- loading


def test_implements_the_diariser_protocol(diariser: PyannoteDiariser, tiny_pipeline: Path) -> None:
    assert isinstance(diariser, Diariser)
    assert diariser.path == tiny_pipeline.resolve()


def test_model_info_names_pipeline_and_pyannote_version(
    diariser: PyannoteDiariser, tiny_pipeline: Path
) -> None:
    (info,) = diariser.model_info()
    assert info.stage == "diarisation"
    assert str(tiny_pipeline.resolve()) in info.name
    assert "SpeakerDiarization" in info.name
    assert info.version == f"pyannote.audio {importlib.metadata.version('pyannote.audio')}"


def test_loads_from_config_file_path_without_hub(tiny_pipeline: Path, no_hub: None) -> None:
    diariser = PyannoteDiariser(tiny_pipeline / "config.yaml")
    assert diariser.path == tiny_pipeline.resolve()
    turns = diariser.diarise(_synthetic_clip(4.0), num_speakers=1)
    assert {t.speaker for t in turns} == {"SPEAKER_00"}


# ------------------------------------------------------------------------------------------- inference


def test_diarise_returns_well_formed_turns(diariser: PyannoteDiariser, clip: np.ndarray) -> None:
    turns = diariser.diarise(clip)
    _assert_well_formed(turns, clip.size / SAMPLE_RATE)
    assert 1 <= len({t.speaker for t in turns}) <= 4


@pytest.mark.parametrize("num_speakers", [1, 2, 3])
def test_num_speakers_is_honoured(diariser: PyannoteDiariser, clip: np.ndarray, num_speakers: int) -> None:
    turns = diariser.diarise(clip, num_speakers=num_speakers)
    _assert_well_formed(turns, clip.size / SAMPLE_RATE)
    assert len({t.speaker for t in turns}) == num_speakers


def test_min_max_speakers_bound_the_count(diariser: PyannoteDiariser, clip: np.ndarray) -> None:
    # unconstrained, the tiny random pipeline finds a single speaker in the clip: min_speakers must lift it
    turns = diariser.diarise(clip, min_speakers=2, max_speakers=3)
    _assert_well_formed(turns, clip.size / SAMPLE_RATE)
    assert 2 <= len({t.speaker for t in turns}) <= 3
    turns = diariser.diarise(clip, min_speakers=1, max_speakers=1)
    assert {t.speaker for t in turns} == {"SPEAKER_00"}


def test_progress_hook_reaches_one_monotonically(diariser: PyannoteDiariser) -> None:
    events: list[tuple[str, float]] = []
    diariser.diarise(_synthetic_clip(6.0), hook=lambda stage, fraction: events.append((stage, fraction)))
    assert {stage for stage, _ in events} == {"diarisation"}
    fractions = [fraction for _, fraction in events]
    assert len(fractions) >= 3  # several pyannote steps were forwarded
    assert fractions == sorted(fractions)
    assert all(0.0 <= f <= 1.0 for f in fractions)
    assert fractions[-1] == 1.0


def test_empty_audio_gives_no_turns(diariser: PyannoteDiariser) -> None:
    assert diariser.diarise(np.zeros(0, dtype=np.float32)) == []


def test_bad_inputs_are_rejected(diariser: PyannoteDiariser) -> None:
    with pytest.raises(AudioError):
        diariser.diarise(np.zeros((2, 16000), dtype=np.float32))
    with pytest.raises(AudioError):
        diariser.diarise(np.full(16000, np.nan, dtype=np.float32))
    with pytest.raises(ValueError):
        diariser.diarise(np.zeros(16000, dtype=np.float32), num_speakers=0)
    with pytest.raises(ValueError):
        diariser.diarise(np.zeros(16000, dtype=np.float32), min_speakers=3, max_speakers=2)


# ---------------------------------------------------------------------------------------------- errors


def test_missing_folder_raises_model_load_error(tmp_path: Path, no_hub: None) -> None:
    with pytest.raises(ModelLoadError, match="--pyannote-pipeline"):
        PyannoteDiariser(tmp_path / "nowhere")
    with pytest.raises(ModelLoadError, match="not a local folder"):
        PyannoteDiariser("pyannote/speaker-diarization-community-1")  # a hub id is never downloaded


def test_folder_without_config_raises(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="config.yaml"):
        PyannoteDiariser(tmp_path)


def test_invalid_yaml_raises(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("pipeline: [unclosed\n")
    with pytest.raises(ModelLoadError, match="cannot read"):
        PyannoteDiariser(tmp_path)
    (tmp_path / "config.yaml").write_text("params: {}\n")
    with pytest.raises(ModelLoadError, match="pipeline: name"):
        PyannoteDiariser(tmp_path)


def test_missing_checkpoint_raises(tiny_pipeline: Path, tmp_path: Path, no_hub: None) -> None:
    folder = _copy(tiny_pipeline, tmp_path)
    (folder / "segmentation" / "pytorch_model.bin").unlink()
    with pytest.raises(ModelLoadError, match=r"segmentation.*pytorch_model\.bin"):
        PyannoteDiariser(folder)
    shutil.copy(tiny_pipeline / "segmentation" / "pytorch_model.bin", folder / "segmentation")
    (folder / "plda" / "plda.npz").unlink()
    with pytest.raises(ModelLoadError, match=r"plda.*plda\.npz"):
        PyannoteDiariser(folder)


def test_config_without_model_reference_raises(tiny_pipeline: Path, tmp_path: Path, no_hub: None) -> None:
    import yaml

    folder = _copy(tiny_pipeline, tmp_path)
    config = yaml.safe_load((folder / "config.yaml").read_text())
    del config["pipeline"]["params"]["embedding"]  # pyannote's default would be a hub download
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    with pytest.raises(ModelLoadError, match="embedding"):
        PyannoteDiariser(folder)


def test_corrupt_checkpoint_raises(tiny_pipeline: Path, tmp_path: Path, no_hub: None) -> None:
    folder = _copy(tiny_pipeline, tmp_path)
    (folder / "embedding" / "pytorch_model.bin").write_bytes(b"not a checkpoint")
    with pytest.raises(ModelLoadError, match="could not load"):
        PyannoteDiariser(folder)


def test_missing_pyannote_raises_with_install_hint(
    tiny_pipeline: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pyannote.audio", None)  # makes `import pyannote.audio` fail
    with pytest.raises(ModelLoadError, match=r"consult\[pyannote\]"):
        PyannoteDiariser(tiny_pipeline)


def test_bad_device_raises(tiny_pipeline: Path) -> None:
    with pytest.raises(ModelLoadError, match="device"):
        PyannoteDiariser(tiny_pipeline, device="not-a-device")


# ------------------------------------------------------------------------------------------ pure parts


def test_annotation_to_turns_sorts_renames_and_clips() -> None:
    from pyannote.core import Annotation, Segment

    annotation = Annotation()
    annotation[Segment(5.0, 7.0)] = "B"
    annotation[Segment(1.0, 3.0)] = "A"
    annotation[Segment(2.5, 4.0)] = "B"
    annotation[Segment(9.0, 12.0)] = "C"
    annotation[Segment(13.0, 14.0)] = "A"  # entirely past the end: dropped

    turns = annotation_to_turns(annotation, duration=10.0)
    assert [(t.speaker, t.start, t.end) for t in turns] == [
        ("SPEAKER_00", 1.0, 3.0),
        ("SPEAKER_01", 2.5, 4.0),
        ("SPEAKER_01", 5.0, 7.0),
        ("SPEAKER_02", 9.0, 10.0),
    ]
    assert annotation_to_turns(Annotation()) == []


def test_module_import_is_light() -> None:
    code = (
        "import sys, consult.backends.pyannote_backend\n"
        "heavy = [m for m in ('torch', 'pyannote.audio', 'torchaudio') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


# -- opt-in download of a hub pipeline ----------------------------------------------------------------------

def test_hub_id_needs_allow_download(tmp_path: Path) -> None:
    from consult.backends.factory import build_diariser
    from consult.config import DiarisationOptions, Settings

    settings = Settings(cache_dir=tmp_path, diarisation=DiarisationOptions(
        backend="pyannote", pyannote_pipeline="pyannote/speaker-diarization-community-1"))
    with pytest.raises(ModelLoadError, match="--allow-download"):
        build_diariser(settings)


def test_download_needs_a_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from consult.backends.pyannote_backend import download_pipeline

    monkeypatch.delenv("HF_TOKEN", raising=False)
    calls: list[dict[str, Any]] = []
    with pytest.raises(ModelLoadError, match="HF_TOKEN"):
        download_pipeline("pyannote/speaker-diarization-community-1", tmp_path,
                          snapshot_download=lambda **kw: calls.append(kw) or "")
    assert calls == []


def test_download_once_then_load_offline(tiny_pipeline: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         no_hub: None) -> None:
    """The hub client is replaced by a copy of the tiny pipeline: the folder layout, the token hand-over, the
    reuse of the downloaded folder and the loading through build_diariser are ours and are checked."""
    import consult.backends.pyannote_backend as backend
    from consult.backends.factory import build_diariser
    from consult.config import DiarisationOptions, Settings

    calls: list[dict[str, Any]] = []

    def fake_snapshot(**kw: Any) -> str:
        calls.append(kw)
        shutil.copytree(tiny_pipeline, kw["local_dir"], dirs_exist_ok=True)
        return kw["local_dir"]

    real = backend.download_pipeline
    monkeypatch.setattr(backend, "download_pipeline",
                        lambda repo, cache, token_env: real(repo, cache, token_env=token_env,
                                                            snapshot_download=fake_snapshot))
    monkeypatch.setenv("MY_HF_TOKEN", "hf_secret")
    settings = Settings(cache_dir=tmp_path, diarisation=DiarisationOptions(
        backend="pyannote", pyannote_pipeline="pyannote/speaker-diarization-community-1", allow_download=True,
        hf_token_env="MY_HF_TOKEN"))
    first = build_diariser(settings)
    assert calls == [{"repo_id": "pyannote/speaker-diarization-community-1",
                      "local_dir": str(tmp_path / "pyannote" / "pyannote--speaker-diarization-community-1"),
                      "token": "hf_secret"}]
    assert "hf_secret" not in json.dumps(settings.model_dump(mode="json"))
    second = build_diariser(settings)  # already there: no second download
    assert len(calls) == 1
    turns = second.diarise(_clip(), num_speakers=2)
    _assert_well_formed(turns, len(_clip()) / SAMPLE_RATE)
    assert first.model_info() == second.model_info()
