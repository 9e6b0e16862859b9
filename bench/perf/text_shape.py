"""A text tower of the published shape with random weights, for speed measurement offline.

The field's text towers (Bio_ClinicalBERT, CXR-BERT) are BERT-base: 12 layers, 768 wide, 12
heads, 3,072 feed-forward. Their weights are not on this machine, and speed does not depend on
them, so ``write_text_tower("bert-base", DIR)`` saves a random-init BERT of that shape with the
bundled MiniLM's uncased WordPiece tokenizer (the same 30,522-token vocabulary as bert-base-
uncased); ``--set model.text_encoder=DIR`` then loads it like any local model folder.
"""

from __future__ import annotations

import shutil
from pathlib import Path

# name -> BertConfig overrides (transformers' BertConfig defaults are BERT-base)
SHAPES: dict[str, dict[str, int]] = {
    "bert-base": {},
    "minilm": {"num_hidden_layers": 6, "hidden_size": 384, "num_attention_heads": 12, "intermediate_size": 1536},
}
TOKENIZER_FILES = ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")


def write_text_tower(shape: str, out: str | Path, seed: int = 0) -> Path:
    """Save a random-init BERT of ``shape`` (:data:`SHAPES`) and the bundled tokenizer into ``out``."""
    import torch
    from transformers import BertConfig, BertModel

    from methods.text import resolve_text_encoder

    if shape not in SHAPES:
        raise ValueError(f"unknown text tower shape {shape!r}; known: {', '.join(SHAPES)}")
    out = Path(out)
    if (out / "config.json").is_file() and (out / "vocab.txt").is_file():
        return out
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    BertModel(BertConfig(vocab_size=30522, **SHAPES[shape])).save_pretrained(out)
    source = Path(resolve_text_encoder("minilm"))
    for name in TOKENIZER_FILES:
        if (source / name).is_file():
            shutil.copyfile(source / name, out / name)
    return out
