"""consult: offline clinical consultation transcription -> diarised transcript -> medications -> FHIR R4B.

Heavy libraries (torch, faster-whisper, pyannote, ray, gradio) are imported lazily by the back-ends,
never by ``import consult``. Every output is a DRAFT for a clinician to check.
"""

from consult.audio import Audio, load_audio
from consult.config import Settings
from consult.errors import AudioError, ConsultError, FhirError, ModelLoadError, StageError

__version__ = "0.1.0"

__all__ = [
    "Audio",
    "AudioError",
    "ConsultError",
    "FhirError",
    "ModelLoadError",
    "Settings",
    "StageError",
    "__version__",
    "load_audio",
]
