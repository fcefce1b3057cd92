"""Adverse-decision notices: the principal reasons for unfavourable decisions of tree models (docs/notices.md)."""

from audit.notices._notices import Notice, NoticeBatch, NoticeSettings, Reason, ReasonCheck, explain_decisions
from audit.notices._reasons import ReasonSets, reason_sets

__all__ = [
    "Notice",
    "NoticeBatch",
    "NoticeSettings",
    "Reason",
    "ReasonCheck",
    "ReasonSets",
    "explain_decisions",
    "reason_sets",
]
