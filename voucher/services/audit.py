"""The audit trail: every state change and every view of special-category data."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from voucher.models import AuditEvent, User


def record(
    session: Session,
    action: str,
    entity: Any,
    actor: User | None = None,
    reason: str = "",
    **details: Any,
) -> AuditEvent:
    """Add an audit event for ``action`` on ``entity`` (flushed with the caller's transaction)."""
    if entity is not None and getattr(entity, "id", None) is None:
        # The entity was just created: flush so the event can point at its id.
        session.flush()
    event = AuditEvent(
        actor_id=actor.id if actor is not None else None,
        actor_role=actor.role.value if actor is not None else "system",
        action=action,
        entity_type=entity.__tablename__ if entity is not None else "",
        entity_id=entity.id if entity is not None else None,
        reason=reason,
        details={k: _jsonable(v) for k, v in details.items()},
    )
    session.add(event)
    return event


def _jsonable(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return str(value)
