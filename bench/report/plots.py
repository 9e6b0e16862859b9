"""The report's figures (matplotlib, Agg backend): label-efficiency curves, ablation bars,
confusion matrices. Each function writes one PNG and returns its path; text drawn into a figure
is passed through :func:`plain` so that matplotlib never reads it as mathtext.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

DPI = 100


def plain(text: str) -> str:
    """Text as matplotlib draws it literally: ``$`` would start mathtext."""
    return str(text).replace("$", r"\$")


def _save(fig: plt.Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return path


def _curves(cells: pd.DataFrame, colours: dict[str, str]) -> list[tuple[str, pd.DataFrame, str, bool]]:
    """(label, points, colour, random) per curve. Random-init rows with identical points (methods
    whose untrained encoders are the same architecture and seed) are drawn once, in grey, named
    ``a = b (random init)``, so one dashed line does not hide the others."""
    curves, merged = [], {}
    for row, points in cells.groupby("row", sort=True):
        points = points.sort_values("fraction")
        method, random = points["method"].iloc[0], bool(points["random"].iloc[0])
        if not random:
            curves.append((row, points, colours[method], False))
            continue
        same = tuple(points[["fraction", "mean", "std", "n"]].fillna(-1.0).round(12).itertuples(index=False, name=None))
        merged.setdefault(same, []).append((method, row, points))
    for group in merged.values():
        method, row, points = group[0]
        if len(group) == 1:
            curves.append((row, points, colours[method], True))
        else:
            curves.append((" = ".join(m for m, _, _ in group) + " (random init)", points, "0.45", True))
    return curves


def label_efficiency(cells: pd.DataFrame, title: str, path: Path) -> Path:
    """Metric vs label fraction (log x) per row of ``cells`` (the long table of one column group):
    one colour per method, its random-init row dashed in the same colour, error bars (std over
    seeds) where a point has several seeds."""
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    methods = sorted(cells["method"].unique())
    colours = {m: f"C{i % 10}" for i, m in enumerate(methods)}
    for label, points, colour, random in _curves(cells, colours):
        x = points["fraction"].to_numpy(float) * 100
        yerr = np.where(points["n"].to_numpy() > 1, points["std"].fillna(0).to_numpy(float), 0.0)
        ax.errorbar(
            x, points["mean"].to_numpy(float), yerr=yerr, marker="o", capsize=3, color=colour,
            linestyle="--" if random else "-", alpha=0.6 if random else 1.0, label=plain(label),
        )
    ax.set_xscale("log")
    fractions = sorted(cells["fraction"].unique() * 100)
    ax.set_xticks(fractions, [f"{f:g}%" for f in fractions])
    ax.minorticks_off()
    ax.set_xlabel("labelled training data")
    ax.set_ylabel(plain(cells["metric"].iloc[0]))
    ax.set_title(plain(title), fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    return _save(fig, path)


def ablation_bars(deltas: pd.DataFrame, title: str, path: Path) -> Path:
    """Horizontal bars: each variant's delta against the full method, one group per column (``std``,
    when given, as error bars)."""
    columns = list(dict.fromkeys(deltas["column"]))
    variants = list(dict.fromkeys(deltas["variant"]))
    height = 0.8 / max(1, len(variants))
    fig, ax = plt.subplots(figsize=(7.5, 0.5 + 0.45 * len(columns) * max(1, len(variants)) ** 0.5))
    y = np.arange(len(columns))
    for i, variant in enumerate(variants):
        part = deltas[deltas["variant"] == variant].set_index("column")
        values = [part["delta"].get(c, np.nan) for c in columns]
        spread = [part["std"].get(c, np.nan) if "std" in part else np.nan for c in columns]
        xerr = np.nan_to_num(np.asarray(spread, dtype=float), nan=0.0)
        ax.barh(y + i * height - 0.4 + height / 2, values, height=height, xerr=xerr, capsize=2,
                label=plain(variant))
    ax.axvline(0.0, color="black", linewidth=0.8)
    ax.set_yticks(y, [plain(c) for c in columns], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("variant minus full method (headline metric)")
    ax.set_title(plain(title), fontsize=10)
    ax.grid(True, axis="x", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    return _save(fig, path)


def confusion(matrix: np.ndarray, classes: Sequence[str], title: str, path: Path) -> Path:
    """Counts with the row-normalised share as colour; rows are the true class."""
    matrix = np.asarray(matrix, dtype=float)
    share = matrix / np.clip(matrix.sum(axis=1, keepdims=True), 1, None)
    size = 1.6 + 0.5 * len(classes)
    fig, ax = plt.subplots(figsize=(size + 1.2, size))
    image = ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
    for i in range(matrix.shape[0]):
        for j in range(matrix.shape[1]):
            ax.text(j, i, f"{int(matrix[i, j])}", ha="center", va="center", fontsize=8,
                    color="white" if share[i, j] > 0.5 else "black")
    ticks = range(len(classes))
    ax.set_xticks(ticks, [plain(c) for c in classes], rotation=35, ha="right", fontsize=8)
    ax.set_yticks(ticks, [plain(c) for c in classes], fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(plain(title), fontsize=10)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")
    return _save(fig, path)
