"""CCR decoders: the image decoder and the cross-attending sentence-prototype decoder."""

from __future__ import annotations

import copy
import math

import torch
import transformers
from torch import nn
from torch.nn import functional as F
from transformers import AutoModel, PretrainedConfig


def conv_bn_relu(cin: int, cout: int) -> nn.Sequential:
    """conv3x3 (no bias) + BN + ReLU, keys ``0`` and ``1`` as segmentation_models' Conv2dReLU."""
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
    )


class DecoderBlock(nn.Module):
    """Nearest upsampling to a given size, then two conv3x3+BN+ReLU; no skip connections."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv1 = conv_bn_relu(cin, cout)
        self.conv2 = conv_bn_relu(cout, cout)

    def forward(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        return self.conv2(self.conv1(F.interpolate(x, size=size, mode="nearest")))


def upsampling_blocks(image_size: int, grid: int) -> int:
    """Blocks needed to go from a ``grid`` map to ``image_size`` by doubling (5 for 7 -> 224)."""
    return max(1, math.ceil(math.log2(image_size / grid) - 1e-9))


class ImageDecoder(nn.Module):
    """Channels halve at every block (1536 -> 768 -> ... -> 48 for two 768-d inputs), each block
    doubles the map; the last lands exactly on the input size; a conv3x3 head gives 1 channel."""

    def __init__(self, in_channels: int, n_blocks: int, out_channels: int = 1):
        super().__init__()
        chans = [max(in_channels // 2**i, 1) for i in range(n_blocks + 1)]
        self.blocks = nn.ModuleList(DecoderBlock(a, b) for a, b in zip(chans[:-1], chans[1:]))
        self.output_head = nn.Sequential(nn.Conv2d(chans[-1], out_channels, 3, padding=1))

    def forward(self, z: torch.Tensor, out_size: tuple[int, int]) -> torch.Tensor:
        h, w = z.shape[-2:]
        n = len(self.blocks)
        for i, block in enumerate(self.blocks):
            size = (
                out_size
                if i == n - 1
                else (min(h * 2 ** (i + 1), out_size[0]), min(w * 2 ** (i + 1), out_size[1]))
            )
            z = block(z, size)
        return self.output_head(z)


def _bidirectional_mask(batch: int, length: int, device: torch.device) -> torch.Tensor:
    """An explicit all-visible self-attention mask, which overrides the decoder's causal one."""
    if int(transformers.__version__.split(".")[0]) >= 5:
        return torch.ones(batch, 1, length, length, dtype=torch.bool, device=device)  # 4D: used as given
    return torch.ones(batch, length, length, dtype=torch.long, device=device)  # 3D: no causal part added


class SentenceDecoder(nn.Module):
    """A randomly initialised BERT of the text encoder's config class, ``layers`` deep, with
    ``is_decoder`` and cross-attention to the image tokens, no pooler, a 1-row vocabulary. Width = the text encoder's
    hidden size; image tokens are projected into it and outputs back to ``embed_dim`` where the
    two differ. ``causal=True`` keeps HF's causal self-attention (the official quirk); otherwise
    every query sees every other query.
    """

    def __init__(self, text_config: PretrainedConfig, layers: int, embed_dim: int, causal: bool = False):
        super().__init__()
        cfg = copy.deepcopy(text_config)
        cfg.num_hidden_layers = layers
        cfg.is_decoder = True
        cfg.add_cross_attention = True
        cfg.use_cache = False
        cfg.vocab_size = 1  # queries enter as inputs_embeds: the word embeddings are never read
        self.bert = AutoModel.from_config(cfg, add_pooling_layer=False)
        self.width, self.causal = int(cfg.hidden_size), causal
        same = self.width == embed_dim
        self.image_in = nn.Identity() if same else nn.Linear(embed_dim, self.width)
        self.out = nn.Identity() if same else nn.Linear(self.width, embed_dim)

    def forward(self, queries: torch.Tensor, image_tokens: torch.Tensor) -> torch.Tensor:
        """queries [B, Q, width], image tokens [B, N, embed_dim] -> [B, Q, embed_dim]."""
        mask = (
            None if self.causal else _bidirectional_mask(queries.shape[0], queries.shape[1], queries.device)
        )
        hidden = self.bert(
            inputs_embeds=queries,
            attention_mask=mask,
            encoder_hidden_states=self.image_in(image_tokens),
            use_cache=False,
        ).last_hidden_state
        return self.out(hidden)
