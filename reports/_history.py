"""The history page (``audit history``): every stored audit with its verdict, and each monitored stream's impact
ratios window by window with their intervals, the alarm line, the alarms and the releases, as one self-contained
HTML document (plotly.js embedded, the report's Content-Security-Policy and script)."""

from __future__ import annotations

from typing import Any

from reports._figures import _LAYOUT, _as_json
from reports._html import _environment, _scripts

__all__ = ["render_history"]


def _gap(high: float | None, low: float | None) -> float | None:
    return None if high is None or low is None else high - low


_METRIC_NAMES = {
    "selection_rate": "selection-rate impact ratio",
    "tpr": "true-positive-rate ratio",
    "fpr": "false-positive-rate ratio",
    "attribution_share": "share of the attribution",
    "attribution_drift": "total variation from the first window",
}


def _ratio_figure(stream: str, feature: str, rows: list[dict[str, Any]], releases: list[dict[str, Any]]) -> dict:
    import plotly.graph_objects as go

    reference = rows[0]["reference_group"]
    metric = rows[0]["metric"]
    plotted = "value" if metric.startswith("attribution") else "ratio"  # a share, or a ratio to the reference
    figure = go.Figure()
    for group in sorted({r["grp"] for r in rows if r["grp"] != reference}):
        mine = [r for r in rows if r["grp"] == group]
        x = [r["window_start"][:10] for r in mine]
        y = [r[plotted] for r in mine]
        figure.add_trace(
            go.Scatter(
                x=x,
                y=y,
                mode="lines+markers",
                name=group,
                error_y=dict(
                    type="data",
                    array=[_gap(r["ratio_high"], r[plotted]) for r in mine],
                    arrayminus=[_gap(r[plotted], r["ratio_low"]) for r in mine],
                ),
                hovertemplate=f"{group}: %{{y:.3f}} in the week of %{{x}}<extra></extra>",
            )
        )
        alarms = [r for r in mine if r["alarm"]]
        if alarms:
            figure.add_trace(
                go.Scatter(
                    x=[r["window_start"][:10] for r in alarms],
                    y=[r["alarm_ratio"] for r in alarms],
                    mode="markers",
                    marker=dict(symbol="x", size=12, color="#c0392b"),
                    name=f"alarm: {group}",
                    hovertemplate=f"alarm for {group}: %{{y:.3f}} pooled over recent windows<extra></extra>",
                )
            )
    if metric == "selection_rate":  # the alarmed metric; TPR and FPR are descriptive (labels arrive late)
        figure.add_hline(y=rows[0]["threshold"], line_dash="dash", line_color="#c0392b")
    for release in releases:
        figure.add_vline(x=release["recorded_at"][:10], line_dash="dot", line_color="#555")
    figure.update_layout(
        title=(
            f"{stream}: impact ratio to {reference} by {feature} (intervals at each look's spent level)"
            if metric == "selection_rate"
            else f"{stream}: each input's share of the attribution (95% bootstrap intervals)"
            if metric == "attribution_share"
            else f"{stream}: attribution drift from the first window (total variation)"
            if metric == "attribution_drift"
            else f"{stream}: {metric.upper()} ratio to {reference} by {feature} (labelled rows so far, 95% intervals)"
        ),
        yaxis_title=_METRIC_NAMES.get(metric, metric),
        **_LAYOUT,
    )
    return _as_json(figure)


def render_history(audits: list[dict[str, Any]], windows: list[dict[str, Any]], *, title: str, store: str) -> str:
    """One HTML page: the audits table and, per stream and feature, a chart and the alarms."""
    releases = [a for a in audits if a.get("label")]
    streams: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for row in windows:
        streams.setdefault((row["stream"], row["feature"], row["metric"]), []).append(row)
    figures = [_ratio_figure(stream, feature, rows, releases) for (stream, feature, _), rows in streams.items()]
    charts = [
        {
            "stream": stream,
            "feature": feature,
            "metric": metric,
            "windows": len({r["window_start"] for r in rows}),
            "reference": rows[0]["reference_group"],
            "alarms": [r for r in rows if r["alarm"]],
            "empty": sum(r["n"] == 0 for r in rows),
            "threshold": rows[0]["threshold"],
        }
        for (stream, feature, metric), rows in streams.items()
    ]
    plotly_js, app_js, hashes = _scripts()
    return (
        _environment()
        .get_template("history.html.j2")
        .render(
            title=title,
            store=store,
            audits=audits,
            charts=charts,
            figures=figures,
            plotly_js=plotly_js,
            app_js=app_js,
            script_hashes=hashes,
        )
    )
