"""Hungarian matching of generated sentence prototypes to a report's sentences.

The cost (L1 ``cdist``) is computed for the whole batch on the model's device in one call and
moved to the host in one transfer; only ``scipy.optimize.linear_sum_assignment`` runs per sample
(it has no batched form), and the indices go back to the device in one transfer.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment


def l1_cost(generated: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """[B, Q, D] x [B, T, D] -> [B, Q, T] pairwise L1 distances (no gradient)."""
    with torch.no_grad():
        return torch.cdist(generated.detach().float(), targets.detach().float(), p=1)


def match(
    cost: torch.Tensor, target_mask: torch.Tensor | None = None, as_coded: bool = False
) -> torch.Tensor:
    """For each target slot, the index of the query matched to it: [B, T] long, on ``cost``'s device.

    ``cost``: [B, Q, T] (queries x targets), ``Q >= T``. ``target_mask`` [B, T] (True = real
    target): only real targets take part; padded slots get index 0 (ignore them).

    ``as_coded=True`` reproduces the official ``logit[col_ind]`` indexing of a square assignment:
    slot ``j`` gets query ``col_ind[j]`` although the assignment pairs query ``j`` with target
    ``col_ind[j]`` (the two agree only when the permutation is its own inverse). Mask ignored.
    """
    if cost.dim() != 3:
        raise ValueError(f"match: expected a [B, Q, T] cost, got shape {tuple(cost.shape)}")
    b, q, t = cost.shape
    if t > q:
        raise ValueError(f"match: {t} targets but only {q} queries; truncate targets to the query count")
    if as_coded and t != q:
        raise ValueError(
            f"match(as_coded=True): expected a square cost (targets padded to {q}), got {t} targets"
        )
    use_mask = target_mask is not None and not as_coded
    packed = cost.detach().float()
    if use_mask:  # the mask rides along as one more row: a single device-to-host copy
        packed = torch.cat([packed, target_mask.detach().to(packed.dtype).unsqueeze(1)], dim=1)
    packed = packed.cpu().numpy()
    host, mask = packed[:, :q], (packed[:, q] > 0.5 if use_mask else None)
    out = np.zeros((b, t), dtype=np.int64)
    for i in range(b):  # scipy has no batched assignment; cost and indices cross devices once
        if as_coded:
            _, cols = linear_sum_assignment(host[i])
            out[i] = cols
            continue
        slots = np.arange(t) if mask is None else np.flatnonzero(mask[i])
        if slots.size == 0:
            continue
        _, queries = linear_sum_assignment(host[i][:, slots].T)  # rows: targets, cols: queries
        out[i, slots] = queries
    return torch.from_numpy(out).to(cost.device)


def take(generated: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``generated`` [B, Q, D] reordered by ``index`` [B, T]: out[b, j] = generated[b, index[b, j]]."""
    return generated.gather(1, index.unsqueeze(-1).expand(-1, -1, generated.shape[-1]))
