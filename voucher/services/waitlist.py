"""The waiting list of first-come-first-served measures, moved on when budget is freed.

Call :func:`promote` after anything that gives money back to a measure's budget line
(a voucher expired or revoked, an unused reservation released, a larger allocation, budget
moved in): it grants waitlisted applications in the order they were sent while the budget
lasts. Measures decided by an operator keep their waiting list for the operator.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from voucher.models import Allocation, Application, ApplicationStatus, Measure, User
from voucher.services import applications, clock
from voucher.services.errors import Conflict, IllegalTransition, ValidationFailed


def waiting(session: Session, measure: Measure) -> list[Application]:
    """The measure's waitlisted applications, first sent first."""
    return list(
        session.scalars(
            select(Application)
            .where(
                Application.measure_id == measure.id,
                Application.status == ApplicationStatus.WAITLISTED,
            )
            .order_by(Application.submitted_at, Application.id)
        ).all()
    )


def promote(
    session: Session, measure: Measure, today: date | None = None, actor: User | None = None
) -> list[Application]:
    """Approve a first-come measure's waitlisted applications in order while budget lasts."""
    if measure.allocation is not Allocation.FIRST_COME:
        return []
    today = today or clock.today()
    promoted = []
    for application in waiting(session, measure):
        try:
            # A savepoint per application: if the status changed under us after the amount
            # was reserved, only this application's reservation is undone.
            with session.begin_nested():
                applications.approve(session, application, actor, today=today)
        except Conflict:
            # Strict first come, first served: the first application that does not fit the
            # budget stops the list, so a later, smaller request never jumps the queue.
            break
        except ValidationFailed:
            # Not a question of budget (e.g. the employment ended, the yearly cap, the project
            # is over): it needs an operator's look, and does not hold up those behind it.
            continue
        except IllegalTransition:
            continue  # withdrawn or decided by someone else meanwhile
        promoted.append(application)
    return promoted
