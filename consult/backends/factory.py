"""Building the back-ends named by the settings (imported lazily: the heavy libraries load only when built).

One home for the pipeline, the Ray workers, the benchmarks and the tests.
"""

from __future__ import annotations

from pathlib import Path

from consult.config import Settings
from consult.interfaces import Diariser, MedicationExtractor, Transcriber

__all__ = ["build_diariser", "build_extractor", "build_transcriber"]


def build_transcriber(settings: Settings) -> Transcriber:
    from consult.backends.whisper import FasterWhisperTranscriber

    return FasterWhisperTranscriber(settings.asr, cache_dir=settings.cache_dir)


def build_diariser(settings: Settings) -> Diariser:
    d = settings.diarisation
    if d.backend == "pyannote":
        from consult.backends.pyannote_backend import PyannoteDiariser

        if not d.pyannote_pipeline:
            from consult.errors import ModelLoadError

            raise ModelLoadError(
                "the pyannote back-end needs a local pipeline: download e.g. "
                "pyannote/speaker-diarization-community-1 to a folder and pass --pyannote-pipeline FOLDER."
            )
        from consult.backends.pyannote_backend import download_pipeline, is_hub_id

        source: str | Path = d.pyannote_pipeline
        if is_hub_id(d.pyannote_pipeline):
            if not d.allow_download:
                from consult.errors import ModelLoadError

                raise ModelLoadError(
                    f"{d.pyannote_pipeline} is a hub id and downloads are off: pass --allow-download (with "
                    f"{d.hf_token_env} set) to fetch it once, or a local folder to --pyannote-pipeline."
                )
            source = download_pipeline(d.pyannote_pipeline, settings.cache_dir, token_env=d.hf_token_env)
        return PyannoteDiariser(source, device=d.device)
    from consult.backends.offline_diar import OfflineDiariser

    return OfflineDiariser(device=d.device)


def build_extractor(settings: Settings) -> MedicationExtractor:
    """The extraction back-end named by ``settings.extraction.backend`` (rules, tagger or llm)."""
    opts = settings.extraction
    if opts.backend == "tagger":
        from consult.backends.tagger import TaggerExtractor

        return TaggerExtractor.from_options(opts)
    if opts.backend == "llm":
        from consult.backends.openai_compat import OpenAICompatibleExtractor

        return OpenAICompatibleExtractor.from_options(opts)
    from consult.extract.extractor import ExtractorOptions, RuleBasedExtractor

    return RuleBasedExtractor(options=ExtractorOptions(review_threshold=opts.review_threshold))
