"""The user-error base type: "the user asked for something wrong" (exit code 2, no traceback).

This module imports nothing of the project, so every floor can raise a user error. The error
types of other modules (:class:`bench.config_values.ConfigError`, :class:`bench.data.base.DataFormatError`,
:class:`bench.registry.UnknownNameError`, :class:`bench.results.ResultError`) derive from
:class:`UserError`; the command line catches :data:`USER_ERRORS`.
"""

from __future__ import annotations


class UserError(ValueError):
    """A request that cannot be carried out as given; the message says what to change."""


USER_ERRORS: tuple[type[BaseException], ...] = (UserError, FileNotFoundError)
