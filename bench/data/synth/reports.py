"""Report text that agrees with a study's plan, sentence by sentence, in MIMIC-CXR layout.

Every finding gets a sentence naming its kind, side, zone and severity (paraphrased); hedged
findings get uncertain sentences; negated kinds get "No ..." sentences; neutral fillers keep
every report at four or more FINDINGS + IMPRESSION sentences.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

import numpy as np

from bench.data.synth import phrases as P
from bench.data.synth.findings import Finding, StudyPlan

MIN_SENTENCES = 4
GROUP = {
    "device": 0,
    "pleural_other": 2,
    "effusion": 2,
    "pneumothorax": 2,
    "cardiomegaly": 3,
    "mediastinum": 3,
    "fracture": 4,
}  # report order; lung kinds are 1


@dataclass(frozen=True)
class Report:
    text: str
    findings: tuple[str, ...]
    impression: tuple[str, ...]

    @property
    def sentences(self) -> tuple[str, ...]:
        """Impression first, then findings (the order PRIOR uses)."""
        return self.impression + self.findings


def _pick(rng: np.random.Generator, options: tuple[str, ...]) -> str:
    return options[int(rng.integers(len(options)))]


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def location(f: Finding, rng: np.random.Generator) -> str:
    """Side and zone in words, e.g. "right lower lobe", "lingula", "both lung bases"."""
    if f.zone not in P.ZONE_WORDS:
        return "lungs" if f.side in ("bilateral", "none") else f"{f.side} lung"
    if f.side == "bilateral":
        return _pick(rng, P.BILATERAL_ZONE[f.zone])
    options = P.ZONE_WORDS[f.zone]
    if f.zone == "middle" and rng.random() < 0.4:
        options = P.MIDDLE_SPECIAL[f.side]
    return _pick(rng, options).format(s=f.side)


def fill(template: str, f: Finding, rng: np.random.Generator) -> str:
    """One sentence from a template and a finding."""
    words = P.SIZE if f.kind in P.SIZE_STYLE else P.INTENSITY
    sev = _pick(rng, words[f.severity])
    var = ""
    if f.kind == "nodule":
        var = _pick(rng, P.NODULE_SIZE[f.severity])
    elif f.kind == "fracture":
        var = _pick(rng, P.FRACTURE_WORD[f.severity])
    elif f.kind == "pleural_other":
        var = "apex" if f.zone == "upper" else "base"
    values = {
        "sev": sev,
        "Sev": _cap(sev),
        "adv": _pick(rng, P.ADVERB[f.severity]),
        "loc": location(f, rng),
        "side": f.side,
        "Side": _cap(f.side),
        "var": var,
        "Var": _cap(var),
        "zone": _pick(rng, P.RIB_LEVEL.get(f.zone, ("",))),
    }
    return _cap(" ".join(template.format(**values).split()))


def _templates(table: dict[str, tuple[str, ...]], f: Finding) -> tuple[str, ...]:
    for key in (f"{f.kind}:{f.variant}", f"{f.kind}:{f.side}", f.kind):
        if key in table:
            return table[key]
    raise KeyError(f"no template for finding kind {f.kind!r}")


def _negations(kinds: tuple[str, ...], rng: np.random.Generator) -> list[tuple[int, str]]:
    combinable = [k for k in kinds if k in P.NEGATION_NOUN]
    out: list[tuple[int, str]] = []
    if len(combinable) >= 2 and rng.random() < 0.5:
        nouns = [P.NEGATION_NOUN[k] for k in combinable]
        joined = (
            nouns[0]
            if len(nouns) == 1
            else ", ".join(nouns[:-1]) + (", or " if len(nouns) > 2 else " or ") + nouns[-1]
        )
        out.append((2, f"No {joined}."))
        kinds = tuple(k for k in kinds if k not in combinable)
    for kind in kinds:
        out.append((GROUP.get(kind, 1), _pick(rng, P.NEGATED[kind])))
    return out


def _impression(plan: StudyPlan, rng: np.random.Generator) -> list[str]:
    out = []
    for f in plan.findings:
        if f.kind == "device":
            continue
        table = P.IMPRESSION if f.mention == "positive" else P.HEDGED
        out.append(fill(_pick(rng, _templates(table, f)), f, rng))
    return out or [_pick(rng, P.NORMAL_IMPRESSION)]


def sentences_for(plan: StudyPlan, rng: np.random.Generator) -> tuple[list[str], list[str]]:
    """(findings sentences, impression sentences); together at least MIN_SENTENCES."""
    ordered: list[tuple[int, str]] = []
    for f in plan.findings:
        table = P.POSITIVE if f.mention == "positive" else P.HEDGED
        ordered.append((GROUP.get(f.kind, 1), fill(_pick(rng, _templates(table, f)), f, rng)))
    ordered += _negations(plan.negated, rng)
    ordered.sort(key=lambda item: item[0])  # stable: plan order within a group
    findings = [s for _, s in ordered]
    impression = _impression(plan, rng)
    fillers = list(P.FILLERS)
    extra = int(rng.integers(0, 2))
    while len(findings) + len(impression) < MIN_SENTENCES or extra > 0:
        filler = fillers.pop(int(rng.integers(len(fillers))))
        if filler.startswith("PA and"):
            findings.insert(0, filler)
        else:
            findings.append(filler)
        extra -= 1
    return findings, impression


def _section(name: str, body: str) -> str:
    return (
        f" {name}: \n \n" + textwrap.fill(body, width=76, initial_indent=" ", subsequent_indent=" ") + "\n \n"
    )


def build_report(
    plan: StudyPlan, rng: np.random.Generator, *, sex: str = "woman", examination: str = "CHEST (PA AND LAT)"
) -> Report:
    """MIMIC-style report text with INDICATION / COMPARISON noise around FINDINGS and IMPRESSION."""
    findings, impression = sentences_for(plan, rng)
    if rng.random() < 0.05:  # some reports have an impression only
        impression, findings = impression + findings, []
    header = (
        " " * 33
        + "FINAL REPORT\n"
        + f" EXAMINATION:  {examination}\n \n"
        + f" INDICATION:  {_pick(rng, P.INDICATIONS).format(sex=sex)}\n \n"
        + f" TECHNIQUE:  Chest {'PA and lateral' if 'LAT' in examination else 'AP portable'}\n \n"
        + f" COMPARISON:  {_pick(rng, P.COMPARISONS)}\n \n"
    )
    body = (_section("FINDINGS", " ".join(findings)) if findings else "") + _section(
        "IMPRESSION", " ".join(impression)
    )
    return Report(header + body, tuple(findings), tuple(impression))
