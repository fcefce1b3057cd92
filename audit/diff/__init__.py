"""What changed between two audits of a model (``audit diff``, ``audit run --baseline``)."""

from audit.diff._diff import DEFAULT_TOLERANCE, compare_files, compare_results

__all__ = ["DEFAULT_TOLERANCE", "compare_files", "compare_results"]
