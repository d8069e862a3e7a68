"""Speaker diarisation with pyannote.audio (>= 4), loaded from a LOCAL pipeline folder.

The pipeline is a folder holding ``config.yaml`` (e.g. a copy of ``pyannote/speaker-diarization-community-1``)
whose model references are ``$model/<subfolder>`` entries or local paths. Before pyannote sees the config,
every reference is resolved and checked on disk, so a missing checkpoint is a :class:`ModelLoadError` and
pyannote never falls back to downloading from the Hugging Face hub.

torch and pyannote are imported lazily (in :class:`PyannoteDiariser` only); pyannote's telemetry is disabled
unless the user set ``PYANNOTE_METRICS_ENABLED`` explicitly.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from consult.backends import package_version
from consult.errors import AudioError, ModelLoadError, StageError
from consult.interfaces import ProgressHook
from schemas import ModelInfo, SpeakerTurn

__all__ = ["PyannoteDiariser", "annotation_to_turns", "download_pipeline", "is_hub_id", "SAMPLE_RATE"]

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
STAGE = "diarisation"
CONFIG_NAME = "config.yaml"

_INSTALL_HINT = "install the optional dependency: pip install 'consult[pyannote]'"
_DOWNLOAD_HINT = (
    "download pyannote/speaker-diarization-community-1 (all its files) to a folder and pass "
    "--pyannote-pipeline FOLDER"
)

# Model references of pyannote.audio.pipelines.SpeakerDiarization and the files each one needs.
_REQUIRED_FILES: dict[str, tuple[str, ...]] = {
    "segmentation": ("pytorch_model.bin",),
    "embedding": ("pytorch_model.bin",),
    "plda": ("xvec_transform.npz", "plda.npz"),
}

# Share of the whole run at which each pyannote step starts and ends (for the progress hook).
_STEP_SPAN: dict[str, tuple[float, float]] = {
    "segmentation": (0.0, 0.4),
    "speaker_counting": (0.4, 0.45),
    "embeddings": (0.45, 0.9),
    "discrete_diarization": (0.9, 0.95),
}


def is_hub_id(name: str) -> bool:
    """``owner/name`` that is not an existing path: a Hugging Face repository id."""
    parts = name.split("/")
    return len(parts) == 2 and all(parts) and not Path(name).expanduser().exists() and not name.startswith(".")


def download_pipeline(repo_id: str, cache_dir: Path, *, token_env: str = "HF_TOKEN",
                      snapshot_download: Callable[..., str] | None = None) -> Path:
    """Download a gated pyannote pipeline (e.g. ``pyannote/speaker-diarization-community-1``) into
    ``cache_dir/pyannote/<owner>--<name>`` with the token in ``$token_env``; return the folder.

    Only called when the user allowed downloads (``--allow-download``). The folder is reused when it already
    holds a config.yaml, so the download happens once; later runs are offline. The token is read from the
    environment at call time and is never stored or logged."""
    target = Path(cache_dir) / "pyannote" / repo_id.replace("/", "--")
    if (target / CONFIG_NAME).is_file():
        return target
    token = os.environ.get(token_env)
    if not token:
        raise ModelLoadError(
            f"downloading {repo_id} needs a Hugging Face token: accept the model's conditions on its hub page, "
            f"then export {token_env}=hf_... (or {_DOWNLOAD_HINT})."
        )
    if snapshot_download is None:
        from huggingface_hub import snapshot_download as _snapshot

        snapshot_download = _snapshot
    target.parent.mkdir(parents=True, exist_ok=True)
    logger.info("downloading the pyannote pipeline %s into %s", repo_id, target)
    try:
        snapshot_download(repo_id=repo_id, local_dir=str(target), token=token)
    except Exception as exc:  # network, 401/403 (conditions not accepted), offline mode
        raise ModelLoadError(
            f"could not download {repo_id} ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}). "
            f"Check the network, that {token_env} holds a valid token and that the model's conditions were "
            f"accepted on its hub page; or {_DOWNLOAD_HINT}."
        ) from exc
    if not (target / CONFIG_NAME).is_file():
        raise ModelLoadError(f"the download of {repo_id} holds no {CONFIG_NAME}: not a pyannote pipeline.")
    return target


class _Segment(Protocol):
    start: float
    end: float


class _Annotation(Protocol):
    def itertracks(self, yield_label: bool = ...) -> Iterable[tuple[_Segment, Any, Any]]: ...


# --------------------------------------------------------------------------------------------------
# Pure helpers


def annotation_to_turns(annotation: _Annotation, *, duration: float | None = None) -> list[SpeakerTurn]:
    """Convert a ``pyannote.core.Annotation`` to speaker turns.

    Turns are sorted by (start, end); labels are renamed ``SPEAKER_00``, ``SPEAKER_01``... in order of
    first appearance. Times are clipped to ``[0, duration]`` when ``duration`` is given; empty turns are
    dropped.
    """
    raw: list[tuple[float, float, str]] = []
    for segment, _track, label in annotation.itertracks(yield_label=True):
        start = max(0.0, float(segment.start))
        end = float(segment.end)
        if duration is not None:
            end = min(end, duration)
            start = min(start, duration)
        if end > start:
            raw.append((start, end, str(label)))
    raw.sort(key=lambda t: (t[0], t[1]))

    names: dict[str, str] = {}
    turns: list[SpeakerTurn] = []
    for start, end, label in raw:
        speaker = names.setdefault(label, f"SPEAKER_{len(names):02d}")
        turns.append(SpeakerTurn(speaker=speaker, start=round(start, 3), end=round(end, 3)))
    return turns


def _output_annotation(output: Any, *, exclusive: bool) -> _Annotation:
    """The Annotation of a pyannote 4 ``DiarizeOutput`` (or a plain Annotation, as in legacy mode)."""
    if hasattr(output, "itertracks"):
        return output  # type: ignore[no-any-return]
    name = "exclusive_speaker_diarization" if exclusive else "speaker_diarization"
    annotation = getattr(output, name, None)
    if annotation is None or not hasattr(annotation, "itertracks"):
        raise StageError(STAGE, f"unexpected pyannote output type {type(output).__name__!r}")
    return annotation  # type: ignore[no-any-return]


def _progress_adapter(hook: ProgressHook) -> Callable[..., None]:
    """Map pyannote's ``hook(step_name, step_artifact, file=, total=, completed=)`` to ``hook(stage, f)``.

    The fraction is the share of the whole diarisation done, never decreasing, in [0, 1].
    """
    done = 0.0

    def _hook(
        step_name: str,
        step_artifact: Any = None,
        file: Any = None,
        total: int | None = None,
        completed: int | None = None,
    ) -> None:
        nonlocal done
        lo, hi = _STEP_SPAN.get(step_name, (done, done))
        if total and completed is not None:
            fraction = lo + (hi - lo) * min(1.0, max(0.0, completed / total))
        else:  # a step without counts reports once, when it is finished
            fraction = hi
        if fraction > done:
            done = fraction
            hook(STAGE, done)

    return _hook


def _resolve_config(pipeline: str | Path) -> tuple[Path, Path]:
    """(folder, config.yaml) from a folder or a config file path; ModelLoadError when absent."""
    path = Path(pipeline).expanduser()
    if path.is_dir():
        config = path / CONFIG_NAME
        if not config.is_file():
            raise ModelLoadError(f"pyannote pipeline folder {path} has no {CONFIG_NAME}: {_DOWNLOAD_HINT}")
        return path.resolve(), config.resolve()
    if path.is_file():
        return path.parent.resolve(), path.resolve()
    raise ModelLoadError(
        f"pyannote pipeline {str(pipeline)!r} is not a local folder or config file "
        f"(consult never downloads models): {_DOWNLOAD_HINT}"
    )


def _read_config(config_path: Path) -> dict[str, Any]:
    try:
        import yaml
    except ImportError as exc:  # pragma: no cover - yaml comes with pyannote.audio
        raise ModelLoadError(f"PyYAML is missing: {_INSTALL_HINT}") from exc
    try:
        config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ModelLoadError(f"cannot read pyannote pipeline config {config_path}: {exc}") from exc
    if not isinstance(config, dict):
        raise ModelLoadError(f"pyannote pipeline config {config_path} is not a YAML mapping")
    pipeline = config.get("pipeline")
    if not isinstance(pipeline, dict) or not isinstance(pipeline.get("name"), str):
        raise ModelLoadError(
            f"pyannote pipeline config {config_path} lacks 'pipeline: name:' "
            "(e.g. pyannote.audio.pipelines.SpeakerDiarization)"
        )
    params = pipeline.get("params", {})
    if params is not None and not isinstance(params, dict):
        raise ModelLoadError(f"pyannote pipeline config {config_path}: 'pipeline: params:' is not a mapping")
    return config


def _check_reference(key: str, value: Any, root: Path, config_path: Path) -> None:
    """Check that one model reference of the config resolves to local files."""
    needed = _REQUIRED_FILES.get(key, ())
    where = f"{config_path} (pipeline.params.{key})"
    if isinstance(value, str) and value.startswith("$model/"):
        subfolder = value[len("$model/") :].split("@", 1)[0]
        folder = root / subfolder
    elif isinstance(value, str) and key in _REQUIRED_FILES:
        target = Path(value).expanduser()
        if target.is_file():
            return
        folder = target
    elif isinstance(value, Mapping) and "checkpoint" in value:
        checkpoint = Path(str(value["checkpoint"])).expanduser()
        if checkpoint.is_file():
            return
        folder = checkpoint / str(value["subfolder"]) if value.get("subfolder") else checkpoint
    else:
        return  # not a model reference (a number, a flag, a clustering name...)
    if not folder.is_dir():
        raise ModelLoadError(
            f"{where} refers to {value!r}, which is not a local folder or file ({folder} is missing); "
            f"consult never downloads models: {_DOWNLOAD_HINT}"
        )
    missing = [name for name in needed if not (folder / name).is_file()]
    if missing:
        raise ModelLoadError(
            f"{where}: checkpoint file(s) {', '.join(missing)} missing in {folder}: {_DOWNLOAD_HINT}"
        )


def _check_local(config: dict[str, Any], root: Path, config_path: Path) -> None:
    """Every model the pipeline would load must be on disk (otherwise pyannote would try the hub)."""
    params: dict[str, Any] = config["pipeline"].get("params") or {}
    if config["pipeline"]["name"].rsplit(".", 1)[-1] == "SpeakerDiarization":
        absent = [key for key in _REQUIRED_FILES if key not in params]
        if absent:
            raise ModelLoadError(
                f"{config_path} does not set pipeline.params.{', '.join(absent)}: pyannote would "
                f"download its defaults from the hub, which consult never does: {_DOWNLOAD_HINT}"
            )
    for key, value in params.items():
        _check_reference(key, value, root, config_path)


def _check_audio(audio: np.ndarray) -> np.ndarray:
    array = np.asarray(audio, dtype=np.float32)
    if array.ndim != 1:
        raise AudioError(f"diarisation expects mono 16 kHz audio as a 1-D array, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise AudioError("audio contains NaN or infinite samples")
    return array


def _check_speakers(num_speakers: int | None, min_speakers: int, max_speakers: int) -> None:
    if num_speakers is not None and num_speakers < 1:
        raise ValueError(f"num_speakers must be >= 1 or None, got {num_speakers}")
    if min_speakers < 1 or max_speakers < min_speakers:
        raise ValueError(
            "need 1 <= min_speakers <= max_speakers, "
            f"got min_speakers={min_speakers}, max_speakers={max_speakers}"
        )


def _import_pyannote() -> tuple[Any, Any, str]:
    """(torch, pyannote.audio.Pipeline, pyannote.audio version), telemetry off unless chosen by the user."""
    os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "0")
    try:
        with warnings.catch_warnings():
            # consult always hands pyannote in-memory waveforms: its audio decoder (torchcodec) is not needed
            warnings.filterwarnings("ignore", message=r"\s*torchcodec is not installed correctly")
            import torch
            from pyannote.audio import Pipeline
    except ImportError as exc:
        raise ModelLoadError(f"pyannote.audio cannot be imported ({exc}): {_INSTALL_HINT}") from exc
    return torch, Pipeline, package_version("pyannote.audio")


# --------------------------------------------------------------------------------------------------
# Back-end


class PyannoteDiariser:
    """:class:`consult.interfaces.Diariser` backed by a local pyannote.audio pipeline.

    Parameters
    ----------
    pipeline:
        A folder holding ``config.yaml`` (and the checkpoints it references), or the config file itself.
    device:
        torch device the models run on ("cpu", "cuda", "cuda:1"...).
    exclusive:
        Return pyannote's exclusive diarisation (no overlapping turns) instead of the regular one.
    """

    def __init__(self, pipeline: str | Path, *, device: str = "cpu", exclusive: bool = False) -> None:
        self._root, self._config_path = _resolve_config(pipeline)
        config = _read_config(self._config_path)
        _check_local(config, self._root, self._config_path)
        self._pipeline_name: str = config["pipeline"]["name"]
        self._exclusive = exclusive

        torch, pipeline_cls, self._version = _import_pyannote()
        try:
            self._device = torch.device(device)
        except RuntimeError as exc:
            raise ModelLoadError(f"invalid torch device {device!r} (use 'cpu', 'cuda' or 'cuda:N')") from exc

        logger.info("loading pyannote pipeline %s from %s on %s", self._pipeline_name, self._root, device)
        try:
            loaded = pipeline_cls.from_pretrained(self._config_path, token=None)
        except ModelLoadError:
            raise
        except Exception as exc:  # pyannote raises many types (KeyError, RuntimeError, ValueError...)
            raise ModelLoadError(
                f"pyannote could not load the pipeline {self._config_path}: {type(exc).__name__}: {exc}. "
                f"Check the folder is a complete copy of a pyannote 4 pipeline: {_DOWNLOAD_HINT}"
            ) from exc
        if loaded is None:
            raise ModelLoadError(f"pyannote returned no pipeline for {self._config_path}: {_DOWNLOAD_HINT}")
        try:
            loaded.to(self._device)
        except (RuntimeError, AssertionError) as exc:
            raise ModelLoadError(f"cannot move the pyannote pipeline to {device!r}: {exc}") from exc
        self._pipeline = loaded

    @property
    def path(self) -> Path:
        """The folder the pipeline was loaded from."""
        return self._root

    def diarise(
        self,
        audio: np.ndarray,
        *,
        num_speakers: int | None = None,
        min_speakers: int = 1,
        max_speakers: int = 4,
        hook: ProgressHook | None = None,
    ) -> list[SpeakerTurn]:
        """Who spoke when in ``audio`` (16 kHz mono float32). ``num_speakers`` overrides min/max."""
        _check_speakers(num_speakers, min_speakers, max_speakers)
        samples = _check_audio(audio)
        duration = samples.shape[0] / SAMPLE_RATE
        if samples.size == 0:
            if hook is not None:
                hook(STAGE, 1.0)
            return []

        import torch

        waveform = torch.from_numpy(np.ascontiguousarray(samples)).unsqueeze(0)
        speakers: dict[str, int] = (
            {"num_speakers": num_speakers}
            if num_speakers is not None
            else {"min_speakers": min_speakers, "max_speakers": max_speakers}
        )
        try:
            output = self._pipeline(
                {"waveform": waveform, "sample_rate": SAMPLE_RATE, "uri": "consultation"},
                hook=_progress_adapter(hook) if hook is not None else None,
                **speakers,
            )
        except Exception as exc:
            raise StageError(STAGE, f"pyannote failed: {type(exc).__name__}: {exc}") from exc

        turns = annotation_to_turns(_output_annotation(output, exclusive=self._exclusive), duration=duration)
        logger.debug("diarisation: %d turns, %d speakers", len(turns), len({t.speaker for t in turns}))
        if hook is not None:
            hook(STAGE, 1.0)
        return turns

    def model_info(self) -> list[ModelInfo]:
        return [
            ModelInfo(
                stage=STAGE,
                name=f"{self._pipeline_name} ({self._root})",
                version=f"pyannote.audio {self._version}",
            )
        ]
