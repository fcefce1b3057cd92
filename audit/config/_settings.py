"""The audit configuration: one validated object, loaded from TOML or built in Python.

Validation happens here and only here (``__post_init__`` of each section), so a config built in Python
and one read from a file fail with the same messages. Error locations read like ``fairness.metrics.2``.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from audit._errors import ConfigError
from audit.fairness._metrics import DEFAULT_METRICS
from audit.fairness._slice_metrics import slice_metric
from explainers import EXPLAINERS

__all__ = [
    "AuditConfig",
    "DataConfig",
    "ExplainerConfig",
    "FairnessConfig",
    "TextConfig",
    "QualityConfig",
    "SlicesConfig",
    "MitigationConfig",
    "RankingConfig",
    "RecourseConfig",
    "GapsConfig",
    "ProbesConfig",
    "ModelConfig",
    "OutputConfig",
    "load_config",
]

MISSING_SENSITIVE_CHOICES = ("error", "group")
DATA_ENGINES = ("memory", "partitions")
TASKS = ("binary", "regression", "multiclass")
MODEL_KINDS = ("auto", "sklearn", "torch", "callable", "text", "causal-lm")
BUILTIN_MODELS = ("minilm-tweet-sentiment",)
MODEL_OUTPUTS = ("auto", "probability", "logit", "decision", "label")
OUTPUT_FORMATS = ("html", "json")


def _fail(location: str, expected: str, got: Any, fix: str = "") -> ConfigError:
    message = f"The {location!r} setting must be {expected}. Got {got!r} instead."
    return ConfigError(f"{message} {fix}".strip())


def _str_tuple(value: Any, location: str, *, allow_empty: bool = True) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise _fail(location, "a list of column names", value)
    for index, item in enumerate(value):
        if not isinstance(item, str) or not item:
            raise _fail(f"{location}.{index}", "a non-empty string", item)
    if not allow_empty and not value:
        raise _fail(location, "a non-empty list", list(value))
    if len(set(value)) != len(value):
        duplicates = sorted({v for v in value if list(value).count(v) > 1})
        raise _fail(location, "a list without repeated names", list(value), f"Repeated: {duplicates}.")
    return tuple(value)


def _optional_str(value: Any, location: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise _fail(location, "a non-empty string", value)
    return value


def _positive_int(value: Any, location: str, *, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _fail(location, f"an integer >= {minimum}", value)
    return value


def _number(value: Any, location: str, expected: str, accept) -> float:
    """A real number (not a bool) for which ``accept`` holds, else the setting's error."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not accept(value):
        raise _fail(location, expected, value)
    return float(value)


def _choice(value: Any, location: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise _fail(location, f"one of {', '.join(map(repr, choices))}", value)
    return value


INFER_ESTIMATORS = ("corrected", "weighted")
_INFER_KEYS = (
    "surname",
    "first_name",
    "geography",
    "validate",
    "estimator",
    "place_prior_sd",
    "n_boot",
    "geography_level",
)


@dataclass(frozen=True)
class InferSpec:
    """One attribute inferred from names and places: ``[data.infer.race] surname = "last_name"``,
    ``first_name``, ``geography`` (a 5-digit ZIP code column), ``validate`` (self-reports for some rows),
    ``estimator`` ("corrected" or "weighted"), ``place_prior_sd``, ``n_boot``, ``geography_level`` ("zcta", or
    "tract" for 11-digit census-tract GEOIDs). See docs/inferred.md."""

    attribute: str
    surname: str | None = None
    first_name: str | None = None
    geography: str | None = None
    validate: str | None = None
    estimator: str = "corrected"
    place_prior_sd: float = 1.0
    n_boot: int = 200
    geography_level: str = "zcta"

    @classmethod
    def parse(cls, attribute: str, value: Any) -> InferSpec:
        where = f"data.infer.{attribute}"
        if not isinstance(value, dict):
            raise _fail(where, 'a table, e.g. [data.infer.race] surname = "last_name", geography = "zip"', value)
        unknown = sorted(set(value) - set(_INFER_KEYS))
        if unknown:
            raise _fail(where, f"made of the keys {', '.join(_INFER_KEYS)}", unknown[0], "Remove or rename it.")
        columns = {key: _optional_str(value.get(key), f"{where}.{key}") for key in _INFER_KEYS[:4]}
        if columns["surname"] is None and columns["geography"] is None:
            raise _fail(where, "given a 'surname' or a 'geography' column (or both)", value)
        if columns["first_name"] is not None and columns["surname"] is None:
            raise _fail(f"{where}.first_name", "set together with a surname column (BIFSG)", columns["first_name"])
        estimator = _choice(value.get("estimator", "corrected"), f"{where}.estimator", INFER_ESTIMATORS)
        prior_sd = _number(value.get("place_prior_sd", 1.0), f"{where}.place_prior_sd", "a number > 0", lambda v: v > 0)
        n_boot = _positive_int(value.get("n_boot", 200), f"{where}.n_boot", minimum=20)
        level = _choice(value.get("geography_level", "zcta"), f"{where}.geography_level", ("zcta", "tract"))
        return cls(
            attribute, **columns, estimator=estimator, place_prior_sd=prior_sd, n_boot=n_boot, geography_level=level
        )

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(c for c in (self.surname, self.first_name, self.geography, self.validate) if c is not None)


@dataclass(frozen=True)
class DataConfig:
    """Where the data is and what each column means.

    ``features`` defaults to every column that has no other role. ``intersections`` defaults to the
    cross of all sensitive features when there are two or more. ``prediction``/``score`` name columns
    that already hold a model's decisions and scores (an audit without the model).
    """

    label: str
    sensitive: tuple[str, ...]
    path: str | None = None
    features: tuple[str, ...] | None = None
    positive_label: Any = None
    intersections: tuple[tuple[str, ...], ...] | None = None
    text: str | None = None
    prediction: str | None = None
    score: str | None = None
    missing_sensitive: str = "error"
    sample: int | None = None
    task: str = "binary"
    engine: str = "memory"  # "partitions": fairness from per-partition statistics of a file of any size
    # The decision that benefits the person: a label value, or "positive" / "negative". Default: the positive
    # class. For a risk score ("high risk" harms), set the low-risk value: impact ratios then compare the rate
    # of favourable (negative) decisions.
    favourable: Any = None
    # Numeric sensitive columns binned into groups: {age = [0, 25, 40, 65, 120]} (edges; intervals [a, b)).
    bins: dict[str, list[float]] | None = None
    max_groups: int = 50  # a sensitive column with more distinct values is refused: bin it (data.bins)
    encoding: str = "utf-8"  # of CSV/TSV files
    empty_text: str = "skip"  # empty or missing texts: "skip" (left out, recorded) or "error"
    # attributes inferred from names and places: {race = {surname = ..., geography = ...}} (InferSpec)
    infer: Any = None

    def __post_init__(self) -> None:
        set_ = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731 - frozen dataclass
        if not isinstance(self.label, str) or not self.label:
            raise _fail("data.label", "the name of the label column", self.label)
        if self.infer is not None and not isinstance(self.infer, tuple):
            if not isinstance(self.infer, dict) or not self.infer:
                raise _fail("data.infer", "a table of attribute = {surname = ..., geography = ...}", self.infer)
            set_("infer", tuple(InferSpec.parse(str(name), value) for name, value in self.infer.items()))
        # with an inferred attribute, no recorded one is needed
        set_("sensitive", _str_tuple(self.sensitive, "data.sensitive", allow_empty=bool(self.infer)))
        if self.infer and self.task != "binary":
            raise _fail(
                "data.infer", f"unset for task = {self.task!r}", "...", "Inferred groups audit binary decisions."
            )
        for spec in self.infer or ():
            if spec.attribute in self.sensitive:
                raise _fail(
                    f"data.infer.{spec.attribute}",
                    "an attribute not also in data.sensitive",
                    spec.attribute,
                    "A recorded column needs no inference: remove one of the two.",
                )
        set_("path", _optional_str(self.path, "data.path"))
        _choice(self.engine, "data.engine", DATA_ENGINES)
        if self.engine == "partitions" and (
            self.path is None
            or self.prediction is None
            or self.task != "binary"
            or self.text is not None
            or self.sample is not None
        ):
            raise ConfigError(
                'data.engine = "partitions" audits decisions already in a file of any size: it needs '
                "data.path (Parquet or CSV) and data.prediction, a binary task, and no text column or "
                'sample. Set those, or use engine = "memory".'
            )
        if self.features is not None:
            set_("features", _str_tuple(self.features, "data.features", allow_empty=False))
        if self.positive_label is not None and not isinstance(self.positive_label, (str, int, float, bool)):
            raise _fail("data.positive_label", "a string, number or boolean", self.positive_label)
        _positive_int(self.max_groups, "data.max_groups", minimum=2)
        _choice(self.empty_text, "data.empty_text", ("skip", "error"))
        if not isinstance(self.encoding, str) or not self.encoding:
            raise _fail("data.encoding", 'the name of a text encoding, e.g. "utf-8" or "latin-1"', self.encoding)
        import codecs

        try:
            codecs.lookup(self.encoding)
        except LookupError as err:
            raise _fail(
                "data.encoding", "a text encoding Python knows (utf-8, latin-1, cp1252, ...)", self.encoding
            ) from err
        if self.bins is not None:
            if not isinstance(self.bins, dict):
                raise _fail(
                    "data.bins", "a table of sensitive column = [edges], e.g. {age = [0, 25, 40, 65, 120]}", self.bins
                )
            for column, edges in self.bins.items():
                if column not in self.sensitive:
                    raise _fail(f"data.bins.{column}", f"keyed by a sensitive column {list(self.sensitive)}", column)
                if (
                    not isinstance(edges, (list, tuple))
                    or len(edges) < 2
                    or not all(isinstance(e, (int, float)) and not isinstance(e, bool) for e in edges)
                    or list(edges) != sorted(set(edges))
                ):
                    raise _fail(f"data.bins.{column}", "a list of at least two increasing numbers (bin edges)", edges)
        if self.favourable is not None:
            if not isinstance(self.favourable, (str, int, float, bool)):
                raise _fail("data.favourable", 'a label value, or "positive" / "negative"', self.favourable)
            if self.task != "binary":
                raise _fail(
                    "data.favourable",
                    f"unset for task = {self.task!r}",
                    self.favourable,
                    "A favourable decision applies to binary audits only.",
                )
        for name in ("text", "prediction", "score"):
            set_(name, _optional_str(getattr(self, name), f"data.{name}"))
        if self.score is not None and self.prediction is None:
            raise _fail(
                "data.prediction",
                "set when data.score is set",
                None,
                "Name the column that holds the model's decisions, too.",
            )
        set_("missing_sensitive", _choice(self.missing_sensitive, "data.missing_sensitive", MISSING_SENSITIVE_CHOICES))
        if self.sample is not None:
            _positive_int(self.sample, "data.sample")
        _choice(self.task, "data.task", TASKS)
        if self.task != "binary" and self.positive_label is not None:
            raise _fail(
                "data.positive_label",
                f"unset for task = {self.task!r}",
                self.positive_label,
                "A positive class applies to binary audits only.",
            )
        if self.intersections is not None:
            if not isinstance(self.intersections, (list, tuple)):
                raise _fail("data.intersections", "a list of lists of sensitive columns", self.intersections)
            combos = []
            for index, combo in enumerate(self.intersections):
                combo = _str_tuple(combo, f"data.intersections.{index}")
                if len(combo) < 2:
                    raise _fail(f"data.intersections.{index}", "at least two sensitive columns", list(combo))
                for name in combo:
                    if name not in self.sensitive:
                        raise _fail(
                            f"data.intersections.{index}",
                            "made of columns listed in data.sensitive",
                            list(combo),
                            f"{name!r} is not in data.sensitive {list(self.sensitive)}.",
                        )
                combos.append(combo)
            set_("intersections", tuple(combos))
        roles = [self.label, *self.sensitive, self.text, self.prediction, self.score]
        if self.features is not None:
            for role_name in (self.label, self.prediction, self.score):
                if role_name is not None and role_name in self.features:
                    raise _fail(
                        "data.features",
                        f"free of the {role_name!r} column",
                        list(self.features),
                        "The label and prediction columns cannot be model inputs.",
                    )
        named = [r for r in roles if r is not None]
        if self.label in named[1:]:
            raise _fail("data.label", "a column with no other role", self.label)

    @property
    def sensitive_groupings(self) -> tuple[tuple[str, ...], ...]:
        """Each sensitive feature alone, then each intersection."""
        singles = tuple((name,) for name in self.sensitive)
        if self.intersections is not None:
            return singles + self.intersections
        return singles + ((self.sensitive,) if len(self.sensitive) > 1 else ())


@dataclass(frozen=True)
class ModelConfig:
    """The model under audit. Leave ``path`` unset when the data holds predictions (data.prediction).

    Text models: ``kind = "text"`` with ``path`` a local Hugging Face model directory, or ``builtin =
    "minilm-tweet-sentiment"`` (the bundled MiniLM tweet classifier); the data then needs ``data.text``.
    """

    path: str | None = None
    kind: str = "auto"
    builtin: str | None = None
    output: str = "auto"
    threshold: float = 0.5
    batch_size: int = 4096
    device: str = "auto"
    # safe loading (docs/config.md): types a .skops file may build beyond scikit-learn's own, and whether a torch
    # file may be unpickled as a whole module (runs code from the file)
    trusted: tuple[str, ...] = ()
    weights_only: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", _optional_str(self.path, "model.path"))
        if (
            isinstance(self.trusted, str)
            or not isinstance(self.trusted, (list, tuple))
            or not all(isinstance(name, str) and "." in name for name in self.trusted)
        ):
            raise _fail("model.trusted", 'a list of type names such as "mypackage.MyEstimator"', self.trusted)
        object.__setattr__(self, "trusted", tuple(self.trusted))
        if not isinstance(self.weights_only, bool):
            raise _fail("model.weights_only", "true or false", self.weights_only)
        _choice(self.kind, "model.kind", MODEL_KINDS)
        if self.builtin is not None:
            _choice(self.builtin, "model.builtin", BUILTIN_MODELS)
            if self.path is not None:
                raise _fail("model.builtin", "unset when model.path is set", self.builtin, "Choose one of the two.")
        _choice(self.output, "model.output", MODEL_OUTPUTS)
        if (
            isinstance(self.threshold, bool)
            or not isinstance(self.threshold, (int, float))
            or not math.isfinite(self.threshold)
        ):
            raise _fail("model.threshold", "a finite number", self.threshold)
        _positive_int(self.batch_size, "model.batch_size")
        if not isinstance(self.device, str) or not self.device:
            raise _fail("model.device", "'auto', 'cpu', 'cuda' or 'cuda:N'", self.device)


@dataclass(frozen=True)
class ExplainerConfig:
    """Which attribution methods run, on how many rows, against how large a background sample."""

    # default: ("shap",) for tabular models, ("layer_integrated_gradients",) for text
    methods: tuple[str, ...] | None = None
    sample_size: int = 1000
    background_size: int = 100

    def __post_init__(self) -> None:
        if self.methods is None:
            _positive_int(self.sample_size, "explainers.sample_size")
            _positive_int(self.background_size, "explainers.background_size")
            return
        methods = _str_tuple(self.methods, "explainers.methods")

        for index, name in enumerate(methods):
            if name not in EXPLAINERS:
                raise ConfigError(
                    f"The 'explainers.methods.{index}' setting is invalid: {EXPLAINERS._unknown_message(name)}"
                )
        object.__setattr__(self, "methods", methods)
        _positive_int(self.sample_size, "explainers.sample_size")
        _positive_int(self.background_size, "explainers.background_size")


LL144_KEYS = {"sex", "race", "mode", "exclude_under", "flag_below"}


@dataclass(frozen=True)
class FairnessConfig:
    """Which group metrics to compute, how to compare groups, and how sure to be about it.

    ``reference`` maps sensitive features to the group every other group is compared with (e.g.
    ``{"sex": "Male"}``), besides the best group and overall. ``ll144`` turns on the NYC Local Law 144
    tables: ``{"sex": column, "race": column, "mode": "selection" | "scoring", "exclude_under": 0.02,
    "flag_below": 0.8}`` (only ``sex`` or ``race`` is required).
    """

    metrics: tuple[str, ...] = DEFAULT_METRICS
    score_metrics: bool = True
    min_group_size: int = 30
    ratio_threshold: float = 0.8
    reference: dict[str, str] | None = None
    n_boot: int = 1000
    ci_level: float = 0.95
    alpha: float = 0.05
    ll144: dict[str, Any] | None = None
    # the gap in a rate (besides ratio_threshold) that the "rows a verdict needs" are computed for
    detectable_difference: float = 0.05

    def __post_init__(self) -> None:
        from audit.fairness._metrics import METRICS

        metrics = _str_tuple(self.metrics, "fairness.metrics", allow_empty=False)
        for index, name in enumerate(metrics):
            if name not in METRICS:
                raise ConfigError(
                    f"The 'fairness.metrics.{index}' setting is invalid: {METRICS._unknown_message(name)}"
                )
        object.__setattr__(self, "metrics", metrics)
        if not isinstance(self.score_metrics, bool):
            raise _fail("fairness.score_metrics", "true or false", self.score_metrics)
        _positive_int(self.min_group_size, "fairness.min_group_size")
        _positive_int(self.n_boot, "fairness.n_boot", minimum=0)
        for name, value in (
            ("ratio_threshold", self.ratio_threshold),
            ("ci_level", self.ci_level),
            ("alpha", self.alpha),
            ("detectable_difference", self.detectable_difference),
        ):
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not 0 < value < 1 + (name == "ratio_threshold")
            ):
                raise _fail(f"fairness.{name}", "a number between 0 and 1", value)
        if self.reference is not None:
            if not isinstance(self.reference, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in self.reference.items()
            ):
                raise _fail(
                    "fairness.reference", 'a table of sensitive feature = group, e.g. {sex = "Male"}', self.reference
                )
        if self.ll144 is not None:
            if not isinstance(self.ll144, dict):
                raise _fail("fairness.ll144", 'a table such as {sex = "sex", race = "race"}', self.ll144)
            unknown = set(self.ll144) - LL144_KEYS
            if unknown:
                raise _fail("fairness.ll144", f"a table with keys among {sorted(LL144_KEYS)}", sorted(unknown))
            if not (self.ll144.get("sex") or self.ll144.get("race")):
                raise _fail("fairness.ll144", "a table naming the 'sex' or 'race' column (or both)", self.ll144)
            _choice(self.ll144.get("mode", "selection"), "fairness.ll144.mode", ("selection", "scoring", "ranking"))
            for key in ("exclude_under", "flag_below"):
                value = self.ll144.get(key)
                if value is not None and (
                    isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1
                ):
                    raise _fail(f"fairness.ll144.{key}", "a number in (0, 1]", value)


@dataclass(frozen=True)
class OutputConfig:
    dir: str = "audit-out"
    formats: tuple[str, ...] = OUTPUT_FORMATS

    def __post_init__(self) -> None:
        _optional_str(self.dir, "output.dir")
        formats = _str_tuple(self.formats, "output.formats", allow_empty=False)
        for index, name in enumerate(formats):
            _choice(name, f"output.formats.{index}", OUTPUT_FORMATS)
        object.__setattr__(self, "formats", formats)


@dataclass(frozen=True)
class TextConfig:
    """Text-model audits: counterfactual identity-term swaps, template probes, identity-mention groups.

    ``lexicons``: built-in names (audit/lexicons/) or paths of TOML files of the same shape; None = all built-in.
    ``templates``: True (built-in probes), False, or the path of a templates TOML file.
    ``attribution_sample``: texts mentioning identity terms whose token attributions give the identity share.
    ``min_texts``: rows resting on fewer texts are flagged small (kept, not used for worst-group checks).
    """

    counterfactuals: bool = True
    lexicons: tuple[str, ...] | None = None
    templates: bool | str = True
    attribution_sample: int = 24
    min_texts: int = 10

    def __post_init__(self) -> None:
        if not isinstance(self.counterfactuals, bool):
            raise _fail("text.counterfactuals", "true or false", self.counterfactuals)
        if self.lexicons is not None:
            object.__setattr__(self, "lexicons", _str_tuple(self.lexicons, "text.lexicons", allow_empty=False))
        if not isinstance(self.templates, (bool, str)) or self.templates == "":
            raise _fail("text.templates", "true, false or the path of a templates TOML file", self.templates)
        _positive_int(self.attribution_sample, "text.attribution_sample", minimum=0)
        _positive_int(self.min_texts, "text.min_texts")


@dataclass(frozen=True)
class QualityConfig:
    """Explanation quality checks on every attribution method that ran (see docs/result-schema.md).

    ``sample_size``: explained rows (or texts) whose faithfulness is measured; ``random_orders``: random
    orders the faithfulness is compared with; ``sanity``: the randomisation test (model parameters for torch
    models, shuffled labels for scikit-learn models, which are retrained on the audit data);
    ``sanity_sample``: rows (texts) explained again for it.
    """

    enabled: bool = True
    sample_size: int = 200
    random_orders: int = 3
    sanity: bool = True
    sanity_sample: int = 50

    def __post_init__(self) -> None:
        for name in ("enabled", "sanity"):
            if not isinstance(getattr(self, name), bool):
                raise _fail(f"quality.{name}", "true or false", getattr(self, name))
        _positive_int(self.sample_size, "quality.sample_size")
        _positive_int(self.random_orders, "quality.random_orders")
        _positive_int(self.sanity_sample, "quality.sanity_sample", minimum=2)


@dataclass(frozen=True)
class SlicesConfig:
    """Worst-slice discovery (docs/slices.md): conjunctions of up to ``max_conditions`` conditions on ``columns``
    (None: the sensitive features and the model's inputs; numerics cut into ``bins`` quantile bins) whose
    ``metrics`` are worse than the rest of the data. Slices are found on one random half and confirmed on the
    other, the false discovery rate held at ``q`` over the ``max_candidates`` tested (``fdr``: Benjamini-Yekutieli,
    valid however the overlapping slices' tests depend on each other, or Benjamini-Hochberg). A slice needs
    ``min_rows`` rows and ``min_share`` of the data; ``time_budget_s`` stops the search at the last full level of
    conditions."""

    enabled: bool = True
    metrics: tuple[str, ...] | None = None  # None: error_rate for classifiers, mae for regression
    columns: tuple[str, ...] | None = None
    max_conditions: int = 3
    bins: int = 5
    min_rows: int = 30
    min_share: float = 0.01
    q: float = 0.05
    fdr: str = "by"  # "by": Benjamini-Yekutieli (any dependence between overlapping slices); "bh": Benjamini-Hochberg
    max_candidates: int = 50
    discovery_alpha: float = 0.01
    time_budget_s: float = 60.0

    def __post_init__(self) -> None:
        if not isinstance(self.enabled, bool):
            raise _fail("slices.enabled", "true or false", self.enabled)
        if self.metrics is not None:
            object.__setattr__(self, "metrics", _str_tuple(self.metrics, "slices.metrics", allow_empty=False))
            for name in self.metrics:
                slice_metric(name)
        if self.columns is not None:
            object.__setattr__(self, "columns", _str_tuple(self.columns, "slices.columns", allow_empty=False))
        _choice(self.fdr, "slices.fdr", ("by", "bh"))
        if self.max_conditions not in (1, 2, 3):
            raise _fail("slices.max_conditions", "1, 2 or 3", self.max_conditions)
        _positive_int(self.bins, "slices.bins", minimum=2)
        _positive_int(self.min_rows, "slices.min_rows", minimum=10)
        _positive_int(self.max_candidates, "slices.max_candidates")
        for name in ("min_share", "q", "discovery_alpha"):
            _number(getattr(self, name), f"slices.{name}", "a number in (0, 0.5]", lambda v: 0 < v <= 0.5)
        _number(self.time_budget_s, "slices.time_budget_s", "a positive number of seconds", lambda v: v > 0)


@dataclass(frozen=True)
class MitigationConfig:
    """The mitigation frontier (docs/mitigation.md): for a binary classifier with scores, the best group-specific
    thresholds under each of ``constraints`` at each of ``tolerances`` (None: the defaults per constraint), beside
    group-blind single thresholds, chosen on one half of the rows and measured on the other with ``n_boot``
    resamples. ``sensitive``: the feature whose groups are constrained (None: the first sensitive feature).
    ``cost_fp`` / ``cost_fn``: the objective's weights of false positives and false negatives (1, 1: accuracy).
    ``reach``: the chance, estimated on the fit half, that a fix meets its tolerance on the held-out rows; fixes
    are solved for a tightened tolerance to get it (0.5: at the tolerance itself, a coin flip held out)."""

    enabled: bool = True
    sensitive: str | None = None
    constraints: tuple[str, ...] = ("impact_ratio",)
    tolerances: tuple[float, ...] | None = None
    n_boot: int = 200
    cost_fp: float = 1.0
    cost_fn: float = 1.0
    reach: float = 0.9

    def __post_init__(self) -> None:
        if not isinstance(self.enabled, bool):
            raise _fail("mitigation.enabled", "true or false", self.enabled)
        _optional_str(self.sensitive, "mitigation.sensitive")
        object.__setattr__(
            self, "constraints", _str_tuple(self.constraints, "mitigation.constraints", allow_empty=False)
        )
        for name in self.constraints:
            _choice(name, "mitigation.constraints", MITIGATION_CONSTRAINTS)
        if self.tolerances is not None:
            if isinstance(self.tolerances, str) or not isinstance(self.tolerances, (list, tuple)):
                raise _fail("mitigation.tolerances", "a list of numbers in [0, 1]", self.tolerances)
            object.__setattr__(
                self,
                "tolerances",
                tuple(
                    _number(t, f"mitigation.tolerances.{i}", "a number in [0, 1]", lambda v: 0 <= v <= 1)
                    for i, t in enumerate(self.tolerances)
                ),
            )
        _positive_int(self.n_boot, "mitigation.n_boot", minimum=0)
        for name in ("cost_fp", "cost_fn"):
            _number(getattr(self, name), f"mitigation.{name}", "a positive number", lambda v: v > 0)
        _number(self.reach, "mitigation.reach", "a chance in [0.5, 1)", lambda v: 0.5 <= v < 1)


PROBE_SUITES = ("crows_pairs", "winobias", "holisticbias", "bbq", "occupations", "lexicons", "bold")
# the paired suites and the scores one of them can test (docs/probes.md): the whole sentence, or the tokens the two
# sentences share given the changed words (CrowS-Pairs' own score)
PAIRED_SUITES = ("crows_pairs", "winobias")
PAIRED_SCORES = ("full_sentence", "unmodified_tokens")
PROBE_SCORERS = ("minilm-tweet-sentiment",)
PROBE_ATTRIBUTIONS = ("layer_integrated_gradients", "input_x_gradient", "saliency", "feature_ablation", "none")
_BOLD_DOMAINS = ("gender", "race", "religious_ideology", "political_ideology", "profession")


@dataclass(frozen=True)
class ProbesConfig:
    """Bias probes of a generative language model (``model.kind = "causal-lm"``; docs/probes.md).

    ``suites``: which to run; ``max_items``: items per suite (a seeded random sample when the data set is larger;
    0 = all); ``files``: your own files of the bundled shape, by suite (``crows_pairs`` a CSV, ``bbq`` /
    ``winobias`` / ``holisticbias`` / ``occupations`` / ``lexicons`` a folder, ``bold`` a JSON file of one domain);
    ``bold_domains``: BOLD's domains to sample; ``new_tokens``: tokens sampled per BOLD prompt; ``scorer``: what
    scores the BOLD continuations (the bundled MiniLM sentiment classifier); ``alpha``: the Holm-adjusted p-value
    under which a bias row becomes a finding; ``examples``: example pairs kept per suite; ``attributions``: the
    method that attributes the continuation suites' examples to the tokens the model read (``"none"``: skip);
    ``primary``: the score a paired suite tests, by suite (``full_sentence`` where the changed word is the
    stereotype itself; default: CrowS-Pairs ``unmodified_tokens``, WinoBias ``full_sentence``)."""

    suites: tuple[str, ...] = PROBE_SUITES
    max_items: int = 500
    files: dict[str, str] | None = None
    bold_domains: tuple[str, ...] = ("gender", "race")
    new_tokens: int = 20
    scorer: str = "minilm-tweet-sentiment"
    alpha: float = 0.01
    examples: int = 5
    attributions: str = "layer_integrated_gradients"
    primary: dict[str, str] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "suites", _str_tuple(self.suites, "probes.suites"))  # none: a judge audit only
        if self.primary is not None:
            if not isinstance(self.primary, dict):
                raise _fail(
                    "probes.primary",
                    'a table of paired suite = score, e.g. {crows_pairs = "full_sentence"}',
                    self.primary,
                )
            for name, score in self.primary.items():
                _choice(name, "probes.primary (key)", PAIRED_SUITES)
                _choice(score, f"probes.primary.{name}", PAIRED_SCORES)
        for index, name in enumerate(self.suites):
            _choice(name, f"probes.suites.{index}", PROBE_SUITES)
        _positive_int(self.max_items, "probes.max_items", minimum=0)
        if self.files is not None:
            if not isinstance(self.files, dict):
                raise _fail("probes.files", 'a table of suite = path, e.g. {crows_pairs = "my_pairs.csv"}', self.files)
            for name, path in self.files.items():
                _choice(name, "probes.files (key)", PROBE_SUITES)
                _optional_str(path, f"probes.files.{name}")
        object.__setattr__(
            self, "bold_domains", _str_tuple(self.bold_domains, "probes.bold_domains", allow_empty=False)
        )
        for index, name in enumerate(self.bold_domains):
            _choice(name, f"probes.bold_domains.{index}", _BOLD_DOMAINS)
        if self.files and "bold" in self.files and len(self.bold_domains) != 1:
            raise _fail(
                "probes.bold_domains", "one domain when probes.files.bold names your own file", list(self.bold_domains)
            )
        _positive_int(self.new_tokens, "probes.new_tokens")
        _choice(self.scorer, "probes.scorer", PROBE_SCORERS)
        _number(self.alpha, "probes.alpha", "a number in (0, 0.5]", lambda v: 0 < v <= 0.5)
        _positive_int(self.examples, "probes.examples", minimum=0)
        _choice(self.attributions, "probes.attributions", PROBE_ATTRIBUTIONS)


MITIGATION_CONSTRAINTS = ("demographic_parity", "impact_ratio", "equal_opportunity", "equalized_odds")
GAP_METRICS = (
    "favourable_rate",
    "selection_rate",
    "negative_rate",
    "tpr",
    "fpr",
    "fnr",
    "tnr",
    "mean_score",
    "mean_prediction",
)


@dataclass(frozen=True)
class GapsConfig:
    """Gap explanations (docs/gaps.md): each fairness table's gap between its worst group and its benchmark, for
    each of ``metrics`` (None: the favourable rate, TPR and FPR for classifiers; the mean prediction for regression),
    split over the model's inputs (a Shapley decomposition, ``orders`` random feature orders per pair of rows) with
    ``n_boot`` two-sample bootstrap resamples. ``tables``: which fairness tables (None: all). A feature is a proxy
    when it tells the group from the comparison group with an AUC of at least ``proxy_auc`` and carries at least
    ``proxy_share`` of the gap; the inputs that each carry at least ``joint_min_share`` of it are also judged
    together (a joint proxy). The check compares the top contributor with up to ``random_features`` others.
    For a text model: up to ``swaps`` identity swaps that flipped a decision, attributed word by word."""

    enabled: bool = True
    metrics: tuple[str, ...] | None = None
    tables: tuple[str, ...] | None = None
    n_boot: int = 200
    orders: int = 2
    proxy_auc: float = 0.7
    proxy_share: float = 0.1
    random_features: int = 5
    swaps: int = 12
    joint_min_share: float = 0.05  # inputs carrying at least this share of a gap are judged together as well

    def __post_init__(self) -> None:
        if not isinstance(self.enabled, bool):
            raise _fail("gaps.enabled", "true or false", self.enabled)
        if self.metrics is not None:
            object.__setattr__(self, "metrics", _str_tuple(self.metrics, "gaps.metrics", allow_empty=False))
            for name in self.metrics:
                _choice(name, "gaps.metrics", GAP_METRICS)
        if self.tables is not None:
            object.__setattr__(self, "tables", _str_tuple(self.tables, "gaps.tables", allow_empty=False))
        _positive_int(self.n_boot, "gaps.n_boot", minimum=0)
        _positive_int(self.orders, "gaps.orders")
        _positive_int(self.random_features, "gaps.random_features")
        _positive_int(self.swaps, "gaps.swaps", minimum=0)
        _number(self.proxy_auc, "gaps.proxy_auc", "a number in [0.5, 1]", lambda v: 0.5 <= v <= 1)
        _number(self.proxy_share, "gaps.proxy_share", "a number in (0, 1]", lambda v: 0 < v <= 1)
        _number(self.joint_min_share, "gaps.joint_min_share", "a number in (0, 1)", lambda v: 0 < v < 1)


@dataclass(frozen=True)
class RankingConfig:
    """Ranking fairness (docs/ranking.md): who is seen at the top of ranked lists. Active when ``rank`` (a column,
    1 = top) or ``score`` (a column, higher = better, or "model" for the model's scores) is set, not both. ``query``
    names the column of the list each row was ranked in (a job posting, a search); without it the rows are one
    list. ``groupings``: the sensitive groupings to audit (default: data.sensitive's, as the fairness tables).
    ``ties``: refuse tied ranks or scores, or break them at random (seeded, counted). ``k``: the top places
    (impact ratios and the exact test); ``attention_p``: the geometric attention's first
    place share; ``n_boot`` resamples of whole queries give the intervals when there are ``min_queries`` or more.
    ``prefix_alpha``: the level of FA*IR's prefix test in each query (at most this chance that a group-blind
    ranking fails some prefix of the top k)."""

    rank: str | None = None
    score: str | None = None
    query: str | None = None
    groupings: tuple[tuple[str, ...], ...] | None = None
    k: int = 10
    attention_p: float = 0.5
    n_boot: int = 1000
    min_queries: int = 20
    ties: str = "refuse"  # or "random": tied items ordered at random (seeded), counted in the result
    prefix_alpha: float = 0.1  # FA*IR's prefix test: each query's chance of failing a group-blind ranking

    def __post_init__(self) -> None:
        _choice(self.ties, "ranking.ties", ("refuse", "random"))
        _number(self.prefix_alpha, "ranking.prefix_alpha", "a number in (0, 0.5)", lambda v: 0 < v < 0.5)
        for name in ("rank", "score", "query"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value):
                raise _fail(f"ranking.{name}", "a column name", value)
        if self.rank is not None and self.score is not None:
            raise ConfigError(
                "Set one of ranking.rank (1 = top) and ranking.score (higher = better), not both: they would "
                "give two orders."
            )
        if self.groupings is not None:
            if not isinstance(self.groupings, (list, tuple)) or not self.groupings:
                expected = 'a list of lists of sensitive features, e.g. [["sex"]]'
                raise _fail("ranking.groupings", expected, self.groupings)
            object.__setattr__(
                self, "groupings", tuple(_str_tuple(g, "ranking.groupings", allow_empty=False) for g in self.groupings)
            )
        _positive_int(self.k, "ranking.k")
        _number(self.attention_p, "ranking.attention_p", "a number in (0, 1)", lambda v: 0 < v < 1)
        _positive_int(self.n_boot, "ranking.n_boot", minimum=0)
        _positive_int(self.min_queries, "ranking.min_queries", minimum=2)

    @property
    def active(self) -> bool:
        return self.rank is not None or self.score is not None

    @property
    def data_columns(self) -> tuple[str, ...]:
        """The data's columns the ranking reads (the model's scores are not a column)."""
        named = (self.rank, None if self.score == "model" else self.score, self.query)
        return tuple(c for c in named if c is not None)


SWAP_JUDGE_SUITES = ("position", "length", "identity")
SWAP_PADDINGS = ("repeat", "filler")
DEFAULT_JUDGE_TEMPLATE = (
    "Question: {prompt}\nAnswer A: {first}\nAnswer B: {second}\nWhich answer is better, A or B? The better answer is"
)


@dataclass(frozen=True)
class SwapsConfig:
    """Paired-swap audits (docs/swaps.md). A text model: ``enabled`` swaps identity signals (``lexicons``; default
    text.lexicons) in each of data.text's documents and re-scores it; ``query`` names the column of the list each
    document competes in (default ranking.query; none: one list), ``k`` the top places. A causal language model
    prompted as a pairwise judge: ``path`` is a CSV of ``prompt``, ``answer_a``, ``answer_b`` (a seeded sample of
    ``max_pairs``; 0 = all), judged with ``template`` and the answer ``labels``; a pair on which the model puts less
    than ``min_answer_mass`` on the two labels is left out and counted; ``suites`` picks the position, length
    (``padding``: the answer said twice, or a filler sentence) and identity tests. ``alpha``: the Holm-adjusted
    p-value under which a bias row becomes a finding; ``examples``: pairs shown side by side per suite."""

    enabled: bool = False
    query: str | None = None
    k: int = 10
    lexicons: tuple[str, ...] | None = None
    alpha: float = 0.01
    examples: int = 12
    path: str | None = None
    suites: tuple[str, ...] = SWAP_JUDGE_SUITES
    template: str = DEFAULT_JUDGE_TEMPLATE
    labels: tuple[str, ...] = (" A", " B")
    min_answer_mass: float = 0.5
    padding: str = "repeat"
    max_pairs: int = 500

    def __post_init__(self) -> None:
        if not isinstance(self.enabled, bool):
            raise _fail("swaps.enabled", "true or false", self.enabled)
        _optional_str(self.query, "swaps.query")
        _optional_str(self.path, "swaps.path")
        _positive_int(self.k, "swaps.k")
        if self.lexicons is not None:
            object.__setattr__(self, "lexicons", _str_tuple(self.lexicons, "swaps.lexicons", allow_empty=False))
        _number(self.alpha, "swaps.alpha", "a number in (0, 0.5]", lambda v: 0 < v <= 0.5)
        _positive_int(self.examples, "swaps.examples", minimum=0)
        object.__setattr__(self, "suites", _str_tuple(self.suites, "swaps.suites", allow_empty=False))
        for index, name in enumerate(self.suites):
            _choice(name, f"swaps.suites.{index}", SWAP_JUDGE_SUITES)
        if not isinstance(self.template, str) or not all(
            slot in self.template for slot in ("{prompt}", "{first}", "{second}")
        ):
            raise _fail("swaps.template", "a string with {prompt}, {first} and {second}", self.template)
        object.__setattr__(self, "labels", _str_tuple(self.labels, "swaps.labels", allow_empty=False))
        if len(self.labels) != 2 or self.labels[0] == self.labels[1]:
            raise _fail("swaps.labels", 'two different labels, e.g. [" A", " B"]', list(self.labels))
        _number(self.min_answer_mass, "swaps.min_answer_mass", "a number in [0, 1)", lambda v: 0 <= v < 1)
        _choice(self.padding, "swaps.padding", SWAP_PADDINGS)
        _positive_int(self.max_pairs, "swaps.max_pairs", minimum=0)

    @property
    def active(self) -> bool:
        return self.enabled or self.path is not None


RECOURSE_COSTS = ("percentile", "units")
RECOURSE_METHODS = ("auto", "linear", "trees", "search")


@dataclass(frozen=True)
class RecourseConfig:
    """Counterfactual recourse (docs/recourse.md): for each unfavourable decision, the cheapest change to the
    ``actionable`` inputs (every other input is locked; protected characteristics can never be actionable) that the
    model turns into the favourable decision, changing at most ``max_changes`` inputs to values seen in the data.
    ``increase_only`` / ``decrease_only``: numeric inputs that move one way (age, education); ``limits``: a numeric
    input's allowed [low, high]. ``cost``: "percentile" (each input's shift along the population, 0-1; a category
    change costs ``category_cost``) or "units" (its change over ``units[input]``, the change priced at one unit).
    ``method``: "auto" (linear models: exact integer program; tree ensembles: exact over the leaves' boxes; other
    models: a search over ``grid`` quantiles per numeric input), or one of them forced. In ``audit run``: up to
    ``max_rows`` unfavourable decisions (a seeded sample; 0 = all) and the burden by group: mean cost and share with
    no recourse against a benchmark group (fairness.reference, else the largest), Holm-adjusted; groups with fewer
    than ``min_rows`` searched rows are not tested; ``alpha`` makes a finding; ``examples`` rows shown."""

    actionable: tuple[str, ...] = ()
    increase_only: tuple[str, ...] = ()
    decrease_only: tuple[str, ...] = ()
    cost: str = "percentile"
    units: dict[str, float] | None = None
    category_cost: float = 0.5
    limits: dict[str, Any] | None = None
    max_changes: int = 2
    method: str = "auto"
    grid: int = 20
    max_rows: int = 2000
    alpha: float = 0.05
    min_rows: int = 30
    examples: int = 10

    def __post_init__(self) -> None:
        for name in ("actionable", "increase_only", "decrease_only"):
            object.__setattr__(self, name, _str_tuple(getattr(self, name), f"recourse.{name}"))
        for name in ("increase_only", "decrease_only"):
            stray = [f for f in getattr(self, name) if f not in self.actionable]
            if stray:
                raise _fail(f"recourse.{name}", "a list of actionable inputs (recourse.actionable)", stray)
        both = sorted(set(self.increase_only) & set(self.decrease_only))
        if both:
            raise _fail("recourse.increase_only", "disjoint from recourse.decrease_only", both)
        _choice(self.cost, "recourse.cost", RECOURSE_COSTS)
        _choice(self.method, "recourse.method", RECOURSE_METHODS)
        if self.units is not None:
            if not isinstance(self.units, dict):
                raise _fail("recourse.units", "a table of input = change worth one unit", self.units)
            for key, value in self.units.items():
                _number(value, f"recourse.units.{key}", "a positive number", lambda v: v > 0 and math.isfinite(v))
                if key not in self.actionable:
                    raise _fail(f"recourse.units.{key}", "an actionable input", key)
        if self.limits is not None:
            if not isinstance(self.limits, dict):
                raise _fail("recourse.limits", "a table of input = [low, high]", self.limits)
            for key, value in self.limits.items():
                if key not in self.actionable:
                    raise _fail(f"recourse.limits.{key}", "an actionable input", key)
                if (
                    not isinstance(value, (list, tuple))
                    or len(value) != 2
                    or any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in value)
                    or not value[0] <= value[1]
                ):
                    raise _fail(f"recourse.limits.{key}", "[low, high] with low <= high", value)
        _number(self.category_cost, "recourse.category_cost", "a number > 0", lambda v: 0 < v and math.isfinite(v))
        if (
            isinstance(self.max_changes, bool)
            or not isinstance(self.max_changes, int)
            or not 1 <= self.max_changes <= 4
        ):
            raise _fail("recourse.max_changes", "an integer from 1 to 4", self.max_changes)
        _positive_int(self.grid, "recourse.grid", minimum=2)
        _positive_int(self.max_rows, "recourse.max_rows", minimum=0)
        _number(self.alpha, "recourse.alpha", "a number in (0, 0.5]", lambda v: 0 < v <= 0.5)
        _positive_int(self.min_rows, "recourse.min_rows", minimum=2)
        _positive_int(self.examples, "recourse.examples", minimum=0)

    @property
    def active(self) -> bool:
        return bool(self.actionable)


_SECTIONS = {
    "data": DataConfig,
    "model": ModelConfig,
    "explainers": ExplainerConfig,
    "fairness": FairnessConfig,
    "text": TextConfig,
    "quality": QualityConfig,
    "slices": SlicesConfig,
    "mitigation": MitigationConfig,
    "gaps": GapsConfig,
    "probes": ProbesConfig,
    "ranking": RankingConfig,
    "swaps": SwapsConfig,
    "recourse": RecourseConfig,
    "output": OutputConfig,
}


@dataclass(frozen=True)
class AuditConfig:
    """Everything one audit needs. Build it in Python or load it with :func:`load_config`."""

    data: DataConfig | None = None  # required, except for a causal language model (probes need no table)
    model: ModelConfig = field(default_factory=ModelConfig)
    explainers: ExplainerConfig = field(default_factory=ExplainerConfig)
    fairness: FairnessConfig = field(default_factory=FairnessConfig)
    text: TextConfig = field(default_factory=TextConfig)
    quality: QualityConfig = field(default_factory=QualityConfig)
    slices: SlicesConfig = field(default_factory=SlicesConfig)
    mitigation: MitigationConfig = field(default_factory=MitigationConfig)
    gaps: GapsConfig = field(default_factory=GapsConfig)
    probes: ProbesConfig = field(default_factory=ProbesConfig)
    ranking: RankingConfig = field(default_factory=RankingConfig)
    swaps: SwapsConfig = field(default_factory=SwapsConfig)
    recourse: RecourseConfig = field(default_factory=RecourseConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    title: str = "Model audit"
    seed: int = 0

    def __post_init__(self) -> None:
        for name, cls in _SECTIONS.items():
            if not isinstance(getattr(self, name), cls) and not (name == "data" and self.data is None):
                raise _fail(name, f"a {cls.__name__}", type(getattr(self, name)).__name__)
        if not isinstance(self.title, str):
            raise _fail("title", "a string", self.title)
        _positive_int(self.seed, "seed", minimum=0)
        if self.model.kind == "causal-lm":
            if self.data is not None:
                raise ConfigError(
                    'A causal language model (model.kind = "causal-lm") is audited with the probes of '
                    "[probes], which bring their own texts: remove the [data] table."
                )
            if not self.probes.suites and self.swaps.path is None:
                raise ConfigError(
                    "probes.suites is empty and swaps.path is not set, so nothing would be audited. Name probe "
                    f"suites ({', '.join(PROBE_SUITES)}) or set swaps.path to a CSV of judge pairs."
                )
            if self.swaps.enabled:
                raise ConfigError(
                    "swaps.enabled swaps identity terms in a text model's documents (data.text); a causal language "
                    "model is audited as a pairwise judge: set swaps.path to a CSV of prompt, answer_a, answer_b."
                )
            return
        if self.swaps.path is not None:
            raise ConfigError(
                'swaps.path (pairs for a judge) applies to a causal language model (model.kind = "causal-lm"). For '
                "this model set swaps.enabled = true: its documents (data.text) are swapped and re-scored."
            )
        if not isinstance(self.data, DataConfig):
            raise ConfigError(
                "The config has no [data] table. Add one naming at least 'label' and 'sensitive', e.g. "
                '[data]\nlabel = "income"\nsensitive = ["sex"] (only a causal language model, '
                'model.kind = "causal-lm", is audited without data).'
            )
        sensitive = list(self.data.sensitive)
        inferred = [spec.attribute for spec in self.data.infer or ()]
        for name in self.fairness.reference or {}:
            if name not in sensitive + inferred:
                raise _fail("fairness.reference", f"keyed by sensitive features {sensitive + inferred}", name)
        if self.mitigation.sensitive is not None and self.mitigation.sensitive not in sensitive:
            raise _fail("mitigation.sensitive", f"one of the sensitive features {sensitive}", self.mitigation.sensitive)
        for grouping in self.ranking.groupings or ():
            for name in grouping:
                if name not in sensitive:
                    raise _fail("ranking.groupings", f"made of the sensitive features {sensitive}", name)
        if self.ranking.active and self.data.sample is not None:
            raise ConfigError(
                "data.sample drops rows, and a ranking audit needs every ranked item (a dropped item moves the "
                "others up). Remove data.sample, or audit the ranking in its own config."
            )
        if (self.fairness.ll144 or {}).get("mode") == "ranking" and not self.ranking.active:
            raise ConfigError(
                'fairness.ll144.mode = "ranking" computes the scoring rate from places in ranked lists: set [ranking] '
                'rank or score (and query), or use mode = "scoring" (the model\'s scores) or "selection".'
            )
        protected = sorted(set(self.recourse.actionable) & set(sensitive))
        if protected:
            raise _fail(
                "recourse.actionable",
                "inputs a person may change, never a sensitive feature",
                protected,
                "Protected characteristics stay locked: remove them from recourse.actionable.",
            )
        if self.data.features is not None:
            absent = [f for f in self.recourse.actionable if f not in self.data.features]
            if absent:
                raise _fail("recourse.actionable", f"model inputs (data.features: {list(self.data.features)})", absent)
        for key in ("sex", "race"):
            column = (self.fairness.ll144 or {}).get(key)
            allowed = sensitive + inferred if key == "race" else sensitive
            if column is not None and column not in allowed:
                raise _fail(f"fairness.ll144.{key}", f"one of the sensitive features {allowed}", column)

    @classmethod
    def from_dict(
        cls, raw: dict[str, Any], *, base_dir: str | Path | None = None, allow_outside: bool = False
    ) -> AuditConfig:
        """Build a config from a parsed TOML document; relative paths resolve against ``base_dir``.

        With a ``base_dir``, files the config reads must lie inside that folder unless ``allow_outside``: under
        CI a pull request can edit the config, and ``../secret/users.csv`` would put another file's values in
        the report."""
        if not isinstance(raw, dict):
            raise _fail("(top level)", "a table of settings", type(raw).__name__)
        top_level = {"title", "seed", *_SECTIONS}
        _reject_unknown(raw, top_level, "")
        model_table = raw.get("model", {})
        causal = isinstance(model_table, dict) and model_table.get("kind") == "causal-lm"
        if "data" not in raw and not causal:
            raise ConfigError(
                "The config has no [data] table. Add one naming at least 'label' and "
                '\'sensitive\', e.g. [data]\\nlabel = "income"\\nsensitive = ["sex"].'
            )
        sections = {}
        for name, section_cls in _SECTIONS.items():
            if name == "data" and "data" not in raw:
                continue
            table = raw.get(name, {})
            if not isinstance(table, dict):
                raise _fail(name, "a table", table)
            allowed = {f.name for f in dataclasses.fields(section_cls)}
            _reject_unknown(table, allowed, f"{name}.")
            table = dict(table)
            for key in ("path", "dir"):
                if base_dir is not None and isinstance(table.get(key), str):
                    table[key] = str(Path(base_dir, table[key]))
                    if key == "path" and not allow_outside:
                        _inside(base_dir, table[key], f"{name}.{key}")
            if name == "probes" and base_dir is not None and isinstance(table.get("files"), dict):
                table["files"] = {
                    k: str(Path(base_dir, v)) if isinstance(v, str) else v for k, v in table["files"].items()
                }
                if not allow_outside:
                    for key, value in table["files"].items():
                        if isinstance(value, str):
                            _inside(base_dir, value, f"probes.files.{key}")
            if name == "text" and base_dir is not None:  # lexicon and template files sit beside the config
                if isinstance(table.get("templates"), str):
                    table["templates"] = str(Path(base_dir, table["templates"]))
                if isinstance(table.get("lexicons"), list):
                    table["lexicons"] = [
                        str(Path(base_dir, v)) if isinstance(v, str) and v.endswith(".toml") else v
                        for v in table["lexicons"]
                    ]
            try:
                sections[name] = section_cls(**table)
            except TypeError as err:  # a required key is missing
                missing = [
                    f.name
                    for f in dataclasses.fields(section_cls)
                    if f.default is dataclasses.MISSING and f.name not in table
                ]
                raise ConfigError(
                    f"The [{name}] table lacks required settings {missing}. Add them to the config."
                ) from err
        return cls(**sections, **{k: raw[k] for k in ("title", "seed") if k in raw})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _reject_unknown(table: dict[str, Any], allowed: set[str], prefix: str) -> None:
    for key in table:
        if key not in allowed:
            close = difflib.get_close_matches(key, sorted(allowed), n=1)
            hint = f" Did you mean {prefix}{close[0]!r}?" if close else ""
            raise ConfigError(
                f"Unknown setting {prefix}{key!r}.{hint} Known settings here: {', '.join(sorted(allowed))}."
            )


def _inside(base_dir: str | Path, path: str, location: str) -> None:
    base = Path(base_dir).resolve()
    target = Path(path).resolve()
    if target != base and base not in target.parents:
        raise ConfigError(
            f"The {location!r} setting points outside the config's folder ({str(target)!r} is not under "
            f"{str(base)!r}). Move the file beside the config, or pass --allow-outside (in Python: "
            "load_config(..., allow_outside=True)) if this config is trusted."
        )


def load_config(path: str | Path, *, allow_outside: bool = False) -> AuditConfig:
    """Read and validate a TOML audit configuration. Relative paths in it are relative to the file, and must
    stay inside its folder unless ``allow_outside``."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise ConfigError(f"The config file {str(path)!r} does not exist. Check the path.") from err
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"The config file {str(path)!r} cannot be read: {err}.") from err
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(
            f"The config file {str(path)!r} is not valid TOML: {err}. Fix the syntax at that line."
        ) from err
    return AuditConfig.from_dict(raw, base_dir=path.parent, allow_outside=allow_outside)
