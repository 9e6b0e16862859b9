"""PRIOR's batched modules and losses equal per-sample loops written from their definitions."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from methods.prior import losses
from methods.prior.decoders import ImageDecoder, upsampling_blocks
from methods.prior.image import AttentionPool2d, map_to_tokens, tokens_to_map
from methods.prior.local import LocalCrossAttention, predictor
from methods.prior.text import SentenceAttentionPool, gather_sentences


def _ids_and_mask(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    ids = torch.tensor(
        [
            [-1, 0, 0, 1, 1, 1, 2, -1, -1, -1],
            [-1, 0, 1, 1, 2, 2, 3, 3, 4, -1],  # sentence 4 is beyond S=4: dropped
            [-1, 0, 0, 0, 0, -1, -1, -1, -1, -1],
        ]
    )
    tokens = torch.randn(3, 10, 6, generator=gen)
    return tokens, ids, torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1], [1, 0, 0, 0]], dtype=torch.bool)


def test_sentence_gather_equals_a_loop() -> None:
    tokens, ids, expected_mask = _ids_and_mask()
    sents, mask = gather_sentences(tokens, ids, 4)
    assert torch.equal(mask, expected_mask)
    for b in range(3):
        for s in range(4):
            where = ids[b] == s
            if where.any():
                torch.testing.assert_close(sents[b, s], tokens[b, where].mean(0))
            else:
                assert torch.all(sents[b, s] == 0)


def _row0_attention(pool: nn.Module, seq: torch.Tensor) -> torch.Tensor:
    """Full multi-head self-attention over ``seq`` [L, D] with ``pool``'s projections, row 0."""
    d = seq.shape[-1]
    mha = nn.MultiheadAttention(d, pool.num_heads, bias=True)
    with torch.no_grad():
        mha.in_proj_weight.copy_(torch.cat([pool.q_proj.weight, pool.k_proj.weight, pool.v_proj.weight]))
        mha.in_proj_bias.copy_(torch.cat([pool.q_proj.bias, pool.k_proj.bias, pool.v_proj.bias]))
        mha.out_proj.weight.copy_(pool.c_proj.weight)
        mha.out_proj.bias.copy_(pool.c_proj.bias)
    s = seq.unsqueeze(1)
    return mha(s, s, s, need_weights=False)[0][0, 0]


def test_masked_sentence_pool_equals_per_sample_full_attention() -> None:
    torch.manual_seed(0)
    pool = SentenceAttentionPool(16, num_heads=4)
    x = torch.randn(3, 5, 16)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [1, 0, 0, 0, 0]], dtype=torch.bool)
    out = pool(x, mask)
    for b in range(3):
        real = x[b, mask[b]]
        ref = _row0_attention(pool, torch.cat([real.mean(0, keepdim=True), real]))
        torch.testing.assert_close(out[b], ref, atol=1e-5, rtol=1e-5)


def test_attention_pool_2d_uses_real_positions_and_matches_full_attention() -> None:
    torch.manual_seed(0)
    pool = AttentionPool2d((3, 3), 16, num_heads=4)
    fmap = torch.randn(2, 16, 3, 3)
    out = pool(fmap)
    for b in range(2):
        seq = fmap[b].flatten(1).t()  # [9, 16] in raster order
        seq = torch.cat([seq.mean(0, keepdim=True), seq]) + pool.positional_embedding
        torch.testing.assert_close(out[b], _row0_attention(pool, seq), atol=1e-5, rtol=1e-5)
    assert pool(torch.randn(2, 16, 5, 4)).shape == (2, 16)  # other sizes: resized positions


def test_token_layouts() -> None:
    fmap = torch.randn(2, 6, 2, 3)
    spatial = map_to_tokens(fmap, faithful=False)
    torch.testing.assert_close(spatial[:, 4], fmap[:, :, 1, 1])  # token n = position (n // w, n % w)
    torch.testing.assert_close(map_to_tokens(fmap, faithful=True), fmap.reshape(2, -1, 6))  # raw .view
    for faithful in (False, True):
        torch.testing.assert_close(tokens_to_map(map_to_tokens(fmap, faithful), (2, 3), faithful), fmap)


def test_local_cross_attention_batched_equals_per_sample() -> None:
    torch.manual_seed(0)
    lam = LocalCrossAttention(8)
    image, text = torch.randn(2, 5, 8), torch.randn(2, 3, 8)
    mask = torch.tensor([[1, 1, 1], [1, 1, 0]], dtype=torch.bool)
    t2i, _, i2t, _ = lam(image, text, mask)
    scale = 1 / math.sqrt(8)
    for b in range(2):
        img, txt = image[b], text[b, mask[b]]
        w1 = torch.sigmoid(lam.query2(txt) @ lam.key1(img).t() * scale)
        w2 = torch.sigmoid(lam.query1(img) @ lam.key2(txt).t() * scale)
        torch.testing.assert_close(i2t[b, mask[b]], w1 @ lam.value1(img))
        torch.testing.assert_close(t2i[b], w2 @ lam.value2(txt))
    scores = lam.mean_attention(image, text, mask)
    for i in range(2):
        for t in range(2):
            txt = text[t, mask[t]]
            a = torch.sigmoid(lam.query1(image[i]) @ lam.key2(txt).t() * scale).mean()
            c = torch.sigmoid(lam.query2(txt) @ lam.key1(image[i]).t() * scale).mean()
            torch.testing.assert_close(scores[i, t], (a + c) / 2)


def test_local_text_loss_equals_per_sample_loop() -> None:
    torch.manual_seed(0)
    a, b = torch.randn(3, 4, 8), torch.randn(3, 4, 8)
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0], [0, 0, 0, 0]], dtype=torch.bool)
    scale = torch.tensor(10.0)
    per = []
    for i in range(2):  # the third report has no sentence: it counts as 0
        x, y = F.normalize(a[i, mask[i]], dim=-1), F.normalize(b[i, mask[i]], dim=-1)
        labels = torch.arange(x.shape[0])
        per.append(
            (F.cross_entropy(scale * y @ x.t(), labels) + F.cross_entropy(scale * x @ y.t(), labels)) / 2
        )
    torch.testing.assert_close(losses.local_text_loss(a, b, mask, scale), torch.stack(per).sum() / 3)


def test_simsiam_definition_and_stop_gradient() -> None:
    torch.manual_seed(0)
    head = predictor(8)
    x, y = torch.randn(2, 5, 8, requires_grad=True), torch.randn(2, 5, 8, requires_grad=True)
    loss = losses.simsiam_loss(x, y, head)
    expected = (
        -(F.cosine_similarity(head(x), y, dim=-1).mean() + F.cosine_similarity(head(y), x, dim=-1).mean()) / 2
    )
    torch.testing.assert_close(loss, expected)
    gx = torch.autograd.grad(loss, x, retain_graph=True)[0]
    # only the predictor branch carries gradient: d/dx of -cos(head(x), sg(y)) / 2
    ref = torch.autograd.grad(-F.cosine_similarity(head(x), y.detach(), dim=-1).mean() / 2, x)[0]
    torch.testing.assert_close(gx, ref)


def test_clip_loss_stays_float32_under_autocast() -> None:
    """The shared InfoNCE runs inside PRIOR's float32 wrapper: at a scale of 100, bf16 logits
    would move the loss by tenths."""
    torch.manual_seed(0)
    a, b = torch.randn(16, 32).bfloat16(), torch.randn(16, 32).bfloat16()
    scale = torch.tensor(100.0)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        amp = losses.clip_loss(a, b, scale)
    assert amp.dtype == torch.float32
    logits = 100.0 * F.normalize(a.float(), dim=-1) @ F.normalize(b.float(), dim=-1).t()
    labels = torch.arange(16)
    expected = (F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels)) / 2
    torch.testing.assert_close(amp, expected)


def test_clip_loss_and_kl_and_masked_l1() -> None:
    torch.manual_seed(0)
    a, b = torch.randn(4, 8), torch.randn(4, 8)
    logits = 5.0 * F.normalize(a, dim=-1) @ F.normalize(b, dim=-1).t()
    labels = torch.arange(4)
    expected = (F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels)) / 2
    torch.testing.assert_close(losses.clip_loss(a, b, torch.tensor(5.0)), expected)
    gen, tgt = torch.randn(3, 10), torch.randn(3, 10)
    p, q = torch.softmax(tgt, -1), torch.softmax(gen, -1)
    torch.testing.assert_close(losses.assignment_kl(gen, tgt), (p * (p.log() - q.log())).sum(-1))
    x, y = torch.randn(2, 3, 4), torch.randn(2, 3, 4)
    mask = torch.tensor([[1, 0, 1], [0, 0, 1]], dtype=torch.bool)
    per_report = [(x[i] - y[i]).abs()[mask[i]].mean() for i in range(2)]  # each report weighs the same
    torch.testing.assert_close(losses.masked_l1(x, y, mask), torch.stack(per_report).mean())
    torch.testing.assert_close(losses.masked_l1(x, y), (x - y).abs().mean())
    values = torch.tensor([[1.0, 5.0, 3.0], [7.0, 7.0, 0.0]])
    torch.testing.assert_close(losses.per_sample_mean(values, mask), torch.tensor((2.0 + 0.0) / 2))


@pytest.mark.parametrize(
    ("size", "grid", "blocks"), [(224, 7, 5), (128, 4, 5), (64, 2, 5), (96, 4, 5), (64, 8, 3)]
)
def test_image_decoder_reaches_the_input_size(size: int, grid: int, blocks: int) -> None:
    n = upsampling_blocks(size, grid)
    assert n == blocks
    dec = ImageDecoder(32, n)
    assert dec(torch.randn(2, 32, grid, grid), (size, size)).shape == (2, 1, size, size)


def test_image_decoder_channels_halve_like_the_official() -> None:
    dec = ImageDecoder(1536, 5)
    outs = [blk.conv2[0].out_channels for blk in dec.blocks]
    assert outs == [768, 384, 192, 96, 48]
