"""Findings: what a reader should look at, derived from tables, attributions and text audits."""
