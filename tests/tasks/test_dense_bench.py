"""One training iteration of each dense task through its toolbox (MMSeg's U-Net, MMDet's
RetinaNet) on a frozen trunk, at two shapes:

- ``tiny``: the tiny preset's trunk (small ResNet) at its 128 px, batch 8;
- ``default``: ResNet-50 at the default preset's 224 px, batch 8 (random weights: the time does
  not depend on them); measured only with ``--benchmark-enable``.

The benchmark's own figure is the whole short run (data writing, MMEngine's set-up, the training
iterations and the test pass); ``extra_info`` holds the median training iteration from MMEngine's
``IterTimerHook`` (data loading included), which is the figure that scales with
``eval.dense_iters``. ``tox -e bench -- tests/tasks/test_dense_bench.py`` runs it; nothing about
time is asserted.
"""

from __future__ import annotations

import statistics
from typing import Any

import pytest
import torch
from support.dense_planted import PlantedData, dense_cfg, planted_records

from methods.resnet import build_resnet
from tasks import detection, segmentation

SHAPES = {"tiny": ("resnet_tiny", 128, 12), "default": ("resnet50", 224, 8)}  # trunk, px, iterations
TASKS = {"segmentation": (segmentation, "siim", ("background", "pneumothorax")),
         "detection": (detection, "rsna", ("opacity",))}


@pytest.mark.slow
@pytest.mark.mm
@pytest.mark.benchmark
@pytest.mark.parametrize("task", list(TASKS))
@pytest.mark.parametrize("shape", list(SHAPES))
def test_dense_iteration(benchmark: Any, tmp_path, shape: str, task: str) -> None:
    pytest.importorskip("mmseg" if task == "segmentation" else "mmdet")
    from tasks.mm.det import run_detection
    from tasks.mm.runner import folders
    from tasks.mm.seg import run_segmentation

    if shape == "default" and not benchmark.enabled:
        pytest.skip("the default shape is measured only with --benchmark-enable")
    trunk_name, size, iters = SHAPES[shape]
    module, dataset, classes = TASKS[task]
    run = run_segmentation if task == "segmentation" else run_detection
    records = planted_records(tmp_path / "img", n=32, size=size + 16)
    data = PlantedData(dataset, tmp_path / "img", records, work_dir=tmp_path / "work")
    cfg = dense_cfg(**{"model.image_size": str(size), "eval.dense_iters": str(iters), "eval.dense_batch_size": "8"})
    torch.manual_seed(0)
    trunk = build_resnet(trunk_name, in_channels=1)

    def short_run():
        with folders(data, f"{task}-{shape}", size) as (prepared, run_dir):
            return run(trunk, data.records("train"), data.records("test"), module.resolve_protocol(cfg), cfg,
                       prepared, run_dir, classes, 0)

    out = benchmark.pedantic(short_run, rounds=1, iterations=1)
    assert len(out.iter_s) == iters and all(t > 0 for t in out.iter_s)
    assert len(out.losses) == iters and all(v == v for v in out.losses)  # finite training losses
    benchmark.group = f"{task}-{shape}"
    benchmark.extra_info.update(
        trunk=trunk_name, image_size=size, batch=8, iterations=iters, threads=torch.get_num_threads(),
        median_iter_s=round(statistics.median(out.iter_s[1:]), 3), first_iter_s=round(out.iter_s[0], 3),
    )
