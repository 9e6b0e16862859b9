"""ConVIRT: encoders, pooling, gradients and the BenchX converter."""

from __future__ import annotations

import pytest
import torch
from method_helpers import make_batch, tiny_config

from methods.convirt import ConVIRT
from methods.convirt.convert import convert_official


@pytest.fixture(scope="module")
def convirt() -> ConVIRT:
    torch.manual_seed(0)
    return ConVIRT.from_config(tiny_config("convirt", ConVIRT.Config))


def test_config_and_contract(convirt: ConVIRT) -> None:
    assert convirt.cfg.temperature == 0.1 and convirt.cfg.lambda_weight == 0.75
    assert convirt.components == () and convirt.in_channels == 3
    assert convirt.image_backbone() is convirt.visual
    with pytest.raises(ValueError, match="method.text_pool='first': expected one of max, mean, cls"):
        tiny_config("convirt", ConVIRT.Config, **{"method.text_pool": "first"})  # refused on resolve


def test_grey_images_are_repeated(convirt: ConVIRT) -> None:
    convirt.eval()
    grey = torch.randn(2, 1, 64, 64)
    with torch.no_grad():
        a = convirt.encode_image(grey).global_
        b = convirt.vis_proj(convirt.visual(grey.repeat(1, 3, 1, 1)))
    assert torch.allclose(a, b, atol=1e-6) and a.shape == (2, 128)


def test_text_max_pooling(convirt: ConVIRT) -> None:
    convirt.eval()
    text = convirt.tokenize([["Heart size is normal."], ["Small left pleural effusion.", "No edema."]])
    with torch.no_grad():
        out = convirt.encode_text(text).global_
        hidden = convirt.text.model(input_ids=text["input_ids"], attention_mask=text["attention_mask"])
        hidden = hidden.last_hidden_state
        n = int(text["attention_mask"][0].sum())
        expected = convirt.text_proj(hidden[0, :n].amax(dim=0))
    assert torch.allclose(out[0], expected, atol=1e-5)


def test_gradients_reach_every_trainable_parameter(convirt: ConVIRT) -> None:
    convirt.train()
    convirt.zero_grad(set_to_none=True)
    out = convirt(make_batch(convirt, 4))
    assert set(out) == {"global_loss"} and out["global_loss"].dim() == 0
    out["global_loss"].backward()
    trainable = {n: p for n, p in convirt.named_parameters() if p.requires_grad}
    assert {n.split(".")[0] for n in trainable} == {"visual", "vis_proj", "text_proj"}  # text frozen (tiny)
    assert [n for n, p in trainable.items() if p.grad is None or not p.grad.abs().sum() > 0] == []


def test_unfrozen_text_tower_gets_gradients() -> None:
    model = ConVIRT.from_config(tiny_config("convirt", ConVIRT.Config, **{"model.text_trainable_layers": "1"}))
    model(make_batch(model, 3))["global_loss"].backward()
    text_grads = {n for n, p in model.text.named_parameters() if p.grad is not None}
    assert text_grads and all(".layer.5." in n for n in text_grads)


def test_convert_benchx_layout(convirt: ConVIRT) -> None:
    ours = convirt.state_dict()
    benchx = {"visual.model." + k[len("visual."):]: v.clone() for k, v in ours.items() if k.startswith("visual.")}
    benchx.update({k: v.clone() for k, v in ours.items() if k.startswith("vis_proj.")})
    benchx["visual.model.fc.weight"] = torch.zeros(1)
    benchx["text_encoder.embeddings.word_embeddings.weight"] = torch.zeros(1)
    mapped, unmatched = convert_official(benchx)
    assert unmatched == ["text_encoder.embeddings.word_embeddings.weight", "visual.model.fc.weight"]
    assert set(mapped) == {k for k in ours if k.startswith(("visual.", "vis_proj."))}
    fresh = ConVIRT.from_config(tiny_config("convirt", ConVIRT.Config))
    missing, unexpected = fresh.load_state_dict(mapped, strict=False)
    assert unexpected == [] and all(k.startswith(("text.", "text_proj.")) for k in missing)
    assert torch.equal(fresh.vis_proj[2].weight, convirt.vis_proj[2].weight)
