"""PRIOR's zero-shot classification: how prompts are embedded and how their scores become class
scores, in the paper's intended form and, with ``faithful``, as the official zero-shot model
(``codes/prior/downstream/zero_classification_model.py``) computes them.

=====================  ===========================================  ===================================
step                   faithful=False (as intended)                 faithful=True (as coded)
=====================  ===========================================  ===================================
prompt embedding       mean of the prompt's word tokens             mean of its word tokens and [SEP]
                                                                    ([CLS] left out)
global score           ``exp(logit_scale) * cos`` (the training     ``logit_scale * cos``, the raw
                       loss's multiplier)                           parameter
prompts -> classes     softmax over all prompts of the global       max over a class's prompts of the
                       score + 0.5 x softmax over all prompts of    global score, mean over them of the
                       the local score (:meth:`PRIOR.similarity`);  local score; softmax over classes
                       max over a class's prompts; softmax over     of each; global + 0.5 x local
                       classes
=====================  ===========================================  ===================================

The faithful class score is returned divided by its total weight (1.5, or 1 without local
alignment) so that rows sum to one as every task's scores do; argmax and AUROC are those of the
official score. The local score is the mean sigmoid cross-attention over patches (and the
prompt's one sentence) in both directions, per image, which is what the official code computes
with its test batch of one image. Only zero-shot classification changes with ``faithful``:
retrieval and every other use of :meth:`PRIOR.similarity` keep the trained scale and the
word-only text embedding (the official code has no retrieval to follow).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from bench.api import ImageFeatures, TextFeatures

if TYPE_CHECKING:
    from methods.prior.model import PRIOR

LOCAL_WEIGHT = 0.5  # weight of the local class probabilities beside the global ones


def prompt_tokens(model: PRIOR, prompts: list[str]) -> dict[str, torch.Tensor]:
    """Each prompt tokenised as a one-sentence report; with ``faithful`` its [SEP] token joins
    the sentence, so the sentence mean includes it (the official code averages positions 1..L-2
    of prompts padded to 256 tokens: the words and [SEP], not [CLS])."""
    tokens = model.tokenize([[p] for p in prompts])
    if model.faithful:
        sep = (tokens["input_ids"] == model.tokenizer.sep_token_id) & tokens["attention_mask"].bool()
        ids = tokens["sentence_ids"]
        tokens["sentence_ids"] = torch.where(sep, torch.zeros_like(ids), ids)
        tokens["n_sentences"] = torch.maximum(tokens["n_sentences"], sep.any(dim=1).long())
    return tokens


def per_class(scores: torch.Tensor, owners: torch.Tensor, n_classes: int, reduce: str) -> torch.Tensor:
    """[N, T] prompt scores -> [N, n_classes]: ``reduce`` (``amax`` or ``mean``) over each class's prompts."""
    owners = owners.to(device=scores.device, dtype=torch.long)
    counts = torch.bincount(owners, minlength=n_classes)
    if owners.shape != scores.shape[1:] or counts.numel() != n_classes or bool((counts == 0).any()):
        raise ValueError(
            f"every class needs a prompt; prompt owners {owners.tolist()} for {n_classes} classes"
        )
    index = owners.unsqueeze(0).expand(scores.shape[0], -1)
    out = scores.new_zeros(scores.shape[0], n_classes)
    return out.scatter_reduce(1, index, scores, reduce=reduce, include_self=False)


def class_scores(
    model: PRIOR, img: ImageFeatures, txt: TextFeatures, owners: torch.Tensor, n_classes: int
) -> torch.Tensor:
    """[B_img, n_classes] class probabilities (rows sum to one), as the table above says."""
    if not model.faithful:
        return torch.softmax(per_class(model.similarity(img, txt), owners, n_classes, "amax"), dim=1)
    glob = model.global_logits(img, txt, raw_scale=True)
    score = torch.softmax(per_class(glob, owners, n_classes, "amax"), dim=1)
    local = model.local_scores(img, txt)
    if local is None:
        return score
    local_probs = torch.softmax(per_class(local, owners, n_classes, "mean"), dim=1)
    return (score + LOCAL_WEIGHT * local_probs) / (1.0 + LOCAL_WEIGHT)
