"""Optional realism: label co-occurrence drawn from real CheXpert labels, read at run time.

The torchxrayvision wheel ships ``chexpert_train.csv.gz`` (the real CheXpert train labels). When
``generate(realism=True)`` is asked for, studies draw their set of positive and uncertain labels
from the frontal rows of that file instead of the built-in frequencies. Nothing from the file is
copied into this repository or into generated data beyond the sampled label combinations.
"""

from __future__ import annotations

import csv
import gzip
import importlib.util
import logging
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from bench.data.synth.difficulty import Difficulty
from bench.data.synth.findings import KIND_OF_LABEL, Finding, StudyPlan, sample_finding, sample_negations

log = logging.getLogger(__name__)
CHEXPERT_FILE = "chexpert_train.csv.gz"


def data_dir() -> Path | None:
    """torchxrayvision's data folder, or None when the package is not installed."""
    spec = importlib.util.find_spec("torchxrayvision")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / "data"


@dataclass(frozen=True)
class Realism:
    combos: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]  # (positive kinds, uncertain kinds)
    weights: np.ndarray

    @classmethod
    def load(cls, path: Path | None = None) -> Realism | None:
        """From ``path`` (default: torchxrayvision's copy); None (with a warning) when absent."""
        if path is None:
            folder = data_dir()
            path = folder / CHEXPERT_FILE if folder is not None else None
        if path is None or not path.is_file():
            log.warning(
                "realism requested but %s is not available; using built-in frequencies", CHEXPERT_FILE
            )
            return None
        counts: Counter = Counter()
        with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                if row.get("Frontal/Lateral", "Frontal") != "Frontal":
                    continue
                pos = tuple(sorted(KIND_OF_LABEL[k] for k in KIND_OF_LABEL if _value(row.get(k)) == 1.0))
                unc = tuple(sorted(KIND_OF_LABEL[k] for k in KIND_OF_LABEL if _value(row.get(k)) == -1.0))
                counts[(pos, unc)] += 1
        combos = tuple(sorted(counts))
        weights = np.array([counts[c] for c in combos], dtype=float)
        return cls(combos, weights / weights.sum())

    def sample_plan(
        self, rng: np.random.Generator, diff: Difficulty, exclude: tuple[str, ...] = ()
    ) -> StudyPlan:
        pos, unc = self.combos[int(rng.choice(len(self.combos), p=self.weights))]
        findings = []
        for kind in pos:
            if kind in exclude:
                continue
            f = sample_finding(rng, kind)
            if kind != "device" and rng.random() < diff.mismatch_rate:
                f = replace(f, visibility=diff.faint if rng.random() < 0.5 else 0.0)
            findings.append(f)
        for kind in unc:
            if kind in exclude or kind in pos:
                continue
            f = sample_finding(rng, kind)
            visibility = diff.faint if rng.random() < 0.5 else 0.0
            findings.append(Finding(f.kind, f.side, f.zone, f.severity, "hedged", visibility, f.variant))
        present = {f.kind for f in findings}
        return StudyPlan(tuple(findings), sample_negations(rng, diff, present | set(exclude)))


def _value(text: str | None) -> float | None:
    try:
        return float(text) if text not in (None, "") else None
    except ValueError:
        return None
