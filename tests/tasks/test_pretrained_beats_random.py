"""End to end on a small SynthCXR: a briefly pretrained ConVIRT beats its random init in the probe.

``bench data synth`` -> ``bench pretrain`` (tiny preset, 64 px, a few dozen steps) ->
``bench evaluate`` (CheXpert linear probe at 100 %) for the checkpoint and for ``random``.
"""

from __future__ import annotations

import pytest

from bench.cli import main
from bench.results import iter_results

SETS = ["model.image_size=64", "data.synth_size=64", "train.num_workers=0", "train.threads=2"]


@pytest.mark.slow
@pytest.mark.xfail(
    strict=False,
    reason="tiny-preset pretraining on the default SynthCXR does not yet give probe features better than "
    "random init (the target of the embedded default); XPASS once it does",
)
def test_pretrained_convirt_beats_random_in_the_linear_probe(tmp_path):
    data, results = tmp_path / "synth", tmp_path / "results"
    assert main(["data", "synth", "--out", str(data), "--studies", "400", "--size", "64"]) == 0
    out = tmp_path / "pretrain"
    pretrain = ["pretrain", "--method", "convirt", "--preset", "tiny", "--data", str(data), "--out", str(out),
                "--steps", "60", "--set", *SETS, "train.batch_size=32", "train.warmup_steps=5"]
    assert main(pretrain) == 0
    for ckpt in (out / "final.pt", "random"):
        argv = ["evaluate", "--method", "convirt", "--checkpoint", str(ckpt), "--task", "classification",
                "--dataset", "chexpert", "--fraction", "1.0", "--seed", "0", "--data", str(data),
                "--results", str(results), "--preset", "tiny", "--set", *SETS, "eval.cache_dir=none"]
        assert main(argv) == 0
    auroc = {r.checkpoint == "random": r.metrics["auroc"] for _, r in iter_results(results)}
    assert auroc[False] > auroc[True] + 0.05, auroc
