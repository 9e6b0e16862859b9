from __future__ import annotations

import pytest
import torch
from support import planted
from support.planted import small_cfg

from bench.api import check_task_module
from bench.data.base import Record
from bench.taskdata import TaskData
from tasks import retrieval
from tasks.common.queries import BUILTIN, report_queries
from tasks.common.subsets import RETRIEVAL_CLASSES, chexpert_8x200


def _data(table, seed=0, **extras):
    return TaskData("chexpert", table.root, table, {}, 1.0, seed, "random-planted", None, extras=extras)


def test_module_follows_the_task_contract():
    check_task_module(retrieval)
    assert set(retrieval.METRICS) == {"i2t_P@1", "i2t_P@5", "i2t_P@10", "t2i_P@1", "t2i_P@5", "t2i_P@10"}


def test_planted_retrieval_scores_one(method, chexpert_table):
    cfg = small_cfg(**{"eval.subset_per_class": "12"})  # >= 10 relevant images per query
    data = retrieval.prepare(_data(chexpert_table), cfg)
    assert data.extras["query_source"] == "builtin"
    assert len(data.splits["subset"]) == 8 * 12
    out = retrieval.evaluate(method, data, cfg)
    for name in ("i2t_P@1", "i2t_P@5", "t2i_P@1", "t2i_P@5", "t2i_P@10"):
        assert out[name] == pytest.approx(1.0), name
    # 5 queries per class and one class per candidate: the top 10 texts hold at most 5 relevant
    assert out["i2t_P@10"] == pytest.approx(0.5)


def test_relevance_is_the_candidates_one_class(chexpert_table):
    data = _data(chexpert_table)
    pairs = chexpert_8x200(chexpert_table.records, 3, 0)
    owners = [0, 3, 3, 7]
    got = retrieval.relevance(data, [k for k, _ in pairs], owners)
    want = torch.tensor([[c == RETRIEVAL_CLASSES[o] for o in owners] for _, c in pairs])
    assert torch.equal(got, want) and got.any()
    multi = next(r.key for r in chexpert_table.records if sum(v == 1.0 for v in r.labels.values()) == 2)
    with pytest.raises(ValueError, match="exactly one positive"):
        retrieval.relevance(data, [multi], owners)


def test_chance_is_one_eighth_among_multi_label_images(tmp_path):
    """A random ranking's expected P@k is the share of relevant pairs: exactly 1/8 both ways when
    each candidate has one class, however many multi-label images the table holds."""
    table = planted.chexpert_table(tmp_path, per_concept=20, valid_per_concept=0, pairs=40)
    cfg = small_cfg(**{"eval.subset_per_class": "20"})
    data = retrieval.prepare(_data(table), cfg)
    owners = [i for i, c in enumerate(RETRIEVAL_CLASSES) for _ in data.extras["queries"][c]]
    relevant = retrieval.relevance(data, data.splits["subset"], owners).float()
    assert relevant.shape == (8 * 20, 8 * 5)
    assert torch.equal(relevant.mean(1), torch.full((160,), 1 / 8))  # image-to-text
    assert torch.equal(relevant.mean(0), torch.full((40,), 1 / 8))  # text-to-image


def test_evaluate_without_prepare_builds_the_subset_itself(method, chexpert_table, cfg):
    prepared = retrieval.evaluate(method, retrieval.prepare(_data(chexpert_table), cfg), cfg)
    assert retrieval.evaluate(method, _data(chexpert_table), cfg) == prepared


def test_builtin_queries_name_their_class_only():
    from tasks.common.queries import MENTIONS

    for cls, sentences in BUILTIN.items():
        assert len(sentences) == 5
        for s in sentences:
            hits = {c for c, p in MENTIONS.items() if p.search(s) and c != "No Finding"}
            assert hits == ({cls} if cls != "No Finding" else set()), (cls, s)


def test_report_queries_take_positive_mentions_only():
    def rec(key, sentences, **labels):
        full = {c: 0.0 for c in RETRIEVAL_CLASSES}
        full.update({k.replace("_", " "): v for k, v in labels.items()})
        return Record(key=key, image=None, labels=full, sentences=tuple(sentences))

    records = [
        rec("a", ["Small left pleural effusion.", "No pneumothorax.", "Heart size is normal."], Pleural_Effusion=1.0),
        rec("b", ["Possible small effusion.", "Effusion and edema."], Pleural_Effusion=1.0, Edema=1.0),
        rec("c", ["No pleural effusion.", "The lungs are clear."], No_Finding=1.0),
        rec("d", ["Moderate pulmonary edema."]),  # not labelled Edema: not a source
    ]
    out = report_queries(records, RETRIEVAL_CLASSES, n=5, seed=0)
    assert out["Pleural Effusion"] == ["Small left pleural effusion."]
    assert out["No Finding"] == ["The lungs are clear."]
    assert out["Edema"] == list(BUILTIN["Edema"])  # no positive sentence: built-in fallback


def test_reports_source_needs_a_mimic_folder(chexpert_table):
    cfg = small_cfg(**{"eval.retrieval_queries": "reports"})
    with pytest.raises(ValueError, match="mimic-cxr"):
        retrieval.prepare(_data(chexpert_table), cfg)
    with pytest.raises(ValueError, match="bogus"):
        retrieval.prepare(_data(chexpert_table), small_cfg(**{"eval.retrieval_queries": "bogus"}))
