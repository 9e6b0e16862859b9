"""PRIOR: prototype representation joint learning (Cheng et al., ICCV 2023), written from the paper
and the facts of the official code (QtacierP/PRIOR), batched throughout.

Modules: ``config`` (:class:`Config`), ``image`` (ResNet trunk, layer4 tokens, AttentionPool2d),
``text`` (sentence gather, SentenceAttentionPool), ``local`` (sigmoid LocalCrossAttention, SimSiam
predictor), ``bank`` (sentence prototype bank), ``decoders`` (image decoder, sentence decoder),
``matching`` (Hungarian), ``losses``, ``steps`` (one training step), ``model`` (:class:`PRIOR`),
``zero_shot`` (prompt embedding and aggregation), ``convert`` (official checkpoint -> this layout).

Model. Image: 1-channel ResNet trunk (torchvision keys), layer4 tokens -> ``local_image_projection``,
attention pool on layer4 -> ``global_image_projection``. Text: the tower's last hidden state ->
``local_text_projection`` -> per-sentence mean (``sentence_ids`` from one joint tokenisation) ->
sentence embeddings; attention pool over the real sentences (query = their mean) -> report vector.

Stages (``stages`` splits the steps 20:30:100, lr x1/x1/x0.5 of ``train.lr``, warm-up 1/20, 1/30,
5/100 of each stage from lr x1e-2/x1e-2/x1e-3). Terms returned by ``forward`` (weights applied):

- stage1: ``global_loss`` (x1), ``local_image_loss`` (SimSiam, x1), ``local_text_loss`` (x1).
- stage2: the same with the bank's prototypes in place of the sentences, + ``bank_loss`` (L1 x10).
- stage3: ``global_loss`` x10, the two local terms, ``bank_loss`` x10, ``image_recon_loss`` (x1),
  ``sentence_gen_loss`` (L1 x10 = lambda_proto), ``sentence_kl_loss`` (x1), ``gpa_loss`` (x1).
  Reports are cut to their first ``num_queries`` (16) sentences for every stage-3 term, as in the
  official code, when sentence generation is on.

Diagnostics without ``_loss``: ``global`` (unweighted InfoNCE), ``logit_scale``,
``local_logit_scale``, ``bank_usage`` (fraction of prototypes chosen in the batch).

Components (``drop``). A dropped component's modules are not created, its terms are gone:

- ``local_alignment``: no cross-attention, predictor or ``local_logit_scale``; no local terms; the
  image decoder then takes only the dropped-out image map (D channels instead of 2D), and
  ``similarity`` keeps only its global part.
- ``prototype_bank``: no bank; stages 2-3 use the raw sentence embeddings, no ``bank_loss``, no
  ``sentence_kl_loss``; generation targets are raw sentences and GPA pools the generated rows as is.
- ``image_reconstruction``: no Dropout2d/decoder, no ``image_recon_loss``.
- ``sentence_generation``: no sentence decoder/queries, no ``sentence_gen_loss``/KL/GPA, no
  16-sentence cut.
- ``local_image_projection`` exists only while one of local alignment, reconstruction or
  generation does (otherwise ``encode_image`` returns ``local=None``); without local alignment it
  trains from stage 3 on. Stages are always three.

``faithful`` (``model.faithful``; False = the paper's behaviour, the default):

============================  ==================================  ====================================
quirk of the official code    faithful=True (as coded)            faithful=False (as intended)
============================  ==================================  ====================================
layer4 -> tokens              ``.view(B, -1, C)``, no permute;    real spatial tokens (flatten +
                              mirror ``.view`` in reconstruction  transpose, and back)
sentence decoder self-attn    causal (HF ``is_decoder``)          bidirectional (explicit all-visible
                                                                  mask): it is "non-auto-regressive"
bank at eval                  Gumbel noise (stochastic scores)    no noise: ``softmax(logits / tau)``
                                                                  (``bank_eval=soft``; ``hard`` = argmax)
KL target                     cached bank logits with gradient    detached (a target, not a path that
                                                                  trains the text side)
generation L1 targets         zero-padded to 16, padding in L1    only real sentences matched (each to
                                                                  its own query) and in the L1
matching index                ``logit[col_ind]`` (pairs query     query matched to each sentence (the
                              ``col_ind[j]`` with sentence j)     assignment as solved)
zero-shot global scale        raw ``logit_scale`` x cosine        ``exp(logit_scale)`` x cosine (the
                                                                  multiplier training uses)
zero-shot prompt embedding    mean of the words and [SEP]         mean of the words only
                              (positions 1..L-2 of 256)
zero-shot prompt aggregation  per class: max over its prompts of  ``similarity`` (softmax over all
                              the global logits, mean of the      prompts), max over a class's
                              local scores; softmax over classes  prompts, softmax over classes
                              of each; global + 0.5 x local
============================  ==================================  ====================================

Why the defaults: permuted tokens give the LAM and the decoder real patches; a causal mask makes
query order matter in a set prediction; a noise-free soft read keeps the training read's mixing
at temperature tau and makes scores repeatable; a detached KL target keeps the KL a consistency
term; padded targets pull unused queries to zero. The last row was found reading ``spg_loss``: ``linear_sum_assignment`` pairs query i with target ``col[i]``, but
the code pairs target j with query ``col[j]``, which agrees only when the permutation is its own
inverse. The soft bank read at eval was chosen over argmax because training only ever feeds the
pool and the LAM convex mixtures of prototypes at temperature tau. In zero-shot, the global
scale is the one the contrastive loss trained (the raw parameter, about 4.6 at initialisation
where training multiplies by 100, flattens the global softmax against the local one); a prompt
is embedded like a training sentence, which holds no special token; and one score per
image-prompt pair (``similarity``, also what retrieval ranks by) is aggregated the same way for
every method.

Zero-shot score (``similarity``): softmax over the texts of ``scale * cos(global)`` (the two
directions' mean, which are equal) + 0.5 x softmax over the texts of the mean sigmoid local
attention (both directions) between the image's patches and the text's real sentences (prototypes
from stage 2 on). Zero-shot classification embeds prompts (``tokenize_prompts``) and turns prompt
scores into class scores (``zero_shot_scores``) as :mod:`methods.prior.zero_shot` describes; the
last three rows of the table are why. The faithful class score is the official one divided by its
total weight 1.5 (rows sum to one; argmax and AUROC unchanged).

Widths: the sentence decoder is a randomly initialised BERT of the text tower's config class
(``decoder_layers`` deep, ``is_decoder`` + cross-attention, no pooler, 1-row vocabulary because
queries enter as ``inputs_embeds``) at the tower's hidden size; queries live at that width, image
tokens are projected into it and outputs back to ``embed_dim`` when the two differ (identity at the
paper's 768/768).

Trainability: the text tower's pooler and the sentence decoder's (1-row) word embedding are never
read and stay frozen; the official ``global_text_projection`` (unused there) is not created. The
bank trains from stage 2, the decoders and queries from stage 3 (``requires_grad`` False before),
so in every stage each trainable parameter gets a gradient and DDP needs no unused-parameter
search. The stage is a ``stage_index`` buffer, so it travels in checkpoints.

Weighting: every term is a mean over the reports of the local batch (sentence terms averaged
within their report first) and the contrastive ones gather their negatives across ranks, so W
ranks reproduce the single-process loss and gradients on the whole batch. (The official code
averages the bank L1 and the KL over the local batch's sentences, which depends on how sentences
fall across GPUs.) The contrastive terms and ``similarity`` compute in float32 under autocast.

Batching: sentence gather, LAM, both local losses, the attention pools, bank, KL and GPA run on
the whole batch with masks (the bank reads padded rows too rather than index with a boolean mask,
which would cost a host sync); Hungarian matching computes one batched ``cdist`` and crosses to
the host in one copy (scipy's assignment runs per sample there). Counting the sentences costs one
host sync per step.
"""

from __future__ import annotations

from methods.prior.config import Config
from methods.prior.model import PRIOR

__all__ = ["PRIOR", "Config"]
