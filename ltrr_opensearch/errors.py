"""Errors the user can act on.

Every expected failure (cluster down, missing plugin, bad file, bad config) raises an
``LtrrError`` whose message says what went wrong and whose ``hint`` says what to do next.
The CLI prints both on one or two lines and exits non-zero, never a traceback.
"""

from __future__ import annotations


class LtrrError(Exception):
    """A failure with a message for a human and an optional hint on how to fix it."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} ({self.hint})"


class ConfigError(LtrrError):
    """Settings, config files or CLI options are invalid."""

    exit_code = 2


class ClusterUnreachable(LtrrError):
    """No node answered at the configured URL(s)."""


class EngineError(LtrrError):
    """The local node could not be assembled, started or stopped."""


class ValidationError(LtrrError):
    """Input data (catalog rows, events, templates, models) failed validation."""


class EngineBusy(LtrrError):
    """OpenSearch refused a request for now (429: overloaded, a breaker, or an index blocked
    read-only by the disk watermark; or 5xx). Nothing was acknowledged that is not stored;
    the same request can be sent again later."""
