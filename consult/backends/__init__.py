"""Back-ends: the only modules that import torch, faster-whisper, pyannote.audio or resemblyzer."""
