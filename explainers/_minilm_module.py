"""The MiniLM sentiment classifier's torch module: the encoder, mean pooling and a linear head. A module of its own
so that ``import explainers.minilm_head`` needs no torch; the class is an ordinary module-level class."""

from __future__ import annotations

import torch

__all__ = ["MiniLMSentiment"]


class MiniLMSentiment(torch.nn.Module):
    """Mean-pooled, normalised MiniLM sentence embeddings and a linear layer over ``n_labels`` classes (the
    sentiment labels of ``explainers.minilm_head.LABELS``)."""

    def __init__(self, encoder, *, n_labels: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = torch.nn.Linear(encoder.config.hidden_size, n_labels)
        self.config = encoder.config  # max_position_embeddings for truncation

    def embed(self, input_ids, attention_mask):
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        weights = attention_mask[..., None].to(hidden.dtype)
        pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, dim=-1)

    def forward(self, input_ids, attention_mask):
        return self.head(self.embed(input_ids, attention_mask))
