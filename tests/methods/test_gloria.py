"""GLoRIA: batched local loss and word aggregation against loops, gradients, ablation, converter."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from method_helpers import make_batch, tiny_config

from methods.gloria import GLoRIA
from methods.gloria.convert import convert_official
from methods.gloria.local import aggregate_words, local_similarity
from methods.gloria.losses import LocalLoss


# -- references written as loops (after gloria/loss/gloria_loss.py) -----------------------------
def _pair_score(region: torch.Tensor, word: torch.Tensor, t1: float, t2: float, agg: str) -> float:
    """One image [R, D] against one report's words [T, D]."""
    attn = (region @ word.t()).softmax(dim=1)  # [R, T]: softmax over words
    attn = (attn.t() * t1).softmax(dim=1)  # [T, R]: softmax over regions
    context = attn @ region  # [T, D]
    cos = [float(F.cosine_similarity(word[t], context[t], dim=0)) for t in range(word.shape[0])]
    terms = [math.exp(t2 * c) for c in cos]
    value = {"sum": sum(terms), "mean": sum(terms) / len(terms), "max": max(terms)}[agg]
    return math.log(value)


def _reference_scores(regions, words, mask, agg="sum", t1=4.0, t2=5.0) -> torch.Tensor:
    out = torch.zeros(regions.shape[0], words.shape[0])
    for j in range(words.shape[0]):
        w = words[j][mask[j]]
        for i in range(regions.shape[0]):
            out[i, j] = _pair_score(regions[i], w, t1, t2, agg)
    return out


def _random_local(seed: int = 0, bi: int = 4, bt: int = 4):
    gen = torch.Generator().manual_seed(seed)
    regions = torch.randn(bi, 9, 6, generator=gen)
    words = torch.randn(bt, 5, 6, generator=gen)
    lengths = torch.tensor([5, 2, 4, 1, 3, 5][:bt])
    mask = torch.arange(5).unsqueeze(0) < lengths.unsqueeze(1)
    return regions, words, mask


@pytest.mark.parametrize("agg", ["sum", "mean", "max"])
def test_local_similarity_matches_loop(agg: str) -> None:
    regions, words, mask = _random_local(bi=3, bt=4)
    expected = _reference_scores(regions, words, mask, agg)
    assert torch.allclose(local_similarity(regions, words, mask, agg=agg), expected, atol=1e-4)
    # chunking over images changes nothing
    chunked = local_similarity(regions, words, mask, agg=agg, chunk_floats=1)
    assert torch.allclose(chunked, expected, atol=1e-4)


def test_local_loss_matches_loop() -> None:
    regions, words, mask = _random_local(seed=3)
    scores = _reference_scores(regions, words, mask) * 10.0
    labels = torch.arange(4)
    expected = F.cross_entropy(scores, labels) + F.cross_entropy(scores.t(), labels)
    assert float(LocalLoss()(regions, words, mask)) == pytest.approx(float(expected), rel=1e-4)


def test_aggregate_words_matches_loop() -> None:
    gen = torch.Generator().manual_seed(0)
    # rows: [CLS] w0 w0 w1 [SEP] pad | [CLS] w0 w1 w1 w1 [SEP] | [CLS] [SEP] pad pad pad pad
    word_ids = torch.tensor([[-1, 0, 0, 1, -1, -1], [-1, 0, 1, 1, 1, -1], [-1, -1, -1, -1, -1, -1]])
    attention = torch.tensor([[1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 1, 1], [1, 1, 0, 0, 0, 0]])
    hidden = torch.randn(3, 6, 4, generator=gen)
    words, n_words = aggregate_words(hidden, word_ids, attention)
    assert n_words.tolist() == [2, 2, 0] and words.shape == (3, 4, 4)
    for b in range(3):
        length = int(attention[b].sum())
        expected = [hidden[b, 0]]  # [CLS]
        for w in range(int(n_words[b])):
            expected.append(sum(hidden[b, t] for t in range(length) if word_ids[b, t] == w))
        expected.append(hidden[b, length - 1])  # [SEP]
        expected += [torch.zeros(4)] * (words.shape[1] - len(expected))
        assert torch.allclose(words[b], torch.stack(expected), atol=1e-6)


# -- the model ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def gloria() -> GLoRIA:
    cfg = tiny_config("gloria", GLoRIA.Config)
    torch.manual_seed(0)
    return GLoRIA.from_config(cfg)


def test_presets_set_upsampling() -> None:
    assert tiny_config("gloria", GLoRIA.Config).method.upsample_to is None
    from bench.config import resolve

    assert resolve("default", "gloria", method_config_cls=GLoRIA.Config).method.upsample_to == 299


def test_gradients_reach_every_enabled_parameter(gloria: GLoRIA) -> None:
    gloria.train()
    gloria.zero_grad(set_to_none=True)
    out = gloria(make_batch(gloria, 4))
    assert set(out) == {"global_loss", "local_loss"}
    sum(out.values()).backward()
    trainable = {n: p for n, p in gloria.named_parameters() if p.requires_grad}
    assert any(n.startswith("local_embedder") for n in trainable)
    assert any(n.startswith("text_local_proj") for n in trainable)
    missing = [n for n, p in trainable.items() if p.grad is None or not p.grad.abs().sum() > 0]
    assert missing == []
    assert all(p.grad is None for n, p in gloria.named_parameters() if not p.requires_grad)


def test_dropping_local_alignment_removes_its_modules() -> None:
    cfg = tiny_config("gloria", GLoRIA.Config)
    model = GLoRIA.from_config(cfg, drop=("local_alignment",))
    names = [n for n, _ in model.named_parameters()]
    assert not any("local" in n for n in names)
    out = model(make_batch(model, 3))
    assert set(out) == {"global_loss"}
    out["global_loss"].backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
    with pytest.raises(ValueError, match="local_alignment"):
        GLoRIA.from_config(cfg, drop=("prototype_bank",))


def test_similarity_is_mean_of_global_and_local(gloria: GLoRIA) -> None:
    gloria.eval()
    batch = make_batch(gloria, 3)
    with torch.no_grad():
        img, txt = gloria.encode_image(batch["images"]), gloria.encode_text(batch["text"])
        scores = gloria.similarity(img, txt)
    glob = F.normalize(img.global_, dim=-1) @ F.normalize(txt.global_, dim=-1).t()
    local = _reference_scores(img.local, txt.local, txt.mask, agg="max")
    assert torch.allclose(scores, (glob + local) / 2, atol=1e-4)
    assert img.local.shape[1] == (64 // 16) ** 2 and txt.mask.sum(1).tolist() == txt.mask.sum(1).tolist()


def test_upsampling_gives_the_official_grid() -> None:
    cfg = tiny_config("gloria", GLoRIA.Config, **{"method.upsample_to": "299"})
    model = GLoRIA.from_config(cfg).eval()
    with torch.no_grad():
        img = model.encode_image(torch.randn(1, 1, 64, 64))
    assert img.local.shape == (1, 19 * 19, 128)


def _to_official(ours: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    renames = {"visual.": "gloria.img_encoder.model.", "text.model.": "gloria.text_encoder.model.",
               "global_embedder.": "gloria.img_encoder.global_embedder.",
               "local_embedder.": "gloria.img_encoder.local_embedder."}
    out = {}
    for key, value in ours.items():
        prefix = next(p for p in renames if key.startswith(p))
        out[renames[prefix] + key[len(prefix):]] = value.clone()
    return out


def test_convert_official_round_trip() -> None:
    # embed_dim = MiniLM width: no text projections, the official layout
    cfg = tiny_config("gloria", GLoRIA.Config, **{"model.embed_dim": "384"})
    source, target = GLoRIA.from_config(cfg), GLoRIA.from_config(cfg)
    official = _to_official(source.state_dict())
    official["gloria.img_encoder.model.fc.weight"] = torch.zeros(1)
    official["gloria.text_encoder.model.embeddings.position_ids"] = torch.arange(4)
    official["gloria.unknown.weight"] = torch.zeros(1)
    mapped, unmatched = convert_official({"state_dict": official, "epoch": 3})
    assert unmatched == [
        "gloria.img_encoder.model.fc.weight",
        "gloria.text_encoder.model.embeddings.position_ids",
        "gloria.unknown.weight",
    ]
    target.load_state_dict(mapped, strict=True)
    for key, value in source.state_dict().items():
        assert torch.equal(target.state_dict()[key], value), key


def test_report_without_words_scores_zero_with_finite_gradients() -> None:
    regions, words, mask = _random_local(bi=2, bt=2)
    mask[1] = False
    regions.requires_grad_(True)
    words.requires_grad_(True)
    scores = local_similarity(regions, words, mask)
    assert torch.equal(scores[:, 1], torch.zeros(2))
    scores.sum().backward()
    assert torch.isfinite(regions.grad).all() and torch.isfinite(words.grad).all()
