"""Pixel loading for every dataset: one function that dispatches on the file suffix.

Readers store only paths; tasks call :func:`load_image` when they need pixels. JPEG/PNG are read
through PIL as 8- or 16-bit grey, DICOM through :mod:`bench.data.dicom`. :func:`resize` is the
resize every consumer applies (bilinear, antialiased, torch's), :func:`grey_uint8` its 8-bit form
(the dense tasks' PNGs and the preprocessed image cache store it).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from bench.data import dicom

DICOM_SUFFIXES = (".dcm", ".dicom")


def _load_pil(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        if im.mode in ("I;16", "I;16B", "I;16L", "I"):
            # 16-bit grey (PNG 16-bit opens as "I;16" or, in older Pillow, "I")
            array = np.asarray(im, dtype=np.float64)
            return np.clip(array / 65535.0, 0.0, 1.0).astype(np.float32)
        return np.asarray(im.convert("L"), dtype=np.float32) / 255.0


def _load_dicom(path: Path) -> np.ndarray:
    return dicom.read_dicom(path)


def _size_pil(path: Path) -> tuple[int, int]:
    with Image.open(path) as im:  # lazy: reads the header only
        width, height = im.size
    return int(height), int(width)


def _is_dicom(path: Path) -> bool:
    return path.suffix.lower() in DICOM_SUFFIXES


LOADERS: dict[bool, Callable[[Path], np.ndarray]] = {True: _load_dicom, False: _load_pil}
SIZERS: dict[bool, Callable[[Path], tuple[int, int]]] = {True: dicom.dicom_shape, False: _size_pil}


def load_image(path: Path | str) -> np.ndarray:
    """Pixels of ``path`` as float32 HxW in [0, 1] (DICOM: rescale/VOI applied, MONOCHROME1 inverted)."""
    path = Path(path)
    return LOADERS[_is_dicom(path)](path)


def resize(array: np.ndarray, size: int, mode: str = "bilinear") -> np.ndarray:
    """HxW float -> size x size float32: bilinear antialiased (as the loaders resize images), or
    ``mode="area"`` (masks)."""
    import torch
    import torch.nn.functional as F

    x = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))[None, None]
    if x.shape[-2:] != (size, size):
        kwargs = {"align_corners": False, "antialias": True} if mode == "bilinear" else {}
        x = F.interpolate(x, size=(size, size), mode=mode, **kwargs)
    return x[0, 0].numpy()


def grey_uint8(pixels: np.ndarray, size: int) -> np.ndarray:
    """HxW float [0, 1] -> size x size uint8: :func:`resize`, then rounded to the nearest level."""
    return np.clip(np.rint(resize(pixels, size) * 255.0), 0, 255).astype(np.uint8)


def image_size(path: Path | str) -> tuple[int, int]:
    """(height, width) of ``path`` without decoding pixels (DICOM header or image header only)."""
    path = Path(path)
    return SIZERS[_is_dicom(path)](path)


def readable(path: Path | str) -> tuple[bool, str]:
    """Whether ``path`` decodes to a non-empty greyscale image; otherwise (False, reason)."""
    path = Path(path)
    if not path.is_file():
        return False, "missing"
    try:
        pixels = load_image(path)
    except Exception as exc:  # noqa: BLE001 - any decoder failure means "unreadable"
        return False, f"{type(exc).__name__}: {exc}"
    if pixels.ndim != 2 or pixels.size == 0:
        return False, f"unexpected pixel array shape {pixels.shape}"
    return True, ""


def header_readable(path: Path | str) -> tuple[bool, str]:
    """Whether ``path`` exists, is non-empty and has a readable header with a non-empty size
    (JPEG/PNG through PIL without decoding, DICOM without its pixel data); else (False, reason)."""
    path = Path(path)
    try:
        if path.stat().st_size == 0:
            return False, "empty file"
        height, width = image_size(path)
    except FileNotFoundError:
        return False, "missing"
    except Exception as exc:  # noqa: BLE001 - any header failure means "unreadable"
        return False, f"{type(exc).__name__}: {exc}"
    if height <= 0 or width <= 0:
        return False, f"header gives an empty image ({height}x{width})"
    return True, ""
