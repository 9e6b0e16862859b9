from __future__ import annotations

import pytest
import torch
from support import planted
from support.planted import small_cfg

from bench.api import check_task_module
from bench.data.splits import make_splits
from bench.featurecache import FeatureCache
from bench.taskdata import TaskData, fraction_splits
from tasks import zero_shot
from tasks.common.prompts import VOCABULARY, build_prompts, combinations


def _prepared(table, seed=0, cfg=None, cache=None):
    splits = fraction_splits(make_splits(table, seed=seed), 1.0)
    data = TaskData(table.dataset, table.root, table, splits, 1.0, seed, "random-planted", cache)
    return zero_shot.prepare(data, cfg or small_cfg())


def test_module_follows_the_task_contract():
    check_task_module(zero_shot)
    assert zero_shot.FRACTIONS == (1.0,)
    assert zero_shot.protocol(small_cfg(**{"eval.prompts": "prior"})) == "prompts-prior"


@pytest.mark.parametrize("prompts", ["gloria", "prior"])
def test_planted_chexpert_scores_one(method, chexpert_table, prompts):
    cfg = small_cfg(**{"eval.prompts": prompts})
    data = _prepared(chexpert_table, cfg=cfg)
    assert len(data.splits["subset"]) == 5 * 6
    out = zero_shot.evaluate(method, data, cfg)
    for name in ("accuracy", "f1_macro", "auroc", "auroc_atelectasis", "auroc_pleural_effusion"):
        assert out[name] == pytest.approx(1.0), name
    assert set(out) <= set(zero_shot.METRICS)


def test_planted_rsna_scores_one(tmp_path, method, cfg):
    table = planted.binary_table(tmp_path, "rsna", "Pneumonia", positive=6, negative=8, n=60)
    data = _prepared(table)
    assert data.splits["subset"] == make_splits(table, seed=0)["test"]
    out = zero_shot.evaluate(method, data, cfg)
    assert out == {"auroc": pytest.approx(1.0), "accuracy": pytest.approx(1.0), "f1": pytest.approx(1.0)}


def test_scrambled_images_score_near_chance(chexpert_table, cfg):
    blind = planted.PlantedMethod()
    with torch.no_grad():
        blind.backbone.conv.weight.fill_(0.0)
    out = zero_shot.evaluate(blind, _prepared(chexpert_table), cfg)
    assert out["accuracy"] <= 0.4


def test_subset_is_seeded_and_reuses_the_cache(method, chexpert_table, cfg):
    cache = FeatureCache(None)
    a = _prepared(chexpert_table, seed=0, cache=cache)
    b = _prepared(chexpert_table, seed=0, cache=cache)
    c = _prepared(chexpert_table, seed=1, cache=cache)
    assert a.splits == b.splits and a.splits != c.splits
    zero_shot.evaluate(method, a, cfg)
    zero_shot.evaluate(method, b, cfg)
    assert cache.computed == len(a.splits["subset"])


def test_gloria_prompts_are_seeded_combinations():
    classes = ("Atelectasis", "Edema")
    a = build_prompts("gloria", classes, 5, seed=0)
    assert a == build_prompts("gloria", classes, 5, seed=0)
    assert a != build_prompts("gloria", classes, 5, seed=1)
    assert all(len(p) == 5 and set(p) <= set(combinations(c)) for c, p in a.items())
    severities, subtypes, locations = VOCABULARY["Edema"]
    assert len(combinations("Edema")) == len(severities) * len(subtypes) * len(locations)
    assert build_prompts("prior", classes, 5, 0) == {"Atelectasis": ["Atelectasis is observed"], "Edema": ["Edema is observed"]}
    with pytest.raises(ValueError, match="clip"):
        build_prompts("clip", classes, 5, 0)


def test_confusion_matrix_is_left_for_the_result(method, chexpert_table, cfg):
    from sklearn.metrics import confusion_matrix

    data = _prepared(chexpert_table)
    zero_shot.evaluate(method, data, cfg)
    cm = data.extras["confusion_matrix"]
    assert cm["classes"] == list(zero_shot.COMPETITION_LABELS)
    assert sum(map(sum, cm["matrix"])) == len(data.splits["subset"])
    probs = torch.tensor([[0.1, 0.9], [0.8, 0.2], [0.4, 0.6], [0.7, 0.3], [0.5, 0.5]])
    targets = torch.tensor([1, 0, 0, 1, 1])
    want = confusion_matrix(targets, probs.argmax(1), labels=[0, 1]).tolist()
    assert zero_shot.confusion(probs, targets, ("Normal", "Pneumonia"))["matrix"] == want


class _OwnPrompts(planted.PlantedMethod):
    """The planted method with its own prompt hooks: prompts embedded as no text at all, and class
    scores that prefer the class after the true one (rows one-hot), so only the hooks explain the result."""

    def __init__(self) -> None:
        super().__init__()
        self.prompts_seen: list[str] = []
        self.calls: list[tuple[int, list[int], int]] = []

    def tokenize_prompts(self, prompts):
        self.prompts_seen += prompts
        return self.tokenize([[""] for _ in prompts])

    def zero_shot_scores(self, img, txt, owners, n_classes):
        self.calls.append((img.global_.shape[0], owners.tolist(), n_classes))
        planted_class = img.global_[:, :n_classes].argmax(dim=1)
        return torch.nn.functional.one_hot((planted_class + 1) % n_classes, n_classes).float()


def test_a_methods_own_prompt_hooks_replace_the_default(chexpert_table):
    cfg = small_cfg(**{"eval.prompts": "gloria", "eval.prompts_per_class": "2", "eval.batch_size": "7"})
    data = _prepared(chexpert_table, cfg=cfg)
    method = _OwnPrompts()
    keys = data.splits["subset"]
    classes = zero_shot.setup_for("chexpert").classes
    probs = zero_shot.class_probabilities(method, data, cfg, keys, classes)
    prompts = build_prompts("gloria", classes, 2, data.seed)
    assert method.prompts_seen == [p for c in classes for p in prompts[c]]
    assert sum(n for n, _, _ in method.calls) == len(keys)
    assert {tuple(o) for _, o, _ in method.calls} == {(0, 0, 1, 1, 2, 2, 3, 3, 4, 4)}
    assert torch.equal(probs.sum(1), torch.ones(len(keys)))
    assert zero_shot.evaluate(method, data, cfg)["accuracy"] == pytest.approx(0.0)
    assert zero_shot.evaluate(planted.PlantedMethod(), data, cfg)["accuracy"] == pytest.approx(1.0)
