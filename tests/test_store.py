"""The report store: lifecycle, idempotence, bounded retries, crash recovery (real kill -9), review history.

The core tests run twice: on SQLite and on a throw-away PostgreSQL server started by a session fixture
(tests/pg_server.py). Nothing here is skipped: a missing PostgreSQL server fails the PostgreSQL tests.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from pg_server import PostgresServer

from consult.errors import ConsultError
from consult.store import (
    DEFAULT_STORE_ENV,
    SCHEMA_VERSION,
    Event,
    Job,
    ReportStore,
    StoreError,
    default_store_url,
)

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def pg_server():
    with PostgresServer() as server:
        yield server


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path) -> str:
    """URL of an empty store: a fresh SQLite file, or a fresh database on the session's PostgreSQL."""
    if request.param == "sqlite":
        return "sqlite://" + str(tmp_path / "store" / "consult.db")
    return request.getfixturevalue("pg_server").create_database()


@pytest.fixture
def store(store_url):
    with ReportStore.open(store_url) as s:
        yield s


def sha(i: int | str) -> str:
    return hashlib.sha256(str(i).encode()).hexdigest()


def submit(store: ReportStore, i: int | str) -> str:
    job_id = f"job-{i}"
    assert store.submit(job_id, input_path=f"/data/audio/{i}.flac", input_name=f"{i}.flac", audio_sha256=sha(i))
    return job_id


def finish(store: ReportStore, job_id: str, *, worker: str = "w1", note: str = "first") -> None:
    assert store.claim(job_id, worker=worker)
    store.complete(job_id, report_json=json.dumps({"job": job_id, "note": note}),
                   bundle_json=json.dumps({"resourceType": "Bundle", "job": job_id}),
                   summary={"language": "fr", "medications": 2, "needs_review": 1, "audio_seconds": 61.5})


def kinds(store: ReportStore, job_id: str) -> list[str]:
    return [e.kind for e in store.history(job_id)]


def assert_utc_between(t: datetime, start: datetime, end: datetime) -> None:
    assert t.utcoffset() == timedelta(0)
    assert start - timedelta(seconds=1) <= t <= end + timedelta(seconds=1)


# ---------------------------------------------------------------------------------------- lifecycle


def test_full_lifecycle(store):
    t0 = datetime.now(timezone.utc)
    job_id = submit(store, 1)
    job = store.get(job_id)
    assert isinstance(job, Job)
    assert (job.status, job.attempts, job.worker, job.review_status, job.error) == ("queued", 0, None, None, None)
    assert job.input_path == "/data/audio/1.flac" and job.input_name == "1.flac" and job.audio_sha256 == sha(1)
    assert [j.id for j in store.pending()] == [job_id]
    assert store.report_json(job_id) is None and store.bundle_json(job_id) is None

    assert store.claim(job_id, worker="node-a/0")
    assert not store.claim(job_id, worker="node-b/0")  # already running
    running = store.get(job_id)
    assert (running.status, running.attempts, running.worker) == ("running", 1, "node-a/0")
    assert store.pending() == []

    store.complete(job_id, report_json='{"r": 1}', bundle_json='{"b": 1}',
                   summary={"language": "fr", "medications": 3, "needs_review": 1, "audio_seconds": 42.25})
    done = store.get(job_id)
    t1 = datetime.now(timezone.utc)
    assert (done.status, done.review_status, done.language, done.medications, done.needs_review) == (
        "done", "to_review", "fr", 3, 1)
    assert done.audio_seconds == pytest.approx(42.25)
    assert store.report_json(job_id) == '{"r": 1}' and store.bundle_json(job_id) == '{"b": 1}'
    assert_utc_between(done.created_at, t0, t1)
    assert done.created_at <= done.updated_at
    assert store.counts() == {"queued": 0, "running": 0, "done": 1, "failed": 0}

    history = store.history(job_id)
    assert [e.kind for e in history] == ["created", "started", "done"]
    assert all(isinstance(e, Event) and e.job_id == job_id for e in history)
    assert history[1].actor == "node-a/0" and history[1].details == {"worker": "node-a/0", "attempt": 1}
    assert history[2].actor == "node-a/0" and history[2].details["medications"] == 3
    assert [e.at for e in history] == sorted(e.at for e in history)
    for e in history:
        assert_utc_between(e.at, t0, t1)


def test_persists_across_reopen(store_url):
    with ReportStore.open(store_url) as s:
        job_id = submit(s, "p")
        finish(s, job_id)
    with ReportStore.open(store_url) as s:
        assert s.get(job_id).status == "done"
        assert json.loads(s.report_json(job_id))["job"] == job_id
        assert kinds(s, job_id) == ["created", "started", "done"]
        assert s.schema_version() == SCHEMA_VERSION


def test_submit_is_idempotent(store):
    job_id = submit(store, 1)
    assert not store.submit(job_id, input_path="/elsewhere.flac", input_name="x.flac", audio_sha256=sha(1))
    assert store.get(job_id).input_path == "/data/audio/1.flac"
    finish(store, job_id)
    before = (store.get(job_id), store.report_json(job_id), store.history(job_id))
    assert not store.submit(job_id, input_path="/data/audio/1.flac", input_name="1.flac", audio_sha256=sha(1))
    assert (store.get(job_id), store.report_json(job_id), store.history(job_id)) == before

    failed = submit(store, 2)
    assert store.claim(failed, worker="w")
    assert store.fail(failed, error="corrupt audio", retryable=False) == "failed"
    assert not store.submit(failed, input_path="/data/audio/2.flac", input_name="2.flac", audio_sha256=sha(2))
    assert store.get(failed).status == "failed"  # retry is explicit
    assert len(store.list()) == 2


def test_submit_many_is_one_idempotent_transaction(store):
    first = submit(store, 0)
    items = [{"job_id": f"job-{i}", "input_path": f"/a/{i}.flac", "input_name": f"{i}.flac", "audio_sha256": sha(i)}
             for i in range(4)]
    assert store.submit_many(items, actor="batch") == ["job-1", "job-2", "job-3"]
    assert store.submit_many(items) == []
    assert [j.id for j in store.pending()] == [first, "job-1", "job-2", "job-3"]
    assert store.history("job-2")[0].kind == "created" and store.history("job-2")[0].actor == "batch"
    broken = [{"job_id": "job-9", "input_path": "/a/9.flac", "input_name": "9.flac", "audio_sha256": sha(9)},
              {"job_id": "job-10", "input_path": "/a/10.flac"}]
    with pytest.raises(KeyError):
        store.submit_many(broken)
    assert store.get("job-9") is None  # all or nothing


def test_job_id_from_pipeline_makes_reruns_idempotent(store):
    from consult.config import Settings, job_id

    a = job_id(sha("audio"), Settings())
    assert a == job_id(sha("audio"), Settings())
    assert a != job_id(sha("other audio"), Settings())
    assert store.submit(a, input_path="/a.flac", input_name="a.flac", audio_sha256=sha("audio"))
    assert not store.submit(job_id(sha("audio"), Settings()), input_path="/copy/a.flac", input_name="a.flac",
                            audio_sha256=sha("audio"))
    assert [j.id for j in store.list()] == [a]


def test_a_new_version_of_the_software_is_a_new_job(monkeypatch):
    """A report made by older code or data is not handed out as the current one: the software's digest is part of
    the job id (the digest covers every file of consult and schemas, read once)."""
    import consult.config as config

    digest = config.software_digest()
    assert len(digest) == 12 and digest == config.software_digest()
    before = config.job_id(sha("audio"), config.Settings())
    monkeypatch.setattr(config, "software_digest", lambda: "0" * 12)
    assert config.job_id(sha("audio"), config.Settings()) != before


def test_completing_twice_keeps_one_report(store):
    job_id = submit(store, 1)
    finish(store, job_id, note="first")
    store.complete(job_id, report_json='{"note": "second"}', bundle_json="{}", summary={"medications": 9})
    assert json.loads(store.report_json(job_id))["note"] == "first"
    assert store.get(job_id).medications == 2
    assert kinds(store, job_id).count("done") == 1
    assert not store.claim(job_id, worker="late")


def test_late_completion_after_recover_is_kept_once(store):
    """A worker that outlived a recover() delivers its result once; the re-queued job is then not re-run."""
    job_id = submit(store, 1)
    assert store.claim(job_id, worker="old")
    assert store.recover() == 1
    store.complete(job_id, report_json='{"by": "old"}', bundle_json="{}", summary={})
    assert not store.claim(job_id, worker="new")
    store.complete(job_id, report_json='{"by": "new"}', bundle_json="{}", summary={})
    assert store.report_json(job_id) == '{"by": "old"}'
    assert kinds(store, job_id) == ["created", "started", "queued", "done"]


def test_complete_is_atomic(store, monkeypatch):
    """A failure inside the transaction leaves neither a report nor a status change."""
    job_id = submit(store, 1)
    assert store.claim(job_id, worker="w")

    def broken(*args, **kwargs):
        raise RuntimeError("disk gone")

    monkeypatch.setattr(store, "_event", broken)
    with pytest.raises(RuntimeError):
        store.complete(job_id, report_json='{"r": 1}', bundle_json="{}", summary={"medications": 1})
    monkeypatch.undo()
    job = store.get(job_id)
    assert (job.status, job.medications, job.review_status) == ("running", 0, None)
    assert store.report_json(job_id) is None
    store.complete(job_id, report_json='{"r": 2}', bundle_json="{}", summary={"medications": 1})
    assert store.report_json(job_id) == '{"r": 2}'


def test_invalid_input_is_refused(store):
    job_id = submit(store, 1)
    assert store.claim(job_id, worker="w")
    with pytest.raises(StoreError, match="not valid JSON"):
        store.complete(job_id, report_json="{truncated", bundle_json="{}", summary={})
    assert store.get(job_id).status == "running"
    with pytest.raises(StoreError, match="unknown job"):
        store.complete("nope", report_json="{}", bundle_json="{}", summary={})
    with pytest.raises(StoreError, match="unknown job"):
        store.fail("nope", error="x", retryable=True)
    with pytest.raises(StoreError, match="unknown job status"):
        store.list(status="finished")
    assert issubclass(StoreError, ConsultError)


# ------------------------------------------------------------------------------------------ retries


def test_retry_is_bounded(store):
    job_id = submit(store, 1)
    statuses = []
    for attempt in range(1, 4):
        assert store.claim(job_id, worker=f"w{attempt}")
        assert store.get(job_id).attempts == attempt
        statuses.append(store.fail(job_id, error=f"worker died ({attempt})", retryable=True))
    assert statuses == ["queued", "queued", "failed"]
    job = store.get(job_id)
    assert (job.status, job.attempts, job.error) == ("failed", 3, "worker died (3)")
    assert not store.claim(job_id, worker="w4")
    assert store.pending() == []
    # A failed job stays failed even when reported failing again.
    assert store.fail(job_id, error="again", retryable=True) == "failed"

    store.retry(job_id, actor="dr.martin")
    job = store.get(job_id)
    assert (job.status, job.attempts, job.error, job.worker) == ("queued", 0, None, None)
    assert store.history(job_id)[-1].kind == "retried" and store.history(job_id)[-1].actor == "dr.martin"
    with pytest.raises(StoreError, match="not failed"):
        store.retry(job_id)
    with pytest.raises(StoreError, match="unknown job"):
        store.retry("nope")
    finish(store, job_id)
    assert kinds(store, job_id) == ["created"] + ["started", "failed"] * 3 + ["failed", "retried", "started", "done"]


def test_non_retryable_failure_and_failure_after_done(store):
    job_id = submit(store, 1)
    assert store.claim(job_id, worker="w")
    assert store.fail(job_id, error="not audio", retryable=False) == "failed"
    assert store.history(job_id)[-1].details == {"error": "not audio", "retryable": False, "attempt": 1,
                                                  "status": "failed"}
    other = submit(store, 2)
    finish(store, other)
    assert store.fail(other, error="late", retryable=True) == "done"
    assert store.get(other).status == "done" and store.get(other).error is None


def test_max_attempts_argument(store):
    job_id = submit(store, 1)
    assert store.claim(job_id, worker="w")
    assert store.fail(job_id, error="x", retryable=True, max_attempts=1) == "failed"


# ------------------------------------------------------------------------------------------ recovery


def test_recover_after_simulated_crash(store_url):
    s = ReportStore.open(store_url)
    ids = [submit(s, i) for i in range(4)]
    finish(s, ids[0])
    assert s.claim(ids[1], worker="host-a/1")
    assert s.claim(ids[2], worker="host-b/1")
    s.close()  # the process "dies" with two jobs running

    with ReportStore.open(store_url) as s:
        assert s.recover(worker_prefix="host-a/") == 1
        assert [j.id for j in s.pending()] == [ids[1], ids[3]]
        assert s.get(ids[2]).status == "running"
        assert s.recover() == 1
        assert s.recover() == 0
        assert [j.id for j in s.pending()] == [ids[1], ids[2], ids[3]]
        assert s.history(ids[1])[-1].details == {"reason": "recovered", "worker": "host-a/1", "attempt": 1}
        for job in s.pending():
            finish(s, job.id, worker="host-c/1")
        assert s.counts() == {"queued": 0, "running": 0, "done": 4, "failed": 0}
        assert kinds(s, ids[1]) == ["created", "started", "queued", "started", "done"]
        assert s.get(ids[1]).attempts == 2


def test_recover_fails_a_job_that_keeps_killing_the_process(store):
    job_id = submit(store, 1)
    for _ in range(2):
        assert store.claim(job_id, worker="w")
        assert store.recover(max_attempts=3) == 1
        assert store.get(job_id).status == "queued"
    assert store.claim(job_id, worker="w")
    assert store.recover(max_attempts=3) == 1
    job = store.get(job_id)
    assert job.status == "failed" and "interrupted 3 time(s)" in job.error


_BATCH_SCRIPT = r"""
import hashlib, json, sys, time
from consult.store import ReportStore

url, n, worker = sys.argv[1], int(sys.argv[2]), sys.argv[3]
store = ReportStore.open(url)
new = 0
for i in range(n):
    job_id = f"job{i:03d}"
    new += store.submit(job_id, input_path=f"/audio/{i}.flac", input_name=f"{i}.flac",
                        audio_sha256=hashlib.sha256(str(i).encode()).hexdigest())
print("ready", new, store.recover(), flush=True)
for job in store.pending():
    if not store.claim(job.id, worker=worker):
        continue
    time.sleep(0.005)
    report = json.dumps({"job": job.id, "worker": worker, "pad": "x" * 50_000})
    store.complete(job.id, report_json=report, bundle_json=json.dumps({"job": job.id}),
                   summary={"medications": 1, "audio_seconds": 1.0})
    print("done", job.id, flush=True)
print("finished", flush=True)
"""


def _start_batch(url: str, n: int, worker: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-c", _BATCH_SCRIPT, url, str(n), worker], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=str(REPO))


def _line(proc: subprocess.Popen[str]) -> list[str]:
    line = proc.stdout.readline()
    if not line:
        proc.wait(10)
        raise AssertionError(f"batch process ended early (rc={proc.returncode}): {proc.stderr.read()[-2000:]}")
    return line.split()


def test_kill_9_mid_batch_resumes_without_loss_or_duplicates(store_url):
    n = 30
    kill_after = [2, 3, 2, 4, 3]  # completions seen before each SIGKILL
    rng = random.Random()
    reported_done: list[str] = []
    created = recovered = 0
    for run, k in enumerate([*kill_after, None]):
        proc = _start_batch(store_url, n, f"batch{run}")
        try:
            tag, new, rec = _line(proc)
            assert tag == "ready"
            created, recovered = created + int(new), recovered + int(rec)
            if k is None:
                while (words := _line(proc))[0] != "finished":
                    reported_done.append(words[1])
                assert proc.wait(30) == 0
                break
            for _ in range(k):
                words = _line(proc)
                assert words[0] == "done"
                reported_done.append(words[1])
            time.sleep(rng.uniform(0.0, 0.02))  # land in the sleep, in a claim or inside a commit
            os.kill(proc.pid, signal.SIGKILL)
            assert proc.wait(10) == -signal.SIGKILL
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
            proc.stderr.close()
        # No lost work: every completion the process announced is committed, before any recovery.
        with ReportStore.open(store_url) as s:
            assert all(s.get(j).status == "done" for j in reported_done)

    with ReportStore.open(store_url) as s:
        ids = [f"job{i:03d}" for i in range(n)]
        assert created == n
        assert s.counts() == {"queued": 0, "running": 0, "done": n, "failed": 0}
        # Killed after their commit but before printing: possible, so announced <= n, never more.
        assert len(reported_done) == len(set(reported_done)) <= n
        assert recovered <= len(kill_after)
        started = 0
        for job_id in ids:
            history = kinds(s, job_id)
            assert history.count("done") == 1 and history.count("created") == 1, history
            started += history.count("started")
            report = json.loads(s.report_json(job_id))
            assert report["job"] == job_id and len(report["pad"]) == 50_000
        assert started == n + recovered  # each interrupted job ran once more, and nothing else did
        assert len(s.list(limit=None)) == n
        if s.dialect == "sqlite":
            path = store_url.removeprefix("sqlite://")
            with sqlite3.connect(path) as db:
                assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
                assert db.execute("SELECT COUNT(*) FROM reports").fetchone()[0] == n
                assert db.execute("SELECT COUNT(DISTINCT job_id) FROM reports").fetchone()[0] == n
            db.close()


# ------------------------------------------------------------------------------------------- review


def test_review_history_keeps_draft_and_records_who_and_when(store):
    job_id = submit(store, 1)
    finish(store, job_id, note="draft")
    draft_report, draft_bundle = store.report_json(job_id), store.bundle_json(job_id)
    t0 = datetime.now(timezone.utc)
    store.save_review(job_id, reviewed_report_json=None, bundle_json='{"v": 1}',
                      decisions=[{"line": "m1", "decision": "accepted"}], actor="dr.martin", action="reviewed",
                      review_status="partly_approved")
    edited = {"line": "m2", "decision": "edited", "fields": {"dose": "500 mg"}}
    store.save_review(job_id, reviewed_report_json='{"note": "edited"}', bundle_json='{"v": 2}',
                      decisions=[edited], actor="dr.martin", action="edited", review_status="partly_approved")
    store.save_review(job_id, reviewed_report_json=None, bundle_json='{"v": 3}', decisions=[],
                      actor="dr.durand", action="approved", review_status="approved")
    t1 = datetime.now(timezone.utc)

    assert store.report_json(job_id) == '{"note": "edited"}'  # None kept the previous reviewed report
    assert store.bundle_json(job_id) == '{"v": 3}'
    assert store.report_json(job_id, draft=True) == draft_report
    assert store.bundle_json(job_id, draft=True) == draft_bundle
    assert store.get(job_id).review_status == "approved"
    assert [j.id for j in store.list(review_status="approved")] == [job_id]
    assert store.list(review_status="to_review") == []

    review = store.history(job_id)[3:]
    assert [(e.kind, e.actor) for e in review] == [("reviewed", "dr.martin"), ("edited", "dr.martin"),
                                                   ("approved", "dr.durand")]
    assert review[1].details == {"review_status": "partly_approved", "decisions": [edited]}
    for e in review:
        assert_utc_between(e.at, t0, t1)

    # A later rejection is recorded too; nothing is lost.
    store.save_review(job_id, reviewed_report_json=None, bundle_json='{"v": 4}', decisions=[],
                      actor="dr.durand", action="rejected", review_status="rejected")
    assert kinds(store, job_id)[-1] == "rejected" and store.get(job_id).review_status == "rejected"


def test_review_is_refused_when_it_cannot_be_recorded(store):
    job_id = submit(store, 1)
    args = {"reviewed_report_json": None, "bundle_json": "{}", "decisions": [], "actor": "dr.x",
            "review_status": "approved"}
    with pytest.raises(StoreError, match="only a finished report"):
        store.save_review(job_id, action="approved", **args)
    finish(store, job_id)
    with pytest.raises(StoreError, match="unknown review action"):
        store.save_review(job_id, action="deleted", **args)
    with pytest.raises(StoreError, match="reviewer"):
        store.save_review(job_id, action="approved", **{**args, "actor": " "})
    with pytest.raises(StoreError, match="unknown review status"):
        store.save_review(job_id, action="approved", **{**args, "review_status": "fine"})
    with pytest.raises(StoreError, match="unknown job"):
        store.save_review("nope", action="approved", **args)
    assert store.get(job_id).review_status == "to_review"
    assert kinds(store, job_id) == ["created", "started", "done"]


# ------------------------------------------------------------------------------- listing & threads


def test_list_newest_first_with_filters(store):
    ids = [submit(store, i) for i in range(5)]
    finish(store, ids[1])
    finish(store, ids[3])
    assert [j.id for j in store.list()] == ids[::-1]
    assert [j.id for j in store.list(limit=2)] == ids[:2:-1]
    assert [j.id for j in store.list(status="done")] == [ids[3], ids[1]]
    assert [j.id for j in store.list(status="queued")] == [ids[4], ids[2], ids[0]]
    assert [j.id for j in store.list(status="done", review_status="to_review")] == [ids[3], ids[1]]
    assert [j.id for j in store.pending()] == [ids[0], ids[2], ids[4]]
    assert [j.id for j in store.pending(limit=1)] == [ids[0]]


def test_concurrent_workers_claim_each_job_once(store_url):
    """Eight threads (two stores, i.e. two 'machines') race for 40 jobs: each is run exactly once."""
    stores = [ReportStore.open(store_url), ReportStore.open(store_url)]
    ids = [submit(stores[0], i) for i in range(40)]
    claimed: dict[str, list[str]] = {}
    lock = threading.Lock()
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def work(n: int) -> None:
        s = stores[n % 2]
        try:
            barrier.wait()
            for job in s.pending():
                if s.claim(job.id, worker=f"t{n}"):
                    with lock:
                        claimed.setdefault(job.id, []).append(f"t{n}")
                    s.complete(job.id, report_json=json.dumps({"by": n}), bundle_json="{}", summary={})
                s.get(job.id)  # readers interleave with writers
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    try:
        assert errors == []
        assert sorted(claimed) == sorted(ids) and all(len(w) == 1 for w in claimed.values())
        assert stores[1].counts()["done"] == 40
        for job_id in ids:
            assert kinds(stores[1], job_id).count("done") == 1
    finally:
        for s in stores:
            s.close()


# ---------------------------------------------------------------------------------- opening & urls


def test_default_store_url(monkeypatch, tmp_path):
    monkeypatch.setenv(DEFAULT_STORE_ENV, "postgresql://consult@db.example/consult")
    assert default_store_url() == "postgresql://consult@db.example/consult"
    monkeypatch.delenv(DEFAULT_STORE_ENV)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_store_url() == "sqlite://" + str(tmp_path / "xdg" / "consult" / "consult.db")
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_store_url() == "sqlite://" + str(tmp_path / "home" / ".local" / "share" / "consult" / "consult.db")
    with ReportStore.open() as s:  # the default creates its folder
        assert s.dialect == "sqlite"
        submit(s, 1)
    assert (tmp_path / "home" / ".local" / "share" / "consult" / "consult.db").is_file()


def test_url_forms(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for url in (tmp_path / "a.db", str(tmp_path / "b.db"), f"sqlite://{tmp_path}/c.db", "rel/d.db"):
        with ReportStore.open(url) as s:
            assert s.dialect == "sqlite" and s.url.startswith("sqlite:///")
            submit(s, 1)
    assert all((tmp_path / p).is_file() for p in ("a.db", "b.db", "c.db", "rel/d.db"))
    for bad in ("mysql://x/y", "sqlite://", ":memory:", ""):
        with pytest.raises(StoreError):
            ReportStore.open(bad)


def test_postgres_url_password_is_hidden_and_bad_server_is_a_store_error(pg_server):
    with pytest.raises(StoreError) as err:
        ReportStore.open(pg_server.url("no_such_db").replace("consult@", "consult:s3cret@"))
    assert "s3cret" not in str(err.value) and "no_such_db" in str(err.value)


def test_sqlite_file_is_wal_and_versioned(tmp_path):
    path = tmp_path / "s.db"
    with ReportStore.open(path) as s:
        submit(s, 1)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] == SCHEMA_VERSION
        db.execute("INSERT INTO schema_version (version, applied_at) VALUES (99, '2030-01-01T00:00:00+00:00')")
    db.close()
    with pytest.raises(StoreError, match="schema version 99"):
        ReportStore.open(path)


def test_closed_store_and_pickle(tmp_path):
    s = ReportStore.open(tmp_path / "s.db")
    job_id = submit(s, 1)
    copy = pickle.loads(pickle.dumps(s))
    assert copy.get(job_id).status == "queued"
    copy.close()
    s.close()
    with pytest.raises(StoreError, match="closed"):
        s.get(job_id)


def test_logs_carry_no_report_text(store, caplog):
    caplog.set_level(logging.DEBUG, logger="consult.store")
    job_id = submit(store, 1)
    assert store.claim(job_id, worker="w")
    secret = "Jeanne Dupont"
    store.complete(job_id, report_json=json.dumps({"patient": secret}), bundle_json=json.dumps({"n": secret}),
                   summary={"medications": 1})
    store.save_review(job_id, reviewed_report_json=json.dumps({"patient": secret}), bundle_json="{}",
                      decisions=[{"line": "m1", "decision": "edited", "fields": {"note": secret}}], actor="dr.x",
                      action="edited", review_status="to_review")
    other = submit(store, 2)
    store.fail(other, error=f"cannot read {secret}.flac", retryable=False)
    assert caplog.records and job_id in caplog.text
    assert secret not in caplog.text


def test_store_module_is_light():
    code = ("import sys, consult.store; "
            "print(','.join(m for m in ('psycopg', 'consult.pipeline', 'numpy', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=str(REPO))
    # consult/__init__ imports numpy (consult.audio); the store itself adds nothing heavier.
    assert set(filter(None, out.stdout.strip().split(","))) <= {"numpy"}


def test_sqlite_files_are_private(tmp_path):
    folder = tmp_path / "fresh" / "store"
    with ReportStore.open(folder / "consult.db") as store:
        finish(store, submit(store, 1))
        assert (folder.stat().st_mode & 0o777) == 0o700
        for path in folder.iterdir():  # consult.db, consult.db-wal, consult.db-shm
            assert (path.stat().st_mode & 0o777) == 0o600, path
    # an existing database left readable by others is tightened when opened
    loose = tmp_path / "loose.db"
    with ReportStore.open(loose):
        pass
    loose.chmod(0o644)
    with ReportStore.open(loose):
        assert (loose.stat().st_mode & 0o777) == 0o600


def test_purge_removes_everything_and_leaves_no_trace_in_the_file(tmp_path):
    db = tmp_path / "s" / "consult.db"
    marker = "Lefebvre-Zanzibar-4471 amoxicilline"
    with ReportStore.open(db) as store:
        for i in range(3):
            jid = submit(store, i)
            assert store.claim(jid, worker="w")
            store.complete(jid, report_json=json.dumps({"note": f"{marker} {i}" * 50}),
                           bundle_json=json.dumps({"resourceType": "Bundle", "note": f"{marker} {i}"}),
                           summary={"language": "fr", "medications": 1, "needs_review": 0, "audio_seconds": 1})
        kept = submit(store, "kept")
        removed = store.purge("job-1", actor="dr.admin")
        assert removed is not None and removed.id == "job-1"
        assert store.get("job-1") is None and store.history("job-1") == [] and store.report_json("job-1") is None
        assert store.purge("job-1") is None  # unknown now
        audit = store.audit()
        assert [(a.kind, a.job_id, a.actor) for a in audit] == [("purged", "job-1", "dr.admin")]
        assert set(audit[0].details) == {"job_id"}  # no content in the audit trail
        assert store.claim("job-kept", worker="w")
        with pytest.raises(StoreError, match="being processed"):
            store.purge("job-kept")
        raw = b"".join(p.read_bytes() for p in db.parent.iterdir())
        assert f"{marker} 1".encode() not in raw  # checked on the bytes: database, WAL and shm
        assert f"{marker} 0".encode() in raw  # the others are still there
        assert store.get(kept) is not None


def test_purge_older_than_is_the_retention(store):
    for i in range(3):
        finish(store, submit(store, i))
    assert store.purge_older_than(30) == []  # all fresh
    time.sleep(0.05)
    removed = store.purge_older_than(0.0005 / 86400)  # older than half a millisecond
    assert sorted(j.id for j in removed) == ["job-0", "job-1", "job-2"]
    assert store.list(limit=None) == [] and len(store.audit()) == 3


def test_kept_audio_is_only_consults_own_copy():
    from consult.store import kept_audio

    def job(path: str, jid: str = "0123456789abcdef01234567") -> Job:
        now = datetime.now(timezone.utc)
        return Job(id=jid, input_path=path, input_name="x.flac", audio_sha256="0" * 64, status="done", attempts=1,
                   error=None, created_at=now, updated_at=now, worker=None, review_status=None, language=None,
                   medications=0, needs_review=0, audio_seconds=0.0)

    assert kept_audio(job("/srv/api/audio/0123456789abcdef01234567.flac")) is not None
    assert kept_audio(job("/home/dr/consultations/martin.flac")) is None  # the user's own file: never deleted
