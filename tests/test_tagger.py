"""The tagger back-end: generated training data, training script, bundled model, extraction."""

from __future__ import annotations

import importlib.util
import json
import random
from pathlib import Path

import pytest

from consult.config import ExtractionOptions, Settings
from consult.errors import ModelLoadError
from consult.extract.calibration import CalibrationModel
from consult.extract.numbers import find_numbers
from consult.extract.synth import SynthConfig, en_words, fr_words, generate, misspell
from consult.extract.tagset import LABELS
from consult.extract.text import fold
from consult.interfaces import MedicationExtractor
from schemas import Segment, Word

REPO = Path(__file__).resolve().parent.parent
ROLES = {"S0": "doctor", "S1": "patient"}


def _segment(seg_id: int, text: str, speaker: str = "S0", t0: float = 0.0,
             low: dict[str, float] | None = None) -> Segment:
    words = []
    t = t0
    for w in text.split():
        words.append(Word(text=w, start=t, end=t + 0.3, probability=(low or {}).get(w, 0.95), speaker=speaker))
        t += 0.4
    return Segment(id=seg_id, start=t0, end=t, text=" ".join(text.split()), speaker=speaker, words=words)


def _train_script():
    spec = importlib.util.spec_from_file_location("train_tagger", REPO / "scripts" / "train_tagger.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------------------- generator
def test_generator_is_deterministic_and_its_spans_line_up() -> None:
    cfg = SynthConfig(seed=5)
    a = generate(cfg, 400)
    assert a == generate(cfg, 400)
    assert a[:50] == generate(cfg, 50)
    assert [e.text for e in generate(SynthConfig(seed=6), 50)] != [e.text for e in a[:50]]
    assert [e.text for e in generate(cfg, 50, "heldout")] != [e.text for e in a[:50]]
    labels = set()
    for ex in a:
        prev_end = 0
        for s in ex.spans:
            assert s.label in LABELS
            assert prev_end <= s.start < s.end <= len(ex.text)
            piece = ex.text[s.start : s.end]
            assert piece == piece.strip() and piece
            # spans are whole words
            assert s.start == 0 or not (ex.text[s.start - 1].isalnum() and piece[0].isalnum())
            assert s.end == len(ex.text) or not (ex.text[s.end].isalnum() and piece[-1].isalnum())
            prev_end = s.end
            labels.add(s.label)
        assert ex.language in ("fr", "en") and ex.role in ("doctor", "patient")
        if any(s.label == "DRUG" for s in ex.spans):
            assert ex.drugs
    assert labels == set(LABELS)
    kinds = {e.kind for e in a}
    assert {"no_drug", "new", "patient", "dialogue", "follow"} <= kinds
    assert all(not any(s.label == "DRUG" for s in e.spans) for e in a if e.kind == "no_drug")
    assert {e.language for e in a} == {"fr", "en"}


def test_generator_fingerprint_follows_its_settings() -> None:
    assert SynthConfig().fingerprint() == SynthConfig().fingerprint()
    assert SynthConfig(seed=1).fingerprint() != SynthConfig(seed=2).fingerprint()
    assert len(SynthConfig().fingerprint()) == 64


def test_generated_posology_spans_are_read_by_the_grammar() -> None:
    from consult.backends.tagger import normalise_span

    examples = generate(SynthConfig(seed=3), 1500)
    read = total = 0
    for ex in examples:
        for s in ex.spans:
            if s.label == "DRUG" or ex.text[s.start : s.end].isdigit():  # bare strengths need the drug's list
                continue
            total += 1
            read += bool(normalise_span(s.label, ex.text[s.start : s.end]))
    assert total > 1000 and read / total > 0.97


@pytest.mark.parametrize("n", [1, 2, 3, 7, 10, 15, 21, 30, 75, 80, 91, 125, 250, 400, 500, 850, 1000])
def test_numbers_in_words_read_back(n: int) -> None:
    for text in (fr_words(n), en_words(n)):
        (num,) = find_numbers(fold(text))
        assert num.value == n and (num.start, num.end) == (0, len(text))


def test_misspellings_are_seeded_and_differ() -> None:
    a = [misspell("amoxicilline", random.Random(i)) for i in range(20)]
    assert a == [misspell("amoxicilline", random.Random(i)) for i in range(20)]
    assert all(x != "amoxicilline" for x in a) and len(set(a)) > 3


# --------------------------------------------------------------------------- decoding and normalisation
def test_decode_spans_bio_subwords_and_snapping() -> None:
    from consult.backends.tagger import decode_spans

    text = "prenez du dolipr ane 1000 deux fois par jour"
    tokens = [
        (0, 6, "O", 0.9), (7, 9, "O", 0.9), (10, 14, "B-DRUG", 0.9), (14, 16, "B-DRUG", 0.7),
        (17, 20, "I-DRUG", 0.8), (21, 25, "B-STRENGTH", 0.9), (26, 30, "I-FREQ", 0.6), (31, 35, "I-FREQ", 0.8),
        (36, 39, "I-FREQ", 0.8), (40, 44, "I-FREQ", 1.0),
    ]
    spans = decode_spans(text, tokens)
    assert [(text[s.start : s.end], s.label) for s in spans] == [
        ("dolipr ane", "DRUG"), ("1000", "STRENGTH"), ("deux fois par jour", "FREQ"),
    ]
    assert spans[0].probability == pytest.approx(0.8)
    # a span cut inside a word is widened to the whole word
    (s,) = decode_spans("take amoxicillin now", [(5, 9, "B-DRUG", 0.9), (9, 12, "O", 0.6)])
    assert (s.start, s.end) == (5, 16)


def test_normalise_span_fallbacks() -> None:
    from consult.backends.tagger import normalise_span

    (strength,) = normalise_span("STRENGTH", "1000", strengths=("500 mg", "1000 mg"))
    assert strength[0] == "strength" and (strength[1].value, strength[1].unit) == (1000, "mg")
    assert normalise_span("STRENGTH", "1000", strengths=("500 mg",)) == []
    (dose,) = normalise_span("DOSE", "deux")
    assert dose[0] == "dose" and (dose[1].value, dose[1].unit) == (2, "dose")
    fields = dict((n, v) for n, v, _ in normalise_span("DOSE", "half a tablet"))
    assert (fields["dose"].value, fields["dose"].unit) == (0.5, "tablet")
    fields = dict((n, v) for n, v, _ in normalise_span("WHEN", "matin et soir"))
    assert fields["when"] == ["MORN", "EVE"] and fields["frequency"].count == 2
    assert normalise_span("RENEWAL", "matin et soir") == []


# --------------------------------------------------------------------------- training
def test_training_a_tiny_model_saves_and_loads(tmp_path: Path) -> None:
    from consult.backends.tagger import TaggerExtractor

    script = _train_script()
    args = ["--n", "200", "--heldout", "40", "--epochs", "1", "--max-steps", "4", "--vocab", "3000",
            "--hidden", "64", "--layers", "1", "--heads", "2", "--seed", "7"]
    script.main([*args, "--out", str(tmp_path / "a")])
    script.main([*args, "--out", str(tmp_path / "b")])
    out = tmp_path / "a"
    for name in ("config.json", "model.safetensors", "tokenizer.json", "training_card.json"):
        assert (out / name).is_file()
    card = json.loads((out / "training_card.json").read_text(encoding="utf-8"))
    assert card["seed"] == 7 and card["n"] == 200 and card["epochs"] == 1 and card["steps"] == 4
    assert card["generator_hash"] == SynthConfig(seed=7).fingerprint()
    assert set(card["heldout_scores"]["span"]["labels"]) == set(LABELS)
    assert 0.0 <= card["heldout_scores"]["span"]["micro"]["f1"] <= 1.0
    # same seed, same weights
    assert (out / "model.safetensors").read_bytes() == (tmp_path / "b" / "model.safetensors").read_bytes()
    ex = TaggerExtractor(out)
    lines = ex.extract([_segment(0, "Je vous prescris du Doliprane 1000 trois fois par jour.")], roles=ROLES,
                       language="fr")
    assert isinstance(lines, list)
    (info,) = ex.model_info()
    assert info.stage == "extraction" and "seed7" in info.version


# --------------------------------------------------------------------------- the bundled model
@pytest.fixture(scope="module")
def tagger():
    from consult.backends.tagger import TaggerExtractor

    return TaggerExtractor()


def _one(lines, name: str):
    found = [line for line in lines if line.name == name]
    assert len(found) == 1, [line.name for line in lines]
    return found[0]


def test_bundled_model_is_small_and_scored() -> None:
    from consult.backends.tagger import bundled_model_dir

    folder = bundled_model_dir()
    size = sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
    assert size <= 6_000_000
    card = json.loads((folder / "training_card.json").read_text(encoding="utf-8"))
    assert card["generator_hash"] == SynthConfig(seed=card["seed"]).fingerprint()
    assert card["heldout_scores"]["span"]["micro"]["f1"] > 0.85


def test_bundled_model_french_prescription(tagger) -> None:
    segs = [
        _segment(0, "Bonjour, j'ai mal à la gorge depuis trois jours.", "S1", 0.0),
        _segment(1, "Je vous prescris de l'amoxicilline 500 mg, deux gélules trois fois par jour pendant six jours.",
                 "S0", 3.0),
    ]
    lines = tagger.extract(segs, roles=ROLES, language="fr")
    line = _one(lines, "amoxicilline")
    assert len(lines) == 1 and line.atc == "J01CA04" and line.status == "new"
    assert (line.strength.value, line.strength.unit) == (500, "mg")
    assert (line.dose.value, line.dose.unit) == (2, "gélule")
    assert (line.frequency.count, line.frequency.period, line.frequency.period_unit) == (3, 1, "d")
    assert (line.duration.value, line.duration.unit) == (6, "d")
    assert line.route == "oral"
    ev = line.evidence
    assert ev.segment_id == 1 and ev.text == "amoxicilline" and ev.speaker == "S0"
    assert segs[1].text[ev.char_start : ev.char_end] == "amoxicilline"
    assert ev.start is not None and 3.0 < ev.start < ev.end and ev.asr_probability == pytest.approx(0.95)
    fe = line.field_evidence["duration"]
    assert segs[1].text[fe.char_start : fe.char_end] == "pendant six jours"
    assert 0.5 < line.confidence <= 0.95


def test_bundled_model_english_prescription_and_patient_drug(tagger) -> None:
    segs = [
        _segment(0, "I take Ventolin when I'm wheezy.", "S1"),
        _segment(1, "I'm going to prescribe ibuprofen 400 mg, one tablet three times a day for five days.", "S0"),
    ]
    lines = tagger.extract(segs, roles=ROLES, language="en")
    ibu = _one(lines, "ibuprofen")
    assert ibu.status == "new" and (ibu.strength.value, ibu.strength.unit) == (400, "mg")
    assert (ibu.dose.value, ibu.dose.unit) == (1, "tablet")
    assert (ibu.frequency.count, ibu.frequency.period_unit) == (3, "d")
    assert (ibu.duration.value, ibu.duration.unit) == (5, "d")
    ventolin = _one(lines, "salbutamol")
    assert ventolin.status == "mentioned" and ventolin.as_needed


def test_bundled_model_reads_an_asr_misspelled_name(tagger) -> None:
    segs = [_segment(0, "donc on part sur de l'amoxiciline 1 g matin et soir pendant sept jours", "S0",
                     low={"l'amoxiciline": 0.5})]
    line = _one(tagger.extract(segs, roles=ROLES, language="fr"), "amoxicilline")
    assert line.drug_text == "amoxiciline" and line.atc == "J01CA04"
    assert (line.strength.value, line.strength.unit) == (1, "g")
    assert line.when == ["MORN", "EVE"] and line.frequency.count == 2
    assert (line.duration.value, line.duration.unit) == (7, "d")
    assert line.evidence.asr_probability == pytest.approx(0.5)
    assert line.needs_review and "drug name read approximately: check it against the audio or the text" in \
        line.review_reasons
    assert line.confidence < CalibrationModel.load().threshold_for(True)  # flagged: below the review bar


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("J'ai mal au ventre depuis trois jours, et je fume dix cigarettes par jour.", "fr"),
        ("C'est une augmentation de la douleur depuis avril, rien de cardiaque.", "fr"),
        ("I've had this cough for two weeks and I smoke ten cigarettes a day.", "en"),
        ("We'll do a blood test and I'll see you again in two weeks, Mrs Pauline.", "en"),
    ],
)
def test_bundled_model_invents_no_drug(tagger, text: str, language: str) -> None:
    assert tagger.extract([_segment(0, text, "S0")], roles=ROLES, language=language) == []


def test_extraction_time_for_a_hundred_segments(tagger) -> None:
    import time

    texts = [ex.text for ex in generate(SynthConfig(seed=99), 100, "heldout")]
    segs = [_segment(i, t, "S0" if i % 2 else "S1", t0=float(i)) for i, t in enumerate(texts)]
    t0 = time.perf_counter()
    lines = tagger.extract(segs, roles=ROLES, language="fr")
    assert lines and time.perf_counter() - t0 < 20.0


def test_unknown_drug_kept_only_when_sure(tagger, monkeypatch) -> None:
    from consult.backends.tagger import TaggedSpan

    def fake(text: str, name: str, prob: float, posology: bool = True):
        a = text.index(name)
        spans = [TaggedSpan(a, a + len(name), "DRUG", prob)]
        if posology:
            b = text.index("20 mg")
            spans += [TaggedSpan(b, b + 5, "STRENGTH", 0.99), TaggedSpan(b + 6, b + 13, "WHEN", 0.99)]
        return lambda texts: [spans if t == text else [] for t in texts]

    # a garbled name that the lexicon does not resolve but that sounds like one of its names
    text = "Je vous prescris du ynaulimomab 20 mg le soir."
    monkeypatch.setattr(tagger.tagger, "tag", fake(text, "ynaulimomab", 0.97))
    (line,) = tagger.extract([_segment(0, text)], roles=ROLES, language="fr")
    assert line.name == "ynaulimomab" and line.atc is None and line.needs_review
    assert any("not in the lexicon" in r and "inolimomab" in r for r in line.review_reasons)
    assert line.confidence <= 0.6
    assert (line.strength.value, line.strength.unit) == (20, "mg") and line.when == ["EVE"]
    # not sure enough, no posology, or like no known drug: no line
    monkeypatch.setattr(tagger.tagger, "tag", fake(text, "ynaulimomab", 0.6))
    assert tagger.extract([_segment(0, text)], roles=ROLES, language="fr") == []
    monkeypatch.setattr(tagger.tagger, "tag", fake(text, "ynaulimomab", 0.99, posology=False))
    assert tagger.extract([_segment(0, text)], roles=ROLES, language="fr") == []
    text = "Je vous prescris du Zorbanexil 20 mg le soir."
    monkeypatch.setattr(tagger.tagger, "tag", fake(text, "Zorbanexil", 0.99))
    assert tagger.extract([_segment(0, text)], roles=ROLES, language="fr") == []
    # an everyday word tagged as a drug is never kept, even when it sounds like a lexicon name
    text = "Je vous donne la cuisine 20 mg le soir."
    monkeypatch.setattr(tagger.tagger, "tag", fake(text, "cuisine", 0.99))
    assert tagger.extract([_segment(0, text)], roles=ROLES, language="fr") == []


# --------------------------------------------------------------------------- loading and wiring
def test_missing_or_invalid_model_folder_is_a_clear_error(tmp_path: Path) -> None:
    from consult.backends.tagger import TaggerExtractor

    with pytest.raises(ModelLoadError, match="scripts/train_tagger.py"):
        TaggerExtractor(tmp_path / "nowhere")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "config.json").write_text("{}", encoding="utf-8")
    with pytest.raises(ModelLoadError, match="scripts/train_tagger.py"):
        TaggerExtractor(bad)
    for name in ("model.safetensors", "tokenizer.json"):
        (bad / name).write_text("not a model", encoding="utf-8")
    with pytest.raises(ModelLoadError, match="labels"):
        TaggerExtractor(bad)
    with pytest.raises(ModelLoadError, match="scripts/train_tagger.py"):
        from consult.backends.factory import build_extractor

        build_extractor(Settings(extraction=ExtractionOptions(backend="tagger", tagger_model=str(tmp_path / "x"))))


def test_build_extractor_returns_the_tagger() -> None:
    from consult.backends.factory import build_extractor
    from consult.backends.tagger import TaggerExtractor

    ex = build_extractor(Settings(extraction=ExtractionOptions(backend="tagger")))
    assert isinstance(ex, TaggerExtractor) and isinstance(ex, MedicationExtractor)
    (info,) = ex.model_info()
    assert info.name.startswith("consult-tagger")
