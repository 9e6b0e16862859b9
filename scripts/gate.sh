#!/usr/bin/env bash
# The baseline regression gate on the embedded default, at a short schedule (what CI runs):
# `bench run` of every method on every task, then `bench check --against baselines`.
#
#   bash scripts/gate.sh            # run seed 0 and check it against results/baselines/
#   bash scripts/gate.sh --update   # pin: pretraining seeds 0 1 2, tolerances from their spread
#
# The baselines are pinned for exactly these settings; change them only together with a re-pin.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
py="${PYTHON:-$root/.venv/bin/python}"
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
SETS=(train.max_steps=60 "eval.seeds=[0]" "eval.fractions=[0.1,1.0]" eval.dense_iters=40)
out="${GATE_RESULTS:-results/runs/gate}"
if [ "${1:-}" = "--update" ]; then
  "$py" -m bench run --method all --task all --seeds 0 1 2 --results "$out-pin" --set "${SETS[@]}"
  "$py" -m bench check --against baselines --update --results "$out-pin"
else
  "$py" -m bench run --method all --task all --results "$out" --set "${SETS[@]}"
  "$py" -m bench check --against baselines --results "$out"
fi
