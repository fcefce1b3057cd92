"""Our exact interventional tree SHAP against brute-force Shapley values (every coalition of features, the model
called on each hybrid row), on every estimator it reads, with missing values and inputs lying on split thresholds:
the cases where shap 0.51's interventional code is off (issue 32)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.ensemble import (
    ExtraTreesClassifier,
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

from explainers._errors import CapabilityError
from explainers._interventional import ensemble_leaves, interventional_values
from tests.shapley import brute_force_shapley

FORESTS = (RandomForestClassifier, ExtraTreesClassifier, DecisionTreeClassifier)


def _output(model, rows, class_index):
    if isinstance(model, FORESTS):
        return model.predict_proba(rows)[:, class_index]
    raw = model.decision_function(rows)
    return raw if class_index == 1 else -raw


def _data(seed: int, *, missing: bool, integer: bool, n: int = 300, d: int = 4):
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 6, size=(n, d)).astype(float) if integer else rng.normal(size=(n, d)).round(2)
    if missing:
        X[rng.random((n, d)) < 0.08] = np.nan
    filled = np.nan_to_num(X)
    y = (filled[:, 0] + filled[:, 1] * filled[:, 2] + rng.normal(0, 0.7, n) > np.median(filled[:, 0])).astype(int)
    return X, y


MODELS = [
    (lambda: HistGradientBoostingClassifier(max_iter=25, max_leaf_nodes=8, random_state=0), True),
    (lambda: RandomForestClassifier(n_estimators=8, max_depth=5, random_state=0), True),
    (lambda: ExtraTreesClassifier(n_estimators=6, max_depth=4, random_state=0), True),
    (lambda: GradientBoostingClassifier(n_estimators=15, max_depth=3, random_state=0), False),
    (lambda: DecisionTreeClassifier(max_depth=5, random_state=0), True),
]


@pytest.mark.parametrize("make, missing", MODELS)
@pytest.mark.parametrize("integer", [False, True])  # integer inputs lie exactly on many thresholds' neighbours
def test_equal_to_brute_force_shapley_values(make, missing, integer):
    X, y = _data(1, missing=missing, integer=integer)
    model = make().fit(X, y)
    rows, background = X[:6], X[150:175]
    for class_index in (1, 0):
        ours = interventional_values(ensemble_leaves(model, class_index), rows, background)
        oracle = np.array(
            [brute_force_shapley(lambda h: _output(model, h, class_index), row, background) for row in rows]
        )
        assert np.abs(ours - oracle).max() < 1e-9
        # and complete: the base (mean over the background) plus the values is the model's own output
        base = _output(model, background, class_index).mean()
        assert np.abs(base + ours.sum(axis=1) - _output(model, rows, class_index)).max() < 1e-9


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), leaves=st.integers(2, 12), on_threshold=st.booleans())
def test_boosted_models_are_complete_for_any_data(seed, leaves, on_threshold):
    """A property over random HistGradientBoosting models, with rows moved onto split thresholds: completeness to
    rounding (the check that caught shap's interventional code on this model)."""
    X, y = _data(seed, missing=True, integer=False, n=200)
    model = HistGradientBoostingClassifier(max_iter=10, max_leaf_nodes=leaves, random_state=0).fit(X, y)
    rows = X[:20].copy()
    if on_threshold:
        nodes = model._predictors[0][0].nodes
        splits = nodes[nodes["is_leaf"] == 0]
        if len(splits):
            rows[0, splits["feature_idx"][0]] = splits["num_threshold"][0]
    ours = interventional_values(ensemble_leaves(model, 1), rows, X[100:140])
    base = model.decision_function(X[100:140]).mean()
    assert np.abs(base + ours.sum(axis=1) - model.decision_function(rows)).max() < 1e-9


def test_models_it_does_not_read_are_refused_with_the_reason():
    X, y = _data(0, missing=False, integer=False)
    with pytest.raises(CapabilityError, match="does not read exactly"):
        ensemble_leaves(LogisticRegression().fit(X, y), 1)
    three = np.arange(len(y)) % 3
    with pytest.raises(CapabilityError, match="binary classifiers"):
        ensemble_leaves(DecisionTreeClassifier(max_depth=2).fit(X, three), 1)


@pytest.mark.parametrize("make, missing", MODELS)
def test_path_dependent_values_equal_shaps_tree_explainer(make, missing):
    """The trees' own game from the leaves (a product game per leaf) against shap's TreeExplainer, the oracle."""
    import shap

    from explainers._interventional import path_dependent_values

    X, y = _data(2, missing=missing, integer=True)
    model = make().fit(X, y)
    raw = np.asarray(shap.TreeExplainer(model).shap_values(X[:60]))
    for class_index in (1, 0):
        oracle = raw[:, :, class_index] if raw.ndim == 3 else (raw if class_index == 1 else -raw)
        ours, reached, expected = path_dependent_values(ensemble_leaves(model, class_index), X[:60])
        assert np.abs(ours - oracle).max() < 1e-9
        constant = _output(model, X[:1], class_index)[0] - reached[0]
        assert np.abs(constant + expected + ours.sum(axis=1) - _output(model, X[:60], class_index)).max() < 1e-9
