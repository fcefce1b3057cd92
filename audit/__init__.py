"""audit-toolkit: audit machine-learning models for fairness and explainability.

The public API is re-exported here (docs/api.md lists it); implementation lives in private modules. The bundled
data sets and demo models are in ``audit.datasets``. Importing this package does not import torch, shap or captum.
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
    RankingConfig,
    RecourseConfig,
    SwapsConfig,
    ProbesConfig,
    QualityConfig,
    SlicesConfig,
    TextConfig,
    load_config,
)
from audit.data._tables import Dataset, build_dataset, read_table
from audit.exec._executors import DaskExecutor, Executor, InProcessExecutor, make_executor
from audit.fairness._metrics import DEFAULT_METRICS, METRICS
from audit.fairness._tables import group_metrics
from audit.demographics._api import inferred_group_metrics
from audit.ranking import (
    PrefixFailure,
    PrefixTest,
    QueryFlag,
    RankingGroup,
    RankingMeasure,
    RankingTable,
    TopKTest,
    ranking_metrics,
)
from audit.fairness._types import (
    Comparison,
    Disparity,
    FairnessTable,
    GroupRow,
    PooledEstimate,
    Pooling,
    PowerRow,
    InferredEstimate,
    InferredMembership,
    InferenceValidation,
    RankedDisparity,
)
from audit.gate._policy import PRESETS, Policy, Rule, evaluate, load_policy, load_preset
from audit.result._records import GateResult
from audit.models._adapters import ModelAdapter, Predictions, load_model, make_adapter
from audit.regulatory._tables import four_fifths, ll144_audit
from audit.result._records import DataRecord, ModelInputs, ModelRecord, RuleOutcome
from audit.result._result import SCHEMA_VERSION, AttributionSummary, AuditResult, Failure, Finding, Skipped
from audit.result._schema import result_schema
from audit.result._sections import (
    Decision,
    MitigationReport,
    ProbeExample,
    ProbeReport,
    ProbeRow,
    ProbeSuite,
    Provenance,
    QualityReport,
    Regulatory,
    Slice,
    SliceReport,
    SliceSearch,
    TextAudit,
)
from audit.run._from_file import fairness_from_file
from audit.run._output import write_outputs
from audit.run._capabilities import explain_gaps
from audit.run._runner import run_audit
from audit.mitigation._frontier import frontier
from audit.probes._suites import run_probes
from audit.result._gap_sections import GapReport
from audit.result._change_sections import AuditChanges
from audit.slices._discover import find_slices
from explainers._causal_lm import CausalLM
from audit.text._audit import classifier_scorer, mention_columns, text_bias_audit
from audit.result._swap_sections import SwapAudit, SwapExample, SwapSuite
from audit.swaps._documents import swap_audit
from audit.swaps._judge_audit import judge_audit
from audit.swaps._judges import CausalLMJudge
from audit.monitor._log import MonitorRun, monitor_log
from audit.store._store import AuditStore, open_store
from audit.recourse import RecourseBatch, RecourseChange, RowRecourse, find_recourse
from audit.result._recourse_sections import RecourseAudit, RecourseExample, RecourseGroup, RecourseTable
from audit.text._lexicons import BUILTIN_LEXICONS, Lexicon, load_lexicon

__version__ = "0.1.0"

__all__ = [
    "AttributionSummary",
    "AuditChanges",
    "AuditConfig",
    "AuditError",
    "AuditResult",
    "build_dataset",
    "BUILTIN_LEXICONS",
    "CapabilityError",
    "CausalLM",
    "CausalLMJudge",
    "classifier_scorer",
    "Comparison",
    "ConfigError",
    "DaskExecutor",
    "DataConfig",
    "DataError",
    "DataRecord",
    "Dataset",
    "Decision",
    "DEFAULT_METRICS",
    "Disparity",
    "evaluate",
    "Executor",
    "explain_gaps",
    "ExplainerConfig",
    "Failure",
    "fairness_from_file",
    "FairnessConfig",
    "FairnessTable",
    "find_recourse",
    "find_slices",
    "Finding",
    "four_fifths",
    "frontier",
    "GapReport",
    "GapsConfig",
    "RankingConfig",
    "RecourseAudit",
    "RecourseBatch",
    "RecourseConfig",
    "RecourseExample",
    "RecourseGroup",
    "RecourseTable",
    "RecourseChange",
    "RowRecourse",
    "SwapsConfig",
    "ranking_metrics",
    "RankingTable",
    "RankingGroup",
    "RankingMeasure",
    "TopKTest",
    "QueryFlag",
    "PrefixTest",
    "PrefixFailure",
    "GateResult",
    "group_metrics",
    "GroupRow",
    "InProcessExecutor",
    "Lexicon",
    "ll144_audit",
    "load_config",
    "load_lexicon",
    "load_model",
    "load_policy",
    "load_preset",
    "make_adapter",
    "make_executor",
    "mention_columns",
    "METRICS",
    "monitor_log",
    "MonitorRun",
    "open_store",
    "AuditStore",
    "MitigationConfig",
    "MitigationReport",
    "ModelAdapter",
    "ModelConfig",
    "ModelError",
    "ModelInputs",
    "ModelRecord",
    "OutputConfig",
    "OutputError",
    "Policy",
    "PooledEstimate",
    "Pooling",
    "PowerRow",
    "InferredEstimate",
    "InferredMembership",
    "InferenceValidation",
    "inferred_group_metrics",
    "Predictions",
    "PRESETS",
    "ProbeExample",
    "ProbeReport",
    "ProbeRow",
    "ProbesConfig",
    "ProbeSuite",
    "Provenance",
    "QualityConfig",
    "QualityReport",
    "RankedDisparity",
    "read_table",
    "Registry",
    "Regulatory",
    "ResourceError",
    "result_schema",
    "Rule",
    "RuleOutcome",
    "run_audit",
    "run_probes",
    "SCHEMA_VERSION",
    "Skipped",
    "Slice",
    "SliceReport",
    "SlicesConfig",
    "swap_audit",
    "SwapAudit",
    "SwapExample",
    "SwapSuite",
    "judge_audit",
    "SliceSearch",
    "text_bias_audit",
    "TextAudit",
    "TextConfig",
    "UnknownComponentError",
    "write_outputs",
]
