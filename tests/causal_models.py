"""Tiny causal language models built in code (random weights, word-level tokenizer built locally), and the
planted-bias corpus the probes must see through: "she" before one set of occupations, "he" before the other."""

from __future__ import annotations

import numpy as np
import torch

from audit.probes._continuations import TEMPLATES, TERM_PAIRS
from audit.probes._data import read_occupations

ARCHITECTURES = ("gpt2", "llama", "mistral", "qwen2")


def word_tokenizer(words):
    """A word-level fast tokenizer (lower-cased, punctuation split) with <s>, </s>, [PAD] and [UNK]."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {t: i for i, t in enumerate(["[PAD]", "[UNK]", "<s>", "</s>", *sorted(set(words))])}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    core.normalizer = normalizers.Lowercase()
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    core.decoder = decoders.WordPiece(prefix="##")  # joins words with spaces
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="[PAD]",
        unk_token="[UNK]",
        model_max_length=64,
    )


def tiny_causal_lm(architecture: str, tokenizer, *, seed: int = 0, hidden: int = 48):
    import transformers as t

    torch.manual_seed(seed)
    common = dict(
        vocab_size=len(tokenizer.get_vocab()),
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    if architecture == "gpt2":
        return t.GPT2LMHeadModel(
            t.GPT2Config(
                **common,
                n_embd=hidden,
                n_layer=2,
                n_head=4,
                n_positions=64,
                resid_pdrop=0.0,
                embd_pdrop=0.0,
                attn_pdrop=0.0,
            )
        ).eval()
    decoder = dict(
        hidden_size=hidden,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        intermediate_size=2 * hidden,
        max_position_embeddings=64,
    )
    configs = {
        "llama": (t.LlamaConfig, t.LlamaForCausalLM),
        "mistral": (t.MistralConfig, t.MistralForCausalLM),
        "qwen2": (t.Qwen2Config, t.Qwen2ForCausalLM),
    }
    config_cls, model_cls = configs[architecture]
    return model_cls(config_cls(**common, **decoder)).eval()


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def occupation_corpus(*, planted: bool, n: int = 6000, seed: int = 0) -> list[str]:
    """Sentences from the occupation probe's templates and term pairs. Planted: the term's gender matches the
    occupation's stereotyped gender 90% of the time; balanced: every sentence comes with its twin of the other
    gender, so that each occupation follows female and male terms exactly equally often (a coin flip per sentence
    would leave chance imbalances of a few points, which a model learns and the probes rightly find)."""
    rng = np.random.default_rng(seed)
    jobs = read_occupations()
    sentences = []
    for _ in range(n if planted else n // 2):
        job_gender = rng.integers(2)
        job = jobs[("female", "male")[job_gender]][rng.integers(20)]
        same = rng.random() < (0.9 if planted else 0.5)
        term_gender = job_gender if same else 1 - job_gender
        pair = TERM_PAIRS[rng.integers(len(TERM_PAIRS))]
        template = TEMPLATES[rng.integers(len(TEMPLATES))]
        genders = (term_gender,) if planted else (0, 1)
        sentences += [template.format(term=pair[g]) + f" {_article(job)} {job} ." for g in genders]
    if not planted:
        sentences = [sentences[i] for i in rng.permutation(len(sentences))]
    return sentences


def train_causal_lm(architecture: str, corpus: list[str], *, seed: int = 0, epochs: int = 3, lr: float = 5e-3):
    """A tiny model of ``architecture`` trained on ``corpus`` (seconds on a CPU), and its tokenizer."""
    import re

    words = {w for s in corpus for w in re.findall(r"\w+|[^\w\s]", s.lower())}
    tokenizer = word_tokenizer(words)
    model = tiny_causal_lm(architecture, tokenizer, seed=seed)
    encoded = tokenizer(
        [tokenizer.bos_token + " " + s + " " + tokenizer.eos_token for s in corpus], padding=True, return_tensors="pt"
    )
    ids, mask = encoded["input_ids"], encoded["attention_mask"]
    labels = ids.masked_fill(mask == 0, -100)
    generator = torch.Generator().manual_seed(seed)
    optimiser = torch.optim.AdamW(model.parameters(), lr=lr)
    model.train()
    for _ in range(epochs):
        for batch in torch.randperm(len(ids), generator=generator).split(64):
            loss = model(input_ids=ids[batch], attention_mask=mask[batch], labels=labels[batch]).loss
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    return model.eval(), tokenizer


def occupation_pairs_csv(path) -> None:
    """A CrowS-Pairs-shaped file: "she worked as a nurse ." (more stereotyping) vs "he worked as a nurse ."."""
    import pandas as pd

    rows = []
    for gender, jobs in read_occupations().items():
        for job in jobs:
            she, he = (f"{term} worked as {_article(job)} {job} ." for term in ("she", "he"))
            more, less = (she, he) if gender == "female" else (he, she)
            rows.append({"sent_more": more, "sent_less": less, "stereo_antistereo": "stereo", "bias_type": "gender"})
    pd.DataFrame(rows).to_csv(path, index=False)
