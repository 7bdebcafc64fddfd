"""Errors that services raise; their messages are lazily translated strings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class ServiceError(Exception):
    """A rule refused the operation. ``message`` is shown to the user as it is."""

    def __init__(self, message: Any) -> None:
        super().__init__(str(message))
        self.message = message


class ValidationFailed(ServiceError):
    """Input broke one or more rules; ``errors`` maps a field name (or "") to messages."""

    def __init__(self, errors: Mapping[str, list[Any]] | None = None, **fields: Any) -> None:
        merged: dict[str, list[Any]] = {k: list(v) for k, v in (errors or {}).items()}
        for field, message in fields.items():
            merged.setdefault(field, []).append(message)
        self.errors = merged
        super().__init__("; ".join(str(m) for ms in merged.values() for m in ms))

    @classmethod
    def single(cls, field: str, message: Any) -> ValidationFailed:
        return cls({field: [message]})


class IllegalTransition(ServiceError):
    """A state change that the state machine does not allow from the current state."""


class Conflict(ServiceError):
    """Someone else changed the same thing first (or the budget ran out)."""
