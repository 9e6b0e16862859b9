"""The exceptions that mean "the user asked for something wrong" (exit code 2, no traceback)."""

from __future__ import annotations

from bench.config import ConfigError
from bench.data.base import DataFormatError
from bench.registry import UnknownNameError


class UserError(ValueError):
    """A request that cannot be carried out as given; the message says what to change."""


USER_ERRORS: tuple[type[BaseException], ...] = (
    UserError,
    ConfigError,
    DataFormatError,
    UnknownNameError,
    FileNotFoundError,
)
