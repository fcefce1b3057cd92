"""BISG (Elliott et al. 2009) and BIFSG (Voicu 2018): P(race | surname, first name, place), vectorised.

P(r | s, f, g) is proportional to P(r | s) P(f | r) P(g | r): the first name and the place are taken as
independent given race and surname, the methods' own assumption. A row uses what matched: a surname without a
place gives P(r | s) (times P(f | r) with a first name), a place without a surname P(r | g); a row where neither
matched is unknown (no probabilities), counted, never dropped silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from audit._errors import ConfigError
from audit.demographics._names import name_parts, normalise_names, normalise_tracts, normalise_zips
from audit.demographics._tables import RACE_LABELS, RACES, CensusTables, Places

__all__ = ["Membership", "infer_membership", "SOURCES", "PLACE_TYPES"]

# How each row's probabilities were formed; "unknown" rows have none.
SOURCES = ("surname+first_name+place", "surname+place", "surname+first_name", "surname", "place", "unknown")
# The row's place by its Census mix: BISG's calibration differs between, say, majority-White and mixed places
PLACE_TYPES = (*(f"majority {RACE_LABELS[race]}" for race in RACES), "no majority", "no place")


@dataclass(frozen=True)
class Membership:
    """Per row: probabilities over RACES (NaN for unknown rows) and the source code (an index into SOURCES)."""

    probabilities: np.ndarray
    source: np.ndarray
    place_type: np.ndarray  # an index into PLACE_TYPES
    counts: dict[str, int] = field(default_factory=dict)  # rows per source
    unmatched: dict[str, int] = field(default_factory=dict)  # rows with a value that is not in the tables
    missing: dict[str, int] = field(default_factory=dict)  # rows with no usable value
    unmatched_examples: dict[str, list[str]] = field(default_factory=dict)  # the most frequent few, for the report

    @property
    def known(self) -> np.ndarray:
        return self.source != SOURCES.index("unknown")


def _require_text(values: pd.Series, setting: str) -> None:
    present = values.dropna()
    if len(present) and pd.api.types.is_numeric_dtype(present):
        raise ConfigError(
            f"The '{setting}' column must hold names (text). Got numbers ({present.iloc[0]!r}, ...) instead: "
            "point it at the column of names."
        )


def _lookup_surnames(values: pd.Series, tables: CensusTables) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows of race_given_surname per row (-1 unmatched), and the masks of usable and unmatched values."""
    whole, parts = normalise_names(values)
    position = tables.surnames.get_indexer(whole)
    # compound names not held whole: their first part that is held
    retry = (position < 0) & (parts != "").to_numpy()
    if retry.any():
        first_held = {}
        for joined in pd.unique(parts[retry]):
            found = [p for p in tables.surnames.get_indexer(name_parts(joined)) if p >= 0]
            first_held[joined] = found[0] if found else -1
        position[retry] = parts[retry].map(first_held).to_numpy()
    usable = (whole != "").to_numpy()
    return position, usable, usable & (position < 0)


def _examples(values: pd.Series, unmatched: np.ndarray) -> list[str]:
    if not unmatched.any():
        return []
    return [str(v) for v in values[unmatched].astype(str).value_counts().index[:5]]


def infer_membership(
    tables: CensusTables,
    *,
    surname: pd.Series | None,
    first_name: pd.Series | None = None,
    geography: pd.Series | None = None,
    tracts: Places | None = None,
) -> Membership:
    """BISG / BIFSG probabilities for each row from whichever of the three columns are given. With ``tracts``
    (load_tract_tables()), the geography column holds 11-digit census-tract GEOIDs instead of ZIP codes."""
    if surname is None and geography is None:
        raise ConfigError("data.infer needs a 'surname' or a 'geography' column (or both): neither was set.")
    n = len(surname if surname is not None else geography)  # type: ignore[arg-type]
    log_p = np.zeros((n, len(RACES)))
    has_surname = np.zeros(n, dtype=bool)
    has_first = np.zeros(n, dtype=bool)
    has_place = np.zeros(n, dtype=bool)
    place_type = np.full(n, PLACE_TYPES.index("no place"), dtype=np.int8)
    unmatched: dict[str, int] = {}
    missing: dict[str, int] = {}
    examples: dict[str, list[str]] = {}
    with np.errstate(divide="ignore"):
        if surname is not None:
            _require_text(surname, "surname")
            position, usable, bad = _lookup_surnames(surname, tables)
            has_surname = position >= 0
            log_p[has_surname] += np.log(tables.race_given_surname[position[has_surname]])
            unmatched["surname"], missing["surname"] = int(bad.sum()), int((~usable).sum())
            examples["surname"] = _examples(surname, bad)
        if first_name is not None:
            _require_text(first_name, "first_name")
            whole, _ = normalise_names(first_name)
            position = tables.first_names.get_indexer(whole)
            # a first name only sharpens a surname: without one it would need P(race | first name) alone, a
            # weaker and differently sourced table
            has_first = (position >= 0) & has_surname
            log_p[has_first] += np.log(tables.first_name_given_race[position[has_first]])
            usable = (whole != "").to_numpy()
            bad = usable & (position < 0)
            unmatched["first_name"], missing["first_name"] = int(bad.sum()), int((~usable).sum())
            examples["first_name"] = _examples(first_name, bad)
        if geography is not None:
            places = tracts or Places(tables.zctas, tables.zcta_given_race, tables.race_given_zcta)
            zips = normalise_tracts(geography) if tracts is not None else normalise_zips(geography)
            position = places.codes.get_indexer(zips)
            has_place = position >= 0
            factor = np.where(
                has_surname[has_place, None],
                places.given_race[position[has_place]],
                places.race_given[position[has_place]],
            )
            log_p[has_place] += np.log(factor)
            mix = places.race_given[position[has_place]]
            place_type[has_place] = np.where(mix.max(axis=1) > 0.5, mix.argmax(axis=1), len(RACES))
            usable = (zips != "").to_numpy()
            bad = usable & (position < 0)
            unmatched["geography"], missing["geography"] = int(bad.sum()), int((~usable).sum())
            examples["geography"] = _examples(geography, bad)
    known = has_surname | has_place
    shifted = log_p - np.max(log_p, axis=1, keepdims=True, initial=-np.inf, where=np.isfinite(log_p))
    probabilities = np.exp(shifted)
    total = probabilities.sum(axis=1, keepdims=True)
    # a surname held only by races absent from the place: the place's table has zeros; the surname alone decides
    conflict = known & ~(total[:, 0] > 0)
    if conflict.any():
        has_place, has_first = has_place & ~conflict, has_first & ~conflict
        position, _, _ = _lookup_surnames(surname[conflict], tables)  # type: ignore[index]
        probabilities[conflict] = tables.race_given_surname[position]
        total = probabilities.sum(axis=1, keepdims=True)
    probabilities = np.divide(probabilities, total, out=np.full_like(probabilities, np.nan), where=total > 0)
    source = np.full(n, SOURCES.index("unknown"), dtype=np.int8)
    source[has_place & ~has_surname] = SOURCES.index("place")
    source[has_surname & ~has_place] = SOURCES.index("surname")
    source[has_surname & has_first & ~has_place] = SOURCES.index("surname+first_name")
    source[has_surname & has_place] = SOURCES.index("surname+place")
    source[has_surname & has_first & has_place] = SOURCES.index("surname+first_name+place")
    probabilities[source == SOURCES.index("unknown")] = np.nan
    counts = {name: int((source == code).sum()) for code, name in enumerate(SOURCES)}
    return Membership(
        probabilities=probabilities,
        source=source,
        place_type=place_type,
        counts=counts,
        unmatched=unmatched,
        missing=missing,
        unmatched_examples=examples,
    )
