"""Layer Integrated Gradients on the MiniLM tweet classifier: ours vs captum used plainly vs
transformers-interpret vs the forward+backward bound, in one run.

    python -m benchmarks.attributions [--examples 64] [--seed 0] [--device cpu|cuda]

- ours: ``layer_integrated_gradients`` with ``n_steps="auto"`` (Gauss-Legendre steps added per example until
  the convergence delta is under ``--tolerance``); and at a fixed 50 steps to compare values with captum.
- captum plain: ``LayerIntegratedGradients.attribute`` one sentence per call, default settings (50 steps).
- captum at its best, at equal accuracy (the headline): several sentences per call (sorted by length and padded
  to the longest of each call), ``internal_batch_size`` tuned on the sample, at the smallest n_steps in
  {8, 12, 16, 24, 32, 50} whose worst convergence delta on the sample reaches ours; ``speedup_fixed_steps``
  compares both batched at 50 steps.
- transformers-interpret: ``SequenceClassificationExplainer`` (installed by this benchmark with --no-deps into
  its own folder, ``--ti-path``, since it pins old libraries); skipped with the reason if it cannot run.
- bound: forward+backward passes over interpolated embeddings at the best batch size, for as many sequences
  as ours ran (its first tries included), per length group (throughput measured per batch size, then scaled).
Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np


def real_tweets(count: int, seed: int = 0) -> list[str]:
    from audit.demo._demo import load_tweets
    from explainers.minilm_head import heldout_split

    tweets = load_tweets()
    _, heldout = heldout_split(len(tweets))
    rng = np.random.default_rng(seed)
    rows = rng.choice(heldout, size=count, replace=False)
    return [str(t) for t in tweets["text"].to_numpy()[rows]]


def captum_plain(classifier, texts, targets, n_steps=50):
    import torch
    from captum.attr import LayerIntegratedGradients

    model, tokenizer = classifier.model, classifier.tokenizer
    lig = LayerIntegratedGradients(lambda ids, mask: torch.softmax(model(ids, mask), -1), classifier.embedding_layer)
    values, deltas = [], []
    for text, target in zip(texts, targets):
        encoded = tokenizer(text, return_tensors="pt", truncation=True, max_length=classifier.max_length)
        ids, mask = encoded["input_ids"].to(classifier.device), encoded["attention_mask"].to(classifier.device)
        baseline = classifier.baseline_ids(ids, mask)
        attribution, delta = lig.attribute(
            ids,
            baselines=baseline,
            additional_forward_args=(mask,),
            target=int(target),
            n_steps=n_steps,
            return_convergence_delta=True,
        )
        values.append(attribution.sum(-1)[0, 1:-1].detach().cpu().numpy())
        deltas.append(float(delta.abs().item()))
    return values, deltas


CAPTUM_STEPS = (8, 12, 16, 24, 32, 50)
TI_VERSION = "0.10.0"


def captum_batched(classifier, texts, targets, *, n_steps: int, per_call: int = 16, internal_batch_size: int = 64):
    """captum's LayerIntegratedGradients, several sentences per call (length-sorted, padded to the longest of
    the call); returns the worst convergence delta."""
    import torch
    from captum.attr import LayerIntegratedGradients

    lig = LayerIntegratedGradients(
        lambda ids, mask: torch.softmax(classifier.logits(ids, mask), -1), classifier.embedding_layer
    )
    order = sorted(range(len(texts)), key=lambda i: len(classifier.tokenizer(texts[i])["input_ids"]))
    worst = 0.0
    for start in range(0, len(order), per_call):
        chosen = order[start : start + per_call]
        batch = classifier.tokenize([texts[i] for i in chosen])
        ids, mask = batch.input_ids, batch.attention_mask
        baseline = classifier.baseline_ids(ids, mask)
        _, delta = lig.attribute(
            ids,
            baselines=baseline,
            additional_forward_args=(mask,),
            target=torch.as_tensor([int(targets[i]) for i in chosen], device=ids.device),
            n_steps=n_steps,
            internal_batch_size=internal_batch_size,
            return_convergence_delta=True,
        )
        worst = max(worst, float(delta.abs().max()))
    return worst


def captum_best(classifier, texts, targets, target_delta: float) -> dict:
    """captum at its best documented settings and equal accuracy: tune internal_batch_size and sentences per
    call on a subset, then the smallest n_steps whose worst delta reaches ``target_delta``; time that run."""
    subset, subset_targets = texts[:16], targets[:16]
    tuning = {}
    for per_call, internal in ((8, 64), (16, 64), (16, 128), (32, 256)):
        started = time.perf_counter()
        captum_batched(classifier, subset, subset_targets, n_steps=16, per_call=per_call, internal_batch_size=internal)
        tuning[(per_call, internal)] = time.perf_counter() - started
    per_call, internal = min(tuning, key=tuning.get)
    searched = {}
    for n_steps in CAPTUM_STEPS:
        started = time.perf_counter()
        worst = captum_batched(
            classifier, texts, targets, n_steps=n_steps, per_call=per_call, internal_batch_size=internal
        )
        searched[n_steps] = (time.perf_counter() - started, worst)
        if worst <= target_delta:
            break
    steps = next((n for n, (_, worst) in searched.items() if worst <= target_delta), CAPTUM_STEPS[-1])
    return {
        "captum_best_s": searched[steps][0],
        "captum_best_steps": steps,
        "captum_best_delta_max": searched[steps][1],
        "captum_best_reached_ours": searched[steps][1] <= target_delta,
        "captum_best_per_call": per_call,
        "captum_best_internal_batch_size": internal,
        "captum_batched_50_s": searched[50][0] if 50 in searched else None,
        "captum_step_search": {str(n): {"s": t, "delta_max": d} for n, (t, d) in searched.items()},
    }


def ensure_transformers_interpret(path: str) -> None:
    """Install transformers-interpret into its own folder (no dependencies: it pins old libraries) once."""
    from pathlib import Path

    if (Path(path) / "transformers_interpret").is_dir():
        return
    import subprocess

    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",
            "--target",
            path,
            f"transformers-interpret=={TI_VERSION}",
        ],
        check=True,
    )


def transformers_interpret(classifier, texts, targets, path):
    ensure_transformers_interpret(path)
    sys.path.insert(0, path)
    import torch
    from transformers_interpret import SequenceClassificationExplainer

    inner = classifier.model

    class HFLike(torch.nn.Module):  # the attributes transformers-interpret reads from a PreTrainedModel
        base_model_prefix = "encoder"

        def __init__(self):
            super().__init__()
            self.inner, self.encoder = inner, inner.encoder
            self.config = inner.encoder.config
            self.config.id2label = {0: "negative", 1: "neutral", 2: "positive"}
            self.config.label2id = {v: k for k, v in self.config.id2label.items()}

        @property
        def device(self):
            return next(self.parameters()).device

        def get_input_embeddings(self):
            return self.inner.encoder.get_input_embeddings()

        def forward(self, input_ids, attention_mask=None):
            if attention_mask is None:
                attention_mask = torch.ones_like(input_ids)
            return (self.inner(input_ids, attention_mask),)

    explainer = SequenceClassificationExplainer(HFLike(), classifier.tokenizer)
    deltas = []
    for text, target in zip(texts, targets):
        explainer(text, index=int(target), n_steps=50)
        deltas.append(float(abs(explainer.attributions.delta)))
    return deltas


def _pass_time(classifier, texts, size: int) -> float:
    """Seconds per sequence of one forward+backward pass over `size` interpolated sequences of `texts`."""
    import torch

    batch = classifier.tokenize(texts)
    ids, mask = batch.input_ids, batch.attention_mask
    with torch.inference_mode():
        embedded = classifier.embedding_layer(ids).detach().clone()
    replacement = {}
    hook = classifier.embedding_layer.register_forward_hook(lambda m, a, o: replacement["v"])
    try:
        rows = torch.arange(size) % len(texts)
        for _ in range(2):  # the first pass warms up
            started = time.perf_counter()
            path = (embedded[rows] * 0.5).requires_grad_(True)
            replacement["v"] = path
            probs = torch.softmax(classifier.logits(ids[rows], mask[rows]), -1)[:, 0]
            torch.autograd.grad(probs.sum(), path)
            if classifier.device.type == "cuda":
                torch.cuda.synchronize()
            elapsed = time.perf_counter() - started
    finally:
        hook.remove()
    return elapsed / size


def bound(classifier, texts, steps, group_size=16, batch_sizes=(16, 32, 50, 64, 100)):
    """Seconds for the forward+backward passes ours ran, at the best batch size, with the same length groups
    as ours (equal token lengths share a pass on CPU)."""
    from explainers._text_ig import _length_groups

    groups = _length_groups(classifier, texts, group_size)
    median = [texts[i] for i in sorted(groups, key=len)[-1]]  # the largest group: the least noisy timing
    per_size = {size: _pass_time(classifier, median, size) for size in batch_sizes}
    best = min(per_size, key=per_size.get)
    total = 0.0
    for group in groups:
        total += _pass_time(classifier, [texts[i] for i in group], best) * sum(steps[i] for i in group)
    return total, best


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0, help="which held-out tweets (a seeded sample)")
    parser.add_argument(
        "--tolerance",
        type=float,
        default=8e-3,
        help="largest convergence delta allowed per example; captum plain and transformers-interpret "
        "reach 8.1e-3 at their 50 steps on these tweets, so this holds ours to their tolerance",
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--ti-path", default="/tmp/ti/site", help="folder with transformers-interpret installed")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    from explainers import get_explainer
    from explainers.minilm_head import load_minilm_sentiment

    classifier = load_minilm_sentiment(device=args.device)
    texts = real_tweets(args.examples, args.seed)
    report = {
        "examples": len(texts),
        "device": str(classifier.device),
        "threads": args.threads,
        "tolerance": args.tolerance,
    }

    started = time.perf_counter()
    ours = get_explainer("layer_integrated_gradients", n_steps="auto", tolerance=args.tolerance).explain_texts(
        classifier, texts
    )
    report["ours_s"] = time.perf_counter() - started
    steps = ours.meta["steps_run_per_example"]  # every pass ours made, the first tries included
    report.update(
        {
            "ours_steps_mean": float(np.mean(steps)),
            "ours_delta_max": float(ours.completeness_error.max()),
            "ours_sequences": int(sum(steps)),
        }
    )
    print(
        f"ours (auto steps, tolerance {args.tolerance}): {report['ours_s']:.1f} s, mean steps run "
        f"{np.mean(steps):.1f}, max delta {ours.completeness_error.max():.1e}",
        flush=True,
    )

    started = time.perf_counter()
    fixed = get_explainer("layer_integrated_gradients", n_steps=50).explain_texts(classifier, texts)
    report["ours_fixed50_s"] = time.perf_counter() - started
    print(
        f"ours (50 steps): {report['ours_fixed50_s']:.1f} s, max delta {fixed.completeness_error.max():.1e}", flush=True
    )

    started = time.perf_counter()
    captum_values, captum_deltas = captum_plain(classifier, texts, fixed.targets)
    report["captum_plain_s"] = time.perf_counter() - started
    diff = max(float(np.abs(fixed.values[i, : len(v)] - v).max()) for i, v in enumerate(captum_values))
    report.update({"max_abs_diff_vs_captum": diff, "captum_delta_max": max(captum_deltas)})
    print(
        f"captum plain: {report['captum_plain_s']:.1f} s, max delta {max(captum_deltas):.1e}; "
        f"ours at 50 steps differs by at most {diff:.1e}",
        flush=True,
    )

    try:
        started = time.perf_counter()
        ti_deltas = transformers_interpret(classifier, texts, fixed.targets, args.ti_path)
        report["ti_s"] = time.perf_counter() - started
        report["ti_delta_max"] = max(ti_deltas)
        print(f"transformers-interpret: {report['ti_s']:.1f} s, max delta {max(ti_deltas):.1e}", flush=True)
    except Exception as err:  # reported, not hidden: the benchmark states why TI has no figure
        report["ti_s"] = None
        report["ti_error"] = f"{type(err).__name__}: {err}"
        print(f"transformers-interpret could not run: {report['ti_error']}", flush=True)

    report.update(captum_best(classifier, texts, fixed.targets, report["ours_delta_max"]))
    if report["captum_best_steps"] == 50 and report["captum_plain_s"] < report["captum_best_s"]:
        # on a CPU, padding several sentences into one call can cost more than it saves: captum's best is then
        # one sentence per call (the plain run, at the same 50 steps and the same accuracy)
        report.update(captum_best_s=report["captum_plain_s"], captum_best_per_call=1)
    if report["captum_batched_50_s"] is None:
        report["captum_batched_50_s"] = _time(
            lambda: captum_batched(
                classifier,
                texts,
                fixed.targets,
                n_steps=50,
                per_call=report["captum_best_per_call"],
                internal_batch_size=report["captum_best_internal_batch_size"],
            )
        )
    print(
        f"captum at its best: {report['captum_best_s']:.1f} s at {report['captum_best_steps']} steps (worst delta "
        f"{report['captum_best_delta_max']:.1e}, {report['captum_best_per_call']} sentences per call, internal batch "
        f"{report['captum_best_internal_batch_size']}); batched at 50 steps {report['captum_batched_50_s']:.1f} s",
        flush=True,
    )

    report["bound_s"], report["bound_batch_size"] = bound(classifier, texts, steps)
    print(
        f"bound: {report['bound_s']:.1f} s for {report['ours_sequences']} sequences at batch size "
        f"{report['bound_batch_size']}",
        flush=True,
    )
    report["speedup_vs_captum"] = report["captum_plain_s"] / report["ours_s"]
    report["speedup_vs_captum_best"] = report["captum_best_s"] / report["ours_s"]
    report["speedup_fixed_steps"] = report["captum_batched_50_s"] / report["ours_fixed50_s"]
    report["speedup_vs_ti"] = report["ti_s"] / report["ours_s"] if report["ti_s"] else None
    report["fraction_of_bound"] = report["bound_s"] / report["ours_s"]
    return report


def _time(work) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


if __name__ == "__main__":
    print(json.dumps(main()))
