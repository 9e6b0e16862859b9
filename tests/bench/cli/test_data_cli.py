"""`bench data synth` twice gives identical files; `bench data check --json` counts them right.

The expected counts come straight from the generated files with the csv module (an oracle
independent of the readers), so a reader that drops or double-counts rows fails here.
"""

from __future__ import annotations

import csv
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def _bench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bench", *args], capture_output=True, text=True, timeout=600)


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def synth(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "a"
    res = _bench("data", "synth", "--out", str(out), "--studies", "60", "--seed", "3", "--size", "96")
    assert res.returncode == 0, res.stderr
    return out


def _check(root: Path, name: str) -> dict:
    res = _bench("data", "check", "--dataset", name, "--root", str(root / name), "--json")
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    for key in ("images", "missing", "unreadable", "labels"):
        assert key in report
    assert report["missing"] == 0 and report["unreadable"] == 0
    return report


def test_same_seed_gives_identical_files(synth, tmp_path):
    again = tmp_path / "b"
    res = _bench("data", "synth", "--out", str(again), "--studies", "60", "--seed", "3", "--size", "96")
    assert res.returncode == 0, res.stderr
    first, second = _digest(synth), _digest(again)
    assert len(first) > 100 and first == second
    other = tmp_path / "c"
    _bench("data", "synth", "--out", str(other), "--studies", "60", "--seed", "4", "--size", "96")
    assert _digest(other) != first


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return [{k.strip(): v for k, v in row.items()} for row in csv.DictReader(fh)]


def test_check_rsna_counts(synth):
    rows = _rows(synth / "rsna" / "stage_2_train_labels.csv")
    report = _check(synth, "rsna")
    assert report["images"] == len({r["patientId"] for r in rows})
    assert report["boxes"] == sum(r["Target"] == "1" for r in rows)
    assert report["labels"]["Pneumonia"]["positive"] == len({r["patientId"] for r in rows if r["Target"] == "1"})


def test_check_siim_counts(synth):
    rows = _rows(synth / "siim" / "train-rle.csv")
    report = _check(synth, "siim")
    positive = {r["ImageId"] for r in rows if r["EncodedPixels"].strip() != "-1"}
    assert report["images"] == len({r["ImageId"] for r in rows})
    assert report["positive_masks"] == len(positive)
    assert report["mask_pixels"] > 0


def test_check_chexpert_counts(synth):
    root = synth / "chexpert" / "CheXpert-v1.0-small"
    rows = [r for f in ("train.csv", "valid.csv") for r in _rows(root / f) if r["Frontal/Lateral"] == "Frontal"]
    report = _check(synth, "chexpert")
    assert report["images"] == len(rows)
    for cls in ("Atelectasis", "Edema", "Pleural Effusion"):
        counts = report["labels"][cls]
        assert counts["positive"] == sum(r[cls] == "1.0" for r in rows)
        assert counts["uncertain"] == sum(r[cls] == "-1.0" for r in rows)
        assert counts["negative"] == sum(r[cls] == "0.0" for r in rows)


def test_check_mimic_counts(synth):
    root = synth / "mimic-cxr"
    meta = _rows(root / "mimic-cxr-2.0.0-metadata.csv")
    report = _check(synth, "mimic-cxr")
    frontal = [m for m in meta if m["ViewPosition"] in ("PA", "AP")]
    # every SynthCXR study has >= 4 report sentences, so no frontal image is dropped
    assert report["counts"].get("dropped_few_sentences", 0) == 0
    assert report["images"] == len(frontal) < len(meta)
    assert report["reports"] == len({m["study_id"] for m in frontal}) and report.get("no_report", 0) == 0


def test_check_covidx_and_object_cxr_counts(synth):
    lines = [
        ln.split()
        for f in ("train.txt", "test.txt")
        for ln in (synth / "covidx" / f).read_text().splitlines()
        if ln.strip()
    ]
    report = _check(synth, "covidx")
    assert report["images"] == len(lines)
    assert report["labels"]["COVID-19"]["positive"] == sum(parts[2] == "COVID-19" for parts in lines)
    rows = _rows(synth / "object-cxr" / "train.csv") + _rows(synth / "object-cxr" / "dev.csv")
    report = _check(synth, "object-cxr")
    assert report["images"] == len(rows)
    assert report["boxes"] == sum(len([o for o in r["annotation"].split(";") if o.strip()]) for r in rows)
