"""COVIDx (v9A as used by MGCA, or CXR-2/3/4): space-separated split files, images per split folder.

Each line is ``patient_id filename class source``. Extra trailing columns are tolerated, and so are
patient ids with spaces: the class is the first recognised class name from the third token on, the
filename the token before it. Classes are either three (normal/pneumonia/COVID-19, MGCA) or two
(negative/positive, CXR-4); a file set must use one scheme. Labels are one-hot over
``Table.classes``; ``meta["target"]`` holds the class index.
"""

from __future__ import annotations

from pathlib import Path

from bench.data.base import DataFormatError, Record, Table
from bench.data.csvfile import EscapingPathError, bump, inside, keep_if_present, note_escape

NAME = "covidx"
SCHEMES: dict[str, tuple[str, ...]] = {
    "3-class": ("normal", "pneumonia", "COVID-19"),
    "binary": ("negative", "positive"),
}
CANONICAL = {name.lower(): name for classes in SCHEMES.values() for name in classes}
CANONICAL.update({"covid19": "COVID-19", "covid": "COVID-19"})
# Split -> candidate file names, first found wins (train_COVIDx*.txt is matched by glob too).
SPLIT_FILES: dict[str, tuple[str, ...]] = {
    "train": ("train.txt", "train_COVIDx9A.txt"),
    "val": ("val.txt", "val_COVIDx9A.txt"),
    "test": ("test.txt", "test_COVIDx9A.txt"),
}
REQUIRED = ("train", "test")


def split_file(root: Path, split: str) -> Path | None:
    for name in SPLIT_FILES[split]:
        if (root / name).is_file():
            return root / name
    found = sorted(root.glob(f"{split}_COVIDx*.txt"))
    return found[0] if found else None


def _parse_line(path: Path, row: int, line: str) -> tuple[str, str, str, list[str]]:
    tokens = line.split()
    for i in range(2, len(tokens)):
        if tokens[i].lower() in CANONICAL:
            rest = tokens[i + 1 :]
            return " ".join(tokens[: i - 1]), tokens[i - 1], CANONICAL[tokens[i].lower()], rest
    raise DataFormatError(
        path,
        f"expected 'patient_id filename class source' with class in {sorted(CANONICAL)}; got {line!r}",
        row,
    )


def _scheme(classes: set[str], files: list[Path]) -> str:
    for name, members in SCHEMES.items():
        if classes <= set(members):
            return name
    raise DataFormatError(
        files[0], f"classes {sorted(classes)} mix the schemes {dict(SCHEMES)}; use one per dataset"
    )


def _image(root: Path, split: str, filename: str) -> Path:
    """``root/<split>/<filename>``, else ``root/<filename>``; :class:`EscapingPathError` when the
    name would leave ``root``."""
    in_split = inside(root / split, filename)
    flat = inside(root, filename)
    return in_split if in_split.is_file() or not flat.is_file() else flat


def _lines(path: Path) -> list[tuple[int, str]]:
    """(row, line) of the non-blank lines; :class:`DataFormatError` naming the row that is not UTF-8."""
    out: list[tuple[int, str]] = []
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataFormatError(path, f"cannot read: {exc}") from exc
    for row, chunk in enumerate(raw.removeprefix(b"\xef\xbb\xbf").splitlines(), start=1):
        try:
            line = chunk.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DataFormatError(path, f"not UTF-8 text ({exc.reason} at byte {exc.start})", row) from None
        if line.strip():
            out.append((row, line))
    return out


def read(root: Path, *, check_files: bool = True) -> Table:
    """Records of train/test (and val when its file exists), split taken from the file name."""
    root = Path(root)
    rows: list[tuple[str, Path, int, tuple[str, str, str, list[str]]]] = []
    files: list[Path] = []
    for split in SPLIT_FILES:
        path = split_file(root, split)
        if path is None:
            if split in REQUIRED:
                raise DataFormatError(
                    root, f"COVIDx {split} list not found; expected one of {SPLIT_FILES[split]}"
                )
            continue
        files.append(path)
        for row, line in _lines(path):
            rows.append((split, path, row, _parse_line(path, row, line)))
    classes = SCHEMES[_scheme({parsed[2] for *_, parsed in rows}, files)]
    table = Table(dataset=NAME, root=root, records=[], classes=classes)
    seen: set[str] = set()
    for split, path, row, (patient, filename, label, rest) in rows:
        if filename in seen:
            table.problems.append(f"{path}, row {row}: {filename} listed twice; first kept")
            bump(table, "duplicates")
            continue
        seen.add(filename)
        try:
            image = _image(root, split, filename)
        except EscapingPathError as exc:
            note_escape(table, path, row, exc)
            continue
        record = Record(
            key=filename,
            image=image,
            split=split,
            labels={name: float(name == label) for name in classes},
            patient=patient,
            meta={"target": classes.index(label), "class": label, "source": rest[0] if rest else ""},
        )
        keep_if_present(table, record, check_files)
    return table
