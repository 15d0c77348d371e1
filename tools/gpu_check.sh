#!/usr/bin/env bash
# The GPU check in one command, on a machine with a CUDA GPU: builds the CUDA extension for the
# GPU (unless the built one is up to date), then runs the stages of tools/gpu_check.py, which
# stop at the first failure and print each stage's time against its budget. Arguments go to
# tools/gpu_check.py (--out DIR, --stages a,b, --skip a,b, --budget-scale X; --help lists them).
# Uses .venv/bin/python when the checkout has one, else $PYTHON, else python3.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${PYTHON:-}" ]; then
    py=$PYTHON
elif [ -x .venv/bin/python ]; then
    py=.venv/bin/python
else
    py=python3
fi
start=$(date +%s)
status=0
PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" "$py" tools/gpu_check.py "$@" || status=$?
echo "[gpu-check] finished in $(( $(date +%s) - start )) s with status $status"
exit $status
