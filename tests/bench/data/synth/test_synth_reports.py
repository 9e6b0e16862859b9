from __future__ import annotations

import re

import numpy as np
import pytest

from bench.data.synth.difficulty import DEFAULT, HARD
from bench.data.synth.findings import KINDS, PURE_CLASSES, Finding, StudyPlan, sample_finding, sample_plan
from bench.data.synth.reports import MIN_SENTENCES, build_report
from bench.data.text import PRETRAIN_SECTIONS, report_sentences

HEDGE = re.compile(r"may |cannot be excluded|possible|possibly|questionable|not excluded", re.IGNORECASE)


def _sentences(plan: StudyPlan, seed: int) -> list[str]:
    return report_sentences(build_report(plan, np.random.default_rng(seed)).text, PRETRAIN_SECTIONS)


def test_every_report_has_at_least_four_sentences() -> None:
    plans = [sample_plan(np.random.default_rng(s), d) for s in range(300) for d in (DEFAULT, HARD)]
    plans += [sample_plan(np.random.default_rng(s), DEFAULT, force=c) for s in range(5) for c in PURE_CLASSES]
    plans.append(StudyPlan())
    for seed, plan in enumerate(plans):
        sentences = _sentences(plan, seed)
        assert len(sentences) >= MIN_SENTENCES, (plan, sentences)
        assert all(s.strip() for s in sentences)


def test_report_layout_has_noise_sections_around_findings_and_impression() -> None:
    text = build_report(StudyPlan(), np.random.default_rng(1)).text
    for header in ("FINAL REPORT", "INDICATION:", "COMPARISON:", "IMPRESSION:"):
        assert header in text


@pytest.mark.parametrize("kind", [k for k in KINDS if k != "device"])
def test_hedged_findings_get_uncertain_sentences(kind: str) -> None:
    rng = np.random.default_rng(3)
    f = sample_finding(rng, kind)
    plan = StudyPlan((Finding(f.kind, f.side, f.zone, f.severity, "hedged", 0.0, f.variant),))
    report = build_report(plan, np.random.default_rng(4))
    assert any(HEDGE.search(s) for s in report.sentences), report.sentences
    assert plan.labels()[KINDS[kind].label] == -1.0


@pytest.mark.parametrize("kind", [k for k in KINDS if k != "device"])
def test_negated_kinds_get_negative_sentences(kind: str) -> None:
    plan = StudyPlan(negated=(kind,))
    for seed in range(5):
        body = " ".join(build_report(plan, np.random.default_rng(seed)).sentences).lower()
        assert re.search(r"\bno\b|normal|not widened", body), body
    assert plan.labels()[KINDS[kind].label] == 0.0


def test_positive_sentences_name_side_zone_and_severity() -> None:
    zone_words = ("lower lobe", "base", "lower zone")
    for seed in range(20):
        f = Finding("consolidation", "right", "lower", "severe")
        sentences = build_report(StudyPlan((f,)), np.random.default_rng(seed)).sentences
        text = " ".join(sentences).lower()
        assert "consolidation" in text and "right" in text and "left" not in text
        assert any(w in text for w in zone_words)
        assert any(w in text for w in ("severe", "extensive", "marked", "dense"))
        assert not any(HEDGE.search(s) for s in sentences)


def test_normal_study_has_a_normal_impression() -> None:
    report = build_report(StudyPlan(), np.random.default_rng(0))
    assert "no acute" in " ".join(report.impression).lower()
