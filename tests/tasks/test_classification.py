from __future__ import annotations

import math

import pytest
import torch
from support import planted
from support.planted import small_cfg

from bench.data.splits import make_splits
from bench.featurecache import FeatureCache
from bench.taskdata import TaskData, fraction_splits
from tasks import classification


def _data(table, fraction=1.0, seed=0, cache=None, dataset=None):
    splits = fraction_splits(make_splits(table, seed=seed), fraction)
    return TaskData(dataset or table.dataset, table.root, table, splits, fraction, seed, "random-planted", cache)


def test_module_follows_the_task_contract():
    from bench.api import check_task_module

    check_task_module(classification)
    assert set(classification.DATASETS) == set(classification.PROTOCOLS)
    assert classification.protocol(small_cfg()) == "linear-probe"
    assert classification.protocol(small_cfg(**{"eval.finetune": "true"})) == "finetune"
    assert classification.protocol(small_cfg(**{"eval.probe_features": "embedding"})) == "linear-probe-embedding"


def test_chexpert_linear_probe_separates_planted_labels(method, cfg, chexpert_table):
    out = classification.evaluate(method, _data(chexpert_table), cfg)
    names = {f"auroc_{s}" for s in ("atelectasis", "cardiomegaly", "consolidation", "edema", "pleural_effusion")}
    assert names | {"auroc"} == set(out)
    assert out["auroc"] == pytest.approx(1.0)
    assert set(out) <= set(classification.METRICS)


def test_chexpert_uncertainty_policy_maps_targets():
    from bench.data.base import Record

    labels = {"Atelectasis": -1.0, "Cardiomegaly": -1.0, "Consolidation": float("nan"), "Edema": 1.0, "Pleural Effusion": 0.0}
    record = Record(key="k", image=None, labels=labels)
    targets = classification.PROTOCOLS["chexpert"].targets
    assert targets([record], small_cfg(**{"eval.uncertainty": "gloria"})).tolist() == [[1.0, 0.0, 0.0, 1.0, 0.0]]
    assert targets([record], small_cfg(**{"eval.uncertainty": "zeros"})).tolist() == [[0.0, 0.0, 0.0, 1.0, 0.0]]
    assert targets([record], small_cfg(**{"eval.uncertainty": "ones"})).tolist() == [[1.0, 1.0, 0.0, 1.0, 0.0]]


@pytest.mark.parametrize("dataset,label,pos,neg", [("rsna", "Pneumonia", 6, 8), ("siim", "Pneumothorax", 5, 8)])
def test_binary_protocols(tmp_path, method, cfg, dataset, label, pos, neg):
    table = planted.binary_table(tmp_path, dataset, label, pos, neg, n=60)
    out = classification.evaluate(method, _data(table), cfg)
    assert out == {"auroc": pytest.approx(1.0)}


def test_covidx_multiclass(tmp_path, method, cfg):
    out = classification.evaluate(method, _data(planted.covidx_table(tmp_path)), cfg)
    assert out["accuracy"] == pytest.approx(1.0) and out["auroc"] == pytest.approx(1.0)


def test_random_features_give_chance_auroc(tmp_path, cfg):
    table = planted.binary_table(tmp_path, "rsna", "Pneumonia", 6, 8, n=60)
    blind = planted.PlantedMethod()
    torch.nn.init.zeros_(blind.backbone.conv.weight)  # sees nothing: constant features
    out = classification.evaluate(blind, _data(table), cfg)
    assert math.isnan(out["auroc"]) or out["auroc"] == pytest.approx(0.5, abs=0.05)


def test_fractions_and_seeds_reuse_one_extraction(method, cfg, chexpert_table):
    cache = FeatureCache(None)
    for fraction in (0.01, 0.1, 1.0):
        for seed in (0, 1, 2):
            classification.evaluate(method, _data(chexpert_table, fraction, seed, cache), cfg)
    assert cache.computed == len(chexpert_table.records)


def test_finetune_trains_the_backbone_copy(method, chexpert_table):
    cfg = small_cfg(**{"eval.finetune": "true", "eval.finetune_epochs": "3", "eval.finetune_lr": "0.01"})
    before = method.backbone.conv.weight.detach().clone()
    out = classification.evaluate(method, _data(chexpert_table), cfg)
    assert 0.0 <= out["auroc"] <= 1.0
    assert torch.equal(method.backbone.conv.weight, before)  # the method itself is untouched


def test_unknown_dataset_is_named(method, cfg, chexpert_table):
    data = _data(chexpert_table, dataset="object-cxr")
    with pytest.raises(ValueError, match="object-cxr"):
        classification.evaluate(method, data, cfg)


def test_probe_on_joint_space_embeddings(method, chexpert_table):
    cfg = small_cfg(**{"eval.probe_features": "embedding"})
    assert classification.evaluate(method, _data(chexpert_table), cfg)["auroc"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="pixels"):
        classification.evaluate(method, _data(chexpert_table), small_cfg(**{"eval.probe_features": "pixels"}))
