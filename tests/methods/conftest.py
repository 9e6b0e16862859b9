"""Fixtures shared by the method tests."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(scope="session")
def minilm() -> Any:
    """The bundled MiniLM tower, frozen (cached outputs)."""
    from methods.encoders import TextEncoder

    return TextEncoder("minilm", trainable_layers=0)
