#!/usr/bin/env bash
# One command for throughput on a GPU box: pretraining images/s of each method at the default
# preset's shape (ResNet-50 at 224 px, a BERT-base-shaped text tower, batch 64, bf16, data loading
# from SynthCXR's image cache included; PRIOR per stage) and the frozen encoders' evaluation
# throughput, written as JSON with the device's name. A few minutes on one GPU.
#   bash scripts/gpu_bench.sh [OUT.json] [--batch 128 --workers 16 --methods prior ...]
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || bash scripts/setup.sh
out="${1:-results/throughput/$(hostname)-$(date +%Y%m%d-%H%M%S).json}"
[ $# -gt 0 ] && shift
OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}" exec .venv/bin/python -m bench.perf.throughput --out "$out" "$@"
