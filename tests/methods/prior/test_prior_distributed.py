"""Two CPU processes (gloo): PRIOR's stage-3 losses, averaged over ranks as DDP does, and the
averaged gradients equal the single-process ones on the concatenated batch (eval mode, so that
dropout, BatchNorm batch statistics and the bank's Gumbel noise are out of the comparison)."""

from __future__ import annotations

import os
import tempfile
from typing import Any

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from bench.config import resolve

WORLD, PER_RANK = 2, 3
REPORTS = [
    ["No acute process.", "Heart size is normal."],
    ["Small left effusion.", "No pneumothorax.", "Lines unchanged.", "Stable mediastinum.", "Mild edema."],
    ["Clear lungs.", "Normal heart.", "No effusion."],
]
ORDER = [0, 0, 2, 1, 1, 2]  # the ranks hold different numbers of sentences


def _model() -> Any:
    from methods.prior import PRIOR

    cfg = resolve("tiny", "prior", overrides={"model.image_size": 64}, method_config_cls=PRIOR.Config)
    torch.manual_seed(0)
    model = PRIOR.from_config(cfg).eval()
    model.set_stage("stage3")
    return model


def _batch(model: Any, rows: slice) -> dict[str, Any]:
    images = torch.randn(WORLD * PER_RANK, 1, 64, 64, generator=torch.Generator().manual_seed(1))
    return {"images": images[rows], "text": model.tokenize([REPORTS[i] for i in ORDER][rows])}


def _step(model: Any, batch: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    model.zero_grad(set_to_none=True)
    out = model(batch)
    terms = {k: v for k, v in out.items() if k.endswith("_loss")}
    sum(terms.values()).backward()
    grads = {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}
    return {k: v.detach() for k, v in terms.items()}, grads


def _worker(rank: int, init: str, out: Any) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=WORLD)
    try:
        model = _model()
        terms, grads = _step(model, _batch(model, slice(rank * PER_RANK, (rank + 1) * PER_RANK)))
        for tensor in list(terms.values()) + list(grads.values()):
            dist.all_reduce(tensor)
            tensor /= WORLD
        if rank == 0:
            out["result"] = (terms, grads)
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_stage3_losses_and_gradients_match_one_process() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        manager = mp.Manager()
        out = manager.dict()
        mp.spawn(_worker, args=("file://" + os.path.join(tmp, "pg"), out), nprocs=WORLD, join=True)
        dist_terms, dist_grads = out["result"]
    model = _model()
    terms, grads = _step(model, _batch(model, slice(0, WORLD * PER_RANK)))
    assert set(dist_terms) == set(terms) and len(terms) == 8
    for key, value in terms.items():
        assert float(dist_terms[key]) == pytest.approx(float(value), rel=1e-4, abs=1e-6), key
    assert set(dist_grads) == set(grads)
    floor = 1e-5 * max(float(g.abs().max()) for g in grads.values())  # e.g. key biases: zero up to rounding
    for key, grad in grads.items():
        scale = float(grad.abs().max())
        assert float((dist_grads[key] - grad).abs().max()) <= 1e-3 * scale + floor, key
