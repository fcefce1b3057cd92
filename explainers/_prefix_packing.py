"""Shared-prefix packing: many sequences in one row, each prefix computed once (tree attention).

Sequences are sorted lexicographically, so neighbours share their longest prefixes (probe pairs differ after a
common start; many sentences begin alike). A row holds the trie of consecutive sequences: each token once per
distinct prefix, attending to its ancestors only (a 4-D boolean mask), at the position it has in its sequences.
A token's next-token distribution is then exactly what the sequence alone would give, and each sequence's
log-probabilities are read along its path in the trie. On CrowS-Pairs this removes about a quarter of the tokens.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["PackedRow", "pack"]


@dataclass
class PackedRow:
    tokens: list[int] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)
    paths: list[tuple[int, list[int]]] = field(default_factory=list)  # (sequence index, its nodes in this row)

    def allowed(self, length: int) -> np.ndarray:
        """(length, length) booleans: node i may attend to node j (j an ancestor of i, or i itself). Padding
        attends to itself only, so that no softmax row is empty."""
        mask = np.zeros((length, length), dtype=bool)
        mask[np.arange(length), np.arange(length)] = True
        for _, path in self.paths:
            nodes = np.asarray(path)
            mask[np.ix_(nodes, nodes)] |= np.tril(np.ones((len(nodes), len(nodes)), dtype=bool))
        return mask


def _common_prefix(a: list[int], b: list[int]) -> int:
    k, limit = 0, min(len(a), len(b))
    while k < limit and a[k] == b[k]:
        k += 1
    return k


def pack(sequences: list[list[int]], row_tokens: int) -> list[PackedRow]:
    """Rows of at most ``max(row_tokens, longest sequence)`` nodes covering every sequence."""
    capacity = max(row_tokens, max(len(s) for s in sequences))
    order = sorted(range(len(sequences)), key=lambda i: sequences[i])
    rows: list[PackedRow] = []
    row: PackedRow | None = None
    previous: list[int] = []
    previous_path: list[int] = []
    for index in order:
        sequence = sequences[index]
        shared = _common_prefix(sequence, previous) if row is not None else 0
        if row is None or len(row.tokens) + len(sequence) - shared > capacity:
            row, shared, previous_path = PackedRow(), 0, []
            rows.append(row)
        start = len(row.tokens)
        path = previous_path[:shared] + list(range(start, start + len(sequence) - shared))
        row.tokens += sequence[shared:]
        row.positions += list(range(shared, len(sequence)))
        row.paths.append((index, path))
        previous, previous_path = sequence, path
    return rows
