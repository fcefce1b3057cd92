"""Model adapters: one way to get decisions and scores out of scikit-learn, torch and plain callables.

An adapter owns its model's device: it resolves it once (the model's own device), batches there, backs
off on out-of-memory and always returns CPU numpy. Model kinds are detected by type name so that a
scikit-learn audit never imports torch.
"""

from __future__ import annotations

import pickle
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from audit._errors import DataError, ModelError, ResourceError
from audit.data._labels import positive_class_index, positive_mask, same_label

__all__ = ["ModelAdapter", "Predictions", "make_adapter", "load_model", "load_model_file", "PrecomputedAdapter"]


@dataclass(frozen=True)
class Predictions:
    """A model's decisions (bool, True = positive class) and, where it has them, its scores."""

    y_pred: np.ndarray
    scores: np.ndarray | None
    score_kind: str | None  # "probability", "decision" or None


def _type_names(obj: Any) -> set[str]:
    return {f"{cls.__module__}.{cls.__qualname__}" for cls in type(obj).__mro__}


def is_torch_module(obj: Any) -> bool:
    return "torch.nn.modules.module.Module" in _type_names(obj)


class ModelAdapter(ABC):
    """The one interface the runner and the explainers use to call a model."""

    kind: str = "model"
    capabilities: frozenset[str] = frozenset()
    device: str = "cpu"
    positive_index: int | None = None  # the positive class's column in predict_proba (scikit-learn), when known
    output_evidence: str | None = None  # how the output was read (probabilities, logits, ...): recorded
    reading: str | None = None  # "probability", "logit" or "label": what model.output = "auto" resolved to
    positive_source: str | None = None  # how the model's positive class was found: recorded

    def __init__(self, model: Any, *, threshold: float = 0.5) -> None:
        self.model = model
        self.threshold = threshold

    @abstractmethod
    def predict(self, features: pd.DataFrame) -> Predictions:
        """Decisions and scores for every row of ``features``."""

    def pinned(self) -> ModelAdapter:
        """This adapter with the reading that ``model.output = "auto"`` resolved on the audit's data held fixed:
        steps that ask the model about changed rows (recourse) must read its output the same way, even where a
        batch alone could be read both ways (every score above 0.5)."""
        import copy

        if getattr(self, "output", None) != "auto" or self.reading not in ("probability", "logit"):
            return self
        held = copy.copy(self)
        held.output = self.reading  # type: ignore[attr-defined]
        return held

    def score(self, features: pd.DataFrame) -> np.ndarray:
        """The real-valued output that explainers attribute (a probability or a decision value)."""
        scores = self.predict(features).scores
        if scores is None:
            from audit._errors import CapabilityError

            raise CapabilityError(
                f"The {self.kind} model gives decisions only (no probabilities or scores), "
                "so its output cannot be attributed. Use a model with predict_proba or "
                "decision_function."
            )
        return scores

    @property
    def score_kind(self) -> str | None:
        return None

    def predict_values(self, features: pd.DataFrame, *, task: str, classes: list) -> np.ndarray:
        """Raw predictions for regression (numbers) and multiclass (class labels) audits."""
        from audit._errors import CapabilityError

        raise CapabilityError(f"The {self.kind} adapter cannot make {task} predictions.")

    def summary(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "type": _type_name(type(self.model)),
            "module": type(self.model).__module__,
            "device": self.device,
            "capabilities": sorted(self.capabilities),
            "threshold": self.threshold,
            "score_kind": self.score_kind,
        }


def _type_name(cls: type) -> str:
    """A class's name as a reader knows it: ``Pipeline``; a class defined inside a function (``f.<locals>.Net``)
    by its module and own name (``mymodule.Net``), never the interpreter's ``<locals>`` path."""
    if "<locals>" in cls.__qualname__:
        return f"{cls.__module__}.{cls.__name__}"
    return cls.__qualname__


class SklearnAdapter(ModelAdapter):
    """Anything with ``predict_proba``, ``decision_function`` or ``predict`` (scikit-learn style)."""

    kind = "sklearn"

    def __init__(
        self, model: Any, *, positive_label: Any, threshold: float = 0.5, output: str = "auto", task: str = "binary"
    ) -> None:
        super().__init__(model, threshold=threshold)
        self._method = self._choose_method(model, "label" if task != "binary" else output)
        classes = getattr(model, "classes_", None)
        self._classes = None if classes is None else list(np.asarray(classes).tolist())
        self.positive_index, self.positive_source = None, None
        if classes is not None and task == "binary":
            self.positive_index, self.positive_source = positive_class_index(classes, positive_label)
        self._positive_label = positive_label
        self.output_evidence = {
            "predict_proba": "the model's predict_proba(): probabilities of the positive class",
            "decision_function": "the model's decision_function() (it has no predict_proba): decision values, "
            "positive above 0; calibration metrics do not apply",
            "predict": "the model's predict() (no predict_proba or decision_function): decisions only",
        }[self._method]
        if output != "auto":
            self.output_evidence += f" (model.output = {output!r})"
        self.capabilities = frozenset(
            {"labels"}
            | ({"scores"} if self._method != "predict" else set())
            | ({"proba"} if self._method == "predict_proba" else set())
        )

    @staticmethod
    def _choose_method(model: Any, output: str) -> str:
        wanted = {
            "probability": ["predict_proba"],
            "decision": ["decision_function"],
            "label": ["predict"],
            "auto": ["predict_proba", "decision_function", "predict"],
        }.get(output)
        if wanted is None:
            raise ModelError(
                f"model.output={output!r} does not apply to scikit-learn models. "
                "Use 'auto', 'probability', 'decision' or 'label'."
            )
        for method in wanted:
            if callable(getattr(model, method, None)):
                return method
        raise ModelError(
            f"The model ({type(model).__qualname__}) has no usable {' / '.join(wanted)} method. "
            "Pass a fitted classifier, a torch nn.Module, or a callable that returns scores."
        )

    @property
    def score_kind(self) -> str | None:
        return {"predict_proba": "probability", "decision_function": "decision"}.get(self._method)

    @property
    def method(self) -> str:
        """The model's method the audit calls: ``predict_proba``, ``decision_function`` or ``predict``."""
        return self._method

    def _call(self, method: str, features: pd.DataFrame) -> np.ndarray:
        try:
            return np.asarray(getattr(self.model, method)(features))
        except Exception as err:
            expected = getattr(self.model, "feature_names_in_", None)
            if expected is not None:
                missing = [c for c in expected if c not in features.columns]
                if missing:
                    raise DataError(
                        f"The model expects columns that the features lack: {missing}. "
                        "List them in data.features, or check the data file."
                    ) from err
            raise ModelError(
                f"The model's {method}() failed on the audit data: {type(err).__name__}: {err}. "
                "Check that data.features match the columns the model was trained on."
            ) from err

    def predict_values(self, features: pd.DataFrame, *, task: str, classes: list) -> np.ndarray:
        return self._call("predict", features)

    def predict(self, features: pd.DataFrame) -> Predictions:
        if self._method == "predict_proba":
            proba = _checked_output(
                self._call("predict_proba", features), len(features), "predict_proba", probability=True
            )
            index = self.positive_index if self.positive_index is not None else proba.shape[1] - 1
            scores = proba[:, index].astype(float)
            return Predictions(scores >= self.threshold, scores, "probability")
        if self._method == "decision_function":
            decision = _checked_output(self._call("decision_function", features), len(features), "decision_function")
            if decision.ndim != 1:
                raise ModelError(
                    "decision_function returned one column per class; binary audits need one "
                    "value per row. Use predict_proba, or a binary model."
                )
            if self.positive_index == 0:
                decision = -decision
            return Predictions(decision > 0, decision, "decision")
        labels = self._call("predict", features)
        if len(labels) != len(features):
            raise ModelError(
                f"The model's predict() returned {len(labels)} values for {len(features)} rows. It must "
                "return one label per row."
            )
        positive = self._classes[self.positive_index] if self.positive_index is not None else self._positive_label
        return Predictions(_equals(labels, positive), None, None)


def _checked_output(raw: Any, rows: int, where: str, *, probability: bool = False) -> np.ndarray:
    """A model's numeric output, refused (ModelError: bad model output is bad input) when it has the wrong
    number of rows, is not numeric, holds NaN or infinity, or is a probability outside [0, 1]."""
    array = np.asarray(raw)
    if len(array) != rows:
        raise ModelError(
            f"The model's {where}() returned {len(array)} rows for {rows} rows of data. It must return "
            "one row per input row."
        )
    try:
        array = array.astype(float)
    except (TypeError, ValueError) as err:
        example = array.reshape(-1)[0] if array.size else None
        raise ModelError(
            f"The model's {where}() returned non-numeric values (e.g. {example!r}); an audit needs numbers."
        ) from err
    bad = ~np.isfinite(array)
    if bad.any():
        raise ModelError(
            f"The model's {where}() returned {int(bad.sum())} NaN or infinite values (first at row "
            f"{int(np.argwhere(bad)[0][0])}). Fix the model or the rows it cannot score."
        )
    if probability and array.size and (array.min() < 0 or array.max() > 1):
        raise ModelError(
            f"The model's {where}() returned values outside [0, 1] (range [{array.min():.3g}, "
            f'{array.max():.3g}]): not probabilities. Set model.output = "decision" or fix the model.'
        )
    return array


def _equals(values: np.ndarray, target: Any) -> np.ndarray:
    return positive_mask(values, target)


def _to_probability(
    raw: np.ndarray, output: str, where: str, *, final_activation: str | None = None
) -> tuple[np.ndarray, str, str, str]:
    """Turn a model's raw output (n,), (n, 1) or (n, 2) into positive-class scores.

    Returns (scores, kind, evidence, reading): with ``output = "auto"`` the reading (probabilities or logits) is
    decided from evidence that is recorded, and refused with a ConfigError naming ``model.output`` when the
    evidence fits both readings.
    """
    from audit._errors import ConfigError

    try:
        raw = np.asarray(raw, dtype=float)
    except (TypeError, ValueError) as err:
        raise ModelError(
            f"{where} returned values that are not numbers (e.g. {np.asarray(raw).reshape(-1)[:1]!r}); "
            'set model.output = "label" if it returns labels.'
        ) from err
    if not np.all(np.isfinite(raw)):
        raise ModelError(
            f"{where} returned {int((~np.isfinite(raw)).sum())} NaN or infinite values. Fix the model "
            "or the rows it cannot score."
        )
    if raw.ndim == 2 and raw.shape[1] == 1:
        raw = raw[:, 0]
    if raw.ndim == 2 and raw.shape[1] == 2:
        sums_to_one = bool(np.all((raw >= 0) & (raw <= 1)) and np.allclose(raw.sum(axis=1), 1.0, atol=1e-4))
        if output == "probability" or (output == "auto" and sums_to_one):
            return (
                raw[:, 1],
                "probability",
                (
                    'model.output = "probability"'
                    if output == "probability"
                    else "two non-negative columns that sum to 1 in every row: probabilities"
                ),
                "probability",
            )
        shifted = raw - raw.max(axis=1, keepdims=True)
        exp = np.exp(shifted)
        evidence = (
            'model.output = "logit"'
            if output == "logit"
            else "two columns that do not sum to 1: logits, through a softmax"
        )
        return exp[:, 1] / exp.sum(axis=1), "probability", evidence, "logit"
    if raw.ndim != 1:
        raise ModelError(
            f"{where} returned an array of shape {raw.shape}; a binary audit needs shape (n,), (n, 1) or (n, 2)."
        )
    if output == "label":
        return raw, "label", 'model.output = "label"', "label"
    if output == "logit":
        return 1.0 / (1.0 + np.exp(-raw)), "probability", 'model.output = "logit": through a sigmoid', "logit"
    if output == "probability":
        if len(raw) and (raw.min() < 0 or raw.max() > 1):
            raise ModelError(
                f"{where} returned values outside [0, 1] (range [{raw.min():.3g}, {raw.max():.3g}]) but "
                'model.output = "probability". Set model.output = "logit" or "auto".'
            )
        return raw, "probability", 'model.output = "probability"', "probability"
    low, high = (float(raw.min()), float(raw.max())) if len(raw) else (0.0, 0.0)
    if low < 0 or high > 1:
        return (
            1.0 / (1.0 + np.exp(-raw)),
            "probability",
            f"outputs range over [{low:.3g}, {high:.3g}], outside [0, 1]: logits, through a sigmoid",
            "logit",
        )
    if final_activation is not None:
        return raw, "probability", f"the model ends in {final_activation}: probabilities", "probability"
    if final_activation is None and where.startswith("The torch"):
        raise ConfigError(
            f"{where} returns values in [{low:.3g}, {high:.3g}] and does not end in a Sigmoid or "
            "Softmax module: they could be probabilities or logits. Set model.output = "
            '"probability" or "logit" (in Python: make_adapter(..., output=...)).'
        )
    if low < 0.5:
        return (
            raw,
            "probability",
            (
                f"outputs lie in [{low:.3g}, {high:.3g}]: read as probabilities (as logits "
                'every row would be decided positive); set model.output = "logit" if not'
            ),
            "probability",
        )
    raise ConfigError(
        f"{where} returns values in [{low:.3g}, {high:.3g}]: probabilities that select every row, "
        'or logits. Set model.output = "probability" or "logit".'
    )


def _final_activation(model: Any) -> str | None:
    """The name of a torch model's last module when it is a Sigmoid or Softmax (outputs are probabilities)."""
    modules = list(model.modules()) if hasattr(model, "modules") else []
    last = modules[-1] if modules else None
    name = type(last).__name__ if last is not None else ""
    return name if name in ("Sigmoid", "Softmax") else None


class CallableAdapter(ModelAdapter):
    """A plain function ``f(features: DataFrame) -> scores or labels``."""

    kind = "callable"

    def __init__(self, model: Callable, *, threshold: float = 0.5, output: str = "auto") -> None:
        super().__init__(model, threshold=threshold)
        self.output = output
        self.capabilities = frozenset({"labels", "scores"}) if output != "label" else frozenset({"labels"})

    @property
    def score_kind(self) -> str | None:
        return None if self.output == "label" else "probability"

    def predict_values(self, features: pd.DataFrame, *, task: str, classes: list) -> np.ndarray:
        return self._raw(features)

    def _raw(self, features: pd.DataFrame) -> np.ndarray:
        try:
            raw = np.asarray(self.model(features))
        except Exception as err:
            raise ModelError(f"The model function failed on the audit data: {type(err).__name__}: {err}.") from err
        if raw.ndim == 0:
            raise ModelError(
                f"The model function returned one value ({raw.item()!r}) for {len(features)} rows: it "
                "must map a DataFrame of features to one score or label per row."
            )
        if len(raw) != len(features):
            raise ModelError(
                f"The model function returned {len(raw)} values for {len(features)} rows. "
                "It must return one score or label per row."
            )
        if raw.dtype.kind in "fc" and not np.all(np.isfinite(raw)):
            raise ModelError(
                f"The model function returned {int((~np.isfinite(raw)).sum())} NaN or infinite "
                "values. Fix the model or the rows it cannot score."
            )
        return raw

    def predict(self, features: pd.DataFrame) -> Predictions:
        raw = self._raw(features)
        if self.output == "label" or raw.dtype == bool:
            return Predictions(raw.astype(bool), None, None)
        scores, kind, self.output_evidence, self.reading = _to_probability(raw, self.output, "The model function")
        return Predictions(scores >= self.threshold, scores, kind)


class TorchAdapter(ModelAdapter):
    """A torch ``nn.Module`` that maps a float tensor (n, d) to logits or probabilities.

    Batches run on the model's own device under ``torch.inference_mode``; a CUDA out-of-memory error
    halves the batch and retries.
    """

    kind = "torch"

    def __init__(
        self, model: Any, *, threshold: float = 0.5, output: str = "auto", batch_size: int = 4096, device: str = "auto"
    ) -> None:
        super().__init__(model, threshold=threshold)
        import torch

        self._torch = torch
        self.output = output
        self.batch_size = batch_size
        parameter = next(iter(model.parameters()), None)
        model_device = parameter.device if parameter is not None else torch.device("cpu")
        if device not in ("auto", str(model_device)) and torch.device(device) != model_device:
            raise ModelError(
                f"model.device={device!r} but the model lives on {model_device}. The toolkit never "
                'moves a model: move it yourself, or set model.device = "auto".'
            )
        self.device = str(model_device)
        self.capabilities = frozenset({"labels", "scores", "gradients"})

    @property
    def score_kind(self) -> str | None:
        return "probability"

    def tensor(self, features: pd.DataFrame):
        """The float32 tensor of ``features`` the model takes (on the CPU; explainers move it to ``device``)."""
        non_numeric = [c for c in features if not pd.api.types.is_numeric_dtype(features[c])]
        if non_numeric:
            raise DataError(
                f"A torch model takes numeric features only, but {non_numeric} are not numeric. "
                "Encode them into numbers first, or wrap the model with its preprocessing in a "
                "callable."
            )
        return self._torch.tensor(features.to_numpy(dtype=np.float32))  # a copy: pandas may hand out read-only views

    def raw_output(self, features: pd.DataFrame) -> np.ndarray:
        torch = self._torch
        inputs = self.tensor(features)
        outputs, start, batch = [], 0, self.batch_size
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.inference_mode():
                while start < len(inputs):
                    try:
                        chunk = inputs[start : start + batch].to(self.device)
                        outputs.append(self.model(chunk).float().cpu().numpy())
                        start += batch
                    except torch.cuda.OutOfMemoryError as err:
                        if batch == 1:
                            raise ResourceError("The model ran out of GPU memory on a single row.") from err
                        batch = max(1, batch // 2)
                        torch.cuda.empty_cache()
        except (ResourceError, DataError):
            raise
        except Exception as err:
            raise ModelError(
                f"The torch model failed on the audit data: {type(err).__name__}: {err}. "
                f"It receives a float32 tensor of shape (batch, {inputs.shape[1]})."
            ) from err
        finally:
            self.model.train(was_training)
        return np.concatenate(outputs) if outputs else np.empty((0,))

    def predict_values(self, features: pd.DataFrame, *, task: str, classes: list) -> np.ndarray:
        raw = self.raw_output(features)
        if task == "regression":
            if raw.ndim == 2 and raw.shape[1] == 1:
                raw = raw[:, 0]
            if raw.ndim != 1:
                raise ModelError(f"A regression model must return shape (n,) or (n, 1). Got {raw.shape} instead.")
            return raw
        if raw.ndim != 2 or raw.shape[1] != len(classes):
            raise ModelError(
                f"A multiclass torch model must return one logit per class, shape (n, {len(classes)}) "
                f"for the classes {classes} (sorted label values). Got {raw.shape} instead."
            )
        return np.asarray(classes, dtype=object)[raw.argmax(axis=1)].astype(str)

    def predict(self, features: pd.DataFrame) -> Predictions:
        scores, kind, self.output_evidence, self.reading = _to_probability(
            self.raw_output(features), self.output, "The torch model", final_activation=_final_activation(self.model)
        )
        if kind == "label":
            return Predictions(scores.astype(bool), None, None)
        return Predictions(scores >= self.threshold, scores, kind)


class PrecomputedAdapter(ModelAdapter):
    """No model: decisions (and optional scores) are columns of the data, as a vendor's tool gives them."""

    kind = "predictions"

    def __init__(
        self,
        predictions: pd.Series,
        scores: pd.Series | None,
        *,
        positive_label: Any,
        threshold: float = 0.5,
        task: str = "binary",
        label_values: list | None = None,
    ) -> None:
        super().__init__(None, threshold=threshold)
        values = predictions.to_numpy()
        self._values = values
        self.capabilities = frozenset({"labels"})
        if task != "binary":
            self._predictions = Predictions(values, None, None)
            return
        distinct = set(pd.unique(predictions).tolist())
        if distinct <= {0, 1} or distinct <= {False, True}:
            y_pred = values.astype(bool)
        else:
            y_pred = _equals(values, positive_label)
            # a vendor that rejects everyone is auditable: decisions may all be negative values of the label
            allowed = [str(v) for v in (label_values or [])]
            known = [v for v in distinct if same_label(v, positive_label) or str(v) in allowed]
            if (label_values is not None and len(known) != len(distinct)) or (label_values is None and not known):
                strange = sorted(str(v) for v in distinct if v not in known)[:10]
                raise DataError(
                    f"The prediction column {predictions.name!r} holds {strange}, which are neither 0/1, "
                    f"True/False nor values of the label column (positive: {positive_label!r}). Map the "
                    "decisions to the label's values."
                )
        score_values = None if scores is None else scores.to_numpy(dtype=float)
        score_kind = None
        if score_values is not None:
            # a 1-10 risk score is a score, not a probability: rank metrics apply, calibration does not
            in_unit = len(score_values) and score_values.min() >= 0 and score_values.max() <= 1
            score_kind = "probability" if in_unit else "score"
        self._predictions = Predictions(y_pred, score_values, score_kind)

    def predict(self, features: pd.DataFrame) -> Predictions:
        return self._predictions

    def predict_values(self, features: pd.DataFrame, *, task: str, classes: list) -> np.ndarray:
        return self._values

    def summary(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "type": None,
            "module": None,
            "device": None,
            "capabilities": ["labels"],
            "threshold": self.threshold,
            "score_kind": self._predictions.score_kind,
        }


def make_adapter(
    model: Any,
    *,
    positive_label: Any,
    kind: str = "auto",
    output: str = "auto",
    threshold: float = 0.5,
    batch_size: int = 4096,
    device: str = "auto",
    task: str = "binary",
) -> ModelAdapter:
    """Wrap ``model`` in the adapter that fits it."""
    if isinstance(model, ModelAdapter):
        return model
    if kind in ("auto", "torch") and is_torch_module(model):
        return TorchAdapter(model, threshold=threshold, output=output, batch_size=batch_size, device=device)
    if kind == "torch":
        raise ModelError(f"model.kind='torch' but the model is a {type(model).__qualname__}, not a torch nn.Module.")
    has_method = any(callable(getattr(model, m, None)) for m in ("predict_proba", "decision_function", "predict"))
    if kind in ("auto", "sklearn") and has_method:
        return SklearnAdapter(model, positive_label=positive_label, threshold=threshold, output=output, task=task)
    if kind in ("auto", "callable") and callable(model) and not has_method:
        return CallableAdapter(model, threshold=threshold, output=output)
    raise ModelError(
        f"The model ({type(model).__qualname__}) has no usable predict method: expected "
        "predict_proba, decision_function or predict (scikit-learn style), a torch nn.Module, or a "
        "callable that maps a DataFrame of features to scores."
    )


def _is_torchscript(path: Path) -> bool:
    import zipfile

    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(name.endswith("/constants.pkl") for name in archive.namelist())


MODEL_SUFFIXES = (".skops", ".joblib", ".pkl", ".pickle", ".pt2", ".pt", ".pth")
_RUNS_CODE = "runs code from the file"


def load_model(path: str | Path, *, trusted: tuple[str, ...] | list[str] = (), weights_only: bool = True) -> Any:
    """Load a model file: skops (``.skops``), joblib/pickle (``.joblib``, ``.pkl``, ``.pickle``) or torch
    (``.pt2``, ``.pt``, ``.pth``).

    - ``.skops`` is the safe path for scikit-learn models: only scikit-learn's own types and those named in
      ``trusted`` (``"module.Class"``) are built; a file that needs any other type is refused with the list.
    - joblib and pickle files run code from the file when loaded: load only files you trust.
    - A torch.export program (``.pt2``) loads with ``torch.export.load``, a TorchScript archive with
      ``torch.jit.load``: neither unpickles Python objects. Other torch files load with
      ``torch.load(weights_only=True)``, which refuses a pickled ``nn.Module``; ``weights_only=False`` loads one
      and runs code from the file (the config's ``model.weights_only = false``).
    """
    return load_model_file(path, trusted=tuple(trusted), weights_only=weights_only)[0]


def load_model_file(path: str | Path, *, trusted: tuple[str, ...] = (), weights_only: bool = True) -> tuple[Any, str]:
    """``load_model``, and how the file was read (the result records it as model.loaded_with)."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"The model file {str(path)!r} does not exist. Check model.path in the config.")
    suffix = path.suffix.lower()
    if suffix not in MODEL_SUFFIXES:
        raise ModelError(
            f"Cannot load the model file {str(path)!r}: expected {', '.join(MODEL_SUFFIXES[:-1])} or "
            f"{MODEL_SUFFIXES[-1]}. Got {suffix or '(no suffix)'!r} instead."
        )
    try:
        if suffix == ".skops":
            return _load_skops(path, trusted)
        if suffix in (".joblib", ".pkl", ".pickle"):
            import joblib

            return joblib.load(path), f"joblib (pickle: {_RUNS_CODE})"
        return _load_torch(path, weights_only)
    except ModelError:
        raise
    except (
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        OSError,
        ModuleNotFoundError,
        AttributeError,
        RuntimeError,
        IndexError,
        KeyError,
        TypeError,
        ImportError,
    ) as err:
        raise ModelError(
            f"The model file {str(path)!r} could not be loaded: {type(err).__name__}: {err}. "
            "Check that it is a complete model file of that format and that the packages it was saved "
            "with are installed (loading a pickle runs its code: load only files you trust)."
        ) from err


def _load_skops(path: Path, trusted: tuple[str, ...]) -> tuple[Any, str]:
    import skops.io

    needed = sorted(skops.io.get_untrusted_types(file=path))
    refused = [name for name in needed if name not in trusted]
    if refused:
        listed = ", ".join(f'"{name}"' for name in refused)
        raise ModelError(
            f"The skops file {str(path)!r} needs types that are not trusted by default: "
            f"{', '.join(refused)}. Loading builds them, so they are refused unless you trust them: "
            f"add them to model.trusted in the config (trusted = [{listed}])."
        )
    extra = f"; trusted by model.trusted: {', '.join(needed)}" if needed else ""
    return skops.io.load(path, trusted=needed), f"skops (only scikit-learn's own types{extra})"


def _load_torch(path: Path, weights_only: bool) -> tuple[Any, str]:
    import torch

    if path.suffix.lower() == ".pt2":
        return torch.export.load(str(path)).module(), "torch.export.load (an exported program: no pickled Python code)"
    if _is_torchscript(path):
        return torch.jit.load(str(path), map_location="cpu"), "torch.jit.load (TorchScript: no pickled Python code)"
    if not weights_only:
        return (
            torch.load(path, map_location="cpu", weights_only=False),
            f"torch.load(weights_only=False): {_RUNS_CODE} (model.weights_only = false)",
        )
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ModelError(
            f"The model file {str(path)!r} is a pickled torch module, which torch.load(weights_only="
            f"True) refuses ({first}): loading it runs code from the file. Export the model instead "
            "(torch.export.save(torch.export.export(model, example_inputs, dynamic_shapes=...), "
            "'model.pt2')), or, if you trust the file, set model.weights_only = false in the config."
        ) from err
    if not is_torch_module(loaded):
        raise ModelError(
            f"The model file {str(path)!r} holds {type(loaded).__name__} (weights only, such as a "
            "state_dict), not a model to call. Build the module in Python, load the weights and pass "
            "it as run_audit(model=...), or export it (torch.export.save(..., 'model.pt2'))."
        )
    return loaded, "torch.load(weights_only=True)"


def model_input_columns(model: Any) -> tuple[list[str] | None, str]:
    """The columns a model takes, and where that was read, or (None, why not) when the model does not say.

    A scikit-learn model fitted on a DataFrame names its inputs (``feature_names_in_``); a ColumnTransformer
    (alone, or first in a Pipeline) narrows them to the columns its transformers use, so a column it drops is
    neither fed to the model nor attributed.
    """
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        return None, (
            "the model does not name its inputs (no feature_names_in_): every column without another "
            "role is an input; set data.features to choose"
        )
    names = [str(n) for n in np.asarray(names).tolist()]
    transformer = model
    steps = getattr(model, "steps", None)
    if isinstance(steps, list) and steps:
        transformer = steps[0][1]
    used = _column_transformer_inputs(transformer, names)
    if used is not None and set(used) != set(names):
        dropped = [n for n in names if n not in used]
        return used, (
            f"the model's ColumnTransformer uses {len(used)} of the {len(names)} columns it was fitted "
            f"on (feature_names_in_); it drops {', '.join(dropped)}"
        )
    return names, "the model's feature_names_in_ (the columns it was fitted on)"


def _column_transformer_inputs(transformer: Any, names: list[str]) -> list[str] | None:
    """Input columns that a fitted ColumnTransformer's transformers (and its remainder) use, in input order."""
    fitted = getattr(transformer, "transformers_", None)
    if fitted is None or not hasattr(transformer, "remainder"):
        return None
    used: set[str] = set()
    for _, step, columns in fitted:
        if isinstance(step, str) and step == "drop":
            continue
        try:
            selected = np.asarray(names, dtype=object)[columns] if not _all_strings(columns) else list(columns)
        except (IndexError, TypeError, ValueError):
            return None  # a column spec we cannot read: keep every named input
        used.update(str(c) for c in np.atleast_1d(selected).tolist())
    return [n for n in names if n in used]


def _all_strings(columns: Any) -> bool:
    if isinstance(columns, str):
        return True
    try:
        return len(columns) > 0 and all(isinstance(c, str) for c in columns)
    except TypeError:
        return False
