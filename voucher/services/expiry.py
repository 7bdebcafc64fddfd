"""Vouchers that end: expiry at the end date (a daily job) and revocation by an operator.

active -> expired | revoked. What the voucher has not used goes back to the measure's
budget line (``budget.release``, referenced as ("voucher", id)), then the measure's waiting
list moves on.

A request for reimbursement sent before the end date may still be decided afterwards (and
one the operator asked information about may still be answered, unless the voucher was
revoked): what such requests may need stays reserved until they are decided. The next run
of :func:`expire_vouchers`, or :func:`release_unused` called after the decision, gives back
the rest. So a later approval always finds its money reserved, never another voucher's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from flask_babel import format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, selectinload

from voucher.i18n import format_money
from voucher.models import (
    Application,
    Claim,
    ClaimStatus,
    LedgerEntry,
    LedgerKind,
    Measure,
    User,
    Voucher,
    VoucherStatus,
)
from voucher.services import audit, budget, clock, waitlist
from voucher.services.errors import IllegalTransition, ValidationFailed
from voucher.services.notifications import notify
from voucher.services.transitions import compare_and_set

REFERENCE = "voucher"
ENDED = (VoucherStatus.EXPIRED, VoucherStatus.REVOKED)


@dataclass
class ExpiryResult:
    """What one run of :func:`expire_vouchers` did."""

    expired: int = 0
    released_cents: int = 0
    promoted: int = 0
    # Still reserved for requests sent in time and not decided yet.
    held_cents: int = 0
    measure_ids: list[int] = field(default_factory=list)


def released_cents(session: Session, voucher: Voucher) -> int:
    """What has already been given back to the budget line from this voucher."""
    # Held is read with it: what is left to release is net of bookings' holds.
    session.refresh(voucher, ["released_cents", "held_cents"])
    return voucher.released_cents


def held_cents(session: Session, voucher: Voucher) -> int:
    """What requests on the voucher still awaiting a decision may yet need."""
    rows = session.execute(
        select(Claim.status, Claim.requested_cents).where(
            Claim.voucher_id == voucher.id,
            Claim.status.in_((ClaimStatus.SUBMITTED, ClaimStatus.NEEDS_INFO)),
        )
    ).all()
    if voucher.status is not VoucherStatus.REVOKED and any(
        status is ClaimStatus.NEEDS_INFO for status, _amount in rows
    ):
        # Answering the operator recomputes the request, up to what the voucher has left.
        return voucher.remaining_cents
    return sum(amount for status, amount in rows if status is ClaimStatus.SUBMITTED)


def release_unused(session: Session, voucher: Voucher, actor: User | None) -> int:
    """Give back what an ended voucher neither used nor still needs; return the amount."""
    if voucher.status not in ENDED:
        return 0
    outstanding = voucher.remaining_cents - released_cents(session, voucher)
    amount = outstanding - min(outstanding, held_cents(session, voucher))
    if amount <= 0:
        return 0
    # Guarded like an approval: if a claim was approved a moment ago, used + released
    # would exceed the voucher, nothing is released now and the next run settles it.
    result = session.execute(
        update(Voucher)
        .where(
            Voucher.id == voucher.id,
            Voucher.used_cents + Voucher.held_cents + Voucher.released_cents + amount
            <= Voucher.amount_cents,
        )
        .values(released_cents=Voucher.released_cents + amount)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return 0
    session.refresh(voucher, ["released_cents", "used_cents", "held_cents"])
    budget.release(session, voucher.budget_line_id, amount, actor, (REFERENCE, voucher.id))
    return amount


def expire_vouchers(session: Session, today: date | None = None) -> ExpiryResult:
    """Expire active vouchers past their end date, release what they did not use, move lists."""
    today = today or clock.today()
    result = ExpiryResult()
    measures: dict[int, Measure] = {}
    due = session.scalars(
        select(Voucher)
        .where(Voucher.status == VoucherStatus.ACTIVE, Voucher.valid_until < today)
        .options(selectinload(Voucher.measure), selectinload(Voucher.worker))
        .order_by(Voucher.id)
    ).all()
    for voucher in due:
        if not _move(session, voucher, VoucherStatus.EXPIRED):
            continue  # revoked or used up a moment ago
        released = release_unused(session, voucher, None)
        audit.record(
            session,
            "voucher.expire",
            voucher,
            None,
            valid_until=voucher.valid_until.isoformat(),
            released_cents=released,
        )
        _notify_expired(session, voucher)
        result.expired += 1
        result.released_cents += released
        measures[voucher.measure_id] = voucher.measure
    # Vouchers that ended with requests pending: give back what the decisions since left.
    for voucher in session.scalars(_ended_with_reservation()).all():
        released = release_unused(session, voucher, None)
        if released:
            audit.record(session, "voucher.release", voucher, None, released_cents=released)
            result.released_cents += released
            measures[voucher.measure_id] = voucher.measure
        result.held_cents += voucher.remaining_cents - released_cents(session, voucher)
    for measure_id in sorted(measures):
        result.promoted += len(waitlist.promote(session, measures[measure_id], today))
    result.measure_ids = sorted(measures)
    return result


def revoke(
    session: Session,
    voucher: Voucher,
    actor: User | None,
    reason: str,
    today: date | None = None,
) -> list[Application]:
    """Withdraw an active voucher, saying why; release what it did not use, move the list."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed.single("reason", _l("Say why the voucher is revoked."))
    if len(reason) > 500:
        raise ValidationFailed.single("reason", _l("At most 500 characters."))
    if voucher.status is not VoucherStatus.ACTIVE or not _move(
        session, voucher, VoucherStatus.REVOKED
    ):
        raise IllegalTransition(_l("Only an active voucher can be revoked."))
    released = release_unused(session, voucher, actor)
    audit.record(session, "voucher.revoke", voucher, actor, reason=reason, released_cents=released)
    measure = voucher.measure
    notify(
        session,
        voucher.worker,
        lambda: _("Your voucher has been revoked"),
        lambda: _(
            "Your voucher for “%(measure)s” has been revoked by the alliance. Reason: %(reason)s",
            measure=measure.title,
            reason=reason,
        ),
        _link(voucher),
    )
    return waitlist.promote(session, measure, today)


# --- internals --------------------------------------------------------------------------


def _move(session: Session, voucher: Voucher, target: VoucherStatus) -> bool:
    """Change an active voucher's status only if it is still active in the database."""
    if compare_and_set(session, voucher, Voucher.status == VoucherStatus.ACTIVE, status=target):
        return True
    session.refresh(voucher, ["status"])
    return False


def _ended_with_reservation():  # type: ignore[no-untyped-def]
    """Ended vouchers of which some unused amount has not been released yet."""
    released = (
        select(func.coalesce(func.sum(LedgerEntry.amount_cents), 0))
        .where(
            LedgerEntry.kind == LedgerKind.RELEASE,
            LedgerEntry.reference_type == REFERENCE,
            LedgerEntry.reference_id == Voucher.id,
        )
        .correlate(Voucher)
        .scalar_subquery()
    )
    return (
        select(Voucher)
        .where(
            Voucher.status.in_(ENDED),
            Voucher.amount_cents - Voucher.used_cents - Voucher.held_cents > released,
        )
        .options(selectinload(Voucher.measure))
        .order_by(Voucher.id)
    )


def _notify_expired(session: Session, voucher: Voucher) -> None:
    """Tell the worker their voucher has ended, and what happens to requests already sent."""
    measure, until = voucher.measure, voucher.valid_until
    notify(
        session,
        voucher.worker,
        lambda: _("Your voucher has expired"),
        lambda: _(
            "Your voucher for “%(measure)s” ended on %(date)s with %(amount)s not used. "
            "Requests for reimbursement you sent before then are still being reviewed.",
            measure=measure.title,
            date=format_date(until, "long"),
            amount=format_money(voucher.remaining_cents),
        ),
        _link(voucher),
    )


def _link(voucher: Voucher) -> str:
    """The path of the worker's page of ``voucher`` (for notifications)."""
    return f"/worker/vouchers/{voucher.id}"
