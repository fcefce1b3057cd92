"""Recourse: speed, verification and optimality, DiCE beside it, and the burden tests' false-positive rate and power.

1. Trees: ``--rows`` (10,000) unfavourable decisions of the demo model (HistGradientBoosting on UCI Adult, the held-out
   split) with the demo's settings (education only up, hours, occupation, workclass; at most two changes), timed end
   to end; every returned change applied to its row and decided again by the pipeline itself (``verified_share``).
2. Linear: a logistic pipeline (one-hot, scaler) on the same data; ``--linear-rows`` unfavourable decisions solved by
   the engine and by an exhaustive search that asks the pipeline about every allowed combination of at most two
   changes (every value seen): ``optimal_share_linear`` is the share of rows where both give the same cost (or both
   none).
3. DiCE (``dice-ml``, method "random", one counterfactual, the same actionable inputs and hours range) on
   ``--dice-rows`` of the same tree rows when it is installed: seconds per query, the share with a counterfactual the
   model accepts, the share of those within our constraints (education not lowered, which DiCE cannot lock; at most
   two inputs changed), and among those how often ours costs no more (our percentile cost).
4. Burden tests, on the tree rows' own costs: null (groups drawn at random, sizes 20, 30, 50, 200 against 1,000): the
   rejection rate at 0.05 of Welch's test on the mean cost and of the z/Fisher test on the share with no recourse;
   planted (group B drawn more often among costlier rows, a mean cost difference of about 0.05 and 0.10): the power.

``python -m benchmarks.recourse`` prints one JSON line last.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time

import numpy as np
import pandas as pd

from audit.demo._demo import DEMO_FEATURES, DEMO_RECOURSE, load_adult, train_adult_model
from audit.fairness._stats import compare_proportions
from audit.recourse import DecisionRule, search_recourse
from audit.recourse._burden import welch
from audit.recourse._space import action_space, configured_space


def _rule(model) -> DecisionRule:
    return DecisionRule("predict_proba", 0.5, True, 1, lambda frame: model.predict_proba(frame)[:, 1] >= 0.5)


def _applied(rows: pd.DataFrame, batch) -> tuple[pd.DataFrame, np.ndarray]:
    """The found rows with their changes applied by hand (not by the engine), and their positions."""
    positions = [i for i, r in enumerate(batch.rows) if r.status == "found"]
    changed = rows.iloc[positions].copy()
    for k, i in enumerate(positions):
        for change in batch.rows[i].changes:
            changed.iloc[k, changed.columns.get_loc(change.feature)] = change.proposed
    return changed.astype(rows.dtypes.to_dict()), np.array(positions)


def _unfavourable_search(model, features: pd.DataFrame, rows: int):
    """The first ``rows`` unfavourable decisions of ``model`` on ``features``, their recourse with the demo's
    settings, and the seconds it took."""
    unfavourable = features[model.predict_proba(features)[:, 1] < 0.5].iloc[:rows]
    started = time.perf_counter()
    batch = search_recourse(
        model,
        unfavourable,
        row_ids=unfavourable.index.to_numpy(),
        reference=features,
        rule=_rule(model),
        settings=DEMO_RECOURSE,
        protected=("sex", "race"),
    )
    return unfavourable, batch, time.perf_counter() - started


def trees(rows: int, seed: int) -> dict:
    train, test = load_adult("train"), load_adult("test")
    model = train_adult_model(train, seed=seed)
    features = test[DEMO_FEATURES]
    unfavourable, batch, seconds = _unfavourable_search(model, features, rows)
    changed, _ = _applied(unfavourable, batch)
    accepted = model.predict_proba(changed)[:, 1] >= 0.5
    costs = batch.costs()
    return {
        "model": model,
        "rows_frame": unfavourable,
        "features": features,
        "batch": batch,
        "out": {
            "rows": len(unfavourable),
            "seconds": round(seconds, 2),
            "found_share": round(float(np.mean(np.isfinite(costs))), 4),
            "verified_share": float(np.mean(accepted)) if len(accepted) else None,
            "mean_cost": round(float(np.nanmean(costs)), 4),
            "evaluations": batch.evaluations,
        },
    }


def _logistic(train: pd.DataFrame):
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    categorical = [c for c in DEMO_FEATURES if not pd.api.types.is_numeric_dtype(train[c])]
    numeric = [c for c in DEMO_FEATURES if c not in categorical]
    prepare = make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore"), categorical), (StandardScaler(), numeric)
    )
    return make_pipeline(prepare, LogisticRegression(max_iter=3000)).fit(
        train[DEMO_FEATURES], train["income"] == ">50K"
    )


def exhaustive_cost(row: pd.DataFrame, space, max_changes: int, decide) -> float | None:
    """The cheapest allowed combination of at most ``max_changes`` changes to the one-row frame ``row`` that
    ``decide`` accepts, found by asking it about every one (None: none is accepted). The tests' oracle too."""
    costs = [space.costs(j, row[name].to_numpy())[0] for j, name in enumerate(space.features)]
    options, prices = [], []
    for size in range(1, max_changes + 1):
        for subset in itertools.combinations(range(len(space.features)), size):
            for picks in itertools.product(*[np.flatnonzero(np.isfinite(costs[j])) for j in subset]):
                options.append({space.features[j]: space.values[j][k] for j, k in zip(subset, picks)})
                prices.append(sum(costs[j][k] for j, k in zip(subset, picks)))
    if not options:
        return None
    columns = {}
    for name in row.columns:
        values = np.empty(len(options), dtype=object)
        values[:] = row[name].iloc[0]
        for k, option in enumerate(options):
            if name in option:
                values[k] = option[name]
        columns[name] = pd.Series(values).astype(row[name].dtype)
    accepted = np.asarray(decide(pd.DataFrame(columns)), dtype=bool)
    return float(np.min(np.asarray(prices)[accepted])) if accepted.any() else None


def _exhaustive_costs(model, rows: pd.DataFrame, space, max_changes: int) -> np.ndarray:
    decide = _rule(model).decide
    found = [exhaustive_cost(rows.iloc[[i]], space, max_changes, decide) for i in range(len(rows))]
    return np.array([np.nan if c is None else c for c in found])


def linear(rows: int) -> dict:
    train, test = load_adult("train"), load_adult("test")
    model = _logistic(train)
    features = test[DEMO_FEATURES]
    unfavourable, batch, seconds = _unfavourable_search(model, features, rows)
    space = configured_space(features, DEMO_RECOURSE)
    started = time.perf_counter()
    oracle = _exhaustive_costs(model, unfavourable, space, DEMO_RECOURSE.max_changes)
    oracle_seconds = time.perf_counter() - started
    ours = batch.costs()
    same = (np.isnan(ours) & np.isnan(oracle)) | np.isclose(ours, oracle, rtol=0, atol=1e-9)
    return {
        "linear_rows": len(unfavourable),
        "linear_method": batch.method,
        "linear_seconds": round(seconds, 2),
        "exhaustive_seconds": round(oracle_seconds, 2),
        "optimal_share_linear": float(np.mean(same)),
        "linear_found_share": round(float(np.mean(np.isfinite(ours))), 4),
    }


def dice(run: dict, rows: int) -> dict:
    try:
        import dice_ml
    except ImportError:
        return {"dice": None, "dice_note": "dice-ml is not installed (pip install dice-ml to compare)"}
    model, features, frame, batch = run["model"], run["features"], run["rows_frame"], run["batch"]
    numeric = [c for c in DEMO_FEATURES if pd.api.types.is_numeric_dtype(features[c])]
    data = features.copy()
    data["income"] = (model.predict_proba(features)[:, 1] >= 0.5).astype(int)
    data = data.dropna()
    explainer = dice_ml.Dice(
        dice_ml.Data(dataframe=data, continuous_features=numeric, outcome_name="income"),
        dice_ml.Model(model=model, backend="sklearn"),
        method="random",
    )
    queries = frame.dropna().iloc[:rows]
    positions = [frame.index.get_loc(i) for i in queries.index]
    space = action_space(features, actionable=DEMO_RECOURSE.actionable, increase_only=(), limits=DEMO_RECOURSE.limits)
    valid = kept_direction = cheaper_or_equal = 0
    started = time.perf_counter()
    for (_, query), position in zip(queries.iterrows(), positions):
        try:
            found = explainer.generate_counterfactuals(
                query.to_frame().T.astype(queries.dtypes.to_dict()),
                total_CFs=1,
                desired_class=1,
                features_to_vary=list(DEMO_RECOURSE.actionable),
                permitted_range={"hours-per-week": [1, 80]},
                random_seed=0,
                verbose=False,
            )
        except Exception:  # noqa: BLE001 - DiCE raises when it finds nothing; counted as not valid
            continue
        cf = found.cf_examples_list[0].final_cfs_df
        if cf is None or not len(cf):
            continue
        cf = cf[DEMO_FEATURES].astype(queries.dtypes.to_dict())
        if model.predict_proba(cf)[:, 1][0] < 0.5:
            continue
        valid += 1
        changed = [name for name in space.features if cf[name].iloc[0] != query[name]]
        within = cf["education-num"].iloc[0] >= query["education-num"] and len(changed) <= DEMO_RECOURSE.max_changes
        if not within:  # education lowered, or more inputs changed than ours may: not a like-for-like cost
            continue
        kept_direction += 1
        cost = 0.0
        for j, name in enumerate(space.features):
            if name in changed:
                k = int(np.flatnonzero(space.values[j] == cf[name].iloc[0])[0])
                current = np.array([query[name]], dtype=object if not space.numeric[j] else float)
                cost += space.costs(j, current)[0, k]
        ours = batch.rows[position].cost
        cheaper_or_equal += ours is not None and ours <= cost + 1e-9
    seconds = time.perf_counter() - started
    return {
        "dice": {
            "rows": len(queries),
            "seconds_per_query": round(seconds / max(len(queries), 1), 3),
            "seconds_10000_extrapolated": round(seconds / max(len(queries), 1) * 10_000, 1),
            "validity": round(valid / max(len(queries), 1), 4),
            "within_our_constraints_share": round(kept_direction / max(valid, 1), 4),
            "ours_no_costlier_share": round(cheaper_or_equal / max(kept_direction, 1), 4),
        }
    }


def burden_tests(costs: np.ndarray, reps: int, seed: int) -> dict:
    """Null and planted rejection rates of the two burden tests at 0.05, on the tree rows' own costs."""
    rng = np.random.default_rng(seed)
    finite = np.isfinite(costs)
    out: dict = {}
    for small in (20, 30, 50, 200):
        cost_hits = share_hits = 0
        for _ in range(reps):
            picked = rng.choice(len(costs), size=small + 1000, replace=len(costs) < small + 1000)
            a, b = costs[picked[:small]], costs[picked[small:]]
            compared = welch(a[np.isfinite(a)], b[np.isfinite(b)])
            cost_hits += compared is not None and compared[2] < 0.05
            p_share, _ = compare_proportions((~np.isfinite(a)).sum(), small, (~np.isfinite(b)).sum(), 1000)
            share_hits += p_share is not None and p_share < 0.05
        out[f"null_{small}_vs_1000"] = {"mean_cost": cost_hits / reps, "no_recourse_share": share_hits / reps}
    ranks = np.argsort(np.argsort(np.where(finite, costs, np.nanmax(costs)))) / len(costs)
    for tilt in (0.3, 0.6):
        weight = 1 + tilt * (ranks - 0.5) * 2  # group B drawn more often among the costlier rows
        population_b = rng.random(len(costs)) < 0.3 * weight
        true_difference = float(np.nanmean(costs[population_b & finite]) - np.nanmean(costs[~population_b & finite]))
        hits = {200: 0, 500: 0}
        for n in hits:
            for _ in range(reps):
                a = costs[rng.choice(np.flatnonzero(population_b), n)]
                b = costs[rng.choice(np.flatnonzero(~population_b), 1000)]
                compared = welch(a[np.isfinite(a)], b[np.isfinite(b)])
                hits[n] += compared is not None and compared[2] < 0.05
        out[f"planted_tilt_{tilt}"] = {
            "true_mean_cost_difference": round(true_difference, 4),
            **{f"power_{n}_vs_1000": h / reps for n, h in hits.items()},
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--linear-rows", type=int, default=400)
    parser.add_argument("--dice-rows", type=int, default=100)
    parser.add_argument("--reps", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    run = trees(args.rows, args.seed)
    out = dict(run["out"])
    print(json.dumps({"trees": out}), flush=True)
    out.update(linear(args.linear_rows))
    print(json.dumps({"linear": {k: v for k, v in out.items() if k.startswith(("linear", "exhaustive", "optimal"))}}))
    out.update(dice(run, args.dice_rows) if args.dice_rows else {"dice": None, "dice_note": "--dice-rows 0"})
    out["burden_tests"] = burden_tests(run["batch"].costs(), args.reps, args.seed)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
