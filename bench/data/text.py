"""Radiology report text: sections, sentences and the pretraining text of a study.

Sections follow the MIMIC-CXR convention of capitalised headers at the start of a line
("FINDINGS:", "IMPRESSION:", ...), as parsed by MIT-LCP's ``section_text``; names are normalised
(e.g. "FINDINGS AND IMPRESSION" -> impression, "CONCLUSION" -> impression, "PA AND LATERAL" ->
findings). The pretraining text is the impression followed by the findings, as in PRIOR.

Sentences are split by rules, not a model: a sentence ends at ``.``, ``!`` or ``?`` followed by
space and an upper-case letter, a digit or an opening bracket/quote, unless the word before the
stop is a known abbreviation (``Dr.``, ``e.g.``, ``vs.``, ``approx.``, initials, ...). Decimals
(``2.5 cm``) never split since no space follows the point; ``cm.`` and ``mm.`` end a sentence only
when a capitalised word follows. Numbered lists (``1. ... 2. ...``) are split into their items and
the bare numbering is DROPPED (a lone "1." is no sentence, and MGCA also strips ``[0-9]+.``). A
number counts as a list marker only inside a chain that starts at 1 and counts up, so "rib 2. No
effusion" keeps its 2. A blank line always ends a sentence. Whitespace is collapsed to one space.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# -- sections ------------------------------------------------------------------------------------
HEADER = re.compile(r"^[ \t]*([A-Z][A-Z ()/,&-]*[A-Z)]):(?=\s|$)[ \t]*", re.MULTILINE)

SECTION_ALIASES: dict[str, str] = {
    "comparisons": "comparison",
    "comparison exam": "comparison",
    "comparison film": "comparison",
    "reference exam": "comparison",
    "clinical history": "history",
    "clinical information": "history",
    "patient history": "history",
    "pfi": "history",
    "reason for examination": "indication",
    "reason for exam": "indication",
    "clinical indication": "indication",
    "exam": "examination",
    "type of examination": "examination",
    "conclusion": "impression",
    "findings and impression": "impression",
    "findings/impression": "impression",
    "impression and findings": "impression",
    "chest, two views": "findings",
    "finding": "findings",
    "reference findings": "findings",
    "recommendation": "recommendations",
    "recommendation(s)": "recommendations",
    "wetread": "wet read",
}
# Misspellings seen in MIMIC-CXR headers.
SECTION_ALIASES.update(
    {
        typo: "impression"
        for typo in (
            "impresson",
            "imprression",
            "imoression",
            "impressoin",
            "imprssion",
            "impresion",
            "imperssion",
            "mpression",
            "impession",
        )
    }
)
SECTION_ALIASES.update(
    {typo: "findings" for typo in ("findins", "findindgs", "findgings", "findngs", "findnings", "finidngs")}
)
SECTION_ALIASES.update(
    {
        "idication": "indication",
        "ndication": "indication",
        "comparision": "comparison",
        "comparsion": "comparison",
        "comparrison": "comparison",
        "comparisions": "comparison",
    }
)

MAIN_SECTIONS = ("impression", "findings", "history", "comparison", "addendum")
VIEW_WORDS = re.compile(
    r"chest|portable|pa and lat|lateral and pa|ap and lateral|lateral and ap|frontal and|two views|"
    r"frontal view|pa view|ap view|one view|lateral view|bone window|frontal upright|frontal semi-upright|ribs"
)
PRETRAIN_SECTIONS = ("impression", "findings")


def normalize_section_name(name: str) -> str:
    """Lower-case header name mapped to its canonical section (impression, findings, ...)."""
    key = " ".join(name.lower().split())
    if key in SECTION_ALIASES:
        return SECTION_ALIASES[key]
    for main in MAIN_SECTIONS:
        if main in key:
            return main
    return "findings" if VIEW_WORDS.search(key) else key


def section_text(text: str) -> list[tuple[str, str]]:
    """(normalised name, body) for each section in order; text before the first header is the
    "preamble". Empty impression/findings sections are dropped. Without any impression or findings,
    the last paragraph of the last section becomes "last_paragraph" (as MIT-LCP does)."""
    matches = list(HEADER.finditer(text))
    if not matches:
        sections = [("full report", text)]
    else:
        sections = [("preamble", text[: matches[0].start()])]
        for match, following in zip(matches, matches[1:] + [None]):
            end = following.start() if following is not None else len(text)
            sections.append((normalize_section_name(match.group(1)), text[match.end() : end]))
    sections = [(n, b) for n, b in sections if not (n in PRETRAIN_SECTIONS and not b.strip())]
    names = {n for n, _ in sections}
    if not names & set(PRETRAIN_SECTIONS):
        name, body = sections[-1]
        paragraphs = re.split(r"\n[ \t]*\n", body.strip("\n"))
        if len(paragraphs) > 1 and paragraphs[-1].strip():
            sections[-1] = (name, "\n\n".join(paragraphs[:-1]))
            sections.append(("last_paragraph", paragraphs[-1]))
    return sections


def _last_sections(text: str, names: tuple[str, ...]) -> dict[str, str]:
    found = {name: body for name, body in section_text(text) if name in names and body.strip()}
    return {name: found[name] for name in names if name in found}


def extract_sections(text: str, names: Iterable[str] = PRETRAIN_SECTIONS) -> dict[str, str]:
    """Body of the LAST section of each wanted name (MIT-LCP/MGCA rule), whitespace-normalised,
    in the order of ``names``."""
    return {name: normalize_whitespace(body) for name, body in _last_sections(text, tuple(names)).items()}


def report_sentences(text: str, sections: Iterable[str] = PRETRAIN_SECTIONS) -> list[str]:
    """Sentences of the wanted sections, in that order (default: impression first, then findings)."""
    sentences: list[str] = []
    for body in _last_sections(text, tuple(sections)).values():
        sentences.extend(split_sentences(body))
    return sentences


# -- sentences -----------------------------------------------------------------------------------
ABBREVIATIONS = frozenset(
    "dr mr mrs ms prof st vs approx appt dept fig figs cf resp incl pt pts e.g eg i.e ie a.k.a al".split()
)
# Dotted words that usually end a sentence when a capital follows ("... at 10 a.m. The ...").
SENTENCE_FINAL = frozenset({"a.m", "p.m", "etc"})
WHITESPACE = re.compile(r"\s+")
PARAGRAPH = re.compile(r"\n[ \t\r\f\v]*\n")
LIST_MARKER = re.compile(r"(?:(?<=\s)|^)(\d{1,2})[.)]\s+(?=\S)")
STOP = re.compile(r"[.!?]+[\"')\]]*\s+(?=[A-Z0-9(\"'\[])")
INITIAL = re.compile(r"^(?:[A-Z]|(?:[A-Za-z]\.)+[A-Za-z])$")


def normalize_whitespace(text: str) -> str:
    """Collapse every run of whitespace (newlines included) to one space and strip the ends."""
    return WHITESPACE.sub(" ", text).strip()


def _list_items(paragraph: str) -> list[str]:
    """Split a paragraph at the markers of a numbered list (1., 2., ...), dropping the markers."""
    cuts: list[tuple[int, int]] = []
    expected = 1
    for match in LIST_MARKER.finditer(paragraph):
        number = int(match.group(1))
        before = paragraph[: match.start()].rstrip()
        starts_list = number == 1 and (not before or before[-1] in ".:!?;")
        if starts_list or (cuts and number == expected):
            cuts.append((match.start(), match.end()))
            expected = number + 1
    if not cuts:
        return [paragraph]
    pieces = [paragraph[: cuts[0][0]]]
    for (_, end), nxt in zip(cuts, cuts[1:] + [(len(paragraph), len(paragraph))]):
        pieces.append(paragraph[end : nxt[0]])
    return pieces


def _is_abbreviation(chunk: str) -> bool:
    """Whether the text up to a stop ends with an abbreviation (so the stop is not a boundary)."""
    word = chunk.rsplit(" ", 1)[-1].lstrip("([\"'")
    bare = word.rstrip(".!?")
    if word.endswith(("!", "?")) or not bare or bare.lower() in SENTENCE_FINAL:
        return False
    return bare.lower() in ABBREVIATIONS or bool(INITIAL.match(bare))


def _split_plain(text: str) -> list[str]:
    sentences: list[str] = []
    start = 0
    for match in STOP.finditer(text):
        if _is_abbreviation(text[start : match.start() + 1]):
            continue
        sentences.append(text[start : match.end()].strip())
        start = match.end()
    sentences.append(text[start:].strip())
    return sentences


def split_sentences(text: str) -> list[str]:
    """Rule-based sentence split (see module docstring); sentences are whitespace-normalised,
    empty or punctuation-only pieces are dropped."""
    out: list[str] = []
    for paragraph in PARAGRAPH.split(text):
        for item in _list_items(normalize_whitespace(paragraph)):
            for sentence in _split_plain(normalize_whitespace(item)):
                if any(ch.isalnum() for ch in sentence):
                    out.append(sentence)
    return out
