"""MIMIC-CXR-JPG v2.0.0 with the MIMIC-CXR v2.0.0 reports: the pretraining corpus.

One record per frontal (PA/AP) image of a study whose report has an impression or findings section
with at least ``min_sentences`` sentences (PRIOR uses 4). The official split file is honoured and
the CheXpert labels of the study are attached. Study ids in the CSVs have no "s" prefix while the
folders do; both spellings are accepted in the CSVs.

The CSVs are read and joined as tables and cached (:mod:`bench.data.mimic_index`); the reports are
parsed (in a process pool at full size) only when sentences are wanted. ``sentences=False``
(``bench data check`` and ``bench data splits``) opens no report: a study is usable when its report
file exists, and neither ``min_sentences`` nor the sections apply.
"""

from __future__ import annotations

import logging
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from bench.data import mimic_index as index
from bench.data.base import CHEXPERT_LABELS, Record, Table, TextFile, gc_paused
from bench.data.csvfile import bump, require_file
from bench.data.text import PRETRAIN_SECTIONS

NAME = "mimic-cxr"
log = logging.getLogger(__name__)

METADATA = ("mimic-cxr-2.0.0-metadata.csv",)
SPLIT = ("mimic-cxr-2.0.0-split.csv",)
CHEXPERT = ("mimic-cxr-2.0.0-chexpert.csv",)
FRONTAL = ("PA", "AP")


def _files_dir(base: Path) -> Path:
    """``base/files`` when it exists (the PhysioNet layout), else ``base`` (already the files dir)."""
    return base / "files" if (base / "files").is_dir() else base


def study_dir(files: Path, subject: str, study: str) -> Path:
    return files / f"p{subject[:2]}" / f"p{subject}" / f"s{study}"


def _csvs(root: Path, labels: bool) -> dict[str, Path | None]:
    split = require_file(root, SPLIT, "MIMIC-CXR split csv")
    chexpert = require_file(root, CHEXPERT, "MIMIC-CXR chexpert csv") if labels else None
    return {"split": split, "chexpert": chexpert, "meta": require_file(root, METADATA, "MIMIC-CXR metadata csv")}


def read(
    root: Path,
    *,
    reports_root: Path | None = None,
    min_sentences: int = 4,
    views: tuple[str, ...] = FRONTAL,
    sections: tuple[str, ...] = PRETRAIN_SECTIONS,
    image_ext: str = ".jpg",
    labels: bool = True,
    check_files: bool = True,
    sentences: bool = True,
    cache: bool = True,
) -> Table:
    """Frontal images with their report sentences, official split and CheXpert labels.

    ``reports_root`` (default ``root``) holds ``files/p1X/p1XXXXXXX/sYYYYYYYY.txt`` (or is that
    ``files`` folder). Studies without a report file, without impression/findings, or with fewer
    than ``min_sentences`` sentences are dropped and counted in ``Table.counts``. ``cache=False``
    neither reads nor writes the index cache.
    """
    root = Path(root)
    images = _files_dir(root)
    reports = _files_dir(Path(reports_root) if reports_root is not None else root)
    table = Table(dataset=NAME, root=root, records=[], classes=CHEXPERT_LABELS)
    csvs = _csvs(root, labels)
    frame, non_frontal = index.cached_images(root, csvs, tuple(views), cache)
    if non_frontal:
        table.counts["non_frontal"] = non_frontal
    rank = frame["rank"].to_numpy()
    studies = frame.iloc[np.flatnonzero(np.r_[True, rank[1:] != rank[:-1]])] if len(frame) else frame
    studies = studies.reset_index(drop=True)  # row i is the study of rank i, with its first image
    rel = "p" + studies["subject"].str[:2] + "/p" + studies["subject"] + "/s" + studies["study"]
    bad = index.escaping(rel) if len(studies) else np.zeros(0, bool)
    paths = (str(reports) + "/" + rel + ".txt").tolist()
    wanted = [p for p, b in zip(paths, bad) if not b]
    if sentences:
        parsed = index.cached_reports(root, [p for p in csvs.values() if p], wanted, tuple(sections), cache)
    else:
        parsed = index.report_presence(wanted)
    n = np.full(len(studies), -2, dtype=np.int64)  # -2: escaping path
    n[~bad] = parsed["n"].to_numpy()
    sents = np.full(len(studies), "", dtype=object)
    sents[~bad] = parsed["sentences"].to_numpy(dtype=object)
    del parsed
    with gc_paused():
        _build(table, frame, studies, n, sents, paths, bad, images, image_ext, min_sentences,
               labels, check_files, sentences, csvs["meta"])
    log.info("%s: %d images from %d studies; counts %s", NAME, len(table), table.counts.get("studies", 0), table.counts)
    return table


def _build(table, frame, studies, n, sents, paths, bad, images, image_ext, min_sentences,
           labels, check_files, sentences, meta_path) -> None:
    """Counts, problems and records from the index columns."""
    problems: list[tuple[int, int, str]] = []  # (study rank, image position, text): the reader's order
    few = max(1, min_sentences) if sentences else 0
    for rank in np.flatnonzero(bad):
        rel = f"p{studies['subject'][rank][:2]}/p{studies['subject'][rank]}/s{studies['study'][rank]}"
        problems.append((rank, -1, f"{meta_path}, row {studies['row'][rank]}: image path {rel!r} leaves the "
                                   "dataset root; expected a path relative to it; row skipped"))
    for rank in np.flatnonzero(n == -1):
        problems.append((rank, -1, f"{paths[rank]}: report missing"))
    tallies = {"escaping_path": int(bad.sum()), "missing_report": int((n == -1).sum())}
    if sentences:
        tallies["no_report_section"] = int((n == 0).sum())
        tallies["dropped_few_sentences"] = int(((n > 0) & (n < few)).sum())
    usable = n >= few
    tallies["studies"] = int(usable.sum())
    if labels:
        tallies["no_labels"] = int((usable & ~studies["has_labels"].to_numpy(bool)).sum())
    rank = frame["rank"].to_numpy()
    keep = usable[rank]
    no_split = keep & frame["split"].isna().to_numpy()
    tallies["no_split"] = int(no_split.sum())
    for i in np.flatnonzero(no_split):
        problems.append((rank[i], i, f"{frame['dicom_id'][i]}: image of s{frame['study'][i]} is not in the split csv"))
    keep &= ~no_split
    rows = frame[keep]
    escapes = index.escaping(rows["dicom_id"] + image_ext) if len(rows) else np.zeros(0, bool)
    for i, row, dicom in zip(np.flatnonzero(escapes), rows["row"].to_numpy()[escapes], rows["dicom_id"][escapes]):
        problems.append((rows["rank"].iloc[i], rows.index[i], f"{meta_path}, row {row}: image path "
                         f"{dicom + image_ext!r} leaves the dataset root; expected a path relative to it; row skipped"))
    tallies["escaping_path"] += int(escapes.sum())
    rows = rows[~escapes]
    image = (str(images) + "/p" + rows["subject"].str[:2] + "/p" + rows["subject"] + "/s" + rows["study"] + "/"
             + rows["dicom_id"] + image_ext).tolist()
    present = index.files_present(image, "image") if check_files else np.ones(len(image), bool)
    for i in np.flatnonzero(~present):
        path = Path(image[i])
        table.missing.append(path)
        problems.append((rows["rank"].iloc[i], rows.index[i], f"{path}: image missing"))
    tallies["missing_image"] = int((~present).sum())
    rows, image = rows[present], [p for p, ok in zip(image, present) if ok]
    table.records.extend(_records(rows, image, studies, sents, paths, labels, sentences))
    problems.sort(key=lambda p: (p[0], p[1]))
    table.problems.extend(text for _, _, text in problems)
    for key, value in tallies.items():
        if value:
            bump(table, key, value)


def _shared(column) -> list:
    """A column as a list whose equal values are one object (splits, views: a few distinct)."""
    codes, uniques = pd.factorize(column)
    values = uniques.tolist()
    return [values[c] for c in codes.tolist()]


def _records(rows, image, studies, sents, paths, labels, sentences) -> list[Record]:
    """One record per row; what a study's images have in common (report, sentences, study and
    patient names) and equal label rows are one object each."""
    ranks = rows["rank"].to_numpy()
    used = np.unique(ranks)
    study = dict(zip(used.tolist(), ("s" + studies["study"].iloc[used]).tolist()))
    patient = dict(zip(used.tolist(), ("p" + studies["subject"].iloc[used]).tolist()))
    if sentences:
        # equal sentences of different reports are one (interned) string
        split = {r: tuple(map(sys.intern, sents[r].split(index.SEP))) for r in used.tolist()}
        report = {r: TextFile(paths[r]) for r in used.tolist()}
    label_dicts = _label_dicts(rows, labels)
    meta = {view: {"view": view} for view in rows["view"].unique().tolist()}
    ranks = ranks.tolist()
    return [
        Record(key, path, split_name, labels_of, (), (), (), report[r] if sentences else None,
               split[r] if sentences else (), study[r], patient[r], meta[view])
        for key, path, split_name, labels_of, r, view in zip(
            rows["dicom_id"].tolist(), image, _shared(rows["split"]), label_dicts, ranks, _shared(rows["view"])
        )
    ]


_VALUES = (-1.0, 0.0, 1.0, math.nan)  # label codes 0..3; one float object each


def _label_dicts(rows, labels: bool) -> list[dict[str, float]]:
    """The label dict of each row; rows with the same labels share one dict, no labels one {}."""
    if not labels:
        return [{} for _ in range(len(rows))]
    values = rows[list(CHEXPERT_LABELS)].to_numpy(dtype=float)
    codes = np.where(np.isnan(values), 3, values + 1).astype(np.int64)
    packed = codes @ (4 ** np.arange(len(CHEXPERT_LABELS), dtype=np.int64))
    packed[~rows["has_labels"].to_numpy(bool)] = -1
    uniques, inverse = np.unique(packed, return_inverse=True)
    shifts = 2 * np.arange(len(CHEXPERT_LABELS), dtype=np.int64)
    rows = np.array(_VALUES, dtype=object)[(np.maximum(uniques, 0)[:, None] >> shifts) & 3].tolist()
    dicts = [{} if u < 0 else dict(zip(CHEXPERT_LABELS, row)) for u, row in zip(uniques.tolist(), rows)]
    return [dicts[i] for i in inverse.tolist()]
