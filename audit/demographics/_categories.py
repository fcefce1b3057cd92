"""Inferred groups as categories of a regulatory table (NYC LL144): expected members and the chosen estimator's
favourable rate, for the whole data and within each category of a recorded column (sex x race)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from audit._errors import ConfigError
from audit.demographics._api import membership_of
from audit.demographics._estimators import cell_codes, rates, weighted_joint
from audit.demographics._table import ESTIMATORS, fit_point, outcome_places
from audit.demographics._tables import RACE_LABELS, RACES

__all__ = ["InferredCategories", "inferred_categories"]


@dataclass(frozen=True)
class InferredCategories:
    """``known``: rows whose name or place matched (the others are LL144's unknown category). ``expected[s]`` and
    ``rates[s]``: per group (``groups``), the expected members and the favourable rate among the rows of stratum
    ``s`` (``None``: all known rows)."""

    attribute: str
    estimator: str
    groups: tuple[str, ...]
    known: np.ndarray
    expected: dict[str | None, np.ndarray]
    rates: dict[str | None, np.ndarray]
    converged: bool


def inferred_categories(
    data: pd.DataFrame,
    *,
    label: np.ndarray,
    favoured: np.ndarray,
    surname: str | None,
    first_name: str | None,
    geography: str | None,
    geography_level: str = "zcta",
    attribute: str = "race",
    estimator: str = "corrected",
    place_prior_sd: float = 1.0,
    rows: np.ndarray | None = None,
    strata: pd.Series | None = None,
) -> InferredCategories:
    """The favourable rate of each inferred group by ``estimator``, over ``rows`` (default: all) whose membership
    is known, and within each value of ``strata``. The corrected estimator is fitted on the same four confusion
    cells as the fairness table (label x favoured), so its selection rate is the table's."""
    if estimator not in ESTIMATORS:
        raise ConfigError(
            f"The 'estimator' parameter of inferred_categories must be one of {', '.join(ESTIMATORS)}. Got "
            f"{estimator!r} instead."
        )
    membership, places, columns = membership_of(
        data, surname=surname, first_name=first_name, geography=geography, geography_level=geography_level
    )
    chosen = membership.known & (np.ones(len(data), bool) if rows is None else np.asarray(rows, bool))
    cells = cell_codes(np.asarray(label, bool), np.asarray(favoured, bool))
    expected: dict[str | None, np.ndarray] = {}
    favourable: dict[str | None, np.ndarray] = {}
    converged = True
    stratum_values = [None] if strata is None else [None, *pd.unique(strata[chosen].astype(str))]
    for stratum in stratum_values:
        subset = chosen if stratum is None else chosen & (strata.astype(str) == stratum).to_numpy()  # type: ignore[union-attr]
        probabilities = membership.probabilities[subset]
        if estimator == "weighted":
            joint = weighted_joint(probabilities, cells[subset])
        else:
            fit = fit_point(
                probabilities, cells[subset], outcome_places(places, subset, columns), place_prior_sd=place_prior_sd
            )
            joint, converged = fit.joint, converged and fit.converged
        expected[stratum] = probabilities.sum(axis=0)
        favourable[stratum] = rates(joint, ("tp", "fp"), ("tp", "fp", "tn", "fn"))
    return InferredCategories(
        attribute=attribute,
        estimator=estimator,
        groups=tuple(RACE_LABELS[r] for r in RACES),
        known=membership.known,
        expected=expected,
        rates=favourable,
        converged=converged,
    )
