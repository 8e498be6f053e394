"""Errors the library raises; the CLI turns them into one line and an exit code."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    ERROR = 1
    USAGE = 2
    CANNOT_EXECUTE = 126  # the shell conventions for a command that cannot run
    NOT_FOUND = 127
    INTERRUPTED = 130


class CfsessionError(Exception):
    """An error with a message for people and a hint saying what to do next."""

    exit_code: int = ExitCode.ERROR

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} — {self.hint}" if self.hint else self.message


class SessionNotFound(CfsessionError):
    pass


class AmbiguousSessionId(CfsessionError):
    pass


class StoreError(CfsessionError):
    """The store cannot be used (wrong owner, not writable, …)."""


class SchemaError(CfsessionError):
    """A recorded file does not follow the schema this version reads."""


class UsageError(CfsessionError):
    exit_code = ExitCode.USAGE
