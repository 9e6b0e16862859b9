"""How hard SynthCXR is: one frozen dataclass of knobs and a few named presets.

Intensities are on the final image scale [0, 1]. ``contrast`` is the peak density change of a
moderate finding before the per-kind gain (a consolidation adds about ``contrast`` over the lung;
an effusion blends towards soft tissue by a fraction that grows with it). The default aims at a
small pretrained encoder landing well below the ceiling: findings are low-contrast against rib
and vessel texture, about a third of studies hold two or more findings (some overlapping in the
same zone), every image carries noise and exposure changes, and some named findings are faint or
missing in the image while some reported ones are only hedged.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any


@dataclass(frozen=True)
class Difficulty:
    """Knobs of the generator; ``replace(DEFAULT, noise=0.05)`` makes a variant."""

    contrast: float = 0.075  # peak density change of a moderate finding (kind gains apply)
    contrast_spread: float = 0.35  # log-normal sigma of each finding's contrast
    size: float = 1.0  # scale of finding extents
    noise: float = 0.035  # std of additive pixel noise
    exposure: float = 0.12  # spread of gain / offset / gamma / gradient per image
    anatomy: float = 1.0  # scale of patient-to-patient anatomical variation
    normal_rate: float = 0.25  # studies with no finding (outside forced single-class studies)
    multi_rate: float = 0.35  # studies with two or more findings
    overlap_rate: float = 0.3  # an extra finding takes the side and zone of the first
    mismatch_rate: float = 0.1  # a finding reported positive is faint or absent in the image
    hedge_rate: float = 0.12  # a present finding is reported hedged (and drawn faint or not at all)
    spurious_hedge_rate: float = 0.1  # per study: a hedged mention of a finding that is not there
    negation_rate: float = 0.5  # each absent finding gets a negated sentence
    faint: float = 0.35  # visibility of a faint finding (1 = as sampled)

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"Difficulty.{f.name}={value!r}: expected a number >= 0")
        rates = (
            "normal_rate",
            "multi_rate",
            "overlap_rate",
            "mismatch_rate",
            "hedge_rate",
            "spurious_hedge_rate",
            "negation_rate",
            "faint",
        )
        for name in rates:
            if getattr(self, name) > 1:
                raise ValueError(f"Difficulty.{name}={getattr(self, name)!r}: expected a rate in [0, 1]")
        if self.normal_rate + self.multi_rate > 1:
            raise ValueError(
                f"Difficulty normal_rate + multi_rate = {self.normal_rate + self.multi_rate}: expected <= 1"
            )


DEFAULT = Difficulty()
EASY = Difficulty(
    contrast=0.16,
    contrast_spread=0.15,
    noise=0.015,
    exposure=0.05,
    anatomy=0.5,
    multi_rate=0.2,
    overlap_rate=0.0,
    mismatch_rate=0.0,
    hedge_rate=0.05,
    spurious_hedge_rate=0.0,
    faint=0.5,
)
HARD = Difficulty(
    contrast=0.05,
    contrast_spread=0.45,
    size=0.8,
    noise=0.05,
    exposure=0.18,
    anatomy=1.3,
    multi_rate=0.45,
    overlap_rate=0.45,
    mismatch_rate=0.18,
    hedge_rate=0.18,
    spurious_hedge_rate=0.2,
    faint=0.25,
)
DIFFICULTIES: dict[str, Difficulty] = {"easy": EASY, "default": DEFAULT, "hard": HARD}


def resolve_difficulty(value: Difficulty | str | dict[str, Any] | None) -> Difficulty:
    """A preset name, a dict of overrides on the default, or a :class:`Difficulty` itself."""
    if value is None:
        return DEFAULT
    if isinstance(value, Difficulty):
        return value
    if isinstance(value, str):
        if value not in DIFFICULTIES:
            raise ValueError(f"difficulty {value!r}: expected one of {sorted(DIFFICULTIES)}")
        return DIFFICULTIES[value]
    if isinstance(value, dict):
        known = {f.name for f in fields(Difficulty)}
        unknown = sorted(set(value) - known)
        if unknown:
            raise ValueError(f"difficulty keys {unknown}: expected some of {sorted(known)}")
        return replace(DEFAULT, **value)
    raise ValueError(f"difficulty {value!r}: expected a preset name, a dict or a Difficulty")
