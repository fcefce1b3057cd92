"""The report in a real browser: Debian's chromium driven by playwright (never a downloaded browser).

These tests skip, saying why, when no chromium or no playwright is installed; `.ci/run` installs chromium
with apt. A screenshot of the demo report is kept in test-artifacts/.
"""

from __future__ import annotations

import json

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from audit import AuditConfig, DataConfig, ExplainerConfig, run_audit
from audit.text._audit import mention_columns
from audit.cli import main
from explainers._text_model import TextClassifier
from reports import find_chromium, render_html
from tests.text_models import tiny_model

CHROMIUM = find_chromium()
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
# an inline handler that would set a flag if it ever ran, and would be visible as text if escaped
PAYLOAD = '<img src=x onerror="window.__xss=1;alert(1)">'

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="browser tests skipped: no chromium found (Debian: apt-get install chromium; .ci/run does it)",
    ),
]


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests skipped: playwright not installed")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


def _open(browser, path: Path):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems: dict[str, list] = {"console": [], "dialogs": [], "requests": []}
    page.on("console", lambda m: problems["console"].append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems["console"].append(str(e)))
    page.on("dialog", lambda d: (problems["dialogs"].append(d.message), d.dismiss()))
    page.on(
        "request", lambda r: problems["requests"].append(r.url) if not r.url.startswith(("file:", "data:")) else None
    )
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return page, problems


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    assert main(["demo", "--out", str(out), "--sample", "3000", "--quiet"]) == 0
    return out / "report.html"


def test_demo_report_loads_cleanly_and_every_chart_renders(browser, demo_report):
    page, problems = _open(browser, demo_report)
    figures = page.locator("div.figure").count()
    assert figures >= 8
    assert page.locator("#recourse div.figure").count() == 6  # sex, race, sex x race: mean cost, no recourse
    page.wait_for_function(f"document.querySelectorAll('div.figure .main-svg').length >= {figures}")
    rendered = page.evaluate(
        "Array.from(document.querySelectorAll('div.figure'))"
        ".filter(d => d.querySelector('svg.main-svg') && d.getBoundingClientRect().height > 100)"
        ".length"
    )
    assert rendered == figures
    assert page.locator("div.figure .main-svg .bars path, div.figure .main-svg .hm image").count() > 0
    assert problems == {"console": [], "dialogs": [], "requests": []}
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "demo-report.png"), full_page=True)
    assert (ARTIFACTS / "demo-report.png").stat().st_size > 50_000
    page.close()


def test_the_report_fits_1400_pixels_and_opens_with_its_verdict(browser, demo_report):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(demo_report.as_uri())
    page.wait_for_load_state("load")
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    spilled = page.evaluate(
        "Array.from(document.querySelectorAll('main table')).filter(t => "
        "t.getBoundingClientRect().right > t.closest('section').getBoundingClientRect().right + 1)"
        ".map(t => t.caption ? t.caption.textContent.slice(0, 60) : t.id)"
    )
    assert spilled == []  # a wide table scrolls inside its card
    verdict = page.locator("#verdict").bounding_box()
    largest = page.locator("text=Largest disparities and what carries them").bounding_box()
    findings = page.locator("details.finding-group").first.bounding_box()
    assert verdict["y"] < largest["y"] < findings["y"] and verdict["y"] < 900  # read from the top, no scrolling
    assert "Not gated" in page.locator("#verdict").inner_text()
    assert page.locator("details.finding-group[open]").count() == 0  # collapsed: one line per group
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "report-top-1400.png"))
    page.close()


def _column(page, selector, index):
    return page.evaluate(
        "([s, i]) => Array.from(document.querySelector(s).tBodies[0].rows)"
        ".map(r => r.cells[i].getAttribute('data-value') ?? r.cells[i].textContent.trim())",
        [selector, index],
    )


def test_tables_sort_by_clicking_their_headers(browser, demo_report):
    page, _ = _open(browser, demo_report)
    table = "#fairness table.sortable"  # the first table of group metrics
    header = page.locator(table).first.locator("thead th").nth(1)  # n
    header.click()
    values = [float(v) for v in _column(page, table, 1)]
    assert values == sorted(values) and header.get_attribute("aria-sort") == "ascending"
    header.click()
    values = [float(v) for v in _column(page, table, 1)]
    assert values == sorted(values, reverse=True) and header.get_attribute("aria-sort") == "descending"
    header.focus()
    page.keyboard.press("Enter")  # keyboard users sort too
    assert header.get_attribute("aria-sort") == "ascending"
    page.close()


def test_payloads_in_group_names_and_texts_show_as_text_and_never_run(browser, tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"x1": rng.normal(size=600), "x2": rng.normal(size=600), "group": np.where(rng.random(600) < 0.5, "A", PAYLOAD)}
    )
    frame["label"] = (frame["x1"] + rng.normal(size=600) > 0).astype(int)
    model = LogisticRegression().fit(frame[["x1", "x2"]], frame["label"])
    tabular = run_audit(
        AuditConfig(
            data=DataConfig(label="label", sensitive=("group",), features=("x1", "x2")),
            explainers=ExplainerConfig(sample_size=50, background_size=20),
        ),
        data=frame,
        model=model,
    )
    texts = [f"she said {PAYLOAD} it is good", f"he hates {PAYLOAD} the service", "the muslim store is great"] * 10
    text_frame = pd.concat([pd.DataFrame({"text": texts, "label": np.arange(30) % 2}), mention_columns(texts)], axis=1)
    bert, tokenizer = tiny_model("bert")
    text = run_audit(
        AuditConfig(
            data=DataConfig(label="label", sensitive=("gender_mention",), text="text"),
            explainers=ExplainerConfig(sample_size=6),
        ),
        data=text_frame,
        model=TextClassifier(bert, tokenizer, labels=["0", "1"]),
    )
    for name, result in (("tabular", tabular), ("text", text)):
        path = tmp_path / f"{name}.html"
        path.write_text(render_html(result), encoding="utf-8")
        page, problems = _open(browser, path)
        page.wait_for_timeout(300)
        assert page.evaluate("window.__xss === undefined")
        assert problems["dialogs"] == [] and problems["console"] == []
        assert page.locator(f"text={PAYLOAD}").count() > 0  # shown, as text
        assert page.locator("main img").count() == 0
        page.close()


def test_pdf_export_through_headless_chromium(demo_report, tmp_path, capsys):
    pdf = tmp_path / "report.pdf"
    assert main(["report", str(demo_report.with_name("audit.json")), "--pdf", str(pdf)]) == 0
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF") and len(data) > 100_000
    assert data.count(b"/Type /Page") - data.count(b"/Type /Pages") >= 4  # several pages, charts included
    assert not (tmp_path / "report.html").exists()  # only the PDF was asked for
    assert "PDF:" in capsys.readouterr().out
    import shutil
    import subprocess

    if shutil.which("pdftotext") is None:  # .ci/run installs poppler-utils; say so rather than pass silently
        pytest.skip("the PDF's page layout was not checked: no pdftotext (Debian: apt-get install poppler-utils)")
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    pages = [[line.strip() for line in page.splitlines() if line.strip()] for page in text.split("\f")]
    assert "Summary" in pages[0] and any("Largest disparities" in line for line in pages[0])  # not the title alone
    import html
    import re

    source = demo_report.read_text(encoding="utf-8")
    headings = {
        html.unescape(re.sub("<[^>]+>", "", h)).strip() for h in re.findall(r"<h[23][^>]*>(.*?)</h[23]>", source, re.S)
    }
    orphaned = [(k + 1, page[-1]) for k, page in enumerate(pages) if page and page[-1] in headings]
    assert orphaned == []  # no heading at the foot of a page, away from what it heads


def test_language_model_report_loads_cleanly_with_its_charts(browser, tmp_path):
    out = tmp_path / "llm"
    assert main(["demo", "--llm", "--out", str(out), "--sample", "60", "--quiet"]) == 0
    page, problems = _open(browser, out / "report.html")
    figures = page.locator("div.figure").count()
    raw = json.loads((out / "audit.json").read_text())
    heatmaps = sum(len(e["attributions"]) for s in raw["probes"]["suites"] for e in s["examples"])
    assert heatmaps >= 10 and figures == 7 + heatmaps  # one per suite, one per attributed example side
    page.wait_for_function(f"document.querySelectorAll('div.figure .main-svg').length >= {figures}")
    assert page.locator("#probes-title").count() == 1 and page.locator("#fairness-title").count() == 0
    assert page.locator("div.figure .main-svg .scatterlayer .point").count() > 0
    assert page.locator("div.figure .main-svg .heatmaplayer image").count() == heatmaps  # drawn, not just placed
    assert problems == {"console": [], "dialogs": [], "requests": []}
    page.close()


def test_the_swap_section_draws_a_chart_per_measure_and_shows_its_pairs_as_text(browser, tmp_path):
    import dataclasses

    import numpy as np
    import pandas as pd

    import audit
    from reports import render_html

    names = ["Greg", "Emily", "Todd", "Anne"] * 30
    texts = [f"{n} has {i % 13} years in sales {PAYLOAD}." for i, n in enumerate(names)]

    def screener(batch):
        years = np.array([int(t.split(" has ")[1].split()[0]) for t in batch])
        return years / 12 - 0.3 * np.array([t.startswith(("Emily", "Anne")) for t in batch])

    swaps = audit.swap_audit(documents=texts, scorer=screener, lexicons=["name_gender"], queries=np.arange(120) // 20)
    frame = pd.DataFrame({"g": ["a", "b"] * 20, "y": [0, 1, 1, 0] * 10, "d": [0, 1] * 20})
    base = audit.run_audit(
        audit.AuditConfig(data=audit.DataConfig(label="y", sensitive=("g",), prediction="d")), data=frame
    )
    path = tmp_path / "report.html"
    path.write_text(render_html(dataclasses.replace(base, swaps=swaps)), encoding="utf-8")
    page, problems = _open(browser, path)
    charts = page.locator("#swaps div.figure").count()
    assert charts == 4  # score, decision, rank, top-k: one chart per measure, each its own units
    page.wait_for_function(f"document.querySelectorAll('#swaps div.figure .main-svg').length >= {charts}")
    assert page.locator("#swaps div.figure .main-svg .scatterlayer .point").count() >= 8
    cell = page.locator("table.swap-examples td.text").first.inner_text()
    assert PAYLOAD in cell and page.evaluate("window.__xss") is None  # shown as text, never run
    assert problems == {"console": [], "dialogs": [], "requests": []}
    page.close()
