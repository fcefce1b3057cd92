"""Ranking fairness (audit.ranking): FairRankTune as the oracle of exposure and attention, scipy of the exact
top-k test; a planted ranker is found, a group-blind one passes; bad input is refused or counted."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import hypergeom

from audit import ConfigError
from audit.ranking import ranking_metrics
from audit.ranking._hypergeom import stratified_hypergeometric_test

frt = pytest.importorskip("FairRankTune", reason="the dev extra's fairranktune is the oracle")


def _rankings(seed: int, *, queries: int, size: int, push_down: float = 0.0, share_b: float = 0.4) -> pd.DataFrame:
    """Candidates per query scored by merit; group b's score lowered by ``push_down`` (0: a group-blind ranker)."""
    rng = np.random.default_rng(seed)
    n = queries * size
    group = np.where(rng.random(n) < share_b, "b", "a")
    score = rng.normal(size=n) - push_down * (group == "b")
    return pd.DataFrame(
        {"job": np.repeat([f"job{i:04d}" for i in range(queries)], size), "group": group, "score": score}
    )


@settings(max_examples=25, deadline=None)
@given(
    sizes=st.lists(st.integers(min_value=2, max_value=12), min_size=1, max_size=8),
    seed=st.integers(min_value=0, max_value=10_000),
    p=st.floats(min_value=0.05, max_value=0.95),
)
def test_exposure_and_attention_equal_fairranktunes(sizes, seed, p):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "query": np.repeat(np.arange(len(sizes)), sizes),
            "item": np.arange(sum(sizes)),
            "group": rng.choice(["x", "y", "z"], size=sum(sizes)),
            "rank": np.concatenate([rng.permutation(s) + 1 for s in sizes]),
        }
    )
    table = ranking_metrics(frame, sensitive="group", rank="rank", query="query", attention_p=p, n_boot=0)
    ordered = frame.sort_values(["query", "rank"])
    columns = {q: part.item.to_numpy() for q, part in ordered.groupby("query")}
    ranking_df = pd.DataFrame({q: pd.Series(items, dtype=float) for q, items in columns.items()})
    groups = dict(zip(frame.item.astype(float), frame.group))
    _, exposure = frt.EXP(ranking_df, groups, "MinMaxRatio")
    _, attention = frt.AWRF(ranking_df, groups, p, "MinMaxRatio")
    for row in table.groups:
        name = row.group.split("=")[1]
        assert row.values["exposure"] == pytest.approx(exposure[name], abs=1e-12)
        assert row.values["attention"] == pytest.approx(attention[name] / 100, abs=1e-12)


def test_the_stratified_test_is_scipys_hypergeometric_for_one_query_and_the_cmh_approximation_agrees():
    # one query: the two-sided p-value is twice the smaller tail of scipy's hypergeometric
    for observed in range(0, 8):
        p_value, expected, test = stratified_hypergeometric_test(
            np.array([observed]), np.array([40]), np.array([12]), np.array([10])
        )
        tails = hypergeom.cdf(observed, 40, 12, 10), hypergeom.sf(observed - 1, 40, 12, 10)
        assert p_value == pytest.approx(min(1.0, 2 * min(tails)), rel=1e-9)
        assert expected == pytest.approx(3.0) and test.startswith("exact")
    # many queries: the exact convolution and the continuity-corrected normal approximation are close
    rng = np.random.default_rng(3)
    pool = rng.integers(5, 30, 300)
    members = rng.binomial(pool, 0.3)
    drawn = np.minimum(5, pool)
    observed = rng.hypergeometric(members, pool - members, drawn) - (rng.random(300) < 0.15)
    observed = np.maximum(observed, np.maximum(0, drawn - (pool - members)))
    exact, _, exact_test = stratified_hypergeometric_test(observed, pool, members, drawn)
    import audit.ranking._hypergeom as module

    limit, module.EXACT_WORK_LIMIT = module.EXACT_WORK_LIMIT, 0
    try:
        approximate, _, approximate_test = stratified_hypergeometric_test(observed, pool, members, drawn)
    finally:
        module.EXACT_WORK_LIMIT = limit
    assert exact_test.startswith("exact") and approximate_test.startswith("Cochran")
    assert exact < 0.05 and approximate == pytest.approx(exact, rel=0.15)


@pytest.fixture(scope="module")
def planted():
    return ranking_metrics(
        _rankings(1, queries=150, size=30, push_down=0.6), sensitive="group", score="score", query="job", n_boot=400
    )


@pytest.fixture(scope="module")
def blind():
    return ranking_metrics(
        _rankings(2, queries=150, size=30), sensitive="group", score="score", query="job", n_boot=400
    )


def test_a_ranker_that_pushes_a_group_down_is_found_on_every_measure(planted):
    assert planted.queries == 150 and planted.items == 4_500 and "400 resamples of whole queries" in planted.intervals
    for metric, measure in planted.measures.items():
        assert measure.benchmark_group == "group=a", metric
        comparison = measure.to_benchmark["group=b"]
        assert comparison.p_value_holm < 1e-3 and comparison.difference > 0 and comparison.ratio < 0.9, metric
        low, high = comparison.difference_ci
        assert 0 < low <= comparison.difference <= high, metric
    assert "1,999 permutations" in planted.measures["exposure"].to_benchmark["group=b"].test
    b = next(t for t in planted.top_k if t.group == "group=b")
    assert b.observed < 0.75 * b.expected and b.p_value_holm < 1e-6
    assert planted.flagged_counts["group=b"] > 0.05 * planted.queries
    prefix = next(t for t in planted.prefix_tests if t.group == "group=b")
    assert prefix.failed > 2 * prefix.expected_failures and prefix.p_value_holm < 1e-6
    assert prefix.failures and all(f.observed < f.required for f in prefix.failures)


def test_a_group_blind_ranker_passes(blind):
    for metric, measure in blind.measures.items():
        for comparison in measure.to_benchmark.values():
            assert comparison.is_anchor or comparison.p_value_holm > 0.05, metric
            if not comparison.is_anchor:
                low, high = comparison.difference_ci
                assert low < 0 < high, metric
    assert all(t.p_value_holm > 0.05 for t in blind.top_k)
    assert all(t.p_value_holm > 0.05 and t.queries_tested == 150 for t in blind.prefix_tests)
    for row in blind.groups:
        assert row.ci["top_k_share"][0] < row.pool_share < row.ci["top_k_share"][1]


def test_one_ranking_has_tests_but_no_query_resampled_intervals():
    frame = _rankings(5, queries=1, size=400, push_down=1.0)
    table = ranking_metrics(frame, sensitive="group", score="score", k=50)
    assert table.queries == 1 and table.intervals.startswith("none: 1 query")
    comparison = table.measures["exposure"].to_benchmark["group=b"]
    assert comparison.difference_ci is None and comparison.p_value < 1e-3
    assert all(row.ci["exposure"] is None for row in table.groups)


def test_excluded_rows_are_counted_and_items_without_a_group_keep_their_places():
    frame = pd.DataFrame(
        {
            "job": ["j1"] * 4 + ["j2"] * 3 + ["j3"],
            "group": ["a", "b", None, "a", "b", "a", "b", "a"],
            "rank": [1, 2, 3, np.nan, 3, 1, 2, 1],
        }
    )
    table = ranking_metrics(frame, sensitive="group", rank="rank", query="job", k=1, min_group_size=1)
    assert table.excluded == {"missing_rank": 1, "single_item_queries": 1, "missing_group": 1}
    assert table.queries == 2 and table.items == 6 and table.notes
    values = {row.group: row.values for row in table.groups}
    # a: positions 1 (j1) and 1 (j2); b: 2 (j1), 2 and 3 (j2)
    assert values["group=a"]["exposure"] == pytest.approx(1.0)
    assert values["group=b"]["exposure"] == pytest.approx((2 / np.log2(3) + 1 / np.log2(4)) / 3)
    assert values["group=a"]["selection_rate_at_k"] == 1.0 and values["group=b"]["top_k_share"] == 0.0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"rank": "rank", "score": "score"}, "exactly one of 'rank'"),
        ({"rank": "tied"}, "share a rank with another item of the same query"),
        ({"rank": "text"}, "must hold numbers"),
        ({"query": "gappy"}, "missing value"),
        ({"k": 0}, "'k' parameter must be an integer >= 1"),
        ({"attention_p": 1.5}, "'attention_p' parameter"),
        ({"sensitive": "nope"}, "must name a column"),
    ],
)
def test_bad_input_is_a_clear_config_error(change, message):
    frame = pd.DataFrame(
        {
            "job": ["j1"] * 3,
            "group": ["a", "b", "a"],
            "rank": [1, 2, 3],
            "score": [0.3, 0.2, 0.1],
            "tied": [1, 1, 2],
            "text": ["1", "two", "3"],
            "gappy": ["j1", None, "j1"],
        }
    )
    settings_ = {"sensitive": "group", "rank": "rank", "query": "job"} | change
    if "score" in change and "rank" not in change:
        settings_.pop("rank")
    with pytest.raises(ConfigError, match=message):
        ranking_metrics(frame, **settings_)


@pytest.fixture(scope="module")
def screened(adult_test, adult_model, tmp_path_factory):
    """The demo income model used as a screener: 4,000 Adult test rows as applicants to 80 postings of 50 each,
    ranked within each posting by the model's score; the control ranks them by a coin (a group-blind ranker)."""
    import dataclasses

    from audit import run_audit
    from audit.config._settings import GapsConfig, MitigationConfig, QualityConfig, RankingConfig, SlicesConfig
    from audit.demo._demo import demo_config

    rows = adult_test.sample(4_000, random_state=0).reset_index(drop=True)
    rng = np.random.default_rng(0)
    rows["posting"] = [f"posting-{i:02d}" for i in rng.permutation(np.repeat(np.arange(80), 50))]
    rows["coin"] = rng.random(len(rows))
    base = demo_config(out_dir=str(tmp_path_factory.mktemp("ranking")))
    base = dataclasses.replace(
        base,
        explainers=dataclasses.replace(base.explainers, methods=()),
        quality=QualityConfig(enabled=False),
        slices=SlicesConfig(enabled=False),
        mitigation=MitigationConfig(enabled=False),
        gaps=GapsConfig(enabled=False),
    )
    by_model = dataclasses.replace(
        base, ranking=RankingConfig(score="model", query="posting", n_boot=300, ties="random")
    )
    by_coin = dataclasses.replace(
        base,
        ranking=RankingConfig(score="coin", query="posting", n_boot=300),
        fairness=dataclasses.replace(base.fairness, ll144={**base.fairness.ll144, "mode": "ranking"}),
    )
    return (
        run_audit(by_model, data=rows, model=adult_model, quiet=True),
        run_audit(by_coin, data=rows, model=adult_model, quiet=True),
        rows,
    )


def test_a_screener_on_real_data_is_audited_gated_and_reported(screened, tmp_path):
    from audit import load_policy
    from audit.gate._policy import evaluate
    from audit.result._result import AuditResult
    from reports import render_html

    by_model, by_coin, rows = screened
    assert not by_model.failures and [t.name for t in by_model.ranking] == ["sex", "race", "sex x race"]
    sex = by_model.ranking[0]
    assert sex.queries == 80 and sex.items == 4_000 and "posting" not in by_model.data.features
    assert sex.ties == "random" and sex.tied_items > 0  # a tree ensemble's scores tie
    women = sex.measures["exposure"].to_benchmark["sex=Female"]
    assert sex.measures["exposure"].benchmark_group == "sex=Male" and women.p_value_holm < 1e-3
    assert women.ratio_ci[1] < 1
    warnings = [f for f in by_model.findings if f.kind == "ranking" and f.severity == "warning"]
    assert any(f.evidence["group"] == "sex=Female" and f.evidence["table"] == "sex" for f in warnings)
    assert not [f for f in by_coin.findings if f.kind == "ranking" and f.severity == "warning"]
    # the model's own scores rank: the top 10 of each posting are its 10 highest scores
    female_top = next(t for t in sex.top_k if t.group == "sex=Female")
    assert female_top.observed < female_top.expected and female_top.p_value_holm < 1e-3
    policy_text = (
        '[[rules]]\nmetric = "selection_rate_at_k"\nwhere = "ranking"\nstat = "ratio_to_best"\ncompare = ">="\n'
        'threshold = 0.8\ntables = ["sex"]\n'
    )
    (tmp_path / "policy.toml").write_text(policy_text)
    policy = load_policy(tmp_path / "policy.toml")
    gate = evaluate(by_model, [policy])
    assert not gate.passed
    assert any(o.status == "fail" and "sex=Female" in o.scope for o in gate.outcomes)
    assert evaluate(by_coin, [policy]).passed
    coin_sex = by_coin.ranking[0].measures["exposure"].to_benchmark
    assert all(c.is_anchor or c.p_value_holm > 0.05 for c in coin_sex.values())
    again = AuditResult.from_json(by_model.to_json())
    assert again.ranking == by_model.ranking and again.schema_version == __import__("audit").SCHEMA_VERSION
    html = render_html(by_model)
    assert "Who is seen at the top" in html and "Top 10 against a group-blind ranking" in html
    assert html.count('role="img" aria-label="Exposure per item by') == 3


def test_an_ll144_scoring_table_fed_from_ranks_counts_the_better_half_of_each_list(screened):
    from reports import render_html

    _, by_coin, rows = screened
    ll144 = by_coin.regulatory.ll144
    assert ll144.mode == "ranking" and ll144.rate == "scoring_rate" and ll144.total_known == 4_000
    # by hand: within each posting of 50, the 25 highest coins are above the median place (25.5)
    place = rows.groupby("posting")["coin"].rank(ascending=False)
    above = place < (rows.groupby("posting")["coin"].transform("size") + 1) / 2
    expected = above.groupby(rows["sex"]).mean()
    table = next(t for t in ll144.tables if t.breakdown == "sex")
    for row in table.rows:
        assert row.scoring_rate == pytest.approx(expected[row.category.split("=")[1]], abs=1e-12)
    best = max(r.scoring_rate for r in table.rows if not r.small)
    assert all(r.impact_ratio == pytest.approx(r.scoring_rate / best) for r in table.rows)
    assert "median place of their own ranked list" in render_html(by_coin)


def test_ranking_settings_are_checked_before_any_work(adult_test, adult_model, tmp_path):
    import dataclasses

    from audit import run_audit
    from audit.config._settings import AuditConfig, RankingConfig
    from audit.demo._demo import demo_config

    rows = adult_test.head(300).copy()
    rows["posting"] = "p1"
    rows["tied"] = 1.0
    base = demo_config(out_dir=str(tmp_path / "out"))
    with pytest.raises(ConfigError, match="no such column|does not have"):
        run_audit(dataclasses.replace(base, ranking=RankingConfig(rank="nope")), data=rows, model=adult_model)
    with pytest.raises(ConfigError, match="share a score with another item"):
        run_audit(
            dataclasses.replace(base, ranking=RankingConfig(score="tied", query="posting")),
            data=rows,
            model=adult_model,
            quiet=True,
        )
    assert not (tmp_path / "out").exists()
    with pytest.raises(ConfigError, match="not both"):
        AuditConfig.from_dict({"data": {"label": "y", "sensitive": ["s"]}, "ranking": {"rank": "r", "score": "s"}})
    with pytest.raises(ConfigError, match="ranking.groupings"):
        AuditConfig.from_dict(
            {"data": {"label": "y", "sensitive": ["s"]}, "ranking": {"rank": "r", "groupings": [["other"]]}}
        )


def test_the_permutation_test_and_its_normal_approximation_agree(monkeypatch):
    import audit.ranking._permutation as permutation

    frame = _rankings(9, queries=60, size=25, push_down=0.12)
    simulated = ranking_metrics(frame, sensitive="group", score="score", query="job", n_boot=0)
    monkeypatch.setattr(permutation, "PERMUTATION_BUDGET", 0)
    normal = ranking_metrics(frame, sensitive="group", score="score", query="job", n_boot=0)
    for metric in ("exposure", "attention"):
        by_permutation = simulated.measures[metric].to_benchmark["group=b"]
        by_normal = normal.measures[metric].to_benchmark["group=b"]
        assert "permutations" in by_permutation.test and "normal approximation" in by_normal.test
        assert 0.001 < by_normal.p_value < 0.5, metric  # a case where the two can be compared
        # Monte Carlo error of 1,999 permutations at p: sqrt(p(1-p)/2000) ~ 0.005
        assert by_permutation.p_value == pytest.approx(by_normal.p_value, abs=0.02), metric


def _fairsearchcore():
    """The FA*IR authors' package (dev extra). Its memo key's __hash__ returns a numpy float under current pandas,
    which Python refuses; wrapped in int() here, nothing else changed."""
    fsc = pytest.importorskip("fairsearchcore", reason="the dev extra's fairsearchcore is the FA*IR oracle")
    from fairsearchcore import fail_prob

    key = fail_prob.LegalAssignmentKey
    if not getattr(key, "_int_hash", False):
        original = key.__hash__
        key.__hash__ = lambda self: int(original(self))
        key._int_hash = True
    return fsc


def _prefix_designs(k, p):
    one = np.array([k])
    return one, np.array([0]), one, np.array([p])


@pytest.mark.parametrize("k, p, alpha", [(10, 0.3, 0.1), (20, 0.5, 0.1), (30, 0.2, 0.05), (40, 0.4, 0.1)])
def test_fair_prefix_tables_and_failure_probabilities_equal_fairsearchcores(k, p, alpha):
    from audit.ranking._prefix import _null_cdf, fail_probability, prefix_tables

    fair = _fairsearchcore().Fair(k, p, alpha)
    pool, members, k_q, p_array = _prefix_designs(k, p)
    unadjusted = (_null_cdf(pool, members, k, p_array) < alpha * (1 - 1e-12)).sum(-1)[0]
    assert list(unadjusted) == fair.create_unadjusted_mtable()
    theirs = fair.create_adjusted_mtable()
    ours = fail_probability(pool, members, k_q, np.array([theirs]), p_array)[0]
    assert ours == pytest.approx(fair.compute_fail_probability(theirs), abs=1e-12)
    level, table, fail = prefix_tables(pool, members, k_q, k, alpha, p_array)
    assert fail[0] <= alpha  # theirs picks the closest table, which can exceed alpha (k=30: 0.0529)
    # the next table up (the least level above ours that changes it) fails a group-blind ranking more than alpha
    higher = (_null_cdf(pool, members, k, p_array) < level[0] * 1.0001 + 1e-9).sum(-1)
    looser = np.maximum(higher, table)
    if not (looser == table).all():
        assert fail_probability(pool, members, k_q, looser, p_array)[0] > alpha


def test_the_failure_probability_is_monte_carlos_where_fairsearchcore_errs():
    """k = 15, p = 0.7: fairsearchcore 1.0.4 gives 0.0998 for its own adjusted table, 2e5 simulated rankings
    about 0.1097; the dynamic programme agrees with the simulation, and so for the finite pool of a query."""
    from audit.ranking._prefix import fail_probability

    table = np.array([[0, 0, 1, 1, 2, 2, 3, 4, 4, 5, 5, 6, 6, 7, 8]])
    rng = np.random.default_rng(0)
    coins = np.cumsum(rng.random((200_000, 15)) < 0.7, axis=1)
    simulated = (coins < table).any(axis=1).mean()
    exact = fail_probability(np.array([15]), np.array([0]), np.array([15]), table, np.array([0.7]))[0]
    assert abs(exact - simulated) < 4 * np.sqrt(simulated * (1 - simulated) / 200_000)
    # a finite pool: 8 of 20 items the group's, top 10 drawn without replacement
    shuffled = rng.random((200_000, 20)).argsort(axis=1)[:, :10] < 8
    required = np.array([[0, 0, 0, 1, 1, 1, 2, 2, 3, 3]])
    simulated = (np.cumsum(shuffled, axis=1) < required).any(axis=1).mean()
    exact = fail_probability(np.array([20]), np.array([8]), np.array([10]), required)[0]
    assert abs(exact - simulated) < 4 * np.sqrt(simulated * (1 - simulated) / 200_000)


def test_an_ll144_table_from_ranks_needs_a_ranking_and_a_bad_prefix_level_is_refused():
    from audit import AuditConfig, DataConfig, FairnessConfig, RankingConfig

    with pytest.raises(ConfigError, match='mode = "ranking" computes the scoring rate from places'):
        AuditConfig(
            data=DataConfig(label="y", sensitive=("sex",)),
            fairness=FairnessConfig(ll144={"sex": "sex", "mode": "ranking"}),
        )
    with pytest.raises(ConfigError, match="ranking.prefix_alpha"):
        RankingConfig(score="s", prefix_alpha=0.7)
    with pytest.raises(ConfigError, match="prefix_alpha"):
        ranking_metrics(_rankings(0, queries=2, size=5), sensitive="group", score="score", prefix_alpha=0)
