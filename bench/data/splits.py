"""Deterministic train/val/test splits and nested label fractions, written with content hashes.

Official splits are honoured where a dataset has them (MIMIC-CXR train/validate/test; CheXpert's
valid is the test set with val held out of train, capped at 5,000 images as MGCA does; COVIDx test
given, val from val.txt or 20% of train, carved by patient so no patient is in both; Object-CXR dev
is the test set, val 10% of train); RSNA and SIIM are carved 70/15/15. Carving and fractions are
stratified on the dataset's main label.

Stratification works through one seeded order of a pool: within each stratum the records are
shuffled, and a record at rank i of a stratum of size n is placed at (i + u) / n, u a per-stratum
random offset. Any prefix of that order is then (nearly) proportional across strata, so the label
fractions are prefixes of one order, hence nested (1% within 10% within 100%); each fraction also
gets the first record of every stratum, so every class appears where the train set has it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.data.base import COMPETITION_LABELS, Record, Table

log = logging.getLogger(__name__)
StratumKey = Callable[[Record], str]
HASH_FILE = "splits.json"


def _label_key(name: str) -> StratumKey:
    return lambda r: str(r.labels.get(name, math.nan))


def _first_positive(names: Sequence[str]) -> StratumKey:
    """Multi-label datasets: the first of ``names`` labelled 1, else "none"."""
    return lambda r: next((n for n in names if r.labels.get(n) == 1.0), "none")


def _meta_key(field: str) -> StratumKey:
    return lambda r: str(r.meta.get(field, ""))


def _any_label(record: Record) -> str:
    return str(next(iter(record.labels.values()), ""))


@dataclass(frozen=True)
class Protocol:
    """How a dataset is split: which official splits feed each part, what is carved, stratified how."""

    key: StratumKey = _any_label
    train_from: tuple[str, ...] | None = None  # None: every record not used for val/test
    val_from: tuple[str, ...] = ()  # official splits used as val when they have records
    test_from: tuple[str, ...] = ()
    val_frac: float = 0.15  # carved from the train pool (fraction of the pool incl. test when carved)
    test_frac: float = 0.15
    val_cap: int | None = None
    by_patient: bool = False  # carve whole patients (``Record.patient``), so none is on both sides


PROTOCOLS: dict[str, Protocol] = {
    "mimic-cxr": Protocol(_first_positive(COMPETITION_LABELS), ("train",), ("validate",), ("test",)),
    "chexpert": Protocol(_first_positive(COMPETITION_LABELS), ("train",), (), ("valid",), 0.1, 0.0, 5000),
    "rsna": Protocol(_label_key("Pneumonia")),
    "siim": Protocol(_label_key("Pneumothorax")),
    "covidx": Protocol(_meta_key("class"), ("train",), ("val",), ("test",), 0.2, 0.0, by_patient=True),
    "object-cxr": Protocol(_label_key("Foreign object"), ("train",), (), ("dev",), 0.1, 0.0),
}


def fraction_name(fraction: float) -> str:
    """1.0 -> "train", 0.01 -> "train_1", 0.1 -> "train_10" (percent of train)."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"label fraction must be in (0, 1], got {fraction}")
    return "train" if fraction == 1.0 else f"train_{round(fraction * 100, 6):g}"


def _rng(seed: int, purpose: str) -> np.random.Generator:
    return np.random.default_rng([int(seed), zlib.crc32(purpose.encode())])


def stratified_order(records: Sequence[Record], key: StratumKey, seed: int, purpose: str) -> list[Record]:
    """All ``records`` in a seeded order whose every prefix is spread proportionally over strata."""
    rng = _rng(seed, purpose)
    strata: dict[str, list[Record]] = {}
    for record in sorted(records, key=lambda r: r.key):
        strata.setdefault(key(record), []).append(record)
    placed: list[tuple[float, str, Record]] = []
    for name in sorted(strata):
        members = strata[name]
        order = rng.permutation(len(members))
        offset = float(rng.random())
        placed.extend(((i + offset) / len(members), members[j].key, members[j]) for i, j in enumerate(order))
    return [r for *_, r in sorted(placed, key=lambda t: (t[0], t[1]))]


def _carve(
    pool: list[Record], n: int, key: StratumKey, seed: int, purpose: str
) -> tuple[list[Record], list[Record]]:
    order = stratified_order(pool, key, seed, purpose)
    return order[:n], order[n:]


def _patient(record: Record) -> str:
    return record.patient or record.key  # a record without a patient id is its own patient


def _carve_patients(
    pool: list[Record], n: int, key: StratumKey, seed: int, purpose: str
) -> tuple[list[Record], list[Record]]:
    """Whole patients, in the stratified order of each patient's first record, until ``n`` records."""
    patients: dict[str, list[Record]] = {}
    for record in sorted(pool, key=lambda r: r.key):
        patients.setdefault(_patient(record), []).append(record)
    taken: set[str] = set()
    count = 0
    for first in stratified_order([members[0] for members in patients.values()], key, seed, purpose):
        if count >= n:
            break
        taken.add(_patient(first))
        count += len(patients[_patient(first)])
    return [r for r in pool if _patient(r) in taken], [r for r in pool if _patient(r) not in taken]


def _official(table: Table, names: Iterable[str]) -> list[Record]:
    wanted = set(names)
    return [r for r in table.records if r.split in wanted]


def _nested(
    train: list[Record], fractions: Sequence[float], key: StratumKey, seed: int
) -> dict[str, list[str]]:
    order = stratified_order(train, key, seed, "fractions")
    heads: dict[str, Record] = {}
    for record in order:
        heads.setdefault(key(record), record)
    out: dict[str, list[str]] = {}
    for fraction in sorted(fractions, reverse=True):
        chosen = {r.key for r in order[: round(fraction * len(order))]} | {r.key for r in heads.values()}
        out[fraction_name(fraction)] = sorted(chosen)
    return out


def make_splits(
    table: Table,
    seed: int = 0,
    val_frac: float | None = None,
    test_frac: float | None = None,
    fractions: Sequence[float] = (0.01, 0.1, 1.0),
) -> dict[str, list[str]]:
    """{"train", "train_1", "train_10", "val", "test"} -> sorted record keys, deterministic from
    ``seed``. ``val_frac``/``test_frac`` override the dataset's protocol where it carves."""
    proto = PROTOCOLS.get(table.dataset.lower(), Protocol())
    val_frac = proto.val_frac if val_frac is None else val_frac
    test_frac = proto.test_frac if test_frac is None else test_frac
    for label, value in (("val_frac", val_frac), ("test_frac", test_frac)):
        if not 0.0 <= value < 1.0:
            raise ValueError(f"{label} must be in [0, 1), got {value}")
    if 1.0 not in fractions:
        fractions = (*fractions, 1.0)
    pool = _official(table, proto.train_from) if proto.train_from is not None else list(table.records)
    test = _official(table, proto.test_from)
    carved_test = not test
    if carved_test and proto.test_from:
        log.warning("%s: no records in split(s) %s; carving a test set instead", table.dataset, proto.test_from)
    if carved_test:
        test, pool = _carve(pool, round(test_frac * len(pool)), proto.key, seed, "test")
    val = _official(table, proto.val_from)
    if not val and proto.val_from:
        log.info("%s: no records in split(s) %s; carving val from train", table.dataset, proto.val_from)
    if not val:
        # A carved test set and val are both fractions of everything (70/15/15); otherwise val is a
        # fraction of the official train split.
        n_val = round(val_frac * (len(pool) + len(test) if carved_test else len(pool)))
        n_val = min(n_val, proto.val_cap) if proto.val_cap is not None else n_val
        carve = _carve_patients if proto.by_patient else _carve
        val, pool = carve(pool, n_val, proto.key, seed, "val")
    if not pool:
        raise ValueError(f"{table.dataset}: no records left for training ({len(table)} records in all)")
    splits = _nested(pool, fractions, proto.key, seed)
    splits["val"] = sorted(r.key for r in val)
    splits["test"] = sorted(r.key for r in test)
    return splits


# -- files and hashes -----------------------------------------------------------------------------
def _content(keys: Iterable[str]) -> bytes:
    return "".join(f"{k}\n" for k in keys).encode("utf-8")


def split_hash(keys: Iterable[str]) -> str:
    """sha256 of a split as written to disk (one key per line, sorted), so file and keys agree."""
    return hashlib.sha256(_content(sorted(keys))).hexdigest()


def write_splits(splits: dict[str, list[str]], out_dir: Path | str, meta: dict | None = None) -> Path:
    """Write ``<name>.txt`` per split plus ``splits.json`` (sha256 and count per file, ``meta``)."""
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        files: dict[str, dict[str, object]] = {}
        for name, keys in splits.items():
            content = _content(sorted(keys))
            (out / f"{name}.txt").write_bytes(content)
            files[f"{name}.txt"] = {"sha256": hashlib.sha256(content).hexdigest(), "count": len(keys)}
        manifest = {"files": files, **(meta or {})}
        (out / HASH_FILE).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    except OSError as exc:
        from bench.errors import UserError

        raise UserError(f"cannot write the split files under {out}: {exc.strerror or exc}") from exc
    return out / HASH_FILE


def read_splits(directory: Path | str) -> dict[str, list[str]]:
    """Read the splits written by :func:`write_splits`, verifying every file against its hash."""
    folder = Path(directory)
    manifest_path = folder / HASH_FILE
    if not manifest_path.is_file():
        raise ValueError(f"{manifest_path}: missing; expected the manifest written with the split files")
    files = json.loads(manifest_path.read_text()).get("files", {})
    splits: dict[str, list[str]] = {}
    for filename, info in files.items():
        path = folder / filename
        if not path.is_file():
            raise ValueError(f"{path}: split file missing (listed in {manifest_path})")
        content = path.read_bytes()
        digest = hashlib.sha256(content).hexdigest()
        if digest != info["sha256"]:
            raise ValueError(
                f"{path}: content changed since the splits were written "
                f"(sha256 {digest[:12]}..., {HASH_FILE} says {info['sha256'][:12]}...)"
            )
        splits[filename[: -len(".txt")]] = content.decode("utf-8").splitlines()
    return splits
