"""``bench import --format F CKPT --out OUT``: official weights -> this project's checkpoint.

The file is read with ``torch.load(weights_only=True)`` (no code from it runs). The format is
looked up in :data:`bench.registry.FORMATS` (plugins add formats through the ``bench.formats``
entry-point group); its converter maps the file's keys to those of its ``METHOD``, which is built
at ``--preset`` (default: default, the paper settings the official weights have) and the mapped tensors are loaded into it. Every
mapped key must exist in the model with the same shape. Source keys the converter could not place
stop the import (exit 2, listed) unless the converter declares them as known to be unused (its
``DROPPED`` prefixes) or ``--allow-unmatched`` is given. Model keys the file does not
cover keep their initial values and are listed; ``--strict`` makes that an error too.
The output is read by :func:`bench.checkpoint.load_checkpoint` like a pretrained checkpoint.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from bench.errors import UserError
from bench.registry import FORMATS, METHODS

HELP = "convert official PRIOR / GLoRIA / BenchX-ConVIRT weights into a bench checkpoint"
log = logging.getLogger(__name__)

SHOWN = 20


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", required=True, metavar="F", help=f"one of: {', '.join(FORMATS.names())}")
    parser.add_argument("checkpoint", metavar="CKPT", help="the official checkpoint file")
    parser.add_argument("--out", required=True, help="the checkpoint to write")
    parser.add_argument("--preset", default="default", help="architecture preset the weights fit (default: default)")
    parser.add_argument("--set", nargs="+", action="extend", default=[], metavar="K=V", help="config overrides")
    parser.add_argument("--allow-unmatched", action="store_true", help="ignore source keys with no place")
    parser.add_argument("--strict", action="store_true", help="fail when the file leaves model keys uncovered")


def _listing(keys: list[str]) -> str:
    more = f" ... and {len(keys) - SHOWN} more" if len(keys) > SHOWN else ""
    return ", ".join(keys[:SHOWN]) + more


def _converter(fmt: str) -> tuple[str, Any, tuple[str, ...]]:
    """(method name, converter function, dropped prefixes) of the registered format ``fmt``."""
    converter = FORMATS.get(fmt)  # UnknownNameError (exit 2) with the nearest name
    return converter.METHOD, converter.convert_official, tuple(getattr(converter, "DROPPED", ()))


def read_official(path: Path) -> Any:
    from bench.fileio import WeightsFileError, load_weights_only

    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        return load_weights_only(path)
    except WeightsFileError as exc:
        raise UserError(
            f"{path} cannot be read with weights_only=True ({exc.reason}). "
            "If you trust the file, save its state dict alone: "
            "torch.save(torch.load(CKPT, weights_only=False)['state_dict'], 'flat.pt')"
        ) from None


def fit(model_state: dict[str, Any], mapped: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(problems: mapped keys unknown to the model or of another shape; model keys not covered)."""
    problems = []
    for key, value in mapped.items():
        if key not in model_state:
            problems.append(f"{key} (not in the model)")
        elif tuple(model_state[key].shape) != tuple(value.shape):
            problems.append(f"{key} (file {tuple(value.shape)}, model {tuple(model_state[key].shape)})")
    missing = sorted(set(model_state) - set(mapped))
    return problems, missing


def run(args: argparse.Namespace) -> int:
    from bench.checkpoint import checkpoint_payload, save_checkpoint
    from bench.config import parse_overrides, resolve

    method_name, convert, dropped = _converter(args.format)
    source = Path(args.checkpoint)
    mapped, unmatched = convert(read_official(source))
    ignored = [k for k in unmatched if dropped and k.removeprefix("module.").startswith(dropped)]
    unmatched = [k for k in unmatched if k not in set(ignored)]
    if ignored:
        log.info("%d source tensors are unused by design (e.g. %s)", len(ignored), ignored[:3])
    if unmatched and not args.allow_unmatched:
        raise UserError(
            f"{source}: {len(unmatched)} key(s) have no place in {method_name} "
            f"(is it a {args.format} checkpoint?): {_listing(unmatched)}; pass --allow-unmatched to ignore them"
        )
    cls = METHODS.get(method_name)
    cfg = resolve(args.preset, method_name, parse_overrides(args.set), getattr(cls, "Config", None))
    method = cls.from_config(cfg)
    problems, missing = fit(method.state_dict(), mapped)
    if problems:
        raise UserError(
            f"{source}: {len(problems)} tensor(s) do not fit {method_name} at preset {args.preset!r}: "
            f"{_listing(problems)}; pick the preset/--set the weights were trained with"
        )
    if missing and args.strict:
        raise UserError(f"{source} leaves {len(missing)} {method_name} key(s) uncovered: {_listing(missing)}")
    if missing:
        log.warning("%d %s key(s) not in the file keep their initial values: %s",
                    len(missing), method_name, _listing(missing))
    method.load_state_dict(mapped, strict=False)
    payload = checkpoint_payload(
        method,
        cfg,
        step=0,
        imported={"format": args.format, "source": str(source.resolve()), "tensors": len(mapped),
                  "missing": missing, "ignored": ignored, "unmatched": unmatched},
    )
    out = save_checkpoint(Path(args.out), payload)
    log.info("imported %d tensors from %s", len(mapped), source)
    print(out)
    return 0
