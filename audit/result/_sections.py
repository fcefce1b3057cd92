"""The result's sections as typed data: decisions, provenance, regulatory tables, text audits, explanation quality.

One dataclass per object of docs/result-schema.md. The gate, the report and the CLI read them through attributes;
``audit.result._serde`` turns them into JSON and back (fields made with ``optional()`` are absent when None, as
in schema 1.x files).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Self, cast

from audit._errors import ConfigError
from audit.result._serde import from_dict, optional, to_dict

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "Decision",
    "Provenance",
    "Regulatory",
    "FourFifths",
    "FourFifthsRow",
    "LL144",
    "LL144Table",
    "LL144Row",
    "TextAudit",
    "ShiftRow",
    "ShiftSection",
    "CounterfactualExample",
    "Probes",
    "IdentityGroups",
    "IdentityGroupRow",
    "IdentityAttribution",
    "QualityReport",
    "MethodQuality",
    "Faithfulness",
    "GroupMargin",
    "Sanity",
    "Completeness",
    "Agreement",
    "LexiconUse",
    "Slice",
    "SliceCondition",
    "SliceSearch",
    "SliceReport",
    "MitigationPoint",
    "MitigationFrontier",
    "MitigationReport",
    "ProbeRow",
    "ProbeExample",
    "ProbeSuite",
    "ProbeReport",
]

Interval = list[float]


def _frame(rows: list[Any]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame([row.to_dict() for row in rows])


class _Section:
    """to_dict / from_dict for a section dataclass."""

    def to_dict(self) -> dict[str, Any]:
        return cast(dict[str, Any], to_dict(self))

    @classmethod
    def from_dict(cls, raw: Any, where: str | None = None) -> Self:
        return cast(Self, from_dict(cls, raw, where or cls.__name__))


@dataclass(frozen=True)
class Decision(_Section):
    """An automatic choice of the audit and the setting that changes it."""

    choice: str
    value: Any
    evidence: str
    override: str


@dataclass(frozen=True)
class Provenance(_Section):
    """Where an audit came from. ``extra`` holds what a caller added (run_audit's ``extra_provenance``)."""

    started_at: str
    finished_at: str
    duration_s: float
    seed: int
    sha256: dict[str, str] = field(default_factory=dict)
    packages: dict[str, str | None] = field(default_factory=dict)
    environment: dict[str, str] = field(default_factory=dict)
    device: str | None = None
    timings_s: dict[str, float] = field(default_factory=dict)
    executor: dict[str, Any] = field(default_factory=dict)
    paths: dict[str, str | None] = field(default_factory=dict)
    git_commit: str | None = None
    threads: dict[str, Any] | None = optional()
    data_source: str | None = optional()
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(cls, raw: dict[str, Any]) -> Provenance:
        """From the known fields and, beside them, what a caller added (kept in ``extra``)."""
        known = set(cls.__dataclass_fields__) - {"extra"}
        extra = {**raw.get("extra", {}), **{k: v for k, v in raw.items() if k not in known and k != "extra"}}
        return cast(
            Provenance, from_dict(cls, {**{k: v for k, v in raw.items() if k in known}, "extra": extra}, "provenance")
        )


@dataclass(frozen=True)
class FourFifthsRow(_Section):
    group: str
    n: int
    impact_ratio: float | None
    flagged: bool
    small: bool
    benchmark: bool = False
    favourable_rate: float | None = None  # schema 1.3; earlier results have the selection rate only
    favourable_count: int | None = None
    selection_rate: float | None = None
    favourable_rate_ci: Interval | None = None
    impact_ratio_ci: Interval | None = None
    p_value: float | None = None
    p_value_holm: float | None = None
    compared_with: str | None = None
    significant: bool = False


@dataclass(frozen=True)
class FourFifths(_Section):
    """The four-fifths rule for one fairness table (29 CFR 1607.4(D)); ``applicable`` False says why not."""

    table: str
    applicable: bool
    reason: str | None = optional()
    threshold: float | None = optional()
    alpha: float | None = optional()
    favourable: str | None = optional()
    rate: str | None = optional()
    benchmark_group: str | None = optional()
    benchmark_reason: str | None = optional()
    most_favoured_any_size: str | None = optional()
    all_groups_ratio: float | None = optional()
    all_groups_ratio_note: str | None = optional()
    rows: list[FourFifthsRow] = field(default_factory=list)
    flagged_groups: list[str] = field(default_factory=list)
    flagged_small_groups: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class LL144Row(_Section):
    """One category of an LL144 table; the rate is ``selection_rate`` or ``scoring_rate`` by the table's mode."""

    category: str
    n: int
    share: float
    impact_ratio: float | None
    flagged: bool = False
    small: bool = False  # schema 1.3
    benchmark: bool = False  # schema 1.3
    excluded: dict[str, str] | None = None
    selection_rate: float | None = optional()
    scoring_rate: float | None = optional()
    expected_n: float | None = optional()  # schema 2.4: an inferred category's expected members (n rounds it)

    @property
    def rate(self) -> float | None:
        return self.selection_rate if self.scoring_rate is None else self.scoring_rate


@dataclass(frozen=True)
class LL144Table(_Section):
    breakdown: str
    rows: list[LL144Row]
    benchmark_category: str | None = None
    benchmark_reason: str | None = None
    under_2_percent: list[str] = field(default_factory=list)
    inferred: dict[str, Any] | None = optional()  # schema 2.4: the estimator behind an inferred breakdown


@dataclass(frozen=True)
class LL144(_Section):
    """NYC Local Law 144 impact ratios (rules 5-301, 5-303)."""

    mode: str
    rate: str
    tables: list[LL144Table]
    median_score: float | None = None
    unknown_category_count: int = 0
    unknown_by_feature: dict[str, int] = field(default_factory=dict)
    exclude_under: float | None = None
    flag_below: float | None = None
    total_known: int | None = None
    favourable: str | None = None
    min_group_size: int | None = None
    note: str = ""


@dataclass(frozen=True)
class Regulatory(_Section):
    four_fifths: list[FourFifths] = field(default_factory=list)
    ll144: LL144 | None = optional()

    def four_fifths_of(self, table: str) -> FourFifths | None:
        return next((entry for entry in self.four_fifths if entry.table == table), None)


@dataclass(frozen=True)
class ShiftRow(_Section):
    """Score shifts under identity swaps for one slice (an axis, a direction, a term pair, or all)."""

    texts: int
    variants: int
    max_abs_score_change: float
    flip_rate: float
    mean_abs_score_change: float
    mean_score_change: float
    small: bool
    flip_rate_ci: Interval | None = None
    mean_abs_score_change_ci: Interval | None = None
    mean_score_change_ci: Interval | None = None
    all: str | None = optional()
    axis: str | None = optional()
    source: str | None = optional()
    target: str | None = optional()
    pair: str | None = optional()
    coverage: float | None = optional()

    @property
    def name(self) -> str:
        return " ".join(str(part) for part in (self.axis, self.pair, self.source, self.target) if part) or "all"

    def value(self, metric: str) -> tuple[float | None, Interval | None]:
        """A metric and its interval, by the name a policy rule uses."""
        if metric not in ("flip_rate", "mean_abs_score_change", "mean_score_change", "max_abs_score_change"):
            return None, None
        return getattr(self, metric), getattr(self, f"{metric}_ci", None)


@dataclass(frozen=True)
class ShiftSection(_Section):
    axes: list[ShiftRow] = field(default_factory=list)
    directions: list[ShiftRow] = field(default_factory=list)
    pairs: list[ShiftRow] = field(default_factory=list)
    overall: ShiftRow | None = None
    pairs_total: int | None = optional()

    def to_frame(self, part: str = "axes") -> pd.DataFrame:
        """One part (``axes``, ``directions`` or ``pairs``) as a pandas DataFrame, for notebooks."""
        if part not in ("axes", "directions", "pairs"):
            raise ConfigError(
                f"The 'part' parameter of to_frame must be 'axes', 'directions' or 'pairs'. Got {part!r} instead."
            )
        return _frame(getattr(self, part))


@dataclass(frozen=True)
class CounterfactualExample(_Section):
    axis: str
    source: str
    target: str
    original: str
    variant: str
    original_score: float
    variant_score: float
    flipped: bool


@dataclass(frozen=True)
class Probes(_Section):
    originals: int
    variants: int
    counterfactuals: ShiftSection
    examples: list[CounterfactualExample] = field(default_factory=list)


@dataclass(frozen=True)
class IdentityGroupRow(_Section):
    axis: str
    group: str
    texts: int
    positives: int
    small: bool
    fpr: float | None = None
    fpr_ci: Interval | None = None
    fnr: float | None = None
    fnr_ci: Interval | None = None
    subgroup_auc: float | None = None
    subgroup_auc_ci: Interval | None = None
    subgroup_auc_undefined: str | None = optional()
    bpsn_auc: float | None = None
    bpsn_auc_ci: Interval | None = None
    bpsn_auc_undefined: str | None = optional()
    bnsp_auc: float | None = None
    bnsp_auc_ci: Interval | None = None
    bnsp_auc_undefined: str | None = optional()

    @property
    def name(self) -> str:
        return f"{self.axis}={self.group}"

    def value(self, metric: str) -> tuple[float | None, Interval | None]:
        if metric not in ("fpr", "fnr", "subgroup_auc", "bpsn_auc", "bnsp_auc"):
            return None, None
        return getattr(self, metric), getattr(self, f"{metric}_ci")


@dataclass(frozen=True)
class IdentityGroups(_Section):
    """Identity-mention groups against the rest (Borkan et al. 2019)."""

    rows: list[IdentityGroupRow]
    overall_auc: float | None
    generalized_mean: dict[str, float | None]
    power: float
    bias_score: float | None
    min_texts: int
    overall_auc_ci: Interval | None = None

    def to_frame(self) -> pd.DataFrame:
        """The rows as a pandas DataFrame, for notebooks."""
        return _frame(self.rows)


@dataclass(frozen=True)
class IdentityShareRow(_Section):
    axis: str
    group: str
    texts: int
    share: float | None
    mean_share: float
    uniform_share: float | None


@dataclass(frozen=True)
class IdentityAttribution(_Section):
    texts: int
    rows: list[IdentityShareRow]
    method: str | None = optional()
    reason: str | None = optional()


@dataclass(frozen=True)
class LexiconUse(_Section):
    axis: str
    groups: list[str]
    terms: int
    source: str


@dataclass(frozen=True)
class TextAudit(_Section):
    """The text-model bias audit: identity-term counterfactuals, template probes, identity-mention groups."""

    texts: int
    texts_with_identity_terms: int
    texts_without_identity_terms: int
    variants: int
    lexicons: list[LexiconUse]
    mentions: dict[str, dict[str, int]]
    counterfactuals: ShiftSection
    variants_truncated: int = 0
    not_applicable: list[str] = field(default_factory=list)
    examples: list[CounterfactualExample] = field(default_factory=list)
    probes: Probes | None = None
    identity_groups: IdentityGroups | None = optional()
    identity_attribution: IdentityAttribution | None = optional()


@dataclass(frozen=True)
class Completeness(_Section):
    """|base value + sum of attributions - model output| over the explained examples."""

    median: float
    worst: float
    tolerance: float
    share_above_tolerance: float
    examples: int


@dataclass(frozen=True)
class GroupMargin(_Section):
    examples: int
    small: bool
    deletion_margin: float | None = optional()
    deletion_margin_ci: Interval | None = optional()
    comprehensiveness_margin: float | None = optional()
    comprehensiveness_margin_ci: Interval | None = optional()

    def __json__(self) -> dict[str, Any]:
        out: dict[str, Any] = {"examples": self.examples, "small": self.small}
        # the measure of this kind, its interval null or not
        for name in ("deletion_margin", "comprehensiveness_margin"):
            if getattr(self, name) is not None:
                out.update({name: to_dict(getattr(self, name)), f"{name}_ci": to_dict(getattr(self, f"{name}_ci"))})
        return out

    @property
    def margin(self) -> tuple[float | None, Interval | None]:
        if self.deletion_margin is not None:
            return self.deletion_margin, self.deletion_margin_ci
        return self.comprehensiveness_margin, self.comprehensiveness_margin_ci


@dataclass(frozen=True)
class Faithfulness(_Section):
    """Deletion / insertion (tabular) or ERASER comprehensiveness / sufficiency (text), against random orders."""

    kind: str
    examples: int
    not_scored: dict[str, int]
    removal: str
    random_orders: int
    status: str = "ok"
    steps: list[int] | None = optional()
    fractions: list[float] | None = optional()
    by_group: dict[str, dict[str, GroupMargin]] = field(default_factory=dict)
    deletion: float | None = optional()
    deletion_random: float | None = optional()
    deletion_margin: float | None = optional()
    deletion_margin_ci: Interval | None = optional()
    deletion_curve: list[float] | None = optional()
    deletion_random_curve: list[float] | None = optional()
    insertion: float | None = optional()
    insertion_random: float | None = optional()
    insertion_margin: float | None = optional()
    insertion_margin_ci: Interval | None = optional()
    insertion_curve: list[float] | None = optional()
    insertion_random_curve: list[float] | None = optional()
    comprehensiveness: float | None = optional()
    comprehensiveness_random: float | None = optional()
    comprehensiveness_margin: float | None = optional()
    comprehensiveness_margin_ci: Interval | None = optional()
    comprehensiveness_curve: list[float] | None = optional()
    comprehensiveness_random_curve: list[float] | None = optional()
    sufficiency: float | None = optional()
    sufficiency_random: float | None = optional()
    sufficiency_margin: float | None = optional()
    sufficiency_margin_ci: Interval | None = optional()
    sufficiency_curve: list[float] | None = optional()
    sufficiency_random_curve: list[float] | None = optional()

    @property
    def measures(self) -> tuple[str, str]:
        """The two measures of this kind: (deletion, insertion) or (comprehensiveness, sufficiency)."""
        return ("comprehensiveness", "sufficiency") if self.kind == "eraser" else ("deletion", "insertion")

    def measure(self, name: str, part: str = "") -> Any:
        """``measure("deletion", "margin_ci")`` is ``deletion_margin_ci``; None when absent."""
        if name not in ("deletion", "insertion", "comprehensiveness", "sufficiency"):
            raise ConfigError(
                f"The 'name' parameter of measure must be deletion, insertion, comprehensiveness or "
                f"sufficiency. Got {name!r} instead."
            )
        return getattr(self, f"{name}_{part}" if part else name)

    @property
    def margin(self) -> tuple[float | None, Interval | None]:
        """The headline margin (deletion or comprehensiveness) and its interval."""
        first = self.measures[0]
        return self.measure(first, "margin"), self.measure(first, "margin_ci")


@dataclass(frozen=True)
class SanityStage(_Section):
    stage: str
    spearman: float | None
    examples: int | None = optional()
    modules: int | None = optional()


@dataclass(frozen=True)
class Sanity(_Section):
    """Randomisation sanity check (Adebayo et al. 2018), or ``kind = "not run"`` with the reason."""

    kind: str
    stages: list[SanityStage] = field(default_factory=list)
    final_spearman: float | None = None
    examples: int | None = optional()
    reason: str | None = optional()


@dataclass(frozen=True)
class MethodQuality(_Section):
    completeness: Completeness | None = None
    faithfulness: Faithfulness | None = optional()
    sanity: Sanity | None = optional()


@dataclass(frozen=True)
class Agreement(_Section):
    methods: list[str]
    features: int
    spearman: float | None
    top_overlap: float | None
    top: int | None = optional()  # how many top features the overlap compares


@dataclass(frozen=True)
class QualityReport(_Section):
    methods: dict[str, MethodQuality]
    agreement: list[Agreement] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SliceCondition(_Section):
    column: str
    kind: str  # "equals" (value: the category) or "between" (value: [low, high))
    value: Any
    words: str


@dataclass(frozen=True)
class Slice(_Section):
    """A confirmed slice. ``rows``, ``share``, ``metric`` and ``rest_metric`` describe the whole data;
    ``effect`` (slice minus rest), its interval, ``p_value`` and ``q_value`` come from the confirmation half
    alone, ``discovery_*`` from the half the slice was found on."""

    definition: str
    conditions: list[SliceCondition]
    rows: int
    share: float
    metric_rows: int
    metric: float | None
    rest_metric: float | None
    effect: float
    effect_ci: Interval | None
    p_value: float
    q_value: float
    discovery_effect: float
    discovery_p_value: float


@dataclass(frozen=True)
class SliceSearch(_Section):
    """One metric's search: what was searched, what was tested, what was confirmed."""

    metric: str
    words: str
    worse: str
    columns: list[str]
    slices: list[Slice]
    searched: int  # slices with enough rows on the discovery half
    candidates: int  # tested on the confirmation half
    depth: int  # conditions per slice reached
    complete: bool  # False: the time budget stopped the search early
    min_rows: int  # rows a slice needs in the whole data
    q: float
    fdr: str  # "by" (Benjamini-Yekutieli) or "bh" (Benjamini-Hochberg)
    overall_metric: float | None  # the search's time is in provenance.timings_s, so that results reproduce
    redundant: list[str] | None = optional()  # confirmed, then left out: no worse than the rest of a confirmed parent

    def to_frame(self) -> pd.DataFrame:
        """The confirmed slices as a pandas DataFrame, for notebooks."""
        import pandas as pd

        return pd.DataFrame([{k: v for k, v in s.to_dict().items() if k != "conditions"} for s in self.slices])


@dataclass(frozen=True)
class SliceReport(_Section):
    searches: list[SliceSearch]
    settings: dict[str, Any] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """Every confirmed slice of every metric, one row each, for notebooks."""
        import pandas as pd

        frames = [search.to_frame().assign(slice_metric=search.metric) for search in self.searches if search.slices]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


@dataclass(frozen=True)
class MitigationPoint(_Section):
    """A rule measured on the evaluation half. ``thresholds``: group -> [[threshold, probability], ...] (a row is
    positive when its score >= the threshold; "none" selects nobody, "all" everybody)."""

    tolerance: float | None  # None: the unconstrained optimum, or the current model
    feasible: bool
    uses_group: bool  # True: the group is needed at decision time
    fit_accuracy: float | None = None
    accuracy: float | None = None
    accuracy_ci: Interval | None = None
    constraint_value: float | None = None
    constraint_ci: Interval | None = None
    cost: float | None = None  # accuracy lost against the current model, held out
    cost_ci: Interval | None = None
    thresholds: dict[str, list[list[Any]]] = field(default_factory=dict)
    # whether the fix reaches its tolerance on the held-out half (the gate reads this), the tolerance it
    # was solved for on the fit half (tightened so that it reaches the target held out with chance ``reach``),
    # that chance as estimated on the fit half, and the share of held-out decisions that are coin flips
    reached: bool | None = optional()
    fit_target: float | None = optional()
    reach: float | None = optional()
    randomised_share: float | None = optional()
    randomised_share_ci: Interval | None = optional()


@dataclass(frozen=True)
class MitigationFrontier(_Section):
    constraint: str
    words: str
    sensitive: str
    groups: list[str]
    favourable: str
    current: MitigationPoint
    frontier: list[MitigationPoint]  # group-specific thresholds, by tolerance
    group_blind: list[MitigationPoint]  # one threshold for everybody, by tolerance
    fit_rows: int
    eval_rows: int
    n_boot: int
    constrained_groups: list[str] = field(default_factory=list)  # groups with min_group_size+ rows in each half
    min_group_size: int = 0
    reach_target: float | None = optional()  # the chance of reaching a tolerance held out that fixes aim for

    def at(self, tolerance: float, *, group_blind: bool = False) -> MitigationPoint | None:
        points = self.group_blind if group_blind else self.frontier
        return next((p for p in points if p.tolerance is not None and abs(p.tolerance - tolerance) < 1e-12), None)


@dataclass(frozen=True)
class MitigationReport(_Section):
    frontiers: list[MitigationFrontier]
    legal_note: str
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ProbeRow(_Section):
    """One measure of a language-model probe suite for one category (or ``all``), with its interval and test.

    ``role``: "bias" rows are tests of "no bias" (``null_value``), Holm-adjusted together within their suite
    (``p_holm``) and read by findings and the gate; "context" rows describe (accuracy, the secondary score).
    ``subject``: what the row is about within the category (a descriptor, a group, an occupation list)."""

    category: str
    measure: str
    role: str
    n: int
    estimate: float | None
    ci: Interval | None
    null_value: float | None = None
    p_value: float | None = None
    p_holm: float | None = None
    test: str = ""
    subject: str = ""
    note: str = ""

    @property
    def distance(self) -> float | None:
        """How far the estimate is from no bias (absolute), in the measure's own units."""
        if self.estimate is None or self.null_value is None:
            return None
        return abs(self.estimate - self.null_value)


@dataclass(frozen=True)
class ProbeAttribution(_Section):
    """Which tokens drove a continuation: every continuation token (a row, its log-probability) x every token the
    model read (a column). ``values[i][j]`` is None where token ``j`` comes after target ``i`` or is not
    attributed; ``delta`` is the completeness error per target (integrated gradients)."""

    method: str
    prompt: str
    continuation: str
    source_tokens: list[str]
    prompt_length: int
    target_labels: list[str]
    values: list[list[float | None]]
    outputs: list[float]
    base_values: list[float | None]
    delta: list[float] | None = None
    baseline: str = ""

    def top_sources(self, k: int = 3) -> list[tuple[str, float]]:
        """The ``k`` source tokens with the largest total absolute attribution over the targets."""
        totals = [
            sum(abs(v) for row in self.values if (v := row[j]) is not None) for j in range(len(self.source_tokens))
        ]
        order = sorted(range(len(totals)), key=lambda j: -totals[j])[:k]
        return [(self.source_tokens[j], totals[j]) for j in order]


@dataclass(frozen=True)
class ProbeExample(_Section):
    """A scored pair or prompt the reader can check by eye: what the model preferred, and by how much.
    Continuation suites also keep the prompt and continuation, and the attributions of both sides."""

    category: str
    preferred: str
    other: str
    difference: float  # log-likelihood (nats) or score units, as the suite's ``units`` say
    stereotyped: bool  # True: the model preferred the stereotype-consistent side
    prompt: str = ""  # continuation suites: the preferred side's prompt
    continuation: str = ""
    other_prompt: str = ""  # the other side's prompt with the same continuation (occupations)
    attributions: list[ProbeAttribution] = field(default_factory=list)


@dataclass(frozen=True)
class ProbeSuite(_Section):
    """One probe suite on one model: what was asked, of how many items, and what was measured."""

    name: str
    description: str
    source: str
    units: str
    items: int
    items_available: int
    rows: list[ProbeRow]
    examples: list[ProbeExample] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        """The suite's rows as a pandas DataFrame, for notebooks."""
        return _frame(self.rows).assign(suite=self.name)


@dataclass(frozen=True)
class ProbeReport(_Section):
    """Bias probes of a generative language model (docs/probes.md)."""

    model: dict[str, Any]
    suites: list[ProbeSuite]
    alpha: float = 0.01

    def to_frame(self) -> pd.DataFrame:
        """Every row of every suite, for notebooks."""
        import pandas as pd

        frames = [s.to_frame() for s in self.suites if s.rows]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
