"""Regulatory tables: the EEOC four-fifths rule and the NYC Local Law 144 bias audit.

Both compare each category's selection (or scoring) rate with the highest one. They are computed from
plain decisions so that an auditor can reproduce them by hand; the tests check them against fairlearn.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from audit._data import MISSING_GROUP
from audit._fairness import FairnessTable, encode_groups

__all__ = ["four_fifths", "ll144_audit"]


def four_fifths(table: FairnessTable, *, threshold: float = 0.8, alpha: float = 0.05) -> dict[str, Any]:
    """Impact ratio of each group's selection rate to the most-selected group's, flagged below ``threshold``.

    The rule itself discounts gaps built on small numbers, so each row carries its sample size, the p-value
    of the gap (z test, or Fisher's exact test for small counts; Holm-adjusted across the groups) and
    whether the gap is significant at ``alpha``.
    """
    disparity = table.disparities.get("selection_rate")
    if disparity is None or disparity.best_group is None:
        return {"table": table.name, "applicable": False,
                "reason": "needs selection_rate for at least two groups"}
    best = table.group(disparity.best_group)
    rows = []
    for group in table.groups:
        rate = group.values.get("selection_rate")
        comparison = disparity.to_best.get(group.name, {})
        ratio = comparison.get("ratio")
        p_holm = comparison.get("p_value_holm")
        rows.append({
            "group": group.name, "n": group.n, "selected": int(round((rate or 0) * group.n)),
            "selection_rate": rate, "impact_ratio": ratio, "impact_ratio_ci": comparison.get("ratio_ci"),
            "flagged": ratio is not None and ratio < threshold,
            "p_value": comparison.get("p_value"), "p_value_holm": p_holm,
            "significant": p_holm is not None and p_holm < alpha, "small": group.small,
            "reference": group.name == best.name,
        })
    return {"table": table.name, "applicable": True, "threshold": threshold, "alpha": alpha,
            "most_selected_group": best.name, "rows": rows,
            "flagged_groups": [r["group"] for r in rows if r["flagged"]]}


def _rates(mask_positive: np.ndarray, frame: pd.DataFrame) -> tuple[list[str], np.ndarray, np.ndarray]:
    codes, keys = encode_groups(frame)
    n = np.bincount(codes, minlength=len(keys))
    positive = np.bincount(codes, weights=mask_positive.astype(float), minlength=len(keys))
    names = [", ".join(f"{c}={v}" for c, v in zip(frame.columns, key)) for key in keys]
    return names, n, positive


def ll144_audit(sensitive: pd.DataFrame, *, sex: str | None, race: str | None, decisions: np.ndarray | None,
                scores: np.ndarray | None, mode: str = "selection", exclude_under: float | None = None,
                flag_below: float | None = None, unknown: tuple[str, ...] = (MISSING_GROUP,)) -> dict[str, Any]:
    """The bias-audit tables of NYC Local Law 144 (DCWP rules, 6 RCNY 5-301).

    ``mode="selection"``: selection rate per category from decisions. ``mode="scoring"``: scoring rate, the
    share of the category scoring above the median score of the full sample. Individuals in an unknown
    category are counted and left out of the rates. Categories under ``exclude_under`` (e.g. 0.02) of the
    data may be left out of the impact ratios; they are listed with that reason. The law sets no threshold:
    a flag is raised only below ``flag_below`` when it is given.
    """
    if mode == "scoring":
        if scores is None:
            raise ValueError("The LL144 scoring-rate table needs scores; the model gives decisions only.")
        median = float(np.median(scores))
        positive = np.asarray(scores) > median
        rate_name = "scoring_rate"
    else:
        positive = np.asarray(decisions, dtype=bool)
        median, rate_name = None, "selection_rate"
    categories = [c for c in (sex, race) if c is not None]
    breakdowns = [[c] for c in categories] + ([categories] if len(categories) == 2 else [])
    known = ~sensitive[categories].isin(list(unknown)).any(axis=1).to_numpy()
    tables = []
    total = int(known.sum())
    for columns in breakdowns:
        frame = sensitive.loc[known, columns]
        names, n, hits = _rates(positive[known], frame)
        rates = hits / n
        shares = n / max(total, 1)
        excluded = (shares < exclude_under) if exclude_under is not None else np.zeros(len(n), bool)
        usable = ~excluded
        top = rates[usable].max() if usable.any() else np.nan
        rows = []
        for i, name in enumerate(names):
            ratio = None if excluded[i] or not top else float(rates[i] / top)
            rows.append({"category": name, "n": int(n[i]), "share": float(shares[i]), rate_name: float(rates[i]),
                         "impact_ratio": ratio,
                         "excluded": ({"reason": f"under {exclude_under:.0%} of the data ({shares[i]:.2%})"}
                                      if excluded[i] else None),
                         "flagged": bool(flag_below is not None and ratio is not None and ratio < flag_below)})
        tables.append({"breakdown": " x ".join(columns), "rows": rows,
                       "under_2_percent": [names[i] for i in range(len(names)) if shares[i] < 0.02]})
    unknown_counts = {c: int(sensitive[c].isin(list(unknown)).sum()) for c in categories}
    return {"mode": mode, "rate": rate_name, "median_score": median, "tables": tables,
            "unknown_category_count": int((~known).sum()), "unknown_by_feature": unknown_counts,
            "exclude_under": exclude_under, "flag_below": flag_below, "total_known": total,
            "note": "The law sets no impact-ratio threshold; values are reported"
                    + (f" and flagged below {flag_below}." if flag_below is not None else " without a flag.")}
