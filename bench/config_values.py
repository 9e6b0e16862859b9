"""What a setting's value may be: coercion of a YAML value or ``--set`` string to the setting's
annotated type, and the one table of constraints (:data:`CONSTRAINTS`, of the kinds in
:mod:`bench.constraints`) that :func:`check_config` applies to a resolved config.

Here, beside :mod:`bench.config` (which resolves presets and overrides and calls these), so that
each of the two stays one idea; nothing here imports the config dataclasses.
"""

from __future__ import annotations

import math
import typing
from typing import Any

from bench.constraints import Check, Choice, Each, Range
from bench.errors import UserError


class ConfigError(UserError):
    """A bad preset, key or value; the message names it and what was expected."""


# SynthCXR's difficulty presets by name (bench.data.synth.difficulty defines what each one is;
# a test keeps the two lists equal). Here so that config validates without importing bench.data.
SYNTH_DIFFICULTIES: tuple[str, ...] = ("easy", "default", "hard")
# The step's speed levers (bench.precision, bench.optim) at their fp32 / unfused values: the tiny
# preset's (its pins are fp32's), and what a measurement sets to time the plain step; the default
# preset turns all three on (docs/performance.md says why).
LEVERS_OFF: dict[str, bool] = {"train.cpu_bf16": False, "train.channels_last": False, "train.fused_adamw": False}


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in tree.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def coerce(value: Any, hint: Any, key: str) -> Any:
    """Convert ``value`` (YAML value or --set string) to the annotated type, or raise ConfigError."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is typing.Union or (origin is not None and str(origin) == "<class 'types.UnionType'>"):
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null")):
            if type(None) in args:
                return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return coerce(value, arg, key)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError("; ".join(errors))
    if origin in (tuple, list):
        items = value
        if isinstance(value, str):
            items = [v for v in value.strip("()[] ").split(",") if v.strip()]
        if not isinstance(items, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        inner = args[0] if args else str
        out = [coerce(v, inner, key) for v in items]
        return tuple(out) if origin is tuple else out
    if hint is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{key}: expected true/false, got {value!r}")
    if hint in (int, float):
        try:
            number = hint(value) if not isinstance(value, str) else hint(float(value) if hint is float else value)
        except (TypeError, ValueError):
            raise ConfigError(f"{key}: expected {hint.__name__}, got {value!r}") from None
        return number
    if hint is str:
        if isinstance(value, (dict, list)):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
        return str(value)
    return value


def _device(value: str) -> bool:
    kind, _, index = str(value).partition(":")
    return kind in ("auto", "cpu", "cuda") and (not index or (kind == "cuda" and index.isdigit()))


POSITIVE, NATURAL, FRACTION = Range(1), Range(0), Range(0, 1)
# The one table of constraints: every numeric or named setting of the sections above. Float
# settings must also be finite (checked for every float, see _check_field).
CONSTRAINTS: dict[str, Range | Choice | Each | Check] = {
    "model.text_trainable_layers": Range(-1),
    "model.embed_dim": POSITIVE,
    "model.image_size": Range(16),
    "model.max_text_tokens": Range(2),
    "train.batch_size": POSITIVE,
    "train.epochs": Range(0, above=True),
    "train.max_steps": NATURAL,
    "train.lr": NATURAL,
    "train.weight_decay": NATURAL,
    "train.warmup_steps": NATURAL,
    "train.grad_clip": NATURAL,
    "train.grad_accum": POSITIVE,
    "train.seed": Range(0, 2**32 - 1),
    "train.num_workers": NATURAL,
    "train.ckpt_every": POSITIVE,
    "train.log_every": POSITIVE,
    "train.threads": NATURAL,
    "train.device": Check(_device, "auto, cpu, cuda or cuda:N"),
    "train.find_unused": Choice(("auto", "true", "false", "yes", "no", "1", "0")),
    "data.studies": POSITIVE,
    "data.synth_seed": Range(0, 2**32 - 1),
    "data.synth_size": Range(64, 2048),
    "data.synth_difficulty": Choice(SYNTH_DIFFICULTIES),
    "data.std": Range(0, above=True),
    "data.min_sentences": NATURAL,
    "data.unit": Choice(("study", "image")),
    "data.affine_degrees": Range(0, 180),
    "data.hflip": FRACTION,
    "eval.batch_size": POSITIVE,
    "eval.probe_epochs": POSITIVE,
    "eval.probe_lr": Range(0, above=True),
    "eval.probe_patience": POSITIVE,
    "eval.fractions": Each(Range(0, 1, above=True)),
    "eval.seeds": Each(Range(0, 2**32 - 1)),
    "eval.uncertainty": Choice(("ones", "zeros", "gloria")),
    "eval.dense_iters": POSITIVE,
    "eval.dense_batch_size": POSITIVE,
    "eval.dense_datasets": Each(Check(lambda e: bool(str(e).rpartition(":")[2].strip()), "dataset or task:dataset"),
                                empty=True),
    "eval.dense_fractions": Each(Range(0, 1, above=True), empty=True),
    "eval.dense_seeds": Each(Range(0, 2**32 - 1), empty=True),
    "eval.subset_per_class": POSITIVE,
    "eval.probe_features": Choice(("backbone", "embedding")),
    "eval.probe_batch_size": NATURAL,
    "eval.probe_weight_decay": NATURAL,
    "eval.finetune_lr": Range(0, above=True),
    "eval.finetune_epochs": POSITIVE,
    "eval.prompts_per_class": POSITIVE,
    "eval.retrieval_queries": Choice(("auto", "builtin", "reports")),
    "eval.queries_per_class": POSITIVE,
    "eval.split_seed": Range(-1, 2**32 - 1),
}


def rule_of(cfg: Any, key: str) -> Range | Choice | Each | Check | None:
    """The constraint of ``key``: :data:`CONSTRAINTS`, or for ``method.<name>`` the method's own table
    (its Config class's ``CONSTRAINTS``, the same kinds)."""
    if key.startswith("method."):
        return getattr(type(cfg.method), "CONSTRAINTS", {}).get(key.removeprefix("method."))
    return CONSTRAINTS.get(key)


def check_field(key: str, value: Any, source: str, rule: Range | Choice | Each | Check | None) -> None:
    """ConfigError naming ``key`` unless ``value`` meets ``rule`` (and is finite if a float)."""
    items = value if isinstance(value, (list, tuple)) else (value,)
    if any(isinstance(v, float) and not math.isfinite(v) for v in items):
        raise ConfigError(f"{source}: {key}={value!r}: expected a finite number")
    problem = rule.problem(value) if rule is not None and value is not None else None
    if problem:
        raise ConfigError(f"{source}: {key}={value!r}: {problem}")


def check_config(cfg: Any, source: str = "config") -> None:
    """Every setting of ``cfg`` against its constraint (:func:`rule_of`), then the method section's
    own ``validate()`` where it has one (what ``resolve`` ends with)."""
    for key, value in flatten(cfg.to_dict()).items():
        check_field(key, value, source, rule_of(cfg, key))
    validate = getattr(cfg.method, "validate", None)
    if callable(validate):
        try:
            validate()
        except ValueError as exc:  # the method's checks name the setting (method.<key>: expected ...)
            raise ConfigError(f"{source}: {exc}") from None
