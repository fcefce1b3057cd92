"""Weighted slice search under the null and with planted slices (issue: sound verdicts).

The data of tests/test_slices.py (20 categorical columns of 3 levels, errors at 10%; planted: three slices of 1, 2
and 3 conditions 5 points worse; null: the same errors permuted) on 20,000 rows, with lognormal sample weights
independent of everything. ``rates`` gives the share of runs with any confirmed slice (null) or with all three
planted slices confirmed (planted), under BH and BY, for the search as it is (``test="sandwich"``) or with the
weighted test it replaced (``test="kish"``: a normal test on Kish's effective size with a pooled rate).
"""

from __future__ import annotations

import numpy as np

PLANTED = {"f0 = 0", "f1 = 1 AND f2 = 2", "f3 = 0 AND f4 = 1 AND f5 = 2"}


def _planted(seed: int, *, n: int, shuffle: bool):
    rng = np.random.default_rng(seed)
    import pandas as pd

    frame = pd.DataFrame({f"f{j}": rng.integers(0, 3, n).astype(str) for j in range(20)})
    slices = [
        frame.f0 == "0",
        (frame.f1 == "1") & (frame.f2 == "2"),
        (frame.f3 == "0") & (frame.f4 == "1") & (frame.f5 == "2"),
    ]
    wrong = rng.random(n) < 0.10 + 0.05 * sum(s.to_numpy(int) for s in slices)
    if shuffle:
        wrong = rng.permutation(wrong)
    y = rng.random(n) < 0.5
    return frame, y, np.where(wrong, ~y, y)


def one_run(seed: int, *, sigma: float, n: int, shuffle: bool, test: str) -> tuple[bool, bool]:
    """(BH, BY): any slice confirmed (null) or every planted slice confirmed (planted)."""
    import audit.slices._discover as discover
    from audit import find_slices

    compare = discover.compare
    if test == "kish":  # the weighted test before: the unweighted formulas on Kish's effective size
        discover.compare = lambda *args, **kwargs: compare(*args, **{**kwargs, "weighted": False})
    try:
        frame, y, decisions = _planted(seed + (5000 if shuffle else 0), n=n, shuffle=shuffle)
        weights = np.random.default_rng([seed, 3]).lognormal(0.0, sigma, n)
        out = []
        for fdr in ("bh", "by"):
            found = {
                s.definition
                for s in find_slices(
                    frame, y_true=y, y_pred=decisions, sample_weight=weights, fdr=fdr, seed=seed
                ).slices
            }
            out.append(bool(found) if shuffle else PLANTED <= found)
        return out[0], out[1]
    finally:
        discover.compare = compare


def rates(*, runs: int, sigma: float, n: int = 20_000, shuffle: bool, test: str = "sandwich") -> list[float]:
    from joblib import Parallel, delayed

    results = Parallel(n_jobs=2)(
        delayed(one_run)(seed, sigma=sigma, n=n, shuffle=shuffle, test=test) for seed in range(runs)
    )
    return [float(v) for v in np.mean(results, axis=0)]
