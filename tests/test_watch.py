"""The watch folder for integrators, for real: a watcher thread with the real pipeline, files dropped in its inbox
(one arriving in two parts), manifests and FHIR bundles in its outbox; then ``consult watch --once``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import soundfile as sf

from consult.config import Settings
from consult.store import ReportStore

REPO = Path(__file__).resolve().parents[1]


def _wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.1)


def _clip(tmp_path: Path, seconds: float = 8.0) -> bytes:
    src = REPO / "audio_fixtures" / "fr_consult_3.flac"
    audio, rate = sf.read(str(src), dtype="float32", frames=int(seconds * 16000))
    path = tmp_path / "clip.flac"
    sf.write(str(path), audio, rate)
    return path.read_bytes()


@pytest.mark.slow
def test_watch_folder_end_to_end(tmp_path: Path) -> None:
    from workers.tasks import InProcessExecutor
    from workers.watch import Watcher

    inbox, outbox = tmp_path / "inbox", tmp_path / "outbox"
    inbox.mkdir()
    settings = Settings(asr={"cpu_threads": 2})
    store = ReportStore.open(tmp_path / "store.db")
    executor = InProcessExecutor(settings)
    created: list[int] = []

    def get_executor(n: int) -> InProcessExecutor:
        created.append(n)
        return executor

    watcher = Watcher(inbox, outbox, store, settings, get_executor, settle_s=2.0)
    stop = threading.Event()
    thread = threading.Thread(target=watcher.run, kwargs={"interval_s": 0.2, "stop": stop}, daemon=True)
    thread.start()
    try:
        data = _clip(tmp_path)
        with (inbox / "visit.flac").open("wb") as f:  # a copy in progress: half now, the rest later
            f.write(data[: len(data) // 2])
            f.flush()
            time.sleep(0.8)
            f.write(data[len(data) // 2:])
        (inbox / "corrupt.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt not really audio" * 40)
        (inbox / "notes.txt").write_text("not an audio suffix: ignored")
        (inbox / ".upload.flac").write_bytes(data)  # hidden: an upload not yet renamed

        done, error = outbox / "visit.flac.done.json", outbox / "corrupt.wav.error.json"
        _wait_for(lambda: done.exists() and error.exists(), 300, "the two manifests")
        manifest = json.loads(done.read_text(encoding="utf-8"))
        assert manifest["status"] == "done" and manifest["input"] == "visit.flac"
        assert manifest["size"] == len(data)
        jid = manifest["job_id"]
        bundle = json.loads((outbox / manifest["bundle"]).read_text(encoding="utf-8"))
        assert bundle["resourceType"] == "Bundle" and bundle["type"] == "collection"
        report = json.loads((outbox / manifest["report"]).read_text(encoding="utf-8"))
        assert report["id"] == jid
        assert report["audio"]["duration"] == pytest.approx(8.0, abs=0.05)  # the whole file, not the first half
        assert sorted(p.name for p in (outbox / jid).iterdir()) == ["bundle.json", "report.json"]
        failed = json.loads(error.read_text(encoding="utf-8"))
        assert failed["status"] == "failed" and "corrupt.wav" in failed["error"]
        assert not list(outbox.glob("notes.txt*")) and not list(outbox.glob(".upload*"))
        assert [e.kind for e in store.history(jid)].count("started") == 1

        # The same audio under another name: its own manifest, the same job, no new processing.
        (inbox / "visit again.flac").write_bytes(data)
        again = outbox / "visit again.flac.done.json"
        _wait_for(again.exists, 60, "the manifest of the copy")
        assert json.loads(again.read_text(encoding="utf-8"))["job_id"] == jid
        assert [e.kind for e in store.history(jid)].count("started") == 1

        # consult jobs retry on the failed file: the watcher takes it again (and it fails again, clearly).
        bad_id = failed["job_id"]
        store.retry(bad_id, actor="test")
        _wait_for(lambda: [e.kind for e in store.history(bad_id)].count("started") == 2, 60, "the retried file")
        _wait_for(lambda: getattr(store.get(bad_id), "status", None) == "failed", 60, "the retried file to fail")
        assert error.exists() and not (outbox / "corrupt.wav.done.json").exists()
        # no temporary file is left behind (the error manifest of the retry may be being written atomically just
        # after the store says "failed": wait for it, a leftover would never go)
        _wait_for(lambda: not list(outbox.rglob("*.tmp")), 30, "no temporary file left in the outbox")
    finally:
        stop.set()
        thread.join(timeout=120)
        store.close()
    assert not thread.is_alive()
    assert created and all(n >= 1 for n in created)


@pytest.mark.slow
def test_watch_command_once(tmp_path: Path) -> None:
    inbox, outbox = tmp_path / "in", tmp_path / "out"
    inbox.mkdir()
    (inbox / "empty.flac").write_bytes(b"")
    (inbox / "text.mp3").write_bytes(b"%PDF-1.4 not audio\n" * 100)
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    cmd = [sys.executable, "-m", "consult", "watch", str(inbox), "--out", str(outbox), "--once", "--in-process",
           "--settle", "0.3", "--store", str(tmp_path / "s.db")]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env, cwd=REPO)
    assert r.returncode == 1, r.stderr
    assert "2 file(s) processed, 2 failed" in r.stdout
    assert "empty" in json.loads((outbox / "empty.flac.error.json").read_text())["error"]
    assert json.loads((outbox / "text.mp3.error.json").read_text())["status"] == "failed"
    # Already handled: a second pass does nothing.
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env, cwd=REPO)
    assert r.returncode == 0 and "0 file(s) processed" in r.stdout

    same = subprocess.run([sys.executable, "-m", "consult", "watch", str(inbox), "--out", str(inbox), "--once",
                           "--store", str(tmp_path / "s.db")],
                          capture_output=True, text=True, timeout=120, env=env, cwd=REPO)
    assert same.returncode == 2 and "another folder" in same.stderr


def test_inbox_symlinks_are_never_followed(tmp_path: Path, caplog) -> None:
    from workers.watch import Watcher

    inbox, outbox = tmp_path / "inbox", tmp_path / "outbox"
    inbox.mkdir()
    secret = tmp_path / "elsewhere" / "other-patient.flac"
    secret.parent.mkdir()
    secret.write_bytes(_clip(tmp_path))
    (inbox / "link.flac").symlink_to(secret)
    (inbox / "real.flac").write_bytes(_clip(tmp_path))

    def no_executor(n: int):  # nothing is processed in this test
        raise AssertionError("no file should be processed")

    with ReportStore.open(tmp_path / "store.db") as store:
        watcher = Watcher(inbox, outbox, store, Settings(), no_executor, settle_s=0.0)
        watcher.observe(now=0.0)
        ready = watcher.observe(now=1.0)
        assert [p.name for p in ready] == ["real.flac"]
        assert "link.flac is a symbolic link: ignored" in caplog.text
        # a file swapped for a link after it was seen is not read either
        (inbox / "real.flac").unlink()
        (inbox / "real.flac").symlink_to(secret)
        assert watcher.process(ready) == []
