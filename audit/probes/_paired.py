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

MEASURES = {
    "full_sentence": "share preferring the stereotype (whole sentence)",
    "unmodified_tokens": "share preferring the stereotype (shared tokens, given the changed words)",
}


def pair_scores(lm, items: list[PairItem], ids: list[list[int]] | None = None) -> dict[str, np.ndarray]:
    """Both scores of every pair (and each sentence's log-likelihood), from one batched pass over all sentences;
    ``shared_tokens``: how many tokens each pair's shared-token score rests on, those after the first change (0: the
    score is a tie by design)."""
    ids = lm.encode([it.stereo for it in items] + [it.anti for it in items]) if ids is None else ids
    logprobs = lm.token_logprobs(ids)
    n = len(items)
    full = np.array([logprobs[i].sum() - logprobs[n + i].sum() for i in range(n)])
    shared = np.empty(n)
    counted = np.empty(n, int)
    for i in range(n):
        a, b = ids[i], ids[n + i]
        matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
        in_a = [k for block in matcher.get_matching_blocks() for k in range(block.a, block.a + block.size) if k > 0]
        in_b = [k for block in matcher.get_matching_blocks() for k in range(block.b, block.b + block.size) if k > 0]
        shared[i] = logprobs[i][np.array(in_a, int) - 1].sum() - logprobs[n + i][np.array(in_b, int) - 1].sum()
        # tokens before the first change have the same probability in both sentences: they cancel, so count only
        # the shared tokens after it, the ones the score rests on
        first = next((k for k, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
        counted[i] = sum(k > first for k in in_a)
    return {
        "full_sentence": full,
        "unmodified_tokens": shared,
        "loglik": np.array([values.sum() for values in logprobs]),  # each sentence's, stereo ones first
        "shared_tokens": counted,
    }


def _lines(items: list[PairItem]) -> str:
    """The CSV rows of a user's pairs (row 1 is the header), the first few."""
    lines = [str(it.line) for it in items if it.line]
    if not lines:
        return ""
    return " (rows " + ", ".join(lines[:8]) + (f" and {len(lines) - 8} more" if len(lines) > 8 else "") + ")"


def usable_pairs(lm, items: list[PairItem]) -> tuple[list[PairItem], list[list[int]] | None, list[str]]:
    """The pairs that can be scored, their token ids (stereo sentences, then anti), and a note for each kind left
    out: a pair with an empty sentence is no pair; one longer than the model reads cannot be scored whole. Each is
    left out and counted, as BBQ's long items are, never taking the suite down."""
    notes = []
    empty = [it for it in items if not it.stereo.strip() or not it.anti.strip()]
    if empty:
        notes.append(f"{len(empty)} pair(s) with an empty sentence left out{_lines(empty)}")
    items = [it for it in items if it not in empty] if empty else items
    if not items:
        return [], None, notes
    ids = lm.encode([it.stereo for it in items] + [it.anti for it in items], check_length=False)
    n = len(items)
    fits = [len(ids[i]) <= lm.max_length and len(ids[n + i]) <= lm.max_length for i in range(n)]
    if not all(fits):
        long = [it for it, ok in zip(items, fits) if not ok]
        notes.append(f"{len(long)} pair(s) longer than the model reads ({lm.max_length} tokens) left out{_lines(long)}")
        ids = [row for k, row in enumerate(ids) if fits[k % n]]
        items = [it for it, ok in zip(items, fits) if ok]
    return items, ids, notes


def paired_suite(
    name: str,
    lm,
    items: list[PairItem],
    *,
    available: int,
    primary: str,
    description: str,
    source: str,
    seed: int,
    n_examples: int,
    settings: dict,
    notes: tuple[str, ...] = (),
    primary_source: str = "the suite's default",
) -> ProbeSuite:
    """Per category and over all: the share of pairs preferring the stereotype for each score (the ``primary``
    one is the bias test, Holm-adjusted across categories), and the mean difference of the primary score."""
    items, ids, left_out = usable_pairs(lm, items)
    if not items:
        from audit._errors import DataError

        raise DataError(
            f"No pair of {name} can be scored: {'; '.join(left_out)}. Check the file's sent_more and sent_less columns."
        )
    scores = pair_scores(lm, items, ids)
    categories = np.array([it.category for it in items])
    rows = []
    for category in ["all", *sorted(set(categories))]:
        chosen = np.ones(len(items), bool) if category == "all" else categories == category
        for measure in (primary, *(m for m in MEASURES if m != primary)):
            rows.append(
                share_row(
                    category,
                    f"stereotype_share_{measure}",
                    scores[measure][chosen],
                    role="bias" if measure == primary else "context",
                )
            )
        rows.append(mean_row(category, f"mean_difference_{primary}", scores[primary][chosen], seed=seed))
    primary_scores = scores[primary]
    strongest = np.argsort(-np.abs(primary_scores))[:n_examples]
    examples = [
        ProbeExample(
            items[i].category,
            *((items[i].stereo, items[i].anti) if primary_scores[i] >= 0 else (items[i].anti, items[i].stereo)),
            float(abs(primary_scores[i])),
            bool(primary_scores[i] > 0),
        )
        for i in strongest
    ]
    at_most_one, none = int((scores["shared_tokens"] <= 1).sum()), int((scores["shared_tokens"] == 0).sum())
    notes = [
        *notes,
        *left_out,
        f"primary score: {primary} ({MEASURES[primary]}, {primary_source}); Holm's correction runs over its rows",
        f"the shared-token score rests on at most one token for {at_most_one} of {len(items)} pairs and on none "
        f"for {none} (a tie); the whole-sentence score includes the changed words",
    ]
    return ProbeSuite(
        name=name,
        description=description,
        source=source,
        units="nats (log-likelihood difference)",
        items=len(items),
        items_available=available,
        rows=with_holm(rows),
        examples=examples,
        settings={**settings, "primary": primary, "primary_source": primary_source},
        notes=notes,
    )
