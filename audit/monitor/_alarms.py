"""Alarms that stay honest when a stream is looked at every window (docs/monitoring.md).

At each look (a closed window), each group's selection rate is compared with the reference group's over the last
1, 2, 4, 8 and 13 windows (``SPANS``; a change is seen in one window when it is large, in the pooled recent windows
when it is small): the impact ratio of the pooled counts and its MOVER-R interval (Clopper-Pearson limits of each
rate; Donner & Zou 2012). An alarm says "the impact ratio over these windows is below ``threshold``" when the
interval's upper end is under it. Each look spends ``alpha / horizon`` when the horizon is fixed (52 weekly looks),
else ``alpha / (t (t + 1))`` at the t-th look (summing to alpha over an unbounded stream), split equally over the
groups compared and the spans. By the union bound, a stream whose rates stay put with impact ratios at or above the
threshold raises a false alarm with probability at most alpha over all its looks: the error a weekly plain test at
0.05 makes in most years.
"""

from __future__ import annotations

import numpy as np

from audit._errors import ConfigError
from audit.fairness._stats import ratio_interval

__all__ = ["look_levels", "window_alarms", "SPANS"]

SPANS = (1, 2, 4, 8, 13)


def look_levels(looks: np.ndarray, *, alpha: float, horizon: int | None) -> np.ndarray:
    """The share of alpha each look (1, 2, ...) may spend."""
    looks = np.asarray(looks, float)
    if horizon is not None:
        if (looks > horizon).any():
            raise ConfigError(
                f"This stream has reached look {int(looks.max())} of a horizon of {horizon}: its alpha is spent. Start "
                "a new stream (monitor.stream) or set monitor.horizon larger (or unset it: an unbounded spending)."
            )
        return np.full(looks.shape, alpha / horizon)
    return alpha / (looks * (looks + 1))


def window_alarms(
    successes: np.ndarray,
    totals: np.ndarray,
    reference: int,
    first_look: int,
    *,
    alpha: float,
    threshold: float,
    horizon: int | None,
    history: int = 0,
) -> dict[str, np.ndarray]:
    """``successes`` and ``totals``: (..., windows, groups) counts of a stream, its first ``history`` windows already
    looked at (they give the spans their past). For each window after those (look ``first_look`` on): the window's
    own ratio to the ``reference`` column and interval at the look's level, and the alarm over any span with the
    shortest alarming span, its ratio and upper limit. A leading axis stacks independent streams (simulations)."""
    successes, totals = np.asarray(successes, float), np.asarray(totals, float)
    windows, groups = successes.shape[-2:]
    new = windows - history
    looks = np.arange(new) + first_look
    level = look_levels(looks, alpha=alpha, horizon=horizon) / (max(groups - 1, 1) * len(SPANS))
    level = np.broadcast_to(level[:, None], (*successes.shape[:-2], new, groups))
    cum_x = np.concatenate([np.zeros_like(successes[..., :1, :]), np.cumsum(successes, axis=-2)], axis=-2)
    cum_n = np.concatenate([np.zeros_like(totals[..., :1, :]), np.cumsum(totals, axis=-2)], axis=-2)
    out: dict[str, np.ndarray] = {}
    alarm = np.zeros(level.shape, bool)
    span_hit = np.zeros(level.shape, int)
    hit_ratio = np.full(level.shape, np.nan)
    hit_high = np.full(level.shape, np.nan)
    ends = np.arange(history, windows) + 1  # cumulative index just past each new window
    for span in SPANS:
        begins = np.maximum(ends - span, 0)
        available = ends - begins == span  # spans longer than the stream so far are left out (no double count)
        x = cum_x[..., ends, :] - cum_x[..., begins, :]
        n = cum_n[..., ends, :] - cum_n[..., begins, :]
        ratio, low, high = _ratios(x, n, reference, level)
        if span == 1:
            out.update(ratio=ratio, low=low, high=high)
        fires = (high < threshold) & available[:, None] & ~alarm
        fires[..., reference] = False
        span_hit = np.where(fires, span, span_hit)
        hit_ratio = np.where(fires, ratio, hit_ratio)
        hit_high = np.where(fires, high, hit_high)
        alarm |= fires
    out.update(level=level, alarm=alarm, alarm_span=span_hit, alarm_ratio=hit_ratio, alarm_high=hit_high)
    return out


def _ratios(x: np.ndarray, n: np.ndarray, reference: int, level: np.ndarray):
    ref_x = np.broadcast_to(x[..., reference : reference + 1], x.shape)
    ref_n = np.broadcast_to(n[..., reference : reference + 1], n.shape)
    with np.errstate(all="ignore"):
        ratio = (x / n) / (ref_x / ref_n)
    low, high = ratio_interval(x, n, ref_x, ref_n, 1 - 2 * level)
    evidence = (n > 0) & (ref_n > 0) & (ref_x > 0)
    return np.where(evidence, ratio, np.nan), np.where(evidence, low, np.nan), np.where(evidence, high, np.nan)
