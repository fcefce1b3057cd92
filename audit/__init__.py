"""audit-toolkit: audit machine-learning models for fairness and explainability.

The public API is re-exported here; implementation lives in private modules. Importing this package does
not import torch, shap or captum.
"""

from audit._config import (
    AuditConfig,
    DataConfig,
    ExplainerConfig,
    FairnessConfig,
    ModelConfig,
    OutputConfig,
    QualityConfig,
    TextConfig,
    load_config,
)
from audit._data import Dataset, build_dataset, read_table
from audit._demo import (DEMO_FEATURES, demo_config, heldout_tweets, load_adult, load_tweets, text_demo_config,
                         train_adult_model)
from audit._errors import (
    AuditError,
    CapabilityError,
    ConfigError,
    DataError,
    ModelError,
    ResourceError,
    UnknownComponentError,
)
from audit._fairness import FairnessTable, group_metrics
from audit._lexicons import BUILTIN_LEXICONS, Lexicon, load_lexicon
from audit._metrics import DEFAULT_METRICS, METRICS
from audit._regulatory import four_fifths, ll144_audit
from audit._models import ModelAdapter, Predictions, load_model, make_adapter
from audit._executors import DaskExecutor, Executor, InProcessExecutor, make_executor
from audit._output import write_outputs
from audit._policy import PRESETS, GateResult, Policy, Rule, evaluate, load_policy, load_preset
from audit._registry import Registry
from audit._result import AttributionSummary, AuditResult, Failure, Finding, Skipped
from audit._runner import run_audit
from audit._scale import fairness_from_file
from audit._text_audit import classifier_scorer, mention_columns, text_bias_audit

__version__ = "0.1.0"

__all__ = [
    "BUILTIN_LEXICONS",
    "DEFAULT_METRICS",
    "DEMO_FEATURES",
    "METRICS",
    "PRESETS",
    "DaskExecutor",
    "Executor",
    "GateResult",
    "InProcessExecutor",
    "Policy",
    "QualityConfig",
    "Rule",
    "demo_config",
    "evaluate",
    "fairness_from_file",
    "heldout_tweets",
    "load_policy",
    "load_preset",
    "make_executor",
    "text_demo_config",
    "AttributionSummary",
    "AuditConfig",
    "AuditError",
    "AuditResult",
    "CapabilityError",
    "ConfigError",
    "DataConfig",
    "DataError",
    "Dataset",
    "ExplainerConfig",
    "FairnessConfig",
    "FairnessTable",
    "Failure",
    "Finding",
    "Lexicon",
    "ModelAdapter",
    "ModelConfig",
    "ModelError",
    "OutputConfig",
    "Predictions",
    "Registry",
    "ResourceError",
    "Skipped",
    "TextConfig",
    "UnknownComponentError",
    "build_dataset",
    "classifier_scorer",
    "four_fifths",
    "ll144_audit",
    "group_metrics",
    "load_adult",
    "load_config",
    "load_lexicon",
    "load_model",
    "load_tweets",
    "make_adapter",
    "mention_columns",
    "read_table",
    "run_audit",
    "text_bias_audit",
    "train_adult_model",
    "write_outputs",
]
