"""A method and data with planted, perfectly separable structure, for the task tests.

Images are 24x24 grey with a 3x3 grid of regions, one per concept; a region is bright when the
image is positive for its concept. ``PlantedMethod`` reads the nine region means (its image
features) and encodes text as a bag of concept keywords (a negated sentence counts as "normal"),
so image and text of the same concept align and every task can score exactly 1.0.
Tests that reach ``PlantedMethod`` by name (METHODS["planted"]) use the ``planted_registered``
fixture (``tests/conftest.py``), which registers it for the test module and removes it after.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from bench.api import ImageFeatures, Method, TextFeatures
from bench.data.base import CHEXPERT_LABELS, Record, Table

CONCEPTS = (
    "Atelectasis",
    "Cardiomegaly",
    "Consolidation",
    "Edema",
    "Pleural Effusion",
    "Pneumothorax",
    "Pneumonia",
    "Fracture",
    "No Finding",
)
KEYWORDS = tuple(
    re.compile(p, re.I)
    for p in (
        r"atelecta",
        r"cardiomegaly|enlarg",
        r"consolidation",
        r"edema",
        r"effusion",
        r"pneumothora",
        r"pneumonia",
        r"fracture",
        r"clear|normal|unremarkable|no acute",
    )
)
NEGATION = re.compile(r"\b(no|without)\b", re.I)
SIZE = 24


@dataclass
class PlantedConfig:
    scale: float = 1.0


class PlantedBackbone(nn.Module):
    """Region means of the 3x3 grid as [B, 9, 1, 1] (through a trainable 1x1 conv, identity at init)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 1)
        nn.init.ones_(self.conv.weight)
        nn.init.zeros_(self.conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        grid = F.adaptive_avg_pool2d(self.conv(x.mean(1, keepdim=True)), 3)  # [B, 1, 3, 3]
        return grid.flatten(1)[:, :, None, None]


class PlantedMethod(Method):
    name = "planted"
    Config = PlantedConfig

    def __init__(self, c: PlantedConfig | None = None, drop: tuple[str, ...] = ()) -> None:
        super().__init__(drop)
        self.backbone = PlantedBackbone()
        self.encoded_images = 0

    @classmethod
    def from_config(cls, cfg, drop=()):
        return cls(cfg.method, drop)

    @property
    def in_channels(self) -> int:
        return 1

    def image_backbone(self) -> nn.Module:
        return self.backbone

    def encode_image(self, images: torch.Tensor) -> ImageFeatures:
        self.encoded_images += images.shape[0]
        f = self.backbone(images).flatten(1)
        return ImageFeatures(global_=f, local=torch.stack([f, -f], dim=1), extra={"double": 2 * f})

    def tokenize(self, reports: list[list[str]]) -> dict[str, torch.Tensor]:
        rows = []
        for sentences in reports:
            text = " ".join(sentences)
            row = torch.zeros(len(CONCEPTS))
            if NEGATION.search(text):
                row[-1] = 1.0
            else:
                for i, pattern in enumerate(KEYWORDS):
                    row[i] += len(pattern.findall(text))
            rows.append(row)
        return {"bow": torch.stack(rows)}

    def encode_text(self, text: dict[str, torch.Tensor]) -> TextFeatures:
        return TextFeatures(global_=text["bow"].float())


def write_image(path: Path, concepts: Iterable[int], fmt: str | None = None) -> Path:
    pixels = np.full((SIZE, SIZE), 40, dtype=np.uint8)
    for k in concepts:
        r, c = divmod(k, 3)
        pixels[r * 8 : (r + 1) * 8, c * 8 : (c + 1) * 8] = 220
    path.parent.mkdir(parents=True, exist_ok=True)
    options = {"quality": 95} if fmt == "JPEG" else {}
    Image.fromarray(pixels).save(path, format=fmt, **options)
    return path


def labels_for(concepts: Iterable[int]) -> dict[str, float]:
    names = {CONCEPTS[k] for k in concepts}
    return {name: (1.0 if name in names else 0.0) for name in CHEXPERT_LABELS}


def chexpert_groups(per_concept: int, pairs: int = 0) -> list[tuple[int, ...]]:
    """Single-concept images for every concept, plus ``pairs`` two-finding images per competition pair."""
    groups: list[tuple[int, ...]] = [(k,) for k in range(len(CONCEPTS)) for _ in range(per_concept)]
    for a in range(5):
        groups.extend([(a, (a + 1) % 5)] * pairs)
    return groups


def chexpert_table(folder: Path, per_concept: int = 12, valid_per_concept: int = 4, pairs: int = 2) -> Table:
    """A CheXpert-like table built directly (train + valid), images as PNG under ``folder``."""
    records = []
    for split, n in (("train", per_concept), ("valid", valid_per_concept)):
        for i, concepts in enumerate(chexpert_groups(n, pairs)):
            key = f"{split}/patient{i:05d}/study1/view1_frontal.png"
            path = write_image(folder / key, concepts)
            records.append(Record(key=key, image=path, split=split, labels=labels_for(concepts), meta={"view": "Frontal"}))
    return Table(dataset="chexpert", root=folder, records=records)


def binary_table(folder: Path, dataset: str, label: str, positive: int, negative: int, n: int = 40) -> Table:
    """RSNA/SIIM-like: half positive (bright ``positive`` region), half negative."""
    records = []
    for i in range(n):
        pos = i % 2 == 0
        key = f"img{i:04d}"
        path = write_image(folder / dataset / f"{key}.png", (positive,) if pos else (negative,))
        records.append(Record(key=key, image=path, split="train", labels={label: float(pos)}))
    return Table(dataset=dataset, root=folder / dataset, records=records)


def write_chexpert(root: Path, per_concept: int = 12, valid_per_concept: int = 4, pairs: int = 2) -> Path:
    """The same data in CheXpert's real layout: CheXpert-v1.0-small/{train,valid}.csv + jpgs."""
    base = root / "CheXpert-v1.0-small"
    header = ["Path", "Sex", "Age", "Frontal/Lateral", "AP/PA", *CHEXPERT_LABELS]
    for split, n in (("train", per_concept), ("valid", valid_per_concept)):
        with _open(base / f"{split}.csv") as fh:
            writer = csv.writer(fh)
            writer.writerow(header)
            for i, concepts in enumerate(chexpert_groups(n, pairs)):
                rel = f"CheXpert-v1.0-small/{split}/patient{i:05d}/study1/view1_frontal.jpg"
                write_image(root / rel, concepts, fmt="JPEG")
                labels = labels_for(concepts)
                cells = ["1.0" if labels[c] == 1.0 else ("0.0" if i % 3 else "") for c in CHEXPERT_LABELS]
                writer.writerow([rel, "Female", "60", "Frontal", "PA", *cells])
    return root


def _open(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    return open(path, "w", newline="")


def covidx_table(folder: Path, n_train: int = 45, n_test: int = 15) -> Table:
    """COVIDx-like 3-class table: normal / pneumonia / COVID-19 (regions 8, 6, 2)."""
    classes = ("normal", "pneumonia", "COVID-19")
    regions = (8, 6, 2)
    records = []
    for split, n in (("train", n_train), ("test", n_test)):
        for i in range(n):
            target = i % 3
            key = f"{split}/{i:04d}.png"
            path = write_image(folder / "covidx" / key, (regions[target],))
            labels = {c: float(j == target) for j, c in enumerate(classes)}
            records.append(Record(key=key, image=path, split=split, labels=labels, meta={"target": target, "class": classes[target]}))
    return Table(dataset="covidx", root=folder / "covidx", records=records, classes=classes)


def small_cfg(**overrides: str):
    """The tiny preset for ``PlantedMethod``: 24 px, a quick linear probe, no feature cache on disk."""
    from bench.config import resolve

    base = {
        "model.image_size": "24",
        "train.num_workers": "0",
        "eval.batch_size": "32",
        "eval.subset_per_class": "6",
        "eval.probe_epochs": "200",
        "eval.probe_lr": "0.05",
        "eval.probe_patience": "20",
        "eval.cache_dir": "none",
    }
    base.update(overrides)
    return resolve("tiny", "planted", base, PlantedConfig)
