"""The compliance commands of the ``audit`` command line: `audit diff` (and `audit run --baseline`), `audit dossier`
(and `audit verify dossier.json`), `audit explain-decision`. Exit codes as in audit.cli."""

from __future__ import annotations

import json
from pathlib import Path

from audit._cli_text import EXIT_OK, EXIT_POLICY, number as _number, raise_config, say as _say
from audit.config._settings import load_config
from audit.gate._policy import load_policy
from audit.result._provenance import sha256_file, sha256_text
from audit.result._result import AuditResult
from audit.run._output import write_atomically

__all__ = [
    "add_compliance_parsers",
    "diff_command",
    "dossier_command",
    "explain_decision_command",
    "is_dossier",
    "load_baseline",
    "verify_dossier_command",
    "with_changes",
]


def add_compliance_parsers(commands) -> None:
    dossier = commands.add_parser(
        "dossier",
        help="a compliance dossier filled from a saved audit: HTML, Markdown, JSON (and PDF)",
        description="Fill a dossier template from a saved audit record: every field is either filled from the "
        "record, each value linked to its place in it (a JSON pointer) and the record's sha256, or marked "
        "'needs human input' with what is needed. Templates: eu-ai-act-annex-iv, nyc-ll144, "
        "colorado-sb26-189, iso-42005, eu-ai-act-art72, pren-18283-bias-profile, california-ads-employment, or a "
        "TOML file of your own (docs/dossiers.md). With --jurisdiction, the tests that jurisdiction asks a record "
        "to carry are listed, and a required one the record lacks makes it exit 1. `audit verify dossier.json` "
        "checks it later.",
    )
    dossier.add_argument("result", metavar="audit.json")
    dossier.add_argument("--template", required=True, metavar="NAME|FILE.toml")
    dossier.add_argument(
        "--out", default=None, metavar="DIR", help="output folder (default: dossier-TEMPLATE beside audit.json)"
    )
    dossier.add_argument("--pdf", action="store_true", help="also print dossier.pdf with headless Chromium")
    dossier.add_argument(
        "--jurisdiction",
        default=None,
        metavar="NAME",
        help="whose required tests the record must carry: eu, nyc, colorado, california, illinois, texas, us-credit "
        "(default: the template's own)",
    )

    diff = commands.add_parser(
        "diff",
        help="what changed between two audits of a model: exit 1 when a disparity worsened",
        description="Compare two saved audit results: the data, model and config hashes and versions, every group "
        "metric and ratio with its interval (flagging those whose intervals no longer overlap), the "
        "shares of each explained gap, findings added and resolved, policy outcomes that flipped. Exit 1 "
        "when a group's ratio to the baseline's benchmark group changed beyond chance (two-sided test "
        "on the log-ratio, Holm over the diff at 0.05) and fell by more than the tolerance, or when no "
        "comparison could be tested. Writes diff.json and junit.xml (docs/diff.md).",
    )
    diff.add_argument("old", metavar="OLD.json", help="the baseline audit")
    diff.add_argument("new", metavar="NEW.json", help="the audit to compare with it")
    diff.add_argument(
        "--tolerance",
        type=float,
        default=None,
        metavar="X",
        help="how far a ratio may fall before a disparity worsened (default: the policy's diff_tolerance, else 0.05)",
    )
    diff.add_argument(
        "--confident",
        action="store_true",
        help="a disparity worsened only when a one-sided test finds the fall itself larger than the "
        "tolerance (fewer alarms, less power)",
    )
    diff.add_argument(
        "--policy",
        default=None,
        metavar="POLICY.toml",
        help="read diff_tolerance from a policy file or a pyproject.toml with [tool.audit], and test "
        "only the metrics its rules name",
    )
    diff.add_argument("--out", default=None, metavar="DIR", help="output folder (default: the folder of NEW.json)")

    notices = commands.add_parser(
        "explain-decision",
        help="adverse-decision notices: the principal reasons for unfavourable decisions",
        description="For every row of the config's data (or the rows given) that the model decides unfavourably: "
        "the principal reasons in plain language, stated only where exact path-dependent and "
        "interventional tree SHAP agree on them and neutralising the first reason moves the score toward "
        "the favourable side more than a random feature does; other rows are marked for review. Reasons "
        "are relative to --baseline (the average applicant, or the marginal approvals). scikit-learn "
        "tree ensembles. Writes notices.json and notices.csv. See docs/notices.md.",
    )
    notices.add_argument("config", metavar="CONFIG.toml")
    notices.add_argument(
        "--data",
        default=None,
        metavar="ROWS.csv",
        help="explain the rows of this file (the model's input columns) instead of the config's data; "
        "the config's data stays the population the background is drawn from",
    )
    notices.add_argument(
        "--row",
        action="append",
        default=[],
        metavar="ID",
        help="explain this row only (its position in the data file, from 0; repeatable)",
    )
    notices.add_argument("--out", default=None, metavar="DIR", help="output folder (default: output.dir of the config)")
    notices.add_argument(
        "--reference",
        default=None,
        metavar="DATA.csv",
        help="the population the background is drawn from (default: the config's data)",
    )
    notices.add_argument("--reasons", type=int, default=3, metavar="N", help="principal reasons at most (default 3)")
    notices.add_argument(
        "--tie-margin",
        type=float,
        default=0.1,
        metavar="LOG_ODDS",
        help="contributions this close to a method's last reason count as tied with it (default 0.1)",
    )
    notices.add_argument(
        "--baseline",
        choices=("population", "marginal_approvals"),
        default="population",
        help="what reasons are relative to (Regulation B's two methods): the average applicant "
        "(default), or the applicants approved with the lowest scores",
    )
    notices.add_argument(
        "--background",
        type=int,
        default=200,
        metavar="N",
        help="background rows, one per stratum of the model's score (default 200)",
    )
    notices.add_argument(
        "--threads",
        type=int,
        default=None,
        metavar="N",
        help="worker processes and threads (default: AUDIT_THREADS, else the CPUs this process may use)",
    )
    notices.add_argument(
        "--allow-outside",
        action="store_true",
        help="let the config read data or model files outside its own folder (trusted configs only)",
    )


def load_baseline(args):
    if args.baseline is None:
        if args.tolerance is not None:
            raise_config("The '--tolerance' option of `audit run` applies with --baseline OLD.json only.")
        return None

    return AuditResult.load(args.baseline)


def with_changes(result, baseline, args):
    import dataclasses

    from audit.diff import DEFAULT_TOLERANCE, compare_results

    tolerance, source = (
        (args.tolerance, "--tolerance") if args.tolerance is not None else (DEFAULT_TOLERANCE, "default")
    )
    changes = compare_results(
        baseline,
        result,
        baseline=str(args.baseline),
        baseline_sha256=sha256_file(args.baseline),
        tolerance=tolerance,
        tolerance_source=source,
    )
    _say(
        f"  changes since {args.baseline}: {changes.worsened} disparit{'y' if changes.worsened == 1 else 'ies'} "
        f"worsened beyond {changes.tolerance:g}; {len(changes.separated())} number(s) with separated intervals "
        "(see the report's Changes section)"
    )
    return dataclasses.replace(result, changes=changes)


def diff_command(args) -> int:
    from audit.diff import DEFAULT_TOLERANCE, compare_files
    from audit.diff._diff import PAIR_STATISTIC
    from reports import render_junit

    tolerance, source, metrics = DEFAULT_TOLERANCE, "default", None
    if args.policy is not None:
        policy = load_policy(args.policy)
        if policy.diff_tolerance is not None:
            tolerance, source = policy.diff_tolerance, f"diff_tolerance of {args.policy}"
        metrics = tuple(sorted({rule.metric for rule in policy.rules})) or None
    if args.tolerance is not None:
        tolerance, source = args.tolerance, "--tolerance"
    new = AuditResult.load(args.new)
    changes = compare_files(
        args.old, new, tolerance=tolerance, tolerance_source=source, confident=args.confident, metrics=metrics
    )
    for item in changes.inputs:
        if item.changed:
            _say(f"  changed: {item.name}: {(item.old or 'not recorded')[:16]} -> {(item.new or 'not recorded')[:16]}")
    for m in sorted(changes.metrics, key=lambda m: (not m.worsened, m.change or 0.0)):
        if m.worsened or m.separated:
            verdict = ("WORSENED" if m.worsened else "") + (" separated" if m.separated else "")
            _say(
                f"  {verdict.strip():<18} {m.metric} by {m.table}, {m.statistic} {m.group}: {_number(m.old)} "
                f"{_interval(m.old_ci)} -> {_number(m.new)} {_interval(m.new_ci)}"
            )
    for m in [m for m in changes.gap_shares if m.separated]:
        _say(
            f"  separated          share of the {m.metric} gap by {m.table} ({m.group}) carried by {m.feature}: "
            f"{m.old:.1%} {_interval(m.old_ci, percent=True)} -> {m.new:.1%} {_interval(m.new_ci, percent=True)}"
        )
    for kind in ("added", "resolved"):
        listed = [f for f in changes.findings if f.change == kind]
        for f in listed[:5]:
            _say(f"  finding {kind}: {f.message}")
        if len(listed) > 5:
            _say(f"  ... {len(listed) - 5} more finding(s) {kind}: see diff.json")
    for g in changes.gate:
        _say(f"  policy {g.policy} rule {g.rule} ({g.scope}): {g.old or 'not checked'} -> {g.new or 'not checked'}")
    for note in changes.notes:
        _say(f"  note: {note}")
    outcomes = [
        {
            "policy": "audit-diff",
            "rule": f"ratio to the benchmark falls by at most {changes.tolerance:g}",
            "scope": f"{m.metric} by {m.table}: {m.group} vs {m.compared_with}",
            "status": "fail" if m.worsened else ("pass" if m.p_value is not None else "skipped"),
            "severity": "error",
            "value": m.new,
            "message": f"{_number(m.old)} {_interval(m.old_ci)} -> {_number(m.new)} {_interval(m.new_ci)}, "
            f"Holm p = {_number(m.p_value_holm)}, detectable fall {_number(m.detectable_fall)}",
        }
        for m in changes.metrics
        if m.statistic == PAIR_STATISTIC
    ]
    if not changes.tested:
        outcomes.append(
            {
                "policy": "audit-diff",
                "rule": "evidence",
                "scope": "every table",
                "status": "error",
                "severity": "error",
                "value": None,
                "message": "no comparison could be tested: the verdict rests on no evidence",
            }
        )
    gate = {
        "outcomes": outcomes,
        "passed": changes.passed,
        "counts": {
            "pass": sum(o["status"] == "pass" for o in outcomes),
            "fail": sum(o["status"] == "fail" for o in outcomes),
        },
    }
    out = Path(args.out or Path(args.new).parent)
    write_atomically(
        {
            out / "diff.json": json.dumps(changes.to_dict(), indent=2, ensure_ascii=False, allow_nan=False) + "\n",
            out / "junit.xml": render_junit(gate, suite_name="audit-diff"),
        }
    )
    if changes.detectable_fall:
        low, high = changes.detectable_fall
        _say(
            f"  these two audits could detect a fall of a ratio to the benchmark of {low:.3f} to {high:.3f} (by "
            f"comparison) with {changes.detection_power:.0%} power; {changes.tested} comparison(s) tested"
        )
    verdict = (
        "No comparison could be tested"
        if not changes.tested
        else "No disparity worsened"
        if changes.passed
        else f"{changes.worsened} disparity(ies) WORSENED"
    )
    _say(
        f"{verdict} beyond {changes.tolerance:g} ({changes.tolerance_source}); {len(changes.separated())} "
        f"number(s) with separated intervals, {len(changes.findings)} finding(s) added or resolved, "
        f"{len(changes.gate)} policy outcome(s) flipped. Diff: {out / 'diff.json'}  JUnit: {out / 'junit.xml'}"
    )
    return EXIT_OK if changes.passed else EXIT_POLICY


def _interval(ci, *, percent: bool = False) -> str:
    if not ci or None in ci:
        return ""
    return f"[{ci[0]:.1%}, {ci[1]:.1%}]" if percent else f"[{ci[0]:.2f}, {ci[1]:.2f}]"


def dossier_command(args) -> int:
    import dataclasses

    from audit.dossiers import build_dossier
    from reports import render_dossier_html, render_dossier_markdown

    dossier = build_dossier(args.result, args.template, jurisdiction_name=args.jurisdiction)
    out = Path(args.out or Path(args.result).parent / f"dossier-{dossier.template}")
    html, markdown = render_dossier_html(dossier), render_dossier_markdown(dossier)
    dossier = dataclasses.replace(
        dossier, files_sha256={"dossier.html": sha256_text(html), "dossier.md": sha256_text(markdown)}
    )
    write_atomically(
        {out / "dossier.json": dossier.to_json(), out / "dossier.html": html, out / "dossier.md": markdown}
    )
    counts = dossier.counts
    _say(
        f"{dossier.template_name}: {counts['filled']} field(s) filled from {args.result}, "
        f"{counts['needs human input']} need human input."
    )
    for field in dossier.fields():
        if field.status != "filled":
            _say(f"  {field.status}: {field.label} ({field.reference})" + (f": {field.why}" if field.why else ""))
    if dossier.retain_until:
        _say(f"Keep the audit record and this dossier at least until {dossier.retain_until}.")
    if args.pdf:
        from reports import render_dossier_pdf

        _say(f"PDF: {render_dossier_pdf(dossier, out / 'dossier.pdf')}")
    _say(f"Dossier: {out / 'dossier.html'}  Markdown: {out / 'dossier.md'}  JSON: {out / 'dossier.json'}")
    missing = dossier.missing_required
    if missing:
        _say(
            f"The record lacks {len(missing)} test(s) {dossier.jurisdiction} requires: "
            + "; ".join(f.label for f in missing)
            + ". Re-run the audit with them (the dossier lists why), then build the dossier again."
        )
        return EXIT_POLICY
    return EXIT_OK


def is_dossier(path: str) -> bool:
    try:
        with open(path, encoding="utf-8") as handle:
            head = handle.read(4096)
    except (OSError, UnicodeDecodeError):
        return False
    return '"dossier_version"' in head or ('"template"' in head and '"audit_sha256"' in head)


def verify_dossier_command(args) -> int:
    """`audit verify dossier.json`: the record's sha256, every cited value, the rendered files."""
    from audit.dossiers import verify_dossier

    if args.data or args.model or args.config:
        raise_config("--data, --model and --config verify an audit record; a dossier takes --audit PATH.")
    _, good, bad = verify_dossier(args.result, audit=args.audit)
    for line in good:
        _say(f"match     {line}")
    for line in bad:
        _say(f"MISMATCH  {line}")
    _say("The dossier matches its evidence." if not bad else f"{len(bad)} difference(s) since the dossier was made.")
    return EXIT_OK if not bad else EXIT_POLICY


def explain_decision_command(args) -> int:
    from audit.exec._threads import thread_budget
    from audit.notices import NoticeSettings
    from audit.run._notice_command import write_notices

    config = load_config(args.config, allow_outside=args.allow_outside)
    settings = NoticeSettings(
        reasons=args.reasons,
        tie_margin=args.tie_margin,
        background_size=args.background,
        seed=config.seed,
        processes=thread_budget(args.threads)[0],
        baseline=args.baseline,
    )
    batch, paths, skipped = write_notices(
        config,
        config_path=str(args.config),
        rows=args.row,
        out=args.out,
        reference=args.reference,
        settings=settings,
        data=args.data,
    )
    for line in skipped:
        _say(line)
    if args.row:
        for notice in batch.notices:
            for line in notice.text().splitlines():  # one line at a time: say() escapes a newline inside a line
                _say(line)
    rate = lambda value: "undefined" if value is None else f"{value:.1%}"  # noqa: E731
    _say(
        f"{batch.unfavourable:,} unfavourable decision(s) of {batch.rows:,} row(s): {batch.confirmed:,} notice(s) "
        f"confirmed, {batch.unfavourable - batch.confirmed:,} for review; the two methods agree on "
        f"{rate(batch.agreement)}, the check passes on {rate(batch.check_pass_rate)} ({batch.seconds:.1f} s)"
    )
    recourse = batch.methods.get("recourse")
    if recourse is not None:
        found = sum(n.recourse is not None and n.recourse["status"] == "found" for n in batch.notices)
        _say(
            f"  recourse ({recourse['method']}, {'exact' if recourse['exact'] else 'grid search'}): "
            f"{found:,} notice(s) state what would change the decision, checked with the model; "
            f"{len(batch.notices) - found:,} say no allowed change does."
        )
    if batch.beats_baseline:
        other = "marginal_approvals" if settings.baseline == "population" else "population"
        _say(
            f"  {batch.beats_baseline:,} applicant(s) score at or above the {settings.baseline} baseline: no reason "
            f"is stated against a baseline they beat (for review; --baseline {other} may state them)."
        )
    if batch.protected_reasons:
        _say(
            f"  {batch.protected_reasons:,} notice(s) cite a protected characteristic among their reasons: the model "
            "uses it; see the notes."
        )
    _say(f"Notices: {paths['json']}  table: {paths['csv']}")
    return EXIT_OK
