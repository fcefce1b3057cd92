"""`audit plan`: before an audit runs, from group counts alone, how likely each group's comparison is to reach a
verdict, and the rows it would need (audit.fairness._power)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from audit._errors import ConfigError
from audit.config._settings import AuditConfig
from audit.data._tables import Dataset
from audit.fairness._power import oriented_higher_is_better, power_to_detect

__all__ = ["PlanRow", "PLANNED_METRICS", "plan_rows"]

# what each plannable metric rests on, from the labels alone; precision and NPV rest on the model's decisions
PLANNED_METRICS = {
    "selection_rate": "rows",
    "negative_rate": "rows",
    "accuracy": "rows",
    "tpr": "positives",
    "fnr": "positives",
    "fpr": "negatives",
    "tnr": "negatives",
}


@dataclass(frozen=True)
class PlanRow:
    table: str
    group: str
    rows: int
    support: int  # the rows the metric rests on (its positives for TPR)
    metric: str
    kind: str  # "ratio" | "difference"
    threshold: float
    benchmark_group: str
    assumed_rate: float
    power: float | None
    rows_needed: int | None  # the group's rows for 80% power, at its current share of the metric's rows
    note: str = ""


def plan_rows(
    config: AuditConfig,
    dataset: Dataset,
    *,
    metric: str,
    assumed_rate: float | None,
    lines: list[tuple[str, float]],
) -> tuple[list[PlanRow], float, str]:
    """Every group of every table of the config against the largest group of its table (the benchmark is the best
    group with enough rows, unknown before the model is run: the largest is the likeliest stand-in), with the
    metric's rate assumed equal to ``assumed_rate`` there. Returns the rows, the rate used and where it came from."""
    if dataset.task != "binary":
        raise ConfigError(
            f"audit plan covers binary decisions; this config's label is {dataset.task}. Run the audit and read "
            "the intervals of its tables instead."
        )
    if metric not in PLANNED_METRICS:
        raise ConfigError(
            f"The '--metric' option of audit plan must be one of {', '.join(PLANNED_METRICS)} (metrics whose rows "
            f"are known from the labels). Got {metric!r} instead."
        )
    rate, source = _assumed(dataset, metric, assumed_rate)
    y_true = np.asarray(dataset.y_true, bool)
    alpha = config.fairness.alpha
    higher = oriented_higher_is_better(metric, dataset.favourable)
    rows: list[PlanRow] = []
    tables: list[tuple[str, pd.Series, pd.Series, str]] = []
    for grouping in config.data.sensitive_groupings:
        columns = dataset.sensitive[list(grouping)].astype(str)
        names = pd.Series(
            [", ".join(f"{c}={v}" for c, v in zip(grouping, row)) for row in columns.itertuples(index=False)]
        )
        sizes = names.value_counts().sort_index()
        positives = names[y_true].value_counts().reindex(sizes.index, fill_value=0)
        tables.append((" x ".join(grouping), sizes, positives, ""))
    tables += _inferred_sizes(config, dataset, y_true)
    for table, sizes, positives, note in tables:
        support = {"rows": sizes, "positives": positives, "negatives": sizes - positives}[PLANNED_METRICS[metric]]
        benchmark = str(sizes.idxmax())
        comparisons = max(int((support > 0).sum()) - 1, 1)
        for name in sizes.index:
            if name == benchmark:
                continue
            for kind, threshold in lines:
                found = power_to_detect(
                    benchmark_rate=rate,
                    benchmark_rows=float(support[benchmark]),
                    group_rows=float(support[name]),
                    kind=kind,
                    threshold=threshold,
                    higher_is_better=higher,
                    alpha=alpha,
                    comparisons=comparisons,
                )
                share = support[name] / sizes[name] if sizes[name] else 0.0
                needed = found.rows_needed
                rows.append(
                    PlanRow(
                        table=table,
                        group=str(name),
                        rows=int(sizes[name]),
                        support=int(support[name]),
                        metric=metric,
                        kind=kind,
                        threshold=threshold,
                        benchmark_group=benchmark,
                        assumed_rate=rate,
                        power=found.power,
                        rows_needed=int(np.ceil(needed / share)) if needed is not None and share > 0 else None,
                        note=(found.note if needed is None else "") + note,
                    )
                )
    return rows, rate, source


def _inferred_sizes(
    config: AuditConfig, dataset: Dataset, y_true: np.ndarray
) -> list[tuple[str, pd.Series, pd.Series, str]]:
    """Inferred groups count their effective members (expected members x identification), as their tables do."""
    if not config.data.infer or dataset.inference_inputs is None:
        return []
    from audit.demographics._bisg import infer_membership
    from audit.demographics._table import identification
    from audit.demographics._tables import RACE_LABELS, RACES, load_census_tables, load_tract_tables

    tables = load_census_tables()
    frame = dataset.inference_inputs
    out = []
    for spec in config.data.infer:
        membership = infer_membership(
            tables,
            surname=frame[spec.surname] if spec.surname else None,
            first_name=frame[spec.first_name] if spec.first_name else None,
            geography=frame[spec.geography] if spec.geography else None,
            tracts=load_tract_tables() if spec.geography_level == "tract" and spec.geography else None,
        )
        known = membership.known
        probabilities = membership.probabilities[known]
        strength = identification(probabilities)
        names = [f"{spec.attribute}={RACE_LABELS[r]}" for r in RACES]
        sizes = pd.Series(np.round(probabilities.sum(axis=0) * strength), index=names).astype(int)
        positives = pd.Series(np.round((probabilities * y_true[known, None]).sum(axis=0) * strength), index=names)
        note = (
            " Inferred groups: rows are effective members (expected x identification); the corrected estimator's "
            "own test is a little less powerful than this."
        )
        out.append((f"{spec.attribute} (inferred)", sizes[sizes > 0], positives[sizes > 0].astype(int), note))
    return out


def _assumed(dataset: Dataset, metric: str, assumed_rate: float | None) -> tuple[float, str]:
    if assumed_rate is not None:
        if not 0 < assumed_rate < 1:
            raise ConfigError(f"The '--assume-rate' option must be a number in (0, 1). Got {assumed_rate!r} instead.")
        return assumed_rate, "--assume-rate"
    if metric in ("selection_rate", "negative_rate"):
        base = float(np.mean(np.asarray(dataset.y_true, bool)))
        rate = base if metric == "selection_rate" else 1 - base
        return rate, "the label's base rate (a model that selects as often as the label is positive)"
    raise ConfigError(
        f"audit plan needs the benchmark's {metric} to plan it: pass --assume-rate R (e.g. the rate of the model "
        "you expect, or of the last audit)."
    )
