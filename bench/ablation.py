"""Ablations: which variants ``--drop`` asks for, and the table of each against the full method.

``--drop C`` is one variant without component C; ``--drop a+b`` drops both together;
``--drop each`` is every component of the method, one at a time. The table has one row per
(task column, variant): the full method's headline metric, the variant's, and their difference
(variant - full), each as mean +/- std over the (pretraining seed, evaluation seed) pairs both
have; the difference's spread is that of the paired per-seed differences.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from tabulate import tabulate

from bench.errors import UserError
from bench.leaderboard import TASK_ORDER, headline, train_seed
from bench.registry import METHODS
from bench.results import Result, variant_name


def components(method: str) -> tuple[str, ...]:
    """The components ``--drop`` may name, from the method's registry entry (one source of truth)."""
    return tuple(METHODS.meta(method).get("components", ()))


def variants(method: str, drops: Sequence[str]) -> list[tuple[str, ...]]:
    """``[(), variant, ...]``: the full method first, then each ``--drop`` (see the module docstring)."""
    valid = components(method)
    out: list[tuple[str, ...]] = [()]
    for spec in drops:
        if spec == "each":
            wanted = [(c,) for c in valid]
        else:
            parts = tuple(sorted({p.strip() for p in spec.split("+") if p.strip()}))
            for part in parts:
                if part not in valid:
                    near = difflib.get_close_matches(part, valid, n=1)
                    hint = f" (did you mean {near[0]}?)" if near else ""
                    raise UserError(f"--drop {part}: {method} has no such component{hint}; "
                                    f"valid: {', '.join(valid) or '(none)'}, or each")
            wanted = [parts] if parts else []
        out.extend(v for v in wanted if v not in out)
    if len(out) == 1:
        raise UserError(f"--drop: name at least one component of {method} ({', '.join(valid) or 'none'}) or each")
    return out


def _column(r: Result, metric: str) -> str:
    return "/".join(p for p in (r.task, r.dataset, r.protocol, f"{r.fraction * 100:g}%", metric) if p)


def table(results: Iterable[Result], method: str, wanted: Sequence[tuple[str, ...]],
          paths: Sequence[Path] | None = None) -> pd.DataFrame:
    """One row per (column, variant): full, variant and delta as mean / std / n (pretrained only).

    With the results' ``paths``, each delta also gets its paired bootstrap interval and p-value
    from the saved predictions (:func:`bench.stats.audit.mean_paired_delta`), Holm-adjusted over
    the table.
    """
    rows = []
    results = list(results)
    for r, path in zip(results, paths or [None] * len(results)):
        if r.method != method or r.checkpoint == "random" or tuple(sorted(r.ablation)) not in wanted:
            continue
        metric = headline(r.task, r.metrics)
        value = r.metrics.get(metric)
        rows.append({"column": _column(r, metric), "task": r.task, "variant": variant_name(method, r.ablation),
                     "pair": (train_seed(r), r.seed), "value": math.nan if value is None else float(value),
                     "path": path, "metric": metric})
    if not rows:
        return pd.DataFrame(columns=["column", "variant", "full", "value", "delta"])
    per_seed = pd.DataFrame(rows).drop_duplicates(["column", "variant", "pair"], keep="last")
    full_name = variant_name(method)
    out = []
    order = {t: i for i, t in enumerate(TASK_ORDER)}
    for column, group in sorted(per_seed.groupby("column"), key=lambda g: (order.get(g[1]["task"].iloc[0], 99), g[0])):
        full = group[group["variant"] == full_name].set_index("pair")["value"]
        for name in [variant_name(method, v) for v in wanted if v]:
            mine = group[group["variant"] == name].set_index("pair")["value"]
            paired = (mine - full).dropna()
            out.append({"column": column, "variant": name, "full": _stats(full), "value": _stats(mine),
                        "delta": _stats(paired)})
            if paths is not None:
                out[-1]["paired"] = _paired(group, full_name, name)
    return _holm(pd.DataFrame(out)) if paths is not None else pd.DataFrame(out)


def _paired(group: pd.DataFrame, full_name: str, name: str) -> Any:
    from bench.stats.audit import mean_paired_delta

    paths = {(r.variant, r.pair): r.path for r in group.itertuples()}
    files = [(paths[full_name, p], paths[v, p]) for v, p in paths if v == name and (full_name, p) in paths]
    if not files or any(f is None for pair in files for f in pair):
        return None
    return mean_paired_delta(files, group["metric"].iloc[0])


def _holm(df: pd.DataFrame) -> pd.DataFrame:
    from bench.stats.paired import holm

    df["p_holm"] = holm([d.p_value if d is not None else math.nan for d in df["paired"]]) if len(df) else []
    return df


def _stats(values: pd.Series) -> tuple[float, float, int]:
    values = values.dropna()
    n = len(values)
    return (float(values.mean()) if n else math.nan, float(values.std()) if n > 1 else math.nan, n)


def _fmt(stats: tuple[float, float, int], signed: bool = False) -> str:
    mean, std, n = stats
    if n == 0:
        return "-"
    text = f"{mean:+.3f}" if signed else f"{mean:.3f}"
    return text + (f" ± {std:.3f}" if n > 1 else "") + f" (n={n})"


def _paired_cells(d: Any, p_holm: float) -> list[str]:
    if d is None or not math.isfinite(d.difference):
        return ["-", "-", "-"]
    return [f"[{d.low:+.3f}, {d.high:+.3f}]", f"{d.p_value:.3g}", f"{p_holm:.3g}"]


def render(df: pd.DataFrame, fmt: str = "github") -> str:
    """The ablation table as text (tabulate); with paired statistics, the delta's interval and p-values."""
    body = [[r.column, r.variant, _fmt(r.full), _fmt(r.value), _fmt(r.delta, signed=True)] for r in df.itertuples()]
    headers = ["column", "variant", "full method", "variant value", "delta"]
    if "paired" in df.columns:
        body = [row + _paired_cells(r.paired, r.p_holm) for row, r in zip(body, df.itertuples())]
        headers += ["delta 95% CI (paired bootstrap)", "p", "p Holm"]
    return tabulate(body, headers=headers, tablefmt=fmt,
                    disable_numparse=True)
