"""audit-toolkit: audit machine-learning models for fairness and explainability.

The public API is re-exported here; implementation lives in private modules. Importing this package does
not import torch, shap or captum.
"""

from audit._errors import (
    AuditError,
    CapabilityError,
    ConfigError,
    DataError,
    ModelError,
    OutputError,
    ResourceError,
    UnknownComponentError,
)
from audit._registry import Registry
from audit.config._settings import (
    AuditConfig,
    DataConfig,
    ExplainerConfig,
    FairnessConfig,
    ModelConfig,
    OutputConfig,
    MitigationConfig,
    GapsConfig,
    ProbesConfig,
    QualityConfig,
    SlicesConfig,
    TextConfig,
    load_config,
)
from audit.data._tables import Dataset, build_dataset, read_table
from audit.demo._demo import (DEMO_FEATURES, demo_config, heldout_tweets, llm_demo_config, load_adult, load_tweets,
                              text_demo_config, train_adult_model)
from audit.exec._executors import DaskExecutor, Executor, InProcessExecutor, make_executor
from audit.fairness._metrics import DEFAULT_METRICS, METRICS
from audit.fairness._tables import group_metrics
from audit.fairness._types import FairnessTable
from audit.gate._policy import PRESETS, GateResult, Policy, Rule, evaluate, load_policy, load_preset
from audit.models._adapters import ModelAdapter, Predictions, load_model, make_adapter
from audit.regulatory._tables import four_fifths, ll144_audit
from audit.result._result import AttributionSummary, AuditResult, Failure, Finding, Skipped
from audit.result._sections import (Decision, MitigationReport, ProbeExample, ProbeReport, ProbeRow, ProbeSuite,
                                    Provenance, QualityReport, Regulatory, Slice, SliceReport, SliceSearch, TextAudit)
from audit.run._from_file import fairness_from_file
from audit.run._output import write_outputs
from audit.run._runner import run_audit
from audit.slices._discover import find_slices
from explainers._causal_lm import CausalLM
from audit.text._audit import classifier_scorer, mention_columns, text_bias_audit
from audit.text._lexicons import BUILTIN_LEXICONS, Lexicon, load_lexicon

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
    "find_slices",
    "Slice",
    "SliceReport",
    "SliceSearch",
    "SlicesConfig",
    "MitigationConfig",
    "GapsConfig",
    "MitigationReport",
    "CausalLM",
    "ProbesConfig",
    "ProbeExample",
    "ProbeReport",
    "ProbeRow",
    "ProbeSuite",
    "heldout_tweets",
    "load_policy",
    "load_preset",
    "make_executor",
    "text_demo_config",
    "llm_demo_config",
    "AttributionSummary",
    "AuditConfig",
    "AuditError",
    "AuditResult",
    "Decision",
    "OutputError",
    "Provenance",
    "QualityReport",
    "Regulatory",
    "TextAudit",
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
