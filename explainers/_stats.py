"""Bootstrap helpers shared by the layers: percentile intervals and resampled ratios of sums."""

from __future__ import annotations

import numpy as np

__all__ = ["percentile_interval", "interval_or_none", "resampled_ratio_of_sums"]


def percentile_interval(samples: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Percentile bootstrap interval over axis 0, ignoring resamples where the value is undefined (NaN).

    Returns (low, high, share of resamples where the value was defined).
    """
    alpha = (1 - level) / 2
    defined = np.isfinite(samples)
    share = defined.mean(axis=0)
    low = np.full(samples.shape[1:], np.nan)
    high = np.full(samples.shape[1:], np.nan)
    columns = share > 0
    if np.any(columns):
        with np.errstate(all="ignore"):
            low[columns] = np.nanquantile(samples[:, columns], alpha, axis=0)
            high[columns] = np.nanquantile(samples[:, columns], 1 - alpha, axis=0)
    return low, high, share


def resampled_ratio_of_sums(
    totals: np.ndarray, counts: np.ndarray, *, n_boot: int, rng: np.random.Generator
) -> np.ndarray:
    """Bootstrap samples of sum(totals) / sum(counts), resampling units (texts, examples) with replacement:
    one multinomial draw of unit weights per resample. Units whose rows move together stay together."""
    units = len(totals)
    weights = rng.multinomial(units, np.full(units, 1 / units), size=n_boot)
    return (weights @ totals) / (weights @ counts)


def interval_or_none(samples: np.ndarray, level: float) -> list[float] | None:
    """The percentile interval of one statistic's bootstrap samples as [low, high], or None if undefined."""
    low, high, share = percentile_interval(np.asarray(samples, float)[:, None], level)
    return None if share[0] == 0 else [float(low[0]), float(high[0])]
