"""Errors a user can meet, each with one CLI exit code and one HTTP problem response.

Every error a user can meet is a `LeakshieldError` subclass whose message says what
happened and what to do about it. The CLI turns it into an exit code; the server
turns it into an RFC 9457 ``application/problem+json`` response.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any, ClassVar

__all__ = [
    "ConfigError",
    "DatabaseUnavailableError",
    "ExitCode",
    "InputError",
    "InternalError",
    "LeakshieldError",
    "NotFoundError",
    "UsageError",
]


class ExitCode(IntEnum):
    """The CLI's documented exit codes."""

    OK = 0
    USAGE = 2
    BAD_INPUT = 3
    CONFIG = 4
    INTERNAL = 70


class LeakshieldError(Exception):
    """Base of every error a user can meet.

    Subclasses set the exit code, the HTTP status and a short problem slug; the
    message is the problem's ``detail`` and should end with what to do.
    """

    exit_code: ClassVar[ExitCode] = ExitCode.INTERNAL
    http_status: ClassVar[int] = 500
    slug: ClassVar[str] = "internal-error"
    title: ClassVar[str] = "Internal error"

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra

    @classmethod
    def problem_type(cls) -> str:
        """The problem ``type`` URI of this error class."""
        return f"urn:leakshield:problem:{cls.slug}"

    def to_problem(self, instance: str | None = None) -> dict[str, Any]:
        """This error as an RFC 9457 problem object."""
        problem: dict[str, Any] = {
            "type": self.problem_type(),
            "title": self.title,
            "status": self.http_status,
            "detail": self.message,
        }
        if instance is not None:
            problem["instance"] = instance
        problem.update(self.extra)
        return problem


class UsageError(LeakshieldError):
    """The command or request was not well formed."""

    exit_code = ExitCode.USAGE
    http_status = 400
    slug = "usage-error"
    title = "Usage error"


class InputError(LeakshieldError):
    """An input (file, hash, record) could not be processed."""

    exit_code = ExitCode.BAD_INPUT
    http_status = 422
    slug = "bad-input"
    title = "Bad input"


class NotFoundError(InputError):
    """A named thing does not exist."""

    http_status = 404
    slug = "not-found"
    title = "Not found"


class ConfigError(LeakshieldError):
    """The configuration or the environment does not allow the work."""

    exit_code = ExitCode.CONFIG
    http_status = 500
    slug = "configuration-error"
    title = "Configuration error"


class DatabaseUnavailableError(ConfigError):
    """The database could not be reached or is not at the expected schema."""

    http_status = 503
    slug = "database-unavailable"
    title = "Database unavailable"


class InternalError(LeakshieldError):
    """A bug: something that should not happen did."""
