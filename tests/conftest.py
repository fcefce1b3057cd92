from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from audit.datasets import load_adult, train_adult_model
from audit.exec._threads import available_cpus

_THREAD_VARIABLES = ("AUDIT_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def pytest_configure(config):
    """With pytest-xdist (``make test`` runs ``-n auto``), each worker gets its share of the CPUs: two workers
    whose native pools each span both cores would spin against each other. Set here, in the controller, before
    the workers start, so every library reads it when it loads; a variable the caller set is kept."""
    workers = getattr(config.option, "numprocesses", None)
    if workers and not os.environ.get("PYTEST_XDIST_WORKER"):
        count = available_cpus() if workers == "auto" else int(workers)
        share = str(max(1, available_cpus() // max(1, count)))
        for name in _THREAD_VARIABLES:
            os.environ.setdefault(name, share)


def pytest_collection_modifyitems(config, items):
    """The tests marked slow run first: with pytest-xdist the long ones then start at once and the short ones fill
    the gaps, instead of one worker finishing a notebook alone at the end (longest-first scheduling)."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)  # a stable sort: file order otherwise


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    """Every audit.json the suite wrote (under the session's temporary folder, every xdist worker's included)
    validates against docs/audit.schema.json; one that does not fails the run, naming the file and the field.
    Checked once, by the controller (or the only process), after the tests."""
    if os.environ.get("PYTEST_XDIST_WORKER") or exitstatus not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        return
    from tests.schema_check import invalid_results

    base = session.config._tmp_path_factory.getbasetemp()
    problems, checked = invalid_results(base)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(
            f"audit.schema.json: {checked} audit.json file(s) the suite wrote validated, {len(problems)} invalid."
        )
        for problem in problems:
            reporter.write_line(f"  INVALID {problem}", red=True)
    if problems:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


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
    return make_biased_frame()


def make_biased_frame() -> pd.DataFrame:
    """Synthetic decisions with a planted bias: group B is selected half as often as group A."""
    rng = np.random.default_rng(7)
    n = 4000
    group = np.where(rng.random(n) < 0.5, "A", "B")
    label = rng.random(n) < 0.4
    selected = np.where(group == "A", rng.random(n) < 0.6, rng.random(n) < 0.3)
    return pd.DataFrame(
        {
            "x1": rng.normal(size=n),
            "x2": rng.normal(size=n),
            "group": group,
            "label": label.astype(int),
            "decision": selected.astype(int),
        }
    )
