"""The model an evaluation runs on: a checkpoint's weights or the untrained architecture.

:func:`load_model` is what ``evaluate``, ``run`` and ``ablate`` call. A model is named by
:func:`checkpoint_id`: ``sd-<digest>`` of its state dict (so an identical retraining has the same
identity, whatever the checkpoint file's creation time), or ``random-<method>-seed<S>-<arch hash>``
for the untrained architecture. The same id names its features in the feature cache.

Config of a checkpoint: its stored model/data/method/train settings, with the ``eval`` section of
the evaluation preset (default: the checkpoint's own) and then ``--set`` on top. ``cfg.preset``
stays the preset the model was built at; the evaluation preset is returned beside it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.config import BenchConfig, _set_path, check_config, parse_overrides, resolve
from bench.errors import UserError
from bench.registry import METHODS

log = logging.getLogger(__name__)
RANDOM = "random"


@dataclass
class LoadedModel:
    method: Any  # the bench.api.Method, on its device, in eval mode
    name: str  # registry name
    checkpoint: str  # the path as given, or "random"
    sha256: str | None  # of the checkpoint file (provenance; identity is ``model_id``)
    drop: tuple[str, ...]
    model_id: str  # :func:`checkpoint_id`: names the weights in results and the feature cache
    eval_preset: str = ""

    @property
    def tag(self) -> str:
        """A folder name for this model's scratch files."""
        abl = "".join(f"-no-{c}" for c in self.drop)
        return f"{self.name}{abl}_{self.model_id[:24]}"


def state_digest(state: dict[str, Any]) -> str:
    """sha256 of a state dict: every key, dtype, shape and the tensor bytes, in key order."""
    import torch

    digest = hashlib.sha256()
    for key in sorted(state):
        value = state[key]
        digest.update(key.encode())
        if isinstance(value, torch.Tensor):
            tensor = value.detach().cpu().contiguous()
            digest.update(f"{tensor.dtype}{tuple(tensor.shape)}".encode())
            digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
        else:
            digest.update(repr(value).encode())
    return digest.hexdigest()


def random_id(name: str, cfg: BenchConfig, drop: tuple[str, ...]) -> str:
    """The identity of the untrained architecture: method, train seed, model/method settings, ablation."""
    plain = cfg.to_dict()
    model = {k: v for k, v in plain["model"].items() if k != "image_init"}  # filled in by the build: a record
    arch = {"model": model, "method": plain.get("method"), "drop": sorted(drop)}
    arch_hash = hashlib.sha256(json.dumps(arch, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return f"random-{name}-seed{cfg.train.seed}-{arch_hash}"


def checkpoint_id(path: str | Path) -> str:
    """``sd-<sha256 of the state dict>`` of a checkpoint file (reads it without building a model)."""
    from bench.checkpoint import read_checkpoint

    return f"sd-{state_digest(read_checkpoint(path)['model'])}"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_drop(name: str, drop: tuple[str, ...]) -> None:
    """UserError naming the valid components (nearest first) when ``drop`` names others."""
    import difflib

    valid = tuple(METHODS.meta(name).get("components", ())) or tuple(getattr(METHODS.get(name), "components", ()))
    unknown = sorted(set(drop) - set(valid))
    if unknown:
        near = difflib.get_close_matches(unknown[0], valid, n=1)
        hint = f" (did you mean {near[0]}?)" if near else ""
        raise UserError(
            f"--drop {' '.join(unknown)}: {name} has no such component{hint}; valid: {', '.join(valid) or '(none)'}"
        )


def default_preset(data: str | Path | None) -> str:
    """``tiny`` on the embedded default (no ``--data``), the paper settings (``default``) on real data."""
    return "tiny" if data is None else "default"


def eval_config(name: str, checkpoint: str, preset: str | None, drop: tuple[str, ...],
                overrides: tuple[str, ...] = ()) -> tuple[BenchConfig, str]:
    """(the resolved config a model is evaluated with, the evaluation preset), without building it."""
    from bench.checkpoint import read_checkpoint
    from bench.stored_config import config_from_dict

    cls = METHODS.get(name)
    pairs = parse_overrides(list(overrides))
    if checkpoint == RANDOM:
        check_drop(name, drop)
        chosen = preset or "tiny"
        return resolve(chosen, name, pairs, getattr(cls, "Config", None)), chosen
    path = Path(checkpoint).expanduser()
    if not path.is_file():
        raise UserError(f"--checkpoint {path}: no such file (or give `random`)")
    if drop:
        raise UserError("--drop applies to --checkpoint random only; a checkpoint records its own ablation")
    try:
        stored = read_checkpoint(path)
    except ValueError as exc:
        raise UserError(f"--checkpoint {exc}") from None
    if stored.get("method", "") != name:
        raise UserError(f"--checkpoint {path} holds a {stored.get('method')!r} model, not --method {name!r}")
    cfg = config_from_dict(stored["config"], getattr(cls, "Config", None))
    chosen = preset or cfg.preset or "default"
    cfg.eval = resolve(chosen, name, None, getattr(cls, "Config", None)).eval
    for key, value in pairs.items():
        _set_path(cfg, key, value, "--set")
    if pairs:
        check_config(cfg, "--set")
    return cfg, chosen


def _device(cfg: BenchConfig) -> Any:
    import torch

    wanted = cfg.train.device
    if wanted == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if wanted == "cuda" and not torch.cuda.is_available():
        raise UserError("train.device=cuda but no CUDA device is available")
    return torch.device(wanted)


def load_model(
    method: str, checkpoint: str, preset: str | None = None, drop: tuple[str, ...] = (), overrides: tuple[str, ...] = ()
) -> tuple[LoadedModel, BenchConfig]:
    """(the model on its device in eval mode, the resolved config).

    ``checkpoint`` is a file or ``random``; ``preset`` None means the checkpoint's (``tiny`` for
    random); ``drop`` applies to ``random`` only; ``overrides`` are ``key=value`` strings as
    ``--set`` takes.
    """
    name = method.lower()
    drop = tuple(sorted(set(drop)))
    cfg, chosen = eval_config(name, str(checkpoint), preset, drop, overrides)
    return build_model(name, str(checkpoint), drop, cfg, chosen), cfg


def build_model(name: str, checkpoint: str, drop: tuple[str, ...], cfg: BenchConfig, eval_preset: str) -> LoadedModel:
    """The model of an already resolved evaluation config (:func:`eval_config`), on its device."""
    import torch

    from bench.checkpoint import build_method, load_checkpoint
    from bench.seeding import seed_everything

    if checkpoint == RANDOM:
        ident = random_id(name, cfg, drop)
        seed_everything(cfg.train.seed)
        built = build_method(name, cfg, drop)
        model = LoadedModel(built, name, RANDOM, None, drop, ident, eval_preset)
    else:
        path = Path(checkpoint).expanduser()
        built, _ = load_checkpoint(path)
        ident = checkpoint_id(path)
        model = LoadedModel(built, name, str(path), file_sha256(path), tuple(getattr(built, "drop", ())), ident,
                            eval_preset)
    if cfg.train.threads > 0:
        torch.set_num_threads(cfg.train.threads)
    model.method.to(_device(cfg)).eval()
    log.info("%s %s (%s) on %s", name, model.checkpoint, model.model_id[:32], _device(cfg))
    return model
