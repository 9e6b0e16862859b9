"""The MIMIC-CXR index as tables: the three CSVs read once, joined and filtered as columns, cached.

Two layers, each cached as parquet in ``$BENCH_CACHE/index`` (see
:func:`bench.fileio.cache_root`), keyed by the dataset root, a fingerprint of its CSVs
(name, size and mtime of each) and :data:`INDEX_VERSION`:

- the **image table**: one row per frontal image (dicom_id, subject, study, view, split, the 14
  CheXpert labels), in the reader's order (studies in order of first appearance in the metadata,
  images in file order), plus the number of non-frontal rows;
- the **report table** (only when sentences are wanted): per study, the sentence count of its
  wanted sections (-1 = no report file) and the sentences; parsed in a process pool over the
  studies. The report text itself is not kept: records read it from its file on access
  (:class:`bench.data.base.TextFile`). Its key adds the reports folder and the sections. Editing a report file
  without touching the CSVs is not noticed: delete ``$BENCH_CACHE/index`` (or pass
  ``cache=False``) after doing so.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from bench.data.base import CHEXPERT_LABELS, DataFormatError, process_pool, read_text, require_columns
from bench.fileio import cache_root

log = logging.getLogger(__name__)

INDEX_VERSION = 2  # 2: the report table keeps no text
SEP = "\n"  # sentences are whitespace-normalised, so never contain a newline
POOL_FROM = 2000  # studies; fewer are parsed in this process
CHUNK = 500
BAR_FROM = 5000  # rows; progress bars for anything larger (stats: 20 times as many)
STAT_CHUNK = 20_000


def cache_dir() -> Path:
    return cache_root() / "index"


def fingerprint(paths: Sequence[Path]) -> list[tuple[str, int, int]]:
    out = []
    for path in paths:
        st = path.stat()
        out.append((path.name, st.st_size, st.st_mtime_ns))
    return out


def cache_key(kind: str, root: Path, csvs: Sequence[Path], **extra) -> str:
    blob = {"kind": kind, "version": INDEX_VERSION, "root": str(Path(root).resolve()),
            "csvs": fingerprint(csvs), **{k: list(v) if isinstance(v, tuple) else v for k, v in extra.items()}}
    return hashlib.sha256(json.dumps(blob, sort_keys=True).encode()).hexdigest()[:20]


def _load(path: Path) -> pd.DataFrame | None:
    if not path.is_file():
        return None
    try:
        return pd.read_parquet(path)
    except ImportError:
        return None
    except Exception as exc:  # noqa: BLE001 - a damaged cache file is rebuilt, never fatal
        log.warning("index cache %s unreadable (%s); rebuilding", path, exc)
        return None


def _save(frame: pd.DataFrame, path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        frame.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    except ImportError:
        log.warning("pyarrow is not installed: the MIMIC-CXR index is not cached")
    except OSError as exc:
        log.warning("cannot write the index cache %s: %s", path, exc)


# -- CSVs ----------------------------------------------------------------------------------------
def _header(path: Path) -> list[str]:
    from bench.data.csvfile import open_text

    try:
        with open_text(path) as handle:
            return next(csv.reader(handle))
    except StopIteration:
        raise DataFormatError(path, "empty file; expected a header row", row=1) from None
    except (csv.Error, UnicodeDecodeError, OSError, EOFError) as exc:
        raise DataFormatError(path, f"unreadable header: {exc}", row=1) from exc


def read_csv(path: Path, needed: Sequence[str]) -> pd.DataFrame:
    """Every cell as text (blank stays "", names stripped), read by pyarrow; errors name the file
    and row like :func:`bench.data.csvfile.read_rows` (a row with the wrong number of fields)."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    header = _header(path)
    require_columns(path, header, needed)
    bad: list = []

    def invalid(row) -> str:
        bad.append(row)
        return "skip"

    try:
        table = pcsv.read_csv(
            path,
            read_options=pcsv.ReadOptions(use_threads=False),
            parse_options=pcsv.ParseOptions(invalid_row_handler=invalid),
            convert_options=pcsv.ConvertOptions(
                column_types={name: pa.string() for name in header}, strings_can_be_null=False
            ),
        )
    except (pa.ArrowInvalid, OSError, UnicodeDecodeError) as exc:
        raise DataFormatError(path, f"unreadable: {exc}") from exc
    if bad:
        names = ", ".join(h.strip() for h in header)
        raise DataFormatError(path, f"{bad[0].actual_columns} fields, expected {len(header)} ({names})", bad[0].number)
    frame = table.to_pandas()
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def bare(column: pd.Series, prefix: str) -> pd.Series:
    """'s50414267', '50414267' or '50414267.0' -> '50414267', as a column."""
    text = column.str.strip()
    text = text.where(text.str[:1].str.lower() != prefix, text.str[1:])
    return text.where(~text.str.endswith(".0"), text.str[:-2])


def label_matrix(frame: pd.DataFrame, path: Path, names: Sequence[str]) -> np.ndarray:
    """CheXpert cells -> float64 [rows, names] (1, 0, -1, nan); the first bad cell (row-major)
    is a :class:`DataFormatError` naming file, row and column."""
    out = np.empty((len(frame), len(names)))
    bad = np.zeros((len(frame), len(names)), bool)
    for j, name in enumerate(names):
        text = frame[name].str.strip()
        values = pd.to_numeric(text.where(text != ""), errors="coerce").to_numpy(dtype=float)
        bad[:, j] = (text != "").to_numpy() & ~np.isin(values, (1.0, 0.0, -1.0))
        out[:, j] = values
    if bad.any():
        i, j = np.argwhere(bad)[0]
        cell = frame[names[j]].iloc[i]
        raise DataFormatError(path, f"column {names[j]!r}: expected 1, 0, -1 or blank, got {cell!r}", int(i) + 2)
    return out


def escaping(rel: pd.Series) -> np.ndarray:
    """Relative paths (as columns) that would leave their root: a '..' part, a NUL, empty."""
    text = rel.str.replace("\\", "/", regex=False)
    return (text.str.contains(r"(?:^|/)\.\.(?:/|$)") | text.str.contains("\0", regex=False)
            | text.str.startswith("/") | (text.str.strip() == "")).to_numpy()


def image_table(meta: Path, split: Path, chexpert: Path | None, views: Sequence[str]) -> tuple[pd.DataFrame, int]:
    """Frontal images in reader order with their split and labels; and the non-frontal row count."""
    with tqdm(total=4, unit="step", desc="mimic-cxr index (csv)", disable=split.stat().st_size < BAR_FROM * 100) as bar:
        return _image_table(meta, split, chexpert, views, bar)


def _image_table(meta: Path, split: Path, chexpert: Path | None, views: Sequence[str], bar: tqdm
                 ) -> tuple[pd.DataFrame, int]:
    splits = read_csv(split, ("dicom_id", "split"))
    bar.update()
    split_of = pd.Series(splits["split"].str.strip().to_numpy(), index=splits["dicom_id"].str.strip())
    split_of = split_of[~split_of.index.duplicated(keep="last")]
    labels = None
    if chexpert is not None:
        table = read_csv(chexpert, ("study_id", *CHEXPERT_LABELS))
        values = label_matrix(table, chexpert, CHEXPERT_LABELS)
        labels = pd.DataFrame(values, columns=list(CHEXPERT_LABELS))
        labels["study"] = bare(table["study_id"], "s").to_numpy()
        labels = labels.drop_duplicates("study", keep="last").set_index("study")
    bar.update()
    rows = read_csv(meta, ("dicom_id", "subject_id", "study_id", "ViewPosition"))
    bar.update()
    view = rows["ViewPosition"].str.strip().str.upper()
    frontal = view.isin(list(views)).to_numpy()
    out = pd.DataFrame({
        "dicom_id": rows["dicom_id"].str.strip().to_numpy()[frontal],
        "subject": bare(rows["subject_id"], "p").to_numpy()[frontal],
        "study": bare(rows["study_id"], "s").to_numpy()[frontal],
        "view": view.to_numpy()[frontal],
        "row": np.flatnonzero(frontal) + 2,
    })
    out["rank"] = pd.factorize(out["subject"] + "/" + out["study"])[0]
    out = out.sort_values(["rank", "row"], kind="stable").reset_index(drop=True)
    out["split"] = out["dicom_id"].map(split_of)  # NaN: not in the split csv
    out["has_labels"] = False
    if labels is not None:
        joined = labels.reindex(out["study"])
        out["has_labels"] = joined.index.isin(labels.index)
        for name in CHEXPERT_LABELS:
            out[name] = joined[name].to_numpy()
    bar.update()
    return out, int((~frontal).sum())


# -- reports -------------------------------------------------------------------------------------
def _parse(paths: list[str], sections: tuple[str, ...]) -> list[tuple[int, str]]:
    """(sentence count or -1 for no file, sentences joined by SEP) per path."""
    from bench.data.text import report_sentences

    out = []
    for path in paths:
        if not os.path.isfile(path):
            out.append((-1, ""))
            continue
        sentences = report_sentences(read_text(path), sections)
        out.append((len(sentences), SEP.join(sentences)))
    return out


def parse_reports(paths: list[str], sections: tuple[str, ...], workers: int | None = None) -> pd.DataFrame:
    """Report files -> columns n (sentences; -1 = missing), sentences; a process pool over
    chunks of studies when there are many, with a progress bar."""
    chunks = [paths[i : i + CHUNK] for i in range(0, len(paths), CHUNK)]
    workers = workers or os.cpu_count() or 1
    bar = tqdm(total=len(paths), unit="report", desc="mimic-cxr reports", disable=len(paths) < BAR_FROM)
    results: list[tuple[int, str]] = []
    if len(paths) < POOL_FROM or workers == 1:
        for chunk in chunks:
            results.extend(_parse(chunk, sections))
            bar.update(len(chunk))
    else:
        with process_pool(workers) as pool:
            for chunk, parsed in zip(chunks, pool.map(_parse, chunks, [sections] * len(chunks))):
                results.extend(parsed)
                bar.update(len(chunk))
    bar.close()
    frame = pd.DataFrame(results, columns=["n", "sentences"])
    frame["n"] = frame["n"].astype("int32")
    return frame


def files_present(paths: list[str], what: str) -> np.ndarray:
    """``os.path.isfile`` of each path, with a progress bar on many (a network disk makes the
    one stat per file of a read take minutes)."""
    out = np.zeros(len(paths), bool)
    with tqdm(total=len(paths), unit=what, desc=f"mimic-cxr {what}s on disk", disable=len(paths) < BAR_FROM * 20) as bar:
        for start in range(0, len(paths), STAT_CHUNK):
            part = paths[start : start + STAT_CHUNK]
            out[start : start + len(part)] = np.fromiter(map(os.path.isfile, part), bool, len(part))
            bar.update(len(part))
    return out


def report_presence(paths: list[str]) -> pd.DataFrame:
    """Without parsing: n = 0 when the file exists, -1 when not (one stat per study)."""
    n = np.where(files_present(paths, "report"), 0, -1).astype("int32")
    return pd.DataFrame({"n": n, "sentences": ""})


# -- cached entry points -------------------------------------------------------------------------
def cached_images(
    root: Path, csvs: dict[str, Path | None], views: Sequence[str], cache: bool
) -> tuple[pd.DataFrame, int]:
    """:func:`image_table`, from the cache when the CSVs are unchanged."""
    paths = [p for p in csvs.values() if p is not None]
    key = cache_key("images", root, paths, views=tuple(views), labels=csvs["chexpert"] is not None)
    target = cache_dir() / f"mimic-{key}.images.parquet"
    counts = target.with_suffix(".json")
    frame = _load(target) if cache and counts.is_file() else None
    if frame is not None:
        log.info("mimic-cxr image index from the cache %s", target)
        return frame, int(json.loads(counts.read_text())["non_frontal"])
    frame, non_frontal = image_table(csvs["meta"], csvs["split"], csvs["chexpert"], views)
    if cache:
        _save(frame, target)
        try:
            counts.write_text(json.dumps({"non_frontal": non_frontal}))
        except OSError as exc:
            log.warning("cannot write the index cache %s: %s", counts, exc)
    return frame, non_frontal


def cached_reports(
    root: Path, csvs: Sequence[Path], paths: list[str], sections: tuple[str, ...], cache: bool
) -> pd.DataFrame:
    """:func:`parse_reports` of ``paths`` (one per study), from the cache when unchanged."""
    key = cache_key("reports", root, csvs, sections=sections, paths=hashlib.sha256(SEP.join(paths).encode()).hexdigest())
    target = cache_dir() / f"mimic-{key}.reports.parquet"
    frame = _load(target) if cache else None
    if frame is not None and len(frame) == len(paths):
        log.info("mimic-cxr reports from the cache %s", target)
        return frame
    frame = parse_reports(paths, sections)
    if cache:
        _save(frame, target)
    return frame
