"""CrowS-Pairs log-likelihoods on a GPT-2-small-sized model: ours (batched) vs a plain loop, in one run.

    python -m benchmarks.llm_probes [--pairs 1508] [--device cpu|cuda]

- model: ``GPT2LMHeadModel(GPT2Config())``, the GPT-2 small architecture (124M parameters, 50,257-token
  vocabulary), random weights (seed 0); no weights can be fetched here. The tokenizer is the demo's byte-level BPE
  trained on the bundled tweets (audit/demo/tweet_lm; GPT-2's own vocabulary file cannot be fetched either), so
  sentences are somewhat longer in tokens than with GPT-2's tokenizer; both sides use the same ids.
- ours: ``pair_scores`` of the probes (``CausalLM.token_logprobs``: sentences sorted lexicographically and packed
  so that each shared prefix is computed once, with tree attention; rows batched under a token budget, inference
  mode), both scores of every pair (whole sentence and shared tokens). ``ours_padded_s`` times the same without
  packing (length-sorted, right-padded batches) for reference, unless --no-padded.
- plain: one sentence per forward pass (``model(ids[None])`` under inference mode), per-token log-probabilities by
  log_softmax and gather, then the same two scores from the same alignment code.
- equality: the largest absolute difference of any sentence's log-likelihood between the two (goal <= 1e-4);
  speedup = plain_loop_s / ours_s (goal >= 3 on CPU). Both sides run once after a warm-up of 8 sentences, with the
  same torch threads. Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def build(device: str = "cpu"):
    import torch
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel

    from audit.demo.train_tweet_lm import DEFAULT_OUT
    from explainers._causal_lm import CausalLM

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(str(DEFAULT_OUT), local_files_only=True)
    model = GPT2LMHeadModel(GPT2Config()).eval().to(device)
    return CausalLM(model, tokenizer, precision="float32")


def plain_logprobs(lm, sequences: list[list[int]]) -> list[np.ndarray]:
    """One sentence per forward pass: the per-token log-probabilities, nothing batched."""
    import torch

    out = []
    with torch.inference_mode():
        for ids in sequences:
            tensor = torch.tensor([ids], device=lm.device)
            logits = lm.model(input_ids=tensor).logits[0, :-1].float()
            out.append(torch.log_softmax(logits, -1).gather(-1, tensor[0, 1:, None])[:, 0].double().cpu().numpy())
    return out


class _PlainLM:
    """The plain loop behind the same interface as CausalLM, so that both sides share the scoring code."""

    def __init__(self, lm) -> None:
        self.lm = lm

    def encode(self, texts):
        return self.lm.encode(texts)

    def token_logprobs(self, sequences):
        return plain_logprobs(self.lm, sequences)


def run(pairs: int | None = None, device: str = "cpu", *, with_padded: bool = True) -> dict:
    import torch

    from explainers._causal_lm import CausalLM

    from audit.probes._data import read_crows_pairs
    from audit.probes._paired import pair_scores

    items = read_crows_pairs()[:pairs]
    lm = build(device)
    warm = [it.stereo for it in items[:8]]
    lm.token_logprobs(lm.encode(warm))
    plain_logprobs(lm, lm.encode(warm))

    def timed(scorer):
        if device == "cuda":
            torch.cuda.synchronize()
        began = time.perf_counter()
        scores = pair_scores(scorer, items)
        if device == "cuda":
            torch.cuda.synchronize()
        return scores, time.perf_counter() - began

    ours, ours_s = timed(lm)
    padded_s = None
    if with_padded:
        padded_lm = CausalLM(lm.model, lm.tokenizer, precision="float32", packing=False)
        padded_lm.token_logprobs(padded_lm.encode(warm))
        padded_s = round(timed(padded_lm)[1], 3)
    plain, plain_s = timed(_PlainLM(lm))
    ids = lm.encode([it.stereo for it in items] + [it.anti for it in items])
    return {
        "pairs": len(items),
        "params": int(sum(p.numel() for p in lm.model.parameters())),
        "mean_tokens": float(np.mean([len(s) for s in ids])),
        "ours_s": round(ours_s, 3),
        "ours_padded_s": padded_s,
        "plain_loop_s": round(plain_s, 3),
        "speedup": round(plain_s / ours_s, 2),
        "max_abs_diff_loglik": float(np.abs(ours["loglik"] - plain["loglik"]).max()),
        "max_abs_diff_pair_scores": float(
            max(np.abs(ours[k] - plain[k]).max() for k in ("full_sentence", "unmodified_tokens"))
        ),
        "packing": lm.info.packing,
        "threads": torch.get_num_threads(),
        "device": str(lm.device),
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=None, help="first N pairs (default: all 1,508)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--no-padded", action="store_true", help="skip the unpacked reference run")
    arguments = parser.parse_args(argv)
    outcome = run(arguments.pairs, arguments.device, with_padded=not arguments.no_padded)
    print(json.dumps(outcome))
    return outcome


if __name__ == "__main__":
    main()
