"""consult.scoring: the labelled-set format (docs/labels.md) and the extraction scores of `consult eval`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from consult.errors import ConsultError
from consult.extract import extract_from_text
from consult.scoring import format_scores, load_labelled_set, score
from schemas import Duration, Evidence, Frequency, MedicationLine, Quantity

FIXTURES = Path(__file__).resolve().parent.parent / "audio_fixtures"


def _line(name: str, atc: str | None = None, **kw: object) -> MedicationLine:
    ev = Evidence(char_start=0, char_end=len(name), text=name)
    return MedicationLine(id=f"med-{name}", drug_text=name, name=name, atc=atc, confidence=0.9, evidence=ev, **kw)


def _write(tmp_path: Path, meds: list[dict], text: str = "DOC: x\n", name: str = "c1") -> Path:
    (tmp_path / f"{name}.txt").write_text(text, encoding="utf-8")
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({"id": name, "language": "fr", "transcript": f"{name}.txt", "medications": meds}),
                    encoding="utf-8")
    return path


def test_equivalent_values_score_as_equal(tmp_path: Path) -> None:
    _write(tmp_path, [{
        "drug": "paracétamol", "strength": {"value": 1, "unit": "g"}, "dose": {"value": 1, "unit": "tablet"},
        "frequency": {"count": 2, "period": 1, "period_unit": "d"}, "duration": {"value": 1, "unit": "wk"},
        "route": "oral", "status": "new",
    }])
    items = load_labelled_set(tmp_path)
    pred = _line("Doliprane", "N02BE01", strength=Quantity(value=1000, unit="mg", ucum=True),
                 dose=Quantity(value=1, unit="comprimé"), route="oral",
                 frequency=Frequency(count=1, period=12, period_unit="h"), duration=Duration(value=7, unit="d"))
    s = score(items, {"c1": [pred]})
    assert (s.drug.tp, s.drug.fp, s.drug.fn) == (1, 0, 0)  # brand resolved to the labelled substance
    for name in ("strength", "dose", "route", "frequency", "duration", "status"):
        assert s.fields[name].tp == 1, name
    assert s.exact == 1 and s.exact_match == 1.0 and s.field_f1() == 1.0


def test_wrong_missing_and_extra_values(tmp_path: Path) -> None:
    _write(tmp_path, [
        {"drug": "amoxicilline", "strength": {"value": 500, "unit": "mg"}, "status": "new", "as_needed": False},
        {"drug": "ramipril", "status": "mentioned"},
    ])
    items = load_labelled_set(tmp_path)
    preds = [
        _line("amoxicilline", "J01CA04", strength=Quantity(value=1000, unit="mg", ucum=True),
              duration=Duration(value=7, unit="d"), status="new"),
        _line("vitamine", None, status="mentioned"),  # not labelled: an invented line
    ]
    s = score(items, {"c1": preds})
    assert (s.drug.tp, s.drug.fp, s.drug.fn) == (1, 1, 1)
    assert (s.fields["strength"].tp, s.fields["strength"].fp, s.fields["strength"].fn) == (0, 1, 1)
    assert (s.fields["duration"].fp, s.fields["duration"].fn) == (1, 0)
    # status: amoxicilline right; ramipril missed (FN); the invented line's status is a FP
    assert (s.fields["status"].tp, s.fields["status"].fp, s.fields["status"].fn) == (1, 1, 1)
    assert s.exact == 0 and s.lines == 2
    (item,) = s.items
    assert item.missed == ["ramipril"] and len(item.invented) == 1
    assert any("strength" in e for e in item.field_errors)
    table = format_scores(s, "t")
    assert "drug" in table and "whole-line exact match: 0/2" in table


def test_no_medication_and_nothing_predicted_is_perfect(tmp_path: Path) -> None:
    _write(tmp_path, [])
    s = score(load_labelled_set(tmp_path), {"c1": []})
    assert s.drug.f1 == 1.0 and s.lines == 0 and s.exact_match == 1.0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not a readable JSON"),
        (json.dumps({"id": "a", "language": "fr", "transcript": "a.txt",
                     "medications": [{"drug": "x", "status": "prescribed"}]}), "medications.0.status"),
        (json.dumps({"id": "a", "language": "fr", "medications": []}), "needs 'transcript'"),
        (json.dumps({"id": "a", "language": "de", "transcript": "a.txt", "medications": []}), "language"),
        (json.dumps({"id": "a", "language": "fr", "transcript": "a.txt",
                     "medications": [{"drug": "x", "status": "new", "dosage": 1}]}), "dosage"),
    ],
)
def test_bad_labels_name_the_file_and_field(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "a.json").write_text(content, encoding="utf-8")
    with pytest.raises(ConsultError, match=message):
        load_labelled_set(tmp_path / "a.json")


def test_missing_set_and_duplicate_ids(tmp_path: Path) -> None:
    with pytest.raises(ConsultError, match="no such labelled set"):
        load_labelled_set(tmp_path / "nope")
    with pytest.raises(ConsultError, match="no labelled consultation"):
        load_labelled_set(tmp_path)
    _write(tmp_path, [], name="a")
    sub = tmp_path / "sub"
    sub.mkdir()
    _write(sub, [], name="a")
    with pytest.raises(ConsultError, match="duplicate consultation ids: a"):
        load_labelled_set(tmp_path)


def test_generated_fixtures_are_a_labelled_set_and_score_perfectly_on_their_text() -> None:
    items = load_labelled_set(FIXTURES)
    assert {i.id for i in items} == {"fr_consult_1", "fr_consult_2", "fr_consult_3", "en_consult_1", "en_consult_2"}
    for item in items:
        assert item.audio_path() is not None and item.audio_path().exists()
        assert item.rttm_path() is not None and item.rttm_path().exists()
    preds = {i.id: extract_from_text(i.transcript_text(), i.language)[1] for i in items}
    s = score(items, preds)
    assert s.drug.f1 == 1.0 and s.exact == s.lines == 18


DEVSET = Path(__file__).resolve().parent.parent / "benchmarks" / "devset"


@pytest.mark.parametrize(
    ("lang", "min_drug_f1", "min_field_f1", "min_exact", "max_invented"),
    [
        # measured 2026-12-06 on the grown dev set (275 consultations) with the rule extractor and the trained
        # status model (consult/data/models/status, fitted on this same dev set, so its status is in-sample here;
        # the model card gives the cross-validated status accuracy): fr drug 0.979, main fields 0.880, exact
        # 0.681, 2 unlabelled lines; en drug 0.924, fields 0.795, exact 0.647, 14 unlabelled. Before the model
        # (rules only, same day): fr 0.968 / 0.832 / 0.638 / 4, en 0.921 / 0.732 / 0.614 / 14.
        ("fr", 0.96, 0.86, 0.66, 4),
        ("en", 0.91, 0.78, 0.63, 16),
    ],
)
def test_real_dialogue_dev_set_scores_do_not_regress(
    lang: str, min_drug_f1: float, min_field_f1: float, min_exact: float, max_invented: int
) -> None:
    items = load_labelled_set(DEVSET / lang)
    assert len(items) >= 50
    from consult.extract import RuleBasedExtractor
    from consult.extract.textinput import parse_text_transcript

    ex = RuleBasedExtractor()
    preds = {}
    for item in items:
        segments, roles = parse_text_transcript(item.transcript_text())
        preds[item.id] = ex.extract(segments, roles=roles, language=item.language)
    s = score(items, preds)
    assert s.drug.f1 >= min_drug_f1
    assert s.field_f1() >= min_field_f1
    assert s.exact_match >= min_exact
    assert sum(len(i.invented) for i in s.items) <= max_invented
