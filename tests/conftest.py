from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from audit import load_adult, train_adult_model


@pytest.fixture(scope="session")
def adult_train() -> pd.DataFrame:
    return load_adult("train")


@pytest.fixture(scope="session")
def adult_test() -> pd.DataFrame:
    return load_adult("test")


@pytest.fixture(scope="session")
def adult_model(adult_train):
    return train_adult_model(adult_train, seed=0)


@pytest.fixture()
def biased_frame() -> pd.DataFrame:
    """Synthetic decisions with a planted bias: group B is selected half as often as group A."""
    rng = np.random.default_rng(7)
    n = 4000
    group = np.where(rng.random(n) < 0.5, "A", "B")
    label = rng.random(n) < 0.4
    selected = np.where(group == "A", rng.random(n) < 0.6, rng.random(n) < 0.3)
    return pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.normal(size=n), "group": group,
                         "label": label.astype(int), "decision": selected.astype(int)})
