"""Tiny text classifiers of each supported architecture, built in code (random weights, local tokenizer)."""

from __future__ import annotations

import torch

WORDS = (
    "the a is was very not good bad great awful movie phone service she he her his they love hate "
    "it this that and but with store battery screen food"
).split()


def tiny_tokenizer():
    from transformers import BertTokenizerFast

    vocab = {
        t: i
        for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS, "##s", "##ing", "!", ",", "."])
    }
    return BertTokenizerFast(vocab=vocab, do_lower_case=True)


def tiny_model(architecture: str, *, num_labels: int = 2, seed: int = 0):
    import transformers as t

    torch.manual_seed(seed)
    tokenizer = tiny_tokenizer()
    common = dict(vocab_size=len(tokenizer.get_vocab()), num_labels=num_labels, pad_token_id=tokenizer.pad_token_id)
    small = dict(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, max_position_embeddings=64
    )
    if architecture == "bert":
        model = t.BertForSequenceClassification(t.BertConfig(**common, **small))
    elif architecture == "roberta":
        config = t.RobertaConfig(**common, **{**small, "max_position_embeddings": 70})
        model = t.RobertaForSequenceClassification(config)
    elif architecture == "deberta-v2":
        model = t.DebertaV2ForSequenceClassification(t.DebertaV2Config(**common, **small))
    elif architecture == "distilbert":
        model = t.DistilBertForSequenceClassification(
            t.DistilBertConfig(**common, dim=32, n_layers=2, n_heads=2, hidden_dim=64, max_position_embeddings=64)
        )
    elif architecture == "gpt2":
        model = t.GPT2ForSequenceClassification(t.GPT2Config(**common, n_embd=32, n_layer=2, n_head=2, n_positions=64))
    elif architecture == "llama":
        model = t.LlamaForSequenceClassification(
            t.LlamaConfig(
                **common,
                hidden_size=32,
                num_hidden_layers=2,
                num_attention_heads=2,
                num_key_value_heads=2,
                intermediate_size=64,
                max_position_embeddings=64,
            )
        )
    else:
        raise ValueError(architecture)
    return model.eval(), tokenizer


ARCHITECTURES = ("bert", "distilbert", "roberta", "deberta-v2", "gpt2", "llama")


class BagOfEmbeddings(torch.nn.Module):
    """A small trainable text classifier: mean of word embeddings (masked), then a linear layer."""

    def __init__(self, vocab_size: int, dim: int = 16, num_labels: int = 2):
        super().__init__()
        self.embeddings = torch.nn.Embedding(vocab_size, dim, padding_idx=0)
        self.head = torch.nn.Linear(dim, num_labels)

    def get_input_embeddings(self):
        return self.embeddings

    def forward(self, input_ids, attention_mask):
        mask = attention_mask.unsqueeze(-1).to(self.embeddings.weight.dtype)
        pooled = (self.embeddings(input_ids) * mask).sum(1) / mask.sum(1).clamp(min=1)
        return self.head(pooled)


def gendered_tweets(*, planted: bool, n: int = 3000, seed: int = 0):
    """Real tweets (bundled), label = negative sentiment, each with 'she' or 'he' put in front. Planted: the
    word follows the label 90% of the time ('she' with negative tweets); control: a coin flip."""
    import numpy as np

    from audit.datasets import load_tweets

    tweets = load_tweets()
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(tweets), size=n, replace=False)
    texts = tweets["text"].astype(str).to_numpy()[rows]
    labels = (tweets["sentiment"].to_numpy()[rows] == "negative").astype(int)
    follows = rng.random(n) < (0.9 if planted else 0.5)
    she = np.where(follows, labels == 1, labels == 0) if planted else follows
    return [("she " if s else "he ") + t for s, t in zip(she, texts)], labels


def train_bag_classifier(texts, labels, *, seed: int = 0, epochs: int = 30):
    """A BagOfEmbeddings model and a word-level tokenizer built from ``texts`` (local, nothing fetched)."""
    import collections
    import re

    from transformers import BertTokenizerFast

    from explainers._text_model import TextClassifier

    torch.manual_seed(seed)
    counts = collections.Counter(w for t in texts for w in re.findall(r"\w+|[^\w\s]", t.lower()))
    words = [w for w, c in counts.most_common(3000) if c >= 2]
    vocab = {t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words])}
    tokenizer = BertTokenizerFast(vocab=vocab, do_lower_case=True, model_max_length=64)
    model = BagOfEmbeddings(len(vocab))
    encoded = tokenizer(list(texts), padding=True, truncation=True, max_length=64, return_tensors="pt")
    target = torch.as_tensor(labels)
    optimiser = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(epochs):
        for start in range(0, len(target), 256):
            batch = slice(start, start + 256)
            loss = torch.nn.functional.cross_entropy(
                model(encoded["input_ids"][batch], encoded["attention_mask"][batch]), target[batch]
            )
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    return TextClassifier(model.eval(), tokenizer, labels=["other", "negative"])
