"""Package surface: light imports, exact public names, schema export."""

from __future__ import annotations

import subprocess
import sys

import consult
import schemas


def test_import_consult_is_light():
    code = ("import sys, consult, consult.pipeline, consult.fhir, consult.cli, schemas; "
            "heavy = [m for m in ('torch', 'faster_whisper', 'ctranslate2', 'pyannote', 'ray', 'gradio', "
            "'resemblyzer', 'transformers') if m in sys.modules]; print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_public_names():
    assert set(consult.__all__) == {"Audio", "AudioError", "ConsultError", "FhirError", "ModelLoadError",
                                    "Settings", "StageError", "__version__", "load_audio"}
    for name in schemas.__all__:
        assert hasattr(schemas, name)


def test_records_are_frozen_and_strict():
    import pytest
    from pydantic import ValidationError

    w = schemas.Word(text="un", start=0.0, end=0.2, probability=0.9)
    with pytest.raises(ValidationError):
        w.text = "deux"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        schemas.Word(text="un", start=0.0, end=0.2, probability=0.9, colour="red")  # type: ignore[call-arg]


def test_settings_from_environment(monkeypatch):
    monkeypatch.setenv("CONSULT_ASR__MODEL", "/models/large-v3-turbo")
    monkeypatch.setenv("CONSULT_ASR__LANGUAGE", "en")
    s = consult.Settings()
    assert s.asr.model == "/models/large-v3-turbo" and s.asr.language == "en"
    assert s.fingerprint() != consult.Settings(asr={"model": "base"}).fingerprint()
