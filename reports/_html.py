"""HTML rendering: view models from the result, one jinja2 environment with autoescape, partial templates."""

from __future__ import annotations

import math
import traceback
from functools import lru_cache
from typing import Any

from audit.result._result import AuditResult, Failure
from reports import _figures

__all__ = ["render_html", "render_report"]


@lru_cache(maxsize=1)
def _environment():
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("reports", "templates"),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["num"] = _format_number
    environment.filters["ci"] = _format_interval
    environment.filters["pvalue"] = _format_p
    environment.filters["pct"] = _format_percent
    return environment


@lru_cache(maxsize=1)
def _scripts() -> tuple[str, str, tuple[str, ...]]:
    """plotly.js, the report's own script, and their sha256 digests: the Content-Security-Policy allows
    exactly these two inline scripts (no 'unsafe-inline'), so an injected script tag could not run."""
    import base64
    import hashlib

    app = _environment().get_template("partials/_app.js.j2").render()
    plotly = _plotly_js()
    digests = tuple(
        base64.b64encode(hashlib.sha256(code.encode("utf-8")).digest()).decode("ascii") for code in (plotly, app)
    )
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
        return f"{value:.{digits}f}" if abs(value) >= 10**-digits or value == 0 else f"{value:.2e}"
    return str(value)


def _format_interval(interval: Any, digits: int = 3) -> str:
    if not interval:
        return ""
    return f"[{interval[0]:.{digits}f}, {interval[1]:.{digits}f}]"


def _format_percent(value: Any) -> str:
    """A proportion as a whole percentage (0.173 -> "17"); "–" where it is undefined or not finite."""
    if value is None or isinstance(value, bool) or not math.isfinite(value):
        return "–"
    return f"{value * 100:.0f}"


def _format_p(value: Any) -> str:
    if value is None:
        return "–"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


# The report's sections in reading order; the summary is rendered last (it lists the sections that failed) but
# shown first. Each section is built and rendered on its own: one that fails is shown as failed, never taking the
# rest of the report down.
TABULAR_SECTIONS = (
    "data_model",
    "fairness",
    "ranking",
    "slices",
    "gaps",
    "mitigation",
    "attributions",
    "text",
    "swaps",
    "recourse",
    "quality",
)
SECTION_TITLES = {
    "changes": "Changes since the last audit",
    "data_model": "Data and model",
    "fairness": "Fairness by group",
    "ranking": "Who is seen at the top",
    "slices": "Worst slices",
    "gaps": "What carries each gap",
    "mitigation": "What a fix would cost",
    "attributions": "Attributions",
    "text": "Text counterfactuals",
    "quality": "Explanation quality",
    "probes": "Language-model probes",
    "swaps": "Paired swaps",
    "recourse": "What would change the decision",
    "provenance": "Provenance",
    "summary": "Summary",
}
_ANCHORS = {"data_model": "data-model"}
_NAV_LABELS = {
    "changes": "Changes",
    "data_model": "Data and model",
    "fairness": "Fairness",
    "ranking": "Ranking",
    "slices": "Worst slices",
    "gaps": "Gaps explained",
    "mitigation": "Mitigation",
    "attributions": "Attributions",
    "text": "Text counterfactuals",
    "quality": "Explanation quality",
    "probes": "Language-model probes",
    "swaps": "Paired swaps",
    "recourse": "Recourse",
}


class _Figures:
    """The report's plotly figures, numbered in the order the sections add them."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def add(self, figure: dict[str, Any]) -> str:
        self.items.append(figure)
        return f"figure-{len(self.items) - 1}"


def _fairness_view(result: AuditResult, figures: _Figures) -> dict[str, Any]:
    four_fifths = {entry.table: entry for entry in result.regulatory.four_fifths}
    return {
        "tables": [
            {
                "table": t,
                "figure_id": figures.add(_figures.fairness_figure(t)),
                "disparity_figure_id": figures.add(_figures.disparity_figure(t)),
                "four_fifths": four_fifths.get(t.name),
                "disparities": [
                    (t.disparities[m], t.disparities_reliable.get(m)) for m in t.metrics if m in t.disparities
                ],
            }
            for t in result.fairness
        ],
        "ll144": result.regulatory.ll144,
    }


def _attributions_view(result: AuditResult, figures: _Figures) -> dict[str, Any]:
    return {
        "attributions": [
            {
                "summary": summary,
                "figure_id": figures.add(_figures.importance_figure(summary)),
                "group_figures": [
                    (name, figures.add(_figures.group_importance_figure(summary, name)))
                    for name in summary.importance_by_group
                ],
                "top": summary.top_features(5),
            }
            for summary in result.attributions
        ]
    }


def _text_view(result: AuditResult, figures: _Figures) -> dict[str, Any]:
    text = result.text
    if text is None and result.model.kind != "text":
        return {"text_view": None}
    probes = text.probes.counterfactuals.axes if text is not None and text.probes else []
    return {
        "text_view": {
            "figure_id": figures.add(
                _figures.counterfactual_figure(text.counterfactuals.axes if text else [], "real texts")
            ),
            "probe_figure_id": figures.add(_figures.counterfactual_figure(probes, "template probes")),
        }
    }


def _failed(result: AuditResult, step: str) -> bool:
    return any(f.step == step for f in result.failures)


def _slices_view(result: AuditResult, figures: _Figures) -> dict[str, Any]:
    if result.slices is None and not _failed(result, "slices"):
        return {"slices_view": None}
    return {
        "slices_view": {
            "figure_ids": [
                figures.add(_figures.slices_figure(search))
                for search in (result.slices.searches if result.slices else [])
            ]
        }
    }


def _mitigation_view(result: AuditResult, figures: _Figures) -> dict[str, Any]:
    if result.mitigation is None and not _failed(result, "mitigation"):
        return {"mitigation_view": None}
    return {
        "mitigation_view": {
            "figure_ids": [
                figures.add(_figures.mitigation_figure(f))
                for f in (result.mitigation.frontiers if result.mitigation else [])
            ]
        }
    }


def _ranking_view(result: AuditResult, figures: _Figures) -> dict[str, Any]:
    failed = any(f.step.startswith("ranking") for f in result.failures)
    if result.ranking is None and not failed:
        return {"ranking_view": None}
    return {
        "ranking_view": {
            "failed": failed,
            "figure_ids": [
                (figures.add(_figures.ranking_exposure_figure(t)), figures.add(_figures.ranking_top_k_figure(t)))
                for t in result.ranking or []
            ],
        }
    }


def _swaps_view(result: AuditResult, figures: _Figures) -> dict[str, Any]:
    failed = any(f.step.startswith("swaps") for f in result.failures)
    if result.swaps is None and not failed:
        return {"swaps_view": None}
    suites = result.swaps.suites if result.swaps else []
    return {
        "swaps_view": {
            "failed": [f for f in result.failures if f.step.startswith("swaps")],
            "figure_ids": [
                [
                    figures.add(_figures.swap_figure(suite, measure))
                    for measure in dict.fromkeys(
                        r.measure for r in suite.rows if r.role == "bias" and r.estimate is not None
                    )
                ]
                for suite in suites
            ],
        }
    }


def _recourse_view(result: AuditResult, figures: _Figures) -> dict[str, Any]:
    failed = [f for f in result.failures if f.step == "recourse"]
    if result.recourse is None and not failed:
        return {"recourse_view": None}
    tables = result.recourse.tables if result.recourse else []
    cost = result.recourse.cost if result.recourse else ""
    return {
        "recourse_view": {
            "failed": failed,
            "figure_ids": [
                [figures.add(_figures.recourse_figure(t, m, cost)) for m in ("mean_cost", "no_recourse_share")]
                for t in tables
            ],
        }
    }


def _gaps_view(result: AuditResult, figures: _Figures) -> dict[str, Any]:
    if result.gap_explanations is None and not _failed(result, "gap explanations"):
        return {"gaps_view": None}
    return {
        "gaps_view": {
            "figure_ids": [
                figures.add(_figures.gap_figure(gap))
                for gap in (result.gap_explanations.explanations if result.gap_explanations else [])
            ]
        }
    }


def _quality_view(result: AuditResult, figures: _Figures) -> dict[str, Any]:
    if result.quality is None and not _failed(result, "explanation quality"):
        return {"quality_view": None}
    return {
        "quality_view": {
            "figures": {
                method: figures.add(_figures.faithfulness_figure(method, entry.faithfulness))
                for method, entry in (result.quality.methods if result.quality else {}).items()
            }
        }
    }


def _probes_view(result: AuditResult, figures: _Figures) -> dict[str, Any]:
    suites = result.probes.suites if result.probes else []
    shown = [(suite, _figures.probe_rows_shown(suite)) for suite in suites]
    return {
        "probes_view": {
            "figure_ids": [figures.add(_figures.probe_figure(suite, rows)) for suite, rows in shown],
            "top_rows": [rows for _, rows in shown],
            "heatmap_ids": [
                [
                    [figures.add(_figures.generation_heatmap(a)) for a in example.attributions]
                    for example in suite.examples
                ]
                for suite in suites
            ],
        }
    }


_SECTION_VIEWS = {
    "fairness": _fairness_view,
    "attributions": _attributions_view,
    "text": _text_view,
    "slices": _slices_view,
    "mitigation": _mitigation_view,
    "gaps": _gaps_view,
    "ranking": _ranking_view,
    "swaps": _swaps_view,
    "recourse": _recourse_view,
    "quality": _quality_view,
    "probes": _probes_view,
}
# what a section's partial reads when its own view could not be built
_EMPTY_VIEWS = {
    "fairness": {"tables": [], "ll144": None},
    "attributions": {"attributions": []},
    "text": {"text_view": None},
    "slices": {"slices_view": None},
    "mitigation": {"mitigation_view": None},
    "gaps": {"gaps_view": None},
    "ranking": {"ranking_view": None},
    "swaps": {"swaps_view": None},
    "recourse": {"recourse_view": None},
    "quality": {"quality_view": None},
    "probes": {"probes_view": None},
}


def _largest_disparities(result: AuditResult) -> list[dict[str, Any]]:
    """The five smallest ratios of a group to its benchmark, each with what carries its gap (the gap explanation
    of the same table, metric and group, where there is one)."""
    carried = {
        (g.table, g.metric, g.group): g
        for g in (result.gap_explanations.explanations if result.gap_explanations else [])
    }
    rows = [
        {
            "metric": e.metric,
            "table": e.table,
            "ratio": e.comparison.ratio,
            "ratio_ci": e.comparison.ratio_ci,
            "difference": e.comparison.difference,
            "difference_ci": e.comparison.difference_ci,
            "worst": e.comparison.group,
            "best": e.comparison.compared_with,
        }
        for e in result.largest_disparities()[:5]
    ]
    for row in rows:
        gap = carried.get((row["table"], row["metric"], row["worst"]))
        row["drivers"] = gap.features[:2] if gap is not None else []
    return rows


def _finding_groups(result: AuditResult) -> list[dict[str, Any]]:
    """Findings grouped by what they are about (a table and metric, the slice search, ...), warnings first: one
    collapsed line per group, the sentences on demand."""
    groups: dict[str, dict[str, Any]] = {}
    for finding in result.findings:
        table, metric = finding.evidence.get("table"), finding.evidence.get("metric")
        if finding.kind == "slice":
            title = f"Worst slices ({metric})" if metric else "Worst slices"
        elif table and metric:
            title = f"{metric} by {table}"
        else:
            title = {
                "reliance": "Reliance on sensitive features",
                "mitigation": "Mitigation",
                "completeness": "Attribution completeness",
            }.get(finding.kind, finding.kind.replace("_", " "))
        group = groups.setdefault(title, {"title": title, "warnings": [], "infos": []})
        group["warnings" if finding.severity == "warning" else "infos"].append(finding)
    return sorted(groups.values(), key=lambda g: (not g["warnings"], g["title"]))


def _render_section(name: str, context: dict[str, Any], figures: _Figures, failures: list[Failure]) -> str:
    """One section's HTML; a section whose view or template fails is shown as failed and recorded."""
    environment = _environment()
    mark = len(figures.items)
    try:
        view = _SECTION_VIEWS[name](context["result"], figures) if name in _SECTION_VIEWS else {}
        context.update(view)
        return environment.get_template(f"partials/_{name}.html.j2").render(**context)
    except Exception as err:  # a rendering bug must not take the other sections down; it is shown and recorded
        del figures.items[mark:]
        context.update(_EMPTY_VIEWS.get(name, {}))
        title = SECTION_TITLES[name]
        failures.append(
            Failure(
                step=f"report: {title}",
                error_type=type(err).__name__,
                message=str(err),
                traceback=traceback.format_exc(),
            )
        )
        return environment.get_template("partials/_failed_section.html.j2").render(
            anchor=_ANCHORS.get(name, name), title=title, error_type=type(err).__name__, message=str(err)
        )


def render_report(result: AuditResult, *, for_print: bool = False) -> tuple[str, list[Failure]]:
    """The report as one self-contained HTML document (plotly.js embedded once, no external requests), and the
    sections that failed to render (each also shown as failed in the document and in its summary)."""
    figures, failures = _Figures(), []
    probes = result.probes is not None or result.data.kind == "probes"
    context: dict[str, Any] = {
        "result": result,
        "for_print": for_print,
        **{key: value for view in _EMPTY_VIEWS.values() for key, value in view.items()},
    }
    names = ("changes", "probes", "swaps") if probes else ("changes", *TABULAR_SECTIONS)
    sections = {name: _render_section(name, context, figures, failures) for name in (*names, "provenance")}
    context.update(
        report_failures=failures,
        finding_groups=_finding_groups(result),
        largest_disparities=_largest_disparities(result),
        warnings=[f for f in result.findings if f.severity == "warning"],
    )
    summary = _render_section("summary", context, figures, failures)
    plotly_js, app_js, hashes = _scripts()
    html = (
        _environment()
        .get_template("report.html.j2")
        .render(
            result=result,
            for_print=for_print,
            summary=summary,
            sections=[sections[n] for n in names],
            provenance=sections["provenance"],
            figures=figures.items,
            plotly_js=plotly_js,
            app_js=app_js,
            script_hashes=hashes,
            nav=[(_ANCHORS.get(n, n), _NAV_LABELS[n]) for n in names if sections[n].strip()],
        )
    )
    return html, failures


def render_html(result: AuditResult, *, for_print: bool = False) -> str:
    """The report as one self-contained HTML document (plotly.js embedded once, no external requests).
    ``for_print``: charts drawn static at page width and collapsed parts opened (the PDF export uses it).
    A section that fails to render is shown as failed (``render_report`` also returns those failures)."""
    return render_report(result, for_print=for_print)[0]
