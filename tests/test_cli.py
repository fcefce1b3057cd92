import json
import subprocess
import sys

import joblib
import pandas as pd
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from explainers import EXPLAINERS

from audit.cli import main


def test_demo_end_to_end_on_a_sample(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--sample", "2000", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "2,000 rows" in printed and "groups by sex x race" in printed
    assert "top features (shap_tree" in printed and f"Report: {out / 'report.html'}" in printed
    result = json.loads((out / "audit.json").read_text())
    assert result["data"]["n_rows"] == 2000 and result["failures"] == []
    assert result["recourse"]["method"] == "trees" and result["recourse"]["verified_share"] == 1.0
    assert "recourse (trees):" in printed
    assert (out / "report.html").stat().st_size > 1_000_000


@pytest.mark.slow
def test_text_demo_on_a_sample_of_held_out_tweets(tmp_path, capsys):
    out = tmp_path / "text"
    assert main(["demo", "--text", "--out", str(out), "--sample", "400", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "400 rows" in printed and "identity-term swaps" in printed and "groups by gender_mention" in printed
    result = json.loads((out / "audit.json").read_text())
    assert result["failures"] == [] and result["model"]["kind"] == "text"
    text = result["text"]
    assert text["texts"] == 400 and text["variants"] > 0 and text["probes"]["variants"] > 500
    assert text["identity_groups"]["overall_auc"] > 0.75  # the real classifier separates negative tweets
    assert len(result["provenance"]["sha256"]["data"]) == 64 and len(result["provenance"]["sha256"]["model"]) == 64
    assert 'id="text-heading"' in (out / "report.html").read_text()
    # the flipping swaps, word by word, in log-odds: the word changes add up to the change but for IG's completeness
    # error and the two texts' baselines (different lengths), a small part of a flip
    swaps = result["gap_explanations"]["swaps"]
    assert swaps and all(0 <= s["term_share"] <= 1 and s["output_space"] == "log-odds" for s in swaps)
    assert all(abs(s["unexplained"]) < 0.25 * abs(s["output_change"]) for s in swaps)
    assert all(abs(s["output_change"] - s["explained_change"] - s["unexplained"]) < 1e-9 for s in swaps)
    assert any(s["axis"] == "disability" and "autistic" in s["term"].lower() for s in swaps)
    assert "flipping identity swaps: the swapped term carries" in printed
    # known answer on these 400 tweets: gender swaps pass (flip rate 3%), the disability probes fail (60%)
    assert (
        main(
            [
                "check",
                "--result",
                str(out / "audit.json"),
                "--preset",
                "text-counterfactual",
                "--out",
                str(tmp_path / "gate"),
            ]
        )
        == 1
    )
    gate = json.loads((tmp_path / "gate" / "gate.json").read_text())
    outcomes = {(o["rule"], o["scope"]): o for o in gate["outcomes"]}
    assert outcomes[("flip-rate", "real texts: gender")]["status"] == "pass"
    assert outcomes[("flip-rate", "template probes: disability")]["status"] == "fail"
    assert outcomes[("flip-rate", "template probes: disability")]["value"] > 0.3


@pytest.fixture()
def user_project(tmp_path, biased_frame):
    biased_frame.to_csv(tmp_path / "data.csv", index=False)
    model = LogisticRegression().fit(biased_frame[["x1", "x2"]], biased_frame["label"])
    joblib.dump(model, tmp_path / "model.joblib")
    (tmp_path / "audit.toml").write_text(
        'title = "User audit"\n[data]\npath = "data.csv"\nlabel = "label"\nsensitive = ["group"]\n'
        'features = ["x1", "x2"]\n[model]\npath = "model.joblib"\n'
        '[explainers]\nsample_size = 50\nbackground_size = 20\n[output]\ndir = "out"\n'
    )
    return tmp_path


def test_run_with_a_config(user_project, capsys):
    assert main(["run", str(user_project / "audit.toml"), "--quiet"]) == 0
    result = json.loads((user_project / "out" / "audit.json").read_text())
    assert result["title"] == "User audit"
    assert result["attributions"][0]["method"] == "shap_linear"  # `shap` picks the exact explainer for LR
    assert len(result["provenance"]["sha256"]["data"]) == 64 and len(result["provenance"]["sha256"]["model"]) == 64


def test_run_with_a_baseline_reports_the_changes_since_it(user_project, capsys):
    config = str(user_project / "audit.toml")
    assert main(["run", config, "--quiet", "--out", str(user_project / "first")]) == 0
    baseline = str(user_project / "first" / "audit.json")
    assert main(["run", config, "--quiet", "--baseline", baseline, "--tolerance", "0.1"]) == 0
    assert "changes since" in capsys.readouterr().out
    result = json.loads((user_project / "out" / "audit.json").read_text())
    assert result["changes"]["baseline"] == baseline and result["changes"]["passed"] is True
    assert result["changes"]["tolerance"] == 0.1 and result["changes"]["tolerance_source"] == "--tolerance"
    assert "Changes since the last audit" in (user_project / "out" / "report.html").read_text()
    assert main(["run", config, "--quiet", "--tolerance", "0.1"]) == 2  # a tolerance without a baseline
    assert main(["run", config, "--quiet", "--baseline", str(user_project / "missing.json")]) == 2


def test_run_with_a_torch_model(user_project, capsys):
    torch.manual_seed(0)
    torch.save(torch.nn.Sequential(torch.nn.Linear(2, 1)), user_project / "net.pt")
    config = (user_project / "audit.toml").read_text().replace("model.joblib", "net.pt")
    (user_project / "torch.toml").write_text(config)
    # a pickled module runs code when loaded: refused unless the config opts out of weights_only, with that setting
    assert main(["run", str(user_project / "torch.toml"), "--out", str(user_project / "t"), "--quiet"]) == 2
    assert "model.weights_only = false" in capsys.readouterr().err and not (user_project / "t").exists()
    (user_project / "torch.toml").write_text(config.replace('path = "net.pt"', 'path = "net.pt"\nweights_only = false'))
    assert main(["run", str(user_project / "torch.toml"), "--out", str(user_project / "t"), "--quiet"]) == 0
    result = json.loads((user_project / "t" / "audit.json").read_text())
    assert result["model"]["kind"] == "torch" and result["model"]["device"] == "cpu"
    assert result["model"]["loaded_with"].startswith("torch.load(weights_only=False): runs code")
    assert "Model file read with" in (user_project / "t" / "report.html").read_text()


def test_bad_input_exits_2_with_a_message_and_writes_nothing(user_project, capsys):
    config = (user_project / "audit.toml").read_text().replace('sensitive = ["group"]', 'sensitive = ["gruop"]')
    (user_project / "bad.toml").write_text(config)
    assert main(["run", str(user_project / "bad.toml"), "--quiet"]) == 2
    error = capsys.readouterr().err
    assert "audit: error: The sensitive column 'gruop' is not in the data. Did you mean 'group'?" in error
    assert "Traceback" not in error
    assert not (user_project / "out").exists()


def test_missing_model_file_and_unknown_explainer_exit_2(user_project, capsys):
    text = (user_project / "audit.toml").read_text()
    (user_project / "m.toml").write_text(text.replace("model.joblib", "missing.joblib"))
    assert main(["run", str(user_project / "m.toml")]) == 2
    assert "The model file" in capsys.readouterr().err
    (user_project / "e.toml").write_text(text.replace("sample_size = 50", 'methods = ["lime_txt"]\nsample_size = 50'))
    assert main(["run", str(user_project / "e.toml")]) == 2
    assert f"Known explainers: {', '.join(EXPLAINERS.names())}." in capsys.readouterr().err


def test_report_re_renders_without_the_model(user_project, capsys):
    assert main(["run", str(user_project / "audit.toml"), "--quiet"]) == 0
    (user_project / "model.joblib").unlink()
    target = user_project / "again.html"
    assert main(["report", str(user_project / "out" / "audit.json"), "-o", str(target)]) == 0
    assert target.read_text().startswith("<!DOCTYPE html>")
    (user_project / "broken.json").write_text("{")
    assert main(["report", str(user_project / "broken.json"), "-o", str(user_project / "x.html")]) == 2
    assert not (user_project / "x.html").exists()


def test_unexpected_failure_exits_3(user_project, monkeypatch, capsys):
    import audit.run._runner

    monkeypatch.setattr(audit.run._runner, "build_dataset", lambda *a, **k: 1 / 0)
    assert main(["run", str(user_project / "audit.toml"), "--quiet"]) == 3
    assert "unexpected failure (ZeroDivisionError" in capsys.readouterr().err


@pytest.mark.parametrize("command", [[], ["demo"], ["run"], ["report"], ["explain-decision"], ["diff"], ["dossier"]])
def test_every_subcommand_has_help(command):
    done = subprocess.run([sys.executable, "-m", "audit", *command, "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "usage: audit" in done.stdout


def test_precomputed_predictions_from_a_config(tmp_path, biased_frame, capsys):
    biased_frame.to_parquet(tmp_path / "vendor.parquet")
    (tmp_path / "v.toml").write_text(
        '[data]\npath = "vendor.parquet"\nlabel = "label"\nsensitive = ["group"]\nprediction = "decision"\n'
    )
    assert main(["run", str(tmp_path / "v.toml"), "--out", str(tmp_path / "o"), "--quiet"]) == 0
    assert "skipped: explainer: shap: No model was given" in capsys.readouterr().out
    result = pd.read_json(tmp_path / "o" / "audit.json", typ="series")
    assert result["model"]["kind"] == "predictions"


def test_check_help_lists_every_preset_from_the_policy_files():
    from audit.gate._policy import PRESETS

    done = subprocess.run([sys.executable, "-m", "audit", "check", "--help"], capture_output=True, text=True)
    assert "explanation-quality" in PRESETS
    import re

    text = re.sub(r"-\s+", "-", " ".join(done.stdout.split()))  # argparse may wrap at a hyphen
    assert all(name in text for name in PRESETS)


def test_a_closed_pipe_ends_quietly(user_project):
    main(["run", str(user_project / "audit.toml"), "--quiet"])
    command = (
        f"{sys.executable} -m audit check --result {user_project / 'out' / 'audit.json'} "
        "--preset four-fifths --preset equalized-odds | head -n 1"
    )
    done = subprocess.run(["bash", "-o", "pipefail", "-c", command], capture_output=True, text=True)
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr
    assert done.stdout.startswith("status")


def test_an_unreachable_scheduler_is_an_environment_problem(user_project, capsys):
    run = ["run", str(user_project / "audit.toml"), "--scheduler", "tcp://127.0.0.1:9", "--quiet"]
    assert main([*run, "--scheduler-timeout", "1"]) == 4
    assert "Could not reach the Dask scheduler at 'tcp://127.0.0.1:9' within 1 s" in capsys.readouterr().err
    assert main([*run, "--scheduler-timeout", "0"]) == 2
    assert "'--scheduler-timeout' option must be a positive number" in capsys.readouterr().err
    assert not (user_project / "out").exists()
