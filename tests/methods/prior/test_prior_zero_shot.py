"""PRIOR's zero-shot scoring, both ways, on weights imported from an official-shaped state dict.

The expected values are computed here by hand from the features and the parameters (loops over
images, prompts, patches), not through the method's own helpers.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from torch.nn import functional as F

from methods.prior import PRIOR
from methods.prior.convert import convert_official
from methods.prior.zero_shot import per_class

PROMPTS = {  # two prompts per class, so that max and mean over a class's prompts differ
    "Atelectasis": ["Atelectasis is observed", "Bibasilar atelectasis"],
    "Cardiomegaly": ["Cardiomegaly is observed", "The heart is enlarged"],
    "Consolidation": ["Consolidation is observed", "Focal consolidation in the right lower lobe"],
    "Edema": ["Edema is observed", "Mild pulmonary edema"],
    "Pleural Effusion": ["Pleural Effusion is observed", "Small left pleural effusion"],
}
TEXTS = [p for prompts in PROMPTS.values() for p in prompts]
OWNERS = torch.tensor([c for c, prompts in enumerate(PROMPTS.values()) for _ in prompts])
N_CLASSES = len(PROMPTS)
OFFICIAL_NAMES = (
    ("text_encoder.model.", "text_encoder.encoder."),
    ("image_encoder.trunk.", "image_encoder.encoder."),
    ("sentence_decoder.bert.", "sentence_decoder."),
)


def _official_state(model: PRIOR) -> dict[str, torch.Tensor]:
    """The model's weights under the official module names, as the official code saves them, with
    the official initial ``logit_scale`` log(1/0.01) (about 4.6; the scale the training uses is 100)."""
    state = {}
    for key, value in model.state_dict().items():
        if key.startswith(("sentence_decoder.image_in.", "sentence_decoder.out.", "stage_index")):
            continue
        for ours, theirs in OFFICIAL_NAMES:
            if key.startswith(ours):
                key = theirs + key[len(ours) :]
        state[key] = value.clone()
    state["logit_scale"] = torch.tensor(math.log(1 / 0.01))
    return state


@pytest.fixture(scope="module")
def imported(build_prior: Any) -> dict[bool, PRIOR]:
    """faithful False / True, both with the weights imported from the official-shaped dict."""
    source = _official_state(build_prior(seed=3))
    out = {}
    for faithful in (False, True):
        model = build_prior(faithful=faithful)
        mapped, _ = convert_official(source, reference=model.state_dict())
        model.load_state_dict(mapped, strict=False)
        assert model.stage == "stage3" and model.logit_scale.item() == pytest.approx(math.log(100))
        out[faithful] = model.eval()
    return out


def _features(model: PRIOR, seed: int = 0) -> tuple[Any, Any]:
    gen = torch.Generator().manual_seed(seed)
    images = torch.randn(4, 1, 64, 64, generator=gen)
    with torch.no_grad():
        torch.manual_seed(seed)  # the faithful bank draws Gumbel noise at eval
        return model.encode_image(images), model.encode_text(model.tokenize_prompts(TEXTS))


def _hand_local(model: PRIOR, patches: torch.Tensor, sentence: torch.Tensor) -> float:
    """Mean over patches of both sigmoid attention maps between one image and one sentence, averaged."""
    lam = model.local_cross_attention
    d = patches.shape[-1]
    q_text, k_text = lam.query2(sentence), lam.key2(sentence)
    text_to_image = [torch.sigmoid(q_text @ lam.key1(p) / math.sqrt(d)) for p in patches]
    image_to_text = [torch.sigmoid(lam.query1(p) @ k_text / math.sqrt(d)) for p in patches]
    return (sum(text_to_image) / len(patches) + sum(image_to_text) / len(patches)).item() / 2


def _hand_parts(model: PRIOR, img: Any, txt: Any, scale: float) -> tuple[torch.Tensor, torch.Tensor]:
    """[images, prompts] global logits (scale x cosine) and local scores, one pair at a time."""
    n_img, n_txt = img.global_.shape[0], txt.global_.shape[0]
    glob, local = torch.zeros(n_img, n_txt), torch.zeros(n_img, n_txt)
    for i in range(n_img):
        for t in range(n_txt):
            glob[i, t] = scale * F.cosine_similarity(img.global_[i], txt.global_[t], dim=0)
            assert txt.mask[t].tolist() == [True]  # a prompt is one sentence
            local[i, t] = _hand_local(model, img.local[i], txt.local[t, 0])
    return glob, local


def _by_class(scores: torch.Tensor, how: str) -> torch.Tensor:
    cols = []
    for c in range(N_CLASSES):
        own = scores[:, OWNERS == c]
        cols.append(own.max(dim=1).values if how == "max" else own.mean(dim=1))
    return torch.stack(cols, dim=1)


def test_faithful_scores_are_the_official_formula(imported: dict[bool, PRIOR]) -> None:
    model = imported[True]
    img, txt = _features(model)
    with torch.no_grad():
        glob, local = _hand_parts(model, img, txt, scale=model.logit_scale.item())  # raw, about 4.6
        official = torch.softmax(_by_class(glob, "max"), 1) + 0.5 * torch.softmax(_by_class(local, "mean"), 1)
        scores = model.zero_shot_scores(img, txt, OWNERS, N_CLASSES)
        # the pairwise score (retrieval's) keeps the trained scale: the official code has no retrieval
        glob_exp, _ = _hand_parts(model, img, txt, scale=math.exp(model.logit_scale.item()))
        per_prompt = torch.softmax(glob_exp, 1) + 0.5 * torch.softmax(local, 1)
        torch.testing.assert_close(model.similarity(img, txt), per_prompt, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(scores * 1.5, official, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(scores.sum(1), torch.ones(4))
    assert torch.equal(scores.argmax(1), official.argmax(1))


def test_default_scores_are_the_intended_formula(imported: dict[bool, PRIOR]) -> None:
    model = imported[False]
    img, txt = _features(model)
    with torch.no_grad():
        glob, local = _hand_parts(model, img, txt, scale=math.exp(model.logit_scale.item()))  # 100
        per_prompt = torch.softmax(glob, 1) + 0.5 * torch.softmax(local, 1)
        intended = torch.softmax(_by_class(per_prompt, "max"), 1)
        scores = model.zero_shot_scores(img, txt, OWNERS, N_CLASSES)
        torch.testing.assert_close(model.similarity(img, txt), per_prompt, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(scores, intended, rtol=1e-5, atol=1e-6)


def test_the_two_ways_differ_on_the_same_weights(imported: dict[bool, PRIOR]) -> None:
    (img_a, txt_a), (img_b, txt_b) = _features(imported[False]), _features(imported[True])
    torch.testing.assert_close(img_a.global_, img_b.global_, rtol=1e-5, atol=1e-6)  # the pool is spatial in both
    with torch.no_grad():
        a = imported[False].zero_shot_scores(img_a, txt_a, OWNERS, N_CLASSES)
        b = imported[True].zero_shot_scores(img_b, txt_b, OWNERS, N_CLASSES)
    assert (a - b).abs().max() > 1e-3


def _hand_prompt_embedding(model: PRIOR, prompt: str, with_sep: bool) -> torch.Tensor:
    """Projected token mean of one prompt padded to 256 tokens: positions 1..254 where real
    ([SEP] included) when ``with_sep``, else the word tokens only."""
    tok = model.tokenizer(prompt, padding="max_length", max_length=256, return_tensors="pt")
    hidden = model.text_encoder.model(input_ids=tok["input_ids"], attention_mask=tok["attention_mask"])[0][0]
    real = tok["attention_mask"][0].bool()
    keep = real.clone()
    keep[0] = keep[-1] = False  # [CLS], and the last of the 256 positions
    if not with_sep:
        keep &= tok["input_ids"][0] != model.tokenizer.sep_token_id
    assert keep.sum() == real.sum() - (1 if with_sep else 2)
    return model.local_text_projection(hidden[keep]).mean(0)


@pytest.mark.parametrize("faithful", [False, True])
def test_prompt_embedding_keeps_sep_only_when_faithful(build_prior: Any, faithful: bool) -> None:
    model = build_prior(faithful=faithful).eval()  # stage 1: no bank between tokens and sentence
    prompts = ["Edema is observed", "Small left pleural effusion"]
    with torch.no_grad():
        sents = model.encode_text(model.tokenize_prompts(prompts)).local[:, 0]
        for i, prompt in enumerate(prompts):
            expected = _hand_prompt_embedding(model, prompt, with_sep=faithful)
            other = _hand_prompt_embedding(model, prompt, with_sep=not faithful)
            torch.testing.assert_close(sents[i], expected, rtol=1e-4, atol=1e-5)
            assert not torch.allclose(sents[i], other, atol=1e-4)
    # training reports never take [SEP] into a sentence, whatever faithful says
    text = model.tokenize([[p] for p in prompts])
    sep = text["input_ids"] == model.tokenizer.sep_token_id
    assert (text["sentence_ids"][sep] == -1).all()


def test_per_class_reduces_each_class_and_needs_a_prompt_per_class() -> None:
    scores = torch.tensor([[0.1, 0.7, -2.0, 0.4, 0.2]])
    owners = torch.tensor([0, 0, 1, 2, 2])
    assert per_class(scores, owners, 3, "amax").tolist() == [pytest.approx([0.7, -2.0, 0.4])]
    assert per_class(scores, owners, 3, "mean").tolist() == [pytest.approx([0.4, -2.0, 0.3])]
    with pytest.raises(ValueError, match="every class needs a prompt"):
        per_class(scores, owners, 4, "amax")
