"""The contracts between the harness, the methods and the tasks.

Methods and tasks import this module (never each other). Importing it pulls in torch, so the
CLI imports it lazily, only in subcommands that need a model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import torch
from torch import nn

from bench.config import BenchConfig

if TYPE_CHECKING:  # the task-input contract sits a floor above; annotations only
    from bench.taskdata import TaskData


@dataclass
class ImageFeatures:
    """Output of :meth:`Method.encode_image`.

    global_: [B, D] embedding in the joint space (not normalised).
    local: [B, N, D] patch/region embeddings in the joint space, or None for global-only methods.
    """

    global_: torch.Tensor
    local: torch.Tensor | None = None
    extra: dict[str, torch.Tensor] = field(default_factory=dict)


@dataclass
class TextFeatures:
    """Output of :meth:`Method.encode_text`.

    global_: [B, D] report/prompt embedding in the joint space.
    local: [B, T, D] word (GLoRIA) or sentence (PRIOR) embeddings, or None.
    mask: [B, T] bool, True where ``local`` holds a real word/sentence.
    """

    global_: torch.Tensor
    local: torch.Tensor | None = None
    mask: torch.Tensor | None = None
    extra: dict[str, torch.Tensor] = field(default_factory=dict)


@dataclass(frozen=True)
class Stage:
    """One stage of a (possibly staged) pretraining schedule.

    The trainer re-creates the optimizer and scheduler at each stage start (as PRIOR does),
    warms up linearly from ``warmup_start_lr`` to ``lr`` over ``warmup_steps``, then follows a
    cosine to zero over the rest of the stage.
    """

    name: str
    steps: int
    lr: float
    warmup_steps: int = 0
    warmup_start_lr: float = 0.0


class Method(nn.Module):
    """Base class of every pretraining method.

    ``forward(batch)`` returns named loss terms; the trainer sums the values whose key ends in
    ``_loss`` (other keys are logged only). ``components`` names what ``--drop`` may switch off.
    ``batch`` is a dict with at least ``images`` [B, C, H, W] float and ``text`` (the output of
    :meth:`tokenize`). Images arrive grey, C = 1 (normalised with the data config's mean/std);
    a method whose stem takes 3 channels repeats them inside ``encode_image``.
    """

    name: str = "method"
    components: tuple[str, ...] = ()

    def __init__(self, drop: tuple[str, ...] = ()) -> None:
        super().__init__()
        unknown = sorted(set(drop) - set(self.components))
        if unknown:
            valid = ", ".join(self.components) or "(none)"
            raise ValueError(f"{self.name} has no component(s) {unknown}; valid: {valid}")
        self.drop = tuple(sorted(set(drop)))

    def enabled(self, component: str) -> bool:
        return component not in self.drop

    # -- the contract -------------------------------------------------------------------------
    def tokenize(self, reports: list[list[str]]) -> dict[str, torch.Tensor]:
        """Reports as lists of sentences -> a dict of tensors ``encode_text`` accepts."""
        raise NotImplementedError

    def encode_image(self, images: torch.Tensor) -> ImageFeatures:
        raise NotImplementedError

    def encode_text(self, text: dict[str, torch.Tensor]) -> TextFeatures:
        raise NotImplementedError

    def similarity(self, img: ImageFeatures, txt: TextFeatures) -> torch.Tensor:
        """[B_img, B_txt] image-text scores, the method's own (zero-shot and retrieval use it)."""
        a = nn.functional.normalize(img.global_, dim=-1)
        b = nn.functional.normalize(txt.global_, dim=-1)
        return a @ b.t()

    def image_backbone(self) -> nn.Module:
        """The torchvision-key-compatible ResNet (for probes and the dense tasks)."""
        raise NotImplementedError

    def local_attention(self, images: torch.Tensor, text: dict[str, torch.Tensor]) -> Any:
        """Optional: ``(maps [B, S, h, w], mask [B, S])``, each report sentence's attention over the
        image's patches (what ``bench report`` draws), or None. Global-only methods keep this default."""
        return None

    @classmethod
    def has_local_attention(cls) -> bool:
        """True when the method overrides :meth:`local_attention`."""
        return cls.local_attention is not Method.local_attention

    @property
    def in_channels(self) -> int:
        """Channels the image encoder takes (1 for PRIOR's grey stem, 3 otherwise)."""
        return 3

    @classmethod
    def from_config(cls, cfg: Any, drop: tuple[str, ...] = ()) -> Method:
        """Build from a resolved :class:`bench.config.BenchConfig` (``cfg.method`` is ``cls.Config``)."""
        raise NotImplementedError

    def stages(self, total_steps: int, train_cfg: Any) -> list[Stage]:
        """The schedule; one stage by default. Staged methods split ``total_steps`` their way."""
        return [Stage("main", total_steps, train_cfg.lr, train_cfg.warmup_steps)]

    def set_stage(self, stage: str) -> None:  # noqa: B027 - optional hook
        """Called by the trainer when a staged schedule enters ``stage``."""


@runtime_checkable
class Task(Protocol):
    """A task module: ``NAME``, ``VERSION``, ``METRICS`` and ``evaluate``."""

    NAME: str
    VERSION: str
    METRICS: dict[str, bool]  # metric name -> higher is better

    def evaluate(self, method: Method, data: TaskData, cfg: BenchConfig) -> dict[str, float]: ...


def check_task_module(module: ModuleType) -> ModuleType:
    """Raise TypeError when a registered task module does not follow the contract."""
    for attr in ("NAME", "VERSION", "METRICS", "evaluate"):
        if not hasattr(module, attr):
            raise TypeError(f"task module {module.__name__} lacks {attr}")
    return module
