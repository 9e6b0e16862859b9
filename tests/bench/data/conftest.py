"""Reader-test fixtures: tiny images and tables written in the real formats."""

from __future__ import annotations

import pytest
from support.files import corrupt, tiny_pixels, write_csv, write_dcm, write_jpg


@pytest.fixture
def files():
    """The writers above, as one fixture namespace."""

    class Files:
        jpg = staticmethod(write_jpg)
        dcm = staticmethod(write_dcm)
        csv = staticmethod(write_csv)
        corrupt = staticmethod(corrupt)
        pixels = staticmethod(tiny_pixels)

    return Files
