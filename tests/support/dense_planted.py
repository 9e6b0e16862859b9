"""Shared pieces of the dense-task tests: a planted localisation dataset and small trunks.

Import as ``support.dense_planted`` (see :mod:`support`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from bench.data.base import Record
from bench.data.rle import rle_encode


def planted_records(
    folder: Path, n: int = 32, size: int = 80, seed: int = 0, test_every: int = 4
) -> list[Record]:
    """Grey noise images; every other one has a bright rectangle, given as RLE and as a box.

    Image sizes differ from the task's image size (``size`` vs 64 px in the tests), so resizing
    of images, masks and boxes is exercised. Every ``test_every``-th image is in the test split.
    """
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    records = []
    for i in range(n):
        image = rng.normal(0.35, 0.05, (size, size))
        mask = np.zeros((size, size), dtype=bool)
        boxes: tuple = ()
        if i % 2 == 0:
            h, w = rng.integers(size // 5, size // 2, 2)
            y, x = rng.integers(2, size - h - 2), rng.integers(2, size - w - 2)
            mask[y : y + h, x : x + w] = True
            image[mask] += 0.4
            boxes = ((float(x), float(y), float(x + w), float(y + h)),)
        path = folder / f"img{i:03d}.png"
        Image.fromarray((np.clip(image, 0, 1) * 255).astype(np.uint8)).save(path)
        split = "test" if i % test_every == 0 else "train"
        records.append(
            Record(
                key=f"case.{i}",
                image=path,
                split=split,
                rle=(rle_encode(mask),) if boxes else ("-1",),
                boxes=boxes,
                box_labels=(0,) * len(boxes),
            )
        )
    return records


@dataclass
class PlantedData:
    """The subset of ``bench.taskdata.TaskData`` the dense tasks read."""

    dataset: str
    root: Path
    table_records: list[Record]
    work_dir: Path | None = None
    fraction: float = 1.0
    seed: int = 0
    splits: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for split in ("train", "test"):
            self.splits[split] = [r.key for r in self.table_records if r.split == split]

    def records(self, split: str) -> list[Record]:
        index = {r.key: r for r in self.table_records}
        return [index[k] for k in self.splits[split]]


class TrunkMethod:
    """Just enough of a method for the dense tasks: ``image_backbone()``."""

    def __init__(self, trunk: torch.nn.Module) -> None:
        self.trunk = trunk

    def image_backbone(self) -> torch.nn.Module:
        return self.trunk


def tiny_trunk(in_channels: int = 1, seed: int = 0) -> torch.nn.Module:
    from methods.resnet import build_resnet

    torch.manual_seed(seed)
    return build_resnet("resnet_tiny", in_channels=in_channels)


def dense_cfg(**overrides: str):
    from bench.config import resolve

    base = {
        "model.image_size": "64",
        "train.num_workers": "0",
        "eval.dense_iters": "40",
        "eval.dense_batch_size": "4",
    }
    base.update(overrides)
    return resolve("tiny", overrides=base)
