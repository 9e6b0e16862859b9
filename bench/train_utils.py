"""Small pieces of the training engine: moving batches, averaging loss terms, the JSONL log."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from bench import dist
from bench.config import TrainCfg
from bench.data.base import DataFormatError
from bench.fileio import write_text_atomic

_FIND_UNUSED = {"auto": None, "true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or infinite; the message names the step, the terms and the last checkpoint."""

    def __init__(self, step: int, stage: str, terms: dict[str, float], last: Path) -> None:
        kept = f"last good checkpoint: {last}" if last.is_file() else "no checkpoint was written yet"
        super().__init__(
            f"non-finite loss at step {step} (stage {stage}); terms {terms}; {kept}. "
            "Lower the lr (--set train.lr=...) or enable clipping (train.grad_clip)."
        )


def ddp_find_unused(value: str | bool) -> bool | None:
    """``train.find_unused`` -> True/False, or None for "auto" (detected on each stage's first step)."""
    if isinstance(value, bool):
        return value
    key = str(value).strip().lower()
    if key not in _FIND_UNUSED:
        raise ValueError(f"train.find_unused must be auto, true or false, got {value!r}")
    return _FIND_UNUSED[key]


def to_device(batch: Any, device: torch.device) -> Any:
    """Tensors inside dicts/lists/tuples moved to ``device`` (non-blocking from pinned memory)."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(v, device) for v in batch)
    return batch


class TermMeter:
    """Per-step loss terms summed on the device; averaged over steps and ranks when logged.

    Values stay on the device until :meth:`pop_mean`, so logging costs one sync per window.
    """

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.sums: dict[str, torch.Tensor] = {}
        self.counts: dict[str, int] = {}

    def add(self, terms: dict[str, torch.Tensor]) -> None:
        for key, value in terms.items():
            value = torch.as_tensor(value, device=self.device).detach().float()
            self.sums[key] = self.sums[key] + value if key in self.sums else value
            self.counts[key] = self.counts.get(key, 0) + 1

    def pop_mean(self) -> dict[str, float]:
        """Mean of every term over the steps that returned it since the last call, averaged over
        ranks (a collective under DDP: every rank must call it with the same terms)."""
        if not self.sums:
            return {}
        keys = sorted(self.sums)
        means = dist.reduce_mean(torch.stack([self.sums[k] / self.counts[k] for k in keys]))
        out = dict(zip(keys, means.cpu().tolist()))
        self.sums, self.counts = {}, {}
        return out


class JsonlLog:
    """``log.jsonl``: one JSON object per line, appended and flushed (rank 0 only)."""

    def __init__(self, path: Path, enabled: bool = True) -> None:
        self.path = Path(path)
        self.enabled = enabled

    def reset(self) -> None:
        if self.enabled:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text("")

    def write(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in record.items()}
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(clean) + "\n")

    def truncate_after(self, step: int) -> None:
        """Drop lines logged after ``step`` (a resumed run logs those steps again)."""
        if not self.enabled or not self.path.is_file():
            return
        kept = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut by the interruption
            if int(record.get("step", 0)) <= step and "event" not in record:
                kept.append(line)
        write_text_atomic(self.path, "".join(k + "\n" for k in kept))


def read_log(path: str | Path) -> list[dict[str, Any]]:
    """The records of a ``log.jsonl`` (tests and reports use it)."""
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def make_loader(dataset: Dataset, sampler: Sampler, collate_fn: Any, train_cfg: TrainCfg, device: torch.device) -> DataLoader:
    """The training loader: per-rank batches, incomplete ones dropped, workers kept across epochs.

    Its own seeded generator keeps the global RNG untouched (exact resume). Workers tokenise
    (the collate calls ``method.tokenize``), so the tokenizers' own thread pool is switched off.
    """
    if train_cfg.num_workers > 0:
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    return DataLoader(
        dataset,
        batch_size=train_cfg.batch_size,
        sampler=sampler,
        collate_fn=collate_fn,
        num_workers=train_cfg.num_workers,
        pin_memory=device.type == "cuda",
        drop_last=True,
        persistent_workers=train_cfg.num_workers > 0,
        generator=torch.Generator().manual_seed(train_cfg.seed),
    )


def total_loss(terms: dict[str, Any]) -> torch.Tensor:
    parts = [v for k, v in terms.items() if k.endswith("_loss")]
    if not parts:
        raise ValueError(f"forward returned no '*_loss' term to optimise; keys: {sorted(terms)}")
    return torch.stack([torch.as_tensor(p).float().sum() for p in parts]).sum()


def writable_dir(path: Path, what: str = "output folder") -> Path:
    """``path`` created if needed and proven writable (a probe file); :class:`UserError` naming it
    when it is a file, cannot be created or cannot be written."""
    from bench.errors import UserError

    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UserError(f"{what} {path}: exists and is not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise UserError(f"{what} {path}: not writable ({exc.strerror or exc})") from exc
    return path


def next_batch(it: Any) -> Any:
    """``next(it)``, with a worker's DataFormatError (re-raised by PyTorch as a RuntimeError
    carrying the worker's traceback) turned back into a DataFormatError naming the file."""
    try:
        return next(it)
    except RuntimeError as exc:
        text = str(exc)
        if not text.startswith(f"Caught {DataFormatError.__name__}"):
            raise
        last = text.strip().splitlines()[-1]
        path, _, message = last.partition(": ")[2].partition(": ")
        raise DataFormatError(path, message or last) from exc
