"""GLoRIA (Huang et al., ICCV 2021): global and local (word-region) image-report contrastive learning."""

from __future__ import annotations

from methods.gloria.config import Config
from methods.gloria.model import GLoRIA

__all__ = ["Config", "GLoRIA"]
