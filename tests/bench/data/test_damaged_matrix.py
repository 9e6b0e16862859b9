"""The damaged-dataset matrix: every reader, every kind of damage, through ``data check``.

A damaged entry is never counted usable; it shows up as missing, unreadable or a problem naming
the file (and row); the good entries stay usable. Damage that makes a whole file unreadable is a
DataFormatError naming the file and row (exit 2 from the CLI).
"""

from __future__ import annotations

import json

import pytest
from support import damaged

from bench.cli import main
from bench.data.base import DataFormatError
from bench.data.check import check

CASES = [(name, damage) for name, kinds in damaged.DAMAGES.items() for damage in kinds]
ANNOTATION_ONLY = {"siim": ("overflow", "wrap", "too_long")}  # the image is fine; its mask is the problem


@pytest.mark.parametrize("name, damage", CASES, ids=[f"{n}-{d}" for n, d in CASES])
def test_damage_is_counted_never_used(tmp_path, name, damage):
    root = damaged.BUILDERS[name](tmp_path / "root", damage)
    report = check(name, root, decode=damage == "corrupt")  # a corrupt body behind a good header needs --decode
    flagged = report["missing"] + report["unreadable"] + report["problem_count"]
    assert flagged >= 1, report
    if damage in ANNOTATION_ONLY.get(name, ()):
        assert report["usable"] == damaged.GOOD + 1
        assert any("train-rle.csv, row 4" in p and "1.2.2" in p for p in report["problems"]), report["problems"]
        return
    assert report["usable"] == damaged.USABLE.get(name, damaged.GOOD), report
    if damage in damaged.FILE_DAMAGE:
        assert report["missing" if damage == "missing" else "unreadable"] == 1
    elif damage in ("dotdot", "subject") or (damage == "absolute" and name != "rsna"):
        assert report["counts"]["escaping_path"] == 1 and "leaves the dataset root" in report["problems"][0]
    elif damage == "absolute":  # the patient id is a file name inside the images folder: not found there
        assert report["missing"] == 1
    else:  # a bad box or annotation
        assert any(k in report["counts"] for k in ("invalid_boxes", "malformed_objects", "no_valid_box")), report


@pytest.mark.parametrize("case", sorted(damaged.FATAL), ids=lambda c: "-".join(c))
def test_unreadable_files_are_a_data_format_error_naming_file_and_row(tmp_path, case):
    name, damage = case
    root = damaged.BUILDERS[name](tmp_path / "root", damage)
    with pytest.raises(DataFormatError, match=damaged.FATAL[case]):
        check(name, root)


def test_cli_reports_json_and_exits_2_when_nothing_is_usable(tmp_path, capsys):
    root = damaged.rsna(tmp_path / "root", "nan")
    assert main(["data", "check", "--dataset", "rsna", "--root", str(root), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["counts"]["invalid_boxes"] == 1 and report["usable"] == damaged.GOOD
    for image in (root / "stage_2_train_images").glob("*.dcm"):
        image.write_bytes(b"")
    assert main(["data", "check", "--dataset", "rsna", "--root", str(root)]) == 2
    err = capsys.readouterr().err
    assert "no usable image" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_boxes_are_clipped_within_the_tolerance(tmp_path):
    root = damaged.object_cxr(tmp_path / "root", "missing")
    (root / "train.csv").write_text("image_name,annotation\n00000.jpg,0 -1 -1 65 30\n00001.jpg,0 -5 1 10 10\n")
    report = check("object-cxr", root)
    from bench.data.object_cxr import read

    table = read(root)
    assert table.records[0].boxes == ((0.0, 0.0, 64.0, 30.0),)  # 1 px past the edge: clipped
    assert len(table.records) == 1 and table.counts["invalid_boxes"] == 1  # 5 px (7.8 %) past: refused
    assert report["problem_count"] == 2  # the refused box, and its image left without a box


def test_a_detection_run_with_no_valid_ground_truth_is_a_clear_error(tmp_path):
    from types import SimpleNamespace

    from bench.data.base import Record
    from tasks import detection

    records = [Record(key=f"k{i}", image=tmp_path / f"{i}.jpg", split="train") for i in range(4)]
    data = SimpleNamespace(dataset="rsna", fraction=1.0, seed=0, records=lambda split: records)
    cfg = SimpleNamespace(eval=SimpleNamespace(det_protocol="retinanet-frozen", finetune=False),
                          model=SimpleNamespace(image_size=32))
    with pytest.raises(ValueError, match="no ground-truth box"):
        detection.evaluate(None, data, cfg)
