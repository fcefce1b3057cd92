import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from audit import CapabilityError, Registry, UnknownComponentError, make_adapter
from audit.demo._demo import DEMO_FEATURES
from explainers import EXPLAINERS, get_explainer
from explainers._tabular import TabularCodec


def test_registry_refuses_duplicates_and_lists_known_names():
    registry = Registry("widget")
    registry.register("alpha", object)
    with pytest.raises(ValueError, match="A widget named 'alpha' is already registered"):
        registry.register("alpha", object)
    registry.register("alpha", dict, overwrite=True)
    assert registry.get("alpha") is dict
    with pytest.raises(UnknownComponentError) as info:
        EXPLAINERS.get("shapp")
    assert str(info.value) == (
        f"Unknown explainer 'shapp'. Did you mean 'shap'? Known explainers: {', '.join(EXPLAINERS.names())}."
    )


def _rows(frame, n=300, seed=0):
    return frame.sample(n=n, random_state=seed).reset_index(drop=True)


def test_tree_shap_on_the_demo_pipeline_is_additive_in_log_odds(adult_test, adult_model):
    rows = _rows(adult_test[DEMO_FEATURES])
    background = _rows(adult_test[DEMO_FEATURES], 50, seed=1)
    adapter = make_adapter(adult_model, positive_label=">50K")
    attribution = get_explainer("shap_tree").explain(adapter, rows, background=background, row_ids=np.arange(300))
    assert attribution.values.shape == (300, len(DEMO_FEATURES))
    assert attribution.feature_names == DEMO_FEATURES
    assert attribution.output_space == "log-odds"
    np.testing.assert_allclose(attribution.outputs, adult_model.decision_function(rows), atol=1e-9)
    assert attribution.completeness_error.max() < 1e-6


def test_tree_shap_sums_one_hot_columns_back_onto_inputs(adult_train):
    frame = adult_train.sample(3000, random_state=0).reset_index(drop=True)
    features = ["age", "sex", "race", "hours-per-week"]
    model = make_pipeline(
        ColumnTransformer(
            [
                ("onehot", OneHotEncoder(handle_unknown="ignore"), ["sex", "race"]),
                ("scale", StandardScaler(), ["age", "hours-per-week"]),
            ]
        ),
        RandomForestClassifier(n_estimators=20, max_depth=5, random_state=0),
    ).fit(frame[features], frame["income"])
    adapter = make_adapter(model, positive_label=">50K")
    rows = frame[features].iloc[:200]
    attribution = get_explainer("shap").explain(
        adapter, rows, background=frame[features].iloc[200:300], row_ids=np.arange(200)
    )
    assert attribution.method == "shap_tree" and attribution.output_space == "probability"
    assert attribution.meta["transformed_columns"] == 2 + frame["race"].nunique() + 2
    np.testing.assert_allclose(attribution.outputs, model.predict_proba(rows)[:, 1], atol=1e-9)
    assert attribution.completeness_error.max() < 1e-6


def test_native_categorical_histgb_is_refused_by_tree_and_falls_back(adult_train):
    frame = adult_train.sample(2000, random_state=0).reset_index(drop=True)
    X = pd.DataFrame({"age": frame["age"], "sex": (frame["sex"] == "Male").astype(int)})
    model = HistGradientBoostingClassifier(categorical_features=[1], max_iter=20, random_state=0)
    model.fit(X, frame["income"])
    adapter = make_adapter(model, positive_label=">50K")
    with pytest.raises(CapabilityError, match="native categorical splits"):
        get_explainer("shap_tree").explain(adapter, X.iloc[:10], background=X.iloc[10:30], row_ids=np.arange(10))
    attribution = get_explainer("shap").explain(adapter, X.iloc[:10], background=X.iloc[10:30], row_ids=np.arange(10))
    assert attribution.method == "shap_permutation"
    assert "native categorical" in attribution.meta["chosen_because"]


def test_permutation_known_answer_on_a_linear_model():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(80, 4)), columns=["a", "b", "ignored", "d"])
    weights = np.array([2.0, -1.0, 0.0, 0.5])

    class Linear:  # a decision function: the score is the linear logit itself
        classes_ = np.array([0, 1])

        def decision_function(self, frame):
            return frame.to_numpy() @ weights

    adapter = make_adapter(Linear(), positive_label=1)
    rows, background = X.iloc[:20].reset_index(drop=True), X.iloc[20:].reset_index(drop=True)
    attribution = get_explainer("shap_permutation", seed=0).explain(
        adapter, rows, background=background, row_ids=np.arange(20)
    )
    expected = (rows.to_numpy() - background.to_numpy().mean(axis=0)) * weights
    np.testing.assert_allclose(attribution.values, expected, atol=1e-9)
    assert np.abs(attribution.values[:, 2]).max() < 1e-12  # a feature the model ignores gets nothing
    assert attribution.completeness_error.max() < 1e-9


def test_auto_uses_permutation_for_non_tree_non_linear_models_with_strings(adult_train):
    from sklearn.neighbors import KNeighborsClassifier

    frame = adult_train.sample(1500, random_state=0).reset_index(drop=True)
    features = ["age", "sex", "workclass"]  # workclass has NaN: the codec must carry it through
    model = make_pipeline(
        ColumnTransformer(
            [("onehot", OneHotEncoder(handle_unknown="ignore"), ["sex", "workclass"])], remainder="passthrough"
        ),
        KNeighborsClassifier(n_neighbors=15),
    ).fit(frame[features], frame["income"])
    adapter = make_adapter(model, positive_label=">50K")
    rows = frame[features].iloc[:15]
    attribution = get_explainer("shap").explain(
        adapter, rows, background=frame[features].iloc[100:140], row_ids=np.arange(15)
    )
    assert attribution.method == "shap_permutation"
    np.testing.assert_allclose(attribution.outputs, model.predict_proba(rows)[:, 1], atol=1e-12)
    assert attribution.completeness_error.max() < 1e-9


def test_codec_round_trips_mixed_frames_with_missing_values():
    frame = pd.DataFrame({"n": [1.5, np.nan, 3.0], "s": ["a", None, "b"], "i": [1, 2, 3]})
    codec = TabularCodec(frame)
    decoded = codec.decode(codec.encode(frame))
    pd.testing.assert_frame_equal(decoded, frame)


def test_explainer_refuses_a_label_only_model():
    adapter = make_adapter(lambda f: np.zeros(len(f), dtype=bool), positive_label=1, output="label")
    rows = pd.DataFrame({"a": [1.0, 2.0]})
    with pytest.raises(CapabilityError, match=r"needs \['scores'\] but the callable model offers only \['labels'\]"):
        get_explainer("shap").explain(adapter, rows, background=rows, row_ids=np.arange(2))


def test_shap_linear_is_exact_on_a_logistic_pipeline(adult_train):
    frame = adult_train.sample(2000, random_state=0).reset_index(drop=True)
    features = ["age", "sex", "hours-per-week"]
    model = make_pipeline(
        ColumnTransformer(
            [("onehot", OneHotEncoder(), ["sex"]), ("scale", StandardScaler(), ["age", "hours-per-week"])]
        ),
        LogisticRegression(),
    ).fit(frame[features], frame["income"])
    adapter = make_adapter(model, positive_label=">50K")
    rows = frame[features].iloc[:50]
    attribution = get_explainer("shap_linear").explain(
        adapter, rows, background=frame[features].iloc[50:250], row_ids=np.arange(50)
    )
    np.testing.assert_allclose(attribution.outputs, model.decision_function(rows), atol=1e-9)
    assert attribution.completeness_error.max() < 1e-9


def test_lime_tabular_ranks_the_feature_the_model_uses():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {"used": rng.normal(size=300), "ignored": rng.normal(size=300), "colour": rng.choice(["red", "blue"], 300)}
    )
    adapter = make_adapter(lambda f: 1 / (1 + np.exp(-3 * f["used"].to_numpy())), positive_label=1)
    attribution = get_explainer("lime_tabular", num_samples=500).explain(
        adapter, X.iloc[:5], background=X.iloc[5:], row_ids=np.arange(5)
    )
    importance = attribution.global_importance()
    assert importance["used"] > 5 * max(importance["ignored"], importance["colour"])
    assert attribution.completeness_error is None and attribution.meta["surrogate_r2_median"] > 0


def test_every_registered_method_implements_one_of_the_interfaces():
    """Tabular methods are Explainers, text methods TextExplainers (one explain_texts interface); the generation
    methods have their own (attribute_generation)."""
    import inspect

    from explainers import EXPLAINERS, Explainer, TextExplainer

    kinds = {}
    for name in EXPLAINERS.names():
        component = EXPLAINERS.get(name)
        assert inspect.isclass(component) and not inspect.isabstract(component), name
        if name.startswith("generation_"):
            kinds[name] = "generation"
            assert hasattr(component, "explain_generation")
        elif issubclass(component, TextExplainer):
            kinds[name] = "text"
            assert component.granularity == "token" and component.name == name
        else:
            kinds[name] = "tabular"
            assert issubclass(component, Explainer) and component.name == name
    assert sorted(n for n, k in kinds.items() if k == "text") == [
        "layer_integrated_gradients",
        "lime_text",
        "shap_partition_text",
    ]
