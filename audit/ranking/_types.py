"""What a ranking audit returns: per group, how much attention its items get and how many reach the top k."""

from __future__ import annotations

from dataclasses import dataclass, field

from audit.fairness._types import Comparison, Interval

__all__ = ["RankingGroup", "TopKTest", "RankingMeasure", "RankingTable", "QueryFlag", "PrefixTest", "PrefixFailure"]


@dataclass(frozen=True)
class RankingGroup:
    group: str
    items: int  # the group's ranked items over every query kept
    queries: int  # queries in which it has an item
    pool_share: float  # its share of the ranked items
    small: bool  # under min_group_size items: never the benchmark, no interval or test
    # exposure (mean 1/log2(1 + position) per item), attention (mean p(1-p)^(position-1) per item),
    # top_k_share (its share of the top-k places), selection_rate_at_k (share of its items in the top k)
    values: dict[str, float | None] = field(default_factory=dict)
    ci: dict[str, Interval | None] = field(default_factory=dict)  # query-resampled percentile intervals


@dataclass(frozen=True)
class TopKTest:
    """Does the group reach the top k as often as a group-blind ranking of the same pools would put it there?"""

    group: str
    observed: int  # its items in the top k, over queries
    expected: float  # under a group-blind ranking (sum over queries of k_q * members_q / pool_q)
    test: str
    p_value: float | None
    p_value_holm: float | None = None  # over the groups of this table


@dataclass(frozen=True)
class PrefixFailure:
    """A query whose top k falls short for a group at some prefix: the first such prefix, the group's places in it
    and the number FA*IR's adjusted table requires."""

    query: str
    prefix: int
    observed: int
    required: int


@dataclass(frozen=True)
class PrefixTest:
    """FA*IR's prefix test for one group (docs/ranking.md): in how many queries its top k falls short at some prefix,
    against what a group-blind ranking gives (each query's failure probability is at most ``alpha``)."""

    group: str
    alpha: float
    queries_tested: int  # queries where the group could fall short (it has items, and not every item is in the top)
    failed: int
    expected_failures: float  # under a group-blind ranking: the sum of the queries' failure probabilities
    test: str
    p_value: float | None  # one-sided: more failing queries than a group-blind ranking gives
    p_value_holm: float | None = None  # over the groups of this table
    failures: list[PrefixFailure] = field(default_factory=list)  # the first five failing queries


@dataclass(frozen=True)
class RankingMeasure:
    """One measure's comparisons with the benchmark group (the best among groups that are not small)."""

    metric: str
    benchmark_group: str | None
    benchmark_reason: str
    to_benchmark: dict[str, Comparison] = field(default_factory=dict)
    worst_to_benchmark: str | None = None


@dataclass(frozen=True)
class QueryFlag:
    """A query where one group's top-k count alone is improbable under a group-blind ranking (exact test)."""

    query: str
    group: str
    observed: int
    expected: float
    p_value: float


@dataclass(frozen=True)
class RankingTable:
    sensitive_features: list[str]
    k: int
    attention_p: float
    queries: int  # queries kept (two items or more)
    items: int  # ranked items kept
    excluded: dict[str, int]  # what was left out and why: missing_rank, single_item_queries, missing_group
    ties: str  # "refuse" (there were none) or "random" (broken uniformly at random, seeded)
    tied_items: int  # items that shared their rank or score with another of the same query
    groups: list[RankingGroup]
    top_k: list[TopKTest]
    measures: dict[str, RankingMeasure]
    intervals: str  # how the intervals were made, or why there are none
    # the queries whose exact per-query test is smallest, per group (p < 0.05, unadjusted), at most 5 a group;
    # with how many queries were flagged per group against the 5% a group-blind ranking would give at most
    flagged_queries: list[QueryFlag] = field(default_factory=list)
    flagged_counts: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    prefix_tests: list[PrefixTest] = field(default_factory=list)  # 2.6: FA*IR's prefix test per group

    @property
    def name(self) -> str:
        return " x ".join(self.sensitive_features)
