"""The numeric levers of a step (bench.precision): bf16 autocast on CPU keeps every loss term
near fp32's, channels-last changes nothing beyond float rounding, and neither changes the config
hash of a run that leaves them off."""

from __future__ import annotations

import contextlib

import pytest
import torch
from method_helpers import make_batch, tiny_config

from bench import precision
from bench.config import resolve
from bench.results import config_hash
from methods.convirt import ConVIRT
from methods.gloria import GLoRIA
from methods.prior import PRIOR

METHODS = {"convirt": ConVIRT, "gloria": GLoRIA, "prior": PRIOR}
# bf16 keeps 8 bits of mantissa (relative step 2^-8 = 0.4 %). Measured at this size over the
# three methods and PRIOR's three stages: every term of magnitude > 0.01 moved by at most 0.33 %
# (GLoRIA's local term 0.27 %, PRIOR's local text term 0.32 %), PRIOR's near-zero local image
# term by 6e-4 absolute. 2 % (6x that) leaves room for other CPUs' kernels.
BF16_RTOL = 0.02


def _losses(method: str, *, bf16: bool, channels_last: bool = False, stage: str | None = None):
    cls = METHODS[method]
    overrides = {"model.image_size": 64, "train.batch_size": 8,
                 "train.cpu_bf16": bf16, "train.channels_last": channels_last}
    cfg = tiny_config(method, cls.Config, **overrides)
    torch.manual_seed(0)
    model = cls.from_config(cfg).train()
    if stage:
        model.set_stage(stage)
    precision.prepare(model, cfg.train)
    batch = precision.to_memory_format(make_batch(model, 8, size=64), cfg.train)
    torch.manual_seed(1)  # the same random draws inside the forward (masks, shuffles)
    context = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
    with context:
        terms = model(batch)
    return {k: float(v.detach().float()) for k, v in terms.items() if k.endswith("_loss")}, terms, model


@pytest.mark.parametrize(
    "method,stage", [("convirt", None), ("gloria", None), ("prior", "stage1"), ("prior", "stage3")]
)
def test_bf16_step_losses_stay_near_fp32(method, stage):
    fp32, _, _ = _losses(method, bf16=False, stage=stage)
    bf16, terms, _ = _losses(method, bf16=True, stage=stage)
    assert fp32.keys() == bf16.keys() and fp32
    for key in fp32:
        assert bf16[key] == pytest.approx(fp32[key], rel=BF16_RTOL, abs=1e-3), key
        assert terms[key].dtype == torch.float32, f"{key} left float32 under autocast"


@pytest.mark.parametrize("method", sorted(METHODS))
def test_channels_last_gives_the_same_losses(method):
    stage = "stage3" if method == "prior" else None
    plain, _, _ = _losses(method, bf16=False, stage=stage)
    last, _, model = _losses(method, bf16=False, channels_last=True, stage=stage)
    convs = [m.weight for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs and all(w.is_contiguous(memory_format=torch.channels_last) for w in convs)
    for key in plain:
        assert last[key] == pytest.approx(plain[key], rel=1e-4, abs=1e-5), key


def test_step_context_follows_the_switches(monkeypatch):
    cfg = resolve("tiny").train
    cpu = torch.device("cpu")
    assert isinstance(precision.step_context(cpu, cfg), contextlib.nullcontext)
    cfg.cpu_bf16 = True
    monkeypatch.setattr(precision, "cpu_has_bf16", lambda: True)
    ctx = precision.step_context(cpu, cfg)
    assert isinstance(ctx, torch.autocast) and ctx.fast_dtype == torch.bfloat16
    monkeypatch.setattr(precision, "cpu_has_bf16", lambda: False)
    assert isinstance(precision.step_context(cpu, cfg), contextlib.nullcontext)  # fp32, with a warning
    assert precision.autocast_dtype(torch.device("cuda"), cfg) == torch.bfloat16  # train.amp
    cfg.amp = False
    assert precision.autocast_dtype(torch.device("cuda"), cfg) is None


def test_cpu_flags_are_read_from_cpuinfo(tmp_path):
    with_bf16 = tmp_path / "a"
    with_bf16.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx512f avx512_bf16\n\nflags : amx_bf16\n")
    without = tmp_path / "b"
    without.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f\n")
    assert precision.cpu_has_bf16(str(with_bf16)) is True
    assert precision.cpu_has_bf16(str(without)) is False
    assert precision.cpu_has_bf16(str(tmp_path / "missing")) is False


def test_levers_left_off_keep_earlier_config_hashes():
    cfg = resolve("tiny").to_dict()
    before = {**cfg, "train": {k: v for k, v in cfg["train"].items() if k not in ("cpu_bf16", "channels_last", "fused_adamw")}}
    assert config_hash(cfg) == config_hash(before)  # results pinned before the switches keep their keys
    on = {**cfg, "train": {**cfg["train"], "cpu_bf16": True}}
    assert config_hash(on) != config_hash(cfg)
