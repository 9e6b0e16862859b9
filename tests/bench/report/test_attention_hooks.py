from __future__ import annotations

import math

import pytest
import torch

from bench.checkpoint import build_method
from bench.config import resolve
from bench.registry import METHODS

REPORTS = [["Small left effusion.", "No pneumothorax is seen."], ["The heart is enlarged."]]


def _tiny(name, drop=()):
    cls = METHODS.get(name)
    cfg = resolve("tiny", name, None, getattr(cls, "Config", None))
    torch.manual_seed(0)
    return build_method(name, cfg, drop).eval(), cfg


@pytest.mark.slow
def test_prior_maps_are_its_sigmoid_cross_attention():
    method, cfg = _tiny("prior")
    images = torch.randn(2, 1, cfg.model.image_size, cfg.model.image_size)
    text = method.tokenize(REPORTS)
    with torch.no_grad():
        maps, mask = method.local_attention(images, text)
        _, patches, (h, w) = method.image_tokens(images)
        sents = method.encode_text(text).local
        lca = method.local_cross_attention
        want = torch.sigmoid(lca.query2(sents) @ lca.key1(patches).transpose(1, 2) / math.sqrt(lca.embed_dim))
    assert maps.shape == (2, 2, h, w)
    assert mask.tolist() == [[True, True], [True, False]]
    assert torch.allclose(maps.flatten(2), want, atol=1e-6)
    dropped, _ = _tiny("prior", ("local_alignment",))
    assert dropped.local_attention(images, dropped.tokenize(REPORTS)) is None


@pytest.mark.slow
def test_gloria_maps_are_distributions_over_its_local_map_and_convirt_has_none():
    method, cfg = _tiny("gloria")
    images = torch.randn(2, 1, cfg.model.image_size, cfg.model.image_size)
    with torch.no_grad():
        maps, mask = method.local_attention(images, method.tokenize(REPORTS))
        grid = method.encode_image(images).extra["local_map"].shape[-2:]
    assert maps.shape[-2:] == grid and mask.tolist() == [[True, True], [True, False]]
    assert torch.allclose(maps[mask].sum(dim=(-1, -2)), torch.ones(3), atol=1e-5)
    convirt, _ = _tiny("convirt")
    assert not type(convirt).has_local_attention() and convirt.local_attention(None, {}) is None
