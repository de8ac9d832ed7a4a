#!/usr/bin/env bash
# The first GPU run in one command, from the repository root, with no network: see benchmarks/gpu_check.py.
#   bash benchmarks/gpu_check.sh                 # on the GPU machine (400 s budget); outputs in $OUT or ./gpu-out
#   bash benchmarks/gpu_check.sh --device cpu    # the dry run on a CPU
set -euo pipefail
cd "$(dirname "$0")/.."
exec "${PYTHON:-python3}" benchmarks/gpu_check.py "$@"
