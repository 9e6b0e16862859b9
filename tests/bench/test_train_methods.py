"""End to end: ``bench pretrain`` of the real methods on a small SynthCXR; every loss term falls."""

from __future__ import annotations

import math
from statistics import mean

import pytest

from bench.checkpoint import load_checkpoint
from bench.cli import main
from bench.data.synth.generate import generate
from bench.train_utils import read_log

COMMON = [
    "model.image_size=64",
    "train.batch_size=16",
    "train.lr=2e-3",
    "train.warmup_steps=2",
    "train.log_every=1",
    "train.ckpt_every=1000",
    "data.augment=false",
]
# method -> (steps, extra --set); PRIOR's three stages get equal shares so that each is long enough
RUNS = {
    "convirt": (12, []),
    "gloria": (12, []),
    "prior": (21, ["method.stage_ratio=1,1,1"]),
}
# PRIOR's prototype bank starts from N(0, 1) prototypes that Adam moves by ~lr per step while the
# sentence embeddings it quantises move faster, so its L1 term grows over any short run (measured:
# 3.7 -> 5.1 in stage 2, 5.2 -> 7.2 in stage 3 at lr 2e-3); it is checked for finiteness only.
NOT_EXPECTED_TO_FALL = {("prior", "bank_loss")}
K = 3  # steps averaged at each end of a stage


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth200")
    generate(out, studies=200, size=64, datasets=("mimic-cxr",))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("method", sorted(RUNS))
def test_pretraining_lowers_every_loss_term(method, synth, tmp_path):
    steps, extra = RUNS[method]
    out = tmp_path / method
    args = ["pretrain", "--method", method, "--preset", "tiny", "--data", str(synth), "--out", str(out),
            "--steps", str(steps), "--set", *COMMON, *extra]
    assert main(args) == 0
    records = read_log(out / "log.jsonl")
    assert [r["step"] for r in records] == list(range(1, steps + 1))
    stages = list(dict.fromkeys(r["stage"] for r in records))
    assert len(stages) == (3 if method == "prior" else 1)
    for stage in stages:
        rows = [r for r in records if r["stage"] == stage]
        terms = sorted({k for r in rows for k in r if k.endswith("_loss")})
        assert terms, stage
        for term in terms:
            values = [r[term] for r in rows]
            assert all(v is not None and math.isfinite(v) for v in values), (stage, term, values)
            if (method, term) in NOT_EXPECTED_TO_FALL:
                continue
            first, last = mean(values[:K]), mean(values[-K:])
            assert last < first, f"{method} {stage} {term}: {values}"
    loaded, cfg = load_checkpoint(out / "final.pt")
    assert loaded.name == method and cfg.train.max_steps == steps
