"""Exact tree SHAP in bulk, on the input columns of a pipeline, for two games: the trees' own (path-dependent: each
split's missing side weighted by the training rows that took it) and the interventional one (the features left out
take the values of background rows). The ``shap_tree`` explainer uses the first; adverse-decision notices compare
the two row by row."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from explainers._errors import CapabilityError, ConfigError, ResourceError
from explainers._tabular import dense, input_column_map, split_pipeline

__all__ = ["TreeModel", "TreeShapValues", "check_tree_estimator", "tree_model", "tree_shap", "PendingTreeShap"]

# Final estimators whose trees shap's TreeExplainer reads exactly (by type name: no imports needed).
_TREE_MODELS = {
    "sklearn.tree._classes.DecisionTreeClassifier",
    "sklearn.ensemble._forest.RandomForestClassifier",
    "sklearn.ensemble._forest.ExtraTreesClassifier",
    "sklearn.ensemble._gb.GradientBoostingClassifier",
    "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier",
    "xgboost.sklearn.XGBClassifier",
    "lightgbm.sklearn.LGBMClassifier",
}


def _type_name(obj) -> str:
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


def check_tree_estimator(estimator, who: str) -> None:
    """Refuse what shap's TreeExplainer cannot read exactly: a final estimator that is not a known tree ensemble,
    or HistGradientBoosting's native categorical splits."""
    if _type_name(estimator) not in _TREE_MODELS:
        known = ", ".join(sorted(name.rsplit(".", 1)[1] for name in _TREE_MODELS))
        raise CapabilityError(f"{who} needs a tree ensemble ({known}); the final estimator is a "
                              f"{type(estimator).__qualname__}.")
    categorical = getattr(estimator, "is_categorical_", None)
    if categorical is not None and np.any(categorical):
        raise CapabilityError("shap's TreeExplainer misreads HistGradientBoosting's native categorical splits; "
                              "ordinal-encode the categories without categorical_features to use it.")


@dataclass(frozen=True)
class TreeModel:
    """A tree ensemble split from its preprocessing, with which input column owns each transformed column.

    ``space`` is what the values add up to: "log-odds" (boosting) or "probability" (forests), of class
    ``class_index`` of the estimator's classes."""

    preprocess: Any
    estimator: Any
    feature_names: list[str]
    owners: list[str]
    class_index: int
    space: str

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        frame = frame[self.feature_names]
        return dense(self.preprocess.transform(frame)) if self.preprocess is not None else frame.to_numpy(dtype=float)

    def output(self, transformed: np.ndarray) -> np.ndarray:
        """The model's output in ``space`` for class ``class_index``, for transformed rows."""
        names = getattr(self.estimator, "feature_names_in_", None)
        if names is not None:  # fitted on a frame: give it one (same columns, no warning)
            transformed = pd.DataFrame(transformed, columns=list(names))
        if self.space == "probability":
            return np.asarray(self.estimator.predict_proba(transformed), dtype=float)[:, self.class_index]
        if hasattr(self.estimator, "decision_function"):
            raw = self.estimator.decision_function(transformed)
        elif "xgboost" in _type_name(self.estimator):
            raw = self.estimator.predict(transformed, output_margin=True)
        else:  # lightgbm
            raw = self.estimator.predict(transformed, raw_score=True)
        raw = np.asarray(raw, dtype=float)
        return raw if self.class_index == 1 else -raw

    def to_inputs(self, values: np.ndarray) -> np.ndarray:
        """Sum transformed-column attributions onto the input columns (additivity is kept)."""
        summed = np.zeros((values.shape[0], len(self.feature_names)))
        for k, owner in enumerate(self.owners):
            summed[:, self.feature_names.index(owner)] += values[:, k]
        return summed


@dataclass(frozen=True)
class TreeShapValues:
    """Attributions on the input columns: ``values[i, j]`` moves row i's output from ``base_values[i]``."""

    feature_names: list[str]
    values: np.ndarray
    base_values: np.ndarray
    outputs: np.ndarray
    algorithm: str  # "tree_path_dependent" or "interventional"
    background_rows: int | None

    @property
    def completeness_errors(self) -> np.ndarray:
        """Per row: |base + sum of values - output|; exact methods give rounding error only. shap's interventional
        tree code compares values with split thresholds in single precision, so a row with a value within
        single-precision rounding of a threshold can come out inexact: check this, do not assume it."""
        return np.abs(self.base_values + self.values.sum(axis=1) - self.outputs)

    @property
    def completeness_error(self) -> float:
        return float(np.max(self.completeness_errors)) if len(self.outputs) else 0.0


def tree_model(model: Any, frame: pd.DataFrame, *, class_index: int) -> TreeModel:
    """Split ``model`` (an estimator or a Pipeline ending in one) into what tree SHAP reads; ``frame`` holds rows
    of its input columns (used to find which input owns each transformed column). Refuses other models."""
    preprocess, estimator = split_pipeline(model)
    check_tree_estimator(estimator, "Exact tree SHAP")
    names = list(frame.columns)
    owners = input_column_map(preprocess, frame) if preprocess is not None else names
    averaged = ("RandomForestClassifier", "ExtraTreesClassifier", "DecisionTreeClassifier")
    space = "probability" if type(estimator).__name__ in averaged else "log-odds"  # boosting adds up log-odds
    return TreeModel(preprocess, estimator, names, list(owners), int(class_index), space)


def _shap_values(estimator: Any, rows: np.ndarray, background: np.ndarray | None, class_index: int,
                 space: str) -> tuple[np.ndarray, float]:
    import shap

    if background is None:
        explainer = shap.TreeExplainer(estimator)
    else:
        # shap's default masker keeps 100 random background rows; ask for all of them
        masker = shap.maskers.Independent(background, max_samples=len(background))
        explainer = shap.TreeExplainer(estimator, data=masker, feature_perturbation="interventional",
                                       model_output="probability" if space == "probability" else "raw")
    raw = np.asarray(explainer.shap_values(rows, check_additivity=False), dtype=float)
    expected = np.atleast_1d(np.asarray(explainer.expected_value, dtype=float))
    if raw.ndim == 3:  # one slice per class
        return raw[:, :, class_index], float(expected[class_index])
    sign = 1.0 if class_index == 1 else -1.0
    return sign * raw, sign * float(expected[0])


def _launch(arguments: list[tuple], folder: str) -> list:
    """Start one fresh interpreter per chunk (``python -m explainers._tree_shap IN OUT``): unlike multiprocessing's
    spawn this never re-runs the caller's script or notebook, unlike fork it cannot inherit a locked native thread
    pool, and shap's progress bar stays in the worker's captured stderr. The inputs travel as a pickle in a private
    temporary folder."""
    import pickle
    import subprocess
    import sys
    from pathlib import Path

    jobs = []
    for k, argument in enumerate(arguments):
        source, target = Path(folder, f"in{k}.pkl"), Path(folder, f"out{k}.pkl")
        source.write_bytes(pickle.dumps(argument, protocol=pickle.HIGHEST_PROTOCOL))
        jobs.append((subprocess.Popen([sys.executable, "-m", "explainers._tree_shap", str(source), str(target)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE), target))
    return jobs


def _collect(jobs: list) -> list[tuple[np.ndarray, float]]:
    import pickle

    outcomes = [(job.communicate()[1], job.returncode, target) for job, target in jobs]
    parts = []
    for stderr, code, target in outcomes:
        if code != 0:
            raise ResourceError(f"A tree SHAP worker process failed (exit {code}): "
                               f"{stderr.decode(errors='replace').strip()[-2000:]}")
        parts.append(pickle.loads(target.read_bytes()))
    return parts


def _values(model: TreeModel, rows: np.ndarray, parts: list[tuple[np.ndarray, float]],
            background: np.ndarray | None) -> TreeShapValues:
    return TreeShapValues(
        feature_names=list(model.feature_names), values=model.to_inputs(np.vstack([p[0] for p in parts])),
        base_values=np.full(len(rows), parts[0][1]), outputs=model.output(rows),
        algorithm="tree_path_dependent" if background is None else "interventional",
        background_rows=None if background is None else len(background))


def _empty(model: TreeModel, background: np.ndarray | None) -> TreeShapValues:
    return TreeShapValues(list(model.feature_names), np.zeros((0, len(model.feature_names))), np.zeros(0),
                          np.zeros(0), "tree_path_dependent" if background is None else "interventional",
                          None if background is None else len(background))


class PendingTreeShap:
    """Interventional tree SHAP of transformed ``rows`` against every ``background`` row (cost: rows x background
    rows), running in ``processes`` worker processes while the caller does other work; ``result()`` waits. Any
    worker count gives the same numbers. Use it as a context manager: leaving it stops the workers and removes
    their temporary folder."""

    def __init__(self, model: TreeModel, rows: np.ndarray, *, background: np.ndarray, processes: int = 1) -> None:
        import tempfile

        if isinstance(processes, bool) or not isinstance(processes, int) or processes < 1:
            raise ConfigError(f"The 'processes' parameter of PendingTreeShap must be a positive integer. Got "
                             f"{processes!r} instead.")
        self._model, self._rows, self._background = model, rows, background
        self._folder = tempfile.TemporaryDirectory(prefix="audit-tree-shap-")
        chunks = [c for c in np.array_split(rows, min(processes, max(1, len(rows)))) if len(c)]
        arguments = [(model.estimator, chunk, background, model.class_index, model.space) for chunk in chunks]
        self._jobs = _launch(arguments, self._folder.name) if len(rows) else []

    def result(self) -> TreeShapValues:
        if not len(self._rows):
            return _empty(self._model, self._background)
        parts, self._jobs = _collect(self._jobs), []
        return _values(self._model, self._rows, parts, self._background)

    def __enter__(self) -> PendingTreeShap:
        return self

    def __exit__(self, *exc_info) -> None:
        for job, _ in self._jobs:
            job.kill()
            job.wait()
        self._folder.cleanup()


def tree_shap(model: TreeModel, rows: np.ndarray, *, background: np.ndarray | None = None) -> TreeShapValues:
    """Exact tree SHAP of transformed ``rows`` in this process: path-dependent without ``background``, else
    interventional against every background row."""
    if not len(rows):
        return _empty(model, background)
    return _values(model, rows, [_shap_values(model.estimator, rows, background, model.class_index, model.space)],
                   background)

if __name__ == "__main__":  # a worker of _in_subprocesses
    import pickle
    import sys
    from pathlib import Path

    Path(sys.argv[2]).write_bytes(pickle.dumps(_shap_values(*pickle.loads(Path(sys.argv[1]).read_bytes()))))
