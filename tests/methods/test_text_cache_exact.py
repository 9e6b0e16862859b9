"""A frozen text tower's cached outputs depend on the report alone, not on its batch-mates."""

from __future__ import annotations

import pytest
import torch

from methods.text import TextEncoder

SHORT = "No pleural effusion."
LONG = ("Moderate right pleural effusion with adjacent atelectasis in the right lower lobe, new since the prior "
        "study; the cardiomediastinal silhouette is enlarged and there is mild pulmonary vascular congestion "
        "without frank edema, and no pneumothorax is seen on either side.")


@pytest.fixture(scope="module")
def encoder():
    torch.manual_seed(0)
    return TextEncoder("minilm", trainable_layers=0)


def _encode(encoder, texts, index=0):
    batch = encoder.tokenizer(texts, padding=True, return_tensors="pt")
    n = int(batch["attention_mask"][index].sum())
    return encoder.hidden_states(batch["input_ids"], batch["attention_mask"], last=2)[:, index, :n]


@pytest.mark.slow  # loads MiniLM
def test_cached_value_does_not_depend_on_the_batch_it_was_first_padded_in(encoder):
    encoder.cache.clear()
    with_long = _encode(encoder, [SHORT, LONG]).clone()  # first met padded next to a long report
    encoder.cache.clear()
    alone = _encode(encoder, [SHORT]).clone()  # first met alone
    assert torch.equal(with_long, alone)
    encoder.cache.clear()
    again = _encode(encoder, [LONG, SHORT, "Clear lungs."], index=1)
    assert torch.equal(again, alone)
    assert torch.equal(_encode(encoder, [SHORT]), alone) and encoder.cache.hits > 0  # served from the cache
