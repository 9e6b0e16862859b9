"""Zero-shot prompt sets: a registry of name -> builder(classes, n, seed) -> {class: [prompts]}.

- ``gloria``: the scheme of GLoRIA's ``CHEXPERT_CLASS_PROMPTS`` (marshuang80/gloria,
  ``gloria/constants.py``; the same dict is in MGCA's and BenchX's code): every
  severity x subtype x location combination of a few words per class, of which ``n`` are drawn
  at random (GLoRIA: 5, ``random.sample``). The word lists below are this project's own, shorter
  than GLoRIA's, in the same structure; the draw is seeded, so a seed gives the same prompts.
- ``prior``: PRIOR's single prompt per class, ``"<Class> is observed"``
  (QtacierP/PRIOR, ``zero_classification_model.py``).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

# class -> (severities, subtypes, locations); "" means "leave the slot out".
VOCABULARY: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "Atelectasis": (
        ("", "mild", "minimal"),
        ("subsegmental atelectasis", "linear atelectasis", "bibasilar atelectasis", "plate-like atelectasis"),
        ("", "at the lung bases", "at the left lung base", "at the right lung base", "in the left lower lobe"),
    ),
    "Cardiomegaly": (
        ("", "mild", "moderate", "severe"),
        ("cardiomegaly", "enlargement of the cardiac silhouette", "enlarged heart size"),
        ("",),
    ),
    "Consolidation": (
        ("", "patchy", "focal", "increased"),
        ("consolidation", "airspace consolidation", "opacity concerning for consolidation"),
        ("in the right lower lobe", "in the left lower lobe", "in the right upper lobe", "at the lung bases"),
    ),
    "Edema": (
        ("", "mild", "moderate", "severe"),
        ("pulmonary edema", "interstitial edema", "vascular congestion with edema"),
        ("",),
    ),
    "Pleural Effusion": (
        ("", "small", "moderate", "large"),
        ("pleural effusion", "layering pleural effusion"),
        ("", "on the left", "on the right", "bilaterally"),
    ),
    "Pneumonia": (
        ("", "early", "multifocal"),
        ("pneumonia", "opacity concerning for pneumonia", "infectious process"),
        ("", "in the right lower lobe", "in the left lower lobe", "at the lung bases"),
    ),
    "Normal": (
        ("",),
        (
            "no acute cardiopulmonary process",
            "no evidence of pneumonia",
            "the lungs are clear",
            "normal chest radiograph",
            "no focal consolidation",
        ),
        ("",),
    ),
}

PromptBuilder = Callable[[Sequence[str], int, int], dict[str, list[str]]]


def combinations(name: str) -> list[str]:
    """Every severity x subtype x location prompt of class ``name``, sorted."""
    if name not in VOCABULARY:
        raise ValueError(f"no prompt vocabulary for class {name!r}; classes: {sorted(VOCABULARY)}")
    severities, subtypes, locations = VOCABULARY[name]
    out = {" ".join(w for w in (s, t, loc) if w) for s in severities for t in subtypes for loc in locations}
    return sorted(out)


def gloria_prompts(classes: Sequence[str], n: int, seed: int) -> dict[str, list[str]]:
    """``n`` prompts per class drawn (seeded) from its severity x subtype x location combinations."""
    rng = random.Random(seed)
    out = {}
    for name in classes:
        pool = combinations(name)
        out[name] = rng.sample(pool, n) if 0 < n < len(pool) else pool
    return out


def prior_prompts(classes: Sequence[str], n: int, seed: int) -> dict[str, list[str]]:
    """PRIOR's one prompt per class: "<Class> is observed" (``n`` and ``seed`` do not apply)."""
    return {name: [f"{name} is observed"] for name in classes}


PROMPT_SETS: dict[str, PromptBuilder] = {"gloria": gloria_prompts, "prior": prior_prompts}


def build_prompts(name: str, classes: Sequence[str], n: int, seed: int) -> dict[str, list[str]]:
    if name not in PROMPT_SETS:
        raise ValueError(f"unknown prompt set {name!r}; expected one of {sorted(PROMPT_SETS)}")
    return PROMPT_SETS[name](classes, n, seed)
