"""Status rules: new / renewed / changed / stopped / mentioned."""

from __future__ import annotations

import pytest

from consult.extract.status import classify_status


def _status(sentence: str, drug: str, role: str = "doctor") -> str:
    return classify_status(sentence, drug_start=sentence.index(drug), role=role)[0]


@pytest.mark.parametrize(
    ("sentence", "drug", "expected"),
    [
        ("Je vous prescris de l'amoxicilline.", "amoxicilline", "new"),
        ("Prenez du Doliprane si douleur.", "Doliprane", "new"),
        ("Je vous mets sous ramipril.", "ramipril", "new"),
        ("On commence la metformine.", "metformine", "new"),
        ("I'll start you on amoxicillin.", "amoxicillin", "new"),
        ("Take ibuprofen with food.", "ibuprofen", "new"),
        ("On continue le Kardégic.", "Kardégic", "renewed"),
        ("Je renouvelle le Levothyrox.", "Levothyrox", "renewed"),
        ("Keep taking your ramipril.", "ramipril", "renewed"),
        ("On passe à l'atorvastatine 40 mg.", "atorvastatine", "changed"),
        ("On augmente le ramipril à 10 mg.", "ramipril", "changed"),
        ("On diminue la prednisolone.", "prednisolone", "changed"),
        ("Arrêtez le Spasfon.", "Spasfon", "stopped"),
        ("On arrête l'ibuprofène.", "ibuprofène", "stopped"),
        ("Stop taking the ibuprofen.", "ibuprofen", "stopped"),
        ("Vous prenez du Doliprane ?", "Doliprane", "mentioned"),
        ("Pas d'ibuprofène.", "ibuprofène", "mentioned"),
        ("Don't take ibuprofen.", "ibuprofen", "mentioned"),
        # written on 2026-12-07 while testing as a user; each was mentioned or read the other drug's verb
        ("Le Tramadol, on le remplace par du Doliprane codéiné.", "Tramadol", "stopped"),
        ("Le Tramadol, on le remplace par du Doliprane codéiné.", "Doliprane", "new"),
        ("Let's replace the naproxen with paracetamol.", "naproxen", "stopped"),
        ("I'll switch you from warfarin to apixaban.", "warfarin", "stopped"),
        ("I'll switch you from warfarin to apixaban.", "apixaban", "new"),
        ("Plus de Voltarène, ça abîme l'estomac.", "Voltarène", "stopped"),
        ("Vous n'avez plus besoin du Spasfon.", "Spasfon", "stopped"),
        ("Je vous laisse le Xanax pour le moment.", "Xanax", "renewed"),
        ("Pour le Levothyrox, on reste à 75.", "Levothyrox", "renewed"),
        ("Let's take you off the simvastatin.", "simvastatin", "stopped"),
        ("I'd hold off on the ibuprofen for now.", "ibuprofen", "stopped"),
        ("We'll go ahead and refill your metformin.", "metformin", "renewed"),
        ("We'll up your levothyroxine to 100 micrograms.", "levothyroxine", "changed"),
        ("A ninety-day supply of the metformin, with three refills.", "metformin", "new"),  # refills: a count
    ],
)
def test_doctor_status(sentence: str, drug: str, expected: str) -> None:
    assert _status(sentence, drug) == expected


def test_patient_taking_is_not_a_prescription() -> None:
    assert _status("Je prends du Doliprane tous les jours.", "Doliprane", role="patient") == "mentioned"
    assert _status("I take Ventolin as needed.", "Ventolin", role="patient") == "mentioned"


def test_vous_prenez_question_or_instruction() -> None:
    assert classify_status("Vous prenez toujours la metformine ?", drug_start=22, role="doctor") == (
        "mentioned",
        0.85,
    )
    # without a question mark: an instruction, but weak until a posology confirms it
    assert classify_status("Vous prenez du Doliprane si fièvre.", drug_start=15, role="doctor") == ("new", 0.5)


def test_unchanged_treatment_is_mentioned() -> None:
    assert _status("D'accord, on ne change rien pour la metformine.", "metformine") == "mentioned"


def test_more_than_a_dose_is_no_stop() -> None:
    # "plus de 3 grammes": a ceiling, not "plus de Doliprane" (no more)
    assert _status("Plus de 3 grammes de Doliprane par jour, c'est trop.", "Doliprane") != "stopped"
