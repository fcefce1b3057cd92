"""The statistics every probe suite shares: a share against one half (Clopper-Pearson interval, exact sign test), a
mean difference (percentile bootstrap interval; t test), two groups' means (bootstrap interval of the difference,
Welch's test), and Holm's correction over a suite's bias rows."""

from __future__ import annotations

import dataclasses

import numpy as np

from audit.fairness._stats import holm, proportion_interval
from audit.result._sections import ProbeRow
from explainers._stats import interval_or_none

__all__ = ["share_row", "mean_row", "two_group_row", "with_holm", "LEVEL"]

LEVEL = 0.95
N_BOOT = 2000


def share_row(
    category: str, measure: str, differences: np.ndarray, *, role: str = "bias", subject: str = "", note: str = ""
) -> ProbeRow:
    """The share of items whose difference is positive (the stereotype-consistent side preferred), ties left out
    and counted in the note; exact two-sided binomial (sign) test of "either side equally likely"."""
    from scipy.stats import binomtest

    differences = np.asarray(differences, float)
    wins, losses = int((differences > 0).sum()), int((differences < 0).sum())
    ties = len(differences) - wins - losses
    n = wins + losses
    if n == 0:
        return ProbeRow(
            category, measure, role, 0, None, None, 0.5, None, None, "sign test", subject, "no item without a tie"
        )
    low, high = proportion_interval(wins, n, LEVEL)
    p_value = float(binomtest(wins, n, 0.5).pvalue)
    tie_note = f"{ties} tied item(s) left out" if ties else ""
    return ProbeRow(
        category,
        measure,
        role,
        n,
        wins / n,
        [float(low), float(high)],
        0.5,
        p_value,
        None,
        "exact sign test",
        subject,
        "; ".join(v for v in (note, tie_note) if v),
    )


def mean_row(
    category: str,
    measure: str,
    values: np.ndarray,
    *,
    seed: int,
    role: str = "context",
    subject: str = "",
    note: str = "",
) -> ProbeRow:
    """The mean of paired differences: percentile bootstrap interval over items, one-sample t test against 0."""
    from scipy.stats import ttest_1samp

    values = np.asarray(values, float)
    if len(values) == 0:
        return ProbeRow(category, measure, role, 0, None, None, 0.0, None, None, "", subject, "no items")
    rng = np.random.default_rng(seed)
    draws = values[rng.integers(0, len(values), size=(N_BOOT, len(values)))].mean(axis=1)
    p_value = None
    if len(values) >= 2 and np.ptp(values) > 1e-12 * max(1.0, float(np.abs(values).max())):  # constant: no test
        p_value = float(ttest_1samp(values, 0.0).pvalue)
    return ProbeRow(
        category,
        measure,
        role,
        len(values),
        float(values.mean()),
        interval_or_none(draws, LEVEL),
        0.0,
        p_value,
        None,
        "one-sample t test" if p_value is not None else "",
        subject,
        note,
    )


def two_group_row(
    category: str,
    measure: str,
    group: np.ndarray,
    rest: np.ndarray,
    *,
    seed: int,
    subject: str,
    role: str = "bias",
    note: str = "",
) -> ProbeRow:
    """mean(group) - mean(rest): bootstrap interval (each side resampled on its own), Welch's t test."""
    from scipy.stats import ttest_ind

    group, rest = np.asarray(group, float), np.asarray(rest, float)
    if len(group) < 2 or len(rest) < 2:
        return ProbeRow(
            category,
            measure,
            role,
            len(group),
            None,
            None,
            0.0,
            None,
            None,
            "",
            subject,
            "fewer than two scored items on a side",
        )
    rng = np.random.default_rng(seed)
    draws = group[rng.integers(0, len(group), size=(N_BOOT, len(group)))].mean(1) - rest[
        rng.integers(0, len(rest), size=(N_BOOT, len(rest)))
    ].mean(1)
    p_value = None
    if np.std(group) > 0 or np.std(rest) > 0:
        p_value = float(ttest_ind(group, rest, equal_var=False).pvalue)
    return ProbeRow(
        category,
        measure,
        role,
        len(group),
        float(group.mean() - rest.mean()),
        interval_or_none(draws, LEVEL),
        0.0,
        p_value,
        None,
        "Welch's t test",
        subject,
        note,
    )


def with_holm(rows: list[ProbeRow]) -> list[ProbeRow]:
    """Holm-adjusted p-values over the suite's bias rows (family-wise error at the suite level)."""
    family = [i for i, row in enumerate(rows) if row.role == "bias" and row.p_value is not None]
    adjusted = holm([rows[i].p_value for i in family])
    out = list(rows)
    for i, p in zip(family, adjusted):
        out[i] = dataclasses.replace(rows[i], p_holm=p)
    return out
