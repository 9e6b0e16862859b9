"""The results store: one JSON file per result, written atomically; load, list and filter.

A result is one evaluation cell: (method, ablation, checkpoint, preset, resolved config, task and
its version, protocol, dataset, label fraction, seed, split hashes). :func:`cell_key` digests
those fields before the cell runs; the file name ends in that digest, so ``bench run`` can skip a
cell whose result exists and a run with another ``--set`` never overwrites it. NaN and
infinities are written as null.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.config import _flatten
from bench.config_values import LEVERS_OFF
from bench.environment import environment
from bench.errors import UserError
from bench.fileio import safe_name, write_json_atomic

SCHEMA_VERSION = 2  # 2: cell_key, checkpoint_id, eval_preset, data_source
PRIVATE_PREFIX = "_"  # result-folder subfolders that hold no results (split files, work folders)
REQUIRED = ("method", "task", "task_version", "dataset", "metrics", "schema_version")
# Settings that never change a number (where and how fast it runs); left out of the config hash.
NUMERIC_NEUTRAL = (
    "train.num_workers", "train.threads", "train.device", "train.ckpt_every", "train.log_every",
    "train.find_unused", "eval.cache_dir", "preset",
    "train.text_checkpointing",  # recomputes the same activations: the same gradients (tests/methods/test_step_switches.py)
    "data.image_cache",  # pixels within 0.5/255 of decoding (bench.data.image_cache); results say which was read
    "model.image_init",  # filled in from model.image_weights (hashed) when the model is built: a record
    # Which cells a run selects, not how a cell is computed: the cell's own fraction, seed and
    # dataset are in its key, so one cell run under eval.seeds=[0] and under [0,1,2] is the same.
    "eval.fractions", "eval.seeds", "eval.dense_datasets", "eval.dense_fractions", "eval.dense_seeds",
)
# Settings added after results were first pinned, with the default that reproduces the earlier
# behaviour: hashed only when set to something else, so results from before keep their keys.
HASHED_WHEN_SET = {**LEVERS_OFF, "train.compile": False}


class ResultError(UserError):
    """A result file that cannot be read or lacks required fields."""


@dataclass
class Result:
    method: str
    task: str
    task_version: str
    dataset: str
    metrics: dict[str, float | None]
    higher_is_better: dict[str, bool] = field(default_factory=dict)
    checkpoint: str = "random"  # a path, or "random" for the untrained architecture
    checkpoint_sha256: str | None = None
    fraction: float = 1.0
    seed: int = 0
    ablation: tuple[str, ...] = ()
    protocol: str = ""  # e.g. "linear-probe", "unet-frozen", named in tables
    preset: str = ""  # the preset the model was built (pretrained) at
    eval_preset: str = ""  # the preset whose ``eval`` section the evaluation ran with
    config: dict[str, Any] = field(default_factory=dict)
    checkpoint_id: str = ""  # digest of the weights (state dict), or random-<arch hash>
    cell_key: str = ""  # :func:`cell_key` of this result's identity, computed before it ran
    data_source: dict[str, Any] = field(default_factory=dict)  # embedded-default / synthcxr / dataset
    split_hashes: dict[str, str] = field(default_factory=dict)
    git_commit: str | None = None
    packages: dict[str, str] = field(default_factory=dict)
    device: str = ""
    world_size: int = 1
    wall_time_s: float = 0.0
    created: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION

    @property
    def variant(self) -> str:
        """The method with its ablation, spelled as :func:`variant_name` spells it."""
        return variant_name(self.method, self.ablation)

    @property
    def pretrain_seed(self) -> int | None:
        """The pretraining (``train.seed``) seed of the model the result scored; None if not recorded."""
        seed = (self.config.get("train") or {}).get("seed")
        return int(seed) if seed is not None else None

    @property
    def is_random_init(self) -> bool:
        return self.checkpoint == "random"

    def key(self) -> str:
        """The file stem: readable fields, then the cell key's first 12 hex digits."""
        ckpt = "random" if self.checkpoint == "random" else (self.checkpoint_id or self.checkpoint_sha256 or "ckpt")
        proto = f"_{self.protocol}" if self.protocol else ""
        frac = f"{self.fraction * 100:g}pct"
        tail = f"_{self.cell_key[:12]}" if self.cell_key else ""
        stem = f"{self.variant}_{ckpt[:16]}_{self.task}{proto}_{self.dataset}_{frac}_seed{self.seed}{tail}"
        return safe_name(stem)

    def to_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        out["ablation"] = list(self.ablation)
        out["metrics"] = {k: _finite(v) for k, v in self.metrics.items()}
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "<dict>") -> Result:
        missing = [k for k in REQUIRED if k not in data]
        if missing:
            raise ResultError(f"{source}: missing field(s) {missing}")
        if data["schema_version"] > SCHEMA_VERSION:
            raise ResultError(
                f"{source}: schema_version {data['schema_version']} is newer than this harness "
                f"reads ({SCHEMA_VERSION}); upgrade medvlp-bench"
            )
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        known["ablation"] = tuple(known.get("ablation", ()))
        return cls(**known)


def variant_name(method: str, ablation: Iterable[str] = ()) -> str:
    """``prior`` for the full method, ``prior-no-a-no-b`` (components sorted) for an ablation."""
    return "".join([method, *(f"-no-{c}" for c in sorted(set(ablation)))])


def config_hash(config: dict[str, Any]) -> str:
    """sha256 (16 hex digits) of a resolved config's ``to_dict()`` form, less :data:`NUMERIC_NEUTRAL`
    and less the :data:`HASHED_WHEN_SET` settings left at their earlier behaviour."""
    flat = _flatten(config)
    kept = {
        k: v for k, v in flat.items()
        if k not in NUMERIC_NEUTRAL and not (k in HASHED_WHEN_SET and v == HASHED_WHEN_SET[k])
    }
    return hashlib.sha256(json.dumps(kept, sort_keys=True, default=str).encode()).hexdigest()[:16]


def cell_key(**identity: Any) -> str:
    """sha256 (hex) of an evaluation cell's identity fields, computable before the cell runs.

    The engine passes method, ablation, checkpoint_id, preset, eval_preset, config_hash, task,
    task_version, protocol, dataset, fraction, seed and split_hashes.
    """
    plain = {k: (sorted(v) if isinstance(v, (set, frozenset)) else v) for k, v in identity.items()}
    return hashlib.sha256(json.dumps(plain, sort_keys=True, default=str).encode()).hexdigest()


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def result_path(result: Result, results_dir: Path) -> Path:
    return Path(results_dir) / result.variant / result.task / result.dataset / f"{result.key()}.json"


def write_result(result: Result, results_dir: Path) -> Path:
    """Fill environment fields that are empty, then write atomically; returns the path."""
    env = environment()
    result.git_commit = result.git_commit or env["git_commit"]
    result.packages = result.packages or env["packages"]
    result.device = result.device or env["device"]
    result.created = result.created or time.strftime("%Y-%m-%dT%H:%M:%S%z")
    return write_json_atomic(result_path(result, results_dir), result.to_dict())


def load_result(path: Path) -> Result:
    try:
        data = json.loads(Path(path).read_text())
    except json.JSONDecodeError as exc:
        raise ResultError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(data, dict):
        raise ResultError(f"{path}: expected a JSON object")
    return Result.from_dict(data, source=str(path))


def iter_results(results_dir: Path, errors: list[str] | None = None) -> Iterator[tuple[Path, Result]]:
    """Every result under ``results_dir``; unreadable files go to ``errors`` (or raise).

    Folders whose name starts with ``_`` hold what runs write besides results (``_splits``,
    ``_work``: split manifests, toolbox logs) and are skipped.
    """
    for path in sorted(Path(results_dir).rglob("*.json")):
        if any(part.startswith(PRIVATE_PREFIX) for part in path.relative_to(results_dir).parts[:-1]):
            continue
        try:
            yield path, load_result(path)
        except ResultError as exc:
            if errors is None:
                raise
            errors.append(str(exc))


def filter_results(results: Iterable[Result], **where: Any) -> list[Result]:
    """Keep results whose fields equal the given values (a tuple/list/set value means any of)."""
    out = []
    for r in results:
        ok = True
        for key, wanted in where.items():
            have = getattr(r, key)
            if isinstance(wanted, (set, list)) or (isinstance(wanted, tuple) and key != "ablation"):
                ok = have in wanted
            else:
                ok = have == wanted
            if not ok:
                break
        if ok:
            out.append(r)
    return out
