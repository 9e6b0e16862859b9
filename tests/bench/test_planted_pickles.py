"""Files whose pickle would run code, given to every path that loads tensors: refused, never run.

Each case plants a file that creates ``marker`` when unpickled (:mod:`support.pickles`) and checks
that the command exits 2 with one line naming the refusal, and that ``marker`` never appears. The
feature cache is the exception by design: a refused shard is the harness's own disposable file, so
it is named in a warning and its records are encoded again (exit 0).
"""

from __future__ import annotations

import ast
import re
import shutil
from pathlib import Path

import pytest
import torch
from support import planted
from support.pickles import code_carrying

from bench.cli import main
from bench.fileio import WeightsFileError, load_weights_only
from bench.results import iter_results

pytestmark = pytest.mark.usefixtures("planted_registered", "dummy_registered")
REPO = Path(__file__).resolve().parents[2]
REFUSED = "pickled code or objects (io.open), refused"
EVAL_SETS = ["model.image_size=24", "train.num_workers=0", "eval.subset_per_class=6", "eval.probe_epochs=20",
             "eval.probe_lr=0.05"]
TRAIN_SETS = ["model.image_size=32", "train.batch_size=4", "train.device=cpu", "train.threads=1",
              "train.num_workers=0"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """chexpert (planted concepts) and a small SynthCXR mimic-cxr for pretraining."""
    from bench.data.synth.generate import generate

    root = tmp_path_factory.mktemp("data")
    generate(root, studies=24, size=64, datasets=("mimic-cxr",))
    planted.write_chexpert(root / "chexpert")
    return root


def refused_in_one_line(err: str, command: str) -> str:
    """The one error line of ``bench <command>``; it names the refusal and there is no traceback."""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err[-2000:]
    assert lines[0].startswith(f"bench {command}: error: ") and REFUSED in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("task", ["classification", "zero_shot", "retrieval", "segmentation", "detection"])
def test_evaluate_refuses_a_code_carrying_checkpoint(task, data, tmp_path, capsys):
    marker = tmp_path / "code-ran"
    evil = code_carrying(tmp_path / "evil.pt", marker)
    code = main(["evaluate", "--method", "planted", "--checkpoint", str(evil), "--task", task, "--data", str(data),
                 "--results", str(tmp_path / "res"), "--preset", "tiny", "--set", *EVAL_SETS])
    line = refused_in_one_line(capsys.readouterr().err, "evaluate")
    assert code == 2 and str(evil) in line and not marker.exists()
    assert not list(iter_results(tmp_path / "res"))


def test_run_refuses_a_code_carrying_checkpoint(data, tmp_path, capsys):
    marker = tmp_path / "code-ran"
    evil = code_carrying(tmp_path / "evil.pt", marker)
    code = main(["run", "--method", "planted", "--checkpoint", str(evil), "--task", "classification", "--data",
                 str(data), "--results", str(tmp_path / "res"), "--preset", "tiny", "--set", *EVAL_SETS])
    refused_in_one_line(capsys.readouterr().err, "run")
    assert code == 2 and not marker.exists()


def test_import_refuses_a_code_carrying_official_file(tmp_path, capsys):
    marker = tmp_path / "code-ran"
    evil = code_carrying(tmp_path / "official.ckpt", marker, {"epoch": 3}, at="state_dict")
    out = tmp_path / "imported.pt"
    code = main(["import", "--format", "dummy-official", str(evil), "--out", str(out), "--preset", "tiny"])
    line = refused_in_one_line(capsys.readouterr().err, "import")
    assert code == 2 and "cannot be read with weights_only=True" in line and not marker.exists()
    assert not out.exists()


def test_pretrain_resume_refuses_a_code_carrying_last_pt(data, tmp_path, capsys):
    marker = tmp_path / "code-ran"
    out = tmp_path / "run"
    last = code_carrying(out / "last.pt", marker, at="optimizer")
    before = last.read_bytes()
    code = main(["pretrain", "--method", "dummy", "--preset", "tiny", "--data", str(data), "--out", str(out),
                 "--steps", "3", "--resume", "--set", *TRAIN_SETS])
    line = refused_in_one_line(capsys.readouterr().err, "pretrain")
    assert code == 2 and "last.pt: not a readable checkpoint" in line and not marker.exists()
    assert last.read_bytes() == before and not (out / "final.pt").exists()


def test_run_refuses_a_code_carrying_last_pt_of_its_pretraining(data, tmp_path, capsys):
    from bench.pretraining import Pretraining, pretrain_config, pretrain_dir

    marker = tmp_path / "code-ran"
    results = tmp_path / "res"
    sets = [*TRAIN_SETS, "train.max_steps=3"]
    job = Pretraining("dummy", (), pretrain_config("dummy", "tiny", tuple(sets)), str(data))
    last = code_carrying(pretrain_dir(job, results) / "last.pt", marker, at="optimizer")
    code = main(["run", "--method", "dummy", "--task", "classification", "--data", str(data), "--results",
                 str(results), "--preset", "tiny", "--no-random", "--set", *sets])
    refused_in_one_line(capsys.readouterr().err, "run")
    assert code == 2 and not marker.exists() and not (last.parent / "final.pt").exists()


def test_image_weights_file_is_refused(tmp_path):
    from bench.config import ConfigError
    from methods.resnet import build_resnet

    marker = tmp_path / "code-ran"
    evil = code_carrying(tmp_path / "resnet.pth", marker, {}, at="state_dict")
    with pytest.raises(ConfigError, match=re.escape(REFUSED)) as info:
        build_resnet("resnet18", 1, evil)
    assert str(info.value).startswith("model.image_weights: ") and "\n" not in str(info.value)
    assert not marker.exists()


@pytest.mark.slow  # loads transformers and a text model folder
def test_text_encoder_folder_with_code_carrying_weights_is_refused(tmp_path):
    from bench.config import ConfigError
    from methods.text import build_text_encoder, resolve_text_encoder

    marker = tmp_path / "code-ran"
    folder = tmp_path / "encoder"
    shutil.copytree(resolve_text_encoder("minilm"), folder, ignore=shutil.ignore_patterns("*.safetensors"))
    code_carrying(folder / "pytorch_model.bin", marker, {}, at="embeddings")
    with pytest.raises(ConfigError, match=re.escape(REFUSED)) as info:
        build_text_encoder(str(folder))
    assert "\n" not in str(info.value) and not marker.exists()


# -- the feature cache: a refused shard is named and encoded again ---------------------------------
def test_feature_cache_refuses_a_planted_shard_and_encodes_again(tmp_path, caplog):
    from bench.featurecache import FeatureCache

    namespace = ("model", "chexpert", "backbone", 24)
    cache = FeatureCache(tmp_path / "cache")
    cache.get(namespace, ["a", "b"], lambda keys: {"f": torch.arange(2.0 * len(keys)).view(len(keys), 2)})
    (shard,) = cache.folder(namespace).glob("*.pt")
    marker = tmp_path / "code-ran"
    code_carrying(shard, marker, {"keys": ["a", "b"]}, at="tensors")
    fresh = FeatureCache(tmp_path / "cache")
    got = fresh.get(namespace, ["b"], lambda keys: {"f": torch.full((len(keys), 2), 7.0)})
    assert not marker.exists() and fresh.computed == 1 and torch.equal(got["f"], torch.full((1, 2), 7.0))
    assert any(str(shard) in r.getMessage() and REFUSED in r.getMessage() for r in caplog.records)


def test_evaluate_with_a_planted_cache_shard_runs_without_its_code(data, tmp_path):
    cache = tmp_path / "cache"

    def evaluate(results):
        return main(["evaluate", "--method", "planted", "--checkpoint", "random", "--task", "classification",
                     "--dataset", "chexpert", "--fraction", "1.0", "--seed", "0", "--data", str(data), "--results",
                     str(results), "--preset", "tiny", "--set", *EVAL_SETS, f"eval.cache_dir={cache}"])

    assert evaluate(tmp_path / "first") == 0
    shards = sorted(cache.rglob("*.pt"))
    assert shards
    marker = tmp_path / "code-ran"
    for shard in shards:
        code_carrying(shard, marker, {"keys": load_weights_only(shard)["keys"]}, at="tensors")
    assert evaluate(tmp_path / "second") == 0 and not marker.exists()
    for shard in shards:  # encoded again and written over the planted file
        assert all(isinstance(t, torch.Tensor) for t in load_weights_only(shard)["tensors"].values())
    (first,), (second,) = ([r for _, r in iter_results(tmp_path / name)] for name in ("first", "second"))
    assert second.metrics == first.metrics


# -- the dense tasks: MMEngine is never handed a file; the trunk file is read weights-only ---------
def test_load_trunk_refuses_a_code_carrying_trunk_file(tmp_path):
    from tasks.mm.trunk import FORMAT, load_trunk

    marker = tmp_path / "code-ran"
    evil = code_carrying(tmp_path / "backbone.pth", marker, {"format": FORMAT, "spec": {}}, at="state_dict")
    with pytest.raises(WeightsFileError, match=re.escape(REFUSED)):
        load_trunk(evil)
    assert not marker.exists()


def test_tensor_files_are_loaded_in_one_place_and_never_by_the_toolboxes():
    """Every torch.load of the project is bench.fileio.load_weights_only's (weights_only=True); the
    MMEngine configs ask for no checkpoint to be loaded (no load_from, resume or Pretrained init)."""
    def calls_torch_load(path: Path) -> bool:
        return any(isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "load"
                   and isinstance(node.func.value, ast.Name) and node.func.value.id == "torch"
                   for node in ast.walk(ast.parse(path.read_text())))

    sources = [p for pkg in ("bench", "methods", "tasks") for p in (REPO / pkg).rglob("*.py")]
    assert {str(p.relative_to(REPO)) for p in sources if calls_torch_load(p)} == {"bench/fileio.py"}
    for path in (REPO / "tasks").rglob("*.py"):
        text = path.read_text()
        assert not re.search(r"load_from\s*=|resume\s*=\s*True|['\"]Pretrained['\"]", text), path


@pytest.mark.slow
@pytest.mark.mm
def test_a_dense_run_over_a_planted_trunk_file_loads_weights_only(tmp_path, monkeypatch):
    """A code-carrying ``backbone.pth`` left in the run folder is overwritten before it is read, and
    every torch.load during the MMSeg run (the toolbox's included) is weights-only."""
    pytest.importorskip("mmseg")
    from support.dense_planted import PlantedData, TrunkMethod, dense_cfg, planted_records, tiny_trunk

    from tasks import segmentation as seg
    from tasks.mm.runner import TRUNK_FILE

    cfg = dense_cfg(**{"eval.dense_iters": "2"})
    data = PlantedData("siim", tmp_path / "img", planted_records(tmp_path / "img", n=8), work_dir=tmp_path / "work")
    run_name = f"segmentation-{seg.resolve_protocol(cfg).name}-siim-1-seed0"
    marker = tmp_path / "code-ran"
    planted_trunk = code_carrying(tmp_path / "work" / "runs" / run_name / TRUNK_FILE, marker, {}, at="state_dict")
    calls = []
    real_load = torch.load

    def spy(*args, **kwargs):
        calls.append(kwargs.get("weights_only"))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    metrics = seg.evaluate(TrunkMethod(tiny_trunk(1)), data, cfg)
    assert set(metrics) == set(seg.METRICS) and not marker.exists()
    assert calls and all(w is True for w in calls), calls
    assert load_weights_only(planted_trunk)["format"]  # the task's own trunk file replaced the planted one
