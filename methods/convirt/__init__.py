"""ConVIRT (Zhang et al., MLHC 2022): global image-report contrastive pretraining."""

from __future__ import annotations

from methods.convirt.config import Config
from methods.convirt.model import ConVIRT

__all__ = ["Config", "ConVIRT"]
