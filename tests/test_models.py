import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

from audit import ModelError, load_model, make_adapter
from audit._errors import DataError
from audit.models._adapters import CallableAdapter, SklearnAdapter, TorchAdapter


@pytest.fixture()
def numeric():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=300), "b": rng.normal(size=300)})
    y = np.where(X["a"] + 0.5 * X["b"] > 0, "yes", "no")
    return X, y


def test_sklearn_probabilities_pick_the_positive_class_by_label(numeric):
    X, y = numeric
    model = LogisticRegression().fit(X, y)
    for positive, column in (("yes", 1), ("no", 0)):
        adapter = make_adapter(model, positive_label=positive)
        assert isinstance(adapter, SklearnAdapter)
        predictions = adapter.predict(X)
        np.testing.assert_allclose(predictions.scores, model.predict_proba(X)[:, column])
        assert predictions.score_kind == "probability"
        np.testing.assert_array_equal(predictions.y_pred, predictions.scores >= 0.5)


def test_sklearn_decision_function_and_label_only(numeric):
    X, y = numeric
    svc = LinearSVC().fit(X, y)
    decision = make_adapter(svc, positive_label="yes").predict(X)
    assert decision.score_kind == "decision"
    np.testing.assert_array_equal(decision.y_pred, svc.predict(X) == "yes")
    labels = make_adapter(svc, positive_label="yes", output="label").predict(X)
    assert labels.scores is None
    np.testing.assert_array_equal(labels.y_pred, svc.predict(X) == "yes")


def test_positive_label_unknown_to_the_model(numeric):
    X, y = numeric
    model = LogisticRegression().fit(X, y)
    with pytest.raises(
        ModelError,
        match=r"The model's classes are \['no', 'yes'\], and none of them is the "
        r"positive label 'maybe'",
    ):
        make_adapter(model, positive_label="maybe")


def test_model_with_no_predict_method():
    with pytest.raises(ModelError, match=r"The model \(object\) has no usable predict method"):
        make_adapter(object(), positive_label=1)


def test_missing_training_columns_are_named(numeric):
    X, y = numeric
    model = LogisticRegression().fit(X, y)
    with pytest.raises(DataError, match=r"expects columns that the features lack: \['b'\]"):
        make_adapter(model, positive_label="yes").predict(X[["a"]])


def test_torch_module_on_cpu_batches_and_matches_a_plain_forward(numeric):
    X, _ = numeric
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    adapter = make_adapter(net, positive_label=1, batch_size=64)
    assert isinstance(adapter, TorchAdapter) and adapter.device == "cpu"
    expected = torch.sigmoid(net(torch.tensor(X.to_numpy(np.float32)))).detach().numpy()[:, 0]
    np.testing.assert_allclose(adapter.predict(X).scores, expected, rtol=1e-5, atol=1e-6)
    assert net.training  # the adapter restores the mode it found


def test_torch_two_logit_output_uses_softmax(numeric):
    X, _ = numeric
    net = torch.nn.Linear(2, 2)
    scores = make_adapter(net, positive_label=1).predict(X).scores
    logits = net(torch.tensor(X.to_numpy(np.float32))).detach()
    np.testing.assert_allclose(scores, torch.softmax(logits, 1)[:, 1].numpy(), rtol=1e-5)


def test_torch_needs_numeric_features():
    net = torch.nn.Linear(2, 1)
    frame = pd.DataFrame({"a": [1.0, 2.0], "s": ["x", "y"]})
    with pytest.raises(DataError, match=r"numeric features only, but \['s'\] are not numeric"):
        make_adapter(net, positive_label=1).predict(frame)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_torch_module_on_cuda_stays_there(numeric):
    X, _ = numeric
    net = torch.nn.Linear(2, 1).cuda()
    adapter = make_adapter(net, positive_label=1)
    assert adapter.device.startswith("cuda")
    assert adapter.predict(X).scores.shape == (len(X),)
    assert next(net.parameters()).is_cuda


def test_callable_scores_and_labels(numeric):
    X, _ = numeric
    adapter = make_adapter(lambda f: 1 / (1 + np.exp(-f["a"].to_numpy())), positive_label=1)
    assert isinstance(adapter, CallableAdapter)
    assert adapter.predict(X).y_pred.tolist() == (X["a"] > 0).tolist()
    wrong = make_adapter(lambda f: np.ones(3), positive_label=1)
    with pytest.raises(ModelError, match="returned 3 values for 300 rows"):
        wrong.predict(X)


def test_load_model_files(tmp_path, numeric):
    X, y = numeric
    import joblib

    joblib.dump(LogisticRegression().fit(X, y), tmp_path / "m.joblib")
    assert isinstance(load_model(tmp_path / "m.joblib"), LogisticRegression)
    net = torch.nn.Sequential(torch.nn.Linear(2, 1))
    torch.save(net, tmp_path / "m.pt")
    with pytest.raises(ModelError, match=r"pickled torch module.*model.weights_only = false"):
        load_model(tmp_path / "m.pt")  # weights_only=True by default: a pickled module is refused
    assert isinstance(load_model(tmp_path / "m.pt", weights_only=False), torch.nn.Sequential)
    (tmp_path / "broken.joblib").write_bytes(b"garbage")
    with pytest.raises(ModelError, match=r"could not be loaded"):
        load_model(tmp_path / "broken.joblib")
    with pytest.raises(ModelError, match=r"expected \.skops, \.joblib, \.pkl, \.pickle, \.pt2, \.pt or \.pth"):
        (tmp_path / "m.onnx").write_bytes(b"")
        load_model(tmp_path / "m.onnx")
    with pytest.raises(ModelError, match="does not exist"):
        load_model(tmp_path / "nope.joblib")


class Scaled(LogisticRegression):
    """A user's own estimator type: not one skops trusts by default."""


def test_skops_files_load_only_trusted_types_and_the_result_says_how(tmp_path, numeric):
    import skops.io

    from audit import AuditConfig, DataConfig, ExplainerConfig, ModelConfig, run_audit
    from audit.models._adapters import load_model_file

    X, y = numeric
    plain = LogisticRegression().fit(X, y)
    skops.io.dump(plain, tmp_path / "plain.skops")
    loaded, how = load_model_file(tmp_path / "plain.skops")
    assert how == "skops (only scikit-learn's own types)"
    assert np.array_equal(loaded.predict_proba(X), plain.predict_proba(X))

    skops.io.dump(Scaled().fit(X, y), tmp_path / "own.skops")
    own = f"{__name__}.Scaled"
    with pytest.raises(ModelError, match=rf"not trusted by default: {own}\..*trusted = \[\"{own}\"\]"):
        load_model(tmp_path / "own.skops")
    with pytest.raises(ModelError, match="not trusted by default"):
        load_model(tmp_path / "own.skops", trusted=["some.OtherType"])
    assert isinstance(load_model(tmp_path / "own.skops", trusted=[own]), Scaled)

    data = X.assign(label=y, group=np.where(X["b"] > 0, "u", "v"))
    config = AuditConfig(
        data=DataConfig(label="label", positive_label="yes", sensitive=("group",)),
        model=ModelConfig(path=str(tmp_path / "plain.skops")),
        explainers=ExplainerConfig(sample_size=50, background_size=20),
    )
    result = run_audit(config, data=data, quiet=True)
    assert result.model.loaded_with == "skops (only scikit-learn's own types)"


def test_torch_files_load_safely_by_default(tmp_path):
    from audit.models._adapters import load_model_file

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(2, 1))
    torch.jit.script(net).save(str(tmp_path / "scripted.pt"))
    scripted, how = load_model_file(tmp_path / "scripted.pt")
    assert how.startswith("torch.jit.load") and torch.equal(scripted(torch.ones(1, 2)), net(torch.ones(1, 2)))
    program = torch.export.export(net, (torch.ones(4, 2),), dynamic_shapes=({0: torch.export.Dim("batch")},))
    torch.export.save(program, str(tmp_path / "exported.pt2"))
    exported, how = load_model_file(tmp_path / "exported.pt2")
    assert how.startswith("torch.export.load") and torch.equal(exported(torch.ones(5, 2)), net(torch.ones(5, 2)))
    torch.save(net.state_dict(), tmp_path / "weights.pt")
    with pytest.raises(ModelError, match=r"holds OrderedDict \(weights only, such as a state_dict\)"):
        load_model(tmp_path / "weights.pt")
    torch.save(net, tmp_path / "module.pt")
    _, how = load_model_file(tmp_path / "module.pt", weights_only=False)
    assert how == "torch.load(weights_only=False): runs code from the file (model.weights_only = false)"


@pytest.mark.parametrize(
    ("setting", "value"), [("trusted", "pkg.Type"), ("trusted", ["NoModule"]), ("weights_only", "yes")]
)
def test_safe_loading_settings_are_checked(setting, value):
    from audit import ConfigError, ModelConfig

    with pytest.raises(ConfigError, match=rf"The 'model.{setting}' setting must be"):
        ModelConfig(**{setting: value})
