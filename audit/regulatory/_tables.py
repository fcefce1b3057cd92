"""Regulatory tables: the EEOC four-fifths rule and the NYC Local Law 144 bias audit.

Both compare each category's selection (or scoring) rate with the highest one. They are computed from
plain decisions so that an auditor can reproduce them by hand; the tests check them against fairlearn.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from audit.data._tables import MISSING_GROUP
from audit._errors import DataError
from audit.demographics._categories import InferredCategories
from audit.fairness._counts import encode_groups
from audit.fairness._tables import favourable_metric
from audit.fairness._types import FairnessTable
from audit.result._sections import LL144, FourFifths

__all__ = ["four_fifths", "ll144_audit", "ll144_favoured"]


def four_fifths(table: FairnessTable, *, threshold: float = 0.8, alpha: float = 0.05) -> FourFifths:
    """The four-fifths rule for one fairness table (29 CFR 1607.4(D)); see ``_four_fifths``."""
    return FourFifths.from_dict(_four_fifths(table, threshold=threshold, alpha=alpha), "four_fifths")


def _four_fifths(table: FairnessTable, *, threshold: float, alpha: float) -> dict[str, Any]:
    """Impact ratio of each group's favourable rate to the benchmark's, flagged below ``threshold``.

    The benchmark is the most-favoured group among groups with at least ``table.min_group_size`` rows
    (29 CFR 1607.4(D): differences built on small numbers may not constitute adverse impact); smaller groups
    are listed against it and marked small. Each row carries its sample size, the p-value of its comparison
    with the benchmark (z test, or Fisher's exact test for small counts; Holm-adjusted across the groups) and
    whether the gap is significant at ``alpha``. fairlearn's all-groups ratio (min / max over every group,
    whatever its size) stays beside it, labelled as such.
    """
    metric = favourable_metric(table.favourable)
    disparity = table.disparities.get(metric)
    if disparity is None or disparity.benchmark_group is None:
        return {"table": table.name, "applicable": False, "reason": f"needs {metric} for at least two groups"}
    rows = []
    for group in table.groups:
        rate = group.values.get(metric)
        comparison = disparity.to_benchmark.get(group.name)
        ratio = comparison.ratio if comparison else None
        p_holm = comparison.p_value_holm if comparison else None
        favoured = int(round(group.support.get(metric, group.n) * (rate or 0)))
        rows.append(
            {
                "group": group.name,
                "n": group.n,
                "favourable_count": favoured,
                "selection_rate": group.values.get("selection_rate"),
                "favourable_rate": rate,
                "favourable_rate_ci": group.ci.get(metric),
                "impact_ratio": ratio,
                "impact_ratio_ci": comparison.ratio_ci if comparison else None,
                "flagged": ratio is not None and ratio < threshold,
                "p_value": comparison.p_value if comparison else None,
                "p_value_holm": p_holm,
                "compared_with": disparity.benchmark_group,
                "significant": p_holm is not None and p_holm < alpha,
                "small": group.small,
                "benchmark": group.name == disparity.benchmark_group,
            }
        )
    return {
        "table": table.name,
        "applicable": True,
        "threshold": threshold,
        "alpha": alpha,
        "favourable": table.favourable,
        "rate": metric,
        "benchmark_group": disparity.benchmark_group,
        "benchmark_reason": disparity.benchmark_reason,
        "most_favoured_any_size": disparity.best_group,
        "all_groups_ratio": disparity.ratio,
        "all_groups_ratio_note": (
            "min / max over every group, whatever its size (fairlearn's "
            "demographic_parity_ratio when the positive decision is favourable)"
        ),
        "rows": rows,
        "flagged_groups": [r["group"] for r in rows if r["flagged"] and not r["small"]],
        "flagged_small_groups": [r["group"] for r in rows if r["flagged"] and r["small"]],
    }


def _rates(mask_positive: np.ndarray, frame: pd.DataFrame) -> tuple[list[str], np.ndarray, np.ndarray]:
    codes, keys = encode_groups(frame)
    n = np.bincount(codes, minlength=len(keys))
    positive = np.bincount(codes, weights=mask_positive.astype(float), minlength=len(keys))
    names = [", ".join(f"{c}={v}" for c, v in zip(frame.columns, key)) for key in keys]
    return names, n, positive


def ll144_favoured(
    *,
    mode: str,
    decisions: np.ndarray | None,
    scores: np.ndarray | None,
    favourable: str,
    positions: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, float | None, str]:
    """Each row's favourable outcome for an LL144 table (the decision, a score above the median, or a place in the
    better half of the row's own list), the median and the rate's name."""
    if mode == "ranking":
        if positions is None:
            raise DataError(
                'fairness.ll144.mode = "ranking" scores people by their places in ranked lists; set [ranking] rank '
                'or score (and query), or use mode = "scoring" or "selection".'
            )
        position, size = positions
        with np.errstate(invalid="ignore"):
            positive = 2 * position < size + 1  # strictly better than the list's median place
        return positive, None, "scoring_rate"
    if mode == "scoring":
        if scores is None:
            raise DataError(
                "The LL144 scoring-rate table needs scores; the model gives decisions only. Set "
                'fairness.ll144.mode = "selection", or audit a model with scores.'
            )
        median: float | None = float(np.median(scores))
        positive = np.asarray(scores) > median
        rate_name = "scoring_rate"
    else:
        positive = np.asarray(decisions, dtype=bool)
        median, rate_name = None, "selection_rate"
    return (~positive if favourable == "negative" else positive), median, rate_name


def _inferred_rates(
    inferred: InferredCategories, sensitive: pd.DataFrame, sex: str | None
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Category names, expected members and rates of the inferred race, alone or within each sex."""
    if sex is None:
        names = [f"{inferred.attribute}={g}" for g in inferred.groups]
        return names, inferred.expected[None], inferred.rates[None]
    strata = sorted((s for s in inferred.expected if s is not None), key=str)
    names = [f"{sex}={s}, {inferred.attribute}={g}" for s in strata for g in inferred.groups]
    expected = np.concatenate([inferred.expected[s] for s in strata])
    return names, expected, np.concatenate([inferred.rates[s] for s in strata])


def _inferred_note(inferred: InferredCategories) -> dict[str, object]:
    return {
        "attribute": inferred.attribute,
        "estimator": inferred.estimator,
        "converged": inferred.converged,
        "note": (
            f"{inferred.attribute} inferred from names and places (BISG/BIFSG): counts are expected members, rates "
            f"the {inferred.estimator} estimator's; see the inferred fairness table for intervals and bounds."
        ),
    }


def ll144_audit(
    sensitive: pd.DataFrame,
    *,
    sex: str | None,
    race: str | None,
    decisions: np.ndarray | None,
    scores: np.ndarray | None,
    mode: str = "selection",
    exclude_under: float | None = None,
    flag_below: float | None = None,
    unknown: tuple[str, ...] = (MISSING_GROUP,),
    favourable: str = "positive",
    min_group_size: int = 30,
    inferred_race: InferredCategories | None = None,
    positions: tuple[np.ndarray, np.ndarray] | None = None,
) -> LL144:
    """The bias-audit tables of NYC Local Law 144 (DCWP rules, 6 RCNY 5-301).

    ``mode="selection"``: selection rate per category from decisions. ``mode="scoring"``: scoring rate, the
    share of the category scoring above the median score of the full sample. Individuals in an unknown
    category are counted and left out of the rates. Categories under ``exclude_under`` (e.g. 0.02) of the
    data may be left out of the impact ratios; they are listed with that reason. The law sets no threshold:
    a flag is raised only below ``flag_below`` when it is given.

    The impact ratio's benchmark is the highest rate among categories with at least ``min_group_size``
    people that are not excluded (a category of two people is compared, never compared with); each table
    names it and why. ``favourable="negative"`` (a risk score, where the positive decision harms) counts
    the negative decision, or a score at or below the median, as the favourable outcome.

    ``inferred_race``: race was inferred from names and places (``race`` names the inferred attribute). Its
    categories count expected members, their rates are the named estimator's (fitted over the rows of known sex,
    and within each sex for the intersection), and rows whose name and place both failed to match are in the
    unknown category. Build it with ``favoured`` from :func:`ll144_favoured`.

    ``mode="ranking"``: the scoring rate from ranks, ``positions`` = (each row's place in its list, the list's size):
    a person scores above the median when ranked strictly above the median place of their own list (a list is what
    a place means); rows without a place, or alone in their list, are counted in the unknown category.
    """
    positive, median, rate_name = ll144_favoured(
        mode=mode, decisions=decisions, scores=scores, favourable=favourable, positions=positions
    )
    if mode == "ranking" and favourable == "negative":
        raise DataError(
            'fairness.ll144.mode = "ranking" reads a high place as favourable; this audit\'s favourable outcome is '
            "the negative one (data.favourable). Rank people so that the top is favourable, or use another mode."
        )
    categories = [c for c in (sex, race) if c is not None]
    breakdowns = [[c] for c in categories] + ([categories] if len(categories) == 2 else [])
    recorded = [c for c in categories if inferred_race is None or c != race]
    known = ~sensitive[recorded].isin(list(unknown)).any(axis=1).to_numpy()
    unranked = np.zeros(len(known), bool)
    if mode == "ranking" and positions is not None:
        unranked = ~(positions[1] >= 2)  # no place, or alone in the list: no median to be above
        known &= ~unranked
    if inferred_race is not None:
        known &= inferred_race.known
    tables = []
    total = int(known.sum())
    for columns in breakdowns:
        if inferred_race is not None and race in columns:
            names, n, rates = _inferred_rates(inferred_race, sensitive, sex if len(columns) == 2 else None)
        else:
            names, n, hits = _rates(positive[known], sensitive.loc[known, columns])
            rates = hits / n
        shares = n / max(total, 1)
        excluded = (shares < exclude_under) if exclude_under is not None else np.zeros(len(n), bool)
        usable = ~excluded & (n >= min_group_size) & np.isfinite(rates)
        if usable.any():
            benchmark = int(np.flatnonzero(usable)[np.argmax(rates[usable])])
            reason = (
                f"the highest {rate_name.replace('_', ' ')} among categories with at least {min_group_size} "
                "people" + (" that are not excluded" if exclude_under is not None else "")
            )
        else:
            candidates = np.flatnonzero(~excluded & np.isfinite(rates))
            candidates = candidates if len(candidates) else np.arange(len(n))
            benchmark = int(candidates[np.argmax(rates[candidates])])
            reason = f"no category has {min_group_size}+ people: the highest rate of any size (read as uncertain)"
        top = rates[benchmark]
        rows = []
        for i, name in enumerate(names):
            ratio = None if excluded[i] or not top else float(rates[i] / top)
            rows.append(
                {
                    "category": name,
                    "n": int(round(n[i])),
                    "expected_n": float(n[i]) if inferred_race is not None and race in columns else None,
                    "share": float(shares[i]),
                    rate_name: float(rates[i]),
                    "impact_ratio": ratio,
                    "excluded": (
                        {"reason": f"under {exclude_under:.0%} of the data ({shares[i]:.2%})"} if excluded[i] else None
                    ),
                    "flagged": bool(flag_below is not None and ratio is not None and ratio < flag_below),
                    "small": bool(n[i] < min_group_size),
                    "benchmark": i == benchmark,
                }
            )
        tables.append(
            {
                "breakdown": " x ".join(columns),
                "rows": rows,
                "benchmark_category": names[benchmark],
                "benchmark_reason": reason,
                "under_2_percent": [names[i] for i in range(len(names)) if shares[i] < 0.02],
                "inferred": _inferred_note(inferred_race) if inferred_race is not None and race in columns else None,
            }
        )
    unknown_counts = {c: int(sensitive[c].isin(list(unknown)).sum()) for c in recorded}
    if inferred_race is not None and race is not None:
        unknown_counts[race] = int((~inferred_race.known).sum())
    if unranked.any():
        unknown_counts["rank"] = int(unranked.sum())
    return LL144.from_dict(
        {
            "mode": mode,
            "rate": rate_name,
            "median_score": median,
            "tables": tables,
            "unknown_category_count": int((~known).sum()),
            "unknown_by_feature": unknown_counts,
            "exclude_under": exclude_under,
            "flag_below": flag_below,
            "total_known": total,
            "favourable": favourable,
            "min_group_size": min_group_size,
            "note": "The law sets no impact-ratio threshold; values are reported"
            + (f" and flagged below {flag_below}." if flag_below is not None else " without a flag.")
            + (
                " Scoring rate from ranks: the share of a category placed strictly above the median place of its "
                "own list; rows without a place or alone in a list are in the unknown category."
                if mode == "ranking"
                else ""
            ),
        },
        "ll144",
    )
