"""What the segmentation and detection runs share: folders, the backbone file, the MMEngine
runtime (iteration-based training, no checkpoints, logs in the work dir) and running it.

Every config is plain data (paths, numbers, strings), so the ``<run>/<timestamp>/vis_data/config.py``
MMEngine dumps into the work dir reruns the same training with MMSeg's/MMDet's own tools
(``custom_imports`` brings in this package's backbone, head and metrics).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import tempfile
import uuid
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from bench.config import BenchConfig
from bench.fileio import safe_name
from tasks.mm.trunk import save_trunk

log = logging.getLogger(__name__)
TRUNK_FILE = "backbone.pth"
TOOLBOXES = r"(mmengine|mmcv|mmseg|mmdet)(\.|$)"


@dataclass
class Outcome:
    """Test metrics of one run, its training losses (one per logged iteration), its training
    iterations' wall seconds (MMEngine's ``IterTimerHook``, data loading included) and where it ran."""

    metrics: dict[str, float]
    losses: list[float] = field(default_factory=list)
    iter_s: list[float] = field(default_factory=list)
    work_dir: Path | None = None
    samples: Any = None  # what the bench metric kept per test image, in test order (see tasks.mm.metrics)


@contextlib.contextmanager
def folders(data: Any, run_name: str, size: int) -> Iterator[tuple[Path, Path]]:
    """(prepared-data folder, run folder) under ``data.work_dir``; a temporary folder without one.

    The prepared folder is named by dataset, root and image size, so every fraction and seed of a
    dataset reuses the images written once.
    """
    base = getattr(data, "work_dir", None)
    with contextlib.ExitStack() as stack:
        if base is None:
            base = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-dense-")))
        base = Path(base)
        root_tag = hashlib.sha1(str(Path(data.root).resolve()).encode()).hexdigest()[:8]
        prepared = base / "prepared" / f"{safe_name(data.dataset)}-{size}px-{root_tag}"
        run = base / "runs" / safe_name(run_name)
        prepared.mkdir(parents=True, exist_ok=True)
        run.mkdir(parents=True, exist_ok=True)
        yield prepared, run


def write_backbone(backbone: nn.Module, run_dir: Path) -> tuple[Path, dict[str, Any]]:
    """Save the method's trunk for ``BenchResNet``; (path, spec)."""
    path = run_dir / TRUNK_FILE
    spec = save_trunk(backbone, path)
    return path, spec


def stage_channels(spec: dict[str, Any]) -> list[int]:
    expansion = {"basic": 1, "bottleneck": 4}
    return [s["planes"] * expansion[s["block"]] for s in spec["stages"]]


def normalisation(cfg: BenchConfig, channels: int) -> dict[str, list[float]]:
    """The harness's grey normalisation (``cfg.data``) in 0-255 units, one value per channel."""
    return {"mean": [cfg.data.mean * 255.0] * channels, "std": [cfg.data.std * 255.0] * channels}


def schedule(kind: str, iters: int, warmup: float) -> list[dict[str, Any]]:
    """Parameter schedulers by iteration: "constant", or "poly" after a linear warm-up."""
    steps = int(round(warmup * iters))
    out: list[dict[str, Any]] = []
    if steps > 0:
        out.append(dict(type="LinearLR", start_factor=1e-3, by_epoch=False, begin=0, end=steps))
    if kind == "poly":
        out.append(dict(type="PolyLR", eta_min=0.0, power=1.0, by_epoch=False, begin=steps, end=iters))
    elif kind != "constant":
        raise ValueError(f"unknown learning-rate schedule {kind!r}; expected 'constant' or 'poly'")
    return out


def optim_wrapper(cfg: BenchConfig, lr: float, weight_decay: float, clip: float | None = None) -> dict[str, Any]:
    """AdamW; bf16 autocast on CUDA when ``cfg.train.amp``."""
    wrapper: dict[str, Any] = dict(type="OptimWrapper")
    if torch.cuda.is_available() and cfg.train.amp:
        wrapper = dict(type="AmpOptimWrapper", dtype="bfloat16")
    wrapper["optimizer"] = dict(type="AdamW", lr=lr, betas=(0.9, 0.999), weight_decay=weight_decay)
    if clip:
        wrapper["clip_grad"] = dict(max_norm=clip, norm_type=2)
    return wrapper


def loader(dataset: dict[str, Any], batch: int, workers: int, train: bool) -> dict[str, Any]:
    sampler = (
        dict(type="InfiniteSampler", shuffle=True) if train else dict(type="DefaultSampler", shuffle=False)
    )
    return dict(
        batch_size=batch,
        num_workers=workers,
        persistent_workers=workers > 0,
        sampler=sampler,
        dataset=dataset,
    )


def runtime(scope: str, imports: list[str], run_dir: Path, iters: int, seed: int) -> dict[str, Any]:
    """Iteration-based training for ``iters`` with no validation loop and no checkpoints."""
    interval = max(1, min(50, iters // 10))
    return dict(
        default_scope=scope,
        custom_imports=dict(imports=imports, allow_failed_imports=False),
        work_dir=str(run_dir),
        experiment_name=f"{run_dir.name}-{uuid.uuid4().hex[:6]}",
        randomness=dict(seed=seed),
        env_cfg=dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method="fork", opencv_num_threads=0)),
        log_processor=dict(by_epoch=False, window_size=interval),
        default_hooks=dict(
            timer=dict(type="IterTimerHook"),
            logger=dict(type="LoggerHook", interval=interval, log_metric_by_epoch=False),
            param_scheduler=dict(type="ParamSchedulerHook"),
            checkpoint=None,
            sampler_seed=dict(type="DistSamplerSeedHook"),
        ),
        train_cfg=dict(type="IterBasedTrainLoop", max_iters=iters, val_interval=iters + 1),
        test_cfg=dict(type="TestLoop"),
    )


def run_config(
    scope: str,
    imports: list[str],
    protocol: Any,
    cfg: BenchConfig,
    run_dir: Path,
    seed: int,
    *,
    model: dict[str, Any],
    datasets: tuple[dict[str, Any], dict[str, Any]],
    evaluator: dict[str, Any],
    clip: float | None = None,
) -> dict[str, Any]:
    """The whole MMSeg/MMDet config of one run (plain data only): :func:`runtime` for
    ``cfg.eval.dense_iters``, ``model``, the (train, test) loaders over ``datasets``, the test
    ``evaluator``, AdamW at the protocol's lr and weight decay (``clip``: gradient-norm clipping)
    and its schedule."""
    iters, batch = cfg.eval.dense_iters, cfg.eval.dense_batch_size
    workers = max(0, cfg.train.num_workers)
    train, test = datasets
    config = runtime(scope, imports, run_dir, iters, seed)
    config.update(
        model=model,
        train_dataloader=loader(train, batch, workers, True),
        test_dataloader=loader(test, batch, workers, False),
        test_evaluator=evaluator,
        optim_wrapper=optim_wrapper(cfg, protocol.lr, protocol.weight_decay, clip=clip),
        param_scheduler=schedule(protocol.schedule, iters, protocol.warmup),
    )
    return config


def log_run(task: str, protocol: Any, train: Sequence[Any], test: Sequence[Any], cfg: BenchConfig) -> None:
    log.info(
        "%s %s: %d train / %d test images, %d iterations, batch %d",
        task,
        protocol.name,
        len(train),
        len(test),
        cfg.eval.dense_iters,
        cfg.eval.dense_batch_size,
    )


def require_cuda_ops(task: str) -> None:
    """On a CUDA machine, refuse early when mmcv's compiled ops lack CUDA kernels.

    MMEngine puts the model on the GPU whenever one is visible, and MMDetection then calls mmcv's
    compiled NMS and focal loss on CUDA tensors; an mmcv built with CPU ops only would fail there
    after training. (Segmentation uses no compiled op and runs either way.)
    """
    if not torch.cuda.is_available():
        return
    from mmcv.ops import get_compiling_cuda_version

    if get_compiling_cuda_version() == "not available":
        raise ValueError(
            f"{task} on CUDA needs mmcv built with CUDA ops (MMCV_WITH_OPS=1 FORCE_CUDA=1); this mmcv has "
            "CPU ops only. Rebuild mmcv on this machine, or hide the GPU (CUDA_VISIBLE_DEVICES=) to run on the CPU"
        )


def run(config: dict[str, Any]) -> Outcome:
    """Train with MMEngine's runner, then test; the metrics and the per-iteration losses."""
    from mmengine.config import Config
    from mmengine.runner import Runner

    verbose = log.getEffectiveLevel() <= logging.DEBUG
    quiet = contextlib.nullcontext() if verbose else contextlib.redirect_stdout(_DebugLines())
    with warnings.catch_warnings(), quiet:
        if not verbose:  # the toolboxes' advice and deprecation notices, not about this run
            warnings.filterwarnings("ignore", category=UserWarning, module=TOOLBOXES)
            warnings.filterwarnings("ignore", category=DeprecationWarning, module=TOOLBOXES)
        runner = Runner.from_cfg(Config(dict(config, log_level="INFO" if verbose else "WARNING")))
        _log_to_file(runner.logger)
        runner.train()
        losses, iter_s = _scalars(runner, "train/loss"), _scalars(runner, "train/time")
        metrics = runner.test()
        samples = next((m.samples for m in runner.test_loop.evaluator.metrics if hasattr(m, "samples")), None)
    metrics = {k.split("/")[-1]: float(v) for k, v in metrics.items()}  # drop the "bench/" prefix
    if losses:
        log.info("training loss %.4f -> %.4f over %d iterations", losses[0], losses[-1], len(losses))
    log.info("test metrics: %s", ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
    return Outcome(metrics, losses, iter_s, Path(config["work_dir"]), samples)


class _DebugLines(io.TextIOBase):
    """A stdout that logs each line at DEBUG (pycocotools prints while MMDet reads its json)."""

    def write(self, text: str) -> int:
        for line in text.splitlines():
            if line.strip():
                log.debug("%s", line)
        return len(text)


def _log_to_file(logger: logging.Logger) -> None:
    """The toolbox's INFO lines (losses, timings) go to its log file in the work dir; the console
    shows them only when this package logs at DEBUG (``bench -v``)."""
    for handler in logger.handlers:
        if isinstance(handler, logging.FileHandler):
            handler.setLevel(logging.INFO)


def _scalars(runner: Any, key: str) -> list[float]:
    """One value per training iteration of a scalar the runner's message hub kept."""
    history = runner.message_hub.log_scalars.get(key)
    if history is None:
        return []
    values, _ = history.data
    return [float(v) for v in values]
