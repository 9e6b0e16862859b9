"""Zero-shot and retrieval scoring at their protocols' sizes: the method's similarity over every
image-text pair and the metrics, on features computed beforehand (not timed), per method at the
tiny preset (random weights). Zero-shot: 1,000 images (5x200) against 5 classes x 5 prompts;
retrieval: 1,600 images (8x200) against 8 classes x 5 queries, P@1/5/10 both ways.

Measured with ``--benchmark-enable`` (``tox -e bench``); otherwise each runs once on 40 images.
"""

from __future__ import annotations

import pytest
import torch

from bench.config import resolve
from bench.registry import METHODS
from tasks.common.metrics import multiclass_metrics, precision_at_k
from tasks.common.scoring import encode_prompts, encode_texts, prompt_class_scores, similarity_matrix

CLASSES = {"zero_shot": 5, "retrieval": 8}
TEXTS = ["No acute cardiopulmonary process.", "Small left pleural effusion.", "Mild cardiomegaly.",
         "Right lower lobe consolidation.", "Moderate pulmonary edema.", "Right apical pneumothorax.",
         "Bibasilar atelectasis.", "Support devices in place."]


@pytest.mark.benchmark
@pytest.mark.parametrize("task", sorted(CLASSES))
@pytest.mark.parametrize("method", ["convirt", "gloria", "prior"])
def test_scoring(benchmark, method: str, task: str) -> None:
    cls = METHODS.get(method)
    cfg = resolve("tiny", method, method_config_cls=cls.Config)
    torch.manual_seed(0)
    model = cls.from_config(cfg).eval()
    k = CLASSES[task]
    n = 200 * k if benchmark.enabled else 40
    size = cfg.model.image_size
    pixels = torch.randn(n, model.in_channels, size, size, generator=torch.Generator().manual_seed(0))
    texts = [f"{TEXTS[c]} Variant {j}." for c in range(k) for j in range(5)]
    owners = [c for c in range(k) for _ in range(5)]
    targets = torch.arange(n) % k
    with torch.inference_mode():
        images = model.encode_image(pixels)
    encoded = encode_prompts(model, texts) if task == "zero_shot" else encode_texts(model, texts)

    def score() -> dict[str, float]:
        if task == "zero_shot":
            probs = prompt_class_scores(model, images, encoded, owners, k)
            return multiclass_metrics(probs, targets, [f"c{c}" for c in range(k)])
        scores = similarity_matrix(model, images, encoded)
        relevant = targets[:, None] == torch.tensor(owners)[None, :]
        return {f"P@{j}": precision_at_k(scores, relevant, j) + precision_at_k(scores.t(), relevant.t(), j)
                for j in (1, 5, 10)}

    benchmark.group = f"scoring-{task}"
    benchmark.extra_info.update(images=n, texts=len(texts))
    out = benchmark.pedantic(score, rounds=3 if benchmark.enabled else 1, iterations=1)
    assert out and all(v == v for v in out.values())  # no NaN
