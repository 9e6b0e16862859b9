"""The base the built-in methods share on top of the :class:`bench.api.Method` contract.

:class:`ReportMethod` builds a method from a resolved :class:`bench.config.BenchConfig` (its
``model`` section and the method's own ``Config`` under ``method``), tokenises reports with
:func:`methods.tokenize.tokenize_reports` through the method's text tower, and builds the image
trunk with the initialisation the config asks for (recorded in ``model.image_init``, see
:func:`methods.resnet.resolve_image_init`).
"""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

import torch
from torch import nn

from bench.api import Method
from bench.config import BenchConfig, ModelCfg
from methods.resnet import build_resnet, resolve_image_init
from methods.tokenize import tokenize_reports

M = TypeVar("M", bound="ReportMethod")


class ReportMethod(Method):
    """A method with a ResNet trunk and a Hugging Face text tower, built from the config.

    Subclasses set ``Config`` (their settings dataclass), take ``(model_cfg, method_cfg, drop)``
    in ``__init__`` and name their tower's tokenizer in :attr:`tokenizer`.
    """

    Config: ClassVar[type]

    def __init__(self, model_cfg: ModelCfg, drop: tuple[str, ...] = ()) -> None:
        super().__init__(drop)
        self.max_text_tokens = int(model_cfg.max_text_tokens)
        self.pad_to_longest = bool(model_cfg.pad_to_longest)

    @classmethod
    def from_config(cls: type[M], cfg: BenchConfig, drop: tuple[str, ...] = ()) -> M:
        """Build from ``cfg.model`` and ``cfg.method`` (the defaults when it is not ``cls.Config``)."""
        method_cfg = cfg.method if isinstance(cfg.method, cls.Config) else None
        return cls(cfg.model, method_cfg, drop)  # type: ignore[call-arg]

    @property
    def tokenizer(self) -> Any:
        """The text tower's fast tokenizer."""
        raise NotImplementedError

    def tokenize(self, reports: list[list[str]]) -> dict[str, torch.Tensor]:
        return tokenize_reports(self.tokenizer, reports, self.max_text_tokens, self.pad_to_longest)

    @staticmethod
    def build_trunk(model_cfg: ModelCfg, in_channels: int) -> nn.Module:
        """The image trunk, initialised as ``model.image_weights`` asks.

        The first build resolves the request and records what was used in ``model.image_init``
        (so the stored config of every checkpoint and result says it). A config that already
        records an initialisation is one read back from a checkpoint: the trunk is then built
        untrained, since the checkpoint's weights replace it.
        """
        if model_cfg.image_init:
            return build_resnet(model_cfg.image_encoder, in_channels, None)
        init = resolve_image_init(model_cfg.image_weights, model_cfg.image_encoder)
        model_cfg.image_init = init.record
        return build_resnet(model_cfg.image_encoder, in_channels, init.path)
