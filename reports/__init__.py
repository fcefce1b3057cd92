"""Render a finished audit result: a self-contained HTML report (plotly figures, offline), and the policy
gate's outcome as JUnit XML.

Reports read only the :class:`audit.AuditResult`; they never need the model or the data.
"""

from reports._html import render_html
from reports._junit import render_junit

__all__ = ["render_html", "render_junit"]
