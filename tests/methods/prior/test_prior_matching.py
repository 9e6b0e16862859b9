"""Hungarian matching, batched, against brute force over permutations."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from scipy.optimize import linear_sum_assignment

from methods.prior.matching import l1_cost, match, take


def brute_force(cost: np.ndarray, slots: list[int]) -> float:
    """Least total cost of giving each slot its own query."""
    q = cost.shape[0]
    return min(
        sum(cost[p[i], s] for i, s in enumerate(slots)) for p in itertools.permutations(range(q), len(slots))
    )


@pytest.mark.parametrize("seed", range(5))
def test_batched_masked_matching_is_optimal(seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    b, q, t = 4, 5, 4
    cost = torch.rand(b, q, t, generator=gen)
    mask = torch.rand(b, t, generator=gen) > 0.3
    mask[0] = True
    mask[1] = False  # a report with no sentence
    index = match(cost, mask)
    assert index.shape == (b, t) and index.dtype == torch.long
    for i in range(b):
        slots = torch.nonzero(mask[i]).flatten().tolist()
        chosen = index[i, slots].tolist()
        assert len(set(chosen)) == len(chosen)  # one query per sentence
        got = sum(cost[i, c, s].item() for c, s in zip(chosen, slots))
        assert got == pytest.approx(brute_force(cost[i].numpy(), slots)) if slots else got == 0


def test_unmasked_square_matching_is_a_permutation() -> None:
    cost = torch.rand(3, 4, 4)
    index = match(cost)
    for i in range(3):
        assert sorted(index[i].tolist()) == [0, 1, 2, 3]
        got = cost[i, index[i], torch.arange(4)].sum().item()
        assert got == pytest.approx(brute_force(cost[i].numpy(), [0, 1, 2, 3]))


def test_as_coded_reproduces_official_indexing() -> None:
    # query 0 -> target 1, query 1 -> target 2, query 2 -> target 0 (a 3-cycle, not an involution)
    cost = torch.ones(1, 3, 3)
    for qi, tj in ((0, 1), (1, 2), (2, 0)):
        cost[0, qi, tj] = 0.0
    _, cols = linear_sum_assignment(cost[0].numpy())
    assert match(cost, as_coded=True)[0].tolist() == cols.tolist() == [1, 2, 0]
    assert match(cost)[0].tolist() == [2, 0, 1]  # the query that was matched to each target


def test_take_and_cost() -> None:
    gen = torch.randn(2, 4, 3)
    tgt = torch.randn(2, 2, 3)
    cost = l1_cost(gen, tgt)
    torch.testing.assert_close(cost[1, 3, 0], (gen[1, 3] - tgt[1, 0]).abs().sum())
    index = torch.tensor([[3, 1], [0, 2]])
    out = take(gen, index)
    torch.testing.assert_close(out[0, 0], gen[0, 3])
    torch.testing.assert_close(out[1, 1], gen[1, 2])


def test_bad_shapes_are_rejected() -> None:
    with pytest.raises(ValueError, match="queries"):
        match(torch.rand(1, 2, 3))
    with pytest.raises(ValueError, match="square"):
        match(torch.rand(1, 3, 2), as_coded=True)
