"""The model an evaluation runs on: a checkpoint's weights or the untrained architecture.

Shared by the subcommands that evaluate (``evaluate``; ``run`` may reuse it). Imports torch.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.errors import UserError

log = logging.getLogger(__name__)
RANDOM = "random"


@dataclass(frozen=True)
class Spec:
    method: str
    checkpoint: str
    preset: str | None
    drop: tuple[str, ...]


@dataclass
class LoadedModel:
    method: Any  # the bench.api.Method, on its device, in eval mode
    name: str  # registry name
    checkpoint: str  # the path as given, or "random"
    sha256: str | None  # of the checkpoint file
    drop: tuple[str, ...]
    model_id: str  # names the weights in the feature cache

    @property
    def tag(self) -> str:
        """A folder name for this model's scratch files."""
        abl = "".join(f"-no-{c}" for c in self.drop)
        return f"{self.name}{abl}_{self.model_id[:24]}"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _apply_overrides(cfg: Any, overrides: dict[str, str]) -> None:
    from bench.config import _set_path

    for key, value in overrides.items():
        _set_path(cfg, key, value, "--set")


def _from_checkpoint(args: Spec, name: str, overrides: dict[str, str]) -> tuple[LoadedModel, Any]:
    from bench.checkpoint import load_checkpoint, read_checkpoint
    from bench.config import resolve
    from bench.registry import METHODS

    path = Path(args.checkpoint).expanduser()
    if not path.is_file():
        raise UserError(f"--checkpoint {path}: no such file (or give `random`)")
    if args.drop:
        raise UserError("--drop applies to --checkpoint random only; a checkpoint records its own ablation")
    stored = read_checkpoint(path).get("method", "")
    if stored != name:
        raise UserError(f"--checkpoint {path} holds a {stored!r} model, not --method {name!r}")
    method, cfg = load_checkpoint(path)
    cls = METHODS.get(name)
    evaluation = resolve(args.preset or cfg.preset or "default", name, None, getattr(cls, "Config", None))
    cfg.eval = evaluation.eval
    cfg.preset = evaluation.preset
    _apply_overrides(cfg, overrides)
    sha = file_sha256(path)
    model = LoadedModel(method, name, str(path), sha, tuple(getattr(method, "drop", ())), f"sha256-{sha}")
    return model, cfg


def _random(args: Spec, name: str, overrides: dict[str, str]) -> tuple[LoadedModel, Any]:
    from bench.checkpoint import build_method, seed_everything
    from bench.config import resolve
    from bench.registry import METHODS

    cls = METHODS.get(name)
    cfg = resolve(args.preset or "default", name, overrides, getattr(cls, "Config", None))
    drop = tuple(sorted(set(args.drop)))
    seed_everything(cfg.train.seed)
    try:
        method = build_method(name, cfg, drop)
    except ValueError as exc:
        raise UserError(f"--drop {' '.join(drop)}: {exc}") from exc
    arch = {"model": cfg.to_dict()["model"], "method": cfg.to_dict().get("method"), "drop": list(drop)}
    arch_hash = hashlib.sha256(json.dumps(arch, sort_keys=True, default=str).encode()).hexdigest()[:16]
    model_id = f"random-{name}-seed{cfg.train.seed}-{arch_hash}"
    return LoadedModel(method, name, RANDOM, None, drop, model_id), cfg


def _device(cfg: Any) -> Any:
    import torch

    wanted = getattr(cfg.train, "device", "auto")
    if wanted == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if wanted == "cuda" and not torch.cuda.is_available():
        raise UserError("train.device=cuda but no CUDA device is available")
    return torch.device(wanted)


def load_model(
    method: str, checkpoint: str, preset: str | None = None, drop: tuple[str, ...] = (), overrides: tuple[str, ...] = ()
) -> tuple[LoadedModel, Any]:
    """(the model on its device in eval mode, the resolved config).

    ``checkpoint`` is a file or ``random``; ``preset`` None means the checkpoint's (else default);
    ``drop`` applies to ``random`` only; ``overrides`` are ``key=value`` strings as ``--set`` takes.
    """
    import torch

    from bench.config import parse_overrides

    args = Spec(method, str(checkpoint), preset, tuple(drop))
    name = method.lower()
    loader = _random if args.checkpoint == RANDOM else _from_checkpoint
    model, cfg = loader(args, name, parse_overrides(list(overrides)))
    if cfg.train.threads > 0:
        torch.set_num_threads(cfg.train.threads)
    model.method.to(_device(cfg)).eval()
    log.info("%s %s (%s) on %s", name, model.checkpoint, model.model_id[:32], _device(cfg))
    return model, cfg
