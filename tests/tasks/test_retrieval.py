from __future__ import annotations

import pytest
from support import planted
from support.planted import small_cfg

from bench.api import check_task_module
from bench.data.base import Record
from bench.taskdata import TaskData
from tasks import retrieval
from tasks.common.queries import BUILTIN, report_queries
from tasks.common.subsets import RETRIEVAL_CLASSES


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
    # 5 queries per class: an image positive for one class can have 5 relevant texts in its top 10
    positives = retrieval.relevance(data, data.splits["subset"], list(range(8))).sum(1).float()
    assert out["i2t_P@10"] == pytest.approx(float((positives * 5).clamp(max=10).mean() / 10))


def test_multi_label_candidates_count_as_relevant(tmp_path, method, cfg):
    table = planted.chexpert_table(tmp_path, per_concept=0, valid_per_concept=0, pairs=0)
    for i in range(12):  # every candidate positive for two classes
        for a, b in ((0, 1), (4, 3), (8, 7), (5, 6)):
            key = f"train/p{a}{b}_{i}.png"
            table.records.append(
                Record(key=key, image=planted.write_image(tmp_path / key, (a, b)), split="train",
                       labels=planted.labels_for((a, b)), meta={"view": "Frontal"})
            )
    data = retrieval.prepare(_data(table), cfg)
    out = retrieval.evaluate(method, data, cfg)
    assert out["i2t_P@10"] == pytest.approx(1.0) and out["t2i_P@10"] == pytest.approx(1.0)


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
