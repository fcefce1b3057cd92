"""Schema 1.0-1.8 results to schema 2.0: the one converter (docs/result-schema.md, "Compatibility").

Every number of a 1.x file is kept; what changes is where it lives and what it is called:

- a comparison of two groups (``to_best``, ``to_reference``, ``to_overall`` entries) becomes a typed row with both
  groups named (``group``, ``compared_with``), ``is_anchor`` for the group compared with itself and ``above`` for a
  group that does better; ``to_best`` is ``to_benchmark``; ``tested_against`` (the benchmark's 1.x alias) goes;
- four-fifths rows lose their aliases ``reference`` (of ``benchmark``) and ``selected`` (of ``favourable_count``),
  the tables ``most_selected_group`` (of ``benchmark_group``) and ``fairlearn_ratio_all_groups`` (of
  ``all_groups_ratio`` for a selection rate);
- a disparity finding's evidence loses ``worst_group``/``best_group``/``worst_n``/``best_n`` (1.x names of
  ``group``/``compared_with``/``group_n``/``compared_n``);
- an empty section (``{}``) is absent; ``data`` gains its ``kind``; a language model's ``class`` is its ``type``;
- the keys a caller added to ``provenance`` move under ``provenance.extra``.

The input is not changed; a malformed file is left for the typed loader to refuse by name.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

from audit.result._sections import Provenance

__all__ = ["upgrade_from_1x"]

_EMPTY_WHEN_ABSENT = ("gate", "text", "quality", "slices", "mitigation", "probes", "gap_explanations", "changes")
_PROVENANCE_FIELDS = {item.name for item in dataclasses.fields(Provenance)}  # "extra" included
_EVIDENCE_ALIASES = {
    "worst_group": "group",
    "best_group": "compared_with",
    "worst_n": "group_n",
    "best_n": "compared_n",
}


def upgrade_from_1x(raw: dict[str, Any]) -> dict[str, Any]:
    """A schema 2.0 object holding what the 1.x ``raw`` holds (valid in every 2.x: later fields are optional)."""
    out = copy.deepcopy(raw)
    out["upgraded_from"] = str(raw["schema_version"])
    out["schema_version"] = "2.0"
    for name in _EMPTY_WHEN_ABSENT:
        if name in out and (out[name] is None or out[name] == {}):
            del out[name]
    if isinstance(out.get("data"), dict):
        out["data"].setdefault("kind", "rows")
    if isinstance(out.get("model"), dict) and "class" in out["model"]:
        out["model"]["type"] = out["model"].pop("class")
    if isinstance(out.get("provenance"), dict):
        provenance = out["provenance"]
        extra = {k: provenance.pop(k) for k in [k for k in provenance if k not in _PROVENANCE_FIELDS]}
        if extra:
            provenance["extra"] = {**provenance.get("extra", {}), **extra}
    for table in out.get("fairness") or []:
        if isinstance(table, dict):
            for key in ("disparities", "disparities_reliable"):
                if isinstance(table.get(key), dict):
                    table[key] = {
                        metric: _disparity(d) if isinstance(d, dict) else d for metric, d in table[key].items()
                    }
    regulatory = out.get("regulatory")
    if isinstance(regulatory, dict) and isinstance(regulatory.get("four_fifths"), list):
        regulatory["four_fifths"] = [_four_fifths(e) if isinstance(e, dict) else e for e in regulatory["four_fifths"]]
    for finding in out.get("findings") or []:
        if isinstance(finding, dict) and isinstance(finding.get("evidence"), dict):
            evidence = finding["evidence"]
            for old, new in _EVIDENCE_ALIASES.items():
                if old in evidence:
                    value = evidence.pop(old)
                    evidence.setdefault(new, value)
    return out


def _disparity(d: dict[str, Any]) -> dict[str, Any]:
    d = dict(d)
    tested_against = d.pop("tested_against", None)
    # 1.0-1.2 compared every group with the best group (1.3 added the benchmark among groups with enough rows)
    benchmark = d.get("benchmark_group") or tested_against or d.get("best_group")
    if "to_best" in d:
        d["to_benchmark"] = _comparisons(d.pop("to_best"), benchmark, "benchmark")
    if "to_reference" in d:
        d["to_reference"] = _comparisons(d["to_reference"], d.get("reference_group"), "reference")
    if "to_overall" in d:
        d["to_overall"] = _comparisons(d["to_overall"], "overall", None)
    if d.get("to_benchmark") and not d.get("benchmark_group"):
        d["benchmark_group"] = benchmark
    return d


def _comparisons(entries: Any, compared_with: str | None, role: str | None) -> Any:
    if not isinstance(entries, dict):
        return entries
    return {
        group: _comparison(group, entry, compared_with, role) if isinstance(entry, dict) else entry
        for group, entry in entries.items()
    }


def _comparison(group: str, entry: dict[str, Any], compared_with: str | None, role: str | None) -> dict[str, Any]:
    entry = dict(entry)
    anchor = bool(entry.pop("benchmark", False) or entry.pop("reference", False))
    above = entry.pop("above_benchmark", None)
    other = entry.pop("compared_with", None) or compared_with
    out: dict[str, Any] = {"group": group, "compared_with": other, **entry}
    if role is not None:
        out["is_anchor"] = anchor or group == other
        difference = entry.get("difference")
        out["above"] = bool(above) if above is not None else (difference is not None and difference < 0)
    if entry.get("ratio") is None and not out.get("is_anchor"):
        out["undefined"] = "the ratio is undefined (a schema 1.x result records no reason)"
    return out


def _four_fifths(entry: dict[str, Any]) -> dict[str, Any]:
    entry = dict(entry)
    most_selected = entry.pop("most_selected_group", None)
    if entry.get("applicable") and not entry.get("benchmark_group") and most_selected is not None:
        entry["benchmark_group"] = most_selected
    fairlearn_ratio = entry.pop("fairlearn_ratio_all_groups", None)
    if entry.get("applicable") and entry.get("all_groups_ratio") is None and fairlearn_ratio is not None:
        entry["all_groups_ratio"] = fairlearn_ratio
    rows = []
    for row in entry.get("rows") or []:
        if isinstance(row, dict):
            row = dict(row)
            reference = row.pop("reference", None)
            row.setdefault("benchmark", bool(reference))
            selected = row.pop("selected", None)
            if row.get("favourable_count") is None and selected is not None:
                row["favourable_count"] = selected
        rows.append(row)
    if "rows" in entry:
        entry["rows"] = rows
    return entry
