"""Files shipped inside the ``consult`` package (``consult/data/...``): the one place that resolves them.

Every packaged table (drug lexicon, not-drug words, person names, maximum daily doses, the bundled tagger
model...) is read through :func:`read_packaged` or located with :func:`packaged_path`, so that each caller
gets the same answer in a wheel, an editable install and a source checkout.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def packaged_path(name: str) -> Path:
    """Path of the packaged file or folder ``name`` (relative to the package, e.g. ``"data/lexicon.json.gz"``).

    The path may not exist: callers that need the file check it and say how to build it."""
    try:
        return Path(str(resources.files("consult").joinpath(name)))
    except (NotADirectoryError, FileNotFoundError, TypeError):  # pragma: no cover - namespace install
        return _PACKAGE_DIR / name


def read_packaged(name: str) -> bytes:
    """Bytes of the packaged file ``name`` (relative to the package, e.g. ``"data/lexicon.json.gz"``);
    :class:`FileNotFoundError` when it is not shipped."""
    try:
        return resources.files("consult").joinpath(name).read_bytes()
    except (NotADirectoryError, FileNotFoundError, TypeError):
        # An editable install made before consult/__init__.py existed maps ``consult`` as a
        # namespace package, which importlib.resources cannot read: use the module's own folder.
        return (_PACKAGE_DIR / name).read_bytes()


__all__ = ["packaged_path", "read_packaged"]
