"""Files whose pickle would run code: what a planted checkpoint, weights file or cache shard looks like.

:func:`code_carrying` writes ``torch.save(content)`` where ``content`` holds, in place of a tensor,
an object whose unpickling calls ``open(marker, "w")`` (pickled as ``io.open``): ``marker`` appearing means the
file's code ran. A weights-only load refuses that global and creates nothing.
"""

from __future__ import annotations

import builtins
from pathlib import Path
from typing import Any

import torch


class Payload:
    """Unpickles as ``open(marker, "w")`` (creating ``marker``)."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        return builtins.open, (self.marker, "w")


def code_carrying(path: Path, marker: Path, content: dict[str, Any] | None = None, at: str = "model") -> Path:
    """``path`` holding ``content`` (default: a medvlp-bench checkpoint header) with
    ``content[at]`` replaced by ``{"weight": Payload(marker)}``."""
    from bench.checkpoint import FORMAT

    content = dict(content or {"format": FORMAT, "method": "planted", "drop": [], "config": {}, "step": 0})
    content[at] = {"weight": Payload(marker)}
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(content, path)
    return path
