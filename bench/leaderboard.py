"""The leaderboard: result files -> one table, mean +/- std over seeds with the seed count.

One row per method variant (:func:`bench.results.variant_name`: ``prior``,
``prior-no-prototype_bank``) and one ``<variant> (random init)`` row for every variant also
evaluated with ``checkpoint == "random"``. One column per task / dataset / protocol / label
fraction / metric. Only the headline metric of each task is shown (:data:`HEADLINE`; a plugin
task may declare its own ``HEADLINE``, else its alphabetically first metric), every metric with
``all_metrics``.

Comparability. Results whose task version, preset or split hashes differ are never averaged
together nor put in one column: within a column, every result must share the task version, the
preset (of the model) and the evaluation preset, and all results of one seed (every variant, pretrained or random) must share their split
hashes. A result that breaks this opens a further column, labelled with what differs, and a note
says which result and why. Two results of one variant, seed and column (e.g. two checkpoints of
the same variant) are not two seeds: the newest (``created``) is kept and a note names the other.
The standard deviation is the sample one (ddof=1); a seed whose metric is null (NaN) is left out
of that cell's count. A file that cannot be read is skipped and named in the notes.

``build`` gives a wide :class:`pandas.DataFrame` (columns: (column label, mean/std/n)) with the
notes in ``df.attrs["notes"]``; ``summarise`` the long form (one row per cell) that other tables
(ablations, the report's curves) group further; ``render`` prints either wide form.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from tabulate import tabulate

from bench.results import PRIVATE_PREFIX, Result, load_result, variant_name

log = logging.getLogger(__name__)

# The headline metric of each built-in task (what a paper's main table reports for it).
HEADLINE: dict[str, str] = {
    "classification": "auroc",  # macro AUROC (multi-label CheXpert, binary RSNA/SIIM, COVIDx one-vs-rest)
    "zero_shot": "auroc",  # threshold-free, defined on both the 5x200 and the RSNA setups
    "retrieval": "i2t_P@1",  # image-to-text precision at 1 on the 8x200-style set
    "segmentation": "dice_mgca",  # GLoRIA/MGCA get_dice (all test images), what their tables report
    "detection": "map_40_75",  # MGCA's mAP over IoU 0.4:0.75
}
TASK_ORDER = ("classification", "zero_shot", "retrieval", "segmentation", "detection")
FORMATS: dict[str, str] = {"md": "github", "latex": "latex_booktabs", "html": "html", "csv": ""}
RANDOM = " (random init)"
STATS = ("mean", "std", "n")
MISSING = "-"


@dataclass
class Loaded:
    """What :func:`load` read: the results and one note per file it skipped."""

    results: list[Result] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def load(results_dir: Path | str) -> Loaded:
    """Every result under ``results_dir`` (not in ``_``-folders); unreadable files are noted, not fatal."""
    root = Path(results_dir)
    out = Loaded()
    for path in sorted(root.rglob("*.json")):
        if any(part.startswith(PRIVATE_PREFIX) for part in path.relative_to(root).parts[:-1]):
            continue
        try:
            result = load_result(path)
            _check_types(result)
        except (ValueError, TypeError, OSError, UnicodeDecodeError) as exc:
            reason = str(exc).removeprefix(f"{path}: ")
            out.notes.append(f"skipped {path}: {reason}")
            continue
        out.results.append(result)
    return out


def _check_types(r: Result) -> None:
    if not isinstance(r.metrics, dict):
        raise ValueError(f"metrics is a {type(r.metrics).__name__}, expected an object")
    for name, value in r.metrics.items():
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise ValueError(f"metric {name!r} is {value!r}, expected a number or null")
    float(r.fraction), int(r.seed)  # noqa: B018 - raise on a malformed field


def train_seed(r: Result) -> int:
    """The pretraining (or random-init) seed of a result: its config's ``train.seed``."""
    return int((r.config.get("train") or {}).get("seed", 0) or 0)


def row_name(r: Result) -> str:
    return variant_name(r.method, r.ablation) + (RANDOM if r.checkpoint == "random" else "")


def headline(task: str, available: Iterable[str]) -> str:
    """The metric shown for ``task`` by default (a plugin task's ``HEADLINE``, else its first metric)."""
    available = sorted(available)
    wanted = HEADLINE.get(task) or _plugin_headline(task)
    return wanted if wanted in available or not available else available[0]


def _plugin_headline(task: str) -> str | None:
    try:
        from bench.registry import TASKS

        return getattr(TASKS.get(task), "HEADLINE", None)
    except Exception:  # noqa: BLE001 - an unknown or broken plugin falls back to its first metric
        return None


@dataclass
class _Cohort:
    version: str
    preset: str
    eval_preset: str
    splits: dict[int, dict[str, str]] = field(default_factory=dict)
    members: dict[tuple[str, int, int], Result] = field(default_factory=dict)  # (row, train seed, eval seed)
    label: str = ""

    def accepts(self, r: Result) -> bool:
        return (
            r.task_version == self.version
            and r.preset == self.preset
            and r.eval_preset == self.eval_preset
            and self.splits.get(r.seed, r.split_hashes) == r.split_hashes
        )


def _why(first: _Cohort, r: Result) -> list[str]:
    out = []
    if r.task_version != first.version:
        out.append(f"task version {r.task_version} vs {first.version}")
    if r.preset != first.preset:
        out.append(f"preset {r.preset or '(none)'} vs {first.preset or '(none)'}")
    if r.eval_preset != first.eval_preset:
        out.append(f"evaluation preset {r.eval_preset or '(none)'} vs {first.eval_preset or '(none)'}")
    theirs = first.splits.get(r.seed)
    if theirs is not None and theirs != r.split_hashes:
        names = sorted(n for n in set(theirs) | set(r.split_hashes) if theirs.get(n) != r.split_hashes.get(n))
        diffs = ", ".join(f"{n} {str(r.split_hashes.get(n))[:8]} vs {str(theirs.get(n))[:8]}" for n in names)
        out.append(f"split hashes of seed {r.seed} differ ({diffs})")
    return out


def _tag(first: _Cohort, r: Result, number: int) -> str:
    """A short column tag naming what sets a further cohort apart (the notes say it in full)."""
    tags = [f"task v{r.task_version}"] if r.task_version != first.version else []
    tags += [f"preset {r.preset or '(none)'}"] if r.preset != first.preset else []
    tags += [f"eval preset {r.eval_preset or '(none)'}"] if r.eval_preset != first.eval_preset else []
    return f"#{number}: {', '.join(tags) or 'other splits'}"


def _cohorts(group: list[Result], base: str, notes: list[str]) -> list[_Cohort]:
    cohorts: list[_Cohort] = []
    for r in sorted(group, key=lambda r: (r.created, r.key())):
        home = next((c for c in cohorts if c.accepts(r)), None)
        if home is None:
            home = _Cohort(r.task_version, r.preset, r.eval_preset)
            if cohorts:
                why = _why(cohorts[0], r)
                home.label = f" [{_tag(cohorts[0], r, len(cohorts) + 1)}]"
                notes.append(f"{base}: {row_name(r)} seed {r.seed} ({r.key()}) is not comparable with the "
                             f"column's other results ({'; '.join(why)}); shown apart as {base}{home.label}")
            cohorts.append(home)
        slot = (row_name(r), train_seed(r), r.seed)
        if slot in home.members:
            notes.append(f"{base}: {home.members[slot].key()} (created {home.members[slot].created}) "
                         f"superseded by {r.key()} (created {r.created}): one result per variant and seed")
        home.members[slot] = r
        home.splits.setdefault(r.seed, r.split_hashes)
    return cohorts


def _fraction(f: float) -> str:
    return f"{f * 100:g}%"


def summarise(
    results: Iterable[Result] | Path | str, tasks: Sequence[str] | None = None, all_metrics: bool = False
) -> pd.DataFrame:
    """The long table: one row per (variant row, column, metric) with mean, std, n and the seeds."""
    notes: list[str] = []
    if isinstance(results, (str, Path)):
        loaded = load(results)
        results, notes = loaded.results, loaded.notes
    results = [r for r in results if tasks is None or r.task in tasks]
    groups: dict[tuple, list[Result]] = {}
    for r in results:
        groups.setdefault((r.task, r.dataset, r.protocol, float(r.fraction)), []).append(r)
    rows: list[dict[str, Any]] = []
    for (task, dataset, protocol, fraction), group in groups.items():
        base = "/".join(p for p in (task, dataset, protocol, _fraction(fraction)) if p)
        available = {m for r in group for m in r.metrics}
        metrics = sorted(available) if all_metrics else [headline(task, available)]
        for index, cohort in enumerate(_cohorts(group, base, notes)):
            for (row, tseed, seed), r in cohort.members.items():
                for metric in metrics:
                    value = r.metrics.get(metric)
                    low, high = _interval(r, metric)
                    rows.append({
                        "row": row, "method": r.method, "ablation": tuple(r.ablation),
                        "random": r.checkpoint == "random", "task": task, "dataset": dataset,
                        "protocol": protocol, "fraction": fraction, "metric": metric, "cohort": index,
                        "column": f"{base}/{metric}{cohort.label}", "tag": cohort.label, "seed": seed,
                        "train_seed": tseed, "value": math.nan if value is None else float(value),
                        "low": low, "high": high,
                        "higher_is_better": r.higher_is_better.get(metric, True),
                    })
    long = _aggregate(pd.DataFrame(rows))
    long.attrs["notes"] = notes
    return long


KEYS = ["row", "method", "ablation", "random", "task", "dataset", "protocol", "fraction", "metric",
        "cohort", "column", "tag"]


def _interval(r: Result, metric: str) -> tuple[float, float]:
    """The result's stored bootstrap interval of ``metric`` (NaN, NaN where it has none)."""
    stored = ((r.extra or {}).get("ci") or {}).get("metrics") or {}
    bounds = stored.get(metric)
    if not bounds or len(bounds) != 2 or any(b is None for b in bounds):
        return math.nan, math.nan
    return float(bounds[0]), float(bounds[1])


def _aggregate(per_seed: pd.DataFrame) -> pd.DataFrame:
    if per_seed.empty:
        return pd.DataFrame(columns=[*KEYS, "mean", "std", "n", "seeds", "ci_low", "ci_high", "train_std",
                                     "n_train"])
    per_seed = per_seed.assign(_g=per_seed.groupby(KEYS, sort=False, dropna=False).ngroup())
    grouped = per_seed.groupby("_g", sort=True)
    out = grouped[KEYS].first().join(grouped["value"].agg(mean="mean", std="std", n="count"))
    # The test-set interval: the per-result bootstrap bounds averaged over the cell's results.
    out["ci_low"], out["ci_high"] = grouped["low"].mean(), grouped["high"].mean()
    # The pretraining-seed spread: std over train seeds of each train seed's mean over eval seeds.
    by_train = per_seed.groupby(["_g", "train_seed"])["value"].mean().groupby(level=0).agg(["std", "count"])
    out["train_std"], out["n_train"] = by_train["std"], by_train["count"]
    out = out.reset_index(drop=True)
    out["higher_is_better"] = grouped["higher_is_better"].first().to_numpy()
    out["seeds"] = grouped["seed"].agg(lambda s: tuple(sorted(s))).to_numpy()
    order = {t: i for i, t in enumerate(TASK_ORDER)}
    out["_task"] = out["task"].map(lambda t: order.get(t, len(order)))
    out = out.sort_values(["_task", "task", "dataset", "protocol", "fraction", "cohort", "metric"], kind="stable")
    return out.drop(columns="_task").reset_index(drop=True)


def row_order(long: pd.DataFrame) -> list[str]:
    firsts = long.drop_duplicates("row")
    keyed = sorted(zip(firsts["method"], firsts["random"], firsts["ablation"].map(len), firsts["row"]))
    return [row for *_, row in keyed]


def build(
    results: Iterable[Result] | Path | str, tasks: Sequence[str] | None = None, all_metrics: bool = False
) -> pd.DataFrame:
    """The wide table: index = variant rows, columns = (column label, mean|std|n); notes in attrs."""
    long = summarise(results, tasks, all_metrics)
    if long.empty:
        empty = pd.DataFrame(index=pd.Index([], name="variant"), columns=pd.MultiIndex.from_product([[], STATS]))
        empty.attrs["notes"] = list(long.attrs.get("notes", []))
        return empty
    columns = list(dict.fromkeys(long["column"]))
    wide = long.pivot(index="row", columns="column", values=list(STATS))
    wide = wide.swaplevel(0, 1, axis=1)
    wide = wide.reindex(index=row_order(long), columns=pd.MultiIndex.from_product([columns, STATS]))
    wide.index.name = "variant"
    wide.attrs["notes"] = list(long.attrs.get("notes", []))
    return wide


def notes(df: pd.DataFrame) -> list[str]:
    return list(df.attrs.get("notes", []))


def cell(mean: float, std: float, n: float, digits: int = 3) -> str:
    """``0.812 ± 0.010 (n=3)``; no ± for one seed; ``n/a`` when no seed had a value."""
    if n is None or (isinstance(n, float) and math.isnan(n)):
        return MISSING
    if int(n) == 0 or math.isnan(mean):
        return "n/a"
    spread = f" ± {std:.{digits}f}" if int(n) > 1 and not math.isnan(std) else ""
    return f"{mean:.{digits}f}{spread} (n={int(n)})"


def render(df: pd.DataFrame, fmt: str = "md", digits: int = 3, transpose: bool = False) -> str:
    """The wide table as markdown, csv (mean/std/n columns, full precision), LaTeX or HTML.

    ``transpose`` puts the variants in columns and the task columns in rows (what a terminal
    shows best when there are many task columns and few variants); not for csv.
    """
    if fmt not in FORMATS:
        raise ValueError(f"format {fmt!r} unknown; valid: {', '.join(FORMATS)}")
    labels = list(dict.fromkeys(df.columns.get_level_values(0)))
    if fmt == "csv":
        flat = df.copy()
        for label, stat in df.columns:
            if stat == "n":
                flat[(label, stat)] = flat[(label, stat)].astype("Int64")  # counts without ".0"
        flat.columns = [f"{label} {stat}" for label, stat in df.columns]
        return flat.to_csv()
    table = [
        [row, *(cell(df.at[row, (c, "mean")], df.at[row, (c, "std")], df.at[row, (c, "n")], digits) for c in labels)]
        for row in df.index
    ]
    headers = ["variant", *labels]
    if transpose:
        headers, table = ["column", *df.index], [list(col) for col in zip(*table)][1:]
        table = [[label, *values] for label, values in zip(labels, table)]
    text = tabulate(table, headers=headers, tablefmt=FORMATS[fmt], disable_numparse=True)
    return text.replace("±", r"$\pm$") if fmt == "latex" else text


__all__ = ["FORMATS", "HEADLINE", "Loaded", "build", "cell", "headline", "load", "notes", "render", "row_order", "summarise"]
