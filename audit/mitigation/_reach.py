"""Will a fix chosen on the fit half reach its tolerance on new rows?

A rule solved exactly at a tolerance sits on the boundary on the fit half, so on new rows it misses about half
the time. The chance that the held-out constraint value meets the tolerance is estimated from each group's
rates on the fit half and their binomial variance (the held-out half has about as many rows, so the variance
of the held-out minus the fit value is twice the fit half's): per ordered pair of constrained groups, the slack
over its standard error gives a normal probability, and the pairs' probabilities multiply (conservative when
the pairs move together, as they share groups). ``tighten`` moves the tolerance solved for by ``z`` standard
errors of the pairs at risk, with ``z`` split between them (Sidak), so the rule reaches the requested chance.

Ratios are tested on the log scale (Katz): the variance of log S is (1 - S) / (n S).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

__all__ = ["GroupRates", "reach", "tighten"]

# pairs whose slack is this many standard errors or more are not at risk
_SAFE_Z = 4.0


@dataclass(frozen=True)
class GroupRates:
    """Per constrained group (axis 0; candidates on axis 1 where several rules are scored at once): the rates a
    rule reaches on the fit half and the rows behind them."""

    tpr: np.ndarray
    fpr: np.ndarray
    positives: np.ndarray
    negatives: np.ndarray

    def families(self, constraint: str, favourable: str) -> list[tuple[np.ndarray, np.ndarray]]:
        """(value, the rows behind it) for each family of rates the constraint compares."""
        pos, neg = _column(self.positives, self.tpr), _column(self.negatives, self.fpr)
        if constraint in ("impact_ratio", "demographic_parity"):
            size = pos + neg
            with np.errstate(divide="ignore", invalid="ignore"):
                rate = (pos * self.tpr + neg * self.fpr) / size
            return [(1 - rate if favourable == "negative" else rate, np.broadcast_to(size, rate.shape))]
        tpr = (self.tpr, np.broadcast_to(pos, self.tpr.shape))
        if constraint == "equal_opportunity":
            return [tpr]
        return [tpr, (self.fpr, np.broadcast_to(neg, self.fpr.shape))]


def _column(counts: np.ndarray, like: np.ndarray) -> np.ndarray:
    counts = np.asarray(counts, float)
    return counts.reshape(counts.shape + (1,) * (np.ndim(like) - counts.ndim))


def _pair_z(rates: GroupRates, constraint: str, favourable: str, tolerance: float) -> tuple[np.ndarray, np.ndarray]:
    """(slack / standard error, standard error) per ordered pair of groups (pairs on axis 0), where the held-out
    value is compared with ``tolerance``; the variance is twice the fit half's (fit and held-out noise)."""
    zs, ses = [], []
    for value, rows in rates.families(constraint, favourable):
        with np.errstate(divide="ignore", invalid="ignore"):
            if constraint == "impact_ratio":  # log(v_g / v_h) >= log(tolerance)
                variance = (1 - value) / (value * rows)
            else:  # v_h - v_g <= tolerance
                variance = value * (1 - value) / rows
        for g in range(len(value)):
            for h in range(len(value)):
                if g == h:
                    continue
                with np.errstate(divide="ignore", invalid="ignore"):
                    if constraint == "impact_ratio":
                        slack = np.log(value[g]) - np.log(value[h]) - np.log(tolerance)
                    else:
                        slack = tolerance - (value[h] - value[g])
                    se = np.sqrt(2 * (variance[g] + variance[h]))
                    z = np.where(se > 0, slack / np.where(se > 0, se, 1), np.where(slack >= 0, np.inf, -np.inf))
                zs.append(np.nan_to_num(z, nan=-np.inf))
                ses.append(np.nan_to_num(se, nan=np.inf))
    return np.array(zs), np.array(ses)


def reach(rates: GroupRates, *, constraint: str, favourable: str, tolerance: float) -> np.ndarray:
    """The estimated chance that the held-out constraint value meets ``tolerance`` (per candidate)."""
    z, _ = _pair_z(rates, constraint, favourable, tolerance)
    return np.prod(norm.cdf(z), axis=0)


def tighten(rates: GroupRates, *, constraint: str, favourable: str, tolerance: float, target: float) -> float:
    """The tolerance to solve for so that a rule like ``rates`` (solved at ``tolerance``) reaches it held out with
    chance ``target``: at most 1 for a ratio, at least 0 for a difference."""
    z, se = _pair_z(rates, constraint, favourable, tolerance)
    at_risk = z < _SAFE_Z
    if not at_risk.any():
        return tolerance
    needed = float(norm.ppf(target ** (1 / int(at_risk.sum()))))
    margin = float(np.max(se[at_risk])) * needed
    if not np.isfinite(margin):
        return 1.0 if constraint == "impact_ratio" else 0.0
    if constraint == "impact_ratio":
        return float(min(1.0, tolerance * np.exp(margin)))
    return float(max(0.0, tolerance - margin))
