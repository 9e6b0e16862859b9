"""The evaluation engine (bench.evaluate, bench.models): identity, presets and error policy."""

from __future__ import annotations

import pytest
from support import failing_task, planted

from bench.checkpoint import save_checkpoint
from bench.cli import main
from bench.models import checkpoint_id, state_digest
from bench.registry import METHODS, TASKS
from bench.results import iter_results

pytestmark = pytest.mark.usefixtures("planted_registered")  # `bench evaluate --method planted`
SETS = ["model.image_size=24", "train.num_workers=0", "eval.probe_epochs=20", "eval.cache_dir=none"]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    planted.write_chexpert(root / "chexpert")
    return root


def _checkpoint(path, preset="tiny"):
    from bench.config import resolve

    cfg = resolve(preset, "planted", dict(s.split("=", 1) for s in SETS), planted.PlantedConfig)
    payload = {"method": "planted", "drop": [], "config": cfg.to_dict(), "model": planted.PlantedMethod().state_dict()}
    return save_checkpoint(path, payload)


def _evaluate(data_dir, results, checkpoint, *extra):
    return main(["evaluate", "--method", "planted", "--checkpoint", str(checkpoint), "--data", str(data_dir),
                 "--results", str(results), "--task", "classification", "--dataset", "chexpert", "--fraction", "1.0",
                 "--seed", "0", *extra, "--set", *SETS])


def test_a_result_keeps_the_preset_its_model_was_built_at(data_dir, tmp_path):
    ckpt = _checkpoint(tmp_path / "m.pt", preset="tiny")
    assert _evaluate(data_dir, tmp_path / "r", ckpt, "--preset", "default") == 0
    ((_, r),) = iter_results(tmp_path / "r")
    assert (r.preset, r.eval_preset) == ("tiny", "default")
    assert r.config["eval"]["dense_iters"] == 20000  # the evaluation preset's eval section was used


def test_identity_follows_the_weights_not_the_file(tmp_path):
    first = _checkpoint(tmp_path / "a.pt")
    again = _checkpoint(tmp_path / "b.pt")  # same weights, another creation time in the file
    assert first.read_bytes() != again.read_bytes()
    assert checkpoint_id(first) == checkpoint_id(again)
    model = planted.PlantedMethod()
    state = model.state_dict()
    other = {k: v.clone() + 1 if v.is_floating_point() else v for k, v in state.items()}
    assert state and state_digest(state) != state_digest(other)


@pytest.fixture
def broken_task():
    with TASKS.temporarily("broken", failing_task("broken", ValueError("a bug inside the task"))):
        yield


def test_a_value_error_inside_a_task_is_a_bug_not_a_user_error(data_dir, tmp_path, broken_task):
    with pytest.raises(ValueError, match="a bug inside the task"):  # propagates: traceback, exit 1
        main(["evaluate", "--method", "planted", "--checkpoint", "random", "--data", str(data_dir),
              "--results", str(tmp_path), "--task", "broken", "--preset", "tiny", "--set", *SETS])


def test_a_build_error_is_not_blamed_on_drop(data_dir, tmp_path, monkeypatch):
    def fail(*args, **kwargs):
        raise ValueError("cannot build")

    monkeypatch.setattr(planted.PlantedMethod, "from_config", classmethod(fail))
    with pytest.raises(ValueError, match="cannot build"):
        _evaluate(data_dir, tmp_path, "random", "--preset", "tiny")


def test_unknown_component_is_a_user_error_naming_the_valid_ones(capsys):
    assert main(["evaluate", "--method", "prior", "--checkpoint", "random", "--task", "classification",
                 "--drop", "bank"]) == 2
    assert "prototype_bank" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["convirt", "gloria", "prior"])
def test_components_have_one_source_of_truth(name):
    assert tuple(METHODS.meta(name)["components"]) == tuple(METHODS.get(name).components)


def test_a_preset_whose_text_encoder_is_absent_says_how_to_fix_it(tmp_path, capsys):
    code = main(["evaluate", "--method", "convirt", "--checkpoint", "random", "--task", "classification",
                 "--preset", "default", "--set", f"model.text_encoder={tmp_path / 'no-such-bert'}"])
    assert code == 2
    err = capsys.readouterr().err
    assert "no-such-bert" in err and "--set model.text_encoder=PATH" in err and "Hugging Face cache" in err


def test_the_random_id_does_not_change_when_the_build_records_the_initialisation():
    from bench.config import resolve
    from bench.models import random_id

    cfg = resolve("tiny", "convirt")
    before = random_id("convirt", cfg, ())
    cfg.model.image_init = "random"
    assert random_id("convirt", cfg, ()) == before
    cfg.model.image_weights = "/some/weights.pth"
    assert random_id("convirt", cfg, ()) != before
