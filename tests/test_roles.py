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


# -- turn statistics, split and extra clusters, confidence --------------------------------------------

DOCTOR_LINES = [
    "Bonjour, qu'est-ce qui vous amène ?",
    "Depuis quand avez-vous mal ?",
    "Est-ce que vous avez de la fièvre ?",
    "Vous prenez un traitement en ce moment ?",
    "Je vais vous examiner, respirez profondément.",
    "Je vous prescris de l'amoxicilline mille milligrammes, un comprimé matin et soir pendant six jours.",
    "Si besoin, du paracétamol, sans dépasser trois grammes par jour.",
]
PATIENT_LINES = [
    "J'ai mal à la gorge depuis trois jours, ça me fait mal quand j'avale.",
    "Depuis lundi à peu près.",
    "Oui, j'ai eu de la fièvre hier soir, trente-neuf.",
    "Non, je prends juste un peu de sirop.",
    "D'accord.",
    "Très bien, merci.",
    "Et je peux aller travailler ?",
]


def _dialogue(doctor: str = "D", patient: str = "P") -> list[Segment]:
    segs = []
    for d, p in zip(DOCTOR_LINES, PATIENT_LINES, strict=True):
        segs += [_s(len(segs), doctor, d), _s(len(segs) + 1, patient, p)]
    return segs


def _roles(segs: list[Segment]) -> dict[str, str]:
    return {s.id: s.role for s in assign_roles(segs, list(dict.fromkeys(x.speaker for x in segs)))}


def test_split_off_piece_of_the_doctor_does_not_take_the_role():
    """Three clusters for two people: diarisation put the prescription (the most doctor-like words) in a
    small cluster of its own. The doctor stays the doctor; the piece is left unknown, not made a patient
    (whose drugs would all be read as "mentioned")."""
    segs = _dialogue()
    segs[10] = segs[10].model_copy(update={"speaker": "D2"})  # the prescription line
    roles = _roles(segs)
    assert roles["D"] == "doctor" and roles["P"] == "patient"
    assert roles["D2"] == "unknown"


def test_split_off_piece_of_the_patient_is_not_the_doctor():
    segs = _dialogue()
    segs[1] = segs[1].model_copy(update={"speaker": "P2"})
    segs[5] = segs[5].model_copy(update={"speaker": "P2"})
    roles = _roles(segs)
    assert roles["D"] == "doctor" and roles["P"] == "patient" and roles["P2"] in ("patient", "unknown")


def test_backchannel_only_speaker_is_not_the_doctor():
    """A speaker who only says "mm-hmm" / "d'accord" (or a cluster made of such blips) is a patient,
    whoever asks the questions."""
    segs = _dialogue()
    blips = ["Hm hm.", "D'accord.", "Oui.", "OK.", "Mmh."]
    # each blip while the doctor speaks: just after the start of the doctor's turns
    extra = [Segment(id=100 + i, start=segs[2 * i].start + 0.5, end=segs[2 * i].start + 0.8, text=text,
                     speaker="B") for i, text in enumerate(blips)]
    roles = _roles(segs + extra)
    assert roles["D"] == "doctor" and roles["B"] == "patient"
    only = [_s(0, "B", "Hm hm."), _s(1, "A", "Je vous prescris du paracétamol."), _s(2, "B", "D'accord.")]
    assert _roles(only) == {"B": "patient", "A": "doctor"}


def test_english_back_channels_and_questions():
    segs = [_s(0, "A", "Hi, what brought you in today?"), _s(1, "B", "I've had a cough for two weeks."),
            _s(2, "A", "Have you had any fever? Do you smoke?"), _s(3, "B", "Mm-hmm."),
            _s(4, "B", "No, I don't smoke."), _s(5, "A", "Okay."),
            _s(6, "A", "I'll prescribe amoxicillin, take one tablet three times a day for five days."),
            _s(7, "B", "Okay, thank you doctor.")]
    assert _roles(segs) == {"A": "doctor", "B": "patient"}


def test_confidence_and_warnings():
    from consult.roles import role_warnings

    sure = assign_roles(_dialogue(), ["D", "P"])
    assert all(s.role_confidence is not None and s.role_confidence >= 0.5 for s in sure)
    assert role_warnings(sure) == []
    # two speakers saying much the same thing: a doctor is chosen, but the report says it is unsure
    flat = [_s(0, "A", "Bonjour."), _s(1, "B", "Bonjour."), _s(2, "A", "Il fait beau."),
            _s(3, "B", "Oui, il fait beau ?")]
    speakers = assign_roles(flat, ["A", "B"])
    warned = role_warnings(speakers)
    if any(s.role == "doctor" for s in speakers):
        assert any("uncertain" in w for w in warned)
    else:
        assert any("could not be identified" in w for w in warned)
    # a piece left without a role is named in the warnings
    segs = _dialogue()
    segs[10] = segs[10].model_copy(update={"speaker": "D2"})
    assert any("D2" in w for w in role_warnings(assign_roles(segs, ["D", "P", "D2"])))
    # the override is sure
    forced = assign_roles(_dialogue(), ["D", "P"], doctor_speaker="P")
    assert {s.id: (s.role, s.role_confidence) for s in forced} == {"D": ("patient", 1.0), "P": ("doctor", 1.0)}


def test_old_reports_without_role_confidence_still_load():
    from schemas import Speaker

    sp = Speaker.model_validate({"id": "SPEAKER_00", "role": "doctor", "role_score": 3.2, "speech_seconds": 12.0})
    assert sp.role_confidence is None
