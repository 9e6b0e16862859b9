"""The official PRIOR code (QtacierP/PRIOR), imported from a checkout, built for a speed comparison.

Nothing of that code lives here: :func:`build` puts ``CHECKOUT/codes`` on ``sys.path`` and imports
its ``prior`` package. Its model modules import a training stack this project does not install;
:func:`install_shims` puts the smallest stand-ins into ``sys.modules`` first:

- ``pytorch_lightning``: ``LightningModule`` is a plain ``nn.Module`` with the attributes the
  training step reads (``local_rank``, ``current_epoch``, which picks the stage) and a
  ``log_dict`` that keeps the last logged terms; always faked (the real one reads the trainer).
- ``pl_bolts``: ``SyncFunction`` (used only under torch.distributed), the LR schedulers and LARS
  (used only by ``configure_optimizers``, which needs a Lightning trainer); always faked.
- ``segmentation_models_pytorch.base`` (when not installed): ``Conv2dReLU`` (conv without bias,
  BatchNorm, ReLU, as that library builds it) and ``Attention(None)`` = identity: the image
  decoder's blocks, the only parts of it the decoder uses.
- ``timm``, ``kornia``, ``requests`` (when not installed): imported names that are never called.

The model loads ``emilyalsentzer/Bio_ClinicalBERT`` by name for its text tower and its sentence
decoder's config; both are redirected to the given local text tower folder.
"""

from __future__ import annotations

import importlib
import importlib.util
import subprocess
import sys
import types
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

HUB_TEXT = "emilyalsentzer/Bio_ClinicalBERT"
OFFICIAL_SIZE = 224  # the official code hard-codes a 7x7 layer4 grid and a 224 px decoder
REQUIRED = (
    "codes/prior/models/prior.py",
    "codes/prior/encoders/image/resnet.py",
    "codes/prior/encoders/language/bert.py",
    "codes/prior/decoders/sentence.py",
    "codes/prior/decoders/image.py",
    "configs/pretrain_model/prior.yaml",
)


class CheckoutError(Exception):
    """The --official path is not a PRIOR checkout."""


def check_checkout(path: str | Path) -> Path:
    root = Path(path)
    if not root.is_dir():
        raise CheckoutError(f"--official {root}: no such folder (expected a checkout of QtacierP/PRIOR)")
    missing = [name for name in REQUIRED if not (root / name).is_file()]
    if missing:
        raise CheckoutError(
            f"--official {root}: not a PRIOR checkout, missing {', '.join(missing)}"
        )
    return root


def checkout_commit(path: str | Path) -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else "unknown"


# -- shims ----------------------------------------------------------------------------------------
class LightningModule(nn.Module):
    """What the official model reads of Lightning's module in a single-process training step."""

    local_rank = 0
    global_rank = 0
    global_step = 0

    def __init__(self) -> None:
        super().__init__()
        self.current_epoch = 0
        self.logged: dict[str, Any] = {}

    def log(self, *args: Any, **kwargs: Any) -> None:
        pass

    def log_dict(self, values: dict[str, Any], **kwargs: Any) -> None:
        self.logged = {k: v.detach() if isinstance(v, torch.Tensor) else v for k, v in values.items()}


def _not_in_a_step(*args: Any, **kwargs: Any) -> Any:
    raise NotImplementedError("a stand-in: not used by a single-process training step")


class Conv2dReLU(nn.Sequential):
    def __init__(self, cin: int, cout: int, kernel_size: int, padding: int = 0, stride: int = 1,
                 use_batchnorm: bool = True) -> None:
        conv = nn.Conv2d(cin, cout, kernel_size, stride=stride, padding=padding, bias=not use_batchnorm)
        bn = nn.BatchNorm2d(cout) if use_batchnorm else nn.Identity()
        super().__init__(conv, bn, nn.ReLU(inplace=True))


class Attention(nn.Module):
    def __init__(self, name: str | None, **kwargs: Any) -> None:
        super().__init__()
        if name is not None:
            raise NotImplementedError(f"stand-in Attention: only None, got {name!r}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def _fake(name: str, **attrs: Any) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__dict__.update(attrs)
    sys.modules[name] = module
    parent, _, child = name.rpartition(".")
    if parent in sys.modules:
        setattr(sys.modules[parent], child, module)
    return module


def _missing(name: str) -> bool:
    return name not in sys.modules and importlib.util.find_spec(name) is None


def install_shims() -> None:
    _fake("pytorch_lightning", LightningModule=LightningModule)
    for name in ("pl_bolts", "pl_bolts.models", "pl_bolts.models.self_supervised",
                 "pl_bolts.models.self_supervised.simclr", "pl_bolts.optimizers"):
        _fake(name)
    _fake("pl_bolts.models.self_supervised.simclr.simclr_module", SyncFunction=_not_in_a_step)
    _fake("pl_bolts.optimizers.lr_scheduler", linear_warmup_decay=_not_in_a_step,
          LinearWarmupCosineAnnealingLR=_not_in_a_step)
    _fake("pl_bolts.optimizers.lars", LARS=_not_in_a_step)
    if _missing("segmentation_models_pytorch"):
        _fake("segmentation_models_pytorch")
        _fake("segmentation_models_pytorch.base", Conv2dReLU=Conv2dReLU, Attention=Attention)
    if _missing("timm"):
        _fake("timm")
        _fake("timm.models", resnetv2_50=_not_in_a_step, resnetv2_50d=_not_in_a_step)
        _fake("timm.models.layers", StdConv2d=_not_in_a_step)
    if _missing("kornia"):
        _fake("kornia")
        _fake("kornia.losses", ssim=_not_in_a_step)
    if _missing("requests"):
        _fake("requests", models=None)


_ORIGINALS: dict[str, Any] = {}  # official functions replaced in a build (kept for the next build)


class _Redirect:
    """``from_pretrained`` of ``real`` with the official hub name replaced by a local folder."""

    def __init__(self, real: Any, folder: str) -> None:
        self.real, self.folder = real, folder

    def from_pretrained(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return self.real.from_pretrained(self.folder if name == HUB_TEXT else name, *args, **kwargs)


# -- the model ------------------------------------------------------------------------------------
def build(checkout: str | Path, text_dir: str | Path, *, image_size: int, embed_dim: int, spb_k: int,
          num_queries: int, batch_size: int, lr: float) -> Any:
    """The official ``Prior`` with a random-init ResNet-50 (1 channel, attention pool), the text
    tower of ``text_dir`` and AdamW; at an image size other than 224 its hard-coded 7x7 grid and
    decoder sizes are scaled to the size given (at 224 nothing is changed)."""
    if image_size % 32:
        raise ValueError(f"--image-size must be a multiple of 32 (ResNet-50 strides), got {image_size}")
    install_shims()
    codes = str(Path(checkout) / "codes")
    if codes not in sys.path:
        sys.path.insert(0, codes)
    from transformers import AutoConfig, AutoModel

    image_mod, sentence_mod, resnet_mod, bert_mod, prior_mod = (
        importlib.import_module(f"prior.{name}")
        for name in ("decoders.image", "decoders.sentence", "encoders.image.resnet", "encoders.language.bert",
                     "models.prior")
    )

    bert_mod.AutoModel = _Redirect(AutoModel, str(text_dir))
    sentence_mod.AutoConfig = _Redirect(AutoConfig, str(text_dir))
    grid = image_size // 32
    official_sizes = _ORIGINALS.setdefault("get_features_size", image_mod.get_features_size)
    sizes, channels = official_sizes("resnet50")
    scaled = [s * image_size // OFFICIAL_SIZE for s in sizes]  # the official ones at 224
    image_mod.get_features_size = lambda name: (scaled, channels)
    text = bert_mod.ClinicalBERT(pretrained=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torchvision's deprecation of pretrained=
        image = resnet_mod.ResNet(in_channels=1, name="resnet50", pretrained=False, pool_method="attention")
    if image_size != OFFICIAL_SIZE:
        image.atten_pool = resnet_mod.AttentionPool2d(spacial_dim=grid, embed_dim=2048, num_heads=8)
        image.get_last_spatial_info = lambda: [grid, grid]
    model = prior_mod.Prior(
        text, image, gpus=[0], batch_size=batch_size, optim="adamw", embed_dim=embed_dim, spb_k=spb_k,
        num_queries=num_queries, temperature=0.01, local_temperature=0.01, lambda_proto=10,
        image_rec_drop_out_rate=0.5, train_dataset=[None] * batch_size,
        stage1_learning_rate=lr, stage2_learning_rate=lr, stage3_learning_rate=lr,
    )
    return model


def stage_epoch(model: Any, stage: str) -> int:
    """The ``current_epoch`` at which the official ``training_step`` runs ``stage``."""
    first = {"stage1": 0, "stage2": model.stage1_epochs, "stage3": model.stage1_epochs + model.stage2_epochs}
    return first[stage]


def make_batch(tokenizer: Any, reports: Sequence[Sequence[str]], images: torch.Tensor,
               max_length: int = 256) -> dict[str, Any]:
    """The batch the official data loader yields: each report's sentences joined as they are
    (no separator), tokenised once padded to ``max_length``; each token's sentence number (1-based,
    -1 for special and padding tokens) from the token count of each sentence tokenised alone."""
    ids, masks, index = [], [], []
    for sentences in reports:
        enc = tokenizer("".join(sentences), max_length=max_length, add_special_tokens=True,
                        padding="max_length", truncation=False, return_token_type_ids=False,
                        return_attention_mask=True, return_tensors="pt")
        row = torch.full_like(enc["input_ids"][0], -1)
        start = 1
        for k, sentence in enumerate(sentences):
            n = len(tokenizer(sentence)["input_ids"]) - 2  # without [CLS] and [SEP]
            row[start:start + n] = k + 1
            start += n
        ids.append(enc["input_ids"][0][:max_length])
        masks.append(enc["attention_mask"][0][:max_length])
        index.append(row[:max_length])
    return {
        "image": images,
        "text": {"input_ids": torch.stack(ids), "attention_mask": torch.stack(masks)},
        "text_meta": {"sentence_index": torch.stack(index), "num_tokens": torch.zeros(len(reports))},
    }
