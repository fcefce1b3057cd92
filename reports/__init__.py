"""Render a finished audit result: a self-contained HTML report (plotly figures, offline), and the policy
gate's outcome as JUnit XML; a PDF through headless Chromium; plotly figures and an ipywidgets explorer for
notebooks.

Reports read only the :class:`audit.AuditResult`; they never need the model or the data.
"""

from reports._cyclonedx import render_cyclonedx
from reports._dossier import render_dossier_html, render_dossier_markdown, render_dossier_pdf
from reports._explore import Explorer, GenerationExplorer, explorer_for
from reports._figures import figures
from reports._html import render_html, render_report
from reports._junit import render_junit
from reports._pdf import find_chromium, render_pdf

__all__ = [
    "Explorer",
    "GenerationExplorer",
    "explorer_for",
    "figures",
    "find_chromium",
    "render_cyclonedx",
    "render_dossier_html",
    "render_dossier_markdown",
    "render_dossier_pdf",
    "render_html",
    "render_junit",
    "render_pdf",
    "render_report",
]
