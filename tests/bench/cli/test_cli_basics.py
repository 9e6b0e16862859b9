from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys


def _bench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bench", *args], capture_output=True, text=True, timeout=120)


def test_ls_lists_datasets_and_presets():
    out = _bench("ls")
    assert out.returncode == 0, out.stderr
    for name in ("datasets:", "presets:", "tiny", "default"):
        assert name in out.stdout


def _subcommands(parser: argparse.ArgumentParser) -> set[str]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return set(action.choices)


def test_help_shows_existing_subcommands_only(monkeypatch):
    from bench import cli

    monkeypatch.setitem(cli.SUBCOMMANDS, "nosuch", "no_such_module")  # named, but no module
    present = {n for n, m in cli.SUBCOMMANDS.items() if importlib.util.find_spec(f"bench.cli.{m}") is not None}
    assert {"ls", "data", "pretrain", "import", "evaluate"} <= present and "nosuch" not in present
    assert _subcommands(cli.build_parser()) == present
    out = _bench("--help")
    assert out.returncode == 0
    listed = out.stdout.split("COMMAND", 1)[1]
    assert all(f"    {name} " in listed for name in present - {"nosuch"}), out.stdout


def test_unknown_dataset_exit_2_with_suggestion(tmp_path):
    out = _bench("data", "check", "--dataset", "chexpret", "--root", str(tmp_path))
    assert out.returncode == 2
    assert "Did you mean 'chexpert'" in out.stderr and "Traceback" not in out.stderr


def test_missing_root_exit_2(tmp_path):
    out = _bench("data", "check", "--dataset", "rsna", "--root", str(tmp_path / "nope"))
    assert out.returncode == 2 and "no such folder" in out.stderr


def test_bad_synth_args_exit_2(tmp_path):
    out = _bench("data", "synth", "--out", str(tmp_path), "--studies", "0")
    assert out.returncode == 2 and "--studies" in out.stderr
