"""Map a BenchX ConVIRT checkpoint (``ConVIRT.pth``) onto :class:`methods.convirt.ConVIRT`.

BenchX stores the ResNet under ``visual.model.`` and the image projection (Linear 2048-768,
ReLU, Linear 768-768) under ``vis_proj.`` (its ``configs/_base_/models/convirt.yml`` and
``preprocess/model_converters/medvlm2mmseg.py``). Its text-side key names are not documented, so
they are returned as unmatched. The caller loads the file with ``torch.load(..., weights_only=True)``.
"""

from __future__ import annotations

import torch

from methods.convert import rename_prefixes, unwrap

METHOD = "convirt"  # the method these weights fit (bench.registry.FORMATS)

# source prefix -> our prefix; first match wins
PREFIXES: tuple[tuple[str, str], ...] = (
    ("visual.model.fc.", ""),  # a classifier head: not part of the trunk
    ("visual.model.", "visual."),
    ("vis_proj.", "vis_proj."),
)


def convert_official(state_dict: dict) -> tuple[dict[str, torch.Tensor], list[str]]:
    """``(mapped, unmatched)``: the tensors renamed to this project's keys, and the source keys
    that have no counterpart here (sorted)."""
    return rename_prefixes(unwrap(state_dict), PREFIXES)
