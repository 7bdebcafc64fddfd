"""Budget lines: guarded movements, ledger in step with balances, database backstops."""

from __future__ import annotations

import pytest
from sqlalchemy import text, update
from sqlalchemy.exc import DatabaseError, IntegrityError

from tests import factories
from voucher.models import BudgetLine
from voucher.services import budget
from voucher.services.errors import Conflict, ValidationFailed


@pytest.fixture
def line(db):
    measure = factories.measure(db, allocated_cents=1_000_00)
    db.commit()
    return measure.budget_line


def _check_ledger(db, line):
    db.refresh(line)
    assert budget.ledger_balances(db, line.id) == budget.line_balances(line)


def test_reserve_until_exhausted(db, line):
    for i in range(33):
        budget.reserve(db, line.id, 30_00, None, ("application", i))
    with pytest.raises(Conflict):
        budget.reserve(db, line.id, 30_00, None, ("application", 99))
    db.commit()
    db.refresh(line)
    assert line.reserved_cents == 990_00
    assert line.available_cents == 10_00
    _check_ledger(db, line)


def test_full_cycle_keeps_the_ledger_equal_to_the_balances(db, line):
    budget.reserve(db, line.id, 400_00, None, ("application", 1))
    budget.spend(db, line.id, 250_00, None, ("claim", 1))
    budget.release(db, line.id, 150_00, None, ("application", 1))
    budget.pay(db, line.id, 250_00, None, ("claim", 1))
    db.commit()
    db.refresh(line)
    assert (line.allocated_cents, line.reserved_cents, line.spent_cents, line.paid_cents) == (
        1_000_00,
        0,
        250_00,
        250_00,
    )
    _check_ledger(db, line)


def test_cannot_spend_or_release_more_than_reserved(db, line):
    budget.reserve(db, line.id, 100_00, None, ("application", 1))
    with pytest.raises(Conflict):
        budget.spend(db, line.id, 100_01, None, ("claim", 1))
    with pytest.raises(Conflict):
        budget.release(db, line.id, 100_01, None, ("application", 1))
    with pytest.raises(Conflict):
        budget.pay(db, line.id, 1, None, ("claim", 1))


def test_allocation_never_below_reserved_and_spent(db, line):
    budget.reserve(db, line.id, 800_00, None, ("application", 1))
    with pytest.raises(Conflict):
        budget.change_allocation(db, line.id, -300_00, None)
    budget.change_allocation(db, line.id, -200_00, None, "moved to another measure")
    db.commit()
    db.refresh(line)
    assert line.allocated_cents == 800_00
    _check_ledger(db, line)


@pytest.mark.parametrize("amount", [0, -5])
def test_amounts_must_be_positive(db, line, amount):
    with pytest.raises(ValidationFailed):
        budget.reserve(db, line.id, amount, None, ("application", 1))


def test_check_constraint_backs_up_the_rule(db, line):
    with pytest.raises(IntegrityError):
        db.execute(
            update(BudgetLine)
            .where(BudgetLine.id == line.id)
            .values(reserved_cents=BudgetLine.allocated_cents + 1)
        )
        db.flush()
    db.rollback()


@pytest.mark.parametrize(
    "statement",
    ["UPDATE ledger_entries SET amount_cents = 1", "DELETE FROM ledger_entries"],
)
def test_ledger_is_append_only(db, line, statement):
    with pytest.raises(DatabaseError):
        db.execute(text(statement))
    db.rollback()
