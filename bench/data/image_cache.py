"""The preprocessed image cache: every image of a dataset decoded and resized once, as uint8.

``bench data cache --dataset D --size PX`` writes one folder per dataset copy and size under
``$BENCH_CACHE/images`` (``<dataset>-<hash of the resolved root>-<PX>px``):

- ``pixels.npy``: uint8 [N, PX, PX], memory-mapped by the readers (:func:`numpy.load` with
  ``mmap_mode="r"``), row i the image of record i;
- ``index.parquet``: per row the record key, the image path, the file's size and mtime (ns) when it
  was decoded, its stored height and width, and whether it decoded (``reason`` when not);
- ``meta.json``, written last: dataset, root, size, version, rows and ``fingerprint`` (sha256 of
  every row's path, size and mtime: the source the pixels came from).

A row is :func:`bench.data.images.grey_uint8` of the image: the loaders' resize (bilinear,
antialiased) rounded to the nearest of 256 levels. Decoding and resizing a JPEG gives the same
float image before that rounding, so a cached image differs from the decoded one by at most
0.5/255 per pixel before normalisation (nothing when the stored image already has PX x PX 8-bit
pixels; the dense tasks store exactly this uint8). A row is served only while its file keeps the
size and mtime it had (one stat per use); a changed, new or undecodable image is decoded as if
there were no cache, and running the command again re-decodes only those.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.data.base import Record
from bench.fileio import atomic_path, cache_root, safe_name, write_json_atomic

log = logging.getLogger(__name__)
VERSION = 1
CHUNK = 64  # images per task of the process pool
META, INDEX, PIXELS = "meta.json", "index.parquet", "pixels.npy"


def folder_for(dataset: str, root: str | Path, size: int) -> Path:
    digest = hashlib.sha256(str(Path(root).resolve()).encode()).hexdigest()[:12]
    return cache_root() / "images" / safe_name(f"{dataset}-{digest}-{int(size)}px")


def _stat(path: str) -> tuple[int, int]:
    try:
        st = os.stat(path)
    except OSError:
        return -1, -1
    return st.st_size, st.st_mtime_ns


class ImageCache:
    """A written cache, opened for reading: :meth:`get` gives a record's uint8 pixels or None."""

    def __init__(self, folder: Path, meta: dict[str, Any], index: Any) -> None:
        self.folder, self.meta, self.size = folder, meta, int(meta["size"])
        self.rows = {k: i for i, k in enumerate(index["key"].tolist())}
        self.paths = index["path"].tolist()
        self.stats = np.stack([index["file_size"].to_numpy(np.int64), index["mtime_ns"].to_numpy(np.int64)], 1)
        self.shapes = np.stack([index["height"].to_numpy(np.int64), index["width"].to_numpy(np.int64)], 1)
        self.ok = index["ok"].to_numpy(bool)
        self._pixels: np.ndarray | None = None

    @classmethod
    def open(cls, dataset: str, root: str | Path, size: int) -> ImageCache | None:
        """The complete cache of ``dataset`` at ``root`` and ``size``, or None when there is none."""
        folder = folder_for(dataset, root, size)
        try:
            meta = json.loads((folder / META).read_text())
            if meta.get("version") != VERSION or int(meta["size"]) != int(size):
                return None
            import pandas as pd

            cache = cls(folder, meta, pd.read_parquet(folder / INDEX))
        except (OSError, ValueError, KeyError) as exc:
            if (folder / META).exists():
                log.warning("image cache %s unreadable (%s); decoding images", folder, exc)
            return None
        log.info("image cache %s: %d images at %d px", folder, len(cache.rows), cache.size)
        return cache

    @property
    def pixels(self) -> np.ndarray:
        if self._pixels is None:  # opened in each process that reads (loader workers included)
            self._pixels = np.load(self.folder / PIXELS, mmap_mode="r")
        return self._pixels

    def row(self, record: Record) -> int | None:
        """The row of ``record`` while it is valid: decoded, same path, same file size and mtime."""
        i = self.rows.get(record.key)
        if i is None or not self.ok[i] or self.paths[i] != record.image_path:
            return None
        return i if _stat(self.paths[i]) == tuple(self.stats[i]) else None

    def get(self, record: Record) -> np.ndarray | None:
        """uint8 [size, size] of ``record``, or None (not cached, changed, or it did not decode)."""
        i = self.row(record)
        return None if i is None else np.asarray(self.pixels[i])

    def shape(self, record: Record) -> tuple[int, int] | None:
        """The (height, width) the image is stored at, when :meth:`row` is valid."""
        i = self.row(record)
        return None if i is None else (int(self.shapes[i, 0]), int(self.shapes[i, 1]))

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_pixels": None}  # a memmap is reopened, never pickled


def open_for(cfg: Any, dataset: str, root: str | Path) -> ImageCache | None:
    """The cache at ``cfg.model.image_size`` when ``cfg.data.image_cache`` allows it and one exists."""
    if not getattr(cfg.data, "image_cache", True):
        return None
    return ImageCache.open(dataset, root, int(cfg.model.image_size))


# -- writing -------------------------------------------------------------------------------------
def _encode(pixels_path: str, size: int, rows: list[int], paths: list[str]) -> list[tuple]:
    """Decode, resize and store ``rows`` in the memory-mapped file (in a pool process)."""
    from bench.data.damaged import decode_error
    from bench.data.images import grey_uint8, load_image

    out = np.load(pixels_path, mmap_mode="r+")
    done = []
    for row, path in zip(rows, paths):
        file_size, mtime = _stat(path)  # before decoding: a file changed meanwhile is stale next time
        try:
            pixels = load_image(path)
            out[row] = grey_uint8(pixels, size)
            done.append((row, True, "", pixels.shape[0], pixels.shape[1], file_size, mtime))
        except Exception as exc:  # noqa: BLE001 - an undecodable image is recorded, decoded (and failing) on use
            done.append((row, False, decode_error(exc), -1, -1, file_size, mtime))
    out.flush()
    return done


def write(dataset: str, root: str | Path, records: Sequence[Record], size: int, *, workers: int = 4,
          progress: bool = True) -> dict[str, Any]:
    """Write (or bring up to date) the cache of ``records``; a summary with images/s. Rows still
    valid in an existing cache are kept; with the same records in the same order its pixel file is
    updated where stale (a failure midway then loses it: run the command again)."""
    import pandas as pd
    from tqdm import tqdm

    from bench.data.base import process_pool
    from bench.stale import remove_stale

    folder = folder_for(dataset, root, size)
    remove_stale(folder.parent)
    old = ImageCache.open(dataset, root, size)
    keys, paths = [r.key for r in records], [r.image_path for r in records]
    n = len(records)
    valid = [None] * len(records) if old is None else [old.row(r) for r in records]
    src = np.array([-1 if i is None else i for i in valid], np.int64)
    kept = np.flatnonzero(src >= 0)
    todo = np.flatnonzero(src < 0).tolist()
    stats, shapes = np.full((n, 2), -1, np.int64), np.full((n, 2), -1, np.int64)
    ok, reasons = np.zeros(n, bool), [""] * n
    if old is not None:
        stats[kept], shapes[kept], ok[kept] = old.stats[src[kept]], old.shapes[src[kept]], True
    in_place = old is not None and list(old.rows) == keys and old.paths == paths
    start = time.perf_counter()
    with atomic_path(folder, directory=True) as tmp:
        tmp.mkdir(parents=True)
        if in_place:
            os.replace(folder / PIXELS, tmp / PIXELS)  # same rows: only the stale ones are rewritten
        else:
            pixels = np.lib.format.open_memmap(tmp / PIXELS, mode="w+", dtype=np.uint8, shape=(n, size, size))
            for i in kept.tolist():
                pixels[i] = old.pixels[src[i]]
            pixels.flush()
            del pixels
        bar = tqdm(total=len(todo), unit="img", desc=f"{dataset} image cache", disable=not progress or not todo)
        chunks = [todo[i : i + CHUNK] for i in range(0, len(todo), CHUNK)]
        with process_pool(workers) as pool:
            for done in pool.map(_encode, [str(tmp / PIXELS)] * len(chunks), [size] * len(chunks), chunks,
                                 [[paths[i] for i in c] for c in chunks]):
                for row, decoded, reason, height, width, file_size, mtime in done:
                    ok[row], reasons[row] = decoded, reason
                    shapes[row], stats[row] = (height, width), (file_size, mtime)
                bar.update(len(done))
        bar.close()
        index = pd.DataFrame({"key": keys, "path": paths, "file_size": stats[:, 0], "mtime_ns": stats[:, 1],
                              "height": shapes[:, 0], "width": shapes[:, 1], "ok": ok, "reason": reasons})
        index.to_parquet(tmp / INDEX, index=False)
        source = "".join(f"{p}\t{a}\t{b}\n" for p, (a, b) in zip(paths, stats.tolist()))
        meta = {"dataset": dataset, "root": str(Path(root).resolve()), "size": int(size), "version": VERSION,
                "rows": n, "fingerprint": hashlib.sha256(source.encode()).hexdigest()}
        write_json_atomic(tmp / META, meta)
    seconds = time.perf_counter() - start
    summary = {"folder": str(folder), "images": n, "decoded": len(todo), "reused": len(kept),
               "failed": int((~ok).sum()), "seconds": round(seconds, 2),
               "images_per_s": round(len(todo) / seconds, 1) if todo and seconds > 0 else None,
               "bytes": n * size * size, "fingerprint": meta["fingerprint"],
               "failed_examples": [f"{paths[i]}: {reasons[i]}" for i in np.flatnonzero(~ok)[:5].tolist()]}
    log.info("image cache %s: %d decoded (%s images/s), %d reused, %d failed", folder, len(todo),
             summary["images_per_s"], len(kept), summary["failed"])
    return summary
