"""The sections of the report built from results alone: leaderboard, provenance, label-efficiency
curves, ablation bars and zero-shot confusion matrices. Each returns the section's HTML body and
writes its figures under ``out/img``."""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from bench import leaderboard
from bench.report import plots
from bench.report.page import bullets, esc, img, para, table
from bench.results import Result, config_hash

IMG = "img"


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", str(text)).strip("-")[:80] or "x"


def _rel(path: Path, out: Path) -> str:
    return path.relative_to(out).as_posix()


def leaderboard_section(wide: pd.DataFrame, notes: list[str]) -> str:
    if wide.empty:
        return para("No readable results.") + bullets(notes, "note")
    parts = [
        para("Mean ± standard deviation over seeds (n = seeds) of each task's headline metric; "
             "rows are method variants and their random-init architecture.", "muted"),
        f'<div class="scroll">{leaderboard.render(wide, "html")}</div>',
    ]
    if notes:
        parts += [para("Kept apart or skipped:"), bullets(notes, "note")]
    return "\n".join(parts)


def _split_id(hashes: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(hashes, sort_keys=True).encode()).hexdigest()[:12]


SOURCE_FIELDS = ("kind", "name", "root", "studies", "size", "seed", "generator_version")


def _sources(results: list[Result], data: str | None) -> tuple[list[tuple], list[str]]:
    """Rows of the data-source table (the results' ``data_source``; the rest of each as a hash)."""
    counts: Counter = Counter()
    for r in results:
        src = r.data_source or {}
        rest = {k: v for k, v in src.items() if k not in SOURCE_FIELDS}
        extra = hashlib.sha256(json.dumps(rest, sort_keys=True, default=str).encode()).hexdigest()[:10] if rest else "-"
        counts[(*(str(src.get(k, "-")) for k in SOURCE_FIELDS), extra)] += 1
    if set(counts) == {(*("-" for _ in SOURCE_FIELDS), "-")}:  # results that predate data_source
        where = f"the dataset folder {data}" if data is not None else "the embedded default (SynthCXR)"
        return [], [f"The results do not record their data source; the report reads {where}."]
    return [(*k, n) for k, n in sorted(counts.items())], []


def provenance_section(results: list[Result], data: str | None) -> str:
    if not results:
        return para("No results.")
    commits = Counter(r.git_commit or "(unknown)" for r in results)
    presets = Counter(r.preset or "(none)" for r in results)
    devices = Counter(r.device or "(unknown)" for r in results)
    torch_versions = Counter(r.packages.get("torch", "(unknown)") for r in results)
    facts = [
        ("results", str(len(results))),
        ("commits", ", ".join(f"{c} ({n})" for c, n in commits.most_common())),
        ("presets", ", ".join(f"{p} ({n})" for p, n in presets.most_common())),
        ("devices", ", ".join(f"{d} ({n})" for d, n in devices.most_common())),
        ("torch", ", ".join(f"{v} ({n})" for v, n in torch_versions.most_common())),
    ]
    source_rows, source_notes = _sources(results, data)
    models = Counter(
        (leaderboard.row_name(r), r.preset or "-", r.eval_preset or "-", config_hash(r.config),
         (r.checkpoint_id or ("random" if r.checkpoint == "random" else r.checkpoint_sha256 or "?"))[:16])
        for r in results
    )
    splits = Counter(
        (r.dataset, r.seed, f"{r.fraction * 100:g}%", _split_id(r.split_hashes), ", ".join(sorted(r.split_hashes)))
        for r in results
    )
    return "\n".join([
        table(facts, ["what", "value"]),
        para("Data: where each result's images and labels came from (other settings, e.g. SynthCXR's "
             "difficulty, as a hash)."),
        table(source_rows, [*SOURCE_FIELDS, "other settings", "results"]) if source_rows else "",
        "".join(para(n, "muted") for n in source_notes),
        para("Models: each variant's preset, evaluation preset, resolved-config hash (speed-only settings left "
             "out) and checkpoint identity."),
        table([(*k, n) for k, n in sorted(models.items())],
              ["variant", "preset", "eval preset", "config hash", "checkpoint", "results"]),
        para("Splits: results of one dataset, seed and fraction with the same split-set hash were scored on the "
             "same split files."),
        table([(*k, n) for k, n in sorted(splits.items())],
              ["dataset", "seed", "fraction", "split-set hash", "splits", "results"]),
    ])


def curves_section(long: pd.DataFrame, out: Path) -> str:
    figures = []
    if not long.empty:
        keys = ["task", "dataset", "protocol", "metric", "cohort"]
        methods = long[long["ablation"].map(len) == 0]  # ablations have their own section
        for key, group in methods.groupby(keys, sort=False):
            if group["fraction"].nunique() < 2:
                continue
            task, dataset, protocol, metric, _ = key
            label = " / ".join(p for p in (task, dataset, protocol) if p)
            title = f"{label} ({metric}){group['tag'].iloc[0]}"
            path = plots.label_efficiency(group, title, out / IMG / f"curve-{slug(title)}.png")
            figures.append(img(_rel(path, out), f"label efficiency: {title}"))
    if not figures:
        return para("No task was run at more than one label fraction.")
    intro = para("Headline metric against the labelled fraction of the training split (log scale); dashed: "
                 "random init; error bars: standard deviation over seeds.", "muted")
    return intro + f'<div class="figures curves">{"".join(figures)}</div>'


def ablations_section(results: list[Result], out: Path) -> str:
    """Per method, :func:`bench.ablation.table` (paired over seeds) as bars and as a table."""
    from bench import ablation

    parts = []
    for method in sorted({r.method for r in results if r.ablation and r.checkpoint != "random"}):
        present = sorted({tuple(sorted(r.ablation)) for r in results if r.method == method and r.ablation})
        table_ = ablation.table(results, method, [(), *present])
        rows = table_[table_["delta"].map(lambda d: d[2] > 0)] if not table_.empty else table_
        if rows.empty:
            continue
        bars = pd.DataFrame({"column": rows["column"], "variant": rows["variant"],
                             "delta": rows["delta"].map(lambda d: d[0]), "std": rows["delta"].map(lambda d: d[1])})
        path = plots.ablation_bars(bars, f"{method}: ablations", out / IMG / f"ablation-{slug(method)}.png")
        parts.append(f'<div class="ablation">{img(_rel(path, out), f"{method} ablation deltas")}</div>')
        parts.append(f'<div class="scroll">{ablation.render(rows, "html")}</div>')
    if not parts:
        return para("No ablation shares a column and a seed with its full method.")
    intro = para("Each variant's headline metric minus the full method's, per column, paired over the seeds both "
                 "have (mean ± std of the paired differences; error bars where there are several).", "muted")
    return "\n".join([intro, *parts])


def confusion_section(results: list[Result], out: Path) -> str:
    sums: dict[tuple, np.ndarray] = {}
    seeds: dict[tuple, set] = {}
    for r in results:
        cm = r.extra.get("confusion_matrix") if r.task == "zero_shot" else None
        if not isinstance(cm, dict) or "matrix" not in cm or "classes" not in cm:
            continue
        key = (leaderboard.row_name(r), r.dataset, r.protocol, tuple(cm["classes"]))
        matrix = np.asarray(cm["matrix"], dtype=float)
        if matrix.shape != (len(key[3]), len(key[3])):
            continue
        sums[key] = sums.get(key, 0) + matrix
        seeds.setdefault(key, set()).add(r.seed)
    if not sums:
        return para("No zero-shot result records a confusion matrix (results written before the zero-shot "
                    "task recorded one, or no zero-shot run).")
    figures = []
    for key in sorted(sums, key=lambda k: (k[1], k[0])):
        row, dataset, protocol, classes = key
        title = f"{row}: {dataset} ({len(seeds[key])} seed(s) summed)"
        path = plots.confusion(sums[key], classes, title, out / IMG / f"confusion-{slug(row)}-{slug(dataset)}.png")
        figures.append(img(_rel(path, out), f"confusion matrix: {title}"))
    return para("Rows: true class; columns: predicted (argmax over the class prompts).", "muted") + \
        f'<div class="figures confusion">{"".join(figures)}</div>'


__all__ = ["ablations_section", "confusion_section", "curves_section", "esc",
           "leaderboard_section", "provenance_section", "slug"]
