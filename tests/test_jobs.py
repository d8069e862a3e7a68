"""Batches backed by the report store: recovery of dead processes, bounded retries, idempotent re-runs,
``consult jobs``, and a real ``consult run`` killed with SIGKILL mid-batch then resumed (no loss, no duplicate)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from consult.config import Settings, job_id
from consult.pipeline import report_from_text
from consult.store import ReportStore
from workers.batch import BatchProgress, JobOutcome, StemExporter, process_token, recover_interrupted, run_jobs
from workers.stages import StageFailure, finish_report
from workers.tasks import TaskResult

REPO = Path(__file__).resolve().parents[1]


def _load_reliability():
    spec = importlib.util.spec_from_file_location("reliability_bench", REPO / "benchmarks" / "reliability.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _consult(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1")
    return subprocess.run([sys.executable, "-m", "consult", *args], capture_output=True, text=True, timeout=timeout,
                          env=env, cwd=REPO)


class FailingExecutor:
    """An executor whose every file fails with the given StageFailure (driver logic without models)."""

    name = "test"

    def __init__(self, failures: dict[str, StageFailure]) -> None:
        self.failures = failures
        self.seen: list[str] = []

    def run(self, next_task, on_result) -> None:
        while (task := next_task()) is not None:
            self.seen.append(Path(task.path).name)
            on_result(TaskResult(task.key, task.path, None, self.failures[Path(task.path).name], 0.01))

    def close(self) -> None:
        pass


def _already_done(stdout: str) -> set[str]:
    """Names of the files reported ``ok ... already done`` by consult run."""
    return {line.split()[1].rstrip(":") for line in stdout.splitlines()
            if line.startswith("ok ") and ": already done (" in line}


def _never(n: int):
    raise AssertionError("no executor may be created: there is nothing to process")


def test_recover_interrupted_only_touches_dead_processes_of_this_machine(tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        dead_token = process_token(child.pid)
        live_token = process_token(os.getppid())  # pytest's parent: alive for the whole test
        with ReportStore.open(tmp_path / "s.db") as store:
            workers = {"dead": f"{dead_token}/ray", "live": f"{live_token}/ray", "me": f"{process_token()}/ray",
                       "remote": "another-host.example/123.456/ray", "reused": f"{live_token.split('.')[0]}.1/ray"}
            for name, worker in workers.items():
                store.submit(name, input_path=f"/x/{name}.wav", input_name=f"{name}.wav", audio_sha256=name)
                assert store.claim(name, worker=worker)
            child.kill()
            child.wait()
            # dead: the process is gone; me: this process claimed it before (a previous batch here); reused: the
            # pid lives but its start time differs (pid reused). live and remote are left alone.
            assert recover_interrupted(store) == 3
            assert {j.input_name for j in store.list(status="queued")} == {"dead.wav", "me.wav", "reused.wav"}
            assert {j.input_name for j in store.list(status="running")} == {"live.wav", "remote.wav"}
            assert store.history("dead")[-1].details["reason"] == "recovered"
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_retries_are_bounded_and_final_errors_are_not_retried(tmp_path: Path) -> None:
    for name in ("oom.wav", "bad.wav"):
        (tmp_path / name).write_bytes(name.encode() * 100)
    executor = FailingExecutor({
        "oom.wav": StageFailure("transcriber", "worker crashed", retryable=True, crashed=True),
        "bad.wav": StageFailure("transcriber", "bad.wav: the audio data is corrupt", retryable=False),
    })
    retries: list[tuple[str, int]] = []
    progress = BatchProgress(enabled=False)
    with ReportStore.open(tmp_path / "s.db") as store:
        outcomes = run_jobs(store, Settings(), lambda n: executor, paths=[tmp_path / "oom.wav", tmp_path / "bad.wav"],
                            export=StemExporter(tmp_path / "out"), max_attempts=3, progress=progress,
                            on_retry=lambda jid, name, error, attempt: retries.append((name, attempt)))
        assert executor.seen == ["oom.wav", "bad.wav", "oom.wav", "oom.wav"]  # retried at the end of the queue
        assert retries == [("oom.wav", 1), ("oom.wav", 2)]
        assert {o.name: (o.status, o.crashed) for o in outcomes} == {"oom.wav": ("failed", True),
                                                                     "bad.wav": ("failed", False)}
        assert [j.attempts for j in store.list(status="failed")] == [1, 3]  # newest first: bad, oom
        assert (progress.done, progress.failed) == (0, 2)
        # Failed jobs stay failed on a re-run (no executor), until retried.
        again = run_jobs(store, Settings(), _never, paths=[tmp_path / "oom.wav"], export=StemExporter(tmp_path))
        assert [o.status for o in again] == ["failed_earlier"]
        assert run_jobs(store, Settings(), _never, paths=[], resume=True, export=StemExporter(tmp_path)) == []
    assert not (tmp_path / "out").exists()


def test_done_jobs_are_not_run_again_and_their_files_are_rewritten(tmp_path: Path) -> None:
    """Idempotence without models: a job already done is exported from the store, no executor is created."""
    audio = tmp_path / "visit.wav"
    audio.write_bytes(b"pretend recording bytes" * 100)
    settings = Settings()
    from consult.audio import sha256_file

    jid = job_id(sha256_file(audio), settings)
    report = report_from_text("DOC: Je vous prescris de l'amoxicilline 1 g matin et soir pendant 6 jours.\n",
                              name="visit.wav", settings=settings)
    finished = finish_report(report.model_copy(update={"id": jid}))
    with ReportStore.open(tmp_path / "s.db") as store:
        store.submit(jid, input_path=str(audio), input_name=audio.name, audio_sha256=sha256_file(audio))
        assert store.claim(jid, worker="elsewhere/1.1/test")
        store.complete(jid, report_json=finished.report_json, bundle_json=finished.bundle_json,
                       summary=finished.summary)
        copy = tmp_path / "copy of visit.wav"  # the same audio under another name: the same job
        copy.write_bytes(audio.read_bytes())
        seen: list[JobOutcome] = []
        outcomes = run_jobs(store, settings, _never, paths=[audio, copy, tmp_path / "absent.wav"],
                            export=StemExporter(tmp_path / "out"), on_outcome=seen.append)
        assert seen == outcomes
        assert [(o.status, o.name) for o in outcomes] == [("failed", "absent.wav"), ("already_done", "visit.wav")]
        assert "absent.wav: file not found" in (outcomes[0].error or "")
        assert outcomes[1].paths == (str(audio), str(copy)) and outcomes[1].medications == 1
        for stem in ("visit", "copy of visit"):
            written = json.loads((tmp_path / "out" / stem / "report.json").read_text(encoding="utf-8"))
            assert written["id"] == jid and written["medications"][0]["name"] == "amoxicilline"
            assert (tmp_path / "out" / stem / "bundle.json").read_text(encoding="utf-8") == finished.bundle_json
        assert [e.kind for e in store.history(jid)] == ["created", "started", "done"]  # nothing new


def test_resume_leaves_jobs_queued_with_other_settings(tmp_path: Path) -> None:
    other = Settings(asr={"beam_size": 1})
    with ReportStore.open(tmp_path / "s.db") as store:
        jid = job_id("ab" * 32, other)
        store.submit(jid, input_path=str(tmp_path / "x.wav"), input_name="x.wav", audio_sha256="ab" * 32)
        outcomes = run_jobs(store, Settings(), _never, resume=True, export=StemExporter(tmp_path))
        assert [(o.status, o.job_id) for o in outcomes] == [("skipped", jid)]
        assert "other settings" in (outcomes[0].error or "")
        assert store.get(jid).status == "queued"  # type: ignore[union-attr]


def test_stop_leaves_the_rest_queued(tmp_path: Path) -> None:
    import threading

    stop = threading.Event()
    for name in ("a.wav", "b.wav"):
        (tmp_path / name).write_bytes(name.encode() * 50)

    class StopAfterFirst(FailingExecutor):
        def run(self, next_task, on_result) -> None:
            def first_then_stop():
                task = next_task()
                stop.set()  # e.g. SIGTERM to consult watch while the first file runs
                return task

            super().run(first_then_stop, on_result)

    executor = StopAfterFirst({"a.wav": StageFailure("x", "a.wav: bad", retryable=False)})
    with ReportStore.open(tmp_path / "s.db") as store:
        outcomes = run_jobs(store, Settings(), lambda n: executor, paths=[tmp_path / "a.wav", tmp_path / "b.wav"],
                            export=StemExporter(tmp_path), stop=stop)
        assert [o.name for o in outcomes] == ["a.wav"]
        assert [j.input_name for j in store.pending()] == ["b.wav"]


def test_progress_counts_and_audio_hours_per_hour() -> None:
    progress = BatchProgress(enabled=False)
    progress.start(5)
    progress.advance(JobOutcome("done", "a.wav", audio_seconds=1800.0))
    progress.advance(JobOutcome("failed", "b.wav", error="bad"))
    progress.advance(JobOutcome("done", "c.wav", audio_seconds=1800.0))
    assert progress.postfix(now=progress.t0 + 1800.0) == "done 2 · failed 1 · left 2 · 2.00 audio h/h"


def test_jobs_command_list_show_retry(tmp_path: Path) -> None:
    url = str(tmp_path / "s.db")
    with ReportStore.open(url) as store:
        store.submit("job-done-000000000000001", input_path="/in/a.wav", input_name="a.wav", audio_sha256="a" * 64)
        store.claim("job-done-000000000000001", worker="host/1.1/ray")
        store.complete("job-done-000000000000001", report_json='{"segments": [{"text": "SECRET TRANSCRIPT"}]}',
                       bundle_json="{}", summary={"language": "fr", "medications": 2, "audio_seconds": 61.0})
        store.save_review("job-done-000000000000001", reviewed_report_json=None, bundle_json="{}",
                          decisions=[{"line": "m1", "decision": "approved"}], actor="dr.martin", action="approved",
                          review_status="approved")
        store.submit("job-bad-0000000000000002", input_path="/in/b.wav", input_name="b.wav", audio_sha256="b" * 64)
        store.claim("job-bad-0000000000000002", worker="host/1.1/ray")
        store.fail("job-bad-0000000000000002", error="b.wav: the file is empty (0 bytes).", retryable=False)

    r = _consult("jobs", "list", "--store", url)
    assert r.returncode == 0, r.stderr
    assert "queued 0 · running 0 · done 1 · failed 1" in r.stdout
    assert "job-done-000000000000001  done    approved" in r.stdout and "b.wav" in r.stdout
    r = _consult("jobs", "list", "--store", url, "--review-status", "approved", "--json")
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert [row["id"] for row in rows] == ["job-done-000000000000001"] and rows[0]["medications"] == 2

    r = _consult("jobs", "show", "job-done-000000000000001", "--store", url)
    assert r.returncode == 0, r.stderr
    assert "SECRET" not in r.stdout  # no transcript text
    assert "approved  by dr.martin" in r.stdout and "1 decision(s)" in r.stdout
    assert "language fr, 2 medication line(s)" in r.stdout
    r = _consult("jobs", "show", "nope", "--store", url)
    assert r.returncode == 1 and "no job nope" in r.stderr

    r = _consult("jobs", "retry", "job-done-000000000000001", "--store", url)
    assert r.returncode == 1 and "not failed" in r.stderr
    r = _consult("jobs", "retry", "--all-failed", "--store", url)
    assert r.returncode == 0 and "1 job(s) queued again" in r.stdout and "consult run --resume" in r.stdout
    with ReportStore.open(url) as store:
        job = store.get("job-bad-0000000000000002")
        assert job is not None and job.status == "queued" and job.attempts == 0
        assert store.history(job.id)[-1].kind == "retried"
    assert _consult("jobs", "retry", "--store", url).returncode == 2


@pytest.mark.slow
def test_kill_9_mid_batch_then_resume_and_rerun(tmp_path: Path) -> None:
    """``consult run`` (Ray, 1 worker) on 4 real clips and the 5 bad inputs of the reliability batch, SIGKILLed
    after its first report, run again, then a third time: every good file has exactly one report, every bad one
    a clear error, nothing crashed, and the third run does no work."""
    rel = _load_reliability()
    inputs, good, bad = rel.make_inputs(tmp_path / "in", good=4, seconds=8.0)
    out, store_path = tmp_path / "out", tmp_path / "store.db"
    cmd = rel.consult_command(inputs, out, store_path, workers=1)

    rc, stdout1, stderr1, killed = rel.run_and_kill(cmd, kill_after=1, timeout=600)
    assert killed, f"the batch ended before the kill (rc {rc}): {stdout1}\n{stderr1[-2000:]}"
    with ReportStore.open(store_path) as store:
        at_kill = store.counts()
        done_before = {j.input_name for j in store.list(status="done")}
    assert 1 <= at_kill["done"] < len(good), at_kill
    assert sum(at_kill.values()) == len(inputs)  # every input was submitted before any processing

    t0 = time.perf_counter()
    rc2, stdout2, stderr2, _ = rel.run_and_kill(cmd, kill_after=0, timeout=600)
    assert rc2 == 1, stderr2[-3000:]  # the 5 bad files failed; nothing else
    assert f"{len(good)} succeeded, {len(bad)} failed" in stdout2
    assert _already_done(stdout2) == done_before
    assert "Traceback" not in stderr1 + stderr2
    resume_s = time.perf_counter() - t0

    counts = rel.audit(store_path, out, good, bad)
    assert counts == {"reports": len(good), "clear_errors": len(bad), "crashes": 0, "lost": 0, "duplicated": 0,
                      "unclear_errors": 0, "temp_files_left": 0}, counts
    assert sorted(p.name for p in out.iterdir()) == sorted(p.stem for p in good)
    with ReportStore.open(store_path) as store:
        for job in store.list(limit=None):
            kinds = [e.kind for e in store.history(job.id)]
            assert kinds.count("created") == 1
            if job.status == "done":
                assert kinds.count("done") == 1 and store.report_json(job.id) is not None
            else:
                # a bad file is tried once; a second start only when the kill interrupted its first attempt
                # (running -> queued by recovery, then started again)
                assert job.input_name in rel.BAD_FILES and kinds.count("failed") == 1
                assert job.attempts == kinds.count("started") == 1 + kinds.count("queued"), kinds
        events_before = {j.id: len(store.history(j.id)) for j in store.list(limit=None)}

    # Third run: nothing to do (no Ray, no model), the outputs are written again from the store.
    (out / good[0].stem / "report.json").unlink()
    t0 = time.perf_counter()
    r3 = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=REPO,
                        env=dict(os.environ, HF_HUB_OFFLINE="1"))
    rerun_s = time.perf_counter() - t0
    assert r3.returncode == 1
    assert f"{len(good)} succeeded, {len(bad)} failed" in r3.stdout
    assert _already_done(r3.stdout) == {p.name for p in good}
    assert r3.stderr.count("failed in an earlier run") == len(bad)
    assert (out / good[0].stem / "report.json").is_file()
    with ReportStore.open(store_path) as store:
        assert {j.id: len(store.history(j.id)) for j in store.list(limit=None)} == events_before
    assert rerun_s < resume_s  # no model was loaded
    print(f"kill/resume: {at_kill['done']} done at the kill, resume {resume_s:.1f} s, no-op re-run {rerun_s:.1f} s")


def test_run_without_inputs_is_a_usage_error(tmp_path: Path) -> None:
    r = _consult("run", "--out", str(tmp_path), "--store", str(tmp_path / "s.db"))
    assert r.returncode == 2 and "--resume" in r.stderr


def test_jobs_purge_deletes_kept_audio_never_the_users_file(tmp_path):
    db = tmp_path / "store.db"
    kept_dir = tmp_path / "audio"
    kept_dir.mkdir()
    own = tmp_path / "my-consultation.flac"
    own.write_bytes(b"users own recording")
    with ReportStore.open(db) as store:
        for name, path in [("a", None), ("b", own), ("c", None)]:
            report = report_from_text(f"DOC: Amoxicilline 1 g matin et soir ({name}).", name=f"{name}.txt")
            jid = report.id
            input_path = path or kept_dir / f"{jid}.flac"
            if path is None:
                input_path.write_bytes(b"kept copy")
            store.submit(jid, input_path=input_path, input_name=f"{name}.flac", audio_sha256="0" * 64)
            assert store.claim(jid, worker="w")
            store.complete(jid, report_json=report.model_dump_json(), bundle_json='{"resourceType": "Bundle"}',
                           summary={"language": "fr", "medications": 1, "needs_review": 0, "audio_seconds": 1})
        ids = [j.id for j in store.list(limit=None)][::-1]
    r = _consult("jobs", "purge", ids[0], ids[1], "--store", str(db))
    assert r.returncode == 0, r.stderr
    assert "2 job(s) purged" in r.stdout and "and its kept audio" in r.stdout
    assert not (kept_dir / f"{ids[0]}.flac").exists() and own.read_bytes() == b"users own recording"
    assert (kept_dir / f"{ids[2]}.flac").exists()
    r = _consult("jobs", "purge", "--older-than", "30d", "--store", str(db))
    assert r.returncode == 0 and "0 job(s) purged" in r.stdout  # the last one is fresh
    r = _consult("jobs", "purge", "0123456789abcdef01234567", "--store", str(db))
    assert r.returncode == 1 and "no job" in r.stderr
    with ReportStore.open(db) as store:
        assert [j.id for j in store.list(limit=None)] == [ids[2]]
        assert [(a.kind, a.job_id) for a in store.audit()] == [("purged", ids[0]), ("purged", ids[1])]
