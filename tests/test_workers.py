"""workers/: the stage classes without Ray, then per-stage Ray actors on a one-CPU Ray with real models.

The Ray tests share one ``ray.init(num_cpus=1)`` (the smoke test of the issue) and run the real pipeline on
short clips cut from audio_fixtures/, so they are marked slow. A worker that kills itself (SIGKILL, as the
kernel's OOM killer would) on one file must fail that file alone, a bounded number of times.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import soundfile as sf
from conftest import free_port

from consult.config import Settings, job_id
from consult.outputs import write_outputs

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "audio_fixtures"
CLIP_SECONDS = 8.0
OUTPUT_FILES = ("report.json", "bundle.json", "transcript.txt", "diarization.rttm")


def _cut(src: Path, dst: Path, seconds: float = CLIP_SECONDS, offset: float = 0.0) -> Path:
    rate = sf.info(str(src)).samplerate
    audio, rate = sf.read(str(src), dtype="float32", start=int(offset * rate), frames=int(seconds * rate))
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


@pytest.fixture(scope="module")
def ray_one_cpu() -> Iterator[None]:
    """The smoke-test Ray: one CPU, started by the caller (executors reuse it and leave it running)."""
    import ray

    ray.init(num_cpus=1, include_dashboard=False, configure_logging=False, log_to_driver=False,
             object_store_memory=128 * 1024 * 1024)
    try:
        yield
    finally:
        ray.shutdown()


def _assert_outputs(out_dir: Path, name: str) -> dict:
    for file in OUTPUT_FILES:
        assert (out_dir / file).is_file(), f"{file} missing in {out_dir}"
    report = json.loads((out_dir / "report.json").read_text(encoding="utf-8"))
    assert report["audio"]["name"] == name
    assert report["audio"]["duration"] == pytest.approx(CLIP_SECONDS, abs=0.1)
    assert report["segments"], "a clip of speech gave no transcript segments"
    assert (out_dir / "transcript.txt").read_text(encoding="utf-8").strip()
    bundle = json.loads((out_dir / "bundle.json").read_text(encoding="utf-8"))
    assert bundle["resourceType"] == "Bundle"
    return report


def test_import_workers_is_lazy() -> None:
    code = ("import sys, workers; assert 'ray' not in sys.modules and 'workers.ray_runner' not in sys.modules; "
            "assert 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_default_resources_follow_the_devices() -> None:
    from workers.ray_runner import StageResources, default_resources

    cpu = default_resources(Settings())
    assert cpu == {"transcriber": StageResources(0.5, 0.0), "diariser": StageResources(0.5, 0.0),
                   "extractor": StageResources(0.0, 0.0)}
    assert sum(r.num_cpus for r in cpu.values()) == 1.0  # one lane fits ray.init(num_cpus=1)
    both = default_resources(Settings(asr={"device": "cuda"}, diarisation={"device": "cuda"}))
    assert (both["transcriber"].num_gpus, both["diariser"].num_gpus) == (0.25, 0.25)
    asr_only = default_resources(Settings(asr={"device": "cuda"}), gpus_per_worker=1.0, cpus_per_worker=4)
    assert asr_only["transcriber"] == StageResources(2.0, 1.0) and asr_only["diariser"].num_gpus == 0.0
    auto = Settings(asr={"device": "auto"}, diarisation={"device": "auto"})
    assert default_resources(auto)["transcriber"].num_gpus == 0.0  # no GPU in the cluster: CPU
    assert default_resources(auto, gpu_available=True)["transcriber"].num_gpus == 0.25
    with pytest.raises(ValueError):
        default_resources(Settings(), cpus_per_worker=-1)


def test_run_batch_validates_arguments(tmp_path: Path, settings: Settings) -> None:
    from workers import RayExecutor, run_batch

    assert run_batch([], tmp_path, settings) == []  # nothing to do: Ray is not even started
    with pytest.raises(ValueError, match="workers"):
        run_batch([tmp_path / "a.wav"], tmp_path, settings, workers=0)
    with pytest.raises(ValueError, match="unknown stage"):
        RayExecutor(settings, stage_classes={"aligner": object})


@pytest.mark.slow
def test_stages_without_ray(clips: dict[str, Path], tmp_path: Path, settings: Settings) -> None:
    """The three stage classes in this process give the pipeline's report, and bad input fails cleanly."""
    from workers.batch import export_outputs
    from workers.stages import Diarised, DiariserStage, ExtractorStage, Finished, StageFailure, TranscriberStage
    from workers.stages import Transcribed as TranscribedResult

    data = settings.model_dump(mode="json")
    transcriber, diariser, extractor = TranscriberStage(data), DiariserStage(data), ExtractorStage(data)
    assert transcriber.ready() and diariser.ready() and extractor.ready()

    transcribed = transcriber.transcribe(str(clips["fr"]))
    diarised = diariser.diarise(str(clips["fr"]))
    assert isinstance(transcribed, TranscribedResult) and isinstance(diarised, Diarised)
    finished = extractor.assemble(transcribed, diarised)
    assert isinstance(finished, Finished)
    assert finished.report_id == job_id(transcribed.info.sha256, settings)
    report = json.loads(finished.report_json)
    assert [t["stage"] for t in report["timings"]][:3] == ["audio", "diarisation", "transcription"]
    assert {m["name"] for m in report["models"]} >= {m.name for m in transcribed.models}
    assert finished.summary["audio_seconds"] == pytest.approx(CLIP_SECONDS, abs=0.1)

    # The files written from a stored report are those write_outputs writes (the bundle is the stored one).
    from schemas import ConsultationReport

    export_outputs(tmp_path / "exported", finished.report_json, finished.bundle_json)
    write_outputs(ConsultationReport.model_validate_json(finished.report_json), tmp_path / "direct")
    for name in ("report.json", "transcript.txt", "diarization.rttm"):
        assert (tmp_path / "exported" / name).read_bytes() == (tmp_path / "direct" / name).read_bytes(), name
    assert (tmp_path / "exported" / "bundle.json").read_text(encoding="utf-8") == finished.bundle_json

    for stage_result in (transcriber.transcribe(str(clips["corrupt"])), diariser.diarise(str(clips["corrupt"]))):
        assert isinstance(stage_result, StageFailure)
        assert not stage_result.retryable and not stage_result.crashed
        assert "corrupt.wav" in stage_result.error
    changed = Diarised("0" * 64, diarised.turns, diarised.models, 0.0)
    mismatch = extractor.assemble(transcribed, changed)
    assert isinstance(mismatch, StageFailure) and mismatch.retryable


@pytest.mark.slow
def test_ray_smoke_one_cpu(ray_one_cpu: None, clips: dict[str, Path], tmp_path: Path, settings: Settings) -> None:
    """ray.init(num_cpus=1): one lane of per-stage actors processes a batch; a bad file fails alone."""
    import ray

    from workers import run_batch
    from workers.ray_runner import FileOutcome

    paths = [clips["fr"], clips["corrupt"], clips["en"]]
    seen: list[FileOutcome] = []
    outcomes = run_batch(paths, tmp_path, settings, workers=1, on_result=seen.append)
    assert ray.is_initialized()  # started by the caller: left running

    assert [o.path for o in outcomes] == [str(p) for p in paths]  # input order
    assert sorted(o.path for o in seen) == sorted(str(p) for p in paths)  # one callback per file
    assert [o.ok for o in outcomes] == [True, False, True]
    _assert_outputs(tmp_path / "fr_clip", "fr_clip.flac")
    _assert_outputs(tmp_path / "en_clip", "en_clip.flac")
    assert outcomes[1].error and "corrupt.wav" in outcomes[1].error and "crashed" not in outcomes[1].error
    assert not (tmp_path / "corrupt").exists()


@pytest.mark.slow
def test_crashing_worker_fails_its_file_alone(ray_one_cpu: None, clips: dict[str, Path], tmp_path: Path,
                                              settings: Settings) -> None:
    """A transcriber killed by SIGKILL on one file and a diariser that calls os._exit on another: each of those
    files is tried max_attempts times then failed with the reason; the files behind them in the queue are
    processed by the replacement workers, and a bad file fails once, without a retry."""
    from consult.store import ReportStore
    from workers.batch import StemExporter, run_jobs
    from workers.ray_runner import RayExecutor
    from workers.stages import DiariserStage, TranscriberStage

    # Defined here so that Ray pickles the classes by value (tests/ is not importable in Ray's workers).
    class CrashingTranscriber(TranscriberStage):
        def transcribe(self, path: str, language: str | None = None):  # type: ignore[override]
            if Path(path).name == "boom.flac":
                os.kill(os.getpid(), signal.SIGKILL)  # as the kernel's OOM killer would: no exception, no clean-up
            return super().transcribe(path, language)

    class CrashingDiariser(DiariserStage):
        def diarise(self, path: str):  # type: ignore[override]
            if Path(path).name == "bang.flac":
                os._exit(3)  # a native crash: the process is gone
            return super().diarise(path)

    boom, bang = tmp_path / "in" / "boom.flac", tmp_path / "in" / "bang.flac"
    boom.parent.mkdir()
    _cut(_fixture("en_consult_1.flac"), boom)
    _cut(_fixture("fr_consult_1.flac"), bang)
    retries: list[tuple[str, int]] = []
    classes = {"transcriber": CrashingTranscriber, "diariser": CrashingDiariser}
    with ReportStore.open(tmp_path / "store.db") as store, RayExecutor(settings, stage_classes=classes) as executor:
        outcomes = run_jobs(store, settings, lambda n: executor, paths=[boom, clips["corrupt"], bang, clips["fr"]],
                            export=StemExporter(tmp_path / "out"), max_attempts=2,
                            on_retry=lambda jid, name, error, attempt: retries.append((name, attempt)))
        by_name = {o.name: o for o in outcomes}
        assert executor.crashes == 4  # two attempts of each poisoned file, each killed its worker
        assert sorted(retries) == [("bang.flac", 1), ("boom.flac", 1)]

        for name, stage in (("boom.flac", "transcriber"), ("bang.flac", "diariser")):
            crashed = by_name[name]
            assert crashed.status == "failed" and crashed.crashed
            assert crashed.error and "crashed" in crashed.error and f"the {stage} worker" in crashed.error
            job = store.get(crashed.job_id or "")
            assert job is not None and job.status == "failed" and job.attempts == 2
            kinds = [(e.kind, e.details.get("retryable")) for e in store.history(job.id)]
            assert kinds == [("created", None), ("started", None), ("failed", True), ("started", None),
                             ("failed", True)]
        corrupt = by_name["corrupt.wav"]
        assert corrupt.status == "failed" and not corrupt.crashed and "crashed" not in (corrupt.error or "")
        corrupt_job = store.get(corrupt.job_id or "")
        assert corrupt_job is not None and corrupt_job.attempts == 1  # AudioError is final: no retry
        assert by_name["fr_clip.flac"].status == "done"  # processed by the replacement workers
        _assert_outputs(tmp_path / "out" / "fr_clip", "fr_clip.flac")
        assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["fr_clip"]


@pytest.mark.slow
def test_worker_start_error_is_clear(ray_one_cpu: None, tmp_path: Path, settings: Settings) -> None:
    """An actor whose model cannot load stops the batch with WorkerStartError before any job is claimed."""
    from workers import RayExecutor, WorkerStartError
    from workers.stages import ExtractorStage

    class BrokenExtractor(ExtractorStage):
        def __init__(self, settings_json: dict[str, object]) -> None:
            raise RuntimeError("no model here")

    with pytest.raises(WorkerStartError, match="no model here"):
        RayExecutor(settings, stage_classes={"extractor": BrokenExtractor}).start()
    too_big = RayExecutor(settings, cpus_per_worker=4)
    with pytest.raises(WorkerStartError, match="asks for 2 CPU"):
        too_big.start()


@pytest.mark.slow
def test_embedded_ray_listens_on_loopback_only(clips, tmp_path):
    """A port scan of the machine during an embedded Ray batch finds nothing of Ray beyond 127.0.0.1 (no
    job-submission API or gRPC server on the network)."""
    import time

    from netscan import is_loopback, listening

    before = listening()
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "consult", "run", str(clips["fr"]), str(clips["en"]), "--out", str(tmp_path / "out"),
         "--workers", "1", "--store", str(tmp_path / "store.db"), "--no-progress"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT)
    seen: set[tuple[str, int]] = set()
    while proc.poll() is None:
        seen |= listening() - before
        time.sleep(0.2)
    output = proc.stdout.read() if proc.stdout else ""
    assert proc.returncode == 0, output
    assert len(seen) >= 5, f"the scan saw too little of Ray to mean anything: {seen}"
    exposed = sorted(s for s in seen if not is_loopback(s[0]))
    assert not exposed, f"listening beyond loopback during the batch: {exposed}"


@pytest.mark.slow
def test_cluster_mode_with_ray_token_authentication(clips, tmp_path):
    """A head started apart with `ray start --head` after `ray get-auth-token --generate` (token authentication on,
    as Ray does when a token exists): `consult run
    --ray-address` finds the token where Ray documents it and completes the batch; without a token it stops with an
    error naming the fix instead of retrying for ever."""
    port = free_port()
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_AUTH")}
    env.update(HOME=str(home), HF_HUB_OFFLINE="1", RAY_USAGE_STATS_ENABLED="0", PYTHONUNBUFFERED="1")
    ray_bin = str(Path(sys.executable).with_name("ray"))
    made = subprocess.run([ray_bin, "get-auth-token", "--generate"], capture_output=True, text=True, env=env,
                          timeout=60)
    assert made.returncode == 0, made.stderr
    started = subprocess.run([ray_bin, "start", "--head", "--port", str(port), "--num-cpus", "2",
                              "--include-dashboard=false", "--disable-usage-stats"],
                             capture_output=True, text=True, env=env, timeout=180)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        assert (home / ".ray" / "auth_token").is_file(), "no token: token authentication would be off"
        address = f"127.0.0.1:{port}"
        run = [sys.executable, "-m", "consult", "run", str(clips["fr"]), str(clips["en"]), "--ray-address", address,
               "--no-progress"]
        ok = subprocess.run([*run, "--out", str(tmp_path / "out"), "--store", str(tmp_path / "a.db")],
                            capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)
        assert ok.returncode == 0, ok.stdout + ok.stderr[-3000:]
        assert "2 succeeded, 0 failed" in ok.stdout

        stranger = tmp_path / "stranger"
        stranger.mkdir()
        refused = subprocess.run([*run, "--out", str(tmp_path / "out2"), "--store", str(tmp_path / "b.db")],
                                 capture_output=True, text=True, env={**env, "HOME": str(stranger)}, cwd=ROOT,
                                 timeout=300)
        assert refused.returncode == 2, refused.stdout + refused.stderr[-3000:]
        assert "no Ray token was found here" in refused.stderr and "~/.ray/auth_token" in refused.stderr
        assert "Traceback" not in refused.stderr
    finally:
        subprocess.run([ray_bin, "stop", "--force"], capture_output=True, env=env, timeout=120)
