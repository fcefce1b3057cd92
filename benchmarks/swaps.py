"""Paired swaps: each test's false-positive rate on fair scorers and judges, and its power on planted ones.

1. Documents, null: a fair but noisy scorer (a sampled score: merit plus fresh noise at every call, as a language
   model scoring at temperature > 0 gives), ``--reps`` populations of 400 résumés in 10 lists of 40, names swapped
   by gender: how often each bias row's test rejects at 0.05 (unadjusted), and how often any row of the audit does
   after Holm.
2. Documents, planted: the same scorer lowering a female-named document's score by ``--penalty`` noise standard
   deviations: each row's power (Holm p < 0.05), and how often the rank displacement's 95% interval holds its
   true mean (the same design's expectation, from one population of 200,000 documents).
3. Judges, null: a judge that picks A or B at random at every call, 100 pairs, the position, length and identity
   suites; planted: a judge that picks the first slot with probability ``--first`` (position), the longer answer
   with probability ``--first`` (length), the male-named answer with probability ``--first`` (identity).

``python -m benchmarks.swaps`` prints one JSON line last.
"""

from __future__ import annotations

import argparse
import json
import re
import time

import numpy as np

from audit.swaps._documents import swap_audit
from audit.swaps._judge_audit import judge_audit

MALE = ["Brad", "Brendan", "Geoffrey", "Greg", "Jay", "Matthew", "Neil", "Todd"]
FEMALE = ["Allison", "Anne", "Carrie", "Emily", "Jill", "Kristen", "Meredith", "Sarah"]
_MERIT = re.compile(r"merit ([0-9.]+)")
_FEMALE = re.compile(r"\b(" + "|".join(FEMALE) + r")\b")


def _documents(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    names = np.where(rng.random(n) < 0.5, rng.choice(MALE, n), rng.choice(FEMALE, n))
    return [f"{name} applied, merit {m:.4f} ." for name, m in zip(names, rng.uniform(0, 4, n))]


def _scorer(seed: int, penalty: float):
    rng = np.random.default_rng(seed)

    def score(texts: list[str]) -> np.ndarray:
        merit = np.array([float(_MERIT.search(t).group(1)) for t in texts])
        female = np.array([_FEMALE.search(t) is not None for t in texts])
        return 1 / (1 + np.exp(-(merit - 2 - penalty * female + rng.normal(size=len(texts)))))

    return score


def _document_rows(reps: int, penalty: float, seed0: int) -> dict:
    rejected: dict[str, list[bool]] = {}
    any_holm, covered, expected = [], [], None
    if penalty:
        expected = _true_displacement(penalty)
    for rep in range(reps):
        texts = _documents(400, seed0 + rep)
        result = swap_audit(
            documents=texts,
            scorer=_scorer(seed0 + 10_000 + rep, penalty),
            queries=np.arange(400) // 40,
            k=5,
            lexicons=["name_gender"],
            seed=rep,
        )
        bias = [r for r in result.suites[0].rows if r.role == "bias"]
        for row in bias:
            key = f"{row.measure} ({row.subject})"
            p = row.p_holm if penalty else row.p_value
            rejected.setdefault(key, []).append(p is not None and p < 0.05)
            if penalty and row.measure == "rank_displacement" and row.subject == "male -> female" and row.ci:
                covered.append(row.ci[0] <= expected <= row.ci[1])
        any_holm.append(any(r.p_holm is not None and r.p_holm < 0.05 for r in bias))
    out = {key: round(float(np.mean(v)), 4) for key, v in rejected.items()}
    out["any_row_holm"] = round(float(np.mean(any_holm)), 4)
    if penalty:
        out["displacement_truth"] = round(expected, 4)
        out["displacement_coverage"] = round(float(np.mean(covered)), 4)
    return out


def _true_displacement(penalty: float) -> float:
    """The mean positions a male-named document drops when its name turns female, in this design: 20,000 lists of
    40 drawn afresh, counted directly (no swap audit involved)."""
    rng = np.random.default_rng(99)
    lists, size = 20_000, 40
    merit = rng.uniform(0, 4, (lists, size))
    female = rng.random((lists, size)) < 0.5
    noise = rng.normal(size=(lists, size))
    score = merit - penalty * female + noise
    # document 0 of each list, made male, then female, with fresh noise for the variant (a new call)
    original = merit[:, 0] + noise[:, 0]
    variant = merit[:, 0] - penalty + rng.normal(size=lists)
    others = score[:, 1:]
    return float(((others > variant[:, None]).sum(1) - (others > original[:, None]).sum(1)).mean())


def _judge(seed: int, *, first: float, length: float, male: float):
    """Prefers the first slot, the answer with more words, the male-named answer, each with the given probability
    where it applies (0.5: no preference), independently at every call."""
    rng = np.random.default_rng(seed)

    def judge(prompts, a_list, b_list):
        out = []
        for a, b in zip(a_list, b_list):
            pull = [first - 0.5]
            if len(a.split()) != len(b.split()):
                pull.append((length - 0.5) * np.sign(len(a.split()) - len(b.split())))
            a_male, b_male = a.split()[0] in MALE, b.split()[0] in MALE
            if a_male != b_male:
                pull.append((male - 0.5) * (1 if a_male else -1))
            out.append("A" if rng.random() < 0.5 + sum(pull) else "B")
        return out

    return judge


def _pairs(n: int, seed: int):
    rng = np.random.default_rng(seed)
    names = lambda: np.where(rng.random(n) < 0.5, rng.choice(MALE, n), rng.choice(FEMALE, n))  # noqa: E731
    a, b = names(), names()
    return [f"question {i}" for i in range(n)], [f"{x} says yes" for x in a], [f"{x} says no" for x in b]


def _judge_rows(reps: int, *, first: float, length: float, male: float, seed0: int) -> dict:
    planted = (first, length, male) != (0.5, 0.5, 0.5)
    rejected: dict[str, list[bool]] = {}
    any_holm = []
    for rep in range(reps):
        prompts, a, b = _pairs(100, seed0 + rep)
        result = judge_audit(
            prompts=prompts,
            answers_a=a,
            answers_b=b,
            judge=_judge(seed0 + 50_000 + rep, first=first, length=length, male=male),
            lexicons=["name_gender"],
            seed=rep,
        )
        bias = [row for suite in result.suites for row in suite.rows if row.role == "bias"]
        for row in bias:
            p = row.p_holm if planted else row.p_value
            rejected.setdefault(f"{row.measure} ({row.subject})", []).append(p is not None and p < 0.05)
        any_holm.append(any(r.p_holm is not None and r.p_holm < 0.05 for r in bias))
    out = {key: round(float(np.mean(v)), 4) for key, v in rejected.items()}
    out["any_row_holm"] = round(float(np.mean(any_holm)), 4)
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=300)
    parser.add_argument("--penalty", type=float, default=0.3)
    parser.add_argument("--first", type=float, default=0.65)
    args = parser.parse_args(argv)
    clock = time.perf_counter()
    summary = {
        "reps": args.reps,
        "documents_null": _document_rows(args.reps, 0.0, 0),
        "documents_planted": _document_rows(args.reps, args.penalty, 5_000),
        "judge_null": _judge_rows(args.reps, first=0.5, length=0.5, male=0.5, seed0=0),
        "judge_planted": _judge_rows(args.reps, first=args.first, length=args.first, male=args.first, seed0=7_000),
        "penalty": args.penalty,
        "first": args.first,
    }
    summary["seconds"] = round(time.perf_counter() - clock, 1)
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
