"""A tiny method and image-report data for the training-engine tests (no real method needed).

Tests that reach ``DummyMethod`` by name (METHODS["dummy"]) use the ``dummy_registered`` fixture
(``tests/conftest.py``), which registers it for the test module and removes it after.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from bench.api import ImageFeatures, Method, Stage, TextFeatures
from bench.config import resolve
from bench.data.base import Record, Table

WORDS = ("left", "right", "upper", "lower", "opacity", "effusion", "clear", "normal")


@dataclass
class DummyConfig:
    width: int = 8
    dim: int = 16
    vocab: int = 101
    n_stages: int = 1
    nan_at_call: int = -1  # forward call (1-based) that returns a NaN loss
    raise_at_call: int = -1  # forward call that raises KeyboardInterrupt (an interruption)


class DummyMethod(Method):
    name = "dummy"
    components = ("extra_head",)
    Config = DummyConfig

    def __init__(self, c: DummyConfig, drop: tuple[str, ...] = ()) -> None:
        super().__init__(drop)
        self.c = c
        self.image = nn.Sequential(
            nn.Conv2d(1, c.width, 3, stride=2, padding=1),
            nn.BatchNorm2d(c.width),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Dropout(0.2),  # draws from the global RNG: resume must restore it
            nn.Linear(c.width, c.dim),
        )
        self.text = nn.EmbeddingBag(c.vocab, c.dim, mode="mean")
        self.extra = nn.Linear(c.dim, c.dim)  # used in stage "b" only
        self.logit_scale = nn.Parameter(torch.tensor(math.log(10.0)))
        self.calls = 0
        self.stage = ""
        self.stage_calls: list[str] = []

    @classmethod
    def from_config(cls, cfg, drop=()):
        return cls(cfg.method, drop)

    def tokenize(self, reports):
        ids, offsets = [], []
        for sentences in reports:
            offsets.append(len(ids))
            words = " ".join(sentences).lower().replace(".", " ").split() or ["<empty>"]
            ids.extend(zlib.crc32(w.encode()) % self.c.vocab for w in words)
        return {"ids": torch.tensor(ids, dtype=torch.long), "offsets": torch.tensor(offsets, dtype=torch.long)}

    def encode_image(self, images):
        return ImageFeatures(self.image(images))

    def encode_text(self, text):
        return TextFeatures(self.text(text["ids"], text["offsets"]))

    def stages(self, total_steps, train_cfg):
        if self.c.n_stages == 1:
            return [Stage("main", total_steps, train_cfg.lr, train_cfg.warmup_steps)]
        first = total_steps // 2
        return [
            Stage("a", first, train_cfg.lr, train_cfg.warmup_steps),
            Stage("b", total_steps - first, train_cfg.lr / 2, 1, train_cfg.lr / 20),
        ]

    def set_stage(self, stage):
        self.stage = stage
        self.stage_calls.append(stage)
        self.extra.requires_grad_(stage == "b" and self.enabled("extra_head"))

    def forward(self, batch):
        self.calls += 1
        if self.calls == self.c.raise_at_call:
            raise KeyboardInterrupt("simulated interruption")
        img = nn.functional.normalize(self.encode_image(batch["images"]).global_, dim=-1)
        txt = nn.functional.normalize(self.encode_text(batch["text"]).global_, dim=-1)
        logits = self.logit_scale.exp() * img @ txt.t()
        labels = torch.arange(len(img), device=img.device)
        loss = (nn.functional.cross_entropy(logits, labels) + nn.functional.cross_entropy(logits.t(), labels)) / 2
        if self.calls == self.c.nan_at_call:
            loss = loss * float("nan")
        terms = {"contrastive_loss": loss, "scale": self.logit_scale.exp().detach()}
        if self.stage == "b" and self.enabled("extra_head"):
            terms["extra_loss"] = 0.01 * self.extra(img).pow(2).mean()
        return terms


def make_table(root: Path, studies: int = 16, size: int = 24, seed: int = 0) -> Table:
    """Studies of 1-2 frontal PNGs (+ one lateral that must be skipped) whose bright side the
    report names; written under ``root``."""
    rng = np.random.default_rng(seed)
    records = []
    for s in range(studies):
        side = "left" if s % 2 else "right"
        sentences = (f"There is {side} opacity.", "The heart is normal.", f"No {'right' if s % 2 else 'left'} effusion.")
        for view, k in (("PA", 0), ("AP", 1), ("LATERAL", 2)):
            if view == "AP" and s % 3:
                continue
            pixels = rng.integers(0, 60, (size, size)).astype(np.uint8)
            half = slice(size // 2, None) if side == "left" else slice(None, size // 2)
            pixels[:, half] += 120
            path = root / f"s{s:04d}" / f"{k}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels).save(path)
            split = "train" if s < studies - 2 else "test"
            records.append(Record(key=f"{s}-{k}", image=path, split=split, sentences=sentences,
                                  study=f"s{s:04d}", meta={"view": view}))
    return Table(dataset="mimic-cxr", root=root, records=records)


def make_cfg(**overrides):
    base = {
        "model.image_size": 16,
        "train.batch_size": 4,
        "train.num_workers": 0,
        "train.max_steps": 8,
        "train.ckpt_every": 3,
        "train.log_every": 1,
        "train.lr": 1e-2,
        "train.warmup_steps": 2,
        "train.grad_clip": 1.0,
        "train.threads": 1,
        "train.device": "cpu",
    }
    base.update(overrides)
    return resolve("tiny", "dummy", base, DummyConfig)


# -- an "official" format for the import tests (a bench.registry.FORMATS entry) --------------------
METHOD = "dummy"
DROPPED = ("official.unused.",)


def convert_official(state_dict):
    """``official.<key>`` -> ``<key>``; everything else is unmatched."""
    mapped, unmatched = {}, []
    for key, value in state_dict.items():
        if key.startswith("official.") and not key.startswith(DROPPED):
            mapped[key[len("official."):]] = value
        else:
            unmatched.append(key)
    return mapped, sorted(unmatched)
