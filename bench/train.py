"""The pretraining engine: plain PyTorch, one process or DDP under torchrun.

:class:`Trainer` runs a method's staged schedule (``method.stages``): at each stage start it calls
``method.set_stage``, re-creates AdamW and the warmup+cosine schedule (:mod:`bench.optim`) and
re-wraps DDP (the trainable set may change). Each step sums the ``*_loss`` terms of
``method(batch)`` over ``cfg.train.grad_accum`` micro-batches, clips, steps. bf16 autocast on CUDA
(``train.amp``) and, with ``train.cpu_bf16``, on CPU; ``train.channels_last`` puts the trunk and
the images in channels-last (:mod:`bench.precision`). On CPU the run is deterministic, and ``run(resume=True)`` continues from ``last.pt`` so
that the final weights equal an uninterrupted run's.

Files in ``out_dir`` (rank 0 only): ``config.yaml``, ``log.jsonl`` (one line per ``log_every``
steps: step, epoch, stage, lr, every term averaged over the window and the ranks, images/s, wall
time), ``last.pt`` (every ``ckpt_every`` steps, at stage starts and at the end), ``<stage>_start.pt``
at each later stage's start, ``final.pt`` (weights and config only). Checkpoints are written
atomically (:mod:`bench.checkpoint`). A non-finite loss stops the run with
:class:`NonFiniteLossError`; the checkpoints already written are kept untouched.

``batch_size`` is per rank: the global batch is ``batch_size x world_size x grad_accum``.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import Dataset
from tqdm import tqdm

from bench import dist, precision
from bench.api import Method, Stage
from bench.checkpoint import (
    build_method,
    check_resumable,
    checkpoint_payload,
    load_checkpoint,
    read_checkpoint,
    save_checkpoint,
)
from bench.config import BenchConfig
from bench.data.pretrain import EpochSampler, steps_per_epoch
from bench.environment import environment
from bench.errors import UserError
from bench.fileio import link_or_copy
from bench.optim import make_optimizer, make_scheduler, stage_bounds, stage_index
from bench.seeding import rng_state, seed_everything, set_rng_state
from bench.stale import remove_stale
from bench.train_utils import (
    JsonlLog,
    NonFiniteLossError,
    TermMeter,
    ddp_find_unused,
    make_loader,
    next_batch,
    to_device,
    total_loss,
    writable_dir,
)

log = logging.getLogger(__name__)

__all__ = ["Trainer", "NonFiniteLossError", "load_checkpoint", "build_method"]


class Trainer:
    """Pretrain ``method`` on ``dataset`` (items as :class:`bench.data.pretrain.PretrainDataset`)."""

    def __init__(
        self,
        method: Method,
        dataset: Dataset,
        cfg: BenchConfig,
        out_dir: str | Path,
        *,
        collate_fn: Callable[[list[Any]], dict[str, Any]] | None = None,
    ) -> None:
        self.method, self.dataset, self.cfg, self.tc = method, dataset, cfg, cfg.train
        self.out_dir = Path(out_dir)
        if collate_fn is None and hasattr(dataset, "make_collate"):
            collate_fn = dataset.make_collate(method.tokenize)
        self.collate_fn = collate_fn
        self.step = 0
        self.stage_idx = -1
        self.model: torch.nn.Module = method
        self.optimizer: torch.optim.Optimizer | None = None
        self.scheduler: Any = None
        self._probe_unused = self._compile_probe = False
        self.summary: dict[str, float] = {"steps": 0, "wall_s": 0.0, "images_per_s": 0.0}

    # -- set-up --------------------------------------------------------------------------------
    def _setup(self) -> None:
        tc = self.tc
        self.device = dist.init_distributed(tc.device)
        self.world, self.rank = dist.get_world_size(), dist.get_rank()
        if self.device.type == "cpu" and tc.threads > 0:
            torch.set_num_threads(tc.threads)
        if tc.sync_bn and self.world > 1 and self.device.type == "cuda":
            self.method = torch.nn.SyncBatchNorm.convert_sync_batchnorm(self.method)
        elif tc.sync_bn and self.world > 1:
            log.warning("train.sync_bn: SyncBatchNorm needs CUDA; each CPU rank keeps its own BatchNorm statistics")
        precision.prepare(self.method.to(self.device), tc).train()
        precision.checkpoint_towers(self.method, tc)
        precision.compile_step(self.method, tc)
        self.sampler = EpochSampler(self.dataset, self.world, self.rank, seed=tc.seed)
        self.loader = make_loader(self.dataset, self.sampler, self.collate_fn, tc, self.device)
        self.spe = steps_per_epoch(len(self.dataset), tc.batch_size, self.world, tc.grad_accum)
        if self.spe < 1:
            raise UserError(
                f"{len(self.dataset)} training samples are fewer than one step needs "
                f"(batch_size {tc.batch_size} x world size {self.world} x grad_accum {tc.grad_accum})"
            )
        self.total = tc.max_steps if tc.max_steps > 0 else max(1, math.ceil(tc.epochs * self.spe))
        self.stages: list[Stage] = list(self.method.stages(self.total, tc))
        self.bounds = stage_bounds(self.stages)
        if self.bounds[-1][1] != self.total:
            log.warning("the stages cover %d steps, not %d; following the stages", self.bounds[-1][1], self.total)
            self.total = self.bounds[-1][1]
        self.global_batch = tc.batch_size * self.world * tc.grad_accum
        self.amp = precision.step_context(self.device, tc)
        self.env = environment() if dist.is_main() else {}

    # -- stages --------------------------------------------------------------------------------
    def _enter_stage(self, idx: int) -> None:
        stage = self.stages[idx]
        self.stage_idx = idx
        self.method.set_stage(stage.name)
        self.optimizer = make_optimizer(self.method, stage.lr, self.tc.weight_decay, self.tc.fused_adamw)
        self.scheduler = make_scheduler(self.optimizer, stage)
        self.model = self.method
        self._compile_probe = precision.is_compiled(self.method)  # a stage's first step may recompile
        if self.world > 1:
            find_unused = ddp_find_unused(self.tc.find_unused)
            self._probe_unused = find_unused is None
            self._wrap(True if find_unused is None else find_unused)
        log.info("stage %s: %d steps from step %d, lr %g, warmup %d", stage.name, stage.steps,
                 self.bounds[idx][0], stage.lr, stage.warmup_steps)

    def _wrap(self, find_unused: bool) -> None:
        ids = [self.device.index] if self.device.type == "cuda" else None
        self.model = DDP(self.method, device_ids=ids, find_unused_parameters=find_unused)

    def _after_first_backward(self) -> None:
        """``find_unused = auto``: keep DDP's unused-parameter search only if this stage needs it."""
        self._probe_unused = False
        unused = [n for n, p in self.method.named_parameters() if p.requires_grad and p.grad is None]
        if unused:
            log.info("stage %s: %d parameters get no gradient (e.g. %s); DDP keeps find_unused_parameters",
                     self.stages[self.stage_idx].name, len(unused), unused[:3])
        else:
            self._wrap(False)

    # -- checkpoints ---------------------------------------------------------------------------
    def _payload(self, full: bool = True) -> dict[str, Any]:
        payload = checkpoint_payload(
            self.method,
            self.cfg,
            step=self.step,
            total_steps=self.total,
            stage=self.stage_idx,
            stage_name=self.stages[self.stage_idx].name,
            world_size=self.world,
            global_batch=self.global_batch,
            environment=self.env,
        )
        if full:
            payload["optimizer"] = self.optimizer.state_dict()
            payload["scheduler"] = self.scheduler.state_dict()
        return payload

    def _save(self, names: list[str], full: bool = True) -> Path | None:
        rngs = dist.all_gather_object(rng_state())  # a collective: every rank takes part
        if not dist.is_main():
            return None
        payload = self._payload(full)
        if full:
            payload["rng"] = rngs
        first = save_checkpoint(self.out_dir / names[0], payload)
        for name in names[1:]:
            link_or_copy(first, self.out_dir / name)
        return first

    def _restore(self, path: Path) -> None:
        ckpt = read_checkpoint(path, map_location=self.device)
        check_resumable(ckpt, path, self.method, self.total)
        self.method.load_state_dict(ckpt["model"])
        self.step = int(ckpt["step"])
        self._enter_stage(stage_index(self.bounds, self.step))
        if ckpt["stage"] == self.stage_idx and "optimizer" in ckpt:
            self.optimizer.load_state_dict(ckpt["optimizer"])
            self.scheduler.load_state_dict(ckpt["scheduler"])
        rngs = ckpt.get("rng", [])
        if len(rngs) == self.world:
            set_rng_state(rngs[self.rank])
        else:
            log.warning("%s was written with %d rank(s), this run has %d: the resume is not exact",
                        path, len(rngs), self.world)
            seed_everything(self.tc.seed + self.step + self.rank)
        log.info("resumed from %s at step %d/%d", path, self.step, self.total)

    # -- the loop ------------------------------------------------------------------------------
    def run(self, resume: bool = False) -> Path:
        """Train to the end; return the path of ``final.pt``."""
        deterministic = torch.are_deterministic_algorithms_enabled()
        try:
            self._setup()
            if self.device.type == "cpu" and self.tc.deterministic:
                torch.use_deterministic_algorithms(True, warn_only=True)
            return self._run(resume)
        finally:
            torch.use_deterministic_algorithms(deterministic)

    def _run(self, resume: bool) -> Path:
        if dist.is_main():
            writable_dir(self.out_dir)
            remove_stale(self.out_dir)
        last = self.out_dir / "last.pt"
        self.jsonl = JsonlLog(self.out_dir / "log.jsonl", enabled=dist.is_main())
        if resume and last.is_file():
            self._restore(last)
            self.jsonl.truncate_after(self.step)
        else:
            if resume:
                log.warning("--resume: no %s yet; starting from step 0", last)
            elif last.is_file():
                raise UserError(f"{self.out_dir} already holds a run ({last.name}); pass --resume to continue it "
                                "or choose another output folder")
            seed_everything(self.tc.seed + self.rank)
            self._enter_stage(0)
            self.jsonl.reset()
        if dist.is_main():
            (self.out_dir / "config.yaml").write_text(self.cfg.to_yaml())
        if self.step < self.total:
            self._loop()
        final = self.out_dir / "final.pt"
        self._save(["last.pt"])
        self._save(["final.pt"], full=False)
        dist.barrier()
        return final

    def _batches(self):
        """Micro-batch groups of the optimizer steps from ``self.step`` on, across epochs."""
        accum = self.tc.grad_accum
        while True:
            epoch, in_epoch = divmod(self.step, self.spe)
            self.sampler.set_position(epoch, in_epoch * accum * self.tc.batch_size)
            it = iter(self.loader)
            for _ in range(self.spe - in_epoch):
                yield epoch, [next_batch(it) for _ in range(accum)]

    def _loop(self) -> None:
        meter = TermMeter(self.device)
        t_start = t_window = time.perf_counter()
        first, steps_window = self.step, 0
        bar = tqdm(total=self.total, initial=self.step, disable=not dist.is_main(), dynamic_ncols=True, unit="step")
        with bar:  # closed on errors too
            for epoch, micro in self._batches():
                grad_norm = self._train_step(micro, meter)
                self.step += 1
                steps_window += 1
                bar.update(1)
                if self._log_due():
                    if self.device.type == "cuda":  # the window's kernels, not just their launch
                        torch.cuda.synchronize(self.device)
                    now = time.perf_counter()
                    ips = steps_window * self.global_batch / max(now - t_window, 1e-9)
                    record = self._log_record(meter, epoch, ips, now - t_start, grad_norm)
                    shown = {k: f"{v:.4g}" for k, v in record.items() if k.endswith("loss")}
                    bar.set_postfix(shown | {"img/s": f"{ips:.0f}"})
                    t_window, steps_window = now, 0
                if self.step >= self.total:
                    break
                self._maybe_checkpoint()
        wall = time.perf_counter() - t_start
        steps = self.step - first
        self.summary = {"steps": steps, "wall_s": wall, "images_per_s": steps * self.global_batch / max(wall, 1e-9)}

    def _log_due(self) -> bool:
        """Every ``log_every`` steps, at the end, and at each stage's last step (windows never
        mix stages, whose terms differ)."""
        at_boundary = self.step < self.total and stage_index(self.bounds, self.step) != self.stage_idx
        return self.step % self.tc.log_every == 0 or self.step == self.total or at_boundary

    def _maybe_checkpoint(self) -> None:
        nxt = stage_index(self.bounds, self.step)
        if nxt != self.stage_idx:
            self._enter_stage(nxt)
            self._save([f"{self.stages[nxt].name}_start.pt", "last.pt"])
        elif self.step % self.tc.ckpt_every == 0:
            self._save(["last.pt"])

    def _train_step(self, micro: list[dict[str, Any]], meter: TermMeter) -> float | None:
        # the first step of each stage under train.compile falls back to eager if the compiled code fails
        terms_step = precision.guarded(self.method, lambda: self._forward_backward(micro), self._compile_probe)
        self._compile_probe = False
        if self._probe_unused:
            self._after_first_backward()
        grad_norm = None
        if self.tc.grad_clip > 0:
            grad_norm = torch.nn.utils.clip_grad_norm_(self.method.parameters(), self.tc.grad_clip)
        self._check_finite(terms_step)
        self.lr = self.optimizer.param_groups[0]["lr"]  # the lr this step used (logged)
        self.optimizer.step()
        self.scheduler.step()
        meter.add(terms_step)
        return None if grad_norm is None else float(grad_norm)

    def _forward_backward(self, micro: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        """Zeroed gradients, then forward and backward over the micro-batches: the step's terms."""
        self.optimizer.zero_grad(set_to_none=True)
        terms_step: dict[str, torch.Tensor] = {}
        for i, batch in enumerate(micro):
            batch = precision.to_memory_format(to_device(batch, self.device), self.tc)
            sync = i == len(micro) - 1 or not isinstance(self.model, DDP)
            with (contextlib.nullcontext() if sync else self.model.no_sync()), self.amp:
                terms = self.model(batch)
                loss = total_loss(terms)
            (loss / len(micro)).backward()
            for key, value in {**terms, "loss": loss}.items():
                v = torch.as_tensor(value).detach().float().mean() / len(micro)
                terms_step[key] = terms_step.get(key, 0.0) + v
        return terms_step

    def _check_finite(self, terms: dict[str, torch.Tensor]) -> None:
        bad = (~torch.isfinite(terms["loss"])).float()
        if self.world > 1:
            torch.distributed.all_reduce(bad, op=torch.distributed.ReduceOp.MAX)
        if bad.item() == 0:
            return
        values = {k: float(v) for k, v in terms.items()}
        self.jsonl.write({"event": "non_finite_loss", "step": self.step + 1, **values})
        raise NonFiniteLossError(self.step + 1, self.stages[self.stage_idx].name, values, self.out_dir / "last.pt")

    def _log_record(self, meter: TermMeter, epoch: int, ips: float, wall: float, grad_norm: float | None) -> dict:
        record = {
            "step": self.step,
            "epoch": epoch,
            "stage": self.stages[self.stage_idx].name,
            "lr": self.lr,
            **meter.pop_mean(),
            "images_per_s": ips,
            "wall_s": wall,
            "world_size": self.world,
            "global_batch": self.global_batch,
        }
        if grad_norm is not None:
            record["grad_norm"] = grad_norm
        self.jsonl.write(record)
        return record
