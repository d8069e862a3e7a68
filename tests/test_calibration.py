"""Calibrated line confidence and review flags by risk (consult.extract.calibration)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

import consult.extract.calibration as cal
from consult.extract.calibration import (
    FEATURES,
    MONOTONE,
    CalibrationModel,
    FieldReading,
    LineEvidence,
    LineOutcome,
    calibrate,
    drug_word_evidence,
    flag_shares,
    format_calibration,
    line_features,
    recording,
    reliability,
)
from consult.extract.extractor import RuleBasedExtractor
from consult.extract.textinput import parse_text_transcript
from consult.resources import packaged_path
from consult.scoring import DrugResolver, LabelledMedication, format_scores, judge_lines, load_labelled_set, score
from schemas import MedicationLine, Segment
from schemas.medication import Evidence, Quantity
from schemas.transcript import Word

ROOT = Path(__file__).resolve().parents[1]
DEVSETS = (ROOT / "benchmarks" / "devset" / "en", ROOT / "benchmarks" / "devset" / "fr")


def evidence(**kw: object) -> LineEvidence:
    base: dict[str, object] = dict(
        drug_score=1.0, method="exact", known_drug=True, speech=False, drug_asr=None, second_pass=False,
        second_pass_probability=None, fields={}, status="mentioned", status_certainty=0.9, status_probability=0.9,
        speaker_role="patient", role_confidence=1.0, atc="C08CA01",
    )
    base.update(kw)
    return LineEvidence(**base)  # type: ignore[arg-type]


def words(text: str, speaker: str, t0: float, low: dict[str, float] | None = None,
          second_pass: frozenset[str] = frozenset()) -> list[Word]:
    low = low or {}
    out = []
    for k, w in enumerate(text.split()):
        bare = w.strip(".,?")
        out.append(Word(text=w, start=t0 + 0.3 * k, end=t0 + 0.3 * k + 0.25, probability=low.get(bare, 0.95),
                        speaker=speaker, origin="second_pass" if bare in second_pass else "first_pass"))
    return out


def segment(i: int, text: str, speaker: str, **kw: object) -> Segment:
    ws = words(text, speaker, 10.0 * i, **kw)  # type: ignore[arg-type]
    return Segment(id=i, start=ws[0].start, end=ws[-1].end, text=text, speaker=speaker, words=ws)


def extract(segments: list[Segment], roles: dict[str, str], language: str) -> list[tuple[MedicationLine, LineEvidence]]:
    with recording() as record:
        lines = RuleBasedExtractor().extract(segments, roles=roles, language=language,  # type: ignore[arg-type]
                                             role_confidence={s: 0.95 for s in roles})
    assert len(record) == len(lines)
    return [(line, ev) for line, (ev, _) in zip(lines, record, strict=True)]


# --------------------------------------------------------------------------- features
def test_features_of_a_typed_line_have_no_speech_evidence() -> None:
    f = line_features(evidence(fields={"dose": FieldReading(0.95, None, True, "one tablet"),
                                       "route": FieldReading(1.0, None, False, "tablet")}))
    assert set(f) == set(FEATURES)
    assert f["speech"] == 0 and f["drug_asr_doubt"] == 0 and f["numeric_asr_doubt"] == 0 and f["second_pass"] == 0
    assert f["posology"] == 1 and f["numeric_fields"] == 1 and f["other_fields"] == 1
    assert f["numeric_doubt"] == pytest.approx(0.05) and f["drug_doubt"] == 0 and f["method_approximate"] == 0
    assert f["role_patient"] == 1 and f["status_action"] == 0 and f["status_doubt"] == pytest.approx(0.1)


def test_features_of_a_heard_line() -> None:
    f = line_features(evidence(
        speech=True, drug_asr=0.3, drug_score=0.8, method="approximate", second_pass=True, second_pass_probability=0.7,
        fields={"strength": FieldReading(1.0, 0.4, True, "500 mg"), "frequency": FieldReading(1.0, 0.9, True, "x")},
        status="new", speaker_role="unknown", role_confidence=None, mentions=3, hard_reasons=("absurd dose",)))
    assert f["speech"] == 1 and f["drug_asr_doubt"] == pytest.approx(0.7)
    assert f["numeric_asr_doubt"] == pytest.approx(0.6)
    assert f["second_pass"] == 1 and f["second_pass_doubt"] == pytest.approx(0.3)
    assert f["method_approximate"] == 1 and f["drug_doubt"] == pytest.approx(0.2)
    assert f["role_unknown"] == 1 and f["status_action"] == 1 and f["hard"] == 1 and f["log_mentions"] > 1


def test_second_pass_words_are_told_apart() -> None:
    ws = words("take amoxicillin now", "S0", 0.0, low={"amoxicillin": 0.6, "take": 0.5},
               second_pass=frozenset({"amoxicillin"}))
    assert drug_word_evidence(ws) == (0.5, True, 0.6)
    assert drug_word_evidence(ws[1:2]) == (None, True, 0.6)


def test_the_extractor_gives_the_line_evidence() -> None:
    segs = [segment(0, "I will start you on amoxycilin, one capsule three times a day.", "S0",
                    low={"amoxycilin": 0.2, "three": 0.5}),
            segment(1, "OK, thank you.", "S1")]
    [(line, ev)] = extract(segs, {"S0": "doctor", "S1": "patient"}, "en")
    assert line.name == "amoxicillin" and ev.speech and ev.method == "approximate" and ev.drug_asr == 0.2
    assert ev.speaker_role == "doctor" and ev.role_confidence == pytest.approx(0.95) and ev.mentions == 1
    assert ev.status_probability is not None and ev.fields["frequency"].asr_probability == 0.5
    assert ev.sentence_drugs == 1 and ev.atc and ev.atc.startswith("J01")


def test_unread_numbers_and_as_needed_words() -> None:
    assert cal.unread_numbers("Take 2 tablets 3 times a day, 500 mg.", ["2 tablets", "3 times a day"]) == 1
    assert cal.unread_as_needed("I take some ibuprofen sometimes.", as_needed=False)
    assert not cal.unread_as_needed("I take some ibuprofen sometimes.", as_needed=True)
    assert cal.unread_as_needed("Un comprimé si vous avez mal.", as_needed=False)


# --------------------------------------------------------------------------- flags
def test_an_exact_typed_mention_is_not_flagged_and_an_approximate_low_asr_one_is() -> None:
    segments, roles = parse_text_transcript("PAT: I take amlodipine for my blood pressure.\nDOC: Good.")
    [(typed, ev)] = extract(segments, dict(roles), "en")
    assert ev.method == "exact" and not ev.speech and not ev.fields
    assert not typed.needs_review and typed.review_reasons == []
    assert typed.confidence >= CalibrationModel.load().threshold
    heard = [segment(0, "I take amlodipin for my blood pressure.", "S0", low={"amlodipin": 0.15}),
             segment(1, "Good.", "S1")]
    [(line, ev)] = extract(heard, {"S0": "patient", "S1": "doctor"}, "en")
    assert line.name == "amlodipine" and ev.method == "approximate" and ev.drug_asr == 0.15
    # speech and typed text have their own risk thresholds: compare with the same sentence heard exactly
    clear = [segment(0, "I take amlodipine for my blood pressure.", "S0"), segment(1, "Good.", "S1")]
    [(clear_line, clear_ev)] = extract(clear, {"S0": "patient", "S1": "doctor"}, "en")
    assert clear_ev.speech and clear_ev.method == "exact" and not clear_line.needs_review
    assert line.needs_review and line.confidence < clear_line.confidence
    assert "drug name read approximately: check it against the audio or the text" in line.review_reasons
    assert "drug name heard with low certainty (0.15)" in line.review_reasons  # flagged whatever the risk
    assert any(r.startswith("drug match uncertain") for r in line.review_reasons)  # the specific reason stays


def test_hard_reasons_always_flag() -> None:
    model = CalibrationModel.load()
    permissive = CalibrationModel(model.features, model.mean, model.scale, model.coef, model.intercept, 0.0, 0.0)
    clean = calibrate(evidence(), [], heuristic=1.0, model=permissive)
    assert not clean.needs_review and clean.reasons == []
    absurd = calibrate(evidence(hard_reasons=("absurd dose: 8000 mg per intake (max 1000 mg)",)),
                       ["dose uncertain (0.40)"], heuristic=1.0, model=permissive)
    assert absurd.needs_review and absurd.reasons == ["absurd dose: 8000 mg per intake (max 1000 mg)",
                                                      "dose uncertain (0.40)"]


def test_an_absurd_typed_dose_is_flagged() -> None:
    segments, roles = parse_text_transcript("DOC: Prenez du paracétamol, 8 grammes trois fois par jour.")
    [(line, _)] = extract(segments, dict(roles), "fr")
    assert line.needs_review and any(r.startswith("absurd") for r in line.review_reasons)


def test_a_number_homophone_is_a_hard_flag() -> None:
    reasons = cal.homophone_reasons({"dose": FieldReading(0.4, 0.9, True, "de comprimés"),
                                     "route": FieldReading(0.4, None, False, "x")})
    assert reasons == ["number homophone: dose read from 'de comprimés'"] and cal.is_hard_reason(reasons[0])


def test_without_a_model_any_reason_flags_as_before(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cal, "bundled_model", lambda: None)
    out = calibrate(evidence(), ["drug match uncertain (0.20)"], heuristic=0.2)
    assert out.needs_review and out.confidence == 0.2 and out.reasons == ["drug match uncertain (0.20)"]
    assert not calibrate(evidence(), [], heuristic=0.9).needs_review


# --------------------------------------------------------------------------- the shipped model
def test_the_shipped_model_loads_is_documented_and_small() -> None:
    path = packaged_path(cal.MODEL_RESOURCE)
    assert path.stat().st_size < 100_000
    model = CalibrationModel.load()
    card = (path.parent / "README.md").read_text(encoding="utf-8")
    assert model.version in card and "Grouped cross-validation" in card and str(model.meta["seed"]) in card
    assert set(model.features) <= set(FEATURES) and 0 < model.threshold < 1
    assert model.meta["data"]["text_lines"] > 300


def test_the_probability_is_monotone_in_the_main_evidence() -> None:
    model = CalibrationModel.load()
    base = line_features(evidence(speech=True, drug_asr=0.9, second_pass=True, second_pass_probability=0.9,
                                  fields={"dose": FieldReading(1.0, 0.9, True, "one")}, status="new"))
    checked = 0
    for name, sign in MONOTONE.items():
        values = [0.0, 0.25, 0.5, 0.75, 1.0]
        probs = [model.probability({**base, name: v}) for v in values]
        assert all(sign * (b - a) >= -1e-12 for a, b in zip(probs, probs[1:], strict=False)), (name, probs)
        checked += name in model.features
    assert checked >= 3, "the model uses too little of the main evidence"
    assert model.probability({**base, "drug_doubt": 0.3}) < model.probability(base)


def test_a_model_for_other_features_is_refused(tmp_path: Path) -> None:
    data = json.loads(packaged_path(cal.MODEL_RESOURCE).read_text(encoding="utf-8"))
    data["features_version"] = cal.FEATURES_VERSION + 1
    (tmp_path / "c.json").write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValueError, match="features v"):
        CalibrationModel.load(str(tmp_path / "c.json"))


def test_runtime_does_not_load_scikit_learn() -> None:
    code = (
        "import sys\n"
        "from consult.extract import extract_from_text\n"
        "_, lines = extract_from_text('DOC: Je vous prescris du Doliprane 1 g trois fois par jour.', 'fr')\n"
        "assert lines and 0 <= lines[0].confidence <= 1, lines\n"
        "from consult.extract.calibration import bundled_model\n"
        "assert bundled_model() is not None\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('sklearn', 'train_calibration'))\n"
        "assert not bad, bad\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]


def test_isotonic_interpolation() -> None:
    assert cal.interpolate(0.05, [0.1, 0.5, 0.9], [0.2, 0.4, 0.8]) == 0.2
    assert cal.interpolate(0.7, [0.1, 0.5, 0.9], [0.2, 0.4, 0.8]) == pytest.approx(0.6)
    assert cal.interpolate(0.95, [0.1, 0.5, 0.9], [0.2, 0.4, 0.8]) == 0.8


# --------------------------------------------------------------------------- evaluation
def test_reliability_and_flag_shares() -> None:
    outs = [LineOutcome(0.95, False, True), LineOutcome(0.91, False, False), LineOutcome(0.2, True, False),
            LineOutcome(0.25, True, True), LineOutcome(1.0, False, True)]
    bins = reliability(outs)
    assert [(b.low, b.lines) for b in bins] == [(0.2, 2), (0.9, 3)]
    assert bins[1].share_right == pytest.approx(2 / 3) and bins[0].mean_confidence == pytest.approx(0.225)
    s = flag_shares(outs)
    assert (s["wrong"], s["wrong_flagged"], s["right"], s["right_flagged"]) == (2, 1, 3, 1)
    text = format_calibration(outs)
    assert "wrong lines flagged 1/2 = 50.0%" in text and "0.9-1.0" in text


def _line(name: str, *, dose: float | None = None, status: str = "new", conf: float = 0.9,
          flagged: bool = False) -> MedicationLine:
    return MedicationLine(id="m", drug_text=name, name=name, status=status,  # type: ignore[arg-type]
                          dose=Quantity(value=dose, unit="tablet") if dose else None, confidence=conf,
                          needs_review=flagged, evidence=Evidence(char_start=0, char_end=len(name), text=name))


def test_a_line_is_right_when_its_drug_is_labelled_and_every_main_field_matches() -> None:
    gold = [LabelledMedication(drug="amoxicillin", dose={"value": 1, "unit": "tablet"}, status="new"),  # type: ignore[arg-type]
            LabelledMedication(drug="ibuprofen", status="mentioned")]
    pred = [_line("amoxicillin", dose=1), _line("ibuprofen", status="new"), _line("metformin")]
    assert judge_lines(gold, pred, DrugResolver()) == [True, False, False]


def test_eval_prints_the_line_calibration(tmp_path: Path) -> None:
    label = {"id": "c1", "language": "en", "turns": [{"speaker": "doctor", "text": "x"}],
             "medications": [{"drug": "amoxicillin", "status": "new"}]}
    (tmp_path / "c1.json").write_text(json.dumps(label), encoding="utf-8")
    items = load_labelled_set(tmp_path)
    scores = score(items, {"c1": [_line("amoxicillin", conf=0.8), _line("metformin", conf=0.3, flagged=True)]})
    text = format_scores(scores)
    assert "line review flags: wrong lines flagged 1/1 = 100.0%; right lines flagged 0/1 = 0.0%" in text
    cal_json = scores.to_dict()["calibration"]
    assert cal_json["wrong_flagged_share"] == 1.0 and cal_json["right_flagged_share"] == 0.0
    assert [b["bin"] for b in cal_json["reliability"]] == ["0.3-0.4", "0.8-0.9"]


# --------------------------------------------------------------------------- dev numbers and retraining
def _trainer():  # scripts/ is not a package
    spec = importlib.util.spec_from_file_location("train_calibration", ROOT / "scripts" / "train_calibration.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["train_calibration"] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def text_dev() -> tuple[object, list[object]]:
    tc = _trainer()
    decider, _ = tc.status_deciders(DEVSETS, "bundled")
    return tc, tc.collect_text(DEVSETS, decider, DrugResolver())


def test_dev_text_flag_shares_do_not_regress(text_dev: tuple[object, list[object]]) -> None:
    # Measured 2026-12-06 with the shipped model on the text dev set (rule extractor, shipped status model,
    # 383 lines, in-sample, hard reasons included): wrong lines flagged 106/111 = 0.955, right lines flagged 0.757.
    # Measured again that night after the posology work (395 lines): wrong 75/80 = 0.938, right 0.787, ECE 0.101:
    # more dev lines are right than the model, fitted on the earlier extractor, expects (under-confident, which
    # flags more: the safe side; blind text ECE 0.068). Refitting it (scripts/train_calibration.py) gives ECE
    # 0.058 but, at its 92 % wrong-lines threshold, flags 89 % of the right lines, so the shipped model stays and
    # the ECE bound has that margin.
    _, examples = text_dev
    model = CalibrationModel.load()
    outs = [LineOutcome(round(model.probability(e.features), 3),  # type: ignore[attr-defined]
                        e.hard or round(model.probability(e.features), 3) < model.threshold,  # type: ignore[attr-defined]
                        e.right) for e in examples]  # type: ignore[attr-defined]
    s = flag_shares(outs)
    assert s["lines"] >= 370
    assert s["wrong_flagged_share"] >= 0.90, s
    assert s["right_flagged_share"] <= 0.80, s
    assert s["ece"] <= 0.11, s


def test_retraining_is_deterministic(text_dev: tuple[object, list[object]]) -> None:
    tc, examples = text_dev
    hyper = {"C": 0.1, "isotonic": False}
    a = tc.train(examples, {"note": "test"}, hyper)  # type: ignore[attr-defined]
    b = tc.train(list(examples), {"note": "test"}, hyper)  # type: ignore[attr-defined]
    for key in ("features", "coef", "intercept", "mean", "scale", "threshold", "cv", "version"):
        assert a[key] == b[key], key
    model = CalibrationModel.from_dict(a)
    assert 0.0 < model.threshold < 1.0


def test_training_refuses_the_blind_set() -> None:
    tc = _trainer()
    for path in (ROOT / "benchmarks" / "blindset" / "en", ROOT / ".cache" / "voiced" / "blind" / "clean"):
        with pytest.raises(SystemExit, match="never on the blind set"):
            tc.refuse_blind(path)
    with pytest.raises(SystemExit):
        tc.main(["--devset", str(ROOT / "benchmarks" / "blindset" / "fr"), "--out", "/tmp/x", "--no-audio"])
