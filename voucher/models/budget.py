"""BudgetLine (money allocated to a measure) and its append-only LedgerEntry."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import DDL, CheckConstraint, ForeignKey, String, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from voucher.models.base import Base, Cents, str_enum, utcnow

if TYPE_CHECKING:
    from voucher.models.measure import Measure
    from voucher.models.user import User


class BudgetLine(Base):
    """Balances of one measure's budget, kept in step with its ledger.

    ``reserved + spent <= allocated`` is enforced by a CHECK constraint and by the
    conditional UPDATEs in ``voucher.services.budget``.
    """

    __tablename__ = "budget_lines"
    __table_args__ = (
        CheckConstraint(
            "allocated_cents >= 0 AND reserved_cents >= 0 AND spent_cents >= 0 AND paid_cents >= 0",
            name="non_negative",
        ),
        CheckConstraint(
            "reserved_cents + spent_cents <= allocated_cents", name="within_allocation"
        ),
        CheckConstraint("paid_cents <= spent_cents", name="paid_within_spent"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    measure_id: Mapped[int] = mapped_column(ForeignKey("measures.id"), unique=True)
    allocated_cents: Mapped[int] = mapped_column(Cents, default=0)
    reserved_cents: Mapped[int] = mapped_column(Cents, default=0)
    spent_cents: Mapped[int] = mapped_column(Cents, default=0)
    paid_cents: Mapped[int] = mapped_column(Cents, default=0)

    measure: Mapped[Measure] = relationship(back_populates="budget_line")

    @property
    def available_cents(self) -> int:
        return self.allocated_cents - self.reserved_cents - self.spent_cents


class LedgerKind(enum.StrEnum):
    """Every movement of money on a budget line.

    allocate/adjust change ``allocated`` (adjust may be negative); reserve and release
    move money in and out of ``reserved``; spend moves it from reserved to ``spent``;
    pay records that spent money left the bank, and a negative pay that the bank returned
    a transfer (so the paid balance is always the sum of the pay entries).
    """

    ALLOCATE = "allocate"
    ADJUST = "adjust"
    RESERVE = "reserve"
    RELEASE = "release"
    SPEND = "spend"
    PAY = "pay"


class LedgerEntry(Base):
    """One immutable movement on a budget line."""

    __tablename__ = "ledger_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    budget_line_id: Mapped[int] = mapped_column(ForeignKey("budget_lines.id"), index=True)
    kind: Mapped[LedgerKind] = mapped_column(str_enum(LedgerKind, "kind"))
    amount_cents: Mapped[int] = mapped_column(Cents)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # What caused it (e.g. "application", 42) so a balance can be explained line by line.
    reference_type: Mapped[str] = mapped_column(String(40), default="")
    reference_id: Mapped[int | None]
    note: Mapped[str] = mapped_column(String(500), default="")

    budget_line: Mapped[BudgetLine] = relationship()
    actor: Mapped[User | None] = relationship()


# The ledger is append-only at the database level too, so that neither a bug nor a
# hand-written UPDATE can rewrite history. The migration creates the same triggers.
LEDGER_APPEND_ONLY_DDL = {
    "sqlite": [
        "CREATE TRIGGER ledger_entries_no_update BEFORE UPDATE ON ledger_entries "
        "BEGIN SELECT RAISE(ABORT, 'ledger_entries is append-only'); END",
        "CREATE TRIGGER ledger_entries_no_delete BEFORE DELETE ON ledger_entries "
        "BEGIN SELECT RAISE(ABORT, 'ledger_entries is append-only'); END",
    ],
    "postgresql": [
        "CREATE OR REPLACE FUNCTION ledger_entries_append_only() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN "
        "RAISE EXCEPTION 'ledger_entries is append-only'; END $$",
        "CREATE TRIGGER ledger_entries_no_change BEFORE UPDATE OR DELETE ON ledger_entries "
        "FOR EACH ROW EXECUTE FUNCTION ledger_entries_append_only()",
    ],
}

for _dialect, _statements in LEDGER_APPEND_ONLY_DDL.items():
    for _statement in _statements:
        event.listen(
            LedgerEntry.__table__,
            "after_create",
            DDL(_statement).execute_if(dialect=_dialect),
        )
