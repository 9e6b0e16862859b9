"""PRIOR end to end at the tiny preset: schedule, stages, gradients, components, eval interface."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
import torch

from methods.prior import PRIOR, Config

ALL_TERMS = {
    "global_loss",
    "local_image_loss",
    "local_text_loss",
    "bank_loss",
    "image_recon_loss",
    "sentence_gen_loss",
    "sentence_kl_loss",
    "gpa_loss",
}
TERMS_OF = {
    "local_alignment": {"local_image_loss", "local_text_loss"},
    "prototype_bank": {"bank_loss", "sentence_kl_loss"},
    "image_reconstruction": {"image_recon_loss"},
    "sentence_generation": {"sentence_gen_loss", "sentence_kl_loss", "gpa_loss"},
}
MODULES_OF = {
    "local_alignment": ("local_cross_attention.", "predictor.", "local_logit_scale"),
    "prototype_bank": ("sentence_bank.",),
    "image_reconstruction": ("image_decoder.",),
    "sentence_generation": ("sentence_decoder.", "prototype_queries"),
}
NEVER_TRAINED = ("text_encoder.model.pooler.", "sentence_decoder.bert.embeddings.word_embeddings.")


@pytest.fixture(scope="module")
def model(build_prior: Any) -> PRIOR:
    return build_prior()


def _step(model: PRIOR, batch: dict[str, Any], stage: str) -> dict[str, torch.Tensor]:
    model.set_stage(stage)
    model.train()
    model.zero_grad(set_to_none=True)
    out = model(batch)
    sum(v for k, v in out.items() if k.endswith("_loss")).backward()
    return out


def _trained(model: PRIOR) -> set[str]:
    return {n for n, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}


def test_stages_split_20_30_100_with_their_lr_and_warmup(build_prior: Any) -> None:
    model = build_prior(**{"method.stage_ratio": "20,30,100"})  # the paper's (the tiny preset shortens it)
    train = SimpleNamespace(lr=1e-5, warmup_steps=999)
    stages = model.stages(150, train)
    assert [s.name for s in stages] == ["stage1", "stage2", "stage3"]
    assert [s.steps for s in stages] == [20, 30, 100]
    assert [s.lr for s in stages] == pytest.approx([1e-5, 1e-5, 5e-6])
    assert [s.warmup_steps for s in stages] == [1, 1, 5]
    assert [s.warmup_start_lr for s in stages] == pytest.approx([1e-7, 1e-7, 1e-8])
    assert sum(s.steps for s in model.stages(1001, train)) == 1001
    with pytest.raises(ValueError, match="at least 3"):
        model.stages(2, train)


def test_bad_stage_and_bad_config_are_rejected(model: PRIOR, build_prior: Any) -> None:
    with pytest.raises(ValueError, match="stage1, stage2, stage3"):
        model.set_stage("stage4")
    with pytest.raises(ValueError, match="bank_eval"):
        build_prior(**{"method.bank_eval": "nearest"})
    with pytest.raises(ValueError, match="one per stage"):
        Config(stage_ratio=(1.0, 2.0))
    with pytest.raises(ValueError, match="valid"):
        build_prior(drop=("prototype_memory",))


def test_every_trainable_parameter_gets_a_gradient_in_every_stage(build_prior: Any, batch_of: Any) -> None:
    model = build_prior(**{"model.text_trainable_layers": -1})
    batch = batch_of(model, 4)
    later = ("sentence_bank.", "image_decoder.", "sentence_decoder.", "prototype_queries")
    for stage, not_yet in (("stage1", later), ("stage2", later[1:]), ("stage3", ())):
        out = _step(model, batch, stage)
        trainable = {n for n, p in model.named_parameters() if p.requires_grad}
        assert _trained(model) == trainable, stage
        frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
        assert frozen == {n for n, _ in model.named_parameters() if n.startswith(NEVER_TRAINED + not_yet)}, (
            stage
        )
        assert any(n.startswith("text_encoder.model.encoder.") for n in trainable)
        if stage == "stage3":
            assert {k for k in out if k.endswith("_loss")} == ALL_TERMS
            torch.testing.assert_close(out["global_loss"], 10 * out["global"])
        else:
            torch.testing.assert_close(out["global_loss"], out["global"])
            assert ("bank_loss" in out) == (stage == "stage2")


@pytest.mark.parametrize("drop", [(c,) for c in PRIOR.components] + [PRIOR.components])
def test_dropping_components_removes_terms_and_modules(
    build_prior: Any, batch_of: Any, drop: tuple[str, ...]
) -> None:
    model = build_prior(drop=drop)
    assert model.drop == tuple(sorted(drop))
    if drop == ("local_alignment",):  # nothing reads the local tokens before stage 3
        _step(model, batch_of(model, 4), "stage1")
        assert _trained(model) == {n for n, p in model.named_parameters() if p.requires_grad}
        assert not model.local_image_projection.weight.requires_grad
    out = _step(model, batch_of(model, 4), "stage3")
    gone = set().union(*(TERMS_OF[c] for c in drop))
    assert {k for k in out if k.endswith("_loss")} == ALL_TERMS - gone
    names = [n for n, _ in model.named_parameters()]
    for c in drop:
        assert not any(n.startswith(MODULES_OF[c]) for n in names), c
    assert _trained(model) == {n for n, p in model.named_parameters() if p.requires_grad}
    if "local_alignment" in drop and "image_reconstruction" not in drop:
        assert model.image_decoder.blocks[0].conv1[0].in_channels == model.embed_dim
    if len(drop) == len(PRIOR.components):
        assert model.local_image_projection is None
        assert model.encode_image(batch_of(model, 2)["images"]).local is None


def test_stage_travels_in_the_state_dict(model: PRIOR, build_prior: Any) -> None:
    model.set_stage("stage3")
    other = build_prior(seed=1)
    assert other.stage == "stage1" and not other.sentence_bank.embed.weight.requires_grad
    other.load_state_dict(model.state_dict())
    assert other.stage == "stage3" and other.uses_bank()
    assert other.sentence_decoder.bert.embeddings.position_embeddings.weight.requires_grad
    assert not other.sentence_decoder.bert.get_input_embeddings().weight.requires_grad


def test_encode_text_reads_the_bank_from_stage2(model: PRIOR, batch_of: Any) -> None:
    text = batch_of(model, 3)["text"]
    model.eval()
    with torch.no_grad():
        model.set_stage("stage1")
        raw = model.encode_text(text)
        sents, mask = model.sentences(text)
        torch.testing.assert_close(raw.local, sents)
        model.set_stage("stage2")
        banked = model.encode_text(text)
    w = model.sentence_bank.embed.weight
    expected = torch.softmax(sents[mask] @ w.t() / model.cfg.spb_tau, -1) @ w
    torch.testing.assert_close(banked.local[mask], expected, atol=1e-5, rtol=1e-5)
    assert torch.equal(banked.mask, mask)
    assert banked.global_.shape == (3, model.embed_dim)


def test_similarity_is_the_zero_shot_score(
    model: PRIOR, batch_of: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch = batch_of(model, 4)
    model.eval()
    model.set_stage("stage3")
    with torch.no_grad():
        img, txt = model.encode_image(batch["images"]), model.encode_text(batch["text"])
        score = model.similarity(img, txt)
        monkeypatch.setattr("methods.prior.model.SIMILARITY_CHUNK", 1)
        chunked = model.similarity(img, txt)
    assert score.shape == (4, 4)
    torch.testing.assert_close(score.sum(1), torch.full((4,), 1.5))  # softmax + 0.5 x softmax
    torch.testing.assert_close(chunked, score)


def test_image_backbone_and_channels(model: PRIOR) -> None:
    trunk = model.image_backbone()
    assert model.in_channels == 1 and trunk.conv1.in_channels == 1
    assert "layer4.0.conv1.weight" in trunk.state_dict()
