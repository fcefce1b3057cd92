import pytest

from explainers import EXPLAINERS

from audit import AuditConfig, ConfigError, DataConfig, ExplainerConfig, FairnessConfig, load_config


def test_load_config_resolves_paths_relative_to_the_file(tmp_path):
    (tmp_path / "audit.toml").write_text(
        '[data]\npath = "data.csv"\nlabel = "y"\nsensitive = ["sex", "race"]\n'
        '[model]\npath = "model.joblib"\n[fairness]\nmetrics = ["selection_rate", "tpr"]\n'
    )
    config = load_config(tmp_path / "audit.toml")
    assert config.data.path == str(tmp_path / "data.csv")
    assert config.model.path == str(tmp_path / "model.joblib")
    assert config.fairness.metrics == ("selection_rate", "tpr")
    assert config.data.sensitive_groupings == (("sex",), ("race",), ("sex", "race"))


def test_unknown_setting_suggests_the_closest_name():
    with pytest.raises(ConfigError, match=r"Unknown setting data\.'sensitve'\. Did you mean data\.'sensitive'\?"):
        AuditConfig.from_dict({"data": {"label": "y", "sensitve": ["sex"]}})


def test_missing_data_table_says_what_to_add():
    with pytest.raises(ConfigError, match=r"no \[data\] table"):
        AuditConfig.from_dict({"model": {"path": "m.joblib"}})


def test_missing_required_setting_is_named():
    with pytest.raises(ConfigError, match=r"The \[data\] table lacks required settings \['sensitive'\]"):
        AuditConfig.from_dict({"data": {"label": "y"}})


def test_wrong_type_names_location_expected_and_got():
    with pytest.raises(ConfigError) as info:
        DataConfig(label="y", sensitive="sex")
    assert str(info.value) == "The 'data.sensitive' setting must be a list of column names. Got 'sex' instead."


def test_unknown_explainer_lists_the_known_ones():
    with pytest.raises(ConfigError) as info:
        ExplainerConfig(methods=("shap", "shapp_tree"))
    message = str(info.value)
    assert "'explainers.methods.1'" in message
    assert "Unknown explainer 'shapp_tree'. Did you mean 'shap_tree'?" in message
    assert f"Known explainers: {', '.join(EXPLAINERS.names())}." in message


def test_unknown_metric_is_refused_with_the_list():
    with pytest.raises(ConfigError, match=r"'fairness\.metrics\.0'.*Known fairness metrics: .*selection_rate"):
        FairnessConfig(metrics=("selection_rat",))


def test_intersection_must_use_sensitive_columns():
    with pytest.raises(ConfigError, match=r"'age' is not in data.sensitive \['sex', 'race'\]"):
        DataConfig(label="y", sensitive=("sex", "race"), intersections=(("sex", "age"),))


def test_invalid_toml_is_a_config_error(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[data\nlabel = 1")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_config(path)


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml")


def test_label_cannot_be_a_feature():
    with pytest.raises(ConfigError, match="free of the 'y' column"):
        DataConfig(label="y", sensitive=("s",), features=("a", "y"))
