"""Records and tables shared by every dataset reader.

A reader turns a dataset root in its real on-disk format into a :class:`Table` of
:class:`Record` rows. Readers never load pixels eagerly: :func:`bench.data.images.load_image`
does that on demand. Problems found while reading (missing files, malformed rows) are kept in
``Table.problems`` instead of aborting, so ``bench data check`` can count them.
"""

from __future__ import annotations

import contextlib
import gc
import math
import multiprocessing
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.errors import UserError

Box = tuple[float, float, float, float]  # x1, y1, x2, y2 in pixels of the stored image

# The 14 CheXpert / MIMIC-CXR observation columns, in file order.
CHEXPERT_LABELS: tuple[str, ...] = (
    "No Finding",
    "Enlarged Cardiomediastinum",
    "Cardiomegaly",
    "Lung Opacity",
    "Lung Lesion",
    "Edema",
    "Consolidation",
    "Pneumonia",
    "Atelectasis",
    "Pneumothorax",
    "Pleural Effusion",
    "Pleural Other",
    "Fracture",
    "Support Devices",
)
COMPETITION_LABELS: tuple[str, ...] = (
    "Atelectasis",
    "Cardiomegaly",
    "Consolidation",
    "Edema",
    "Pleural Effusion",
)

# The eight classes of ConVIRT's CheXpert 8x200 retrieval set.
RETRIEVAL_CLASSES: tuple[str, ...] = (
    "No Finding",
    "Pneumothorax",
    "Pneumonia",
    "Fracture",
    "Cardiomegaly",
    "Pleural Effusion",
    "Edema",
    "Atelectasis",
)


class DataFormatError(UserError):
    """Input that does not follow its dataset's format; the message names file, row and expectation."""

    def __init__(self, path: Path | str, message: str, row: int | None = None) -> None:
        where = f"{path}" if row is None else f"{path}, row {row}"
        super().__init__(f"{where}: {message}")
        self.path = Path(path)
        self.row = row


class PathField:
    """A dataclass field kept as the path's string (a fifth of a :class:`Path`'s memory, which
    counts at 377k records) and given back as a :class:`Path` on each access."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.slot = f"_{name}"

    def __get__(self, obj: Any, owner: type | None = None) -> Path:
        if obj is None:
            raise AttributeError(self.slot)  # the field has no default
        value = getattr(obj, self.slot)
        return None if value is None else Path(value)  # type: ignore[return-value]

    def __set__(self, obj: Any, value: str | os.PathLike | None) -> None:
        object.__setattr__(obj, self.slot, None if value is None else os.fspath(value))


def read_text(path: str | os.PathLike) -> str:
    """A text file as the readers read reports: UTF-8, undecodable bytes replaced."""
    with open(path, encoding="utf-8", errors="replace") as handle:
        return handle.read()


class TextFile:
    """A text kept as the path of its file and read on access (see :class:`TextField`)."""

    __slots__ = ("path",)

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = os.fspath(path)

    def __repr__(self) -> str:
        return f"TextFile({self.path!r})"


class TextField:
    """A dataclass field holding text, or a :class:`TextFile` read each time the field is read:
    a MIMIC-CXR report is about a kilobyte, its path a tenth of that, and at 377k records only
    the sentences are needed in memory."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.slot = f"_{name}"

    def __get__(self, obj: Any, owner: type | None = None) -> str | None:
        if obj is None:
            return None  # the field's default
        value = getattr(obj, self.slot)
        return read_text(value.path) if isinstance(value, TextFile) else value

    def __set__(self, obj: Any, value: str | TextFile | None) -> None:
        object.__setattr__(obj, self.slot, value)


@dataclass(frozen=True)
class Record:
    """One image (and whatever annotates it) of a dataset.

    Readers may share one ``labels`` or ``meta`` dict, and one sentence tuple, between records
    (the images of a study, records with the same labels): treat them as read-only.
    """

    key: str  # unique id within the dataset: dicom_id, patientId, ImageId, Path, ...
    image: Path = PathField()  # type: ignore[assignment]  # absolute path of the image file (jpg, png or dcm)
    split: str = "train"  # as the source defines it (train / validate / test / valid / dev)
    labels: dict[str, float] = field(default_factory=dict)  # 1, 0, -1 (uncertain) or nan (blank)
    boxes: tuple[Box, ...] = ()  # detection boxes in stored-image pixels
    box_labels: tuple[int, ...] = ()  # class index per box (0 when single-class)
    rle: tuple[str, ...] = ()  # SIIM-style relative column-major RLE strings, OR-ed together
    report: str | None = TextField()  # type: ignore[assignment]  # full report text (pretraining corpora), or a TextFile
    sentences: tuple[str, ...] = ()  # the sentences used for pretraining (impression, findings)
    study: str | None = None
    patient: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def positive(self) -> bool:
        """True when the record carries a box or a mask (localisation datasets)."""
        return bool(self.boxes) or bool(self.rle)

    @property
    def image_path(self) -> str:
        """The image's path as a string (no :class:`Path` made)."""
        return self._image  # type: ignore[attr-defined]


@dataclass
class Table:
    """What a reader returns: the records plus what went wrong while reading them."""

    dataset: str
    root: Path
    records: list[Record]
    classes: tuple[str, ...] = ()
    problems: list[str] = field(default_factory=list)  # human-readable, first ones name the file/row
    counts: dict[str, int] = field(default_factory=dict)  # reader-specific tallies (e.g. dropped studies)
    missing: list[Path] = field(default_factory=list)  # images the annotations list but the disk lacks

    def __len__(self) -> int:
        return len(self.records)

    def split(self, *names: str) -> list[Record]:
        wanted = set(names)
        return [r for r in self.records if r.split in wanted]


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic garbage collector off while a reader makes its records: hundreds of thousands
    of new objects would otherwise trigger collections that scan them all, again and again."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def process_pool(workers: int) -> ProcessPoolExecutor:
    """The one process pool of the data layer: ``workers`` processes forked from a fork server, a
    clean process started for the purpose, never from this one. A plain fork copies a process that
    may hold threads (torch's OpenMP pool, tqdm's monitor, a loader's) and any lock one of them held
    at that instant stays locked in the child for good: the image cache's writer hung that way when
    scoring had run earlier in the same process. The workers import what they run, so the function
    and its arguments must pickle (module-level functions, plain data)."""
    return ProcessPoolExecutor(max_workers=max(1, workers), mp_context=multiprocessing.get_context("forkserver"))


def parse_label(value: Any) -> float:
    """CheXpert-style cell to float: '1.0' -> 1, '0.0' -> 0, '-1.0' -> -1, blank -> nan."""
    if value is None:
        return math.nan
    if isinstance(value, float) and math.isnan(value):
        return math.nan
    text = str(value).strip()
    if text == "":
        return math.nan
    number = float(text)
    if number not in (1.0, 0.0, -1.0):
        raise ValueError(f"expected 1, 0, -1 or blank, got {value!r}")
    return number


def require_columns(path: Path, header: Iterable[str], needed: Iterable[str]) -> None:
    """Raise :class:`DataFormatError` naming the missing columns."""
    have = [h.strip() for h in header]
    missing = [c for c in needed if c not in have]
    if missing:
        raise DataFormatError(path, f"missing column(s) {missing}; found {have}", row=1)
