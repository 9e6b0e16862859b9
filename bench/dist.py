"""Distributed helpers that also work with no process group (one CPU process, one GPU).

Every contrastive loss in the project gathers its negatives with :func:`gather_features` and
builds its targets with :func:`contrastive_labels`, so a loss computed on ``W`` ranks with local
batches of ``n`` equals the single-process loss on the concatenated batch of ``W * n``.

Local batches must have the same size on every rank (``all_gather`` needs equal shapes): the
trainer uses ``drop_last=True`` with its ``DistributedSampler`` under DDP.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import torch
import torch.distributed as dist

log = logging.getLogger(__name__)


def is_initialized() -> bool:
    """True when a default process group exists."""
    return dist.is_available() and dist.is_initialized()


def get_rank() -> int:
    return dist.get_rank() if is_initialized() else 0


def get_world_size() -> int:
    return dist.get_world_size() if is_initialized() else 1


def is_main() -> bool:
    """True on rank 0 (and when not distributed): the process that logs and writes files."""
    return get_rank() == 0


def barrier() -> None:
    """Wait for every rank; a no-op without a process group."""
    if is_initialized():
        dist.barrier()


def reduce_mean(t: torch.Tensor) -> torch.Tensor:
    """The mean of ``t`` over ranks (detached; for logging). ``t`` itself when not distributed."""
    if get_world_size() == 1:
        return t.detach()
    out = t.detach().clone()
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out / get_world_size()


class _AllGatherWithGrad(torch.autograd.Function):
    """Concatenate every rank's shard along dim 0; the backward sums the incoming gradients
    over ranks and returns this rank's slice (a reduce-scatter).

    In the usual form (rows: this rank's samples; columns: the gathered batch; targets:
    :func:`contrastive_labels`) the mean of the rank losses is the full-batch loss, and with the
    summed backward DDP's mean of the parameter gradients is exactly the full-batch gradient.
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        world, rank = get_world_size(), get_rank()
        x = x.contiguous()
        shards = [torch.empty_like(x) for _ in range(world)]
        dist.all_gather(shards, x)
        shards[rank] = x  # this rank's values exactly as computed
        ctx.rank, ctx.n = rank, x.shape[0]
        return torch.cat(shards, dim=0)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        return grad[ctx.rank * ctx.n : (ctx.rank + 1) * ctx.n]


def _gather_no_grad(x: torch.Tensor) -> torch.Tensor:
    shards = [torch.empty_like(x) for _ in range(get_world_size())]
    dist.all_gather(shards, x.detach().contiguous())
    shards[get_rank()] = x  # the local shard keeps its gradient
    return torch.cat(shards, dim=0)


def gather_features(*tensors: torch.Tensor, with_grad: bool = True) -> tuple[torch.Tensor, ...]:
    """All-gather each tensor along dim 0 (rank order), keeping the autograd graph.

    ``with_grad=True``: gradients reach every rank's shard (see :class:`_AllGatherWithGrad`);
    with DDP the parameter gradients then equal the single-process ones on the whole batch.
    ``with_grad=False``: the other ranks' shards are constants and only the local shard (put back
    in place) carries gradient, as open_clip's default does; the gradients then come out ``1/W``
    of the single-process ones. With one process the tensors come back unchanged.
    """
    if get_world_size() == 1:
        return tuple(tensors)
    out = []
    for t in tensors:
        if with_grad and t.requires_grad:
            out.append(_AllGatherWithGrad.apply(t))
        else:
            out.append(_gather_no_grad(t))
    return tuple(out)


def pad_across_ranks(t: torch.Tensor, dim: int = 1, value: float = 0.0) -> torch.Tensor:
    """Pad ``t`` along ``dim`` to the largest size on any rank, so that it can be gathered
    (e.g. word embeddings [B, T, D] whose T is the longest report of each local batch)."""
    if get_world_size() == 1:
        return t
    size = torch.tensor([t.shape[dim]], device=t.device)
    dist.all_reduce(size, op=dist.ReduceOp.MAX)
    missing = int(size.item()) - t.shape[dim]
    if missing == 0:
        return t
    shape = list(t.shape)
    shape[dim] = missing
    return torch.cat([t, t.new_full(shape, value)], dim=dim)


def contrastive_labels(n_local: int, device: torch.device | str | None = None) -> torch.Tensor:
    """Targets of the local rows against the gathered columns: ``arange(n_local) + rank * n_local``."""
    offset = get_rank() * n_local
    return torch.arange(offset, offset + n_local, device=device, dtype=torch.long)


# -- process-group set-up (torchrun) ---------------------------------------------------------------
def launched_by_torchrun() -> bool:
    """True when the environment carries torchrun's RANK and WORLD_SIZE."""
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def init_distributed(device_type: str | None = None) -> torch.device:
    """Join the process group torchrun describes (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR/PORT)
    and return this process's device: ``cuda:LOCAL_RANK`` with NCCL, or CPU with gloo.

    Without torchrun's variables (or with WORLD_SIZE=1) no group is created and the device is
    ``cuda`` when available, else CPU. ``device_type`` ("cpu"/"cuda") forces the kind.
    """
    cuda = torch.cuda.is_available() if device_type in (None, "auto") else device_type == "cuda"
    if cuda and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was requested but CUDA is not available; use 'cpu' or 'auto'")
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = torch.device("cuda", local_rank) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    if launched_by_torchrun() and int(os.environ["WORLD_SIZE"]) > 1 and not is_initialized():
        backend = "nccl" if cuda else "gloo"
        dist.init_process_group(backend=backend, device_id=device if cuda else None)
        log.info("rank %d/%d joined the %s process group on %s", get_rank(), get_world_size(), backend, device)
    return device


def cleanup() -> None:
    """Leave the process group, if one exists."""
    if is_initialized():
        dist.destroy_process_group()


def broadcast_object(obj: Any, src: int = 0) -> Any:
    """``obj`` from rank ``src`` on every rank (the object itself without a process group)."""
    if not is_initialized():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def all_gather_object(obj: Any) -> list[Any]:
    """Every rank's ``obj``, in rank order (``[obj]`` without a process group)."""
    if not is_initialized():
        return [obj]
    out: list[Any] = [None] * get_world_size()
    dist.all_gather_object(out, obj)
    return out
