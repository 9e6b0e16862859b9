"""Supervised heads: a linear probe on frozen features, or a backbone fine-tuned end to end.

Both train with AdamW, evaluate the validation loss after every epoch, stop after
``cfg.eval.probe_patience`` epochs without improvement and return the best epoch's weights (as
MGCA's ``ssl_finetuner``: early stopping on val loss, test on the best checkpoint). The probe
standardises features with the training set's mean and std, so one learning rate suits encoders
whose features differ in scale (a random-init network's and a pretrained one's). The statistics
are scikit-learn's ``StandardScaler``'s: a feature constant on the training set keeps scale 1
(rather than a clamped ~0 that turns any other value on val/test into a huge z-score).
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from sklearn.preprocessing import StandardScaler
from torch import nn

from bench.api import Method
from bench.config import BenchConfig
from tasks.common.features import pool
from tasks.common.images import to_channels


@dataclass(frozen=True)
class Objective:
    """How targets are learned and how logits become scores."""

    loss: Callable[[], nn.Module]
    activation: Callable[[torch.Tensor], torch.Tensor]
    target_dtype: torch.dtype


OBJECTIVES: dict[str, Objective] = {
    "multilabel": Objective(nn.BCEWithLogitsLoss, torch.sigmoid, torch.float32),
    "binary": Objective(nn.BCEWithLogitsLoss, torch.sigmoid, torch.float32),
    "multiclass": Objective(nn.CrossEntropyLoss, lambda z: torch.softmax(z, dim=-1), torch.long),
}
SMALL_PROBLEM = 1 << 22  # feature elements below which the probe trains on one CPU thread


def objective(kind: str) -> Objective:
    if kind not in OBJECTIVES:
        raise ValueError(f"unknown label kind {kind!r}; expected one of {sorted(OBJECTIVES)}")
    return OBJECTIVES[kind]


@dataclass
class Fit:
    model: nn.Module  # the best epoch's weights, in eval mode
    best_epoch: int  # 0-based; -1 when no validation set was given (last epoch kept)
    best_val_loss: float
    epochs: int  # epochs run before stopping


def standardisation(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-feature (mean, scale) of [N, D] training features, as scikit-learn's ``StandardScaler``:
    population std, and scale 1 where a feature is constant (up to float rounding)."""
    scaler = StandardScaler().fit(x.detach().cpu().float().numpy())
    mean, scale = (torch.from_numpy(a).to(x.device, torch.float32) for a in (scaler.mean_, scaler.scale_))
    return mean, scale


class LinearProbe(nn.Module):
    """Standardisation (fixed, from the training features) followed by one linear layer."""

    def __init__(self, mean: torch.Tensor, std: torch.Tensor, n_out: int) -> None:
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)
        self.linear = nn.Linear(mean.numel(), n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear((x - self.mean) / self.std)


class EarlyStopping:
    """Keeps the best state by validation loss; ``step`` returns True when training should stop."""

    def __init__(self, patience: int) -> None:
        self.patience = max(1, int(patience))
        self.best = math.inf
        self.best_epoch = -1
        self.state: dict[str, torch.Tensor] | None = None
        self.bad = 0

    def step(self, epoch: int, val_loss: float, model: nn.Module) -> bool:
        if val_loss < self.best - 1e-7:
            self.best, self.best_epoch, self.bad = val_loss, epoch, 0
            self.state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            return False
        self.bad += 1
        return self.bad >= self.patience


@contextlib.contextmanager
def _threads_for(numel: int, device: torch.device | str) -> Iterator[None]:
    """One CPU thread for small problems: thread start-up costs more than the work (and a busy
    machine makes it much worse); the previous setting is restored after."""
    before = torch.get_num_threads()
    small = torch.device(device).type == "cpu" and numel < SMALL_PROBLEM
    if small:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if small:
            torch.set_num_threads(before)


def _batches(n: int, size: int, generator: torch.Generator) -> Iterable[torch.Tensor]:
    order = torch.randperm(n, generator=generator)
    size = n if size <= 0 else size
    return order.split(size)


def _mean_loss(model: nn.Module, loss_fn: nn.Module, batches: Iterable[tuple[torch.Tensor, torch.Tensor]]) -> float:
    total, count = 0.0, 0
    with torch.no_grad():
        for x, y in batches:
            total += float(loss_fn(model(x), y)) * len(y)
            count += len(y)
    return total / max(count, 1)


def _shape_targets(y: torch.Tensor, kind: str) -> torch.Tensor:
    y = y.to(objective(kind).target_dtype)
    return y[:, None] if kind == "binary" and y.dim() == 1 else y


def fit_linear(
    train: tuple[torch.Tensor, torch.Tensor],
    val: tuple[torch.Tensor, torch.Tensor],
    n_out: int,
    kind: str,
    cfg: BenchConfig,
    seed: int,
    device: torch.device | str = "cpu",
) -> Fit:
    """Train a :class:`LinearProbe` on features [N, D] with targets; early-stop on ``val``."""
    with _threads_for(train[0].numel() + val[0].numel(), device):
        return _fit_linear(train, val, n_out, kind, cfg, seed, device)


def _fit_linear(
    train: tuple[torch.Tensor, torch.Tensor],
    val: tuple[torch.Tensor, torch.Tensor],
    n_out: int,
    kind: str,
    cfg: BenchConfig,
    seed: int,
    device: torch.device | str,
) -> Fit:
    x, y = train[0].float().to(device), _shape_targets(train[1], kind).to(device)
    vx, vy = val[0].float().to(device), _shape_targets(val[1], kind).to(device)
    mean, std = standardisation(x)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LinearProbe(mean, std, n_out).to(device)
    generator = torch.Generator().manual_seed(seed)
    loss_fn = objective(kind).loss()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.eval.probe_lr, weight_decay=cfg.eval.probe_weight_decay)
    stopper = EarlyStopping(cfg.eval.probe_patience)
    epoch = -1
    for epoch in range(cfg.eval.probe_epochs):
        model.train()
        for rows in _batches(len(x), cfg.eval.probe_batch_size, generator):
            rows = rows.to(device)
            opt.zero_grad(set_to_none=True)
            loss_fn(model(x[rows]), y[rows]).backward()
            opt.step()
        if len(vx) and stopper.step(epoch, _mean_loss(model.eval(), loss_fn, [(vx, vy)]), model):
            break
    if stopper.state is not None:
        model.load_state_dict(stopper.state)
    return Fit(model.eval(), stopper.best_epoch, stopper.best, epoch + 1)


class FineTuneModel(nn.Module):
    """A copy of the method's backbone, pooled, with a linear head; trains end to end."""

    def __init__(self, method: Method, n_out: int, probe_images: torch.Tensor) -> None:
        super().__init__()
        self.channels = method.in_channels
        self.backbone = copy.deepcopy(method.image_backbone()).eval()
        with torch.no_grad():
            dim = self.features(probe_images[:1]).shape[1]
        self.head = nn.Linear(dim, n_out)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return pool(self.backbone(to_channels(images, self.channels)))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(images))


def fit_finetune(
    method: Method, train_loader: Any, val_loader: Any, n_out: int, kind: str, cfg: BenchConfig, seed: int
) -> Fit:
    """Fine-tune backbone + head on (image, target) loaders; early-stop on the validation loss.

    The method itself is left untouched (the backbone is copied), so later runs start afresh.
    """
    device = next(method.parameters()).device
    first = next(iter(train_loader))[0].to(device)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = FineTuneModel(method, n_out, first).to(device)
    loss_fn = objective(kind).loss()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.eval.finetune_lr, weight_decay=cfg.eval.probe_weight_decay)
    stopper = EarlyStopping(cfg.eval.probe_patience)

    def moved(loader: Any) -> Iterable[tuple[torch.Tensor, torch.Tensor]]:
        for images, y in loader:
            yield images.to(device), _shape_targets(y, kind).to(device)

    epoch = -1
    for epoch in range(cfg.eval.finetune_epochs):
        model.train()
        for images, y in moved(train_loader):
            opt.zero_grad(set_to_none=True)
            loss_fn(model(images), y).backward()
            opt.step()
        if len(val_loader.dataset) and stopper.step(epoch, _mean_loss(model.eval(), loss_fn, moved(val_loader)), model):
            break
    if stopper.state is not None:
        model.load_state_dict(stopper.state)
    return Fit(model.eval(), stopper.best_epoch, stopper.best, epoch + 1)


def predict(model: nn.Module, inputs: Iterable[torch.Tensor], kind: str, device: torch.device | str) -> torch.Tensor:
    """Scores (sigmoid or softmax of the logits) for batches of inputs, concatenated on the CPU."""
    activation = objective(kind).activation
    outs = []
    with torch.no_grad():
        for x in inputs:
            outs.append(activation(model(x.to(device)).float()).cpu())
    scores = torch.cat(outs)
    return scores[:, 0] if kind == "binary" else scores
