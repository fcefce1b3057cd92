"""Paired-swap audits of any scorer and of pairwise judges (docs/swaps.md)."""
