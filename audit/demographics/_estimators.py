"""Three estimators of each group's rates when membership is a probability, each with what it assumes.

Rows are summarised by their confusion cell (tp, fp, tn, fn): every proportion metric is a ratio of sums of
P(cell | group), so one joint table per estimator serves them all.

- weighted: P(cell | r) = sum_i p_ir 1{cell_i} / sum_i p_ir. Unbiased only if the outcome is independent of
  group given the name and place (McCartan et al. 2025, eq. 4); otherwise its bias does not shrink with rows.
- corrected: BIRDiE (McCartan, Fisher, Goldin, Ho, Imai 2025), fitted by EM. The outcome model is the paper's mixed
  model: P(cell | r, place) a multinomial logit with a group term and a place intercept, the intercepts drawn from
  N(mean, place_prior_sd^2) with the mean set by the place's group mix (Mundlak 1978), so that shrinking them does
  not leave the mix confounding the group terms; without places, P(cell | r) alone (complete pooling). Assumes
  the name carries no information about the outcome beyond group and place. The M-step is diagonal Newton, the
  EM is accelerated by SQUAREM. Intervals: the bootstrap of the whole fit (rows drawn with Poisson(1) weights), so
  they carry the sampling error and the uncertainty of who is in which group.
- bounds: what the data and correct probabilities alone imply, with no assumption on how outcome and group are
  linked within rows that look alike (Kallus, Mao, Zhou 2022): Frechet bounds per cell of similar rows (same most
  likely group, same decile of its probability), summed. Only rates over all of a group's rows (selection rate,
  base rate, accuracy): a conditional rate's bounds are not this simple sum.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["CELLS", "cell_codes", "weighted_joint", "fit_corrected", "CorrectedFit", "rate_bounds", "rates"]

CELLS = ("tp", "fp", "tn", "fn")
MAX_ITERATIONS = 500


def cell_codes(label: np.ndarray, decision: np.ndarray) -> np.ndarray:
    """0..3 for tp, fp, tn, fn from binary label and decision arrays."""
    label, decision = np.asarray(label, dtype=bool), np.asarray(decision, dtype=bool)
    return np.where(decision, np.where(label, 0, 1), np.where(label, 3, 2)).astype(np.int64)


def rates(joint: np.ndarray, numerator: tuple[str, ...], denominator: tuple[str, ...]) -> np.ndarray:
    """A proportion metric per group from joint[..., cell, group] (leading axes: bootstrap draws)."""
    num = joint[..., [CELLS.index(c) for c in numerator], :].sum(axis=-2)
    den = joint[..., [CELLS.index(c) for c in denominator], :].sum(axis=-2)
    return np.divide(num, den, out=np.full_like(num, np.nan), where=den > 0)


def _joint(posterior: np.ndarray, cells: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """joint[cell, group]: the weighted counts of each cell among each group's (probable) rows."""
    weighted = posterior * weights[:, None]
    return np.stack(
        [np.bincount(cells, weights=weighted[:, r], minlength=len(CELLS)) for r in range(posterior.shape[1])], axis=1
    )


def weighted_joint(probabilities: np.ndarray, cells: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    w = np.ones(len(cells)) if weights is None else weights
    return _joint(probabilities, cells, w)


@dataclass(frozen=True)
class CorrectedFit:
    joint: np.ndarray  # counts [cell, group] under the fitted posterior
    group_effect: np.ndarray  # [cell, group]: the outcome model's group terms (cell 0 is the reference)
    place_effect: np.ndarray  # [place, cell]: each place's deviation from its mix's mean
    context_effect: np.ndarray  # [group, cell]: the place intercept's mean, per unit of each group's share
    iterations: int
    converged: bool


def _softmax_over_cells(group_effect: np.ndarray, intercept: np.ndarray) -> np.ndarray:
    """P(cell | r, g) as [cell, place, group] from group_effect[cell, group] and intercept[place, cell]. Cells lead
    so that every reduction over them is an elementwise pass over contiguous [place, group] blocks."""
    eta = group_effect[:, None, :] + np.ascontiguousarray(intercept.T)[:, :, None]
    eta -= eta.max(axis=0)
    np.exp(eta, out=eta)
    eta /= eta.sum(axis=0)
    return eta


def _outcome_step(
    counts: np.ndarray,
    group_effect: np.ndarray,
    place_effect: np.ndarray,
    context: np.ndarray,
    context_effect: np.ndarray,
    penalty: float,
    steps: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Diagonal Newton steps on the multinomial logit P(cell | r, g) = softmax(group_effect[:, r] +
    context[g] @ context_effect + place_effect[g]) for the expected counts[cell, g, r]: the place intercepts have a
    normal prior (variance 1/penalty) around a mean set by the place's group mix (Mundlak 1978), so that shrinking
    them does not leave the place's mix confounding the group terms."""
    rows = counts.sum(axis=0)  # [g, r]
    free = (np.arange(len(CELLS)) > 0).astype(float)
    over_places, over_groups = np.ones(counts.shape[1]), np.ones(counts.shape[2])

    def residual_and_curvature() -> tuple[np.ndarray, np.ndarray]:
        prob = _softmax_over_cells(group_effect, place_effect + context @ context_effect)
        expected = rows * prob
        return counts - expected, expected * (1.0 - prob)

    # Two blocks a step: the group terms, then the place terms and their mean together (one softmax fewer than
    # three blocks, the same fixed point; updating all three from one softmax diverges). Sums by matrix products:
    # numpy's reductions over a middle or short last axis are several times slower.
    for _ in range(steps):
        residual, curvature = residual_and_curvature()
        step = (over_places @ residual) / np.maximum(over_places @ curvature, 1e-9)  # [cell, group]
        group_effect = group_effect + np.clip(step, -2.0, 2.0) * free[:, None]
        residual, curvature = residual_and_curvature()
        residual, curvature = (residual @ over_groups).T, (curvature @ over_groups).T  # [place, cell]
        hessian = (context**2).T @ curvature * context.shape[1]  # diagonal, made safe
        context_step = (context.T @ residual) / np.maximum(hessian, 1e-9)
        place_step = (residual - penalty * place_effect) / (curvature + penalty)
        context_effect = context_effect + np.clip(context_step, -2.0, 2.0) * free[None, :]
        place_effect = place_effect + np.clip(place_step, -2.0, 2.0) * free[None, :]
    return group_effect, place_effect, context_effect


def fit_corrected(
    probabilities: np.ndarray,
    cells: np.ndarray,
    places: np.ndarray,
    *,
    place_prior_sd: float = 1.0,
    weights: np.ndarray | None = None,
    start: CorrectedFit | None = None,
    tolerance: float = 1e-5,
    max_iterations: int = MAX_ITERATIONS,
) -> CorrectedFit:
    """BIRDiE's EM with its mixed outcome model: P(cell | group, place) a multinomial logit with a group term and
    a place intercept drawn from N(0, place_prior_sd^2). places: codes 0..G-1 (all 0: the complete-pooling model,
    where the one intercept is absorbed by the group terms)."""
    n, groups = probabilities.shape
    w = np.ones(n) if weights is None else weights
    n_places = start.place_effect.shape[0] if start is not None else (int(places.max()) + 1 if n else 1)
    index = cells * n_places + places
    penalty = 1.0 / place_prior_sd**2 if n_places > 1 else 1e12
    if start is None:
        pooled = weighted_joint(probabilities, cells, w) + 0.5
        log_share = np.log(pooled / pooled.sum(axis=0, keepdims=True))
        group_effect = log_share - log_share[:1]
        place_effect = np.zeros((n_places, len(CELLS)))
        context_effect = np.zeros((groups, len(CELLS)))
    else:
        group_effect, place_effect = start.group_effect.copy(), start.place_effect.copy()
        context_effect = start.context_effect.copy()
    # each place's mean membership probabilities, less their overall mean (None of it without places)
    in_place = np.bincount(places, weights=w, minlength=n_places)
    context = (
        np.stack(
            [np.bincount(places, weights=w * probabilities[:, r], minlength=n_places) for r in range(groups)], axis=1
        )
        / np.maximum(in_place, 1e-12)[:, None]
    )
    context = (context - probabilities.mean(axis=0)) if n_places > 1 else np.zeros((n_places, groups))
    shapes = (group_effect.shape, place_effect.shape, context_effect.shape)

    def unpack(flat: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        sizes = np.cumsum([int(np.prod(shape)) for shape in shapes])[:-1]
        return tuple(part.reshape(shape) for part, shape in zip(np.split(flat, sizes), shapes))  # type: ignore[return-value]

    # groups along the first axis: each group's row of a million values is contiguous for the products and counts
    by_group = np.ascontiguousarray(probabilities.T)

    def step(flat: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        """One EM step from these parameters: the next ones, the joint under this E-step, and the penalised
        log-likelihood of the parameters given."""
        group, place, mix = unpack(flat)
        model = _softmax_over_cells(group, place + context @ mix).reshape(len(CELLS) * n_places, groups)
        posterior = np.take(np.ascontiguousarray(model.T), index, axis=1)  # each row's cell's chance, per group
        posterior *= by_group
        total = np.maximum(posterior.sum(axis=0), 1e-300)
        posterior /= total
        log_likelihood = float(np.log(total) @ w - penalty / 2 * (place**2).sum())
        if weights is not None:
            posterior *= w
        counts = np.stack(
            [np.bincount(index, weights=posterior[r], minlength=n_places * len(CELLS)) for r in range(groups)],
            axis=1,
        ).reshape(len(CELLS), n_places, groups)
        updated = _outcome_step(counts, group, place, context, mix, penalty, steps=1)
        return np.concatenate([part.ravel() for part in updated]), counts.sum(axis=1), log_likelihood

    # SQUAREM (Varadhan & Roland 2008): two EM steps make an extrapolated one, kept when it does not lower the
    # likelihood; the EM's fixed point is unchanged, it is reached in fewer steps.
    flat = np.concatenate([group_effect.ravel(), place_effect.ravel(), context_effect.ravel()])
    joint = np.zeros((len(CELLS), groups))
    converged = False
    iterations = 0
    for iterations in range(1, max_iterations + 1):
        first, _, _ = step(flat)
        second, _, first_likelihood = step(first)
        change, curvature = first - flat, second - 2 * first + flat
        length = float(np.linalg.norm(curvature))
        alpha = min(-1.0, -float(np.linalg.norm(change)) / length) if length > 0 else -1.0
        proposal = flat - 2 * alpha * change + alpha**2 * curvature
        next_flat, new_joint, proposal_likelihood = step(proposal)
        if not np.isfinite(next_flat).all() or proposal_likelihood < first_likelihood:
            next_flat, new_joint, _ = step(second)
        flat = next_flat
        share_change = np.abs(new_joint / max(new_joint.sum(), 1e-12) - joint / max(joint.sum(), 1e-12)).max()
        joint = new_joint
        if share_change < tolerance:
            converged = True
            break
    group_effect, place_effect, context_effect = unpack(flat)
    return CorrectedFit(
        joint=joint,
        group_effect=group_effect,
        place_effect=place_effect,
        context_effect=context_effect,
        iterations=iterations,
        converged=converged,
    )


def rate_bounds(
    probabilities: np.ndarray, indicator: np.ndarray, *, deciles: int = 10
) -> tuple[np.ndarray, np.ndarray]:
    """Sharp-within-cells bounds on P(indicator = 1 | group) for each group, from correct membership
    probabilities only. Cells: rows with the same most likely group and decile of its probability."""
    top = probabilities.argmax(axis=1)
    strength = probabilities.max(axis=1)
    edges = np.quantile(strength, np.linspace(0, 1, deciles + 1)[1:-1]) if len(strength) else np.array([])
    cell = top * deciles + np.searchsorted(edges, strength, side="right")
    n_cells = probabilities.shape[1] * deciles
    rows = np.bincount(cell, minlength=n_cells).astype(float)
    outcome = np.bincount(cell, weights=indicator.astype(float), minlength=n_cells)
    mean_outcome = np.divide(outcome, rows, out=np.zeros(n_cells), where=rows > 0)
    low = np.zeros(probabilities.shape[1])
    high = np.zeros(probabilities.shape[1])
    members = np.zeros(probabilities.shape[1])
    for r in range(probabilities.shape[1]):
        share = np.divide(
            np.bincount(cell, weights=probabilities[:, r], minlength=n_cells),
            rows,
            out=np.zeros(n_cells),
            where=rows > 0,
        )
        low[r] = (rows * np.maximum(0.0, share + mean_outcome - 1.0)).sum()
        high[r] = (rows * np.minimum(share, mean_outcome)).sum()
        members[r] = (rows * share).sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        return low / members, high / members
