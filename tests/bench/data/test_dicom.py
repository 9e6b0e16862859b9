from __future__ import annotations

import numpy as np
import pydicom
import pytest

from bench.data.dicom import dicom_shape, read_dicom, write_dicom


def ramp(height: int, width: int, dtype=np.uint8) -> np.ndarray:
    top = np.iinfo(dtype).max
    return np.linspace(0, top, height * width).round().astype(dtype).reshape(height, width)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_round_trip_monochrome2(tmp_path, dtype):
    pixels = ramp(5, 7, dtype)
    path = write_dicom(tmp_path / "a.dcm", pixels, patient_id="p1")
    out = read_dicom(path)
    assert out.dtype == np.float32 and out.shape == (5, 7)
    assert np.allclose(out, pixels / np.iinfo(dtype).max, atol=1e-6)


def test_monochrome1_stores_inverted_pixels_and_reads_back_the_picture(tmp_path):
    pixels = ramp(4, 6)
    path = write_dicom(tmp_path / "m1.dcm", pixels, patient_id="p1", photometric="MONOCHROME1")
    ds = pydicom.dcmread(path)
    assert ds.PhotometricInterpretation == "MONOCHROME1"
    assert np.array_equal(ds.pixel_array, 255 - pixels)  # stored: high value = dark
    assert np.allclose(read_dicom(path), pixels / 255, atol=1e-6)


def test_header_has_the_attributes_the_datasets_use(tmp_path):
    path = write_dicom(
        tmp_path / "h.dcm",
        ramp(3, 3),
        patient_id="abc",
        sop_instance_uid="1.2.3.4",
        study_uid="1.2.3.5",
        series_uid="1.2.3.6",
        view_position="AP",
        extra={"PatientSex": "F"},
    )
    assert path.read_bytes()[128:132] == b"DICM"
    ds = pydicom.dcmread(path)
    assert ds.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
    assert (ds.PatientID, ds.SOPInstanceUID, ds.StudyInstanceUID, ds.SeriesInstanceUID) == (
        "abc",
        "1.2.3.4",
        "1.2.3.5",
        "1.2.3.6",
    )
    assert ds.file_meta.MediaStorageSOPInstanceUID == "1.2.3.4"
    assert (ds.ViewPosition, ds.PatientSex, ds.BitsStored) == ("AP", "F", 8)


def test_generated_uids_are_unique(tmp_path):
    a = pydicom.dcmread(write_dicom(tmp_path / "a.dcm", ramp(2, 2), patient_id="x"))
    b = pydicom.dcmread(write_dicom(tmp_path / "b.dcm", ramp(2, 2), patient_id="x"))
    assert a.SOPInstanceUID != b.SOPInstanceUID and a.StudyInstanceUID != b.StudyInstanceUID


def test_rescale_is_applied(tmp_path):
    pixels = ramp(3, 4)
    path = write_dicom(tmp_path / "r.dcm", pixels, patient_id="p", rescale=(2.0, -100.0))
    # The modality range is [-100, 410]; a linear rescale keeps relative values.
    assert np.allclose(read_dicom(path), pixels / 255, atol=1e-6)


def test_window_is_applied(tmp_path):
    pixels = np.array([[0, 100, 128, 156, 255]], dtype=np.uint8)
    path = write_dicom(tmp_path / "w.dcm", pixels, patient_id="p", window=(128, 56))
    out = read_dicom(path)
    assert out[0, 0] == 0.0 and out[0, 1] == 0.0  # below the window
    assert out[0, 4] == 1.0 and out[0, 3] > 0.95  # above / at the top of the window
    assert 0.4 < out[0, 2] < 0.6  # the centre maps to mid grey


def test_minmax_scaling_stretches(tmp_path):
    pixels = np.array([[50, 100], [150, 200]], dtype=np.uint8)
    path = write_dicom(tmp_path / "s.dcm", pixels, patient_id="p")
    assert np.allclose(read_dicom(path, scaling="minmax"), [[0, 1 / 3], [2 / 3, 1]], atol=1e-6)
    with pytest.raises(ValueError, match="minmax"):
        read_dicom(path, scaling="bogus")


def test_shape_reads_only_the_header(tmp_path):
    path = write_dicom(tmp_path / "n.dcm", ramp(5, 9), patient_id="p")
    data = path.read_bytes()
    path.write_bytes(data[:-20])  # pixel data truncated: the header still parses
    assert dicom_shape(path) == (5, 9)
    with pytest.raises(ValueError):  # pydicom: pixel data shorter than Rows x Columns
        read_dicom(path)


@pytest.mark.parametrize(
    "pixels, kwargs, match",
    [
        (np.zeros((2, 2), np.float32), {}, "uint8 or uint16"),
        (np.zeros((2, 2, 3), np.uint8), {}, "2-D"),
        (np.zeros((2, 2), np.uint8), {"photometric": "RGB"}, "MONOCHROME"),
    ],
)
def test_write_rejects_bad_input(tmp_path, pixels, kwargs, match):
    with pytest.raises(ValueError, match=match):
        write_dicom(tmp_path / "x.dcm", pixels, patient_id="p", **kwargs)
