"""Identity swaps in the user's own documents (résumés, applications), re-scored by any scorer: per axis and
direction of swap, the mean score change, the net share of favourable decisions gained, the rank displacement
within the document's list and the net share of top-k places gained, each with its paired test."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from audit._errors import ConfigError, DataError
from audit.probes._stats import with_holm
from audit.result._sections import ProbeRow
from audit.result._swap_sections import SwapAudit, SwapExample, SwapSuite
from audit.swaps._paired import change_row, mcnemar_row, proportion_row
from audit.swaps._scorers import as_scorer
from audit.text._audit import _check_texts, _readable, _scored
from audit.text._counterfactual import Variant, counterfactuals
from audit.text._lexicons import Lexicon, builtin_lexicons, load_lexicon

__all__ = ["swap_audit", "resolve_lexicons"]


def resolve_lexicons(lexicons: Any) -> list[Lexicon]:
    return builtin_lexicons(
        None if lexicons is None else [load_lexicon(x) if isinstance(x, (dict, Lexicon)) else x for x in lexicons]
    )


def _lists(queries: Any, n: int) -> tuple[np.ndarray, int]:
    """Each document's list as an integer code (-1: no list), and how many documents have none."""
    if queries is None:
        return np.zeros(n, int), 0
    values = pd.Series(list(queries) if not isinstance(queries, pd.Series) else queries.to_numpy())
    if len(values) != n:
        raise DataError(
            f"The 'queries' parameter of swap_audit must give one list (a job posting, a search) per document: "
            f"{n} documents, {len(values)} queries."
        )
    codes, _ = pd.factorize(values, use_na_sentinel=True)
    return codes.astype(int), int((codes < 0).sum())


def _above(lists: np.ndarray, scores: np.ndarray, query_lists: np.ndarray, query_scores: np.ndarray) -> np.ndarray:
    """For each (list, score) asked, how many documents of that list score strictly higher: one sort of the
    documents keyed by (list, dense rank of score), then two binary searches per question."""
    listed = lists >= 0
    _, dense = np.unique(np.concatenate([scores, query_scores]), return_inverse=True)
    width = np.int64(dense.max() + 2) if len(dense) else np.int64(1)
    keys = np.sort(lists[listed].astype(np.int64) * width + dense[: len(scores)][listed])
    asked = query_lists.astype(np.int64) * width
    segment_end = np.searchsorted(keys, asked + width - 1, side="right")
    return segment_end - np.searchsorted(keys, asked + dense[len(scores) :], side="right")


def _ranks(scores: np.ndarray, lists: np.ndarray) -> np.ndarray:
    """1 + the documents of the same list scored strictly higher (a tie shares the better place)."""
    return 1 + _above(lists, scores, lists, scores)


def _variant_ranks(variant_scores, text_ids, scores, lists) -> np.ndarray:
    """The rank a document would have with its variant's score, every other document of its list unchanged (the
    document itself, at its original score, is not a rival)."""
    above = _above(lists, scores, lists[text_ids], variant_scores)
    return 1 + above - (scores[text_ids] > variant_scores)


def swap_audit(
    *,
    documents: Any,
    scorer: Any,
    lexicons: Any = None,
    queries: Any = None,
    k: int | None = 10,
    threshold: float = 0.5,
    positive_index: int | None = None,
    original_scores: Any = None,
    original_decisions: Any = None,
    readable_chars: Any = None,
    alpha: float = 0.01,
    seed: int = 0,
    examples: int = 12,
) -> SwapAudit:
    """Swap identity signals (names by race and gender, pronouns, group words: ``lexicons``, the built-in ones by
    default) in each document and re-score it. ``queries``: the list each document competes in (ranks and top-k
    places are within it; None: one list). ``k``: the top places (None: no top-k measure). Returns the
    ``AuditResult.swaps`` section; docs/swaps.md gives every measure and test."""
    texts = _check_texts(documents)
    if k is not None and (not isinstance(k, int) or isinstance(k, bool) or k < 1):
        raise ConfigError(f"The 'k' parameter of swap_audit must be a positive integer or None. Got {k!r} instead.")
    score, record = as_scorer(scorer, positive_index=positive_index, threshold=threshold)
    lexicon_list = resolve_lexicons(lexicons)
    lists, unlisted = _lists(queries, len(texts))
    if original_scores is None or original_decisions is None:
        base_scores, base_decisions = _scored(score, texts, threshold)
    else:
        base_scores = np.asarray(original_scores, float)
        base_decisions = np.asarray(original_decisions, bool)
    variants, mentioned = counterfactuals(texts, lexicon_list)
    variants, truncated = _readable(variants, readable_chars)
    variant_scores, variant_decisions = _scored(score, [v.text for v in variants], threshold)
    text_ids = np.array([v.text_index for v in variants], int)
    sizes = np.bincount(lists[lists >= 0], minlength=1) if len(lists) else np.zeros(1, int)
    base_ranks = _ranks(base_scores, lists)
    new_ranks = _variant_ranks(variant_scores, text_ids, base_scores, lists) if len(variants) else np.zeros(0, int)
    ranked = (lists[text_ids] >= 0) & (sizes[np.maximum(lists[text_ids], 0)] >= 2)
    rows: list[ProbeRow] = []
    topk_possible = k is not None and bool((sizes > k).any())
    for axis, source, target in dict.fromkeys((v.axis, v.source, v.target) for v in variants):
        chosen = np.array([(v.axis, v.source, v.target) == (axis, source, target) for v in variants])
        rows += _direction_rows(
            axis,
            f"{source} -> {target}",
            ids=text_ids[chosen],
            before=(base_scores, base_decisions, base_ranks),
            after=(variant_scores[chosen], variant_decisions[chosen], new_ranks[chosen]),
            ranked=ranked[chosen],
            k=k if topk_possible else None,
            seed=seed + len(rows),
        )
    excluded = {
        "swapped words beyond what the model reads": truncated,
        "pairs in a list of one document (no rank to move; score and decision kept)": int((~ranked).sum()),
    }
    if unlisted:
        excluded["documents with no list (missing query; score and decision kept)"] = unlisted
    mentions_any = np.zeros(len(texts), bool)
    for per_text in mentioned.values():
        mentions_any |= np.array([bool(p) for p in per_text], dtype=bool)
    notes = [
        f"{int(mentions_any.sum())} of {len(texts)} documents mention an identity term of the lexicons "
        f"({', '.join(x.axis for x in lexicon_list)}); the others cannot be swapped",
        "rank: 1 + the documents of the same list scored strictly higher; a variant is ranked against the other "
        "documents' original scores",
    ]
    listed = lists >= 0
    tied = int(pd.DataFrame({"list": lists[listed], "score": base_scores[listed]}).duplicated(keep=False).sum())
    if tied:
        notes.append(
            f"{tied} documents share their score with another of their list: tied documents share the better place"
        )
    if k is not None and not topk_possible:
        notes.append(f"every list has {k} documents or fewer: top-{k} places cannot change, so they are not tested")
    if not variants:
        notes.append("no document mentions an identity term: nothing was swapped, so nothing was tested")
    suite = SwapSuite(
        name="identity",
        description="identity signals swapped in the documents, each document re-scored with every other unchanged",
        units="score; positions (rank); share of pairs",
        pairs=len(variants),
        excluded={key: value for key, value in excluded.items() if value},
        rows=with_holm(rows),
        examples=_examples(texts, variants, base_scores, variant_scores, base_decisions, variant_decisions, examples),
        notes=notes,
    )
    settings = {"lexicons": [x.axis for x in lexicon_list], "k": k, "queries": queries is not None, "seed": seed}
    return SwapAudit(scorer={**record, "k": k}, suites=[suite], alpha=alpha, settings=settings)


def _direction_rows(axis, subject, *, ids, before, after, ranked, k, seed) -> list[ProbeRow]:
    base_scores, base_decisions, base_ranks = before
    scores, decisions, ranks = after
    rows = [
        change_row(axis, "score_change", scores - base_scores[ids], subject=subject, seed=seed),
        mcnemar_row(axis, "decision_rate_change", base_decisions[ids], decisions, subject=subject, seed=seed + 1),
        proportion_row(
            axis,
            "decision_flip_rate",
            int((decisions != base_decisions[ids]).sum()),
            len(ids),
            subject=subject,
        ),
    ]
    if ranked.any():
        moved = ranks[ranked] - base_ranks[ids[ranked]]
        rows.append(
            change_row(
                axis,
                "rank_displacement",
                moved.astype(float),
                subject=subject,
                seed=seed + 2,
                note="positions moved down (negative: up)",
            )
        )
        if k is not None:
            rows.append(
                mcnemar_row(
                    axis,
                    "top_k_rate_change",
                    base_ranks[ids[ranked]] <= k,
                    ranks[ranked] <= k,
                    subject=subject,
                    seed=seed + 3,
                    note=f"top {k}",
                )
            )
    return rows


def _examples(texts, variants: list[Variant], base, scores, base_decisions, decisions, limit) -> list[SwapExample]:
    """The largest score changes, one per document."""
    if not variants:
        return []
    ids = np.array([v.text_index for v in variants])
    change = scores - base[ids]
    seen: set[int] = set()
    out: list[SwapExample] = []
    for position in np.argsort(-np.abs(change), kind="stable"):
        variant = variants[position]
        if variant.text_index in seen:
            continue
        seen.add(variant.text_index)
        out.append(
            SwapExample(
                f"{variant.axis}: {variant.source} -> {variant.target}",
                texts[variant.text_index],
                variant.text,
                "score",
                float(base[variant.text_index]),
                float(scores[position]),
                bool(decisions[position] != base_decisions[variant.text_index]),
            )
        )
        if len(out) == limit:
            break
    return out
