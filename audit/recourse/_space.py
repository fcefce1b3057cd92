"""What a person may change, and what each change costs (docs/recourse.md).

Every actionable input offers the values seen in the reference population (a person is never told to take a value
nobody has), within the config's limits and directions; every other input is locked, and a protected characteristic
can never be made actionable. A change's cost is, per input, either its percentile shift (how far along the
population it moves the person: |F(new) - F(old)|, F the mid-rank empirical distribution) or its size in the
input's own units divided by the change the config prices at one unit; a change of category costs
``category_cost``. A recourse costs the sum over the inputs it changes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from audit._errors import ConfigError
from audit.config._settings import RecourseConfig

__all__ = ["ActionSpace", "action_space", "configured_space"]


@dataclass(frozen=True)
class ActionSpace:
    """The actionable inputs of one model and their candidate values (numbers sorted; categories by name)."""

    features: tuple[str, ...]
    numeric: tuple[bool, ...]
    values: tuple[np.ndarray, ...]
    reference: tuple[np.ndarray, ...]  # the reference's sorted non-missing values (numeric inputs: percentiles)
    direction: tuple[int, ...]  # +1: only up, -1: only down, 0: either way
    units: tuple[float | None, ...]  # cost "units": the change priced at one unit
    cost_kind: str  # "percentile" or "units"
    category_cost: float

    def percentile(self, j: int, x: np.ndarray) -> np.ndarray:
        """Mid-rank empirical distribution of input ``j`` at ``x`` (share below plus half the share equal)."""
        ref = self.reference[j]
        below = np.searchsorted(ref, x, side="left")
        upto = np.searchsorted(ref, x, side="right")
        return (below + upto) / (2.0 * len(ref))

    def costs(self, j: int, current: np.ndarray) -> np.ndarray:
        """(rows, values): the cost of moving each row's input ``j`` to each candidate value; inf where the value
        is the row's own (no change), against the input's direction, or where a numeric input is missing (a
        missing number is locked: no distance to it is defined)."""
        values = self.values[j]
        if not self.numeric[j]:
            same = np.asarray(current, dtype=object)[:, None] == values[None, :]
            return np.where(same, np.inf, self.category_cost)
        x = np.asarray(current, dtype=float)
        if self.cost_kind == "percentile":
            cost = np.abs(self.percentile(j, values)[None, :] - self.percentile(j, x)[:, None])
        else:
            cost = np.abs(values[None, :] - x[:, None]) / float(self.units[j] or 1.0)
        blocked = values[None, :] == x[:, None]
        if self.direction[j] > 0:
            blocked |= values[None, :] < x[:, None]
        elif self.direction[j] < 0:
            blocked |= values[None, :] > x[:, None]
        blocked |= np.isnan(x)[:, None]
        return np.where(blocked, np.inf, cost)


def _categorical(series: pd.Series) -> bool:
    return not (pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series))


def action_space(
    reference: pd.DataFrame,
    *,
    actionable: tuple[str, ...],
    increase_only: tuple[str, ...] = (),
    decrease_only: tuple[str, ...] = (),
    protected: tuple[str, ...] = (),
    cost: str = "percentile",
    units: dict[str, float] | None = None,
    category_cost: float = 0.5,
    limits: dict[str, tuple[float, float]] | None = None,
    grid: int | None = None,
) -> ActionSpace:
    """The action space over ``reference`` (the population whose values are offered and whose distribution prices
    percentile shifts). ``grid``: at most this many values per numeric input (its quantiles), for the model-agnostic
    search; None keeps every value seen."""
    units, limits = dict(units or {}), dict(limits or {})
    missing = [f for f in actionable if f not in reference.columns]
    if missing:
        raise ConfigError(
            f"The 'recourse.actionable' setting names inputs the model does not take: {missing}. Inputs: "
            f"{', '.join(map(str, reference.columns))}."
        )
    locked = [f for f in actionable if f in protected]
    if locked:
        raise ConfigError(
            f"The 'recourse.actionable' setting names protected characteristics {locked}: they stay locked (a "
            "person is never told to change them). Remove them from recourse.actionable."
        )
    numeric, values, sorted_ref, direction, unit_list = [], [], [], [], []
    for name in actionable:
        column = reference[name]
        is_numeric = not _categorical(column)
        if not is_numeric and (name in increase_only or name in decrease_only):
            raise ConfigError(
                f"The 'recourse.increase_only' and 'recourse.decrease_only' settings apply to numeric inputs; "
                f"{name!r} is categorical. Remove it from them (its categories have no order here)."
            )
        if is_numeric:
            observed = np.sort(column.dropna().to_numpy(dtype=float))
            if not len(observed):
                raise ConfigError(f"The actionable input {name!r} has no values in the reference population.")
            candidates = np.unique(observed)
            low, high = limits.get(name, (-np.inf, np.inf))
            candidates = candidates[(candidates >= low) & (candidates <= high)]
            if grid is not None and len(candidates) > grid:
                candidates = np.unique(np.quantile(observed, np.linspace(0, 1, grid), method="inverted_cdf"))
                candidates = candidates[(candidates >= low) & (candidates <= high)]
            if cost == "units" and name not in units:
                raise ConfigError(
                    f'recourse.cost = "units" prices each numeric input by the change worth one unit; '
                    f"recourse.units lacks {name!r}. Add e.g. units = {{ {name!r} = 1 }}."
                )
            sorted_ref.append(observed)
            unit_list.append(units.get(name))
        else:
            if name in limits:
                raise ConfigError(f"The 'recourse.limits' setting applies to numeric inputs; {name!r} is categorical.")
            candidates = np.array(sorted(column.dropna().unique(), key=str), dtype=object)
            sorted_ref.append(np.array([]))
            unit_list.append(None)
        if not len(candidates):
            raise ConfigError(f"No value of {name!r} lies within recourse.limits {limits.get(name)}.")
        numeric.append(is_numeric)
        values.append(candidates)
        direction.append(1 if name in increase_only else -1 if name in decrease_only else 0)
    return ActionSpace(
        tuple(actionable),
        tuple(numeric),
        tuple(values),
        tuple(sorted_ref),
        tuple(direction),
        tuple(unit_list),
        cost,
        float(category_cost),
    )


def configured_space(
    reference: pd.DataFrame, settings: RecourseConfig, *, protected: tuple[str, ...] = (), grid: int | None = None
) -> ActionSpace:
    """The action space a [recourse] config describes over ``reference``."""
    return action_space(
        reference,
        actionable=settings.actionable,
        increase_only=settings.increase_only,
        decrease_only=settings.decrease_only,
        protected=protected,
        cost=settings.cost,
        units=settings.units,
        category_cost=settings.category_cost,
        limits={k: (float(v[0]), float(v[1])) for k, v in (settings.limits or {}).items()},
        grid=grid,
    )
