"""Synthetic populations drawn from the Census tables, with a planted gap that also depends on place: the known
answers for the estimators (tests and benchmarks.inference).

Draw: a surname uniformly from the surname table, race from P(race | surname) (times P(region | race) when
the population lives in a region), a first name from
P(first name | race), a ZCTA from P(ZCTA | race, region), the decision from logit P = base + gap[race] + place_effect *
(the ZCTA's White share - its mean), a label from P = 0.3 + 0.4 * decision. Under this draw BISG/BIFSG's
probabilities are the true posteriors (their assumptions hold by construction), and the truth is exact:
P(decision | race) = sum over ZCTAs of P(ZCTA | race) * expit(...).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit

from audit.demographics._tables import RACES, CensusTables, Places

__all__ = ["Population", "synthetic_population"]


@dataclass(frozen=True)
class Population:
    frame: pd.DataFrame  # last_name, first_name, zip, race (true), decision, label
    true_selection_rate: dict[str, float]  # the population value, per race


def synthetic_population(
    tables: CensusTables,
    *,
    rows: int,
    seed: int,
    base: float = -0.4,
    gap: dict[str, float] | None = None,
    place_effect: float = 2.0,
    places: int | None = None,
    geography: Places | None = None,
) -> Population:
    """places: draw the population of that many ZCTAs (or tracts, with ``geography=load_tract_tables()``) picked
    at random (an auditee's region: more rows per place); None: the whole country."""
    rng = np.random.default_rng(seed)
    shifts = np.array([(gap or {}).get(race, 0.0) for race in RACES])
    level = geography or Places(tables.zctas, tables.zcta_given_race, tables.race_given_zcta)
    region = np.ones(len(level.codes), dtype=bool)
    if places is not None:
        region[:] = False
        region[rng.choice(len(level.codes), size=places, replace=False)] = True
    place_given_race = level.given_race * region[:, None]
    in_region = place_given_race.sum(axis=0)  # P(region | race): conditioning on living there reweights race
    place_given_race = place_given_race / in_region
    surname_rows = rng.integers(0, len(tables.surnames), rows)
    cumulative = np.cumsum(tables.race_given_surname[surname_rows] * in_region, axis=1)
    race = (rng.random((rows, 1)) * cumulative[:, -1:] > cumulative).sum(axis=1)
    race = np.minimum(race, len(RACES) - 1)
    first = np.empty(rows, dtype=np.int64)
    place = np.empty(rows, dtype=np.int64)
    for r in range(len(RACES)):
        members = np.flatnonzero(race == r)
        first[members] = rng.choice(len(tables.first_names), size=len(members), p=tables.first_name_given_race[:, r])
        place[members] = rng.choice(len(level.codes), size=len(members), p=place_given_race[:, r])
    white_share = level.race_given[:, RACES.index("white")]
    centred = white_share - white_share.mean()
    logit = base + shifts[race] + place_effect * centred[place]
    decision = rng.random(rows) < expit(logit)
    label = rng.random(rows) < 0.3 + 0.4 * decision
    frame = pd.DataFrame(
        {
            "last_name": tables.surnames.to_numpy()[surname_rows],
            "first_name": tables.first_names.to_numpy()[first],
            "zip": level.codes.to_numpy()[place],  # a census-tract GEOID when the geography is tracts
            "race": np.asarray(RACES, dtype=object)[race],
            "decision": decision.astype(int),
            "label": label.astype(int),
        }
    )
    truth = {}
    for r, name in enumerate(RACES):
        truth[name] = float((place_given_race[:, r] * expit(base + shifts[r] + place_effect * centred)).sum())
    return Population(frame=frame, true_selection_rate=truth)
