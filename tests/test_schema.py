"""Schema 2.0: the JSON Schema file is generated from the types, every 1.x number survives the converter, and the
schema refuses what the loader refuses."""

from __future__ import annotations

import dataclasses
import gzip
import json
from pathlib import Path

import pytest

from audit import SCHEMA_VERSION, AuditResult, ConfigError, Provenance, result_schema
from tests.schema_check import SCHEMA_FILE, errors_of

LEGACY = sorted((Path(__file__).parent / "data" / "legacy").glob("audit-*.json.gz"))
_PROVENANCE_FIELDS = {item.name for item in dataclasses.fields(Provenance)} - {"extra"}


def _legacy(path: Path) -> dict:
    return json.loads(gzip.decompress(path.read_bytes()))


def test_the_schema_file_is_the_one_the_types_generate():
    generated = json.dumps(result_schema(), indent=2, ensure_ascii=False) + "\n"
    assert SCHEMA_FILE.read_text(encoding="utf-8") == generated, (
        'docs/audit.schema.json is stale; regenerate it: python -c "import json, audit; '
        'print(json.dumps(audit.result_schema(), indent=2, ensure_ascii=False))" > docs/audit.schema.json'
    )


def _numbers(value, path=()):
    """Every number (not a bool) of a JSON document, by its path."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _numbers(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _numbers(item, (*path, index))
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield path, value


def _path_in_2_0(path: tuple) -> tuple:
    """Where a 1.x number lives in 2.0 (the renames of audit/result/_upgrade.py)."""
    renames = {
        "to_best": "to_benchmark",
        "worst_n": "group_n",
        "best_n": "compared_n",
        "selected": "favourable_count",
        "fairlearn_ratio_all_groups": "all_groups_ratio",
    }
    path = tuple(renames.get(p, p) if isinstance(p, str) else p for p in path)
    if path[0] == "provenance" and path[1] not in _PROVENANCE_FIELDS:
        path = ("provenance", "extra", *path[1:])
    return path


def _at(document, path):
    for key in path:
        document = document[key]
    return document


@pytest.mark.parametrize("path", LEGACY, ids=lambda p: p.name)
def test_every_number_of_a_1x_result_is_unchanged_in_2_0(path):
    raw = _legacy(path)
    upgraded = AuditResult.from_dict(raw).to_dict()
    numbers = list(_numbers(raw))
    assert len(numbers) > 500  # real results, not stubs
    for where, value in numbers:
        assert _at(upgraded, _path_in_2_0(where)) == value, where
    # and nothing the converter kept reads differently after a second round trip
    assert AuditResult.from_dict(upgraded).to_dict() == upgraded
    assert errors_of(upgraded) == []


def test_comparisons_are_typed_rows_naming_both_groups():
    raw = _legacy(next(p for p in LEGACY if p.name == "audit-1.8.json.gz"))
    result = AuditResult.from_dict(raw)
    sex = result.fairness[0].disparities["selection_rate"]
    old = raw["fairness"][0]["disparities"]["selection_rate"]
    female = sex.to_benchmark["sex=Female"]
    assert (female.group, female.compared_with) == ("sex=Female", old["benchmark_group"])
    assert female.ratio == old["to_best"]["sex=Female"]["ratio"] and not female.is_anchor and not female.above
    assert sex.to_benchmark[old["benchmark_group"]].is_anchor
    assert sex.to_overall["sex=Female"].compared_with == "overall"
    # the one ranking: smallest ratio first, over every table
    ranked = result.largest_disparities()
    ratios = [entry.comparison.ratio for entry in ranked]
    assert ratios == sorted(ratios) and ranked[0].comparison is ranked[0].disparity.worst_comparison()
    assert {e.table for e in ranked} == {t.name for t in result.fairness}


def test_2_0_has_no_aliases():
    text = AuditResult.from_dict(_legacy(next(p for p in LEGACY if p.name == "audit-1.8.json.gz"))).to_json()
    for alias in (
        '"to_best"',
        '"tested_against"',
        '"most_selected_group"',
        '"fairlearn_ratio_all_groups"',
        '"worst_n"',
        '"above_benchmark"',
        '"reference": true',
        '"selected"',
    ):
        assert alias not in text


def test_the_schema_refuses_what_the_loader_refuses():
    good = AuditResult.from_dict(_legacy(LEGACY[-1])).to_dict()
    assert errors_of(good) == []
    bad = json.loads(json.dumps(good))
    bad["fairness"][0]["disparities"]["selection_rate"]["to_benchmark"]["sex=Female"]["ratio"] = "low"
    assert any("to_benchmark/sex=Female/ratio" in e for e in errors_of(bad))
    with pytest.raises(ConfigError, match="to_benchmark.sex=Female.ratio' must be a number"):
        AuditResult.from_dict(bad)
    bad = json.loads(json.dumps(good))
    bad["data"]["n_rowz"] = 3
    assert any("n_rowz" in e for e in errors_of(bad))
    with pytest.raises(ConfigError, match=r"fields this version does not know: \['n_rowz'\]"):
        AuditResult.from_dict(bad)


@pytest.mark.parametrize(
    "version, message", [("2.99", "newer than this audit-toolkit"), ("3.0", "reads 2.x \\(and converts 1.x\\)")]
)
def test_a_newer_schema_is_refused_with_the_fix(version, message):
    raw = {**AuditResult.from_dict(_legacy(LEGACY[-1])).to_dict(), "schema_version": version}
    with pytest.raises(ConfigError, match=message):
        AuditResult.from_dict(raw)


def test_a_2_0_file_loads_in_the_current_2_x_with_every_number_kept():
    current = AuditResult.from_dict(_legacy(LEGACY[-1])).to_dict()
    older = json.loads(json.dumps(current))
    older["schema_version"] = "2.0"
    older.pop("upgraded_from", None)
    for table in older["fairness"]:
        table.pop("pooling", None)  # 2.2's fields: absent in a 2.0 file
        for group in table["groups"]:
            group.pop("no_interval", None)  # 2.1's field
            group.pop("pooled", None)
    loaded = AuditResult.from_dict(older)
    assert loaded.schema_version == SCHEMA_VERSION and loaded.upgraded_from == "2.0"
    assert [g.values for t in loaded.fairness for g in t.groups] == [
        g["values"] for t in older["fairness"] for g in t["groups"]
    ]
