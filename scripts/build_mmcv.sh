#!/usr/bin/env bash
# Build an mmcv wheel with compiled ops against the installed torch, into a wheel cache folder.
# usage: build_mmcv.sh PYTHON VERSION OUT_DIR
# mmcv 2.1.0's setup.py asks for -std=c++17, but recent torch headers require C++20: the flag is
# patched in the unpacked source before building. Debug symbols are stripped (82 MB -> ~1.4 MB).
set -euo pipefail
py="$1"; version="$2"; mkdir -p "$3"; out="$(cd "$3" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
cd "$work"
"$py" -m pip download -q --no-deps --no-binary :all: "mmcv==$version"
tar xzf "mmcv-$version.tar.gz"
sed -i 's/-std=c++17/-std=c++20/g' "mmcv-$version/setup.py"
export MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}"
if [ "${MMCV_CUDA:-0}" = "1" ]; then export FORCE_CUDA=1; else export FORCE_CUDA=0; fi
"$py" -m pip wheel -q --no-build-isolation --no-deps "./mmcv-$version" -w dist
whl="$(ls dist/mmcv-*.whl)"
mkdir unpacked && (cd unpacked && "$py" -m zipfile -e "../$whl" .)
find unpacked -name '_ext*.so' -exec strip --strip-debug {} \;
"$py" -m pip install -q wheel
"$py" -m wheel pack unpacked -d "$out" >/dev/null 2>&1 || cp "$whl" "$out/"
ls -l "$out"
