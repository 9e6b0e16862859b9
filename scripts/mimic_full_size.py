"""Benchmark (not a test): MIMIC-CXR at its real size, on a generated layout.

    python scripts/mimic_full_size.py OUT [--scale 1.0]

Writes the layout under OUT/mimic-cxr once (tests/bench/data/mimic_layout.py: 377,110 images,
227,835 studies, 65,379 patients), then measures, each in a fresh process under /usr/bin/time -v
with its own empty BENCH_CACHE (OUT/cache): the pretraining index from nothing (reports parsed),
the same from the cache, ``bench data check`` (headers only) and ``bench data splits``. Prints one
table of wall seconds and peak RSS against the goals (<= 60 s, <= 5 s from the cache, <= 1 GB).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
INDEX = "from bench.data import mimic; t = mimic.read('{root}'); print(len(t), t.counts)"
GOALS = {"index, from nothing": 60.0, "index, from the cache": 5.0}


def timed(label: str, argv: list[str], env: dict[str, str]) -> dict[str, object]:
    proc = subprocess.run(["/usr/bin/time", "-v", *argv], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-3000:])
        raise SystemExit(f"{label}: exit {proc.returncode}")
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", proc.stderr)
    hours, minutes, seconds = (float(g or 0) for g in wall.groups())
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)[1])
    cpu = sum(float(re.search(rf"{k} time \(seconds\): ([\d.]+)", proc.stderr)[1]) for k in ("User", "System"))
    return {"step": label, "wall_s": hours * 3600 + minutes * 60 + seconds, "cpu_s": cpu, "peak_rss_mb": rss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args()
    root = args.out / "mimic-cxr"
    if not (root / "mimic-cxr-2.0.0-metadata.csv").is_file():
        sys.path.insert(0, str(REPO / "tests" / "bench" / "data"))
        import mimic_layout

        print(mimic_layout.write(root, args.scale, progress=True), flush=True)
    cache = args.out / "cache"
    shutil.rmtree(cache, ignore_errors=True)
    env = {**os.environ, "BENCH_CACHE": str(cache), "PYTHONPATH": str(REPO)}
    python = sys.executable
    splits = args.out / "splits"
    steps = [
        ("index, from nothing", [python, "-c", INDEX.format(root=root)]),
        ("index, from the cache", [python, "-c", INDEX.format(root=root)]),
        ("data check (headers)", [python, "-m", "bench", "data", "check", "--dataset", "mimic-cxr",
                                  "--root", str(root), "--json"]),
        ("data splits", [python, "-m", "bench", "data", "splits", "--dataset", "mimic-cxr", "--root",
                         str(root), "--out", str(splits)]),
    ]
    rows = [timed(label, argv, env) for label, argv in steps]
    from tabulate import tabulate

    for row in rows:
        goal = GOALS.get(row["step"])
        row["goal"] = f"<= {goal:g} s, <= 1024 MB" if goal else "<= 1024 MB"
    print(tabulate(rows, headers="keys", floatfmt=".1f"))


if __name__ == "__main__":
    main()
