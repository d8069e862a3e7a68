#!/usr/bin/env bash
# Install consult with its test tools into .venv, then run the whole test suite (real models, offline).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh test
export HF_HUB_OFFLINE=1 PYANNOTE_METRICS_ENABLED=0 RAY_USAGE_STATS_ENABLED=0 GRADIO_ANALYTICS_ENABLED=False
.venv/bin/python -m ruff check consult schemas workers demo tests audio_fixtures scripts benchmarks
.venv/bin/python -m pytest "$@"
