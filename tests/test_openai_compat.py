"""OpenAI-compatible extraction back-end against a real HTTP server on loopback.

The server plays the LLM: it reads the numbered transcript from the request, answers a scripted JSON that
cites segments by id, and records every request so the tests can check what was sent.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from consult.backends.factory import build_extractor
from consult.backends.openai_compat import (
    OpenAICompatibleExtractor,
    find_quote,
    ground_value,
    output_schema,
    parse_answer,
)
from consult.config import ExtractionOptions, Settings
from consult.errors import ConsultError, ModelLoadError, StageError
from schemas import MedicationLine, Segment, Word
from schemas.medication import Duration, Frequency, Quantity

Responder = Callable[[dict[str, Any], dict[str, str]], tuple[int, Any, float]]

FR_TURNS = [
    ("SPEAKER_00", "Bonjour, qu'est-ce qui vous amène ?"),
    ("SPEAKER_01", "J'ai mal à la gorge depuis trois jours, je prends du Doliprane."),
    ("SPEAKER_00", "Je vous prescris de l'amoxicilline 500 mg, deux gélules matin et soir pendant six jours."),
    (
        "SPEAKER_00",
        "Pour la douleur, Doliprane 1000, un comprimé toutes les six heures si besoin, "
        "sans dépasser quatre comprimés par jour.",
    ),
]
ROLES = {"SPEAKER_00": "doctor", "SPEAKER_01": "patient"}


def make_segments(turns: list[tuple[str, str]], low: dict[str, float] | None = None) -> list[Segment]:
    """Segments with timed words (0.4 s each, probability 0.97 unless listed in ``low``)."""
    low = low or {}
    segs = []
    for i, (speaker, text) in enumerate(turns):
        t0 = 10.0 * i
        words = [
            Word(text=w, start=t0 + 0.4 * k, end=t0 + 0.4 * k + 0.35, probability=low.get(w, 0.97), speaker=speaker)
            for k, w in enumerate(text.split(" "))
        ]
        segs.append(Segment(id=i, start=t0, end=words[-1].end, text=text, speaker=speaker, words=words))
    return segs


# --------------------------------------------------------------------------- the fake LLM server
class FakeLLM:
    """ThreadingHTTPServer answering POST /v1/chat/completions with ``responder(body, headers)``."""

    def __init__(self, responder: Responder) -> None:
        self.responder = responder
        self.requests: list[dict[str, Any]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                body = json.loads(raw.decode("utf-8"))
                headers = {k.lower(): v for k, v in self.headers.items()}
                owner.requests.append({"path": self.path, "headers": headers, "body": body})
                if self.path != "/v1/chat/completions":
                    status, payload, delay = 404, {"error": {"message": "not found"}}, 0.0
                else:
                    status, payload, delay = owner.responder(body, headers)
                time.sleep(delay)
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode("utf-8")
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> FakeLLM:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def transcript_of(body: dict[str, Any]) -> dict[int, tuple[str, str]]:
    """``{segment id: (ROLE, text)}`` read back from the user message of a request."""
    user = next(m["content"] for m in body["messages"] if m["role"] == "user")
    out = {}
    for line in user.splitlines():
        m = re.fullmatch(r"\[(\d+)\] (\w+): (.*)", line)
        assert m is not None, line
        out[int(m.group(1))] = (m.group(2), m.group(3))
    return out


def seg_id(segs: dict[int, tuple[str, str]], word: str) -> int:
    return next(i for i, (_, text) in sorted(segs.items()) if word.lower() in text.lower())


def words(segs: dict[int, tuple[str, str]], i: int, start: str, end: str) -> str:
    """Exact words of segment ``i`` from ``start`` to the end of ``end``."""
    text = segs[i][1]
    a = text.index(start)
    return text[a : text.index(end, a) + len(end)]


def completion(content: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "model": "fake",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
    }


def scripted(meds_of: Callable[[dict[int, tuple[str, str]]], list[dict[str, Any]]]) -> Responder:
    def respond(body: dict[str, Any], headers: dict[str, str]) -> tuple[int, Any, float]:
        meds = meds_of(transcript_of(body))
        return 200, completion(json.dumps({"medications": meds}, ensure_ascii=False)), 0.0

    return respond


def field(quote: str | None = None, segment: int | None = None, **value: Any) -> dict[str, Any]:
    """One field of the model's answer: its value keys, its quote and its segment."""
    return {**value, "quote": quote, "segment": segment}


def fr_answer(segs: dict[int, tuple[str, str]]) -> list[dict[str, Any]]:
    """What a good model answers for FR_TURNS, computed from the transcript it received."""
    amox = seg_id(segs, "amoxicilline")
    doli = seg_id(segs, "Doliprane 1000")
    said = seg_id(segs, "je prends du Doliprane")
    return [
        {
            "drug": "Doliprane",
            "segment": said,
            "quote": words(segs, said, "je prends", "Doliprane"),
            "status": field(value="mentioned", quote="je prends du Doliprane", segment=said),
        },
        {
            "drug": "amoxicilline",
            "segment": amox,
            "quote": words(segs, amox, "amoxicilline", "six jours"),
            "strength": field(value=500, value_high=None, unit="mg", quote="amoxicilline 500 mg", segment=amox),
            "dose": field(value=2, value_high=None, unit="gélules", quote="deux gélules", segment=amox),
            "form": field(value="gélule", quote="gélules", segment=amox),
            "route": None,
            "frequency": field(count=2, count_max=None, period=1, period_unit="d", quote="matin et soir",
                               segment=amox),
            "when": field(value=["MORN", "EVE"], quote="matin et soir", segment=amox),
            "duration": field(value=6, value_high=None, unit="d", quote="pendant six jours", segment=amox),
            "as_needed": None,
            "status": field(value="new", quote="Je vous prescris", segment=amox),
        },
        {
            "drug": "Doliprane",
            "segment": doli,
            "quote": words(segs, doli, "Doliprane", "par jour"),
            "strength": field(value=1000, unit="mg", quote="Doliprane 1000", segment=doli),
            "dose": field(value=1, unit="comprimé", quote="un comprimé", segment=doli),
            "frequency": field(count=1, period=6, period_unit="h", quote="toutes les six heures", segment=doli),
            "as_needed": field(value=True, condition="douleur", quote="si besoin", segment=doli),
            "max_per_day": field(value=4, unit="comprimés", quote="sans dépasser quatre comprimés par jour",
                                 segment=doli),
            "status": field(value="new", quote="Doliprane 1000", segment=doli),
        },
    ]


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.delenv("CONSULT_LLM_API_KEY", raising=False)


@pytest.fixture
def fake_llm() -> Iterator[Callable[[Responder], FakeLLM]]:
    servers: list[FakeLLM] = []

    def start(responder: Responder) -> FakeLLM:
        server = FakeLLM(responder).__enter__()
        servers.append(server)
        return server

    yield start
    for s in servers:
        s.__exit__(None, None, None)


def extractor_for(server: FakeLLM, **kw: Any) -> OpenAICompatibleExtractor:
    return OpenAICompatibleExtractor.from_options(
        ExtractionOptions(backend="llm", llm_url=server.url, llm_model="albert-large", **kw)
    )


def by_name(lines: list[MedicationLine]) -> dict[str, MedicationLine]:
    return {line.name: line for line in lines}


# --------------------------------------------------------------------------- grounded answers
def test_grounded_medications_are_kept_normalised_with_evidence(fake_llm, caplog):
    server = fake_llm(scripted(fr_answer))
    segs = make_segments(FR_TURNS)
    with caplog.at_level(logging.INFO, logger="consult"):
        lines = extractor_for(server).extract(segs, roles=ROLES, language="fr")
    meds = by_name(lines)
    assert set(meds) == {"amoxicilline", "paracétamol"}
    assert [line.id for line in lines] == ["med-1", "med-2"]

    amox = meds["amoxicilline"]
    assert amox.atc == "J01CA04" and amox.drug_text == "amoxicilline"
    assert amox.strength == Quantity(value=500, unit="mg", ucum=True)
    assert amox.dose == Quantity(value=2, unit="gélule")
    assert amox.form == "gélule" and amox.route == "oral"
    assert amox.frequency == Frequency(count=2, period=1, period_unit="d")
    assert amox.when == ["MORN", "EVE"]
    assert amox.duration == Duration(value=6, unit="d")
    assert amox.status == "new" and not amox.as_needed
    # nothing specific to doubt (whether the line is flagged is its calibrated risk, consult.extract.calibration)
    assert all(r.startswith("calibrated risk") for r in amox.review_reasons), amox.review_reasons
    assert 0 < amox.confidence <= 1 and amox.needs_review == (amox.review_reasons != [])
    ev = amox.evidence
    text = FR_TURNS[2][1]
    assert ev.segment_id == 2 and text[ev.char_start : ev.char_end] == "amoxicilline" == ev.text
    assert ev.speaker == "SPEAKER_00" and ev.asr_probability == 0.97
    k = text.split(" ").index("l'amoxicilline")
    assert ev.start == pytest.approx(20.0 + 0.4 * k) and ev.end == pytest.approx(20.0 + 0.4 * k + 0.35)
    st = amox.field_evidence["strength"]
    assert (st.segment_id, st.text, text[st.char_start : st.char_end]) == (2, "amoxicilline 500 mg", st.text)
    assert amox.field_evidence["duration"].text == "pendant six jours"
    assert amox.field_evidence["status"].text == "Je vous prescris"
    assert "amoxicilline 500 mg" in amox.sig

    doli = meds["paracétamol"]
    assert doli.atc == "N02BE01" and doli.cis is not None and doli.drug_text == "Doliprane"
    assert doli.evidence.segment_id == 3  # the prescription, not the patient's mention
    assert doli.status == "new"
    assert doli.strength == Quantity(value=1000, unit="mg", ucum=True)
    assert doli.dose == Quantity(value=1, unit="comprimé")
    assert doli.frequency == Frequency(count=1, period=6, period_unit="h")
    assert doli.as_needed and doli.as_needed_condition == "douleur"
    assert doli.max_per_day == Quantity(value=4, unit="comprimé")
    assert doli.field_evidence["max_per_day"].text == "sans dépasser quatre comprimés par jour"
    assert all(r.startswith("calibrated risk") for r in doli.review_reasons), doli.review_reasons

    # only the host and the number of segments are logged, never the text
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "127.0.0.1" in logged and "4 segments" in logged
    assert not any(w in logged for w in ("amoxicilline", "Doliprane", "gorge", "prescris"))


def test_request_carries_model_key_schema_and_numbered_roles(fake_llm, monkeypatch):
    server = fake_llm(scripted(fr_answer))
    monkeypatch.setenv("ALBERT_KEY_FOR_TEST", "sk-test-123")
    ex = extractor_for(server, llm_api_key_env="ALBERT_KEY_FOR_TEST")
    assert "sk-test-123" not in repr(vars(ex))  # the key is read at call time, not stored
    ex.extract(make_segments(FR_TURNS), roles=ROLES, language="fr")
    (req,) = server.requests
    assert req["path"] == "/v1/chat/completions"
    assert req["headers"]["authorization"] == "Bearer sk-test-123"
    body = req["body"]
    assert body["model"] == "albert-large" and body["temperature"] == 0
    rf = body["response_format"]
    assert rf["type"] == "json_schema" and rf["json_schema"]["schema"] == output_schema()
    system, user = body["messages"]
    assert system["role"] == "system" and "médicaments" in system["content"] and "JSON" in system["content"]
    assert user["content"].splitlines() == [
        f"[{i}] {'PATIENT' if spk == 'SPEAKER_01' else 'DOCTOR'}: {text}" for i, (spk, text) in enumerate(FR_TURNS)
    ]

    monkeypatch.delenv("ALBERT_KEY_FOR_TEST")
    ex.extract(make_segments(FR_TURNS), roles={}, language="en")
    req = server.requests[-1]
    assert "authorization" not in req["headers"]
    system, user = req["body"]["messages"]
    assert system["content"].startswith("You extract the medications")
    assert user["content"].startswith("[0] SPEAKER: Bonjour")


def test_english_transcript(fake_llm):
    turns = [("A", "I'm prescribing amoxicillin 500 mg, one capsule three times a day for seven days.")]

    def answer(segs: dict[int, tuple[str, str]]) -> list[dict[str, Any]]:
        i = seg_id(segs, "amoxicillin")
        return [{
            "drug": "Amoxicillin", "segment": i, "quote": segs[i][1],
            "dose": field(value=1, unit="capsule", quote="one capsule"),
            "frequency": field(count=3, period=1, period_unit="d", quote="three times a day"),
            "duration": field(value=7, unit="d", quote="for seven days"),
            "status": "new",
        }]

    server = fake_llm(scripted(answer))
    (line,) = extractor_for(server).extract(make_segments(turns), roles={"A": "doctor"}, language="en")
    assert (line.name, line.drug_text, line.status) == ("amoxicillin", "amoxicillin", "new")
    assert line.atc == "J01CA04"
    assert line.dose == Quantity(value=1, unit="capsule")
    assert line.frequency == Frequency(count=3, period=1, period_unit="d")
    assert line.duration == Duration(value=7, unit="d")
    assert line.field_evidence["dose"].text == "one capsule"  # field quote without a segment: the drug's


def test_hallucinated_drug_is_dropped(fake_llm):
    def answer(segs: dict[int, tuple[str, str]]) -> list[dict[str, Any]]:
        doli = seg_id(segs, "Doliprane 1000")
        amox = seg_id(segs, "amoxicilline")
        return [
            *fr_answer(segs),
            {"drug": "Ibuprofène", "segment": doli, "quote": "Ibuprofène 400 mg trois fois par jour",
             "strength": field(value=400, unit="mg", quote="Ibuprofène 400 mg"), "status": "new"},
            {"drug": "Kardégic", "segment": 99, "quote": "Kardégic 75", "status": "renewed"},
            {"drug": "amoxicilline", "segment": doli, "quote": "amoxicilline", "status": "stopped"},
            {"segment": amox, "quote": "pendant six jours"},
        ]

    server = fake_llm(scripted(answer))
    lines = extractor_for(server).extract(make_segments(FR_TURNS), roles=ROLES, language="fr")
    meds = by_name(lines)
    assert set(meds) == {"amoxicilline", "paracétamol"}
    assert meds["amoxicilline"].status == "new"  # the "stopped" mention cited a segment without the drug


def test_field_whose_number_is_not_in_its_quote_is_dropped_and_flagged(fake_llm):
    def answer(segs: dict[int, tuple[str, str]]) -> list[dict[str, Any]]:
        meds = fr_answer(segs)
        amox = meds[1]
        amox["strength"] = field(value=1000, unit="mg", quote="amoxicilline 500 mg", segment=amox["segment"])
        amox["duration"] = field(value=10, unit="d", quote="pendant dix jours", segment=amox["segment"])
        amox["dose"] = field(value=2, unit="gélule", quote=None, segment=None)  # falls back to the drug's quote
        return meds

    server = fake_llm(scripted(answer))
    meds = by_name(extractor_for(server).extract(make_segments(FR_TURNS), roles=ROLES, language="fr"))
    amox = meds["amoxicilline"]
    assert amox.strength is None and "strength" not in amox.field_evidence
    assert amox.duration is None
    assert amox.dose == Quantity(value=2, unit="gélule")
    assert amox.needs_review
    assert "strength not found in the transcript" in amox.review_reasons
    assert "duration not found in the transcript" in amox.review_reasons
    assert all(r.startswith("calibrated risk") for r in meds["paracétamol"].review_reasons)


def test_low_asr_probability_flags_like_the_rule_extractor(fake_llm):
    server = fake_llm(scripted(fr_answer))
    segs = make_segments(FR_TURNS, low={"500": 0.4})
    amox = by_name(extractor_for(server).extract(segs, roles=ROLES, language="fr"))["amoxicilline"]
    assert amox.strength is not None and amox.needs_review
    assert amox.review_reasons[0] == "number heard with low certainty: strength (0.40)"  # always flagged
    assert "strength uncertain (0.40)" in amox.review_reasons
    clear = by_name(extractor_for(server).extract(make_segments(FR_TURNS), roles=ROLES, language="fr"))
    assert amox.confidence <= clear["amoxicilline"].confidence  # a poorly heard number is evidence of a wrong line


def test_invented_status_is_refused(fake_llm):
    def answer(segs: dict[int, tuple[str, str]]) -> list[dict[str, Any]]:
        meds = fr_answer(segs)
        meds[1]["status"] = field(value="prescribed_probably", quote="Je vous prescris", segment=2)
        return meds

    server = fake_llm(scripted(answer))
    amox = by_name(extractor_for(server).extract(make_segments(FR_TURNS), roles=ROLES, language="fr"))[
        "amoxicilline"
    ]
    assert amox.status == "new"  # from the status rules on "Je vous prescris de l'amoxicilline..."
    assert amox.needs_review
    assert any("prescribed_probably" in r and "refused" in r for r in amox.review_reasons)
    assert "status" not in amox.field_evidence


def test_unknown_and_misheard_drugs(fake_llm):
    turns = [
        ("SPEAKER_00", "Je vous mets du dolly prane, un comprimé le soir."),
        ("SPEAKER_00", "Et continuez la Zorglubine, deux comprimés le matin."),
    ]

    def answer(segs: dict[int, tuple[str, str]]) -> list[dict[str, Any]]:
        return [
            {"drug": "Doliprane", "segment": 0, "quote": segs[0][1], "status": "new",
             "dose": field(value=1, unit="comprimé", quote="un comprimé", segment=0)},
            {"drug": "Zorglubine", "segment": 1, "quote": "continuez la Zorglubine", "status": "renewed",
             "dose": field(value=2, unit="comprimé", quote="deux comprimés le matin", segment=1)},
        ]

    server = fake_llm(scripted(answer))
    lines = extractor_for(server).extract(make_segments(turns), roles=ROLES, language="fr")
    meds = by_name(lines)
    doli = meds["paracétamol"]
    assert doli.drug_text == "dolly prane" and doli.atc == "N02BE01"
    zorg = meds["Zorglubine"]
    assert zorg.atc is None and zorg.cis is None and zorg.status == "renewed"
    assert zorg.needs_review and "drug not in the lexicon" in zorg.review_reasons
    assert zorg.confidence <= 0.5
    assert zorg.dose == Quantity(value=2, unit="comprimé")


# --------------------------------------------------------------------------- failures
def test_http_error_gives_a_clear_stage_error(fake_llm):
    server = fake_llm(lambda body, headers: (500, {"error": {"message": "boom: " + json.dumps(body)}}, 0.0))
    with pytest.raises(StageError) as err:
        extractor_for(server).extract(make_segments(FR_TURNS), roles=ROLES, language="fr")
    msg = str(err.value)
    assert err.value.stage == "extraction" and "HTTP 500" in msg and "127.0.0.1" in msg
    assert "amoxicilline" not in msg and "boom" not in msg


def test_timeout_gives_a_clear_stage_error(fake_llm):
    server = fake_llm(lambda body, headers: (200, completion('{"medications": []}'), 1.5))
    ex = extractor_for(server, llm_timeout=0.2)
    t0 = time.perf_counter()
    with pytest.raises(StageError, match=r"did not answer within 0\.2 s") as err:
        ex.extract(make_segments(FR_TURNS), roles=ROLES, language="fr")
    assert time.perf_counter() - t0 < 1.4
    assert err.value.__cause__ is not None


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (completion("Voici les médicaments : {amoxicilline"), "not valid JSON"),
        (completion('{"drugs": "amoxicilline"}'), "no 'medications' list"),
        (b"<html>Bad gateway</html>", "did not answer JSON"),
        ({"object": "error"}, "chat-completions shape"),
    ],
)
def test_malformed_answer_gives_a_clear_stage_error(fake_llm, payload, expected):
    server = fake_llm(lambda body, headers: (200, payload, 0.0))
    with pytest.raises(StageError, match=expected) as err:
        extractor_for(server).extract(make_segments(FR_TURNS), roles=ROLES, language="fr")
    assert "amoxicilline" not in str(err.value)


def test_json_schema_refused_with_400_falls_back_to_json_object(fake_llm):
    good = scripted(fr_answer)

    def respond(body: dict[str, Any], headers: dict[str, str]) -> tuple[int, Any, float]:
        if body["response_format"]["type"] == "json_schema":
            return 400, {"error": {"message": "response_format json_schema is not supported"}}, 0.0
        return good(body, headers)

    server = fake_llm(respond)
    ex = extractor_for(server)
    lines = ex.extract(make_segments(FR_TURNS), roles=ROLES, language="fr")
    assert set(by_name(lines)) == {"amoxicilline", "paracétamol"}
    assert [r["body"]["response_format"]["type"] for r in server.requests] == ["json_schema", "json_object"]
    ex.extract(make_segments(FR_TURNS), roles=ROLES, language="fr")  # remembered: json_object straight away
    assert [r["body"]["response_format"]["type"] for r in server.requests][2:] == ["json_object"]


def test_answer_in_a_code_fence_is_read():
    content = '```json\n{"medications": [{"drug": "x", "segment": 1}]}\n```'
    assert parse_answer(content) == [{"drug": "x", "segment": 1}]
    assert parse_answer('<think>hmm {</think>[{"drug": "y"}, 3]') == [{"drug": "y"}]


# --------------------------------------------------------------------------- configuration
def test_missing_url_or_model_names_the_setting():
    with pytest.raises(ModelLoadError) as err:
        OpenAICompatibleExtractor.from_options(ExtractionOptions(backend="llm"))
    assert "CONSULT_EXTRACTION__LLM_URL" in str(err.value) and "CONSULT_EXTRACTION__LLM_MODEL" in str(err.value)
    with pytest.raises(ConsultError) as err:
        OpenAICompatibleExtractor.from_options(ExtractionOptions(backend="llm", llm_url="http://127.0.0.1:1/v1"))
    assert "CONSULT_EXTRACTION__LLM_MODEL" in str(err.value) and "LLM_URL" not in str(err.value)
    with pytest.raises(ModelLoadError, match="http"):
        OpenAICompatibleExtractor.from_options(ExtractionOptions(llm_url="ftp://example.org", llm_model="m"))
    with pytest.raises(ModelLoadError, match="LLM_URL"):
        build_extractor(Settings(extraction=ExtractionOptions(backend="llm", llm_model="m")))


def test_build_extractor_returns_the_llm_backend(fake_llm):
    server = fake_llm(scripted(fr_answer))
    ex = build_extractor(
        Settings(extraction=ExtractionOptions(backend="llm", llm_url=server.url + "/", llm_model="albert-large",
                                              review_threshold=0.5))
    )
    assert isinstance(ex, OpenAICompatibleExtractor) and ex.review_threshold == 0.5
    (info,) = ex.model_info()
    assert info.stage == "extraction" and "albert-large" in info.name
    lines = ex.extract(make_segments(FR_TURNS), roles=ROLES, language="fr")
    assert len(lines) == 2 and server.requests[0]["path"] == "/v1/chat/completions"


# --------------------------------------------------------------------------- grounding helpers
@pytest.mark.parametrize(
    ("name", "value", "text", "ok"),
    [
        ("dose", Quantity(value=2, unit="comprimé"), "deux comprimés", True),
        ("dose", Quantity(value=0.5, unit="comprimé"), "un demi comprimé", True),
        ("dose", Quantity(value=1.5, unit="comprimé"), "un comprimé et demi", True),
        ("strength", Quantity(value=1000, unit="mg", ucum=True), "amoxicilline 500 mg", False),
        ("frequency", Frequency(count=1, period=6, period_unit="h"), "toutes les six heures", True),
        ("frequency", Frequency(count=1, period=1, period_unit="d"), "trois fois par jour", False),
        ("frequency", Frequency(count=2, period=1, period_unit="d"), "twice a day", True),
        ("duration", Duration(value=1, unit="wk"), "for a week", True),
        ("renewals", 2, "renouvelable deux fois", True),
        ("renewals", 3, "renouvelable deux fois", False),
    ],
)
def test_ground_value(name, value, text, ok):
    assert (ground_value(name, value, text) is not None) is ok


def test_ground_value_keeps_the_words_said():
    grounded = ground_value("strength", Quantity(value=500, unit="mg", ucum=True), "500 microgrammes")
    assert grounded is not None and grounded[0] == Quantity(value=500, unit="ug", ucum=True)
    assert ground_value("when", ["NIGHT"], "matin et soir") == (["MORN", "EVE"], 1.0)
    assert ground_value("route", "nasal", "par voie orale") == ("oral", 1.0)
    assert ground_value("route", "oral", "deux gélules") == ("oral", 1.0)  # implied by the form: kept


def test_find_quote_is_accent_insensitive_and_fuzzy():
    hay = "Je vous prescris de l'amoxicilline 500 mg, deux gélules matin et soir."
    a, b, score = find_quote("DEUX GELULES", hay, 90)
    assert hay[a:b] == "deux gélules" and score == 100
    a, b, score = find_quote("deux gélule matin et soir", hay, 90)
    assert hay[a:b].startswith("deux gélules") and 90 <= score < 100
    assert find_quote("ibuprofène 400 mg", hay, 85) is None


# --------------------------------------------------------------------------- what leaves the machine
@pytest.mark.parametrize(("url", "refused"), [
    ("http://llm.hopital.example:8000/v1", "unencrypted"),  # plain http off this machine
    ("https://user:secret@llm.hopital.example/v1", "credentials"),
    ("https://llm.hopital.example/v1?api_key=secret", "credentials"),
])
def test_remote_endpoint_needs_https_and_no_credentials_in_the_url(url, refused):
    with pytest.raises(ModelLoadError, match=refused):
        OpenAICompatibleExtractor(url, "m", lexicon=None)
    OpenAICompatibleExtractor("https://llm.hopital.example/v1", "m")  # https off loopback: fine
    OpenAICompatibleExtractor("http://127.0.0.1:8000/v1", "m")  # plain http on this machine: fine


def test_a_quote_far_from_the_drug_does_not_give_it_a_dose(fake_llm):
    """A dose said for another drug three turns away cannot attach to this one (quotes: own segment +-1)."""
    turns = [
        ("SPEAKER_00", "Je vous prescris de l'amoxicilline."),
        ("SPEAKER_01", "D'accord."),
        ("SPEAKER_00", "On en reparle."),
        ("SPEAKER_00", "Et le Doliprane 1000, trois comprimés par jour."),
    ]

    def answer(segs: dict[int, tuple[str, str]]) -> list[dict[str, Any]]:
        amox = seg_id(segs, "amoxicilline")
        doli = seg_id(segs, "Doliprane 1000")
        return [{"drug": "amoxicilline", "segment": amox, "quote": "amoxicilline",
                 "dose": field(value=3, unit="comprimé", quote="trois comprimés par jour", segment=doli),
                 "status": field(value="new", quote="Je vous prescris", segment=amox)}]

    server = fake_llm(scripted(answer))
    meds = by_name(extractor_for(server).extract(make_segments(turns), roles=ROLES, language="fr"))
    assert meds["amoxicilline"].dose is None and "dose" not in meds["amoxicilline"].field_evidence


def test_pseudonymised_transcript_is_sent_and_names_come_back(fake_llm):
    turns = [("SPEAKER_00", "Bonjour madame Lefebvre, je vous prescris de l'amoxicilline 500 mg."),
             ("SPEAKER_01", "Merci docteur. Mon numéro est le 06 12 34 56 78.")]
    sent: list[str] = []

    def answer(segs: dict[int, tuple[str, str]]) -> list[dict[str, Any]]:
        sent.extend(text for _, text in segs.values())
        amox = seg_id(segs, "amoxicilline")
        said = segs[amox][1]
        quote = said[said.index("Bonjour"):said.index("mg") + 2]  # the placeholder the model saw, quoted back
        return [{"drug": "amoxicilline", "segment": amox, "quote": quote,
                 "strength": field(value=500, unit="mg", quote="amoxicilline 500 mg", segment=amox),
                 "status": field(value="new", quote="je vous prescris", segment=amox)}]

    server = fake_llm(scripted(answer))
    extractor = extractor_for(server, llm_pseudonymise=True)
    meds = by_name(extractor.extract(make_segments(turns), roles=ROLES, language="fr"))
    assert sent and not any("Lefebvre" in t or "06 12 34 56 78" in t for t in sent)
    amox = meds["amoxicilline"]  # grounded in the real words: the placeholder was mapped back
    assert amox.strength == Quantity(value=500, unit="mg", ucum=True) and amox.status == "new"
