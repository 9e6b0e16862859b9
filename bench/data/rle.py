"""SIIM-ACR run-length encoding: relative offsets, column-major order.

The SIIM ``train-rle.csv`` stores each mask as pairs ``offset length``. The first offset counts
from pixel 0; every later offset counts from the end of the previous run. Pixels are numbered
column by column (the Kaggle ``mask_functions.rle2mask`` fills a flat array and returns
``reshape(width, height)``, which callers transpose), so the flat index of pixel ``(row, col)`` is
``col * height + row``. An image without pneumothorax is encoded as ``-1`` (often ``" -1"``).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from bench.data.base import DataFormatError, Record

EMPTY = "-1"


class RLEError(ValueError):
    """An RLE string that is malformed or does not fit the image it is decoded for."""


def _parse(rle: str, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Absolute run starts and ends (exclusive) of a relative RLE string."""
    if not isinstance(rle, str):
        raise RLEError(f"RLE must be a string of 'offset length' pairs or '-1', got {type(rle).__name__}")
    text = rle.strip()
    if text in ("", EMPTY):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    try:
        numbers = [int(tok) for tok in text.split()]
    except ValueError:
        raise RLEError(
            f"malformed RLE {_short(text)}: expected whitespace-separated integers 'offset length ...' or '-1'"
        ) from None
    if len(numbers) % 2:
        raise RLEError(
            f"malformed RLE {_short(text)}: odd number of values ({len(numbers)}); expected pairs"
        )
    if any(v < 0 for v in numbers):
        raise RLEError(f"malformed RLE {_short(text)}: negative offset or length; expected values >= 0")
    reach = sum(numbers)  # exact (Python ints): where the last run ends
    if reach > size:
        raise RLEError(
            f"malformed RLE {_short(text)}: runs reach pixel {reach} but the image has only {size} pixels"
        )
    values = np.array(numbers, dtype=np.int64)  # every partial sum is <= size: no overflow below
    offsets, lengths = values[0::2], values[1::2]
    # start_i = sum(offsets[:i+1]) + sum(lengths[:i])
    starts = np.cumsum(offsets) + np.concatenate(([0], np.cumsum(lengths)[:-1]))
    return starts, starts + lengths


def _short(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _check_shape(height: int, width: int) -> None:
    if int(height) <= 0 or int(width) <= 0:
        raise RLEError(f"mask shape must be positive, got height={height}, width={width}")


def rle_decode(rle: str, height: int, width: int) -> np.ndarray:
    """Decode one relative column-major RLE string to a bool mask of shape (height, width)."""
    _check_shape(height, width)
    size = int(height) * int(width)
    starts, ends = _parse(rle, size)
    delta = np.zeros(size + 1, dtype=np.int32)
    np.add.at(delta, starts, 1)
    np.add.at(delta, ends, -1)
    flat = np.cumsum(delta[:-1]) > 0
    # Column-major: the flat array holds column after column (reshape(width, height).T).
    return flat.reshape(int(width), int(height)).T.copy()


def merge_rles(rles: Iterable[str], height: int, width: int) -> np.ndarray:
    """OR together several RLE rows of one image (``-1`` rows contribute nothing)."""
    _check_shape(height, width)
    mask = np.zeros((int(height), int(width)), dtype=bool)
    for rle in rles:
        mask |= rle_decode(rle, height, width)
    return mask


def record_mask(record: Record, height: int, width: int) -> np.ndarray:
    """The OR of ``record.rle`` at (height, width); :class:`DataFormatError` naming the annotation
    file, its row and the image when a row does not decode (the SIIM reader stores where each came
    from in ``meta["rle_source"]`` and ``meta["rle_rows"]``)."""
    _check_shape(height, width)
    mask = np.zeros((int(height), int(width)), dtype=bool)
    rows = record.meta.get("rle_rows") or [None] * len(record.rle)
    for rle, row in zip(record.rle, rows):
        try:
            mask |= rle_decode(rle, height, width)
        except RLEError as exc:
            source = record.meta.get("rle_source", record.image)
            raise DataFormatError(source, f"mask of image {record.key} ({height}x{width}): {exc}", row) from None
    return mask


def rle_encode(mask: np.ndarray) -> str:
    """Encode a 2-D mask (nonzero = foreground) as relative column-major RLE; ``"-1"`` when empty."""
    array = np.asarray(mask)
    if array.ndim != 2:
        raise ValueError(f"mask must be 2-D (height, width), got shape {array.shape}")
    flat = array.T.reshape(-1) != 0
    if not flat.any():
        return EMPTY
    padded = np.concatenate(([False], flat, [False])).astype(np.int8)
    change = np.flatnonzero(np.diff(padded))
    starts, ends = change[0::2], change[1::2]
    lengths = ends - starts
    prev_ends = np.concatenate(([0], ends[:-1]))
    offsets = starts - prev_ends
    pairs = np.stack([offsets, lengths], axis=1).reshape(-1)
    return " ".join(str(int(v)) for v in pairs)


def mask_pixels(rles: Iterable[str], height: int, width: int) -> int:
    """Number of foreground pixels after OR-ing ``rles``."""
    return int(merge_rles(rles, height, width).sum())
