from __future__ import annotations

import numpy as np
import pytest

from bench.data.base import DataFormatError
from bench.data.rle import merge_rles, rle_encode
from bench.data.siim import read

ID_A = "1.2.276.0.7230010.3.1.4.8323329.5597.1517875188.959090"
ID_B = "1.2.276.0.7230010.3.1.4.8323329.12515.1517875239.501137"
ID_C = "1.2.276.0.7230010.3.1.4.8323329.4904.1517875185.355709"


def write_rle_csv(path, rows):
    # Exactly the Kaggle header: a space before EncodedPixels; values also carry a leading space.
    path.write_text("ImageId, EncodedPixels\n" + "".join(f"{i},{e}\n" for i, e in rows))


def build(root, files, height=12, width=20):
    mask_1 = np.zeros((height, width), bool)
    mask_1[2:5, 3:9] = True
    mask_2 = np.zeros((height, width), bool)
    mask_2[6:10, 12:15] = True
    mask_2[4, 7] = True  # overlaps mask_1
    rows = [(ID_A, " -1"), (ID_B, f" {rle_encode(mask_1)}"), (ID_B, rle_encode(mask_2)), (ID_C, "-1")]
    write_rle_csv(root / "train-rle.csv", rows)
    for image_id in (ID_A, ID_B, ID_C):
        study, series = f"{image_id}.study", f"{image_id}.series"
        files.dcm(root / "dicom-images-train" / study / series / f"{image_id}.dcm", height, width)
    return root, mask_1 | mask_2


def test_leading_space_header_minus_one_spellings_and_several_rows(tmp_path, files):
    root, union = build(tmp_path, files)
    table = read(root)
    assert [r.key for r in table.records] == [ID_A, ID_B, ID_C]
    a, b, c = table.records
    assert a.rle == () and a.labels == {"Pneumothorax": 0.0} and c.labels == {"Pneumothorax": 0.0}
    assert len(b.rle) == 2 and b.labels == {"Pneumothorax": 1.0} and b.positive
    assert np.array_equal(merge_rles(b.rle, 12, 20), union)  # non-square, rows OR-ed
    assert b.image.name == f"{ID_B}.dcm" and b.image.parent.parent.parent.name == "dicom-images-train"
    assert table.problems == [] and not table.missing


def test_images_absent_from_the_tree_are_missing(tmp_path, files):
    root, _ = build(tmp_path, files)
    dcm = next((root / "dicom-images-train").rglob(f"{ID_C}.dcm"))
    dcm.unlink()
    files.dcm(root / "dicom-images-train" / "x" / "y" / "unlisted.dcm")
    table = read(root)
    assert [r.key for r in table.records] == [ID_A, ID_B]
    assert [p.name for p in table.missing] == [f"{ID_C}.dcm"]
    assert table.counts == {"missing_image": 1, "unlisted_images": 1}
    assert table.problems == [f"{table.missing[0]}: image missing"]


def test_missing_dicom_folder_is_a_problem_not_a_crash(tmp_path):
    write_rle_csv(tmp_path / "train-rle.csv", [(ID_A, "-1")])
    table = read(tmp_path)
    assert len(table) == 0 and len(table.missing) == 1 and "DICOM folder missing" in table.problems[0]


@pytest.mark.parametrize("bad", [" 1 2 3", "1 x", "-3 4"])
def test_malformed_rle_names_file_and_row(tmp_path, bad):
    write_rle_csv(tmp_path / "train-rle.csv", [(ID_A, "-1"), (ID_B, bad)])
    with pytest.raises(DataFormatError, match=r"train-rle.csv, row 3: EncodedPixels"):
        read(tmp_path)


def test_wrong_header_is_an_error(tmp_path):
    (tmp_path / "train-rle.csv").write_text("ImageId,Mask\nx,-1\n")
    with pytest.raises(DataFormatError, match="EncodedPixels"):
        read(tmp_path)
