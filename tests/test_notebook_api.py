"""Notebook use: the report's figures from the API, and the ipywidgets explorer (driven without a browser)."""

import plotly.graph_objects as go
import pytest

from audit import run_audit
from audit.demo._demo import demo_config


@pytest.fixture(scope="module")
def result(adult_test, adult_model):
    return run_audit(demo_config(sample=2000), data=adult_test, model=adult_model)


def test_figures_are_plotly_figures_for_every_chart(result):
    figures = result.figures()
    assert {"rates by sex", "disparity by sex x race", "importance: shap_tree", "importance by race: shap_tree"} <= set(
        figures
    )
    assert all(isinstance(f, go.Figure) for f in figures.values())
    bars = figures["rates by sex"].data
    assert {trace.name for trace in bars} >= {"selection_rate", "tpr"} and list(bars[0].x) == ["sex=Female", "sex=Male"]


def _html_of(output_widget):
    return "".join(
        str(o.get("data", {}).get("text/html", "")) + str(o.get("data", {}).get("text/plain", ""))
        for o in output_widget.outputs
    )


def test_explorer_follows_the_chosen_breakdown_metric_and_group(result):
    explorer = result.explore()
    assert explorer.breakdown.options == ("sex", "race", "sex x race")
    explorer.breakdown.value = "sex x race"
    assert "sex=Female, race=White" in explorer.group.options and explorer.metric.value == "selection_rate"
    explorer.metric.value = "tpr"
    explorer.group.value = "sex=Female, race=White"
    assert "tpr" in _html_of(explorer.group_view) and "sex=Female, race=White" in _html_of(explorer.group_view)
    chart = explorer.chart(result.fairness[2], "tpr", "sex=Female, race=White")
    colours = list(chart.data[0].marker.color)
    assert colours.count("#c0392b") == 1 and colours[list(chart.data[0].x).index("sex=Female, race=White")] == "#c0392b"
    assert explorer.chart_view.outputs and explorer.table_view.outputs
    bundle = explorer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle


def test_token_heatmap_escapes_words():
    from reports import Explorer  # noqa: F401  (public)
    from reports._explore import token_heatmap_html

    html = token_heatmap_html(["<script>x</script>", "fine"], [0.5, -0.25], 0.9)
    assert "<script>" not in html and "&lt;script&gt;" in html and "rgba(192,57,43,0.80)" in html
