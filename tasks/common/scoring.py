"""Image-text scores through the method's own ``similarity`` (zero-shot and retrieval).

Image embeddings come from the feature cache; texts are encoded in one batch per call (prompt
and query sets are small). Two optional method hooks serve zero-shot classification:
``tokenize_prompts(prompts)`` (how the method embeds a prompt) and
``zero_shot_scores(img, txt, owners, n_classes)`` (how its prompt scores become class scores). Scoring runs in image chunks under a fixed seed, so a method whose
similarity is stochastic in eval mode (PRIOR's prototype bank draws Gumbel noise) gives the same
scores for the same seed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from bench.api import ImageFeatures, Method, TextFeatures
from bench.config import BenchConfig
from bench.taskdata import TaskData
from tasks.common.features import as_image_features, device_of, eval_mode, features, take


def image_embeddings(method: Method, data: TaskData, cfg: BenchConfig, keys: Sequence[str]) -> ImageFeatures:
    """``method.encode_image`` outputs for ``keys`` (cached per record)."""
    return as_image_features(features(method, data, cfg, keys, "embedding"))


def _to(value: Any, device: torch.device) -> Any:
    return value.to(device) if torch.is_tensor(value) else value


def encode_texts(method: Method, texts: Sequence[str]) -> TextFeatures:
    """Each text as a one-sentence report, tokenised and encoded by the method in one batch."""
    return _encode(method, lambda: method.tokenize([[t] for t in texts]))


def encode_prompts(method: Method, prompts: Sequence[str]) -> TextFeatures:
    """Zero-shot prompts encoded in one batch: tokenised by the method's ``tokenize_prompts``
    when it has one (PRIOR's official prompt embedding), else as :func:`encode_texts` does."""
    tokenize = getattr(method, "tokenize_prompts", None)
    if tokenize is None:
        return encode_texts(method, prompts)
    return _encode(method, lambda: tokenize(list(prompts)))


def _encode(method: Method, tokenize: Callable[[], dict[str, Any]]) -> TextFeatures:
    device = device_of(method)
    with eval_mode(method):
        tokens = tokenize()
        return method.encode_text({k: _to(v, device) for k, v in tokens.items()})


def _chunked(
    method: Method, images: ImageFeatures, score: Callable[[ImageFeatures], torch.Tensor], width: int,
    seed: int, chunk: int,
) -> torch.Tensor:
    """``score`` of image chunks, float32 on the CPU, in eval mode under a fixed seed."""
    device = device_of(method)
    n = images.global_.shape[0]
    out = []
    cuda = [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" else []
    with eval_mode(method), torch.random.fork_rng(devices=cuda):
        torch.manual_seed(seed)
        for start in range(0, n, chunk):
            part = take(images, slice(start, start + chunk), device)
            out.append(score(part).float().cpu())
    return torch.cat(out) if out else torch.zeros(0, width)


def similarity_matrix(
    method: Method, images: ImageFeatures, texts: TextFeatures, seed: int = 0, chunk: int = 256
) -> torch.Tensor:
    """[N_images, N_texts] scores from ``method.similarity``, float32 on the CPU."""
    width = texts.global_.shape[0]
    return _chunked(method, images, lambda part: method.similarity(part, texts), width, seed, chunk)


def class_scores(scores: torch.Tensor, owners: Sequence[int], n_classes: int) -> torch.Tensor:
    """[N, n_texts] -> [N, n_classes]: per class, the max over the texts it owns."""
    owner = torch.as_tensor(list(owners), dtype=torch.long)
    cols = [scores[:, owner == c].max(dim=1).values for c in range(n_classes)]
    return torch.stack(cols, dim=1)


def prompt_class_scores(
    method: Method, images: ImageFeatures, prompts: TextFeatures, owners: Sequence[int], n_classes: int,
    seed: int = 0, chunk: int = 256,
) -> torch.Tensor:
    """[N_images, n_classes] class probabilities (rows sum to one) from prompt features.

    A method with ``zero_shot_scores(img, txt, owners, n_classes)`` aggregates its own prompts
    (PRIOR's official aggregation needs its global and local parts apart); otherwise each class
    scores the max over its prompts of ``method.similarity``, softmaxed over the classes.
    """
    own = getattr(method, "zero_shot_scores", None)
    if own is None:
        scores = similarity_matrix(method, images, prompts, seed, chunk)
        return torch.softmax(class_scores(scores, owners, n_classes), dim=1)
    device = device_of(method)
    owner = torch.as_tensor(list(owners), dtype=torch.long, device=device)
    return _chunked(method, images, lambda part: own(part, prompts, owner, n_classes), n_classes, seed, chunk)
