from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from bench.data.rle import EMPTY, mask_pixels, merge_rles, rle_decode, rle_encode


def kaggle_reference(rle: str, width: int, height: int) -> np.ndarray:
    """The loop of the competition's mask_functions.rle2mask, used as an oracle (then transposed)."""
    mask = np.zeros(width * height, dtype=bool)
    values = [int(x) for x in rle.split()]
    position = 0
    for start, length in zip(values[0::2], values[1::2]):
        position += start
        mask[position : position + length] = True
        position += length
    return mask.reshape(width, height).T


def test_offsets_are_relative_to_the_previous_run():
    # 1 row x 10 columns: flat index == column. Runs: [1, 3) then 3 more after its end -> [6, 7).
    mask = rle_decode("1 2 3 1", 1, 10)
    assert np.flatnonzero(mask[0]).tolist() == [1, 2, 6]


def test_column_major_on_a_non_square_image():
    # height 2, width 3: flat index 1 is (row 1, col 0); flat index 2 is (row 0, col 1).
    assert np.argwhere(rle_decode("1 1", 2, 3)).tolist() == [[1, 0]]
    assert np.argwhere(rle_decode("2 1", 2, 3)).tolist() == [[0, 1]]
    # A run longer than a column continues at the top of the next column.
    assert np.argwhere(rle_decode("1 2", 2, 3)).tolist() == [[0, 1], [1, 0]]


def test_matches_the_kaggle_decoder_on_non_square_masks():
    rng = np.random.default_rng(0)
    mask = rng.random((7, 13)) > 0.6
    encoded = rle_encode(mask)
    assert np.array_equal(kaggle_reference(encoded, 13, 7), mask)
    assert np.array_equal(rle_decode(encoded, 7, 13), mask)


@pytest.mark.parametrize("empty", ["-1", " -1", "-1 ", "", "   "])
def test_empty_spellings_decode_to_nothing(empty):
    mask = rle_decode(empty, 4, 5)
    assert mask.shape == (4, 5) and not mask.any()


def test_empty_mask_encodes_as_minus_one():
    assert rle_encode(np.zeros((3, 4), dtype=bool)) == EMPTY


def test_merge_ors_several_rows():
    a, b = "0 2", "5 3"  # flat [0, 2) and [5, 8) on 4x3
    merged = merge_rles([a, " -1", b, a], 4, 3)
    expected = rle_decode(a, 4, 3) | rle_decode(b, 4, 3)
    assert np.array_equal(merged, expected)
    assert merged.sum() == 5
    assert mask_pixels([a, b], 4, 3) == 5


def test_overlapping_rows_are_not_double_counted():
    assert mask_pixels(["0 4", "2 4"], 3, 3) == 6


@pytest.mark.parametrize(
    "bad, fragment",
    [("1 2 3", "odd number"), ("1 x", "integers"), ("-2 3", "negative"), ("10 5", "only 12 pixels")],
)
def test_malformed_rle_names_the_problem(bad, fragment):
    with pytest.raises(ValueError, match="malformed RLE") as info:
        rle_decode(bad, 3, 4)
    assert fragment in str(info.value)


def test_bad_shapes_and_inputs():
    with pytest.raises(ValueError, match="positive"):
        rle_decode("1 1", 0, 3)
    with pytest.raises(ValueError, match="2-D"):
        rle_encode(np.zeros(5, dtype=bool))
    with pytest.raises(ValueError, match="string"):
        rle_decode(None, 2, 2)  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(arrays(bool, st.tuples(st.integers(1, 17), st.integers(1, 23))))
def test_round_trip(mask):
    encoded = rle_encode(mask)
    height, width = mask.shape
    assert np.array_equal(rle_decode(encoded, height, width), mask)
    if mask.any():
        values = [int(v) for v in encoded.split()]
        assert all(v >= 1 for v in values[1::2])  # lengths
        assert all(v >= 1 for v in values[2::2])  # later offsets: runs are maximal, so gaps >= 1
        assert np.array_equal(kaggle_reference(encoded, width, height), mask)
    else:
        assert encoded == "-1"
