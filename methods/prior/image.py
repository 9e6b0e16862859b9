"""PRIOR's image tower: a torchvision ResNet trunk, layer4 tokens and a CLIP-style attention pool."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

from methods.prior.text import attend


class AttentionPool2d(nn.Module):
    """CLIP's attention pool over a [B, C, H, W] map with a learned positional embedding over
    ``H*W + 1`` positions (the mean first); only the mean position's output is computed.
    A map of another size than built for gets a bicubically resized positional embedding."""

    def __init__(self, grid: tuple[int, int], embed_dim: int, num_heads: int, output_dim: int | None = None):
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError(f"attention pool: width {embed_dim} is not divisible by num_heads {num_heads}")
        self.grid, self.num_heads = tuple(grid), num_heads
        self.positional_embedding = nn.Parameter(
            torch.randn(grid[0] * grid[1] + 1, embed_dim) / embed_dim**0.5
        )
        self.k_proj = nn.Linear(embed_dim, embed_dim)
        self.q_proj = nn.Linear(embed_dim, embed_dim)
        self.v_proj = nn.Linear(embed_dim, embed_dim)
        self.c_proj = nn.Linear(embed_dim, output_dim or embed_dim)

    def _positions(self, h: int, w: int) -> torch.Tensor:
        if (h, w) == self.grid:
            return self.positional_embedding
        first, rest = self.positional_embedding[:1], self.positional_embedding[1:]
        rest = rest.t().reshape(1, -1, *self.grid)
        rest = F.interpolate(rest, size=(h, w), mode="bicubic", align_corners=False)
        return torch.cat([first, rest.reshape(rest.shape[1], h * w).t()], dim=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        seq = x.flatten(2).transpose(1, 2)  # [B, HW, C], real spatial order
        seq = torch.cat([seq.mean(dim=1, keepdim=True), seq], dim=1) + self._positions(h, w).to(x.dtype)
        keep = torch.ones(b, seq.shape[1], dtype=torch.bool, device=x.device)
        return self.c_proj(
            attend(self.q_proj(seq[:, :1]), self.k_proj(seq), self.v_proj(seq), keep, self.num_heads)
        )


def map_to_tokens(fmap: torch.Tensor, faithful: bool) -> torch.Tensor:
    """[B, C, H, W] -> [B, HW, C]. ``faithful``: the official ``.view(B, -1, C)`` (no permute), so
    a "token" is a slab of raw memory (C/HW whole channel maps), not one spatial position."""
    b, c = fmap.shape[:2]
    if faithful:
        return fmap.contiguous().view(b, -1, c)
    return fmap.flatten(2).transpose(1, 2)


def tokens_to_map(tokens: torch.Tensor, grid: tuple[int, int], faithful: bool) -> torch.Tensor:
    """Inverse of :func:`map_to_tokens` for [B, HW, D] tokens (the official mirror ``.view``)."""
    b, n, d = tokens.shape
    if faithful:
        return tokens.contiguous().view(b, d, *grid)
    return tokens.transpose(1, 2).reshape(b, d, *grid)


class ImageEncoder(nn.Module):
    """``trunk`` (torchvision ResNet keys, read through ``features``) + attention pool on layer4.

    forward(images) -> (tokens [B, HW, C] of layer4, pooled [B, C], grid (H, W)).
    """

    def __init__(
        self,
        trunk: nn.Module,
        features: Callable[[nn.Module, torch.Tensor], dict[str, torch.Tensor]],
        image_size: int,
        in_channels: int = 1,
        num_heads: int = 8,
        faithful: bool = False,
    ):
        super().__init__()
        self.trunk = trunk
        self._features = features
        self.faithful = faithful
        width, grid = self._probe(image_size, in_channels)
        self.width, self.grid = width, grid
        self.atten_pool = AttentionPool2d(grid, width, num_heads)

    @torch.no_grad()
    def _probe(self, image_size: int, in_channels: int) -> tuple[int, tuple[int, int]]:
        was_training = self.trunk.training
        self.trunk.eval()
        try:
            probe = torch.zeros(1, in_channels, image_size, image_size)
            fmap = self._features(self.trunk, probe)["layer4"]
        finally:
            self.trunk.train(was_training)
        return int(fmap.shape[1]), (int(fmap.shape[2]), int(fmap.shape[3]))

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, tuple[int, int]]:
        fmap = self._features(self.trunk, images)["layer4"]
        grid = (int(fmap.shape[2]), int(fmap.shape[3]))
        return map_to_tokens(fmap, self.faithful), self.atten_pool(fmap), grid
