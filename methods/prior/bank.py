"""Sentence prototype bank (SPB): a codebook read through a Gumbel-softmax.

Not a VQ-VAE nearest neighbour: logits are raw dot products of a sentence embedding with the
512 prototypes, the soft one-hot ``softmax((logits + g) / tau)`` (``g`` standard Gumbel noise) mixes
the prototypes, and the bank loss is the L1 between output and input. No EMA, no
commitment loss; the codebook learns through that L1 and every loss downstream.

The bank computes in float32 whatever the autocast state (tiny logits differences flip prototypes).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from methods.prior.config import BANK_EVAL_MODES


def gumbel_noise(like: torch.Tensor) -> torch.Tensor:
    """Standard Gumbel noise shaped like ``like``, drawn exactly as ``F.gumbel_softmax`` draws it."""
    return -torch.empty_like(like, memory_format=torch.legacy_contiguous_format).exponential_().log()


@dataclass
class BankOutput:
    quantised: torch.Tensor  # [M, D] soft one-hot @ codebook
    logits: torch.Tensor  # [M, K] raw dot products (float32)
    index: torch.Tensor  # [M] argmax of the soft one-hot
    row_loss: torch.Tensor  # [M] mean |quantised - input| of each row (the bank loss averages them)


class PrototypeBank(nn.Module):
    """``nn.Embedding(k, dim)`` with N(0, 1) init, read by a Gumbel-softmax at temperature ``tau``.

    In training the read is always noisy. At eval it is noisy only with ``noisy_eval=True`` (the
    official behaviour); otherwise ``eval_mode`` picks ``"soft"`` (softmax(logits / tau), the
    noise-free version of the training read) or ``"hard"`` (the argmax prototype).
    """

    def __init__(
        self, dim: int, k: int = 512, tau: float = 0.9, eval_mode: str = "soft", noisy_eval: bool = False
    ):
        super().__init__()
        if eval_mode not in BANK_EVAL_MODES:
            raise ValueError(f"bank eval_mode: expected one of {BANK_EVAL_MODES}, got {eval_mode!r}")
        self.dim, self.k, self.tau = dim, k, tau
        self.eval_mode, self.noisy_eval = eval_mode, noisy_eval
        self.embed = nn.Embedding(k, dim)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """[M, D] -> [M, K] raw dot products with the prototypes, in float32."""
        with torch.autocast(device_type=x.device.type, enabled=False):
            return x.float() @ self.embed.weight.float().t()

    def assignment(self, logits: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        """The soft one-hot [M, K] for ``logits`` in the current mode."""
        if self.training or self.noisy_eval:
            g = gumbel_noise(logits) if noise is None else noise.to(logits)
            return torch.softmax((logits + g) / self.tau, dim=-1)
        if self.eval_mode == "hard":
            return nn.functional.one_hot(logits.argmax(-1), self.k).to(logits.dtype)
        return torch.softmax(logits / self.tau, dim=-1)

    def forward(self, x: torch.Tensor, noise: torch.Tensor | None = None) -> BankOutput:
        """Quantise sentence embeddings ``x`` [M, D]; ``noise`` replaces the Gumbel draw (tests)."""
        flat = x.reshape(-1, self.dim)
        logits = self.logits(flat)
        soft = self.assignment(logits, noise)
        with torch.autocast(device_type=x.device.type, enabled=False):
            out = soft @ self.embed.weight.float()
            row_loss = (out - flat.float()).abs().mean(-1)
        return BankOutput(out.to(x.dtype), logits, soft.argmax(-1), row_loss)
