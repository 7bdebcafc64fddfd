"""Text filters shared by the list pages."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, or_


def contains(text: str, *columns: Any) -> ColumnElement[bool]:
    """Case-insensitive "contains" on any of ``columns``, with LIKE wildcards taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return or_(*(column.ilike(f"%{escaped}%", escape="\\") for column in columns))
