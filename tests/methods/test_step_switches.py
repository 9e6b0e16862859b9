"""train.compile and train.text_checkpointing (bench.precision): checkpointing gives the same
gradients, a compiled training run the same losses and a checkpoint that loads uncompiled, a
backend that fails falls back to eager, and only compile enters the config hash."""

from __future__ import annotations

import logging

import pytest
import torch
from method_helpers import make_batch, tiny_config
from support.train_dummy import DummyMethod, make_cfg, make_table

from bench import precision
from bench.checkpoint import load_checkpoint
from bench.config import resolve
from bench.data.pretrain import PretrainDataset
from bench.results import config_hash
from bench.train import Trainer
from bench.train_utils import read_log
from methods.prior import PRIOR


def _tower_checkpointed(model) -> bool:
    tower = model.text_encoder.model
    if hasattr(type(tower), "is_activation_checkpointing"):  # transformers >= 5.x
        return tower.is_activation_checkpointing
    return tower.is_gradient_checkpointing


def _prior_grads(checkpointing: bool):
    cfg = tiny_config("prior", PRIOR.Config, **{"model.image_size": 64, "model.text_trainable_layers": -1,
                                                 "train.text_checkpointing": checkpointing})
    torch.manual_seed(0)
    model = PRIOR.from_config(cfg).train()
    model.set_stage("stage3")
    names = precision.checkpoint_towers(model, cfg.train)
    batch = make_batch(model, 6, size=64)
    torch.manual_seed(1)  # the same dropout masks and shuffles in both runs
    terms = model(batch)
    sum(v for k, v in terms.items() if k.endswith("_loss")).backward()
    return names, model, {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def test_text_checkpointing_recomputes_the_same_gradients():
    names, model, plain = _prior_grads(False)
    assert names == [] and not _tower_checkpointed(model)
    names, model, checkpointed = _prior_grads(True)
    assert "text_encoder.model" in names and _tower_checkpointed(model)
    assert plain.keys() == checkpointed.keys() and any("text_encoder" in n for n in plain)
    for name in plain:  # dropout's RNG state is replayed in the recompute: bit for bit on CPU
        assert torch.equal(plain[name], checkpointed[name]), name


def test_checkpointing_a_method_without_a_tower_warns(caplog):
    with caplog.at_level(logging.WARNING, logger="bench.precision"):
        assert precision.checkpoint_towers(torch.nn.Linear(2, 2), make_cfg(**{"train.text_checkpointing": True}).train) == []
    assert "holds no transformer tower" in caplog.text


def test_compile_off_or_unsupported_stays_eager(monkeypatch, caplog):
    import torch._dynamo

    assert precision.compile_step(torch.nn.Linear(3, 2), make_cfg().train) is False
    monkeypatch.setattr(torch._dynamo, "is_dynamo_supported", lambda: False)
    with caplog.at_level(logging.WARNING, logger="bench.precision"):
        assert precision.compile_step(torch.nn.Linear(3, 2), make_cfg(**{"train.compile": True}).train) is False
    assert "not supported" in caplog.text


def test_a_backend_that_fails_falls_back_to_eager():
    import torch._dynamo

    def broken(graph, example_inputs):
        raise RuntimeError("no compiler here")

    torch.manual_seed(0)
    layer = torch.nn.Linear(3, 2)
    x = torch.randn(4, 3)
    expected = layer(x)
    torch._dynamo.reset()
    with torch._dynamo.config.patch(suppress_errors=False):  # restored after; compile_step sets it
        assert precision.compile_step(layer, make_cfg(**{"train.compile": True}).train, backend=broken) is True
        assert torch._dynamo.config.suppress_errors
        assert torch.equal(layer(x), expected)  # the frame failed to compile and ran eager


@pytest.mark.slow
def test_a_compiled_run_logs_eagers_losses_and_saves_plain_keys(tmp_path, dummy_registered):
    import torch._dynamo
    import torch._inductor.config

    table = make_table(tmp_path / "pairs", studies=16)
    runs = {}
    for mode in (False, True):
        cfg = make_cfg(**{"train.compile": mode, "train.max_steps": 6})
        torch.manual_seed(0)
        torch._dynamo.reset()
        method = DummyMethod.from_config(cfg)
        with torch._dynamo.config.patch(suppress_errors=False), torch._inductor.config.patch(fallback_random=False):
            final = Trainer(method, PretrainDataset(table, cfg), cfg, tmp_path / str(mode)).run()
        runs[mode] = (read_log(tmp_path / str(mode) / "log.jsonl"), final)
    (eager_log, eager_final), (compiled_log, compiled_final) = runs[False], runs[True]
    assert len(eager_log) == len(compiled_log) > 0
    for a, b in zip(eager_log, compiled_log):  # eager's dropout masks; inductor reorders float ops: near, not equal
        assert b["contrastive_loss"] == pytest.approx(a["contrastive_loss"], rel=1e-4, abs=1e-5)
    loaded, _ = load_checkpoint(compiled_final)  # the checkpoint's keys are the plain module's
    assert loaded.state_dict().keys() == load_checkpoint(eager_final)[0].state_dict().keys()


def test_compile_enters_the_config_hash_and_checkpointing_does_not():
    base = config_hash(resolve("tiny").to_dict())
    assert config_hash(resolve("tiny", overrides={"train.compile": "false"}).to_dict()) == base
    assert config_hash(resolve("tiny", overrides={"train.compile": "true"}).to_dict()) != base
    assert config_hash(resolve("tiny", overrides={"train.text_checkpointing": "true"}).to_dict()) == base


def test_a_compiled_step_that_fails_at_run_time_reruns_eager_from_the_same_state(tmp_path, monkeypatch, caplog):
    import torch._dynamo

    def fails_when_run(graph, example_inputs):
        def run(*args):
            raise TypeError("expected Tensor() for op: input")
        return run

    table = make_table(tmp_path / "pairs", studies=16)
    finals = {}
    for mode in (False, True):
        cfg = make_cfg(**{"train.compile": mode, "train.max_steps": 4, "method.n_stages": 2})
        torch.manual_seed(0)
        torch._dynamo.reset()
        monkeypatch.setattr(precision, "BACKEND", fails_when_run)
        with torch._dynamo.config.patch(suppress_errors=False), caplog.at_level(logging.WARNING, "bench.precision"):
            finals[mode] = Trainer(DummyMethod.from_config(cfg), PretrainDataset(table, cfg), cfg,
                                   tmp_path / str(mode)).run()
    assert caplog.text.count("the compiled step failed (TypeError: expected Tensor()") == 1
    eager, fallen_back = load_checkpoint(finals[False])[0].state_dict(), load_checkpoint(finals[True])[0].state_dict()
    for key in eager:  # the failed step was redone eagerly from its own random state: the eager run
        assert torch.equal(eager[key], fallen_back[key]), key
