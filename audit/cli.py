"""The ``audit`` command line. Exit codes: 0 ok, 2 bad input or config, 3 unexpected failure."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from audit._errors import AuditError, ResourceError

EXIT_OK, EXIT_BAD_INPUT, EXIT_CRASH = 0, 2, 3


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="audit", description="Audit machine-learning models for fairness and explainability.",
        epilog="Exit codes: 0 ok, 2 bad input or config, 3 unexpected failure.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser("demo", help="train a model on UCI Adult and audit it (bundled data, offline)",
                               description="Train a gradient-boosted model on the bundled UCI Adult data, audit "
                                           "it by sex, race and sex x race with SHAP attributions, and write "
                                           "DIR/report.html and DIR/audit.json.")
    demo.add_argument("--out", default="audit-demo", metavar="DIR", help="output folder (default: audit-demo)")
    demo.add_argument("--sample", type=int, default=None, metavar="N",
                      help="audit a seeded random sample of N test rows instead of all 16,281")
    demo.add_argument("--quiet", action="store_true", help="no progress bars")

    run = commands.add_parser("run", help="audit your own data and model from a TOML config",
                              description="Run the audit described by CONFIG (TOML) and write the report and "
                                          "JSON result. See docs/config.md for every setting.")
    run.add_argument("config", metavar="CONFIG.toml")
    run.add_argument("--out", default=None, metavar="DIR", help="output folder (default: output.dir of the config)")
    run.add_argument("--quiet", action="store_true", help="no progress bars")

    report = commands.add_parser("report", help="re-render a saved audit.json without the model",
                                 description="Render the HTML report from a saved audit result (no model or data "
                                             "needed).")
    report.add_argument("result", metavar="audit.json")
    report.add_argument("-o", "--output", default="report.html", metavar="report.html",
                        help="where to write the HTML (default: report.html)")
    return parser


def _print_summary(result, paths: dict, elapsed: float) -> None:
    task = result.data.get("task", "binary")
    target = (f"positive class {result.data['label']} = {result.data['positive_label']}" if task == "binary"
              else f"{task} label {result.data['label']}")
    print(f"{result.title}: {result.data['n_rows']:,} rows, {target}")
    for table in result.fairness:
        print(f"  groups by {table.name}: {len(table.groups)}"
              + (f" ({sum(g.small for g in table.groups)} small)" if any(g.small for g in table.groups) else ""))
    disparities = sorted(((d.ratio, t.name, m, d) for t in result.fairness
                          for m, d in t.disparities_reliable.items()
                          if d.ratio is not None), key=lambda x: x[0])[:3]
    if disparities:
        print("  largest disparities (ratio min/max; groups with enough rows for the metric):")
        for ratio, table, metric, d in disparities:
            interval = f" [{d.ratio_ci[0]:.2f}, {d.ratio_ci[1]:.2f}]" if d.ratio_ci else ""
            print(f"    {metric:<15} by {table:<12} {ratio:.2f}{interval}  ({d.worst_group} vs {d.best_group})")
    for entry in result.regulatory.get("four_fifths", []):
        if entry.get("flagged_groups"):
            print(f"  four-fifths rule by {entry['table']}: below 0.8 for {'; '.join(entry['flagged_groups'][:4])}"
                  + (" ..." if len(entry["flagged_groups"]) > 4 else ""))
    for summary in result.attributions:
        top = ", ".join(f"{n} ({v:.3f})" for n, v in summary.top_features(5))
        print(f"  top features ({summary.method}, mean |attribution|): {top}")
    for failure in result.failures:
        print(f"  FAILED: {failure.step}: {failure.error_type}: {failure.message}")
    for skip in result.skipped:
        print(f"  skipped: {skip.step}: {skip.reason}")
    if "html" in paths:
        print(f"Report: {paths['html']}")
    if "json" in paths:
        print(f"Result: {paths['json']}")
    print(f"Done in {elapsed:.1f} s.")


def _demo(args) -> int:
    from audit._demo import demo_config, load_adult, train_adult_model
    from audit._output import write_outputs
    from audit._runner import run_audit

    started = time.perf_counter()
    if args.sample is not None and args.sample < 1:
        raise_config(f"The '--sample' option must be a positive integer. Got {args.sample} instead.")
    config = demo_config(out_dir=args.out, sample=args.sample)
    train, test = load_adult("train"), load_adult("test")
    if not args.quiet:
        print(f"Training a gradient-boosted model on {len(train):,} UCI Adult rows ...", file=sys.stderr)
    model = train_adult_model(train, seed=config.seed)
    result = run_audit(config, data=test, model=model, quiet=args.quiet,
                       extra_provenance={"data_source": "UCI Adult (adult.test), CC BY 4.0, bundled"})
    paths = write_outputs(result, args.out, formats=config.output.formats)
    _print_summary(result, paths, time.perf_counter() - started)
    return EXIT_OK


def raise_config(message: str):
    from audit._errors import ConfigError

    raise ConfigError(message)


def _run(args) -> int:
    from audit._config import load_config
    from audit._output import write_outputs
    from audit._runner import run_audit

    started = time.perf_counter()
    config = load_config(args.config)
    result = run_audit(config, quiet=args.quiet)
    paths = write_outputs(result, args.out or config.output.dir, formats=config.output.formats)
    _print_summary(result, paths, time.perf_counter() - started)
    return EXIT_OK


def _report(args) -> int:
    from audit._output import write_atomically
    from audit._result import AuditResult
    from reports import render_html

    result = AuditResult.load(args.result)
    output = Path(args.output)
    write_atomically({output: render_html(result)})
    print(f"Report: {output}")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handler = {"demo": _demo, "run": _run, "report": _report}[args.command]
    try:
        return handler(args)
    except ResourceError as err:
        print(f"audit: error: {err}", file=sys.stderr)
        return EXIT_CRASH
    except AuditError as err:
        print(f"audit: error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("audit: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # anything else is our bug or the environment's: say so, keep the trace
        import traceback

        traceback.print_exc()
        print(f"audit: unexpected failure ({type(err).__name__}: {err}). Please report it with the trace above.",
              file=sys.stderr)
        return EXIT_CRASH


if __name__ == "__main__":
    sys.exit(main())
