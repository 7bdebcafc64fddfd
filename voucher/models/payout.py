"""Payout (liquidazione): a batch of approved claims sent to the bank as one transfer file."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from voucher.crypto import EncryptedString
from voucher.models.base import Base, Cents, CreatedAtMixin, str_enum
from voucher.models.claim import ClaimStatus

if TYPE_CHECKING:
    from voucher.models.claim import Claim
    from voucher.models.project import Project
    from voucher.models.user import User


class PayoutStatus(enum.StrEnum):
    """open -> executed | cancelled. Only an open payout can change its lines."""

    OPEN = "open"
    EXECUTED = "executed"
    CANCELLED = "cancelled"


class Payout(CreatedAtMixin, Base):
    """Approved, unpaid claims of one project, exported as a SEPA file and a payment list."""

    __tablename__ = "payouts"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    status: Mapped[PayoutStatus] = mapped_column(
        str_enum(PayoutStatus, "status"), default=PayoutStatus.OPEN, index=True
    )
    # SEPA message id (MsgId, at most 35 characters): fixed when the payout is created, so
    # the same payout always exports the same file.
    reference: Mapped[str] = mapped_column(String(35), unique=True)
    requested_execution_date: Mapped[date]
    # The debtor (the capofila's account), copied when the payout is built: a later change
    # of the alliance's settings does not change a file already handed to the bank.
    debtor_name: Mapped[str] = mapped_column(String(70))
    debtor_iban: Mapped[str] = mapped_column(String(34))
    debtor_bic: Mapped[str | None] = mapped_column(String(11))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    executed_on: Mapped[date | None]
    bank_reference: Mapped[str] = mapped_column(String(100), default="")
    executed_at: Mapped[datetime | None]
    executed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    cancelled_at: Mapped[datetime | None]
    cancelled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    project: Mapped[Project] = relationship()
    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id])
    executed_by: Mapped[User | None] = relationship(foreign_keys=[executed_by_id])
    lines: Mapped[list[PayoutLine]] = relationship(
        back_populates="payout", order_by="PayoutLine.id", cascade="save-update, merge"
    )

    def __repr__(self) -> str:
        return f"<Payout {self.id} {self.reference} {self.status}>"


class PayoutLineStatus(enum.StrEnum):
    """pending (in an open payout) -> paid | failed | cancelled; paid -> failed (returned)."""

    PENDING = "pending"
    PAID = "paid"
    FAILED = "failed"
    CANCELLED = "cancelled"


class PayoutLine(Base):
    """One credit transfer of a payout: one claim, to the worker's IBAN."""

    __tablename__ = "payout_lines"
    __table_args__ = (
        CheckConstraint("amount_cents > 0", name="amount_positive"),
        UniqueConstraint("payout_id", "claim_id"),
        # Rule 4, in the database: a claim is in at most one open payout, and paid at most
        # once, however a payout is retried or raced.
        Index(
            "uq_payout_lines_pending_claim",
            "claim_id",
            unique=True,
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
        Index(
            "uq_payout_lines_paid_claim",
            "claim_id",
            unique=True,
            sqlite_where=text("status = 'paid'"),
            postgresql_where=text("status = 'paid'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    payout_id: Mapped[int] = mapped_column(ForeignKey("payouts.id"), index=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"), index=True)
    budget_line_id: Mapped[int] = mapped_column(ForeignKey("budget_lines.id"))
    amount_cents: Mapped[int] = mapped_column(Cents)
    # The creditor as it was when the claim entered the payout (the file must not change).
    creditor_name: Mapped[str] = mapped_column(String(70))
    creditor_iban: Mapped[str] = mapped_column(EncryptedString())
    # SEPA EndToEndId (at most 35 characters), shown on the worker's bank statement.
    end_to_end_id: Mapped[str] = mapped_column(String(35), unique=True)
    status: Mapped[PayoutLineStatus] = mapped_column(
        str_enum(PayoutLineStatus, "status"), default=PayoutLineStatus.PENDING
    )
    # The claim's decision (approved in full or in part), restored if the bank returns the
    # transfer, so the claim goes back exactly as it was for the next payout.
    claim_decision: Mapped[ClaimStatus] = mapped_column(str_enum(ClaimStatus, "claim_decision"))
    failure_reason: Mapped[str] = mapped_column(String(500), default="")
    paid_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]

    payout: Mapped[Payout] = relationship(back_populates="lines")
    claim: Mapped[Claim] = relationship()
