"""The finding vocabulary (kind, side, zone, severity) and how a study's findings are sampled.

Sides are the patient's: on a frontal (PA/AP) image the patient's right is on the image's left.
Each kind maps to exactly one CheXpert column, so a study's labels follow from its plan:
positive mention 1, hedged -1, negated 0, unmentioned blank (nan).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from bench.data.base import CHEXPERT_LABELS
from bench.data.synth.difficulty import Difficulty

SEVERITIES = ("mild", "moderate", "severe")
SEVERITY_WEIGHTS = (0.4, 0.4, 0.2)
ZONES = ("upper", "middle", "lower")


@dataclass(frozen=True)
class KindSpec:
    kind: str
    label: str  # the CheXpert column it sets
    sides: tuple[str, ...]  # allowed sides; "none" for midline / whole-chest kinds
    side_weights: tuple[float, ...]
    zones: tuple[str, ...]  # allowed zones; "none" when the kind has no zone
    weight: float  # relative frequency among sampled findings
    variants: tuple[str, ...] = ("",)
    lung: bool = True  # a lung-parenchyma finding (candidates for spurious hedges)
    negation: float = 0.5  # how readily reports negate it when absent (x Difficulty.negation_rate)


_LR = ("right", "left")
KINDS: dict[str, KindSpec] = {
    s.kind: s
    for s in (
        KindSpec(
            "consolidation",
            "Consolidation",
            _LR + ("bilateral",),
            (0.45, 0.45, 0.1),
            ZONES,
            1.0,
            negation=1.2,
        ),
        KindSpec(
            "pneumonia", "Pneumonia", _LR + ("bilateral",), (0.42, 0.42, 0.16), ZONES, 0.6, negation=0.5
        ),
        KindSpec("opacity", "Lung Opacity", _LR + ("bilateral",), (0.4, 0.4, 0.2), ZONES, 0.8, negation=0.5),
        KindSpec("nodule", "Lung Lesion", _LR, (0.5, 0.5), ZONES, 0.5, negation=0.3),
        KindSpec(
            "atelectasis",
            "Atelectasis",
            _LR + ("bilateral",),
            (0.4, 0.4, 0.2),
            ("middle", "lower"),
            1.0,
            negation=0.3,
        ),
        KindSpec("edema", "Edema", ("bilateral",), (1.0,), ("none",), 0.7, negation=0.9),
        KindSpec(
            "effusion",
            "Pleural Effusion",
            _LR + ("bilateral",),
            (0.4, 0.35, 0.25),
            ("lower",),
            1.0,
            lung=False,
            negation=1.6,
        ),
        KindSpec("pneumothorax", "Pneumothorax", _LR, (0.5, 0.5), ("upper",), 0.6, lung=False, negation=1.6),
        KindSpec(
            "pleural_other",
            "Pleural Other",
            _LR,
            (0.5, 0.5),
            ("upper", "lower"),
            0.2,
            lung=False,
            negation=0.1,
        ),
        KindSpec("cardiomegaly", "Cardiomegaly", ("none",), (1.0,), ("none",), 0.9, lung=False, negation=0.9),
        KindSpec(
            "mediastinum",
            "Enlarged Cardiomediastinum",
            ("none",),
            (1.0,),
            ("none",),
            0.3,
            lung=False,
            negation=0.4,
        ),
        KindSpec("fracture", "Fracture", _LR, (0.5, 0.5), ZONES, 0.4, lung=False, negation=0.5),
        KindSpec(
            "device",
            "Support Devices",
            ("none",),
            (1.0,),
            ("none",),
            0.8,
            variants=("ett", "ng_tube", "central_line", "pacemaker"),
            lung=False,
            negation=0.0,
        ),
    )
}
KIND_OF_LABEL: dict[str, str] = {spec.label: spec.kind for spec in KINDS.values()}
PURE_CLASSES: tuple[str, ...] = (  # single-class studies for 5x200 / 8x200 subsets ("normal" = No Finding)
    "atelectasis",
    "cardiomegaly",
    "consolidation",
    "edema",
    "effusion",
    "pneumothorax",
    "pneumonia",
    "fracture",
    "normal",
)


@dataclass(frozen=True)
class Finding:
    kind: str
    side: str  # right / left / bilateral / none (patient's side)
    zone: str  # upper / middle / lower / none
    severity: str  # mild / moderate / severe
    mention: str = "positive"  # positive | hedged
    visibility: float = 1.0  # 1 drawn as sampled, (0, 1) faint, 0 not drawn at all
    variant: str = ""

    @property
    def label(self) -> str:
        return KINDS[self.kind].label


@dataclass(frozen=True)
class StudyPlan:
    """What a study holds and how its report speaks about it."""

    findings: tuple[Finding, ...] = ()
    negated: tuple[str, ...] = ()  # kinds the report explicitly negates
    facts: dict[str, str] = field(default_factory=dict)  # extra, e.g. covidx class

    def drawn(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.visibility > 0)

    def labels(self) -> dict[str, float]:
        """CheXpert-style labels that follow the report (1 / 0 / -1 / nan)."""
        out = {name: math.nan for name in CHEXPERT_LABELS}
        for kind in self.negated:
            out[KINDS[kind].label] = 0.0
        for f in self.findings:
            value = 1.0 if f.mention == "positive" else -1.0
            current = out[f.label]
            if math.isnan(current) or value > current or current == 0.0:
                out[f.label] = value
        pathology = [v for k, v in out.items() if k not in ("No Finding", "Support Devices")]
        if not any(v in (1.0, -1.0) for v in pathology):
            out["No Finding"] = 1.0
        return out


def _choice(
    rng: np.random.Generator, options: tuple[str, ...], weights: tuple[float, ...] | None = None
) -> str:
    if weights is None:
        return options[int(rng.integers(len(options)))]
    p = np.asarray(weights, dtype=float)
    return options[int(rng.choice(len(options), p=p / p.sum()))]


def sample_finding(
    rng: np.random.Generator,
    kind: str,
    *,
    side: str | None = None,
    zone: str | None = None,
    severity: str | None = None,
) -> Finding:
    """One finding of ``kind`` with a random (or given) side, zone, severity and variant."""
    spec = KINDS.get(kind)
    if spec is None:
        raise ValueError(f"finding kind {kind!r}: expected one of {sorted(KINDS)}")
    side = side if side in spec.sides else _choice(rng, spec.sides, spec.side_weights)
    zone = zone if zone in spec.zones else _choice(rng, spec.zones)
    severity = severity or _choice(rng, SEVERITIES, SEVERITY_WEIGHTS)
    variant = _choice(rng, spec.variants)
    if variant == "central_line":
        side = _choice(rng, _LR)
    return Finding(kind, side, zone, severity, variant=variant)


def _visibility(rng: np.random.Generator, diff: Difficulty) -> float:
    return diff.faint if rng.random() < 0.5 else 0.0


def _mentioned(rng: np.random.Generator, f: Finding, diff: Difficulty, allow_hedge: bool) -> Finding:
    if allow_hedge and f.kind != "device" and rng.random() < diff.hedge_rate:
        return Finding(f.kind, f.side, f.zone, f.severity, "hedged", _visibility(rng, diff), f.variant)
    if f.kind != "device" and rng.random() < diff.mismatch_rate:
        return Finding(f.kind, f.side, f.zone, f.severity, "positive", _visibility(rng, diff), f.variant)
    return f


def _sample_kinds(rng: np.random.Generator, n: int, exclude: set[str]) -> list[str]:
    names = [k for k in KINDS if k not in exclude]
    weights = np.array([KINDS[k].weight for k in names])
    idx = rng.choice(len(names), size=min(n, len(names)), replace=False, p=weights / weights.sum())
    return [names[int(i)] for i in idx]


def sample_plan(
    rng: np.random.Generator,
    diff: Difficulty,
    *,
    force: str | None = None,
    exclude: tuple[str, ...] = (),
    count: int | None = None,
) -> StudyPlan:
    """Sample a study: ``force`` a single clean class ("normal" or a kind) or draw freely.

    Forced studies hold exactly that finding (reported positive, no hedges anywhere, no devices)
    so that they qualify for 5x200-style subsets; ``exclude`` keeps kinds out of free draws and
    ``count`` fixes the number of findings.
    """
    if force is not None:
        findings = [] if force == "normal" else [_mentioned(rng, sample_finding(rng, force), diff, False)]
        return StudyPlan(
            tuple(findings), sample_negations(rng, diff, {f.kind for f in findings} | {"device"})
        )
    if count is None:
        r = rng.random()
        count = 0 if r < diff.normal_rate else (1 if r < 1 - diff.multi_rate else 2 + int(rng.random() < 0.3))
    kinds = _sample_kinds(rng, count, set(exclude))
    findings: list[Finding] = []
    for kind in kinds:
        f = sample_finding(rng, kind)
        if findings and rng.random() < diff.overlap_rate:
            first = findings[0]
            f = sample_finding(rng, kind, side=first.side, zone=first.zone, severity=f.severity)
        findings.append(_mentioned(rng, f, diff, True))
    present = {f.kind for f in findings}
    if rng.random() < diff.spurious_hedge_rate:
        spare = [k for k, s in KINDS.items() if s.lung and k not in present and k not in exclude]
        if spare:
            f = sample_finding(rng, _choice(rng, tuple(spare)), severity="mild")
            findings.append(Finding(f.kind, f.side, f.zone, f.severity, "hedged", 0.0, f.variant))
            present.add(f.kind)
    return StudyPlan(tuple(findings), sample_negations(rng, diff, present))


def sample_negations(rng: np.random.Generator, diff: Difficulty, present: set[str]) -> tuple[str, ...]:
    return tuple(
        k for k in KINDS if k not in present and rng.random() < diff.negation_rate * KINDS[k].negation
    )
