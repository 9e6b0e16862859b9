"""The shared base of the built-in methods: building from a config, tokenising, the global loss."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from method_helpers import REPORTS, make_batch, tiny_config
from torch.nn import functional as F

from bench.api import Method
from methods.base import ReportMethod
from methods.convirt import ConVIRT
from methods.gloria import GLoRIA
from methods.prior import PRIOR
from methods.tokenize import tokenize_reports

METHODS = (ConVIRT, GLoRIA, PRIOR)


@pytest.mark.parametrize("cls", METHODS, ids=lambda c: c.name)
def test_from_config_reads_the_method_section_and_tokenize_is_the_shared_one(cls: type[ReportMethod]) -> None:
    cfg = tiny_config(cls.name, cls.Config, **{"model.image_size": "64", "model.max_text_tokens": "12"})
    model = cls.from_config(cfg)
    assert isinstance(model, ReportMethod) and isinstance(model, Method)
    assert model.cfg == cfg.method and model.cfg is cfg.method
    foreign = dataclasses.replace(cfg, method=object())  # not cls.Config: the defaults
    assert cls.from_config(foreign).cfg == cls.Config()
    tokens = model.tokenize(REPORTS)
    expected = tokenize_reports(model.tokenizer, REPORTS, 12, True)
    assert tokens.keys() == expected.keys()
    assert all(torch.equal(tokens[k], expected[k]) for k in tokens)
    assert tokens["input_ids"].shape[1] == 12  # truncated at model.max_text_tokens


def _infonce(a: torch.Tensor, b: torch.Tensor, scale: float) -> tuple[torch.Tensor, torch.Tensor]:
    logits = scale * F.normalize(a, dim=-1) @ F.normalize(b, dim=-1).t()
    labels = torch.arange(a.shape[0])
    return F.cross_entropy(logits, labels), F.cross_entropy(logits.t(), labels)


def test_global_losses_are_the_infonce_by_hand() -> None:
    """ConVIRT (lambda-weighted directions, 1/tau) and PRIOR's stage-1 global term (the mean of
    both directions at exp(logit_scale)) on one fixed batch, from the encoders' outputs."""
    for cls in (ConVIRT, PRIOR):
        cfg = tiny_config(cls.name, cls.Config, **{"model.image_size": "64"})
        torch.manual_seed(0)
        model = cls.from_config(cfg).eval()
        batch = make_batch(model, 4)
        with torch.no_grad():
            terms = model(batch)
            img, txt = model.encode_image(batch["images"]), model.encode_text(batch["text"])
        if cls is ConVIRT:
            v_u, u_v = _infonce(img.global_, txt.global_, 1 / model.cfg.temperature)
            expected = model.cfg.lambda_weight * v_u + (1 - model.cfg.lambda_weight) * u_v
        else:
            expected = sum(_infonce(img.global_, txt.global_, model.logit_scale.exp().item())) / 2
        torch.testing.assert_close(terms["global_loss"], expected, rtol=1e-5, atol=1e-6)
