"""Budget lines: every movement is a conditional UPDATE plus an append-only ledger entry.

The UPDATE carries its own guard (``WHERE reserved + spent + :amount <= allocated``) and the
rowcount tells whether it applied, so two concurrent decisions can never both take the
last euro — on PostgreSQL and on SQLite alike, where ``SELECT … FOR UPDATE`` is a no-op.
A CHECK constraint on the table backs this up.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.orm import Session

from voucher.models import BudgetLine, LedgerEntry, LedgerKind, User
from voucher.services.errors import Conflict, ValidationFailed

_BALANCE_COLUMNS = ("allocated_cents", "reserved_cents", "spent_cents", "paid_cents")


def _apply(
    session: Session,
    line_id: int,
    kind: LedgerKind,
    amount: int,
    values: dict[str, ColumnElement],
    guard: ColumnElement[bool],
    refusal: object,
    actor: User | None,
    reference: tuple[str, int | None],
    note: str,
) -> LedgerEntry:
    """Run one guarded UPDATE on a budget line and write its ledger entry, or raise Conflict."""
    result = session.execute(
        update(BudgetLine)
        .where(BudgetLine.id == line_id, guard)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise Conflict(refusal)
    # The UPDATE bypassed the identity map: make a loaded line re-read its balances.
    cached = session.identity_map.get(session.identity_key(BudgetLine, line_id))
    if cached is not None:
        session.expire(cached, list(_BALANCE_COLUMNS))
    entry = LedgerEntry(
        budget_line_id=line_id,
        kind=kind,
        amount_cents=amount,
        actor_id=actor.id if actor is not None else None,
        reference_type=reference[0],
        reference_id=reference[1],
        note=note,
    )
    session.add(entry)
    return entry


def _positive(amount: int) -> None:
    if not isinstance(amount, int) or amount <= 0:
        raise ValidationFailed.single("amount", _l("The amount must be greater than zero."))


def change_allocation(
    session: Session,
    line_id: int,
    delta: int,
    actor: User | None,
    note: str = "",
    *,
    initial: bool = False,
) -> LedgerEntry:
    """Raise or lower what is allocated; never below what is already reserved and spent."""
    if not isinstance(delta, int) or delta == 0:
        raise ValidationFailed.single("amount", _l("The change must not be zero."))
    line = BudgetLine.__table__.c
    return _apply(
        session,
        line_id,
        LedgerKind.ALLOCATE if initial else LedgerKind.ADJUST,
        delta,
        {"allocated_cents": line.allocated_cents + delta},
        line.reserved_cents + line.spent_cents <= line.allocated_cents + delta,
        _l("The allocation cannot go below what is already reserved and spent."),
        actor,
        ("budget_line", line_id),
        note,
    )


def reserve(
    session: Session, line_id: int, amount: int, actor: User | None, reference: tuple[str, int]
) -> LedgerEntry:
    """Reserve ``amount`` for a voucher if the line still has it, else raise Conflict."""
    _positive(amount)
    line = BudgetLine.__table__.c
    return _apply(
        session,
        line_id,
        LedgerKind.RESERVE,
        amount,
        {"reserved_cents": line.reserved_cents + amount},
        line.reserved_cents + line.spent_cents + amount <= line.allocated_cents,
        _l("The budget of this measure is exhausted."),
        actor,
        reference,
        "",
    )


def release(
    session: Session, line_id: int, amount: int, actor: User | None, reference: tuple[str, int]
) -> LedgerEntry:
    """Give back an unused reservation to the line."""
    _positive(amount)
    line = BudgetLine.__table__.c
    return _apply(
        session,
        line_id,
        LedgerKind.RELEASE,
        amount,
        {"reserved_cents": line.reserved_cents - amount},
        line.reserved_cents >= amount,
        _l("Less than this amount is reserved on the line."),
        actor,
        reference,
        "",
    )


def spend(
    session: Session, line_id: int, amount: int, actor: User | None, reference: tuple[str, int]
) -> LedgerEntry:
    """Move ``amount`` from reserved to spent (an approved reimbursement)."""
    _positive(amount)
    line = BudgetLine.__table__.c
    return _apply(
        session,
        line_id,
        LedgerKind.SPEND,
        amount,
        {
            "reserved_cents": line.reserved_cents - amount,
            "spent_cents": line.spent_cents + amount,
        },
        line.reserved_cents >= amount,
        _l("Less than this amount is reserved on the line."),
        actor,
        reference,
        "",
    )


def pay(
    session: Session, line_id: int, amount: int, actor: User | None, reference: tuple[str, int]
) -> LedgerEntry:
    """Record that ``amount`` of spent money has been paid out."""
    _positive(amount)
    line = BudgetLine.__table__.c
    return _apply(
        session,
        line_id,
        LedgerKind.PAY,
        amount,
        {"paid_cents": line.paid_cents + amount},
        line.paid_cents + amount <= line.spent_cents,
        _l("More would be paid than was spent."),
        actor,
        reference,
        "",
    )


def return_payment(
    session: Session, line_id: int, amount: int, actor: User | None, reference: tuple[str, int]
) -> LedgerEntry:
    """Record that the bank returned a paid transfer: a negative pay entry."""
    _positive(amount)
    line = BudgetLine.__table__.c
    return _apply(
        session,
        line_id,
        LedgerKind.PAY,
        -amount,
        {"paid_cents": line.paid_cents - amount},
        line.paid_cents >= amount,
        _l("Less than this amount was paid from the line."),
        actor,
        reference,
        "returned",
    )


@dataclass(frozen=True)
class Balances:
    allocated_cents: int
    reserved_cents: int
    spent_cents: int
    paid_cents: int

    @property
    def available_cents(self) -> int:
        return self.allocated_cents - self.reserved_cents - self.spent_cents


def ledger_balances(session: Session, line_id: int) -> Balances:
    """Balances recomputed from the ledger alone, to check them against the line."""
    sums = dict(
        session.execute(
            select(LedgerEntry.kind, func.coalesce(func.sum(LedgerEntry.amount_cents), 0))
            .where(LedgerEntry.budget_line_id == line_id)
            .group_by(LedgerEntry.kind)
        ).all()
    )
    total = {kind: int(sums.get(kind, 0)) for kind in LedgerKind}
    return Balances(
        allocated_cents=total[LedgerKind.ALLOCATE] + total[LedgerKind.ADJUST],
        reserved_cents=total[LedgerKind.RESERVE]
        - total[LedgerKind.RELEASE]
        - total[LedgerKind.SPEND],
        spent_cents=total[LedgerKind.SPEND],
        paid_cents=total[LedgerKind.PAY],
    )


def line_balances(line: BudgetLine) -> Balances:
    """Balances as stored on the line."""
    return Balances(line.allocated_cents, line.reserved_cents, line.spent_cents, line.paid_cents)
