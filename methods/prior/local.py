"""Local alignment module (LAM): sigmoid cross-attention between patches and sentences."""

from __future__ import annotations

import math

import torch
from torch import nn


class LocalCrossAttention(nn.Module):
    """Two sets of Q/K/V linears; attention weights are ``sigmoid(QK^T / sqrt(d))`` (no softmax).

    Batched over samples: padded sentences (``mask`` False) get weight 0 as keys, which equals
    the official per-sample computation on the real sentences only (sigmoid weights are not
    normalised, so a zero weight removes a sentence exactly). Outputs for padded sentence rows
    are computed but meaningless.
    """

    def __init__(self, embed_dim: int, dropout: float = 0.0):
        super().__init__()
        self.embed_dim = embed_dim
        self.query1, self.key1, self.value1 = (nn.Linear(embed_dim, embed_dim) for _ in range(3))
        self.query2, self.key2, self.value2 = (nn.Linear(embed_dim, embed_dim) for _ in range(3))
        self.dropout1, self.dropout2 = nn.Dropout(dropout), nn.Dropout(dropout)

    def forward(
        self, image: torch.Tensor, text: torch.Tensor, mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """image [B, N, D] patches, text [B, S, D] sentences, mask [B, S].

        Returns (text-conditioned patches [B, N, D], their weights [B, N, S],
        image-conditioned sentences [B, S, D], their weights [B, S, N]).
        """
        scale = 1.0 / math.sqrt(self.embed_dim)
        q1, k1, v1 = self.query1(image), self.key1(image), self.value1(image)
        q2, k2, v2 = self.query2(text), self.key2(text), self.value2(text)
        w_text = self.dropout1(torch.sigmoid(q2 @ k1.transpose(1, 2) * scale))  # [B, S, N]
        image_to_text = w_text @ v1
        w_image = torch.sigmoid(q1 @ k2.transpose(1, 2) * scale)  # [B, N, S]
        if mask is not None:
            w_image = w_image * mask.unsqueeze(1).to(w_image.dtype)
        w_image = self.dropout2(w_image)
        return w_image @ v2, w_image, image_to_text, w_text

    def mean_attention(self, image: torch.Tensor, text: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """PRIOR's zero-shot local score for every image/text pair: [Bi, Bt].

        The mean over patches and real sentences of both sigmoid weight maps, averaged.
        image [Bi, N, D], text [Bt, S, D], mask [Bt, S].
        """
        scale = 1.0 / math.sqrt(self.embed_dim)
        k1, q1 = self.key1(image), self.query1(image)
        q2, k2 = self.query2(text), self.key2(text)
        m = mask.to(image.dtype)  # [Bt, S]
        n_real = m.sum(1).clamp(min=1) * image.shape[1]  # [Bt]
        a_text = torch.sigmoid(torch.einsum("tsd,ind->itsn", q2, k1) * scale)  # [Bi, Bt, S, N]
        a_img = torch.sigmoid(torch.einsum("ind,tsd->itsn", q1, k2) * scale)
        total = torch.einsum("itsn,ts->it", a_text + a_img, m)
        return total / (2 * n_real)


def predictor(embed_dim: int) -> nn.Sequential:
    """SimSiam predictor shared by both views: D -> D/2 -> ReLU -> D (keys ``0`` and ``2``)."""
    return nn.Sequential(
        nn.Linear(embed_dim, embed_dim // 2), nn.ReLU(inplace=True), nn.Linear(embed_dim // 2, embed_dim)
    )
