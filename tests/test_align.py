"""Word-level speaker assignment (pure, no model)."""

from __future__ import annotations

from consult.align import assign_speakers, interpolate_word_times, speaker_for_span
from schemas import Segment, SpeakerTurn, Word


def _seg(words: list[tuple[str, float, float]]) -> Segment:
    ws = [Word(text=t, start=s, end=e, probability=0.9) for t, s, e in words]
    return Segment(id=0, start=ws[0].start, end=ws[-1].end, text=" ".join(w.text for w in ws), words=ws)


TURNS = [SpeakerTurn(speaker="A", start=0.0, end=2.0), SpeakerTurn(speaker="B", start=2.1, end=4.0)]


def test_words_split_at_speaker_change_word_by_word():
    seg = _seg([("Prenez", 0.2, 0.6), ("un", 0.7, 0.9), ("comprimé.", 1.0, 1.8), ("D'accord", 2.3, 2.9),
                ("merci", 3.0, 3.5)])
    out = assign_speakers([seg], TURNS)
    assert [s.speaker for s in out] == ["A", "B"]
    assert out[0].text == "Prenez un comprimé." and out[1].text == "D'accord merci"
    assert [s.id for s in out] == [0, 1]
    assert all(w.speaker == "A" for w in out[0].words)


def test_largest_overlap_wins():
    starts = [t.start for t in TURNS]
    assert speaker_for_span(1.8, 2.5, TURNS, starts) == "B"  # 0.2 s in A, 0.4 s in B
    assert speaker_for_span(1.5, 2.2, TURNS, starts) == "A"


def test_word_outside_turns_takes_nearest_within_gap():
    starts = [t.start for t in TURNS]
    assert speaker_for_span(4.3, 4.6, TURNS, starts) == "B"
    assert speaker_for_span(9.0, 9.5, TURNS, starts) is None
    assert speaker_for_span(1.0, 1.2, [], []) is None


def test_words_without_timestamps_are_interpolated():
    ws = [Word(text="deux", start=1.0, end=1.4, probability=0.9),
          Word(text="500", start=1.4, end=1.4, probability=0.9),
          Word(text="mg", start=1.4, end=1.4, probability=0.9),
          Word(text="matin", start=2.0, end=2.4, probability=0.9)]
    out = interpolate_word_times(ws, 1.0, 2.4)
    assert out[1].interpolated and out[2].interpolated and not out[0].interpolated
    assert out[1].start >= 1.4 and out[2].end <= 2.0 and out[1].end <= out[2].start + 1e-6


def test_segments_keep_time_order_and_renumber():
    a = _seg([("un", 0.1, 0.3)])
    b = _seg([("deux", 2.5, 2.8)])
    out = assign_speakers([a, b], TURNS)
    assert [(s.id, s.speaker) for s in out] == [(0, "A"), (1, "B")]


def test_late_turn_edge_is_snapped_to_the_sentence_end():
    # the diariser's change point falls one word late: "Et" opens B's sentence but lies in A's turn
    turns = [SpeakerTurn(speaker="A", start=0.0, end=3.2), SpeakerTurn(speaker="B", start=3.3, end=6.0)]
    seg = _seg([("pour", 1.0, 1.3), ("trois", 1.4, 1.8), ("mois.", 1.9, 2.6), ("Et", 2.8, 3.1),
                ("pour", 3.4, 3.6), ("le", 3.7, 3.8), ("cholestérol,", 3.9, 4.6)])
    out = assign_speakers([seg], turns)
    assert [(s.speaker, s.text) for s in out] == [("A", "pour trois mois."), ("B", "Et pour le cholestérol,")]


def test_early_turn_edge_is_snapped_forward():
    turns = [SpeakerTurn(speaker="A", start=0.0, end=1.5), SpeakerTurn(speaker="B", start=1.6, end=6.0)]
    seg = _seg([("Un", 0.2, 0.5), ("comprimé", 0.6, 1.4), ("le", 1.65, 1.8), ("soir.", 1.9, 2.3),
                ("Entendu", 2.8, 3.3), ("docteur.", 3.4, 4.0)])
    out = assign_speakers([seg], turns)
    assert [(s.speaker, s.text) for s in out] == [("A", "Un comprimé le soir."), ("B", "Entendu docteur.")]


def test_change_far_from_any_sentence_end_stays():
    turns = [SpeakerTurn(speaker="A", start=0.0, end=1.5), SpeakerTurn(speaker="B", start=1.6, end=6.0)]
    seg = _seg([("un", 0.2, 0.5), ("comprimé", 0.6, 1.4), ("oui", 1.7, 2.0), ("matin", 2.1, 2.5),
                ("et", 2.6, 2.8), ("soir", 2.9, 3.4), ("merci.", 3.5, 4.0)])
    out = assign_speakers([seg], turns)
    assert [(s.speaker, s.text) for s in out] == [("A", "un comprimé"), ("B", "oui matin et soir merci.")]
