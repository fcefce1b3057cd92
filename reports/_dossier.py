"""A dossier (``audit dossier``) as HTML (the report's escaping and a script-free Content-Security-Policy),
Markdown, or a PDF printed by the report's Chromium path."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from audit.result._dossier_sections import Dossier

__all__ = ["render_dossier_html", "render_dossier_markdown", "render_dossier_pdf"]


def render_dossier_html(dossier: Dossier, *, for_print: bool = False) -> str:
    from reports._html import _environment

    return (
        _environment()
        .get_template("dossier.html.j2")
        .render(dossier=dossier, counts=dossier.counts, for_print=for_print)
    )


def _cell(text: object) -> str:
    """Markdown table cell: pipes and line breaks would end the cell or the row."""
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("\r", " ")


def _line(text: object) -> str:
    """One line of prose: a newline or a leading '#' in a value must not forge a heading."""
    return " ".join(str(text).split()).replace("<", "&lt;")


def render_dossier_markdown(dossier: Dossier) -> str:
    counts = dossier.counts
    lines = [
        f"# {_line(dossier.template_name)}",
        "",
        f"_{_line(dossier.law)}_",
        "",
        f"System audited: {_line(dossier.audit_title)}. Audit record `{_line(dossier.audit_path)}`, sha256 "
        f"`{dossier.audit_sha256}`. Dossier created {dossier.created}; template `{dossier.template}`.",
        "",
        f"**{counts['filled']}** field(s) filled from the audit record (each value linked to its place in the "
        f"record), **{counts['needs human input']}** need human input.",
        "",
    ]
    if dossier.notice:
        lines += [f"> {_line(dossier.notice)}", ""]
    for section in dossier.sections:
        lines += [f"## {_line(section.title)}", ""]
        for field in section.fields:
            lines += [f"### {_line(field.label)} ({_line(field.reference)})", ""]
            if field.status != "filled":
                why = f" (The audit record cannot fill it: {_line(field.why)}.)" if field.why else ""
                heading = "Required test missing." if field.status == "missing required test" else "Needs human input."
                lines += [f"**{heading}** {_line(field.text)}{why}", ""]
                continue
            lines += [_line(field.text), ""]
            if field.rows:
                lines.append("| " + " | ".join(_cell(c) for c in field.columns) + " |")
                lines.append("|" + "---|" * len(field.columns))
                lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in field.rows]
                lines.append("")
            lines += ["Evidence: " + "; ".join(f"`{e.pointer}`" for e in field.evidence), ""]
    return "\n".join(lines)


def render_dossier_pdf(
    dossier: Dossier, path: str | Path, *, chromium: str | None = None, timeout: float = 180
) -> Path:
    from reports._pdf import print_html

    return print_html(render_dossier_html(dossier, for_print=True), path, chromium=chromium, timeout=timeout)
