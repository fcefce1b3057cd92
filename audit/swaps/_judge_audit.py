"""Paired swaps of a pairwise judge (docs/swaps.md): every pair judged in both orders (position), with either answer
padded but equivalent (length), and with identity signals swapped in either answer (identity). A candidate's
``wins`` is how many of the two orders it won (a tie counts one half), so every measure is free of position bias
except the position test itself."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pandas as pd

from audit._errors import ConfigError, DataError
from audit.probes._stats import mean_row, share_row, with_holm
from audit.result._sections import ProbeRow
from audit.result._swap_sections import SwapAudit, SwapExample, SwapSuite
from audit.swaps._documents import resolve_lexicons
from audit.swaps._judges import Judged, as_judge
from audit.swaps._paired import proportion_row, sign_mean_row
from audit.text._audit import _check_texts
from audit.text._counterfactual import counterfactuals

__all__ = ["judge_audit", "JUDGE_SUITES", "PADDINGS"]

JUDGE_SUITES = ("position", "length", "identity")
PADDINGS = ("repeat", "filler")
FILLER = "I have considered the question carefully, and the answer above is my complete and final response."


def _padded(answer: str, padding: str | Callable[[str], str]) -> str:
    if callable(padding):
        return str(padding(answer))
    if padding == "repeat":  # the same content said twice: longer, no better (the "repetitive list" attack)
        return f"{answer} In other words: {answer}"
    return f"{answer} {FILLER}"


class _Bench:
    """Batches the judge's calls and counts why pairs were left out."""

    def __init__(self, judge: Callable[..., Judged]) -> None:
        self.judge = judge

    def both_orders(self, prompts, first, second) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str | None]]:
        """Wins of ``first`` over the two orders (0..2), each order's margin toward its first slot (2 x n; NaN
        without margins), each order's verdict toward its first slot (2 x n) and why a pair is excluded."""
        n = len(prompts)
        judged = self.judge(list(prompts) * 2, list(first) + list(second), list(second) + list(first))
        if len(judged.verdicts) != 2 * n:
            raise DataError(f"The judge returned {len(judged.verdicts)} verdicts for {2 * n} pairs.")
        v1, v2 = judged.verdicts[:n], judged.verdicts[n:]
        # float first: numpy adds booleans as 'or'
        wins = (v1 == 1).astype(float) + (v2 == -1) + 0.5 * (v1 == 0) + 0.5 * (v2 == 0)
        margin = np.vstack([judged.margins[:n], judged.margins[n:]])
        reasons = [a or b for a, b in zip(judged.reasons[:n], judged.reasons[n:])]
        wins = np.where(np.isnan(v1) | np.isnan(v2), np.nan, wins)
        return wins, margin, np.vstack([v1, v2]), reasons


def _excluded(reasons: list[str | None]) -> dict[str, int]:
    return {str(k): int(v) for k, v in pd.Series([r for r in reasons if r]).value_counts().items()}


def judge_audit(
    *,
    prompts: Any,
    answers_a: Any,
    answers_b: Any,
    judge: Any,
    suites: tuple[str, ...] = JUDGE_SUITES,
    lexicons: Any = None,
    padding: str | Callable[[str], str] = "repeat",
    min_answer_mass: float = 0.5,
    alpha: float = 0.01,
    seed: int = 0,
    examples: int = 8,
) -> SwapAudit:
    """Audit a pairwise judge for position, length and identity bias on the user's own pairs (``prompts`` and two
    answers each). ``judge``: a CausalLM (verdict from its answer labels' log-probabilities), a CausalLMJudge, or a
    callable ``(prompts, first, second) -> margins or 'A' / 'B' labels``. Returns the ``AuditResult.swaps``
    section."""
    prompts, first, second = (_check_texts(x) for x in (prompts, answers_a, answers_b))
    if not len(prompts) == len(first) == len(second):
        raise DataError(
            f"judge_audit needs one prompt and two answers per pair: {len(prompts)} prompts, {len(first)} answers_a, "
            f"{len(second)} answers_b."
        )
    if not prompts:
        raise DataError("judge_audit got no pairs: give at least one prompt with two answers.")
    suites = tuple(suites)
    unknown = sorted(set(suites) - set(JUDGE_SUITES))
    if unknown or not suites:
        raise ConfigError(
            f"The 'suites' parameter of judge_audit must name some of {', '.join(JUDGE_SUITES)}. Got {list(suites)}."
        )
    if not callable(padding) and padding not in PADDINGS:
        raise ConfigError(
            f"The 'padding' parameter of judge_audit must be one of {', '.join(PADDINGS)} or a callable "
            f"answer -> padded answer. Got {padding!r} instead."
        )
    call, record = as_judge(judge, min_answer_mass=min_answer_mass)
    bench = _Bench(call)
    base = bench.both_orders(prompts, first, second)
    built: list[SwapSuite] = []
    if "position" in suites:
        built.append(_position(prompts, first, second, base, seed=seed, examples=examples))
    if "length" in suites:
        built.append(_length(bench, prompts, first, second, base, padding, seed=seed, examples=examples))
    if "identity" in suites:
        built.append(_identity(bench, prompts, first, second, base, resolve_lexicons(lexicons), seed, examples))
    settings = {
        "suites": list(suites),
        "padding": padding if isinstance(padding, str) else "callable",
        "pairs": len(prompts),
        "seed": seed,
    }
    return SwapAudit(scorer=record, suites=holm_across(built), alpha=alpha, settings=settings)


def holm_across(suites: list[SwapSuite]) -> list[SwapSuite]:
    """Holm's correction over every bias row of the audit (one family), written back into each suite."""
    import dataclasses

    flat = with_holm([row for suite in suites for row in suite.rows])
    out, start = [], 0
    for suite in suites:
        out.append(dataclasses.replace(suite, rows=flat[start : start + len(suite.rows)]))
        start += len(suite.rows)
    return out


def _position(prompts, first, second, base, *, seed: int, examples: int) -> SwapSuite:
    wins, margin, verdicts, reasons = base
    kept = ~np.isnan(wins)
    v1, v2 = verdicts[0][kept], verdicts[1][kept]
    preference = v1 + v2  # > 0: the answer in the first slot won more often than the same answer in the second
    rows = [
        sign_mean_row(
            "all",
            "first_position_advantage",
            np.sign(preference),
            subject="order swapped",
            seed=seed,
            note="(pairs the first slot won both times - pairs the second slot did) / pairs",
        ),
        share_row("all", "first_position_share", preference, role="context", subject="order swapped"),
        proportion_row(
            "all",
            "order_flip_rate",
            int(((v1 == v2) & (v1 != 0)).sum()),
            int(kept.sum()),
            subject="order swapped",
            note="the verdict picked a different answer when the order changed",
        ),
    ]
    bonus = (margin[0] + margin[1])[kept] / 2  # the answers' own difference cancels between the two orders
    if not np.isnan(bonus).any() and len(bonus):
        rows.append(
            mean_row(
                "all",
                "first_position_margin",
                bonus,
                seed=seed,
                subject="order swapped",
                note="half the sum of the two orders' margins toward their first answer (nats for a language model)",
            )
        )
    picks = np.flatnonzero(kept)[np.abs(preference) == 2]
    shown = [
        SwapExample(
            "order",
            f"Prompt: {prompts[i]}\nFirst: {first[i]}\nSecond: {second[i]}",
            f"Prompt: {prompts[i]}\nFirst: {second[i]}\nSecond: {first[i]}",
            "verdict (+1: the first slot's answer, -1: the second's)",
            float(verdicts[0][i]),
            float(verdicts[1][i]),
            True,
        )
        for i in picks[:examples]
    ]
    return SwapSuite(
        name="judge_position",
        description="each pair judged in both orders: does the answer in the first slot win more often?",
        units="share of order-dependent pairs; nats (margin)",
        pairs=int(kept.sum()),
        excluded=_excluded(reasons),
        rows=rows,
        examples=shown,
        notes=[
            "first_position_share: of the pairs whose verdicts depend on the order, the share where the first slot "
            "won both times (ties count toward the side they lean); 0.5 is no position bias"
        ],
    )


def _length(bench, prompts, first, second, base, padding, *, seed: int, examples: int) -> SwapSuite:
    wins, _, _, reasons = base
    padded_first = [_padded(a, padding) for a in first]
    padded_second = [_padded(b, padding) for b in second]
    wins_pa, _, _, reasons_a = bench.both_orders(prompts, padded_first, second)
    wins_pb, _, _, reasons_b = bench.both_orders(prompts, padded_second, first)
    gain = (wins_pa - wins) + (wins_pb - (2 - wins))  # wins the padded answers gained, both candidates, per pair
    kept = ~np.isnan(gain)
    why = [r or ra or rb for r, ra, rb in zip(reasons, reasons_a, reasons_b)]
    rows = [
        sign_mean_row(
            "all",
            "padded_win_share_change",
            gain[kept],
            scale=0.25,
            seed=seed,
            subject="answer padded",
            note="change in a padded answer's share of its two orders' wins, both answers padded in turn",
        ),
        share_row("all", "padded_answer_share", gain[kept], role="context", subject="answer padded"),
    ]
    order = np.argsort(-np.abs(np.nan_to_num(wins_pa - wins)), kind="stable")
    shown = [
        SwapExample(
            "padding",
            first[i],
            padded_first[i],
            "wins of 2 against the other answer",
            float(wins[i]),
            float(wins_pa[i]),
            bool(wins_pa[i] != wins[i]),
            note=f"against: {second[i]}",
        )
        for i in order[:examples]
        if kept[i] and wins_pa[i] != wins[i]
    ]
    return SwapSuite(
        name="judge_length",
        description="each answer padded but equivalent, judged in both orders against the other answer",
        units="share of changed pairs; share of wins",
        pairs=int(kept.sum()),
        excluded=_excluded(why),
        rows=rows,
        examples=shown,
        notes=[
            "padded_answer_share: of the pairs where padding changed a verdict, the share where the padded answers "
            "gained; 0.5 is no length bias",
            f"padding: {padding if isinstance(padding, str) else 'a callable'}",
        ],
    )


def _identity(bench, prompts, first, second, base, lexicons, seed: int, examples: int) -> SwapSuite:
    wins, _, _, reasons = base
    variants_a, _ = counterfactuals(first, lexicons)
    variants_b, _ = counterfactuals(second, lexicons)
    ids = np.array([v.text_index for v in variants_a] + [v.text_index for v in variants_b], int)
    swapped = [v.text for v in variants_a] + [v.text for v in variants_b]
    others = [second[v.text_index] for v in variants_a] + [first[v.text_index] for v in variants_b]
    own_wins = np.concatenate([wins[[v.text_index for v in variants_a]], 2 - wins[[v.text_index for v in variants_b]]])
    if len(ids):
        new_wins, _, _, why = bench.both_orders([prompts[i] for i in ids], swapped, others)
    else:
        new_wins, why = np.zeros(0), []
    change = new_wins - own_wins
    why = [w or reasons[i] for w, i in zip(why, ids)]
    frame = pd.DataFrame(
        {
            "pair": ids,
            "axis": [v.axis for v in variants_a + variants_b],
            "direction": [f"{v.source} -> {v.target}" for v in variants_a + variants_b],
            "change": change,
        }
    ).dropna(subset=["change"])
    rows: list[ProbeRow] = []
    for (axis, direction), group in frame.groupby(["axis", "direction"], sort=False):
        per_pair = group.groupby("pair")["change"].sum().to_numpy()  # one value per pair: pairs are independent
        rows.append(
            sign_mean_row(
                str(axis),
                "swapped_win_share_change",
                per_pair,
                scale=0.5,
                seed=seed + len(rows),
                subject=str(direction),
                note="change in the swapped answer's share of its two orders' wins",
            )
        )
        rows.append(share_row(str(axis), "swapped_answer_share", per_pair, role="context", subject=str(direction)))
    order = np.argsort(-np.abs(np.nan_to_num(change)), kind="stable")
    everything = variants_a + variants_b
    shown = [
        SwapExample(
            f"{everything[j].axis}: {everything[j].source} -> {everything[j].target}",
            (first if j < len(variants_a) else second)[ids[j]],
            swapped[j],
            "wins of 2 against the other answer",
            float(own_wins[j]),
            float(new_wins[j]),
            True,
            note=f"against: {others[j]}",
        )
        for j in order[:examples]
        if not np.isnan(change[j]) and change[j] != 0
    ]
    notes = [
        "swapped_answer_share: of the pairs where the swap changed a verdict, the share where the swapped answer "
        "gained; 0.5 is no preference",
    ]
    if not len(ids):
        notes.append("no answer mentions an identity term of the lexicons: nothing was swapped")
    return SwapSuite(
        name="judge_identity",
        description="identity signals swapped in either answer, judged in both orders against the other answer",
        units="share of changed pairs; share of wins",
        pairs=int(len(frame)),
        excluded=_excluded(why),
        rows=rows,
        examples=shown,
        notes=notes,
    )
