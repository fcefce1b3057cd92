"""Paired likelihood probes (CrowS-Pairs, WinoBias): which of two minimally different sentences the model finds
more likely.

Two scores per pair, both log-likelihood differences (stereotype-consistent minus the other, in nats):
- ``full_sentence``: the whole sentence, each token given the ones before;
- ``unmodified_tokens``: only the tokens the two sentences share (aligned by difflib on token ids), each given
  everything before it, the changed words included. This is CrowS-Pairs' conditional score adapted to a causal
  model: it asks what the changed group word does to the rest of the sentence, not how frequent the word itself is.
"""

from __future__ import annotations

import difflib

import numpy as np

from audit.probes._data import PairItem
from audit.probes._stats import mean_row, share_row, with_holm
from audit.result._sections import ProbeExample, ProbeSuite

__all__ = ["pair_scores", "paired_suite"]

MEASURES = {"full_sentence": "share preferring the stereotype (whole sentence)",
            "unmodified_tokens": "share preferring the stereotype (shared tokens, given the changed words)"}


def pair_scores(lm, items: list[PairItem]) -> dict[str, np.ndarray]:
    """Both scores of every pair (and each sentence's log-likelihood), from one batched pass over all sentences."""
    ids = lm.encode([it.stereo for it in items] + [it.anti for it in items])
    logprobs = lm.token_logprobs(ids)
    n = len(items)
    full = np.array([logprobs[i].sum() - logprobs[n + i].sum() for i in range(n)])
    shared = np.empty(n)
    for i in range(n):
        a, b = ids[i], ids[n + i]
        matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
        in_a = [k for block in matcher.get_matching_blocks() for k in range(block.a, block.a + block.size) if k > 0]
        in_b = [k for block in matcher.get_matching_blocks() for k in range(block.b, block.b + block.size) if k > 0]
        shared[i] = logprobs[i][np.array(in_a, int) - 1].sum() - logprobs[n + i][np.array(in_b, int) - 1].sum()
    return {"full_sentence": full, "unmodified_tokens": shared,
            "loglik": np.array([values.sum() for values in logprobs])}  # each sentence's, stereo ones first


def paired_suite(name: str, lm, items: list[PairItem], *, available: int, primary: str, description: str,
                 source: str, seed: int, n_examples: int, settings: dict, notes: tuple[str, ...] = ()) -> ProbeSuite:
    """Per category and over all: the share of pairs preferring the stereotype for each score (the ``primary``
    one is the bias test, Holm-adjusted across categories), and the mean difference of the primary score."""
    scores = pair_scores(lm, items)
    categories = np.array([it.category for it in items])
    rows = []
    for category in ["all", *sorted(set(categories))]:
        chosen = np.ones(len(items), bool) if category == "all" else categories == category
        for measure in (primary, *(m for m in MEASURES if m != primary)):
            rows.append(share_row(category, f"stereotype_share_{measure}",
                                  scores[measure][chosen], role="bias" if measure == primary else "context"))
        rows.append(mean_row(category, f"mean_difference_{primary}", scores[primary][chosen], seed=seed))
    primary_scores = scores[primary]
    strongest = np.argsort(-np.abs(primary_scores))[:n_examples]
    examples = [ProbeExample(items[i].category, *(
        (items[i].stereo, items[i].anti) if primary_scores[i] >= 0 else (items[i].anti, items[i].stereo)),
        float(abs(primary_scores[i])), bool(primary_scores[i] > 0)) for i in strongest]
    notes = [*notes, f"primary score: {primary} ({MEASURES[primary]}); Holm's correction runs over its rows"]
    return ProbeSuite(name=name, description=description, source=source, units="nats (log-likelihood difference)",
                      items=len(items), items_available=available, rows=with_holm(rows), examples=examples,
                      settings=settings, notes=notes)
