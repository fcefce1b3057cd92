"""A fairness table whose groups are inferred: the chosen estimator's numbers in the ordinary table (so the
report, the four-fifths table and the gate read them as any other), the three estimators side by side beside it.
"""

from __future__ import annotations

import dataclasses
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from audit.demographics._bisg import Membership
from audit.demographics._estimators import (
    MAX_ITERATIONS,
    CELLS,
    CorrectedFit,
    cell_codes,
    fit_corrected,
    rate_bounds,
    rates,
    weighted_joint,
)
from audit.demographics._tables import RACE_LABELS, RACES, TABLE_SOURCES
from audit.fairness._stats import holm
from audit.fairness._tables import _specs_for, assemble_table
from audit.fairness._types import (
    Comparison,
    Disparity,
    FairnessTable,
    InferredEstimate,
    InferredMembership,
    Pooling,
)

__all__ = ["ESTIMATORS", "ASSUMPTIONS", "inferred_table", "SUBSAMPLE_ROWS"]

ESTIMATORS = ("corrected", "weighted")  # the ones a table can be built from; the bounds are shown beside
ASSUMPTIONS = {
    "corrected": (
        "BIRDiE (McCartan et al. 2025) with a place intercept: assumes the name says nothing about the outcome "
        "beyond group and place. Trust it when the probabilities are calibrated (see the validation) and places "
        "have tens of rows; its interval carries the sampling error and who-is-in-which-group."
    ),
    "weighted": (
        "Probability-weighted rates: assume the outcome is independent of group given name and place. When the "
        "outcome also depends on place (it usually does), this is biased towards no gap, however many rows."
    ),
    "bounds": (
        "Partial identification (Kallus, Mao & Zhou 2022): what the data and calibrated probabilities imply with "
        "no assumption on how outcome and group are linked among similar rows. Always valid, often wide; "
        "only for rates over all of a group's rows."
    ),
}
BOOTSTRAP_STEPS = 5  # accelerated EM iterations per bootstrap draw on large data
SUBSAMPLE_ROWS = 100_000  # above this, each bootstrap draw refits on this many rows and is rescaled
BOOTSTRAP_THREADS = 2  # draws run side by side: numpy releases the GIL in their array work


def outcome_places(places: pd.Series | None, rows: np.ndarray, columns: dict[str, str]) -> np.ndarray | None:
    """The corrected estimator's place codes for these rows ("" is a code of its own), or None for a model without
    a place term: with the place as the only evidence of membership, everyone in a place has the same
    probabilities, and a place term would absorb every group difference."""
    if places is None or "surname" not in columns:
        return None
    codes, _ = pd.factorize(places.to_numpy()[rows])
    return codes.astype(np.int64)


def fit_point(
    probabilities: np.ndarray, cells: np.ndarray, places: np.ndarray | None, *, place_prior_sd: float
) -> CorrectedFit:
    """The corrected estimator's fit. It stops when the joint shares move by less than 1e-6 (1e-5 left a bias of
    +0.002 on the planted gap, benchmarks.inference); above SUBSAMPLE_ROWS, 1e-5 (1e-6 takes hundreds of passes)."""
    codes = np.zeros(len(cells), dtype=np.int64) if places is None else places
    tolerance = 1e-6 if len(cells) <= SUBSAMPLE_ROWS else 1e-5
    return fit_corrected(probabilities, cells, codes, place_prior_sd=place_prior_sd, tolerance=tolerance)


def _draws(
    probabilities: np.ndarray,
    cells: np.ndarray,
    places: np.ndarray,
    fit: Any,
    *,
    n_boot: int,
    seed: int,
    place_prior_sd: float,
) -> tuple[np.ndarray, np.ndarray, float, int]:
    """Bootstrap joints (draws, cell, group) for both estimators, the scale of a draw's deviation, and how many
    draws' fits stopped before converging. Each draw has its own child seed, so the draws are the same however
    many threads run them; numpy releases the GIL in the array work, so two threads take ~0.7 of the time."""
    n = len(cells)

    def draw(seed_sequence: np.random.SeedSequence) -> tuple[np.ndarray, np.ndarray, bool]:
        rng = np.random.default_rng(seed_sequence)
        if n > SUBSAMPLE_ROWS:
            rows = rng.integers(0, n, SUBSAMPLE_ROWS)
            p, c, g, w = probabilities[rows], cells[rows], places[rows], None
        else:
            p, c, g, w = probabilities, cells, places, rng.poisson(1.0, n).astype(float)
        # large data: a k-step bootstrap (Andrews 2002), a few accelerated EM iterations from the full fit; their
        # spread is within 1% of fully converged draws' (measured: docs/inferred.md)
        refit = fit_corrected(
            p,
            c,
            g,
            weights=w,
            start=fit,
            place_prior_sd=place_prior_sd,
            max_iterations=BOOTSTRAP_STEPS if n > SUBSAMPLE_ROWS else MAX_ITERATIONS,
        )
        return weighted_joint(p, c, w), refit.joint, n <= SUBSAMPLE_ROWS and not refit.converged

    with ThreadPoolExecutor(max_workers=min(BOOTSTRAP_THREADS, os.cpu_count() or 1)) as pool:
        results = list(pool.map(draw, np.random.SeedSequence(seed).spawn(n_boot)))
    weighted = np.asarray([result[0] for result in results])
    corrected = np.asarray([result[1] for result in results])
    unconverged = sum(result[2] for result in results)
    scale = float(np.sqrt(SUBSAMPLE_ROWS / n)) if n > SUBSAMPLE_ROWS else 1.0
    return weighted, corrected, scale, unconverged


def _oriented(group: np.ndarray, anchor: np.ndarray, higher: bool) -> tuple[np.ndarray, np.ndarray]:
    with np.errstate(all="ignore"):
        if higher:
            return anchor - group, group / anchor
        return group - anchor, anchor / group


def _with_bootstrap_tests(
    disparity: Disparity, boot: np.ndarray, names: list[str], higher: bool, small: np.ndarray, min_group_size: int
) -> Disparity:
    """Each comparison's p-value from the bootstrap's standard error of the gap (z test), Holm over the family."""

    def retest(entries: dict[str, Comparison], anchor_name: str | None, role: str) -> dict[str, Comparison]:
        if anchor_name is None:
            return entries
        anchor = names.index(anchor_name)
        p_values: list[float | None] = []
        order = list(entries)
        updated: dict[str, dict[str, Any]] = {}
        for name in order:
            entry = entries[name]
            i = names.index(name)
            p_value, test = None, f"the {role} itself" if entry.is_anchor else ""
            if not entry.is_anchor:
                gaps, _ = _oriented(boot[:, i], boot[:, anchor], higher)
                spread = float(np.nanstd(gaps, ddof=1)) if np.isfinite(gaps).sum() > 2 else 0.0
                if small[i] or small[anchor]:
                    test = f"not tested: fewer than {min_group_size} effective members (expected x identification)"
                elif entry.difference is not None and spread > 0:
                    p_value = float(2 * norm.sf(abs(entry.difference) / spread))
                    test = "z test, bootstrap standard error of the gap (inferred membership)"
                else:
                    test = "not tested: no spread in the bootstrap"
            p_values.append(p_value)
            updated[name] = {"test": test, "p_value": p_value}
        for name, adjusted in zip(order, holm(p_values)):
            updated[name]["p_value_holm"] = adjusted
        return {name: dataclasses.replace(entries[name], **updated[name]) for name in order}

    return dataclasses.replace(
        disparity,
        to_benchmark=retest(disparity.to_benchmark, disparity.benchmark_group, "benchmark"),
        to_reference=retest(disparity.to_reference, disparity.reference_group, "reference"),
    )


def _build(
    attribute: str,
    names: list[str],
    specs: list[Any],
    joint: np.ndarray,
    boot_joint: np.ndarray,
    scale: float,
    overall: dict[str, float],
    expected: np.ndarray,
    strength: np.ndarray,
    *,
    level: float,
    min_group_size: int,
    favourable: str,
    reference: str | None,
    bootstrap: dict[str, Any],
) -> tuple[FairnessTable, dict[str, np.ndarray]]:
    computed: dict[str, dict[str, Any]] = {}
    boots: dict[str, np.ndarray] = {}
    for spec in specs:
        numerator, denominator = spec.proportion
        point = rates(joint, numerator, denominator)
        draws = point[None, :] + (rates(boot_joint, numerator, denominator) - point[None, :]) * scale
        boots[spec.name] = draws
        support = joint[[CELLS.index(c) for c in denominator]].sum(axis=0) * strength
        computed[spec.name] = {
            "values": point,
            "support": np.round(support).astype(int),
            "overall": np.array([overall[spec.name]]),
            "boot": draws,
            "boot_overall": None,
        }
    # A group is as large as the information its probabilities carry: its expected members times the share of
    # the variance of membership they explain. Small groups by that count get no interval and no test.
    group_n = np.round(expected * strength).astype(int)
    table = assemble_table(
        columns=[attribute],
        keys=[(name,) for name in names],
        specs=specs,
        computed=computed,
        group_n=group_n,
        min_group_size=min_group_size,
        reference=reference,
        ci_level=level,
        unweighted=None,
        bootstrap=bootstrap,
        weighted=False,
        favourable=favourable,
    )
    small = group_n < min_group_size
    total = float(expected.sum())
    table = dataclasses.replace(
        table,
        groups=[
            dataclasses.replace(row, n=int(round(float(count))), share=float(count / total))
            for row, count in zip(table.groups, expected)
        ],
    )
    names = [f"{attribute}={name}" for name in names]
    higher = {spec.name: bool(spec.higher_is_better) for spec in specs}
    retested, reliable = (
        {
            metric: _with_bootstrap_tests(d, boots[metric], names, higher[metric], small, min_group_size)
            for metric, d in disparities.items()
        }
        for disparities in (table.disparities, table.disparities_reliable)
    )
    return dataclasses.replace(table, disparities=retested, disparities_reliable=reliable), boots


def identification(probabilities: np.ndarray) -> np.ndarray:
    """Per group, the share of the variance of membership that the probabilities explain: Var(p) / (p_bar (1 -
    p_bar)), the R^2 of the true indicator on a calibrated probability. 1: everyone's membership is known;
    near 0: the names and places barely tell the group apart (the Census's multiracial category, typically)."""
    mean = probabilities.mean(axis=0)
    spread = mean * (1.0 - mean)
    return np.divide(probabilities.var(axis=0), spread, out=np.zeros_like(mean), where=spread > 0)


def _estimates_of(table: FairnessTable) -> dict[str, dict[str, InferredEstimate]]:
    out: dict[str, dict[str, InferredEstimate]] = {}
    for metric in table.metrics:
        disparity = table.disparities.get(metric)
        out[metric] = {}
        for row in table.groups:
            name = ", ".join(f"{c}={v}" for c, v in row.key.items())
            comparison = disparity.to_benchmark.get(name) if disparity else None
            out[metric][name] = InferredEstimate(
                value=row.values.get(metric),
                ci=row.ci.get(metric),
                difference=comparison.difference if comparison else None,
                difference_ci=comparison.difference_ci if comparison else None,
                ratio=comparison.ratio if comparison else None,
                ratio_ci=comparison.ratio_ci if comparison else None,
            )
    return out


def _bounds(
    probabilities: np.ndarray,
    cells: np.ndarray,
    specs: list[Any],
    names: list[str],
    keep: np.ndarray,
    benchmark: dict[str, str],
) -> dict[str, dict[str, InferredEstimate]]:
    out: dict[str, dict[str, InferredEstimate]] = {}
    for spec in specs:
        numerator, denominator = spec.proportion
        if set(denominator) != set(CELLS) or spec.name not in benchmark:
            continue
        indicator = np.isin(cells, [CELLS.index(c) for c in numerator])
        low, high = rate_bounds(probabilities, indicator)
        low, high = low[keep], high[keep]
        anchor = names.index(benchmark[spec.name])
        higher = bool(spec.higher_is_better)
        out[spec.name] = {}
        for i, name in enumerate(names):
            if higher:
                gap = [low[anchor] - high[i], high[anchor] - low[i]]
                ratio = [low[i] / high[anchor], high[i] / low[anchor]] if low[anchor] > 0 else None
            else:
                gap = [low[i] - high[anchor], high[i] - low[anchor]]
                ratio = [low[anchor] / high[i], high[anchor] / low[i]] if low[i] > 0 else None
            out[spec.name][name] = InferredEstimate(
                value=None,
                ci=[float(low[i]), float(high[i])] if np.isfinite(low[i]) else None,
                difference_ci=[float(v) for v in gap] if np.all(np.isfinite(gap)) else None,
                ratio_ci=[float(v) for v in ratio] if ratio is not None and np.all(np.isfinite(ratio)) else None,
            )
    return out


def inferred_table(
    *,
    attribute: str,
    membership: Membership,
    label: np.ndarray,
    decision: np.ndarray,
    places: pd.Series | None,
    metrics: tuple[str, ...],
    favourable: str,
    estimator: str,
    level: float,
    n_boot: int,
    seed: int,
    min_group_size: int,
    reference: str | None,
    columns: dict[str, str],
    place_prior_sd: float,
) -> FairnessTable:
    known = membership.known
    probabilities = membership.probabilities[known]
    cells = cell_codes(np.asarray(label)[known], np.asarray(decision)[known])
    in_model = outcome_places(places, known, columns)
    with_places = in_model is not None
    place_codes = in_model if in_model is not None else np.zeros(len(cells), dtype=np.int64)
    specs = [s for s in _specs_for(metrics, favourable) if s.proportion is not None]
    expected_all = probabilities.sum(axis=0)
    keep = expected_all > 0
    names = [RACE_LABELS[r] for r, k in zip(RACES, keep) if k]
    probabilities_kept = probabilities[:, keep]
    identification_ = identification(probabilities_kept)
    fit = fit_point(probabilities_kept, cells, in_model, place_prior_sd=place_prior_sd)
    joints = {"weighted": weighted_joint(probabilities_kept, cells), "corrected": fit.joint}
    boot_weighted, boot_corrected, scale, unconverged = _draws(
        probabilities_kept, cells, place_codes, fit, n_boot=n_boot, seed=seed, place_prior_sd=place_prior_sd
    )
    boots = {"weighted": boot_weighted, "corrected": boot_corrected}
    overall_cells = np.bincount(cells, minlength=len(CELLS)).astype(float)
    overall = {s.name: float(rates(overall_cells[:, None], *s.proportion)[0]) for s in specs}
    resampling = (
        f"each draw refits on {SUBSAMPLE_ROWS:,} rows drawn with replacement, its deviation scaled by "
        "sqrt(m / n) (m-out-of-n bootstrap)"
        if len(cells) > SUBSAMPLE_ROWS
        else "rows reweighted by Poisson(1) draws; the corrected estimator is refitted on each draw"
    )
    bootstrap = {"n_boot": n_boot, "level": level, "seed": seed, "method": "percentile", "resampling": resampling}
    tables = {
        name: _build(
            attribute,
            names,
            specs,
            joints[name],
            boots[name],
            scale,
            overall,
            expected_all[keep],
            identification_,
            level=level,
            min_group_size=min_group_size,
            favourable=favourable,
            reference=reference,
            bootstrap=bootstrap,
        )[0]
        for name in ESTIMATORS
    }
    table = tables[estimator]
    benchmark = {m: d.benchmark_group for m, d in table.disparities.items() if d.benchmark_group}
    estimates = {name: _estimates_of(t) for name, t in tables.items()}
    estimates["bounds"] = _bounds(
        probabilities, cells, specs, [f"{attribute}={name}" for name in names], keep, benchmark
    )
    method = _method(membership, columns)
    record = InferredMembership(
        attribute=attribute,
        method=method,
        columns=dict(columns),
        sources={role: TABLE_SOURCES[role] for role in columns},
        rows=int(len(membership.source)),
        rows_by_source=dict(membership.counts),
        unknown_rows=int(membership.counts.get("unknown", 0)),
        unmatched=dict(membership.unmatched),
        missing=dict(membership.missing),
        unmatched_examples={k: list(v) for k, v in membership.unmatched_examples.items()},
        expected_members={f"{attribute}={name}": float(v) for name, v in zip(names, expected_all[keep])},
        identification={f"{attribute}={name}": float(v) for name, v in zip(names, identification_)},
        estimator=estimator,
        assumptions=dict(ASSUMPTIONS),
        estimates=estimates,
        benchmark_group=benchmark,
        intervals=f"percentile bootstrap, {n_boot} draws: {resampling}",
        fit={
            "iterations": fit.iterations,
            "converged": fit.converged,
            "bootstrap_draws_unconverged": unconverged,
            "tolerance": 1e-6 if len(cells) <= SUBSAMPLE_ROWS else 1e-5,
            "places": int(place_codes.max()) + 1 if len(place_codes) and with_places else 0,
            "place_prior_sd": place_prior_sd,
            "outcome_model": (
                "group terms and a place intercept around its group mix (Mundlak)"
                if with_places
                else "group terms only: assumes the outcome is independent of "
                + ("place" if "surname" not in columns else "surname")
                + " given group"
            ),
        },
    )
    pooling = Pooling(reason="not pooled: the groups are inferred, and pooling assumes counted members")
    intervals = (
        f"inferred groups: percentile bootstrap of the {estimator} estimator ({resampling}), for rates, "
        f"differences and ratios; omitted under {min_group_size} effective members (expected members x "
        "identification). Tests: z from the bootstrap "
        "standard error of each gap, Holm-adjusted"
    )
    return dataclasses.replace(
        table,
        inferred=record,
        pooling=pooling,
        bootstrap=dataclasses.replace(table.bootstrap, intervals=intervals),
    )


def _method(membership: Membership, columns: dict[str, str]) -> str:
    place = "geography" in columns or "tract" in columns
    level = " (census tracts)" if "tract" in columns else ""
    if "surname" in columns and place:
        return ("BIFSG" if "first_name" in columns else "BISG") + level
    if "surname" in columns:
        return "surname" + (" and first name" if "first_name" in columns else "") + " only"
    return "geography only" + level
