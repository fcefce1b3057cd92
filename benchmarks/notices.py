"""Adverse-decision notices for 10,000 unfavourable decisions of the demo model on UCI Adult.

    python -m benchmarks.notices [--rows N] [--processes N] [--no-peer]

``--processes``: threads for the interventional method (the notices' ``processes`` setting).

The demo model (HistGradientBoosting, 200 iterations, behind an ordinal encoder) is trained on adult.data; the
first ``--rows`` test rows it decides unfavourably (income <= 50K) get a notice each: exact path-dependent and
interventional tree SHAP (200 background rows, one per stratum of the model's score over the whole test set),
the reason sets, the per-row check (2 x 200 neutralised predictions per row) and the notice objects. Timed: the
whole ``explain_decisions`` call (model training and data loading excluded). ``agreement``: the share of decisions
where the two methods agree on the top-3 reasons up to near-ties (0.1 log-odds); ``check_pass_rate``: the share
where neutralising the first reason moves the score further toward the favourable side than a random other feature.
The peer: shap.TreeExplainer computing the same two attributions one after the other in one process (no reasons,
no check), on the same rows and background; ``max_abs_diff_path`` / ``max_abs_diff_interventional`` compare its
values with every value a notice cites (the path-dependent values are shap's own; the interventional ones are our
exact traversal, which shap's float32 code matches on Adult's integer-valued inputs to about 1e-7).
Each side is timed once (about a minute each; no warm-up: both start from a loaded model). The last line is one
JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time

import numpy as np


def run(rows: int, processes: int, *, with_peer: bool = True) -> dict:
    from audit.demo._demo import DEMO_FEATURES, load_adult, train_adult_model
    from audit.notices import NoticeSettings, explain_decisions

    model = train_adult_model(load_adult("train"))
    test = load_adult("test")[DEMO_FEATURES]
    probability = model.predict_proba(test)[:, 1]
    picked = np.flatnonzero(probability < 0.5)[:rows]
    data = test.iloc[picked]
    started = time.perf_counter()
    batch = explain_decisions(
        model,
        data,
        row_ids=data.index.to_numpy(),
        unfavourable=np.ones(len(picked), bool),
        favourable_index=1,
        decisions=np.full(len(picked), "<=50K"),
        scores=probability[picked],
        reference=test,
        protected=("sex", "race"),
        settings=NoticeSettings(processes=processes),
    )
    seconds = time.perf_counter() - started
    outcome = {
        "rows": len(picked),
        "seconds": round(seconds, 2),
        "agreement": round(batch.agreement, 4),
        "check_pass_rate": round(batch.check_pass_rate, 4),
        "confirmed": batch.confirmed,
        "protected_reasons": batch.protected_reasons,
        "inexact_rows": batch.methods["second"]["inexact_rows"],
        "processes": processes,
    }
    if with_peer:
        outcome.update(_peer(model, test, data, batch))
    outcome["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return outcome


def _peer(model, test, data, batch) -> dict:
    import shap

    prepare, classify = model[:-1], model[-1]
    background = prepare.transform(test.loc[batch.settings["background_row_ids"]])
    rows = prepare.transform(data)
    started = time.perf_counter()
    path = shap.TreeExplainer(classify).shap_values(rows)
    masker = shap.maskers.Independent(background, max_samples=len(background))
    interventional = shap.TreeExplainer(classify, data=masker, feature_perturbation="interventional").shap_values(rows)
    seconds = time.perf_counter() - started
    names = list(prepare.get_feature_names_out())
    order = [names.index(f) for f in data.columns]
    position = {row_id: i for i, row_id in enumerate(data.index)}
    columns = list(data.columns)
    path_diff = second_diff = 0.0  # every reason of every notice against shap's own value for that row and feature
    for notice in batch.notices:
        i = position[notice.row_id]
        for reason in notice.reasons + notice.candidates:
            j = order[columns.index(reason.feature)]
            path_diff = max(path_diff, abs(path[i, j] - reason.exact))
            second_diff = max(second_diff, abs(interventional[i, j] - reason.second))
    return {
        "shap_sequential_s": round(seconds, 2),
        "speedup_vs_shap": round(seconds / max(batch.seconds, 1e-9), 2),
        "max_abs_diff_path": float(path_diff),
        "max_abs_diff_interventional": float(second_diff),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--processes", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--no-peer", action="store_true")
    args = parser.parse_args()
    outcome = run(args.rows, args.processes, with_peer=not args.no_peer)
    print(
        f"{outcome['rows']:,} notices in {outcome['seconds']} s (goal <= 60 s); methods agree on "
        f"{outcome['agreement']:.1%}, check passes on {outcome['check_pass_rate']:.1%}"
    )
    print(json.dumps(outcome))


if __name__ == "__main__":
    main()
