"""The frozen text cache at scale: on while the corpus fits (or mostly does), off once it is plainly
larger than the cache (full-size MIMIC-CXR), and the outputs the same either way."""

from __future__ import annotations

import pytest
import torch

import methods.text as text_module
from methods.text import TextEncoder
from methods.tokenize import tokenize_reports

FINDINGS = ["effusion", "edema", "atelectasis", "pneumothorax", "consolidation", "nodule"]
SIDES = ["left", "right", "bilateral", "basal", "apical"]
REPORTS = [[f"Small {side} {finding}.", f"Report {i}."] for i, (side, finding) in
           enumerate((s, f) for s in SIDES for f in FINDINGS)][:30]


@pytest.fixture(scope="module")
def encoders():
    torch.manual_seed(0)
    big = TextEncoder("minilm", trainable_layers=0)
    small = TextEncoder("minilm", trainable_layers=0)
    return big, small


def _run(encoder, order, batch=6):
    out = {}
    for start in range(0, len(order), batch):
        rows = order[start : start + batch]
        tok = tokenize_reports(encoder.tokenizer, [REPORTS[i] for i in rows], 32)
        hidden = encoder.hidden_states(tok["input_ids"], tok["attention_mask"], last=2)
        for j, i in enumerate(rows):
            out[i] = hidden[:, j, : int(tok["attention_mask"][j].sum())]
    return out


def _floats_per_report(encoder):
    tok = tokenize_reports(encoder.tokenizer, REPORTS, 32)
    return 2 * int(tok["attention_mask"].sum(1).max()) * encoder.hidden_size


@pytest.mark.slow  # loads MiniLM twice
def test_off_when_the_corpus_is_much_larger_same_outputs(encoders, monkeypatch):
    big, small = encoders
    monkeypatch.setattr(text_module, "OFF_AFTER", 20)
    big.cache = text_module.FrozenTextCache()  # holds every report
    small.cache = text_module.FrozenTextCache(3 * _floats_per_report(small))  # three of thirty
    order = list(range(30)) * 3  # epochs over the corpus
    expected, got = _run(big, order), _run(small, order)
    assert big.cache.enabled and len(big.cache) == 30 and big.cache.hits == 60
    assert not small.cache.enabled and len(small.cache) == 0
    assert all(torch.equal(got[i], expected[i]) for i in range(30))
    before = small.cache.hits
    _run(small, list(range(6)))
    assert small.cache.hits == before and len(small.cache) == 0  # stays off


@pytest.mark.slow
def test_stays_on_when_most_of_the_corpus_fits(encoders, monkeypatch):
    _, small = encoders
    monkeypatch.setattr(text_module, "OFF_AFTER", 20)
    small.cache = text_module.FrozenTextCache(24 * _floats_per_report(small))  # 24 of 30
    generator = torch.Generator().manual_seed(0)
    order = [int(i) for i in torch.randint(0, 30, (300,), generator=generator)]
    _run(small, order)
    assert small.cache.enabled and small.cache.hits > 0.6 * len(order)
