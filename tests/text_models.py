"""Tiny text classifiers of each supported architecture, built in code (random weights, local tokenizer)."""

from __future__ import annotations

import torch

WORDS = ("the a is was very not good bad great awful movie phone service she he her his they love hate "
         "it this that and but with store battery screen food").split()


def tiny_tokenizer():
    from transformers import BertTokenizerFast

    vocab = {t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS, "##s", "##ing",
                                         "!", ",", "."])}
    return BertTokenizerFast(vocab=vocab, do_lower_case=True)


def tiny_model(architecture: str, *, num_labels: int = 2, seed: int = 0):
    import transformers as t

    torch.manual_seed(seed)
    tokenizer = tiny_tokenizer()
    common = dict(vocab_size=len(tokenizer.get_vocab()), num_labels=num_labels, pad_token_id=tokenizer.pad_token_id)
    small = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                 max_position_embeddings=64)
    if architecture == "bert":
        model = t.BertForSequenceClassification(t.BertConfig(**common, **small))
    elif architecture == "roberta":
        model = t.RobertaForSequenceClassification(t.RobertaConfig(**common, **{**small, "max_position_embeddings": 70}))
    elif architecture == "deberta-v2":
        model = t.DebertaV2ForSequenceClassification(t.DebertaV2Config(**common, **small))
    elif architecture == "distilbert":
        model = t.DistilBertForSequenceClassification(t.DistilBertConfig(
            **common, dim=32, n_layers=2, n_heads=2, hidden_dim=64, max_position_embeddings=64))
    elif architecture == "gpt2":
        model = t.GPT2ForSequenceClassification(t.GPT2Config(**common, n_embd=32, n_layer=2, n_head=2, n_positions=64))
    elif architecture == "llama":
        model = t.LlamaForSequenceClassification(t.LlamaConfig(
            **common, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2,
            intermediate_size=64, max_position_embeddings=64))
    else:
        raise ValueError(architecture)
    return model.eval(), tokenizer


ARCHITECTURES = ("bert", "distilbert", "roberta", "deberta-v2", "gpt2", "llama")
