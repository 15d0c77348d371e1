#!/usr/bin/env bash
# Distributed training with torchrun and MMEngine's pytorch launcher:
#   bash tools/dist_train.sh CONFIG NGPUS [tools/train.py options]
# NNODES, NODE_RANK, MASTER_ADDR, PORT select a multi-node run. Without CUDA the processes
# use gloo on the CPU (vmamba_zoo/mm/runner.py).
set -euo pipefail
if [ $# -lt 2 ]; then
    echo "usage: bash tools/dist_train.sh CONFIG NGPUS [tools/train.py options]" >&2
    exit 2
fi
CONFIG=$1
NGPUS=$2
shift 2
if ! [[ "$NGPUS" =~ ^[1-9][0-9]*$ ]]; then
    echo "error: NGPUS must be a positive whole number (processes per node), got '$NGPUS'" >&2
    exit 2
fi
if [ ! -f "$CONFIG" ]; then
    echo "error: config $CONFIG does not exist" >&2
    exit 2
fi
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON=${PYTHON:-python}
if [ -x "$ROOT/.venv/bin/python" ] && [ -z "${VIRTUAL_ENV:-}" ]; then PYTHON="$ROOT/.venv/bin/python"; fi
PYTHONPATH="$ROOT:${PYTHONPATH:-}" exec "$PYTHON" -m torch.distributed.run \
    --nnodes="${NNODES:-1}" --node_rank="${NODE_RANK:-0}" \
    --master_addr="${MASTER_ADDR:-127.0.0.1}" --master_port="${PORT:-29500}" \
    --nproc_per_node="$NGPUS" \
    "$ROOT/tools/train.py" "$CONFIG" --launcher pytorch "$@"
