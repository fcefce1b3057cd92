"""The result of attributing generated text: per prompt, a matrix of every generated token x every source token."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["GeneratedExample", "GenerationAttribution"]


@dataclass(frozen=True)
class GeneratedExample:
    """One prompt and its continuation, attributed.

    ``values[i, j]``: source token ``j``'s contribution to target ``i`` (``outputs[i]`` relative to
    ``base_values[i]``); NaN where source ``j`` comes after target ``i`` (the model had not seen it) or is not
    attributed (a generated token when only the prompt is). Targets are the generated tokens, or one row "A rather
    than B" for a contrastive target. ``delta[i]`` is the completeness error ``|sum_j values[i, j] - (outputs[i] -
    base_values[i])|`` of additive methods (None for the others).
    """

    prompt: str
    continuation: str
    source_tokens: list[str]  # the prompt's tokens, then the continuation's (special tokens left out)
    prompt_length: int  # how many of source_tokens belong to the prompt
    target_labels: list[str]  # one per row of values
    values: np.ndarray  # (targets, sources)
    outputs: np.ndarray  # (targets,)
    base_values: np.ndarray  # (targets,)
    delta: np.ndarray | None
    words: list[str]  # source tokens merged into words
    word_of_token: list[int]  # for each source token, its word
    target_ids: list[int] = field(default_factory=list)  # the continuation's token ids (the targets, unless contrast)
    contrast: str | None = None
    steps: list[int] | None = None  # integration steps used per target (integrated gradients)

    @property
    def word_values(self) -> np.ndarray:
        """(targets, words): each word's tokens summed (NaN where none of its tokens is attributed)."""
        out = np.full((len(self.values), len(self.words)), np.nan)
        index = np.asarray(self.word_of_token)
        for word in range(len(self.words)):
            block = self.values[:, index == word]
            seen = ~np.isnan(block).all(1)
            out[seen, word] = np.nansum(block[seen], 1)
        return out

    def top_sources(self, target: int = 0, k: int = 5) -> list[tuple[str, float]]:
        """The ``k`` words with the largest absolute attribution to target row ``target``."""
        row = self.word_values[target]
        order = [i for i in np.argsort(-np.nan_to_num(np.abs(row), nan=-1.0)) if not np.isnan(row[i])][:k]
        return [(self.words[i], float(row[i])) for i in order]


@dataclass(frozen=True)
class GenerationAttribution:
    """Attributions of one method for generated text. ``output_space``: what each target row explains:
    ``"log-probability"`` (log p of the generated token given everything before it) or ``"log-probability
    difference"`` (a contrastive target: log p(A | prompt) - log p(B | prompt), over whole continuations)."""

    method: str
    output_space: str
    sources: str  # "prompt" or "all" (the prompt and the earlier generated tokens)
    examples: list[GeneratedExample]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def max_delta(self) -> float | None:
        deltas = [float(np.max(e.delta)) for e in self.examples if e.delta is not None and len(e.delta)]
        return max(deltas) if deltas else None

    def to_frame(self):
        """One row per (example, target, source token): the long form, for notebooks."""
        import pandas as pd

        rows = []
        for index, example in enumerate(self.examples):
            for i, label in enumerate(example.target_labels):
                for j, token in enumerate(example.source_tokens):
                    value = example.values[i, j]
                    if not np.isnan(value):
                        rows.append(
                            {
                                "example": index,
                                "target": i,
                                "target_token": label,
                                "source": j,
                                "source_token": token,
                                "in_prompt": j < example.prompt_length,
                                "attribution": float(value),
                            }
                        )
        return pd.DataFrame(rows)
