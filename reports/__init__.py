"""Render a finished audit result: a self-contained HTML report (plotly figures, offline) and JSON.

Reports read only the :class:`audit.AuditResult`; they never need the model or the data.
"""

from reports._html import render_html

__all__ = ["render_html"]
