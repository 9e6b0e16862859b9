"""Sentence embeddings from token features, and the attention pool that makes the report vector."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def gather_sentences(
    tokens: torch.Tensor, sentence_ids: torch.Tensor, n_sentences: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Average the token features of each sentence, for the whole batch at once.

    tokens: [B, L, D]; sentence_ids: [B, L] sentence index of each token, -1 for special and
    padding tokens (ids >= ``n_sentences`` are dropped too). Returns sentences [B, S, D]
    (S = ``n_sentences``; zeros where a sentence has no token) and mask [B, S], True where the
    sentence has at least one token.
    """
    b, length, d = tokens.shape
    if sentence_ids.shape != (b, length):
        raise ValueError(f"sentence_ids: expected shape {(b, length)}, got {tuple(sentence_ids.shape)}")
    s = int(n_sentences)
    ids = sentence_ids.to(tokens.device, torch.long)
    valid = (ids >= 0) & (ids < s)
    slot = torch.arange(b, device=tokens.device).unsqueeze(1) * s + ids.clamp(0, max(s - 1, 0))
    slot = torch.where(valid, slot, torch.full_like(slot, b * s))  # a spare row collects the rest
    flat_slot = slot.reshape(-1)
    sums = tokens.new_zeros(b * s + 1, d).index_add(0, flat_slot, tokens.reshape(-1, d))
    counts = tokens.new_zeros(b * s + 1).index_add(0, flat_slot, valid.reshape(-1).to(tokens.dtype))
    sums, counts = sums[:-1].view(b, s, d), counts[:-1].view(b, s)
    return sums / counts.clamp(min=1).unsqueeze(-1), counts > 0


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``x`` [B, S, D] over the real rows of ``mask`` [B, S] (zeros when there are none)."""
    m = mask.to(x.dtype).unsqueeze(-1)
    return (x * m).sum(1) / m.sum(1).clamp(min=1)


class SentenceAttentionPool(nn.Module):
    """CLIP-style attention pooling over a report's sentences, without positional embedding.

    The query is the mean sentence; keys/values are the mean plus every real sentence (padded
    sentences are masked out). Only the mean's output is computed: the same value as running
    the full self-attention over ``[mean, sentences]`` and keeping position 0.
    """

    def __init__(self, embed_dim: int, num_heads: int = 8, output_dim: int | None = None):
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError(
                f"attention pool: embed_dim {embed_dim} is not divisible by num_heads {num_heads}"
            )
        self.num_heads = num_heads
        self.k_proj = nn.Linear(embed_dim, embed_dim)
        self.q_proj = nn.Linear(embed_dim, embed_dim)
        self.v_proj = nn.Linear(embed_dim, embed_dim)
        self.c_proj = nn.Linear(embed_dim, output_dim or embed_dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """x [B, S, D], mask [B, S] (True = real) -> [B, output_dim]."""
        b, s, d = x.shape
        if mask is None:
            mask = torch.ones(b, s, dtype=torch.bool, device=x.device)
        mean = masked_mean(x, mask)
        seq = torch.cat([mean.unsqueeze(1), x], dim=1)
        keep = torch.cat([mask.new_ones(b, 1), mask.bool()], dim=1)
        return self.c_proj(
            attend(self.q_proj(mean).unsqueeze(1), self.k_proj(seq), self.v_proj(seq), keep, self.num_heads)
        )


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, keep: torch.Tensor, heads: int) -> torch.Tensor:
    """Multi-head softmax attention of one query per sample: q [B, 1, D], k/v [B, N, D],
    keep [B, N] (True = attend) -> [B, D]."""
    b, n, d = k.shape
    split = lambda t: t.view(b, t.shape[1], heads, d // heads).transpose(1, 2)  # noqa: E731
    out = F.scaled_dot_product_attention(split(q), split(k), split(v), attn_mask=keep[:, None, None, :])
    return out.transpose(1, 2).reshape(b, d)
