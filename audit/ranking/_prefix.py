"""FA*IR's prefix test (Zehlike et al. 2017), on each query's own pool: is a group under-represented in some prefix of
the top k?

At every prefix i = 1..k a group needs at least m(i) of the places, the alpha_c-quantile of how many a group-blind
ranking gives it; a ranking fails when any prefix falls short. Testing k prefixes at alpha_c each fails a
group-blind ranking more often than alpha_c, so alpha_c is adjusted down until the chance that a group-blind
ranking fails *any* prefix is at most alpha (the paper's adjustment; its code picks the table whose failure
probability is closest to alpha, which can exceed it: here it never does). The paper draws each place as a coin of
probability p (an endless pool); a query's pool is finite, so here the group-blind count is hypergeometric (K of
the query's N items are the group's), which is the exact null of the audit's other top-k tests; ``binomial_p`` gives
the paper's model (tests/test_ranking.py compares it with the authors' fairsearchcore).

Over queries: each query fails with a known probability under the null (its achieved level), so the number of
failing queries is Poisson-binomial; the p-value is its upper tail (exact up to ``EXACT_QUERIES`` queries, then
normal with a continuity correction).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import binom, hypergeom

from audit.fairness._stats import holm
from audit.ranking._types import PrefixFailure, PrefixTest

__all__ = ["prefix_tables", "fail_probability", "prefix_tests", "EXACT_QUERIES"]

EXACT_QUERIES = 5000
_BISECTIONS = 60


def _null_cdf(pool, members, k: int, binomial_p) -> np.ndarray:
    """cdf[c, i, s] = P(a group-blind top i + 1 holds at most s of the group's items), per design c."""
    places = np.arange(1, k + 1)[None, :, None]
    counts = np.arange(k + 1)[None, None, :]
    if binomial_p is not None:
        return binom.cdf(counts, places, np.asarray(binomial_p, float)[:, None, None])
    drawn = np.minimum(places, pool[:, None, None])
    return hypergeom.cdf(counts, pool[:, None, None], members[:, None, None], drawn)


def fail_probability(pool, members, k_q, required, binomial_p=None) -> np.ndarray:
    """P(a group-blind ranking falls short of ``required[c, i]`` at some prefix i < k_q[c]), per design c: one
    dynamic programme over the prefix count, all designs at once."""
    designs, k = required.shape
    alive = np.zeros((designs, k + 1))
    alive[:, 0] = 1.0
    counts = np.arange(k + 1)[None, :]
    for i in range(k):
        if binomial_p is not None:
            p = np.broadcast_to(np.asarray(binomial_p, float)[:, None], alive.shape)
        else:
            left = (pool - i).astype(float)[:, None]
            with np.errstate(divide="ignore", invalid="ignore"):
                p = np.clip((members[:, None] - counts) / left, 0.0, 1.0)
            p = np.where(left > 0, p, 0.0)
        step = alive * (1 - p)
        step[:, 1:] += alive[:, :-1] * p[:, :-1]
        active = (i < k_q)[:, None]
        step = np.where(counts < required[:, i : i + 1], 0.0, step)
        alive = np.where(active, step, alive)
    return 1.0 - alive.sum(axis=1)


def prefix_tables(
    pool, members, k_q, k: int, alpha: float, binomial_p=None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per design: the adjusted alpha_c, the table of required counts (0 past k_q) and its failure probability
    under a group-blind ranking (at most alpha)."""
    cdf = _null_cdf(pool, members, k, binomial_p)
    beyond = np.arange(k)[None, :] >= k_q[:, None]

    def required(level: np.ndarray) -> np.ndarray:
        table = (cdf < level[:, None, None] * (1 - 1e-12)).sum(axis=-1)  # the smallest s with cdf >= level
        return np.where(beyond, 0, table)

    low, high = np.zeros(len(pool)), np.full(len(pool), float(alpha))
    at_alpha = fail_probability(pool, members, k_q, required(high), binomial_p)
    done = at_alpha <= alpha
    for _ in range(_BISECTIONS):
        if done.all():
            break
        middle = (low + high) / 2
        fails = fail_probability(pool, members, k_q, required(middle), binomial_p)
        fine = fails <= alpha
        low = np.where(~done & fine, middle, low)
        high = np.where(~done & ~fine, middle, high)
    level = np.where(done, high, low)
    table = required(level)
    return level, table, fail_probability(pool, members, k_q, table, binomial_p)


def _upper_tail(failed: int, probabilities: np.ndarray) -> tuple[float, str]:
    """P(at least ``failed`` of independent queries fail), each with its own probability."""
    if failed == 0:
        return 1.0, "exact (Poisson-binomial)"
    if len(probabilities) <= EXACT_QUERIES:
        distribution = np.ones(1)
        for p in probabilities:
            distribution = np.convolve(distribution, [1 - p, p])
        return float(min(1.0, distribution[failed:].sum())), "exact (Poisson-binomial)"
    mean, variance = probabilities.sum(), (probabilities * (1 - probabilities)).sum()
    z = (failed - 0.5 - mean) / math.sqrt(variance) if variance > 0 else math.inf
    return float(0.5 * math.erfc(z / math.sqrt(2))), "normal approximation (continuity-corrected)"


def prefix_tests(
    prefix_counts: np.ndarray,
    members: np.ndarray,
    pool: np.ndarray,
    k_q: np.ndarray,
    names: list[str],
    query_names: np.ndarray,
    alpha: float,
) -> list[PrefixTest]:
    """``prefix_counts[q, g, i]``: the group's items in the top i + 1 of query q. One test per group."""
    queries, groups, k = prefix_counts.shape
    designs = np.stack([np.repeat(pool, groups), members.reshape(-1), np.repeat(k_q, groups)], axis=1)
    unique, inverse = np.unique(designs, axis=0, return_inverse=True)
    level, table, fail = prefix_tables(unique[:, 0], unique[:, 1], unique[:, 2], k, alpha)
    required = table[inverse.reshape(-1)].reshape(queries, groups, k)
    failing_prefix = prefix_counts < required
    failed = failing_prefix.any(axis=2)
    probability = fail[inverse.reshape(-1)].reshape(queries, groups)
    results = []
    for g, name in enumerate(names):
        tested = probability[:, g] > 0  # a query that cannot fail (no member, or every item in the top) is no evidence
        n_failed = int(failed[tested, g].sum())
        p_value, test = _upper_tail(n_failed, probability[tested, g]) if tested.any() else (None, "not tested")
        worst = []
        for qi in np.flatnonzero(failed[:, g])[:5]:
            i = int(np.argmax(failing_prefix[qi, g]))
            worst.append(
                PrefixFailure(str(query_names[qi]), i + 1, int(prefix_counts[qi, g, i]), int(required[qi, g, i]))
            )
        results.append(
            PrefixTest(
                group=name,
                alpha=float(alpha),
                queries_tested=int(tested.sum()),
                failed=n_failed,
                expected_failures=float(probability[tested, g].sum()),
                test=test,
                p_value=p_value,
                failures=worst,
            )
        )
    from dataclasses import replace

    adjusted = holm([t.p_value for t in results])
    return [replace(t, p_value_holm=a) for t, a in zip(results, adjusted)]
