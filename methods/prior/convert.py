"""Official PRIOR checkpoints -> this project's :class:`~methods.prior.PRIOR` keys.

Accepted: the flat state dict the official zero-shot code loads, a Lightning checkpoint
(``{"state_dict": ...}``), either with a DDP ``module.`` prefix, and the bare
``prior_resnet50.pt`` ResNet (torchvision keys, 1-channel ``conv1``, no ``fc``).

Official name -> ours: ``text_encoder.encoder.*`` -> ``text_encoder.model.*``;
``image_encoder.encoder.*`` -> ``image_encoder.trunk.*`` (``fc`` dropped);
``sentence_decoder.*`` -> ``sentence_decoder.bert.*``; every other module keeps its name
(``image_encoder.atten_pool``, ``global_text_attention``, the projections, ``predictor``,
``local_cross_attention``, ``sentence_bank.embed``, ``prototype_queries``, ``image_decoder``,
``logit_scale``, ``local_logit_scale``). Left unmatched: ``global_text_projection.*`` (unused
there, not created here), the sentence decoder's word embeddings and pooler (our decoder reads
queries as embeddings and has a 1-row vocabulary), the ``position_ids`` buffers older
transformers versions saved, and anything unknown. A full checkpoint also
gets ``stage_index = 2`` (stage 3), so that evaluation reads sentences through the bank.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import torch

from methods.convert import unwrap

log = logging.getLogger(__name__)

RENAMES: tuple[tuple[str, str], ...] = (
    ("text_encoder.encoder.", "text_encoder.model."),
    ("image_encoder.encoder.", "image_encoder.trunk."),
    ("sentence_decoder.", "sentence_decoder.bert."),
)
KEPT: tuple[str, ...] = (
    "image_encoder.atten_pool.",
    "global_text_attention.",
    "global_image_projection.",
    "local_image_projection.",
    "local_text_projection.",
    "predictor.",
    "local_cross_attention.",
    "sentence_bank.",
    "image_decoder.",
    "prototype_queries",
    "logit_scale",
    "local_logit_scale",
)
# known to be unused here (``bench import`` accepts these unmatched): the unused projection, the
# decoder's vocabulary and pooler, ``fc``, and the constant ``position_ids`` buffers of older
# transformers versions
METHOD = "prior"  # the method these weights fit (bench.registry.FORMATS)
DROPPED: tuple[str, ...] = (
    "global_text_projection.",
    "sentence_decoder.embeddings.word_embeddings.",
    "sentence_decoder.embeddings.position_ids",
    "sentence_decoder.pooler.",
    "text_encoder.encoder.embeddings.position_ids",
    "image_encoder.encoder.fc.",
    "fc.",
)
RESNET_PREFIXES: tuple[str, ...] = ("conv1.", "bn1.", "layer1.", "layer2.", "layer3.", "layer4.")


def is_bare_resnet(state: Mapping[str, torch.Tensor]) -> bool:
    """True for a plain torchvision ResNet state dict (``conv1.weight`` ... ``layer4.*``)."""
    return "conv1.weight" in state and any(k.startswith("layer4.") for k in state)


def _rename(key: str) -> str | None:
    if key.startswith(DROPPED):
        return None
    for old, new in RENAMES:
        if key.startswith(old):
            return new + key[len(old) :]
    if key.startswith(KEPT):
        return key
    return None


def convert_official(
    state_dict: Mapping[str, Any], reference: Mapping[str, torch.Tensor] | None = None
) -> tuple[dict[str, torch.Tensor], list[str]]:
    """Map an official checkpoint's keys to ours: ``(mapped, unmatched)``.

    ``unmatched`` lists the official keys that found no place. With ``reference`` (e.g. our
    model's ``state_dict()``), keys missing from it or of another shape are unmatched too.
    """
    state = unwrap(state_dict)
    mapped: dict[str, torch.Tensor] = {}
    unmatched: list[str] = []
    bare = is_bare_resnet(state)
    for key, value in state.items():
        if bare:
            new = (
                None
                if key.startswith("fc.") or not key.startswith(RESNET_PREFIXES)
                else "image_encoder.trunk." + key
            )
        else:
            new = _rename(key)
        if new is not None and reference is not None:
            ref = reference.get(new)
            if ref is None or tuple(ref.shape) != tuple(value.shape):
                new = None
        if new is None:
            unmatched.append(key)
        else:
            mapped[new] = value
    if not bare and any(k.startswith("sentence_bank.") for k in mapped):
        mapped["stage_index"] = torch.tensor(2, dtype=torch.long)
    log.info("converted %d official tensors, %d unmatched", len(mapped), len(unmatched))
    return mapped, unmatched
