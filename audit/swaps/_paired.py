"""The paired tests of a swap audit, each a :class:`ProbeRow` (estimate, interval, test against "the swap changes
nothing"): a mean change (percentile bootstrap over pairs; Wilcoxon signed-rank test), a change of a yes/no outcome
(the net share that gained it; exact McNemar test on the discordant pairs) and a share with a Clopper-Pearson
interval. Sign tests come from :func:`audit.probes._stats.share_row`; Holm from ``with_holm``."""

from __future__ import annotations

import numpy as np

from audit.fairness._stats import proportion_interval
from audit.probes._stats import LEVEL, N_BOOT
from audit.result._sections import ProbeRow
from explainers._stats import interval_or_none

__all__ = ["bootstrap_means", "change_row", "mcnemar_row", "proportion_row", "sign_mean_row"]

_CHUNK = 200  # bootstrap draws per block: memory stays at _CHUNK x pairs


def bootstrap_means(values: np.ndarray, seed: int, draws: int = N_BOOT) -> np.ndarray:
    """``draws`` bootstrap means of ``values``. Few distinct values (flips, win counts): multinomial counts of each
    value, exact and fast; otherwise resampled indices in blocks."""
    rng = np.random.default_rng(seed)
    levels, counts = np.unique(values, return_counts=True)
    n = len(values)
    if len(levels) <= 16:
        return rng.multinomial(n, counts / n, size=draws) @ levels / n
    means = np.empty(draws)
    for start in range(0, draws, _CHUNK):
        size = min(_CHUNK, draws - start)
        means[start : start + size] = values[rng.integers(0, n, size=(size, n))].mean(axis=1)
    return means


def change_row(
    category: str, measure: str, changes: np.ndarray, *, subject: str, seed: int, role: str = "bias", note: str = ""
) -> ProbeRow:
    """The mean of paired changes (variant minus original): bootstrap interval; Wilcoxon signed-rank test of a
    distribution symmetric about 0 (zero changes left out, Wilcoxon's own rule), exact for small samples."""
    from scipy.stats import wilcoxon

    changes = np.asarray(changes, float)
    if len(changes) == 0:
        return ProbeRow(category, measure, role, 0, None, None, 0.0, None, None, "", subject, "no pairs")
    interval = interval_or_none(bootstrap_means(changes, seed), LEVEL)
    nonzero = int(np.count_nonzero(changes))
    p_value, test = None, "Wilcoxon signed-rank test"
    if nonzero:
        p_value = float(wilcoxon(changes, zero_method="wilcox").pvalue)
    unchanged = len(changes) - nonzero
    notes = [note, f"{unchanged} of {len(changes)} pairs unchanged" if unchanged else ""]
    if not nonzero:
        notes.append("no pair changed: nothing to test")
    return ProbeRow(
        category,
        measure,
        role,
        len(changes),
        float(changes.mean()),
        interval,
        0.0,
        p_value,
        None,
        test if p_value is not None else "",
        subject,
        "; ".join(v for v in notes if v),
    )


def mcnemar_row(
    category: str,
    measure: str,
    before: np.ndarray,
    after: np.ndarray,
    *,
    subject: str,
    seed: int,
    role: str = "bias",
    note: str = "",
) -> ProbeRow:
    """How the share of pairs with a yes/no outcome (a favourable decision, a top-k place) moves with the swap:
    (gained - lost) / pairs, bootstrap interval over pairs; exact McNemar test (binomial on the discordant pairs)."""
    from scipy.stats import binomtest

    before, after = np.asarray(before, bool), np.asarray(after, bool)
    n = len(before)
    if n == 0:
        return ProbeRow(category, measure, role, 0, None, None, 0.0, None, None, "", subject, "no pairs")
    gained, lost = int((after & ~before).sum()), int((before & ~after).sum())
    net = after.astype(float) - before.astype(float)
    p_value = float(binomtest(gained, gained + lost, 0.5).pvalue) if gained + lost else None
    counts = f"{gained} gained, {lost} lost of {n}"
    return ProbeRow(
        category,
        measure,
        role,
        n,
        (gained - lost) / n,
        interval_or_none(bootstrap_means(net, seed), LEVEL),
        0.0,
        p_value,
        None,
        "exact McNemar test" if p_value is not None else "",
        subject,
        "; ".join(v for v in (note, counts, "" if p_value is not None else "no pair changed: nothing to test") if v),
    )


def proportion_row(
    category: str, measure: str, hits: int, n: int, *, subject: str, role: str = "context", note: str = ""
) -> ProbeRow:
    """A share of pairs (a flip rate) with its Clopper-Pearson interval; descriptive, no test."""
    if n == 0:
        return ProbeRow(category, measure, role, 0, None, None, None, None, None, "", subject, "no pairs")
    low, high = proportion_interval(hits, n, LEVEL)
    return ProbeRow(
        category, measure, role, n, hits / n, [float(low), float(high)], None, None, None, "", subject, note
    )


def sign_mean_row(
    category: str,
    measure: str,
    values: np.ndarray,
    *,
    subject: str,
    seed: int,
    scale: float = 1.0,
    role: str = "bias",
    note: str = "",
) -> ProbeRow:
    """The mean of per-pair changes times ``scale`` (0 when nothing changed: an estimate with evidence, not a
    blank), bootstrap interval over pairs; exact sign test on the pairs that changed (ties left out)."""
    from scipy.stats import binomtest

    values = np.asarray(values, float)
    if len(values) == 0:
        return ProbeRow(category, measure, role, 0, None, None, 0.0, None, None, "", subject, "no pairs")
    up, down = int((values > 0).sum()), int((values < 0).sum())
    p_value = float(binomtest(up, up + down, 0.5).pvalue) if up + down else None
    counts = f"{up} up, {down} down, {len(values) - up - down} unchanged"
    return ProbeRow(
        category,
        measure,
        role,
        len(values),
        float(values.mean() * scale),
        interval_or_none(bootstrap_means(values, seed) * scale, LEVEL),
        0.0,
        p_value,
        None,
        "exact sign test" if p_value is not None else "",
        subject,
        "; ".join(v for v in (note, counts, "" if p_value is not None else "no pair changed: nothing to test") if v),
    )
