"""The result's gap explanations (docs/gaps.md): which features carry each disparity, and which stand in for the
protected attribute."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from audit.result._sections import _Section
from audit.result._serde import optional

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["GapFeature", "GapCheck", "GapExplanation", "GapReport", "JointProxy", "SwapExplanation", "SwapSummary"]

Interval = list[float]


@dataclass(frozen=True)
class GapFeature(_Section):
    """One feature's part in one gap. ``contribution``s of a gap's features add up to its ``gap``.

    ``role``: "direct" (the protected attribute itself is a model input), "proxy" (the feature tells the group from
    the comparison group with an AUC of at least ``proxy_auc`` and carries at least ``proxy_share`` of the gap),
    or "other"."""

    feature: str
    contribution: float  # in the metric's units
    contribution_ci: Interval | None
    share: float | None  # contribution / gap (None when the gap is 0)
    share_ci: Interval | None
    proxy_auc: float | None  # the feature alone telling the group's rows from the comparison group's (cross-fitted)
    nmi: float | None  # normalised mutual information of the (binned) feature and the attribute, all groups
    proxy_score: float | None  # (2 * proxy_auc - 1) * max(share, 0)
    role: str


@dataclass(frozen=True)
class JointProxy(_Section):
    """The inputs that carry a gap together, judged as one: every input other than the protected attribute that
    carries at least ``joint_min_share`` of the gap in its direction (``features``). Their Shapley parts add up
    (``contribution``, ``share``: interactions among them counted in full), and ``proxy_auc`` is how well they
    *together* tell the group's rows from the comparison group's (a cross-fitted gradient-boosted classifier, so
    many weak inputs and an XOR of two count), beside ``strongest_single_auc``, the best any of them does alone.
    ``role``: "proxy" when the AUC reaches ``proxy_auc`` and the share ``proxy_share`` (the single-input rule), else
    "other"."""

    features: list[str]
    contribution: float
    contribution_ci: Interval | None
    share: float
    share_ci: Interval | None
    proxy_auc: float | None
    strongest_single_auc: float | None
    role: str


@dataclass(frozen=True)
class GapCheck(_Section):
    """The decomposition's ranking, checked with fresh model calls at the two ends of the feature orders it averages
    over: the share of the gap that the top contributor carries when it is handed over first (the group's rows with
    the comparison group's values of that feature alone: ``closed_first``) and last (the comparison group's rows with
    the group's value of that feature alone: ``closed_last``). ``closed`` is their mean; it must exceed the same
    mean for random features (``closed_random``, over ``random_features``). Ends that disagree in sign mean the
    feature acts together with others (e.g. marital status with relationship): read their contributions together."""

    feature: str
    closed: float
    closed_ci: Interval | None
    closed_first: float
    closed_last: float
    closed_random: float | None
    margin: float | None  # closed - closed_random
    margin_ci: Interval | None
    random_features: list[str]
    passed: bool | None  # None: no other feature to compare with


@dataclass(frozen=True)
class GapExplanation(_Section):
    """The gap ``value - compared_value`` of ``metric`` between ``group`` and the comparison group of the fairness
    table (its benchmark), split over the model's input features."""

    table: str
    metric: str
    group: str
    compared_with: str
    value: float
    compared_value: float
    gap: float
    gap_ci: Interval | None
    flagged: bool  # the fairness finding of this pair is a warning (ratio below the threshold, significant)
    rows: int  # the group's rows the metric counts (its positives, for TPR)
    compared_rows: int
    pairs: int
    orders: int
    additivity_error: float  # |sum of contributions - gap|
    features: list[GapFeature]
    check: GapCheck | None = None
    note: str = ""
    joint_proxy: JointProxy | None = optional()  # None: no share (gap near 0) or fewer than two such inputs

    @property
    def proxies(self) -> list[GapFeature]:
        return [f for f in self.features if f.role == "proxy"]

    def to_frame(self) -> pd.DataFrame:
        """One row per feature, largest contribution first, for notebooks."""
        import pandas as pd

        frame = pd.DataFrame([f.to_dict() for f in self.features])
        return frame.assign(table=self.table, metric=self.metric, group=self.group, compared_with=self.compared_with)


@dataclass(frozen=True)
class SwapExplanation(_Section):
    """A text model's identity swap that flipped a decision: which words carry the change. Each word's change is its
    attribution in the variant minus in the original (words outside the swapped term aligned by position), in
    ``output_space`` (the positive class's log-odds); ``term_change`` is the swapped term's. They add up to
    ``explained_change``, which differs from ``output_change`` by the attributions' completeness error and the two
    baselines' difference (``unexplained``)."""

    axis: str
    source: str
    target: str
    original: str
    variant: str
    score_change: float  # the variant's score minus the original's (the audit's score: a probability)
    output_change: float  # the same change in output_space, which the word changes add up to
    output_space: str
    term: str  # the variant's swapped words
    term_change: float
    context: list[list[Any]]  # [[word, change], ...], largest |change| first (at most 5)
    term_share: float | None  # |term_change| / (|term_change| + sum of |context changes|)
    explained_change: float
    unexplained: float


@dataclass(frozen=True)
class SwapSummary(_Section):
    method: str
    examples: int
    term_share_mean: float | None
    term_share_ci: Interval | None


@dataclass(frozen=True)
class GapReport(_Section):
    """Every explained gap, the gaps left unexplained (with why), and the settings; for a text model, its identity
    swaps that flipped decisions, word by word."""

    explanations: list[GapExplanation]
    method: str
    settings: dict[str, Any] = field(default_factory=dict)
    not_explained: list[dict[str, str]] = field(default_factory=list)  # table, metric, reason
    swaps: list[SwapExplanation] = field(default_factory=list)
    swap_summary: SwapSummary | None = optional()

    def to_frame(self) -> pd.DataFrame:
        import pandas as pd

        frames = [e.to_frame() for e in self.explanations]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
