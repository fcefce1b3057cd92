"""What a pairwise judge is, made into one contract: ``(prompts, first, second) -> verdicts`` where a verdict is
+1 (the first answer is better), -1 (the second), 0 (a tie) or "excluded" with a reason (the judge answered neither).

A user's judge is a callable returning, per pair, a number (its margin: > 0 prefers the first answer) or a label
("A" / "B"; anything else is counted as "answered neither"). A :class:`~explainers.CausalLM` is prompted with
``template`` and its verdict read from the log-probabilities of the two answer labels as the next tokens."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from audit._errors import ConfigError, DataError
from audit.config._settings import DEFAULT_JUDGE_TEMPLATE

__all__ = ["CausalLMJudge", "Judged", "as_judge", "DEFAULT_TEMPLATE"]

DEFAULT_TEMPLATE = DEFAULT_JUDGE_TEMPLATE  # one default, the config's


@dataclass(frozen=True)
class Judged:
    """Per pair: the verdict (+1 first, -1 second, 0 tie; NaN where excluded), the margin when the judge gives one
    (NaN otherwise) and why a pair was excluded (None when it was not)."""

    verdicts: np.ndarray
    margins: np.ndarray
    reasons: list[str | None]


class CausalLMJudge:
    """A causal language model as a pairwise judge. ``labels``: the two answers' continuations (" A", " B");
    margin = log p(label A | prompt) - log p(label B | prompt). A pair on which the model puts less than
    ``min_answer_mass`` of probability on the two labels together is excluded ("answered neither"), as is one
    longer than the model reads."""

    def __init__(
        self,
        lm: Any,
        *,
        template: str = DEFAULT_TEMPLATE,
        labels: tuple[str, str] = (" A", " B"),
        min_answer_mass: float = 0.5,
    ) -> None:
        for slot in ("{prompt}", "{first}", "{second}"):
            if slot not in template:
                raise ConfigError(
                    f"The 'template' parameter of CausalLMJudge must contain {slot} (with {{prompt}}, {{first}} "
                    f"and {{second}}). Got {template!r} instead."
                )
        if len(labels) != 2 or labels[0] == labels[1] or not all(isinstance(x, str) and x.strip() for x in labels):
            raise ConfigError(
                f"The 'labels' parameter of CausalLMJudge must be two different non-empty strings, e.g. (' A', ' B'). "
                f"Got {labels!r} instead."
            )
        if not 0 <= min_answer_mass < 1:
            raise ConfigError(
                f"The 'min_answer_mass' parameter of CausalLMJudge must be in [0, 1). Got {min_answer_mass!r} instead."
            )
        self.lm, self.template, self.labels, self.min_answer_mass = lm, template, tuple(labels), min_answer_mass

    def describe(self) -> dict[str, Any]:
        return {
            "kind": "causal-lm judge",
            "name": type(self.lm.model).__name__,
            "template": self.template,
            "labels": list(self.labels),
            "min_answer_mass": self.min_answer_mass,
            "verdict": "log p(label A) - log p(label B) as the next tokens: > 0 prefers the first answer",
        }

    def judge(self, prompts: list[str], first: list[str], second: list[str]) -> Judged:
        texts = [self.template.format(prompt=p, first=a, second=b) for p, a, b in zip(prompts, first, second)]
        n = len(texts)
        lengths = [
            len(ids) for ids in self.lm.encode([t + label for t in texts for label in self.labels], check_length=False)
        ]
        fits = np.array([max(lengths[2 * i], lengths[2 * i + 1]) <= self.lm.max_length for i in range(n)], bool)
        margins = np.full(n, np.nan)
        reasons: list[str | None] = [None if ok else "longer than the model reads" for ok in fits]
        kept = np.flatnonzero(fits)
        if len(kept):
            chosen = [texts[i] for i in kept]
            first_lp = self.lm.continuation_logprob(chosen, [self.labels[0]] * len(chosen))
            second_lp = self.lm.continuation_logprob(chosen, [self.labels[1]] * len(chosen))
            mass = np.exp(first_lp) + np.exp(second_lp)
            for position, index in enumerate(kept):
                if mass[position] < self.min_answer_mass:
                    reasons[index] = f"answered neither label (probability on both < {self.min_answer_mass:g})"
                else:
                    margins[index] = first_lp[position] - second_lp[position]
        verdicts = np.where(np.isnan(margins), np.nan, np.sign(margins))
        return Judged(verdicts, margins, reasons)


def as_judge(judge: Any, *, min_answer_mass: float = 0.5) -> tuple[Any, dict[str, Any]]:
    """A function ``(prompts, first, second) -> Judged`` and how its verdicts are read (for the result)."""
    from explainers._causal_lm import CausalLM

    if isinstance(judge, CausalLM):
        judge = CausalLMJudge(judge, min_answer_mass=min_answer_mass)
    if isinstance(judge, CausalLMJudge):
        return judge.judge, judge.describe()
    if not callable(judge):
        raise ConfigError(
            "The 'judge' parameter of judge_audit must be a CausalLM, a CausalLMJudge, or a callable "
            "(prompts, first, second) -> one margin (> 0 prefers the first) or label ('A' / 'B') per pair. "
            f"Got {type(judge).__name__} instead."
        )
    name = getattr(judge, "__qualname__", type(judge).__name__)

    def call(prompts: list[str], first: list[str], second: list[str]) -> Judged:
        return _read(judge(prompts, first, second), len(prompts))

    return call, {
        "kind": "callable",
        "name": name,
        "verdict": "a margin (> 0 prefers the first answer) or a label 'A' / 'B' per pair; other labels: excluded",
    }


def _read(output: Any, n: int) -> Judged:
    values = list(output) if not isinstance(output, np.ndarray) else output.tolist()
    if len(values) != n:
        raise DataError(
            f"The judge returned {len(values)} verdicts for {n} pairs; it must return one per pair (a margin, > 0 "
            "prefers the first answer, or a label 'A' / 'B')."
        )
    margins, verdicts, reasons = np.full(n, np.nan), np.full(n, np.nan), [None] * n
    reasons_out: list[str | None] = list(reasons)
    for i, value in enumerate(values):
        if isinstance(value, str):
            label = value.strip().strip(".:)(").upper()
            if label in ("A", "B"):
                verdicts[i] = 1.0 if label == "A" else -1.0
            else:
                reasons_out[i] = "answered neither A nor B"
            continue
        try:
            number = float(value)
        except (TypeError, ValueError) as err:
            raise DataError(
                f"The judge's verdict {i} is {value!r}; a verdict is a number (> 0 prefers the first answer) or a "
                "label 'A' / 'B'."
            ) from err
        if not np.isfinite(number):
            reasons_out[i] = "answered neither (a NaN or infinite margin)"
            continue
        margins[i], verdicts[i] = number, np.sign(number)
    return Judged(verdicts, margins, reasons_out)
