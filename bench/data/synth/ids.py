"""Identifiers derived from the seed (never from clocks or global randomness)."""

from __future__ import annotations

import datetime as _dt
import hashlib


def _digest(seed: int, parts: tuple[object, ...]) -> bytes:
    text = ":".join(str(p) for p in (seed, *parts))
    return hashlib.sha256(text.encode()).digest()


def dicom_uid(seed: int, *parts: object) -> str:
    """A DICOM UID under the UUID-derived root 2.25 (at most 64 characters)."""
    return "2.25." + str(int.from_bytes(_digest(seed, parts)[:15], "big"))


def hex_id(seed: int, *parts: object, groups: tuple[int, ...] = (8, 4, 4, 4, 12)) -> str:
    """Hex groups joined by '-': UUID-like by default, MIMIC dicom_id with groups (8,)*5."""
    text = _digest(seed, parts).hex()
    out, at = [], 0
    for n in groups:
        out.append(text[at : at + n])
        at += n
    return "-".join(out)


def number(seed: int, *parts: object, low: int, high: int) -> int:
    """An integer in [low, high) from the seed and parts."""
    return low + int.from_bytes(_digest(seed, parts)[:8], "big") % (high - low)


def permuted(index: int, seed: int, low: int, span: int) -> int:
    """Distinct numbers for distinct indexes below ``span``: low + (index * P + offset) mod span."""
    prime = 7_654_321  # coprime with powers of ten
    offset = number(seed, "offset", low, low=0, high=span)
    return low + (index * prime + offset) % span


def study_date(seed: int, *parts: object) -> tuple[str, str]:
    """(YYYYMMDD, HHMMSS.fff) in MIMIC's shifted future years."""
    day = _dt.date(2110, 1, 1) + _dt.timedelta(days=number(seed, *parts, "day", low=0, high=365 * 70))
    t = number(seed, *parts, "time", low=0, high=86_400_000)
    return day.strftime(
        "%Y%m%d"
    ), f"{t // 3_600_000:02d}{t // 60_000 % 60:02d}{t // 1000 % 60:02d}.{t % 1000:03d}"
