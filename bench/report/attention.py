"""Attention maps for the report: which patches each report sentence attends to.

A method shows its attention through the optional method hook

    local_attention(images [B, 1, H, W], text: tokenize(reports)) -> (maps [B, S, h, w], mask [B, S])

(``None`` when the model as configured has no local attention): sentence ``s`` of report ``b``
(its ``s``-th non-empty sentence) spreads ``maps[b, s]`` over the image's ``h x w`` patches.
PRIOR gives its sigmoid local cross-attention, GLoRIA its word-region attention averaged over
each sentence's words; a method without the hook (ConVIRT: global only) is named as such.

Images: the test split of the pretraining corpus (mimic-cxr), ordered by a hash of their keys
(the same images for every method, whatever the results), those with a drawn finding in the
SynthCXR manifest first. The ground-truth finding boxes of the manifest are drawn on every panel.
Panels are composed in numpy (not plotted), so a map's pixels are where its patches are.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.data.base import Record

log = logging.getLogger(__name__)
CORPUS = "mimic-cxr"
MAX_SENTENCES = 4
BOX_COLOURS = ((0, 255, 0), (255, 0, 255), (0, 255, 255), (255, 255, 0))  # one per finding, in order


@dataclass
class Study:
    """One chosen image: its key, pixels in [0, 1], report sentences and ground-truth boxes."""

    key: str
    record: Record
    sentences: list[str]
    boxes: list[tuple[str, tuple[float, float, float, float]]] = field(default_factory=list)  # (label, x1y1x2y2)
    manifest: bool = False  # whether a SynthCXR manifest describes the image


def _manifest(base: Path) -> dict[str, dict[str, Any]]:
    from bench.data.synth import MANIFEST

    path = base / MANIFEST
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return {e["key"]: e for e in data.get("datasets", {}).get(CORPUS, [])}


def _boxes(entry: dict[str, Any] | None) -> list[tuple[str, tuple[float, float, float, float]]]:
    out = []
    for f in (entry or {}).get("findings", []):
        if f.get("box"):
            where = " ".join(str(p) for p in (f.get("side"), f.get("zone")) if p)
            out.append((f"{f['kind']} ({where})" if where else str(f["kind"]), tuple(float(v) for v in f["box"])))
    return out


def _order(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def choose(records: list[Record], base: Path, count: int) -> list[Study]:
    """``count`` test images with report sentences (one per study), the same ones for every method."""
    manifest = _manifest(base)
    test = [r for r in records if r.split == "test" and r.sentences] or [r for r in records if r.sentences]
    test.sort(key=lambda r: (not _boxes(manifest.get(r.key)), _order(r.key)))
    seen: set[str] = set()
    test = [r for r in test if not ((r.study or r.key) in seen or seen.add(r.study or r.key))]  # one per study
    return [
        Study(r.key, r, [s for s in r.sentences if s.strip()], _boxes(manifest.get(r.key)), r.key in manifest)
        for r in test[:count]
    ]


def load_studies(data: str | Path | None, cfg: Any, count: int) -> tuple[list[Study], str]:
    """The chosen images of the data folder (or the embedded default) and where they came from."""
    from bench.data.resolve import data_dir, dataset_root
    from bench.registry import DATASETS

    base = data_dir(data, cfg)
    table = DATASETS.get(CORPUS).read(dataset_root(CORPUS, data, cfg))
    return choose(table.records, base, count), str(base)


def pixels(study: Study) -> np.ndarray:
    from bench.data.images import load_image

    return load_image(study.record.image)


def batch(studies: list[Study], cfg: Any) -> Any:
    """[B, 1, S, S] normalised as in pretraining (resize only, no augmentation)."""
    import torch
    import torchvision.transforms.functional as TF

    size = int(cfg.model.image_size)
    images = []
    for study in studies:
        x = torch.from_numpy(np.ascontiguousarray(pixels(study), dtype=np.float32))[None]
        x = TF.resize(x, [size, size], interpolation=TF.InterpolationMode.BILINEAR, antialias=True)
        images.append((x - float(cfg.data.mean)) / float(cfg.data.std))
    return torch.stack(images)


def attention_maps(method: Any, cfg: Any, studies: list[Study]) -> list[np.ndarray] | None:
    """Per study, its sentences' maps [S, h, w] (float), or None when the method has no hook/map."""
    import torch

    hook = getattr(method, "local_attention", None)
    if hook is None or not studies:
        return None
    device = next(method.parameters()).device
    text = {k: v.to(device) for k, v in method.tokenize([s.sentences for s in studies]).items()}
    with torch.no_grad():
        out = hook(batch(studies, cfg).to(device), text)
    if out is None:
        return None
    maps, mask = out
    return [maps[i][mask[i].bool()].float().cpu().numpy() for i in range(len(studies))]


def heat(grid: np.ndarray, height: int, width: int) -> np.ndarray:
    """An [h, w] patch map spread over [height, width] pixels, each patch a block, scaled to [0, 1]."""
    grid = np.asarray(grid, dtype=np.float32)
    rows = (np.arange(height) * grid.shape[0]) // height
    cols = (np.arange(width) * grid.shape[1]) // width
    up = grid[rows][:, cols]
    low, high = float(up.min()), float(up.max())
    return (up - low) / (high - low) if high > low else np.zeros_like(up)


HEAT_RGB = np.array([1.0, 0.08, 0.0], dtype=np.float32)  # one hue: a map's weight reads as how red, not which colour


def panel(image: np.ndarray, grid: np.ndarray | None, boxes: list[tuple[str, tuple]], alpha: float = 0.6) -> np.ndarray:
    """RGB uint8: the grey image, the map as a red overlay whose opacity is the weight (when given), the
    boxes outlined."""
    from PIL import Image, ImageDraw

    grey = np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0)
    rgb = np.repeat(grey[..., None], 3, axis=2)
    if grid is not None:
        h = heat(grid, *grey.shape)
        weight = alpha * h[..., None]  # cold patches leave the radiograph visible
        rgb = (1 - weight) * rgb + weight * HEAT_RGB
    out = Image.fromarray((rgb * 255).round().astype(np.uint8))
    draw = ImageDraw.Draw(out)
    line = max(1, grey.shape[0] // 100)
    for i, (_, (x1, y1, x2, y2)) in enumerate(boxes):
        draw.rectangle([x1, y1, x2 - 1, y2 - 1], outline=box_colour(i), width=line)
    return np.asarray(out)


def box_colour(index: int) -> tuple[int, int, int]:
    return BOX_COLOURS[index % len(BOX_COLOURS)]


def save_png(rgb: np.ndarray, path: Path) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb).save(path)
    return path
