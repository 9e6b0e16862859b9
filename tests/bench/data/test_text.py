from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.data.text import (
    ABBREVIATIONS,
    extract_sections,
    normalize_section_name,
    normalize_whitespace,
    report_sentences,
    section_text,
    split_sentences,
)

REPORT = """                                 FINAL REPORT
 EXAMINATION:  CHEST (PA AND LAT)

 INDICATION:  ___ year old woman with cough.  Dr. ___ requests evaluation.

 COMPARISON:  ___

 FINDINGS:

 The lungs are clear.  Heart size is normal, measuring approx. 12.5 cm. No
 pleural effusion.  A 2 cm. nodule projects over posterior rib 2. No pneumothorax.

 IMPRESSION:

 1. No acute cardiopulmonary process. 2. Stable nodule
 3. Discussed with Dr. Smith at 10 a.m. The patient was informed.
"""


def test_sections_and_their_names():
    names = [name for name, _ in section_text(REPORT)]
    assert names == ["preamble", "examination", "indication", "comparison", "findings", "impression"]
    sections = extract_sections(REPORT)
    assert list(sections) == ["impression", "findings"]
    assert sections["findings"].startswith("The lungs are clear. Heart size")
    assert "\n" not in sections["findings"] and "  " not in sections["findings"]


def test_pretraining_text_is_impression_then_findings():
    assert report_sentences(REPORT) == [
        "No acute cardiopulmonary process.",
        "Stable nodule",
        "Discussed with Dr. Smith at 10 a.m.",
        "The patient was informed.",
        "The lungs are clear.",
        "Heart size is normal, measuring approx. 12.5 cm.",
        "No pleural effusion.",
        "A 2 cm. nodule projects over posterior rib 2.",
        "No pneumothorax.",
    ]
    assert report_sentences(REPORT, sections=("findings",))[0] == "The lungs are clear."


@pytest.mark.parametrize(
    "header, expected",
    [
        ("FINDINGS AND IMPRESSION", "impression"),
        ("FINDINGS/IMPRESSION", "impression"),
        ("CONCLUSION", "impression"),
        ("IMPRESSON", "impression"),
        ("FINDNGS", "findings"),
        ("PA AND LATERAL VIEWS OF THE CHEST", "findings"),
        ("CLINICAL HISTORY", "history"),
        ("REASON FOR EXAM", "indication"),
        ("COMPARISONS", "comparison"),
        ("ADDENDUM  ", "addendum"),
        ("TECHNIQUE", "technique"),
    ],
)
def test_section_names_are_normalised(header, expected):
    assert normalize_section_name(header) == expected


def test_last_section_of_a_name_wins_and_empty_ones_are_ignored():
    text = " FINDINGS: First findings.\n IMPRESSION: Old.\n FINDINGS:\n \n IMPRESSION: New impression.\n"
    assert extract_sections(text) == {"impression": "New impression.", "findings": "First findings."}


def test_findings_and_impression_header():
    text = "\n FINDINGS AND IMPRESSION: Lungs clear. No effusion.\n"
    assert extract_sections(text) == {"impression": "Lungs clear. No effusion."}


def test_no_header_at_all_and_last_paragraph():
    assert section_text("Lungs clear.") == [("full report", "Lungs clear.")]
    text = " INDICATION: cough.\n \n Lungs are clear.\n"
    sections = dict(section_text(text))
    assert sections["last_paragraph"].strip() == "Lungs are clear."
    assert report_sentences(text) == []  # PRIOR keeps only impression/findings
    assert report_sentences(text, sections=("last_paragraph",)) == ["Lungs are clear."]


def test_lower_case_words_before_a_colon_are_not_headers():
    text = " FINDINGS: Tube tip: at the carina. Time 10:30.\n"
    assert extract_sections(text) == {"findings": "Tube tip: at the carina. Time 10:30."}


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Lungs clear. Heart normal.", ["Lungs clear.", "Heart normal."]),
        ("Effusion, e.g. on the left. Stable.", ["Effusion, e.g. on the left.", "Stable."]),
        ("I.e. Nothing new. Stable.", ["I.e. Nothing new.", "Stable."]),
        ("Seen by Dr. Jones. Stable.", ["Seen by Dr. Jones.", "Stable."]),
        ("Left vs. Right is unclear. Ok.", ["Left vs. Right is unclear.", "Ok."]),
        ("Nodule of 2.5 cm. Unchanged.", ["Nodule of 2.5 cm.", "Unchanged."]),
        ("A 3 mm. nodule is seen.", ["A 3 mm. nodule is seen."]),
        ("Size approx. 3 cm. Stable.", ["Size approx. 3 cm.", "Stable."]),
        ("Is it new? Yes! Unchanged.", ["Is it new?", "Yes!", "Unchanged."]),
        ('He said "no." Then left.', ['He said "no."', "Then left."]),
        ("Called at 9 p.m. The team knew.", ["Called at 9 p.m.", "The team knew."]),
        ("Seen by J. Smith today.", ["Seen by J. Smith today."]),
        ("Tube in place (see above). Lines ok.", ["Tube in place (see above).", "Lines ok."]),
        ("No effusion.\n\nLungs clear\n\nHeart normal", ["No effusion.", "Lungs clear", "Heart normal"]),
        ("  Lungs\n   clear.  ", ["Lungs clear."]),
        ("...", []),
        ("", []),
    ],
)
def test_sentence_rules(text, expected):
    assert split_sentences(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("1. Pneumonia. 2. Effusion.", ["Pneumonia.", "Effusion."]),
        ("1. Pneumonia 2. Effusion", ["Pneumonia", "Effusion"]),
        ("Impression: 1) Edema. 2) Effusion.", ["Impression:", "Edema.", "Effusion."]),
        ("1. Fracture of rib 1. 2. Effusion.", ["Fracture of rib 1.", "Effusion."]),
        ("Fracture of posterior rib 2. No effusion.", ["Fracture of posterior rib 2.", "No effusion."]),
        ("1. A.\n2. B.\n3. C.\n\n1. D.", ["A.", "B.", "C.", "D."]),
    ],
)
def test_numbered_lists_keep_items_and_drop_the_numbers(text, expected):
    assert split_sentences(text) == expected


def test_normalize_whitespace():
    assert normalize_whitespace(" a\t\n b  c \r\n") == "a b c"


WORDS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=8).filter(
    lambda w: w not in ABBREVIATIONS and w not in {"am", "pm"}
)
SENTENCE = st.lists(WORDS, min_size=1, max_size=6).map(lambda ws: " ".join(ws).capitalize() + ".")
SPACE = st.sampled_from([" ", "  ", "\n", " \n ", "\t"])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(SENTENCE, SPACE), min_size=1, max_size=8))
def test_joined_sentences_are_recovered(parts):
    text = "".join(sentence + space for sentence, space in parts)
    sentences = split_sentences(text)
    assert sentences == [sentence for sentence, _ in parts]
    assert " ".join(sentences) == normalize_whitespace(text)


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab .,?!\n\t1:(")), max_size=60))
def test_no_text_is_lost_or_invented(text):
    sentences = split_sentences(text)
    assert all(s == s.strip() and "  " not in s and "\n" not in s and s for s in sentences)
    # Every output character comes from the input in order (list numbers may be dropped).
    joined = "".join(sentences).replace(" ", "")
    source = iter(text.replace(" ", ""))
    assert all(ch in source for ch in joined)
