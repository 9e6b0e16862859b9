"""Map the official GLoRIA checkpoint (``chexpert_resnet50.ckpt``, a Lightning ``state_dict``)
onto :class:`methods.gloria.GLoRIA`.

Official keys (``gloria/lightning/pretrain_model.py`` holds the model as ``self.gloria``;
``gloria/models/vision_model.py``, ``text_model.py``): ``gloria.img_encoder.model.*`` (torchvision
ResNet, ``fc`` = Identity), ``gloria.img_encoder.global_embedder.{weight,bias}``,
``gloria.img_encoder.local_embedder.weight``, ``gloria.text_encoder.model.*`` (the Hugging Face
BERT). The official model has no text projections, so ours must be Identity (embed_dim equal to
the BERT width, the default preset). The caller loads the file with ``weights_only=True``.
"""

from __future__ import annotations

import torch

from methods.convert import rename_prefixes, unwrap

METHOD = "gloria"  # the method these weights fit (bench.registry.FORMATS)

# source prefix (after "gloria.") -> our prefix; "" drops the key (reported as unmatched)
PREFIXES: tuple[tuple[str, str], ...] = (
    ("img_encoder.model.fc.", ""),
    ("img_encoder.model.", "visual."),
    ("img_encoder.global_embedder.", "global_embedder."),
    ("img_encoder.local_embedder.", "local_embedder."),
    ("text_encoder.model.embeddings.position_ids", ""),  # a buffer recent transformers do not save
    ("text_encoder.model.", "text.model."),
)


def convert_official(state_dict: dict) -> tuple[dict[str, torch.Tensor], list[str]]:
    """``(mapped, unmatched)``: tensors renamed to this project's keys, and the source keys that
    have no counterpart here (sorted)."""
    return rename_prefixes(unwrap(state_dict), PREFIXES, strip="gloria.")
