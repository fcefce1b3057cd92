"""Text models: which words carry the score change of an identity swap that flipped a decision.

Both texts are attributed with the same method, target and baseline kind; their words are aligned outside the
swapped term (the common prefix and suffix), and each word's change of attribution is what the swap did through it.
The swapped term's own change against the rest says whether the model reacts to the term alone, or to the term
together with the words around it ("gay" turning "love" negative)."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from audit.result._gap_sections import SwapExplanation, SwapSummary
from audit.result._sections import CounterfactualExample
from explainers._stats import interval_or_none

__all__ = ["swap_explanations", "align_words"]


def align_words(original: list[str], variant: list[str]) -> tuple[int, int]:
    """(prefix, suffix): how many words both texts share at the start and at the end (not overlapping)."""
    same = [a.lower() == b.lower() for a, b in zip(original, variant)]
    prefix = next((i for i, equal in enumerate(same) if not equal), len(same))
    limit = min(len(original), len(variant)) - prefix
    suffix = 0
    while suffix < limit and original[-1 - suffix].lower() == variant[-1 - suffix].lower():
        suffix += 1
    return prefix, suffix


def swap_explanations(
    examples: list[CounterfactualExample],
    attribute: Callable[[list[str]], Any],
    *,
    method: str,
    ci_level: float,
    seed: int,
) -> tuple[list[SwapExplanation], SwapSummary]:
    """``attribute(texts)``: an Attribution with word values for each text (of the positive class's log-odds or
    probability: its ``output_space``, in which the changes are measured)."""
    texts = [text for example in examples for text in (example.original, example.variant)]
    attribution = attribute(texts)
    explained = []
    for index, example in enumerate(examples):
        words_o, values_o = attribution.words[2 * index], np.asarray(attribution.word_values[2 * index])
        words_v, values_v = attribution.words[2 * index + 1], np.asarray(attribution.word_values[2 * index + 1])
        prefix, suffix = align_words(words_o, words_v)
        term_change = float(
            values_v[prefix : len(values_v) - suffix].sum() - values_o[prefix : len(values_o) - suffix].sum()
        )
        context = [(words_o[i], float(values_v[i] - values_o[i])) for i in range(prefix)]
        context += [(words_o[-1 - i], float(values_v[-1 - i] - values_o[-1 - i])) for i in range(suffix)]
        moved = abs(term_change) + sum(abs(change) for _, change in context)
        total = term_change + sum(change for _, change in context)
        output_change = float(attribution.outputs[2 * index + 1] - attribution.outputs[2 * index])
        explained.append(
            SwapExplanation(
                axis=example.axis,
                source=example.source,
                target=example.target,
                original=example.original,
                variant=example.variant,
                score_change=example.variant_score - example.original_score,
                output_change=output_change,
                output_space=attribution.output_space,
                term=" ".join(words_v[prefix : len(words_v) - suffix]),
                term_change=term_change,
                context=[[word, change] for word, change in sorted(context, key=lambda item: -abs(item[1]))[:5]],
                term_share=abs(term_change) / moved if moved > 0 else None,
                explained_change=float(total),
                unexplained=float(output_change - total),
            )
        )
    shares = np.array([e.term_share for e in explained if e.term_share is not None])
    interval = None
    if len(shares) > 1:
        rng = np.random.default_rng(seed)
        draws = rng.integers(0, len(shares), size=(1000, len(shares)))
        interval = interval_or_none(shares[draws].mean(axis=1), ci_level)
    return explained, SwapSummary(
        method=method,
        examples=len(explained),
        term_share_mean=float(shares.mean()) if len(shares) else None,
        term_share_ci=interval,
    )
