import numpy as np
import pandas as pd
import pytest
import torch

from audit import CapabilityError, make_adapter
from explainers import get_explainer

WEIGHTS = np.array([1.5, -2.0, 0.0, 0.5])  # feature 2 is ignored by the model


@pytest.fixture()
def linear():
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    with torch.no_grad():
        model.weight[:] = torch.tensor(WEIGHTS, dtype=torch.float32)
        model.bias[:] = 0.3
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(60, 4)), columns=list("abcd"))
    return make_adapter(model, positive_label=1), frame


@pytest.mark.parametrize(
    "method, expected",
    [
        ("integrated_gradients", lambda x, b: WEIGHTS * (x - b)),
        ("deeplift", lambda x, b: WEIGHTS * (x - b)),
        ("feature_ablation", lambda x, b: WEIGHTS * (x - b)),
        ("occlusion", lambda x, b: WEIGHTS * (x - b)),
        ("input_x_gradient", lambda x, b: WEIGHTS * x),
        ("saliency", lambda x, b: np.broadcast_to(WEIGHTS, x.shape)),
    ],
)
def test_known_answers_on_a_linear_logit(linear, method, expected):
    adapter, frame = linear
    rows, background = frame.iloc[:20], frame.iloc[20:]
    attribution = get_explainer(method, output="logit").explain(
        adapter, rows, background=background, row_ids=np.arange(20)
    )
    baseline = background.to_numpy().mean(axis=0)
    np.testing.assert_allclose(attribution.values, expected(rows.to_numpy(), baseline), atol=1e-5)
    assert np.abs(attribution.values[:, 2]).max() < 1e-6  # the ignored feature gets nothing
    if attribution.completeness_error is not None:
        assert attribution.completeness_error.max() < 1e-4


def test_integrated_gradients_is_complete_on_a_nonlinear_model():
    torch.manual_seed(1)
    model = torch.nn.Sequential(torch.nn.Linear(5, 16), torch.nn.Tanh(), torch.nn.Linear(16, 2))
    frame = pd.DataFrame(np.random.default_rng(1).normal(size=(50, 5)), columns=list("abcde"))
    adapter = make_adapter(model, positive_label=1)
    attribution = get_explainer("integrated_gradients", n_steps=64).explain(
        adapter, frame.iloc[:10], background=frame.iloc[10:], row_ids=np.arange(10)
    )
    assert attribution.output_space == "probability"
    gap = np.abs(attribution.values.sum(1) - (attribution.outputs - attribution.base_values))
    assert gap.max() < 1e-4 and attribution.completeness_error.max() < 1e-4
    shap_like = get_explainer("gradient_shap", n_samples=200).explain(
        adapter, frame.iloc[:10], background=frame.iloc[10:], row_ids=np.arange(10)
    )
    assert np.corrcoef(shap_like.values.ravel(), attribution.values.ravel())[0, 1] > 0.8


def test_captum_methods_refuse_non_torch_models():
    adapter = make_adapter(lambda f: np.full(len(f), 0.5), positive_label=1)
    rows = pd.DataFrame({"a": [1.0, 2.0]})
    with pytest.raises(CapabilityError, match=r"needs \['gradients'\]"):
        get_explainer("saliency").explain(adapter, rows, background=rows, row_ids=np.arange(2))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_captum_runs_on_the_models_gpu(linear):
    _, frame = linear
    model = torch.nn.Linear(4, 1).cuda()
    adapter = make_adapter(model, positive_label=1)
    attribution = get_explainer("integrated_gradients").explain(
        adapter, frame.iloc[:8], background=frame.iloc[8:], row_ids=np.arange(8)
    )
    assert attribution.meta["device"].startswith("cuda") and next(model.parameters()).is_cuda


def test_captum_and_shap_side_by_side_in_an_audit():
    from audit import AuditConfig, DataConfig, ExplainerConfig, run_audit

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(300, 3)), columns=["a", "b", "c"])
    frame["group"] = rng.choice(["x", "y"], 300)
    frame["label"] = (frame["a"] > 0).astype(int)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    config = AuditConfig(
        data=DataConfig(label="label", sensitive=("group",), features=("a", "b", "c")),
        explainers=ExplainerConfig(
            methods=("integrated_gradients", "deeplift", "shap"), sample_size=40, background_size=30
        ),
    )
    result = run_audit(config, data=frame, model=model)
    assert [s.method for s in result.attributions] == ["integrated_gradients", "deeplift", "shap_permutation"]
    assert result.failures == []
    errors = {s.method: s.completeness_error_max for s in result.attributions}
    # IG's 50 steps leave a small gap on ReLU kinks; DeepLift's rescale rule and shap's permutation are exact
    assert errors["integrated_gradients"] < 5e-3 and errors["deeplift"] < 1e-5 and errors["shap_permutation"] < 1e-9
