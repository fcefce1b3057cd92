"""The result's records of what was audited: the data, the model and the policy gate's verdict (schema 2.0).

In schema 1.x these were free-form objects; here every field is typed and documented once, so that a reader (the
CLI, the report, the diff, a dossier) reads attributes and a foreign or edited file is refused by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from audit.result._sections import _Section
from audit.result._serde import optional

__all__ = ["DataRecord", "ModelRecord", "ModelInputs", "GateResult", "RuleOutcome"]


@dataclass(frozen=True)
class DataRecord(_Section):
    """The audited data: rows with a label and sensitive columns (``kind = "rows"``), or the bundled texts of a
    language model's probe suites (``kind = "probes"``: only ``suites`` is set)."""

    kind: str  # "rows" | "probes"
    n_rows: int | None = None
    label: str | None = None
    positive_label: Any = None
    label_values: list[Any] = field(default_factory=list)
    task: str | None = None  # "binary" | "multiclass" | "regression"
    favourable: str | None = None  # "positive" | "negative" (binary only)
    favourable_source: str | None = None
    positive_rate: float | None = None
    label_mean: float | None = None  # regression
    features: list[str] = field(default_factory=list)
    numeric_features: list[str] = field(default_factory=list)
    categorical_features: list[str] = field(default_factory=list)
    sensitive_features: list[str] = field(default_factory=list)
    groups: dict[str, dict[str, int]] = field(default_factory=dict)  # sensitive column -> group -> rows
    missing_sensitive: dict[str, int] = field(default_factory=dict)  # rows without a value, per column
    text_column: str | None = None
    empty_texts_skipped: list[Any] = field(default_factory=list)  # row ids of empty texts left out
    engine: str = "memory"  # "memory" | "partitions"
    suites: list[str] = field(default_factory=list)  # probes: the suites run


@dataclass(frozen=True)
class ModelInputs(_Section):
    features: list[str]  # the columns the model was given
    source: str  # which setting chose them


@dataclass(frozen=True)
class ModelRecord(_Section):
    """The audited model as the audit saw it; fields that do not apply to its kind are None."""

    kind: str  # "sklearn" | "torch" | "callable" | "text" | "predictions" | "causal-lm"
    type: str | None = None  # its class
    module: str | None = None
    device: str | None = None
    capabilities: list[str] = field(default_factory=list)  # "labels", "proba", "scores", ...
    threshold: float | None = None
    score_kind: str | None = None  # "probability" | "logit" | "score" | ...
    task: str | None = None
    loaded_with: str | None = None  # how a model file was read (see docs/config.md, "Loading model files safely")
    inputs: ModelInputs | None = None
    sensitive_inputs: dict[str, bool | None] = field(default_factory=dict)  # does the model take the column?
    accuracy: float | None = None
    mae: float | None = None  # regression
    positive_rate_predicted: float | None = None
    labels: list[str] | None = None  # text classifiers: the class names
    positive_class_index: int | None = None
    positive_source: str | None = None
    max_length: int | None = None
    architecture: str | None = None  # language models
    parameters: int | None = None
    path: str | None = None


@dataclass(frozen=True)
class RuleOutcome(_Section):
    """One rule of one policy at one scope (a table, a group, a step)."""

    policy: str
    rule: str
    scope: str
    status: str  # pass | fail | error | skipped | not applicable
    severity: str  # error | warning
    message: str
    value: float | None = None
    checked_value: float | None = None  # the interval's bound for confident rules, else the value
    threshold: float | None = None
    compare: str | None = None
    # 2.2, on a group too small to check: the power to find a gap at the rule's line, and the rows for 80%
    power: float | None = optional()
    rows_needed: int | None = optional()


@dataclass(frozen=True)
class GateResult(_Section):
    """The policy gate's verdict (`audit check`): every outcome, the policies with their hashes, the counts."""

    outcomes: list[RuleOutcome]
    policies: list[dict[str, str]]  # name, source, sha256
    passed: bool
    counts: dict[str, int] = field(default_factory=dict)  # status -> outcomes
