"""Pixels for the tasks: records -> normalised 1-channel tensors at the model's image size.

An image that does not decode stops nothing while a loader runs: its sample is a zero image, and
once the loader has been read to its end it raises
:class:`~bench.data.damaged.UnreadableImages` naming every such record, which the engine skips
(the cell runs again without them; see :mod:`bench.data.damaged`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from bench.config import BenchConfig
from bench.data.base import Record
from bench.data.damaged import UnreadableImages, decode_error
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
        self, records: Sequence[Record], size: int, mean: float, std: float, targets: torch.Tensor | None = None,
        images: Any = None,
    ) -> None:
        if targets is not None and len(targets) != len(records):
            raise ValueError(f"{len(targets)} targets for {len(records)} records")
        self.records = list(records)
        self.size = size
        self.mean = mean
        self.std = std
        self.targets = targets
        self.images = images if images is not None and images.size == size else None  # an ImageCache

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i: int) -> dict[str, Any]:
        """{"image", "index", "error" ("" when it decoded), "target" (when there are targets)}."""
        try:
            image, error = self.image(self.records[i]), ""
        except Exception as exc:  # noqa: BLE001 - any decoder failure: the record is skipped, see CheckedLoader
            image, error = torch.zeros(1, self.size, self.size), decode_error(exc)
        sample = {"image": image, "index": i, "error": error}
        if self.targets is not None:
            sample["target"] = self.targets[i]
        return sample


    def image(self, record: Record) -> torch.Tensor:
        """[1, size, size] normalised: from the image cache when it holds ``record``, else decoded."""
        cached = self.images.get(record) if self.images is not None else None
        if cached is not None:
            return preprocess(cached.astype(np.float32) / 255.0, self.size, self.mean, self.std)
        return preprocess(load_image(record.image), self.size, self.mean, self.std)


class CheckedLoader:
    """A :class:`DataLoader` over an :class:`ImageDataset` that yields images (or (images, targets))
    and, once read to its end, raises :class:`UnreadableImages` for the records that did not decode."""

    def __init__(self, loader: DataLoader) -> None:
        self.loader = loader
        self.dataset = loader.dataset

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Any:
        failures: dict[str, tuple[str, str]] = {}
        for batch in self.loader:
            for i, error in zip(batch["index"].tolist(), batch["error"]):
                if error:
                    record = self.dataset.records[i]
                    failures[record.key] = (record.image_path, error)
            yield batch["image"] if "target" not in batch else (batch["image"], batch["target"])
        if failures:
            raise UnreadableImages(failures)


def image_loader(
    records: Sequence[Record], cfg: BenchConfig, targets: torch.Tensor | None = None, shuffle: bool = False, seed: int = 0,
    images: Any = None,
) -> CheckedLoader:
    """A loader over ``records`` at ``cfg.model.image_size`` with ``cfg.data`` normalisation, reading
    ``images`` (a :class:`bench.data.image_cache.ImageCache`) where it holds a record."""
    dataset = ImageDataset(records, cfg.model.image_size, cfg.data.mean, cfg.data.std, targets, images)
    workers = max(0, cfg.train.num_workers)
    generator = torch.Generator().manual_seed(seed) if shuffle else None
    return CheckedLoader(DataLoader(
        dataset,
        batch_size=cfg.eval.batch_size,
        shuffle=shuffle,
        generator=generator,
        num_workers=workers,
        persistent_workers=False,
        pin_memory=torch.cuda.is_available(),
    ))


def to_channels(images: torch.Tensor, channels: int) -> torch.Tensor:
    """[B, 1, H, W] -> [B, channels, H, W] by repeating the grey channel (for a raw backbone)."""
    return images if images.shape[1] == channels else images.expand(-1, channels, -1, -1)
