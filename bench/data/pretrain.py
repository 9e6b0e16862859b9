"""Image-report pairs for pretraining, over a MIMIC-CXR-style :class:`~bench.data.base.Table`.

One sample is one **study** (``cfg.data.unit = "study"``, PRIOR's choice): each time it is drawn,
one of the study's frontal images is picked at random, so every epoch sees each report once.
``unit = "image"`` makes every frontal image its own sample (studies with several images then
count several times per epoch, as MGCA's pair list does).

Per sample: grey image (from the preprocessed image cache when ``bench data cache`` wrote one
at ``cfg.model.image_size`` and ``cfg.data.image_cache`` is on: within 0.5/255 of decoding, see
:mod:`bench.data.image_cache`) -> resize to ``cfg.model.image_size`` (square, no crop, as PRIOR) ->
augment (``RandomAffine(degrees=cfg.data.affine_degrees)``, horizontal flip with probability
``cfg.data.hflip``; ``cfg.data.augment = false`` switches both off) -> normalise by
``cfg.data.mean``/``std``. Sentences are shuffled (PRIOR's ``SentenceShuffle``) when
``cfg.data.shuffle_sentences``.

Flipping swaps left and right, which the reports name ("left lower lobe"): PRIOR flips anyway
(``hflip = 0.5`` in the default preset); the tiny preset keeps it off so that side-aware
supervision on SynthCXR stays consistent.

Randomness is a pure function of ``(seed, epoch, index)``: the dataset never touches the global
RNGs, so a resumed run draws exactly the samples and augmentations of an uninterrupted one, with
any number of loader workers. Samplers may yield ``(epoch, index)`` pairs (see
:class:`EpochSampler`); a plain ``index`` uses the epoch set by :meth:`PretrainDataset.set_epoch`.

A file that cannot be decoded raises :class:`~bench.data.base.DataFormatError` naming the file:
skipping it silently would change batch composition between runs and hide a broken copy of the
data (run ``bench data check`` to list every unreadable file up front).
"""

from __future__ import annotations

import logging
import math
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, DistributedSampler
from torchvision.transforms import InterpolationMode
from torchvision.transforms.v2 import functional as TF

from bench.data.base import DataFormatError, Record, Table
from bench.data.images import load_image

log = logging.getLogger(__name__)

FRONTAL_VIEWS = frozenset({"PA", "AP"})
_VIEW_KEYS = ("view", "view_position", "ViewPosition")
UNITS = ("study", "image")


def view_of(record: Record) -> str | None:
    """The record's view position (PA/AP/LATERAL/...) when its reader stored one, else None."""
    for key in _VIEW_KEYS:
        value = record.meta.get(key)
        if value:
            return str(value).strip().upper()
    return None


def group_studies(
    records: Sequence[Record], frontal_only: bool = True
) -> tuple[list[list[Record]], dict[str, int]]:
    """Records -> one list of frontal images per study (in first-seen order), plus drop counts.

    Records without a view are kept (the reader did not say). Records without sentences, and
    studies left without a frontal image, are dropped and counted.
    """
    studies: OrderedDict[str, list[Record]] = OrderedDict()
    counts = {"no_sentences": 0, "not_frontal": 0}
    for rec in records:
        if not rec.sentences:
            counts["no_sentences"] += 1
            continue
        view = view_of(rec)
        if frontal_only and view is not None and view not in FRONTAL_VIEWS:
            counts["not_frontal"] += 1
            continue
        studies.setdefault(rec.study or rec.key, []).append(rec)
    return list(studies.values()), counts


def sample_generator(seed: int, epoch: int, index: int) -> torch.Generator:
    """A generator seeded from (seed, epoch, index) alone, independent of every global RNG."""
    state = np.random.SeedSequence([int(seed), int(epoch), int(index)]).generate_state(2, np.uint32)
    return torch.Generator().manual_seed(int(state[0]) << 31 ^ int(state[1]))


class PretrainDataset(Dataset):
    """Pretraining pairs: ``{"image": [1, S, S] float32, "sentences": list[str], "index", "study"}``."""

    def __init__(
        self,
        data: Table | Sequence[Record],
        cfg: Any,
        *,
        splits: Sequence[str] = ("train",),
        seed: int | None = None,
    ) -> None:
        records = data.split(*splits) if isinstance(data, Table) else [r for r in data if r.split in splits]
        self.studies, self.counts = group_studies(records, frontal_only=True)
        self.unit = str(getattr(cfg.data, "unit", "study"))
        if self.unit not in UNITS:
            raise ValueError(f"data.unit must be one of {UNITS}, got {self.unit!r}")
        # (study index, image index or -1 = pick one at random)
        if self.unit == "study":
            self.items = [(s, -1) for s in range(len(self.studies))]
        else:
            self.items = [(s, i) for s, imgs in enumerate(self.studies) for i in range(len(imgs))]
        if not self.items:
            where = data.root if isinstance(data, Table) else "the given records"
            raise DataFormatError(
                where,
                f"no pretraining pairs in split(s) {list(splits)} (need frontal images with report sentences)",
            )
        self.size = int(cfg.model.image_size)
        self.mean, self.std = float(cfg.data.mean), float(cfg.data.std)
        augment = bool(getattr(cfg.data, "augment", True))
        self.degrees = float(getattr(cfg.data, "affine_degrees", 5.0)) if augment else 0.0
        self.hflip = float(getattr(cfg.data, "hflip", 0.5)) if augment else 0.0
        self.shuffle_sentences = bool(getattr(cfg.data, "shuffle_sentences", True))
        self.seed = int(cfg.train.seed if seed is None else seed)
        self.epoch = 0
        self.images = None  # the preprocessed image cache at this size, when one covers the table
        if isinstance(data, Table):
            from bench.data.image_cache import open_for

            self.images = open_for(cfg, data.dataset, data.root)
        dropped = {k: v for k, v in self.counts.items() if v}
        log.info(
            "pretraining pairs: %d (one per %s) from %d studies (split %s)%s",
            len(self.items),
            self.unit,
            len(self.studies),
            "/".join(splits),
            f"; dropped {dropped}" if dropped else "",
        )

    def __len__(self) -> int:
        return len(self.items)

    def set_epoch(self, epoch: int) -> None:
        """The epoch used when the sampler yields plain indices."""
        self.epoch = int(epoch)

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, Any]:
        epoch, index = key if isinstance(key, tuple) else (self.epoch, key)
        gen = sample_generator(self.seed, epoch, index)
        study_idx, image_idx = self.items[index]
        images = self.studies[study_idx]
        if image_idx < 0:
            image_idx = int(torch.randint(len(images), (1,), generator=gen)) if len(images) > 1 else 0
        record = images[image_idx]
        sentences = list(record.sentences)
        if self.shuffle_sentences and len(sentences) > 1:
            sentences = [sentences[i] for i in torch.randperm(len(sentences), generator=gen).tolist()]
        return {
            "image": self.transform(self.pixels(record), gen),
            "sentences": sentences,
            "index": index,
            "study": record.study or record.key,
        }

    def pixels(self, record: Record) -> torch.Tensor:
        """[1, H, W] in [0, 1]: the image cache's row (already at the model's size) or decoded."""
        cached = self.images.get(record) if self.images is not None else None
        if cached is not None:
            return torch.from_numpy(cached.astype(np.float32) / 255.0)[None]
        return self.load(record)

    @staticmethod
    def load(record: Record) -> torch.Tensor:
        try:
            pixels = load_image(record.image)
        except FileNotFoundError:
            raise DataFormatError(record.image, f"image of study {record.study} is missing") from None
        except Exception as exc:  # noqa: BLE001 - every decoder failure is reported with the file
            raise DataFormatError(record.image, f"cannot decode image ({type(exc).__name__}: {exc})") from exc
        if pixels.ndim != 2 or pixels.size == 0:
            raise DataFormatError(record.image, f"expected a 2-D grey image, got shape {pixels.shape}")
        return torch.from_numpy(np.ascontiguousarray(pixels, dtype=np.float32))[None]

    def transform(self, image: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """[1, H, W] in [0, 1] -> resized, augmented, normalised [1, S, S]."""
        image = TF.resize(
            image, [self.size, self.size], interpolation=InterpolationMode.BILINEAR, antialias=True
        )
        if self.degrees > 0:
            angle = (torch.rand((), generator=gen).item() * 2.0 - 1.0) * self.degrees
            image = TF.affine(
                image,
                angle=angle,
                translate=[0.0, 0.0],
                scale=1.0,
                shear=[0.0, 0.0],
                interpolation=InterpolationMode.BILINEAR,
                fill=[0.0],
            )
        if self.hflip > 0 and torch.rand((), generator=gen).item() < self.hflip:
            image = TF.horizontal_flip(image)
        return (image - self.mean) / self.std

    def make_collate(self, tokenize: Callable[[list[list[str]]], dict[str, torch.Tensor]]) -> PretrainCollate:
        return PretrainCollate(tokenize)


class PretrainCollate:
    """Stack images and tokenise the reports (runs inside the loader workers).

    Output: ``{"images": [B, 1, S, S], "text": tokenize(reports), "index": [B] long}``.
    """

    def __init__(self, tokenize: Callable[[list[list[str]]], dict[str, torch.Tensor]]) -> None:
        self.tokenize = tokenize

    def __call__(self, samples: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "images": torch.stack([s["image"] for s in samples]),
            "text": self.tokenize([s["sentences"] for s in samples]),
            "index": torch.tensor([s["index"] for s in samples], dtype=torch.long),
        }


class EpochSampler(DistributedSampler):
    """A seeded :class:`DistributedSampler` that yields ``(epoch, index)`` and can start mid-epoch.

    Works without a process group (``num_replicas=1, rank=0``). ``start`` skips the first
    ``start`` indices of this rank's epoch, so a resumed run needs no data loading to catch up.
    """

    def __init__(
        self, dataset: Dataset, num_replicas: int = 1, rank: int = 0, seed: int = 0, shuffle: bool = True
    ) -> None:
        super().__init__(
            dataset, num_replicas=num_replicas, rank=rank, shuffle=shuffle, seed=seed, drop_last=True
        )
        self.start = 0

    def set_position(self, epoch: int, start: int = 0) -> None:
        self.set_epoch(epoch)
        self.start = int(start)

    def __iter__(self) -> Iterator[tuple[int, int]]:  # type: ignore[override]
        indices = list(super().__iter__())[self.start :]
        return iter([(self.epoch, i) for i in indices])

    def __len__(self) -> int:
        return max(0, self.num_samples - self.start)


def steps_per_epoch(n_samples: int, batch_size: int, world_size: int, grad_accum: int) -> int:
    """Optimizer steps in one epoch (incomplete batches and accumulation groups are dropped)."""
    per_rank = n_samples // world_size if world_size > 1 else n_samples
    return math.floor(per_rank / batch_size) // max(1, grad_accum)
