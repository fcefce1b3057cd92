"""Token attributions for generated text: every generated token x every prompt (and earlier generated) token.

Each generated token ``y_i`` is a target: ``log p(y_i | prompt, y_<i)``; a contrastive target is ``log p(A | prompt)
- log p(B | prompt)`` over two whole continuations ("why 'nurse' and not 'doctor'"). What makes it fast:

- **Every target in one batch.** Target ``i`` reads the logits at one position of the sequence truncated after
  ``y_<i``; its rows (one per integration step) join the rows of every other target and prompt, grouped by length
  and batched under a token budget (from free memory on CUDA, halved on out-of-memory), one backward per batch.
  The sum of the rows' outputs has each row's own gradient, since rows do not interact.
- **The vocabulary projection only where it is read.** A pre-hook on the output embeddings hands them the hidden
  state of the target position alone: with GPT-2's 50k vocabulary the projection of every position costs more
  than the whole transformer of a small model, and captum computes it at every position of every step.
- **Prefixes shared.** A causal model's output at a position depends only on the positions before it, so the
  outputs and baselines of every target of a sequence come from one forward pass, and so do all targets of an
  occluded sequence.

Integrated gradients run in the token-embedding space (as captum's LayerIntegratedGradients on the embedding
layer); special tokens (the start token) keep their embedding and are not attributed. ``sources="prompt"``
interpolates the prompt only, the generated tokens staying as generated (captum's LLMGradientAttribution);
``"all"`` also the earlier generated tokens, so each target is explained by everything the model read.
Completeness ``|sum - (output - baseline output)|`` is reported per target; with ``n_steps="auto"`` targets above
``tolerance`` are rerun with more steps, as the text explainer does.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from explainers._causal_lm import CausalLM
from explainers._errors import DataError, ModelError, ResourceError
from explainers._generation_types import GeneratedExample, GenerationAttribution
from explainers._text_ig import FIRST_STEPS, MAX_STEPS, _gauss_legendre, _next_steps, _two_panel_gauss_legendre

__all__ = ["GenerationLayerIntegratedGradients", "GenerationInputXGradient", "GenerationSaliency",
           "GenerationFeatureAblation", "attribute_generation"]

_CPU_BATCH_TOKENS = 4096  # tokens per forward + backward on CPU: larger batches gain nothing there


@dataclass
class _Example:
    prompt: str
    sequences: list[list[int]]  # the continuation (A), and the contrast (B) when asked
    signs: list[float]
    prompt_end: int  # where the continuation starts (the same in A and B)
    attributed: np.ndarray  # positions of A whose embedding is interpolated / occluded
    rows: int  # targets: the continuation's tokens, or 1 for a contrast

    def terms(self) -> list[tuple[int, int, int]]:
        """(sequence, position of the target token, output row)."""
        out = []
        for s, ids in enumerate(self.sequences):
            for t in range(self.prompt_end, len(ids)):
                out.append((s, t, 0 if len(self.sequences) > 1 else t - self.prompt_end))
        return out

    def mask(self, sequence: int, length: int) -> np.ndarray:
        """Positions below ``length`` whose embedding moves (in B only the prompt's are ever attributed)."""
        keep = self.attributed[self.attributed < (length if sequence == 0 else min(length, self.prompt_end))]
        out = np.zeros(length, dtype=bool)
        out[keep] = True
        return out


class _GenerationMethod:
    """Shared by the methods: settings, preparing the examples, batched passes with hooks, the result."""

    name = "generation"
    granularity = "generation"
    additive = False

    def __init__(self, *, sources: str = "all", baseline: str | int = "auto", batch_tokens: int | None = None) -> None:
        if sources not in ("all", "prompt"):
            raise DataError(f"The 'sources' parameter must be 'all' or 'prompt'. Got {sources!r} instead.")
        if not (baseline in ("auto", "zeros") or (isinstance(baseline, int) and not isinstance(baseline, bool)
                                                  and baseline >= 0)):
            raise DataError("The 'baseline' parameter must be 'auto' (the pad token, else end-of-sequence), 'zeros' "
                            f"(a zero embedding) or a token id. Got {baseline!r} instead.")
        if batch_tokens is not None and (isinstance(batch_tokens, bool) or not isinstance(batch_tokens, int)
                                         or batch_tokens < 1):
            raise DataError(f"The 'batch_tokens' parameter must be a positive integer. Got {batch_tokens!r} instead.")
        self.sources, self.baseline, self.batch_tokens = sources, baseline, batch_tokens

    # ----- the public entry ---------------------------------------------------------------------------------
    def explain_generation(self, lm: CausalLM, prompts: Any, *, continuations: Any = None, contrasts: Any = None,
                           max_new_tokens: int = 16, seed: int | None = None) -> GenerationAttribution:
        """Attribute each prompt's continuation: given (``continuations``: texts, or lists of token ids as the model
        generated them), or generated, greedily when ``seed``
        is None, else sampled with that seed (``max_new_tokens`` at most). ``contrasts``: one alternative
        continuation per prompt; each example then has one target, log p(continuation) - log p(contrast)."""
        if not isinstance(lm, CausalLM):
            raise ModelError(f"Generation attributions need a CausalLM. Got {type(lm).__name__}; wrap the model: "
                             "CausalLM(model, tokenizer).")
        started = time.perf_counter()
        prompts = _texts(prompts, "prompts")
        examples, generated = self._prepare(lm, prompts, continuations, contrasts, max_new_tokens, seed)
        self._lm = lm
        self._embedding = _embedding_module(lm)
        self._head = _head_module(lm)
        self._baseline_id = self._choose_baseline(lm)
        values, outputs, bases, deltas, steps = self._attribute(examples)
        result = [_example_result(lm, ex, v, o, b, d, s, prompts[k], contrasts[k] if contrasts is not None else None)
                  for k, (ex, v, o, b, d, s) in enumerate(zip(examples, values, outputs, bases, deltas, steps))]
        meta = {"method": self.name, "sources": self._sources, "baseline": self._baseline_note(lm),
                "continuation": generated, "device": str(lm.device), "runtime_s": time.perf_counter() - started,
                "batch_tokens": self._budget, "settings": self._settings()}
        space = "log-probability difference" if contrasts is not None else "log-probability"
        return GenerationAttribution(method=self.name, output_space=space, sources=self._sources, examples=result,
                                     meta=meta)

    def _settings(self) -> dict[str, Any]:
        return {"sources": self.sources, "baseline": self.baseline, "batch_tokens": self.batch_tokens}

    def _prepare(self, lm, prompts, continuations, contrasts, max_new_tokens, seed):
        if contrasts is not None:
            if continuations is None:
                raise DataError("A contrastive target needs both continuations: pass continuations= (A) with "
                                "contrasts= (B) to ask why A rather than B.")
            contrasts = _texts(contrasts, "contrasts", len(prompts))
        # a contrast's continuations differ, so only the prompt they share is attributed (recorded in the result)
        self._sources = "prompt" if contrasts is not None else self.sources
        if continuations is not None and _token_lists(continuations, len(prompts)):
            ids = lm.encode(prompts)
            starts = [len(row) for row in ids]
            ids = [row + [int(t) for t in tail] for row, tail in zip(ids, continuations)]
            generated = "given (token ids)"
        elif continuations is not None:
            continuations = _texts(continuations, "continuations", len(prompts))
            ids, starts = lm.encode_pairs(prompts, continuations)
            generated = "given"
        else:
            ids = lm.encode(prompts)
            starts = [len(row) for row in ids]
            new = lm.continue_ids(ids, max_new_tokens=max_new_tokens, seed=seed)
            ids = [row + tail for row, tail in zip(ids, new)]
            generated = "greedy" if seed is None else f"sampled (seed {seed}, temperature 1, top-k 50)"
        other = lm.encode_pairs(prompts, contrasts)[0] if contrasts is not None else None
        special = set(getattr(lm.tokenizer, "all_special_ids", []) or [])
        examples = []
        for k, (row, start) in enumerate(zip(ids, starts)):
            positions = np.array([p for p in range(len(row)) if row[p] not in special or p >= start], dtype=int)
            if self._sources == "prompt":
                positions = positions[positions < start]
            sequences, signs = [row], [1.0]
            if other is not None:
                if other[k][:start] != row[:start]:
                    raise DataError(f"Prompt {k} splits differently before its continuation and its contrast; end "
                                    "the prompt with a space or start both continuations with one.")
                sequences.append(other[k])
                signs.append(-1.0)
            examples.append(_Example(prompts[k], sequences, signs, start, positions,
                                     1 if other is not None else len(row) - start))
        return examples, generated

    def _choose_baseline(self, lm: CausalLM) -> int | None:
        if self.baseline == "zeros":
            return None
        if self.baseline == "auto":
            tokenizer = lm.tokenizer
            for token in (tokenizer.pad_token_id, tokenizer.eos_token_id, tokenizer.unk_token_id):
                if token is not None:
                    return int(token)
            raise ModelError("The tokenizer has no pad, end-of-sequence or unknown token to use as the baseline; pass "
                             "baseline= a token id, or 'zeros'.")
        if self.baseline >= lm.vocab_size:
            raise DataError(f"The baseline token id {self.baseline} is out of the vocabulary of {lm.vocab_size}.")
        return int(self.baseline)

    def _baseline_note(self, lm: CausalLM) -> str:
        if self._baseline_id is None:
            return "a zero embedding in place of each attributed token"
        token = lm.tokenizer.convert_ids_to_tokens(self._baseline_id)
        return f"token id {self._baseline_id} ({token!r}) in place of each attributed token"

    # ----- passes -------------------------------------------------------------------------------------------
    def _token_budget(self, lm: CausalLM) -> int:
        if self.batch_tokens is not None:
            return self.batch_tokens
        if lm.device.type != "cuda":
            return _CPU_BATCH_TOKENS
        import torch

        free, _ = torch.cuda.mem_get_info(lm.device)
        config = getattr(lm.model, "config", None)
        hidden = int(getattr(config, "hidden_size", 768) or 768)
        layers = int(getattr(config, "num_hidden_layers", 12) or 12)
        # activations kept for the backward pass: about 34 hidden-sized tensors per layer and token, in float32
        per_token = hidden * layers * 34 * 4 + lm.vocab_size * 4 * 3 // 16
        return int(max(256, min(1 << 20, free * 0.4 // per_token)))

    def _run_batches(self, rows: list, length_of, work) -> None:
        """Run ``work(batch)`` on rows grouped by length under the token budget; halve it on out-of-memory."""
        import torch

        order = sorted(range(len(rows)), key=lambda r: -length_of(rows[r]))
        start = 0
        while start < len(order):
            longest = length_of(rows[order[start]])
            count = max(1, self._budget // longest)
            batch = [rows[r] for r in order[start:start + count]]
            try:
                work(batch)
            except (torch.OutOfMemoryError, RuntimeError) as err:
                if "out of memory" not in str(err).lower():
                    raise
                if count == 1:
                    raise ResourceError(f"Out of memory on a single row of {longest} tokens.") from err
                self._budget = max(longest, self._budget // 2)
                if self._lm.device.type == "cuda":
                    torch.cuda.empty_cache()
                continue
            start += len(batch)

    def _forward(self, ids, embeds, positions):
        """log-softmax rows at ``positions`` (rows x k) of the model run on ``embeds`` in place of the token
        embeddings; the vocabulary projection sees only those positions."""
        import torch

        lm = self._lm
        mask = (torch.arange(ids.shape[1], device=ids.device)[None] < self._lengths[:, None]).long()
        gather = positions.to(ids.device)

        def take(hidden):
            index = gather[..., None].expand(-1, -1, hidden.shape[-1])
            return hidden.gather(1, index)

        hooks = [self._embedding.register_forward_hook(lambda module, args, output: embeds)]
        if self._head is not None:
            hooks.append(self._head.register_forward_pre_hook(lambda module, args: (take(args[0]), *args[1:])))
        try:
            logits = lm.logits(ids, mask, autocast=False)
        finally:
            for hook in hooks:
                hook.remove()
        if logits.shape[1] != gather.shape[1]:  # the model did not call its output embeddings: read them ourselves
            logits = logits.gather(1, gather[..., None].expand(-1, -1, logits.shape[-1]))
        return torch.log_softmax(logits.float(), -1)

    def _tensors(self, examples, rows):
        """Padded ids, their embeddings and the baselines' for rows (example, sequence, length, ...)."""
        import torch

        lm = self._lm
        longest = max(r[2] for r in rows)
        ids = torch.full((len(rows), longest), lm.pad_id, dtype=torch.long)
        moved = torch.zeros((len(rows), longest), dtype=torch.bool)
        for b, (e, s, length, *_) in enumerate(rows):
            ids[b, :length] = torch.tensor(examples[e].sequences[s][:length])
            moved[b, :length] = torch.from_numpy(examples[e].mask(s, length))
        ids, moved = ids.to(lm.device), moved.to(lm.device)
        self._lengths = torch.tensor([r[2] for r in rows], device=lm.device)
        with torch.no_grad():
            x = self._embedding(ids).detach()
            if self._baseline_id is None:
                b = x * (~moved)[..., None]
            else:
                b = self._embedding(ids.masked_fill(moved, self._baseline_id)).detach()
        return ids, moved, x, b

    def _scores(self, examples, *, baseline: bool) -> list[np.ndarray]:
        """Each example's outputs (per target row) at the input, or at the baseline: one pass per sequence."""
        import torch

        out = [np.zeros(ex.rows) for ex in examples]
        rows = [(e, s, len(ex.sequences[s])) for e, ex in enumerate(examples) for s in range(len(ex.sequences))
                if len(ex.sequences[s]) > ex.prompt_end]

        def work(batch):
            ids, _, x, b = self._tensors(examples, batch)
            width = max(len(examples[e].sequences[s]) - examples[e].prompt_end for e, s, _ in batch)
            positions = torch.zeros((len(batch), width), dtype=torch.long)
            for r, (e, s, length) in enumerate(batch):
                span = torch.arange(examples[e].prompt_end - 1, length - 1)
                positions[r, :len(span)] = span
            with torch.no_grad():
                logp = self._forward(ids, b if baseline else x, positions)
            for r, (e, s, length) in enumerate(batch):
                ex = examples[e]
                targets = torch.tensor(ex.sequences[s][ex.prompt_end:], device=logp.device)
                picked = logp[r, torch.arange(len(targets)), targets].double().cpu().numpy() * ex.signs[s]
                if ex.rows == 1 and len(ex.sequences) > 1:
                    out[e][0] += picked.sum()
                else:
                    out[e] += picked

        self._run_batches(rows, lambda r: r[2], work)
        return out

    def _attribute(self, examples):
        raise NotImplementedError


class _GradientMethod(_GenerationMethod):
    """Gradients of each target's output with respect to the token embeddings, one row per (target, step)."""

    def _gradient_pass(self, examples, rows, consume) -> None:
        """rows: (example, sequence, length, output row, alpha, weight). ``consume(batch, gradient, x, b, moved)``."""
        import torch

        def work(batch):
            ids, moved, x, b = self._tensors(examples, batch)
            alpha = torch.tensor([r[4] for r in batch], dtype=x.dtype, device=x.device)[:, None, None]
            path = (b + alpha * (x - b)).requires_grad_(True)
            positions = torch.tensor([[r[2] - 1] for r in batch])
            logp = self._forward(ids, path, positions)[:, 0]
            targets = torch.tensor([examples[e].sequences[s][length] for e, s, length, *_ in batch], device=x.device)
            signs = torch.tensor([examples[e].signs[s] for e, s, *_ in batch], dtype=logp.dtype, device=x.device)
            picked = logp[torch.arange(len(batch), device=x.device), targets] * signs
            (gradient,) = torch.autograd.grad(picked.sum(), path)
            consume(batch, gradient.float(), x.float(), b.float(), moved)

        self._run_batches(rows, lambda r: r[2], work)


class GenerationLayerIntegratedGradients(_GradientMethod):
    """Integrated gradients in the token-embedding space, per generated token (or contrastive target).

    ``n_steps``: an integer (Gauss-Legendre, captum's rule: equal to captum's values at equal settings) or
    ``"auto"`` (20 two-panel steps, then more for the targets whose completeness error exceeds ``tolerance``, in
    nats). ``sources``, ``baseline`` and ``batch_tokens`` as for every generation method."""

    name = "generation_layer_integrated_gradients"
    additive = True

    def __init__(self, *, n_steps: int | str = "auto", tolerance: float = 0.01, sources: str = "all",
                 baseline: str | int = "auto", batch_tokens: int | None = None) -> None:
        super().__init__(sources=sources, baseline=baseline, batch_tokens=batch_tokens)
        if n_steps != "auto" and (isinstance(n_steps, bool) or not isinstance(n_steps, int) or n_steps < 1):
            raise DataError(f"The 'n_steps' parameter must be a positive integer or 'auto'. Got {n_steps!r} instead.")
        if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or not tolerance > 0:
            raise DataError(f"The 'tolerance' parameter must be a positive number. Got {tolerance!r} instead.")
        self.n_steps, self.tolerance = n_steps, float(tolerance)

    def _settings(self) -> dict[str, Any]:
        return {**super()._settings(), "n_steps": self.n_steps, "tolerance": self.tolerance,
                "rule": "gausslegendre-2panel" if self.n_steps == "auto" else "gausslegendre"}

    def _attribute(self, examples):
        self._budget = self._token_budget(self._lm)
        outputs, bases = self._scores(examples, baseline=False), self._scores(examples, baseline=True)
        values = [np.zeros((ex.rows, len(ex.sequences[0]))) for ex in examples]
        steps = [np.zeros(ex.rows, dtype=int) for ex in examples]
        deltas = [np.zeros(ex.rows) for ex in examples]
        plan = {int(FIRST_STEPS if self.n_steps == "auto" else self.n_steps):
                [(e, i) for e, ex in enumerate(examples) for i in range(ex.rows)]}
        while plan:
            n_steps = min(plan)
            targets = set(plan.pop(n_steps))
            nodes, weights = (_two_panel_gauss_legendre(n_steps) if self.n_steps == "auto"
                              else _gauss_legendre(n_steps))
            for e, i in targets:
                values[e][i] = 0.0
            rows = [(e, s, t, out, float(a), float(w)) for e, ex in enumerate(examples)
                    for s, t, out in ex.terms() if (e, out) in targets for a, w in zip(nodes, weights)]

            def consume(batch, gradient, x, b, moved):
                contribution = ((gradient * (x - b)).sum(-1) * moved).double().cpu().numpy()
                for r, (e, s, length, out, _, w) in enumerate(batch):
                    span = length if s == 0 else min(length, examples[e].prompt_end)  # B: the shared prompt only
                    values[e][out, :span] += w * contribution[r, :span]

            self._gradient_pass(examples, rows, consume)
            for e, i in sorted(targets):
                steps[e][i] = n_steps
                deltas[e][i] = abs(values[e][i].sum() - (outputs[e][i] - bases[e][i]))
                if self.n_steps == "auto" and deltas[e][i] > self.tolerance and n_steps < MAX_STEPS:
                    plan.setdefault(_next_steps(n_steps, deltas[e][i], self.tolerance), []).append((e, i))
        return values, outputs, bases, deltas, steps


class GenerationInputXGradient(_GradientMethod):
    """The gradient of each target's output times the token's embedding, summed over the embedding (captum's
    LayerGradientXActivation on the embedding layer). Not additive: no completeness error."""

    name = "generation_input_x_gradient"

    def _attribute(self, examples):
        return self._single_pass(examples, lambda gradient, x, b: (gradient * x).sum(-1))

    def _single_pass(self, examples, reduce):
        self._budget = self._token_budget(self._lm)
        outputs = self._scores(examples, baseline=False)
        width = [len(ex.sequences[0]) for ex in examples]
        vectors = {}

        def consume(batch, gradient, x, b, moved):
            for r, (e, s, length, out, _, _) in enumerate(batch):
                span = length if s == 0 else min(length, examples[e].prompt_end)
                key = (e, out)
                if key not in vectors:
                    vectors[key] = [np.zeros((width[e], gradient.shape[-1])), x[r, :span].double().cpu().numpy()]
                vectors[key][0][:span] += gradient[r, :span].double().cpu().numpy()
                if s == 0:
                    vectors[key][1] = x[r, :span].double().cpu().numpy()

        rows = [(e, s, t, out, 1.0, 1.0) for e, ex in enumerate(examples) for s, t, out in ex.terms()]
        self._gradient_pass(examples, rows, consume)
        values = []
        for e, ex in enumerate(examples):
            matrix = np.zeros((ex.rows, width[e]))
            for i in range(ex.rows):
                if (e, i) in vectors:
                    gradient, x = vectors[(e, i)]
                    matrix[i, :len(x)] = reduce(gradient[:len(x)], x, None)
            values.append(matrix)
        return values, outputs, [np.full(ex.rows, np.nan) for ex in examples], [None] * len(examples), \
            [None] * len(examples)


class GenerationSaliency(GenerationInputXGradient):
    """The Euclidean norm of the gradient of each target's output with respect to each token's embedding
    (unsigned: how sensitive the output is to the token, not which way it pushes). Not additive."""

    name = "generation_saliency"

    def _attribute(self, examples):
        return self._single_pass(examples, lambda gradient, x, b: np.linalg.norm(gradient, axis=-1))


class GenerationFeatureAblation(_GenerationMethod):
    """Occlusion over words: each word's tokens replaced by the baseline token (all at once), and the change of
    every target's output read from one forward pass: output - output without the word. A word's value is
    shared equally by its tokens. Not additive: no completeness error."""

    name = "generation_feature_ablation"

    def _attribute(self, examples):
        import torch

        if self.baseline == "zeros":
            raise DataError("Feature ablation replaces words by a token: pass baseline='auto' or a token id.")
        self._budget = self._token_budget(self._lm)
        outputs = self._scores(examples, baseline=False)
        values = [np.full((ex.rows, len(ex.sequences[0])), np.nan) for ex in examples]
        words = [_word_spans(self._lm, ex) for ex in examples]
        rows = [(e, s, len(ex.sequences[s]), w) for e, ex in enumerate(examples) for w in range(len(words[e]))
                for s in range(len(ex.sequences)) if s == 0 or words[e][w][-1] < ex.prompt_end]
        scores: dict[tuple[int, int], np.ndarray] = {}

        def work(batch):
            lm = self._lm
            longest = max(r[2] for r in batch)
            ids = torch.full((len(batch), longest), lm.pad_id, dtype=torch.long)
            width = max(r[2] - examples[r[0]].prompt_end for r in batch)
            positions = torch.zeros((len(batch), width), dtype=torch.long)
            for r, (e, s, length, w) in enumerate(batch):
                row = list(examples[e].sequences[s])
                for p in words[e][w]:
                    row[p] = self._baseline_id
                ids[r, :length] = torch.tensor(row)
                span = torch.arange(examples[e].prompt_end - 1, length - 1)
                positions[r, :len(span)] = span
            ids = ids.to(lm.device)
            self._lengths = torch.tensor([r[2] for r in batch], device=lm.device)
            with torch.no_grad():
                x = self._embedding(ids)
                logp = self._forward(ids, x, positions)
            for r, (e, s, length, w) in enumerate(batch):
                ex = examples[e]
                targets = torch.tensor(ex.sequences[s][ex.prompt_end:], device=logp.device)
                picked = logp[r, torch.arange(len(targets)), targets].double().cpu().numpy() * ex.signs[s]
                key = (e, w)
                total = picked.sum(keepdims=True) if ex.rows == 1 and len(ex.sequences) > 1 else picked
                scores[key] = scores.get(key, 0.0) + total

        self._run_batches(rows, lambda r: r[2], work)
        for e, ex in enumerate(examples):
            for w, span in enumerate(words[e]):
                change = outputs[e] - scores[(e, w)]
                seen = np.arange(ex.rows) + ex.prompt_end > span[-1] if ex.rows > 1 or len(ex.sequences) == 1 \
                    else np.ones(1, dtype=bool)
                for p in span:
                    values[e][seen, p] = change[seen] / len(span)
        return values, outputs, [np.full(ex.rows, np.nan) for ex in examples], [None] * len(examples), \
            [None] * len(examples)


# ----- helpers -------------------------------------------------------------------------------------------------
def _token_lists(values: Any, count: int) -> bool:
    """Whether continuations are given as token ids (one non-empty list of ints per prompt)."""
    if isinstance(values, str) or not all(isinstance(v, (list, tuple)) for v in values):
        return False
    if len(values) != count or any(not v or not all(isinstance(t, int) and not isinstance(t, bool) and t >= 0
                                                    for t in v) for v in values):
        raise DataError(f"Continuations given as token ids must be one non-empty list of token ids per prompt "
                        f"({count}).")
    return True


def _texts(values: Any, name: str, count: int | None = None) -> list[str]:
    if isinstance(values, str):
        values = [values]
    values = list(values)
    if not values or any(not isinstance(v, str) or not v for v in values):
        raise DataError(f"The '{name}' parameter must be a non-empty list of non-empty strings.")
    if count is not None and len(values) != count:
        raise DataError(f"The '{name}' parameter must have one text per prompt ({count}). Got {len(values)}.")
    return values


def _embedding_module(lm: CausalLM):
    get = getattr(lm.model, "get_input_embeddings", None)
    module = get() if callable(get) else None
    if module is None:
        raise ModelError("The model has no get_input_embeddings(): gradient attributions need its token-embedding "
                         "layer (a transformers model has one).")
    return module


def _head_module(lm: CausalLM):
    get = getattr(lm.model, "get_output_embeddings", None)
    return get() if callable(get) else None


def _pieces(lm: CausalLM, ids: list[int]) -> list[str]:
    """Each token's text as it appears in the decoded sequence (incremental decoding: byte-level BPE pieces that
    are not whole characters alone come out right)."""
    pieces, previous = [], ""
    for k in range(len(ids)):
        text = lm.tokenizer.decode(ids[:k + 1], skip_special_tokens=False, clean_up_tokenization_spaces=False)
        pieces.append(text[len(previous):] if text.startswith(previous) else lm.tokenizer.decode([ids[k]]))
        previous = text
    return pieces


def _word_starts(pieces: list[str]) -> list[bool]:
    """A token starts a word after a space, at a space, or at a boundary between letters and punctuation."""
    starts = []
    for k, piece in enumerate(pieces):
        before = pieces[k - 1] if k else ""
        starts.append(k == 0 or piece[:1].isspace() or before[-1:].isspace() or not before
                      or (piece[:1].isalnum() != before[-1:].isalnum()))
    return starts


def _word_spans(lm: CausalLM, ex: _Example) -> list[list[int]]:
    """The attributed positions of the continuation's sequence, grouped into words."""
    positions = [int(p) for p in ex.attributed]
    if not positions:
        return []
    starts = _word_starts(_pieces(lm, [ex.sequences[0][p] for p in positions]))
    spans: list[list[int]] = []
    for p, start in zip(positions, starts):
        if start or not spans or p != spans[-1][-1] + 1 or (p == ex.prompt_end):
            spans.append([p])
        else:
            spans[-1].append(p)
    return spans


def _example_result(lm, ex: _Example, values, outputs, bases, deltas, steps, prompt, contrast) -> GeneratedExample:
    """Columns: every non-special token of the continuation's sequence; NaN where not attributed or not seen."""
    row = ex.sequences[0]
    special = set(getattr(lm.tokenizer, "all_special_ids", []) or [])
    columns = [p for p in range(len(row)) if row[p] not in special or p >= ex.prompt_end]
    pieces = _pieces(lm, [row[p] for p in columns])
    starts = _word_starts(pieces)
    words, word_of = [], []
    for k, (piece, start) in enumerate(zip(pieces, starts)):
        if start or columns[k] == ex.prompt_end:
            words.append("")
        words[-1] += piece
        word_of.append(len(words) - 1)
    matrix = np.full((ex.rows, len(columns)), np.nan)
    attributed = set(int(p) for p in ex.attributed)
    for i in range(ex.rows):
        limit = ex.prompt_end + i if len(ex.sequences) == 1 else ex.prompt_end
        for j, p in enumerate(columns):
            if p in attributed and p < limit:
                matrix[i, j] = values[i, p]
    continuation_ids = row[ex.prompt_end:]
    continuation = lm.tokenizer.decode(continuation_ids, skip_special_tokens=True)
    tokens = [piece.strip() or piece for piece in pieces]
    if contrast is not None:
        labels = [f"{continuation.strip()} rather than {contrast.strip()}"]
    else:
        labels = tokens[len(columns) - len(continuation_ids):]
    return GeneratedExample(
        prompt=prompt, continuation=continuation, source_tokens=tokens,
        prompt_length=sum(1 for p in columns if p < ex.prompt_end), target_labels=labels, values=matrix,
        outputs=np.asarray(outputs, float), base_values=np.asarray(bases, float),
        delta=None if deltas is None else np.asarray(deltas, float), words=[w.strip() or w for w in words],
        word_of_token=word_of, target_ids=[int(t) for t in continuation_ids], contrast=contrast, steps=None if steps is None else [int(s) for s in steps])


def attribute_generation(lm: CausalLM, prompts: Any, *, method: str = "layer_integrated_gradients",
                         continuations: Any = None, contrasts: Any = None, max_new_tokens: int = 16,
                         seed: int | None = None, settings: dict[str, Any] | None = None) -> GenerationAttribution:
    """Attribute generated text with a method of the registry (``"layer_integrated_gradients"``,
    ``"input_x_gradient"``, ``"saliency"``, ``"feature_ablation"``; the ``generation_`` prefix is optional);
    ``settings`` go to the method and unknown ones are refused."""
    from explainers import get_explainer

    name = method if method.startswith("generation_") else f"generation_{method}"
    explainer = get_explainer(name, **(settings or {}))
    if getattr(explainer, "granularity", None) != "generation":
        raise DataError(f"The {method!r} explainer does not attribute generated text.")
    return explainer.explain_generation(lm, prompts, continuations=continuations, contrasts=contrasts,
                                        max_new_tokens=max_new_tokens, seed=seed)
