"""Worst-slice discovery: planted slices are found, a null control finds none, numbers equal fairlearn's."""

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from audit import (
    AuditConfig,
    AuditResult,
    ConfigError,
    DataConfig,
    FairnessConfig,
    SlicesConfig,
    evaluate,
    find_slices,
    run_audit,
)
from audit.gate._policy import _parse_policy
from reports import render_html

PLANTED = {"f0 = 0", "f1 = 1 AND f2 = 2", "f3 = 0 AND f4 = 1 AND f5 = 2"}


def planted(seed: int, *, n: int = 100_000, shuffle: bool = False):
    """20 categorical columns of 3 levels; errors at 10%, plus 5 points in three slices of 1, 2 and 3
    conditions (a third, a ninth and a 27th of the rows). ``shuffle``: the same errors, permuted, so that no
    slice is worse than the rest. Categorical columns built from their codes: the same values as strings, in a
    twentieth of the time."""
    rng = np.random.default_rng(seed)
    codes = {f"f{j}": rng.integers(0, 3, n) for j in range(20)}
    frame = pd.DataFrame({name: pd.Categorical.from_codes(c, categories=["0", "1", "2"]) for name, c in codes.items()})
    slices = [
        codes["f0"] == 0,
        (codes["f1"] == 1) & (codes["f2"] == 2),
        (codes["f3"] == 0) & (codes["f4"] == 1) & (codes["f5"] == 2),
    ]
    rate = 0.10 + 0.05 * sum(s.astype(int) for s in slices)  # where slices overlap, their points add
    wrong = rng.random(n) < rate
    if shuffle:
        wrong = rng.permutation(wrong)
    y = rng.random(n) < 0.5
    return frame, y, np.where(wrong, ~y, y)


def _confirmed(seed: int, shuffle: bool) -> set[str]:
    frame, y, decisions = planted(seed + (1000 if shuffle else 0), shuffle=shuffle)
    return {s.definition for s in find_slices(frame, y_true=y, y_pred=decisions, seed=seed).slices}


# 50 seeds per side keep the 95% promise checkable (48 of 50) in a minute; `python -m benchmarks.slices` measures
# the null rate over 100 data sets (null_false_rate), and 100 seeds here gave 97 found and 0 confirmed by chance.
SEEDS = range(50)


@pytest.mark.slow
def test_planted_slices_are_found_in_95_percent_of_seeds():
    found = [PLANTED <= _confirmed(seed, shuffle=False) for seed in SEEDS]
    assert sum(found) >= 0.95 * len(SEEDS), [seed for seed, ok in zip(SEEDS, found) if not ok]


@pytest.mark.slow
def test_no_slice_is_confirmed_when_none_exists_in_95_percent_of_seeds():
    confirmed = [bool(_confirmed(seed, shuffle=True)) for seed in SEEDS]
    assert sum(confirmed) <= 0.05 * len(SEEDS), [seed for seed, hit in zip(SEEDS, confirmed) if hit]


@pytest.mark.parametrize("metric", ["error_rate", "fpr", "fnr", "selection_rate_low", "selection_rate_high"])
def test_slice_metrics_equal_fairlearn_on_the_same_mask(metric):
    from fairlearn.metrics import MetricFrame, false_negative_rate, false_positive_rate, selection_rate
    from sklearn.metrics import accuracy_score

    frame, y, decisions = planted(3, n=20_000)
    if metric.startswith("selection_rate"):  # plant a slice selected 10 points less (or more) often
        rng = np.random.default_rng(4)
        shift = 0.1 * ((frame.f6 == "1") & (frame.f7 == "0")).to_numpy()
        decisions = rng.random(len(y)) < 0.5 + (shift if metric.endswith("high") else -shift)
    weights = np.random.default_rng(0).uniform(0.5, 2.0, len(y))
    # q = 0.5: this test checks the numbers against fairlearn, not the power to confirm
    search = find_slices(frame, y_true=y, y_pred=decisions, sample_weight=weights, metric=metric, q=0.5)
    assert search.slices, "the planted data has slices for every metric"
    oracle = {
        "error_rate": lambda t, p, sample_weight: 1 - accuracy_score(t, p, sample_weight=sample_weight),
        "fpr": false_positive_rate,
        "fnr": false_negative_rate,
        "selection_rate_low": selection_rate,
        "selection_rate_high": selection_rate,
    }[metric]
    for found in search.slices[:5]:
        mask = np.ones(len(y), bool)
        for condition in found.conditions:
            mask &= (frame[condition.column] == condition.value).to_numpy()
        by_mask = MetricFrame(
            metrics=oracle,
            y_true=y,
            y_pred=decisions,
            sensitive_features=mask,
            sample_params={"sample_weight": weights},
        ).by_group
        assert found.metric == pytest.approx(by_mask[True], abs=1e-12)
        assert found.rest_metric == pytest.approx(by_mask[False], abs=1e-12)
        assert found.rows == mask.sum()


def test_numeric_columns_are_binned_and_missing_values_kept():
    rng = np.random.default_rng(1)
    n = 30_000
    age = rng.integers(18, 80, n).astype(float)
    age[:300] = np.nan
    region = rng.choice(["north", "south", None], n)
    wrong = rng.random(n) < 0.08 + 0.10 * (age < 30)
    y = rng.random(n) < 0.5
    search = find_slices(pd.DataFrame({"age": age, "region": region}), y_true=y, y_pred=np.where(wrong, ~y, y))
    best = search.slices[0]
    assert best.conditions[0].column == "age" and best.conditions[0].kind == "between"
    assert best.conditions[0].value[0] == 18 and best.definition.startswith("age in [18, ")
    assert best.effect > 0.05 and best.effect_ci[0] > 0
    from audit.slices._encode import encode_columns

    encoded = encode_columns(pd.DataFrame({"age": age, "region": region}), bins=5)
    assert "age = (missing)" in [c[2] for c in encoded.conditions[0]]
    assert "region = (missing)" in [c[2] for c in encoded.conditions[1]]


def test_a_regression_slice_by_mean_absolute_error():
    rng = np.random.default_rng(2)
    n = 20_000
    frame = pd.DataFrame({"g": rng.choice(list("abcd"), n), "h": rng.choice(list("xy"), n)})
    noise = rng.normal(0, 1 + 1.0 * ((frame.g == "c") & (frame.h == "y")).to_numpy(), n)
    search = find_slices(frame, y_true=noise, y_pred=np.zeros(n), metric="mae")
    assert search.slices[0].definition == "g = c AND h = y" and search.slices[0].effect > 0.5


def _audit(frame: pd.DataFrame, **slices):
    model = LogisticRegression().fit(frame[["x1", "x2"]], frame["label"])
    config = AuditConfig(
        data=DataConfig(label="label", sensitive=("group", "region"), features=("x1", "x2")),
        fairness=FairnessConfig(n_boot=0),
        slices=SlicesConfig(**slices),
    )
    return run_audit(config, data=frame, model=model)


def _frame(seed: int, planted_gap: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = 8000
    frame = pd.DataFrame(
        {
            "group": rng.choice(["A", "B"], n),
            "region": rng.choice(["n", "s", "e", "w"], n),
            "x1": rng.normal(size=n),
            "x2": rng.normal(size=n),
        }
    )
    signal = frame.x1 + 0.5 * frame.x2
    flip = rng.random(n) < planted_gap * ((frame.group == "B") & (frame.region == "s")).to_numpy()
    label = (signal + rng.normal(0, 0.5, n) > 0).astype(int)
    frame["label"] = np.where(flip, 1 - label, label)
    return frame


def test_the_audit_reports_gates_and_renders_its_slices():
    # a model's errors also concentrate near its decision boundary (x1 around 0): a real slice, so the
    # control searches the groups only
    biased, fair = _audit(_frame(0, 0.4)), _audit(_frame(1, 0.0), columns=("group", "region"))
    assert not biased.failures and not fair.failures
    search = biased.slices.searches[0]
    assert search.metric == "error_rate" and search.complete
    assert search.slices[0].definition == "group = B AND region = s" and search.slices[0].effect > 0.1
    assert any(f.kind == "slice" for f in biased.findings)
    policy = _parse_policy(
        {"rules": [{"metric": "error_rate", "where": "slices", "compare": "<=", "threshold": 0.05, "min_share": 0.01}]},
        name="slices",
        sha256="",
        source="test",
    )
    assert not evaluate(biased, [policy]).passed
    gate = evaluate(fair, [policy])
    assert gate.passed and "No confirmed slice" in gate.outcomes[0].message
    html = render_html(biased)
    assert 'id="slices-heading"' in html and "group = B AND region = s" in html
    again = AuditResult.from_json(biased.to_json())
    assert again.to_json() == biased.to_json() and again.slices.to_frame().shape[0] == len(search.slices)
    assert "No slice was confirmed" in render_html(fair)


def test_a_crashed_slice_search_blocks_the_gate_and_shows_as_crashed(monkeypatch):
    import audit.slices._discover as discover

    def crash(*args, **kwargs):
        raise MemoryError("planted crash")

    monkeypatch.setattr(discover, "find_slices", crash)
    result = _audit(_frame(0, 0.4))
    assert [f.step for f in result.failures] == ["slices"] and result.slices is None
    assert "did not produce results" in render_html(result)
    gate = evaluate(
        result,
        [
            _parse_policy(
                {"rules": [{"metric": "error_rate", "where": "slices", "compare": "<=", "threshold": 0.05}]},
                name="p",
                sha256="",
                source="t",
            )
        ],
    )
    assert not gate.passed and {o.rule for o in gate.outcomes if o.status == "error"} >= {"step-failed"}


def test_settings_are_validated_with_the_setting_to_fix():
    with pytest.raises(ConfigError, match="'slices.metrics' setting must name slice metrics"):
        SlicesConfig(metrics=("eror_rate",))
    with pytest.raises(ConfigError, match="'slices.max_conditions' setting must be 1, 2 or 3"):
        SlicesConfig(max_conditions=4)
    with pytest.raises(ConfigError, match="slices.q"):
        SlicesConfig(q=0.9)
    with pytest.raises(ConfigError, match="neither sensitive features nor model inputs"):
        _audit(_frame(0, 0.0), columns=("nope",))
    frame = _frame(0, 0.0)
    with pytest.raises(ConfigError, match="reads scores, and this model gives decisions only"):
        run_audit(
            AuditConfig(
                data=DataConfig(label="label", sensitive=("group",), prediction="d"),
                slices=SlicesConfig(metrics=("calibration_gap",)),
            ),
            data=frame.assign(d=frame.label),
        )
    with pytest.raises(ConfigError, match='applies to where = "slices" only'):
        _parse_policy(
            {
                "rules": [
                    {"metric": "accuracy", "where": "overall", "compare": ">=", "threshold": 0.5, "min_share": 0.1}
                ]
            },
            name="p",
            sha256="",
            source="t",
        )
