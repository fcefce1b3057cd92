"""Bad input through the command line and the Python API: exit 2 and one line, no traceback, nothing
written; untrusted strings stay inert in the report, the JSON, the JUnit XML and the terminal (issue 15)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression

from audit.cli import main


class RowDroppingModel:
    """predict_proba returns one row too few."""

    classes_ = np.array([0, 1])

    def predict_proba(self, features):
        return np.full((len(features) - 1, 2), 0.5)


class NanModel:
    classes_ = np.array([0, 1])

    def predict_proba(self, features):
        out = np.full((len(features), 2), 0.5)
        out[3] = np.nan
        return out


class OutOfRangeModel:
    classes_ = np.array([0, 1])

    def predict_proba(self, features):
        return np.column_stack([np.full(len(features), -0.5), np.full(len(features), 1.5)])


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    """One audit run through the command line, shared by the tests that only read or edit its audit.json."""
    from tests.conftest import make_biased_frame

    folder = tmp_path_factory.mktemp("audited")
    frame = make_biased_frame()
    frame.to_csv(folder / "data.csv", index=False)
    joblib.dump(LogisticRegression().fit(frame[["x1", "x2"]], frame["label"]), folder / "model.joblib")
    assert main(["run", _config(folder), "--quiet"]) == 0
    return folder / "out" / "audit.json"


@pytest.fixture()
def project(tmp_path, biased_frame):
    biased_frame.to_csv(tmp_path / "data.csv", index=False)
    joblib.dump(LogisticRegression().fit(biased_frame[["x1", "x2"]], biased_frame["label"]), tmp_path / "model.joblib")
    return tmp_path


_BASE = (
    '[data]\npath = "data.csv"\nlabel = "label"\nsensitive = ["group"]\n{data}'
    "[model]\n{model}[fairness]\nn_boot = 0\n{fairness}[explainers]\nsample_size = 20\nbackground_size = 10\n"
    '[output]\ndir = "out"\n'
)


def _config(
    project: Path,
    *,
    data: str = 'features = ["x1", "x2"]\n',
    model: str = 'path = "model.joblib"\n',
    fairness: str = "",
) -> str:
    path = project / "audit.toml"
    path.write_text(_BASE.format(data=data, model=model, fairness=fairness))
    return str(path)


def _refused(capsys, argv: list[str], expected: str, out: Path | None = None) -> None:
    before = sorted(p.name for p in out.iterdir()) if out is not None and out.exists() else None
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 2, (code, captured.err)
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    assert expected in lines[0], lines[0]
    if out is not None:
        after = sorted(p.name for p in out.iterdir()) if out.exists() else None
        assert after == before  # nothing written on refusal


@pytest.mark.parametrize(
    "case, model_object, expected",
    [
        ("n-1 rows", RowDroppingModel(), "returned 3999 rows for 4000"),
        ("NaN scores", NanModel(), "NaN or infinite"),
        ("scores outside [0, 1]", OutOfRangeModel(), "outside [0, 1]"),
        ("a builtin function", len, "returned one value"),
    ],
)
def test_bad_model_output_is_bad_input(project, capsys, case, model_object, expected):
    joblib.dump(model_object, project / "model.joblib")
    _refused(capsys, ["run", _config(project), "--quiet"], expected, project / "out")


def test_a_csv_named_model_joblib_is_refused(project, capsys):
    (project / "model.joblib").write_text("a,b\n1,2\n")
    _refused(capsys, ["run", _config(project), "--quiet"], "could not be loaded")


def test_unknown_reference_group_lists_the_groups(project, capsys):
    _refused(
        capsys,
        [
            "run",
            _config(project, data='prediction = "decision"\n', model="", fairness='reference = { group = "Bee" }\n'),
            "--quiet",
        ],
        "Groups of 'group': 'A', 'B'",
    )


def test_duplicate_column_names_are_refused(project, capsys):
    text = (project / "data.csv").read_text().splitlines()
    text[0] = text[0].replace("x2", "group")
    (project / "data.csv").write_text("\n".join(text) + "\n")
    _refused(
        capsys,
        ["run", _config(project, data='prediction = "decision"\n', model=""), "--quiet"],
        "more than one column named 'group'",
    )


def test_a_vendor_that_rejects_everyone_is_audited(project, biased_frame, capsys):
    biased_frame.assign(label=np.where(biased_frame["label"] == 1, "yes", "no"), decision="no").to_csv(
        project / "data.csv", index=False
    )
    config = _config(project, data='positive_label = "yes"\nprediction = "decision"\n', model="")
    assert main(["run", config, "--quiet"]) == 0
    result = json.loads((project / "out" / "audit.json").read_text())
    assert result["fairness"][0]["overall"]["selection_rate"] == 0.0


def test_a_continuous_sensitive_column_is_refused_or_binned(project, biased_frame, capsys):
    biased_frame.assign(age=np.random.default_rng(0).integers(18, 90, len(biased_frame))).to_csv(
        project / "data.csv", index=False
    )
    base = 'prediction = "decision"\n'
    path = project / "audit.toml"
    path.write_text(
        _BASE.format(data=base, model="", fairness="").replace('sensitive = ["group"]', 'sensitive = ["age"]')
    )
    _refused(capsys, ["run", str(path), "--quiet"], "has 72 distinct values")
    path.write_text(
        _BASE.format(data=base + "bins = { age = [0, 30, 50, 120] }\n", model="", fairness="").replace(
            'sensitive = ["group"]', 'sensitive = ["age"]'
        )
    )
    assert main(["run", str(path), "--quiet"]) == 0


@pytest.mark.parametrize(
    "policy, expected",
    [
        (
            '[[rules]]\nmetric = "selection_rate"\nwhere = "every_group"\ncompare = ">="\nthreshold = 0.8\n'
            'tables = "group"\n',
            "'tables' of rule",
        ),
        ('[[rules]]\nmetric = "selection_rate"\nwhere = "overall"\ncompare = [">="]\nthreshold = 0.8\n', "'compare'"),
        ('[[rules]]\nmetric = 3\nwhere = "overall"\ncompare = ">="\nthreshold = 0.8\n', "'metric'"),
        (
            '[[rules]]\nmetric = "selection_rate"\nwhere = "every_group"\ncompare = ">="\nthreshold = 0.8\n'
            "tables = 3\n",
            "'tables' of rule",
        ),
        (
            'allow_failures = "explainer: shap"\n[[rules]]\nmetric = "accuracy"\nwhere = "overall"\ncompare = ">="\n'
            "threshold = 0.1\n",
            "'allow_failures'",
        ),
    ],
)
def test_wrongly_typed_policies_are_config_errors(audited, capsys, policy, expected, tmp_path):
    capsys.readouterr()
    (tmp_path / "policy.toml").write_text(policy)
    out = tmp_path / "gate"
    _refused(
        capsys,
        ["check", "--result", str(audited), "--policy", str(tmp_path / "policy.toml"), "--out", str(out)],
        expected,
    )
    assert not out.exists()


def test_tool_audit_that_is_not_a_table(audited, capsys, tmp_path):
    capsys.readouterr()
    (tmp_path / "pyproject.toml").write_text('[tool]\naudit = "strict"\n')
    _refused(capsys, ["check", "--result", str(audited), "--policy", str(tmp_path / "pyproject.toml")], "[tool.audit]")


@pytest.mark.parametrize(
    "edit, expected",
    [
        (lambda r: r.update(data={}), "'data' lacks 'kind'"),
        (lambda r: r.update(fairness={"a": 1}), "'fairness' must be a list"),
        (lambda r: r["data"].update(n_rows="many"), "'data.n_rows' must be a whole number"),
        (lambda r: r.pop("model"), "lacks its 'model' section"),
        (lambda r: r["fairness"][0]["groups"][0].update(values=3), "fairness.0.groups.0"),
        # issue 34: the field at fault is named, not "AttributeError: 'list'..." or a format error in the report
        (lambda r: r["fairness"][0].update(disparities=[1, 2]), "'fairness.0.disparities' must be an object"),
        (lambda r: r["fairness"][0]["bootstrap"].update(level="high"), "'fairness.0.bootstrap.level' must be a number"),
        (
            lambda r: r["findings"].append({"kind": "x", "severity": "info", "message": "m", "colour": 1}),
            "'findings.1' has fields this version does not know: ['colour']",
        ),
        (
            lambda r: r["fairness"][0]["disparities"]["selection_rate"]["to_benchmark"]["group=B"].update(ratio="low"),
            "'fairness.0.disparities.selection_rate.to_benchmark.group=B.ratio' must be a number",
        ),
    ],
)
def test_malformed_results_are_refused_by_report(audited, capsys, edit, expected, tmp_path):
    capsys.readouterr()
    record = json.loads(audited.read_text())
    edit(record)
    (tmp_path / "edited.json").write_text(json.dumps(record))
    _refused(capsys, ["report", str(tmp_path / "edited.json"), "-o", str(tmp_path / "r.html")], expected)
    assert not (tmp_path / "r.html").exists()


def test_verify_with_paths_of_the_wrong_type(audited, capsys, tmp_path):
    capsys.readouterr()
    record = json.loads(audited.read_text())
    record["provenance"]["paths"] = ["data.csv"]
    (tmp_path / "edited.json").write_text(json.dumps(record))
    _refused(capsys, ["verify", str(tmp_path / "edited.json")], "provenance.paths")


def test_data_outside_the_config_folder_needs_allow_outside(project, capsys, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("secret")
    (project / "data.csv").rename(elsewhere / "users.csv")
    config = _config(project, data='prediction = "decision"\n', model="")
    text = Path(config).read_text().replace('path = "data.csv"', f'path = "{elsewhere / "users.csv"}"')
    Path(config).write_text(text)
    _refused(capsys, ["run", config, "--quiet"], "points outside the config's folder")
    assert main(["run", config, "--quiet", "--allow-outside"]) == 0


def test_a_missing_column_error_does_not_print_the_header(project, capsys):
    _refused(
        capsys,
        ["run", _config(project, data='features = ["x1", "secret_income"]\n'), "--quiet"],
        "'secret_income' is not in the data",
    )
    # no column name other than close matches appears


def test_outputs_are_written_together_or_not_at_all(project, capsys):
    out = project / "out"
    (out / "report.html").mkdir(parents=True)
    _refused(capsys, ["run", _config(project), "--quiet"], "a folder of that name exists", out)
    assert not (out / "audit.json").exists()
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    (out / "report.html").rmdir()
    assert main(["run", _config(project), "--quiet"]) == 0
    (out / "gate").mkdir()
    (out / "junit.xml").mkdir()
    before = (out / "audit.json").read_text()
    _refused(capsys, ["check", _config(project), "--preset", "four-fifths", "--quiet"], "junit.xml")
    assert (out / "audit.json").read_text() == before  # the earlier audit stays as it was
    assert not [p for p in out.iterdir() if p.name.endswith((".tmp", ".bak"))]


def test_text_scorer_must_return_one_score_per_text():
    from audit import text_bias_audit
    from audit._errors import DataError

    with pytest.raises(DataError, match="one score per text"):
        text_bias_audit(
            texts=["she is here", "he is there"], scorer=lambda texts: np.zeros(len(texts) + 1), templates=False
        )
    result = text_bias_audit(
        texts=["she is here", "he is there"], scorer=lambda texts: np.full(len(texts), 0.7), templates=False
    )
    assert result.variants > 0  # plain scores are accepted: decisions at 0.5


def test_every_text_result_the_api_can_produce_renders():
    import dataclasses

    from audit import text_bias_audit
    from reports import render_html

    texts = ["she is a nurse", "he is a doctor", "the muslim man prays", "my phone broke"] * 5
    scorer = lambda batch: (np.linspace(0.1, 0.9, len(batch)), np.linspace(0.1, 0.9, len(batch)) > 0.5)  # noqa
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"g": rng.choice(["a", "b"], 100), "y": rng.integers(0, 2, 100), "d": rng.integers(0, 2, 100)})
    from audit import AuditConfig, DataConfig, run_audit

    template = run_audit(AuditConfig(data=DataConfig(label="y", sensitive=("g",), prediction="d")), data=frame)
    for kwargs in (
        {},
        {"y_true": np.arange(20) % 2 == 0},
        {"templates": False},
        {"y_true": np.arange(20) % 2 == 0, "templates": False},
    ):
        text = text_bias_audit(texts=texts, scorer=scorer, **kwargs)
        html = render_html(dataclasses.replace(template, text=text))
        assert "Text counterfactuals" in html


_PIECES = list("ab<>&\"'/ =\n\r\t\x0b\x1b\u202e\u200f\x7f") + [
    "<script>",
    "]]>",
    "<a href='x'>",
    "::error::",
    "\u05d0\u05d1",
]
_NASTY = st.lists(st.sampled_from(_PIECES), min_size=1, max_size=12).map("".join)


class _Tags:
    """The start tags of a document (html.parser: fast enough for a 5 MB report)."""

    def __init__(self) -> None:
        from html.parser import HTMLParser

        outer = self
        self.counts: dict[str, int] = {}
        self.links: list[str] = []
        self.executable_scripts = 0

        class Parser(HTMLParser):
            def handle_starttag(self, tag, attrs):
                attributes = dict(attrs)
                outer.counts[tag] = outer.counts.get(tag, 0) + 1
                if tag == "a" and "href" in attributes:
                    outer.links.append(attributes["href"] or "")
                if tag == "script" and attributes.get("type") != "application/json":
                    outer.executable_scripts += 1

        self._parser = Parser(convert_charrefs=True)

    def feed(self, document: str) -> None:
        self._parser.feed(document)


@settings(max_examples=10, deadline=None)
@given(name=_NASTY)
def test_untrusted_group_names_stay_inert_everywhere(name, tmp_path_factory):
    from audit import AuditConfig, DataConfig, run_audit
    from audit.gate._policy import evaluate, load_preset
    from reports import render_html, render_junit

    folder = tmp_path_factory.mktemp("nasty")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "g": np.where(rng.random(200) < 0.5, name, "plain"),
            "y": rng.integers(0, 2, 200),
            "d": rng.integers(0, 2, 200),
        }
    )
    result = run_audit(AuditConfig(data=DataConfig(label="y", sensitive=("g",), prediction="d")), data=frame)
    # JSON round-trips
    assert json.loads(result.to_json())["fairness"][0]["groups"]
    # the report parses, and the name never becomes markup
    document = render_html(result)
    tags = _Tags()
    tags.feed(document)
    assert not [href for href in tags.links if not href.startswith("#")]  # no link but the report's own
    assert tags.counts.get("img", 0) == 0 and tags.counts.get("iframe", 0) == 0
    assert tags.executable_scripts == 2  # plotly.js and the report's script, nothing injected
    # the figures' labels are escaped too
    figures = result.figures()
    labels = [
        str(x)
        for figure in figures.values()
        for trace in figure.to_dict().get("data", [])
        for x in trace.get("x") or []
    ]
    assert not any("<" in label for label in labels)
    # JUnit parses
    junit = render_junit(evaluate(result, [load_preset("four-fifths")]).to_dict())
    ElementTree.fromstring(junit.split("\n", 1)[1])
    # the CLI prints it on one line per entry, with control characters escaped
    (folder / "audit.json").write_text(result.to_json())
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        main(["check", "--result", str(folder / "audit.json"), "--preset", "four-fifths", "--out", str(folder)])
    for line in buffer.getvalue().splitlines():
        assert not any(c in line for c in "\x1b\x0b\r\x00\u202e")
        assert not line.startswith("::")
