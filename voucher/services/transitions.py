"""State changes as compare-and-set: the UPDATE carries the expected current state.

Two people deciding at once both read "submitted"; only the first UPDATE still finds it
and changes the row, the second sees rowcount 0 and is refused. Works the same on
PostgreSQL and SQLite (where ``SELECT … FOR UPDATE`` is silently ignored).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from voucher.services.errors import IllegalTransition


def compare_and_set(
    session: Session, entity: Any, *conditions: ColumnElement[bool], **values: Any
) -> bool:
    """Write ``values`` on ``entity``'s row only if ``conditions`` still hold; say if it did."""
    model = type(entity)
    result = session.execute(
        update(model)
        .where(model.id == entity.id, *conditions)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return False
    # Mirror the write on the loaded object without marking it dirty.
    for key, value in values.items():
        set_committed_value(entity, key, value)
    return True


def require_status(entity: Any, allowed: Iterable[Any], message: object) -> None:
    """Refuse a transition from a status it does not start from (checked in memory)."""
    if entity.status not in tuple(allowed):
        raise IllegalTransition(message)


def move_status(
    session: Session, entity: Any, allowed: Iterable[Any], target: Any, message: object
) -> None:
    """Change the status only if it is still one of ``allowed`` in the database."""
    model = type(entity)
    if not compare_and_set(session, entity, model.status.in_(tuple(allowed)), status=target):
        raise IllegalTransition(message)
