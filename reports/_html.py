"""HTML rendering: view models from the result, one jinja2 environment with autoescape, partial templates."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from audit.result._result import AuditResult
from reports import _figures

__all__ = ["render_html"]


@lru_cache(maxsize=1)
def _environment():
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("reports", "templates"),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True, lstrip_blocks=True,
    )
    environment.filters["num"] = _format_number
    environment.filters["ci"] = _format_interval
    environment.filters["pvalue"] = _format_p
    return environment


@lru_cache(maxsize=1)
def _scripts() -> tuple[str, str, tuple[str, ...]]:
    """plotly.js, the report's own script, and their sha256 digests: the Content-Security-Policy allows
    exactly these two inline scripts (no 'unsafe-inline'), so an injected script tag could not run."""
    import base64
    import hashlib

    app = _environment().get_template("partials/_app.js.j2").render()
    plotly = _plotly_js()
    digests = tuple(base64.b64encode(hashlib.sha256(code.encode("utf-8")).digest()).decode("ascii")
                    for code in (plotly, app))
    return plotly, app, digests


@lru_cache(maxsize=1)
def _plotly_js() -> str:
    from plotly.offline import get_plotlyjs

    # A literal "</script>" inside the bundle would end the tag early.
    return get_plotlyjs().replace("</script", "<\\/script")


def _format_number(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.{digits}f}" if abs(value) >= 10 ** -digits or value == 0 else f"{value:.2e}"
    return str(value)


def _format_interval(interval: Any, digits: int = 3) -> str:
    if not interval:
        return ""
    return f"[{interval[0]:.{digits}f}, {interval[1]:.{digits}f}]"


def _format_p(value: Any) -> str:
    if value is None:
        return "–"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def _view(result: AuditResult) -> dict[str, Any]:
    figures: list[dict[str, Any]] = []

    def add(figure: dict[str, Any]) -> str:
        figures.append(figure)
        return f"figure-{len(figures) - 1}"

    four_fifths = {entry.table: entry for entry in result.regulatory.four_fifths}
    tables = [{"table": t, "figure_id": add(_figures.fairness_figure(t)),
               "disparity_figure_id": add(_figures.disparity_figure(t)),
               "four_fifths": four_fifths.get(t.name),
               "disparities": [(t.disparities[m], t.disparities_reliable.get(m))
                               for m in t.metrics if m in t.disparities]}
              for t in result.fairness]
    attributions = []
    for summary in result.attributions:
        attributions.append({
            "summary": summary,
            "figure_id": add(_figures.importance_figure(summary)),
            "group_figures": [(name, add(_figures.group_importance_figure(summary, name)))
                              for name in summary.importance_by_group],
            "top": summary.top_features(5),
        })
    text_view = None
    text = result.text
    if text is not None or result.model.get("kind") == "text":
        probes = text.probes.counterfactuals.axes if text is not None and text.probes else []
        text_view = {
            "figure_id": add(_figures.counterfactual_figure(text.counterfactuals.axes if text else [], "real texts")),
            "probe_figure_id": add(_figures.counterfactual_figure(probes, "template probes"))}
    slices_view = None
    if result.slices is not None or any(f.step == "slices" for f in result.failures):
        slices_view = {"figure_ids": [add(_figures.slices_figure(search))
                                      for search in (result.slices.searches if result.slices else [])]}
    mitigation_view = None
    if result.mitigation is not None or any(f.step == "mitigation" for f in result.failures):
        mitigation_view = {"figure_ids": [add(_figures.mitigation_figure(f))
                                          for f in (result.mitigation.frontiers if result.mitigation else [])]}
    gaps_view = None
    if result.gap_explanations is not None or any(f.step == "gap explanations" for f in result.failures):
        gaps_view = {"figure_ids": [add(_figures.gap_figure(gap)) for gap in (
            result.gap_explanations.explanations if result.gap_explanations else [])]}
    quality_view = None
    if result.quality is not None or any(f.step == "explanation quality" for f in result.failures):
        quality_view = {"figures": {method: add(_figures.faithfulness_figure(method, entry.faithfulness))
                                    for method, entry in (result.quality.methods if result.quality else {}).items()}}
    probes_view = None
    if result.probes is not None or result.data.get("kind") == "probes":
        shown = [(suite, _figures.probe_rows_shown(suite)) for suite in (result.probes.suites if result.probes else [])]
        probes_view = {"figure_ids": [add(_figures.probe_figure(suite, rows)) for suite, rows in shown],
                       "top_rows": [rows for _, rows in shown],
                       "heatmap_ids": [[[add(_figures.generation_heatmap(a)) for a in example.attributions]
                                        for example in suite] for suite in (
                                           [s.examples for s in result.probes.suites] if result.probes else [])]}
    largest = sorted(({"metric": m, "table": t.name, "ratio": e["ratio"], "ratio_ci": e.get("ratio_ci"),
                       "difference": e["difference"], "difference_ci": e.get("difference_ci"),
                       "worst": d.worst_to_benchmark, "best": d.benchmark_group}
                      for t in result.fairness for m, d in t.disparities_reliable.items()
                      for e in [d.to_best.get(d.worst_to_benchmark or "", {})] if e.get("ratio") is not None),
                     key=lambda d: d["ratio"])[:5]
    warnings = [f for f in result.findings if f.severity == "warning"]
    return {
        "result": result, "tables": tables, "attributions": attributions, "figures": figures,
        "warnings": warnings, "infos": [f for f in result.findings if f.severity != "warning"],
        "plotly_js": _scripts()[0], "app_js": _scripts()[1], "script_hashes": _scripts()[2], "ll144": result.regulatory.ll144, "text_view": text_view, "largest_disparities": largest, "quality_view": quality_view, "slices_view": slices_view, "mitigation_view": mitigation_view,
        "probes_view": probes_view, "gaps_view": gaps_view,
    }


def render_html(result: AuditResult, *, for_print: bool = False) -> str:
    """The report as one self-contained HTML document (plotly.js embedded once, no external requests).
    ``for_print``: charts drawn static at page width and collapsed parts opened (the PDF export uses it)."""
    return _environment().get_template("report.html.j2").render(**_view(result), for_print=for_print)
