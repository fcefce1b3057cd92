"""Two models that discriminate through inputs acting together, none of which is a proxy alone (issue: sound verdicts).

- ``weak_inputs``: eight numeric inputs, each shifted by 0.4 standard deviations between the groups (alone each
  tells them apart with an AUC near 0.6), a logistic regression on all eight: together they identify the group
  (AUC about 0.77) and the impact ratio is about 0.25.
- ``xor``: two yes/no inputs whose *combination* (one but not both) marks the group in 95% of rows, and a noise
  input; a gradient-boosted model learns the combination: selection rates about 0.04 against 0.95, while either
  input alone says nothing of the group (AUC 0.5).

The group is never a model input. ``planted_audit`` audits one with the gap explanations on.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

WEAK_INPUTS = tuple(f"w{i}" for i in range(8))


def weak_inputs(seed: int, *, rows: int) -> tuple[pd.DataFrame, list[str], object]:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(seed)
    member = rng.random(rows) < 0.5
    frame = pd.DataFrame(
        rng.standard_normal((rows, len(WEAK_INPUTS))) + 0.4 * member[:, None], columns=list(WEAK_INPUTS)
    )
    logit = 0.8 * frame.sum(axis=1) - 2.2
    frame["group"] = np.where(member, "a", "b")
    frame["label"] = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    features = list(WEAK_INPUTS)
    return frame, features, LogisticRegression().fit(frame[features], frame["label"])


def xor(seed: int, *, rows: int) -> tuple[pd.DataFrame, list[str], object]:
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OrdinalEncoder

    rng = np.random.default_rng(seed)
    first, second = rng.random(rows) < 0.5, rng.random(rows) < 0.5
    combination = first ^ second
    member = np.where(rng.random(rows) < 0.95, combination, ~combination)
    frame = pd.DataFrame(
        {
            "owns_home": np.where(first, "yes", "no"),
            "has_car": np.where(second, "yes", "no"),
            "noise": rng.standard_normal(rows),
        }
    )
    frame["group"] = np.where(member, "b", "a")  # the group that the combination disfavours is "a"
    frame["label"] = (rng.random(rows) < np.where(combination, 0.97, 0.04)).astype(int)
    features = ["owns_home", "has_car", "noise"]
    model = Pipeline(
        [
            (
                "encode",
                ColumnTransformer([("codes", OrdinalEncoder(), ["owns_home", "has_car"])], remainder="passthrough"),
            ),
            ("model", HistGradientBoostingClassifier(max_iter=50, random_state=0)),
        ]
    )
    return frame, features, model.fit(frame[features], frame["label"])


def planted_audit(kind: str, *, seed: int = 0, rows: int = 4000, n_boot: int = 100):
    """(the audit result, the frame) of the planted model ``kind`` ("weak_inputs" or "xor")."""
    from audit import run_audit
    from benchmarks.gap import gap_config

    frame, features, model = {"weak_inputs": weak_inputs, "xor": xor}[kind](seed, rows=rows)
    return run_audit(gap_config(features, n_boot=n_boot), data=frame, model=model), frame
