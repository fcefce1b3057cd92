"""A generative (causal) language model as the probes see it: token log-likelihoods and seeded samples.

The model stays where it lives (never moved). Texts that share a beginning are packed so that each prefix is
computed once (``explainers._prefix_packing``; checked once per model against padded batches); otherwise texts
are sorted by length and padded on the right to the longest of each batch: a causal model never attends to later
positions, so right padding cannot change a real token's score. Positions are always given explicitly. Batches
hold a budget of tokens (the logits over the vocabulary dominate memory), sized from free GPU memory on CUDA and
halved on out-of-memory. On CUDA the forward pass runs under bf16 (else fp16) autocast; log-probabilities are
always taken in float32.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from explainers._errors import DataError, ModelError, ResourceError
from explainers._text_model import _takes_position_ids, quiet_token_ids, takes_argument

__all__ = ["CausalLM", "ScoringInfo"]

_CPU_LOGIT_BYTES = 512 * 2**20  # logits kept per batch on CPU: about 2,600 tokens of a 50k vocabulary
_ROW_TOKENS = 128  # nodes per packed row: enough for a few sentences that share prefixes, little attention cost


@dataclass(frozen=True)
class ScoringInfo:
    """How sequences are scored: recorded in the audit result as automatic choices."""

    start_token: str  # the token every text is conditioned on, so its first word is scored too
    precision: str  # "float32", or the autocast dtype on CUDA
    device: str
    max_length: int
    packing: str = ""  # whether shared prefixes are computed once (tree attention), and the check behind it


class CausalLM:
    """A ``transformers`` causal language model (GPT-2, Llama, Mistral, Qwen, ...) and its tokenizer, or any
    module whose ``forward(input_ids=, attention_mask=[, position_ids=])`` returns next-token logits over the
    vocabulary (a tensor, or an object with ``.logits``)."""

    kind = "causal-lm"

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        batch_size: int | None = None,
        max_length: int | None = None,
        precision: str = "auto",
        packing: bool = True,
    ) -> None:
        import torch

        if not callable(tokenizer):
            raise ModelError(
                f"The tokenizer must be a callable transformers tokenizer. Got {type(tokenizer).__name__}."
            )
        if precision not in ("auto", "float32"):
            raise DataError(f"The 'precision' parameter of CausalLM must be 'auto' or 'float32'. Got {precision!r}.")
        self.model, self.tokenizer = model, tokenizer
        parameter = next(iter(model.parameters()), None)
        self.device = parameter.device if parameter is not None else torch.device("cpu")
        config = getattr(model, "config", None)
        limits = [
            v
            for v in (
                max_length,
                getattr(config, "max_position_embeddings", None),
                getattr(config, "n_positions", None),
                getattr(tokenizer, "model_max_length", None),
            )
            if isinstance(v, int) and 0 < v < 1_000_000
        ]
        self.max_length = min(limits) if limits else 1024
        self.vocab_size = int(getattr(config, "vocab_size", 0) or len(tokenizer))
        self.batch_size = batch_size
        self._positions = _takes_position_ids(model)
        self._cache_name = "cache" if takes_argument(model, "cache") else "past_key_values"  # transformers 5 renamed it
        self.pad_id = next((int(t) for t in (tokenizer.pad_token_id, tokenizer.eos_token_id) if t is not None), 0)
        self.start_id, start = self._start_token()
        self.autocast_dtype = None
        if precision == "auto" and self.device.type == "cuda":
            self.autocast_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        self._start_note = start
        self._pack: bool | None = None if packing else False  # decided on first use (see _decide_packing)
        self._packing_note = "" if packing else "off (packing=False)"

    @property
    def info(self) -> ScoringInfo:
        return ScoringInfo(
            start_token=self._start_note,
            precision=str(self.autocast_dtype or "float32").replace("torch.", ""),
            device=str(self.device),
            max_length=self.max_length,
            packing=self._packing_note or "not decided yet (nothing scored)",
        )

    @classmethod
    def from_pretrained(cls, directory: str, **kwargs: Any) -> CausalLM:
        """A local model folder (no network): ``AutoModelForCausalLM`` and ``AutoTokenizer``."""
        from transformers import AutoModelForCausalLM, AutoTokenizer

        try:
            model = AutoModelForCausalLM.from_pretrained(directory, local_files_only=True)
            tokenizer = AutoTokenizer.from_pretrained(directory, local_files_only=True)
        except (OSError, ValueError) as err:
            raise ModelError(
                f"Could not load a causal language model and its tokenizer from {directory!r}: {err}. "
                "model.path must be a local folder written by save_pretrained (config.json, weights, "
                "tokenizer files)."
            ) from err
        return cls(model.eval(), tokenizer, **kwargs)

    def _start_token(self) -> tuple[int | None, str]:
        """GPT-2's tokenizer adds no start token, so a text's first token would have no score; condition every text
        on the beginning-of-sequence token (else end-of-sequence, which GPT-2 uses for both), as lm-eval does."""
        tokenizer = self.tokenizer
        probe = tokenizer("a", add_special_tokens=True)["input_ids"]
        for name in ("bos", "eos"):
            token = getattr(tokenizer, f"{name}_token_id", None)
            if token is not None:
                if probe and probe[0] == token:
                    return None, f"{name} token id {token}, added by the tokenizer"
                return int(token), f"{name} token id {token}, prepended to every text"
        return None, "none: the tokenizer has no start token, so each text's first token is not scored"

    # ----- encoding ---------------------------------------------------------------------------------------
    def encode(self, texts: list[str], *, check_length: bool = True) -> list[list[int]]:
        """Token ids of each text, with the start token; refused when longer than the model reads (unless
        ``check_length`` is False: the caller leaves such texts out itself)."""
        for index, text in enumerate(texts):
            if not isinstance(text, str) or not text.strip():
                raise DataError(f"Text {index} is {text!r}: a probe text must be a non-empty string.")
        encoded = quiet_token_ids(self.tokenizer, list(texts))
        ids = [([self.start_id] if self.start_id is not None else []) + list(row) for row in encoded]
        for index, row in enumerate(ids if check_length else ()):
            if len(row) > self.max_length:
                raise DataError(
                    f"Text {index} has {len(row)} tokens; the model reads at most {self.max_length}. "
                    "Shorten the probe texts."
                )
        return ids

    def encode_pairs(
        self, prompts: list[str], continuations: list[str], *, check_length: bool = True
    ) -> tuple[list[list[int]], list[int]]:
        """Ids of prompt + continuation and where the continuation starts. The whole is tokenised at once when its
        start matches the prompt's own tokens (so the boundary does not change how words split), else the two are
        tokenised apart and joined."""
        whole = self.encode([p + c for p, c in zip(prompts, continuations)], check_length=False)
        context = self.encode(prompts, check_length=False)
        starts = []
        for index, (row, ctx) in enumerate(zip(whole, context)):
            if row[: len(ctx)] == ctx and len(row) > len(ctx):
                starts.append(len(ctx))
            else:
                tail = self.tokenizer(continuations[index], add_special_tokens=False)["input_ids"]
                whole[index] = ctx + list(tail)
                starts.append(len(ctx))
            if starts[-1] >= len(whole[index]):
                raise DataError(f"Continuation {continuations[index]!r} has no tokens.")
            if check_length and len(whole[index]) > self.max_length:
                raise DataError(
                    f"Prompt and continuation {index} have {len(whole[index])} tokens; the model reads at "
                    f"most {self.max_length}. Shorten the probe texts."
                )
        return whole, starts

    # ----- scoring ----------------------------------------------------------------------------------------
    def token_logprobs(self, sequences: list[list[int]]) -> list[np.ndarray]:
        """For each sequence, ``log p(ids[t] | ids[:t])`` for t = 1 .. len - 1 (float64), in the order given.
        Shared prefixes are computed once (``explainers._prefix_packing``) when the model passes the check of
        ``_decide_packing``; otherwise sequences go in padded batches."""
        lengths = np.array([len(s) for s in sequences])
        if len(sequences) and lengths.min() < 2:
            raise DataError("A scored sequence needs at least two tokens (a start token and one more).")
        if not len(sequences):
            return []
        if self._pack is None:
            self._decide_packing(sequences)
        return self._packed_logprobs(sequences) if self._pack else self._padded_logprobs(sequences)

    def _decide_packing(self, sequences: list[list[int]]) -> None:
        """Packing needs a model that takes position ids and honours a 4-D attention mask (an attention kernel
        that ignores custom masks would silently mix sequences). Checked once, on up to 8 sequences that share
        prefixes, against padded batches; the outcome is recorded in ``info.packing``."""
        self._pack = False
        if not self._positions:
            self._packing_note = "off: the model takes no position ids"
            return
        probe = sorted(sequences)[:8]
        try:
            packed, padded = self._packed_logprobs(probe), self._padded_logprobs(probe)
        except (TypeError, ValueError, RuntimeError, IndexError) as err:
            self._packing_note = f"off: the model refused a 4-D attention mask ({type(err).__name__}: {err})"[:300]
            return
        difference = max(float(np.abs(a - b).max()) for a, b in zip(packed, padded))
        tolerance = 1e-4 if self.autocast_dtype is None else 5e-2
        if difference > tolerance:
            self._packing_note = (
                f"off: packed scores differed from padded batches by {difference:.2g} (an "
                "attention kernel that ignores custom masks?)"
            )
            return
        self._pack = True
        self._packing_note = (
            f"on: shared prefixes computed once; checked against padded batches on {len(probe)} "
            f"sequences (largest difference {difference:.1g})"
        )

    def _padded_logprobs(self, sequences: list[list[int]]) -> list[np.ndarray]:
        import torch

        lengths = np.array([len(s) for s in sequences])
        order = np.argsort(-lengths, kind="stable")  # longest first: an out-of-memory error comes early
        out: list[np.ndarray | None] = [None] * len(sequences)
        start = 0
        budget = self._token_budget()
        with torch.inference_mode():
            while start < len(order):
                longest = int(lengths[order[start]])
                rows = max(1, min(budget // longest, self.batch_size or 10**9))
                batch = order[start : start + rows]
                try:
                    scored = self._score_batch([sequences[i] for i in batch])
                except torch.OutOfMemoryError as err:
                    budget = self._halve(err, budget, longest)
                    continue
                for i, values in zip(batch, scored):
                    out[i] = values
                start += len(batch)
        return out  # type: ignore[return-value]

    def _packed_logprobs(self, sequences: list[list[int]]) -> list[np.ndarray]:
        """Packed rows in batches under the token budget. Out of memory: fewer rows per batch, then shorter rows
        (re-packed), down to one sequence per row."""
        import torch

        from explainers._prefix_packing import pack

        out: list[np.ndarray | None] = [None] * len(sequences)
        capacity, budget = _ROW_TOKENS, self._token_budget()
        longest_sequence = max(len(s) for s in sequences)
        rows = sorted(pack(sequences, capacity), key=lambda r: -len(r.tokens))
        start = 0
        with torch.inference_mode():
            while start < len(rows):
                longest = len(rows[start].tokens)
                count = max(1, min(budget // longest, self.batch_size or 10**9))
                batch = rows[start : start + count]
                try:
                    scored = self._score_packed(batch)
                except torch.OutOfMemoryError as err:
                    if count > 1 or longest <= longest_sequence or capacity <= longest_sequence:
                        budget = self._halve(err, budget, longest)
                        continue
                    capacity = max(longest_sequence, capacity // 2)  # one row is too much: shorter rows
                    pending = [i for row in rows[start:] for i, _ in row.paths]
                    repacked = pack([sequences[i] for i in pending], capacity)
                    for row in repacked:
                        row.paths = [(pending[i], path) for i, path in row.paths]
                    rows = rows[:start] + sorted(repacked, key=lambda r: -len(r.tokens))
                    continue
                for index, values in scored:
                    out[index] = values
                start += len(batch)
        return out  # type: ignore[return-value]

    def _score_packed(self, rows) -> list[tuple[int, np.ndarray]]:
        import torch

        longest = max(len(r.tokens) for r in rows)
        ids = torch.full((len(rows), longest), self.pad_id, dtype=torch.long)
        positions = torch.zeros((len(rows), longest), dtype=torch.long)
        for b, row in enumerate(rows):
            ids[b, : len(row.tokens)] = torch.tensor(row.tokens)
            positions[b, : len(row.tokens)] = torch.tensor(row.positions)
        mask = torch.from_numpy(np.stack([row.allowed(longest) for row in rows]))[:, None]
        ids, positions, mask = ids.to(self.device), positions.to(self.device), mask.to(self.device)
        logits = self.logits(ids, mask, position_ids=positions).float()
        normaliser = torch.logsumexp(logits, -1)
        where = []
        for b, row in enumerate(rows):
            for _, path in row.paths:
                where += [(b, node, row.tokens[target]) for node, target in zip(path[:-1], path[1:])]
        b_idx, node_idx, token_idx = (torch.tensor(v, device=self.device) for v in zip(*where))
        picked = (logits[b_idx, node_idx, token_idx] - normaliser[b_idx, node_idx]).double().cpu().numpy()
        out, offset = [], 0
        for b, row in enumerate(rows):
            for index, path in row.paths:
                out.append((index, picked[offset : offset + len(path) - 1].copy()))
                offset += len(path) - 1
        return out

    def _score_batch(self, rows: list[list[int]]) -> list[np.ndarray]:
        import torch

        longest = max(len(r) for r in rows)
        ids = torch.full((len(rows), longest), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), longest), dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = torch.tensor(row)
            mask[i, : len(row)] = 1
        ids, mask = ids.to(self.device), mask.to(self.device)
        logits = self.logits(ids, mask)[:, :-1].float()
        targets = ids[:, 1:]
        picked = logits.gather(-1, targets[..., None])[..., 0] - torch.logsumexp(logits, -1)
        picked = picked.double().cpu().numpy()
        return [picked[i, : len(row) - 1].copy() for i, row in enumerate(rows)]

    def logits(self, input_ids, attention_mask, position_ids=None, *, autocast: bool = True):
        """The model's next-token logits, positions counted from the attention mask unless given (``autocast``
        False: in the model's own precision, as attributions need)."""
        import contextlib

        import torch

        cast = (
            torch.autocast(self.device.type, dtype=self.autocast_dtype)
            if self.autocast_dtype is not None and autocast
            else contextlib.nullcontext()
        )
        with cast:
            if self._positions:
                positions = position_ids if position_ids is not None else (attention_mask.cumsum(-1) - 1).clamp(min=0)
                output = self.model(input_ids=input_ids, attention_mask=attention_mask, position_ids=positions)
            else:
                output = self.model(input_ids=input_ids, attention_mask=attention_mask)
        logits = output.logits if hasattr(output, "logits") else output
        if logits.ndim != 3 or logits.shape[-1] < 2:
            raise ModelError(
                f"The model returned outputs of shape {tuple(logits.shape)}; a causal language model "
                "returns (batch, length, vocabulary) next-token logits."
            )
        return logits

    def _token_budget(self) -> int:
        """Tokens per forward pass: logits dominate (vocabulary x 4 bytes, x3 for the float copy and logsumexp)."""
        per_token = self.vocab_size * 4 * 3
        if self.device.type != "cuda":
            return max(64, _CPU_LOGIT_BYTES // per_token)
        import torch

        free, _ = torch.cuda.mem_get_info(self.device)
        config = getattr(self.model, "config", None)
        hidden = int(getattr(config, "hidden_size", 768) or 768)
        layers = int(getattr(config, "num_hidden_layers", 12) or 12)
        per_token += hidden * 4 * 16 + hidden * layers * 4  # activations of one layer at a time, with margin
        return int(max(64, min(1 << 20, free * 0.5 // per_token)))

    def _halve(self, err: Exception, budget: int, longest: int) -> int:
        import torch

        if budget <= longest:
            raise ResourceError(f"The model ran out of GPU memory on a single sequence of {longest} tokens.") from err
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
        return max(longest, budget // 2)

    def sequence_logprob(self, texts: list[str]) -> np.ndarray:
        """The log-likelihood of each whole text (the sum over its tokens, each given the ones before)."""
        return np.array([values.sum() for values in self.token_logprobs(self.encode(list(texts)))])

    def continuation_logprob(self, prompts: list[str], continuations: list[str]) -> np.ndarray:
        """``log p(continuation | prompt)`` for each pair (summed over the continuation's tokens)."""
        ids, starts = self.encode_pairs(list(prompts), list(continuations))
        return np.array([values[s - 1 :].sum() for values, s in zip(self.token_logprobs(ids), starts)])

    # ----- sampling ---------------------------------------------------------------------------------------
    def sample(
        self,
        prompts: list[str],
        *,
        max_new_tokens: int = 20,
        seed: int = 0,
        temperature: float = 1.0,
        top_k: int | None = 50,
    ) -> list[str]:
        """Seeded sampled continuations, with a KV cache. Each prompt draws from its own random stream
        (``seed`` and its index), so a prompt's continuation does not depend on its batch neighbours or the
        batch size; the noise is drawn on the CPU, so it does not depend on the device either."""
        if temperature <= 0:
            raise DataError(f"The 'temperature' parameter of sample must be > 0. Got {temperature!r}.")
        tokens = self.continue_ids(
            self.encode(list(prompts)), max_new_tokens=max_new_tokens, seed=seed, temperature=temperature, top_k=top_k
        )
        return [self.tokenizer.decode(row, skip_special_tokens=True) for row in tokens]

    def continue_ids(
        self,
        ids: list[list[int]],
        *,
        max_new_tokens: int,
        seed: int | None = None,
        temperature: float = 1.0,
        top_k: int | None = 50,
    ) -> list[list[int]]:
        """The token ids that follow each sequence of ``ids``, up to ``max_new_tokens`` and stopping before the
        end-of-sequence token: greedy (the most likely token each step) when ``seed`` is None, else sampled as
        ``sample`` does. Batched with left padding and a KV cache."""
        import torch

        if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or max_new_tokens < 1:
            raise DataError(f"The 'max_new_tokens' parameter must be a positive integer. Got {max_new_tokens!r}.")
        longest = max((len(r) for r in ids), default=0)
        if longest + max_new_tokens > self.max_length:
            raise DataError(
                f"A prompt of {longest} tokens plus {max_new_tokens} new tokens is longer than the "
                f"{self.max_length} the model reads. Shorten the prompt or ask for fewer new tokens."
            )
        rows = max(1, min(64, self._token_budget() // max(1, longest + max_new_tokens)))
        step = self.batch_size or rows
        out: list[list[int]] = []
        with torch.inference_mode():
            for start in range(0, len(ids), step):
                chunk = ids[start : start + step]
                streams = (
                    None
                    if seed is None
                    else [torch.Generator().manual_seed(int(seed) * 1_000_003 + start + i) for i in range(len(chunk))]
                )
                out.extend(self._continue_batch(chunk, streams, max_new_tokens, temperature, top_k))
        return out

    def _continue_batch(self, rows, streams, max_new_tokens, temperature, top_k) -> list[list[int]]:
        import torch

        longest = max(len(r) for r in rows)
        ids = torch.full((len(rows), longest), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), longest), dtype=torch.long)
        for i, row in enumerate(rows):  # left padding: every prompt's next token is in the last column
            ids[i, longest - len(row) :] = torch.tensor(row)
            mask[i, longest - len(row) :] = 1
        ids, mask = ids.to(self.device), mask.to(self.device)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        eos = self.tokenizer.eos_token_id
        done = torch.zeros(len(rows), dtype=torch.bool, device=self.device)
        generated = []
        past = None
        step_ids, step_pos = ids, positions
        for _ in range(max_new_tokens):
            kwargs = {"input_ids": step_ids, "attention_mask": mask, "use_cache": True}
            if past is not None:
                kwargs[self._cache_name] = past
            if self._positions:
                kwargs["position_ids"] = step_pos
            output = self.model(**kwargs)
            past = getattr(output, "cache", None) or getattr(output, "past_key_values", None)
            logits = output.logits[:, -1].float()
            if streams is None:
                token = logits.argmax(-1)
            else:
                logits = logits / temperature
                if top_k is not None and top_k < logits.shape[-1]:
                    cutoff = logits.topk(top_k, -1).values[:, -1:]
                    logits = logits.masked_fill(logits < cutoff, float("-inf"))
                noise = torch.stack([torch.empty(logits.shape[-1]).exponential_(generator=g) for g in streams])
                token = (torch.softmax(logits, -1).cpu() / noise).argmax(-1).to(self.device)  # exponential race
            token = torch.where(done, torch.full_like(token, self.pad_id), token)
            generated.append(token)
            if eos is not None:
                done |= token == eos
            if bool(done.all()):
                break
            step_ids = token[:, None]
            step_pos = step_pos[:, -1:] + 1
            mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)  # finished rows' tokens are dropped
        tokens = torch.stack(generated, 1).cpu().tolist()
        return [row[: row.index(eos)] if eos is not None and eos in row else row for row in tokens]
