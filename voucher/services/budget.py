"""Budget lines: every movement is a conditional UPDATE plus an append-only ledger entry.

The UPDATE carries its own guard (``WHERE reserved + spent + :amount <= allocated``) and the
rowcount tells whether it applied, so two concurrent decisions can never both take the
last euro — on PostgreSQL and on SQLite alike, where ``SELECT … FOR UPDATE`` is a no-op.
A CHECK constraint on the table backs this up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import BigInteger, ColumnElement, Integer, Update, bindparam, func, select, update
from sqlalchemy.orm import Session

from voucher.models import BudgetLine, LedgerEntry, LedgerKind, User
from voucher.services.errors import Conflict, ValidationFailed

_BALANCE_COLUMNS = ("allocated_cents", "reserved_cents", "spent_cents", "paid_cents")


@dataclass(frozen=True)
class _Movement:
    """One kind of movement on a budget line: the columns it changes and the guard that
    must hold, both written in terms of the line and ``:amount``."""

    kind: LedgerKind
    values: Callable[[Any, Any], dict[str, ColumnElement[Any]]]
    guard: Callable[[Any, Any], ColumnElement[bool]]
    refusal: object


_MOVEMENTS = {
    "allocate": _Movement(
        LedgerKind.ALLOCATE,
        lambda line, amount: {"allocated_cents": line.allocated_cents + amount},
        lambda line, amount: (
            line.reserved_cents + line.spent_cents <= line.allocated_cents + amount
        ),
        _l("The allocation cannot go below what is already reserved and spent."),
    ),
    "reserve": _Movement(
        LedgerKind.RESERVE,
        lambda line, amount: {"reserved_cents": line.reserved_cents + amount},
        lambda line, amount: (
            line.reserved_cents + line.spent_cents + amount <= line.allocated_cents
        ),
        _l("The budget of this measure is exhausted."),
    ),
    "release": _Movement(
        LedgerKind.RELEASE,
        lambda line, amount: {"reserved_cents": line.reserved_cents - amount},
        lambda line, amount: line.reserved_cents >= amount,
        _l("Less than this amount is reserved on the line."),
    ),
    "spend": _Movement(
        LedgerKind.SPEND,
        lambda line, amount: {
            "reserved_cents": line.reserved_cents - amount,
            "spent_cents": line.spent_cents + amount,
        },
        lambda line, amount: line.reserved_cents >= amount,
        _l("Less than this amount is reserved on the line."),
    ),
    "pay": _Movement(
        LedgerKind.PAY,
        lambda line, amount: {"paid_cents": line.paid_cents + amount},
        lambda line, amount: line.paid_cents + amount <= line.spent_cents,
        _l("More would be paid than was spent."),
    ),
    "return_payment": _Movement(
        LedgerKind.PAY,
        lambda line, amount: {"paid_cents": line.paid_cents - amount},
        lambda line, amount: line.paid_cents >= amount,
        _l("Less than this amount was paid from the line."),
    ),
}


@cache
def _statement(movement: str) -> Update:
    # Built once per movement, with the line and the amount as bind parameters, as the
    # other statements of the approval path are. A Core UPDATE of the table: _apply
    # expires a loaded line itself.
    line = BudgetLine.__table__.c
    amount = bindparam("amount", type_=BigInteger)
    rule = _MOVEMENTS[movement]
    return (
        update(BudgetLine.__table__)
        .where(line.id == bindparam("line_id", type_=Integer), rule.guard(line, amount))
        .values(**rule.values(line, amount))
    )


def _apply(
    session: Session,
    movement: str,
    line_id: int,
    amount: int,
    actor: User | None,
    reference: tuple[str, int | None],
    note: str = "",
    kind: LedgerKind | None = None,
    entry_amount: int | None = None,
) -> LedgerEntry:
    """Run one guarded UPDATE on a budget line and write its ledger entry, or raise Conflict."""
    result = session.execute(_statement(movement), {"line_id": line_id, "amount": amount})
    if result.rowcount != 1:
        raise Conflict(_MOVEMENTS[movement].refusal)
    # The UPDATE bypassed the identity map: make a loaded line re-read its balances.
    cached = session.identity_map.get(session.identity_key(BudgetLine, line_id))
    if cached is not None:
        session.expire(cached, list(_BALANCE_COLUMNS))
    entry = LedgerEntry(
        budget_line_id=line_id,
        kind=kind or _MOVEMENTS[movement].kind,
        amount_cents=amount if entry_amount is None else entry_amount,
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
    kind = LedgerKind.ALLOCATE if initial else LedgerKind.ADJUST
    return _apply(session, "allocate", line_id, delta, actor, ("budget_line", line_id), note, kind)


def reserve(
    session: Session, line_id: int, amount: int, actor: User | None, reference: tuple[str, int]
) -> LedgerEntry:
    """Reserve ``amount`` for a voucher if the line still has it, else raise Conflict."""
    _positive(amount)
    return _apply(session, "reserve", line_id, amount, actor, reference)


def release(
    session: Session, line_id: int, amount: int, actor: User | None, reference: tuple[str, int]
) -> LedgerEntry:
    """Give back an unused reservation to the line."""
    _positive(amount)
    return _apply(session, "release", line_id, amount, actor, reference)


def spend(
    session: Session, line_id: int, amount: int, actor: User | None, reference: tuple[str, int]
) -> LedgerEntry:
    """Move ``amount`` from reserved to spent (an approved reimbursement)."""
    _positive(amount)
    return _apply(session, "spend", line_id, amount, actor, reference)


def pay(
    session: Session, line_id: int, amount: int, actor: User | None, reference: tuple[str, int]
) -> LedgerEntry:
    """Record that ``amount`` of spent money has been paid out."""
    _positive(amount)
    return _apply(session, "pay", line_id, amount, actor, reference)


def return_payment(
    session: Session, line_id: int, amount: int, actor: User | None, reference: tuple[str, int]
) -> LedgerEntry:
    """Record that the bank returned a paid transfer: a negative pay entry."""
    _positive(amount)
    return _apply(
        session, "return_payment", line_id, amount, actor, reference, "returned", None, -amount
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
