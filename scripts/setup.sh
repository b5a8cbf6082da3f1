#!/usr/bin/env bash
# Creates ./.venv and installs notebook-artifacts with everything its tests, notebooks and
# benchmarks use, at the versions in requirements/constraints.txt. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# The CPU build of torch first: otherwise sentence-transformers may pull a multi-GB CUDA build.
.venv/bin/pip install -q torch==2.13.0
.venv/bin/pip install -q -c requirements/constraints.txt -e ".[test,bench]"
# The notebooks and nbval run on this environment's kernel.
.venv/bin/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (notebook-artifacts)" >/dev/null
echo "notebook-artifacts installed in $(pwd)/.venv"
