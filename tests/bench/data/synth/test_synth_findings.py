from __future__ import annotations

import math

import numpy as np
import pytest

from bench.data.base import CHEXPERT_LABELS, COMPETITION_LABELS, RETRIEVAL_CLASSES
from bench.data.synth.difficulty import DEFAULT, Difficulty, resolve_difficulty
from bench.data.synth.findings import KINDS, PURE_CLASSES, Finding, StudyPlan, sample_finding, sample_plan

EIGHT = RETRIEVAL_CLASSES


def test_labels_follow_the_mentions() -> None:
    plan = StudyPlan(
        (
            Finding("consolidation", "right", "lower", "moderate"),
            Finding("effusion", "left", "lower", "mild", mention="hedged", visibility=0.0),
        ),
        negated=("pneumothorax",),
    )
    labels = plan.labels()
    assert labels["Consolidation"] == 1.0
    assert labels["Pleural Effusion"] == -1.0
    assert labels["Pneumothorax"] == 0.0
    assert math.isnan(labels["No Finding"]) and math.isnan(labels["Edema"])


def test_positive_wins_over_hedged_and_negated_of_the_same_label() -> None:
    plan = StudyPlan(
        (
            Finding("opacity", "left", "upper", "mild", mention="hedged"),
            Finding("opacity", "right", "lower", "mild"),
        ),
        negated=("opacity",),
    )
    assert plan.labels()["Lung Opacity"] == 1.0


def test_no_finding_when_nothing_pathological_is_mentioned() -> None:
    plan = StudyPlan((Finding("device", "none", "none", "mild", variant="ett"),), negated=("effusion",))
    labels = plan.labels()
    assert (
        labels["No Finding"] == 1.0 and labels["Support Devices"] == 1.0 and labels["Pleural Effusion"] == 0.0
    )


@pytest.mark.parametrize("pure", PURE_CLASSES)
def test_forced_studies_qualify_for_single_class_subsets(pure: str) -> None:
    for seed in range(40):
        labels = sample_plan(np.random.default_rng(seed), DEFAULT, force=pure).labels()
        filled = {k: (0.0 if math.isnan(v) else v) for k, v in labels.items()}
        positives = [k for k in CHEXPERT_LABELS if filled[k] != 0.0 and k != "No Finding"]
        if pure == "normal":
            assert positives == [] and filled["No Finding"] == 1.0
        else:
            assert positives == [KINDS[pure].label]  # GLoRIA's 5x200 filter: the class 1, all others 0/blank
            expected = [KINDS[pure].label] if KINDS[pure].label in EIGHT else []
            assert [c for c in EIGHT if filled[c] == 1.0] == expected
            assert sum(filled[c] == 1.0 for c in COMPETITION_LABELS) <= 1


def test_free_plans_match_the_difficulty_rates() -> None:
    plans = [sample_plan(np.random.default_rng(seed), DEFAULT) for seed in range(3000)]
    multi = np.mean([len(p.findings) >= 2 for p in plans])
    normal = np.mean([not p.findings for p in plans])
    assert DEFAULT.multi_rate - 0.04 < multi < DEFAULT.multi_rate + DEFAULT.spurious_hedge_rate + 0.04
    assert (
        DEFAULT.normal_rate * (1 - DEFAULT.spurious_hedge_rate) - 0.04 < normal < DEFAULT.normal_rate + 0.03
    )
    hedged = [f for p in plans for f in p.findings if f.mention == "hedged"]
    assert hedged and all(f.visibility < 1.0 for f in hedged)
    faint = np.mean([f.visibility < 1 for p in plans for f in p.findings if f.mention == "positive"])
    assert 0.5 * DEFAULT.mismatch_rate < faint < 1.5 * DEFAULT.mismatch_rate


def test_sample_finding_respects_the_vocabulary() -> None:
    rng = np.random.default_rng(0)
    for kind, spec in KINDS.items():
        for _ in range(20):
            f = sample_finding(rng, kind)
            assert f.zone in spec.zones and f.severity in ("mild", "moderate", "severe")
            assert f.side in spec.sides or (kind == "device" and f.variant == "central_line")
    with pytest.raises(ValueError, match="expected one of"):
        sample_finding(rng, "tumour")


def test_difficulty_presets_and_validation() -> None:
    assert resolve_difficulty(None) == DEFAULT
    assert resolve_difficulty({"noise": 0.1}).noise == 0.1
    assert resolve_difficulty("easy").contrast > DEFAULT.contrast > resolve_difficulty("hard").contrast
    with pytest.raises(ValueError, match="expected one of"):
        resolve_difficulty("impossible")
    with pytest.raises(ValueError, match="expected some of"):
        resolve_difficulty({"blur": 1.0})
    with pytest.raises(ValueError, match="noise"):
        Difficulty(noise=-0.1)
    with pytest.raises(ValueError, match="hedge_rate"):
        Difficulty(hedge_rate=1.5)
