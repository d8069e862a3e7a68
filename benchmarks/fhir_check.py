"""Read every bundle as an integrator would, with FHIR's own fields only (issue 13's targets).

For each consultation of the given sets: build the draft bundle (collection) and its transaction form, then count

- MedicationRequests whose line is stopped or mentioned (must be 0: those are MedicationStatements),
- MedicationRequests whose line has a strength but whose contained Medication lacks it (must be 0),
- bundles that fhir.resources (R4B) or the independent FHIR.js validator (npm ``fhir``, R4 definitions) rejects.

Sets: a labelled text set (folder of ``*.json`` with turns or a transcript: run through ``consult extract``'s
``report_from_text``) or a folder of ``report.json`` files (``consult run`` outputs). Usage::

    python benchmarks/fhir_check.py benchmarks/devset benchmarks/blindset .cache/reports_final/voiced_blind_clean
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fhirjs import errors_of, validate_files  # noqa: E402 - the tests' runner of the npm validator

from consult.fhir import build_bundle, bundle_json, line_resources, validate_bundle_json  # noqa: E402
from consult.pipeline import report_from_text  # noqa: E402
from consult.scoring import load_labelled_set  # noqa: E402
from schemas import ConsultationReport  # noqa: E402


def reports_of(folder: Path) -> list[tuple[str, ConsultationReport]]:
    found = sorted(folder.rglob("report.json"))
    if found:
        return [(str(p.parent.relative_to(folder)), ConsultationReport.model_validate_json(p.read_text()))
                for p in found]
    return [(item.id, report_from_text(item.transcript_text(), name=f"{item.id}.txt"))
            for item in load_labelled_set(folder)]


def check(name: str, reports: list[tuple[str, ConsultationReport]], keep: Path) -> dict:
    counts = {"bundles": 0, "lines": 0, "requests": 0, "statements": 0, "stopped_or_mentioned_as_request": 0,
              "strength_lines_as_request": 0, "strength_missing": 0, "invalid_fhir_resources": 0,
              "invalid_fhirjs": 0}
    files = []
    for item, report in reports:
        for kind in ("collection", "transaction"):
            text = bundle_json(build_bundle(report, bundle_type=kind))  # type: ignore[arg-type]
            try:
                bundle = validate_bundle_json(text)
            except Exception:  # noqa: BLE001 - counted
                counts["invalid_fhir_resources"] += 1
                continue
            path = keep / f"{name}-{item.replace('/', '_')}-{kind}.json"
            path.write_text(text)
            files.append(path)
            if kind != "collection":
                continue
            counts["bundles"] += 1
            lines = line_resources(bundle)
            for m in report.medications:
                res = lines[m.id]
                counts["lines"] += 1
                if res.get_resource_type() == "MedicationRequest":
                    counts["requests"] += 1
                    counts["stopped_or_mentioned_as_request"] += m.status in ("stopped", "mentioned")
                    if m.strength is not None:
                        counts["strength_lines_as_request"] += 1
                        ingredients = res.contained[0].ingredient or []
                        if not ingredients or ingredients[0].strength is None or \
                                float(ingredients[0].strength.numerator.value) != m.strength.value:
                            counts["strength_missing"] += 1
                else:
                    counts["statements"] += 1
    for start in range(0, len(files), 200):  # the tests' FHIR.js runner, in chunks of 200 files
        for result in validate_files(files[start:start + 200]):
            errors = errors_of(result)
            if not result["valid"] or errors:
                counts["invalid_fhirjs"] += 1
                print(f"  FHIR.js: {result['file']}: {errors[:3]}", file=sys.stderr)
    return counts


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sets", nargs="+", type=Path)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for folder in args.sets:
            name = folder.name if folder.name not in ("en", "fr") else f"{folder.parent.name}-{folder.name}"
            counts = check(name, reports_of(folder), Path(tmp))
            results[str(folder)] = counts
            print(f"{folder}: " + ", ".join(f"{k} {v}" for k, v in counts.items()), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    bad = sum(c["stopped_or_mentioned_as_request"] + c["strength_missing"] + c["invalid_fhir_resources"]
              + c["invalid_fhirjs"] for c in results.values())
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
