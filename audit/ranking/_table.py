"""Ranking fairness: exposure and attention by group, the top k against the pool, impact ratios at k; pooled over
queries with query-resampled intervals, exact finite-pool tests, a benchmark group and Holm (docs/ranking.md)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import hypergeom

from audit._errors import ConfigError
from audit.fairness._counts import encode_groups
from audit.fairness._stats import holm
from audit.fairness._types import Comparison
from audit.ranking._hypergeom import stratified_hypergeometric_test
from audit.ranking._permutation import RankedItems, pairwise_permutation_test
from audit.ranking._prefix import prefix_tests
from audit.ranking._types import QueryFlag, RankingGroup, RankingMeasure, RankingTable, TopKTest

__all__ = ["ranking_metrics", "RANKING_MEASURES", "list_positions"]

# the measures compared with a benchmark group; higher is better for each
RANKING_MEASURES = ("exposure", "attention", "selection_rate_at_k")
_STATS = ("members", "exposure", "exposure_sq", "attention", "attention_sq", "top_k")


def _error(message: str) -> ConfigError:
    return ConfigError(f"ranking_metrics: {message}")


def _column(data: pd.DataFrame, name: Any, setting: str) -> pd.Series:
    if not isinstance(name, str) or name not in data.columns:
        raise _error(
            f"The '{setting}' parameter must name a column of the data. Got {name!r}; columns: "
            f"{', '.join(map(str, data.columns[:20]))}."
        )
    return data[name]


def _positions(
    query_codes: np.ndarray, order_key: np.ndarray, query_names: np.ndarray, setting: str, ties: str, seed: int
) -> tuple[np.ndarray, int]:
    """1-based position of each row within its query (rows already free of missing keys), and how many items were
    in a tie: refused, or broken uniformly at random (seeded) when ``ties = "random"``."""
    order = np.lexsort((order_key, query_codes))
    sorted_query, sorted_key = query_codes[order], order_key[order]
    same_query = sorted_query[1:] == sorted_query[:-1]
    tied = same_query & (sorted_key[1:] == sorted_key[:-1])
    tied_items = int((np.r_[tied, False] | np.r_[False, tied]).sum())
    if tied.any():
        if ties != "random":
            examples = pd.unique(query_names[sorted_query[1:][tied]])[:3]
            raise _error(
                f"{int(tied.sum())} item(s) share a {setting} with another item of the same query (e.g. in "
                f"{', '.join(map(str, examples))}); a tie leaves the order, and so every position, undefined. Break "
                'the ties first (e.g. by a second sort key) and pass the resulting rank, or set ties = "random" '
                "(ranking.ties in a config) to break them at random, seeded and recorded."
            )
        shuffle = np.random.default_rng(seed).permutation(len(order_key))
        order = np.lexsort((shuffle, order_key, query_codes))
        sorted_query = query_codes[order]
        same_query = sorted_query[1:] == sorted_query[:-1]
    starts = np.r_[0, np.flatnonzero(~same_query) + 1]
    sizes = np.diff(np.r_[starts, len(order)])
    position = np.empty(len(order), dtype=np.int64)
    position[order] = np.arange(len(order)) - np.repeat(starts, sizes) + 1
    return position, tied_items


def list_positions(
    data: pd.DataFrame,
    *,
    rank: str | None = None,
    score: str | None = None,
    query: str | None = None,
    ties: str = "refuse",
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Each row's 1-based position in its list and the list's size (NaN for a row without a rank or score), by the
    same rules as :func:`ranking_metrics` (ties refused or broken at random, seeded)."""
    if (rank is None) == (score is None):
        raise _error("Pass exactly one of 'rank' (1 = top) and 'score' (higher = better).")
    setting = "rank" if rank is not None else "score"
    raw = _column(data, rank if rank is not None else score, setting)
    key = pd.to_numeric(raw, errors="coerce")
    if (key.isna() & raw.notna()).any():
        raise _error(f"The '{setting}' column must hold numbers; e.g. {raw[key.isna() & raw.notna()].iloc[0]!r}.")
    if query is not None:
        codes, names = pd.factorize(_column(data, query, "query"), sort=True)
        if (codes < 0).any():
            raise _error("The 'query' column has missing values: every item needs the list it was ranked in.")
    else:
        codes, names = np.zeros(len(data), dtype=np.int64), np.array(["all"], dtype=object)
    kept = key.notna().to_numpy()
    order_key = key.to_numpy(dtype=float)[kept]
    codes_kept = np.asarray(codes)[kept].astype(np.int64)
    position, _ = _positions(
        codes_kept, order_key if rank is not None else -order_key, np.asarray(names, dtype=object), setting, ties, seed
    )
    positions = np.full(len(data), np.nan)
    sizes = np.full(len(data), np.nan)
    positions[kept] = position
    sizes[kept] = np.bincount(codes_kept, minlength=len(names))[codes_kept]
    return positions, sizes


def ranking_metrics(
    data: pd.DataFrame,
    *,
    sensitive: str | list[str],
    rank: str | None = None,
    score: str | None = None,
    query: str | None = None,
    k: int = 10,
    attention_p: float = 0.5,
    min_group_size: int = 30,
    n_boot: int = 1000,
    min_queries: int = 20,
    ties: str = "refuse",
    ci_level: float = 0.95,
    prefix_alpha: float = 0.1,
    seed: int = 0,
) -> RankingTable:
    """Fairness of a ranking (or of many: one per ``query``) between the groups of ``sensitive``.

    Positions come from ``rank`` (1 = top) or ``score`` (higher = better), exactly one of them; ties are refused,
    or broken at random (seeded; counted in ``tied_items``) with ``ties="random"``.
    Rows without a rank are left out and counted; queries of one item are left out and counted (no order to
    audit); items without a group keep their places (they still push others down) and are counted. With at least
    ``min_queries`` queries, every value gets a percentile interval from ``n_boot`` resamples of whole queries.
    ``prefix_alpha``: the level of FA*IR's prefix test in each query (the paper's default, 0.1).
    """
    if (rank is None) == (score is None):
        raise _error("Pass exactly one of 'rank' (1 = top) and 'score' (higher = better).")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise _error(f"The 'k' parameter must be an integer >= 1. Got {k!r} instead.")
    if ties not in ("refuse", "random"):
        raise _error(f"The 'ties' parameter must be 'refuse' or 'random'. Got {ties!r} instead.")
    if isinstance(prefix_alpha, bool) or not isinstance(prefix_alpha, (int, float)) or not 0 < prefix_alpha < 0.5:
        raise _error(f"The 'prefix_alpha' parameter must be in (0, 0.5). Got {prefix_alpha!r} instead.")
    if not 0 < attention_p < 1:
        raise _error(f"The 'attention_p' parameter must be in (0, 1). Got {attention_p!r} instead.")
    if not 0 < ci_level < 1 or n_boot < 0 or min_queries < 2 or min_group_size < 0:
        raise _error(
            "Needs 0 < ci_level < 1, n_boot >= 0, min_queries >= 2 and min_group_size >= 0. Got "
            f"ci_level={ci_level!r}, n_boot={n_boot!r}, min_queries={min_queries!r}, min_group_size={min_group_size!r}."
        )
    features = [sensitive] if isinstance(sensitive, str) else list(sensitive)
    groups_frame = pd.DataFrame({name: _column(data, name, "sensitive") for name in features})
    setting = "rank" if rank is not None else "score"
    key = pd.to_numeric(_column(data, rank if rank is not None else score, setting), errors="coerce")
    raw_key = _column(data, rank if rank is not None else score, setting)
    if (key.isna() & raw_key.notna()).any():
        raise _error(
            f"The '{setting}' column must hold numbers; e.g. {raw_key[key.isna() & raw_key.notna()].iloc[0]!r}."
        )
    if query is not None:
        queries_column = _column(data, query, "query")
        if queries_column.isna().any():
            raise _error(
                f"The 'query' column has {int(queries_column.isna().sum())} missing value(s): every item needs the "
                "query (job posting, search) it was ranked in. Fill or drop them."
            )
        query_codes, query_names = pd.factorize(queries_column, sort=True)
    else:
        query_codes, query_names = np.zeros(len(data), dtype=np.int64), np.array(["all"], dtype=object)
    query_names = np.asarray(query_names, dtype=object)
    excluded = {"missing_rank": int(key.isna().sum())}
    kept = key.notna().to_numpy()
    order_key = key.to_numpy(dtype=float)[kept]
    order_key = order_key if rank is not None else -order_key
    codes_kept = np.asarray(query_codes)[kept].astype(np.int64)
    position, tied_items = _positions(codes_kept, order_key, query_names, setting, ties, seed)
    sizes = np.bincount(codes_kept, minlength=len(query_names))
    single = sizes[codes_kept] < 2
    excluded["single_item_queries"] = int((sizes == 1).sum())
    rows = np.flatnonzero(kept)[~single]
    position, codes_kept = position[~single], codes_kept[~single]
    present = np.flatnonzero(sizes >= 2)
    if len(present) == 0:
        raise _error("No query has two or more ranked items: there is no order to audit.")
    query_index = np.full(len(query_names), -1, dtype=np.int64)
    query_index[present] = np.arange(len(present))
    q = query_index[codes_kept]
    n_queries = len(present)
    pool = sizes[present]
    k_q = np.minimum(k, pool)

    sensitive_kept = groups_frame.iloc[rows].reset_index(drop=True)
    known = sensitive_kept.notna().all(axis=1).to_numpy()
    excluded["missing_group"] = int((~known).sum())
    if not known.any():
        raise _error("No ranked item has a group in every sensitive column.")
    codes, keys = encode_groups(sensitive_kept[known])
    names = [", ".join(f"{c}={v}" for c, v in zip(features, key_)) for key_ in keys]
    n_groups = len(names)
    exposure = 1.0 / np.log2(1.0 + position[known])
    attention = attention_p * (1.0 - attention_p) ** (position[known] - 1.0)
    in_top = (position[known] <= k_q[q[known]]).astype(float)
    flat = q[known] * n_groups + codes
    weights = {
        "members": np.ones(len(codes)),
        "exposure": exposure,
        "exposure_sq": exposure**2,
        "attention": attention,
        "attention_sq": attention**2,
        "top_k": in_top,
    }
    sums = {
        name: np.bincount(flat, weights=w, minlength=n_queries * n_groups).reshape(n_queries, n_groups)
        for name, w in weights.items()
    }

    def values_of(totals: dict[str, np.ndarray], places: np.ndarray) -> dict[str, np.ndarray]:
        members = totals["members"]
        with np.errstate(all="ignore"):
            return {
                "exposure": totals["exposure"] / members,
                "attention": totals["attention"] / members,
                "selection_rate_at_k": totals["top_k"] / members,
                "top_k_share": totals["top_k"] / places[..., None],
            }

    pooled = {name: s.sum(axis=0) for name, s in sums.items()}
    point = values_of(pooled, np.asarray(float(k_q.sum())))
    boot: dict[str, np.ndarray] | None = None
    if n_queries >= min_queries and n_boot > 0:
        rng = np.random.default_rng(seed)
        draws = rng.multinomial(n_queries, np.full(n_queries, 1.0 / n_queries), size=n_boot).astype(float)
        boot = values_of(
            {name: draws @ s for name, s in sums.items() if name in ("members", "exposure", "attention", "top_k")},
            draws @ k_q.astype(float),
        )
        intervals = f"percentile, {n_boot} resamples of whole queries (seed {seed})"
    elif n_boot > 0:
        counted = f"{n_queries} quer{'y' if n_queries == 1 else 'ies'}"
        intervals = f"none: {counted}; intervals resample whole queries and need at least {min_queries}"
    else:
        intervals = "none: n_boot = 0"
    alpha = (1 - ci_level) / 2

    def interval(samples: np.ndarray) -> list[float] | None:
        finite = samples[np.isfinite(samples)]
        if boot is None or len(finite) < 0.9 * len(samples):
            return None
        return [float(np.quantile(finite, alpha)), float(np.quantile(finite, 1 - alpha))]

    members_total = pooled["members"]
    small = members_total < min_group_size
    groups = [
        RankingGroup(
            group=names[g],
            items=int(members_total[g]),
            queries=int((sums["members"][:, g] > 0).sum()),
            pool_share=float(members_total[g] / members_total.sum()),
            small=bool(small[g]),
            values={m: _finite(point[m][g]) for m in (*RANKING_MEASURES, "top_k_share")},
            ci={m: interval(boot[m][:, g]) if boot is not None else None for m in (*RANKING_MEASURES, "top_k_share")},
        )
        for g in range(n_groups)
    ]
    items = RankedItems(q[known], codes, {"exposure": exposure, "attention": attention})
    measures = {m: _measure(m, point[m], boot, names, small, sums, items, interval, seed) for m in RANKING_MEASURES}
    top_k = _top_k_tests(sums, pool, k_q, names)
    flags, flag_counts = _flag_queries(sums, pool, k_q, names, query_names[present])
    top = position[known] <= k_q[q[known]]
    in_prefix = np.zeros((n_queries, n_groups, int(k_q.max())))
    np.add.at(in_prefix, (q[known][top], codes[top], position[known][top] - 1), 1)
    prefixes = prefix_tests(
        np.cumsum(in_prefix, axis=2),
        sums["members"].astype(np.int64),
        pool,
        k_q,
        names,
        query_names[present],
        prefix_alpha,
    )
    notes = []
    if excluded["missing_group"]:
        notes.append(
            f"{excluded['missing_group']} ranked item(s) have no group: they keep their places (and push others "
            "down) but are in no group's numbers."
        )
    return RankingTable(
        sensitive_features=features,
        k=int(k),
        attention_p=float(attention_p),
        queries=n_queries,
        items=len(rows),
        excluded=excluded,
        ties=ties,
        tied_items=tied_items,
        groups=groups,
        top_k=top_k,
        measures=measures,
        intervals=intervals,
        flagged_queries=flags,
        flagged_counts=flag_counts,
        notes=notes,
        prefix_tests=prefixes,
    )


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def _measure(
    metric: str,
    values: np.ndarray,
    boot: dict[str, np.ndarray] | None,
    names: list[str],
    small: np.ndarray,
    sums: dict[str, np.ndarray],
    items: RankedItems,
    interval: Any,
    seed: int,
) -> RankingMeasure:
    eligible = np.flatnonzero(~small & np.isfinite(values))
    if len(eligible) == 0:
        return RankingMeasure(metric, None, "no group has enough items to be the benchmark")
    b = int(eligible[np.argmax(values[eligible])])
    reason = f"the highest {metric} among groups with at least the minimum items"
    comparisons: dict[str, Comparison] = {}
    p_values: list[float | None] = []
    order = [g for g in range(len(names)) if g != b and np.isfinite(values[g])]
    for g in order:
        if metric == "selection_rate_at_k":
            pair = sums["members"][:, g] + sums["members"][:, b]
            in_top = sums["top_k"][:, g] + sums["top_k"][:, b]
            p_value, _, test = stratified_hypergeometric_test(sums["top_k"][:, g], pair, sums["members"][:, g], in_top)
        else:
            p_value, test = pairwise_permutation_test(items, sums, metric, g, b, seed)
        p_values.append(p_value)
        difference_ci = ratio_ci = None
        if boot is not None:
            with np.errstate(all="ignore"):
                difference_ci = interval(boot[metric][:, b] - boot[metric][:, g])
                ratio_ci = interval(boot[metric][:, g] / boot[metric][:, b])
        ratio = values[g] / values[b] if values[b] > 0 else float("nan")
        comparisons[names[g]] = Comparison(
            group=names[g],
            compared_with=names[b],
            difference=float(values[b] - values[g]),
            ratio=_finite(ratio),
            difference_ci=difference_ci,
            ratio_ci=ratio_ci,
            test=test,
            p_value=p_value,
            undefined=None if np.isfinite(ratio) else "the benchmark's value is 0",
            above=bool(values[g] > values[b]),
        )
    for name, adjusted in zip([names[g] for g in order], holm(p_values)):
        comparisons[name] = _with_holm(comparisons[name], adjusted)
    comparisons[names[b]] = Comparison(names[b], names[b], 0.0, 1.0, is_anchor=True)
    below = {n: c for n, c in comparisons.items() if not c.is_anchor and c.ratio is not None and not c.above}
    worst = min(below, key=lambda n: below[n].ratio or 0.0) if below else None
    return RankingMeasure(metric, names[b], reason, comparisons, worst)


def _with_holm(comparison: Comparison, adjusted: float | None) -> Comparison:
    from dataclasses import replace

    return replace(comparison, p_value_holm=adjusted)


def _top_k_tests(sums: dict[str, np.ndarray], pool: np.ndarray, k_q: np.ndarray, names: list[str]) -> list[TopKTest]:
    results = []
    for g, name in enumerate(names):
        observed = sums["top_k"][:, g]
        p_value, expected, test = stratified_hypergeometric_test(observed, pool, sums["members"][:, g], k_q)
        results.append(TopKTest(name, int(observed.sum()), expected, test, p_value))
    adjusted = holm([t.p_value for t in results])
    from dataclasses import replace

    return [replace(t, p_value_holm=a) for t, a in zip(results, adjusted)]


def _flag_queries(
    sums: dict[str, np.ndarray], pool: np.ndarray, k_q: np.ndarray, names: list[str], query_names: np.ndarray
) -> tuple[list[QueryFlag], dict[str, int]]:
    """Per query and group, the exact two-sided hypergeometric test of its top-k count; the counts of p < 0.05
    and the five smallest per group."""
    members, observed = sums["members"], sums["top_k"]
    n = pool[:, None]
    draws = k_q[:, None]
    lower = hypergeom.cdf(observed, n, members, draws)
    upper = hypergeom.sf(observed - 1, n, members, draws)
    p_values = np.minimum(1.0, 2 * np.minimum(lower, upper))
    p_values[members == 0] = 1.0
    expected = draws * members / n
    flags: list[QueryFlag] = []
    counts: dict[str, int] = {}
    for g, name in enumerate(names):
        column = p_values[:, g]
        counts[name] = int((column < 0.05).sum())
        for qi in np.argsort(column, kind="stable")[:5]:
            if column[qi] < 0.05:
                flags.append(
                    QueryFlag(
                        str(query_names[qi]), name, int(observed[qi, g]), float(expected[qi, g]), float(column[qi])
                    )
                )
    return flags, counts
