"""workers/: PipelineWorker without Ray, then run_batch on an embedded Ray with real models.

The Ray tests start a small local Ray (a few seconds each) and run the real pipeline on
short clips cut from audio_fixtures/, so they are marked slow.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from consult.config import Settings
from consult.pipeline import FileOutcome

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "audio_fixtures"
CLIP_SECONDS = 15.0
OUTPUT_FILES = ("report.json", "bundle.json", "transcript.txt", "diarization.rttm")


def _cut(src: Path, dst: Path, seconds: float = CLIP_SECONDS) -> Path:
    audio, rate = sf.read(str(src), dtype="float32", frames=int(seconds * sf.info(str(src)).samplerate))
    sf.write(str(dst), audio, rate)
    return dst


def _fixture(name: str) -> Path:
    path = FIXTURES / name
    if not path.is_file():
        pytest.fail(f"missing audio fixture {path}: run audio_fixtures/generate.py")
    return path


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two short real speech clips and one file named .wav that holds no audio at all."""
    folder = tmp_path_factory.mktemp("clips")
    corrupt = folder / "corrupt.wav"
    corrupt.write_bytes(b"this is not audio at all, just some text bytes\n" * 50)
    return {
        "fr": _cut(_fixture("fr_consult_2.flac"), folder / "fr_clip.flac"),
        "en": _cut(_fixture("en_consult_2.flac"), folder / "en_clip.flac"),
        "corrupt": corrupt,
    }


@pytest.fixture(scope="module")
def settings() -> Settings:
    return Settings(asr={"cpu_threads": 2})


def _assert_written(outcome: FileOutcome) -> None:
    assert outcome.ok, outcome.error
    assert outcome.error is None
    assert outcome.out_dir is not None
    out_dir = Path(outcome.out_dir)
    for name in OUTPUT_FILES:
        assert (out_dir / name).is_file(), f"{name} missing in {out_dir}"
    report = json.loads((out_dir / "report.json").read_text(encoding="utf-8"))
    assert report["audio"]["name"] == Path(outcome.path).name
    assert report["audio"]["duration"] == pytest.approx(CLIP_SECONDS, abs=0.1)
    assert report["segments"], "a clip of speech gave no transcript segments"
    assert (out_dir / "transcript.txt").read_text(encoding="utf-8").strip()


def test_import_workers_is_lazy() -> None:
    code = "import sys, workers; assert 'ray' not in sys.modules and 'workers.ray_runner' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_run_batch_validates_arguments(tmp_path: Path, settings: Settings) -> None:
    from workers import run_batch

    assert run_batch([], tmp_path, settings) == []  # nothing to do: Ray is not even started
    with pytest.raises(ValueError, match="workers"):
        run_batch([tmp_path / "a.wav"], tmp_path, settings, workers=0)


@pytest.mark.slow
def test_pipeline_worker_without_ray(clips: dict[str, Path], tmp_path: Path, settings: Settings) -> None:
    from workers import PipelineWorker

    worker = PipelineWorker(settings.model_dump(mode="json"))
    good = worker(str(clips["fr"]), str(tmp_path))
    assert good.path == str(clips["fr"])
    _assert_written(good)
    assert Path(good.out_dir or "") == tmp_path / "fr_clip"

    bad = worker.process(str(clips["corrupt"]), str(tmp_path))
    assert not bad.ok
    assert bad.error
    assert not (tmp_path / "corrupt" / "report.json").exists()


@pytest.mark.slow
def test_run_batch_embedded_ray(clips: dict[str, Path], tmp_path: Path, settings: Settings) -> None:
    import ray

    from workers import run_batch

    paths = [clips["fr"], clips["corrupt"], clips["en"]]
    seen: list[FileOutcome] = []
    outcomes = run_batch(paths, tmp_path, settings, workers=2, on_result=seen.append)

    assert [o.path for o in outcomes] == [str(p) for p in paths]  # input order
    assert sorted(o.path for o in seen) == sorted(str(p) for p in paths)  # one callback per file
    assert [o.ok for o in outcomes] == [True, False, True]
    _assert_written(outcomes[0])
    _assert_written(outcomes[2])
    assert outcomes[1].error and "crashed" not in outcomes[1].error  # a clean failure, not a crash
    assert not ray.is_initialized()  # run_batch started Ray, so it shut it down


@pytest.mark.slow
def test_run_batch_survives_a_worker_crash(
    clips: dict[str, Path], tmp_path: Path, settings: Settings
) -> None:
    import ray

    from workers import PipelineWorker, run_batch

    crash_on = tmp_path / "in" / "boom.flac"
    crash_on.parent.mkdir()
    crash_on.write_bytes(clips["en"].read_bytes())

    # Defined locally so that Ray pickles it by value (tests/ is not importable in Ray's workers).
    class CrashingWorker(PipelineWorker):
        def process(self, path: str, out_root: str) -> FileOutcome:
            if Path(path).name == "boom.flac":
                os._exit(1)  # a hard crash: no exception, no cleanup, the process is gone
            return super().process(path, out_root)

    # Ray initialised by the caller: run_batch reuses it and leaves it running.
    ray.init(num_cpus=1, include_dashboard=False, configure_logging=False, log_to_driver=False)
    try:
        paths = [crash_on, clips["corrupt"], clips["fr"]]
        outcomes = run_batch(paths, tmp_path / "out", settings, workers=1, worker_cls=CrashingWorker)
        assert ray.is_initialized()
    finally:
        ray.shutdown()

    crashed, corrupt, good = outcomes
    assert not crashed.ok and crashed.path == str(crash_on)
    assert crashed.error and "crashed" in crashed.error
    assert not corrupt.ok and corrupt.error and "crashed" not in corrupt.error
    _assert_written(good)  # processed by the replacement worker
    assert Path(good.out_dir or "").parent == tmp_path / "out"


def test_worker_start_error_is_clear(tmp_path: Path, settings: Settings) -> None:
    """An actor whose Pipeline cannot load stops the batch with WorkerStartError, not N failed files."""
    from workers import PipelineWorker, WorkerStartError, run_batch

    class BrokenWorker(PipelineWorker):
        def __init__(self, settings_json: dict[str, object]) -> None:
            raise RuntimeError("no model here")

    wav = tmp_path / "x.wav"
    sf.write(str(wav), np.zeros(1600, dtype="float32"), 16000)
    with pytest.raises(WorkerStartError, match="no model here"):
        run_batch([wav, wav], tmp_path / "out", settings, workers=1, worker_cls=BrokenWorker)
