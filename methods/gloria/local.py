"""GLoRIA's word-level operations, batched over the whole batch (no per-sample loops).

``aggregate_words`` sums word pieces into words with one ``scatter_add``. ``local_similarity``
computes the word-region attention score of every (image, report) pair at once, in chunks of
images. Instead of materialising each word's attended context (a [images, reports, words, dim]
tensor) it uses the identities

    w . c = sum_r a[r] (w . v_r)        |c|^2 = a^T (V V^T) a        for c = sum_r a[r] v_r,

so every intermediate is [images, regions, reports, words]; the official per-caption loop
(``gloria/loss/gloria_loss.py``) gives the same numbers.
"""

from __future__ import annotations

import torch


def aggregate_words(
    hidden: torch.Tensor, word_ids: torch.Tensor, attention_mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sum word pieces into words, as GLoRIA's ``aggregate_tokens`` does.

    ``hidden`` [B, L, H]; ``word_ids`` [B, L] (-1 for special/padding tokens, see
    :func:`methods.tokenize.tokenize_reports`). Returns ``(words, n_words)``: ``words`` [B, W, H]
    laid out as ``[CLS], word_0 .. word_{n-1}, [SEP]``, then zeros (W = max n + 2), and
    ``n_words`` [B].
    """
    b, length, h = hidden.shape
    n_words = (word_ids.max(dim=1).values + 1).clamp(min=0)
    width = int(n_words.max().item()) + 2 if b else 2
    pos = torch.arange(length, device=word_ids.device).unsqueeze(0)
    real_len = attention_mask.long().sum(dim=1, keepdim=True)
    special = (word_ids < 0) & attention_mask.bool()
    idx = torch.where(word_ids >= 0, word_ids + 1, torch.full_like(word_ids, width))  # width: dump slot
    idx = torch.where(special & (pos == 0), torch.zeros_like(idx), idx)  # [CLS]
    sep = special & (pos == real_len - 1) & (pos > 0)
    idx = torch.where(sep, (n_words + 1).unsqueeze(1).expand_as(idx), idx)  # the final [SEP]
    out = hidden.new_zeros(b, width + 1, h)
    out.scatter_add_(1, idx.unsqueeze(-1).expand(-1, -1, h), hidden)
    return out[:, :width], n_words


def word_masks(n_words: torch.Tensor, width: int) -> dict[str, torch.Tensor]:
    """Masks over the slots of :func:`aggregate_words`: ``words`` (the words only),
    ``cls_words`` ([CLS] and the words) and ``all`` ([CLS], words, [SEP])."""
    slot = torch.arange(width, device=n_words.device).unsqueeze(0)
    n = n_words.unsqueeze(1)
    return {"words": (slot >= 1) & (slot <= n), "cls_words": slot <= n, "all": slot <= n + 1}


_EMPTY = -1e9  # masked words: finite, so that a report without words has finite gradients


def _chunk_scores(
    regions: torch.Tensor, words: torch.Tensor, mask: torch.Tensor, temp1: float, temp2: float, agg: str
) -> torch.Tensor:
    # layout [c, R, Bt, T] throughout: one GEMM, one bmm, no permuted copies
    c, r, d = regions.shape
    bt, t, _ = words.shape
    raw = (regions.reshape(c * r, d) @ words.reshape(bt * t, d).t()).view(c, r, bt, t)  # region . word
    attn = raw.masked_fill(~mask[None, None], torch.finfo(raw.dtype).min).softmax(dim=-1)  # over words
    attn = (attn * temp1).softmax(dim=1)  # over regions
    dot = (attn * raw).sum(dim=1)  # word . context, [c, Bt, T]
    gram = regions @ regions.transpose(1, 2)  # [c, R, R]
    ctx_sq = (torch.bmm(gram, attn.view(c, r, bt * t)).view(c, r, bt, t) * attn).sum(dim=1)  # |context|^2
    word_sq = words.pow(2).sum(dim=-1).unsqueeze(0)  # [1, Bt, T]
    cos = dot / (word_sq * ctx_sq).clamp(min=1e-16).sqrt()  # = w.c / max(|w||c|, 1e-8)
    valid = mask.unsqueeze(0)
    if agg == "max":
        score = temp2 * cos.masked_fill(~valid, _EMPTY).amax(dim=-1)
    else:
        score = torch.logsumexp((temp2 * cos).masked_fill(~valid, _EMPTY), dim=-1)
        if agg == "mean":
            score = score - mask.sum(dim=-1).clamp(min=1).float().log().unsqueeze(0)
    return torch.where(valid.any(dim=-1), score, torch.zeros_like(score))


AGGREGATIONS = ("sum", "mean", "max")


def local_similarity(
    regions: torch.Tensor,
    words: torch.Tensor,
    word_mask: torch.Tensor,
    temp1: float = 4.0,
    temp2: float = 5.0,
    agg: str = "sum",
    chunk_floats: int = 2**25,
) -> torch.Tensor:
    """[Bi, Bt] word-region scores of every image against every report.

    ``regions`` [Bi, R, D] (local image embeddings), ``words`` [Bt, T, D], ``word_mask`` [Bt, T]
    (True where a word takes part). Per pair: each word attends over the regions (softmax over
    the report's words, times ``temp1``, softmax over regions), is compared by cosine with its
    attended context, and the cosines are aggregated: ``sum`` = log sum_w exp(temp2 cos) (the
    training loss), ``mean`` = log mean_w exp(temp2 cos), ``max`` = log max_w exp(temp2 cos)
    (the zero-shot score). A report without words scores 0. Runs in float32.
    """
    if agg not in AGGREGATIONS:
        raise ValueError(f"agg {agg!r} unknown; valid: {', '.join(AGGREGATIONS)}")
    if regions.shape[-1] != words.shape[-1]:
        raise ValueError(f"region and word widths differ: {regions.shape[-1]} vs {words.shape[-1]}")
    bi, r, _ = regions.shape
    bt, t, _ = words.shape
    per_image = max(1, bt * r * max(t, 1))
    step = max(1, min(bi, chunk_floats // per_image))
    with torch.autocast(device_type=regions.device.type, enabled=False):
        regions, words = regions.float(), words.float()
        mask = word_mask.bool()
        parts = [
            _chunk_scores(regions[i : i + step], words, mask, temp1, temp2, agg) for i in range(0, bi, step)
        ]
    return torch.cat(parts, dim=0) if parts else regions.new_zeros(0, bt)


def sentence_attention(
    regions: torch.Tensor, words: torch.Tensor, word_mask: torch.Tensor, text: dict[str, torch.Tensor], temp1: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Word-region attention of each report with its own image, averaged over each sentence's words.

    ``regions`` [B, R, D], ``words`` [B, W, D] in the :func:`aggregate_words` layout, ``word_mask``
    [B, W] (the words), ``text`` the tokenisation (``word_ids``, ``sentence_ids``). Per word, the
    official ``attention_fn``: softmax over the report's words, times ``temp1``, softmax over the
    regions. Returns ([B, S, R] maps, each a distribution over the regions; mask [B, S]).
    """
    b, w = word_mask.shape
    with torch.autocast(device_type=regions.device.type, enabled=False):
        raw = torch.einsum("brd,bwd->brw", regions.float(), words.float())
        attn = raw.masked_fill(~word_mask.bool()[:, None], torch.finfo(raw.dtype).min).softmax(dim=-1)
        attn = (attn * temp1).softmax(dim=1)  # [B, R, W]
    n_sent = max(int(text["n_sentences"].max()), 1) if b else 1
    wid, sid = text["word_ids"], text["sentence_ids"]
    real = (wid >= 0) & (sid >= 0)
    slot = torch.where(real, wid + 1, torch.full_like(wid, w)).clamp(max=w)  # word slot; w = dump
    sent = torch.where(real, sid, torch.full_like(sid, n_sent)).clamp(max=n_sent)
    member = attn.new_zeros(b, w + 1, n_sent + 1)
    rows = torch.arange(b, device=wid.device)[:, None].expand_as(wid)
    member.index_put_((rows, slot, sent), torch.ones_like(slot, dtype=member.dtype), accumulate=True)
    member = member[:, :w, :n_sent].clamp(max=1.0) * word_mask[..., None].to(member.dtype)
    count = member.sum(dim=1)  # [B, S] words per sentence
    maps = torch.einsum("brw,bws->bsr", attn, member) / count.clamp(min=1.0)[..., None]
    return maps, count > 0


__all__ = ["AGGREGATIONS", "aggregate_words", "local_similarity", "sentence_attention", "word_masks"]
