"""The throughput command end to end at a CPU-sized shape: every method's figures and the device
land in the JSON (no time is asserted); the window rule and the argument errors."""

from __future__ import annotations

import json

import pytest

from bench.perf.throughput import main, window_rates

SMALL = ["--preset", "tiny", "--text", "minilm", "--batch", "8", "--steps", "6", "--log-every", "2",
         "--studies", "40", "--image-size", "64", "--workers", "0", "--eval-batch", "8", "--eval-batches", "2",
         "--device", "cpu"]


@pytest.mark.slow
def test_throughput_json_has_every_method_stage_and_the_device(tmp_path):
    out = tmp_path / "t.json"
    assert main(["--out", str(out), "--work", str(tmp_path / "work"), *SMALL]) == 0
    doc = json.loads(out.read_text())
    assert doc["machine"]["device"] and doc["machine"]["torch"]
    assert set(doc["methods"]) == {"convirt", "gloria", "prior"}
    assert set(doc["methods"]["prior"]["stages"]) == {"stage1", "stage2", "stage3"}
    for entry in doc["methods"].values():
        assert entry["images_per_s"] > 0 and entry["eval"]["image_per_s"] > 0 and entry["eval"]["text_per_s"] > 0
        assert entry["config"]["train"]["batch_size"] == 8 and entry["config"]["model"]["image_weights"] is None
        assert entry["images_per_s"] == min(s["images_per_s"] for s in entry["stages"].values())


def test_window_rates_leave_out_each_stages_first_window():
    records = [{"stage": "stage1", "images_per_s": 1.0}, {"stage": "stage1", "images_per_s": 10.0},
               {"stage": "stage1", "images_per_s": 20.0}, {"stage": "stage2", "images_per_s": 5.0}]
    rates = window_rates(records)
    assert rates["stage1"] == {"images_per_s": 15.0, "windows": 2}
    assert rates["stage2"] == {"images_per_s": 5.0, "windows": 1}  # one window: kept


def test_unknown_method_is_a_user_error(tmp_path, capsys):
    assert main(["--out", str(tmp_path / "t.json"), "--methods", "prior,clip", "--work", str(tmp_path)]) == 2
    assert "unknown clip" in capsys.readouterr().err
