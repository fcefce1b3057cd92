"""The public entry point: a fairness table for groups inferred from names and places."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd

from audit._errors import ConfigError
from audit.demographics._bisg import PLACE_TYPES, SOURCES, Membership, infer_membership
from audit.demographics._estimators import cell_codes, rates, weighted_joint
from audit.demographics._names import normalise_tracts, normalise_zips
from audit.demographics._table import ESTIMATORS, fit_point, inferred_table, outcome_places
from audit.demographics._tables import RACE_LABELS, RACES, CensusTables, load_census_tables, load_tract_tables
from audit.fairness._metrics import METRICS
from audit.fairness._types import FairnessTable, InferenceValidation

__all__ = ["inferred_group_metrics", "INFERRED_METRICS", "GEOGRAPHY_LEVELS"]

GEOGRAPHY_LEVELS = ("zcta", "tract")

INFERRED_METRICS = ("selection_rate", "tpr", "fpr")


def _column(data: pd.DataFrame, name: str | None, setting: str) -> pd.Series | None:
    if name is None:
        return None
    if name not in data.columns:
        raise ConfigError(
            f"The '{setting}' parameter of inferred_group_metrics must name a column of the data. Got {name!r} "
            f"instead; the columns are: {', '.join(map(str, data.columns[:20]))}."
        )
    return data[name]


def _binary(values: Any, setting: str, n: int) -> np.ndarray:
    array = np.asarray(values)
    if array.shape != (n,):
        raise ConfigError(f"The '{setting}' parameter must hold one value per row ({n}). Got shape {array.shape}.")
    distinct = set(pd.unique(array).tolist())
    if not distinct <= {0, 1, True, False}:
        raise ConfigError(
            f"The '{setting}' parameter must be binary (0/1). Got values {sorted(map(str, distinct))[:5]} instead: "
            "map the favourable outcome to 1 first."
        )
    return array.astype(bool)


def _self_reports(values: pd.Series) -> tuple[np.ndarray, dict[str, int]]:
    """Codes into RACES (-1: none or unlisted) and the count of each unlisted label."""
    lookup = {r: i for i, r in enumerate(RACES)} | {label.lower(): RACES.index(r) for r, label in RACE_LABELS.items()}
    text = values.astype("string").str.strip().str.lower()
    codes = text.map(lookup).fillna(-1).astype(int).to_numpy()
    unlisted = text[(codes < 0) & text.notna() & (text != "")].value_counts()
    if len(values.dropna()) and (codes >= 0).sum() == 0:
        raise ConfigError(
            "The 'validate' column holds none of the tables' groups. Expected one of "
            f"{', '.join(RACES)} (or {', '.join(RACE_LABELS.values())}); got {', '.join(map(str, unlisted.index[:5]))}."
        )
    return codes, {str(k): int(v) for k, v in unlisted.items()}


def _validation(
    column: str,
    reports: pd.Series,
    membership: Membership,
    cells: np.ndarray,
    places: pd.Series | None,
    columns: dict[str, str],
    metrics: tuple[str, ...],
    place_prior_sd: float,
) -> InferenceValidation:
    codes, unlisted = _self_reports(reports)
    rows = (codes >= 0) & membership.known
    probabilities, truth = membership.probabilities[rows], codes[rows]
    onehot = np.eye(len(RACES))[truth]

    def calibration_of(mask: np.ndarray) -> dict[str, dict[str, float]]:
        return {
            RACE_LABELS[r]: {
                "mean_probability": float(probabilities[mask, i].mean()),
                "reported_share": float(onehot[mask, i].mean()),
            }
            for i, r in enumerate(RACES)
        }

    calibration = calibration_of(np.ones(len(truth), dtype=bool)) if rows.any() else {}
    strata = {
        "source": (membership.source[rows], SOURCES),
        "place_type": (membership.place_type[rows], PLACE_TYPES),
    }
    by_stratum: dict[str, dict[str, dict[str, dict[str, float]]]] = {"source": {}, "place_type": {}}
    stratum_rows: dict[str, dict[str, int]] = {"source": {}, "place_type": {}}
    for kind, (codes_of_rows, names) in strata.items():
        for code, name in enumerate(names):
            mask = codes_of_rows == code
            if mask.any():
                by_stratum[kind][name] = calibration_of(mask)
                stratum_rows[kind][name] = int(mask.sum())
    errors: dict[str, dict[str, dict[str, float | None]]] = {}
    if rows.sum() > 0:
        sub_cells = cells[rows]
        sub_places = outcome_places(places, rows, columns)
        joints = {
            "weighted": weighted_joint(probabilities, sub_cells),
            "corrected": fit_point(probabilities, sub_cells, sub_places, place_prior_sd=place_prior_sd).joint,
            "self_reported": weighted_joint(onehot, sub_cells),
        }
        for name in ("weighted", "corrected"):
            errors[name] = {}
            for metric in metrics:
                spec = METRICS.get(metric)
                if spec.proportion is None:
                    continue
                estimate, reported = (
                    rates(joints[name], *spec.proportion),
                    rates(joints["self_reported"], *spec.proportion),
                )
                errors[name][metric] = {
                    RACE_LABELS[r]: (
                        float(estimate[i] - reported[i]) if np.isfinite(estimate[i] - reported[i]) else None
                    )
                    for i, r in enumerate(RACES)
                }
    return InferenceValidation(
        column=column,
        rows=int(rows.sum()),
        calibration=calibration,
        calibration_by_source=by_stratum["source"],
        calibration_by_place_type=by_stratum["place_type"],
        calibration_rows=stratum_rows,
        brier=float(((probabilities - onehot) ** 2).sum(axis=1).mean()) if rows.any() else None,
        errors=errors,
        unlisted_labels=unlisted,
    )


def inferred_group_metrics(
    data: pd.DataFrame,
    *,
    y_true: Any,
    y_pred: Any,
    surname: str | None = None,
    first_name: str | None = None,
    geography: str | None = None,
    geography_level: str = "zcta",
    attribute: str = "race",
    metrics: tuple[str, ...] = INFERRED_METRICS,
    favourable: str = "positive",
    estimator: str = "corrected",
    validate: str | None = None,
    level: float = 0.95,
    n_boot: int = 200,
    seed: int = 0,
    min_group_size: int = 30,
    reference: str | None = None,
    place_prior_sd: float = 1.0,
    tables: CensusTables | None = None,
) -> FairnessTable:
    """Group metrics for race and ethnicity inferred from surname, first name and ZIP code (BISG / BIFSG).

    The table's numbers are the ``estimator``'s ("corrected": BIRDiE; "weighted": probability-weighted); the
    weighted, corrected and bounds estimates are all in ``table.inferred.estimates``, with what each assumes.
    Rows with neither a usable name nor a place are in no group: ``table.inferred.unknown_rows`` counts them.
    ``validate`` names a column of self-reports for some rows: the calibration of the probabilities and each
    estimator's error on those rows go to ``table.inferred.validation``. ``geography_level="tract"``: the
    geography column holds 11-digit census-tract GEOIDs (state, county, tract) instead of ZIP codes.
    """
    if not isinstance(data, pd.DataFrame):
        raise ConfigError(
            f"The 'data' parameter of inferred_group_metrics must be a DataFrame. Got {type(data).__name__}."
        )
    if estimator not in ESTIMATORS:
        raise ConfigError(
            f"The 'estimator' parameter of inferred_group_metrics must be one of {', '.join(ESTIMATORS)}. Got "
            f"{estimator!r} instead (the bounds are always computed, beside the table)."
        )
    unknown = [m for m in metrics if m not in METRICS.names() or METRICS.get(m).proportion is None]
    if unknown:
        raise ConfigError(
            f"The 'metrics' parameter of inferred_group_metrics takes proportions (rates of the confusion counts). "
            f"Got {', '.join(map(str, unknown))}."
        )
    if not 0 < level < 1 or n_boot < 20 or place_prior_sd <= 0:
        raise ConfigError(
            "inferred_group_metrics needs 0 < level < 1, n_boot >= 20 and place_prior_sd > 0. "
            f"Got level={level}, n_boot={n_boot}, place_prior_sd={place_prior_sd}."
        )
    label, decision = _binary(y_true, "y_true", len(data)), _binary(y_pred, "y_pred", len(data))
    membership, places, columns = membership_of(
        data,
        surname=surname,
        first_name=first_name,
        geography=geography,
        geography_level=geography_level,
        tables=tables,
    )
    table = inferred_table(
        attribute=attribute,
        membership=membership,
        label=label,
        decision=decision,
        places=places,
        metrics=metrics,
        favourable=favourable,
        estimator=estimator,
        level=level,
        n_boot=n_boot,
        seed=seed,
        min_group_size=min_group_size,
        reference=reference,
        columns=columns,
        place_prior_sd=place_prior_sd,
    )
    if validate is not None:
        reports = _column(data, validate, "validate")
        cells = cell_codes(label, decision)
        record = dataclasses.replace(
            table.inferred,  # type: ignore[arg-type]
            validation=_validation(
                validate, reports, membership, cells, places, columns, table.metrics, place_prior_sd
            ),  # type: ignore[arg-type]
        )
        table = dataclasses.replace(table, inferred=record)
    return table


def membership_of(
    data: pd.DataFrame,
    *,
    surname: str | None,
    first_name: str | None,
    geography: str | None,
    geography_level: str,
    tables: CensusTables | None = None,
) -> tuple[Membership, pd.Series | None, dict[str, str]]:
    """Each row's membership probabilities, its normalised place (None without a geography column) and the roles
    of the columns used ({"surname": ..., "geography" or "tract": ...}): the one validation of those settings."""
    columns = {
        role: name
        for role, name in (("surname", surname), ("first_name", first_name), ("geography", geography))
        if name
    }
    if geography_level not in GEOGRAPHY_LEVELS:
        raise ConfigError(
            f"The 'geography_level' parameter of inferred_group_metrics must be one of {', '.join(GEOGRAPHY_LEVELS)}. "
            f"Got {geography_level!r} instead."
        )
    if "first_name" in columns and "surname" not in columns:
        raise ConfigError(
            "A 'first_name' column sharpens a surname (BIFSG): set 'surname' too, or leave first_name out."
        )
    tables = tables if tables is not None else load_census_tables()
    tracts = load_tract_tables() if geography_level == "tract" and geography else None
    membership = infer_membership(
        tables,
        surname=_column(data, surname, "surname"),
        first_name=_column(data, first_name, "first_name"),
        geography=_column(data, geography, "geography"),
        tracts=tracts,
    )
    if not membership.known.any():
        codes = "11-digit census-tract GEOIDs" if tracts is not None else "5-digit ZIP codes"
        raise ConfigError(
            f"No row's name or place is in the Census tables ({membership.unmatched} unmatched, {membership.missing} "
            f"empty): check that the columns hold surnames and {codes}."
        )
    places_column = _column(data, geography, "geography")
    normalise = normalise_tracts if tracts is not None else normalise_zips
    places = normalise(places_column) if places_column is not None else None
    if tracts is not None:
        columns["tract"] = columns.pop("geography")
    return membership, places, columns
