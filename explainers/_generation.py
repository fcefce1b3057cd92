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

import abc
import time
from typing import Any

import numpy as np

from explainers._causal_lm import CausalLM
from explainers._errors import DataError, ModelError
from explainers._generation_passes import Example, Pass
from explainers._generation_types import GeneratedExample, GenerationAttribution
from explainers._text_ig import FIRST_STEPS, MAX_STEPS, _gauss_legendre, _next_steps, _two_panel_gauss_legendre

__all__ = [
    "GenerationLayerIntegratedGradients",
    "GenerationInputXGradient",
    "GenerationSaliency",
    "GenerationFeatureAblation",
    "attribute_generation",
]


class _GenerationMethod(abc.ABC):
    """Shared by the methods: settings, the examples as token sequences, the result. Keeps no state between
    calls: each call's model, layers and budget live in its ``Pass``."""

    name = "generation"
    granularity = "generation"

    def __init__(self, *, sources: str = "all", baseline: str | int = "auto", batch_tokens: int | None = None) -> None:
        if sources not in ("all", "prompt"):
            raise DataError(f"The 'sources' parameter must be 'all' or 'prompt'. Got {sources!r} instead.")
        if not (
            baseline in ("auto", "zeros")
            or (isinstance(baseline, int) and not isinstance(baseline, bool) and baseline >= 0)
        ):
            raise DataError(
                "The 'baseline' parameter must be 'auto' (the pad token, else end-of-sequence), 'zeros' "
                f"(a zero embedding) or a token id. Got {baseline!r} instead."
            )
        if batch_tokens is not None and (
            isinstance(batch_tokens, bool) or not isinstance(batch_tokens, int) or batch_tokens < 1
        ):
            raise DataError(f"The 'batch_tokens' parameter must be a positive integer. Got {batch_tokens!r} instead.")
        self.sources, self.baseline, self.batch_tokens = sources, baseline, batch_tokens

    def explain_generation(
        self,
        lm: CausalLM,
        prompts: Any,
        *,
        continuations: Any = None,
        contrasts: Any = None,
        max_new_tokens: int = 16,
        seed: int | None = None,
    ) -> GenerationAttribution:
        """Attribute each prompt's continuation: given (``continuations``: texts, or lists of token ids as the model
        generated them), or generated, greedily when ``seed`` is None, else sampled with that seed
        (``max_new_tokens`` at most). ``contrasts``: one alternative continuation per prompt; each example then has
        one target, log p(continuation) - log p(contrast), and only the prompt they share is attributed."""
        if not isinstance(lm, CausalLM):
            raise ModelError(
                f"Generation attributions need a CausalLM. Got {type(lm).__name__}; wrap the model: "
                "CausalLM(model, tokenizer)."
            )
        started = time.perf_counter()
        prompts = _texts(prompts, "prompts")
        if contrasts is not None:
            if continuations is None:
                raise DataError(
                    "A contrastive target needs both continuations: pass continuations= (A) with "
                    "contrasts= (B) to ask why A rather than B."
                )
            contrasts = _texts(contrasts, "contrasts", len(prompts))
        sources = "prompt" if contrasts is not None else self.sources
        baseline_id = self._baseline_id(lm)
        examples, generated = _examples(lm, prompts, continuations, contrasts, sources, max_new_tokens, seed)
        run = Pass(lm, examples, baseline_id=baseline_id, batch_tokens=self.batch_tokens)
        values, outputs, bases, deltas, steps = self._attribute(run)
        result = [
            _example_result(
                lm,
                ex,
                values[k],
                outputs[k],
                bases[k],
                deltas[k],
                steps[k],
                prompts[k],
                None if contrasts is None else contrasts[k],
            )
            for k, ex in enumerate(examples)
        ]
        meta = {
            "method": self.name,
            "sources": sources,
            "baseline": _baseline_note(lm, baseline_id),
            "continuation": generated,
            "device": str(lm.device),
            "runtime_s": time.perf_counter() - started,
            "batch_tokens": run.budget,
            "settings": self._settings(),
        }
        space = "log-probability difference" if contrasts is not None else "log-probability"
        return GenerationAttribution(method=self.name, output_space=space, sources=sources, examples=result, meta=meta)

    def _settings(self) -> dict[str, Any]:
        return {"sources": self.sources, "baseline": self.baseline, "batch_tokens": self.batch_tokens}

    def _baseline_id(self, lm: CausalLM) -> int | None:
        if self.baseline == "zeros":
            return None
        if self.baseline == "auto":
            tokenizer = lm.tokenizer
            for token in (tokenizer.pad_token_id, tokenizer.eos_token_id, tokenizer.unk_token_id):
                if token is not None:
                    return int(token)
            raise ModelError(
                "The tokenizer has no pad, end-of-sequence or unknown token to use as the baseline; pass "
                "baseline= a token id, or 'zeros'."
            )
        if self.baseline >= lm.vocab_size:
            raise DataError(f"The baseline token id {self.baseline} is out of the vocabulary of {lm.vocab_size}.")
        return int(self.baseline)

    @abc.abstractmethod
    def _attribute(self, run: Pass):
        """(values, outputs, base values, deltas, steps) per example; values are (targets, positions of A)."""


class GenerationLayerIntegratedGradients(_GenerationMethod):
    """Integrated gradients in the token-embedding space, per generated token (or contrastive target).

    ``n_steps``: an integer (Gauss-Legendre, captum's rule: equal to captum's values at equal settings) or
    ``"auto"`` (20 two-panel steps, then more for the targets whose completeness error exceeds ``tolerance``, in
    nats). ``sources``, ``baseline`` and ``batch_tokens`` as for every generation method."""

    name = "generation_layer_integrated_gradients"

    def __init__(
        self,
        *,
        n_steps: int | str = "auto",
        tolerance: float = 0.01,
        sources: str = "all",
        baseline: str | int = "auto",
        batch_tokens: int | None = None,
    ) -> None:
        super().__init__(sources=sources, baseline=baseline, batch_tokens=batch_tokens)
        if n_steps != "auto" and (isinstance(n_steps, bool) or not isinstance(n_steps, int) or n_steps < 1):
            raise DataError(f"The 'n_steps' parameter must be a positive integer or 'auto'. Got {n_steps!r} instead.")
        if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or not tolerance > 0:
            raise DataError(f"The 'tolerance' parameter must be a positive number. Got {tolerance!r} instead.")
        self.n_steps, self.tolerance = n_steps, float(tolerance)

    def _settings(self) -> dict[str, Any]:
        return {
            **super()._settings(),
            "n_steps": self.n_steps,
            "tolerance": self.tolerance,
            "rule": "gausslegendre-2panel" if self.n_steps == "auto" else "gausslegendre",
        }

    def _attribute(self, run: Pass):
        examples = run.examples
        outputs, bases = run.scores(baseline=False), run.scores(baseline=True)
        values = [np.zeros((ex.rows, len(ex.sequences[0]))) for ex in examples]
        steps = [np.zeros(ex.rows, dtype=int) for ex in examples]
        deltas = [np.zeros(ex.rows) for ex in examples]
        plan = {
            int(FIRST_STEPS if self.n_steps == "auto" else self.n_steps): [
                (e, i) for e, ex in enumerate(examples) for i in range(ex.rows)
            ]
        }
        while plan:
            n_steps = min(plan)
            targets = set(plan.pop(n_steps))
            nodes, weights = _two_panel_gauss_legendre(n_steps) if self.n_steps == "auto" else _gauss_legendre(n_steps)
            for e, i in targets:
                values[e][i] = 0.0
            rows = [
                (e, s, t, out, float(a), float(w))
                for e, ex in enumerate(examples)
                for s, t, out in ex.terms()
                if (e, out) in targets
                for a, w in zip(nodes, weights)
            ]

            def consume(batch, gradient, x, b, moved):
                contribution = ((gradient * (x - b)).sum(-1) * moved).double().cpu().numpy()
                for r, (e, s, length, out, _, w) in enumerate(batch):
                    span = examples[e].span(s, length)
                    values[e][out, :span] += w * contribution[r, :span]

            run.gradients(rows, consume)
            for e, i in sorted(targets):
                steps[e][i] = n_steps
                deltas[e][i] = abs(values[e][i].sum() - (outputs[e][i] - bases[e][i]))
                if self.n_steps == "auto" and deltas[e][i] > self.tolerance and n_steps < MAX_STEPS:
                    plan.setdefault(_next_steps(n_steps, deltas[e][i], self.tolerance), []).append((e, i))
        return values, outputs, bases, deltas, steps


class GenerationInputXGradient(_GenerationMethod):
    """The gradient of each target's output times the token's embedding, summed over the embedding (captum's
    LayerGradientXActivation on the embedding layer). Not additive: no completeness error."""

    name = "generation_input_x_gradient"

    def _attribute(self, run: Pass):
        examples = run.examples
        values = [np.zeros((ex.rows, len(ex.sequences[0]))) for ex in examples]

        def consume(batch, gradient, x, b, moved):
            product = (gradient * x).sum(-1).double().cpu().numpy()  # linear: the terms of a contrast add up
            for r, (e, s, length, out, _, _) in enumerate(batch):
                span = examples[e].span(s, length)
                values[e][out, :span] += product[r, :span]

        run.gradients([(e, s, t, out, 1.0, 1.0) for e, ex in enumerate(examples) for s, t, out in ex.terms()], consume)
        return _not_additive(run, values)


class GenerationSaliency(_GenerationMethod):
    """The Euclidean norm of the gradient of each target's output with respect to each token's embedding
    (unsigned: how sensitive the output is to the token, not which way it pushes). Not additive."""

    name = "generation_saliency"

    def _attribute(self, run: Pass):
        examples = run.examples
        values = [np.zeros((ex.rows, len(ex.sequences[0]))) for ex in examples]
        contrast_gradients: dict[int, np.ndarray] = {}  # a contrast's gradient over its prompt, summed over terms

        def consume(batch, gradient, x, b, moved):
            norms = gradient.norm(dim=-1).double().cpu().numpy()
            for r, (e, s, length, out, _, _) in enumerate(batch):
                ex = examples[e]
                if not ex.contrastive:
                    values[e][out, :length] = norms[r, :length]
                    continue
                part = gradient[r, : ex.prompt_end].double().cpu().numpy()
                contrast_gradients[e] = contrast_gradients.get(e, 0.0) + part

        run.gradients([(e, s, t, out, 1.0, 1.0) for e, ex in enumerate(examples) for s, t, out in ex.terms()], consume)
        for e, summed in contrast_gradients.items():
            values[e][0, : examples[e].prompt_end] = np.linalg.norm(summed, axis=-1)
        return _not_additive(run, values)


class GenerationFeatureAblation(_GenerationMethod):
    """Occlusion over words: each word's tokens replaced by the baseline token (all at once), and the change of
    every target's output read from one forward pass: output - output without the word. A word's value is
    shared equally by its tokens; a word the target reads only in part is left blank. Not additive."""

    name = "generation_feature_ablation"

    def _attribute(self, run: Pass):
        import torch

        if run.baseline_id is None:
            raise DataError("Feature ablation replaces words by a token: pass baseline='auto' or a token id.")
        examples = run.examples
        outputs = run.scores(baseline=False)
        words = [_word_spans(run.lm, ex) for ex in examples]
        rows = [
            (e, s, len(ex.sequences[s]), w)
            for e, ex in enumerate(examples)
            for w in range(len(words[e]))
            for s in range(len(ex.sequences))
            if len(ex.sequences[s]) > ex.prompt_end
        ]
        occluded: dict = {}

        def work(batch):
            lm = run.lm
            ids = torch.full((len(batch), max(r[2] for r in batch)), lm.pad_id, dtype=torch.long)
            for r, (e, s, length, w) in enumerate(batch):
                row = list(examples[e].sequences[s])
                for p in words[e][w]:
                    row[p] = run.baseline_id
                ids[r, :length] = torch.tensor(row)
            ids = ids.to(lm.device)
            with torch.no_grad():
                logp = run.log_softmax(
                    ids, [r[2] for r in batch], run.embedding(ids), run.continuation_positions(batch)
                )
            run.read_targets(logp, batch, occluded)

        run.run_batches(rows, work)
        values = [np.full((ex.rows, len(ex.sequences[0])), np.nan) for ex in examples]
        for e, ex in enumerate(examples):
            for w, span in enumerate(words[e]):
                change = outputs[e] - occluded[(e, w)]
                seen = (
                    np.ones(1, dtype=bool) if ex.contrastive else np.arange(ex.rows) + ex.prompt_end > span[-1]
                )  # target i reads positions < end + i
                for p in span:
                    values[e][seen, p] = change[seen] / len(span)
        return _not_additive(run, values, outputs)


# ----- helpers -------------------------------------------------------------------------------------------------
def _not_additive(run: Pass, values, outputs=None):
    outputs = run.scores(baseline=False) if outputs is None else outputs
    count = len(run.examples)
    return values, outputs, [np.full(ex.rows, np.nan) for ex in run.examples], [None] * count, [None] * count


def _baseline_note(lm: CausalLM, baseline_id: int | None) -> str:
    if baseline_id is None:
        return "a zero embedding in place of each attributed token"
    token = lm.tokenizer.convert_ids_to_tokens(baseline_id)
    return f"token id {baseline_id} ({token!r}) in place of each attributed token"


def _examples(
    lm: CausalLM,
    prompts: list[str],
    continuations: Any,
    contrasts: list[str] | None,
    sources: str,
    max_new_tokens: int,
    seed: int | None,
) -> tuple[list[Example], str]:
    """The token sequences of every prompt and its continuation (given, or generated now), and how the
    continuation was obtained."""
    if continuations is not None and _token_lists(continuations, len(prompts)):
        ids = lm.encode(prompts)
        starts = [len(row) for row in ids]
        ids = [row + [int(t) for t in tail] for row, tail in zip(ids, continuations)]
        generated = "given (token ids)"
    elif continuations is not None:
        ids, starts = lm.encode_pairs(prompts, _texts(continuations, "continuations", len(prompts)))
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
        if sources == "prompt":
            positions = positions[positions < start]
        sequences, signs = [row], [1.0]
        if other is not None:
            if other[k][:start] != row[:start]:
                raise DataError(
                    f"Prompt {k} splits differently before its continuation and its contrast; end the "
                    "prompt with a space or start both continuations with one."
                )
            sequences.append(other[k])
            signs.append(-1.0)
        examples.append(Example(sequences, signs, start, positions, 1 if other is not None else len(row) - start))
    return examples, generated


def _token_lists(values: Any, count: int) -> bool:
    """Whether continuations are given as token ids (one non-empty list of ints per prompt)."""
    if isinstance(values, str) or not all(isinstance(v, (list, tuple)) for v in values):
        return False
    if len(values) != count or any(
        not v or not all(isinstance(t, int) and not isinstance(t, bool) and t >= 0 for t in v) for v in values
    ):
        raise DataError(
            f"Continuations given as token ids must be one non-empty list of token ids per prompt ({count})."
        )
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


def _pieces(lm: CausalLM, ids: list[int]) -> list[str]:
    """Each token's text as it appears in the decoded sequence (incremental decoding: byte-level BPE pieces that
    are not whole characters alone come out right)."""
    pieces, previous = [], ""
    for k in range(len(ids)):
        text = lm.tokenizer.decode(ids[: k + 1], skip_special_tokens=False, clean_up_tokenization_spaces=False)
        pieces.append(text[len(previous) :] if text.startswith(previous) else lm.tokenizer.decode([ids[k]]))
        previous = text
    return pieces


def _word_starts(pieces: list[str]) -> list[bool]:
    """A token starts a word after a space, at a space, or at a boundary between letters and punctuation."""
    starts = []
    for k, piece in enumerate(pieces):
        before = pieces[k - 1] if k else ""
        starts.append(
            k == 0
            or piece[:1].isspace()
            or before[-1:].isspace()
            or not before
            or (piece[:1].isalnum() != before[-1:].isalnum())
        )
    return starts


def _word_spans(lm: CausalLM, ex: Example) -> list[list[int]]:
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


def _example_result(lm, ex: Example, values, outputs, bases, deltas, steps, prompt, contrast) -> GeneratedExample:
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
    continuation_ids = row[ex.prompt_end :]
    continuation = lm.tokenizer.decode(continuation_ids, skip_special_tokens=True)
    tokens = [piece.strip() or piece for piece in pieces]
    if contrast is not None:
        labels = [f"{continuation.strip()} rather than {contrast.strip()}"]
    else:
        labels = tokens[len(columns) - len(continuation_ids) :]
    return GeneratedExample(
        prompt=prompt,
        continuation=continuation,
        source_tokens=tokens,
        prompt_length=sum(1 for p in columns if p < ex.prompt_end),
        target_labels=labels,
        values=matrix,
        outputs=np.asarray(outputs, float),
        base_values=np.asarray(bases, float),
        delta=None if deltas is None else np.asarray(deltas, float),
        words=[w.strip() or w for w in words],
        word_of_token=word_of,
        target_ids=[int(t) for t in continuation_ids],
        contrast=contrast,
        steps=None if steps is None else [int(s) for s in steps],
    )


def attribute_generation(
    lm: CausalLM,
    prompts: Any,
    *,
    method: str = "layer_integrated_gradients",
    continuations: Any = None,
    contrasts: Any = None,
    max_new_tokens: int = 16,
    seed: int | None = None,
    settings: dict[str, Any] | None = None,
) -> GenerationAttribution:
    """Attribute generated text with a method of the registry (``"layer_integrated_gradients"``,
    ``"input_x_gradient"``, ``"saliency"``, ``"feature_ablation"``; the ``generation_`` prefix is optional);
    ``settings`` go to the method and unknown ones are refused."""
    from explainers import get_explainer

    name = method if method.startswith("generation_") else f"generation_{method}"
    explainer = get_explainer(name, **(settings or {}))
    if getattr(explainer, "granularity", None) != "generation":
        raise DataError(f"The {method!r} explainer does not attribute generated text.")
    return explainer.explain_generation(
        lm, prompts, continuations=continuations, contrasts=contrasts, max_new_tokens=max_new_tokens, seed=seed
    )
