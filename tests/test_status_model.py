"""The trained status model (consult.extract.status_model): phrase-level decisions through the rule extractor,
the speaker role as evidence (not a veto), the fallback to the rules, and deterministic retraining."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from consult.extract import RuleBasedExtractor
from consult.extract import extractor as extractor_module
from consult.extract import status_model as sm
from consult.extract.status_model import (
    LineContext,
    StatusMention,
    StatusModel,
    Utterance,
    decide_status,
    english_frame,
    french_frame,
    line_features,
    parse_french,
    rule_status,
)
from consult.extract.textinput import parse_text_transcript
from consult.resources import packaged_path

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def extractor() -> RuleBasedExtractor:
    return RuleBasedExtractor()


def _status(extractor: RuleBasedExtractor, transcript: str, language: str, drug: str, **kw: object) -> str:
    segments, roles = parse_text_transcript(transcript)
    lines = {line.name: line for line in extractor.extract(segments, roles=roles, language=language, **kw)}
    assert drug in lines, f"{drug} not extracted: {sorted(lines)}"
    return lines[drug].status


# Written for these tests from the patterns of the issue (not taken from any labelled set).
CASES_EN = [
    # new
    ("PAT: My throat has been really sore for a week.\nDOC: I'll give you amoxicillin for that, "
     "500 milligrams three times a day for five days.", "amoxicillin", "new"),
    ("PAT: My knee hurts when I walk.\nDOC: I'd encourage you to take ibuprofen with food, 400 milligrams up to "
     "three times a day.", "ibuprofen", "new"),
    # renewed
    ("DOC: What do you take for your blood pressure?\nPAT: Ramipril, 5 milligrams in the morning.\n"
     "DOC: Your readings are good, so I'm going to continue you on ramipril.", "ramipril", "renewed"),
    ("PAT: I take bisoprolol 5 milligrams every morning.\nDOC: Your heart rate is fine. We'll keep you on that "
     "dose of bisoprolol.", "bisoprolol", "renewed"),
    # the phrase, as it comes in a visit: the drug talked about before, or its dose said with it (alone,
    # with no earlier word of sertraline, the model hedges: renewed 0.63, mentioned 0.32 since 2026-12-07)
    ("DOC: How are you getting on with the sertraline?\nPAT: Much better.\nDOC: Good, so we'll keep you on that "
     "dose of sertraline.", "sertraline", "renewed"),
    ("DOC: Your mood is much better, so we'll keep you on that dose of sertraline, 50 milligrams a day.",
     "sertraline", "renewed"),
    # changed
    ("PAT: I take amlodipine 5 milligrams a day.\nDOC: Your pressure is still high, so let's increase your "
     "amlodipine to 10 milligrams once a day.", "amlodipine", "changed"),
    # stopped
    ("PAT: I've been taking ibuprofen for my back.\nDOC: With your kidneys I'd like you to stop the ibuprofen.",
     "ibuprofen", "stopped"),
    # a stop said by the doctor first, with a modal: the costliest error is to show it as prescribed
    ("DOC: Your stomach pain may come from it, so you can stop the ibuprofen now.", "ibuprofen", "stopped"),
    ("DOC: You should stop naproxen because of your kidneys.\nPAT: Okay.", "naproxen", "stopped"),
    ("DOC: Your stomach is better, but don't take ibuprofen anymore.", "ibuprofen", "stopped"),
    # a ceiling is not a stop
    ("PAT: I use my salbutamol inhaler.\nDOC: I'll renew your salbutamol inhaler, two puffs when you're short of "
     "breath, but no more than eight puffs a day.", "salbutamol", "renewed"),
    # a stop said in the negative is the opposite: go on (a stopped line would drop the drug)
    ("PAT: I take warfarin.\nDOC: Never stop the warfarin on your own, even before a dental visit.", "warfarin",
     "renewed"),
    ("PAT: The bisoprolol makes me tired.\nDOC: Please don't stop taking your bisoprolol suddenly.",
     "bisoprolol", "renewed"),
    # mentioned
    ("DOC: Do you take anything regularly?\nPAT: I take omeprazole every morning for my stomach.\n"
     "DOC: Okay, and any allergies?", "omeprazole", "mentioned"),
    ("DOC: If the pain doesn't settle in two weeks we might think about naproxen.", "naproxen", "mentioned"),
]
CASES_FR = [
    # new
    ("PAT: J'ai mal à la gorge depuis trois jours.\nDOC: Je vous mets sous amoxicilline, un gramme matin et "
     "soir pendant six jours.", "amoxicilline", "new"),
    ("PAT: J'ai de la fièvre.\nDOC: Prenez du paracétamol, un gramme toutes les six heures si besoin.",
     "paracétamol", "new"),
    # renewed
    ("DOC: Qu'est-ce que vous prenez pour le cœur ?\nPAT: Du Kardégic, un sachet le midi.\n"
     "DOC: Très bien, on poursuit le Kardégic.", "acide acétylsalicylique", "renewed"),
    ("PAT: Je prends du ramipril cinq milligrammes le matin.\nDOC: La tension est bonne, on garde le ramipril.",
     "ramipril", "renewed"),
    ("DOC: La tension est bonne, je vous laisse sous amlodipine.", "amlodipine", "renewed"),
    # changed
    ("PAT: Je prends de l'amlodipine cinq milligrammes.\nDOC: La tension reste haute, on augmente "
     "l'amlodipine à dix milligrammes le matin.", "amlodipine", "changed"),
    # stopped
    ("PAT: Je prends de l'ibuprofène pour le dos.\nDOC: Avec vos reins, vous pouvez arrêter l'ibuprofène.",
     "ibuprofène", "stopped"),
    ("PAT: J'ai des brûlures d'estomac.\nDOC: Alors ne prenez plus d'ibuprofène.", "ibuprofène", "stopped"),
    ("PAT: Je prends du Kardégic.\nDOC: Surtout, n'arrêtez pas le Kardégic avant l'extraction dentaire.",
     "acide acétylsalicylique", "renewed"),
    ("PAT: Le ramipril me fait tousser.\nDOC: Il ne faut pas arrêter le ramipril, on en reparle dans un mois.",
     "ramipril", "renewed"),
    # mentioned
    ("DOC: Vous avez des traitements ?\nPAT: Je prends du Doliprane quand j'ai mal à la tête.\n"
     "DOC: D'accord. Et des allergies ?", "paracétamol", "mentioned"),
    ("DOC: Si ça ne passe pas, on pourrait éventuellement envisager la prednisolone plus tard.",
     "prednisolone", "mentioned"),
]


# Written on 2026-12-07 (third session) while testing as a user; each failed before (status given in the comment).
CASES_EN += [
    ("DOC: So you're on amlodipine five milligrams once a day?\nPAT: That's right.", "amlodipine",
     "mentioned"),  # changed: a question with a posology
    ("PAT: I'm on sertraline 50.\nDOC: We'll bump the sertraline up to 100.", "sertraline", "changed"),  # new
    ("DOC: I'm giving you a course of prednisolone, 40 milligrams a day for five days.", "prednisolone",
     "new"),  # mentioned
    ("DOC: You can buy some loratadine over the counter for the hay fever.", "loratadine", "new"),  # mentioned
    ("DOC: So we will get you some Ventolin and do a full examination.", "salbutamol", "new"),  # mentioned
    ("PAT: I stopped the ramipril when I had the cough.\nDOC: I'd like you to restart the ramipril tomorrow.",
     "ramipril", "renewed"),  # mentioned
    # two drugs, two clauses: each reads its own verb (both were stopped)
    ("DOC: I'll give you paracetamol and stop the ibuprofen.", "paracetamol", "new"),
    ("DOC: I'll give you paracetamol and stop the ibuprofen.", "ibuprofen", "stopped"),
    ("PAT: I take metformin 500 twice a day.\nDOC: OK, metformin 500 twice a day.", "metformin", "mentioned"),
]
CASES_FR += [
    ("DOC: Vous arrêtez le Voltarène et vous prenez du Doliprane à la place.", "paracétamol", "new"),  # stopped
    ("DOC: Vous arrêtez le Voltarène et vous prenez du Doliprane à la place.", "diclofénac", "stopped"),
    ("DOC: Le Doliprane, vous l'arrêtez, et l'ibuprofène aussi.", "ibuprofène", "stopped"),
    ("PAT: Je prends du Lévothyrox 100.\nDOC: On réduit la dose de Lévothyrox à 75 microgrammes.",
     "lévothyroxine", "changed"),  # new
    ("DOC: Vous pouvez acheter du Doliprane en pharmacie, sans ordonnance.", "paracétamol", "new"),  # mentioned
    ("DOC: Je vous represcris la Ventoline pour trois mois.", "salbutamol", "renewed"),  # new
    # the pronoun between the names stands for the first drug: its clause goes on (both were mentioned)
    ("DOC: Le Tramadol, on le remplace par du Doliprane codéiné.", "tramadol", "stopped"),
    ("DOC: Le Tramadol, on le remplace par du Doliprane codéiné.", "codéine + paracétamol", "new"),
    ("DOC: Plus de Voltarène, ça abîme l'estomac.", "diclofénac", "stopped"),  # mentioned
    # the doctor repeats what the patient takes (was renewed)
    ("PAT: Je prends du Doliprane mille trois fois par jour.\nDOC: D'accord, trois grammes par jour de Doliprane.",
     "paracétamol", "mentioned"),
]


@pytest.mark.parametrize(("transcript", "drug", "expected"), CASES_EN)
def test_english_phrases(extractor: RuleBasedExtractor, transcript: str, drug: str, expected: str) -> None:
    assert _status(extractor, transcript, "en", drug) == expected


@pytest.mark.parametrize(("transcript", "drug", "expected"), CASES_FR)
def test_french_phrases(extractor: RuleBasedExtractor, transcript: str, drug: str, expected: str) -> None:
    assert _status(extractor, transcript, "fr", drug) == expected


@pytest.mark.parametrize(
    ("transcript", "language", "drug"),
    [
        ("DOC: Any regular medicines?\nPAT: Yes, I take metformin, 500 milligrams twice a day, with meals.",
         "en", "metformin"),
        ("PAT: My GP started me on sertraline last month, 50 milligrams a day.\nDOC: How has your mood been?",
         "en", "sertraline"),
        ("DOC: Vous avez pris quelque chose ?\nPAT: J'ai pris deux Doliprane ce matin.", "fr", "paracétamol"),
    ],
)
def test_a_patients_report_stays_mentioned(extractor: RuleBasedExtractor, transcript: str, language: str,
                                           drug: str) -> None:
    assert _status(extractor, transcript, language, drug) == "mentioned"


@pytest.mark.parametrize(
    ("text", "language", "drug"),
    [
        ("I'll give you amoxicillin 500 mg three times a day for seven days.", "en", "amoxicillin"),
        ("Je vous prescris de l'amoxicilline, un gramme matin et soir pendant six jours.", "fr", "amoxicilline"),
    ],
)
def test_a_clear_prescription_stays_new_when_the_role_is_unknown(extractor: RuleBasedExtractor, text: str,
                                                                  language: str, drug: str) -> None:
    # no speaker at all (plain text)
    assert _status(extractor, text, language, drug) == "new"
    # a doctor's turn that diarisation gives with low confidence
    assert _status(extractor, f"DOC: {text}", language, drug, role_confidence={"DOCTOR": 0.3}) == "new"


def test_role_confidence_moves_weight_to_unknown() -> None:
    utt = [Utterance("Je prends du Doliprane.", "patient", 0.4, 1)]
    ctx = LineContext("fr", (StatusMention(0, 13, 22, "mentioned", 0.9),), utt, "mentioned", 0.9)
    f = line_features(ctx)
    assert f["P:m=mentioned"] == pytest.approx(0.4) and f["U:m=mentioned"] == pytest.approx(0.6)
    assert f["first_role=P"] == pytest.approx(0.4)


def test_a_drug_only_mentioned_or_stopped_shown_as_prescribed_is_the_costly_error() -> None:
    from consult.extract.status_model import choose_status, decision_cost

    for wrong in ("new", "renewed", "changed"):
        assert decision_cost("mentioned", wrong, 2.0) == decision_cost("stopped", wrong, 2.0) == 2.0
    assert decision_cost("new", "stopped", 2.0) == decision_cost("new", "mentioned", 2.0) == 1.0
    assert decision_cost("stopped", "stopped", 2.0) == 0.0
    # the model 60 % sure of "new" and 31 % of "stopped" decides "stopped" when a stop was said ("instead of
    # ibuprofen, ..."): showing a stopped drug as prescribed costs twice as much as the other way round
    probs = {"mentioned": 0.087, "new": 0.6, "renewed": 0.004, "changed": 0.003, "stopped": 0.306}
    assert choose_status(probs, "changed", decision_cost=2.0) == "stopped"
    # no stop was said of the drug ("we will get you some Ventolin"): "stopped" is no guess to hedge with
    assert choose_status(probs, "new", decision_cost=2.0, stop_said=False) == "new"
    # the rules read a stop ("you can stop the ibuprofen now"): the model 60 % sure of "new" does not overrule it
    assert choose_status(probs, "stopped", decision_cost=2.0, stop_veto=0.8) == "stopped"


def test_a_mention_the_rules_read_from_a_cue_needs_a_sure_model_to_become_a_prescription() -> None:
    from consult.extract.status_model import choose_status

    probs = {"mentioned": 0.27, "new": 0.1, "renewed": 0.01, "changed": 0.62, "stopped": 0.0}
    # "So you're on amlodipine five milligrams once a day?": a question, read as a mention by the rules
    assert choose_status(probs, "mentioned", rule_certainty=0.85, decision_cost=2.0, mention_veto=0.8) == "mentioned"
    # the doctor named the drug without any cue (the rules' weak default): the model decides
    assert choose_status(probs, "mentioned", rule_certainty=0.5, decision_cost=2.0, mention_veto=0.8) == "changed"


def test_frames_say_who_does_what() -> None:
    def en(s: str, drug: str) -> tuple[str, tuple[str, ...], str, str]:
        f = english_frame(s, s.index(drug))
        return f.verb, f.kinds, f.agent, f.time

    assert en("I'll give you amoxicillin for that.", "amoxicillin") == ("give", ("prescribe",), "1", "future")
    assert en("I took ibuprofen yesterday.", "ibuprofen") == ("take", ("take",), "1", "past")
    assert en("Take paracetamol with food.", "paracetamol")[2:] == ("2", "imperative")

    def fr(s: str, drug: str) -> tuple[str, str, str]:
        a = s.index(drug)
        f = french_frame(parse_french(s), a, a + len(drug))
        return f.verb, f.agent, f.time

    assert fr("Vous pouvez arrêter le Doliprane.", "Doliprane") == ("arreter", "2", "modal")
    assert fr("J'ai pris du Doliprane ce matin.", "Doliprane") == ("prendre", "1", "past")
    assert fr("On garde le ramipril.", "ramipril")[:2] == ("garder", "1")


def test_falls_back_to_the_rules_without_a_model(monkeypatch: pytest.MonkeyPatch) -> None:
    ctx = LineContext("en", (StatusMention(0, 5, 16, "new", 0.85),), [Utterance("Take ibuprofen.", "doctor")],
                      "new", 0.85)
    assert rule_status(ctx) == ("new", 0.85)
    monkeypatch.setattr(sm, "bundled_model", lambda: None)
    monkeypatch.setattr(extractor_module, "bundled_model", lambda: None)
    assert decide_status(ctx) == ("new", 0.85)
    assert "status-rules" in RuleBasedExtractor().model_info()[0].version
    # the extractor then gives the rules' status: a clear prescription is new, a patient's report mentioned
    segments, roles = parse_text_transcript("PAT: I take omeprazole.\nDOC: I'll prescribe amoxicillin 500 mg.")
    lines = {x.name: x.status for x in RuleBasedExtractor().extract(segments, roles=roles, language="en")}
    assert lines == {"omeprazole": "mentioned", "amoxicillin": "new"}


def test_a_model_for_other_features_is_refused(tmp_path: Path) -> None:
    data = json.loads(packaged_path(sm.MODEL_RESOURCE).read_text(encoding="utf-8"))
    data["features_version"] = sm.FEATURES_VERSION + 1
    path = tmp_path / "status.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValueError, match="retrain"):
        StatusModel.load(str(path))


def test_the_bundled_model_is_small_documented_and_used() -> None:
    path = packaged_path(sm.MODEL_RESOURCE)
    assert path.stat().st_size < 2_000_000
    card = (path.parent / "README.md").read_text(encoding="utf-8")
    model = StatusModel.load()
    assert model.version in card and "Grouped cross-validation" in card
    assert set(model.classes) == {"new", "renewed", "changed", "stopped", "mentioned"}
    assert f"status-model-{model.version}" in RuleBasedExtractor().model_info()[0].version


def test_runtime_does_not_load_training_code() -> None:
    code = (
        "import sys\n"
        "from consult.extract import extract_from_text\n"
        "_, lines = extract_from_text('DOC: Je vous prescris du Doliprane 1 g trois fois par jour.', 'fr')\n"
        "assert lines and lines[0].status == 'new', lines\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('sklearn', 'train_status'))\n"
        "assert not bad, bad\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]


# --------------------------------------------------------------------------- retraining
def _trainer():  # scripts/ is not a package
    spec = importlib.util.spec_from_file_location("train_status", ROOT / "scripts" / "train_status.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["train_status"] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def trained() -> tuple[object, list[object]]:
    ts = _trainer()
    return ts, ts.collect()


def test_retraining_is_deterministic_and_gives_the_shipped_model(trained: tuple[object, list[object]]) -> None:
    ts, examples = trained
    shipped = StatusModel.load()
    hyper = dict(shipped.meta["hyper"])
    a = ts.train(examples, hyper)  # type: ignore[attr-defined]
    b = ts.train(examples, hyper)  # type: ignore[attr-defined]
    assert a["coef"] == b["coef"] and a["intercept"] == b["intercept"]
    # the shipped file is what the script writes from today's dev set and extractor (else: retrain it)
    retrained = StatusModel.from_dict(a)
    same = sum(
        retrained.choose(retrained.probabilities(e.features)) == shipped.choose(shipped.probabilities(e.features))
        for e in examples  # type: ignore[attr-defined]
    )
    assert same / len(examples) >= 0.98, f"{same}/{len(examples)}: run scripts/train_status.py --no-search"


def test_training_refuses_the_blind_set(trained: tuple[object, list[object]]) -> None:
    ts, _ = trained
    with pytest.raises(SystemExit, match="dev only"):
        ts.collect(ROOT / "benchmarks" / "blindset" / "en")  # type: ignore[attr-defined]
