"""Shared by the readers: finding annotation files and reading CSV rows with row numbers.

Row numbers are 1-based file lines as a spreadsheet shows them: the header is row 1, the first data
row is row 2. Errors are :class:`DataFormatError` naming the file and the row.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path, PurePosixPath, PureWindowsPath

from bench.data.base import DataFormatError, Record, Table, parse_label, require_columns


class EscapingPathError(ValueError):
    """A path taken from a dataset file that would leave the dataset root (``..`` or absolute)."""


def inside(root: Path, rel: str) -> Path:
    """``root/rel`` for a relative path from a dataset file; :class:`EscapingPathError` when ``rel``
    is absolute, has a drive, a ``..`` component or a NUL byte, or is empty. The check is on the
    path as written, so folders the user symlinked inside ``root`` stay usable."""
    text = str(rel).strip().replace("\\", "/")
    pure = PurePosixPath(text)
    if not text or pure.is_absolute() or PureWindowsPath(text).drive or ".." in pure.parts or "\0" in text:
        raise EscapingPathError(f"image path {rel!r} leaves the dataset root; expected a path relative to it")
    return root.joinpath(*pure.parts)


def note_escape(table: Table, path: Path, row: int | None, exc: EscapingPathError) -> None:
    """Count a row whose image path would leave the dataset root (the row is skipped)."""
    where = f"{path}" if row is None else f"{path}, row {row}"
    table.problems.append(f"{where}: {exc}; row skipped")
    bump(table, "escaping_path")


def find_file(root: Path, names: Sequence[str]) -> Path | None:
    """The first of ``names`` (tried also with ``.gz``) that exists under ``root``."""
    for name in names:
        for candidate in (root / name, root / f"{name}.gz"):
            if candidate.is_file():
                return candidate
    return None


def require_file(root: Path, names: Sequence[str], what: str) -> Path:
    """Like :func:`find_file`, raising :class:`DataFormatError` that lists what was looked for."""
    found = find_file(root, names)
    if found is None:
        tried = ", ".join(names)
        raise DataFormatError(root, f"{what} not found; expected one of: {tried} (optionally .gz)")
    return found


def open_text(path: Path) -> io.TextIOBase:
    """Open a text file, transparently un-gzipping ``*.gz``; a UTF-8 BOM is skipped."""
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")


def read_rows(
    path: Path, needed: Iterable[str], delimiter: str = ","
) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (row number, {column: cell}) for each data row; header names are stripped of spaces
    (SIIM's ``" EncodedPixels"``), cells are left as they are. Raises on missing columns or a row
    whose field count differs from the header's."""
    try:
        handle = open_text(path)
    except OSError as exc:
        raise DataFormatError(path, f"cannot open: {exc}") from exc
    with handle:
        reader = csv.reader(handle, delimiter=delimiter)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise DataFormatError(path, "empty file; expected a header row", row=1) from None
        except (csv.Error, UnicodeDecodeError, OSError, EOFError) as exc:
            raise DataFormatError(path, f"unreadable header: {exc}", row=1) from exc
        require_columns(path, header, needed)
        try:
            for cells in reader:
                if not cells or (len(cells) == 1 and not cells[0].strip()):
                    continue  # blank line
                if len(cells) != len(header):
                    raise DataFormatError(
                        path,
                        f"{len(cells)} fields, expected {len(header)} ({', '.join(header)})",
                        reader.line_num,
                    )
                yield reader.line_num, dict(zip(header, cells))
        except (csv.Error, UnicodeDecodeError, OSError, EOFError) as exc:
            raise DataFormatError(path, f"unreadable: {exc}", reader.line_num) from exc


def number(path: Path, row: int, column: str, text: str) -> float:
    """``float(text)`` or a :class:`DataFormatError` naming file, row and column."""
    try:
        return float(text)
    except ValueError:
        raise DataFormatError(path, f"column {column!r}: expected a number, got {text!r}", row) from None


def label_cells(path: Path, row: int, cells: dict[str, str], names: Iterable[str]) -> dict[str, float]:
    """CheXpert-style label cells (1.0/0.0/-1.0/blank) -> floats, errors naming file, row and column."""
    out: dict[str, float] = {}
    for name in names:
        try:
            out[name] = parse_label(cells[name])
        except ValueError:
            raise DataFormatError(
                path, f"column {name!r}: expected 1, 0, -1 or blank, got {cells[name]!r}", row
            ) from None
    return out


def bump(table: Table, key: str, amount: int = 1) -> None:
    """Add ``amount`` to ``table.counts[key]``."""
    table.counts[key] = table.counts.get(key, 0) + amount


def note_missing(table: Table, image: Path) -> None:
    """Record an image that the annotations list but the disk lacks."""
    table.missing.append(image)
    table.problems.append(f"{image}: image missing")
    bump(table, "missing_image")


def keep_if_present(table: Table, record: Record, check_files: bool) -> None:
    """Append ``record`` when its image exists (or files are not checked); else note it missing."""
    if check_files and not record.image.is_file():
        note_missing(table, record.image)
        return
    table.records.append(record)
