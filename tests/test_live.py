"""Live mode (consult.live): local agreement, the session's buffer and commits, sources, cards, decisions carried
over to the final report, and `consult live` on real audio (file, real-time pace, stdin) with the bundled models."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import REPO, prescribing_turn

from consult.audio import load_audio
from consult.config import AsrOptions
from consult.interfaces import AsrResult
from consult.live import (
    CardEvent,
    LiveOptions,
    LiveSession,
    LocalAgreement,
    RevisionEvent,
    TextEvent,
    feed_realtime,
    pcm16_to_float,
    stream_chunks,
)
from consult.review import carry_decisions, same_line, unheard_lines
from schemas import ConsultationReport, MedicationLine, ReviewDecision, Segment, Word

SR = 16000


def _w(text: str, start: float, end: float) -> Word:
    return Word(text=text, start=start, end=end, probability=0.9)


# ------------------------------------------------------------------------------------------- local agreement

def test_local_agreement_commits_what_two_decodes_agree_on() -> None:
    la = LocalAgreement()
    assert la.insert([_w("je", 0.0, 0.2), _w("vous", 0.3, 0.5), _w("pres", 0.6, 0.8)]) == []
    agreed = la.insert([_w("Je", 0.0, 0.2), _w("vous", 0.3, 0.5), _w("prescris", 0.6, 1.0), _w("de", 1.1, 1.2)])
    assert [w.text for w in agreed] == ["Je", "vous"]  # case and punctuation do not count, the changed word does
    assert [w.text for w in la.pending] == ["prescris", "de"]
    # the next decode repeats the committed tail (its audio is still in the buffer): not committed twice
    agreed = la.insert([_w("vous", 0.3, 0.5), _w("prescris", 0.6, 1.0), _w("de", 1.1, 1.2), _w("l'", 1.3, 1.4)])
    assert [w.text for w in agreed] == ["prescris", "de"]
    assert [w.text for w in la.commit_all([_w("l'amoxicilline.", 1.3, 2.0)])] == ["l'amoxicilline."]
    assert [w.text for w in la.committed] == ["Je", "vous", "prescris", "de", "l'amoxicilline."]
    assert la.pending == []
    # two decodes that keep disagreeing on words long heard: taken as the last decode read them, up to a time
    la = LocalAgreement()
    la.insert([_w("l'", 0.3, 0.4), _w("amox", 0.4, 0.9), _w("un", 1.0, 1.1), _w("gramme", 1.1, 1.5)])
    assert la.insert([_w("la", 0.3, 0.4), _w("moxi", 0.4, 0.9), _w("un", 1.0, 1.1), _w("gram", 1.1, 1.5)]) == []
    assert [w.text for w in la.commit_until(1.2)] == ["la", "moxi", "un"]
    assert [w.text for w in la.pending] == ["gram"]


# ------------------------------------------------------------------------------------------- scripted session

class ScriptedTranscriber:
    """A transcriber that hears a script: the audio's samples encode their own stream time (value = t / 1000, and
    0 in pauses), so each decode knows which words its buffer holds. A word still being spoken at the end of the
    buffer comes out differently at every decode (as a real decoder's unstable tail)."""

    def __init__(self, words: list[tuple[str, float, float]]) -> None:
        self.words = words
        self.calls = 0

    @staticmethod
    def audio(words: list[tuple[str, float, float]], total: float) -> np.ndarray:
        t = np.arange(int(total * SR), dtype=np.float64) / SR
        x = np.zeros(t.size, dtype=np.float32)
        for _text, a, b in words:
            x[int(a * SR):int(b * SR)] = (t[int(a * SR):int(b * SR)] / 1000.0 + 1e-4).astype(np.float32)
        return x

    def _span(self, audio: np.ndarray) -> tuple[float, float, list[tuple[str, float, float]]]:
        nz = np.flatnonzero(audio)
        if nz.size == 0:
            return 0.0, len(audio) / SR, []
        start = float(audio[nz[0]] - 1e-4) * 1000.0 - nz[0] / SR
        end = start + len(audio) / SR
        inside = [(w, a, b) for w, a, b in self.words if a < end - 0.05 and b > start + 0.05]
        return start, end, inside

    def speech_regions(self, audio: np.ndarray) -> list[tuple[float, float]]:
        start, end, inside = self._span(audio)
        regions: list[tuple[float, float]] = []
        for _text, a, b in inside:
            a, b = max(a, start) - start, min(b, end) - start
            if regions and a - regions[-1][1] < 0.3:
                regions[-1] = (regions[-1][0], b)
            else:
                regions.append((a, b))
        return regions

    def detect_language(self, audio: np.ndarray) -> dict[str, float]:
        return {"fr": 0.9, "en": 0.1}

    def transcribe(self, audio: np.ndarray, *, language: str | None, hook=None, hotwords=None,
                   vad_filter=None) -> AsrResult:
        self.calls += 1
        start, end, inside = self._span(audio)
        words = []
        for text, a, b in inside:
            if a < start - 0.05:
                continue  # a word cut by the buffer start is not heard
            if b > end - 0.05:
                text = f"{text[: max(1, len(text) // 2)]}~{self.calls}"  # still being spoken: unstable
            words.append(Word(text=text, start=max(0.0, a - start), end=max(0.0, min(b, end) - start),
                              probability=0.9))
        segs = [Segment(id=0, start=words[0].start, end=words[-1].end, text=" ".join(w.text for w in words),
                        words=words)] if words else []
        return AsrResult(segments=segs, language=language or "fr", language_probability=0.9,
                         duration=len(audio) / SR)

    def score_texts(self, audio, texts, *, language):  # pragma: no cover - second pass off in these tests
        raise AssertionError("not used")

    def model_info(self):
        return []


class NoExtractor:
    def extract(self, segments, *, roles, language, role_confidence=None):
        return []

    def model_info(self):
        return []


def _script(n_words: int, *, word_s: float = 0.35, gap_s: float = 0.1, sentence: int = 9,
            pause_s: float = 0.9) -> list[tuple[str, float, float]]:
    """Words of a monologue: sentences of ``sentence`` words separated by pauses."""
    out, t = [], 0.5
    for i in range(n_words):
        end_of_sentence = (i + 1) % sentence == 0
        text = f"mot{i}" + ("." if end_of_sentence else "")
        out.append((text, round(t, 3), round(t + word_s, 3)))
        t += word_s + (pause_s if end_of_sentence else gap_s)
    return out


def _run(session: LiveSession, audio: np.ndarray, chunk_s: float = 0.25) -> list:
    n = int(chunk_s * SR)
    for i in range(0, audio.size, n):
        session.feed(audio[i:i + n])
        session.step()
    session.finish()
    return session.events()


def test_session_commits_every_word_once_in_order_never_before_it_is_said() -> None:
    script = _script(120)
    total = script[-1][2] + 1.5
    tr = ScriptedTranscriber(script)
    session = LiveSession(tr, NoExtractor(), language="fr", asr=AsrOptions(second_pass=False))
    events = _run(session, ScriptedTranscriber.audio(script, total))
    committed = [w for ev in events if isinstance(ev, TextEvent) for w in ev.words]
    assert [w.text for w in committed] == [w for w, _a, _b in script]  # nothing unstable, lost or doubled
    for ev in events:
        if isinstance(ev, TextEvent):
            for w in ev.words:
                assert ev.at >= w.end - 1e-6  # committed after it was heard
    # most words are committed well before the end of their sentence (agreement, not only at pauses)
    text_events = [ev for ev in events if isinstance(ev, TextEvent)]
    assert len(text_events) > len(script) / 9 * 1.5
    snap = session.snapshot()
    assert snap.tentative == "" and not snap.running
    assert " ".join(s.text for s in snap.segments).split() == [w for w, _a, _b in script]


class TwoReadings(ScriptedTranscriber):
    """The live (greedy) variant mishears some words; the final pass's decoding hears ``heard`` instead."""

    def __init__(self, words: list[tuple[str, float, float]], greedy: dict[str, str], *,
                 full: Callable[[list[Word]], list[Word]] | None = None, is_greedy: bool = False) -> None:
        super().__init__(words)
        self.greedy, self.full, self.is_greedy = greedy, full, is_greedy

    def variant(self, **changes: object) -> TwoReadings:
        return TwoReadings(self.words, self.greedy, full=self.full, is_greedy=True)

    def transcribe(self, audio: np.ndarray, *, language: str | None, hook=None, hotwords=None,
                   vad_filter=None) -> AsrResult:
        result = super().transcribe(audio, language=language, hotwords=hotwords, vad_filter=vad_filter)
        words = [w for seg in result.segments for w in seg.words]
        if self.is_greedy:
            words = [w.model_copy(update={"text": self.greedy.get(w.text, w.text)}) for w in words]
        elif self.full is not None:
            words = self.full(words)
        segs = [Segment(id=0, start=words[0].start, end=words[-1].end, text=" ".join(w.text for w in words),
                        words=words)] if words else []
        return replace(result, segments=segs)


def test_each_utterance_is_read_again_whole_at_its_end() -> None:
    script = _script(27)  # three sentences, 0.9 s pauses between them
    total = script[-1][2] + 1.5
    audio = ScriptedTranscriber.audio(script, total)
    said = [w for w, _a, _b in script]
    misheard = {"mot4": "mo4", "mot13": "motte13"}
    session = LiveSession(TwoReadings(script, misheard), NoExtractor(), language="fr",
                          asr=AsrOptions(second_pass=False))
    events = _run(session, audio)
    committed = [w.text for ev in events if isinstance(ev, TextEvent) for w in ev.words]
    assert "mo4" in committed and "motte13" in committed  # the greedy decodes committed them first
    revisions = [ev for ev in events if isinstance(ev, RevisionEvent)]
    assert revisions and "mot4" in revisions[0].text and revisions[0].first_segment == 0
    assert any("mot13" in ev.text for ev in revisions) and session.stats()["revisions"] == len(revisions)
    # the live transcript now reads as the final pass's decoding heard it: every word once, in order
    assert " ".join(s.text for s in session.snapshot().segments).split() == said
    # without it, the greedy reading stays
    plain = LiveSession(TwoReadings(script, misheard), NoExtractor(), language="fr",
                        options=LiveOptions(revise_utterances=False), asr=AsrOptions(second_pass=False))
    _run(plain, audio)
    assert "mo4" in " ".join(s.text for s in plain.snapshot().segments).split()


class NamesHeardLate(TwoReadings):
    """The live decodes bend a drug name and the name pass cannot put it right (its first reading always scores
    best); the final pass's decoding hears it."""

    def variant(self, **changes: object) -> NamesHeardLate:
        return NamesHeardLate(self.words, self.greedy, is_greedy=True)

    def score_texts(self, audio, texts, *, language):
        return [0.0] + [-50.0] * (len(texts) - 1)


def _sentences(sentences: list[str], *, word_s: float = 0.35, gap_s: float = 0.1, between_s: float = 0.35
               ) -> list[tuple[str, float, float]]:
    out, t = [], 0.5
    for sentence in sentences:
        for word in sentence.split():
            out.append((word, round(t, 3), round(t + word_s, 3)))
            t += word_s + gap_s
        t += between_s - gap_s
    return out


def test_a_sentence_that_may_hold_a_misheard_name_is_read_again_without_waiting_for_a_pause() -> None:
    # a long turn with no pause long enough to end it: sentences 0.35 s apart
    script = _sentences(["Bonjour madame, on va soigner cette angine.",
                         "Je vous prescris de l'amoxicilline, un comprimé matin et soir.",
                         "Vous la prenez pendant six jours, même si vous allez mieux avant.",
                         "Buvez beaucoup d'eau et reposez-vous bien cette semaine.",
                         "Revenez me voir si la fièvre dure plus de trois jours."])
    audio = ScriptedTranscriber.audio(script, script[-1][2] + 1.5)
    said_at = next(b for w, _a, b in script if w == "soir.")
    session = LiveSession(NamesHeardLate(script, {"l'amoxicilline,": "l'amoxi-siline,"}), NoExtractor(),
                          language="fr", asr=AsrOptions())
    events = _run(session, audio)
    revisions = [ev for ev in events if isinstance(ev, RevisionEvent)]
    assert revisions and "l'amoxicilline," in revisions[0].text.split()
    assert revisions[0].at < said_at + 3.0  # read again at its sentence end, long before the turn's end
    assert " ".join(s.text for s in session.snapshot().segments).split() == [w for w, _a, _b in script]
    # without sentence ends, the bent name waits for the pause that ends the turn
    plain = LiveSession(NamesHeardLate(script, {"l'amoxicilline,": "l'amoxi-siline,"}), NoExtractor(),
                        language="fr", options=LiveOptions(revise_at_sentences=False), asr=AsrOptions())
    late = [ev for ev in _run(plain, audio) if isinstance(ev, RevisionEvent)]
    assert not late or late[0].at > script[-1][2]


def test_a_second_reading_never_erases_a_drug_name_the_live_decodes_heard() -> None:
    # a garbled microphone: the live decodes heard the name, the second reading bends it into no name at all
    script = _sentences(["Je vous prescris de l'amoxicilline matin et soir.", "Revenez me voir dans une semaine."])
    audio = ScriptedTranscriber.audio(script, script[-1][2] + 1.5)

    def bend(words: list[Word]) -> list[Word]:
        return [w.model_copy(update={"text": "oxysyline"}) if w.text == "l'amoxicilline" else w for w in words]

    session = LiveSession(TwoReadings(script, {}, full=bend), NoExtractor(), language="fr",
                          asr=AsrOptions(second_pass=False))
    events = _run(session, audio)
    assert not [ev for ev in events if isinstance(ev, RevisionEvent) and "oxysyline" in ev.text]
    assert " ".join(s.text for s in session.snapshot().segments).split() == [w for w, _a, _b in script]


def test_a_second_reading_that_lost_speech_does_not_erase_it() -> None:
    script = _script(18)
    audio = ScriptedTranscriber.audio(script, script[-1][2] + 1.5)
    session = LiveSession(TwoReadings(script, {"mot2": "mo2"}, full=lambda words: words[:2]), NoExtractor(),
                          language="fr", asr=AsrOptions(second_pass=False))
    events = _run(session, audio)
    assert not [ev for ev in events if isinstance(ev, RevisionEvent)]
    assert len(" ".join(s.text for s in session.snapshot().segments).split()) == len(script)


def test_a_long_stream_keeps_a_bounded_buffer() -> None:
    # 30 minutes of speech with pauses; decoding every 5 s of audio to keep the test quick
    script = _script(4000, word_s=0.3, gap_s=0.05, sentence=12, pause_s=0.8)
    total = script[-1][2] + 1.0
    assert total > 27 * 60
    options = LiveOptions(step_s=5.0, max_buffer_s=10.0)
    session = LiveSession(ScriptedTranscriber(script), NoExtractor(), language="fr", options=options,
                          asr=AsrOptions(second_pass=False))
    _run(session, ScriptedTranscriber.audio(script, total), chunk_s=1.0)
    stats = session.stats()
    assert stats["max_buffer_s"] <= 2 * options.max_buffer_s + options.step_s, stats
    assert stats["buffer_s"] == 0.0 and stats["recent_s"] <= 28.0  # the audio utterances are read again in
    assert stats["revisions"] == 0  # the scripted decoder reads the same words at every decode: nothing to revise
    assert len(" ".join(s.text for s in session.snapshot().segments).split()) == len(script)


def test_a_buffer_with_no_speech_is_dropped() -> None:
    session = LiveSession(ScriptedTranscriber([]), NoExtractor(), language="fr", asr=AsrOptions(second_pass=False))
    _run(session, np.zeros(60 * SR, dtype=np.float32), chunk_s=0.5)
    assert session.stats()["max_buffer_s"] <= 4.0
    assert session.snapshot().segments == []


def test_the_recording_is_written_as_it_comes(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    audio = (rng.standard_normal(5 * 48000) * 0.1).astype(np.float32)
    path = tmp_path / "rec.flac"
    session = LiveSession(ScriptedTranscriber([]), NoExtractor(), language="fr", recording=path,
                          asr=AsrOptions(second_pass=False))
    for i in range(0, audio.size, 4800):  # a browser's 48 kHz chunks, as int16
        session.feed((audio[i:i + 4800] * 32767).astype(np.int16), 48000)
    session.finish()
    info = sf.info(path)
    assert info.samplerate == SR and info.subtype == "PCM_16"
    assert abs(info.duration - 5.0) < 0.05
    assert session.recording == path


def test_feed_realtime_paces_the_audio() -> None:
    slept: list[float] = []
    now = [0.0]

    def sleep(s: float) -> None:
        slept.append(s)
        now[0] += s

    session = LiveSession(ScriptedTranscriber([]), NoExtractor(), language="fr", asr=AsrOptions(second_pass=False))
    chunks = [np.zeros(SR // 4, np.float32) for _ in range(40)]  # 10 s
    feed_realtime(session, chunks, sleep=sleep, clock=lambda: now[0])
    session.wait(30)
    assert abs(sum(slept) - 10.0) < 0.3
    assert session.fed_s == pytest.approx(10.0)


# ------------------------------------------------------------------------------------------- sources

def test_stream_chunks_reads_a_wav_stream_and_raw_pcm() -> None:
    rng = np.random.default_rng(1)
    stereo = (rng.standard_normal((8000, 2)) * 0.2).astype(np.float32)
    buf = io.BytesIO()
    sf.write(buf, stereo, 8000, format="WAV", subtype="PCM_16")
    buf.seek(0)
    chunks = list(stream_chunks(buf, chunk_s=0.25))
    assert {rate for _x, rate in chunks} == {8000}
    mono = np.concatenate([x for x, _r in chunks])
    assert mono.size == 8000
    assert np.allclose(mono, stereo.mean(axis=1), atol=2e-4)
    raw = (np.arange(1000, dtype=np.int16) - 500).tobytes()
    out = list(stream_chunks(io.BytesIO(raw + b"\x01"), sample_rate=16000))  # an odd last byte is dropped
    assert np.concatenate([x for x, _r in out]).size == 1000 and out[0][1] == 16000
    assert np.allclose(pcm16_to_float(raw)[:3], np.array([-500, -499, -498]) / 32768)
    float_wav = io.BytesIO()
    sf.write(float_wav, stereo, 8000, format="WAV", subtype="FLOAT")
    float_wav.seek(0)
    with pytest.raises(ValueError, match="16-bit PCM"):
        list(stream_chunks(float_wav))


# ------------------------------------------------------------------------------------------- decisions carried

def _line(id_: str, name: str, *, dose: float = 1.0, status: str = "new") -> MedicationLine:
    return MedicationLine.model_validate({
        "id": id_, "drug_text": name, "name": name, "status": status, "confidence": 0.8,
        "dose": {"value": dose, "unit": "comprimé"}, "frequency": {"count": 2, "period": 1, "period_unit": "d"},
        "evidence": {"char_start": 0, "char_end": len(name), "text": name}})


class FickleExtractor:
    """Finds one drug while the window holds at most ``upto`` turns, then no longer (a later reading of the window
    drops the card)."""

    def __init__(self, upto: int) -> None:
        self.upto = upto

    def extract(self, segments, *, roles, language, role_confidence=None):
        if not segments or len(segments) > self.upto:
            return []
        line = _line("amoxicilline", "amoxicilline")
        return [line.model_copy(update={"evidence": line.evidence.model_copy(update={"segment_id": segments[-1].id})})]

    def model_info(self):
        return []


def test_a_card_a_later_reading_drops_is_kept_as_dropped() -> None:
    script = _script(40)
    session = LiveSession(ScriptedTranscriber(script), FickleExtractor(1), language="fr",
                          asr=AsrOptions(second_pass=False))
    events = _run(session, ScriptedTranscriber.audio(script, script[-1][2] + 1.5))
    kinds = [ev.kind for ev in events if isinstance(ev, CardEvent)]
    assert kinds[0] == "added" and "removed" in kinds
    snap = session.snapshot()
    assert snap.cards == {} and list(snap.dropped) == ["amoxicilline"]  # what the doctor saw and may have ticked


def test_decisions_on_live_cards_carry_over_only_to_lines_that_are_the_same() -> None:
    live = [_line("amoxicilline", "amoxicilline"), _line("paracetamol", "paracétamol", dose=2.0),
            _line("ibuprofene", "ibuprofène", status="stopped")]
    made = [ReviewDecision(line_id="amoxicilline", decision="approved", reviewer="Dr A"),
            ReviewDecision(line_id="paracetamol", decision="approved"),
            ReviewDecision(line_id="ibuprofene", decision="rejected")]
    final = ConsultationReport.model_validate({
        "id": "j1", "created_at": "2026-12-06T10:00:00Z", "language": "fr",
        "medications": [_line("med-1", "ibuprofène", status="stopped").model_dump(),
                        _line("med-2", "amoxicilline").model_dump(),
                        _line("med-3", "paracétamol", dose=1.0).model_dump()]})  # the final pass heard 1, not 2
    carried = {d.line_id: d for d in carry_decisions(live, made, final)}
    assert set(carried) == {"med-1", "med-2"}
    assert carried["med-2"].decision == "approved" and carried["med-2"].reviewer == "Dr A"
    assert carried["med-1"].decision == "rejected"
    assert not same_line(live[1], final.medications[2])  # a different dose is never approved on the doctor's behalf


def test_a_live_card_the_full_report_does_not_name_is_told_not_lost() -> None:
    from consult.live import LiveSnapshot
    from demo.live import replaced_note

    amox = MedicationLine.model_validate({**_line("amoxicilline", "amoxicilline").model_dump(), "evidence": {
        "char_start": 0, "char_end": 4, "text": "amox", "start": 72.0, "end": 72.5}})
    live = [amox, _line("paracetamol", "paracétamol"), _line("ibuprofene", "ibuprofène"),
            _line("kardegic", "Kardégic")]
    made = [ReviewDecision(line_id="amoxicilline", decision="approved", reviewer="Dr A"),
            ReviewDecision(line_id="ibuprofene", decision="rejected")]
    # the complete reading heard paracétamol (another dose: a different line, the same drug) and nothing else
    final = ConsultationReport.model_validate({
        "id": "j1", "created_at": "2026-12-06T10:00:00Z", "language": "fr",
        "medications": [_line("med-1", "paracétamol", dose=2.0).model_dump()]})
    unheard = unheard_lines(live, made, final)
    assert [(line.id, d.decision if d else None) for line, d in unheard] == [("amoxicilline", "approved"),
                                                                              ("kardegic", None)]
    # the page names them; a card a later live reading dropped, on which no decision was made, is not told
    snap = LiveSnapshot(segments=[], tentative="", cards={"amoxicilline": amox, "paracetamol": live[1],
                                                         "ibuprofene": live[2]},
                        dropped={"kardegic": live[3]}, language="fr", fed_s=80.0, running=False)
    note = replaced_note(snap, made, carry_decisions(live, made, final), final, "fr")
    assert note.startswith("Le rapport complet remplace le brouillon en direct ; 0 décision(s) reprise(s) sur 2.")
    assert "amoxicilline (approuvé en direct, 01:12)" in note
    assert "Kardégic" not in note and "ibuprofène" not in note and "paracétamol" not in note
    en = replaced_note(replace(snap, dropped={}, cards={"kardegic": live[3]}), [], [], final, "en")
    assert en.endswith("**Not in the full report**, check the recording before signing: Kardégic (seen live).")
    heard = replaced_note(snap, made, [], final.model_copy(update={"medications": [amox, live[1]]}), "fr")
    assert "Absent" not in heard


# ------------------------------------------------------------------------------------------- real models

@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """fr_consult_1's prescribing turn (13 s) with a little silence around it."""
    audio = prescribing_turn(before_s=0.5, after_s=1.0)
    path = tmp_path_factory.mktemp("live-clip") / "prescription.wav"
    sf.write(path, audio, SR, subtype="PCM_16")
    return path


def _consult(*args: str, stdin: bytes | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1")
    return subprocess.run([sys.executable, "-m", "consult", *args], input=stdin, capture_output=True,
                          env=env, cwd=REPO, timeout=timeout)


def test_live_decodes_have_no_temperature_fallback_and_the_second_reading_keeps_it(clip: Path, pipeline) -> None:
    # a greedy decode that fails Whisper's log-prob or compression checks is not decoded five times more at higher
    # temperatures (seconds of delay for a sampled reading the next decode never agrees with); the utterance's
    # second reading, with the final pass's options, keeps faster-whisper's fallback
    session = LiveSession(pipeline.transcriber, pipeline.extractor, language="fr")
    assert session.transcriber.options.temperature_fallback is False and session.transcriber.options.beam_size == 1
    assert session.full_transcriber.options.temperature_fallback is True
    seen: list[dict] = []
    model = session.transcriber._model
    real = model.transcribe

    def spy(audio, **kwargs):
        seen.append(kwargs)
        return real(audio, **kwargs)

    model.transcribe = spy
    try:
        audio = load_audio(clip).samples[: 4 * SR]
        session.transcriber.transcribe(audio, language="fr")
        session.full_transcriber.transcribe(audio, language="fr")
    finally:
        del model.transcribe
    assert seen[0]["temperature"] == 0.0 and "temperature" not in seen[1]


@pytest.mark.slow
def test_live_session_cards_from_real_speech(clip: Path, pipeline) -> None:
    events: list = []
    session = LiveSession(pipeline.transcriber, pipeline.extractor, language="auto", on_event=events.append)
    audio = load_audio(clip).samples
    for i in range(0, audio.size, SR // 4):
        session.feed(audio[i:i + SR // 4])
        session.step()
    snap = session.finish()
    assert snap.language == "fr"
    cards = [ev for ev in events if isinstance(ev, CardEvent)]
    added = [ev for ev in cards if ev.kind == "added"]
    assert [ev.line.name for ev in added] == ["amoxicilline"], [(ev.kind, ev.line.name) for ev in cards]
    line = snap.cards[added[0].key]
    assert line.status == "new" and line.strength is not None and line.strength.value == 1000
    assert line.duration is not None and line.duration.value == 6
    # the card was there before the turn ended: it appeared at a commit, with its evidence in the transcript
    text_at = {ev.segment_id: ev.at for ev in events if isinstance(ev, TextEvent)}
    assert added[0].at <= max(text_at.values())
    seg = next(s for s in snap.segments if s.id == line.evidence.segment_id)
    assert seg.text[line.evidence.char_start:line.evidence.char_end] == line.evidence.text


@pytest.mark.slow
def test_consult_live_prints_turns_and_lines_then_writes_what_consult_run_writes(clip: Path, tmp_path: Path) -> None:
    r = _consult("live", str(clip), "--out", str(tmp_path / "live"))
    out = r.stdout.decode()
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    assert "[00:0" in out and "+ amoxicilline" in out and "amoxicilline 1000 mg [new]" in out, out
    assert "ok      prescription" in out
    run = _consult("run", str(clip), "--out", str(tmp_path / "run"), "--in-process", "--no-store",
                   "--no-progress")
    assert run.returncode == 0, run.stderr.decode()[-2000:]
    live_dir, run_dir = tmp_path / "live" / "prescription", tmp_path / "run" / "prescription"
    assert sorted(p.name for p in live_dir.iterdir()) == sorted(p.name for p in run_dir.iterdir())
    a = json.loads((live_dir / "report.json").read_text())
    b = json.loads((run_dir / "report.json").read_text())
    for key in ("id", "language", "segments", "speakers", "turns", "medications", "warnings"):
        assert a[key] == b[key], key
    assert (live_dir / "transcript.txt").read_text() == (run_dir / "transcript.txt").read_text()


@pytest.mark.slow
def test_consult_live_realtime_prints_turns_as_they_come(clip: Path, tmp_path: Path) -> None:
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "consult", "live", "--realtime", str(clip), "--out",
                             str(tmp_path), "--no-final"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env, cwd=REPO)
    assert proc.stdout is not None
    seen: list[tuple[float, str]] = []
    buf = b""
    t0 = None
    while True:
        byte = proc.stdout.read(1)
        if not byte:
            break
        buf += byte
        if byte in (b"\n", b" "):
            text = buf.decode("utf-8", "replace")
            if t0 is None and text.startswith("live:"):
                t0 = time.monotonic()  # the models are loaded: the audio starts
            seen.append((time.monotonic(), text))
            buf = b""
    assert proc.wait(120) == 0, proc.stderr.read().decode()[-2000:] if proc.stderr else ""
    assert t0 is not None
    out = "".join(t for _, t in seen)
    assert "amoxicilline" in out.lower()
    end = next(t for t, text in seen if "heard" in text)
    first_turn = next(t for t, text in seen if text.startswith("[00:"))
    first_card = next(t for t, text in seen if text.strip().startswith("+"))
    # played at real-time pace (14.5 s of audio): turns and the card came while the audio was still playing
    assert end - t0 >= 13.0
    assert first_turn - t0 < 10.0 and first_card < end - 1.0, (first_turn - t0, first_card - t0, end - t0)


@pytest.mark.slow
def test_consult_live_reads_pcm_on_stdin_and_keeps_the_recording(clip: Path, tmp_path: Path) -> None:
    audio = load_audio(clip).samples
    pcm = (np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes()
    r = _consult("live", "-", "--out", str(tmp_path), "--no-final", stdin=pcm)
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    assert "amoxicilline" in r.stdout.decode().lower()
    (folder,) = tmp_path.iterdir()
    assert folder.name.startswith("stdin-")
    info = sf.info(folder / "recording.flac")
    assert abs(info.duration - audio.size / SR) < 0.05


def test_consult_live_without_sounddevice_says_how_to_get_the_microphone(tmp_path: Path) -> None:
    code = ("import sys; sys.modules['sounddevice'] = None; from consult.cli import main; "
            f"raise SystemExit(main(['live', '--mic', '--out', {str(tmp_path)!r}, '--asr-model', 'base']))")
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, env=env, cwd=REPO, timeout=300)
    assert r.returncode == 2
    assert "pip install 'consult[mic]'" in r.stderr.decode()
    assert _consult("live", "--out", str(tmp_path)).returncode == 2  # neither a file nor --mic


# ------------------------------------------------------------------------------------------- the page's views

def test_live_views_and_decisions() -> None:
    from consult.live import LiveSnapshot
    from demo.live import (
        LIVE_TURNS_SHOWN,
        LiveRegistry,
        card_choices,
        live_cards_html,
        live_decisions,
        live_lines,
        live_transcript_html,
    )

    segments = [Segment(id=i, start=float(i), end=i + 0.5, text=f"tour {i} <b>", words=[]) for i in range(50)]
    card = MedicationLine.model_validate({**_line("amoxicilline", "amoxicilline").model_dump(), "evidence": {
        "segment_id": 49, "char_start": 0, "char_end": 4, "text": "tour", "start": 49.0, "end": 49.2}})
    snap = LiveSnapshot(segments=segments, tentative="pendant six", cards={"amoxicilline": card}, language="fr",
                        fed_s=50.0, running=True)
    html = live_transcript_html(snap, "fr")
    assert html.count("class='live-turn'") == LIVE_TURNS_SHOWN + 1  # the last turns and the tentative tail
    assert "10 tours de parole plus anciens" in html and "&lt;b&gt;" in html and "<b>" not in html
    assert "live-tentative" in html and "pendant six" in html
    cards = live_cards_html(snap, "fr")
    assert "data-card='amoxicilline'" in cards and "[00:49]" in cards and "nouveau" in cards
    assert "ml-flags" not in cards  # a plain line: no alert
    # a name read approximately ("à motociceline") is flagged on the card as it is in the review screen
    doubtful = card.model_copy(update={"drug_text": "à motociceline", "confidence": 0.64, "needs_review": True,
                                       "review_reasons": ["drug name read approximately"]})
    flagged = live_cards_html(replace(snap, cards={"amoxicilline": doubtful}), "fr")
    assert "flag sev-warning" in flagged and "64" in flagged
    assert card_choices(snap, "en") == [("amoxicilline — new", "amoxicilline")]
    # a card a later reading dropped keeps its choice (a box the doctor ticked stays valid: Gradio refuses a value
    # that is not among the choices), marked as no longer heard; the decision made on it is kept for the carry-over
    ibu = _line("ibuprofene", "ibuprofène")
    later = replace(snap, cards={"ibuprofene": ibu}, dropped={"amoxicilline": card})
    assert card_choices(later, "en") == [("ibuprofène — new", "ibuprofene"),
                                         ("amoxicilline — new (no longer heard)", "amoxicilline")]
    assert [line.id for line in live_lines(later)] == ["ibuprofene", "amoxicilline"]
    assert [d.line_id for d in live_decisions(live_lines(later), ["amoxicilline"], [], "Dr A")] == ["amoxicilline"]
    made = live_decisions([card, _line("ibuprofene", "ibuprofène")], ["amoxicilline", "ibuprofene"],
                          ["ibuprofene"], "Dr A")
    assert [(d.line_id, d.decision, d.reviewer) for d in made] == [("amoxicilline", "approved", "Dr A")]
    registry = LiveRegistry(idle_s=0.0)
    session = LiveSession(ScriptedTranscriber([]), NoExtractor(), language="fr", asr=AsrOptions(second_pass=False))
    key = registry.open(session)
    assert registry.get(key) is session
    time.sleep(0.01)
    registry.sweep()  # an abandoned tab: its session is closed and dropped
    assert registry.get(key) is None and session.input_closed and session.wait(10)


def test_audio_that_never_reached_the_server_is_measured_and_told() -> None:
    # Gradio keeps only the latest chunk that arrived while the handler was busy: lost chunks leave the audio
    # received behind the clock, and the page says how much (never a word of what was said)
    from consult.live import LiveSnapshot
    from demo.live import LOSS_SLACK_S, Arrivals, LiveRegistry, replaced_note

    now = [100.0]
    arrivals = Arrivals(clock=lambda: now[0])
    assert arrivals.missing_s() == 0.0
    for _ in range(50):  # 5 s of audio at the pace of the clock, a little late: nothing lost
        now[0] += 0.1
        arrivals.add(0.1)
    now[0] += LOSS_SLACK_S - 0.5  # in transit
    assert arrivals.missing_s() == 0.0
    for _ in range(30):  # then one chunk in four arrives for 12 s
        now[0] += 0.4
        arrivals.add(0.1)
    assert arrivals.missing_s() == pytest.approx(1.5 + 30 * 0.3, abs=0.01)
    assert arrivals.received_s == pytest.approx(8.0)

    registry = LiveRegistry()
    session = LiveSession(ScriptedTranscriber([]), NoExtractor(), language="fr", asr=AsrOptions(second_pass=False))
    key = registry.open(session)
    registry.arrived(key, 0.1)
    assert registry.missing_s(key) == 0.0 and registry.missing_s("no-such-key") == 0.0
    # the views sent to the page: what was sent before is given back, to send only what changed
    assert registry.swap_shown(key, ("a", "b")) is None
    assert registry.swap_shown(key, ("a", "c")) == ("a", "b")
    closed = registry.close(key)
    assert closed is session and session.wait(10)
    assert registry.swap_shown(key, ("a", "d")) is None and registry.missing_s(key) == 0.0

    snap = LiveSnapshot(segments=[], tentative="", cards={}, language="fr", fed_s=80.0, running=False)
    final = ConsultationReport.model_validate({"id": "j1", "created_at": "2026-12-06T10:00:00Z", "language": "fr"})
    note = replaced_note(snap, [], [], final, "fr", missing_s=31.6)
    assert note.startswith("⚠️ **Environ 32 s de l'enregistrement ne sont pas parvenues au serveur**")
    assert "About 32 s of the recording did not reach the server" in replaced_note(snap, [], [], final, "en",
                                                                                  missing_s=31.6)
    assert "⚠️" not in replaced_note(snap, [], [], final, "fr")


def test_the_page_warms_the_models_before_the_first_recording(tmp_path: Path) -> None:
    # a live session made at the first recording loaded spaCy's French parser (12 s) while the browser's audio had
    # no session to go to; opening the live tab now loads and warms them, once
    from demo.service import ReviewService

    calls: list[str] = []

    class CountingExtractor(NoExtractor):
        def extract(self, segments, *, roles, language, role_confidence=None):
            calls.append(language)
            return []

    class FakePipeline:
        extractor = CountingExtractor()

    made: list[int] = []

    def factory() -> FakePipeline:
        made.append(1)
        return FakePipeline()

    service = ReviewService(tmp_path / "consult.db", factory, audio_dir=tmp_path / "audio")
    service.warm_live()
    service.warm_live()
    assert made == [1] and calls == ["fr", "en"]


def test_the_tap_keeps_every_streamed_chunk_gradio_would_skip(tmp_path: Path) -> None:
    # Gradio keeps only the latest chunk waiting for the handler; the tap files each chunk's upload as its request
    # arrives, and passes the request on untouched
    import asyncio

    from demo.live import LiveRegistry, StreamChunkTap, read_chunk

    uploads = tmp_path / "gradio"
    files = []
    for i in range(3):
        (uploads / f"h{i}").mkdir(parents=True)
        files.append(uploads / f"h{i}" / "audio.wav")
        sf.write(files[-1], np.full(4800, 1000 * (i + 1), dtype=np.int16), 48000, subtype="PCM_16")
    outside = tmp_path / "elsewhere.wav"
    sf.write(outside, np.zeros(480, dtype=np.int16), 48000, subtype="PCM_16")
    registry = LiveRegistry()
    received: list[bytes] = []

    async def gradio(scope, receive, send) -> None:
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        received.append(body)

    tap = StreamChunkTap(gradio, registry=registry, upload_dir=uploads)
    assert registry.tapped

    def post(path: str, payload: dict, *, split: bool = False) -> None:
        body = json.dumps(payload).encode()
        parts = [body[:10], body[10:]] if split else [body]
        messages = [{"type": "http.request", "body": p, "more_body": i < len(parts) - 1} for i, p in enumerate(parts)]

        async def receive():
            return messages.pop(0)

        async def send(message) -> None:
            return None

        asyncio.run(tap({"type": "http", "method": "POST", "path": path}, receive, send))

    def chunk(path: Path) -> dict:
        return {"path": str(path), "meta": {"_type": "gradio.FileData"}}

    for i, f in enumerate(files):
        post("/gradio_api/stream/ev1", {"session_hash": "page1", "data": [chunk(f), None]}, split=i == 1)
    post("/gradio_api/stream/ev1", {"session_hash": "page1", "data": [chunk(outside), None]})  # not an upload
    post("/gradio_api/stream/ev1", {"session_hash": "page1", "data": [chunk(uploads / ".." / "elsewhere.wav")]})
    post("/gradio_api/stream/ev1/close", {"session_hash": "page1", "data": [chunk(files[0])]})
    post("/gradio_api/queue/join", {"session_hash": "page1", "data": [chunk(files[0])]})
    post("/gradio_api/stream/ev2", {"session_hash": "page2", "data": [chunk(files[2])]})
    post("/gradio_api/stream/ev1", {"session_hash": "page1", "data": "not a list"})
    assert len(received) == 9 and json.loads(received[1])["data"][0]["path"] == str(files[1])  # passed on whole
    taken = registry.take_chunks("page1")
    assert taken == [f.resolve() for f in files]  # every chunk, in arrival order, and nothing else
    assert registry.take_chunks("page1") == []  # taken once
    samples, rate = read_chunk(taken[1])
    assert rate == 48000 and samples.shape == (4800,) and int(samples[0]) == 2000
    assert read_chunk(tmp_path / "missing.wav") is None
    # a chunk filed long before a recording starts is the tail of the recording before
    assert registry.take_chunks("page2", since=time.monotonic() + 1) == []
    registry.tap("page3", files[0])
    assert registry.take_chunks("page3", since=time.monotonic() - 1.0) == [files[0]]
