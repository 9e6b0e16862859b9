"""Frozen-encoder features: batched extraction under no_grad in eval mode, through the cache.

Two kinds, in :data:`EXTRACTORS`:
- ``backbone``: the pooled output of ``method.image_backbone()`` (what linear probes read, as in
  GLoRIA and MGCA: the CNN's pooled features, before any projection);
- ``embedding``: ``method.encode_image`` (global, local and per-image extras), which zero-shot
  and retrieval hand back to ``method.similarity``.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from torch import nn

from bench.api import ImageFeatures, Method
from bench.config import BenchConfig
from bench.data.base import Record
from bench.data.damaged import UnreadableImages
from bench.taskdata import TaskData
from tasks.common.images import image_loader, to_channels

Extractor = Callable[[Method, torch.Tensor], dict[str, torch.Tensor]]


def pool(output: Any) -> torch.Tensor:
    """A backbone's output as [B, D]: the last map of a list/dict, spatially averaged if 4-D."""
    if isinstance(output, dict):
        output = list(output.values())[-1]
    if isinstance(output, (list, tuple)):
        output = output[-1]
    if output.dim() == 4:
        return output.mean(dim=(2, 3))
    if output.dim() == 3:
        return output.mean(dim=1)
    if output.dim() == 2:
        return output
    raise ValueError(f"backbone output of shape {tuple(output.shape)}; expected [B, D], [B, N, D] or [B, C, H, W]")


def _backbone(method: Method, images: torch.Tensor) -> dict[str, torch.Tensor]:
    backbone = method.image_backbone()
    return {"features": pool(backbone(to_channels(images, method.in_channels)))}


def _embedding(method: Method, images: torch.Tensor) -> dict[str, torch.Tensor]:
    feats = method.encode_image(images)
    out = {"global_": feats.global_}
    if feats.local is not None:
        out["local"] = feats.local
    for name, value in feats.extra.items():
        if torch.is_tensor(value) and value.dim() > 0 and value.shape[0] == images.shape[0]:
            out[f"extra.{name}"] = value
    return out


EXTRACTORS: dict[str, Extractor] = {"backbone": _backbone, "embedding": _embedding}


def device_of(module: nn.Module) -> torch.device:
    param = next(module.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


def autocast(device: torch.device, cfg: BenchConfig) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA when ``cfg.train.amp``; a no-op on CPU."""
    if device.type == "cuda" and getattr(cfg.train, "amp", False):
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


@contextlib.contextmanager
def eval_mode(module: nn.Module) -> Iterator[None]:
    """Eval mode and no_grad for the block; the previous train/eval state is restored after."""
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        module.train(was_training)


def encode_records(method: Method, records: Sequence[Record], cfg: BenchConfig, kind: str,
                   images: Any = None) -> dict[str, torch.Tensor]:
    """Tensors of ``kind`` for ``records`` in order, computed in batches of ``cfg.eval.batch_size``
    (pixels from ``images``, the preprocessed image cache, where it holds them)."""
    if kind not in EXTRACTORS:
        raise ValueError(f"unknown feature kind {kind!r}; expected one of {sorted(EXTRACTORS)}")
    extract = EXTRACTORS[kind]
    device = device_of(method)
    parts: dict[str, list[torch.Tensor]] = {}
    try:
        with eval_mode(method), autocast(device, cfg):
            for batch in image_loader(records, cfg, images=images):
                for name, value in extract(method, batch.to(device, non_blocking=True)).items():
                    parts.setdefault(name, []).append(value.float().cpu())
    except UnreadableImages as exc:  # the others' rows go with it, to be cached
        good = [i for i, r in enumerate(records) if r.key not in exc.failures]
        rows = torch.tensor(good, dtype=torch.long)
        exc.partial = ([records[i].key for i in good], {n: torch.cat(v).index_select(0, rows) for n, v in parts.items()})
        raise
    return {name: torch.cat(values) for name, values in parts.items()}


def features(method: Method, data: TaskData, cfg: BenchConfig, keys: Sequence[str], kind: str) -> dict[str, torch.Tensor]:
    """Tensors of ``kind`` for the records ``keys`` of ``data``, through ``data.cache`` when set."""

    def compute(missing: list[str]) -> dict[str, torch.Tensor]:
        return encode_records(method, [data.record(k) for k in missing], cfg, kind, getattr(data, "images", None))

    if data.cache is None:
        return compute(list(keys))
    # A record key names an image only within one copy of a dataset (SynthCXR variants, a user's
    # re-export share them): the cache key adds the file's size and mtime, the namespace the
    # input normalisation, so features of other pixels are never served.
    signed = {_signed(data.record(k)): k for k in dict.fromkeys(keys)}
    by_key = {k: s for s, k in signed.items()}
    namespace = (data.model_id, data.dataset, f"{kind}-{_normalisation_tag(cfg)}", cfg.model.image_size)
    try:
        return data.cache.get(namespace, [by_key[k] for k in keys], lambda missing: compute([signed[s] for s in missing]))
    except UnreadableImages as exc:
        if exc.partial is not None and exc.partial[0]:  # the images that decoded are not encoded again
            done, tensors = exc.partial
            row = {k: i for i, k in enumerate(done)}
            take = lambda missing: {n: t[[row[signed[s]] for s in missing]] for n, t in tensors.items()}  # noqa: E731
            data.cache.get(namespace, [by_key[k] for k in done], take)
        raise


def _signed(record: Record) -> str:
    try:
        st = record.image.stat()
    except OSError as exc:
        raise FileNotFoundError(f"{record.image}: image of record {record.key!r} is not readable ({exc})") from exc
    return f"{record.key}@{st.st_size}-{st.st_mtime_ns}"


def _normalisation_tag(cfg: BenchConfig) -> str:
    return hashlib.sha256(f"{float(cfg.data.mean)!r}/{float(cfg.data.std)!r}".encode()).hexdigest()[:8]


def as_image_features(tensors: dict[str, torch.Tensor]) -> ImageFeatures:
    """The ``embedding`` tensors back into :class:`ImageFeatures`."""
    extra = {k.removeprefix("extra."): v for k, v in tensors.items() if k.startswith("extra.")}
    return ImageFeatures(global_=tensors["global_"], local=tensors.get("local"), extra=extra)


def take(feats: ImageFeatures, rows: slice | torch.Tensor, device: torch.device | None = None) -> ImageFeatures:
    """Rows of image features (every per-image tensor), optionally moved to ``device``."""

    def cut(t: torch.Tensor) -> torch.Tensor:
        out = t[rows]
        return out.to(device) if device is not None else out

    return ImageFeatures(
        global_=cut(feats.global_),
        local=cut(feats.local) if feats.local is not None else None,
        extra={k: cut(v) for k, v in feats.extra.items()},
    )
