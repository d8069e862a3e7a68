"""The offline diariser (Silero VAD + resemblyzer + clustering) on the generated consultations and on audio
built from them: DER, speaker count and its bounds, short interjections, the bounded path for long inputs."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import FIXTURE_NAMES, FIXTURES

from consult.audio import load_audio
from consult.evaluation import der, read_rttm

SR = 16_000


@pytest.fixture(scope="module")
def diariser():
    from consult.backends.offline_diar import OfflineDiariser

    return OfflineDiariser()


def _audio(name: str) -> np.ndarray:
    return load_audio(FIXTURES / f"{name}.flac").samples


def _one_voice(name: str, speaker: str) -> np.ndarray:
    x = _audio(name)
    gap = np.zeros(int(0.6 * SR), np.float32)
    turns = [t for t in read_rttm(FIXTURES / f"{name}.rttm") if t.speaker == speaker]
    return np.concatenate([p for t in turns for p in (x[int(t.start * SR): int(t.end * SR)], gap)])


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_consultation_is_two_speakers_with_low_der(diariser, name):
    turns = diariser.diarise(_audio(name))
    assert len({t.speaker for t in turns}) == 2
    assert der(read_rttm(FIXTURES / f"{name}.rttm"), turns, collar=0.5) <= 0.05


@pytest.mark.parametrize(("name", "speaker"), [("en_consult_1", "patient"), ("en_consult_2", "doctor"),
                                               ("fr_consult_3", "doctor")])
def test_one_voice_is_one_speaker(diariser, name, speaker):
    """Voices whose outlier windows (a breath, a plosive) used to be split off as a second speaker."""
    turns = diariser.diarise(_one_voice(name, speaker))
    assert turns and {t.speaker for t in turns} == {"SPEAKER_00"}


def test_speaker_bounds_are_honoured(diariser):
    x = _audio("fr_consult_2")

    def count(**kw: int) -> int:
        return len({t.speaker for t in diariser.diarise(x, **kw)})

    assert count(num_speakers=1) == 1
    assert count(max_speakers=1) == 1
    assert count(num_speakers=3) == 3
    assert count(min_speakers=3) == 3
    assert count(min_speakers=2, max_speakers=2) == 2


def test_short_interjection_of_the_other_speaker_is_kept(diariser):
    """A 0.45 s snippet of the patient, in a pause of the doctor's longest turn, stays the patient's."""
    name = "fr_consult_2"
    x = _audio(name)
    ref = read_rttm(FIXTURES / f"{name}.rttm")
    doctor = ref[0].speaker
    long_turn = max((t for t in ref if t.speaker == doctor), key=lambda t: t.duration)
    short = min((t for t in ref if t.speaker != doctor), key=lambda t: t.duration)
    # the quietest 100 ms of the middle half of the long turn: a pause between two words
    a = int((long_turn.start + long_turn.duration / 4) * SR)
    b = int((long_turn.end - long_turn.duration / 4) * SR)
    energy = np.convolve(np.square(x[a:b]), np.ones(1600) / 1600, mode="valid")
    cut = a + int(np.argmin(energy)) + 800
    snippet = x[int(short.start * SR): int(short.start * SR) + int(0.45 * SR)]
    pause = np.zeros(int(0.5 * SR), np.float32)
    y = np.concatenate([x[:cut], pause, snippet, pause, x[cut:]])
    t0 = (cut + len(pause)) / SR
    t1 = t0 + len(snippet) / SR
    shift = (len(snippet) + 2 * len(pause)) / SR
    turns = diariser.diarise(y)

    def speaker_at(t: float) -> str | None:
        return next((h.speaker for h in turns if h.start <= t <= h.end), None)

    # the patient's label: the one found in the middle of the patient's other turns
    labels = [speaker_at(t.start + t.duration / 2 + (shift if t.start * SR > cut else 0.0))
              for t in ref if t.speaker != doctor]
    patient = max(set(labels), key=labels.count)
    assert patient is not None and patient != speaker_at((t0 - len(pause) / SR) - 0.5)
    covered = sum(max(0.0, min(h.end, t1) - max(h.start, t0)) for h in turns if h.speaker == patient)
    assert covered >= 0.8 * (t1 - t0)


def test_long_input_clusters_a_bounded_subsample(diariser):
    """Above ``max_cluster_windows`` windows, only a subsample goes through agglomerative clustering; the
    result matches the full clustering of the same audio."""
    from consult.backends.offline_diar import OfflineDiariser, OfflineDiarOptions

    sizes: list[int] = []

    class Recording(OfflineDiariser):
        def _ahc_centroids(self, x, *args):  # type: ignore[no-untyped-def]
            sizes.append(len(x))
            return super()._ahc_centroids(x, *args)

    bounded = Recording.__new__(Recording)
    bounded.__dict__.update(diariser.__dict__)
    bounded.options = OfflineDiarOptions(max_cluster_windows=40)
    x = _audio("fr_consult_1")
    full = diariser.diarise(x)
    part = bounded.diarise(x)
    assert sizes and max(sizes) <= 40
    assert len(diariser._embed(x, diariser._regions(x), None)[0]) > 3 * 40
    assert len({t.speaker for t in part}) == len({t.speaker for t in full}) == 2
    assert der(full, part, collar=0.5) <= 0.02


def test_vad_in_chunks_finds_the_same_speech(diariser, monkeypatch):
    from consult.backends import offline_diar

    x = _audio("en_consult_1")
    whole = offline_diar.OfflineDiariser.speech_regions(x, diariser.options.vad_threshold)
    monkeypatch.setattr(offline_diar, "_VAD_CHUNK", 10)
    chunked = diariser._regions(x)
    assert all(s < e and e <= s2 for (s, e), (s2, _) in zip(chunked, chunked[1:], strict=False))
    total = sum(e - s for s, e in whole)
    assert abs(sum(e - s for s, e in chunked) - total) <= 0.02 * total


def test_clustering_counts_speakers_and_ignores_outliers(diariser):
    """Synthetic embeddings: three tight groups and two stray windows -> three speakers."""
    rng = np.random.default_rng(0)
    centres = np.zeros((3, 256))
    for i in range(3):  # non-negative, like GE2E embeddings, on disjoint dimensions
        centres[i, i * 80:(i + 1) * 80] = np.abs(rng.standard_normal(80))
    groups = [c + 0.15 * np.abs(rng.standard_normal((40, 256))) for c in centres]
    strays = np.abs(rng.standard_normal((2, 256))) * (rng.random((2, 256)) < 0.1)
    embs = np.concatenate([*groups, strays]).astype(np.float32)
    labels, cents = diariser._cluster(embs, None, 1, 6)
    assert len(cents) == 3
    assert all(len(set(labels[i * 40:(i + 1) * 40])) == 1 for i in range(3))
    assert len(set(labels[:120])) == 3
    assert len(diariser._cluster(embs, None, 1, 2)[1]) == 2
    assert len(diariser._cluster(embs[:40], None, 1, 6)[1]) == 1


def test_viterbi_keeps_clear_runs_and_drops_blips(diariser):
    """A one-window flip with a small margin is smoothed away; a clear two-window run of the other
    speaker is kept."""
    cents = np.eye(2, 256, dtype=np.float32)
    margins = [0.6] * 5 + [-0.05] + [0.6] * 5 + [-0.6, -0.6] + [0.6] * 5
    x = np.array([[1.0 + m, 1.0 - m] + [0.0] * 254 for m in margins], np.float32)
    centres = np.arange(len(x)) * 0.25
    labels = np.argmax(x[:, :2], axis=1)
    out = diariser._smooth(x, labels, cents, centres)
    assert list(out) == [0] * 11 + [1, 1] + [0] * 5
