from __future__ import annotations

import numpy as np
import pytest

from bench.data.check import check
from bench.data.rle import rle_encode

RSNA_HEADER = ["patientId", "x", "y", "width", "height", "Target"]


def plant_rsna(root, files):
    rows = [
        ["good-neg", "", "", "", "", "0"],
        ["good-pos", "1", "2", "3", "4", "1"],
        ["good-pos", "5", "6", "7", "8", "1"],
        ["gone", "1", "1", "2", "2", "1"],
        ["broken", "", "", "", "", "0"],
    ]
    files.csv(root / "stage_2_train_labels.csv", RSNA_HEADER, rows)
    for pid in ("good-neg", "good-pos", "broken"):
        files.dcm(root / "stage_2_train_images" / f"{pid}.dcm", 40, 40)
    files.corrupt(root / "stage_2_train_images" / "broken.dcm")
    return root


def test_counts_on_a_planted_dataset_with_missing_and_corrupt_images(tmp_path, files):
    report = check("rsna", plant_rsna(tmp_path, files), decode=True)
    assert (report["images"], report["missing"], report["unreadable"], report["usable"]) == (4, 1, 1, 2)
    assert report["missing_examples"] == [str(tmp_path / "stage_2_train_images" / "gone.dcm")]
    assert report["unreadable_examples"][0].startswith(str(tmp_path / "stage_2_train_images" / "broken.dcm"))
    assert report["labels"] == {"Pneumonia": {"positive": 1, "negative": 1, "uncertain": 0, "blank": 0}}
    assert (report["boxes"], report["images_with_boxes"]) == (2, 1)
    assert "reports" not in report and "mask_pixels" not in report


def test_header_only_check_does_not_decode(tmp_path, files):
    root = plant_rsna(tmp_path, files)
    # The corrupt file keeps a parseable header when cut late enough; header-only probing accepts it.
    data = (root / "stage_2_train_images" / "good-neg.dcm").read_bytes()
    (root / "stage_2_train_images" / "broken.dcm").write_bytes(data[:-100])
    assert check("rsna", root, full=False)["unreadable"] == 0
    assert check("rsna", root, full=True)["unreadable"] == 1


def test_masks_are_decoded_at_the_dicom_shape(tmp_path, files):
    height, width = 10, 16
    mask = np.zeros((height, width), bool)
    mask[1:4, 2:12] = True  # 30 pixels
    other = np.zeros_like(mask)
    other[3:6, 10:14] = True  # 12 pixels, 2 of them shared
    lines = ["ImageId, EncodedPixels", "a, -1", f"b, {rle_encode(mask)}", f"b,{rle_encode(other)}", "c,-1"]
    (tmp_path / "train-rle.csv").write_text("\n".join(lines) + "\n")
    for image_id in "abc":
        files.dcm(tmp_path / "dicom-images-train" / "s" / "r" / f"{image_id}.dcm", height, width)
    report = check("siim", tmp_path)
    assert (report["positive_masks"], report["mask_pixels"]) == (1, 40)
    assert report["labels"]["Pneumothorax"] == {"positive": 1, "negative": 2, "uncertain": 0, "blank": 0}


def test_rle_that_does_not_fit_the_image_is_a_problem(tmp_path, files):
    (tmp_path / "train-rle.csv").write_text("ImageId, EncodedPixels\na, 100 5\n")
    files.dcm(tmp_path / "dicom-images-train" / "a.dcm", 4, 4)
    report = check("siim", tmp_path)
    assert report["mask_pixels"] == 0 and "mask not decodable" in report["problems"][0]


def test_report_counts_for_mimic(tmp_path, files):
    meta = ["dicom_id", "subject_id", "study_id", "ViewPosition"]
    files.csv(
        tmp_path / "mimic-cxr-2.0.0-metadata.csv",
        meta,
        [["d1", "10000001", "50000001", "PA"], ["d2", "10000001", "50000002", "AP"]],
    )
    files.csv(
        tmp_path / "mimic-cxr-2.0.0-split.csv",
        ["dicom_id", "study_id", "subject_id", "split"],
        [["d1", "50000001", "10000001", "train"], ["d2", "50000002", "10000001", "train"]],
    )
    from bench.data.base import CHEXPERT_LABELS

    files.csv(
        tmp_path / "mimic-cxr-2.0.0-chexpert.csv",
        ["subject_id", "study_id", *CHEXPERT_LABELS],
        [["10000001", "50000001", "1.0", "-1.0"] + [""] * 12],
    )
    folder = tmp_path / "files" / "p10" / "p10000001"
    files.jpg(folder / "s50000001" / "d1.jpg")
    files.jpg(folder / "s50000002" / "d2.jpg")
    (folder / "s50000001.txt").write_text(" FINDINGS: A one. B two. C three. D four.\n")
    report = check("mimic-cxr", tmp_path)
    assert (report["reports"], report["no_report"], report["usable"]) == (1, 1, 1)
    assert report["labels"]["No Finding"]["positive"] == 1
    assert report["labels"]["Enlarged Cardiomediastinum"]["uncertain"] == 1
    assert report["labels"]["Edema"]["blank"] == 1


def test_nothing_usable_is_an_error(tmp_path, files):
    files.csv(tmp_path / "stage_2_train_labels.csv", RSNA_HEADER, [["gone", "", "", "", "", "0"]])
    with pytest.raises(ValueError, match="no usable image"):
        check("rsna", tmp_path)


def test_reader_options_pass_through(tmp_path, files):
    root = plant_rsna(tmp_path, files)
    assert check("rsna", root, check_files=False)["missing"] == 0  # then "gone" is unreadable instead
    with pytest.raises(KeyError, match="Valid datasets"):
        check("rnsa", root)



@pytest.mark.parametrize("decode", [False, True])
def test_one_meaning_of_each_key_and_headers_only_by_default(tmp_path, files, decode):
    from test_mimic import build

    root = build(tmp_path, files)
    folder = root / "files/p11/p11000011/s53000000"
    files.jpg(folder / "d6.jpg", 64, 64)
    data = (folder / "d6.jpg").read_bytes()
    (folder / "d6.jpg").write_bytes(data[: len(data) // 2])  # header intact, pixels cut
    (folder / "d8.jpg").write_bytes(b"")  # empty
    (root / "files/p10/p10000032/s50414267/d1.jpg").unlink()  # missing
    report = check("mimic-cxr", root, decode=decode, workers=2)
    # check reads no sentences: every frontal image of a study with a report file is listed
    assert report["listed"] == report["images"] == 5
    assert report["missing"] == 1
    assert report["unreadable"] == (2 if decode else 1)
    assert report["found"] == report["usable"] == report["listed"] - report["missing"] - report["unreadable"]
    assert any(e.startswith(str(folder / "d8.jpg")) for e in report["unreadable_examples"])
    assert (report["reports"], report["no_report"]) == (2 if decode else 3, 1)
