"""Typed configuration: dataclass defaults < YAML preset < ``--set key=value``.

The resolved config is a :class:`BenchConfig`; ``to_dict`` gives the JSON/YAML form that every
checkpoint and result records. Method-specific settings live in the method's own dataclass
(``MethodClass.Config``) under the ``method`` section.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
import logging
import math
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bench.constraints import Check, Choice, Each, Range
from bench.errors import UserError

log = logging.getLogger(__name__)
PRESET_DIR = Path(__file__).parent / "presets"


class ConfigError(UserError):
    """A bad preset, key or value; the message names it and what was expected."""


# SynthCXR's difficulty presets by name (bench.data.synth.difficulty defines what each one is;
# a test keeps the two lists equal). Here so that config validates without importing bench.data.
SYNTH_DIFFICULTIES: tuple[str, ...] = ("easy", "default", "hard")


@dataclass
class ModelCfg:
    image_encoder: str = "resnet50"  # torchvision name or "resnet_tiny"
    image_weights: str | None = None  # None (random) / "imagenet" (torchvision hub cache) / a local weights file
    image_init: str = ""  # filled when the method is built: the initialisation used (recorded; not to be set)
    text_encoder: str = "emilyalsentzer/Bio_ClinicalBERT"  # HF name or local folder; "minilm" = bundled
    text_trainable_layers: int = -1  # -1: all; 0: frozen; n: the last n layers train
    embed_dim: int = 768
    image_size: int = 224
    max_text_tokens: int = 256
    pad_to_longest: bool = True  # pad each batch to its longest report, not to max_text_tokens
    faithful: bool = False  # reproduce the official code's quirks (PRIOR), see methods/prior


@dataclass
class TrainCfg:
    batch_size: int = 32
    epochs: float = 50.0
    max_steps: int = 0  # > 0 overrides epochs
    lr: float = 1e-5
    weight_decay: float = 1e-6
    warmup_steps: int = 0  # per stage, unless the method's schedule says otherwise
    grad_clip: float = 0.0  # 0: off
    grad_accum: int = 1
    amp: bool = True  # bf16 autocast on CUDA (cpu_bf16 is the CPU's switch)
    cpu_bf16: bool = False  # bf16 autocast on CPU where it has native bf16 (bench.precision); losses stay fp32
    channels_last: bool = False  # convolutional trunk and images in channels-last memory format
    seed: int = 0
    num_workers: int = 2
    ckpt_every: int = 500  # steps
    log_every: int = 10
    sync_bn: bool = False
    threads: int = 0  # torch.set_num_threads on CPU; 0: leave as is
    device: str = "auto"  # auto (cuda when available) / cuda / cpu
    find_unused: str = "auto"  # DDP find_unused_parameters: auto (detected per stage) / true / false
    deterministic: bool = True  # torch.use_deterministic_algorithms on CPU (exact resume)


@dataclass
class DataCfg:
    studies: int = 2000  # size of the embedded default when no --data is given
    synth_seed: int = 0
    synth_size: int = 224
    synth_difficulty: str = "default"  # SynthCXR difficulty preset (bench.data.synth.difficulty)
    mean: float = 0.4755  # PRIOR's grey normalisation
    std: float = 0.3011
    min_sentences: int = 4
    augment: bool = True  # false: no affine, no flip
    unit: str = "study"  # pretraining sample: "study" (one random frontal image each time) or "image"
    affine_degrees: float = 5.0  # RandomAffine rotation range (PRIOR)
    hflip: float = 0.5  # horizontal-flip probability (PRIOR 0.5; flips swap the sides reports name)
    shuffle_sentences: bool = True  # PRIOR's SentenceShuffle
    image_cache: bool = True  # read the preprocessed image cache (bench data cache) where one covers the data


@dataclass
class EvalCfg:
    batch_size: int = 64
    probe_epochs: int = 100
    probe_lr: float = 5e-4
    probe_patience: int = 10
    fractions: tuple[float, ...] = (0.01, 0.1, 1.0)
    seeds: tuple[int, ...] = (0, 1, 2)
    uncertainty: str = "gloria"
    finetune: bool = False
    dense_iters: int = 2000
    dense_batch_size: int = 8
    subset_per_class: int = 200  # 5x200 / 8x200, scaled down on small data
    cache_dir: str = ""  # frozen-feature cache; "" = $BENCH_CACHE/features (~/.cache/medvlp-bench), "none" = off
    probe_features: str = "backbone"  # backbone (pooled CNN features) / embedding (joint-space global)
    probe_batch_size: int = 1024  # minibatch of the linear probe; 0 = full batch
    probe_weight_decay: float = 1e-6
    finetune_lr: float = 1e-4  # full fine-tuning (finetune: true): backbone + head end to end
    finetune_epochs: int = 20
    prompts: str = "gloria"  # zero-shot prompt set: gloria (severity x subtype x location) / prior
    prompts_per_class: int = 5
    retrieval_queries: str = "auto"  # auto (report sentences on SynthCXR, else builtin) / builtin / reports
    queries_per_class: int = 5
    split_seed: int = -1  # seed of the train/val/test split and label fractions; -1 = the run's seed
    seg_protocol: str = "unet-frozen"  # segmentation: unet-frozen (GLoRIA/MGCA) / upernet (BenchX)
    det_protocol: str = "retinanet-frozen"  # detection (MMDetection RetinaNet on the frozen encoder)
    # The dense tasks (segmentation, detection) take minutes per cell: where these are set they
    # replace the task's datasets ("siim" or "segmentation:siim"), eval.fractions and eval.seeds.
    dense_datasets: tuple[str, ...] = ()
    dense_fractions: tuple[float, ...] = ()
    dense_seeds: tuple[int, ...] = ()


@dataclass
class BenchConfig:
    preset: str = "default"
    method_name: str = ""
    model: ModelCfg = field(default_factory=ModelCfg)
    train: TrainCfg = field(default_factory=TrainCfg)
    data: DataCfg = field(default_factory=DataCfg)
    eval: EvalCfg = field(default_factory=EvalCfg)
    method: Any = None  # the method's own Config dataclass instance

    def to_dict(self) -> dict[str, Any]:
        return _plain(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=True)


def _plain(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj):
        return {f.name: _plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    return obj


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


def rule_of(cfg: BenchConfig, key: str) -> Range | Choice | Each | Check | None:
    """The constraint of ``key``: :data:`CONSTRAINTS`, or for ``method.<name>`` the method's own table
    (its Config class's ``CONSTRAINTS``, the same kinds)."""
    if key.startswith("method."):
        return getattr(type(cfg.method), "CONSTRAINTS", {}).get(key.removeprefix("method."))
    return CONSTRAINTS.get(key)


def _check_field(key: str, value: Any, source: str, rule: Range | Choice | Each | Check | None) -> None:
    """ConfigError naming ``key`` unless ``value`` meets ``rule`` (and is finite if a float)."""
    items = value if isinstance(value, (list, tuple)) else (value,)
    if any(isinstance(v, float) and not math.isfinite(v) for v in items):
        raise ConfigError(f"{source}: {key}={value!r}: expected a finite number")
    problem = rule.problem(value) if rule is not None and value is not None else None
    if problem:
        raise ConfigError(f"{source}: {key}={value!r}: {problem}")


def check_config(cfg: BenchConfig, source: str = "config") -> None:
    """Every setting of ``cfg`` against its constraint (:func:`rule_of`), then the method section's
    own ``validate()`` where it has one (what ``resolve`` ends with)."""
    for key, value in _flatten(cfg.to_dict()).items():
        _check_field(key, value, source, rule_of(cfg, key))
    validate = getattr(cfg.method, "validate", None)
    if callable(validate):
        try:
            validate()
        except ValueError as exc:  # the method's checks name the setting (method.<key>: expected ...)
            raise ConfigError(f"{source}: {exc}") from None


def _set_path(cfg: BenchConfig, key: str, value: Any, source: str) -> None:
    parts = key.split(".")
    target: Any = cfg
    for part in parts[:-1]:
        if not dataclasses.is_dataclass(target) or not hasattr(target, part):
            raise ConfigError(f"{source}: unknown config section {key!r}; sections: {_sections(cfg)}")
        target = getattr(target, part)
    name = parts[-1]
    if target is None or not dataclasses.is_dataclass(target):
        raise ConfigError(f"{source}: {key!r} does not name a setting; sections: {_sections(cfg)}")
    fields = {f.name: f for f in dataclasses.fields(target)}
    if name not in fields:
        raise ConfigError(f"{source}: unknown key {key!r}; valid keys: {sorted(fields)}")
    if dataclasses.is_dataclass(getattr(target, name)) or (target is cfg and name == "method"):
        raise ConfigError(f"{source}: {key!r} is a section, not a setting; set one of its keys ({key}.<key>=...)")
    new = coerce(value, _hints(type(target))[name], key)
    _check_field(key, new, source, rule_of(cfg, key))
    old = getattr(target, name)
    if old != new:
        log.debug("%s sets %s = %r (was %r)", source, key, new, old)
    setattr(target, name, new)


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    """The evaluated field annotations of a config dataclass, once per class (evaluating them is
    most of the cost of a ``--set``)."""
    return typing.get_type_hints(cls)


def _sections(cfg: BenchConfig) -> list[str]:
    return [f.name for f in dataclasses.fields(cfg) if dataclasses.is_dataclass(getattr(cfg, f.name))]


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in tree.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def load_preset(name: str) -> dict[str, Any]:
    from bench.registry import PRESETS

    path = Path(PRESETS.get(name)) if name in PRESETS else Path(name)
    if not path.is_file():
        raise ConfigError(PRESETS.error_message(name))
    data = copy.deepcopy(_parsed(str(path), path.stat().st_mtime_ns))
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of sections, got {type(data).__name__}")
    return data


@functools.lru_cache(maxsize=32)
def _parsed(path: str, mtime_ns: int) -> Any:
    """A preset file's YAML, parsed once per file version."""
    return yaml.safe_load(Path(path).read_text()) or {}


def parse_overrides(pairs: list[str] | tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set expects key=value, got {pair!r}")
        out[key.strip()] = value.strip()
    return out


def resolve(
    preset: str = "default",
    method: str | None = None,
    overrides: dict[str, Any] | None = None,
    method_config_cls: type | None = None,
) -> BenchConfig:
    """Defaults < preset YAML (its ``methods.<name>`` part goes to ``method``) < overrides."""
    data = load_preset(preset)
    cfg = BenchConfig(preset=preset, method_name=method or "")
    if method_config_cls is not None:
        cfg.method = method_config_cls()
    method_sections = data.pop("methods", {}) or {}
    for key, value in _flatten(data).items():
        _set_path(cfg, key, value, f"preset {preset}")
    if method and cfg.method is not None:
        for key, value in _flatten(method_sections.get(method, {}) or {}).items():
            _set_path(cfg, f"method.{key}", value, f"preset {preset} (methods.{method})")
    for key, value in (overrides or {}).items():
        if key.startswith("method.") and cfg.method is None:
            raise ConfigError(f"--set {key}: no method selected for this command")
        _set_path(cfg, key, value, "--set")
    check_config(cfg, f"preset {preset}" + (" with --set" if overrides else ""))
    return cfg


def text_encoder_error(name: str, bundled: tuple[str, ...] = ()) -> ConfigError:
    """The user error for a text encoder that is not on this machine: what, where looked, the fix."""
    from huggingface_hub.constants import HF_HUB_CACHE

    short = f" (bundled names: {', '.join(bundled)})" if bundled else ""
    return ConfigError(
        f"text encoder {name!r} not found locally (looked for a folder of that name and in the Hugging Face "
        f"cache {HF_HUB_CACHE}); pass a local copy with --set model.text_encoder=PATH{short}"
    )


def check_text_encoder(cfg: BenchConfig) -> None:
    """Fail fast, before data or models are built, when ``model.text_encoder`` names a folder that
    does not exist or a Hugging Face id that is not in the local cache (short bundled names are
    resolved by the method)."""
    name = cfg.model.text_encoder
    if "/" not in name and "\\" not in name:
        return
    if Path(name).expanduser().is_dir():
        return
    if not name.startswith((".", "/", "~")) and name.count("/") == 1:
        from huggingface_hub import try_to_load_from_cache

        if isinstance(try_to_load_from_cache(name, "config.json"), str):
            return
    raise text_encoder_error(name)
