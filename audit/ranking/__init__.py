"""Ranking fairness: who gets seen at the top of a ranked list (docs/ranking.md)."""

from audit.ranking._table import RANKING_MEASURES, ranking_metrics
from audit.ranking._types import (
    PrefixFailure,
    PrefixTest,
    QueryFlag,
    RankingGroup,
    RankingMeasure,
    RankingTable,
    TopKTest,
)

__all__ = [
    "RANKING_MEASURES",
    "ranking_metrics",
    "PrefixFailure",
    "PrefixTest",
    "QueryFlag",
    "RankingGroup",
    "RankingMeasure",
    "RankingTable",
    "TopKTest",
]
