"""Builder of a tiny, randomly initialised pyannote speaker-diarisation pipeline (test helper)."""

from .builder import build_tiny_pipeline

__all__ = ["build_tiny_pipeline"]
