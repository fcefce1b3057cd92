"""Worst-slice discovery with false discoveries under control: find on one half, confirm on the other.

1. The rows are split at random into a discovery half and a confirmation half (seeded).
2. On the discovery half the lattice search (``_search``) scores every slice with enough rows against the rest;
   slices worse at one-sided p < ``discovery_alpha`` are candidates.
3. Redundant candidates go, decided on the discovery half: a child is kept only if it is worse than the rest of
   each candidate ancestor (ancestor minus child, at ``discovery_alpha``; at most three per ancestor), and a
   parent goes only on evidence that a child carries its excess (the child worse than the rest of the parent, and
   that rest no worse than the data outside the parent). What is
   left is ranked by z and capped at ``max_candidates``; slices under the support threshold on the whole data
   are dropped (membership depends on the columns only, never on the outcome).
4. The candidates are tested once on the confirmation half, which played no part in choosing them, so their
   p-values are valid; Benjamini-Hochberg over them (scipy's ``false_discovery_control``) gives q-values, and
   a slice is confirmed at q <= ``q``. Effects and intervals reported are the confirmation half's. A confirmed slice
   that is no worse than the rest of a confirmed parent is then left out as redundant: this is decided after the
   FDR step, on the confirmed set, and only shrinks it (the FDR of what is reported stays under control); the
   slices left out are named in the result (``redundant``).
"""

from __future__ import annotations

import dataclasses
import time
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import false_discovery_control

from audit._errors import ConfigError, DataError
from audit.fairness._slice_metrics import slice_metric
from audit.result._sections import Slice, SliceCondition, SliceReport, SliceSearch
from audit.slices._encode import EncodedColumns, encode_columns
from audit.slices._search import SearchLimits, compare, exact_p, lattice, sums_of_mask, totals

__all__ = ["find_slices", "slice_report"]

EXPAND_P = 0.1  # a pair is extended to three conditions when it is worse than the rest at p < 0.1
MAX_CHILDREN = 3  # a worse ancestor keeps at most this many descendants (each worse than its rest at alpha)


def find_slices(
    columns: pd.DataFrame,
    *,
    y_true: Any,
    y_pred: Any,
    scores: Any = None,
    sample_weight: Any = None,
    metric: str = "error_rate",
    max_conditions: int = 3,
    bins: int = 5,
    min_rows: int = 30,
    min_share: float = 0.01,
    q: float = 0.05,
    fdr: str = "by",
    max_candidates: int = 50,
    discovery_alpha: float = 0.01,
    time_budget_s: float = 60.0,
    ci_level: float = 0.95,
    seed: int = 0,
) -> SliceSearch:
    """The slices of ``columns`` (one condition per column, up to ``max_conditions``) whose ``metric`` is worse
    than the rest of the data, confirmed on held-out rows with the false discovery rate at ``q``."""
    started = time.perf_counter()
    spec = slice_metric(metric)
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if len(columns) != len(y_true) or len(y_pred) != len(y_true):
        raise DataError(
            f"find_slices needs one row of columns, y_true and y_pred per row. Got {len(columns)}, "
            f"{len(y_true)} and {len(y_pred)} rows."
        )
    if spec.needs_scores and scores is None:
        raise DataError(f"The slice metric {metric!r} needs scores; the model gives decisions only.")
    if fdr not in ("by", "bh"):
        raise ConfigError(f"The 'fdr' parameter of find_slices must be 'by' or 'bh'. Got {fdr!r} instead.")
    weights = None if sample_weight is None else np.asarray(sample_weight, float)
    if weights is not None and (
        weights.shape != y_true.shape or not np.all(np.isfinite(weights)) or (weights < 0).any()
    ):
        raise DataError(
            "The 'sample_weight' parameter of find_slices must hold one finite, non-negative weight per "
            f"row. Got shape {weights.shape} for {len(y_true)} rows."
        )
    encoded = encode_columns(columns.reset_index(drop=True), bins=bins)
    population, values = spec.values(y_true, y_pred, None if scores is None else np.asarray(scores, float))
    need = max(min_rows, min_share * population.sum())  # rows of the metric's population
    discovery = np.random.default_rng([seed, 7]).random(len(y_true)) < 0.5
    found, depth, complete, searched = _candidates(
        encoded,
        values,
        weights,
        population & discovery,
        spec,
        need,
        max_conditions,
        discovery_alpha,
        max_candidates,
        started + time_budget_s,
    )
    for candidate in found:  # each candidate's rows, once: for its support, its test and its description
        candidate["mask"] = _mask(encoded.codes, candidate["key"])
    found = [c for c in found if (c["mask"] & population).sum() >= need]
    slices, redundant = _confirm(
        found, encoded, values, weights, population, ~discovery, spec, q, fdr, ci_level, discovery_alpha
    )
    overall = sums_of_mask(population, values, weights)
    return SliceSearch(
        metric=metric,
        words=spec.words,
        worse=spec.worse,
        columns=encoded.names,
        slices=slices,
        searched=searched,
        candidates=len(found),
        depth=depth,
        complete=complete,
        min_rows=int(np.ceil(need)),
        q=q,
        fdr=fdr,
        overall_metric=_mean(overall),
        redundant=redundant,
    )


def _candidates(encoded: EncodedColumns, values, weights, rows, spec, need, max_conditions, alpha, cap, deadline):
    index = np.flatnonzero(rows)
    x, w = values[index], None if weights is None else weights[index]
    limits = SearchLimits(max_conditions=max_conditions, min_rows=need / 2, expand_p=EXPAND_P, deadline=deadline)
    sums, depth = lattice(encoded.codes[index], encoded.levels, x, w, kind=spec.kind, worse=spec.worse, limits=limits)
    total = totals(x, w)
    matrix = sums.matrix()
    if not len(matrix):
        return [], depth, depth >= max_conditions, 0
    weighted = w is not None
    effect, z, p, *_ = compare(matrix, total[None, :] - matrix, kind=spec.kind, worse=spec.worse, weighted=weighted)
    by_key = {key: i for i, key in enumerate(sums.keys)}
    chosen = {key for key, pv in zip(sums.keys, p) if pv < alpha}
    kept = _without_redundant(chosen, by_key, matrix, total, spec, alpha, weighted)
    ranked = sorted(kept, key=lambda k: (p[by_key[k]], -abs(z[by_key[k]]), k))[:cap]
    found = [{"key": k, "effect": float(effect[by_key[k]]), "p": float(p[by_key[k]])} for k in ranked]
    return found, depth, depth >= max_conditions, len(sums.keys)


def _without_redundant(
    chosen: set, by_key: dict, matrix: np.ndarray, total: np.ndarray, spec, alpha: float, weighted: bool
) -> set:
    """The candidates that are not redundant. A parent goes when some candidate child explains it (the parent
    without the child is no worse than the rest of the data); a child goes unless it is worse than the rest of
    each candidate ancestor (its conditions' subsets) at ``alpha``, and a worse ancestor keeps at most
    ``MAX_CHILDREN`` descendants, the strongest (among hundreds, some pass by chance)."""

    def p_worse(pairs: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
        if not pairs:
            return np.zeros(0)
        inside, outside = np.array([a for a, _ in pairs]), np.array([b for _, b in pairs])
        return compare(inside, outside, kind=spec.kind, worse=spec.worse, weighted=weighted)[2]

    def parents(key):
        return [key[:i] + key[i + 1 :] for i in range(len(key))] if len(key) > 1 else []

    def ancestors(key):
        return [subset for size in range(1, len(key)) for subset in combinations(key, size)]

    tests, concentrated, owners = [], [], []
    for child in chosen:
        for parent in parents(child):
            if parent in chosen:
                rest_of_parent = matrix[by_key[parent]] - matrix[by_key[child]]
                tests.append((rest_of_parent, total - matrix[by_key[parent]]))
                concentrated.append((matrix[by_key[child]], rest_of_parent))
                owners.append(parent)
    # a parent is explained by a child only on evidence: the child is worse than the rest of the parent, and that
    # rest is no worse than the data outside the parent (absence of evidence alone lost planted slices)
    explained = {
        parent for parent, pv, cv in zip(owners, p_worse(tests), p_worse(concentrated)) if not pv < alpha and cv < alpha
    }
    remaining = chosen - explained
    tests, owners = [], []
    for child in remaining:
        for ancestor in ancestors(child):
            if ancestor in chosen:  # explained or not: a worse ancestor must not carry the child's excess
                tests.append((matrix[by_key[child]], matrix[by_key[ancestor]] - matrix[by_key[child]]))
                owners.append((child, ancestor))
    weakest: dict = {}
    for (child, parent), pv in zip(owners, p_worse(tests)):
        weakest[child] = max(weakest.get(child, 0.0), pv)
    failed = {child for child, pv in weakest.items() if not pv < alpha}
    by_parent: dict = {}
    for child, parent in owners:
        if child not in failed:
            by_parent.setdefault(parent, []).append((weakest[child], child))
    crowded = {child for children in by_parent.values() for _, child in sorted(children)[MAX_CHILDREN:]}
    return remaining - failed - crowded


def _mask(codes: np.ndarray, key) -> np.ndarray:
    mask = np.ones(len(codes), bool)
    for column, level in key:
        mask &= codes[:, column] == level
    return mask


def _mean(sums: np.ndarray) -> float | None:
    return float(sums[2] / sums[1]) if sums[1] > 0 else None


def _confirm(
    found, encoded: EncodedColumns, values, weights, population, confirmation, spec, q, fdr, level, alpha
) -> tuple[list[Slice], list[str]]:
    """Test the candidates on the confirmation half, Benjamini-Hochberg over them; then drop a confirmed slice
    that is no worse than the rest of a confirmed parent (dropping only shrinks the set BH controlled)."""
    if not found:
        return [], []
    rows = population & confirmation
    total = sums_of_mask(rows, values, weights)
    inside = np.array([sums_of_mask(c["mask"] & rows, values, weights) for c in found])
    weighted = weights is not None
    effect, _, p, low, high, *_ = compare(
        inside, total[None, :] - inside, kind=spec.kind, worse=spec.worse, level=level, weighted=weighted
    )
    if spec.kind == "proportion" and weights is None:
        p = exact_p(inside, total[None, :] - inside, worse=spec.worse)
    p = np.where(np.isfinite(p), p, 1.0)
    q_values = false_discovery_control(p, method=fdr)
    confirmed = {c["key"]: i for i, c in enumerate(found) if q_values[i] <= q}
    redundant = set()
    for key, i in confirmed.items():
        for parent, j in confirmed.items():
            if len(parent) < len(key) and set(parent) <= set(key):
                _, _, pair_p, *_ = compare(
                    inside[i][None, :],
                    (inside[j] - inside[i])[None, :],
                    kind=spec.kind,
                    worse=spec.worse,
                    weighted=weighted,
                )
                if not pair_p[0] < alpha:
                    redundant.add(key)
    whole = sums_of_mask(population, values, weights)
    slices, dropped = [], []
    for i, candidate in enumerate(found):
        if candidate["key"] not in confirmed:
            continue
        if candidate["key"] in redundant:
            dropped.append(" AND ".join(encoded.conditions[c][v][2] for c, v in candidate["key"]))
            continue
        mask = candidate["mask"]
        mine = sums_of_mask(mask & population, values, weights)
        conditions = [
            SliceCondition(
                column=encoded.names[c],
                kind=encoded.conditions[c][v][0],
                value=encoded.conditions[c][v][1],
                words=encoded.conditions[c][v][2],
            )
            for c, v in candidate["key"]
        ]
        slices.append(
            Slice(
                definition=" AND ".join(c.words for c in conditions),
                conditions=conditions,
                rows=int(mask.sum()),
                share=float(mask.mean()),
                metric_rows=int(mine[0]),
                metric=_mean(mine),
                rest_metric=_mean(whole - mine),
                effect=float(effect[i]),
                effect_ci=[float(low[i]), float(high[i])] if np.isfinite(low[i]) else None,
                p_value=float(p[i]),
                q_value=float(q_values[i]),
                discovery_effect=candidate["effect"],
                discovery_p_value=candidate["p"],
            )
        )
    return sorted(slices, key=lambda s: (-abs(s.effect), s.definition)), sorted(dropped)


def slice_report(
    columns: pd.DataFrame, *, y_true, y_pred, scores, task: str, settings, ci_level: float, seed: int
) -> SliceReport:
    """Every configured metric's search (``settings``: a ``SlicesConfig``), within one time budget."""
    names = settings.metrics or (("mae",) if task == "regression" else ("error_rate",))
    for name in names:
        spec = slice_metric(name)
        if spec.task == "binary" and task != "binary" and name != "error_rate":
            raise ConfigError(
                f"The slice metric {name!r} needs a binary classifier; this audit's task is {task}. "
                "Use error_rate (classifiers) or mae (regression) in slices.metrics."
            )
        if spec.task == "regression" and task != "regression":
            raise ConfigError(f"The slice metric {name!r} needs a regression model; this audit's task is {task}.")
    deadline = time.perf_counter() + settings.time_budget_s
    searches = []
    for name in names:
        searches.append(
            find_slices(
                columns,
                y_true=y_true,
                y_pred=y_pred,
                scores=scores,
                metric=name,
                max_conditions=settings.max_conditions,
                bins=settings.bins,
                min_rows=settings.min_rows,
                min_share=settings.min_share,
                q=settings.q,
                fdr=settings.fdr,
                max_candidates=settings.max_candidates,
                discovery_alpha=settings.discovery_alpha,
                time_budget_s=max(1.0, deadline - time.perf_counter()),
                ci_level=ci_level,
                seed=seed,
            )
        )
    return SliceReport(searches=searches, settings=dataclasses.asdict(settings))
