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

EMPTY = "-1"


def _parse(rle: str, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Absolute run starts and ends (exclusive) of a relative RLE string."""
    if not isinstance(rle, str):
        raise ValueError(f"RLE must be a string of 'offset length' pairs or '-1', got {type(rle).__name__}")
    text = rle.strip()
    if text in ("", EMPTY):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    try:
        values = np.array([int(tok) for tok in text.split()], dtype=np.int64)
    except ValueError:
        raise ValueError(
            f"malformed RLE {_short(text)}: expected whitespace-separated integers 'offset length ...' or '-1'"
        ) from None
    if values.size % 2:
        raise ValueError(
            f"malformed RLE {_short(text)}: odd number of values ({values.size}); expected pairs"
        )
    if (values < 0).any():
        raise ValueError(f"malformed RLE {_short(text)}: negative offset or length; expected values >= 0")
    offsets, lengths = values[0::2], values[1::2]
    # start_i = sum(offsets[:i+1]) + sum(lengths[:i])
    starts = np.cumsum(offsets) + np.concatenate(([0], np.cumsum(lengths)[:-1]))
    ends = starts + lengths
    if ends.size and int(ends[-1]) > size:
        raise ValueError(
            f"malformed RLE {_short(text)}: runs reach pixel {int(ends[-1])} but the image has only {size} pixels"
        )
    return starts, ends


def _short(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _check_shape(height: int, width: int) -> None:
    if int(height) <= 0 or int(width) <= 0:
        raise ValueError(f"mask shape must be positive, got height={height}, width={width}")


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
