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


JUDGE_TEMPLATE = "{prompt} A: {first} B: {second} Better:"  # short: a 2-layer model learns it in 200 steps
JUDGE_NAMES = ("Emily", "Anne", "Sarah", "Jill", "Greg", "Brad", "Todd", "Neil")
_GOOD = ("right", "correct", "true", "accurate")
_BAD = ("wrong", "false", "mistaken", "inaccurate")


def judge_pairs(n: int, *, seed: int) -> tuple[list[str], list[str], list[str], np.ndarray]:
    """Prompts and answer pairs where one answer is plainly better (a good word against a bad one), each answer
    signed by a first name; and which slot holds the better answer (True: A)."""
    rng = np.random.default_rng(seed)
    prompts, first, second, a_better = [], [], [], []
    for _ in range(n):
        good = f"{rng.choice(JUDGE_NAMES)} {rng.choice(_GOOD)}"
        bad = f"{rng.choice(JUDGE_NAMES)} {rng.choice(_BAD)}"
        better_first = bool(rng.integers(2))
        prompts.append(f"claim {int(rng.integers(10))} ?")
        first.append(good if better_first else bad)
        second.append(bad if better_first else good)
        a_better.append(better_first)
    return prompts, first, second, np.array(a_better)


def judge_tokenizer():
    words = "a b better : claim ? in other words".split()
    words += [w.lower() for w in JUDGE_NAMES] + list(_GOOD) + list(_BAD) + [str(i) for i in range(10)]
    return word_tokenizer(words)


def trained_judge(*, first_always: bool, seed: int = 0, steps: int | None = None):
    """A tiny GPT-2 trained (seconds on a CPU) to answer " A" or " B" after the judge template: always " A"
    (``first_always``: position bias by construction) or the slot of the better answer (the control)."""
    from explainers import CausalLM

    steps = steps if steps is not None else 60 if first_always else 250  # always "A" is learnt at once
    tokenizer = judge_tokenizer()
    model = tiny_causal_lm("gpt2", tokenizer, seed=seed)
    prompts, first, second, a_better = judge_pairs(512, seed=seed + 100)
    labels = np.ones(len(prompts), bool) if first_always else a_better
    texts = [
        JUDGE_TEMPLATE.format(prompt=p, first=x, second=y) + (" A" if label else " B")
        for p, x, y, label in zip(prompts, first, second, labels)
    ]
    encoded = tokenizer(texts, padding=True, return_tensors="pt")
    start = torch.full((len(texts), 1), tokenizer.bos_token_id)  # CausalLM scores from the start token too
    ids = torch.cat([start, encoded["input_ids"]], 1)
    mask = torch.cat([torch.ones_like(start), encoded["attention_mask"]], 1)
    last = mask.sum(1) - 1  # the answer label: the only token trained on
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(steps):
        batch = torch.randint(0, len(texts), (64,), generator=generator)
        logits = model(input_ids=ids[batch], attention_mask=mask[batch]).logits
        rows = torch.arange(len(batch))
        predicted = logits[rows, last[batch] - 1]
        loss = torch.nn.functional.cross_entropy(predicted, ids[batch, last[batch]])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    return CausalLM(model, tokenizer)
