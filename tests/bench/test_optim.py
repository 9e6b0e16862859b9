"""bench.optim: AdamW parameter groups, the warmup + cosine schedule, stage bounds."""

from __future__ import annotations

import math

import pytest
import torch
from support.train_dummy import DummyMethod, make_cfg

from bench.api import Stage
from bench.optim import (
    make_optimizer,
    make_scheduler,
    no_decay,
    param_groups,
    stage_bounds,
    stage_index,
    warmup_cosine,
)


def test_warmup_cosine_values():
    f = warmup_cosine(steps=10, warmup_steps=4, start_factor=0.1)
    assert [f(t) for t in range(4)] == pytest.approx([0.1, 0.325, 0.55, 0.775])
    assert f(4) == pytest.approx(1.0)
    assert f(7) == pytest.approx(0.5 * (1 + math.cos(math.pi * 3 / 6)))
    cosine = [f(t) for t in range(4, 10)]
    assert all(a > b for a, b in zip(cosine, cosine[1:])) and cosine[-1] > 0
    assert warmup_cosine(5, 0, 0.0)(0) == 1.0


def test_scheduler_steps_per_iteration_from_warmup_start_lr():
    model = torch.nn.Linear(2, 2)
    opt = make_optimizer(model, lr=1e-3, weight_decay=0.1)
    sched = make_scheduler(opt, Stage("s", 6, 1e-3, warmup_steps=2, warmup_start_lr=1e-5))
    lrs = []
    for _ in range(6):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[0] == pytest.approx(1e-5) and lrs[2] == pytest.approx(1e-3)
    assert lrs[5] == pytest.approx(1e-3 * 0.5 * (1 + math.cos(math.pi * 3 / 4)))


def test_no_weight_decay_on_biases_norms_and_logit_scales():
    method = DummyMethod.from_config(make_cfg())
    method.set_stage("main")
    opt = make_optimizer(method, lr=1.0, weight_decay=0.5)
    names = {id(p): n for n, p in method.named_parameters()}
    decayed = {names[id(p)] for g in opt.param_groups if g["weight_decay"] > 0 for p in g["params"]}
    assert decayed == {"image.0.weight", "image.6.weight", "text.weight"}  # extra is frozen
    assert no_decay("logit_scale", torch.zeros(())) and no_decay("x.local_logit_scale", torch.zeros(3, 3))


@pytest.mark.parametrize(("steps", "warmup"), [(10, 3), (7, 0), (50, 10)])
def test_schedule_from_zero_equals_transformers_cosine_with_warmup(steps, warmup):
    transformers = pytest.importorskip("transformers")
    ours = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    theirs = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    mine = make_scheduler(ours, Stage("s", steps, 0.1, warmup_steps=warmup, warmup_start_lr=0.0))
    ref = transformers.get_cosine_schedule_with_warmup(theirs, warmup, steps)
    for _ in range(steps):
        assert ours.param_groups[0]["lr"] == pytest.approx(theirs.param_groups[0]["lr"], abs=1e-12)
        ours.step(), theirs.step(), mine.step(), ref.step()


def test_warmup_is_clamped_below_the_stage_length():
    f = warmup_cosine(steps=3, warmup_steps=10, start_factor=0.0)  # warmup 2 of 3 steps
    assert [f(t) for t in range(3)] == pytest.approx([0.0, 0.5, 1.0])
    assert warmup_cosine(steps=0, warmup_steps=0, start_factor=0.0)(0) == 1.0  # a 0-step stage counts as 1


def test_param_groups_skip_frozen_parameters_and_empty_groups():
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2, bias=False))
    model[0].requires_grad_(False)
    groups = param_groups(model, weight_decay=0.1)
    assert len(groups) == 1 and groups[0]["weight_decay"] == 0.1 and groups[0]["params"] == [model[1].weight]
    model.requires_grad_(False)
    assert param_groups(model, 0.1) == []
    with pytest.raises(ValueError, match="no trainable parameters"):
        make_optimizer(model, lr=1e-3, weight_decay=0.1)


def test_no_decay_reads_the_leaf_name_and_the_shape():
    assert no_decay("head.bias", torch.zeros(2, 2))  # a bias by name, whatever its shape
    assert no_decay("norm.weight", torch.zeros(8)) and no_decay("encoder.temperature", torch.zeros(()))
    assert not no_decay("conv.weight", torch.zeros(4, 3, 3, 3))
    assert not no_decay("logit_scale_head.weight", torch.zeros(2, 2))  # only the leaf name counts


def test_stage_bounds_and_index():
    stages = [Stage("a", 3, 1e-3), Stage("b", 0, 1e-3), Stage("c", 2, 1e-3)]
    bounds = stage_bounds(stages)
    assert bounds == [(0, 3), (3, 3), (3, 5)]
    assert [stage_index(bounds, t) for t in range(7)] == [0, 0, 0, 2, 2, 2, 2]  # an empty stage is skipped


def test_fused_adamw_takes_the_foreach_steps():
    """train.fused_adamw: the fused kernel gives the per-tensor loop's weights to float rounding."""
    weights = []
    for fused in (False, True):
        torch.manual_seed(0)
        # (no bias before a BatchNorm: its gradient is float noise around 0, which Adam's
        # normalisation turns into full-size steps of either sign under any change of rounding)
        model = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, bias=False), torch.nn.BatchNorm2d(4), torch.nn.Flatten(),
                                    torch.nn.Linear(4 * 6 * 6, 3))
        opt = make_optimizer(model, lr=1e-2, weight_decay=0.1, fused=fused)
        assert opt.defaults["fused"] is (True if fused else None)
        gen = torch.Generator().manual_seed(1)
        for _ in range(5):
            opt.zero_grad()
            model(torch.randn(8, 1, 8, 8, generator=gen)).square().mean().backward()
            opt.step()
        weights.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    assert not torch.equal(weights[0], torch.zeros_like(weights[0]))
    torch.testing.assert_close(weights[1], weights[0], rtol=1e-5, atol=1e-6)
