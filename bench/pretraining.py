"""Pretraining as a function: one method at one config, returning its checkpoint.

:func:`pretrain` is what ``bench pretrain`` runs (argument parsing and printing stay in the CLI).
:func:`ensure_pretrained` is what ``bench run`` and ``bench ablate`` use: the output folder is named
by :func:`pretrain_key` (method, ablation, the hash of every config section but ``eval``, and the
data source), so a finished pretraining (``final.pt``) is reused, an interrupted one (``last.pt``)
resumes exactly, and another ``--set`` or seed gets its own folder.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from bench.config import BenchConfig, parse_overrides, resolve
from bench.errors import UserError
from bench.registry import METHODS
from bench.results import config_hash, variant_name

log = logging.getLogger(__name__)
PRETRAIN_DIR = "_pretrain"  # under a results folder (skipped by the results reader)


@dataclass(frozen=True)
class Pretraining:
    """One pretraining: method, ablation and its resolved config (seed = ``cfg.train.seed``)."""

    method: str
    drop: tuple[str, ...]
    cfg: BenchConfig
    data: str | Path | None = None

    @property
    def variant(self) -> str:
        return variant_name(self.method, self.drop)


def pretrain_config(method: str, preset: str, overrides: dict[str, str] | tuple[str, ...] = (),
                    seed: int | None = None) -> BenchConfig:
    """The resolved config of a pretraining (``seed`` sets ``train.seed``)."""
    pairs = dict(overrides) if isinstance(overrides, dict) else parse_overrides(list(overrides))
    if seed is not None:
        pairs["train.seed"] = str(seed)
    return resolve(preset, method, pairs, getattr(METHODS.get(method), "Config", None))


def pretrain_key(job: Pretraining) -> str:
    """sha256 (hex) naming a pretraining: method, ablation, config hash and data source."""
    from bench.data.resolve import data_source

    settings = {k: v for k, v in job.cfg.to_dict().items() if k != "eval"}  # evaluation does not train
    ident = {"method": job.method, "drop": sorted(job.drop), "config_hash": config_hash(settings),
             "preset": job.cfg.preset, "data": data_source("mimic-cxr", job.data, job.cfg)}
    return hashlib.sha256(json.dumps(ident, sort_keys=True, default=str).encode()).hexdigest()


def pretrain_dir(job: Pretraining, results: str | Path) -> Path:
    return Path(results) / PRETRAIN_DIR / f"{job.variant}_seed{job.cfg.train.seed}_{pretrain_key(job)[:12]}"


def pretrain(job: Pretraining, out: str | Path, resume: bool = False) -> Path:
    """Train ``job`` into ``out``; the path of ``final.pt`` (every rank returns it under torchrun)."""
    from bench import dist
    from bench.data.pretrain import PretrainDataset
    from bench.data.resolve import dataset_root
    from bench.registry import DATASETS
    from bench.seeding import seed_everything
    from bench.train import Trainer

    cls = METHODS.get(job.method)
    cfg = job.cfg
    try:
        dist.init_distributed(cfg.train.device)
        if not dist.is_main():  # one voice: the other ranks log warnings and errors only
            logging.getLogger().setLevel(logging.WARNING)
        seed_everything(cfg.train.seed)  # the same initial weights on every rank
        root = dataset_root("mimic-cxr", job.data, cfg)
        table = DATASETS.get("mimic-cxr").read(root, min_sentences=cfg.data.min_sentences)
        if not table.records:
            raise UserError(f"mimic-cxr at {root}: no usable studies ({'; '.join(table.problems[:3]) or 'empty'})")
        dataset = PretrainDataset(table, cfg)
        method = cls.from_config(cfg, drop=job.drop)
        trainer = Trainer(method, dataset, cfg, Path(out))
        final = trainer.run(resume=resume)
        summary = trainer.summary
        log.info("%s: %d steps in %.1f s, %.1f images/s; checkpoint %s", job.variant, summary["steps"],
                 summary["wall_s"], summary["images_per_s"], final)
        return final
    finally:
        dist.cleanup()


def ensure_pretrained(job: Pretraining, results: str | Path) -> tuple[Path, str]:
    """(``final.pt`` of ``job`` under ``results``, "reused" | "resumed" | "trained")."""
    out = pretrain_dir(job, results)
    final = out / "final.pt"
    if final.is_file():
        return final, "reused"
    resume = (out / "last.pt").is_file()
    return pretrain(job, out, resume=resume), "resumed" if resume else "trained"
