"""A text classifier as the explainers see it: a Hugging Face (or compatible) model and its tokenizer.

It owns the device (the model's own; never moved), tokenises with truncation recorded per example, pads
each batch to its longest sequence, and finds the token-embedding layer that gradient methods attribute to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from explainers._errors import CapabilityError, DataError, ResourceError
from explainers._errors import ModelError

__all__ = ["TextClassifier", "find_embedding_layer", "EMBEDDING_NAMES", "TokenizedBatch"]

# Where common architectures keep their token embeddings (tried after get_input_embeddings()).
EMBEDDING_NAMES = (
    "embeddings.word_embeddings",  # BERT, RoBERTa, DeBERTa-v2, DistilBERT (bare encoders)
    "bert.embeddings.word_embeddings",
    "roberta.embeddings.word_embeddings",
    "deberta.embeddings.word_embeddings",
    "distilbert.embeddings.word_embeddings",
    "transformer.wte",  # GPT-2
    "model.embed_tokens",  # Llama, Mistral, Qwen
    "encoder.embeddings.word_embeddings",  # an encoder under a custom head
    "encoder.get_input_embeddings",
)


# Families that derive positions from the input ids themselves (offset by padding_idx + 1): they need no
# position ids, and reserve padding_idx + 1 of their position embeddings.
_IDS_DERIVE_POSITIONS = (
    "roberta",
    "xlm-roberta",
    "camembert",
    "longformer",
    "data2vec-text",
    "xmod",
    "roberta-prelayernorm",
)


def _usable_positions(config: Any) -> int | None:
    """How many tokens the model reads: its position embeddings, less those RoBERTa-style models reserve."""
    positions = getattr(config, "max_position_embeddings", None)
    if not isinstance(positions, int):
        return None
    if getattr(config, "model_type", None) in _IDS_DERIVE_POSITIONS:
        padding_idx = getattr(config, "pad_token_id", None)
        return positions - (1 if padding_idx is None else int(padding_idx)) - 1
    return positions


def takes_argument(model: Any, name: str) -> bool:
    """Whether the model's forward takes ``name`` (position_ids, cache, ...)."""
    import inspect

    try:
        return name in inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        return False


def _takes_position_ids(model: Any) -> bool:
    if getattr(getattr(model, "config", None), "model_type", None) in _IDS_DERIVE_POSITIONS:
        return False
    return takes_argument(model, "position_ids")


def quiet_token_ids(tokenizer: Any, texts: list[str]) -> list[list[int]]:
    """Token ids of whole texts (special tokens added, nothing truncated), without transformers' "longer than the
    maximum" log line: callers measure length and record or refuse it themselves."""
    from transformers.utils import logging as hf_logging

    logger = hf_logging.get_logger("transformers.tokenization_utils_base")
    level = logger.level
    logger.setLevel(40)  # ERROR
    try:
        return tokenizer(texts, truncation=False, add_special_tokens=True)["input_ids"]
    finally:
        logger.setLevel(level)


def _refuse_language_model(model: Any) -> None:
    """A generative language model is not a classifier: its logits are over the vocabulary."""
    names = {cls.__name__ for cls in type(model).__mro__}
    if any(n.endswith(("ForCausalLM", "LMHeadModel", "ForMaskedLM", "ForConditionalGeneration")) for n in names):
        raise ModelError(
            f"{type(model).__name__} is a language model, not a sequence classifier: its outputs are "
            "scores over the vocabulary, not classes. Audit a fine-tuned classifier "
            "(AutoModelForSequenceClassification), or a generative model with model.kind = "
            '"causal-lm".'
        )


def _get(module: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        module = getattr(module, part)
    return module() if callable(module) and dotted.endswith("get_input_embeddings") else module


def find_embedding_layer(model: Any, name: str | None = None):
    """The ``nn.Embedding`` (or compatible) module whose output gradient methods interpolate."""
    import torch

    tried = []
    if name is not None:
        try:
            return _get(model, name)
        except AttributeError as err:
            raise CapabilityError(
                f"The model has no layer {name!r} (embedding_layer). Check the name against model.named_modules()."
            ) from err
    getter = getattr(model, "get_input_embeddings", None)
    if callable(getter):
        tried.append("get_input_embeddings()")
        try:
            layer = getter()
            if isinstance(layer, torch.nn.Module):
                return layer
        except (NotImplementedError, AttributeError):
            pass
    for dotted in EMBEDDING_NAMES:
        tried.append(dotted)
        try:
            layer = _get(model, dotted)
        except AttributeError:
            continue
        if isinstance(layer, torch.nn.Module):
            return layer
    raise CapabilityError(
        f"Could not find the token-embedding layer of {type(model).__qualname__}. Tried: "
        f'{", ".join(tried)}. Name it with embedding_layer="path.to.embeddings" (a dotted '
        "path from model.named_modules())."
    )


@dataclass(frozen=True)
class TokenizedBatch:
    input_ids: Any  # torch.LongTensor (batch, longest)
    attention_mask: Any
    truncated: list[bool]
    word_ids: list[list[int | None]]  # per token: the word it belongs to, None for special tokens and padding
    tokens: list[list[str]]
    offsets: list[list[tuple[int, int]]] | None  # character span of each token in its text (fast tokenizers)


class TextClassifier:
    """A sequence classifier: ``model(input_ids=..., attention_mask=...)`` returns logits (or an object
    with ``.logits``). ``model`` may be a transformers model or any module with that call."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        max_length: int | None = None,
        embedding_layer: str | None = None,
        batch_size: int | None = None,
        labels: list[str] | None = None,
        baseline: str | None = None,
    ) -> None:
        import torch

        _refuse_language_model(model)
        self.model, self.tokenizer = model, tokenizer
        parameter = next(iter(model.parameters()), None)
        self.device = parameter.device if parameter is not None else torch.device("cpu")
        config = getattr(model, "config", None)
        configured = _usable_positions(config)
        tokenizer_max = getattr(tokenizer, "model_max_length", None)
        limits = [v for v in (max_length, configured, tokenizer_max) if isinstance(v, int) and 0 < v < 100_000]
        self.max_length = min(limits) if limits else 512
        self.embedding_layer = find_embedding_layer(model, embedding_layer)
        self.baseline_token, self.baseline_description = self._choose_baseline(baseline)
        self._positions = _takes_position_ids(model)
        self.batch_size = batch_size
        config = getattr(model, "config", None)
        self.labels = labels
        if self.labels is None and isinstance(getattr(config, "id2label", None), dict):
            self.labels = [config.id2label[i] for i in sorted(config.id2label)]
        self.n_classes = len(self.labels) if self.labels else (int(getattr(config, "num_labels", 0) or 0) or None)
        self.capabilities = frozenset({"tokens", "gradients", "embeddings", "scores"})
        self.kind = "text"

    @classmethod
    def from_pretrained(cls, directory: str, **kwargs: Any) -> TextClassifier:
        """A local model directory (no network): AutoModelForSequenceClassification + AutoTokenizer.

        A checkpoint without classification-head weights (a language model, or a bare encoder) is refused:
        transformers would fill the head with random weights and the audit would measure noise."""
        from transformers import AutoModelForSequenceClassification, AutoTokenizer
        from transformers.utils import logging as hf_logging

        verbosity = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()  # the missing-weights report is read below, not printed
        try:
            model, info = AutoModelForSequenceClassification.from_pretrained(
                directory, local_files_only=True, output_loading_info=True
            )
        finally:
            hf_logging.set_verbosity(verbosity)
        missing = [
            k
            for k in (info or {}).get("missing_keys", [])
            if any(part in k for part in ("classifier", "score", "pre_classifier", "pooler", "out_proj"))
        ]
        if missing:
            architectures = getattr(model.config, "architectures", None) or ["unknown"]
            raise ModelError(
                f"The checkpoint in {directory!r} ({', '.join(architectures)}) has no weights for the "
                f"classification head ({', '.join(missing[:4])}): transformers would start it at random, "
                "so every score would be noise. Audit a fine-tuned sequence classifier; a generative "
                '(causal) language model needs model.kind = "causal-lm", not a text classifier.'
            )
        tokenizer = AutoTokenizer.from_pretrained(directory, local_files_only=True)
        return cls(model.eval(), tokenizer, **kwargs)

    def check_texts(self, texts: Any) -> list[str]:
        if isinstance(texts, str):
            texts = [texts]
        texts = list(texts)
        for index, text in enumerate(texts):
            if not isinstance(text, str):
                raise DataError(
                    f"Text {index} is a {type(text).__name__}, not a string: {text!r}. Convert or "
                    "drop non-text values first."
                )
            if not text.strip():
                raise DataError(f"Text {index} is empty. Empty strings carry no tokens to attribute; drop them.")
        return texts

    def untruncated_ids(self, texts: list[str]) -> list[list[int]]:
        """Token ids of whole texts, to measure what truncation cuts (recorded per text instead of logged)."""
        return quiet_token_ids(self.tokenizer, texts)

    def tokenize(self, texts: list[str]) -> TokenizedBatch:
        """Pad to the longest sequence of this batch; truncate to the model's maximum and record it."""
        fast = bool(getattr(self.tokenizer, "is_fast", False))
        # always on the right: encoders pool their first token ([CLS]), which left padding would turn into a pad;
        # decoders read the position ids below, so either side gives them the same scores
        encoded = self.tokenizer(
            texts,
            padding="longest",
            padding_side="right",
            truncation=True,
            max_length=self.max_length,
            return_tensors="pt",
            return_offsets_mapping=fast,
        )
        full = self.untruncated_ids(texts)
        truncated = [len(ids) > self.max_length for ids in full]
        ids = encoded["input_ids"].tolist()
        special = set(self.tokenizer.all_special_ids)
        if fast:
            word_ids = [encoded.word_ids(i) for i in range(len(texts))]
            offsets = [[tuple(span) for span in row] for row in encoded["offset_mapping"].tolist()]
        else:  # no word alignment: each non-special token is its own word
            word_ids = [[None if t in special else j for j, t in enumerate(row)] for row in ids]
            offsets = None
        mask = encoded["attention_mask"].tolist()
        word_ids = [[w if m else None for w, m in zip(row, row_mask)] for row, row_mask in zip(word_ids, mask)]
        tokens = [self.tokenizer.convert_ids_to_tokens(row) for row in ids]
        return TokenizedBatch(
            encoded["input_ids"].to(self.device),
            encoded["attention_mask"].to(self.device),
            truncated,
            word_ids,
            tokens,
            offsets,
        )

    def logits(self, input_ids, attention_mask):
        """The model's logits. Models that take position ids get them from the attention mask, so a text's score
        does not depend on its batch neighbours or on the padding side (GPT-2 and Llama count positions from
        the first column otherwise, pads included)."""
        if self._positions:
            positions = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)
            output = self.model(input_ids=input_ids, attention_mask=attention_mask, position_ids=positions)
        else:
            output = self.model(input_ids=input_ids, attention_mask=attention_mask)
        return output.logits if hasattr(output, "logits") else output

    def predict_proba(self, texts: Any, *, batch_size: int | None = None, allow_empty: bool = False) -> np.ndarray:
        """Class probabilities, in the order given. Texts are tokenized once, sorted by length and padded to
        the longest of each batch (so short texts do not pay for long ones). ``allow_empty`` is for
        perturbation methods, whose masked texts may be empty."""
        import torch

        texts = [str(t) for t in texts] if allow_empty else self.check_texts(texts)
        if not texts:
            return np.zeros((0, self.n_classes or 2), dtype=np.float32)
        encoded = self.tokenizer(texts, truncation=True, max_length=self.max_length)
        ids, masks = encoded["input_ids"], encoded["attention_mask"]
        order = np.argsort([len(row) for row in ids], kind="stable")
        size = batch_size or (256 if self.device.type == "cuda" else 64)
        outputs: list[np.ndarray] = []
        with torch.inference_mode():
            for start in range(0, len(texts), size):
                rows = order[start : start + size]
                padded = self.tokenizer.pad(
                    {"input_ids": [ids[i] for i in rows], "attention_mask": [masks[i] for i in rows]},
                    padding_side="right",
                    return_tensors="pt",
                )
                logits = self.logits(padded["input_ids"].to(self.device), padded["attention_mask"].to(self.device))
                outputs.append(torch.softmax(logits.float(), -1).cpu().numpy())
        probabilities = np.empty((len(texts), outputs[0].shape[1]), dtype=np.float32)
        probabilities[order] = np.concatenate(outputs)
        return probabilities

    def readable_chars(self, texts: list[str]) -> list[int]:
        """How many characters of each text the model reads (all, unless truncation cuts it). Without a fast
        tokenizer (no character offsets) every text counts as read whole."""
        if not getattr(self.tokenizer, "is_fast", False):
            return [len(t) for t in texts]
        encoded = self.tokenizer(texts, truncation=True, max_length=self.max_length, return_offsets_mapping=True)
        full = self.untruncated_ids(texts)
        limits = []
        for text, offsets, whole in zip(texts, encoded["offset_mapping"], full):
            ends = [end for _, end in offsets if end > 0]
            limits.append(len(text) if len(whole) <= self.max_length or not ends else max(ends))
        return limits

    def _choose_baseline(self, choice: str | None) -> tuple[int, str]:
        """The token whose embedding starts the integration path, and the rule that chose it (recorded).

        Rule: the pad token (else unknown, else end-of-sequence); but a model that normalises with RMSNorm
        (its config has ``rms_norm_eps``: Llama, Mistral, Qwen, Gemma) whose pad embedding is the zero vector
        gets the unknown (else mask) token instead: RMSNorm of a zero vector jumps, and IG then does not
        converge. ``baseline="pad" | "unk" | "mask" | "eos"`` overrides the rule."""
        tokenizer = self.tokenizer
        ids = {
            "pad": tokenizer.pad_token_id,
            "unk": tokenizer.unk_token_id,
            "mask": getattr(tokenizer, "mask_token_id", None),
            "eos": tokenizer.eos_token_id,
        }
        if choice is not None:
            if choice not in ids:
                raise DataError(f"The 'baseline' parameter must be one of {', '.join(ids)}. Got {choice!r} instead.")
            if ids[choice] is None:
                raise DataError(
                    f"The tokenizer has no {choice} token to use as the baseline. Choose another of "
                    f"{', '.join(k for k, v in ids.items() if v is not None)}."
                )
            return int(ids[choice]), f"{choice} token {self._token_name(ids[choice])} (baseline = {choice!r})"
        name, token = next(((n, ids[n]) for n in ("pad", "unk", "eos") if ids[n] is not None), ("id 0", 0))
        config = getattr(self.model, "config", None)
        if getattr(config, "rms_norm_eps", None) is not None and self._zero_embedding(token):
            for fallback in ("unk", "mask"):
                if ids[fallback] is not None and not self._zero_embedding(ids[fallback]):
                    return int(ids[fallback]), (
                        f"{fallback} token {self._token_name(ids[fallback])}: the model "
                        f"normalises with RMSNorm and its {name} embedding is zero"
                    )
        return int(token), f"{name} token {self._token_name(token)} (special tokens kept)"

    def _token_name(self, token: int) -> str:
        try:
            return f"{self.tokenizer.convert_ids_to_tokens(int(token))!r} (id {int(token)})"
        except Exception:  # a tokenizer without the reverse map still has the id
            return f"id {int(token)}"

    def _zero_embedding(self, token: int) -> bool:
        import torch

        weight = getattr(self.embedding_layer, "weight", None)
        if weight is None or not 0 <= token < weight.shape[0]:
            return False
        with torch.no_grad():
            return bool(torch.count_nonzero(weight[token]) == 0)

    def baseline_ids(self, input_ids, attention_mask):
        """The reference input: the baseline token (see ``_choose_baseline``) everywhere except special tokens and
        padding, which stay."""
        import torch

        tokenizer = self.tokenizer
        reference = self.baseline_token
        special = torch.zeros_like(input_ids, dtype=torch.bool)
        for token_id in set(tokenizer.all_special_ids) - {reference}:
            special |= input_ids == token_id
        baseline = torch.where(special | (attention_mask == 0), input_ids, torch.full_like(input_ids, reference))
        return baseline

    def check_target(self, target: int) -> int:
        if self.n_classes is not None and not 0 <= target < self.n_classes:
            raise DataError(
                f"The target class {target} is out of range: the model has {self.n_classes} classes "
                f"(0 to {self.n_classes - 1})."
            )
        return target

    def sequences_per_batch(self, seq_len: int) -> int:
        """How many sequences of this length one forward+backward pass takes: the user's choice, else from free
        GPU memory (activations scale with sequences x length x hidden x layers), else 50 on CPU."""
        if self.batch_size:
            return self.batch_size
        if self.device.type != "cuda":
            return 50
        import torch

        free, _ = torch.cuda.mem_get_info(self.device)
        config = getattr(self.model, "config", None)
        hidden = getattr(config, "hidden_size", 768)
        layers = getattr(config, "num_hidden_layers", 12)
        per_sequence = seq_len * hidden * layers * 4 * 24  # float32 activations kept for backward, with margin
        return int(max(1, min(4096, free * 0.6 // max(per_sequence, 1))))

    def out_of_memory(self, err: Exception, batch: int) -> int:
        import torch

        if batch <= 1:
            raise ResourceError("The model ran out of GPU memory on a single sequence.") from err
        torch.cuda.empty_cache()
        return max(1, batch // 2)
