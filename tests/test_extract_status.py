"""Status rules: new / renewed / changed / stopped / mentioned."""

from __future__ import annotations

import pytest

from consult.extract.status import classify_status, drug_clause


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
        ("We'll start you on ramipril, 2.5 mg once a day.", "ramipril", "new"),
        ("Take ibuprofen with food.", "ibuprofen", "new"),
        ("On continue le Kardégic.", "Kardégic", "renewed"),
        ("Je renouvelle le Levothyrox.", "Levothyrox", "renewed"),
        ("Keep taking your ramipril.", "ramipril", "renewed"),
        ("On passe à l'atorvastatine 40 mg.", "atorvastatine", "changed"),
        ("On augmente le ramipril à 10 mg.", "ramipril", "changed"),
        ("On diminue la prednisolone.", "prednisolone", "changed"),
        # the drug the object of a change verb, then "à" and the new dose
        ("On passe le bisoprolol à 5 mg par jour au lieu de 2,5.", "bisoprolol", "changed"),
        ("Vous baissez le Levothyrox à 75 microgrammes.", "Levothyrox", "changed"),
        ("On monte la sertraline à cent milligrammes.", "sertraline", "changed"),
        ("On passe le relais au cardiologue pour le bisoprolol.", "bisoprolol", "new"),  # no dose to go to
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
        # a possibility for later (a voiced dev consultation: pregabalin read as new)
        ("Si la douleur est toujours là, on pourra discuter de la prégabaline, mais pas maintenant.", "prégabaline",
         "mentioned"),
        ("If it stays high we could consider a statin, atorvastatin maybe.", "atorvastatin", "mentioned"),
        ("On pourrait essayer l'amitriptyline, dix milligrammes le soir.", "amitriptyline", "new"),
        # -- stops and refusals as people say them
        # a stop said as setting the drug aside
        ("On laisse l'Advil de côté.", "Advil", "stopped"),
        ("On laisse tomber le Spasfon.", "Spasfon", "stopped"),
        ("Je vous laisse le Xanax.", "Xanax", "renewed"),
        ("I'm going to ask you not to take any more Nurofen.", "Nurofen", "stopped"),
        ("Ibuprofen increases your risk of bleeding, so please don't take it again.", "Ibuprofen", "stopped"),
        # the doctor declines to give it: a mention, never a prescription
        ("So I can't give you a repeat of the Microgynon.", "Microgynon", "mentioned"),
        ("Je ne peux pas vous prescrire d'amoxicilline pour un virus.", "amoxicilline", "mentioned"),
        ("Je ne vous prescris pas de Xanax.", "Xanax", "mentioned"),
        ("I won't prescribe antibiotics but take paracetamol.", "paracetamol", "new"),
        # what the drug is for, said with a stop verb
        ("I'd also like you to take some prednisolone, which is a steroid, to stop the reaction coming back.",
         "prednisolone", "new"),
        ("I'd like you to stop the aspirin.", "aspirin", "stopped"),
        # -- more plain decisions
        ("Je vous remets du Ventoline, deux bouffées en cas de crise.", "Ventoline", "renewed"),
        ("I'll put you back on the sertraline at fifty.", "sertraline", "renewed"),
        ("Please don't restart the ibuprofen.", "ibuprofen", "stopped"),
        ("Et on ajoute du Plavix soixante-quinze, un par jour.", "Plavix", "new"),
        ("Vous pouvez lui donner du Doliprane.", "Doliprane", "new"),
        ("Donnez-lui plutôt du Doliprane.", "Doliprane", "new"),
        # -- a drug given instead of another
        # a drug given in place of another is new; the same drug taken differently "instead" is a change
        ("You're allergic to penicillin, so I'll give you clarithromycin instead.", "clarithromycin", "new"),
        ("Prenez du Doliprane à la place.", "Doliprane", "new"),
        ("Take your metformin twice a day instead.", "metformin", "changed"),
        ("Instead of the ibuprofen, let's try naproxen.", "ibuprofen", "stopped"),
        ("Au lieu du Doliprane, prenez de l'ibuprofène.", "Doliprane", "stopped"),
        # the clause of a drug named after another's (consult.extract.status.drug_clause)
        ("and take atorvastatin 20 mg at night instead.", "atorvastatin", "new"),
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


def test_unchanged_treatment_is_continued() -> None:
    # benchmarks/LABELLING.md: the clinician continues a current drug (keeping it as it is) -> renewed
    assert _status("D'accord, on ne change rien pour la metformine.", "metformine") == "renewed"
    assert _status("On ne touche pas au Lasilix.", "Lasilix") == "renewed"
    assert _status("Le Levothyrox reste à cent.", "Levothyrox") == "renewed"
    assert _status("The warfarin stays the same.", "warfarin") == "renewed"
    assert _status("Your atorvastatin, let's leave that as it is.", "atorvastatin") == "renewed"
    # "le reste" (the rest) is no continuation
    assert _status("Le Smecta au milieu de la matinée, et le reste au moment des repas.", "Smecta") != "renewed"


def test_more_than_a_dose_is_no_stop() -> None:
    # "plus de 3 grammes": a ceiling, not "plus de Doliprane" (no more)
    assert _status("Plus de 3 grammes de Doliprane par jour, c'est trop.", "Doliprane") != "stopped"


def test_more_doses_are_not_a_resumption() -> None:
    # "il pourra en reprendre deux": two more tablets of the drug being given, not a drug taken up again
    assert _status("Pour le Spasfon, s'il a encore mal, il pourra en reprendre deux.", "Spasfon") != "renewed"
    assert _status("Il faut reprendre le Kardégic.", "Kardégic") == "renewed"


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("Vous arrêtez dès aujourd'hui.", "stopped"),
        ("Bon, on arrête tout de suite.", "stopped"),
        ("On monte à trois cents milligrammes.", "changed"),
        ("Bon, vu la TSH, on va monter un peu : vous passez à quatre-vingt-huit microgrammes, le matin.", "changed"),
        ("Let's go up to ten milligrams.", "changed"),
        ("On passe à autre chose.", None),
        ("Vous passez à la pharmacie.", None),
        ("Vous arrêtez de fumer.", None),
        ("Et vous arrêtez le sport ?", None),
    ],
)
def test_a_decision_that_names_no_drug(sentence: str, expected: str | None) -> None:
    from consult.extract.status import elliptic_decision

    assert elliptic_decision(sentence) == expected


def test_an_effect_explained_is_no_change() -> None:
    """A change verb whose object is something else ("augmentent le risque") says what the drug does, not a
    change of its dose; a dose changed keeps it."""
    from consult.extract.status_model import frame_status

    s = "Avec l'Eliquis, les anti-inflammatoires augmentent le risque de saignement."
    assert frame_status(s, s.index("Eliquis"), s.index("Eliquis") + 7, "fr") is None
    s = "On augmente la dose de Levothyrox."
    assert frame_status(s, s.index("Levothyrox"), s.index("Levothyrox") + 10, "fr") == "changed"


def test_a_change_to_a_number() -> None:
    from consult.extract.status import changes_to_a_number

    assert changes_to_a_number("We'll bump the sertraline up to 100.")
    assert changes_to_a_number("On passe le Levothyrox à quatre-vingt-huit.")
    assert changes_to_a_number("I'd like to increase that to five milligrams")
    # a maximum or a frequency is no change
    assert not changes_to_a_number("Take it up to three times a day")
    assert not changes_to_a_number("up to eight tablets a day")
    assert not changes_to_a_number("Vous passez à la pharmacie")


@pytest.mark.parametrize(("sentence", "first", "second", "cut"), [
    # "let's" is no French pronoun object ("le" + a letter): the cue after the comma is the second drug's
    ("Stop the naproxen, let's try paracetamol.", "naproxen", "paracetamol", True),
    # a pronoun standing for the first drug: its clause goes on
    ("Le Tramadol, on le remplace par du Doliprane.", "Tramadol", "Doliprane", False),
])
def test_drug_clause_ends_where_the_next_drugs_cue_starts(sentence: str, first: str, second: str,
                                                          cut: bool) -> None:
    spans = [(sentence.index(d), sentence.index(d) + len(d)) for d in (first, second)]
    _, end = drug_clause(sentence, spans, 0)
    assert (end < spans[1][0]) is cut
