"""End to end on a small easy SynthCXR: a briefly pretrained ConVIRT beats its random init.

``bench data synth`` -> ``bench pretrain`` (tiny preset at 96 px, 200 steps) -> ``bench evaluate``
for the checkpoint and for ``random`` on the CheXpert linear probe, the 5x200-style zero-shot
subset and 8x200-style retrieval. The tiny preset's embedded default (3,000 studies at 128 px)
is the same recipe at full size; this is it scaled to fit the test run.
"""

from __future__ import annotations

import pytest

from bench.cli import main
from bench.results import iter_results

SETS = ["model.image_size=96", "data.synth_size=96", "train.num_workers=0", "eval.cache_dir=none"]
TASKS = {"classification": "auroc", "zero_shot": "auroc", "retrieval": "t2i_P@1"}
MARGIN = {"classification": 0.03, "zero_shot": 0.1, "retrieval": 0.1}


@pytest.mark.slow
def test_pretrained_convirt_beats_random_on_each_task(tmp_path):
    data, results = tmp_path / "synth", tmp_path / "results"
    synth = ["data", "synth", "--out", str(data), "--studies", "1500", "--size", "96", "--difficulty", "easy"]
    assert main(synth) == 0
    out = tmp_path / "pretrain"
    pretrain = ["pretrain", "--method", "convirt", "--preset", "tiny", "--data", str(data), "--out", str(out),
                "--steps", "250", "--set", *SETS]
    assert main(pretrain) == 0
    for task in TASKS:
        for ckpt in (out / "final.pt", "random"):
            argv = ["evaluate", "--method", "convirt", "--checkpoint", str(ckpt), "--task", task,
                    "--dataset", "chexpert", "--fraction", "1.0", "--seed", "0", "--data", str(data),
                    "--results", str(results), "--preset", "tiny", "--set", *SETS]
            assert main(argv) == 0
    scores: dict[str, dict[bool, float]] = {}
    for _, r in iter_results(results):
        scores.setdefault(r.task, {})[r.checkpoint == "random"] = r.metrics[TASKS[r.task]]
    assert set(scores) == set(TASKS)
    print("pretrained (False) vs random (True):", scores)
    margins = {task: got[False] - got[True] for task, got in scores.items()}
    assert all(m > MARGIN[task] for task, m in margins.items()), scores
