"""Pooled (empirical-Bayes) estimates of a proportion over many groups, shown beside the raw ones.

Each group's rate gets a beta prior centred on what its parent groups predict and a posterior that mixes the
group's own rows with that prior, in proportion to how much the groups really differ:

- the prior mean of a group is predicted from the *other* groups (leave one group out, so that a large group
  cannot pull its own prior onto its rate and hide how much groups differ): in a one-feature table, their rate;
  in an intersection (sex x race x age), an additive logit model of its parents (one effect per level of each
  feature) fitted to their counts, when the table has at least ``MIN_SPARE_GROUPS`` more groups than that model
  has parameters, else their rate;
- the prior's variance is the between-group variance m(1 - m) / (M + 1) plus the prediction's own variance (the
  delta method), so that an estimated prior mean is not treated as known;
- the prior's strength M is not fixed at one estimate, which would claim too much when the groups look alike by
  chance: the posterior is averaged over a grid of M weighted by the beta-binomial marginal likelihood times the
  prior p(a, b) ~ (a + b)^(-5/2) (Gelman et al., Bayesian Data Analysis, 5.3);
- the pooled value is the posterior mean, its interval the equal-tailed credible interval of the mixture, and
  ``weight`` the posterior mean of n / (n + M'), M' the prior's worth in rows: how much of the value is the
  group's own data.

benchmarks.pooling measures the mean squared error against the raw rates and the intervals' coverage on planted
intersectional data, including a planted outlying group, which pooling pulls towards its parents (its raw rate and
interval stay beside the pooled ones for that reason).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import betainc, betaincinv, betaln, expit

__all__ = ["PooledRates", "pool_rates", "MIN_POOLED_GROUPS", "MIN_SPARE_GROUPS"]

MIN_POOLED_GROUPS = 5  # fewer groups say too little about how much groups differ
MIN_SPARE_GROUPS = 4  # groups beyond the parent model's parameters before it is the prior mean
_STRENGTHS = np.geomspace(0.5, 1e5, 40)  # M, the prior's worth in rows


@dataclass(frozen=True)
class PooledRates:
    """Pooled estimates per group (NaN where the group has no rows for the metric)."""

    values: np.ndarray
    low: np.ndarray
    high: np.ndarray
    weight: np.ndarray  # the share of the pooled value that is the group's own data, n / (n + M)
    prior_means: np.ndarray  # what each group is pulled towards (predicted from the other groups)
    prior: str  # what the groups are pulled towards
    strength: float  # the posterior median of M (before the prediction's own variance is added)


def pool_rates(
    successes: np.ndarray, trials: np.ndarray, keys: list[tuple[str, ...]], columns: list[str], level: float
) -> PooledRates:
    """Pool each group's ``successes / trials`` towards its parents' prediction (see the module)."""
    x, n = np.asarray(successes, float), np.asarray(trials, float)
    present = n > 0
    if present.sum() < MIN_POOLED_GROUPS:
        # a programming error: the engine pools only where that many groups have rows
        raise TypeError(f"pooling needs {MIN_POOLED_GROUPS} groups with rows; got {int(present.sum())}")
    means, mean_variance, prior = _prior_means(x, n, keys, columns, present)
    strengths = _effective_strengths(means, mean_variance)  # groups x grid
    prior_a, prior_b = strengths * means[:, None], strengths * (1 - means[:, None])
    log_post = _log_marginal(x[present], n[present], prior_a[present], prior_b[present])
    # the prior p(a, b) ~ (a + b)^(-5/2) is M^(-3/2) in M; on a log-spaced grid the density in log M is M times that
    log_post = log_post - 0.5 * np.log(_STRENGTHS)
    w = np.exp(log_post - log_post.max())
    w[w < 1e-9] = 0.0  # strengths the data rule out: dropped from the mixtures below
    w /= w.sum()
    a = x[:, None] + prior_a  # groups x strengths
    b = n[:, None] - x[:, None] + prior_b
    values = (a / (a + b)) @ w
    weight = (n[:, None] / (n[:, None] + strengths)) @ w
    tail = (1 - level) / 2
    kept = w > 0
    low, high = _mixture_quantiles(a[:, kept], b[:, kept], w[kept], (tail, 1 - tail))
    # a very skewed posterior (every group at 0, say) can put its mean beyond an equal-tailed limit: the interval
    # is widened to hold the value it is shown with
    low, high = np.minimum(low, values), np.maximum(high, values)
    nan = np.where(present, 1.0, np.nan)
    median = float(_STRENGTHS[np.searchsorted(np.cumsum(w), 0.5)])
    return PooledRates(values * nan, low * nan, high * nan, weight * nan, means * nan, prior, median)


def _prior_means(
    x: np.ndarray, n: np.ndarray, keys: list[tuple[str, ...]], columns: list[str], present: np.ndarray
) -> tuple[np.ndarray, np.ndarray, str]:
    """Each group's prior mean predicted from the other groups (leave one group out), the variance of that
    prediction, and what it is. Fitted with the group itself, a large group would pull its own prior mean onto
    its rate and hide how much groups differ (on planted data that halved the between-group variance)."""
    design = _main_effects(keys, len(columns)) if len(columns) > 1 else np.ones((len(x), 1))
    if len(columns) > 1 and present.sum() - design.shape[1] < MIN_SPARE_GROUPS:
        design = np.ones((len(x), 1))
        prior = f"the rate of the other groups (too few groups for an additive model of {' and '.join(columns)})"
    elif len(columns) > 1:
        prior = (
            f"an additive logit model of {' and '.join(columns)} (one effect per level, {design.shape[1]} "
            "parameters) fitted to the other groups' counts"
        )
    else:
        prior = "the rate of the other groups"
    means, variance = np.full(len(x), 0.5), np.full(len(x), 1.0)
    for g in range(len(x)):
        others = present.copy()
        others[g] = False
        fitted, covariance = _fit_logit(x[others], n[others], design[others])
        mean = float(np.clip(expit(design[g] @ fitted), 1e-6, 1 - 1e-6))
        # the delta method: the predicted logit's variance times the slope of the logistic, squared
        means[g], variance[g] = mean, (mean * (1 - mean)) ** 2 * float(design[g] @ covariance @ design[g])
    return means, variance, prior


def _effective_strengths(means: np.ndarray, mean_variance: np.ndarray) -> np.ndarray:
    """The beta prior's a + b at each grid strength M once the prior mean's own estimation variance is added to
    the between-group variance m(1 - m) / (M + 1): without it, groups that look alike would be pulled onto an
    estimated mean as if it were known (the additive scenario of benchmarks.pooling covered 0.67 without it)."""
    spread = means * (1 - means)
    variance = spread[:, None] / (_STRENGTHS[None, :] + 1) + mean_variance[:, None]
    return np.asarray(np.maximum(spread[:, None] / variance - 1, 0.05))


def _main_effects(keys: list[tuple[str, ...]], width: int) -> np.ndarray:
    """An intercept and one indicator per level of each feature (its first level dropped)."""
    blocks = [np.ones((len(keys), 1))]
    for column in range(width):
        levels = sorted({key[column] for key in keys})
        blocks.append(np.array([[key[column] == level for level in levels[1:]] for key in keys], float))
    return np.hstack(blocks)


def _fit_logit(x: np.ndarray, n: np.ndarray, design: np.ndarray, ridge: float = 1e-2) -> tuple[np.ndarray, np.ndarray]:
    """Binomial logistic regression on grouped counts by Newton's method, and its coefficients' covariance (the
    inverse Hessian); the small ridge keeps a level whose groups are all 0 or all 1 finite."""
    coef = np.zeros(design.shape[1])
    for _ in range(100):
        p = expit(design @ coef)
        gradient = design.T @ (x - n * p) - ridge * coef
        hessian = (design * (n * p * (1 - p))[:, None]).T @ design + ridge * np.eye(len(coef))
        step = np.linalg.solve(hessian, gradient)
        coef += step
        if np.abs(step).max() < 1e-10:
            break
    p = expit(design @ coef)
    hessian = (design * (n * p * (1 - p))[:, None]).T @ design + ridge * np.eye(len(coef))
    return coef, np.linalg.inv(hessian)


def _log_marginal(x: np.ndarray, n: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The beta-binomial log-likelihood of every group's counts at each prior strength (binomial terms dropped)."""
    return np.asarray((betaln(x[:, None] + a, (n - x)[:, None] + b) - betaln(a, b)).sum(axis=0))


def _mixture_quantiles(
    a: np.ndarray, b: np.ndarray, w: np.ndarray, quantiles: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray]:
    """Two quantiles of each group's mixture of betas: bisection on the mixture's distribution function, both at
    once, inside the bracket of the components' own quantiles (a mixture's quantile lies between them)."""
    target = np.repeat(np.asarray(quantiles, float), len(a))
    a2, b2 = np.vstack([a, a]), np.vstack([b, b])
    components = betaincinv(a2, b2, target[:, None])
    low, high = components.min(axis=1), components.max(axis=1)
    while np.max(high - low) > 1e-7:
        middle = (low + high) / 2
        below = betainc(a2, b2, middle[:, None]) @ w < target
        low, high = np.where(below, middle, low), np.where(below, high, middle)
    middle = (low + high) / 2
    return middle[: len(a)], middle[len(a) :]
