"""The result's paired-swap audits (docs/swaps.md): a scorer's or a pairwise judge's output on the same input with
only an identity signal, the order of two answers, or an answer's length changed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from audit.result._sections import ProbeRow, _frame, _Section

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["SwapExample", "SwapSuite", "SwapAudit"]


@dataclass(frozen=True)
class SwapExample(_Section):
    """One original and its variant side by side, with what the scorer or judge made of each.

    ``values``: the score, the rank in its list, or the number of the two orders a candidate won, for the original
    and the variant; ``flipped``: the decision, the top-k membership or the verdict changed."""

    subject: str  # "name_gender: male -> female", "order", "padding"
    original: str
    variant: str
    measure: str  # what ``original_value`` / ``variant_value`` are: "score", "rank", "wins of 2"
    original_value: float
    variant_value: float
    flipped: bool
    note: str = ""


@dataclass(frozen=True)
class SwapSuite(_Section):
    """One kind of swap on one scorer: how many pairs were scored, what was left out and why, and the paired
    measures (``rows``: the bias rows are tests of "the swap changes nothing", Holm-adjusted over the whole audit)."""

    name: str  # "identity" (documents), "judge_position", "judge_length", "judge_identity"
    description: str
    units: str
    pairs: int  # original-variant pairs scored
    excluded: dict[str, int]  # reason -> pairs left out (counted, never silently dropped)
    rows: list[ProbeRow]
    examples: list[SwapExample] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        """The suite's rows as a pandas DataFrame, for notebooks."""
        return _frame(self.rows).assign(suite=self.name)


@dataclass(frozen=True)
class SwapAudit(_Section):
    """Paired-swap audits of one scorer or judge (``AuditResult.swaps``, schema 2.6).

    ``scorer``: what was audited and how its output was read (kind, decision threshold, k, the judge's answer
    labels and the least probability it must put on them); ``alpha``: the Holm-adjusted p-value under which a bias
    row becomes a finding."""

    scorer: dict[str, Any]
    suites: list[SwapSuite]
    alpha: float = 0.01
    settings: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        """Every row of every suite, for notebooks."""
        import pandas as pd

        return pd.concat([s.to_frame() for s in self.suites], ignore_index=True) if self.suites else pd.DataFrame()

    def bias_rows(self) -> list[tuple[SwapSuite, ProbeRow]]:
        return [(s, r) for s in self.suites for r in s.rows if r.role == "bias"]
