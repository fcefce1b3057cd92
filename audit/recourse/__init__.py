"""Counterfactual recourse for unfavourable decisions and its burden by group (docs/recourse.md)."""

from audit.recourse._api import find_recourse
from audit.recourse._burden import recourse_burden
from audit.recourse._engine import RecourseChange, DecisionRule, RecourseBatch, RowRecourse, search_recourse

__all__ = [
    "RecourseChange",
    "DecisionRule",
    "RecourseBatch",
    "RowRecourse",
    "find_recourse",
    "recourse_burden",
    "search_recourse",
]
