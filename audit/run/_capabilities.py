"""Single capabilities of an audit, callable on their own (the public ``audit.explain_gaps``)."""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import pandas as pd

from audit._errors import ConfigError, DataError
from audit.config._settings import AuditConfig
from audit.fairness._types import FairnessTable
from audit.result._gap_sections import GapReport
from audit.result._result import Failure, Skipped
from audit.run._runner import _fairness_tables, _load_inputs, _predict
from audit.run._steps import Steps

__all__ = ["explain_gaps"]


def explain_gaps(
    config: AuditConfig,
    *,
    data: pd.DataFrame | None = None,
    model: Any = None,
    tables: list[FairnessTable] | None = None,
    threads: int = 1,
) -> GapReport:
    """Which inputs carry each fairness table's largest gap, and which stand in for the protected attribute
    (docs/gaps.md), without the rest of an audit.

    ``config`` says what the data's columns mean and how to read the model, as for :func:`run_audit`, whose
    ``data=`` and ``model=`` these are (else the config's files); ``config.gaps`` is used as set, except that it
    runs even when ``gaps.enabled`` is false. ``tables``: the fairness tables whose gaps to explain (e.g.
    ``result.fairness`` of an audit of the same data and model); computed from the config when None.

    A step that crashes raises (an audit records it instead). Text models' gaps come from their identity swaps,
    which need the text audit: run :func:`run_audit` for them.
    """
    from audit.run._gap_step import gap_step

    if config.model.kind == "causal-lm" or config.data.text is not None:
        raise ConfigError(
            "explain_gaps explains tabular models; a text model's gaps are its identity swaps, which "
            "run_audit computes with the text audit (gaps.enabled = true)."
        )
    config = dataclasses.replace(config, gaps=dataclasses.replace(config.gaps, enabled=True))
    inputs = _load_inputs(config, data, model, None)
    steps = Steps(total=1, quiet=True)
    try:
        predictions = _predict(inputs, steps)
        failures: list[Failure] = []
        if tables is None:
            tables = _fairness_tables(config, inputs, predictions, steps, failures)
            if failures:
                failure = failures[0]
                raise DataError(
                    f"The step {failure.step!r} failed ({failure.error_type}: {failure.message}); "
                    "no gap can be explained without its table."
                )
    finally:
        steps.close()
    skipped: list[Skipped] = []
    report = gap_step(config, inputs.dataset, inputs.adapter, predictions, tables, None, _run, skipped, threads=threads)
    if report is None:
        raise ConfigError(skipped[0].reason if skipped else "The gaps could not be explained for this model.")
    return report


def _run(step: str, work: Callable[[], Any]) -> Any:
    return work()  # called on its own, a crash is the caller's to see
