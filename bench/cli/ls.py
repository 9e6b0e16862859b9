"""``bench ls [methods|tasks|datasets|presets]``: what is registered, without importing torch."""

from __future__ import annotations

import argparse

from bench.registry import DATASETS, METHODS, PRESETS, TASKS, Registry

HELP = "list registered methods, tasks, datasets and presets"



def _registries() -> dict[str, Registry]:
    return {"methods": METHODS, "tasks": TASKS, "datasets": DATASETS, "presets": PRESETS}


def _method_line(name: str) -> str:
    meta = METHODS.meta(name)
    comps = ", ".join(meta.get("components", ())) or "(none)"
    paper = f"  [{meta['paper']}]" if meta.get("paper") else ""
    return f"components: {comps}{paper}"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("what", nargs="?", choices=sorted(_registries()), help="one kind only")


def run(args: argparse.Namespace) -> int:
    kinds = [args.what] if args.what else list(_registries())
    for kind in kinds:
        reg = _registries()[kind]
        print(f"{kind}:")
        for name in reg.available():
            extra = _method_line(name) if reg is METHODS else ""
            print(f"  {name:<16}{extra}".rstrip())
    return 0
