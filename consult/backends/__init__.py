"""Back-ends: the only modules that import torch, faster-whisper, pyannote.audio or resemblyzer."""

from __future__ import annotations

import importlib.metadata


def package_version(dist: str) -> str:
    """Installed version of distribution ``dist`` (for ModelInfo), or ``unknown``."""
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"
