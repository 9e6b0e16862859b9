"""methods.encoders: ResNet trunks, the text tower's freezing and cache, report tokenisation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from torchvision.models import resnet18

from methods.encoders import (
    TextEncoder,
    build_resnet,
    build_text_encoder,
    out_channels,
    projection_head,
    resnet_features,
    to_channels,
    tokenize_reports,
)


# -- ResNet -------------------------------------------------------------------------------------
def test_resnet_tiny_has_torchvision_keys_and_size() -> None:
    tiny = build_resnet("resnet_tiny")
    keys = set(tiny.state_dict())
    reference = set(resnet18(weights=None).state_dict())
    assert keys <= reference  # every key is a torchvision ResNet key
    assert not any(k.startswith("fc.") for k in keys)
    n = sum(p.numel() for p in tiny.parameters())
    assert 250_000 < n < 350_000
    assert out_channels(tiny) == {"layer1": 16, "layer2": 32, "layer3": 64, "layer4": 128}


@pytest.mark.parametrize("name", ["resnet_tiny", "resnet18"])
def test_features_and_channels_agree(name: str) -> None:
    trunk = build_resnet(name).eval()
    x = torch.randn(2, 3, 64, 64)
    feats = resnet_features(trunk, x)
    assert [k for k in feats] == ["layer1", "layer2", "layer3", "layer4"]
    assert {k: v.shape[1] for k, v in feats.items()} == out_channels(trunk)
    assert feats["layer4"].shape[-1] == 2  # stride 32
    pooled = trunk(x)
    assert torch.allclose(pooled, feats["layer4"].mean(dim=(2, 3)), atol=1e-6)


def test_grey_stem_sums_rgb_kernels_from_a_file(tmp_path: Path) -> None:
    rgb = resnet18(weights=None).eval()
    path = tmp_path / "r18.pth"
    torch.save(rgb.state_dict(), path)
    grey = build_resnet("resnet18", in_channels=1, weights=path).eval()
    assert grey.conv1.weight.shape[1] == 1
    assert torch.allclose(grey.conv1.weight, rgb.conv1.weight.sum(dim=1, keepdim=True))
    assert torch.equal(grey.layer2[0].conv1.weight, rgb.layer2[0].conv1.weight)
    x = torch.randn(2, 1, 64, 64)
    rgb.fc = torch.nn.Identity()
    with torch.no_grad():
        assert torch.allclose(grey(x), rgb(x.repeat(1, 3, 1, 1)), atol=1e-4)


def test_resnet_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="resnet_tiny"):
        build_resnet("resnet51")
    with pytest.raises(ValueError, match="not found"):
        build_resnet("resnet18", weights=tmp_path / "missing.pth")
    path = tmp_path / "tiny.pth"
    torch.save(build_resnet("resnet_tiny").state_dict(), path)
    with pytest.raises(ValueError, match="do not fit resnet18"):
        build_resnet("resnet18", weights=path)


def test_small_helpers() -> None:
    head = projection_head(10, 4)
    assert [k for k in head.state_dict()] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert head[0].out_features == 4
    grey = torch.randn(2, 1, 8, 8)
    assert torch.equal(to_channels(grey, 3)[:, 2], grey[:, 0])
    with pytest.raises(ValueError, match="channels"):
        to_channels(torch.randn(2, 2, 8, 8), 3)


# -- text tower ---------------------------------------------------------------------------------
def test_unknown_text_encoder_message() -> None:
    with pytest.raises(ValueError, match=r"not found locally.*--set model.text_encoder=PATH"):
        build_text_encoder("nobody/no-such-bert")


def test_trainable_layers_policy() -> None:
    model, _ = build_text_encoder("minilm", trainable_layers=2)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all(n.startswith(("encoder.layer.4.", "encoder.layer.5.")) for n in trainable)
    assert any(n.startswith("encoder.layer.4.") for n in trainable)
    full, _ = build_text_encoder("minilm", trainable_layers=-1)
    assert all(p.requires_grad for p in full.parameters())
    with pytest.raises(ValueError, match="encoder has 6 layers"):
        build_text_encoder("minilm", trainable_layers=7)


def test_frozen_tower_stays_in_eval_and_caches(minilm: TextEncoder) -> None:
    assert not any(p.requires_grad for p in minilm.parameters())
    minilm.train()
    assert minilm.training and not minilm.model.training
    tok = tokenize_reports(minilm.tokenizer, [["Heart size is normal."], ["Small left effusion.", "No edema."]], 32)
    minilm.cache.clear()
    first = minilm.hidden_states(tok["input_ids"], tok["attention_mask"], last=2)
    assert len(minilm.cache) == 2
    hits = minilm.cache.hits
    # the same reports again, in another order and padded to another length: served from the cache
    tok2 = tokenize_reports(minilm.tokenizer, [["Small left effusion.", "No edema."], ["Heart size is normal."]], 32,
                            pad_to_longest=False)
    second = minilm.hidden_states(tok2["input_ids"], tok2["attention_mask"], last=2)
    assert minilm.cache.hits == hits + 2
    n0, n1 = (int(v) for v in tok["attention_mask"].sum(1))
    assert torch.allclose(second[:, 1, :n0], first[:, 0, :n0])
    assert torch.allclose(second[:, 0, :n1], first[:, 1, :n1])
    with torch.no_grad():
        direct = minilm.model(**{k: tok[k] for k in ("input_ids", "attention_mask")}, output_hidden_states=True)
    assert torch.allclose(first[:, 1, :n1], torch.stack(direct.hidden_states[-2:])[:, 1, :n1], atol=1e-5)


def test_cache_follows_parameter_changes_and_is_bounded() -> None:
    enc = TextEncoder("minilm", trainable_layers=0, cache_floats=3 * 20 * 384)
    tok = tokenize_reports(enc.tokenizer, [["Heart size is normal."], ["No edema."], ["Stable lines."]], 32)
    before = enc(tok["input_ids"], tok["attention_mask"])
    assert 1 <= len(enc.cache) <= 3
    state = {k: v + 0.01 if k.endswith("LayerNorm.bias") else v for k, v in enc.model.state_dict().items()}
    enc.model.load_state_dict(state)
    after = enc(tok["input_ids"], tok["attention_mask"])
    assert not torch.allclose(before[0, :3], after[0, :3])  # not served stale


# -- tokenisation -------------------------------------------------------------------------------
TRICKY = [
    ["1. Small  left pleural effusion.", "2.Pneumothorax (apical), ~1.5cm!", "", "   ", "Naïve µ-lesion; s/p CABG."],
    ["x"],
    [],
    ["Sentence one.", "Sentence two is a good deal longer than the first one, with many many words in it."],
]


def _expected_sentence_tokens(tokenizer: Any, sentences: list[str]) -> list[int]:
    ids: list[int] = []
    for k, s in enumerate(x.strip() for x in sentences if x.strip()):
        ids += [k] * len(tokenizer(s, add_special_tokens=False)["input_ids"])
    return ids


def test_sentence_ids_match_per_sentence_tokenisation(minilm: TextEncoder) -> None:
    tok = tokenize_reports(minilm.tokenizer, TRICKY, max_tokens=128)
    for i, report in enumerate(TRICKY):
        mask = tok["attention_mask"][i].bool()
        sids = tok["sentence_ids"][i][mask].tolist()
        assert sids[0] == -1 and sids[-1] == -1  # [CLS], [SEP]
        assert sids[1:-1] == _expected_sentence_tokens(minilm.tokenizer, report)
        assert int(tok["n_sentences"][i]) == len({s for s in sids if s >= 0})
    assert (tok["sentence_ids"][~tok["attention_mask"].bool()] == -1).all()
    assert tok["input_ids"].shape[1] == int(tok["attention_mask"].sum(1).max())  # padded to the longest


def test_truncation_keeps_indices_and_counts(minilm: TextEncoder) -> None:
    tok = tokenize_reports(minilm.tokenizer, TRICKY[3:], max_tokens=8, pad_to_longest=False)
    assert tok["input_ids"].shape == (1, 8)
    sids = tok["sentence_ids"][0].tolist()
    expected = _expected_sentence_tokens(minilm.tokenizer, TRICKY[3])[:6]
    assert sids == [-1] + expected + [-1]
    assert int(tok["n_sentences"][0]) == len(set(expected))


def test_word_ids_group_word_pieces(minilm: TextEncoder) -> None:
    tok = tokenize_reports(minilm.tokenizer, [["Pneumothorax, unchanged."]], max_tokens=32)
    pieces = minilm.tokenizer.convert_ids_to_tokens(tok["input_ids"][0])
    wids = tok["word_ids"][0].tolist()
    words: dict[int, str] = {}
    for piece, w in zip(pieces, wids):
        if w >= 0:
            words[w] = words.get(w, "") + piece.removeprefix("##")
    assert [words[k] for k in sorted(words)] == ["pneumothorax", ",", "unchanged", "."]
    assert int(tok["n_words"][0]) == 4
    # a new word starts exactly at each piece without '##'
    for j in range(2, len(pieces) - 1):
        assert (wids[j] != wids[j - 1]) == (not pieces[j].startswith("##"))


def test_tokenize_rejects_strings(minilm: TextEncoder) -> None:
    with pytest.raises(ValueError, match="list of sentences"):
        tokenize_reports(minilm.tokenizer, ["Heart size is normal."], 16)  # type: ignore[list-item]
