"""Text bias metrics: counterfactual score shifts with cluster-bootstrap intervals, identity-mention groups
with FPR/FNR and the unintended-bias AUC family (Borkan et al. 2019, 'Nuanced Metrics for Measuring
Unintended Bias with Real Data for Text Classification'), and attribution mass on identity terms."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np
from scipy import stats

from audit.fairness._stats import interval_or_none, resampled_ratio_of_sums

__all__ = ["shift_rows", "identity_groups", "identity_attribution", "roc_auc_delong", "POWER"]

POWER = -5  # the generalised mean's power in Borkan et al. (2019) and the Jigsaw challenge


def _shift_stats(
    text_ids: np.ndarray, change: np.ndarray, flipped: np.ndarray, *, n_boot: int, ci_level: float, seed: list[int]
) -> dict[str, Any]:
    """Flip rate and score changes over variants, with percentile intervals from a bootstrap that resamples
    texts (a text's variants move together: they share its wording)."""
    clusters, inverse = np.unique(text_ids, return_inverse=True)
    counts = np.bincount(inverse).astype(float)
    sums = {
        "flip_rate": np.bincount(inverse, flipped.astype(float)),
        "mean_abs_score_change": np.bincount(inverse, np.abs(change)),
        "mean_score_change": np.bincount(inverse, change),
    }
    row: dict[str, Any] = {
        "texts": int(len(clusters)),
        "variants": int(len(change)),
        "max_abs_score_change": float(np.abs(change).max()),
    }
    for name, total in sums.items():
        row[name] = float(total.sum() / counts.sum())
        row[f"{name}_ci"] = None
    if n_boot and len(clusters) > 1:
        for name, total in sums.items():  # the same seeded stream for each statistic: the same resamples
            draws = resampled_ratio_of_sums(total, counts, n_boot=n_boot, rng=np.random.default_rng(seed))
            row[f"{name}_ci"] = interval_or_none(draws, ci_level)
    if n_boot and (not flipped.any() or flipped.all()):
        row["flip_rate_ci"] = _no_variation_interval(bool(flipped.any()), len(clusters), ci_level)
    return row


def _no_variation_interval(all_flipped: bool, texts: int, ci_level: float) -> list[float]:
    """No flip (or only flips) among ``texts`` texts: every resample repeats it, so the bootstrap interval would be
    [0, 0]. The exact Clopper-Pearson bound with the text as the unit (a text's variants move together, so
    counting texts, not variants, is the cautious choice): 0 flips in 4 texts still allows a rate up to 0.60."""
    bound = float((1 - ci_level) / 2) ** (1 / texts)
    return [bound, 1.0] if all_flipped else [0.0, 1 - bound]


def shift_rows(
    frame, *, by: list[str], n_boot: int, ci_level: float, seed: int, min_texts: int
) -> list[dict[str, Any]]:
    """One row of shift statistics per value of ``by`` (columns of ``frame``: text_id, change, flipped...).
    Rows resting on fewer than ``min_texts`` texts are marked small (kept, never dropped)."""
    rows = []
    for index, (key, part) in enumerate(frame.groupby(by, sort=True, observed=True)):
        key = key if isinstance(key, tuple) else (key,)
        row = dict(zip(by, key))
        row.update(
            _shift_stats(
                part["text_id"].to_numpy(),
                part["change"].to_numpy(float),
                part["flipped"].to_numpy(bool),
                n_boot=n_boot,
                ci_level=ci_level,
                seed=[seed, index],
            )
        )
        row["small"] = row["texts"] < min_texts
        rows.append(row)
    return rows


def roc_auc_delong(y_true: np.ndarray, scores: np.ndarray, ci_level: float = 0.95):
    """ROC AUC with DeLong's variance (fast midrank form, Sun and Xu 2014) and a normal interval clipped
    to [0, 1]. ``(None, None, reason)`` when one class is missing."""
    y_true = np.asarray(y_true, bool)
    positives, negatives = scores[y_true], scores[~y_true]
    m, n = len(positives), len(negatives)
    if m == 0 or n == 0:
        return None, None, f"needs both classes (has {m} positive and {n} negative texts)"
    ranks_all = stats.rankdata(np.concatenate([positives, negatives]))
    ranks_pos, ranks_neg = stats.rankdata(positives), stats.rankdata(negatives)
    auc = (ranks_all[:m].sum() - m * (m + 1) / 2) / (m * n)
    v10 = (ranks_all[:m] - ranks_pos) / n  # per positive: share of negatives ranked below
    v01 = 1 - (ranks_all[m:] - ranks_neg) / m  # per negative: share of positives ranked above
    variance = (np.var(v10, ddof=1) / m if m > 1 else 0.0) + (np.var(v01, ddof=1) / n if n > 1 else 0.0)
    half = stats.norm.ppf(0.5 + ci_level / 2) * np.sqrt(variance)
    return float(auc), [float(max(0.0, auc - half)), float(min(1.0, auc + half))], None


def _wilson(successes: int, total: int, ci_level: float) -> list[float] | None:
    if total == 0:
        return None
    z = stats.norm.ppf(0.5 + ci_level / 2)
    p = successes / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z * np.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return [float(max(0.0, centre - half)), float(min(1.0, centre + half))]


def _power_mean(values: list[float], power: int = POWER) -> float | None:
    values = [v for v in values if v is not None]
    if not values:
        return None
    if min(values) <= 0:  # the limit of a negative-power mean when a value reaches 0
        return 0.0
    return float(np.mean(np.power(np.asarray(values, float), power)) ** (1 / power))


def identity_groups(
    y_true: np.ndarray,
    scores: np.ndarray,
    decisions: np.ndarray,
    mentioned: dict[str, list[set[str]]],
    *,
    min_texts: int,
    ci_level: float,
) -> dict[str, Any]:
    """Per identity-mention group (texts that mention the group): FPR, FNR, subgroup AUC, BPSN AUC, BNSP AUC;
    their generalised means over groups with ``min_texts``+ texts, and the combined bias score."""
    y_true, decisions = np.asarray(y_true, bool), np.asarray(decisions, bool)
    scores = np.asarray(scores, float)
    overall, overall_ci, _ = roc_auc_delong(y_true, scores, ci_level)
    rows = []
    for axis, per_text in mentioned.items():
        groups = sorted({g for present in per_text for g in present})
        for group in groups:
            inside = np.array([group in present for present in per_text])
            outside = ~inside
            row: dict[str, Any] = {
                "axis": axis,
                "group": group,
                "texts": int(inside.sum()),
                "positives": int((y_true & inside).sum()),
                "small": int(inside.sum()) < min_texts,
            }
            for name, actual, predicted in (("fpr", False, True), ("fnr", True, False)):
                pool = inside & (y_true == actual)
                hits = int((decisions[pool] == predicted).sum())
                row[name] = hits / pool.sum() if pool.sum() else None
                row[f"{name}_ci"] = _wilson(hits, int(pool.sum()), ci_level)
            sets = {
                "subgroup_auc": inside,
                "bpsn_auc": (inside & ~y_true) | (outside & y_true),  # background positive, subgroup negative
                "bnsp_auc": (outside & ~y_true) | (inside & y_true),
            }  # background negative, subgroup positive
            for name, members in sets.items():
                value, interval, reason = roc_auc_delong(y_true[members], scores[members], ci_level)
                row[name], row[f"{name}_ci"] = value, interval
                if reason:
                    row[f"{name}_undefined"] = reason
            rows.append(row)
    reliable = [r for r in rows if not r["small"]]
    means = {name: _power_mean([r[name] for r in reliable]) for name in ("subgroup_auc", "bpsn_auc", "bnsp_auc")}
    parts = [overall, *means.values()]
    score = None if any(p is None for p in parts) else float(np.mean(parts))
    return {
        "rows": rows,
        "overall_auc": overall,
        "overall_auc_ci": overall_ci,
        "generalized_mean": means,
        "power": POWER,
        "bias_score": score,
        "min_texts": min_texts,
    }


def identity_attribution(
    words: list[list[str]], values: list[list[float]], mentioned: dict[str, list[set[str]]], lexicons
) -> list[dict[str, Any]]:
    """Per (axis, group): among the explained texts that mention the group, the share of total absolute
    attribution that falls on the group's own terms (word level), the mean over texts, and the share those
    words would get if attribution were spread evenly (the yardstick)."""
    rows = []
    for lexicon in lexicons:
        per_text = mentioned.get(lexicon.axis, [])
        for group, terms in lexicon.groups.items():
            term_words = {w for term in terms for w in term.lower().split()}
            shares = []
            totals = defaultdict(float)
            for i, present in enumerate(per_text):
                if group not in present:
                    continue
                magnitude = np.abs(np.asarray(values[i], float))
                on_terms = sum(m for w, m in zip(words[i], magnitude) if _plain(w) in term_words)
                if magnitude.sum() > 0:
                    shares.append(on_terms / magnitude.sum())
                totals["on"] += on_terms
                totals["all"] += float(magnitude.sum())
                totals["term_words"] += sum(_plain(w) in term_words for w in words[i])
                totals["words"] += len(words[i])
            if shares:
                rows.append(
                    {
                        "axis": lexicon.axis,
                        "group": group,
                        "texts": len(shares),
                        "share": totals["on"] / totals["all"] if totals["all"] else None,
                        "mean_share": float(np.mean(shares)),
                        # what the share would be if every word got the same attribution
                        "uniform_share": totals["term_words"] / totals["words"] if totals["words"] else None,
                    }
                )
    return rows


def _plain(word: str) -> str:
    word = word.lower().strip().lstrip("#")
    return word[:-2] if word.endswith(("'s", "’s")) else word
