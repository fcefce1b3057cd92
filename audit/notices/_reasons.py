"""Which features are a decision's principal reasons, when two attribution methods must agree on them.

Pure numpy on two (rows x features) matrices of contributions toward the favourable decision. A reason is a feature
with a negative contribution among a method's ``k`` most negative. Near-ties are part of the answer, not noise to
hide: when a feature one method ranks k-th and another (k+1)-th differ by less than ``tie_margin``, neither order is
determined, so the methods still agree on that row; the notice then states only the reasons both methods rank in
their top k and names the tied feature separately.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from audit._errors import ConfigError

__all__ = ["ReasonSets", "reason_sets"]


@dataclass(frozen=True)
class ReasonSets:
    """Per row: ``stated`` (feature indices both methods rank in their top k, ordered by the exact method),
    ``tied`` (in one method's top k only, within the margin of the other's cut), ``disputed`` (in one method's
    top k only, and clearly outside the other's), ``agree`` (no disputed feature)."""

    stated: list[list[int]]
    tied: list[list[int]]
    disputed: list[list[int]]
    agree: np.ndarray


def _top(values: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's top-k mask (the k most negative values that are negative) and its cut: the k-th most negative
    value, or 0 when fewer than k values are negative (a reason must lower the score)."""
    order = np.argsort(values, axis=1, kind="stable")[:, :k]
    mask = np.zeros(values.shape, dtype=bool)
    np.put_along_axis(mask, order, True, axis=1)
    mask &= values < 0
    kth = np.take_along_axis(values, order[:, -1:], axis=1)[:, 0]
    return mask, np.minimum(kth, 0.0)


def reason_sets(exact: np.ndarray, second: np.ndarray, *, reasons: int = 3, tie_margin: float = 0.1) -> ReasonSets:
    """Compare the top ``reasons`` of ``exact`` and ``second`` row by row (see the module docstring)."""
    if exact.shape != second.shape or exact.ndim != 2:
        raise ConfigError(
            f"The two attribution matrices must have the same (rows, features) shape. Got {exact.shape} "
            f"and {second.shape} instead."
        )
    k = min(int(reasons), exact.shape[1])
    in_exact, cut_exact = _top(exact, k)
    in_second, cut_second = _top(second, k)
    # a feature only one method ranks is tied when the other puts it within the margin of its own cut
    near_second = second <= (cut_second + tie_margin)[:, None]
    near_exact = exact <= (cut_exact + tie_margin)[:, None]
    only_exact, only_second = in_exact & ~in_second, in_second & ~in_exact
    tied = (only_exact & near_second) | (only_second & near_exact)
    disputed = (only_exact | only_second) & ~tied
    both = in_exact & in_second
    order = np.argsort(exact, axis=1, kind="stable")
    stated = [[int(j) for j in order[i] if both[i, j]] for i in range(len(exact))]
    return ReasonSets(
        stated=stated,
        tied=[[int(j) for j in order[i] if tied[i, j]] for i in range(len(exact))],
        disputed=[[int(j) for j in order[i] if disputed[i, j]] for i in range(len(exact))],
        agree=~disputed.any(axis=1),
    )
