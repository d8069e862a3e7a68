"""consult's review page (Gradio). The only package that imports gradio.

``build_app`` is imported lazily so that ``import demo`` stays cheap; gradio's telemetry is switched off
before gradio can be imported from here.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

if TYPE_CHECKING:
    from demo.app import build_app

__all__ = ["build_app"]


def __getattr__(name: str) -> Any:
    if name == "build_app":
        from demo.app import build_app

        return build_app
    raise AttributeError(f"module 'demo' has no attribute {name!r}")
