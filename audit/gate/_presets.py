"""The names of the built-in policy presets (audit/policies/*.toml), light enough for the CLI's --help."""

from __future__ import annotations

from importlib import resources

__all__ = ["PRESETS"]

PRESETS = tuple(
    sorted(
        entry.name.removesuffix(".toml")
        for entry in resources.files("audit").joinpath("policies").iterdir()
        if entry.name.endswith(".toml")
    )
)
