"""Train the demo's small generative language model on the bundled tweets (a few CPU minutes).

    python -m audit.demo.train_tweet_lm [--out DIR] [--epochs N]

A byte-level BPE tokenizer (4,000 tokens) and a GPT-2-style model (2 layers, 128 hidden units, about 0.9M
parameters) are trained from scratch with fixed seeds on the tweets the MiniLM head was trained on (the same 80%
split). The result ships in audit/demo/tweet_lm (about 4 MB); `audit demo --llm` audits it. Tweets about products
and brands are not a corpus about people, so the audit measures what little the model picked up; it is a working
example of the probes, not a benchmark of a real LLM.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from audit.demo._demo import TWEET_LM_DIR, load_tweets

DEFAULT_OUT = TWEET_LM_DIR
VOCAB_SIZE = 4000
CONTEXT = 128


def train(out: str | Path = DEFAULT_OUT, *, epochs: int = 3, seed: int = 0) -> dict:
    import numpy as np
    import torch
    from tokenizers import ByteLevelBPETokenizer
    from transformers import GPT2Config, GPT2LMHeadModel, GPT2TokenizerFast

    from explainers.minilm_head import heldout_split

    torch.manual_seed(seed)
    tweets = load_tweets()["text"].astype(str).tolist()
    train_rows, _ = heldout_split(len(tweets))
    texts = [tweets[i] for i in train_rows]
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        texts, vocab_size=VOCAB_SIZE, min_frequency=2, special_tokens=["<|endoftext|>"], show_progress=False
    )
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    # transformers 5 ignores vocab_file=; the tokenizer is handed over as an object
    tokenizer = GPT2TokenizerFast(
        tokenizer_object=bpe._tokenizer,
        bos_token="<|endoftext|>",
        eos_token="<|endoftext|>",
        unk_token="<|endoftext|>",
        model_max_length=CONTEXT,
    )
    eos = tokenizer.eos_token_id
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=CONTEXT,
        n_embd=128,
        n_layer=2,
        n_head=4,
        bos_token_id=eos,
        eos_token_id=eos,
    )
    model = GPT2LMHeadModel(config)
    rows = [[eos] + ids[: CONTEXT - 2] + [eos] for ids in tokenizer(texts)["input_ids"]]
    order = np.argsort([len(r) for r in rows], kind="stable")
    batches = [order[i : i + 64] for i in range(0, len(order), 64)]
    optimiser = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.01)
    rng = np.random.default_rng(seed)
    model.train()
    losses = []
    for _ in range(epochs):
        for b in rng.permutation(len(batches)):
            chunk = [rows[i] for i in batches[b]]
            longest = max(len(r) for r in chunk)
            ids = torch.full((len(chunk), longest), eos)
            mask = torch.zeros((len(chunk), longest), dtype=torch.long)
            for i, r in enumerate(chunk):
                ids[i, : len(r)], mask[i, : len(r)] = torch.tensor(r), 1
            loss = model(input_ids=ids, attention_mask=mask, labels=ids.masked_fill(mask == 0, -100)).loss
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            losses.append(float(loss.detach()))
    model.eval().save_pretrained(out)
    tokenizer.save_pretrained(out)
    card = {
        "tweets": len(texts),
        "epochs": epochs,
        "seed": seed,
        "parameters": sum(p.numel() for p in model.parameters()),
        "final_loss": round(float(np.mean(losses[-50:])), 4),
    }
    (out / "card.json").write_text(json.dumps(card, indent=2) + "\n")
    return card


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description="Train the demo's small causal language model on the tweets.")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="folder for the model (default: audit/demo/tweet_lm)")
    parser.add_argument("--epochs", type=int, default=3)
    arguments = parser.parse_args(argv)
    return train(arguments.out, epochs=arguments.epochs)


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
