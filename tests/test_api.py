"""`consult api` over real loopback HTTP (httpx): a server process with the bundled models, in-process executor.

Submit, poll, fetch (FHIR bundle, report, transcript), bad audio, unknown id, missing token, size limit, delete;
then 20 consultations sent at once, the server killed with SIGKILL mid-batch and restarted: every job completes,
exactly once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest
import soundfile as sf
from conftest import FIXTURES, REPO, free_port, prescribing_turn
from fhirjs import assert_valid

from consult.fhir import validate_bundle_json
from consult.store import ReportStore

pytestmark = pytest.mark.slow




class Server:
    def __init__(self, root: Path, *extra: str) -> None:
        self.root = root
        self.port = free_port()
        self.store = root / "store.db"
        self.data = root / "data"
        self.tokens = root / "tokens"
        self.token = "integrator-token-0123456789abcdef"
        self.tokens.write_text(f"# test\nlis:{self.token}\n", encoding="utf-8")
        self.tokens.chmod(0o600)
        self.extra = extra
        self.proc: subprocess.Popen | None = None
        self.base = f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1")
        log = open(self.root / "server.log", "ab")  # noqa: SIM115 - the process owns it
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "consult", "api", "--in-process", "--port", str(self.port), "--store",
             str(self.store), "--data-dir", str(self.data), "--tokens-file", str(self.tokens), *self.extra],
            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, (self.root / "server.log").read_text()
            try:
                if httpx.get(f"{self.base}/v1/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.3)
        raise AssertionError("the API server did not start")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token or self.token}"}
        return httpx.Client(base_url=self.base, headers=headers, timeout=120)


def _submit(client: httpx.Client, path: Path, **form: str) -> httpx.Response:
    with open(path, "rb") as f:
        return client.post("/v1/consultations", files={"audio": (path.name, f, "audio/flac")}, data=form)


def _wait_done(client: httpx.Client, job_ids: list[str], timeout: float = 600) -> dict[str, dict]:
    deadline = time.monotonic() + timeout
    status: dict[str, dict] = {}
    while time.monotonic() < deadline:
        status = {j: client.get(f"/v1/consultations/{j}").json() for j in job_ids}
        if all(s["status"] in ("done", "failed") for s in status.values()):
            return status
        time.sleep(1)
    raise AssertionError(f"jobs not finished: {[(j, s['status']) for j, s in status.items()]}")


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    s = Server(tmp_path_factory.mktemp("api"), "--max-upload-mb", "4")
    s.start()
    yield s
    s.stop()


def test_submit_poll_fetch_and_delete(server, tmp_path):
    with server.client() as client:
        r = _submit(client, FIXTURES / "fr_consult_1.flac")
        assert r.status_code == 202, r.text
        job = r.json()
        assert r.headers["location"] == f"/v1/consultations/{job['id']}"
        assert job["status"] in ("queued", "running") and "path" not in json.dumps(job)
        early = client.get(f"/v1/consultations/{job['id']}/bundle")
        assert early.status_code in (200, 409)  # 409 until done
        # the same audio again is the same job
        assert _submit(client, FIXTURES / "fr_consult_1.flac").json()["id"] == job["id"]
        done = _wait_done(client, [job["id"]])[job["id"]]
        assert done["status"] == "done" and done["medications"] >= 1, done

        bundle = client.get(f"/v1/consultations/{job['id']}/bundle")
        assert bundle.status_code == 200 and bundle.headers["content-type"].startswith("application/fhir+json")
        parsed = validate_bundle_json(bundle.text)
        kinds = {e.resource.get_resource_type() for e in parsed.entry}
        assert {"Patient", "Encounter", "Provenance", "MedicationRequest"} <= kinds
        (tmp_path / "bundle.json").write_text(bundle.text)
        tx = client.get(f"/v1/consultations/{job['id']}/bundle", params={"type": "transaction"})
        assert tx.json()["type"] == "transaction" and all("request" in e for e in tx.json()["entry"])
        (tmp_path / "transaction.json").write_text(tx.text)
        assert_valid([tmp_path / "bundle.json", tmp_path / "transaction.json"])
        report = client.get(f"/v1/consultations/{job['id']}/report").json()
        assert report["id"] == job["id"] and report["language"] == "fr"
        transcript = client.get(f"/v1/consultations/{job['id']}/transcript")
        assert transcript.headers["content-type"].startswith("text/plain") and "Doctor:" in transcript.text
        listed = client.get("/v1/consultations").json()["consultations"]
        assert job["id"] in {j["id"] for j in listed}

        kept = list((server.data / "audio").glob(f"{job['id']}.*"))
        assert len(kept) == 1 and (kept[0].stat().st_mode & 0o077) == 0
        assert client.delete(f"/v1/consultations/{job['id']}").status_code == 204
        assert client.get(f"/v1/consultations/{job['id']}").status_code == 404
        assert not list((server.data / "audio").glob(f"{job['id']}.*"))
        assert client.delete(f"/v1/consultations/{job['id']}").status_code == 404
    with ReportStore.open(server.store) as store:
        assert store.get(job["id"]) is None and store.history(job["id"]) == []
        assert store.report_json(job["id"]) is None


def test_bad_input_gets_a_clear_error_and_loses_nothing(server, tmp_path):
    with server.client() as client:
        good = _submit(client, FIXTURES / "en_consult_2.flac", language="en")
        assert good.status_code == 202
        fake = tmp_path / "notes.wav"
        fake.write_bytes(b"this is not audio at all " * 200)
        r = _submit(client, fake)
        assert r.status_code == 422 and r.json()["detail"].startswith("notes.wav: ")
        assert "could not be decoded" in r.json()["detail"] and str(server.data) not in r.text
        odd = tmp_path / "notes.docx"
        odd.write_bytes(b"PK\x03\x04")
        r = _submit(client, odd)
        assert r.status_code == 415 and ".flac" in r.json()["detail"]
        big = tmp_path / "big.wav"
        big.write_bytes(b"\0" * (5 * 1024 * 1024))
        r = _submit(client, big)
        assert r.status_code == 413 and "--max-upload-mb" in r.json()["detail"]
        r = client.post("/v1/consultations", files={"audio": ("x.wav", b"", "audio/wav")},
                        data={"language": "de"})
        assert r.status_code == 422
        # nothing was queued for the bad uploads; the good one completes
        done = _wait_done(client, [good.json()["id"]])
        assert done[good.json()["id"]]["status"] == "done" and done[good.json()["id"]]["language"] == "en"
    with ReportStore.open(server.store) as store:
        names = {j.input_name for j in store.list(limit=None)}
    assert not names & {"notes.wav", "notes.docx", "big.wav", "x.wav"}
    assert not [p for p in (server.data / "audio").iterdir() if p.name.startswith(".upload-")]


def test_tokens_and_unknown_ids(server):
    with httpx.Client(base_url=server.base, timeout=30) as anonymous:
        r = anonymous.get("/v1/consultations")
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        assert anonymous.post("/v1/consultations", files={"audio": ("a.wav", b"x", "audio/wav")}).status_code == 401
        assert anonymous.get("/v1/health").json() == {"status": "ok"}
        # a page on another site (DNS rebinding, cross-site form) cannot drive the API
        assert anonymous.get("/v1/health", headers={"Host": "evil.example"}).status_code == 400
        with server.client() as client:
            r = client.post("/v1/consultations", files={"audio": ("a.wav", b"x", "audio/wav")},
                            headers={"Origin": "http://evil.example"})
            assert r.status_code == 403
        assert anonymous.get("/docs").status_code == 404  # no page that loads scripts from a CDN
        openapi = anonymous.get("/openapi.json").json()
        assert json.loads((REPO / "docs" / "openapi.json").read_text()) == openapi, (
            "docs/openapi.json is out of date: consult api --openapi docs/openapi.json")
    with server.client("wrong-token-0123456789abcdef") as wrong:
        assert wrong.get("/v1/consultations").status_code == 401
    with server.client() as client:
        for path in ("", "/bundle", "/report", "/transcript"):
            r = client.get(f"/v1/consultations/0123456789abcdef01234567{path}")
            assert r.status_code == 404 and "no consultation job" in r.json()["detail"]
        assert client.get("/v1/consultations/..%2F..%2Fetc").status_code == 404


def _live_pcm() -> bytes:
    """fr_consult_1's prescribing turn and a second of silence, as 16 kHz 16-bit PCM."""
    audio = prescribing_turn(after_s=1.0)
    return (np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes()


def test_live_websocket_streams_text_and_cards_then_queues_the_recording(server):
    from websockets.exceptions import ConnectionClosed, InvalidStatus
    from websockets.sync.client import connect

    url = f"ws://127.0.0.1:{server.port}/v1/live?language=fr&sample_rate=16000"
    for headers in ({}, {"Authorization": "Bearer wrong-token-0123456789abcdef"}):
        with pytest.raises(InvalidStatus) as refused:  # no valid token: the handshake is refused
            with connect(url, additional_headers=headers):
                pass
        assert refused.value.response.status_code == 403
    with pytest.raises(InvalidStatus):  # nor from a page on another site
        with connect(url, additional_headers={"Authorization": f"Bearer {server.token}"},
                     origin="http://evil.example"):  # type: ignore[arg-type]
            pass
    with server.client() as client:
        before = {j["id"] for j in client.get("/v1/consultations").json()["consultations"]}
    # a client that goes away without "stop" leaves nothing behind
    with connect(url, additional_headers={"Authorization": f"Bearer {server.token}"}) as ws:
        assert json.loads(ws.recv(timeout=120))["type"] == "ready"
        ws.send(_live_pcm()[: 16000 * 2 * 3])
    pcm = _live_pcm()
    messages: list[dict] = []
    with connect(url, additional_headers={"Authorization": f"Bearer {server.token}"}, max_size=None) as ws:
        assert json.loads(ws.recv(timeout=120))["type"] == "ready"
        frame = 16000 * 2 // 4  # 0.25 s
        t0 = time.monotonic()
        for k, i in enumerate(range(0, len(pcm), frame)):
            ws.send(pcm[i:i + frame])
            time.sleep(max(0.0, t0 + (k + 1) * 0.25 - time.monotonic()))  # real-time pace
            while True:
                try:
                    messages.append(json.loads(ws.recv(timeout=0)))
                except TimeoutError:
                    break
        during = list(messages)
        ws.send(json.dumps({"type": "stop"}))
        while True:
            try:
                messages.append(json.loads(ws.recv(timeout=120)))
            except ConnectionClosed:
                break
    kinds = [m["type"] for m in messages]
    text = " ".join(m["text"] for m in messages if m["type"] == "text")
    assert "amoxicilline" in text.lower(), text
    assert any(m["type"] == "text" for m in during), "no text while the audio was streaming"
    cards = [m for m in messages if m["type"] == "card" and m["event"] == "added"]
    assert [c["line"]["name"] for c in cards] == ["amoxicilline"]
    assert kinds[-1] == "done", messages[-3:]
    done = messages[-1]
    assert done["location"] == f"/v1/consultations/{done['job']}"
    with server.client() as client:
        after = {j["id"] for j in client.get("/v1/consultations").json()["consultations"]}
        assert after - before == {done["job"]}  # only the stopped session was queued
        status = _wait_done(client, [done["job"]])[done["job"]]
        assert status["status"] == "done", status
        bundle = client.get(f"/v1/consultations/{done['job']}/bundle").json()
        names = [e["resource"]["contained"][0]["code"]["text"] for e in bundle["entry"]
                 if e["resource"]["resourceType"] == "MedicationRequest"]
        assert any("amoxicilline" in n.lower() for n in names), names
    assert not list((server.data / "audio").glob(".live-*")), "a live recording was left behind"


def _clips(folder: Path, n: int = 20, seconds: float = 5.0) -> list[Path]:
    """``n`` distinct short recordings cut from the fixtures."""
    out = []
    sources = sorted(FIXTURES.glob("*.flac"))
    for i in range(n):
        data, rate = sf.read(sources[i % len(sources)], dtype="float32")
        start = int((i // len(sources)) * seconds * rate)
        path = folder / f"clip{i:02d}.flac"
        sf.write(path, data[start:start + int(seconds * rate)], rate)
        out.append(path)
    return out


def test_twenty_at_once_survive_kill_9(tmp_path):
    server = Server(tmp_path)
    server.start()
    clips = _clips(tmp_path)
    try:
        with server.client() as client, ThreadPoolExecutor(max_workers=20) as pool:
            responses = list(pool.map(lambda p: _submit(client, p), clips))
        assert all(r.status_code == 202 for r in responses), [r.text for r in responses if r.status_code != 202]
        ids = [r.json()["id"] for r in responses]
        assert len(set(ids)) == 20
        # kill -9 once some are done and one has just started (one request for all the states, and a job seen
        # queued at the poll before: killed at once, it is still running; one seen running for a while may finish
        # between the poll and the kill, as it did on a CI run)
        deadline = time.monotonic() + 300
        queued_before: set[str] = set()
        with server.client() as client:
            while time.monotonic() < deadline:
                listed = client.get("/v1/consultations", params={"limit": 1000}).json()["consultations"]
                states = {c["id"]: c["status"] for c in listed if c["id"] in ids}
                done = sum(1 for v in states.values() if v == "done")
                if done >= 3 and any(v == "running" and j in queued_before for j, v in states.items()):
                    break
                queued_before = {j for j, v in states.items() if v == "queued"}
                time.sleep(0.05)
        server.kill()
        with ReportStore.open(server.store) as store:
            before = {j: store.get(j).status for j in ids}
        assert "running" in before.values() and list(before.values()).count("done") >= 3

        server.start()  # same store, same data folder: it resumes
        with server.client() as client:
            final = _wait_done(client, ids)
            assert all(s["status"] == "done" for s in final.values()), final
            for j in ids:
                r = client.get(f"/v1/consultations/{j}/bundle")
                assert r.status_code == 200
                validate_bundle_json(r.text)
        with ReportStore.open(server.store) as store:
            for j in ids:
                kinds = [e.kind for e in store.history(j)]
                assert kinds.count("done") == 1, (j, kinds)  # completed exactly once
                assert kinds.count("created") == 1
            interrupted = [j for j, s in before.items() if s == "running"]
            assert all([e.kind for e in store.history(j)].count("started") == 2 for j in interrupted)
    finally:
        server.stop()


def test_account_roles_a_pharmacist_cannot_purge(tmp_path):
    from consult.accounts import add_account

    accounts = tmp_path / "accounts"
    add_account(accounts, "ph.durand", "pharmacist", "pharmacien secret")
    add_account(accounts, "admin.it", "admin", "administrateur secret")
    server = Server(tmp_path, "--accounts", str(accounts))
    server.start()
    try:
        unknown = "/v1/consultations/0123456789abcdef01234567"
        with httpx.Client(base_url=server.base, timeout=30, auth=("ph.durand", "pharmacien secret")) as pharmacist:
            assert pharmacist.get("/v1/consultations").status_code == 200  # may read
            r = pharmacist.delete(unknown)
            assert r.status_code == 403 and "pharmacist" in r.json()["detail"]
            assert pharmacist.post("/v1/consultations", files={"audio": ("a.wav", b"x", "audio/wav")}).status_code \
                == 403
        with httpx.Client(base_url=server.base, timeout=30, auth=("ph.durand", "wrong password")) as wrong:
            assert wrong.get("/v1/consultations").status_code == 401
        with httpx.Client(base_url=server.base, timeout=30, auth=("admin.it", "administrateur secret")) as admin:
            assert admin.delete(unknown).status_code == 404  # allowed to purge; nothing to purge
    finally:
        server.stop()
