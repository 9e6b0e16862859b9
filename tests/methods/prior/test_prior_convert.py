"""Official PRIOR checkpoints (synthetic, with the official key names) -> this project's PRIOR."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from methods.prior import PRIOR
from methods.prior.convert import convert_official

OURS_TO_OFFICIAL = (
    ("text_encoder.model.", "text_encoder.encoder."),
    ("image_encoder.trunk.", "image_encoder.encoder."),
    ("sentence_decoder.bert.", "sentence_decoder."),
)
OURS_ONLY = ("sentence_decoder.image_in.", "sentence_decoder.out.", "stage_index")


def _official_name(key: str) -> str:
    for ours, theirs in OURS_TO_OFFICIAL:
        if key.startswith(ours):
            return theirs + key[len(ours) :]
    return key


@pytest.fixture(scope="module")
def model(build_prior: Any) -> PRIOR:
    return build_prior()


@pytest.fixture(scope="module")
def official(model: PRIOR) -> dict[str, torch.Tensor]:
    """What the official Prior module's state_dict looks like for these shapes, values randomised."""
    gen = torch.Generator().manual_seed(0)
    state = {
        _official_name(k): torch.randn(v.shape, generator=gen) if v.is_floating_point() else v.clone()
        for k, v in model.state_dict().items()
        if not k.startswith(OURS_ONLY)
    }
    hidden = model.text_encoder.hidden_size
    state["sentence_decoder.embeddings.word_embeddings.weight"] = torch.randn(28996, hidden)
    state["global_text_projection.weight"] = torch.randn(model.embed_dim, hidden)
    state["global_text_projection.bias"] = torch.randn(model.embed_dim)
    state["some_future_module.weight"] = torch.randn(3)
    for key in ("text_encoder.encoder.embeddings.position_ids", "sentence_decoder.embeddings.position_ids"):
        state[key] = torch.arange(512).unsqueeze(0)  # saved by transformers 4.17
    return state


EXPECTED_UNMATCHED = {
    "text_encoder.encoder.embeddings.position_ids",
    "sentence_decoder.embeddings.position_ids",
    "sentence_decoder.embeddings.word_embeddings.weight",
    "global_text_projection.weight",
    "global_text_projection.bias",
    "some_future_module.weight",
}


def _check(
    model: PRIOR, official: dict[str, torch.Tensor], mapped: dict[str, torch.Tensor], unmatched: list[str]
) -> None:
    assert set(unmatched) == EXPECTED_UNMATCHED
    assert mapped["stage_index"].item() == 2
    target = model.state_dict()
    missing = set(target) - set(mapped)
    assert all(
        k.startswith(OURS_ONLY + ("sentence_decoder.bert.embeddings.word_embeddings.",)) for k in missing
    )
    assert "image_encoder.atten_pool.positional_embedding" in mapped
    assert "sentence_bank.embed.weight" in mapped and "prototype_queries" in mapped
    for key, value in mapped.items():
        if key != "stage_index":
            assert torch.equal(value, official[_official_name(key)]), key


def test_flat_state_dict(model: PRIOR, official: dict[str, torch.Tensor], build_prior: Any) -> None:
    mapped, unmatched = convert_official(official, reference=model.state_dict())
    _check(model, official, mapped, unmatched)
    fresh = build_prior(seed=3)
    result = fresh.load_state_dict(mapped, strict=False)
    assert not result.unexpected_keys
    assert fresh.stage == "stage3"
    torch.testing.assert_close(fresh.logit_scale, official["logit_scale"])


def test_lightning_checkpoint_with_ddp_prefix(model: PRIOR, official: dict[str, torch.Tensor]) -> None:
    wrapped = {"state_dict": {"module." + k: v for k, v in official.items()}, "epoch": 149, "global_step": 7}
    mapped, unmatched = convert_official(wrapped, reference=model.state_dict())
    _check(model, official, mapped, unmatched)


def test_without_reference_names_still_map(official: dict[str, torch.Tensor]) -> None:
    mapped, unmatched = convert_official(official)
    assert set(unmatched) == EXPECTED_UNMATCHED
    assert "text_encoder.model.embeddings.word_embeddings.weight" in mapped


def test_bare_prior_resnet50_layout(model: PRIOR) -> None:
    trunk = {k: v.clone() for k, v in model.image_backbone().state_dict().items()}
    assert trunk["conv1.weight"].shape[1] == 1
    trunk["fc.weight"] = torch.randn(2, 2)
    mapped, unmatched = convert_official(trunk, reference=model.state_dict())
    assert unmatched == ["fc.weight"]
    assert set(mapped) == {"image_encoder.trunk." + k for k in trunk if k != "fc.weight"}
    assert "stage_index" not in mapped


def test_shape_mismatch_is_unmatched(model: PRIOR, official: dict[str, torch.Tensor]) -> None:
    bad = dict(official, logit_scale=torch.ones(2))
    mapped, unmatched = convert_official(bad, reference=model.state_dict())
    assert "logit_scale" in unmatched and "logit_scale" not in mapped


def test_not_a_state_dict_is_rejected() -> None:
    with pytest.raises(ValueError, match="state dict"):
        convert_official(["conv1.weight"])  # type: ignore[arg-type]
