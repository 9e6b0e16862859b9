"""tasks.mm.losses: BenchMixedLoss equals MGCA's MixedLoss and works inside an MMSeg head."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

pytest.importorskip("mmseg")

from tasks.mm.losses import BenchMixedLoss  # noqa: E402

pytestmark = pytest.mark.mm


def mgca_mixed_loss(logit: torch.Tensor, target: torch.Tensor, alpha: float = 10.0, gamma: float = 2.0):
    """MGCA ``MixedLoss`` (mgca/utils/segmentation_loss.py), written out as it computes."""
    max_val = (-logit).clamp(min=0)
    loss = logit - logit * target + max_val + ((-max_val).exp() + (-logit - max_val).exp()).log()
    invprobs = F.logsigmoid(-logit * (target * 2.0 - 1.0))
    focal = ((invprobs * gamma).exp() * loss).mean()
    p = torch.sigmoid(logit).reshape(-1)
    t = target.reshape(-1)
    dice = (2.0 * (p * t).sum() + 1.0) / (p.sum() + t.sum() + 1.0)
    return alpha * focal - torch.log(dice)


def test_equals_mgca_on_one_channel_and_on_two() -> None:
    gen = torch.Generator().manual_seed(0)
    logit = torch.randn(3, 1, 8, 8, generator=gen) * 3
    target = (torch.rand(3, 8, 8, generator=gen) > 0.8).long()
    loss = BenchMixedLoss()
    want = mgca_mixed_loss(logit[:, 0], target.float())
    torch.testing.assert_close(loss(logit, target), want)
    two = torch.cat([torch.zeros_like(logit), logit], dim=1)  # softmax fg = sigmoid(l1 - l0)
    torch.testing.assert_close(loss(two, target), want)
    assert loss.loss_name.startswith("loss_")


def test_ignored_pixels_do_not_count_and_gradients_flow() -> None:
    logit = torch.zeros(1, 1, 4, 4, requires_grad=True)
    target = torch.zeros(1, 4, 4, dtype=torch.long)
    target[0, 0, 0] = 1
    ignored = target.clone()
    ignored[0, 3, :] = 255
    loss = BenchMixedLoss()
    kept = loss(logit, ignored)
    torch.testing.assert_close(
        kept, mgca_mixed_loss(logit[0, 0, :3].reshape(1, -1), target[0, :3].reshape(1, -1).float())
    )
    kept.backward()
    assert logit.grad[0, 0, 0, 0] < 0 and logit.grad[0, 0, 3].abs().sum() == 0
    with pytest.raises(ValueError, match="1 or 2 output channels"):
        loss(torch.zeros(1, 3, 2, 2), torch.zeros(1, 2, 2, dtype=torch.long))
