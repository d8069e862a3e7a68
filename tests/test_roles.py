"""Doctor / patient roles from what each speaker says."""

from __future__ import annotations

import pytest

from consult.roles import assign_roles
from schemas import Segment


def _s(i: int, spk: str, text: str) -> Segment:
    return Segment(id=i, start=float(i), end=float(i) + 1, text=text, speaker=spk)


SEGS = [
    _s(0, "SPEAKER_00", "Bonjour docteur, j'ai mal à la gorge depuis trois jours."),
    _s(1, "SPEAKER_01", "Depuis quand avez-vous de la fièvre ? Vous prenez un traitement ?"),
    _s(2, "SPEAKER_00", "Non, rien."),
    _s(3, "SPEAKER_01", "Je vous prescris de l'amoxicilline mille milligrammes, un comprimé matin et soir "
                        "pendant six jours."),
]


def test_prescriber_is_doctor():
    roles = {s.id: s.role for s in assign_roles(SEGS, ["SPEAKER_00", "SPEAKER_01"])}
    assert roles == {"SPEAKER_00": "patient", "SPEAKER_01": "doctor"}


def test_english_prescriber_is_doctor():
    segs = [_s(0, "A", "I've had a cough for two weeks."),
            _s(1, "B", "Do you have any allergies? I'll prescribe amoxicillin 500 milligrams, take one "
                       "tablet three times a day for five days."),
            _s(2, "A", "Okay, thank you.")]
    roles = {s.id: s.role for s in assign_roles(segs, ["A", "B"])}
    assert roles == {"A": "patient", "B": "doctor"}


def test_override_and_bad_override():
    roles = {s.id: s.role for s in assign_roles(SEGS, ["SPEAKER_00", "SPEAKER_01"],
                                                 doctor_speaker="SPEAKER_00")}
    assert roles["SPEAKER_00"] == "doctor" and roles["SPEAKER_01"] == "patient"
    with pytest.raises(ValueError, match="SPEAKER_07"):
        assign_roles(SEGS, ["SPEAKER_00", "SPEAKER_01"], doctor_speaker="SPEAKER_07")


def test_single_non_clinical_speaker_is_unknown():
    segs = [_s(0, "A", "Il fait beau aujourd'hui, on ira se promener au parc.")]
    assert [s.role for s in assign_roles(segs, ["A"])] == ["unknown"]
