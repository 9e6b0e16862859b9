"""Two CPU processes (gloo): the gathered losses of ConVIRT and GLoRIA, and their DDP-averaged
gradients, equal the single-process ones on the concatenated batch."""

from __future__ import annotations

import os
import tempfile
from typing import Any

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from method_helpers import REPORTS, tiny_config

WORLD = 2
PER_RANK = 3
# rank 0 gets short reports, rank 1 long ones: the ranks pad to different lengths
ORDER = [0, 2, 0, 3, 1, 3]


def _models() -> dict[str, Any]:
    from methods.convirt import ConVIRT
    from methods.gloria import GLoRIA

    out = {}
    for name, cls in (("convirt", ConVIRT), ("gloria", GLoRIA)):
        torch.manual_seed(0)
        out[name] = cls.from_config(tiny_config(name, cls.Config)).eval()  # eval: BN uses running stats
    return out


def _batch(model: Any, rows: slice) -> dict[str, Any]:
    images = torch.randn(WORLD * PER_RANK, 1, 64, 64, generator=torch.Generator().manual_seed(1))
    reports = [REPORTS[i] for i in ORDER]
    return {"images": images[rows], "text": model.tokenize(reports[rows])}


def _step(model: Any, batch: dict[str, Any]) -> tuple[dict[str, float], dict[str, torch.Tensor]]:
    model.zero_grad(set_to_none=True)
    losses = model(batch)
    sum(losses.values()).backward()
    grads = {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}
    return {k: v.detach() for k, v in losses.items()}, grads


def _worker(rank: int, init: str, out: Any) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=WORLD)
    try:
        result = {}
        for name, model in _models().items():
            losses, grads = _step(model, _batch(model, slice(rank * PER_RANK, (rank + 1) * PER_RANK)))
            for tensor in list(losses.values()) + list(grads.values()):  # what DDP does: mean over ranks
                dist.all_reduce(tensor)
                tensor /= WORLD
            result[name] = (losses, grads)
        if rank == 0:
            out["result"] = result
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_gathered_losses_and_gradients_match_one_process() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        manager = mp.Manager()
        out = manager.dict()
        mp.spawn(_worker, args=("file://" + os.path.join(tmp, "pg"), out), nprocs=WORLD, join=True)
        result = out["result"]
    for name, model in _models().items():
        losses, grads = _step(model, _batch(model, slice(0, WORLD * PER_RANK)))
        dist_losses, dist_grads = result[name]
        assert set(dist_losses) == set(losses)
        for key in losses:
            assert float(dist_losses[key]) == pytest.approx(float(losses[key]), rel=1e-5), (name, key)
        assert set(dist_grads) == set(grads)
        for key, grad in grads.items():
            scale = float(grad.abs().max())
            assert scale > 0, (name, key)
            assert float((dist_grads[key] - grad).abs().max()) <= 1e-4 * scale, (name, key)
