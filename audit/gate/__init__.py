"""Policies and the gate: rules read from TOML presets or files, evaluated against a result."""
