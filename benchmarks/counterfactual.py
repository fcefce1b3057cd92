"""Counterfactual text audit vs plain batched inference over the same model inputs, in one run.

    python -m benchmarks.counterfactual [--texts 10000] [--device cpu|cuda]

- ours: ``text_bias_audit`` on N real tweets with the MiniLM classifier: finds identity terms (all built-in
  lexicons), writes every swapped variant, scores originals and variants, and computes the metrics (flip
  rates and score shifts with 1000-resample bootstrap intervals, identity-mention groups with DeLong AUCs).
- plain: the same model inputs (the originals, then every variant) through the model with the same batching as
  ours: sorted by token length, 64 to a batch, padded to the longest of each batch, scores put back in order.
  (``plain_unsorted_s`` times a hand-written loop in the given order, for reference.)
- overhead: our time per model input / plain time per model input, so it measures the counterfactual machinery
  (lexicon search, variants, metrics and bootstraps) alone. Goal: <= 1.25.
Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def real_tweets(count: int, seed: int = 0):
    from audit.demo._demo import load_tweets

    tweets = load_tweets()
    rows = np.random.default_rng(seed).choice(len(tweets), size=min(count, len(tweets)), replace=False)
    return tweets["text"].astype(str).to_numpy()[rows].tolist(), tweets["sentiment"].to_numpy()[rows] == "negative"


def plain_inference(classifier, texts: list[str], batch_size: int = 64, *, sort: bool = True) -> np.ndarray:
    """Class probabilities through the bare model: tokenized once, batches of ``batch_size`` padded to their
    longest text, in token-length order when ``sort`` (the batching ours uses), results in the given order."""
    import torch

    lengths = [
        len(ids) for ids in classifier.tokenizer(texts, truncation=True, max_length=classifier.max_length)["input_ids"]
    ]
    order = np.argsort(lengths, kind="stable") if sort else np.arange(len(texts))
    out = np.empty((len(texts), 0))
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            chosen = order[start : start + batch_size]
            encoded = classifier.tokenizer(
                [texts[i] for i in chosen],
                padding=True,
                truncation=True,
                max_length=classifier.max_length,
                return_tensors="pt",
            )
            logits = classifier.logits(
                encoded["input_ids"].to(classifier.device), encoded["attention_mask"].to(classifier.device)
            )
            probabilities = torch.softmax(logits, -1).cpu().numpy()
            if out.shape[1] == 0:
                out = np.empty((len(texts), probabilities.shape[1]))
            out[chosen] = probabilities
    return out


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=10_000)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    from audit.text._counterfactual import counterfactuals
    from audit.text._lexicons import builtin_lexicons
    from audit.text._audit import classifier_scorer, text_bias_audit
    from explainers.minilm_head import load_minilm_sentiment

    classifier = load_minilm_sentiment(device=args.device)
    texts, negative = real_tweets(args.texts)
    positive = classifier.labels.index("negative")
    classifier.predict_proba(texts[:64])  # warm-up, for both sides

    started = time.perf_counter()
    result = text_bias_audit(
        texts=texts,
        y_true=negative,
        templates=False,
        readable_chars=classifier.readable_chars,
        scorer=classifier_scorer(classifier, positive_index=positive),
    )
    ours = time.perf_counter() - started
    model_inputs = len(texts) + result.variants
    print(
        f"ours: {ours:.1f} s for {len(texts):,} texts and {result.variants:,} variants "
        f"({result.texts_with_identity_terms:,} texts mention identity terms)",
        flush=True,
    )

    variants, _ = counterfactuals(texts, builtin_lexicons())
    inputs = texts + [v.text for v in variants]
    started = time.perf_counter()
    plain = plain_inference(classifier, inputs)
    plain_s = time.perf_counter() - started
    print(f"plain inference, length-sorted batches like ours: {plain_s:.1f} s for {len(inputs):,} inputs", flush=True)
    started = time.perf_counter()
    plain_inference(classifier, inputs, sort=False)
    unsorted_s = time.perf_counter() - started
    print(f"plain inference in the given order (a hand-written loop): {unsorted_s:.1f} s", flush=True)
    ours_scores = classifier.predict_proba(texts[:256])[:, positive]
    return {
        "texts": len(texts),
        "variants": result.variants,
        "model_inputs": model_inputs,
        "ours_s": ours,
        "plain_inference_s": plain_s,
        "plain_unsorted_s": unsorted_s,
        "baseline": "length-sorted batches of 64, padded to the longest (the batching ours uses)",
        "overhead": (ours / model_inputs) / (plain_s / len(inputs)),
        "max_abs_diff_scores": float(np.abs(ours_scores - plain[:256, positive]).max()),
        "device": str(classifier.device),
        "threads": args.threads,
    }


if __name__ == "__main__":
    print(json.dumps(main()))
