"""Pretraining and evaluation throughput, one command: ``python -m bench.perf.throughput --out FILE``.

For each method it pretrains at the default preset's shape (ResNet-50 at 224 px and a text tower
of BERT-base shape, random weights: speed does not depend on them) through the real engine,
data loading included (SynthCXR at 224 px from its memory-mapped image cache, ``--workers``
loader processes), bf16 autocast on GPUs (and on CPUs with native bf16). Images/s come from the
trainer's own log windows (``train.log_every`` steps each), leaving out each stage's first
window (warm-up, cudnn autotuning); PRIOR reports each of its three stages. Evaluation throughput
is the frozen image and text encoders' forward in eval mode on device-resident batches (what the
feature cache of every frozen-encoder task runs), in images (reports) per second.

The JSON names the device, torch, CUDA, the settings, and every figure; nothing is asserted about
time. On a GPU the default run (three methods, 60 steps each) takes a few minutes.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import sys
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
METHODS = ("convirt", "gloria", "prior")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.perf.throughput", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, type=Path, help="JSON file to write")
    p.add_argument("--methods", default=",".join(METHODS), help="comma-separated (default: all three)")
    p.add_argument("--preset", default="default", help="the shape to measure (default: the default preset)")
    p.add_argument("--text", default="bert-base", help="text tower shape (bench.perf.text_shape): bert-base | minilm")
    p.add_argument("--batch", type=int, default=64, help="per-device batch")
    p.add_argument("--steps", type=int, default=60, help="pretraining steps per method (PRIOR: a third per stage)")
    p.add_argument("--log-every", type=int, default=10, help="steps per timing window")
    p.add_argument("--studies", type=int, default=800, help="SynthCXR studies to generate (epochs repeat them)")
    p.add_argument("--image-size", type=int, default=224)
    p.add_argument("--workers", type=int, default=8, help="data-loading processes")
    p.add_argument("--eval-batch", type=int, default=256)
    p.add_argument("--eval-batches", type=int, default=20)
    p.add_argument("--work", type=Path, default=Path("results/runs/_throughput"), help="data, text tower, checkpoints")
    p.add_argument("--device", default="auto", help="auto | cuda | cpu")
    p.add_argument("--fp32", action="store_true", help="no bf16 autocast")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="more config overrides")
    return p.parse_args(argv)


def device_info(device: str) -> dict[str, Any]:
    import torch

    info = {"torch": torch.__version__, "python": platform.python_version(), "threads": torch.get_num_threads()}
    if device == "cuda":
        info |= {"device": torch.cuda.get_device_name(0), "cuda": torch.version.cuda,
                 "device_count": torch.cuda.device_count()}
    else:
        model = next((line.partition(":")[2].strip() for line in _cpuinfo() if line.startswith("model name")), "")
        info |= {"device": model or platform.processor() or "cpu"}
    return info


def _cpuinfo() -> list[str]:
    try:
        return Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return []


def prepare_data(args: argparse.Namespace) -> Path:
    """SynthCXR's pretraining corpus at ``--image-size`` with its image cache (reused when there)."""
    from bench.data.check import light_options
    from bench.data.image_cache import write
    from bench.data.synth.generate import generate
    from bench.registry import DATASETS

    root = args.work / f"synth{args.studies}_{args.image_size}"
    if not (root / "mimic-cxr").is_dir():
        generate(root, studies=args.studies, size=args.image_size, datasets=("mimic-cxr",),
                 workers=min(args.workers, 4))
    table = DATASETS.get("mimic-cxr").read(root / "mimic-cxr", **light_options("mimic-cxr"))
    write(table.dataset, root / "mimic-cxr", table.records, args.image_size, workers=max(1, args.workers))
    return root


def window_rates(records: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per stage: mean images/s over its log windows after the first, and the windows used."""
    by_stage: dict[str, list[float]] = {}
    for r in records:
        by_stage.setdefault(r["stage"], []).append(float(r["images_per_s"]))
    out = {}
    for stage, rates in by_stage.items():
        kept = rates[1:] or rates
        out[stage] = {"images_per_s": sum(kept) / len(kept), "windows": len(kept)}
    return out


def overrides(args: argparse.Namespace, method: str, text_dir: Path, device: str) -> dict[str, Any]:
    from bench.config import parse_overrides

    bf16 = not args.fp32
    sets: dict[str, Any] = {
        "model.text_encoder": str(text_dir), "model.image_weights": "none", "model.image_size": str(args.image_size),
        "train.batch_size": str(args.batch), "train.max_steps": str(args.steps), "train.warmup_steps": "0",
        "train.log_every": str(args.log_every), "train.ckpt_every": str(10 * args.steps),
        "train.num_workers": str(args.workers), "train.device": device, "train.amp": str(bf16).lower(),
        "train.cpu_bf16": str(bf16).lower(), "data.synth_size": str(args.image_size),
    }
    if method == "prior":
        sets["method.stage_ratio"] = "1,1,1"
    return sets | parse_overrides(args.set)


def measure_pretraining(args: argparse.Namespace, method: str, data: Path, text_dir: Path, device: str) -> dict:
    from bench.pretraining import Pretraining, pretrain, pretrain_config
    from bench.train_utils import read_log

    cfg = pretrain_config(method, args.preset, overrides(args, method, text_dir, device))
    out = args.work / "pretrain" / method
    for stale in ("last.pt", "final.pt", "log.jsonl"):
        (out / stale).unlink(missing_ok=True)
    start = time.perf_counter()
    pretrain(Pretraining(method, (), cfg, data), out)
    wall = time.perf_counter() - start
    stages = window_rates(read_log(out / "log.jsonl"))
    slowest = min(s["images_per_s"] for s in stages.values())
    return {"stages": stages, "images_per_s": slowest, "wall_s_with_setup": wall, "config": cfg.to_dict()}


def measure_eval(args: argparse.Namespace, method: str, text_dir: Path, device: str) -> dict[str, float]:
    import torch

    from bench.pretraining import pretrain_config
    from bench.registry import METHODS as REGISTRY

    cfg = pretrain_config(method, args.preset, overrides(args, method, text_dir, device))
    model = REGISTRY.get(method).from_config(cfg).to(device).eval()
    gen = torch.Generator().manual_seed(0)
    images = torch.randn(args.eval_batch, model.in_channels, args.image_size, args.image_size, generator=gen).to(device)
    reports = [["No acute cardiopulmonary process.", "Heart size is normal.", "Small left pleural effusion."]]
    text = {k: v.to(device) for k, v in model.tokenize(reports * args.eval_batch).items()}
    dtype = None if args.fp32 else torch.bfloat16
    out = {}
    for name, fn in (("image", lambda: model.encode_image(images)), ("text", lambda: model.encode_text(text))):
        with torch.inference_mode(), torch.autocast(device, dtype=dtype or torch.float32, enabled=dtype is not None):
            fn()
            _sync(device)
            start = time.perf_counter()
            for _ in range(args.eval_batches):
                fn()
            _sync(device)
        out[f"{name}_per_s"] = args.eval_batches * args.eval_batch / (time.perf_counter() - start)
    return out


def _sync(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()


def main(argv: list[str] | None = None) -> int:
    import torch

    from bench.perf.text_shape import write_text_tower

    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    device = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = sorted(set(methods) - set(METHODS))
    if unknown or not methods:
        print(f"--methods: unknown {', '.join(unknown) or '(none given)'}; known: {', '.join(METHODS)}", file=sys.stderr)
        return 2
    args.work.mkdir(parents=True, exist_ok=True)
    text_dir = write_text_tower(args.text, args.work / f"text-{args.text}")
    data = prepare_data(args)
    report: dict[str, Any] = {"machine": device_info(device), "settings": {
        "preset": args.preset, "text": args.text, "batch": args.batch, "steps": args.steps, "image_size": args.image_size,
        "workers": args.workers, "bf16": not args.fp32, "studies": args.studies, "set": args.set}, "methods": {}}
    for method in methods:
        log.info("%s: pretraining %d steps at batch %d", method, args.steps, args.batch)
        entry = measure_pretraining(args, method, data, text_dir, device)
        entry["eval"] = measure_eval(args, method, text_dir, device)
        report["methods"][method] = entry
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2, default=str))  # each method kept as it lands
        rates = ", ".join(f"{s} {v['images_per_s']:.1f}" for s, v in entry["stages"].items())
        print(f"{method}: pretraining images/s {rates}; eval images/s {entry['eval']['image_per_s']:.0f}, "
              f"reports/s {entry['eval']['text_per_s']:.0f}", flush=True)
    print(f"wrote {args.out} ({report['machine']['device']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
