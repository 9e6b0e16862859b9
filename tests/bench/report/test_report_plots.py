"""The label-efficiency figure's curves: identical random-init rows are drawn once."""

from __future__ import annotations

import pandas as pd

from bench.report import plots


def _rows(method: str, random: bool, means: tuple[float, float]) -> list[dict]:
    row = f"{method} (random init)" if random else method
    return [{"row": row, "method": method, "random": random, "fraction": f, "mean": m, "std": float("nan"), "n": 1,
             "metric": "auroc"} for f, m in zip((0.1, 1.0), means)]


def test_identical_random_init_rows_become_one_grey_curve_and_distinct_ones_stay():
    cells = pd.DataFrame(_rows("convirt", False, (0.7, 0.8)) + _rows("gloria", False, (0.6, 0.9))
                         + _rows("convirt", True, (0.5, 0.6)) + _rows("gloria", True, (0.5, 0.6))
                         + _rows("prior", False, (0.6, 0.7)) + _rows("prior", True, (0.5, 0.61)))
    colours = {"convirt": "C0", "gloria": "C1", "prior": "C2"}
    curves = {label: (colour, random) for label, _, colour, random in plots._curves(cells, colours)}
    assert curves == {
        "convirt": ("C0", False), "gloria": ("C1", False), "prior": ("C2", False),
        "convirt = gloria (random init)": ("0.45", True), "prior (random init)": ("C2", True),
    }


def test_label_efficiency_writes_a_png(tmp_path):
    cells = pd.DataFrame(_rows("convirt", False, (0.7, 0.8)) + _rows("convirt", True, (0.5, 0.6)))
    path = plots.label_efficiency(cells, "classification / chexpert ($x$)", tmp_path / "curve.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
