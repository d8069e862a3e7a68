"""Writing a report's files: one writer for the CLI, the workers, the watch folder, the API and the review page.

``write_outputs(report, out_dir)`` writes ``report.json``, ``bundle.json`` (FHIR, built from the report unless a
stored bundle is given), ``transcript.txt`` and ``diarization.rttm``, each atomically (temporary file in the same
folder, flushed and fsynced, renamed), ``report.json`` last so that its presence means the folder is complete.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from consult.align import turns_from_segments
from consult.fhir import BundleType, as_bundle_type
from schemas import ConsultationReport

ROLE_LABEL = {"doctor": "Doctor", "patient": "Patient", "unknown": "Speaker"}
OUTPUT_FILES = {
    "report": "report.json",
    "bundle": "bundle.json",
    "transcript": "transcript.txt",
    "rttm": "diarization.rttm",
}


def format_mmss(t: float) -> str:
    """Seconds as ``mm:ss`` (transcript time stamps)."""
    m, sec = divmod(int(t), 60)
    return f"{m:02d}:{sec:02d}"


def transcript_text(report: ConsultationReport) -> str:
    """One line per speaker turn: ``[mm:ss] Doctor: ...``."""
    lines = []
    for speaker, start, _end, segs in turns_from_segments(report.segments):
        role = report.role_of(speaker)
        label = ROLE_LABEL[role]
        if role == "unknown" and speaker:
            label = speaker
        lines.append(f"[{format_mmss(start)}] {label}: {' '.join(s.text for s in segs)}")
    return "\n".join(lines) + ("\n" if lines else "")


def rttm_text(report: ConsultationReport) -> str:
    source = report.audio.name if report.audio is not None else report.text_source.name if report.text_source else ""
    uri = Path(source).stem.replace(" ", "_") or "audio"
    return "".join(
        f"SPEAKER {uri} 1 {t.start:.3f} {t.duration:.3f} <NA> <NA> {t.speaker} <NA> <NA>\n"
        for t in report.turns
    )


def atomic_write(path: Path, data: str | bytes, *, mode: int | None = None) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder, synced, then renamed.
    ``mode``: the file's permission bits (default: the process umask's)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        if mode is None:
            umask = os.umask(0)
            os.umask(umask)
            os.fchmod(fd, 0o666 & ~umask)
        else:
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_outputs(report: ConsultationReport, out_dir: Path, *, bundle_json: str | None = None,
                  files: Iterable[str] = tuple(OUTPUT_FILES),
                  bundle_type: BundleType = "collection") -> dict[str, Path]:
    """Write the report's files (``files``: keys of :data:`OUTPUT_FILES`) into ``out_dir``; ``bundle_json``: a
    stored bundle to write instead of building one; ``bundle_type``: ``transaction`` writes the bundle ready to
    POST to a FHIR server. ``report.json`` is written last."""
    wanted = [k for k in ("transcript", "rttm", "bundle", "report") if k in set(files)]
    out_dir = Path(out_dir)
    written: dict[str, Path] = {}
    for key in wanted:
        if key == "report":
            text = report.model_dump_json(indent=2)
        elif key == "bundle":
            if bundle_json is None:
                from consult.fhir import build_bundle
                from consult.fhir import bundle_json as dump

                bundle_json = dump(build_bundle(report))
            text = as_bundle_type(bundle_json, bundle_type)
        elif key == "transcript":
            text = transcript_text(report)
        else:
            text = rttm_text(report)
        path = out_dir / OUTPUT_FILES[key]
        atomic_write(path, text)
        written[key] = path
    return written


__all__ = ["OUTPUT_FILES", "ROLE_LABEL", "atomic_write", "format_mmss", "rttm_text", "transcript_text",
           "write_outputs"]
