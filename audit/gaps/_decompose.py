"""The Shapley decomposition of a gap between two groups over the model's input features.

The gap is M(A) - M(B): a metric that is a weighted mean of a per-row outcome (a decision, a score) over group A's
rows minus the same over the comparison group B's. Its decomposition answers "how much of the gap goes away when A's
rows get B's values of feature k", averaged over the orders in which features are handed over (Shapley):

1. **Coupling.** A's and B's rows are paired by the north-west-corner transport plan between their (shuffled) row
   weights: at most n_A + n_B - 1 weighted pairs whose weights add up to each A row's weight and to each B row's
   weight exactly. So the mean over pairs of A's outcomes is M(A), and of B's outcomes M(B), to rounding.
2. **Orders.** Each pair gets its own random order of the features (and, for every second order, that order
   reversed: antithetic). Along the order, the pair's hybrid row takes B's values feature by feature; each step's
   change of the outcome is credited to the feature handed over. The steps telescope, so every pair's credits add
   up to its B outcome minus its A outcome, and the decomposition adds up to the gap exactly, for any model and
   any number of orders. More orders only lower the Monte Carlo noise, which the intervals include.
3. **Intervals.** A two-sample bootstrap: A's rows and B's rows are resampled independently, each row keeping all
   its pairs; a resample's decomposition is the pair credits reweighted.

Hybrid rows can be combinations no person has (a 20-year-old widow with 30 years of experience): the method
measures what the model does with them (interventional), not what the data would do (observational).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Callable

import numpy as np
import pandas as pd

__all__ = ["Coupling", "couple", "PairedRows", "pair_contributions", "single_swaps", "two_sample_bootstrap"]

Outcome = Callable[[pd.DataFrame], np.ndarray]  # model inputs -> the per-row outcome the metric averages


@dataclass(frozen=True)
class Coupling:
    """Weighted pairs of a group's rows and its comparison group's rows, with exact marginals."""

    group_rows: np.ndarray  # positions (0..n_A-1) within the group of each pair's A row
    other_rows: np.ndarray  # positions (0..n_B-1) within the comparison group of each pair's B row
    weights: np.ndarray  # add up to 1; per A row to its share of A's weight, per B row to its share of B's

    def __len__(self) -> int:
        return len(self.weights)


def couple(group_weights: np.ndarray, other_weights: np.ndarray, rng: np.random.Generator) -> Coupling:
    """The north-west-corner plan between the two groups' normalised weights, rows visited in a random order (so
    that pairs are random partners, not the first rows of the file with each other)."""
    group_order, other_order = rng.permutation(len(group_weights)), rng.permutation(len(other_weights))
    group_edges = np.cumsum(group_weights[group_order] / group_weights.sum())
    other_edges = np.cumsum(other_weights[other_order] / other_weights.sum())
    group_edges[-1] = other_edges[-1] = 1.0
    edges = np.union1d(group_edges, other_edges)
    starts = np.concatenate(([0.0], edges[:-1]))
    widths = edges - starts
    keep = widths > 0
    middles = (starts + edges)[keep] / 2
    group_at = np.minimum(np.searchsorted(group_edges, middles), len(group_edges) - 1)
    other_at = np.minimum(np.searchsorted(other_edges, middles), len(other_edges) - 1)
    return Coupling(group_order[group_at], other_order[other_at], widths[keep])


class PairedRows:
    """The paired rows' values column by column, their measured outcomes (``start``: A's, ``end``: B's, per pair),
    and the model asked about hybrids of them in large batches. Built once per gap, read by the decomposition and
    the check."""

    def __init__(
        self,
        group_features: pd.DataFrame,
        other_features: pd.DataFrame,
        coupling: Coupling,
        outcome: Outcome,
        *,
        group_outcomes: np.ndarray,
        other_outcomes: np.ndarray,
        batch_rows: int = 65536,
    ) -> None:
        self.coupling = coupling
        self.start = group_outcomes[coupling.group_rows].astype(float)
        self.end = other_outcomes[coupling.other_rows].astype(float)
        self.columns = list(group_features.columns)
        self.dtypes = group_features.dtypes
        self._features = (group_features, other_features)
        self.outcome, self.batch_rows = outcome, batch_rows
        self.fast = None  # an exact fast path (audit.gaps._fast.HybridPath), once it has passed its check
        self.fast_failure = ""  # why a fast path was dropped after its check

    # the pairs' values column by column, built when first needed (a fast path asks the model about 256 pairs only)
    @cached_property
    def group(self) -> dict[str, np.ndarray]:
        return _paired_columns(self._features[0], self.coupling.group_rows)

    @cached_property
    def other(self) -> dict[str, np.ndarray]:
        return _paired_columns(self._features[1], self.coupling.other_rows)

    @cached_property
    def differs(self) -> np.ndarray:
        """(pairs, features): where a pair's two rows hold different values. Handing over a value both rows share
        changes nothing: no model call."""
        if not self.columns:
            return np.zeros((len(self.coupling), 0), dtype=bool)
        return np.column_stack([_differs(self.group[name], self.other[name]) for name in self.columns])

    def ask_model(self, pairs: np.ndarray, take_other: np.ndarray) -> np.ndarray:
        """The model's own outcome on the hybrids of ``pairs`` (data frames through the whole model)."""
        return self._evaluate_by_model([(pairs, take_other)])[0]

    def hybrid(self, pairs: np.ndarray, take_other: np.ndarray) -> pd.DataFrame:
        """Rows ``pairs`` with the columns where ``take_other`` (rows x columns) is true from B, the rest from A."""
        data = {}
        for k, name in enumerate(self.columns):
            values = np.where(take_other[:, k], self.other[name][pairs], self.group[name][pairs])
            dtype = self.dtypes[name]
            # strings stay plain objects (rebuilding an Arrow string column per batch costs more than the model
            # call); categoricals and other extension types keep their type, which models may read
            keep = isinstance(dtype, np.dtype) or pd.api.types.is_string_dtype(dtype)
            data[name] = values if keep else pd.array(values, dtype=dtype)
        return pd.DataFrame(data, columns=self.columns)

    def evaluate(self, requests: list[tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray]:
        """The outcome of each request (pairs, their take-other masks): by the fast path where there is one, else
        the model called on up to ``batch_rows`` rows at a time (many small requests share one call; a large one is
        split)."""
        if self.fast is not None and requests:  # one pass over the trees for every request
            answers = self.fast.on_hybrids(
                np.concatenate([pairs for pairs, _ in requests]), np.concatenate([take for _, take in requests])
            )
            return np.split(answers, np.cumsum([len(pairs) for pairs, _ in requests])[:-1])
        return self._evaluate_by_model(requests)

    def _evaluate_by_model(self, requests: list[tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray]:
        results = [np.empty(len(pairs)) for pairs, _ in requests]
        pending: list[tuple[int, int, int]] = []  # (request, first row, last row)
        size = 0
        for index, (pairs, _) in enumerate(requests):
            for first in range(0, len(pairs), self.batch_rows):
                last = min(first + self.batch_rows, len(pairs))
                if size + last - first > self.batch_rows:
                    self._run(requests, pending, results)
                    pending, size = [], 0
                pending.append((index, first, last))
                size += last - first
        self._run(requests, pending, results)
        return results

    def _run(self, requests, pending, results) -> None:
        if not pending:
            return
        frame = pd.concat(
            [self.hybrid(requests[i][0][a:b], requests[i][1][a:b]) for i, a, b in pending], ignore_index=True
        )
        values = np.asarray(self.outcome(frame), dtype=float)
        offset = 0
        for index, first, last in pending:
            results[index][first:last] = values[offset : offset + last - first]
            offset += last - first


def _differs(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    both_missing = pd.isna(first) & pd.isna(second)
    with np.errstate(invalid="ignore"):
        return ~((first == second) | both_missing)


def _paired_columns(features: pd.DataFrame, rows: np.ndarray) -> dict[str, np.ndarray]:
    taken = features.iloc[rows]
    return {
        name: taken[name].to_numpy(dtype=object if not isinstance(taken[name].dtype, np.dtype) else None)
        for name in features.columns
    }


def pair_contributions(pairs: PairedRows, *, orders: int, rng: np.random.Generator) -> np.ndarray:
    """(pairs, features): each pair's credit to each feature for moving its outcome from A's to B's, averaged over
    ``orders`` orders per pair. Rows add up to ``pairs.end - pairs.start`` exactly (the end points are the outcomes
    the audit measured, so the sum is the audit's gap whatever the model does in between). A step that hands over
    a value both rows of a pair share is not asked of the model: the hybrid row is the previous one.
    """
    size, width = len(pairs.coupling), len(pairs.columns)
    start, end = pairs.start, pairs.end
    credits = np.zeros((size, width))
    everyone = np.arange(size)
    order = None
    state = rng.bit_generator.state
    for index in range(orders):
        order = order[:, ::-1] if index % 2 else rng.permuted(np.tile(np.arange(width), (size, 1)), axis=1)
        position = np.argsort(order, axis=1)  # position[p, k]: when pair p hands over feature k
        if pairs.fast is not None and width:
            outcomes = pairs.fast.along_orders(position)  # (pairs, width + 1): after 0..width steps
            if index == 0:
                failed = pairs.fast.differs_from(outcomes[:, 0], outcomes[:, width], start, end)
                if failed:  # its ends differ from what the audit measured: ask the model, with the same orders
                    pairs.fast, pairs.fast_failure = None, f"{pairs.fast.name}: {failed}"
                    rng.bit_generator.state = state
                    return pair_contributions(pairs, orders=orders, rng=rng)
            outcomes[:, 0], outcomes[:, width] = start, end
            for step in range(width):
                credits[everyone, order[:, step]] += outcomes[:, step + 1] - outcomes[:, step]
            continue
        requests, asked = [], []
        for step in range(width - 1):
            changed = np.flatnonzero(pairs.differs[everyone, order[:, step]])
            requests.append((changed, position[changed] <= step))
            asked.append(changed)
        answers = pairs.evaluate(requests)
        before = start
        for step in range(width):
            if step == width - 1:
                after = end
            else:
                after = before.copy()
                after[asked[step]] = answers[step]
            credits[everyone, order[:, step]] += after - before
            before = after
    return credits / max(orders, 1)


def single_swaps(pairs: PairedRows, features: list[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per pair, for each of ``features``: the outcome when feature k alone is handed over first (A's row with B's
    value of k) and last (B's row with A's value of k). These are the two ends of the orders the decomposition
    averages over: the check reads them apart from the decomposition's own model calls."""
    if pairs.fast is not None and features:
        indices = [pairs.columns.index(name) for name in features]
        first_all, last_all = pairs.fast.single_swaps(indices)
        swapped = {}
        for index, (name, k) in enumerate(zip(features, indices)):
            same = ~pairs.fast.differs[:, k]  # the hybrid is the row itself: the measured outcome, as below
            first_all[same, index], last_all[same, index] = pairs.start[same], pairs.end[same]
            swapped[name] = (first_all[:, index], last_all[:, index])
        return swapped
    requests, asked = [], []
    for name in features:
        k = pairs.columns.index(name)
        changed = np.flatnonzero(pairs.differs[:, k])
        take = np.zeros((len(changed), len(pairs.columns)), dtype=bool)
        take[:, k] = True
        requests += [(changed, take), (changed, ~take)]
        asked.append(changed)
    answers = pairs.evaluate(requests)
    swapped = {}
    for index, name in enumerate(features):
        first, last = pairs.start.copy(), pairs.end.copy()
        first[asked[index]], last[asked[index]] = answers[2 * index], answers[2 * index + 1]
        swapped[name] = (first, last)
    return swapped


def _resample_counts(rng: np.random.Generator, rows: int, size: int) -> np.ndarray:
    """(size, rows): how often each row is drawn in each of ``size`` resamples of ``rows`` rows with replacement
    (a multinomial with equal chances, counted from uniform draws: 4x faster than numpy's multinomial here)."""
    draws = rng.integers(0, rows, (size, rows)) + (np.arange(size) * rows)[:, None]
    return np.bincount(draws.ravel(), minlength=size * rows).reshape(size, rows)


def two_sample_bootstrap(
    coupling: Coupling,
    values: np.ndarray,
    *,
    group_size: int,
    other_size: int,
    n_boot: int,
    rng: np.random.Generator,
    block: int = 25,
) -> np.ndarray:
    """(n_boot, columns): the weighted pair mean of ``values`` (pairs, columns) when the group's rows and the
    comparison group's rows are resampled independently, each resampled row carrying all its pairs."""
    out = np.empty((n_boot, values.shape[1]))
    for first in range(0, n_boot, block):
        size = min(block, n_boot - first)
        group_counts, other_counts = _resample_counts(rng, group_size, size), _resample_counts(rng, other_size, size)
        weights = coupling.weights * group_counts[:, coupling.group_rows] * other_counts[:, coupling.other_rows]
        totals = weights.sum(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[first : first + size] = np.where(totals > 0, weights @ values / np.where(totals > 0, totals, 1), np.nan)
    return out
