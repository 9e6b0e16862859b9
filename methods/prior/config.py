"""PRIOR's own settings (the ``method`` section of a resolved :class:`bench.config.BenchConfig`).

Shared settings (encoders, ``embed_dim``, ``image_size``, ``faithful``) live in ``cfg.model``;
everything here is specific to PRIOR. Defaults are the official experiment config
(``configs/experiments/pre_train/train_prior.yaml``): stages of 20/30/100 epochs at
1e-5/1e-5/5e-6, warm-up 1/1/5 epochs from 1e-7/1e-7/1e-8.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from bench.constraints import Each, Range

STAGES: tuple[str, ...] = ("stage1", "stage2", "stage3")
BANK_EVAL_MODES: tuple[str, ...] = ("soft", "hard")


@dataclass
class Config:
    # -- schedule (one value per stage; lr values are multiples of train.lr) --------------------
    stage_ratio: tuple[float, ...] = (20.0, 30.0, 100.0)  # relative stage lengths
    stage_lr_scale: tuple[float, ...] = (1.0, 1.0, 0.5)  # 1e-5, 1e-5, 5e-6 at lr 1e-5
    stage_warmup_fraction: tuple[float, ...] = (1 / 20, 1 / 30, 5 / 100)  # 1, 1, 5 "epochs"
    stage_warmup_start_scale: tuple[float, ...] = (1e-2, 1e-2, 1e-3)  # 1e-7, 1e-7, 1e-8

    # -- architecture ---------------------------------------------------------------------------
    temperature: float = 0.01  # global InfoNCE, learnable: logit_scale = log(1 / temperature)
    local_temperature: float = 0.01  # in-report sentence InfoNCE, learnable
    pool_heads: int = 8  # image AttentionPool2d and sentence attention pool
    spb_k: int = 512  # prototypes in the sentence bank
    spb_tau: float = 0.9  # Gumbel-softmax temperature
    bank_eval: str = "soft"  # deterministic bank at eval (faithful=False): soft | hard
    num_queries: int = 16  # sentence-generation queries (reports truncated to this many sentences)
    decoder_layers: int = 8  # sentence decoder depth (BERT layers, randomly initialised)
    image_dropout: float = 0.5  # Dropout2d on the projected local map before reconstruction

    # -- loss weights -------------------------------------------------------------------------
    lambda_proto: float = 10.0  # sentence-generation L1
    bank_weight: float = 10.0  # prototype-bank L1 (stages 2 and 3)
    stage3_global_weight: float = 10.0  # global InfoNCE in stage 3 (1 in stages 1-2)
    recon_weight: float = 1.0
    kl_weight: float = 1.0
    gpa_weight: float = 1.0

    # What ``--set method.<key>`` may hold beyond :meth:`validate` (bench.config checks both on resolve).
    CONSTRAINTS: ClassVar[dict[str, Range | Each]] = {
        "stage_lr_scale": Each(Range(0)),
        "stage_warmup_start_scale": Each(Range(0)),
        **{name: Range(0) for name in ("lambda_proto", "bank_weight", "stage3_global_weight", "recon_weight",
                                       "kl_weight", "gpa_weight")},
    }

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming a bad value (run again after ``--set`` overrides)."""
        for name in ("stage_ratio", "stage_lr_scale", "stage_warmup_fraction", "stage_warmup_start_scale"):
            value = tuple(float(v) for v in getattr(self, name))
            if len(value) != len(STAGES):
                raise ValueError(f"method.{name}: expected {len(STAGES)} values (one per stage), got {value}")
            setattr(self, name, value)
        if any(r < 0 for r in self.stage_ratio) or sum(self.stage_ratio) <= 0:
            raise ValueError(
                f"method.stage_ratio: expected non-negative values, not all 0; got {self.stage_ratio}"
            )
        if any(not 0.0 <= f <= 1.0 for f in self.stage_warmup_fraction):
            raise ValueError(
                f"method.stage_warmup_fraction: expected values in [0, 1], got {self.stage_warmup_fraction}"
            )
        if self.bank_eval not in BANK_EVAL_MODES:
            raise ValueError(f"method.bank_eval: expected one of {BANK_EVAL_MODES}, got {self.bank_eval!r}")
        for name in ("spb_k", "num_queries", "decoder_layers", "pool_heads"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"method.{name}: expected a positive integer, got {getattr(self, name)!r}")
        if not 0.0 <= self.image_dropout < 1.0:
            raise ValueError(f"method.image_dropout: expected a value in [0, 1), got {self.image_dropout}")
        if self.spb_tau <= 0 or self.temperature <= 0 or self.local_temperature <= 0:
            raise ValueError("method.spb_tau, temperature and local_temperature must be positive")
