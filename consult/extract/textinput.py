"""Text transcripts (``DOC: ...`` / ``Patient: ...`` / ``Médecin : ...`` lines, or plain text) as segments."""

from __future__ import annotations

import codecs
import re
from pathlib import Path

from consult.errors import ExtractionError
from schemas import Segment
from schemas.report import Role

DOCTOR = "DOCTOR"
PATIENT = "PATIENT"

_PREFIX = re.compile(
    r"^\s*(?:\[[^\]]*\]\s*)?(?P<who>doc(?:teur|tor)?|dr|d|m[ée]decin|clinician|physician|gp|"
    r"pat(?:ient|iente)?|p)\s*[:\-]\s*(?P<text>.*)$",
    re.IGNORECASE,
)
_LABFORSIMS = re.compile(r"^\s*(?P<who>[dp])\d{6,}\s+(?P<text>.*)$")


def _role_of(who: str) -> str:
    w = who.lower()
    return PATIENT if w.startswith("p") else DOCTOR


def parse_text_transcript(text: str) -> tuple[list[Segment], dict[str, Role]]:
    """Segments (one per non-empty line, speaker DOCTOR/PATIENT when prefixed) and their roles.

    Lines starting with ``#`` are comments."""
    segments: list[Segment] = []
    roles: dict[str, Role] = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = _PREFIX.match(line) or _LABFORSIMS.match(line)
        speaker: str | None = None
        body = line
        if m is not None:
            speaker = _role_of(m.group("who"))
            body = m.group("text")
            roles[speaker] = "doctor" if speaker == DOCTOR else "patient"
        body = " ".join(body.split())
        if not body:
            continue
        segments.append(Segment(id=len(segments), start=0.0, end=0.0, text=body, speaker=speaker))
    return segments, roles


def read_transcript_file(path: Path | str) -> str:
    """The text of a transcript file: UTF-8 (with or without BOM) or UTF-16 with a BOM (Windows exports)."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError as exc:
        raise ExtractionError(f"{p}: no such file") from exc
    except IsADirectoryError as exc:
        raise ExtractionError(f"{p}: is a folder, not a transcript file") from exc
    except OSError as exc:
        raise ExtractionError(f"{p}: cannot be read ({exc.strerror})") from exc
    try:
        if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return raw.decode("utf-16")
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ExtractionError(
            f"{p}: not a UTF-8 (or UTF-16 with BOM) text file ({type(exc).__name__}); save it as UTF-8 text"
        ) from exc
