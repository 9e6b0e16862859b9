"""Text queries for CheXpert 8x200 retrieval: a registry of query sources.

- ``builtin``: five expert-style sentences per class, written for this project in the manner of
  ConVIRT's ``text-retrieval/query.csv`` (yuhaozhang/convirt: five sentences per class for the same
  eight classes); each names its own class and no other.
- ``reports``: sentences drawn from a report corpus (the mimic-cxr records next to the data):
  for class ``c``, sentences of studies labelled ``c`` = 1 that mention ``c`` with neither negation
  nor hedge and name no other class; for No Finding, sentences of No Finding studies that say the
  chest is normal. ``n`` per class are drawn with a seed from the sorted distinct sentences.
  This keeps queries in the corpus's own vocabulary (used on SynthCXR, whose reports are
  templated); a class with no such sentence falls back to the built-in ones.
"""

from __future__ import annotations

import logging
import math
import random
import re
from collections.abc import Iterable, Sequence

from bench.data.base import Record
from tasks.common.subsets import RETRIEVAL_CLASSES

log = logging.getLogger(__name__)

BUILTIN: dict[str, tuple[str, ...]] = {
    "No Finding": (
        "No acute cardiopulmonary abnormality.",
        "The lungs are clear and the heart size is normal.",
        "Normal chest radiograph.",
        "Heart and lungs are within normal limits.",
        "The chest is unremarkable.",
    ),
    "Pneumothorax": (
        "There is a small right apical pneumothorax.",
        "A left pneumothorax is present with a visible pleural line.",
        "Moderate pneumothorax is noted.",
        "Air in the pleural space is compatible with pneumothorax.",
        "A large pneumothorax with mediastinal shift.",
    ),
    "Pneumonia": (
        "Focal opacity in the right lower lobe is concerning for pneumonia.",
        "Findings are consistent with multifocal pneumonia.",
        "Left basilar opacity compatible with pneumonia.",
        "Airspace disease suspicious for pneumonia.",
        "Patchy opacities likely reflect pneumonia.",
    ),
    "Fracture": (
        "There is an acute fracture of a left posterior rib.",
        "A displaced rib fracture is seen.",
        "Healing fractures of the right lateral ribs.",
        "A fracture of the clavicle is noted.",
        "A compression fracture of a thoracic vertebral body.",
    ),
    "Cardiomegaly": (
        "The heart is enlarged.",
        "Moderate cardiomegaly is present.",
        "Enlargement of the cardiac silhouette.",
        "Heart size is mildly increased, consistent with cardiomegaly.",
        "Stable severe cardiomegaly.",
    ),
    "Pleural Effusion": (
        "There is a small left pleural effusion.",
        "Bilateral pleural effusions are present.",
        "Blunting of the right costophrenic angle from a pleural effusion.",
        "Moderate layering right pleural effusion.",
        "Large pleural effusion on the left.",
    ),
    "Edema": (
        "Mild pulmonary edema.",
        "Diffuse interstitial edema is present.",
        "Findings consistent with moderate pulmonary edema.",
        "Perihilar haziness compatible with pulmonary edema.",
        "Worsening interstitial pulmonary edema.",
    ),
    "Atelectasis": (
        "Bibasilar atelectasis.",
        "Linear atelectasis at the left lung base.",
        "Subsegmental atelectasis in the right lower lobe.",
        "Plate-like atelectasis is seen at the bases.",
        "Mild atelectasis of the left lower lobe.",
    ),
}

MENTIONS: dict[str, re.Pattern[str]] = {
    "No Finding": re.compile(r"\b(no acute|clear|normal|unremarkable|within normal limits)\b", re.I),
    "Pneumothorax": re.compile(r"pneumothora", re.I),
    "Pneumonia": re.compile(r"pneumonia", re.I),
    "Fracture": re.compile(r"fracture", re.I),
    "Cardiomegaly": re.compile(r"cardiomegaly|(heart|cardiac)\b.*\benlarge|enlarge\w*\b.*\b(heart|cardiac)", re.I),
    "Pleural Effusion": re.compile(r"effusion", re.I),
    "Edema": re.compile(r"edema", re.I),
    "Atelectasis": re.compile(r"atelecta", re.I),
}
NEGATED = re.compile(
    r"\b(no|not|without|free of|negative for|resolved|absence|absent|may|might|possibl\w*|"
    r"could|cannot|can't|question\w*|suspicious|concerning|versus|vs)\b",
    re.I,
)


def builtin_queries(classes: Sequence[str] = RETRIEVAL_CLASSES, n: int = 5, seed: int = 0) -> dict[str, list[str]]:
    """The built-in sentences (the first ``n`` per class; the list is fixed, ``seed`` unused)."""
    missing = [c for c in classes if c not in BUILTIN]
    if missing:
        raise ValueError(f"no built-in queries for {missing}; classes: {sorted(BUILTIN)}")
    return {c: list(BUILTIN[c][:n]) for c in classes}


def _positive(record: Record, name: str) -> bool:
    value = record.labels.get(name, math.nan)
    return value is not None and not math.isnan(value) and value == 1.0


def _fits(sentence: str, cls: str) -> bool:
    findings = [c for c, p in MENTIONS.items() if c != "No Finding" and p.search(sentence)]
    negated = NEGATED.search(sentence) is not None
    if cls == "No Finding":  # says "normal/clear", and any finding it names is negated
        return MENTIONS[cls].search(sentence) is not None and (not findings or negated)
    return findings == [cls] and not negated


def report_queries(
    records: Iterable[Record], classes: Sequence[str] = RETRIEVAL_CLASSES, n: int = 5, seed: int = 0
) -> dict[str, list[str]]:
    """``n`` report sentences per class that mention it positively (see the module docstring)."""
    pools: dict[str, set[str]] = {c: set() for c in classes}
    for record in records:
        sentences = record.sentences or ()
        for cls in classes:
            if _positive(record, cls):
                pools[cls].update(s.strip() for s in sentences if _fits(s, cls))
    rng = random.Random(seed)
    out: dict[str, list[str]] = {}
    for cls in classes:
        pool = sorted(pools[cls])
        if not pool:
            log.warning("no report sentence names %r positively; using the built-in queries", cls)
            out[cls] = builtin_queries([cls], n)[cls]
            continue
        out[cls] = rng.sample(pool, n) if n < len(pool) else pool
    return out
