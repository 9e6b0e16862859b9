"""Where a training step's CPU time goes: ``python -m bench.perf.profile --method prior --stage stage3``.

Builds the step of :mod:`bench.perf.step` (``--preset``, ``--batch``, ``--set`` levers such as
``train.cpu_bf16=true``), runs one warm-up step, then profiles ``--steps`` steps with
``torch.profiler`` and prints the top operators by self CPU time (``--out`` also writes the table).
``--plain`` times the steps without the profiler instead (median seconds). Both end with the
process's peak RSS, so one run per setting compares memory (e.g. ``train.text_checkpointing``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    import torch
    from torch.profiler import ProfilerActivity, profile

    from bench.config import parse_overrides
    from bench.perf.sbs_report import peak_rss_mib
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
    p.add_argument("--plain", action="store_true", help="time the steps without the profiler (median, peak RSS)")
    args = p.parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    step = build_step(args.method, args.preset, args.batch, parse_overrides(args.set), args.stage)
    step()  # warm-up: allocations, the oneDNN primitive cache
    head = (f"{args.method} {args.stage or ''} preset {args.preset} batch {args.batch} "
            f"threads {torch.get_num_threads()} set {' '.join(args.set) or '-'}; {args.steps} steps\n")
    if args.plain:
        times = []
        for _ in range(args.steps):
            start = time.perf_counter()
            step()
            times.append(time.perf_counter() - start)
        print(head + f"median step {statistics.median(times):.3f} s ({', '.join(f'{t:.3f}' for t in times)}); "
                     f"peak RSS {peak_rss_mib():.0f} MiB")
        return 0
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(args.steps):
            step()
    table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.rows)
    table += f"\npeak RSS {peak_rss_mib():.0f} MiB\n"
    print(head + table)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(head + table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
