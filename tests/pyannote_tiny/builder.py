"""Build a tiny, randomly initialised pyannote.audio speaker-diarisation pipeline on disk.

The layout mirrors ``pyannote/speaker-diarization-community-1`` so that the back-end is exercised on the same
loading path as the real pipeline::

    root/
      config.yaml                   SpeakerDiarization, models referenced as ``$model/<subfolder>``
      segmentation/pytorch_model.bin  PyanNet (powerset, 3 speakers, max 2 simultaneous), tiny sizes
      embedding/pytorch_model.bin     XVectorMFCC, small embedding dimension
      plda/xvec_transform.npz         identity-like LDA transform
      plda/plda.npz                   identity PLDA

Checkpoints are written the way pyannote's Lightning trainer writes them (``state_dict``,
``hyper_parameters`` and the ``pyannote.audio`` block filled by ``Model.on_save_checkpoint``), so
``pyannote.audio.Model.from_pretrained(path)`` loads them. Weights are random: the pipeline runs end to end
but its speakers mean nothing. Nothing is downloaded.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "0")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import lightning  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import yaml  # noqa: E402
from pyannote.audio.core.model import Model  # noqa: E402
from pyannote.audio.core.task import Problem, Resolution, Specifications  # noqa: E402
from pyannote.audio.models.embedding import XVectorMFCC  # noqa: E402
from pyannote.audio.models.segmentation import PyanNet  # noqa: E402

SEGMENTATION_DURATION = 5.0
"""Chunk duration (seconds) of the tiny segmentation model."""

EMBEDDING_DIMENSION = 16


def _save_checkpoint(model: Model, path: Path) -> None:
    """Write ``model`` as a Lightning checkpoint that ``Model.from_pretrained`` can load."""
    checkpoint: dict[str, Any] = {
        "state_dict": model.state_dict(),
        "hyper_parameters": dict(model.hparams),
        "pytorch-lightning_version": lightning.__version__,
    }
    model.on_save_checkpoint(checkpoint)  # adds the "pyannote.audio" block (versions, class, specs)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(checkpoint, path)


def build_segmentation(path: Path) -> None:
    """Tiny powerset PyanNet (3 local speakers, at most 2 at once), saved to ``path``."""
    model = PyanNet(
        sincnet={"stride": 10},
        lstm={"hidden_size": 8, "num_layers": 1, "bidirectional": True, "monolithic": True},
        linear={"hidden_size": 8, "num_layers": 1},
    )
    model.specifications = Specifications(
        problem=Problem.MONO_LABEL_CLASSIFICATION,
        resolution=Resolution.FRAME,
        duration=SEGMENTATION_DURATION,
        min_duration=SEGMENTATION_DURATION,
        warm_up=(0.0, 0.0),
        classes=["speaker#1", "speaker#2", "speaker#3"],
        powerset_max_classes=2,
        permutation_invariant=True,
    )
    model.setup()  # builds the task-dependent classifier and activation
    model.eval()
    _save_checkpoint(model, path)


def build_embedding(path: Path) -> None:
    """XVectorMFCC with a small output dimension, saved to ``path``."""
    model = XVectorMFCC(mfcc={"n_mfcc": 20, "melkwargs": {"n_mels": 40}}, dimension=EMBEDDING_DIMENSION)
    model.specifications = Specifications(
        problem=Problem.REPRESENTATION,
        resolution=Resolution.CHUNK,
        duration=SEGMENTATION_DURATION,
        min_duration=0.5,
    )
    model.setup()
    model.eval()
    _save_checkpoint(model, path)


def build_plda(folder: Path, dimension: int = EMBEDDING_DIMENSION) -> None:
    """Identity LDA + PLDA (the ``plda`` block SpeakerDiarization loads whatever its clustering)."""
    folder.mkdir(parents=True, exist_ok=True)
    eye = np.eye(dimension, dtype=np.float64)
    np.savez(
        folder / "xvec_transform.npz",
        mean1=np.zeros(dimension),
        mean2=np.zeros(dimension),
        lda=eye,
    )
    np.savez(folder / "plda.npz", mu=np.zeros(dimension), tr=eye, psi=np.linspace(2.0, 1.0, dimension))


def pipeline_config(*, clustering: str = "AgglomerativeClustering") -> dict[str, Any]:
    """The ``config.yaml`` content, shaped like community-1's, with ``$model/`` references."""
    clustering_params: dict[str, Any]
    if clustering == "VBxClustering":
        clustering_params = {"threshold": 0.6, "Fa": 0.07, "Fb": 0.8}
    else:
        clustering_params = {"method": "centroid", "min_cluster_size": 1, "threshold": 0.7}
    return {
        "dependencies": {"pyannote.audio": "4.0.0"},
        "pipeline": {
            "name": "pyannote.audio.pipelines.SpeakerDiarization",
            "params": {
                "clustering": clustering,
                "segmentation": "$model/segmentation",
                "segmentation_batch_size": 8,
                "embedding": "$model/embedding",
                "embedding_batch_size": 8,
                "embedding_exclude_overlap": True,
                "plda": "$model/plda",
            },
        },
        "params": {
            "segmentation": {"min_duration_off": 0.0},
            "clustering": clustering_params,
        },
    }


def build_tiny_pipeline(root: Path, *, clustering: str = "AgglomerativeClustering") -> Path:
    """Write the whole tiny pipeline under ``root``; return ``root`` (the folder holding config.yaml)."""
    torch.manual_seed(0)
    root.mkdir(parents=True, exist_ok=True)
    build_segmentation(root / "segmentation" / "pytorch_model.bin")
    build_embedding(root / "embedding" / "pytorch_model.bin")
    build_plda(root / "plda")
    (root / "config.yaml").write_text(yaml.safe_dump(pipeline_config(clustering=clustering), sort_keys=False))
    return root
