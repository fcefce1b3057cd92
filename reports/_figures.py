"""Plotly figures built from an audit result (as JSON-ready dicts; the result itself carries no HTML)."""

from __future__ import annotations

import json
from typing import Any

from audit._fairness import FairnessTable
from audit._result import AttributionSummary

__all__ = ["fairness_figure", "importance_figure", "group_importance_figure"]

_LAYOUT = dict(template="plotly_white", margin=dict(l=10, r=10, t=50, b=10), height=360,
               font=dict(family="system-ui, sans-serif", size=12))


def _as_json(figure) -> dict[str, Any]:
    return json.loads(figure.to_json())


def fairness_figure(table: FairnessTable) -> dict[str, Any]:
    """Grouped bars: each rate metric per group, small groups marked."""
    import plotly.graph_objects as go

    figure = go.Figure()
    names = [g.name + (" (small)" if g.small else "") for g in table.groups]
    for metric in table.metrics:
        if metric == "count":
            continue
        values = [g.values.get(metric) for g in table.groups]
        figure.add_trace(go.Bar(name=metric, x=names, y=values,
                                hovertemplate="%{x}<br>" + metric + " = %{y:.3f}<extra></extra>"))
    figure.update_layout(title=f"Metrics by {table.name}", barmode="group", yaxis=dict(range=[0, 1]), **_LAYOUT)
    return _as_json(figure)


def importance_figure(summary: AttributionSummary, *, top: int = 15) -> dict[str, Any]:
    import plotly.graph_objects as go

    items = summary.top_features(top)[::-1]
    sensitive = set(summary.sensitive_features_in_model)
    colors = ["#c0392b" if name in sensitive else "#2c6fbb" for name, _ in items]
    figure = go.Figure(go.Bar(x=[v for _, v in items], y=[n for n, _ in items], orientation="h",
                              marker_color=colors,
                              hovertemplate="%{y}: %{x:.4f}<extra></extra>"))
    figure.update_layout(title=f"Mean |attribution| ({summary.output_space}), {summary.method}; "
                               "sensitive features in red", **{**_LAYOUT, "height": 120 + 22 * len(items)})
    return _as_json(figure)


def group_importance_figure(summary: AttributionSummary, sensitive: str, *, top: int = 12) -> dict[str, Any]:
    """Heatmap: mean |attribution| of the top features within each group of one sensitive feature."""
    import plotly.graph_objects as go

    by_group = summary.importance_by_group[sensitive]
    features = [name for name, _ in summary.top_features(top)]
    groups = list(by_group)
    z = [[by_group[g].get(f, 0.0) for f in features] for g in groups]
    figure = go.Figure(go.Heatmap(z=z, x=features, y=groups, colorscale="Blues",
                                  hovertemplate="%{y}<br>%{x}: %{z:.4f}<extra></extra>"))
    figure.update_layout(title=f"Mean |attribution| by {sensitive}",
                         **{**_LAYOUT, "height": 160 + 28 * len(groups)})
    return _as_json(figure)
