"""Image-text scores through the method's own ``similarity`` (zero-shot and retrieval).

Image embeddings come from the feature cache; texts are encoded in one batch per call (prompt
and query sets are small). Scoring runs in image chunks under a fixed seed, so a method whose
similarity is stochastic in eval mode (PRIOR's prototype bank draws Gumbel noise) gives the same
scores for the same seed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from bench.api import ImageFeatures, Method, TextFeatures
from bench.taskdata import TaskData
from tasks.common.features import as_image_features, device_of, eval_mode, features, take


def image_embeddings(method: Method, data: TaskData, cfg: Any, keys: Sequence[str]) -> ImageFeatures:
    """``method.encode_image`` outputs for ``keys`` (cached per record)."""
    return as_image_features(features(method, data, cfg, keys, "embedding"))


def _to(value: Any, device: torch.device) -> Any:
    return value.to(device) if torch.is_tensor(value) else value


def encode_texts(method: Method, texts: Sequence[str]) -> TextFeatures:
    """Each text as a one-sentence report, tokenised and encoded by the method in one batch."""
    device = device_of(method)
    with eval_mode(method):
        tokens = method.tokenize([[t] for t in texts])
        return method.encode_text({k: _to(v, device) for k, v in tokens.items()})


def similarity_matrix(
    method: Method, images: ImageFeatures, texts: TextFeatures, seed: int = 0, chunk: int = 256
) -> torch.Tensor:
    """[N_images, N_texts] scores from ``method.similarity``, float32 on the CPU."""
    device = device_of(method)
    n = images.global_.shape[0]
    out = []
    cuda = [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" else []
    with eval_mode(method), torch.random.fork_rng(devices=cuda):
        torch.manual_seed(seed)
        for start in range(0, n, chunk):
            part = take(images, slice(start, start + chunk), device)
            out.append(method.similarity(part, texts).float().cpu())
    return torch.cat(out) if out else torch.zeros(0, texts.global_.shape[0])


def class_scores(scores: torch.Tensor, owners: Sequence[int], n_classes: int) -> torch.Tensor:
    """[N, n_texts] -> [N, n_classes]: per class, the max over the texts it owns."""
    owner = torch.as_tensor(list(owners), dtype=torch.long)
    cols = [scores[:, owner == c].max(dim=1).values for c in range(n_classes)]
    return torch.stack(cols, dim=1)
