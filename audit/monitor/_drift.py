"""Explanation drift (docs/monitoring.md): where a model is given, each input's share of the model's attribution in
each window (mean |SHAP value| of a seeded sample of the window's rows, as a share of the sum over inputs), with a
bootstrap interval over the sampled rows, and the total-variation distance of the window's shares from the first
window's. Descriptive: it says what the model leans on and when that moved, it raises no alarm."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["WindowSamples", "attribution_rows"]

_BOOT = 200


class WindowSamples:
    """A seeded uniform sample of up to ``size`` rows per window, kept across chunks: each row gets a random key and
    each window keeps its ``size`` smallest keys (the same sample however the log is cut into chunks)."""

    def __init__(self, features: list[str], size: int, seed: int) -> None:
        self.features, self.size = features, size
        self.rng = np.random.default_rng(seed)
        self.kept = pd.DataFrame()

    def add(self, chunk: pd.DataFrame, windows: np.ndarray) -> None:
        missing = [f for f in self.features if f not in chunk.columns]
        if missing:
            from audit._errors import ConfigError

            raise ConfigError(
                f"The monitor's model inputs {missing} are not columns of the log; explanation drift needs the "
                "inputs the model reads (monitor.features)."
            )
        part = chunk[self.features].reset_index(drop=True).assign(_window=windows, _key=self.rng.random(len(chunk)))
        combined = pd.concat([self.kept, part], ignore_index=True) if len(self.kept) else part
        self.kept = combined.sort_values("_key", kind="stable").groupby("_window", sort=False).head(self.size)

    def window(self, ordinal: int) -> pd.DataFrame:
        rows = self.kept[self.kept["_window"] == ordinal].sort_values("_key", kind="stable")
        return rows[self.features].reset_index(drop=True)


def _shares(values: np.ndarray) -> np.ndarray:
    weight = np.abs(values).mean(axis=0)
    total = weight.sum()
    return weight / total if total > 0 else np.full(len(weight), np.nan)


def attribution_rows(
    samples: WindowSamples,
    windows: list[tuple[int, str, str, int]],
    *,
    model: Any,
    stream: str,
    recorded_at: str,
    seed: int,
    reference_shares: dict[str, float] | None,
) -> list[dict[str, Any]]:
    """``windows``: (ordinal, start, end, look) of the windows to explain. The background of the explainer is the
    first of them; the drift is measured from ``reference_shares`` (the stream's first window, when stored) or from
    the first window explained."""
    from audit.models._adapters import make_adapter
    from explainers import get_explainer

    adapter = make_adapter(model, positive_label=1)
    explainer = get_explainer("shap", seed=seed)
    first = samples.window(windows[0][0]) if windows else pd.DataFrame()
    background = first.iloc[: min(len(first), 100)]
    rng = np.random.default_rng(seed)
    rows: list[dict[str, Any]] = []
    reference = None if reference_shares is None else np.array([reference_shares[f] for f in samples.features])
    for ordinal, start, end, look in windows:
        sample = samples.window(ordinal)
        common = {"stream": stream, "window_start": start, "window_end": end, "look": look, "recorded_at": recorded_at}
        if len(sample) < 2 or len(background) < 2:
            rows.append(
                _row(common, "attribution_drift", "all", len(sample), None, None, "fewer than two rows sampled")
            )
            continue
        values = explainer.explain(adapter, sample, background=background, row_ids=np.arange(len(sample))).values
        shares = _shares(values)
        draws = rng.integers(0, len(values), size=(_BOOT, len(values)))
        boot = np.array([_shares(values[d]) for d in draws])
        low, high = np.nanquantile(boot, [0.025, 0.975], axis=0)
        for j, name in enumerate(samples.features):
            rows.append(_row(common, "attribution_share", name, len(sample), shares[j], (low[j], high[j]), ""))
        if reference is None:
            reference = shares
        drift = 0.5 * float(np.abs(shares - reference).sum())
        boot_drift = 0.5 * np.abs(boot - reference).sum(axis=1)
        interval = tuple(np.nanquantile(boot_drift, [0.025, 0.975]))
        rows.append(
            _row(common, "attribution_drift", "all", len(sample), drift, interval, "total variation from look 1")
        )
    return rows


def _row(common, metric, group, n, value, interval, note) -> dict[str, Any]:
    return {
        **common,
        "feature": "(attribution)",
        "grp": group,
        "metric": metric,
        "n": int(n),
        "successes": 0,
        "value": None if value is None or not np.isfinite(value) else float(value),
        "reference_group": "",
        "ratio": None,
        "ratio_low": None if interval is None else float(interval[0]),
        "ratio_high": None if interval is None else float(interval[1]),
        "threshold": 0.0,
        "level": 0.025,
        "alarm": False,
        "alarm_span": None,
        "alarm_ratio": None,
        "alarm_high": None,
        "note": note or "share of the mean |SHAP value|; the interval bootstraps the sampled rows",
    }
