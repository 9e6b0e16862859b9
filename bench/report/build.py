"""``write_report``: results (+ checkpoints) -> ``out/index.html`` and ``out/img/*.png``."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench import leaderboard
from bench.errors import UserError
from bench.report import attention, sections
from bench.report.page import Page, esc, img, para
from bench.results import Result, variant_name

log = logging.getLogger(__name__)
RANDOM_PREFIX = "random:"
DISPLAY = 192  # pixels of an attention panel's longer side


@dataclass
class Model:
    label: str
    method: Any
    cfg: Any


def load_model(spec: str, preset: str) -> Model:
    """A checkpoint file, or ``random:<method>``: the untrained architecture at ``preset``."""
    from bench.checkpoint import build_method, load_checkpoint
    from bench.config import resolve
    from bench.registry import METHODS
    from bench.seeding import seed_everything

    if spec.startswith(RANDOM_PREFIX):
        name = spec[len(RANDOM_PREFIX):].lower()
        cls = METHODS.get(name)
        cfg = resolve(preset, name, None, getattr(cls, "Config", None))
        seed_everything(cfg.train.seed)
        return Model(f"{name}{leaderboard.RANDOM}", build_method(name, cfg).eval(), cfg)
    path = Path(spec).expanduser()
    if not path.is_file():
        raise UserError(f"--checkpoint {path}: no such file (or give random:<method>)")
    method, cfg = load_checkpoint(path)
    return Model(variant_name(method.name, getattr(method, "drop", ())), method, cfg)


def default_checkpoints(results: list[Result]) -> list[str]:
    """The newest existing checkpoint file of each full method named in the results."""
    newest: dict[str, Result] = {}
    for r in results:
        if r.checkpoint != "random" and not r.ablation and Path(r.checkpoint).is_file():
            if r.method not in newest or r.created > newest[r.method].created:
                newest[r.method] = r
    return [newest[m].checkpoint for m in sorted(newest)]


def data_folder(results: list[Result]) -> str | None:
    """The data folder the results name (the parent of their datasets' roots) when it holds the
    pretraining corpus; None (the embedded default) otherwise."""
    roots = Counter(str(r.data_source.get("root")) for r in results if (r.data_source or {}).get("root"))
    for root, _ in roots.most_common():
        base = Path(root).parent
        if (base / attention.CORPUS).is_dir():
            return str(base)
    return None


def _display(study: attention.Study) -> tuple[np.ndarray, list[tuple[str, tuple]]]:
    from PIL import Image

    grey = attention.pixels(study)
    scale = DISPLAY / max(grey.shape)
    size = (max(1, round(grey.shape[1] * scale)), max(1, round(grey.shape[0] * scale)))
    shown = np.asarray(Image.fromarray(grey.astype(np.float32), mode="F").resize(size, Image.BILINEAR))
    boxes = [(label, tuple(v * scale for v in box)) for label, box in study.boxes]
    return shown, boxes


def _model_row(model: Model, maps: np.ndarray | None, index: int, shown, boxes, n_sent: int, out: Path) -> str:
    name = f"<td>{esc(model.label)}</td>"
    if maps is None:
        reason = ("has no local attention: global embeddings only" if not _has_hook(model.method)
                  else "has no local attention as configured (e.g. local alignment dropped)")
        return f'<tr>{name}<td colspan="{n_sent}">{esc(model.label)} {esc(reason)}</td></tr>'
    cells = []
    for s in range(n_sent):
        if s >= len(maps):
            cells.append("<td>not reached (report truncated by the tokenizer)</td>")
            continue
        path = out / sections.IMG / f"attention-{index}-{sections.slug(model.label)}-{s}.png"
        attention.save_png(attention.panel(shown, maps[s], boxes), path)
        low, high = float(maps[s].min()), float(maps[s].max())
        cells.append(
            f"<td>{img(path.relative_to(out).as_posix(), f'{model.label}, sentence {s + 1}')}"
            f'<div class="range">weights {low:.3g} to {high:.3g}</div></td>'
        )
    return f"<tr>{name}{''.join(cells)}</tr>"


def attention_section(models: list[Model], studies: list[attention.Study], source: str, out: Path) -> str:
    if not models:
        return para("No checkpoint to draw: pass --checkpoint (a file, or random:<method>), or run the methods "
                    "first (the results name their checkpoints).")
    if not studies:
        return para(f"No test image with a report in {source}.")
    parts = [para(f"Images from the {attention.CORPUS} test split of {source}, the same for every method. "
                  "Colour: each sentence's attention over the image patches, scaled from its lowest (clear) to its "
                  "highest weight (red) in that map; boxes: the ground-truth finding regions from the SynthCXR "
                  "manifest, one colour per finding.", "muted")]
    maps = {m.label: attention.attention_maps(m.method, m.cfg, studies) for m in models}
    for i, study in enumerate(studies):
        shown, boxes = _display(study)
        sentences = study.sentences[: attention.MAX_SENTENCES]
        gt = out / sections.IMG / f"attention-{i}-truth.png"
        attention.save_png(attention.panel(shown, None, boxes), gt)
        none = "no drawn finding (a normal study)" if study.manifest else "no SynthCXR manifest: not drawn"
        truth = "".join(
            f'<li><span style="color: rgb{attention.box_colour(k)}">&#9632;</span> {esc(label)}</li>'
            for k, (label, _) in enumerate(study.boxes)
        ) or f"<li>{esc(none)}</li>"
        head = "".join(f"<th>{s + 1}. {esc(text)}</th>" for s, text in enumerate(sentences))
        rows = "".join(
            _model_row(m, None if maps[m.label] is None else maps[m.label][i], i, shown, boxes, len(sentences), out)
            for m in models
        )
        parts += [
            f"<h3>Image {i + 1}: {esc(study.key)}</h3>",
            f'<div class="figures">{img(gt.relative_to(out).as_posix(), "image and ground truth")}'
            f"<div>{para('Ground truth:')}<ul>{truth}</ul></div></div>",
            f'<div class="scroll"><table class="attention"><tr><th>method</th>{head}</tr>{rows}</table></div>',
        ]
    return "\n".join(parts)


def write_report(
    results_dir: str | Path,
    out: str | Path,
    checkpoints: list[str] | None = None,
    data: str | None = None,
    images: int = 3,
) -> Path:
    """Write ``out/index.html`` (and ``out/img``); returns the page's path."""
    out = Path(out)
    (out / sections.IMG).mkdir(parents=True, exist_ok=True)
    loaded = leaderboard.load(results_dir)
    results = loaded.results
    wide = leaderboard.build(results)
    long = leaderboard.summarise(results)
    notes = loaded.notes + leaderboard.notes(wide)
    specs = list(checkpoints) if checkpoints else default_checkpoints(results)
    presets = Counter(r.preset for r in results if r.preset)
    preset = presets.most_common(1)[0][0] if presets else ("tiny" if data is None else "default")
    models = [load_model(s, preset) for s in specs]
    studies, source = ([], "")
    if models:
        where = data if data is not None else data_folder(results)
        studies, source = attention.load_studies(where, models[0].cfg, images)
    page = Page("medvlp-bench report")
    page.add("leaderboard", "Leaderboard", sections.leaderboard_section(wide, notes))
    page.add("provenance", "Provenance", sections.provenance_section(results, data))
    page.add("label-efficiency", "Label efficiency", sections.curves_section(long, out))
    page.add("ablations", "Ablations", sections.ablations_section(results, out))
    page.add("confusion", "Zero-shot confusion matrices", sections.confusion_section(results, out))
    page.add("attention", "Attention maps", attention_section(models, studies, source, out))
    index = out / "index.html"
    index.write_text(page.render(), encoding="utf-8")
    log.info("report: %s (%d results, %d model(s))", index, len(results), len(models))
    return index


SECTIONS = ("Leaderboard", "Provenance", "Label efficiency", "Ablations", "Zero-shot confusion matrices",
            "Attention maps")


def _has_hook(method: Any) -> bool:
    probe = getattr(type(method), "has_local_attention", None)
    return bool(probe()) if probe is not None else hasattr(method, "local_attention")
