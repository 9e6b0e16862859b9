"""Temporary files left behind by killed processes, removed on the next start.

Every temporary file or folder the project writes carries the writing process's id:
``.<name>.tmp-<PID>`` (checkpoints, ``log.jsonl``, the SynthCXR folder being generated) and
``.shard.<PID>.<random>.tmp`` (feature-cache shards). :func:`remove_stale` deletes the ones in a
folder whose process no longer exists on this machine; a live writer's files are left alone, and
so is anything whose name carries no process id.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from pathlib import Path

log = logging.getLogger(__name__)

PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"^\..+\.tmp-(?P<pid>\d+)$"),  # .last.pt.tmp-123, .synth-....tmp-123
    re.compile(r"^\.shard\.(?P<pid>\d+)\..*\.tmp$"),  # .shard.123.abcd.tmp
    re.compile(r"^\..+\.(?P<pid>\d+)-[0-9a-f]{8}\.tmp$"),  # bench.fileio's .last.pt.123-1a2b3c4d.tmp
)


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine (a process we may not signal counts as alive)."""
    if pid <= 0:
        return True  # never a real writer's id: leave such files alone
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OverflowError:
        return False
    return True


def writer_pid(name: str) -> int | None:
    """The process id in a temporary file's name, or None when the name is not one of ours."""
    for pattern in PATTERNS:
        match = pattern.match(name)
        if match:
            return int(match.group("pid"))
    return None


def remove_stale(folder: Path | str) -> list[Path]:
    """Delete the temporary files and folders directly in ``folder`` whose writer is gone; the
    removed paths. A missing folder, or one that cannot be listed, removes nothing."""
    folder = Path(folder)
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    removed: list[Path] = []
    for entry in entries:
        pid = writer_pid(entry.name)
        if pid is None or pid == os.getpid() or alive(pid):
            continue
        path = Path(entry.path)
        try:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(path)
            else:
                path.unlink()
        except OSError as exc:
            log.warning("could not remove the stale temporary %s (%s)", path, exc)
            continue
        removed.append(path)
    if removed:
        log.info("removed %d stale temporary file(s) of killed runs in %s", len(removed), folder)
    return removed
