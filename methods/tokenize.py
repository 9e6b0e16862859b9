"""Tokenisation of reports (lists of sentences) with per-token sentence and word indices.

The sentence and word of every token come from ONE joint tokenisation of the whole report,
through the fast tokenizer's character offsets and word ids. (PRIOR re-tokenises each sentence
separately to build its index, which drifts from the joint tokenisation when the two differ or
when the report is truncated.)
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import torch

log = logging.getLogger(__name__)
_NO_SENTENCE = 2**62  # start offset of a missing sentence slot: after every token


def join_sentences(sentences: Sequence[str]) -> tuple[str, list[int]]:
    """Strip the sentences, drop empty ones and join them with one space.

    Returns the text and each kept sentence's start offset in it.
    """
    if isinstance(sentences, str):
        raise ValueError(f"a report must be a list of sentences, got the string {sentences[:40]!r}")
    kept = [s.strip() for s in sentences if s and s.strip()]
    starts, pos = [], 0
    for s in kept:
        starts.append(pos)
        pos += len(s) + 1
    return " ".join(kept), starts


def _compact(ids: torch.Tensor, real: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Renumber non-decreasing ids of real tokens 0, 1, 2, ... (-1 elsewhere); also the counts."""
    ids = torch.where(real, ids, torch.full_like(ids, -1))
    prev = torch.cat([torch.full_like(ids[:, :1], -1), ids[:, :-1]], dim=1)
    # the previous *real* id: carry it over special tokens inside the text with a running max
    prev = torch.cummax(prev, dim=1).values
    starts = real & (ids != prev)
    compact = torch.cumsum(starts.long(), dim=1) - 1
    return torch.where(real, compact, torch.full_like(compact, -1)), starts.sum(dim=1)


def tokenize_reports(
    tokenizer: Any,
    reports: Sequence[Sequence[str]],
    max_tokens: int,
    pad_to_longest: bool = True,
) -> dict[str, torch.Tensor]:
    """Tokenise reports given as lists of sentences.

    Each report's non-empty sentences are joined with a space and tokenised once (with the
    tokenizer's special tokens), truncated to ``max_tokens`` and padded to the batch's longest
    report (``pad_to_longest``) or to ``max_tokens``.

    Returns int64 tensors: ``input_ids`` and ``attention_mask`` [B, L]; ``sentence_ids`` [B, L],
    the index of the sentence each token belongs to (sentence k = the k-th sentence that kept at
    least one token), -1 for special and padding tokens; ``word_ids`` [B, L], the index of the
    word in the report (word pieces of one word share it; words as the tokenizer's
    pre-tokenizer splits them, i.e. at spaces and punctuation for BERT), -1 for special and
    padding tokens; ``n_sentences`` and ``n_words`` [B].
    """
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError("tokenize_reports needs a fast tokenizer (offsets); got a slow one")
    if max_tokens < 2:
        raise ValueError(f"max_tokens must be at least 2, got {max_tokens}")
    joined = [join_sentences(r) for r in reports]
    enc = tokenizer(
        [text for text, _ in joined],
        padding="longest" if pad_to_longest else "max_length",
        padding_side="right",  # the text cache and the word layout assume real tokens first
        truncation=True,
        max_length=max_tokens,
        return_offsets_mapping=True,
        return_special_tokens_mask=True,
        return_tensors="pt",
    )
    attention = enc["attention_mask"].long()
    real = attention.bool() & ~enc["special_tokens_mask"].bool()
    n_slots = max([len(s) for _, s in joined] + [1])
    starts = torch.full((len(joined), n_slots), _NO_SENTENCE, dtype=torch.long)
    for i, (_, s) in enumerate(joined):
        starts[i, : len(s)] = torch.tensor(s, dtype=torch.long)
    token_start = enc["offset_mapping"][..., 0].long().contiguous()
    sentence = torch.searchsorted(starts, token_start, right=True) - 1
    sentence_ids, n_sentences = _compact(sentence, real)
    words = torch.tensor(
        [[-1 if w is None else w for w in enc.word_ids(i)] for i in range(len(joined))], dtype=torch.long
    )
    word_ids, n_words = _compact(words, real & (words >= 0))
    return {
        "input_ids": enc["input_ids"].long(),
        "attention_mask": attention,
        "sentence_ids": sentence_ids,
        "word_ids": word_ids,
        "n_sentences": n_sentences,
        "n_words": n_words,
    }
