"""The store (SQLite and a real PostgreSQL server) and the monitor: audits and windows round-trip; two writers lose
nothing; a killed writer leaves no partial rows; a newer store is refused; a planted drop of the impact ratio alarms
within weeks while a stable stream does not; bad logs are clear errors."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import audit
from audit._errors import ConfigError, DataError, ResourceError
from audit.monitor._log import monitor_log
from audit.store._store import open_store
from tests import postgres

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def small_result():
    frame = pd.DataFrame({"g": ["a", "b"] * 20, "y": [0, 1, 1, 0] * 10, "d": [0, 1] * 20})
    return audit.run_audit(
        audit.AuditConfig(data=audit.DataConfig(label="y", sensitive=("g",), prediction="d")), data=frame
    )


@pytest.fixture(scope="module")
def postgres_url():
    if postgres.binaries() is None:
        pytest.skip("PostgreSQL is not installed (.ci/run installs Debian's postgresql)")
    folder = Path(tempfile.mkdtemp(prefix="audit-pg-"))  # under /tmp: the server's user must reach it
    server = postgres.Server(folder)
    try:
        yield server.start()
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def _stores(tmp_path, postgres_url):
    return {"sqlite": str(tmp_path / "store.db"), "postgresql": postgres_url}


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_an_audit_round_trips_through_the_store(kind, tmp_path, small_result, postgres_url):
    url = _stores(tmp_path, postgres_url)[kind]
    with open_store(url) as store:
        before = len(store.audits())
        audit_id = store.record_audit(small_result, label="v1.2")
        listed = store.audits()
        assert (
            len(listed) == before + 1
            and listed[-1]["label"] == "v1.2"
            and listed[-1]["result_schema"] == audit.SCHEMA_VERSION
        )
        assert store.load_audit(audit_id) == audit.AuditResult.from_json(small_result.to_json())


_WRITER = """
import sys
import pandas as pd
import audit
from audit.store._store import open_store
frame = pd.DataFrame({"g": ["a", "b"] * 20, "y": [0, 1, 1, 0] * 10, "d": [0, 1] * 20})
config = audit.AuditConfig(data=audit.DataConfig(label="y", sensitive=("g",), prediction="d"))
result = audit.run_audit(config, data=frame)
with open_store(sys.argv[1]) as store:
    for i in range(int(sys.argv[2])):
        store.record_audit(result, label=f"{sys.argv[3]}-{i}")
"""


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_two_processes_writing_at_once_lose_nothing(kind, tmp_path, postgres_url):
    url = _stores(tmp_path, postgres_url)[kind]
    with open_store(url) as store:
        before = len(store.audits())
    writers = [
        subprocess.Popen([sys.executable, "-c", _WRITER, url, "15", name], cwd=ROOT) for name in ("first", "second")
    ]
    assert [w.wait(timeout=300) for w in writers] == [0, 0]
    with open_store(url) as store:
        labels = [a["label"] for a in store.audits()[before:]]
    assert sorted(labels) == sorted(f"{name}-{i}" for name in ("first", "second") for i in range(15))


_KILLED = """
import os, sys
import sqlalchemy as sa
from audit.store._store import open_store
from audit.store._schema import audits
store = open_store(sys.argv[1])
with store.engine.begin() as connection:
    connection.execute(audits.insert().values(recorded_at="now", title="half", result_schema="2.6", failures=0,
                                              warnings=0, result_json="{}"))
    os._exit(9)  # killed mid-write: the transaction never commits
"""


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_writer_killed_mid_write_leaves_no_partial_rows(kind, tmp_path, postgres_url):
    url = _stores(tmp_path, postgres_url)[kind]
    with open_store(url) as store:
        before = store.audits()
    assert subprocess.run([sys.executable, "-c", _KILLED, url], cwd=ROOT).returncode == 9
    with open_store(url) as store:
        assert store.audits() == before


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_store_of_a_newer_schema_is_refused_and_left_as_it_is(kind, tmp_path, postgres_url, small_result):
    import sqlalchemy as sa

    from audit.store._schema import meta

    url = str(tmp_path / "newer.db") if kind == "sqlite" else postgres_url
    with open_store(url) as store:
        store.record_audit(small_result)
        with store.engine.begin() as connection:
            connection.execute(meta.update().where(meta.c.key == "schema_version").values(value="99"))
        count = len(store.audits())
    with pytest.raises(ConfigError, match="newer audit-toolkit"):
        open_store(url)
    from audit.store._store import _engine_url

    engine = sa.create_engine(_engine_url(url))
    with engine.begin() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM audit_runs")).scalar() == count
        connection.execute(meta.update().where(meta.c.key == "schema_version").values(value="1"))  # for the others
    engine.dispose()


def test_bad_store_urls_are_clear_errors(tmp_path):
    with pytest.raises(ResourceError, match="Cannot reach the store postgresql://someone:\\*\\*\\*@127.0.0.1:1/db"):
        open_store("postgresql://someone:secret@127.0.0.1:1/db")
    with pytest.raises(ConfigError, match="unsupported database"):
        open_store("mysql://root@localhost/x")
    with pytest.raises(ConfigError, match="does not exist"):
        open_store(str(tmp_path / "no" / "such" / "folder" / "store.db"))


WEEK0 = pd.Timestamp("2026-01-05", tz="UTC")  # a Monday: weeks run Monday to Sunday


def _log(weeks: int, *, drop_at: int | None, seed: int, per_week: int = 6000) -> pd.DataFrame:
    """Decisions for three groups; b's impact ratio to a is 0.95, dropping to 0.70 from week ``drop_at``."""
    rng = np.random.default_rng(seed)
    n = weeks * per_week
    seconds = np.sort(rng.integers(0, weeks * 7 * 86_400, n))
    times = WEEK0 + pd.to_timedelta(seconds, unit="s")
    group = rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2])
    week = seconds // (7 * 86_400)
    ratio = np.where(group == "a", 1.0, 0.95)
    if drop_at is not None:
        ratio = np.where((group == "b") & (week >= drop_at), 0.70, ratio)
    decision = (rng.random(n) < 0.4 * ratio).astype(int)
    return pd.DataFrame({"time": times.strftime("%Y-%m-%dT%H:%M:%SZ"), "group": group, "decision": decision})


def test_a_planted_drop_alarms_within_weeks_and_the_counts_are_pandas(tmp_path):
    log = _log(30, drop_at=20, seed=1)
    with open_store(tmp_path / "m.db") as store:
        run = monitor_log(log, time="time", decision="decision", sensitive=["group"], store=store, horizon=52)
        stored = store.windows("decisions")
    assert run.reference == {"group": "a"} and "largest group" in run.reference_source["group"]
    first = min(r["look"] for r in run.alarms)
    assert {r["grp"] for r in run.alarms} == {"b"} and 21 <= first <= 24  # week 20 is look 21
    assert all(r["alarm_ratio"] < r["alarm_high"] < 0.8 for r in run.alarms)
    # the window counts by hand
    times = pd.to_datetime(log["time"], utc=True)
    week = ((times - WEEK0).dt.days // 7).rename("week")
    by_hand = log.groupby([week, log["group"]])["decision"].agg(["size", "sum"])
    for row in stored:
        look_week = row["look"] - 1
        assert (row["n"], row["successes"]) == tuple(by_hand.loc[(look_week, row["grp"])]), row
    assert len(stored) == len(run.rows) == 29 * 3  # the last week may still be filling: left for a later run


def test_a_stable_stream_raises_no_alarm_and_a_rerun_appends_only_new_windows(tmp_path):
    log = _log(40, drop_at=None, seed=2)
    with open_store(tmp_path / "m.db") as store:
        early = monitor_log(
            log.iloc[: len(log) // 2], time="time", decision="decision", sensitive=["group"], store=store
        )
        later = monitor_log(log, time="time", decision="decision", sensitive=["group"], store=store)
        again = monitor_log(log, time="time", decision="decision", sensitive=["group"], store=store)
        stored = store.windows("decisions")
    assert not early.alarms and not later.alarms and again.rows == []
    looks = sorted({r["look"] for r in stored})
    assert looks == list(range(1, 40)) and len(stored) == 39 * 3
    assert any("already in the store" in note for note in later.notes)


def test_bad_logs_are_clear_errors(tmp_path):
    log = _log(3, drop_at=None, seed=3, per_week=200)
    common = dict(decision="decision", sensitive=["group"])
    with pytest.raises(ConfigError, match="'time' column 'when' is not in the log"):
        monitor_log(log, time="when", **common)
    shuffled = log.sample(frac=1.0, random_state=0)
    with pytest.raises(DataError, match="go backwards at row"):
        monitor_log(shuffled, time="time", **common)
    zones = log.assign(time=log["time"].str.replace("Z", "+00:00"))
    zones.loc[5:, "time"] = zones.loc[5:, "time"].str.replace("+00:00", "+02:00")
    with pytest.raises(DataError, match="mixes time zones"):
        monitor_log(zones, time="time", **common)
    naive = log.assign(time=log["time"].where(log.index > 3, log["time"].str.rstrip("Z")))
    with pytest.raises(DataError, match="mixes times with a zone and without"):
        monitor_log(naive, time="time", **common)
    with pytest.raises(DataError, match="0/1 or true/false"):
        monitor_log(log.assign(decision="yes"), time="time", **common)
    with pytest.raises(ConfigError, match="window"):
        monitor_log(log, time="time", window="fortnight", **common)


def test_a_group_without_rows_in_a_window_is_no_evidence_and_the_reference_cannot_change(tmp_path):
    log = _log(6, drop_at=None, seed=4, per_week=400)
    week = (pd.to_datetime(log["time"], utc=True) - WEEK0).dt.days // 7
    log = log[~((log["group"] == "c") & (week == 2))]
    with open_store(tmp_path / "m.db") as store:
        run = monitor_log(log, time="time", decision="decision", sensitive=["group"], store=store)
        empty = next(r for r in run.rows if r["grp"] == "c" and r["look"] == 3)
        assert empty["n"] == 0 and empty["ratio"] is None and not empty["alarm"] and "no evidence" in empty["note"]
        with pytest.raises(ConfigError, match="changing the reference mid-stream"):
            monitor_log(
                log, time="time", decision="decision", sensitive=["group"], store=store, reference={"group": "b"}
            )
    with pytest.raises(ConfigError, match="alpha is spent"):
        monitor_log(log, time="time", decision="decision", sensitive=["group"], horizon=3)


def test_the_command_line_monitors_into_a_store_and_records_audits(tmp_path, capsys):
    from audit.cli import main

    _log(26, drop_at=14, seed=5).to_csv(tmp_path / "log.csv", index=False)
    (tmp_path / "monitor.toml").write_text(
        '[monitor]\npath = "log.csv"\ntime = "time"\ndecision = "decision"\nsensitive = ["group"]\nhorizon = 52\n'
        'store = "store.db"\n',
        encoding="utf-8",
    )
    assert main(["monitor", str(tmp_path / "monitor.toml")]) == 1
    printed = capsys.readouterr().out
    assert "ALARM" in printed and "group=b" in printed and "compared with a" in printed
    assert main(["monitor", str(tmp_path / "monitor.toml")]) == 0  # the same log again: no new window, no new alarm
    assert "0 new week(s)" in capsys.readouterr().out
    with open_store(tmp_path / "store.db") as store:
        assert len({r["window_start"] for r in store.windows()}) == 25
    (tmp_path / "typo.toml").write_text('[monitor]\npath = "log.csv"\ntimes = "time"\n', encoding="utf-8")
    assert main(["monitor", str(tmp_path / "typo.toml")]) == 2
    assert "Did you mean monitor.'time'" in capsys.readouterr().err


def test_audit_run_records_the_audit_in_the_store_and_refuses_a_bad_store_before_any_work(tmp_path, capsys):
    from audit.cli import main

    frame = pd.DataFrame({"g": ["a", "b"] * 40, "y": [0, 1, 1, 0] * 20, "d": [0, 1] * 40})
    frame.to_csv(tmp_path / "data.csv", index=False)
    (tmp_path / "audit.toml").write_text(
        'title = "stored"\n[data]\npath = "data.csv"\nlabel = "y"\nsensitive = ["g"]\nprediction = "d"\n'
        '[output]\ndir = "out"\n',
        encoding="utf-8",
    )
    store = str(tmp_path / "store.db")
    run = ["run", str(tmp_path / "audit.toml"), "--quiet", "--store", store]
    assert main([*run, "--release", "1.0.0"]) == 0
    assert "Stored as audit 1" in capsys.readouterr().out
    with open_store(store) as opened:
        (recorded,) = opened.audits()
        assert recorded["title"] == "stored" and recorded["label"] == "1.0.0" and recorded["data_sha256"]
        assert opened.load_audit(1) == audit.AuditResult.load(tmp_path / "out" / "audit.json")
    shutil.rmtree(tmp_path / "out")
    assert main([*run[:-1], str(tmp_path / "missing" / "store.db")]) == 2
    assert not (tmp_path / "missing").exists() and not (tmp_path / "out").exists()  # nothing ran, nothing written


def test_the_history_page_shows_audits_windows_and_alarms_in_a_real_browser(tmp_path, small_result):
    """The page loads with no console error or request, draws one chart per monitored feature with the alarms,
    and shows a hostile group name as text."""
    from audit.cli import main

    playwright = pytest.importorskip("playwright.sync_api", reason="browser tests skipped: playwright not installed")
    from tests.test_browser import CHROMIUM

    log = _log(20, drop_at=10, seed=6)
    payload = '<img src=x onerror="window.__xss=1">'
    log["group"] = log["group"].replace({"c": payload})
    store_path = tmp_path / "store.db"
    with open_store(store_path) as store:
        store.record_audit(small_result, label="1.0")
        monitor_log(log, time="time", decision="decision", sensitive=["group"], store=store, horizon=52)
    assert main(["history", "--store", str(store_path), "--out", str(tmp_path / "history.html")]) == 0
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page()
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("request", lambda r: problems.append(r.url) if not r.url.startswith(("file:", "data:")) else None)
        page.goto((tmp_path / "history.html").as_uri())
        page.wait_for_function("document.querySelectorAll('div.figure .main-svg').length >= 1")
        assert page.locator("#audits tbody tr").count() == 1 and "1.0" in page.locator("#audits").inner_text()
        assert page.locator("div.figure .main-svg .scatterlayer .point").count() > 20
        assert (
            "Alarms" in page.locator("#monitoring").inner_text() and payload in page.locator("#monitoring").inner_text()
        )
        assert page.evaluate("window.__xss") is None and problems == []
        browser.close()


def test_the_monitoring_demo_finds_its_simulated_update(tmp_path, capsys):
    from audit.cli import main

    assert main(["demo", "--monitor", "--out", str(tmp_path / "demo"), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "ALARM" in printed and "sex=Female" in printed
    with open_store(tmp_path / "demo" / "store.db") as store:
        rows = store.windows()
    alarms = [r for r in rows if r["alarm"]]
    assert {(r["feature"], r["grp"]) for r in alarms} >= {("sex", "Female")}
    first = min(r["look"] for r in alarms if r["grp"] == "Female")
    assert first >= 14  # never before the simulated update in week 14
    assert (tmp_path / "demo" / "history.html").stat().st_size > 100_000  # plotly.js is inside


def test_a_release_gate_reads_the_stores_open_alarms(tmp_path, small_result, capsys):
    from audit.cli import main

    result_path = tmp_path / "audit.json"
    result_path.write_text(small_result.to_json(), encoding="utf-8")
    (tmp_path / "release.toml").write_text(
        '[[rules]]\nmetric = "open_alarms"\nwhere = "monitor"\ncompare = "<="\nthreshold = 0\n', encoding="utf-8"
    )
    gate = ["check", "--result", str(result_path), "--policy", str(tmp_path / "release.toml")]
    assert main(gate) == 1  # no store given: no evidence, the rule errors
    assert "carries no monitoring" in capsys.readouterr().out
    stable, drifted = tmp_path / "stable.db", tmp_path / "drifted.db"
    with open_store(stable) as store:
        monitor_log(_log(12, drop_at=None, seed=7), time="time", decision="decision", sensitive=["group"], store=store)
    with open_store(drifted) as store:
        monitor_log(_log(30, drop_at=18, seed=8), time="time", decision="decision", sensitive=["group"], store=store)
        summary = store.monitoring_summary()
    assert summary.streams[0].open_alarms == ["b"] and summary.streams[0].alarms
    assert main([*gate, "--store", str(stable)]) == 0
    assert main([*gate, "--store", str(drifted)]) == 1
    assert "1 group(s) alarming at the last look" in capsys.readouterr().out
    assert main([*gate, "--store", str(tmp_path / "empty.db")]) == 1  # a store without streams is no evidence


def test_a_log_read_in_chunks_gives_the_windows_of_the_whole_and_keeps_its_checks(tmp_path):
    from audit.monitor._command import read_log_chunks

    log = _log(10, drop_at=6, seed=9, per_week=1500)
    whole = monitor_log(log, time="time", decision="decision", sensitive=["group"], horizon=52)
    path = tmp_path / "log.csv"
    log.to_csv(path, index=False)
    pieces = monitor_log(
        read_log_chunks(str(path), 1000, "time"), time="time", decision="decision", sensitive=["group"], horizon=52
    )
    strip = [{k: v for k, v in r.items() if k != "recorded_at"} for r in whole.rows]
    assert [{k: v for k, v in r.items() if k != "recorded_at"} for r in pieces.rows] == strip
    log.to_parquet(tmp_path / "log.parquet")
    parquet = monitor_log(
        read_log_chunks(str(tmp_path / "log.parquet"), 1000, "time"),
        time="time",
        decision="decision",
        sensitive=["group"],
        horizon=52,
    )
    assert [{k: v for k, v in r.items() if k != "recorded_at"} for r in parquet.rows] == strip
    first, second = log.iloc[:3000], log.iloc[3000:6000]
    with pytest.raises(DataError, match="go backwards at row 3002"):
        monitor_log([second, first], time="time", decision="decision", sensitive=["group"])
    shifted = second.assign(time=second["time"].str.replace("Z", "+01:00"))
    with pytest.raises(DataError, match="changes zone within the log"):
        monitor_log(
            [first.assign(time=first["time"].str.replace("Z", "+00:00")), shifted],
            time="time",
            decision="decision",
            sensitive=["group"],
        )


def test_an_audit_run_with_a_store_carries_its_streams_into_the_art72_dossier(tmp_path):
    import json

    from audit.cli import main
    from audit.dossiers import build_dossier
    from audit.dossiers._sources import resolve

    store_path = tmp_path / "store.db"
    with open_store(store_path) as store:
        monitor_log(_log(26, drop_at=14, seed=10), time="time", decision="decision", sensitive=["group"], store=store)
    frame = pd.DataFrame({"g": ["a", "b"] * 40, "y": [0, 1, 1, 0] * 20, "d": [0, 1] * 40})
    frame.to_csv(tmp_path / "data.csv", index=False)
    (tmp_path / "audit.toml").write_text(
        '[data]\npath = "data.csv"\nlabel = "y"\nsensitive = ["g"]\nprediction = "d"\n[output]\ndir = "out"\n',
        encoding="utf-8",
    )
    assert main(["run", str(tmp_path / "audit.toml"), "--quiet", "--store", str(store_path)]) == 0
    record = tmp_path / "out" / "audit.json"
    result = audit.AuditResult.load(record)
    assert result.monitoring.streams[0].open_alarms == ["b"]
    dossier = build_dossier(record, "eu-ai-act-art72")
    fields = {f.id: f for f in dossier.fields()}
    assert fields["streams"].status == "filled" and fields["alarms"].status == "filled"
    assert "group(s) alarming at the last look" in fields["alarms"].text
    raw = json.loads(record.read_text())
    for evidence in fields["alarms"].evidence + fields["streams"].evidence:
        assert resolve(raw, evidence.pointer) == evidence.value
    assert fields["corrective_actions"].status == "needs human input"


def test_late_labels_give_tpr_and_fpr_per_window_and_replace_them_as_they_arrive(tmp_path):
    rng = np.random.default_rng(11)
    log = _log(12, drop_at=None, seed=11, per_week=1500)
    truth = (rng.random(len(log)) < 0.5).astype(float)
    week = ((pd.to_datetime(log["time"], utc=True) - WEEK0).dt.days // 7).to_numpy()
    early = log.assign(outcome=np.where(week < 6, truth, np.nan))  # outcomes known for the first six weeks only
    common = dict(time="time", decision="decision", sensitive=["group"], label="outcome")
    with open_store(tmp_path / "m.db") as store:
        first = monitor_log(early, store=store, **common)
        tpr = [r for r in first.rows if r["metric"] == "tpr"]
        assert {r["window_start"] for r in tpr} == {
            r["window_start"] for r in first.rows if r["metric"] == "selection_rate"
        }
        assert all(r["n"] == 0 and r["value"] is None for r in tpr if r["look"] > 6)
        # by hand, week 2 of group b
        rows = (week == 1) & (log["group"] == "b").to_numpy() & (truth == 1)
        row = next(r for r in tpr if r["look"] == 2 and r["grp"] == "b")
        assert (row["n"], row["successes"]) == (int(rows.sum()), int(log["decision"].to_numpy()[rows].sum()))
        assert not any(r["alarm"] for r in first.rows if r["metric"] != "selection_rate")
        later = monitor_log(log.assign(outcome=truth), store=store, **common)  # the rest of the outcomes arrive
        assert [r for r in later.rows if r["metric"] == "selection_rate"] == []  # no window is looked at twice
        stored = [r for r in store.windows() if r["metric"] == "tpr"]
        assert len(stored) == len(tpr) and all(r["n"] > 0 for r in stored)  # replaced, not appended
    with pytest.raises(DataError, match="label column 'outcome' must hold 0/1"):
        monitor_log(log.assign(outcome="maybe"), **common)


def test_explanation_drift_follows_a_changed_input_and_its_sample_does_not_depend_on_the_chunks(
    adult_test, adult_model
):
    from audit.datasets import DEMO_FEATURES

    rows = adult_test.sample(4000, random_state=1).reset_index(drop=True)
    seconds = np.sort(np.random.default_rng(1).integers(0, 8 * 7 * 86_400, len(rows)))
    log = rows.assign(
        time=(WEEK0 + pd.to_timedelta(seconds, unit="s")).strftime("%Y-%m-%dT%H:%M:%SZ"),
        decision=(adult_model.predict_proba(rows[DEMO_FEATURES])[:, 1] >= 0.5).astype(int),
    )
    late = seconds >= 4 * 7 * 86_400
    log.loc[late, "capital-gain"] = 15_024  # from week 5 every applicant reports a large capital gain
    common = dict(time="time", decision="decision", sensitive=["sex"], model=adult_model, features=list(DEMO_FEATURES))
    run = monitor_log(log, explain_rows=150, **common)
    shares = [r for r in run.rows if r["metric"] == "attribution_share"]
    drift = {r["look"]: r["value"] for r in run.rows if r["metric"] == "attribution_drift"}
    for look in {r["look"] for r in shares}:
        assert sum(r["value"] for r in shares if r["look"] == look) == pytest.approx(1.0)
    assert drift[1] == 0 and max(drift[k] for k in (2, 3, 4)) < min(drift[k] for k in (5, 6, 7))
    pieces = monitor_log([log.iloc[:1500], log.iloc[1500:]], explain_rows=150, **common)
    assert [r["value"] for r in pieces.rows if r["metric"] == "attribution_share"] == pytest.approx(
        [r["value"] for r in shares]
    )


def test_the_command_line_reads_a_model_file_for_explanation_drift(adult_test, adult_model, tmp_path):
    import joblib

    from audit.cli import main
    from audit.datasets import DEMO_FEATURES

    rows = adult_test.sample(1500, random_state=2).reset_index(drop=True)
    seconds = np.sort(np.random.default_rng(2).integers(0, 4 * 7 * 86_400, len(rows)))
    rows.assign(
        time=(WEEK0 + pd.to_timedelta(seconds, unit="s")).strftime("%Y-%m-%dT%H:%M:%SZ"),
        decision=(adult_model.predict_proba(rows[DEMO_FEATURES])[:, 1] >= 0.5).astype(int),
    ).to_csv(tmp_path / "log.csv", index=False)
    joblib.dump(adult_model, tmp_path / "model.joblib")
    features = ", ".join(f'"{f}"' for f in DEMO_FEATURES)
    (tmp_path / "monitor.toml").write_text(
        f'[monitor]\npath = "log.csv"\ntime = "time"\ndecision = "decision"\nsensitive = ["sex"]\n'
        f'model = "model.joblib"\nfeatures = [{features}]\nexplain_rows = 60\nstore = "store.db"\n',
        encoding="utf-8",
    )
    code = main(["monitor", str(tmp_path / "monitor.toml")])
    with open_store(tmp_path / "store.db") as store:
        stored = store.windows()
    assert code == (1 if any(r["alarm"] for r in stored) else 0)
    assert {r["metric"] for r in stored} == {"selection_rate", "attribution_share", "attribution_drift"}
    assert len({r["grp"] for r in stored if r["metric"] == "attribution_share"}) == len(DEMO_FEATURES)


def test_a_log_counted_in_parts_on_a_dask_cluster_gives_the_same_windows(tmp_path, capsys):
    from audit.cli import main

    pytest.importorskip("distributed", reason="the dask extra is not installed")
    log = _log(12, drop_at=5, seed=12)
    log.to_csv(tmp_path / "log.csv", index=False)
    config = '[monitor]\npath = "log.csv"\ntime = "time"\ndecision = "decision"\nsensitive = ["group"]\nhorizon = 52\n'
    (tmp_path / "one.toml").write_text(config + 'store = "one.db"\n', encoding="utf-8")
    (tmp_path / "parts.toml").write_text(config + 'store = "parts.db"\n', encoding="utf-8")
    assert main(["monitor", str(tmp_path / "one.toml"), "--quiet"]) == 1
    assert main(["monitor", str(tmp_path / "parts.toml"), "--workers", "2", "--quiet"]) == 1
    keys = ("window_start", "look", "grp", "metric", "n", "successes", "ratio", "ratio_high", "alarm", "alarm_span")
    with open_store(tmp_path / "one.db") as one, open_store(tmp_path / "parts.db") as parts:
        assert [[r[k] for k in keys] for r in parts.windows()] == [[r[k] for k in keys] for r in one.windows()]
    shuffled = pd.concat([log.iloc[len(log) // 2 :], log.iloc[: len(log) // 2]])
    shuffled.to_csv(tmp_path / "log.csv", index=False)
    (tmp_path / "parts.db").unlink()
    assert main(["monitor", str(tmp_path / "parts.toml"), "--workers", "2", "--quiet"]) == 2
    assert "go backwards" in capsys.readouterr().err
