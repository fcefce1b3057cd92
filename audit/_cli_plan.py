"""`audit plan CONFIG`: the rows a verdict needs, before the audit runs (from group counts alone)."""

from __future__ import annotations

import json
from pathlib import Path

from audit._cli_text import EXIT_OK, say
from audit._errors import ConfigError
from audit.config._settings import load_config
from audit.data._tables import build_dataset, read_table
from audit.fairness._power import TARGET_POWER
from audit.gate._policy import Policy, load_policy, load_preset
from audit.result._serde import to_dict
from audit.run._output import write_atomically
from audit.run._plan import PLANNED_METRICS, PlanRow, plan_rows

__all__ = ["add_plan_parser", "plan_command"]


def add_plan_parser(commands) -> None:
    plan = commands.add_parser(
        "plan",
        help="before an audit: each group's chance of a verdict, and the rows it would need",
        description="Read the data a config names (no model is loaded or run) and, for every group of every "
        "sensitive feature and intersection, print the power of the audit's comparison test to find a gap "
        "exactly at the ratio line (fairness.ratio_threshold) and at the difference line "
        "(fairness.detectable_difference), and at a policy's every-group lines with --policy/--preset, against the "
        "largest group of the table, with the metric's rate there assumed; and the group size that would give "
        f"{TARGET_POWER:.0%} power (docs/small-groups.md).",
    )
    plan.add_argument("config", metavar="CONFIG.toml")
    plan.add_argument(
        "--metric",
        default=None,
        choices=tuple(PLANNED_METRICS),
        help="the rate to plan for (default: the favourable rate: selection_rate, or negative_rate when "
        "data.favourable is negative)",
    )
    plan.add_argument(
        "--assume-rate",
        type=float,
        default=None,
        metavar="R",
        help="the metric's rate at the benchmark (default for selection and negative rates: the label's base rate; "
        "required for the others)",
    )
    plan.add_argument("--policy", action="append", default=[], metavar="FILE", help="add the policy's lines")
    plan.add_argument("--preset", action="append", default=[], help="add a built-in policy's lines")
    plan.add_argument("--json", default=None, metavar="FILE", help="also write the plan as JSON")
    plan.add_argument("--allow-outside", action="store_true", help="let the config read data outside its own folder")


def plan_command(args) -> int:
    config = load_config(args.config, allow_outside=args.allow_outside)
    policies = [load_policy(path) for path in args.policy] + [load_preset(name) for name in args.preset]
    if config.data.path is None:
        raise ConfigError("audit plan reads the data the config names: set data.path in the config.")
    frame = read_table(
        config.data.path, text_columns=(config.data.text,) if config.data.text else (), encoding=config.data.encoding
    )
    dataset = build_dataset(frame, config.data, seed=config.seed)
    metric = args.metric or ("negative_rate" if dataset.favourable == "negative" else "selection_rate")
    lines = _lines(config, policies, metric)
    rows, rate, source = plan_rows(config, dataset, metric=metric, assumed_rate=args.assume_rate, lines=lines)
    level = config.fairness.alpha
    say(
        f"{config.title}: {len(dataset):,} rows. {metric} assumed {rate:.3g} at each table's benchmark ({source}); "
        f"benchmark: the largest group of each table. Power of the comparison test at alpha {level:g} over the "
        f"groups compared (Holm's first step) to find a gap exactly at each line; rows for {TARGET_POWER:.0%}."
    )
    _print(rows, lines)
    if args.json:
        payload = {
            "metric": metric,
            "assumed_rate": rate,
            "assumed_rate_source": source,
            "alpha": level,
            "target_power": TARGET_POWER,
            "lines": [{"kind": kind, "threshold": threshold} for kind, threshold in lines],
            "rows": to_dict(rows),
        }
        write_atomically({Path(args.json): json.dumps(payload, indent=2) + "\n"})
        say(f"Plan written to {args.json}")
    return EXIT_OK


def _lines(config, policies: list[Policy], metric: str) -> list[tuple[str, float]]:
    """The config's two lines, then each policy's every-group ratio or difference line on this metric."""
    lines = [("ratio", config.fairness.ratio_threshold), ("difference", config.fairness.detectable_difference)]
    for policy in policies:
        for rule in policy.rules:
            if rule.where != "every_group" or rule.stat not in ("ratio_to_best", "difference_to_best"):
                continue
            if rule.metric not in (metric, "favourable_rate") or (
                rule.metric == "favourable_rate" and metric not in ("selection_rate", "negative_rate")
            ):
                continue
            line = ("ratio" if rule.stat == "ratio_to_best" else "difference", float(rule.threshold))
            if line not in lines:
                lines.append(line)
    return lines


def _print(rows: list[PlanRow], lines: list[tuple[str, float]]) -> None:
    by_table: dict[str, list[PlanRow]] = {}
    for row in rows:
        by_table.setdefault(row.table, []).append(row)
    for table, entries in by_table.items():
        benchmark = entries[0].benchmark_group
        say(f"By {table} (benchmark {benchmark}):")
        groups: dict[str, list[PlanRow]] = {}
        for row in entries:
            groups.setdefault(row.group, []).append(row)
        for group, found in groups.items():
            parts = []
            for row in found:
                power = "?" if row.power is None else (f"{row.power:.0%}" if row.power >= 0.01 else "<1%")
                needs = f"needs {row.rows_needed:,} rows" if row.rows_needed is not None else "not reachable"
                parts.append(f"{row.kind} {row.threshold:g}: power {power}, {needs}")
            rate_rows = "" if found[0].support == found[0].rows else f" ({found[0].support:,} for {found[0].metric})"
            say(f"  {group}: {found[0].rows:,} rows{rate_rows}; " + "; ".join(parts))
        unreachable = [row.note for row in entries if row.rows_needed is None and row.note]
        if unreachable:
            say(f"  not reachable: {unreachable[0]}")
