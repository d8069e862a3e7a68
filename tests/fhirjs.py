"""The independent FHIR validator of the tests: the npm package ``fhir`` (FHIR.js 4.12, Lantana), offline R4
structure definitions, run with node (scripts/fhir-validator, installed by scripts/test.sh)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

VALIDATOR = Path(__file__).resolve().parents[1] / "scripts" / "fhir-validator"


def validate_files(paths: list[Path]) -> list[dict]:
    """One result per file: ``{"file", "valid", "messages"}``; the errors are the messages of severity error."""
    node = shutil.which("node")
    assert node, "node is missing: the FHIR validator needs Node.js (scripts/test.sh installs it)"
    assert (VALIDATOR / "node_modules" / "fhir").is_dir(), (
        "the FHIR validator is not installed: npm ci --prefix scripts/fhir-validator")
    r = subprocess.run([node, str(VALIDATOR / "validate.js"), *map(str, paths)], capture_output=True, text=True,
                       timeout=300)
    results = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
    assert len(results) == len(paths), r.stderr
    return results


def errors_of(result: dict) -> list[dict]:
    return [m for m in result["messages"] if m["severity"] == "error"]


def assert_valid(paths: list[Path]) -> None:
    """Every file valid for FHIR.js (no error message), else the errors in the assertion."""
    bad = {r["file"]: errors_of(r) for r in validate_files(paths) if not r["valid"] or errors_of(r)}
    assert not bad, f"FHIR.js errors: {json.dumps(bad, indent=1)[:4000]}"
