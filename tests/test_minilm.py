"""The real pretrained encoder with the shipped head: it loads offline and beats the majority class."""

import numpy as np

from audit.demo._demo import load_tweets
from explainers import get_explainer
from explainers.minilm_head import LABELS, heldout_split, load_minilm_sentiment


def test_shipped_head_classifies_held_out_tweets_and_explains_them():
    tweets = load_tweets()
    _, heldout = heldout_split(len(tweets))
    sample = np.random.default_rng(0).choice(heldout, size=300, replace=False)
    texts = tweets["text"].astype(str).to_numpy()[sample].tolist()
    truth = tweets["sentiment"].to_numpy()[sample]
    classifier = load_minilm_sentiment()
    predicted = np.asarray(LABELS)[classifier.predict_proba(texts).argmax(1)]
    majority = max(np.mean(truth == label) for label in LABELS)
    assert np.mean(predicted == truth) > majority + 0.1
    attribution = get_explainer("layer_integrated_gradients", n_steps="auto").explain_texts(classifier, texts[:4])
    assert attribution.completeness_error.max() <= 1e-3
    assert all(words for words in attribution.words)
