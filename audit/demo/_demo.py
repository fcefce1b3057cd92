"""The embedded demo: a real model trained on UCI Adult, audited by sex, race and sex x race."""

from __future__ import annotations

import gzip
import re
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from audit.config._settings import (
    AuditConfig,
    DataConfig,
    ExplainerConfig,
    FairnessConfig,
    ModelConfig,
    OutputConfig,
    ProbesConfig,
    RecourseConfig,
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
    "monitor_demo_log",
    "MONITOR_DEMO_CONFIG",
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


def monitor_demo_log(
    model, test: pd.DataFrame, *, weeks: int = 26, change_week: int = 14, seed: int = 0
) -> pd.DataFrame:
    """A decision log for ``audit demo --monitor``: the real held-out Adult rows as applicants arriving over
    ``weeks`` weeks (seeded times, in order), decided by the demo model with a lower threshold for women that brings
    their selection rate to 0.95 of men's (a fairness fix, as [mitigation] would suggest), until a simulated update
    in week ``change_week`` drops the fix: women are decided at 0.5 again (the drift the monitor should catch)."""
    rng = np.random.default_rng(seed)
    rows = test.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    seconds = np.sort(rng.integers(0, weeks * 7 * 86_400, len(rows)))
    times = pd.Timestamp("2026-01-05", tz="UTC") + pd.to_timedelta(seconds, unit="s")
    score = model.predict_proba(rows[DEMO_FEATURES])[:, 1]
    women = (rows["sex"] == "Female").to_numpy()
    men_rate = float((score[~women] >= 0.5).mean())
    fixed = float(np.quantile(score[women], 1 - 0.95 * men_rate))  # women's threshold for 0.95 of men's rate
    updated = seconds // (7 * 86_400) >= change_week - 1
    threshold = np.where(women & ~updated, fixed, 0.5)
    return pd.DataFrame(
        {
            "decided_at": times.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "sex": rows["sex"],
            "race": rows["race"],
            "approved": (score >= threshold).astype(int),
        }
    )


MONITOR_DEMO_CONFIG = """# audit demo --monitor: held-out UCI Adult rows as a 26-week log (docs/monitoring.md)
[monitor]
path = "decisions.csv"
time = "decided_at"
decision = "approved"
sensitive = ["sex"]
window = "week"
threshold = 0.8
alpha = 0.05
horizon = 52
store = "store.db"
"""


# what a person could change to be predicted over 50K: education only upward; age, marital status, relationship,
# capital gains and losses and the country are locked, and sex and race are protected (never changed)
DEMO_RECOURSE = RecourseConfig(
    actionable=("education-num", "hours-per-week", "occupation", "workclass"),
    increase_only=("education-num",),
    limits={"hours-per-week": [1, 80]},
    max_rows=500,
)


def demo_config(
    *, out_dir: str = "audit-demo", sample: int | None = None, seed: int = 0, recourse: bool = False
) -> AuditConfig:
    """The demo's audit: income > 50K, by sex, race and sex x race, with SHAP on 1,000 rows; with ``recourse``, what
    would change 500 of its unfavourable decisions and the burden by group (``audit demo`` does)."""
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
        recourse=DEMO_RECOURSE if recourse else RecourseConfig(),
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
