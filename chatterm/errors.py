"""The exception types every layer raises; each carries one line a user can read."""

from __future__ import annotations


class ChattermError(Exception):
    """Base for errors shown to the user as a single line, never a traceback."""

    exit_code: int = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(ChattermError):
    """The user asked for something impossible (bad id, bad flag value)."""

    exit_code = 2


class ConfigError(ChattermError):
    """The config file is unreadable, malformed or holds a wrong value."""

    exit_code = 2


class StoreError(ChattermError):
    """The conversation database cannot be opened or written."""


class ImportFormatError(ChattermError):
    """An import file is not a valid chatterm export."""
