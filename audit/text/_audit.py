"""The text-model bias audit: counterfactual identity-term swaps in real texts, template probes,
identity-mention groups and attribution mass on identity terms, as one JSON-ready dict.

A scorer is any callable ``texts -> (scores, decisions)``; :func:`classifier_scorer` makes one from a
:class:`~explainers.TextClassifier`. Nothing here needs the model beyond that callable (and, optionally, an
attribution function), so a vendor's scoring API can be audited the same way.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pandas as pd

from audit.result._sections import TextAudit
from audit.text._counterfactual import Variant, counterfactuals, template_probes
from audit._errors import DataError
from audit.text._lexicons import Lexicon, builtin_lexicons, load_lexicon, load_templates
from audit.text._identity_groups import identity_attribution, identity_groups, shift_rows

__all__ = ["text_bias_audit", "classifier_scorer", "mention_columns", "TEXT_METRICS"]

Scorer = Callable[[list[str]], tuple[np.ndarray, np.ndarray]]
TEXT_METRICS = ("flip_rate", "mean_abs_score_change", "max_abs_score_change", "subgroup_auc", "bpsn_auc", "bnsp_auc")


def classifier_scorer(classifier: Any, *, positive_index: int, threshold: float = 0.5) -> Scorer:
    """Positive-class probability and decision (``>= threshold`` for two classes, arg-max otherwise)."""

    def score(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        probabilities = classifier.predict_proba(texts)
        scores = probabilities[:, positive_index]
        if probabilities.shape[1] == 2:
            return scores, scores >= threshold
        return scores, probabilities.argmax(1) == positive_index

    return score


def mention_columns(texts: list[str], lexicons: list[Any] | None = None) -> pd.DataFrame:
    """Identity-mention columns to audit text data by (as sensitive features): ``gender_mention`` (none, male,
    female, both) and ``identity_mention`` (the one other axis a text mentions, 'several', or 'none')."""
    from audit.text._counterfactual import find_mentions

    lexicons = builtin_lexicons(lexicons)
    texts = _check_texts(texts)
    gender, other = [], []
    for text in texts:
        axes = {x.axis: {m.group for m in find_mentions(text, x)} for x in lexicons}
        groups = sorted(axes.pop("gender", set()))
        gender.append("none" if not groups else groups[0] if len(groups) == 1 else "both")
        mentioned = sorted(axis for axis, present in axes.items() if present)
        other.append("none" if not mentioned else mentioned[0] if len(mentioned) == 1 else "several")
    return pd.DataFrame({"gender_mention": gender, "identity_mention": other})


def _check_texts(texts: Any) -> list[str]:
    texts = list(texts)
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise DataError(
                f"Text {index} is a {type(text).__name__} ({text!r}), not a string. Text audits need "
                "strings: drop missing values or convert the column with .astype(str) first."
            )
    return texts


def _variant_frame(variants: list[Variant], original_scores, original_decisions, scores, decisions) -> pd.DataFrame:
    ids = np.array([v.text_index for v in variants], dtype=int)
    return pd.DataFrame(
        {
            "text_id": ids,
            "axis": [v.axis for v in variants],
            "source": [v.source for v in variants],
            "target": [v.target for v in variants],
            "change": np.asarray(scores, float) - np.asarray(original_scores, float)[ids],
            "flipped": np.asarray(decisions, bool) != np.asarray(original_decisions, bool)[ids],
        }
    )


def _pair_frame(variants: list[Variant], frame: pd.DataFrame) -> pd.DataFrame:
    """One row per (variant, term pair it used); pairs are unordered ('he / she' counts both directions)."""
    rows = []
    for position, variant in enumerate(variants):
        for term, replacement in variant.pairs:
            rows.append((position, variant.axis, " / ".join(sorted((term, replacement)))))
    if not rows:
        return frame.iloc[:0].assign(pair=[])
    index, axes, pairs = zip(*rows)
    expanded = frame.iloc[list(index)].reset_index(drop=True)
    return expanded.assign(axis=list(axes), pair=list(pairs))


def _shift_section(variants, frame, *, n_boot, ci_level, seed, min_texts, top_pairs) -> dict[str, Any]:
    if not variants:
        return {"axes": [], "directions": [], "pairs": [], "overall": None}
    common = dict(n_boot=n_boot, ci_level=ci_level, seed=seed, min_texts=min_texts)
    overall = shift_rows(frame.assign(all="all"), by=["all"], **common)[0]
    pairs = shift_rows(_pair_frame(variants, frame), by=["axis", "pair"], **common)
    pairs.sort(key=lambda r: (r["small"], -r["mean_abs_score_change"]))
    return {
        "overall": overall,
        "axes": shift_rows(frame, by=["axis"], **common),
        "directions": shift_rows(frame, by=["axis", "source", "target"], **common),
        "pairs": pairs[:top_pairs],
        "pairs_total": len(pairs),
    }


def _examples(texts, variants, frame, original_scores, limit: int) -> list[dict[str, Any]]:
    """The variants with the largest score change, one per original text (a capped sample)."""
    if frame.empty:
        return []
    order = np.argsort(-np.abs(frame["change"].to_numpy()), kind="stable")
    seen, examples = set(), []
    for position in order:
        variant = variants[position]
        if variant.text_index in seen:
            continue
        seen.add(variant.text_index)
        examples.append(
            {
                "axis": variant.axis,
                "source": variant.source,
                "target": variant.target,
                "original": texts[variant.text_index],
                "variant": variant.text,
                "original_score": float(original_scores[variant.text_index]),
                "variant_score": float(original_scores[variant.text_index] + frame["change"].iloc[position]),
                "flipped": bool(frame["flipped"].iloc[position]),
            }
        )
        if len(examples) == limit:
            break
    return examples


def _readable(variants: list[Variant], readable_chars: Callable[[list[str]], list[int]] | None):
    """Split variants into those whose swapped terms the model reads and those cut off by truncation."""
    if readable_chars is None:
        return variants, 0
    limits = readable_chars([v.text for v in variants])
    kept = [v for v, limit in zip(variants, limits) if all(start < limit for start, _ in v.spans)]
    return kept, len(variants) - len(kept)


def text_bias_audit(
    *,
    texts: Any,
    scorer: Scorer,
    lexicons: list[Any] | None = None,
    y_true: Any = None,
    original_scores: Any = None,
    original_decisions: Any = None,
    templates: Any = True,
    explain: Callable[[list[str]], Any] | None = None,
    attribution_sample: int = 24,
    readable_chars: Callable[[list[str]], list[int]] | None = None,
    n_boot: int = 1000,
    ci_level: float = 0.95,
    seed: int = 0,
    min_texts: int = 10,
    top_pairs: int = 25,
    examples: int = 12,
) -> TextAudit:
    """Audit a text classifier for identity-term bias. Returns the ``AuditResult.text`` section (``to_dict()``
    gives its JSON).

    ``texts``: real texts (strings). ``scorer``: ``texts -> (scores, decisions)``. ``y_true`` (booleans for the
    positive class) enables identity-mention groups (FPR, FNR, AUCs). ``original_scores``/``decisions`` reuse
    predictions already made. ``templates``: True (built-in probes), False, a path, or a dict.
    ``explain``: ``texts -> Attribution`` (word level) for the share of attribution on identity terms.
    ``readable_chars``: ``texts -> characters the model reads`` (truncation); swaps beyond it are left out.
    """
    texts = _check_texts(texts)
    lexicons = builtin_lexicons(
        None if lexicons is None else [load_lexicon(x) if isinstance(x, (dict, Lexicon)) else x for x in lexicons]
    )
    if original_scores is None or original_decisions is None:
        original_scores, original_decisions = _scored(scorer, texts)
    original_scores = np.asarray(original_scores, float)
    original_decisions = np.asarray(original_decisions, bool)
    variants, mentioned = counterfactuals(texts, lexicons)
    variants, truncated = _readable(variants, readable_chars)
    scores, decisions = _scored(scorer, [v.text for v in variants])
    frame = _variant_frame(variants, original_scores, original_decisions, scores, decisions)
    common = dict(n_boot=n_boot, ci_level=ci_level, seed=seed, min_texts=min_texts, top_pairs=top_pairs)
    mentions_any = np.zeros(len(texts), bool)
    for per_text in mentioned.values():
        mentions_any |= np.array([bool(p) for p in per_text], dtype=bool)
    result: dict[str, Any] = {
        "texts": len(texts),
        "texts_with_identity_terms": int(mentions_any.sum()),
        "texts_without_identity_terms": int((~mentions_any).sum()),
        "variants": len(variants),
        "variants_truncated": truncated,
        "lexicons": [
            {"axis": x.axis, "groups": list(x.groups), "terms": sum(map(len, x.groups.values())), "source": x.source}
            for x in lexicons
        ],
        "not_applicable": [x.axis for x in lexicons if not any(mentioned[x.axis])],
        "mentions": {x.axis: {g: int(sum(g in p for p in mentioned[x.axis])) for g in x.groups} for x in lexicons},
        "counterfactuals": _shift_section(variants, frame, **common),
        "examples": _examples(texts, variants, frame, original_scores, examples),
    }
    for row in result["counterfactuals"].get("axes", []):
        # how much text was tested on this axis, beside its flip rate
        row["coverage"] = row["texts"] / len(texts) if texts else None
    result["probes"] = _probes(templates, lexicons, scorer, **common)
    if y_true is not None:
        result["identity_groups"] = identity_groups(
            np.asarray(y_true, bool),
            original_scores,
            original_decisions,
            mentioned,
            min_texts=min_texts,
            ci_level=ci_level,
        )
    if explain is not None and attribution_sample > 0:
        result["identity_attribution"] = _identity_attribution(
            texts, mentioned, lexicons, explain, attribution_sample, seed
        )
    return TextAudit.from_dict(result, "text")


def _scored(scorer: Scorer, texts: list[str], threshold: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Call the scorer and hold it to its contract: ``texts -> (scores, decisions)``, or plain scores (decided
    at ``threshold``), one finite score per text; anything else is a DataError that says what came back."""
    if not texts:
        return np.zeros(0), np.zeros(0, bool)
    output = scorer(texts)
    if isinstance(output, tuple) and len(output) == 2:
        scores, decisions = output
    else:
        scores, decisions = output, None
    try:
        scores = np.asarray(scores, dtype=float).reshape(-1) if np.ndim(scores) <= 1 else np.asarray(scores, float)
    except (TypeError, ValueError) as err:
        raise DataError(
            f"The scorer must return scores (numbers), one per text, or (scores, decisions). Got "
            f"{type(output).__name__} {str(output)[:80]!r} instead."
        ) from err
    if scores.ndim != 1 or len(scores) != len(texts):
        raise DataError(
            f"The scorer returned {scores.shape} scores for {len(texts)} texts; it must return one score "
            "per text (texts -> scores, or texts -> (scores, decisions))."
        )
    if not np.all(np.isfinite(scores)):
        raise DataError(f"The scorer returned {int((~np.isfinite(scores)).sum())} NaN or infinite scores.")
    if decisions is None:
        return scores, scores >= threshold
    decisions = np.asarray(decisions)
    if decisions.shape != scores.shape:
        raise DataError(
            f"The scorer returned {len(scores)} scores but {decisions.shape} decisions for {len(texts)} "
            "texts; it must return one of each per text."
        )
    return scores, decisions.astype(bool)


def _probes(templates, lexicons, scorer, **common) -> dict[str, Any] | None:
    if templates is False or templates is None:
        return None
    spec = templates if isinstance(templates, dict) else load_templates(None if templates is True else templates)
    originals, variants = template_probes(spec, lexicons)
    if not originals:
        return {"originals": 0, "variants": 0, "counterfactuals": _shift_section([], None, **common)}
    scores, decisions = _scored(scorer, originals + [v.text for v in variants])
    frame = _variant_frame(
        variants,
        scores[: len(originals)],
        decisions[: len(originals)],
        scores[len(originals) :],
        decisions[len(originals) :],
    )
    return {
        "originals": len(originals),
        "variants": len(variants),
        "counterfactuals": _shift_section(variants, frame, **common),
        "examples": _examples(originals, variants, frame, scores[: len(originals)], 12),
    }


def _identity_attribution(texts, mentioned, lexicons, explain, sample: int, seed: int) -> dict[str, Any]:
    """Explain a sample of the texts that mention identity terms (spread over axes), then the share of
    attribution on each group's own terms."""
    rng = np.random.default_rng(seed)
    chosen: list[int] = []
    per_axis = max(1, sample // max(1, len(lexicons)))
    for lexicon in lexicons:
        candidates = [i for i, present in enumerate(mentioned[lexicon.axis]) if present and i not in chosen]
        take = rng.permutation(candidates)[:per_axis].tolist()
        chosen += [int(i) for i in take]
    chosen = sorted(chosen[:sample])
    if not chosen:
        return {"texts": 0, "rows": [], "reason": "no text mentions an identity term"}
    attribution = explain([texts[i] for i in chosen])
    subset = {axis: [per_text[i] for i in chosen] for axis, per_text in mentioned.items()}
    rows = identity_attribution(attribution.words, attribution.word_values, subset, lexicons)
    return {"texts": len(chosen), "method": attribution.method, "rows": rows}
