"""The data layer's process pool never forks the calling process: a lock some thread of the caller
holds (torch's, tqdm's, a loader's) would stay held in a forked child for good, and a worker that
needs it would wait forever (the image cache's writer did, after scoring ran in the same process)."""

from __future__ import annotations

import os
import threading

from bench.data.base import process_pool

HELD = threading.Lock()


def _parent(_: int) -> int:
    return os.getppid()


def _takes_the_lock(_: int) -> bool:
    got = HELD.acquire(timeout=5)
    if got:
        HELD.release()
    return got


def test_workers_are_not_forked_from_the_caller():
    with process_pool(2) as pool:
        parents = set(pool.map(_parent, range(4)))
    assert os.getpid() not in parents


def test_a_lock_the_caller_holds_does_not_reach_the_workers():
    with HELD:  # as a thread of the caller would hold it at the instant of a fork
        with process_pool(2) as pool:
            got = list(pool.map(_takes_the_lock, range(2)))
    assert got == [True, True]

