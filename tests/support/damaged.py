"""Small datasets in each reader's real format with one damaged entry (the matrix tests use them).

Every builder writes two good images (``GOOD``) and a third entry damaged as ``damage`` says:
``missing`` / ``corrupt`` / ``empty`` (the third image file), ``dotdot`` / ``absolute`` (its path
cell names a file outside the root, which exists), or a reader-specific annotation damage.
Builders return the dataset root; ``outside`` is the folder the escaping cells point into.
"""

from __future__ import annotations

from pathlib import Path

from bench.data.base import CHEXPERT_LABELS
from bench.data.rle import rle_encode
from support.files import tiny_pixels, write_csv, write_dcm, write_jpg

GOOD = 2
USABLE = {"covidx": GOOD + 1}  # + its test list's one image
SIZE = 64
FILE_DAMAGE = ("missing", "corrupt", "empty")
PATH_DAMAGE = ("dotdot", "absolute")


def outside_file(root: Path, suffix: str) -> Path:
    """A readable image outside ``root`` that an escaping row points at."""
    target = root.parent / "outside" / f"secret{suffix}"
    (write_dcm if suffix == ".dcm" else write_jpg)(target, SIZE, SIZE)
    return target


def _escape(root: Path, image_dir: Path, suffix: str, damage: str) -> str:
    """The cell text naming the outside file, relative to ``image_dir`` (``..``) or absolute."""
    target = outside_file(root, suffix)
    if damage == "absolute":
        return str(target)
    ups = len(image_dir.relative_to(root.parent).parts)
    return "/".join([".."] * ups + ["outside", target.name])


def _spoil(path: Path, damage: str) -> None:
    if damage == "missing":
        path.unlink()
    elif damage == "corrupt":
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 3])
    elif damage == "empty":
        path.write_bytes(b"")


def chexpert(root: Path, damage: str) -> Path:
    rows = []
    for i in range(GOOD + 1):
        rel = f"CheXpert-v1.0-small/train/patient{i:05d}/study1/view1_frontal.jpg"
        write_jpg(root / rel, SIZE, SIZE)
        if i == GOOD and damage in PATH_DAMAGE:
            rel = _escape(root, root / "CheXpert-v1.0-small", ".jpg", damage)
        rows.append([rel, "Frontal", "1.0", *[""] * (len(CHEXPERT_LABELS) - 1)])
        if i == GOOD and damage in FILE_DAMAGE:
            _spoil(root / rows[-1][0], damage)
    write_csv(root / "CheXpert-v1.0-small" / "train.csv", ["Path", "Frontal/Lateral", *CHEXPERT_LABELS], rows)
    write_csv(root / "CheXpert-v1.0-small" / "valid.csv", ["Path", "Frontal/Lateral", *CHEXPERT_LABELS], [])
    return root


def rsna(root: Path, damage: str) -> Path:
    boxes = {"nan": ["nan", "1", "nan", "4"], "inf": ["inf", "1", "3", "4"], "negative": ["-300", "-300", "10", "10"],
             "outside": ["500", "500", "10", "10"], "empty_box": ["1", "2", "0", "4"], "wide": ["1", "1", "1e308", "4"]}
    rows = [[f"p{i}", "1", "2", "10", "12", "1"] for i in range(GOOD + 1)]
    if damage in boxes:
        rows[GOOD][1:5] = boxes[damage]
    if damage in PATH_DAMAGE:
        target = outside_file(root, ".dcm")
        rows[GOOD][0] = "../../outside/secret" if damage == "dotdot" else str(target)[:-4]
    write_csv(root / "stage_2_train_labels.csv", ["patientId", "x", "y", "width", "height", "Target"], rows)
    for i in range(GOOD + 1):
        path = write_dcm(root / "stage_2_train_images" / f"p{i}.dcm", SIZE, SIZE)
        if i == GOOD:
            _spoil(path, damage)
    return root


def object_cxr(root: Path, damage: str) -> Path:
    annotations = {"nan": "0 nan 1 5 5", "inf": "0 1 1 inf 5", "negative": "0 -300 -300 5 5",
                   "outside": "0 500 500 600 600", "only_semicolon": ";", "polygon_nan": "2 1 1 nan 5 5 5"}
    rows = [[f"{i:05d}.jpg", "0 1 2 10 12"] for i in range(GOOD + 1)]
    if damage in annotations:
        rows[GOOD][1] = annotations[damage]
    if damage in PATH_DAMAGE:
        rows[GOOD][0] = _escape(root, root / "train", ".jpg", damage)
    write_csv(root / "train.csv", ["image_name", "annotation"], rows)
    write_csv(root / "dev.csv", ["image_name", "annotation"], [])
    for i in range(GOOD + 1):
        path = write_jpg(root / "train" / f"{i:05d}.jpg", SIZE, SIZE)
        if i == GOOD:
            _spoil(path, damage)
    return root


def covidx(root: Path, damage: str) -> Path:
    lines = [f"p{i} {i:04d}.png normal src" for i in range(GOOD + 1)]
    if damage in PATH_DAMAGE:
        lines[GOOD] = f"p{GOOD} {_escape(root, root / 'train', '.jpg', damage)} normal src"
    body = ("\n".join(lines) + "\n").encode()
    if damage == "latin1":
        body += "p9 caf\u00e9.png normal src\n".encode("latin-1")
    (root / "train.txt").parent.mkdir(parents=True, exist_ok=True)
    (root / "train.txt").write_bytes(body)
    (root / "test.txt").write_text(f"p8 {GOOD + 1:04d}.png pneumonia src\n")
    for i in range(GOOD + 2):
        split = "test" if i == GOOD + 1 else "train"
        path = write_jpg(root / split / f"{i:04d}.png", SIZE, SIZE)
        if i == GOOD:
            _spoil(path, damage)
    return root


def siim(root: Path, damage: str) -> Path:
    mask = tiny_pixels(SIZE, SIZE) > 128
    rles = {"overflow": "99999999999999999999999 5", "wrap": "9223372036854775807 1 9223372036854775807 1",
            "too_long": f"0 {SIZE * SIZE + 1}", "odd": "1 2 3"}
    rows = [(f"1.2.{i}", rle_encode(mask)) for i in range(GOOD + 1)]
    if damage in rles:
        rows[GOOD] = (rows[GOOD][0], rles[damage])
    (root / "train-rle.csv").parent.mkdir(parents=True, exist_ok=True)
    (root / "train-rle.csv").write_text("ImageId, EncodedPixels\n" + "".join(f"{i}, {e}\n" for i, e in rows))
    for i in range(GOOD + 1):
        path = write_dcm(root / "dicom-images-train" / f"s{i}" / f"r{i}" / f"1.2.{i}.dcm", SIZE, SIZE)
        if i == GOOD:
            _spoil(path, damage)
    return root


def mimic(root: Path, damage: str) -> Path:
    report = "FINDINGS: Lungs are clear. Heart size normal. No effusion.\nIMPRESSION: No acute process. No pneumonia.\n"
    meta, split, labels = [], [], []
    for i in range(GOOD + 1):
        subject, study, dicom = f"1000000{i}", f"5000000{i}", f"d{i}"
        folder = root / "files" / f"p{subject[:2]}" / f"p{subject}" / f"s{study}"
        path = write_jpg(folder / f"{dicom}.jpg", SIZE, SIZE)
        (folder.parent / f"s{study}.txt").write_text(report)
        if i == GOOD and damage == "dotdot":
            dicom = "../../../../../outside/secret"
            outside_file(root, ".jpg")
        if i == GOOD and damage == "subject":
            subject = "10/../../../outside"
        if i == GOOD:
            _spoil(path, damage)
        meta.append([dicom, subject, study, "PA"])
        split.append([dicom, study, subject, "train"])
        labels.append([subject, study, "1.0", *[""] * (len(CHEXPERT_LABELS) - 1)])
    write_csv(root / "mimic-cxr-2.0.0-metadata.csv", ["dicom_id", "subject_id", "study_id", "ViewPosition"], meta)
    write_csv(root / "mimic-cxr-2.0.0-split.csv", ["dicom_id", "study_id", "subject_id", "split"], split)
    write_csv(root / "mimic-cxr-2.0.0-chexpert.csv", ["subject_id", "study_id", *CHEXPERT_LABELS], labels)
    return root


BUILDERS = {"chexpert": chexpert, "rsna": rsna, "object-cxr": object_cxr, "covidx": covidx, "siim": siim,
            "mimic-cxr": mimic}
# Per reader, the damages it can have (file damage applies to all; path cells to those with paths).
DAMAGES = {
    "chexpert": (*FILE_DAMAGE, *PATH_DAMAGE),
    "rsna": (*FILE_DAMAGE, *PATH_DAMAGE, "nan", "inf", "negative", "outside", "empty_box", "wide"),
    "object-cxr": (*FILE_DAMAGE, *PATH_DAMAGE, "nan", "inf", "negative", "outside", "only_semicolon", "polygon_nan"),
    "covidx": (*FILE_DAMAGE, *PATH_DAMAGE),
    "siim": (*FILE_DAMAGE, "overflow", "wrap", "too_long"),
    "mimic-cxr": (*FILE_DAMAGE, "dotdot", "subject"),
}
# Damage that makes the whole file unusable: a DataFormatError naming the file and row.
FATAL = {("covidx", "latin1"): "train.txt, row 4: not UTF-8", ("siim", "odd"): "train-rle.csv, row 4"}
