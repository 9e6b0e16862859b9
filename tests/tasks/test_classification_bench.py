"""The linear-probe sweep (1/10/100 % x 3 seeds) against one feature extraction.

Run with ``pytest tests/tasks/test_classification_bench.py --benchmark-enable``; the figures
(sweep time, one extraction, their ratio) go into ``benchmark.extra_info``. Without
``--benchmark-enable`` it runs once as a check that the sweep encodes every image once.
"""

from __future__ import annotations

import time

import pytest
from support import planted
from support.planted import small_cfg

from bench.data.splits import make_splits
from bench.featurecache import FeatureCache
from bench.taskdata import TaskData, fraction_splits
from methods.resnet import TinyResNet
from tasks import classification
from tasks.common.features import encode_records


class ResNetPlanted(planted.PlantedMethod):
    """The planted method with a real (tiny, random-init) ResNet as its image backbone."""

    def __init__(self) -> None:
        super().__init__()
        self.backbone = TinyResNet(in_channels=1)


@pytest.mark.slow
@pytest.mark.benchmark
def test_probe_sweep_costs_one_extraction(benchmark, tmp_path):
    table = planted.chexpert_table(tmp_path, per_concept=40, valid_per_concept=10, pairs=4)
    cfg = small_cfg(**{"model.image_size": "128", "eval.probe_epochs": "100", "eval.probe_lr": "0.01"})
    method = ResNetPlanted()
    splits = {seed: make_splits(table, seed=seed) for seed in (0, 1, 2)}

    def sweep() -> FeatureCache:
        cache = FeatureCache(None)
        for seed in (0, 1, 2):
            for fraction in (0.01, 0.1, 1.0):
                data = TaskData("chexpert", table.root, table, fraction_splits(splits[seed], fraction), fraction,
                                seed, "random-bench", cache)
                classification.evaluate(method, data, cfg)
        return cache

    start = time.perf_counter()
    encode_records(method, table.records, cfg, "backbone")
    one_extraction = time.perf_counter() - start
    cache = benchmark.pedantic(sweep, rounds=1, iterations=1)
    assert cache.computed == len(table.records)  # every image encoded once across 9 runs
    if benchmark.enabled:
        sweep_s = benchmark.stats.stats.mean
        benchmark.extra_info.update(
            images=len(table.records), one_extraction_s=round(one_extraction, 2), sweep_s=round(sweep_s, 2),
            ratio=round(sweep_s / one_extraction, 2),
        )
