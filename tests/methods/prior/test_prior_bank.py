"""The sentence prototype bank equals its definition: softmax((x W^T + g) / tau) @ W."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from methods.prior.bank import PrototypeBank, gumbel_noise


@pytest.fixture
def bank() -> PrototypeBank:
    torch.manual_seed(0)
    return PrototypeBank(dim=8, k=32, tau=0.9)


def test_output_is_soft_one_hot_times_codebook(bank: PrototypeBank) -> None:
    x = torch.randn(5, 8)
    torch.manual_seed(123)
    g = -torch.empty(5, 32).exponential_().log()  # standard Gumbel draw
    out = bank(x, noise=g)
    w = bank.embed.weight
    soft = torch.softmax((x @ w.t() + g) / 0.9, dim=-1)
    torch.testing.assert_close(out.quantised, soft @ w)
    torch.testing.assert_close(out.logits, x @ w.t())
    assert torch.equal(out.index, soft.argmax(-1))
    torch.testing.assert_close(out.row_loss, (soft @ w - x).abs().mean(-1))


def test_seeded_draw_matches_torch_gumbel_softmax(bank: PrototypeBank) -> None:
    x = torch.randn(6, 8)
    torch.manual_seed(7)
    expected = F.gumbel_softmax(x @ bank.embed.weight.t(), tau=0.9, hard=False) @ bank.embed.weight
    torch.manual_seed(7)
    torch.testing.assert_close(bank(x).quantised, expected)


def test_noise_has_the_gumbel_distribution() -> None:
    torch.manual_seed(0)
    g = gumbel_noise(torch.zeros(200_000))
    assert abs(g.mean().item() - 0.5772) < 0.02  # Euler-Mascheroni
    assert abs(g.var().item() - torch.pi**2 / 6) < 0.05


def test_training_read_is_noisy_eval_read_is_not(bank: PrototypeBank) -> None:
    x = torch.randn(4, 8)
    assert not torch.allclose(bank(x).quantised, bank(x).quantised)
    bank.eval()
    w = bank.embed.weight
    torch.testing.assert_close(bank(x).quantised, torch.softmax(x @ w.t() / 0.9, -1) @ w)
    torch.testing.assert_close(bank(x).quantised, bank(x).quantised)
    bank.eval_mode = "hard"
    torch.testing.assert_close(bank(x).quantised, w[(x @ w.t()).argmax(-1)])


def test_faithful_eval_keeps_the_noise() -> None:
    bank = PrototypeBank(dim=8, k=32, noisy_eval=True).eval()
    x = torch.randn(4, 8)
    torch.manual_seed(1)
    a = bank(x).quantised
    torch.manual_seed(1)
    b = bank(x).quantised
    c = bank(x).quantised
    torch.testing.assert_close(a, b)
    assert not torch.allclose(a, c)


def test_gradients_reach_codebook_and_input(bank: PrototypeBank) -> None:
    x = torch.randn(3, 8, requires_grad=True)
    out = bank(x)
    (out.quantised.sum() + out.row_loss.mean()).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert bank.embed.weight.grad.abs().sum() > 0


def test_bad_eval_mode_is_rejected() -> None:
    with pytest.raises(ValueError, match="soft"):
        PrototypeBank(8, 4, eval_mode="nearest")
