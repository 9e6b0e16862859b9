"""What a run records about where it ran: package versions, the git commit, the device.

Results (:mod:`bench.results`) and checkpoints (:mod:`bench.checkpoint`) record the same
:data:`PACKAGES`. Imports nothing of the project; torch only inside :func:`device_name`.
"""

from __future__ import annotations

import platform
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

PACKAGES = (
    "medvlp-bench",
    "torch",
    "torchvision",
    "transformers",
    "torchmetrics",
    "scikit-learn",
    "numpy",
    "mmcv",
    "mmengine",
    "mmdet",
    "mmsegmentation",
)


def package_versions() -> dict[str, str]:
    """The Python version and the installed version of every package of :data:`PACKAGES`."""
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            continue
    return out


def environment() -> dict[str, Any]:
    """Git commit, package versions and device, recorded in every result."""
    return {"git_commit": git_commit(), "packages": package_versions(), "device": device_name()}


def git_commit() -> str | None:
    """The checkout's HEAD commit (``-dirty`` when tracked files changed), or None outside git."""
    root = Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    dirty = subprocess.run(
        ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
        timeout=5,
    ).stdout.strip()
    return out.stdout.strip() + ("-dirty" if dirty else "")


def device_name() -> str:
    try:
        import torch

        if torch.cuda.is_available():
            return f"cuda:{torch.cuda.get_device_name(0)}"
        return f"cpu:{platform.processor() or platform.machine()} x{torch.get_num_threads()} threads"
    except ImportError:
        return f"cpu:{platform.machine()}"
