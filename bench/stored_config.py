"""A :class:`~bench.config.BenchConfig` rebuilt from its stored ``to_dict()`` form.

Checkpoints store the resolved config as plain data (``BenchConfig.to_dict()``);
:func:`config_from_dict` turns it back into the dataclasses. A setting this version of the
harness no longer knows is logged and skipped, so old checkpoints stay readable.
"""

from __future__ import annotations

import logging
from typing import Any

from bench.config import BenchConfig, ConfigError, _flatten, _set_path

log = logging.getLogger(__name__)


def config_from_dict(data: dict[str, Any], method_config_cls: type | None = None) -> BenchConfig:
    """Rebuild a :class:`BenchConfig` from its ``to_dict()`` form (unknown keys warn and are skipped)."""
    cfg = BenchConfig(preset=data.get("preset", "default"), method_name=data.get("method_name", ""))
    if method_config_cls is not None:
        cfg.method = method_config_cls()
    sections = {k: v for k, v in data.items() if isinstance(v, dict)}
    if cfg.method is None:
        sections.pop("method", None)
    for key, value in _flatten(sections).items():
        try:
            _set_path(cfg, key, value, "checkpoint config")
        except ConfigError as exc:
            log.warning("ignoring stored setting: %s", exc)
    return cfg
