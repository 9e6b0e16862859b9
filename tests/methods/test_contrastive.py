"""methods.contrastive and the ConVIRT loss against plain cross-entropy written out by hand."""

from __future__ import annotations

import math

import pytest
import torch

from methods.contrastive import bidirectional_infonce, cosine_logits
from methods.convirt.losses import ConVIRTLoss


def _plain_infonce(a: torch.Tensor, b: torch.Tensor, tau: float) -> float:
    """-1/N sum_i log( exp(cos(a_i, b_i)/tau) / sum_k exp(cos(a_i, b_k)/tau) ), written as loops."""
    n = a.shape[0]
    total = 0.0
    for i in range(n):
        sims = [float(torch.nn.functional.cosine_similarity(a[i], b[k], dim=0)) / tau for k in range(n)]
        total -= sims[i] - math.log(sum(math.exp(s) for s in sims))
    return total / n


def test_bidirectional_infonce_equals_plain_form() -> None:
    gen = torch.Generator().manual_seed(1)
    img, txt = torch.randn(6, 5, generator=gen), torch.randn(6, 5, generator=gen) * 3
    it, ti = bidirectional_infonce(img, txt, scale=1 / 0.1)
    assert float(it) == pytest.approx(_plain_infonce(img, txt, 0.1), rel=1e-5)
    assert float(ti) == pytest.approx(_plain_infonce(txt, img, 0.1), rel=1e-5)
    assert float(it) != pytest.approx(float(ti), rel=1e-3)  # the two directions differ


def test_convirt_loss_weights_the_directions() -> None:
    gen = torch.Generator().manual_seed(2)
    img, txt = torch.randn(5, 4, generator=gen), torch.randn(5, 4, generator=gen)
    expected = 0.75 * _plain_infonce(img, txt, 0.1) + 0.25 * _plain_infonce(txt, img, 0.1)
    assert float(ConVIRTLoss(0.1, 0.75)(img, txt)) == pytest.approx(expected, rel=1e-5)
    only_it = ConVIRTLoss(0.5, 1.0)(img, txt)
    assert float(only_it) == pytest.approx(_plain_infonce(img, txt, 0.5), rel=1e-5)
    with pytest.raises(ValueError, match="lambda_weight"):
        ConVIRTLoss(0.1, 1.5)
    with pytest.raises(ValueError, match="differ"):
        bidirectional_infonce(img, txt[:3], 10.0)


def test_cosine_logits() -> None:
    a = torch.tensor([[3.0, 0.0], [0.0, 2.0]])
    assert torch.allclose(cosine_logits(a, a), torch.eye(2))
