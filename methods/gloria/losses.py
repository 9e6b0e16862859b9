"""GLoRIA's two loss terms (``gloria/loss/gloria_loss.py``): global and local image-report
contrastive losses, both ``temp3``-scaled cross-entropies in both directions.

Both gather the other ranks' samples with :func:`bench.dist.gather_features`; each rank scores
its own images against every report of the global batch and its own reports against every image.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from bench.dist import contrastive_labels, gather_features, get_world_size, pad_across_ranks
from methods.contrastive import bidirectional_infonce
from methods.gloria.local import local_similarity


class GlobalLoss(nn.Module):
    """CE(temp3 * cos(image, report)) image->report plus report->image."""

    def __init__(self, temp3: float = 10.0, gather_with_grad: bool = True) -> None:
        super().__init__()
        self.temp3 = temp3
        self.gather_with_grad = gather_with_grad

    def forward(self, image: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        loss0, loss1 = bidirectional_infonce(image, text, self.temp3, self.gather_with_grad)
        return loss0 + loss1


class LocalLoss(nn.Module):
    """CE(temp3 * local score) in both directions; the score is :func:`local_similarity` with
    ``agg="sum"`` (log-sum-exp over words of exp(temp2 * cos))."""

    def __init__(
        self,
        temp1: float = 4.0,
        temp2: float = 5.0,
        temp3: float = 10.0,
        chunk_floats: int = 2**25,
        gather_with_grad: bool = True,
    ) -> None:
        super().__init__()
        self.temp1, self.temp2, self.temp3 = temp1, temp2, temp3
        self.chunk_floats = chunk_floats
        self.gather_with_grad = gather_with_grad

    def _scores(self, regions: torch.Tensor, words: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return local_similarity(regions, words, mask, self.temp1, self.temp2, "sum", self.chunk_floats)

    def forward(self, regions: torch.Tensor, words: torch.Tensor, word_mask: torch.Tensor) -> torch.Tensor:
        """``regions`` [n, R, D], ``words`` [n, T, D], ``word_mask`` [n, T]: this rank's pairs."""
        n = regions.shape[0]
        labels = contrastive_labels(n, regions.device)
        if get_world_size() == 1:
            scores = self._scores(regions, words, word_mask)  # [images, reports]
            image_rows, text_rows = scores, scores.t()
        else:
            words = pad_across_ranks(words, dim=1)
            mask = pad_across_ranks(word_mask.float(), dim=1)
            all_regions, all_words = gather_features(regions, words, with_grad=self.gather_with_grad)
            (all_mask,) = gather_features(mask, with_grad=False)
            image_rows = self._scores(regions, all_words, all_mask > 0.5)
            text_rows = self._scores(all_regions, words, mask > 0.5).t()
        loss0 = F.cross_entropy(image_rows * self.temp3, labels)
        loss1 = F.cross_entropy(text_rows * self.temp3, labels)
        return loss0 + loss1
