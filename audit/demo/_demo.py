"""The embedded demo: a real model trained on UCI Adult, audited by sex, race and sex x race."""

from __future__ import annotations

import gzip
import re
from importlib import resources
from pathlib import Path

import pandas as pd

from audit.config._settings import (
    AuditConfig,
    DataConfig,
    ExplainerConfig,
    FairnessConfig,
    ModelConfig,
    OutputConfig,
    ProbesConfig,
    TextConfig,
)
from audit._errors import ConfigError
from audit.text._audit import mention_columns

__all__ = [
    "load_adult",
    "load_tweets",
    "train_adult_model",
    "demo_config",
    "ADULT_COLUMNS",
    "heldout_tweets",
    "text_demo_config",
    "llm_demo_config",
]

ADULT_COLUMNS = [
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education-num",
    "marital-status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital-gain",
    "capital-loss",
    "hours-per-week",
    "native-country",
    "income",
]
# fnlwgt is a census sampling weight, not a trait of the person; education duplicates education-num.
DEMO_FEATURES = [
    "age",
    "workclass",
    "education-num",
    "marital-status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital-gain",
    "capital-loss",
    "hours-per-week",
    "native-country",
]

TWEET_LM_DIR = Path(__file__).with_name("tweet_lm")  # the bundled language model (train_tweet_lm writes it)


def load_adult(split: str = "test") -> pd.DataFrame:
    """The bundled UCI Adult split ("train" = adult.data, 32,561 rows; "test" = adult.test, 16,281 rows).

    Missing values ("?") become NaN; the test split's trailing '.' on labels is removed.
    """
    filename = {"train": "adult.data.gz", "test": "adult.test.gz"}.get(split)
    if filename is None:
        raise ConfigError(f"The 'split' parameter of load_adult must be 'train' or 'test'. Got {split!r} instead.")
    with (
        resources.files("audit").joinpath("data", "adult", filename).open("rb") as raw,
        gzip.open(raw, "rt", encoding="utf-8") as handle,
    ):
        frame = pd.read_csv(
            handle,
            header=None,
            names=ADULT_COLUMNS,
            sep=r",\s*",
            engine="python",
            na_values="?",
            comment="|",
            skip_blank_lines=True,
        )
    frame["income"] = frame["income"].str.rstrip(".")
    return frame


def load_tweets() -> pd.DataFrame:
    """The bundled tweets (38,158 rows: sentiment negative/neutral/positive, confidence, text)."""
    with (
        resources.files("audit").joinpath("data", "tweets", "tweets.csv.gz").open("rb") as raw,
        gzip.open(raw, "rt", encoding="latin-1") as handle,
    ):
        return pd.read_csv(handle)


def train_adult_model(train: pd.DataFrame, *, seed: int = 0):
    """A gradient-boosted tree pipeline on DEMO_FEATURES, trained deterministically.

    Categories are ordinal-encoded (not native categorical splits) so that shap's exact tree explainer
    reads the model correctly.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OrdinalEncoder

    features = train[DEMO_FEATURES]
    categorical = [c for c in DEMO_FEATURES if not pd.api.types.is_numeric_dtype(features[c])]
    encoder = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1, encoded_missing_value=-1)
    prepare = ColumnTransformer(
        [("categories", encoder, categorical)], remainder="passthrough", verbose_feature_names_out=False
    )
    classifier = HistGradientBoostingClassifier(
        max_iter=200, learning_rate=0.1, early_stopping=False, random_state=seed
    )
    model = Pipeline([("prepare", prepare), ("classify", classifier)])
    model.fit(features, (train["income"] == ">50K").astype(int))
    return model


def demo_config(*, out_dir: str = "audit-demo", sample: int | None = None, seed: int = 0) -> AuditConfig:
    """The demo's audit: income > 50K, by sex, race and sex x race, with SHAP on 1,000 rows."""
    return AuditConfig(
        title="UCI Adult income model: demo audit",
        data=DataConfig(
            label="income",
            positive_label=">50K",
            sensitive=("sex", "race"),
            features=tuple(DEMO_FEATURES),
            sample=sample,
        ),
        explainers=ExplainerConfig(methods=("shap",), sample_size=1000, background_size=100),
        fairness=FairnessConfig(
            min_group_size=30,
            reference={"sex": "Male", "race": "White"},
            ll144={"sex": "sex", "race": "race", "exclude_under": 0.02},
        ),
        output=OutputConfig(dir=out_dir),
        seed=seed,
    )


# The corpus lost its non-ASCII characters (emoji, curly quotes, accents) before it was published: each now stands
# as a run of unrelated bytes ("äó»_äó»", "Õ¢", "Verrí_cktes" for "Verrückte"), never as text. Measured on all
# 38,158 tweets: every non-ASCII run is such debris, often with underscores inside it.
_LOST = re.compile(r"[_\x80-\uffff]*[\x80-\uffff][_\x80-\uffff]*")


def mark_lost_characters(text: str) -> str:
    """A bundled tweet with each run of encoding debris replaced by one U+FFFD (the replacement character), so the
    audit and its report show where characters were lost instead of showing the debris as words."""
    return _LOST.sub("\ufffd", text)


def heldout_tweets(*, sample: int | None = None, seed: int = 0) -> pd.DataFrame:
    """The tweets the MiniLM head never saw in training (the 20% held out by ``audit.demo.train_minilm_head``), with
    identity-mention columns: ``gender_mention`` (none / male / female / both) and ``identity_mention`` (the
    identity axis a tweet mentions besides gender, or none / several)."""
    import numpy as np

    from explainers.minilm_head import heldout_split

    tweets = load_tweets()
    _, heldout = heldout_split(len(tweets))
    frame = tweets.iloc[heldout].reset_index(drop=True)
    frame["text"] = frame["text"].astype(str).map(mark_lost_characters)
    if sample is not None and sample < len(frame):
        rows = np.sort(np.random.default_rng(seed).choice(len(frame), size=sample, replace=False))
        frame = frame.iloc[rows].reset_index(drop=True)
    return pd.concat([frame, mention_columns(frame["text"].tolist())], axis=1)


def text_demo_config(*, out_dir: str = "audit-demo-text", seed: int = 0) -> AuditConfig:
    """The text demo's audit: the MiniLM tweet classifier's 'negative' class on held-out tweets, by the
    identity terms the tweets mention, with counterfactual swaps, template probes and token attributions."""
    return AuditConfig(
        title="MiniLM tweet sentiment classifier: text bias audit",
        data=DataConfig(
            label="sentiment",
            positive_label="negative",
            text="text",
            sensitive=("gender_mention", "identity_mention"),
            intersections=(),
        ),
        model=ModelConfig(builtin="minilm-tweet-sentiment"),
        explainers=ExplainerConfig(methods=("layer_integrated_gradients",), sample_size=32),
        fairness=FairnessConfig(min_group_size=30, reference={"gender_mention": "none", "identity_mention": "none"}),
        text=TextConfig(attribution_sample=24, min_texts=10),
        output=OutputConfig(dir=out_dir),
        seed=seed,
    )


def llm_demo_config(*, out_dir: str = "audit-demo-llm", max_items: int = 500, seed: int = 0) -> AuditConfig:
    """The language-model demo: every probe suite on the small GPT-2-style model trained on the bundled tweets
    (``python -m audit.demo.train_tweet_lm``; it ships in audit/demo/tweet_lm)."""
    return AuditConfig(
        title="Tweet language model (demo): social-bias probes",
        model=ModelConfig(kind="causal-lm", path=str(TWEET_LM_DIR)),
        probes=ProbesConfig(max_items=max_items),
        output=OutputConfig(dir=out_dir),
        seed=seed,
    )
