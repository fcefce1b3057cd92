"""The batched passes behind the generation methods: examples as token sequences, one ``Pass`` per call.

A ``Pass`` holds what one call needs (the model, its embedding and output layers, the baseline token, the token
budget) so that the methods keep no state between calls. Rows are (example, sequence, length, ...): the sequence
cut after ``length`` tokens, whose last position's logits predict the token at ``length``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from explainers._causal_lm import CausalLM
from explainers._errors import ModelError, ResourceError

__all__ = ["Example", "Pass"]

_CPU_BATCH_TOKENS = 4096  # tokens per forward + backward on CPU: larger batches gain nothing there


@dataclass
class Example:
    """One prompt's continuation (A) and, for a contrast, the alternative (B), as token ids."""

    sequences: list[list[int]]
    signs: list[float]  # +1 for A, -1 for B: a contrast is log p(A) - log p(B)
    prompt_end: int  # where the continuations start (the same in A and B)
    attributed: np.ndarray  # positions of A whose embedding is interpolated / occluded
    rows: int  # targets: the continuation's tokens, or 1 for a contrast

    @property
    def contrastive(self) -> bool:
        return len(self.sequences) > 1

    def terms(self) -> list[tuple[int, int, int]]:
        """(sequence, position of the target token, output row)."""
        return [
            (s, t, 0 if self.contrastive else t - self.prompt_end)
            for s, ids in enumerate(self.sequences)
            for t in range(self.prompt_end, len(ids))
        ]

    def span(self, sequence: int, length: int) -> int:
        """How many leading positions of a row count: all of A's; of B only the prompt it shares with A."""
        return length if sequence == 0 else min(length, self.prompt_end)

    def mask(self, sequence: int, length: int) -> np.ndarray:
        """Positions below ``length`` whose embedding moves."""
        out = np.zeros(length, dtype=bool)
        out[self.attributed[self.attributed < self.span(sequence, length)]] = True
        return out


class Pass:
    """One call's model, layers, baseline and token budget, and the batched passes over its examples."""

    def __init__(
        self, lm: CausalLM, examples: list[Example], *, baseline_id: int | None, batch_tokens: int | None
    ) -> None:
        get = getattr(lm.model, "get_input_embeddings", None)
        self.embedding = get() if callable(get) else None
        if self.embedding is None:
            raise ModelError(
                "The model has no get_input_embeddings(): gradient attributions need its token-embedding "
                "layer (a transformers model has one)."
            )
        get = getattr(lm.model, "get_output_embeddings", None)
        self.head = get() if callable(get) else None
        self.lm, self.examples, self.baseline_id = lm, examples, baseline_id
        self.budget = batch_tokens or self._free_memory_budget()

    def _free_memory_budget(self) -> int:
        lm = self.lm
        if lm.device.type != "cuda":
            return _CPU_BATCH_TOKENS
        import torch

        free, _ = torch.cuda.mem_get_info(lm.device)
        config = getattr(lm.model, "config", None)
        hidden = int(getattr(config, "hidden_size", 768) or 768)
        layers = int(getattr(config, "num_hidden_layers", 12) or 12)
        # activations kept for the backward pass, about 34 hidden-sized float32 tensors per layer and token, and
        # one row's logits (three float32 copies) shared by rows of at least 8 tokens; halving covers the rest
        per_token = hidden * layers * 34 * 4 + lm.vocab_size * 12 // 8
        return int(max(256, min(1 << 20, free * 0.4 // per_token)))

    def run_batches(self, rows: list, work: Callable[[list], None]) -> None:
        """``work(batch)`` on rows grouped by length (``row[2]``) under the token budget; halved on out-of-memory
        (down to one row, then an error)."""
        import torch

        order = sorted(range(len(rows)), key=lambda r: -rows[r][2])
        start = 0
        while start < len(order):
            longest = rows[order[start]][2]
            count = max(1, self.budget // longest)
            batch = [rows[r] for r in order[start : start + count]]
            try:
                work(batch)
            except (torch.OutOfMemoryError, RuntimeError) as err:
                if "out of memory" not in str(err).lower():
                    raise
                if count == 1:
                    raise ResourceError(
                        f"Out of memory on a single row of {longest} tokens; free memory or use a smaller model."
                    ) from err
                self.budget = max(longest, self.budget // 2)
                if self.lm.device.type == "cuda":
                    torch.cuda.empty_cache()
                continue
            start += len(batch)

    def tensors(self, rows: list) -> tuple[Any, Any, Any, Any]:
        """Right-padded ids, which positions move, their embeddings and the baseline's."""
        import torch

        lm = self.lm
        ids = torch.full((len(rows), max(r[2] for r in rows)), lm.pad_id, dtype=torch.long)
        moved = torch.zeros(ids.shape, dtype=torch.bool)
        for b, (e, s, length, *_) in enumerate(rows):
            ids[b, :length] = torch.tensor(self.examples[e].sequences[s][:length])
            moved[b, :length] = torch.from_numpy(self.examples[e].mask(s, length))
        ids, moved = ids.to(lm.device), moved.to(lm.device)
        with torch.no_grad():
            x = self.embedding(ids).detach()
            if self.baseline_id is None:
                b = x * (~moved)[..., None]
            else:
                b = self.embedding(ids.masked_fill(moved, self.baseline_id)).detach()
        return ids, moved, x, b

    def log_softmax(self, ids, lengths: list[int], embeds, positions):
        """log-softmax over the vocabulary at ``positions`` (rows x k) of the model run with ``embeds`` in place of
        the token embeddings; the output embeddings see only those positions."""
        import torch

        mask = (
            torch.arange(ids.shape[1], device=ids.device)[None] < torch.tensor(lengths, device=ids.device)[:, None]
        ).long()
        gather = positions.to(ids.device)

        def take(hidden):
            return hidden.gather(1, gather[..., None].expand(-1, -1, hidden.shape[-1]))

        hooks = [self.embedding.register_forward_hook(lambda module, args, output: embeds)]
        if self.head is not None:
            hooks.append(self.head.register_forward_pre_hook(lambda module, args: (take(args[0]), *args[1:])))
        try:
            logits = self.lm.logits(ids, mask, autocast=False)
        finally:
            for hook in hooks:
                hook.remove()
        if logits.shape[1] != gather.shape[1]:  # the model did not call its output embeddings: read them ourselves
            logits = logits.gather(1, gather[..., None].expand(-1, -1, logits.shape[-1]))
        return torch.log_softmax(logits.float(), -1)

    def read_targets(self, logp, batch: list, out: dict) -> None:
        """Add each row's signed target log-probabilities (``logp``: rows x continuation positions) to
        ``out[key]`` (per output row of its example), ``key`` the row's fourth field or its example."""
        import torch

        for r, (e, s, _, *rest) in enumerate(batch):
            ex = self.examples[e]
            targets = torch.tensor(ex.sequences[s][ex.prompt_end :], device=logp.device)
            picked = logp[r, torch.arange(len(targets), device=logp.device), targets].double().cpu().numpy()
            picked = picked * ex.signs[s]
            key = (e, rest[0]) if rest else e
            out[key] = out.get(key, 0.0) + (picked.sum(keepdims=True) if ex.contrastive else picked)

    def continuation_positions(self, batch: list):
        """For each row, the positions whose logits predict its continuation's tokens (padded with 0)."""
        import torch

        width = max(r[2] - self.examples[r[0]].prompt_end for r in batch)
        positions = torch.zeros((len(batch), width), dtype=torch.long)
        for r, (e, _, length, *_) in enumerate(batch):
            span = torch.arange(self.examples[e].prompt_end - 1, length - 1)
            positions[r, : len(span)] = span
        return positions

    def scores(self, *, baseline: bool) -> list[np.ndarray]:
        """Each example's outputs (per target row) at the input or at the baseline: one pass per sequence, since
        every target of a causal model's sequence reads a prefix of it."""
        import torch

        rows = [
            (e, s, len(ids))
            for e, ex in enumerate(self.examples)
            for s, ids in enumerate(ex.sequences)
            if len(ids) > ex.prompt_end
        ]
        found: dict = {}

        def work(batch):
            ids, _, x, b = self.tensors(batch)
            with torch.no_grad():
                logp = self.log_softmax(
                    ids, [r[2] for r in batch], b if baseline else x, self.continuation_positions(batch)
                )
            self.read_targets(logp, batch, found)

        self.run_batches(rows, work)
        return [np.asarray(found.get(e, np.zeros(ex.rows)), float) for e, ex in enumerate(self.examples)]

    def gradients(self, rows: list, consume: Callable) -> None:
        """rows: (example, sequence, length, output row, alpha, weight). The embeddings are moved ``alpha`` of the
        way from the baseline; ``consume(batch, gradient, x, b, moved)`` gets the gradient of each row's signed
        target log-probability with respect to them (float32)."""
        import torch

        def work(batch):
            ids, moved, x, b = self.tensors(batch)
            alpha = torch.tensor([r[4] for r in batch], dtype=x.dtype, device=x.device)[:, None, None]
            path = (b + alpha * (x - b)).requires_grad_(True)
            positions = torch.tensor([[r[2] - 1] for r in batch])
            logp = self.log_softmax(ids, [r[2] for r in batch], path, positions)[:, 0]
            targets = torch.tensor(
                [self.examples[e].sequences[s][length] for e, s, length, *_ in batch], device=x.device
            )
            signs = torch.tensor([self.examples[e].signs[s] for e, s, *_ in batch], dtype=logp.dtype, device=x.device)
            picked = logp[torch.arange(len(batch), device=x.device), targets] * signs
            (gradient,) = torch.autograd.grad(picked.sum(), path)
            consume(batch, gradient.float(), x.float(), b.float(), moved)

        self.run_batches(rows, work)
