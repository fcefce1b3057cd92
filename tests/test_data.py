import numpy as np
import pandas as pd
import pytest

from audit import DataConfig, DataError, build_dataset, read_table


def _frame():
    return pd.DataFrame({"age": [30, 40, 50, 60], "sex": ["F", "M", "F", "M"], "income": [">50K", "<=50K"] * 2})


def test_missing_column_suggests_the_closest_names():
    with pytest.raises(DataError) as info:
        build_dataset(_frame(), DataConfig(label="income", positive_label=">50K", sensitive=("sexx",)))
    message = str(info.value)
    assert "The sensitive column 'sexx' is not in the data. Did you mean 'sex'?" in message
    assert "income" not in message and "age" not in message  # close matches only, never the whole header


def test_multivalued_label_without_positive_class():
    frame = _frame().assign(income=["low", "mid", "high", "low"])
    with pytest.raises(
        DataError,
        match=r"has 3 distinct values .* no positive class was given\. Set "
        r"data\.positive_label",
    ):
        build_dataset(frame, DataConfig(label="income", sensitive=("sex",)))


def test_multivalued_label_with_positive_class_is_one_vs_rest():
    frame = _frame().assign(income=["low", "mid", "high", "low"])
    dataset = build_dataset(frame, DataConfig(label="income", positive_label="high", sensitive=("sex",)))
    assert dataset.y_true.tolist() == [False, False, True, False]


def test_zero_one_label_needs_no_positive_class():
    frame = _frame().assign(income=[1, 0, 0, 1])
    assert build_dataset(frame, DataConfig(label="income", sensitive=("sex",))).y_true.tolist() == [1, 0, 0, 1]


def test_positive_label_that_never_occurs():
    with pytest.raises(DataError, match=r"The positive label '>50k' never occurs"):
        build_dataset(_frame(), DataConfig(label="income", positive_label=">50k", sensitive=("sex",)))


def test_nan_sensitive_is_refused_and_says_how_to_make_it_a_group():
    frame = _frame().assign(sex=["F", None, "F", "M"])
    with pytest.raises(DataError) as info:
        build_dataset(frame, DataConfig(label="income", positive_label=">50K", sensitive=("sex",)))
    message = str(info.value)
    assert "'sex' has 1 missing values (NaN)" in message
    assert 'data.missing_sensitive = "group"' in message and "'(missing)' group" in message


def test_nan_sensitive_as_its_own_group():
    frame = _frame().assign(sex=["F", None, "F", "M"])
    dataset = build_dataset(
        frame, DataConfig(label="income", positive_label=">50K", sensitive=("sex",), missing_sensitive="group")
    )
    assert dataset.sensitive["sex"].tolist() == ["F", "(missing)", "F", "M"]
    assert dataset.summary()["missing_sensitive"] == {"sex": 1}


def test_empty_data():
    with pytest.raises(DataError, match=r"The data is empty \(0 rows\)"):
        build_dataset(_frame().iloc[:0], DataConfig(label="income", positive_label=">50K", sensitive=("sex",)))


def test_features_default_to_columns_without_a_role():
    frame = _frame().assign(pred=[1, 0, 1, 0])
    dataset = build_dataset(
        frame, DataConfig(label="income", positive_label=">50K", sensitive=("sex",), prediction="pred")
    )
    assert list(dataset.features.columns) == ["age", "sex"]


def test_sample_keeps_original_row_ids():
    frame = pd.DataFrame({"x": np.arange(100), "s": ["a", "b"] * 50, "y": [0, 1] * 50})
    dataset = build_dataset(frame, DataConfig(label="y", sensitive=("s",), sample=10), seed=3)
    assert len(dataset) == 10
    assert dataset.features["x"].tolist() == dataset.row_ids.tolist()


def test_unreadable_files(tmp_path):
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not a parquet file")
    with pytest.raises(DataError, match=r"could not be read as parquet"):
        read_table(broken)
    with pytest.raises(DataError, match=r"expected a \.csv, \.tsv or \.parquet file"):
        read_table(tmp_path / "data.xlsx")
    with pytest.raises(DataError, match="does not exist"):
        read_table(tmp_path / "missing.csv")


def test_reads_csv_and_parquet(tmp_path):
    frame = _frame()
    frame.to_csv(tmp_path / "d.csv", index=False)
    frame.to_parquet(tmp_path / "d.parquet")
    pd.testing.assert_frame_equal(read_table(tmp_path / "d.csv"), frame, check_dtype=False)
    pd.testing.assert_frame_equal(read_table(tmp_path / "d.parquet"), frame)
