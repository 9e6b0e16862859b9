"""``bench leaderboard --ci``: every number with its test-set interval, beside the seed spread.

Each cell reads ``mean [low, high]``: the mean over the cell's results, and the percentile
bootstrap interval each result stores (``extra["ci"]``, resampling its test set), averaged over
the cell's results. Where several pretraining seeds exist the cell also shows ``± std``, the
spread over pretraining seeds (each seed's mean over its evaluation seeds, sample std), and a
tag saying which source of variation is larger: ``S`` when the pretraining-seed std exceeds the
test set's (the interval's half-width over the normal quantile of its level), ``T`` otherwise.
A note counts the cells of each kind.
"""

from __future__ import annotations

import math

import pandas as pd
from scipy.stats import norm
from tabulate import tabulate

from bench.leaderboard import FORMATS, MISSING, row_order
from bench.stats.resample import DEFAULT_LEVEL

LEGEND = ("--ci: value [low, high] is the mean and the test-set bootstrap interval ({level:.0%}, averaged over "
          "the cell's results); ± is the std over pretraining seeds; S: the pretraining-seed spread is larger "
          "than the test-set's, T: the test set's is larger (its std taken as half the interval over z={z:.2f})")


def test_std(low: float, high: float, level: float = DEFAULT_LEVEL) -> float:
    """The standard deviation a normal interval of ``level`` from ``low`` to ``high`` implies."""
    return (high - low) / (2 * norm.ppf(0.5 + level / 2))


def larger_source(train_std: float, low: float, high: float, level: float = DEFAULT_LEVEL) -> str | None:
    """``"S"`` (pretraining seeds) or ``"T"`` (test set): which varies more; None when either is unknown."""
    spread = test_std(low, high, level)
    if any(math.isnan(v) for v in (train_std, spread)):
        return None
    return "S" if train_std > spread else "T"


def ci_cell(entry: pd.Series, digits: int = 3) -> str:
    """One cell: ``0.812 [0.790, 0.834]``, or ``0.812 ± 0.010 [0.790, 0.834] (n=3, S)``."""
    n = int(entry["n"])
    if n == 0 or math.isnan(entry["mean"]):
        return "n/a"
    text = f"{entry['mean']:.{digits}f}"
    n_train = entry.get("n_train")
    several = n_train is not None and not pd.isna(n_train) and int(n_train) > 1
    if several and not math.isnan(entry["train_std"]):
        text += f" ± {entry['train_std']:.{digits}f}"
    if not math.isnan(entry["ci_low"]):
        text += f" [{entry['ci_low']:.{digits}f}, {entry['ci_high']:.{digits}f}]"
    else:
        text += " [no interval]"
    tag = larger_source(entry["train_std"], entry["ci_low"], entry["ci_high"]) if several else None
    if n > 1:
        text += f" (n={n}{', ' + tag if tag else ''})"
    return text


def notes(long: pd.DataFrame) -> list[str]:
    """The legend and how many cells vary more over pretraining seeds than over the test set."""
    out = [LEGEND.format(level=DEFAULT_LEVEL, z=norm.ppf(0.5 + DEFAULT_LEVEL / 2))]
    several = long[long["n_train"].fillna(0) > 1]
    tags = [larger_source(t, lo, hi) for t, lo, hi in zip(several["train_std"], several["ci_low"], several["ci_high"])]
    known = [t for t in tags if t]
    if known:
        out.append(f"--ci: of {len(known)} cells with several pretraining seeds, {known.count('S')} vary more over "
                   f"pretraining seeds (S) and {known.count('T')} more over the test set (T)")
    missing = int(long["ci_low"].isna().sum())
    if missing:
        out.append(f"--ci: {missing} cell(s) have no stored interval (results written before intervals were "
                   f"stored, or a metric the bootstrap does not cover)")
    return out


def render(long: pd.DataFrame, fmt: str = "md", digits: int = 3) -> str:
    """The long table (:func:`bench.leaderboard.summarise`) as one table of ``value [low, high]`` cells."""
    if fmt == "csv":
        cols = ["row", "column", "mean", "ci_low", "ci_high", "train_std", "n_train", "n"]
        return long[cols].to_csv(index=False)
    columns = list(dict.fromkeys(long["column"]))
    by_slot = {(r, c): entry for (r, c), entry in zip(zip(long["row"], long["column"]), long.to_dict("records"))}
    table = [
        [row, *(ci_cell(pd.Series(by_slot[(row, c)]), digits) if (row, c) in by_slot else MISSING for c in columns)]
        for row in row_order(long)
    ]
    text = tabulate(table, headers=["variant", *columns], tablefmt=FORMATS[fmt], disable_numparse=True)
    return text.replace("±", r"$\pm$") if fmt == "latex" else text


__all__ = ["LEGEND", "ci_cell", "larger_source", "notes", "render", "test_std"]
