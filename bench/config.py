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
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bench.config_values import (  # noqa: F401 - re-exported: callers import these from bench.config
    CONSTRAINTS,
    SYNTH_DIFFICULTIES,
    ConfigError,
    check_config,
    check_field,
    coerce,
    rule_of,
)
from bench.config_values import flatten as _flatten

log = logging.getLogger(__name__)
PRESET_DIR = Path(__file__).parent / "presets"


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
    fused_adamw: bool = False  # AdamW's fused kernel (torch.optim.AdamW(fused=True)) instead of foreach
    compile: bool = False  # torch.compile the method's step (inductor); a frame it cannot compile runs eager
    text_checkpointing: bool = False  # gradient checkpointing in the transformer towers: less memory, more time
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
    check_field(key, new, source, rule_of(cfg, key))
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
