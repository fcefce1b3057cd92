"""``result.explore()``: an ipywidgets explorer for notebooks. Pick a breakdown, a metric and a group (the
table, the chart and the group's comparison follow), and an explained example (its token heatmap follows)."""

from __future__ import annotations

import html
from typing import Any
from audit._errors import ConfigError

__all__ = ["Explorer", "GenerationExplorer", "explorer_for", "token_heatmap_html"]


def token_heatmap_html(
    words: list[str], values: list[float | None], output: float | None = None, *, divider: int | None = None
) -> str:
    """Words shaded by attribution (red towards the explained output, blue away), escaped. A None value greys its
    word (not attributed: a generated token read later); ``divider``: a bar before that word (the prompt's end)."""
    peak = max((abs(v) for v in values if v is not None), default=0.0) or 1.0
    spans = []
    for j, (word, value) in enumerate(zip(words, values)):
        if j == divider:
            spans.append('<span style="color:#5d6d7e">|</span>')
        if value is None:
            spans.append(f'<span style="color:#aab7b8">{html.escape(word)}</span>')
            continue
        colour = "192,57,43" if value > 0 else "44,111,187"
        spans.append(
            f'<span style="background: rgba({colour},{abs(value) / peak * 0.8:.2f}); padding: 1px 2px" '
            f'title="{value:.4f}">{html.escape(word)}</span>'
        )
    suffix = "" if output is None else f' <span style="color:#5d6d7e">(p = {output:.3f})</span>'
    return f'<p style="line-height:1.9">{" ".join(spans)}{suffix}</p>'


def _show(output: Any, *objects: Any) -> None:
    """Replace what an Output widget shows (works with or without a running kernel)."""
    output.outputs = ()
    for item in objects:
        output.append_display_data(item)


class Explorer:
    """The widgets of the explorer; displays itself in Jupyter. Attributes are the controls, for scripting."""

    def __init__(self, result: Any) -> None:
        import ipywidgets as widgets

        if not result.fairness:
            if getattr(result, "probes", None) is not None:
                raise ConfigError(
                    "The explorer reads fairness tables or attributed probe examples; this probe result "
                    'has neither (probes.attributions = "none", or no continuation suite ran). Read '
                    "result.probes.to_frame() (every row, with intervals) and result.figures()."
                )
            raise ConfigError(
                "This audit result has no fairness tables to explore. Run an audit with data.sensitive set."
            )
        self.result = result
        self._tables = {table.name: table for table in result.fairness}
        self.breakdown = widgets.Dropdown(options=list(self._tables), description="Breakdown")
        self.metric = widgets.Dropdown(description="Metric")
        self.group = widgets.Dropdown(description="Group")
        self._examples = [
            (f"{summary.method} #{i + 1}: {' '.join(example['words'][:8])}", (summary.method, i))
            for summary in result.attributions
            for i, example in enumerate(summary.examples)
        ]
        self.example = widgets.Dropdown(options=self._examples, description="Example")
        self.table_view, self.chart_view = widgets.Output(), widgets.Output()
        self.group_view, self.example_view = widgets.Output(), widgets.Output()
        self.breakdown.observe(self._on_breakdown, names="value")
        self.metric.observe(self._refresh, names="value")
        self.group.observe(self._refresh, names="value")
        self.example.observe(self._show_example, names="value")
        rows = [
            widgets.HBox([self.breakdown, self.metric, self.group]),
            self.chart_view,
            self.group_view,
            self.table_view,
        ]
        if self._examples:
            rows += [self.example, self.example_view]
        self.widget = widgets.VBox(rows)
        self._on_breakdown()
        self._show_example()

    def _repr_mimebundle_(self, **kwargs: Any):
        return self.widget._repr_mimebundle_(**kwargs)

    def _on_breakdown(self, *_: Any) -> None:
        table = self._tables[self.breakdown.value]
        metrics = [m for m in table.metrics if m != "count"]
        self._updating = True
        self.metric.options = metrics
        self.metric.value = "selection_rate" if "selection_rate" in metrics else metrics[0]
        self.group.options = [g.name for g in table.groups]
        self.group.value = table.groups[0].name
        self._updating = False
        self._refresh()

    def _refresh(self, *_: Any) -> None:
        if getattr(self, "_updating", False) or self.metric.value is None or self.group.value is None:
            return
        from IPython.display import HTML

        table = self._tables[self.breakdown.value]
        metric, chosen = self.metric.value, self.group.value
        _show(self.chart_view, self.chart(table, metric, chosen))
        row = table.group(chosen)
        disparity = table.disparities.get(metric)
        comparison = disparity.to_benchmark.get(chosen) if disparity else None
        value, interval = row.values.get(metric), row.ci.get(metric)
        text = (
            f"<b>{html.escape(chosen)}</b>: {row.n:,} rows{' (small group)' if row.small else ''}; "
            f"{html.escape(metric)} = {'undefined' if value is None else f'{value:.3f}'}"
            + (f" [{interval[0]:.3f}, {interval[1]:.3f}]" if interval else "")
        )
        if comparison is not None and comparison.ratio is not None:
            text += (
                f"; against the benchmark group {html.escape(str(disparity.benchmark_group))}: ratio "
                f"{comparison.ratio:.3f}, difference {comparison.difference or 0:.3f}"
            )
        _show(self.group_view, HTML(text))
        _show(self.table_view, table.to_frame())

    @staticmethod
    def chart(table: Any, metric: str, chosen: str):
        """Bars of one metric by group with CI error bars; the chosen group in red."""
        import plotly.graph_objects as go

        names = [g.name for g in table.groups]
        values = [g.values.get(metric) for g in table.groups]
        intervals = [g.ci.get(metric) for g in table.groups]
        figure = go.Figure(
            go.Bar(
                x=names,
                y=values,
                marker_color=["#c0392b" if n == chosen else "#2c6fbb" for n in names],
                error_y=dict(
                    type="data",
                    array=[None if c is None or v is None else c[1] - v for v, c in zip(values, intervals)],
                    arrayminus=[None if c is None or v is None else v - c[0] for v, c in zip(values, intervals)],
                ),
            )
        )
        figure.update_layout(title=f"{metric} by {table.name}", template="plotly_white", height=340)
        return figure

    def _show_example(self, *_: Any) -> None:
        if not self._examples or self.example.value is None:
            return
        from IPython.display import HTML

        method, index = self.example.value
        summary = next(s for s in self.result.attributions if s.method == method)
        example = summary.examples[index]
        _show(self.example_view, HTML(token_heatmap_html(example["words"], example["values"], example.get("output"))))


def explorer_for(result: Any):
    """The explorer a result can show: attributed probe examples for a language-model result, else tables."""
    probes = getattr(result, "probes", None)
    if not result.fairness and probes is not None and any(e.attributions for s in probes.suites for e in s.examples):
        return GenerationExplorer(result)
    return Explorer(result)


class GenerationExplorer:
    """Pick an attributed probe example and one of its generated tokens: the tokens the model read are shaded by
    their attribution to it (red raised its log-probability, blue lowered it, grey came later)."""

    def __init__(self, result: Any) -> None:
        import ipywidgets as widgets

        self.result = result
        self._attributions = [
            (f"{suite.name} #{i + 1}: {a.prompt}|{a.continuation}", a)
            for suite in result.probes.suites
            for i, example in enumerate(suite.examples)
            for a in example.attributions
        ]
        self.example = widgets.Dropdown(
            options=[(label, k) for k, (label, _) in enumerate(self._attributions)], description="Example"
        )
        self.token = widgets.Dropdown(description="Generated")
        self.view, self.chart_view = widgets.Output(), widgets.Output()
        self.example.observe(self._on_example, names="value")
        self.token.observe(self._refresh, names="value")
        self.widget = widgets.VBox([widgets.HBox([self.example, self.token]), self.view, self.chart_view])
        self._on_example()

    def _repr_mimebundle_(self, **kwargs: Any):
        return self.widget._repr_mimebundle_(**kwargs)

    @property
    def attribution(self):
        return self._attributions[self.example.value][1]

    def _on_example(self, *_: Any) -> None:
        import plotly.graph_objects as go

        from reports._figures import generation_heatmap

        attribution = self.attribution
        self._updating = True
        self.token.options = [(f"{i + 1}: {label}", i) for i, label in enumerate(attribution.target_labels)]
        self.token.value = 0 if attribution.target_labels else None
        self._updating = False
        _show(self.chart_view, go.Figure(generation_heatmap(attribution)))
        self._refresh()

    def _refresh(self, *_: Any) -> None:
        if getattr(self, "_updating", False) or self.token.value is None:
            return
        from IPython.display import HTML

        attribution, i = self.attribution, self.token.value
        delta = "" if not attribution.delta else f"; completeness error {attribution.delta[i]:.2g}"
        text = (
            token_heatmap_html(attribution.source_tokens, attribution.values[i], divider=attribution.prompt_length)
            + f'<p style="color:#5d6d7e">log p({html.escape(attribution.target_labels[i])}) = '
            f"{attribution.outputs[i]:.3f}{html.escape(delta)}</p>"
        )
        _show(self.view, HTML(text))
