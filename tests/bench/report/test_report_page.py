from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest

from bench.cli import main
from bench.report import SECTIONS
from bench.results import Result, write_result

CLASSES = ["Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Pleural Effusion"]


class Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.h2: list[str] = []
        self.images: list[str] = []
        self.tags: set[str] = set()
        self._in_h2 = False

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        if tag == "img":
            self.images.append(dict(attrs)["src"])
        self._in_h2 = tag == "h2"

    def handle_endtag(self, tag):
        self._in_h2 = False if tag == "h2" else self._in_h2

    def handle_data(self, data):
        if self._in_h2:
            self.h2.append(data.strip())


def _plant(root: Path) -> None:
    def put(method, seed, fraction, value, checkpoint="ckpt.pt", ablation=(), task="classification", **kw):
        write_result(Result(
            method=method, task=task, task_version="1", dataset="chexpert", metrics={"auroc": value},
            checkpoint=checkpoint, checkpoint_sha256=None if checkpoint == "random" else "feedc0ffee",
            fraction=fraction, seed=seed, ablation=ablation, preset="tiny",
            protocol="linear-probe" if task == "classification" else "prompts-gloria",
            config={"data": {"studies": 24}}, split_hashes={"train": f"t{seed}{fraction}"}, git_commit="abc123",
            **kw), root)

    for seed in (0, 1):
        for fraction in (0.01, 0.1, 1.0):
            put("gloria", seed, fraction, 0.7 + 0.1 * fraction + 0.01 * seed)
            put("gloria", seed, fraction, 0.5 + 0.01 * seed, checkpoint="random")
            put("gloria", seed, fraction, 0.6 + 0.1 * fraction, ablation=("local_alignment",))
        matrix = [[5 if i == j else 1 for j in range(5)] for i in range(5)]
        put("gloria", seed, 1.0, 0.8, task="zero_shot", extra={"confusion_matrix": {"classes": CLASSES,
                                                                                    "matrix": matrix}})
    (root / "broken.json").write_text("{")


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    import torch

    from bench.checkpoint import build_method, save_checkpoint
    from bench.config import resolve
    from bench.registry import METHODS

    cls = METHODS.get("gloria")
    cfg = resolve("tiny", "gloria", None, cls.Config)
    torch.manual_seed(0)
    method = build_method("gloria", cfg)
    path = tmp_path_factory.mktemp("ckpt") / "gloria.pt"
    return save_checkpoint(path, {"method": "gloria", "drop": [], "config": cfg.to_dict(),
                                  "model": method.state_dict()})


@pytest.mark.slow
def test_page_renders_offline_with_every_section(synth_dir, tiny_checkpoint, tmp_path, capsys):
    results, out = tmp_path / "results", tmp_path / "report"
    _plant(results)
    code = main(["report", "--results", str(results), "--out", str(out), "--data", str(synth_dir),
                 "--checkpoint", str(tiny_checkpoint), "random:convirt", "--images", "2"])
    assert code == 0
    index = out / "index.html"
    assert capsys.readouterr().out.strip() == str(index)
    text = index.read_text(encoding="utf-8")
    page = Collect()
    page.feed(text)
    assert page.h2 == list(SECTIONS)
    assert "script" not in page.tags and "<script" not in text.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text  # the planted report sentence, escaped
    assert "http://" not in text and "https://" not in text  # nothing to fetch
    assert len(page.images) == 1 + 1 + 1 + 2 * (1 + 4)  # curve, ablation, confusion, 2 x (truth + 4 maps)
    for src in page.images:
        assert not src.startswith("/") and ".." not in src
        assert src.startswith("data:") or (out / src).is_file(), src
    assert "broken.json" in text  # the unreadable result is named
    assert "convirt (random init) has no local attention" in text
    assert "feedc0ffee"[:10] in text and "abc123" in text  # provenance: checkpoint digest, commit


def test_report_needs_an_existing_results_folder(tmp_path, capsys):
    assert main(["report", "--results", str(tmp_path / "none"), "--out", str(tmp_path / "o")]) == 2
    assert "no such folder" in capsys.readouterr().err


def test_attention_images_come_from_the_results_data_folder(tmp_path):
    from bench.report.build import data_folder

    (tmp_path / "mimic-cxr").mkdir()
    named = Result(method="prior", task="classification", task_version="1", dataset="chexpert", metrics={},
                   data_source={"kind": "synthcxr", "root": str(tmp_path / "chexpert")})
    elsewhere = Result(method="prior", task="classification", task_version="1", dataset="chexpert", metrics={},
                       data_source={"root": str(tmp_path / "nowhere" / "chexpert")})
    assert data_folder([named]) == str(tmp_path)
    assert data_folder([elsewhere]) is None and data_folder([]) is None
