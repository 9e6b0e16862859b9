"""PRIOR's training step here against the official code's, side by side on one CPU.

``python -m bench.perf.side_by_side --official CHECKOUT`` builds the official ``Prior`` (imported
from the checkout, see :mod:`bench.perf.official_prior`) and this project's :class:`PRIOR` with
``model.faithful`` on, at one configuration (random-init ResNet-50, the same random-init text
tower folder, 512 prototypes, 16 queries, 8 decoder layers, AdamW, fp32), feeds each the same
images and reports in its own input format, and per text tower and stage runs one warm-up step
per side, then ``--steps`` steps alternating the two (forward, backward, optimizer step) in this
one process, timing wall and process CPU time. Peak RSS comes from one child process per side,
text tower and stage (``--rss off`` skips it). ``--project-set KEY=VALUE`` applies to this
project's side only (e.g. ``train.cpu_bf16=true train.channels_last=true``). Prints a markdown
table of the medians; ``--out FILE`` writes it with every step's timings as JSON.
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.perf import official_prior
from bench.perf.sbs_report import environment, markdown_table, peak_rss_mib, summarise
from bench.perf.sbs_sides import SHARED, Side, build_side

SIDES = ("official", "project")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.perf.side_by_side", description=__doc__.split("\n\n")[0])
    p.add_argument("--official", required=True, help="a checkout of QtacierP/PRIOR (folders codes/, configs/)")
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    p.add_argument("--steps", type=int, default=5, help="timed steps per side and cell (default 5)")
    p.add_argument("--batch", type=int, default=8, help="image-report pairs (default 8)")
    p.add_argument("--image-size", type=int, default=224, help="pixels, a multiple of 32 (default 224)")
    p.add_argument("--stages", type=_stages, default=("stage1", "stage2", "stage3"), help="e.g. 1,2,3")
    p.add_argument("--text", type=_towers, default=("bert-base", "minilm"), help="text tower shapes")
    p.add_argument("--project-set", nargs="*", default=[], metavar="KEY=VALUE",
                   help="config overrides for this project's side only")
    p.add_argument("--rss", choices=("cell", "off"), default="cell",
                   help="peak RSS from one child process per side, tower and stage (default), or off")
    p.add_argument("--rss-steps", type=int, default=2, help="steps each RSS child runs (default 2)")
    p.add_argument("--tower-dir", help="folder for the random-init text towers (default: a temporary one)")
    p.add_argument("--out", help="write the results as JSON here")
    p.add_argument("--rss-child", choices=SIDES, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def _stages(text: str) -> tuple[str, ...]:
    names = tuple(f"stage{s.strip().removeprefix('stage')}" for s in text.split(",") if s.strip())
    bad = [n for n in names if n not in ("stage1", "stage2", "stage3")]
    if bad or not names:
        raise argparse.ArgumentTypeError(f"stages are 1, 2, 3; got {text!r}")
    return names


def _towers(text: str) -> tuple[str, ...]:
    from bench.perf.text_shape import SHAPES

    names = tuple(s.strip() for s in text.split(",") if s.strip())
    bad = [n for n in names if n not in SHAPES]
    if bad or not names:
        raise argparse.ArgumentTypeError(f"text towers are {', '.join(SHAPES)}; got {text!r}")
    return names


# -- measuring ------------------------------------------------------------------------------------
def timed(side: Side) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    side.step()
    return time.perf_counter() - wall, time.process_time() - cpu


def measure_tower(args: argparse.Namespace, tower: str, text_dir: str) -> list[dict[str, Any]]:
    sides = {name: build_side(name, args, text_dir) for name in SIDES}
    rows = []
    for stage in args.stages:
        row: dict[str, Any] = {"text": tower, "stage": stage}
        for name, side in sides.items():
            side.set_stage(stage)
            row[name] = {"warmup_terms": side.step(), "wall_s": [], "cpu_s": []}
        for _ in range(args.steps):
            for name, side in sides.items():  # alternating: each pair of steps sees the same load
                wall, cpu = timed(side)
                row[name]["wall_s"].append(wall)
                row[name]["cpu_s"].append(cpu)
        rows.append(row)
        print(f"# {tower} {stage}: " + ", ".join(
            f"{n} {sorted(row[n]['wall_s'])[len(row[n]['wall_s']) // 2]:.3f} s" for n in SIDES
        ), file=sys.stderr, flush=True)
    del sides
    gc.collect()
    return rows


def child_rss(args: argparse.Namespace, side: str, tower: str, stage: str, text_dir: str) -> float | None:
    """Peak RSS (MiB) of a child process that builds one side and runs ``--rss-steps`` steps."""
    cmd = [sys.executable, "-m", "bench.perf.side_by_side", "--official", str(args.official),
           "--threads", str(args.threads), "--batch", str(args.batch), "--image-size", str(args.image_size),
           "--stages", stage, "--text", tower, "--tower-dir", str(Path(text_dir).parent),
           "--rss-steps", str(args.rss_steps), "--rss-child", side]
    if args.project_set:
        cmd += ["--project-set", *args.project_set]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        print(f"# peak RSS of {side} {tower} {stage} not measured:\n{out.stderr[-2000:]}", file=sys.stderr)
        return None
    return float(json.loads(out.stdout.strip().splitlines()[-1])["peak_rss_mib"])


def run_child(args: argparse.Namespace, text_dir: str) -> int:
    side = build_side(args.rss_child, args, text_dir)
    side.set_stage(args.stages[0])
    for _ in range(max(1, args.rss_steps)):
        side.step()
    print(json.dumps({"peak_rss_mib": peak_rss_mib()}))
    return 0


def config_record(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "image_encoder": "resnet50, random init, 1 channel, attention pool", "image_size": args.image_size,
        "batch": args.batch, "steps": args.steps, "stages": list(args.stages), "text": list(args.text),
        "embed_dim": "the text tower's hidden size (768 bert-base, 384 minilm)",
        "optimizer": "AdamW", "precision": "fp32 (official); project: fp32 unless --project-set says otherwise",
        "project_faithful": True, "project_set": list(args.project_set),
        "official_text_tokens": "padded to 256 (its data loader)",
        "project_text_tokens": "model.pad_to_longest (default: the batch's longest report; false: model.max_text_tokens)",
        "project_step_context": "train.deterministic (default on, as the trainer on CPU) and bench.precision.step_context",
        "shared": {k: {"value": v, "official": o, "project": p} for k, (v, o, p) in SHARED.items()},
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        official_prior.check_checkout(args.official)
    except official_prior.CheckoutError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    import torch

    from bench.perf.text_shape import write_text_tower

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="sbs-towers-") as tmp:
        root = Path(args.tower_dir or tmp)
        if args.rss_child:
            return run_child(args, str(write_text_tower(args.text[0], root / args.text[0])))
        rows = []
        for tower in args.text:
            text_dir = str(write_text_tower(tower, root / tower))
            tower_rows = measure_tower(args, tower, text_dir)
            for row in tower_rows:
                for side in SIDES:
                    row[side]["peak_rss_mib"] = (
                        child_rss(args, side, tower, row["stage"], text_dir) if args.rss == "cell" else None
                    )
            rows.extend(tower_rows)
    report = {"environment": environment(args.official), "config": config_record(args), "rows": summarise(rows)}
    print(markdown_table(report["rows"], args.steps))
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
