"""Pixels for the tasks: records -> normalised 1-channel tensors at the model's image size."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from bench.config import BenchConfig
from bench.data.base import Record
from bench.data.images import load_image


def preprocess(pixels: np.ndarray, size: int, mean: float, std: float) -> torch.Tensor:
    """HxW float [0, 1] -> [1, size, size], resized (bilinear, antialiased) and normalised."""
    x = torch.from_numpy(np.ascontiguousarray(pixels, dtype=np.float32))[None, None]
    if x.shape[-2:] != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return ((x[0] - mean) / std).contiguous()


class ImageDataset(Dataset):
    """One normalised grey image per record, optionally with a target per record."""

    def __init__(
        self, records: Sequence[Record], size: int, mean: float, std: float, targets: torch.Tensor | None = None
    ) -> None:
        if targets is not None and len(targets) != len(records):
            raise ValueError(f"{len(targets)} targets for {len(records)} records")
        self.records = list(records)
        self.size = size
        self.mean = mean
        self.std = std
        self.targets = targets

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i: int) -> Any:
        image = preprocess(load_image(self.records[i].image), self.size, self.mean, self.std)
        if self.targets is None:
            return image
        return image, self.targets[i]


def image_loader(
    records: Sequence[Record], cfg: BenchConfig, targets: torch.Tensor | None = None, shuffle: bool = False, seed: int = 0
) -> DataLoader:
    """A loader over ``records`` at ``cfg.model.image_size`` with ``cfg.data`` normalisation."""
    dataset = ImageDataset(records, cfg.model.image_size, cfg.data.mean, cfg.data.std, targets)
    workers = max(0, cfg.train.num_workers)
    generator = torch.Generator().manual_seed(seed) if shuffle else None
    return DataLoader(
        dataset,
        batch_size=cfg.eval.batch_size,
        shuffle=shuffle,
        generator=generator,
        num_workers=workers,
        persistent_workers=False,
        pin_memory=torch.cuda.is_available(),
    )


def to_channels(images: torch.Tensor, channels: int) -> torch.Tensor:
    """[B, 1, H, W] -> [B, channels, H, W] by repeating the grey channel (for a raw backbone)."""
    return images if images.shape[1] == channels else images.expand(-1, channels, -1, -1)
