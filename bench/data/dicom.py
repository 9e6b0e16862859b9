"""Reading and writing the single-frame greyscale DICOMs of RSNA and SIIM.

:func:`read_dicom` returns display values in [0, 1]: the modality LUT (RescaleSlope/Intercept) and
the VOI LUT or window are applied when the file has them, and MONOCHROME1 images (where a high
stored value means dark) are inverted. :func:`write_dicom` writes a minimal valid secondary-capture
file (explicit VR little endian), which is what the SynthCXR generator stores.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.pixels import apply_modality_lut, apply_voi_lut
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, ExplicitVRLittleEndian, generate_uid

from bench.config import ConfigError

SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
PHOTOMETRIC = ("MONOCHROME1", "MONOCHROME2")


# -- reading ------------------------------------------------------------------------------------
def _stored_range(ds: Dataset) -> tuple[float, float]:
    bits = int(ds.get("BitsStored", ds.get("BitsAllocated", 8)))
    if int(ds.get("PixelRepresentation", 0)) == 0:
        return 0.0, float(2**bits - 1)
    return float(-(2 ** (bits - 1))), float(2 ** (bits - 1) - 1)


def _modality_range(ds: Dataset) -> tuple[float, float]:
    """Range of values after the modality LUT (the same rule pydicom's windowing uses)."""
    if ds.get("ModalityLUTSequence"):
        bits = int(ds.ModalityLUTSequence[0].LUTDescriptor[2])
        return 0.0, float(2**bits - 1)
    lo, hi = _stored_range(ds)
    slope, intercept = ds.get("RescaleSlope"), ds.get("RescaleIntercept")
    if slope is not None and intercept is not None:
        a, b = lo * float(slope) + float(intercept), hi * float(slope) + float(intercept)
        return min(a, b), max(a, b)
    return lo, hi


def _display_range(ds: Dataset) -> tuple[float, float]:
    """Range of values after modality and VOI transforms."""
    if ds.get("VOILUTSequence"):
        bits = int(ds.VOILUTSequence[0].LUTDescriptor[2])
        return 0.0, float(2**bits - 1)
    return _modality_range(ds)


def _scale_range(values: np.ndarray, ds: Dataset) -> np.ndarray:
    lo, hi = _display_range(ds)
    return (values - lo) / max(hi - lo, 1e-12)


def _scale_minmax(values: np.ndarray, ds: Dataset) -> np.ndarray:
    lo, hi = float(values.min()), float(values.max())
    return (values - lo) / (hi - lo) if hi > lo else np.zeros_like(values)


# How display values become [0, 1]: "range" divides by the range the header allows (exact for files
# that use their bit depth, e.g. 8-bit RSNA/SIIM); "minmax" stretches each image (BenchX style).
SCALINGS: dict[str, Callable[[np.ndarray, Dataset], np.ndarray]] = {
    "range": _scale_range,
    "minmax": _scale_minmax,
}


def to_display(ds: Dataset, scaling: str = "range") -> np.ndarray:
    """Pixel data of an open dataset as float32 HxW in [0, 1], bright = dense (bone)."""
    if scaling not in SCALINGS:
        raise ConfigError(f"unknown DICOM scaling {scaling!r}; expected one of {sorted(SCALINGS)}")
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).strip()
    if photometric not in PHOTOMETRIC:
        raise ValueError(
            f"unsupported PhotometricInterpretation {photometric!r}; expected one of {PHOTOMETRIC}"
        )
    pixels = ds.pixel_array
    if pixels.ndim != 2:
        raise ValueError(f"expected a single-frame greyscale image, got pixel array of shape {pixels.shape}")
    values = np.asarray(apply_modality_lut(pixels, ds), dtype=np.float64)
    if ds.get("VOILUTSequence") or ds.get("WindowCenter") is not None:
        values = np.asarray(apply_voi_lut(values, ds, prefer_lut=True), dtype=np.float64)
    out = np.clip(SCALINGS[scaling](values, ds), 0.0, 1.0)
    if photometric == "MONOCHROME1":
        out = 1.0 - out
    return out.astype(np.float32)


def read_dicom(path: Path | str, scaling: str = "range") -> np.ndarray:
    """Read a greyscale DICOM as float32 HxW in [0, 1] (rescale + VOI applied, MONOCHROME1 inverted)."""
    return to_display(pydicom.dcmread(str(path)), scaling)


def dicom_shape(path: Path | str) -> tuple[int, int]:
    """(rows, columns) from the header only; the pixel data is not read."""
    ds = pydicom.dcmread(str(path), stop_before_pixels=True)
    try:
        return int(ds.Rows), int(ds.Columns)
    except AttributeError:
        raise ValueError(f"{path}: DICOM header has no Rows/Columns") from None


# -- writing ------------------------------------------------------------------------------------
def _pixel_module(ds: Dataset, pixels: np.ndarray, photometric: str) -> None:
    if pixels.ndim != 2:
        raise ValueError(f"pixels must be 2-D (rows, columns), got shape {pixels.shape}")
    if pixels.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"pixels must be uint8 or uint16, got {pixels.dtype}")
    if photometric not in PHOTOMETRIC:
        raise ValueError(f"photometric must be one of {PHOTOMETRIC}, got {photometric!r}")
    bits = pixels.dtype.itemsize * 8
    stored = pixels
    if photometric == "MONOCHROME1":  # high stored value = dark: store the inverted image
        stored = (np.iinfo(pixels.dtype).max - pixels).astype(pixels.dtype)
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.Rows, ds.Columns = int(pixels.shape[0]), int(pixels.shape[1])
    ds.BitsAllocated = bits
    ds.BitsStored = bits
    ds.HighBit = bits - 1
    ds.PixelRepresentation = 0
    ds.PixelData = np.ascontiguousarray(stored).astype(stored.dtype.newbyteorder("<")).tobytes()


def write_dicom(
    path: Path | str,
    pixels: np.ndarray,
    *,
    patient_id: str,
    sop_instance_uid: str | None = None,
    study_uid: str | None = None,
    series_uid: str | None = None,
    photometric: str = "MONOCHROME2",
    view_position: str = "PA",
    modality: str = "CR",
    window: tuple[float, float] | None = None,
    rescale: tuple[float, float] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``pixels`` (uint8 or uint16, rows x columns, display orientation: bright = dense) as a
    secondary-capture DICOM. MONOCHROME1 stores the inverted values so that readers get the same
    picture back. ``window`` = (center, width) and ``rescale`` = (slope, intercept) add those
    attributes; ``extra`` sets further keywords (e.g. PatientSex). Missing UIDs are generated."""
    path = Path(path)
    pixels = np.asarray(pixels)
    sop_instance_uid = sop_instance_uid or generate_uid()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SECONDARY_CAPTURE
    meta.MediaStorageSOPInstanceUID = sop_instance_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = SECONDARY_CAPTURE
    ds.SOPInstanceUID = sop_instance_uid
    ds.StudyInstanceUID = study_uid or generate_uid()
    ds.SeriesInstanceUID = series_uid or generate_uid()
    ds.PatientID = str(patient_id)
    ds.PatientName = str(patient_id)
    ds.Modality = modality
    ds.ConversionType = "WSD"
    ds.ViewPosition = view_position
    ds.BodyPartExamined = "CHEST"
    today = _dt.date.today().strftime("%Y%m%d")
    ds.StudyDate = ds.ContentDate = today
    ds.SeriesNumber, ds.InstanceNumber = 1, 1
    _pixel_module(ds, pixels, photometric)
    if rescale is not None:
        ds.RescaleSlope, ds.RescaleIntercept = float(rescale[0]), float(rescale[1])
    if window is not None:
        ds.WindowCenter, ds.WindowWidth = float(window[0]), float(window[1])
    for keyword, value in (extra or {}).items():
        setattr(ds, keyword, value)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(str(path), enforce_file_format=True)
    return path
