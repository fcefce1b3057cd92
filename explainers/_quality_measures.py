"""How far to trust an explanation: faithfulness by perturbation (against a random order), sanity by
randomisation, and agreement between methods.

- Tabular: deletion and insertion curves (features replaced by / restored from a baseline row in attribution
  order) and their AOPC (area over the perturbation curve: the mean score change over the steps).
- Text: ERASER comprehensiveness (score drop when the top-k% words are removed) and sufficiency (score drop
  when only they are kept) at fixed fractions.
- Every faithfulness number comes with the same measure under random orders, so "0.12" means something;
  the margin (method minus random) carries a bootstrap interval over examples.
- Examples that cannot be scored are counted, never scored: no attribution (NaN), all-zero attributions, a
  model whose output does not move when every feature is removed.
"""

from __future__ import annotations

import copy
from typing import Any, Callable

import numpy as np

__all__ = [
    "tabular_faithfulness",
    "text_faithfulness",
    "randomisation_test",
    "rank_agreement",
    "FRACTIONS",
    "cascading_stages",
]

FRACTIONS = (0.05, 0.1, 0.2, 0.5)
_UNCHANGED = 1e-9


def _bootstrap_mean(values: np.ndarray, *, n_boot: int, ci_level: float, rng) -> list[float] | None:
    """Percentile interval of the mean over examples (examples resampled with replacement)."""
    from explainers._stats import interval_or_none, resampled_ratio_of_sums

    if len(values) < 2 or not n_boot:
        return None
    draws = resampled_ratio_of_sums(np.asarray(values, float), np.ones(len(values)), n_boot=n_boot, rng=rng)
    return interval_or_none(draws, ci_level)


def _screen(values: np.ndarray) -> tuple[np.ndarray, dict[str, int]]:
    """Rows that can be scored, and how many could not, by reason."""
    missing = ~np.isfinite(values).all(1)
    zero = ~missing & (np.abs(np.nan_to_num(values)).sum(1) == 0)
    return ~(missing | zero), {"no_attribution": int(missing.sum()), "all_zero": int(zero.sum())}


def _summary(
    name: str,
    method_curve: np.ndarray,
    random_curve: np.ndarray,
    *,
    n_boot: int,
    ci_level: float,
    rng,
    higher_is_better: bool = True,
) -> dict[str, Any]:
    """AOPC of a (examples x steps) curve of score changes, against random orders, with the margin's CI."""
    per_example = method_curve.mean(1)
    per_random = random_curve.mean(1)
    margin = (per_example - per_random) if higher_is_better else (per_random - per_example)
    return {
        name: float(per_example.mean()),
        f"{name}_random": float(per_random.mean()),
        f"{name}_margin": float(margin.mean()),
        f"{name}_margin_ci": _bootstrap_mean(margin, n_boot=n_boot, ci_level=ci_level, rng=rng),
        f"{name}_curve": [float(v) for v in method_curve.mean(0)],
        f"{name}_random_curve": [float(v) for v in random_curve.mean(0)],
    }


def _group_margins(
    margins: dict[str, np.ndarray],
    groups: dict[str, np.ndarray] | None,
    *,
    n_boot,
    ci_level,
    rng,
    min_examples: int = 10,
) -> dict[str, dict[str, dict[str, Any]]]:
    """Faithfulness margin per sensitive group (explanation disparity)."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for feature, labels in (groups or {}).items():
        out[feature] = {}
        for group in sorted(set(labels.tolist()), key=str):
            members = labels == group
            row: dict[str, Any] = {"examples": int(members.sum()), "small": int(members.sum()) < min_examples}
            for name, values in margins.items():
                row[name] = float(values[members].mean())
                row[f"{name}_ci"] = _bootstrap_mean(values[members], n_boot=n_boot, ci_level=ci_level, rng=rng)
            out[feature][str(group)] = row
    return out


def tabular_faithfulness(
    score: Callable[[Any], np.ndarray],
    features,
    values: np.ndarray,
    baseline,
    *,
    groups: dict[str, np.ndarray] | None = None,
    random_orders: int = 3,
    n_boot: int = 1000,
    ci_level: float = 0.95,
    seed: int = 0,
) -> dict[str, Any]:
    """Deletion and insertion AOPC of tabular attributions.

    ``score``: DataFrame -> the model's score for the explained class. ``features``: the explained rows
    (DataFrame, columns = attribution columns). ``values``: attributions (rows x columns). ``baseline``: one
    row (Series) that stands for "feature removed" (the background's median or most common value).
    """
    import pandas as pd

    rng = np.random.default_rng(seed)
    values = np.asarray(values, float)
    usable, not_scored = _screen(values)
    rows = features.reset_index(drop=True)
    n, width = rows.shape
    table = rows.to_numpy(dtype=object)
    base = np.asarray(baseline.reindex(rows.columns).to_numpy(dtype=object))
    orders = [np.argsort(-np.nan_to_num(values), axis=1, kind="stable")]
    orders += [np.argsort(rng.random((n, width)), axis=1) for _ in range(random_orders)]
    # one batch: for each order, each row and k = 1..width, the row with its top-k features removed (deletion)
    # and the baseline with its top-k features restored (insertion); plus the row and the baseline themselves
    ranks = [np.argsort(order, axis=1) for order in orders]  # rank of each feature in each row's order
    steps = np.arange(1, width + 1)
    batches = []
    for rank in ranks:
        removed = rank[:, None, :] < steps[None, :, None]  # (n, steps, width)
        deleted = np.where(removed, base[None, None, :], table[:, None, :])
        inserted = np.where(removed, table[:, None, :], base[None, None, :])
        batches += [deleted.reshape(-1, width), inserted.reshape(-1, width)]
    everything = np.concatenate([table, base[None, :]] + batches)
    frame = pd.DataFrame(everything, columns=rows.columns).astype(rows.dtypes.to_dict())
    scores = np.asarray(score(frame), float)
    original, empty = scores[:n], scores[n]
    curves = scores[n + 1 :].reshape(len(orders), 2, n, width)
    unchanged = np.abs(original - empty) <= _UNCHANGED
    keep = usable & ~unchanged
    not_scored["output_unchanged"] = int((usable & unchanged).sum())
    result: dict[str, Any] = {
        "kind": "deletion_insertion",
        "examples": int(keep.sum()),
        "not_scored": not_scored,
        "steps": [int(s) for s in steps],
        "removal": "replaced by the baseline row",
        "random_orders": random_orders,
    }
    if not keep.any():
        result["status"] = "not scored: " + _why_not(not_scored, n)
        return result
    deletion = original[:, None] - curves[:, 0]  # score drop after removing the top-k
    insertion = curves[:, 1] - empty  # score gained after restoring the top-k
    for name, curve in (("deletion", deletion), ("insertion", insertion)):
        result.update(
            _summary(name, curve[0][keep], curve[1:].mean(0)[keep], n_boot=n_boot, ci_level=ci_level, rng=rng)
        )
    margins = {"deletion_margin": deletion[0][keep].mean(1) - deletion[1:].mean(0)[keep].mean(1)}
    kept_groups = {k: np.asarray(v)[keep] for k, v in (groups or {}).items()}
    result["by_group"] = _group_margins(margins, kept_groups, n_boot=n_boot, ci_level=ci_level, rng=rng)
    result["status"] = "ok"
    return result


def _why_not(not_scored: dict[str, int], n: int) -> str:
    reasons = [
        f"{count} of {n} {what}"
        for what, count in (
            ("examples have no attribution", not_scored.get("no_attribution", 0)),
            ("examples have all-zero attributions", not_scored.get("all_zero", 0)),
            (
                "examples: the model's output does not change when every feature is removed",
                not_scored.get("output_unchanged", 0),
            ),
        )
        if count
    ]
    return "; ".join(reasons) or "no examples"


def _join(words: list[str], keep: np.ndarray) -> str:
    return " ".join(w for w, k in zip(words, keep) if k)


def text_faithfulness(
    score: Callable[[list[str]], np.ndarray],
    words: list[list[str]],
    values: list[list[float]],
    targets: np.ndarray,
    *,
    fractions=FRACTIONS,
    groups: dict[str, np.ndarray] | None = None,
    random_orders: int = 2,
    n_boot: int = 1000,
    ci_level: float = 0.95,
    seed: int = 0,
) -> dict[str, Any]:
    """ERASER comprehensiveness and sufficiency of word attributions at ``fractions`` of the words.

    ``score``: texts -> class probabilities (rows x classes); ``targets``: the class each text was explained for.
    """
    rng = np.random.default_rng(seed)
    n = len(words)
    rows = [np.asarray(v, float) for v in values]
    missing = np.array([len(row) == 0 or not np.isfinite(row).all() for row in rows], dtype=bool)
    zero = np.array([not gone and np.abs(row).sum() == 0 for row, gone in zip(rows, missing)], dtype=bool)
    usable = ~(missing | zero)
    not_scored = {"no_attribution": int(missing.sum()), "all_zero": int(zero.sum())}
    texts, index = [], []  # index: (example, order, fraction, kind)
    for i in np.flatnonzero(usable):
        row = np.asarray(values[i], float)
        orders = [np.argsort(-row, kind="stable")] + [rng.permutation(len(row)) for _ in range(random_orders)]
        texts.append(_join(words[i], np.ones(len(row), bool)))
        index.append((i, -1, -1, "full"))
        for o, order in enumerate(orders):
            for f, fraction in enumerate(fractions):
                top = np.zeros(len(row), bool)
                top[order[: max(1, int(round(fraction * len(row))))]] = True
                texts += [_join(words[i], ~top), _join(words[i], top)]
                index += [(i, o, f, "without"), (i, o, f, "only")]
    result: dict[str, Any] = {
        "kind": "eraser",
        "fractions": list(fractions),
        "removal": "words deleted",
        "random_orders": random_orders,
        "not_scored": not_scored,
    }
    if not texts:
        result.update(examples=0, status="not scored: " + _why_not(not_scored, n))
        return result
    probabilities = score(texts)
    lookup: dict[tuple, float] = {}
    for (i, o, f, kind), p in zip(index, probabilities):
        lookup[(i, o, f, kind)] = float(p[int(targets[i])])
    examples = [i for i in np.flatnonzero(usable)]
    full = np.array([lookup[(i, -1, -1, "full")] for i in examples])
    shape = (len(examples), random_orders + 1, len(fractions))
    without = np.array(
        [
            [[lookup[(i, o, f, "without")] for f in range(len(fractions))] for o in range(random_orders + 1)]
            for i in examples
        ]
    ).reshape(shape)
    only = np.array(
        [
            [[lookup[(i, o, f, "only")] for f in range(len(fractions))] for o in range(random_orders + 1)]
            for i in examples
        ]
    ).reshape(shape)
    comprehensiveness = full[:, None, None] - without
    sufficiency = full[:, None, None] - only
    result.update(examples=len(examples), status="ok")
    result.update(
        _summary(
            "comprehensiveness",
            comprehensiveness[:, 0],
            comprehensiveness[:, 1:].mean(1),
            n_boot=n_boot,
            ci_level=ci_level,
            rng=rng,
        )
    )
    result.update(
        _summary(
            "sufficiency",
            sufficiency[:, 0],
            sufficiency[:, 1:].mean(1),
            n_boot=n_boot,
            ci_level=ci_level,
            rng=rng,
            higher_is_better=False,
        )
    )
    margins = {"comprehensiveness_margin": comprehensiveness[:, 0].mean(1) - comprehensiveness[:, 1:].mean(1).mean(1)}
    kept_groups = {k: np.asarray(v)[examples] for k, v in (groups or {}).items()}
    result["by_group"] = _group_margins(margins, kept_groups, n_boot=n_boot, ci_level=ci_level, rng=rng)
    return result


def _spearman_rows(a, b) -> np.ndarray:
    """Spearman correlation of |a| and |b| row by row (rows may differ in length between examples, not
    between a and b); NaN where a row is constant."""
    from scipy.stats import rankdata

    out = []
    for x, y in zip(a, b):
        x, y = np.abs(np.asarray(x, float)), np.abs(np.asarray(y, float))
        keep = np.isfinite(x) & np.isfinite(y)
        if keep.sum() < 2:
            out.append(np.nan)
            continue
        rx, ry = rankdata(x[keep]), rankdata(y[keep])
        rx, ry = rx - rx.mean(), ry - ry.mean()
        denominator = np.sqrt((rx**2).sum() * (ry**2).sum())
        out.append((rx * ry).sum() / denominator if denominator > 0 else np.nan)
    return np.array(out, dtype=float)


def cascading_stages(model: Any, *, stages: int = 3) -> list[tuple[str, list[str]]]:
    """Cumulative groups of parameterised modules from the output backwards (Adebayo et al. 2018): first the
    last module with parameters (the head), then the top half of the rest, then everything."""
    leaves = [
        name
        for name, module in model.named_modules()
        if name and not list(module.children()) and list(module.parameters(recurse=False))
    ]
    if not leaves:
        return []
    head, rest = leaves[-1:], leaves[:-1][::-1]
    cuts = [len(rest) // 2, len(rest)][: max(0, stages - 1)]
    plan = [("head", head)] + [
        (f"head + top {cut} of {len(rest)} modules" if cut < len(rest) else "all modules", head + rest[:cut])
        for cut in cuts
        if cut > 0
    ]
    return plan


def randomisation_test(
    explain: Callable[[Any], np.ndarray], model: Any, *, stages: list[tuple[str, list[str]]], seed: int = 0
) -> dict[str, Any]:
    """Model-parameter randomisation: re-initialise the modules of each stage (cumulatively), explain again,
    and report the rank correlation with the original attributions (it should fall; one that stays near 1
    means the method does not depend on what the model learned)."""
    import torch

    original = explain(model)
    randomised = copy.deepcopy(model)
    generator = torch.Generator().manual_seed(seed)
    rows = []
    modules = dict(randomised.named_modules())
    for label, names in stages:
        with torch.no_grad():  # re-initialise in place: same scale, random values
            for name in names:
                for parameter in modules[name].parameters(recurse=False):
                    scale = float(parameter.detach().float().std()) if parameter.numel() > 1 else 0.02
                    noise = torch.randn(parameter.shape, generator=generator) * (scale or 0.02)
                    parameter.copy_(noise.to(parameter.device, parameter.dtype))
        correlation = _spearman_rows(original, explain(randomised))
        rows.append(
            {
                "stage": label,
                "modules": len(names),
                "spearman": float(np.nanmean(correlation)),
                "examples": int(np.isfinite(correlation).sum()),
            }
        )
    return {"kind": "model_randomisation", "stages": rows, "final_spearman": rows[-1]["spearman"] if rows else None}


def label_randomisation_test(original: np.ndarray, randomised: np.ndarray) -> dict[str, Any]:
    """Attributions of a model retrained on shuffled labels, against the original model's."""
    correlation = _spearman_rows(original, randomised)
    value = float(np.nanmean(correlation)) if np.isfinite(correlation).any() else None
    return {
        "kind": "label_randomisation",
        "stages": [
            {
                "stage": "retrained on shuffled labels",
                "spearman": value,
                "examples": int(np.isfinite(correlation).sum()),
            }
        ],
        "final_spearman": value,
    }


def rank_agreement(importances: dict[str, dict[str, float]], *, top: int = 5) -> list[dict[str, Any]]:
    """Spearman correlation and top-k overlap of the global feature rankings of each pair of methods."""
    from scipy.stats import spearmanr

    methods = list(importances)
    rows = []
    for i, a in enumerate(methods):
        for b in methods[i + 1 :]:
            shared = [f for f in importances[a] if f in importances[b]]
            if len(shared) < 2:
                rows.append({"methods": [a, b], "features": len(shared), "spearman": None, "top_overlap": None})
                continue
            x = [importances[a][f] for f in shared]
            y = [importances[b][f] for f in shared]
            rho = spearmanr(x, y).statistic
            top_a = set(sorted(shared, key=lambda f: -importances[a][f])[:top])
            top_b = set(sorted(shared, key=lambda f: -importances[b][f])[:top])
            rows.append(
                {
                    "methods": [a, b],
                    "features": len(shared),
                    "spearman": None if not np.isfinite(rho) else float(rho),
                    "top_overlap": len(top_a & top_b) / len(top_a | top_b),
                    "top": top,
                }
            )
    return rows
