"""Where a training step's CPU time goes: ``python -m bench.perf.profile --method prior --stage stage3``.

Builds the step of :mod:`bench.perf.step` (``--preset``, ``--batch``, ``--set`` levers such as
``train.cpu_bf16=true``), runs one warm-up step, then profiles ``--steps`` steps with
``torch.profiler`` and prints the top operators by self CPU time (``--out`` also writes the table).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    import torch
    from torch.profiler import ProfilerActivity, profile

    from bench.config import parse_overrides
    from bench.perf.step import build_step

    p = argparse.ArgumentParser(prog="python -m bench.perf.profile", description=__doc__.split("\n\n")[0])
    p.add_argument("--method", default="prior")
    p.add_argument("--stage", default=None, help="PRIOR: stage1 | stage2 | stage3")
    p.add_argument("--preset", default="tiny")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--rows", type=int, default=25)
    p.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: leave as is)")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE")
    p.add_argument("--out", type=Path, help="also write the table here")
    args = p.parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    step = build_step(args.method, args.preset, args.batch, parse_overrides(args.set), args.stage)
    step()  # warm-up: allocations, the oneDNN primitive cache
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(args.steps):
            step()
    table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.rows)
    head = (f"{args.method} {args.stage or ''} preset {args.preset} batch {args.batch} "
            f"threads {torch.get_num_threads()} set {' '.join(args.set) or '-'}; {args.steps} steps\n")
    print(head + table)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(head + table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
