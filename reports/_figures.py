"""Plotly figures built from an audit result (as JSON-ready dicts; the result itself carries no HTML)."""

from __future__ import annotations

import html
import json
from typing import Any

from audit.fairness._types import FairnessTable
from audit.result._result import AttributionSummary
from audit.result._sections import Faithfulness, MitigationFrontier, ShiftRow, SliceSearch

__all__ = [
    "fairness_figure",
    "disparity_figure",
    "importance_figure",
    "group_importance_figure",
    "counterfactual_figure",
    "faithfulness_figure",
    "figures",
]

_LAYOUT = dict(
    template="plotly_white",
    margin=dict(l=10, r=10, t=50, b=10),
    height=360,
    font=dict(family="system-ui, sans-serif", size=12),
)


_TRACE_TEXT = ("x", "y", "name", "text", "customdata", "hovertext", "labels", "ids")


def _as_json(figure) -> dict[str, Any]:
    """The figure as JSON with every data string escaped: plotly renders a subset of HTML in labels, ticks and
    titles, so a group named ``<a href=...>`` would become a live link."""
    spec = json.loads(figure.to_json())
    for trace in spec.get("data", []):
        for key in _TRACE_TEXT:
            if key in trace:
                trace[key] = _escape_strings(trace[key])
    _escape_titles(spec.get("layout", {}))
    return spec


def _escape_strings(value: Any) -> Any:
    if isinstance(value, str):
        return html.escape(value, quote=False)
    if isinstance(value, list):
        return [_escape_strings(v) for v in value]
    return value


def _escape_titles(node: Any) -> None:
    """Escape every ``text`` (titles) and ``ticktext`` in the layout."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("text", "ticktext"):
                node[key] = _escape_strings(value)
            else:
                _escape_titles(value)
    elif isinstance(node, list):
        for item in node:
            _escape_titles(item)


_CHART_METRICS = ("selection_rate", "tpr", "fpr", "precision", "accuracy")


def fairness_figure(table: FairnessTable) -> dict[str, Any]:
    """Grouped bars of the main rates per group, with bootstrap CI error bars; small groups marked."""
    import plotly.graph_objects as go

    figure = go.Figure()
    names = [g.name + (" (small)" if g.small else "") for g in table.groups]
    chosen = [m for m in _CHART_METRICS if m in table.metrics] or [m for m in table.metrics if m != "count"]
    for metric in chosen:
        values = [g.values.get(metric) for g in table.groups]
        intervals = [g.ci.get(metric) for g in table.groups]
        plus = [None if v is None or c is None else c[1] - v for v, c in zip(values, intervals)]
        minus = [None if v is None or c is None else v - c[0] for v, c in zip(values, intervals)]
        figure.add_trace(
            go.Bar(
                name=metric,
                x=names,
                y=values,
                error_y=dict(type="data", array=plus, arrayminus=minus, visible=any(p is not None for p in plus)),
                hovertemplate="%{x}<br>" + metric + " = %{y:.3f}<extra></extra>",
            )
        )
    level = table.bootstrap.level
    subtitle = f" (error bars: {level:.0%} bootstrap CI)" if level else ""
    values = [v for g in table.groups for m in chosen if (v := g.values.get(m)) is not None]
    rates = bool(values) and min(values) >= 0 and max(values) <= 1
    figure.update_layout(
        title=f"{'Rates' if rates else 'Metrics'} by {table.name}{subtitle}",
        barmode="group",
        yaxis=dict(range=[0, 1]) if rates else {},
        **_LAYOUT,
    )
    return _as_json(figure)


def disparity_figure(table: FairnessTable) -> dict[str, Any]:
    """Each metric's min/max ratio across groups with its CI; the 0.8 line marks the four-fifths level."""
    import plotly.graph_objects as go

    ranked = sorted(
        table.largest_disparities(),
        key=lambda e: table.metrics.index(e.metric) if e.metric in table.metrics else len(table.metrics),
    )  # the table's metric order on the axis
    rows = [(e.disparity, e.comparison) for e in ranked]
    x = [d.metric for d, _ in rows]
    y = [c.ratio for _, c in rows]
    plus = [None if not c.ratio_ci else c.ratio_ci[1] - c.ratio for _, c in rows]
    minus = [None if not c.ratio_ci else c.ratio - c.ratio_ci[0] for _, c in rows]
    figure = go.Figure(
        go.Bar(
            x=x,
            y=y,
            marker_color=["#c0392b" if v < 0.8 else "#2c6fbb" for v in y],
            error_y=dict(type="data", array=plus, arrayminus=minus),
            customdata=[f"{d.worst_to_benchmark} vs {d.benchmark_group}" for d, _ in rows],
            hovertemplate="%{x}: %{y:.3f}<br>%{customdata}<extra></extra>",
        )
    )
    figure.add_hline(y=0.8, line_dash="dash", line_color="#7f8c8d")
    figure.update_layout(
        title=f"Worst group's ratio to the benchmark by {table.name}, groups with enough rows",
        yaxis=dict(range=[0, 1.05]),
        **_LAYOUT,
    )
    return _as_json(figure)


def importance_figure(summary: AttributionSummary, *, top: int = 15) -> dict[str, Any]:
    import plotly.graph_objects as go

    items = summary.top_features(top)[::-1]
    sensitive = set(summary.sensitive_features_in_model)  # for text: the identity terms found in the texts
    colors = ["#c0392b" if name in sensitive else "#2c6fbb" for name, _ in items]
    figure = go.Figure(
        go.Bar(
            x=[v for _, v in items],
            y=[n for n, _ in items],
            orientation="h",
            marker_color=colors,
            hovertemplate="%{y}: %{x:.4f}<extra></extra>",
        )
    )
    what = "identity terms" if summary.granularity == "token" else "sensitive features"
    figure.update_layout(
        title=f"Mean |attribution| ({summary.output_space}), {summary.method}; {what} in red",
        **{**_LAYOUT, "height": 120 + 22 * len(items)},
    )
    return _as_json(figure)


def group_importance_figure(summary: AttributionSummary, sensitive: str, *, top: int = 12) -> dict[str, Any]:
    """Heatmap: mean |attribution| of the top features within each group of one sensitive feature."""
    import plotly.graph_objects as go

    by_group = summary.importance_by_group[sensitive]
    features = [name for name, _ in summary.top_features(top)]
    groups = list(by_group)
    z = [[by_group[g].get(f, 0.0) for f in features] for g in groups]
    figure = go.Figure(
        go.Heatmap(z=z, x=features, y=groups, colorscale="Blues", hovertemplate="%{y}<br>%{x}: %{z:.4f}<extra></extra>")
    )
    figure.update_layout(title=f"Mean |attribution| by {sensitive}", **{**_LAYOUT, "height": 160 + 28 * len(groups)})
    return _as_json(figure)


def counterfactual_figure(rows: list[ShiftRow], where: str) -> dict[str, Any]:
    """Flip rate and mean |score change| per identity axis, with their bootstrap intervals."""
    import plotly.graph_objects as go

    figure = go.Figure()
    names = [row.axis + (" (small)" if row.small else "") for row in rows]
    for metric, label in (("flip_rate", "flip rate"), ("mean_abs_score_change", "mean |score change|")):
        values = [row.value(metric)[0] for row in rows]
        intervals = [row.value(metric)[1] for row in rows]
        plus = [None if c is None else c[1] - v for v, c in zip(values, intervals)]
        minus = [None if c is None else v - c[0] for v, c in zip(values, intervals)]
        figure.add_trace(
            go.Bar(
                name=label,
                x=names,
                y=values,
                error_y=dict(type="data", array=plus, arrayminus=minus),
                hovertemplate="%{x}<br>" + label + " = %{y:.3f}<extra></extra>",
            )
        )
    figure.update_layout(
        title=f"Identity-term swaps in {where}: flip rate and score change by axis", barmode="group", **_LAYOUT
    )
    return _as_json(figure)


def faithfulness_figure(method: str, faithfulness: Faithfulness | None) -> dict[str, Any]:
    """The method's perturbation curves against random orders (score change after k steps)."""
    import plotly.graph_objects as go

    figure = go.Figure()
    title = "features removed / restored"
    if faithfulness is not None and faithfulness.kind == "eraser":
        x, title = [f"{f:.0%}" for f in faithfulness.fractions or []], "words removed / kept"
    elif faithfulness is not None:
        x = faithfulness.steps or []
    for name in faithfulness.measures if faithfulness is not None else ():
        if faithfulness.measure(name, "curve") is None:
            continue
        figure.add_trace(
            go.Scatter(x=x, y=faithfulness.measure(name, "curve"), name=f"{name} ({method})", mode="lines+markers")
        )
        figure.add_trace(
            go.Scatter(
                x=x,
                y=faithfulness.measure(name, "random_curve"),
                name=f"{name} (random order)",
                mode="lines",
                line=dict(dash="dash"),
            )
        )
    figure.update_layout(
        title=f"Faithfulness of {method}: score change as {title}",
        xaxis_title=title,
        yaxis_title="score change",
        **_LAYOUT,
    )
    return _as_json(figure)


def slices_figure(search: SliceSearch) -> dict[str, Any]:
    """Each confirmed slice's held-out effect (with its interval) against its share of the data."""
    import plotly.graph_objects as go

    slices = search.slices
    plus = [None if s.effect_ci is None else s.effect_ci[1] - s.effect for s in slices]
    minus = [None if s.effect_ci is None else s.effect - s.effect_ci[0] for s in slices]
    figure = go.Figure(
        go.Scatter(
            x=[s.share for s in slices],
            y=[s.effect for s in slices],
            mode="markers",
            text=[s.definition for s in slices],
            error_y=dict(type="data", array=plus, arrayminus=minus),
            hovertemplate="%{text}<br>share %{x:.1%}<br>effect %{y:+.3f}<extra></extra>",
        )
    )
    figure.update_layout(
        title=f"Confirmed slices: {search.words}, slice minus rest (held-out half)",
        xaxis_title="share of the data",
        yaxis_title="effect",
        xaxis_type="log",
        **_LAYOUT,
    )
    return _as_json(figure)


def mitigation_figure(frontier: MitigationFrontier) -> dict[str, Any]:
    """Held-out accuracy against the constraint's value: group-specific fixes, one threshold, the current model."""
    import plotly.graph_objects as go

    figure = go.Figure()
    for name, points, dash in (
        ("group-specific thresholds", frontier.frontier, "solid"),
        ("one threshold for everybody", frontier.group_blind, "dot"),
    ):
        shown = sorted(
            (p for p in points if p.feasible and p.constraint_value is not None), key=lambda p: p.constraint_value
        )
        figure.add_trace(
            go.Scatter(
                x=[p.constraint_value for p in shown],
                y=[p.accuracy for p in shown],
                mode="lines+markers",
                name=name,
                line=dict(dash=dash),
                text=[f"target {p.tolerance}" for p in shown],
                error_y=dict(
                    type="data",
                    array=[None if p.accuracy_ci is None else p.accuracy_ci[1] - p.accuracy for p in shown],
                    arrayminus=[None if p.accuracy_ci is None else p.accuracy - p.accuracy_ci[0] for p in shown],
                ),
                hovertemplate="%{text}<br>" + frontier.words + " %{x:.3f}<br>accuracy %{y:.4f}<extra></extra>",
            )
        )
    current = frontier.current
    figure.add_trace(
        go.Scatter(
            x=[current.constraint_value],
            y=[current.accuracy],
            mode="markers",
            name="current model",
            marker=dict(size=12, symbol="star"),
        )
    )
    figure.update_layout(
        title=f"What a fix costs: accuracy against {frontier.words}, by {frontier.sensitive} (held out)",
        xaxis_title=frontier.words,
        yaxis_title="accuracy",
        **_LAYOUT,
    )
    return _as_json(figure)


_ROLE_COLOURS = {"proxy": "#c0392b", "direct": "#8e44ad", "other": "#7f8c8d"}


def gap_figure(gap) -> dict[str, Any]:
    """Each input's contribution to one gap, with its interval, coloured by role; the bars add up to the gap."""
    import plotly.graph_objects as go

    features = list(reversed(gap.features))  # plotly draws the first bar at the bottom
    figure = go.Figure()
    for role in ("proxy", "direct", "other"):
        shown = [f for f in features if f.role == role]
        if not shown:
            continue
        figure.add_trace(
            go.Bar(
                x=[f.contribution for f in shown],
                y=[f.feature for f in shown],
                orientation="h",
                name=role,
                marker_color=_ROLE_COLOURS[role],
                error_x=dict(
                    type="data",
                    array=[None if f.contribution_ci is None else f.contribution_ci[1] - f.contribution for f in shown],
                    arrayminus=[
                        None if f.contribution_ci is None else f.contribution - f.contribution_ci[0] for f in shown
                    ],
                ),
                customdata=[[f.share, f.proxy_auc] for f in shown],  # None where undefined: null in the JSON
                hovertemplate="%{y}: %{x:+.4f}<br>share %{customdata[0]:.1%}<br>proxy AUC %{customdata[1]:.2f}"
                "<extra></extra>",
            )
        )
    figure.add_vline(x=0, line_color="#444")
    figure.update_layout(
        title=f"{gap.metric} by {gap.table}: {gap.group} minus {gap.compared_with} = {gap.gap:+.3f}, by input",
        xaxis_title=f"contribution to the gap ({gap.metric})",
        yaxis=dict(categoryorder="array", categoryarray=[f.feature for f in features]),
        barmode="overlay",
        **{**_LAYOUT, "height": max(260, 24 * len(features) + 120)},
    )
    return _as_json(figure)


def probe_rows_shown(suite, limit: int = 12) -> list:
    """The bias rows a reader should see first: smallest Holm-adjusted p-value, then largest distance from no
    bias; every row stays in the result and in the JSON."""
    rows = [r for r in suite.rows if r.role == "bias" and r.estimate is not None]
    return sorted(rows, key=lambda r: (r.p_holm if r.p_holm is not None else 2.0, -(r.distance or 0)))[:limit]


def probe_figure(suite, rows: list | None = None) -> dict[str, Any]:
    """Each shown bias row's estimate with its interval (``rows``: the report's table, else chosen here), against
    the value of no bias."""
    import plotly.graph_objects as go

    rows = probe_rows_shown(suite) if rows is None else rows
    labels = [f"{r.category}{': ' + r.subject if r.subject else ''} ({r.measure})" for r in rows]
    plus = [None if r.ci is None else r.ci[1] - r.estimate for r in rows]
    minus = [None if r.ci is None else r.estimate - r.ci[0] for r in rows]
    figure = go.Figure(
        go.Scatter(
            x=[r.estimate for r in rows],
            y=labels,
            mode="markers",
            error_x=dict(type="data", array=plus, arrayminus=minus),
            hovertemplate="%{y}<br>%{x:.3f}<extra></extra>",
        )
    )
    nulls = {r.null_value for r in rows if r.null_value is not None}
    for value in nulls:
        figure.add_vline(x=value, line_dash="dot")
    figure.update_layout(
        title=f"{suite.name}: estimates with 95% intervals (dotted: no bias)",
        xaxis_title=_probe_axis_title(suite, rows),
        yaxis=dict(autorange="reversed"),
        **_LAYOUT,
    )
    return _as_json(figure)


SWAP_AXIS_TITLES = {
    "score_change": "mean score change (variant - original)",
    "decision_rate_change": "net share of pairs that gained the favourable decision",
    "rank_displacement": "mean positions moved down (negative: up)",
    "top_k_rate_change": "net share of pairs that gained a top-k place",
    "first_position_advantage": "net share of pairs won by the first slot both times",
    "padded_win_share_change": "change in a padded answer's share of wins",
    "swapped_win_share_change": "change in the swapped answer's share of wins",
}


def swap_figure(suite, measure: str) -> dict[str, Any]:
    """One measure of a swap suite: each axis and direction's estimate with its interval, against 0 (the swap
    changes nothing). One chart per measure: scores, positions and shares have different units."""
    import plotly.graph_objects as go

    rows = [r for r in suite.rows if r.role == "bias" and r.measure == measure and r.estimate is not None]
    labels = [f"{r.category}: {r.subject}" if r.subject else r.category for r in rows]
    figure = go.Figure(
        go.Scatter(
            x=[r.estimate for r in rows],
            y=labels,
            mode="markers",
            error_x=dict(
                type="data",
                array=[None if r.ci is None else r.ci[1] - r.estimate for r in rows],
                arrayminus=[None if r.ci is None else r.estimate - r.ci[0] for r in rows],
            ),
            hovertemplate="%{y}<br>%{x:.4f}<extra></extra>",
        )
    )
    figure.add_vline(x=0.0, line_dash="dot")
    figure.update_layout(
        title=f"{suite.name}: {measure.replace('_', ' ')} with 95% intervals (dotted: no change)",
        xaxis_title=SWAP_AXIS_TITLES.get(measure, measure),
        yaxis=dict(autorange="reversed"),
        **_LAYOUT,
    )
    return _as_json(figure)


def _probe_axis_title(suite, rows: list) -> str:
    """The units of what the chart shows: the bias rows' own measure, which for the paired suites is a share of
    items, not the suite's log-likelihood units."""
    if rows and all(r.measure.startswith("stereotype_share") for r in rows):
        return "share of items preferring the stereotype (0.5: no preference)"
    return suite.units


def generation_heatmap(attribution) -> dict[str, Any]:
    """A prompt x generation heatmap: each continuation token (a row) by every token the model read (a column),
    red where a token raised the row's log-probability, blue where it lowered it, blank where it came later."""
    import plotly.graph_objects as go

    columns = list(range(len(attribution.source_tokens)))
    peak = max((abs(v) for row in attribution.values for v in row if v is not None), default=0.0) or 1.0
    hover = [
        [
            f"{label} <- {token}: {'not read' if v is None else f'{v:+.4f}'}"
            for token, v in zip(attribution.source_tokens, row)
        ]
        for label, row in zip(attribution.target_labels, attribution.values)
    ]
    figure = go.Figure(
        go.Heatmap(
            z=attribution.values,
            x=columns,
            y=list(range(len(attribution.target_labels))),
            colorscale="RdBu",
            reversescale=True,
            zmin=-peak,
            zmax=peak,
            zmid=0,
            text=hover,
            hoverinfo="text",
            colorbar=dict(title="nats"),
        )
    )
    figure.add_vline(x=attribution.prompt_length - 0.5, line_dash="dot")
    figure.update_layout(
        title=f"{attribution.prompt} | {attribution.continuation.strip()} ({attribution.method})",
        xaxis=dict(
            tickmode="array",
            tickvals=columns,
            ticktext=attribution.source_tokens,
            title="tokens read (dotted: end of the prompt)",
        ),
        yaxis=dict(
            tickmode="array",
            tickvals=list(range(len(attribution.target_labels))),
            ticktext=attribution.target_labels,
            autorange="reversed",
            title="generated token",
        ),
        **{**_LAYOUT, "height": max(220, 28 * len(attribution.target_labels) + 160)},
    )
    return _as_json(figure)


def figures(result) -> dict[str, Any]:
    """Every chart of the report as a plotly Figure, keyed by what it shows, for custom plots in notebooks."""
    import plotly.graph_objects as go

    charts: dict[str, dict[str, Any]] = {}
    for table in result.fairness:
        charts[f"rates by {table.name}"] = fairness_figure(table)
        charts[f"disparity by {table.name}"] = disparity_figure(table)
    for summary in result.attributions:
        charts[f"importance: {summary.method}"] = importance_figure(summary)
        for name in summary.importance_by_group:
            charts[f"importance by {name}: {summary.method}"] = group_importance_figure(summary, name)
    text = result.text
    if text is not None and text.counterfactuals.axes:
        charts["counterfactuals: real texts"] = counterfactual_figure(text.counterfactuals.axes, "real texts")
    if text is not None and text.probes and text.probes.counterfactuals.axes:
        charts["counterfactuals: template probes"] = counterfactual_figure(
            text.probes.counterfactuals.axes, "template probes"
        )
    for search in result.slices.searches if result.slices else []:
        if search.slices:
            charts[f"slices: {search.metric}"] = slices_figure(search)
    for frontier in result.mitigation.frontiers if result.mitigation else []:
        charts[f"mitigation: {frontier.constraint}"] = mitigation_figure(frontier)
    for suite in result.probes.suites if result.probes else []:
        charts[f"probes: {suite.name}"] = probe_figure(suite)
        for index, example in enumerate(suite.examples):
            for side, attribution in zip(("", " (other prompt)"), example.attributions):
                charts[f"probe attribution: {suite.name} #{index + 1}{side}"] = generation_heatmap(attribution)
    for gap in result.gap_explanations.explanations if result.gap_explanations else []:
        charts[f"gap: {gap.metric} by {gap.table}"] = gap_figure(gap)
    for method, entry in (result.quality.methods if result.quality else {}).items():
        if entry.faithfulness is not None and entry.faithfulness.status == "ok":
            charts[f"faithfulness: {method}"] = faithfulness_figure(method, entry.faithfulness)
    return {name: go.Figure(figure) for name, figure in charts.items()}


def _errors(values: list, intervals: list) -> dict[str, Any]:
    return dict(
        type="data",
        array=[None if ci is None or v is None else ci[1] - v for v, ci in zip(values, intervals)],
        arrayminus=[None if ci is None or v is None else v - ci[0] for v, ci in zip(values, intervals)],
    )


def ranking_exposure_figure(table) -> dict[str, Any]:
    """Each group's mean exposure per item (1/log2(1 + position)), with its query-resampled interval."""
    import plotly.graph_objects as go

    names = [g.group for g in table.groups]
    values = [g.values.get("exposure") for g in table.groups]
    figure = go.Figure(
        go.Bar(
            x=names,
            y=values,
            error_y=_errors(values, [g.ci.get("exposure") for g in table.groups]),
            marker_color=["#bbbbbb" if g.small else "#4c78a8" for g in table.groups],
            hovertemplate="%{x}: %{y:.4f}<extra></extra>",
        )
    )
    figure.update_layout(
        title=f"Exposure per item by {table.name} ({table.queries:,} queries)",
        yaxis_title="mean 1/log2(1 + position)",
        **_LAYOUT,
    )
    return _as_json(figure)


def ranking_top_k_figure(table) -> dict[str, Any]:
    """Each group's share of the top-k places beside its share of the ranked items."""
    import plotly.graph_objects as go

    names = [g.group for g in table.groups]
    shares = [g.values.get("top_k_share") for g in table.groups]
    figure = go.Figure(
        [
            go.Bar(
                x=names,
                y=[g.pool_share for g in table.groups],
                name="share of the ranked items",
                marker_color="#bbbbbb",
                hovertemplate="%{x}: %{y:.1%}<extra></extra>",
            ),
            go.Bar(
                x=names,
                y=shares,
                name=f"share of the top {table.k}",
                marker_color="#f58518",
                error_y=_errors(shares, [g.ci.get("top_k_share") for g in table.groups]),
                hovertemplate="%{x}: %{y:.1%}<extra></extra>",
            ),
        ]
    )
    figure.update_layout(
        title=f"Top {table.k} against the pool by {table.name}",
        yaxis_title="share",
        yaxis_tickformat=".0%",
        barmode="group",
        **_LAYOUT,
    )
    return _as_json(figure)


def recourse_figure(table, measure: str, cost_kind: str) -> dict[str, Any]:
    """One burden measure of a recourse table: each group's value with its 95% interval; the benchmark group's value
    dotted. ``measure``: "mean_cost" (among those with a recourse) or "no_recourse_share"."""
    import plotly.graph_objects as go

    ci_key = "mean_cost_ci" if measure == "mean_cost" else "no_recourse_ci"
    groups = [g for g in table.groups if getattr(g, measure) is not None]
    values = [getattr(g, measure) for g in groups]
    intervals = [getattr(g, ci_key) for g in groups]
    figure = go.Figure(
        go.Scatter(
            x=values,
            y=[g.group for g in groups],
            mode="markers",
            error_x=dict(
                type="data",
                array=[None if ci is None else ci[1] - v for v, ci in zip(values, intervals)],
                arrayminus=[None if ci is None else v - ci[0] for v, ci in zip(values, intervals)],
            ),
            hovertemplate="%{y}<br>%{x:.3f}<extra></extra>",
        )
    )
    anchor = next((getattr(g, measure) for g in groups if g.group == table.benchmark), None)
    if anchor is not None:
        figure.add_vline(x=anchor, line_dash="dot")
    what = f"mean cost of recourse ({cost_kind})" if measure == "mean_cost" else "share with no recourse"
    figure.update_layout(
        title=f"{table.name}: {what}, 95% intervals (dotted: {table.benchmark})",
        xaxis_title=what,
        yaxis=dict(autorange="reversed"),
        **_LAYOUT,
    )
    return _as_json(figure)
