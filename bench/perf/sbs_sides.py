"""The two sides of :mod:`bench.perf.side_by_side`: the shared inputs and settings, and one
training step of the official PRIOR and of this project's (``model.faithful`` on), each fed the
same images and reports in its own input format."""

from __future__ import annotations

import argparse
import contextlib
import math
import random
from collections.abc import Iterator
from typing import Any

from bench.config_values import LEVERS_OFF
from bench.perf import official_prior
from bench.perf.step import SENTENCES as STEP_SENTENCES

# the measured step's report sentences and two more
SENTENCES = (*STEP_SENTENCES, "The mediastinal contours are within normal limits.",
             "Degenerative changes of the thoracic spine.")
# shared settings: (value, official Prior argument, project config key)
SHARED = {
    "spb_k": (512, "spb_k", "method.spb_k"),
    "num_queries": (16, "num_queries", "method.num_queries"),
    "decoder_layers": (8, "hard-coded in CrossModalityBertDecoder", "method.decoder_layers"),
    "lr": (1e-5, "stage{1,2,3}_learning_rate", "train.lr"),
    "weight_decay": (1e-6, "stage{1,2,3}_weight_decay (AdamW)", "train.weight_decay"),
    "temperature": (0.01, "temperature", "method.temperature"),
    "local_temperature": (0.01, "local_temperature", "method.local_temperature"),
    "image_dropout": (0.5, "image_rec_drop_out_rate", "method.image_dropout"),
}



def make_inputs(batch: int, size: int, seed: int = 0) -> tuple[list[list[str]], Any]:
    """``batch`` reports of 4-7 sentences from :data:`SENTENCES` and grey images [B, 1, size, size]."""
    import torch

    rng = random.Random(seed)
    reports = [rng.sample(SENTENCES, rng.randint(4, 7)) for _ in range(batch)]
    images = torch.randn(batch, 1, size, size, generator=torch.Generator().manual_seed(seed))
    return reports, images


class Side:
    """One model with its batch: ``set_stage`` (a fresh AdamW, as each stage starts), ``step``."""

    def __init__(self, model: Any, batch: Any, lr: float, weight_decay: float, train_cfg: Any = None) -> None:
        self.model, self.batch, self.lr, self.weight_decay = model.train(), batch, lr, weight_decay
        self.train_cfg = train_cfg
        self.optimizer: Any = None

    def set_stage(self, stage: str) -> None:
        import torch

        self._enter_stage(stage)
        params = [p for p in self.model.parameters() if p.requires_grad]
        fused = bool(getattr(self.train_cfg, "fused_adamw", False))  # the project's train.fused_adamw
        self.optimizer = torch.optim.AdamW(params, lr=self.lr, weight_decay=self.weight_decay, fused=fused or None)

    def step(self) -> dict[str, float]:
        """Forward, backward, optimizer step; the loss terms (all must be finite)."""
        with self._scope():
            self.optimizer.zero_grad(set_to_none=True)
            loss, terms = self._forward()
            loss.backward()
            self.optimizer.step()
        out = {k: float(v.detach()) for k, v in terms.items()}
        if not all(math.isfinite(v) for v in out.values()):
            raise FloatingPointError(f"{type(self).__name__}: non-finite loss terms {out}")
        return out

    def _scope(self) -> contextlib.AbstractContextManager:
        return contextlib.nullcontext()


class OfficialSide(Side):
    def _enter_stage(self, stage: str) -> None:
        self.model.current_epoch = official_prior.stage_epoch(self.model, stage)

    def _forward(self) -> tuple[Any, dict[str, Any]]:
        loss = self.model.training_step(self.batch, 0)
        return loss, {k: v for k, v in self.model.logged.items() if "loss" in k}


class ProjectSide(Side):
    """As the project's trainer steps on CPU: ``train.deterministic`` algorithms (warn only) for
    the whole step, the forward in :func:`bench.precision.step_context`."""

    def _enter_stage(self, stage: str) -> None:
        self.model.set_stage(stage)

    @contextlib.contextmanager
    def _scope(self) -> Iterator[None]:
        import torch

        before = torch.are_deterministic_algorithms_enabled()
        torch.use_deterministic_algorithms(bool(self.train_cfg.deterministic), warn_only=True)
        try:
            yield
        finally:
            torch.use_deterministic_algorithms(before)

    def _forward(self) -> tuple[Any, dict[str, Any]]:
        import torch

        from bench import precision

        with precision.step_context(torch.device("cpu"), self.train_cfg):
            terms = {k: v for k, v in self.model(self.batch).items() if k.endswith("_loss")}
            return sum(terms.values()), terms


def project_config(args: argparse.Namespace, text_dir: str, embed_dim: int) -> Any:
    from bench.config import parse_overrides, resolve
    from methods.prior import PRIOR

    overrides: dict[str, Any] = {
        "model.image_encoder": "resnet50", "model.image_weights": "none", "model.faithful": "true",
        "model.image_size": str(args.image_size), "model.text_encoder": text_dir,
        "model.text_trainable_layers": "-1", "model.embed_dim": str(embed_dim),
        "train.batch_size": str(args.batch),
    }
    overrides.update({key: str(value).lower() for key, value in LEVERS_OFF.items()})  # fp32, as the official runs
    overrides.update({key: str(value) for value, _, key in SHARED.values()})
    overrides.update(parse_overrides(args.project_set))
    return resolve("default", "prior", overrides=overrides, method_config_cls=PRIOR.Config)


def build_side(name: str, args: argparse.Namespace, text_dir: str) -> Side:
    import torch
    from transformers import AutoConfig, AutoTokenizer

    embed_dim = int(AutoConfig.from_pretrained(text_dir).hidden_size)
    reports, images = make_inputs(args.batch, args.image_size)
    lr, wd = SHARED["lr"][0], SHARED["weight_decay"][0]
    torch.manual_seed(0)
    if name == "official":
        model = official_prior.build(
            args.official, text_dir, image_size=args.image_size, embed_dim=embed_dim,
            spb_k=SHARED["spb_k"][0], num_queries=SHARED["num_queries"][0], batch_size=args.batch, lr=lr,
        )
        return OfficialSide(model, official_prior.make_batch(AutoTokenizer.from_pretrained(text_dir), reports, images), lr, wd)
    from bench import precision
    from methods.prior import PRIOR

    cfg = project_config(args, text_dir, embed_dim)
    model = precision.prepare(PRIOR.from_config(cfg), cfg.train)
    batch = precision.to_memory_format({"images": images, "text": model.tokenize(reports)}, cfg.train)
    return ProjectSide(model, batch, cfg.train.lr, cfg.train.weight_decay, cfg.train)
