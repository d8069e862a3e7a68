#!/usr/bin/env bash
# Install consult with its test tools into .venv, then run the whole test suite (real models, offline).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh test
# The report store's PostgreSQL tests start a throw-away server (tests/pg_server.py): Debian's postgresql.
if ! command -v initdb >/dev/null && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq postgresql >/dev/null;
  else echo "PostgreSQL server programs missing: sudo apt-get install postgresql" >&2; exit 1; fi
fi
# The browser tests drive Debian's Chromium with Playwright (never `playwright install`: no download).
if ! command -v chromium >/dev/null; then
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null;
  else echo "Chromium missing: sudo apt-get install chromium" >&2; exit 1; fi
fi
# The independent FHIR validator (npm package `fhir`, FHIR.js, offline R4 structure definitions) for the tests.
if ! command -v npm >/dev/null; then
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null;
  else echo "Node.js missing: sudo apt-get install nodejs npm" >&2; exit 1; fi
fi
npm ci --prefix scripts/fhir-validator --no-audit --no-fund --loglevel=error >/dev/null
export HF_HUB_OFFLINE=1 PYANNOTE_METRICS_ENABLED=0 RAY_USAGE_STATS_ENABLED=0 GRADIO_ANALYTICS_ENABLED=False
.venv/bin/python -m ruff check consult schemas workers demo tests audio_fixtures scripts benchmarks
# Types: plain on the packages, strict on schemas/, consult/interfaces.py, consult/fhir.py, consult/api.py
# (pyproject.toml [tool.mypy]).
.venv/bin/python -m mypy
.venv/bin/python -m pytest "$@"
