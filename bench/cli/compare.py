"""``bench compare A B``: paired differences between two result sets on the same samples.

A and B are result JSONs or folders of them (two methods, or a method and its ablation). Each side
takes its pretrained results (``--a-init`` / ``--b-init random`` takes the random-init rows that
``bench run`` writes beside them: ``bench compare R/prior R/prior --b-init random`` is what
pretraining gains). Results pair up by (task, dataset, protocol, label fraction, evaluation seed,
pretraining seed); a pair whose split hashes differ is
refused: its test samples differ, so no paired statement can be made. For every metric of every
pair the table gives A, B, A - B with its paired percentile bootstrap interval (both sides
resampled with the same indices from their saved predictions), the two-sided bootstrap p-value,
DeLong's p-value for an AUROC of one class (or a binary AUROC), and both families of p-values
Holm-adjusted over the whole table.

``--over-seeds`` asks another question: not "are these two models different on these samples" but
"does A's method differ from B's beyond the spread over pretraining seeds" (a change of numerics
such as ``train.cpu_bf16`` makes a different model at every seed, as another seed would). Per
(task, dataset, protocol, fraction, evaluation seed) it gives each side's mean and std over its
pretraining seeds, the difference of means and Welch's t-test, Holm-adjusted over the table
(:mod:`bench.stats.seeds`).
"""

from __future__ import annotations

import argparse
import csv
import io
import math

from bench.errors import UserError

HELP = "paired bootstrap intervals, p-values (DeLong for AUROC) and Holm-adjusted p-values of A - B"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("a", metavar="RESULTS_A", help="result JSON or folder (e.g. results/runs/prior)")
    parser.add_argument("b", metavar="RESULTS_B", help="result JSON or folder to compare against")
    for side in ("a", "b"):
        parser.add_argument(f"--{side}-init", choices=("pretrained", "random"), default="pretrained",
                            help=f"which models of {side.upper()} to take (default pretrained)")
    parser.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    parser.add_argument("--level", type=float, default=0.95, help="interval level (default 0.95)")
    parser.add_argument("--format", choices=("md", "csv"), default="md", help="table format (default md)")
    parser.add_argument("--over-seeds", action="store_true",
                        help="each side's mean and std over its pretraining seeds and Welch's t-test, "
                             "instead of the per-seed paired bootstrap")


def _fmt(x: float, digits: int = 4) -> str:
    return "" if x is None or not math.isfinite(x) else f"{x:.{digits}f}"


def _p(x: float) -> str:
    return "" if not math.isfinite(x) else (f"{x:.2g}" if x < 0.001 else f"{x:.3f}")


def table_rows(args: argparse.Namespace, matched: list) -> list[dict[str, str]]:
    from bench.stats.audit import paired_table

    out = []
    for m, r in paired_table(matched, args.resamples, args.seed, args.level):
        d = r.paired
        out.append({
            "task": m["task"], "dataset": m["dataset"], "fraction": f"{m['fraction']:g}", "seed": str(m["seed"]),
            "pretrain seed": "" if m["pretrain_seed"] is None else str(m["pretrain_seed"]),
            "metric": r.metric, "A": _fmt(d.a), "B": _fmt(d.b), "A-B": _fmt(d.difference),
            f"{d.level:.0%} CI": f"[{_fmt(d.low)}, {_fmt(d.high)}]" if math.isfinite(d.low) else "",
            "p": _p(d.p_value), "p Holm": _p(r.holm_p), "p DeLong": _p(r.delong_p), "DeLong Holm": _p(r.delong_holm_p),
        })
    return out


def seed_rows(rows: list) -> list[dict[str, str]]:
    import numpy as np

    def spread(x: tuple[float, ...]) -> str:
        return f"{np.mean(x):.4f} ± {np.std(x, ddof=1):.4f}"

    return [{"task": r.cell["task"], "dataset": r.cell["dataset"], "fraction": f"{r.cell['fraction']:g}",
             "seed": str(r.cell["seed"]), "metric": r.metric, "n A": str(len(r.a)), "n B": str(len(r.b)),
             "A mean ± std": spread(r.a), "B mean ± std": spread(r.b), "A-B": _fmt(r.difference),
             "p Welch": _p(r.p_value), "p Holm": _p(r.holm_p)} for r in rows]


def _emit(args: argparse.Namespace, rows: list[dict[str, str]], header: str) -> None:
    from tabulate import tabulate

    if args.format == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else ["metric"])
        writer.writeheader()
        writer.writerows(rows)
        print(buffer.getvalue(), end="")
    else:
        print(header)
        print(tabulate(rows, headers="keys", tablefmt="github", disable_numparse=True))


def run(args: argparse.Namespace) -> int:
    from bench.cli.rescore import collect_results
    from bench.stats.audit import pair_results, select_init

    sides = []
    for name, path, init in (("A", args.a, args.a_init), ("B", args.b, args.b_init)):
        found = collect_results([path])
        chosen = select_init(found, init)
        if not chosen:
            other = "random" if init == "pretrained" else "pretrained"
            raise UserError(f"{name} = {path}: none of its {len(found)} result(s) is {init}"
                            + (f"; --{name.lower()}-init {other} takes the others" if found else ""))
        sides.append(chosen)
    if args.over_seeds:
        from bench.stats.seeds import MIN_SEEDS, compare_over_seeds, summary

        found = compare_over_seeds(*sides)
        if not found:
            raise UserError(f"{args.a} and {args.b} share no (task, dataset, protocol, fraction, seed) with at "
                            f"least {MIN_SEEDS} pretraining seeds on each side; nothing to compare over seeds")
        _emit(args, seed_rows(found), f"A = {args.a} ({args.a_init}), B = {args.b} ({args.b_init}); {summary(found)}")
        return 0
    matched = pair_results(*sides)
    if not matched:
        raise UserError(f"{args.a} and {args.b} share no (task, dataset, protocol, fraction, seed); nothing to compare")
    rows = table_rows(args, matched)
    _emit(args, rows, f"A = {args.a} ({args.a_init}), B = {args.b} ({args.b_init}); {len(matched)} paired result(s), "
                      f"{len(rows)} metrics; paired percentile bootstrap, {args.resamples} resamples, seed {args.seed}; "
                      "two-sided p-values, Holm-adjusted over the table")
    return 0
