"""``python -m bench.perf.profile``: the operator table or, with --plain, the step times; both
end with the process's peak RSS."""

from __future__ import annotations

import re

from bench.perf.profile import main

SMALL = ["--method", "convirt", "--batch", "4", "--steps", "2", "--set", "model.image_size=64"]


def test_profile_prints_the_top_operators_and_peak_rss(tmp_path, capsys):
    assert main([*SMALL, "--rows", "5", "--out", str(tmp_path / "t.txt")]) == 0
    out = capsys.readouterr().out
    assert "convirt  preset tiny batch 4" in out and "aten::" in out and "Self CPU" in out
    assert re.search(r"peak RSS \d+ MiB", out) and (tmp_path / "t.txt").read_text() in out


def test_plain_times_each_step(capsys):
    assert main([*SMALL, "--plain"]) == 0
    out = capsys.readouterr().out
    found = re.search(r"median step (\d+\.\d+) s \((\d+\.\d+), (\d+\.\d+)\); peak RSS (\d+) MiB", out)
    assert found and "aten::" not in out
    assert float(found[1]) > 0 and int(found[4]) > 100
