"""Hashes that name things: a list of keys -> one hex digest."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence


def keys_hash(keys: Sequence[str]) -> str:
    """sha256 of the keys, one per line, in the given order (names a cache shard, a split set)."""
    return hashlib.sha256("\n".join(keys).encode()).hexdigest()
