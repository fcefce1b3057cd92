"""Monitoring decision logs over time, with alarms that stay honest under repeated looks (docs/monitoring.md)."""
