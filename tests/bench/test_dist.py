"""bench.dist: single-process behaviour and a 2-process gloo run of gather_features."""

from __future__ import annotations

import os
import tempfile

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from bench import dist as bdist


def test_single_process_helpers() -> None:
    x = torch.randn(3, 4, requires_grad=True)
    y = torch.randn(3, 2)
    gx, gy = bdist.gather_features(x, y)
    assert gx is x and gy is y
    assert bdist.get_rank() == 0 and bdist.get_world_size() == 1 and bdist.is_main()
    assert torch.equal(bdist.contrastive_labels(5), torch.arange(5))
    t = torch.tensor(2.5)
    assert float(bdist.reduce_mean(t)) == 2.5
    assert bdist.pad_across_ranks(x) is x
    bdist.barrier()  # no process group: no-op


def _worker(rank: int, world: int, init: str, out: dict) -> None:
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    try:
        torch.manual_seed(0)
        full = torch.randn(world * 3, 4)
        local = full[rank * 3 : (rank + 1) * 3].clone().requires_grad_(True)
        (gathered,) = bdist.gather_features(local)
        # local rows against gathered columns, the project's contrastive form
        loss = (local @ gathered.t() * bdist.contrastive_labels(3).float()[:, None]).sum()
        loss.backward()
        grads = [torch.empty_like(local) for _ in range(world)]
        dist.all_gather(grads, local.grad)
        (nograd,) = bdist.gather_features(local, with_grad=False)
        ragged = torch.ones(2, rank + 1)
        padded = bdist.pad_across_ranks(ragged, dim=1, value=0.0)
        out[rank] = {
            "gathered": gathered.detach(),
            "grad": torch.cat(grads),
            "nograd_equal": bool(torch.equal(nograd.detach(), gathered.detach())),
            "labels": bdist.contrastive_labels(3),
            "mean": float(bdist.reduce_mean(torch.tensor(float(rank)))),
            "padded": padded,
            "main": bdist.is_main(),
        }
    finally:
        dist.destroy_process_group()


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed unavailable")
def test_two_process_gather_matches_single_process() -> None:
    world = 2
    with tempfile.TemporaryDirectory() as tmp:
        init = "file://" + os.path.join(tmp, "pg")
        manager = mp.Manager()
        out = manager.dict()
        mp.spawn(_worker, args=(world, init, out), nprocs=world, join=True)
        out = dict(out)
    torch.manual_seed(0)
    full = torch.randn(world * 3, 4).requires_grad_(True)
    loss = torch.zeros(())
    for rank in range(world):
        rows = full[rank * 3 : (rank + 1) * 3]
        labels = torch.arange(rank * 3, rank * 3 + 3).float()
        loss = loss + (rows @ full.t() * labels[:, None]).sum()
    loss.backward()
    for rank in range(world):
        assert torch.allclose(out[rank]["gathered"], full.detach())
        # the summed backward gives each shard the gradient of the sum of rank losses
        assert torch.allclose(out[rank]["grad"], full.grad, atol=1e-5)
        assert out[rank]["nograd_equal"]
        assert torch.equal(out[rank]["labels"], torch.arange(rank * 3, rank * 3 + 3))
        assert out[rank]["mean"] == pytest.approx(0.5)
        assert out[rank]["padded"].shape == (2, 2)
        assert out[rank]["main"] == (rank == 0)
    assert torch.equal(out[0]["padded"], torch.tensor([[1.0, 0.0], [1.0, 0.0]]))
