#!/usr/bin/env bash
# The main job on the embedded default (SynthCXR): pretrain PRIOR at the tiny preset, evaluate
# the checkpoint and the same architecture at random initialisation on every task, print a table.
#
#   bash scripts/demo.sh [OUT]      # OUT defaults to runs/demo
#   DEMO_METHOD=gloria DEMO_TASKS="classification zero_shot" bash scripts/demo.sh
#   DEMO_TASKS="segmentation detection" bash scripts/demo.sh   # the dense tasks: about a minute
#                                                             # per dataset and checkpoint on 2 cores
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
py="$root/.venv/bin/python"
out="${1:-runs/demo}"
method="${DEMO_METHOD:-prior}"
tasks="${DEMO_TASKS:-classification zero_shot retrieval}"
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false

ckpt="$out/pretrain/$method/final.pt"
if [ -f "$ckpt" ]; then
  echo "[demo] reusing $ckpt (delete $out to start over)"
else
  echo "[demo] pretraining $method at the tiny preset on SynthCXR (generated once on first use)"
  ckpt="$("$py" -m bench pretrain --method "$method" --preset tiny --out "$out/pretrain/$method" | tail -n 1)"
fi
for task in $tasks; do
  for which in "$ckpt" random; do
    echo "[demo] $task: $method checkpoint=$(basename "$which")"
    "$py" -m bench evaluate --method "$method" --checkpoint "$which" --task "$task" --preset tiny \
      --fraction 1.0 --seed 0 --results "$out/results"
  done
done
"$py" - "$out/results" <<'PY'
import sys
from collections import defaultdict
from bench.results import iter_results

rows = defaultdict(dict)
for _, r in iter_results(sys.argv[1], errors=[]):
    which = "random" if r.checkpoint == "random" else "pretrained"
    for metric, value in r.metrics.items():
        rows[(r.task, r.dataset, metric)][which] = value
print(f"\n{'task':<16}{'dataset':<12}{'metric':<24}{'pretrained':>11}{'random':>9}")
for (task, dataset, metric), v in sorted(rows.items()):
    fmt = lambda x: f"{x:.3f}" if isinstance(x, float) else "-"
    print(f"{task:<16}{dataset:<12}{metric:<24}{fmt(v.get('pretrained')):>11}{fmt(v.get('random')):>9}")
PY
echo "[demo] results in $out/results"
