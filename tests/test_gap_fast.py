"""The gap decomposition's exact fast paths give the numbers the model gives, and step aside when they would not.

Oracles: scikit-learn's own outputs on the hybrid rows (the tree walks), and the decomposition with the model asked
about every hybrid (the whole explanation, to 1e-9, for trees, linear models and other estimators)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    ExtraTreesClassifier,
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, PolynomialFeatures, StandardScaler
from sklearn.svm import LinearSVC
from sklearn.tree import DecisionTreeClassifier

from audit import GapsConfig, group_metrics
from audit.gaps._explain import ModelOutputs, explain_gaps
from audit.gaps._fast import ModelForm
from explainers._hybrid_trees import flat_trees, hybrid_outputs, order_outputs, single_swap_outputs

# --- the tree walks against scikit-learn ------------------------------------------------------------------------


def _numeric(seed: int = 0, rows: int = 1500, width: int = 6, missing: float = 0.05):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, width))
    y = (X[:, 0] + X[:, 1] * X[:, 2] + 0.5 * rng.normal(size=rows) > 0).astype(int)
    X[rng.random(X.shape) < missing] = np.nan
    return X, y


_TREES = [
    lambda: HistGradientBoostingClassifier(max_iter=40, random_state=0),
    lambda: RandomForestClassifier(n_estimators=15, max_depth=7, random_state=0),
    lambda: ExtraTreesClassifier(n_estimators=15, max_depth=7, random_state=0),
    lambda: GradientBoostingClassifier(n_estimators=25, random_state=0),
    lambda: DecisionTreeClassifier(max_depth=8, random_state=0),
]


@pytest.mark.parametrize("make", _TREES, ids=["hist", "forest", "extra", "boosting", "tree"])
def test_tree_walks_equal_scikit_learn_on_every_hybrid(make):
    X, y = _numeric(
        missing=0.0 if "GradientBoosting" in type(make()).__name__ and "Hist" not in type(make()).__name__ else 0.05
    )
    model = make().fit(X, y)
    trees = flat_trees(model)
    raw = model.decision_function if trees.link == "logistic" else lambda r: model.predict_proba(r)[:, 1]
    rng = np.random.default_rng(1)
    group, other = X[:300], X[300:600]
    a, b = trees.prepare(group), trees.prepare(other)
    width = X.shape[1]
    owner = np.arange(width)
    positions = np.argsort(rng.random((300, width)), axis=1)
    walked = order_outputs(trees, a, b, owner, positions, threads=2)
    offset = raw(group) - walked[:, 0]
    assert np.ptp(offset) < 1e-12  # the trees carry everything but one constant (a boosting's baseline)
    for step in range(width + 1):
        hybrid = np.where(positions < step, other, group)
        assert np.max(np.abs(raw(hybrid) - offset[0] - walked[:, step])) < 1e-9
    take = rng.random((300, width)) < 0.5
    assert (
        np.max(np.abs(raw(np.where(take, other, group)) - offset[0] - hybrid_outputs(trees, a, b, owner, take))) < 1e-9
    )
    checked = np.array([4, 0, 2])
    first, last = single_swap_outputs(trees, a, b, owner, checked, threads=2)
    for index, k in enumerate(checked):
        alone = np.zeros((300, width), dtype=bool)
        alone[:, k] = True
        assert np.max(np.abs(raw(np.where(alone, other, group)) - offset[0] - first[:, index])) < 1e-9
        assert np.max(np.abs(raw(np.where(~alone, other, group)) - offset[0] - last[:, index])) < 1e-9


def test_one_input_owning_several_transformed_columns_moves_them_together():
    """A one-hot input is handed over as one: its columns follow its position in the order, not their own."""
    X, y = _numeric(rows=800, width=3, missing=0.0)
    hot = np.column_stack([X[:, 0] > 0, X[:, 0] <= 0]).astype(float)  # two columns of input 0
    data = np.column_stack([hot, X[:, 1:]])
    model = RandomForestClassifier(n_estimators=10, random_state=0).fit(data, y)
    trees = flat_trees(model)
    owner = np.array([0, 0, 1, 2])
    rng = np.random.default_rng(2)
    positions = np.argsort(rng.random((200, 3)), axis=1)
    walked = order_outputs(trees, trees.prepare(data[:200]), trees.prepare(data[200:400]), owner, positions)
    for step in range(4):
        hybrid = np.where((positions < step)[:, owner], data[200:400], data[:200])
        assert np.max(np.abs(model.predict_proba(hybrid)[:, 1] - walked[:, step])) < 1e-12


# --- whole explanations: fast path against the model asked about every hybrid ------------------------------------


def _mixed(seed: int = 0, rows: int = 1200) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    member = rng.random(rows) < 0.4
    frame = pd.DataFrame(
        {
            "income": rng.normal(50 + 10 * member, 15, rows),
            "debt": rng.gamma(2.0, 5.0, rows),
            "tenure": rng.integers(0, 30, rows).astype(float),
            "region": rng.choice(["north", "south", "east"], rows),
            "plan": np.where(
                member,
                rng.choice(["basic", "gold"], rows, p=[0.7, 0.3]),
                rng.choice(["basic", "gold"], rows, p=[0.3, 0.7]),
            ),
        }
    )
    frame.loc[rng.random(rows) < 0.05, "debt"] = np.nan
    logit = 0.06 * (frame["income"] - 55) - 0.05 * frame["debt"].fillna(10) + 0.8 * (frame["plan"] == "gold")
    frame["label"] = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    frame["group"] = np.where(member, "a", "b")
    return frame


_FEATURES = ["income", "debt", "tenure", "region", "plan"]


def _pipeline(final, *, encoder="ordinal", impute=False):
    from sklearn.impute import SimpleImputer

    categories = OrdinalEncoder() if encoder == "ordinal" else OneHotEncoder(handle_unknown="ignore")
    numeric = Pipeline([("impute", SimpleImputer()), ("scale", StandardScaler())]) if impute else "passthrough"
    prepare = ColumnTransformer(
        [("categories", categories, ["region", "plan"]), ("numbers", numeric, ["income", "debt", "tenure"])]
    )
    return Pipeline([("prepare", prepare), ("final", final)])


def _explain(
    frame, model, *, form, task="binary", metrics=("selection_rate", "tpr", "fpr", "mean_score"), method="predict_proba"
):
    X = frame[_FEATURES]
    y = frame["label"].to_numpy()
    sensitive = frame[["group"]].astype(str)
    if task == "regression":
        values = model.predict(X)
        table = group_metrics(
            y_true=y.astype(float),
            y_pred=values,
            sensitive=sensitive,
            task="regression",
            n_boot=0,
            metrics=("mean_prediction",),
        )
        measured = {"value": values}

        def rescore(kind, rows):
            return model.predict(rows)
    else:
        score = model.predict_proba(X)[:, 1] if method == "predict_proba" else model.decision_function(X)
        cut = 0.5 if method == "predict_proba" else 0.0
        decision = score >= cut if method == "predict_proba" else score > cut
        table = group_metrics(
            y_true=y.astype(bool),
            y_pred=decision,
            sensitive=sensitive,
            scores=score,
            n_boot=0,
            metrics=("selection_rate", "tpr", "fpr", "mean_score"),
        )
        measured = {"decision": decision, "score": score}

        def rescore(kind, rows):
            s = model.predict_proba(rows)[:, 1] if method == "predict_proba" else model.decision_function(rows)
            d = s >= cut if method == "predict_proba" else s > cut
            return d if kind == "decision" else s

    outputs = ModelOutputs(measured, rescore, ModelForm(model, method, 1, 0.5) if form else None)
    return explain_gaps(
        [table],
        features=X,
        y_true=y,
        sensitive=sensitive,
        task=task,
        favourable="positive",
        outputs=outputs,
        settings=GapsConfig(metrics=metrics, n_boot=40, orders=2),
        ratio_threshold=0.8,
        alpha=0.05,
        ci_level=0.95,
        seed=3,
        threads=2,
    )


def _numbers(report) -> np.ndarray:
    out = []
    for g in report.explanations:
        out += [g.gap, g.additivity_error * 0]
        for f in sorted(g.features, key=lambda f: f.feature):
            out += [f.contribution, *(f.contribution_ci or [np.nan, np.nan]), f.share if f.share is not None else 0]
        if g.check is not None:
            out += [g.check.closed, g.check.closed_first, g.check.closed_last, g.check.margin or 0.0]
    return np.array(out, dtype=float)


@pytest.fixture(scope="module")
def mixed():
    return _mixed()


@pytest.mark.parametrize(
    "name, final, expected, options",
    [
        ("boosted", HistGradientBoostingClassifier(max_iter=60, random_state=0), "trees", {}),
        ("forest", RandomForestClassifier(n_estimators=20, max_depth=6, random_state=0), "trees", {"impute": True}),
        ("logistic", LogisticRegression(max_iter=500), "linear", {"encoder": "onehot", "impute": True}),
        (
            "mlp",
            MLPClassifier(hidden_layer_sizes=(8,), max_iter=300, random_state=0),
            "transformed",
            {"encoder": "onehot", "impute": True},
        ),
    ],
)
def test_every_number_equals_the_model_asked_about_every_hybrid(mixed, name, final, expected, options):
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = _pipeline(final, **options).fit(mixed[_FEATURES], mixed["label"])
    fast, slow = _explain(mixed, model, form=True), _explain(mixed, model, form=False)
    assert set(fast.settings["evaluation"].values()) == {expected}
    assert all(path.startswith("model (") for path in slow.settings["evaluation"].values())
    a, b = _numbers(fast), _numbers(slow)
    assert len(a) == len(b) > 40
    assert np.allclose(a, b, atol=1e-9, rtol=0, equal_nan=True)


def test_a_linear_svm_read_by_its_decision_function_takes_the_linear_path(mixed):
    model = _pipeline(LinearSVC(C=0.1), encoder="onehot", impute=True).fit(mixed[_FEATURES], mixed["label"])
    fast = _explain(mixed, model, form=True, method="decision_function")
    slow = _explain(mixed, model, form=False, method="decision_function")
    assert set(fast.settings["evaluation"].values()) == {"linear"}
    assert np.allclose(_numbers(fast), _numbers(slow), atol=1e-9, rtol=0, equal_nan=True)


def test_a_linear_regression_audit_takes_the_linear_path_and_every_order_credits_the_same(mixed, monkeypatch):
    import audit.run._gap_step as gap_step
    from audit import AuditConfig, DataConfig, ExplainerConfig, MitigationConfig, SlicesConfig, run_audit

    frame = mixed.assign(label=mixed["income"] * 0.3 - mixed["debt"].fillna(0))
    model = _pipeline(LinearRegression(), encoder="onehot", impute=True).fit(frame[_FEATURES], frame["label"])
    config = AuditConfig(
        data=DataConfig(label="label", task="regression", sensitive=("group",), features=tuple(_FEATURES)),
        explainers=ExplainerConfig(methods=()),
        slices=SlicesConfig(enabled=False),
        mitigation=MitigationConfig(enabled=False),
        gaps=GapsConfig(n_boot=40),
    )
    fast = run_audit(config, data=frame, model=model).gap_explanations
    monkeypatch.setattr(gap_step, "_form", lambda adapter: None)
    slow = run_audit(config, data=frame, model=model).gap_explanations
    assert set(fast.settings["evaluation"].values()) == {"linear"}
    assert np.allclose(_numbers(fast), _numbers(slow), atol=1e-9, rtol=0, equal_nan=True)


# --- when a fast path would be wrong, the model is asked, and the report says why ---------------------------------


class _TemperedLogistic(LogisticRegression):
    """A logistic regression whose probabilities are not the logistic of its linear output (and whose decisions at
    0.5 are not the linear output's sign)."""

    def predict_proba(self, X):
        positive = np.sqrt(super().predict_proba(X)[:, 1])
        return np.column_stack([1 - positive, positive])


def test_a_model_the_linear_formula_misreads_is_caught_by_the_check(mixed):
    model = _pipeline(_TemperedLogistic(max_iter=500), encoder="onehot", impute=True)
    model.fit(mixed[_FEATURES], mixed["label"])
    fast, slow = _explain(mixed, model, form=True), _explain(mixed, model, form=False)
    # the linear formula fails its check against the model; the transformed rows still reproduce it
    assert set(fast.settings["evaluation"].values()) == {"transformed"}
    assert np.allclose(_numbers(fast), _numbers(slow), atol=1e-9, rtol=0, equal_nan=True)


def test_preprocessing_that_mixes_inputs_sends_every_hybrid_to_the_model(mixed):
    numbers = ["income", "debt", "tenure"]
    frame = mixed.assign(debt=mixed["debt"].fillna(0))
    prepare = ColumnTransformer([("poly", PolynomialFeatures(2, interaction_only=True), numbers)])
    model = Pipeline([("prepare", prepare), ("final", LogisticRegression(max_iter=1000))])
    model.fit(frame[_FEATURES], frame["label"])
    report = _explain(frame, model, form=True)
    paths = set(report.settings["evaluation"].values())
    assert len(paths) == 1
    (path,) = paths
    assert path.startswith("model (") and "column by column" in path


def test_a_model_that_takes_only_data_frames_is_asked_the_ordinary_way(mixed):
    inner = _pipeline(LogisticRegression(max_iter=500), encoder="onehot", impute=True)
    inner.fit(mixed[_FEATURES], mixed["label"])

    class FramesOnly:
        classes_ = inner.classes_

        def predict_proba(self, rows):
            return inner.predict_proba(rows[_FEATURES])

    report = _explain(mixed, FramesOnly(), form=True, metrics=("selection_rate",))
    (path,) = set(report.settings["evaluation"].values())
    assert path.startswith("model (") and "not all numbers" in path


def test_the_first_class_as_positive_and_another_threshold_read_as_the_audit_reads_them(mixed):
    model = _pipeline(HistGradientBoostingClassifier(max_iter=40, random_state=0)).fit(
        mixed[_FEATURES], 1 - mixed["label"]
    )
    X, sensitive = mixed[_FEATURES], mixed[["group"]].astype(str)
    y = mixed["label"].to_numpy().astype(bool)  # the positive class is the model's first class (0)
    score = model.predict_proba(X)[:, 0]
    table = group_metrics(
        y_true=y,
        y_pred=score >= 0.3,
        sensitive=sensitive,
        scores=score,
        n_boot=0,
        metrics=("selection_rate", "tpr", "fpr"),
    )

    def rescore(kind, rows):
        s = model.predict_proba(rows)[:, 0]
        return s >= 0.3 if kind == "decision" else s

    def explain(form):
        outputs = ModelOutputs(
            {"decision": score >= 0.3, "score": score},
            rescore,
            ModelForm(model, "predict_proba", 0, 0.3) if form else None,
        )
        return explain_gaps(
            [table],
            features=X,
            y_true=y,
            sensitive=sensitive,
            task="binary",
            favourable="positive",
            outputs=outputs,
            settings=GapsConfig(n_boot=30),
            ratio_threshold=0.8,
            alpha=0.05,
            ci_level=0.95,
            seed=1,
        )

    fast, slow = explain(True), explain(False)
    assert set(fast.settings["evaluation"].values()) == {"trees"}
    assert np.allclose(_numbers(fast), _numbers(slow), atol=1e-9, rtol=0, equal_nan=True)


def test_a_path_whose_ends_miss_the_measured_outcomes_gives_way_to_the_model_with_the_same_orders():
    from audit.gaps._decompose import PairedRows, couple, pair_contributions
    from audit.gaps._fast import HybridPath

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(120, 4)), columns=list("abcd"))
    weights = np.array([1.0, -2.0, 0.5, 0.0])

    def outcome(rows: pd.DataFrame) -> np.ndarray:
        return (rows.to_numpy() @ weights > 0).astype(float)

    measured = outcome(frame)
    coupling = couple(np.ones(50), np.ones(70), np.random.default_rng(1))

    def paired():
        return PairedRows(
            frame.iloc[:50].reset_index(drop=True),
            frame.iloc[50:].reset_index(drop=True),
            coupling,
            outcome,
            group_outcomes=measured[:50],
            other_outcomes=measured[50:],
        )

    with_bad_path = paired()
    wrong = np.zeros((len(coupling), 4))  # a path that gets every outcome wrong

    def score(pairs, positions, take_other):
        return np.full((len(pairs), 5 if positions is not None else 1), 0.5)

    with_bad_path.fast = HybridPath("stub", score, lambda raw: raw, wrong, wrong, 4, np.arange(4))
    fell_back = pair_contributions(with_bad_path, orders=2, rng=np.random.default_rng(7))
    assert with_bad_path.fast is None and with_bad_path.fast_failure.startswith("stub: it differs")
    asked = pair_contributions(paired(), orders=2, rng=np.random.default_rng(7))
    assert np.array_equal(fell_back, asked)
