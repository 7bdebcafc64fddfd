"""Claim (richiesta di rimborso) and Receipt (giustificativo di spesa)."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, query_expression, relationship

from voucher.models.base import Base, Cents, CreatedAtMixin, str_enum

if TYPE_CHECKING:
    from voucher.models.application import Voucher
    from voucher.models.user import User


class ClaimStatus(enum.StrEnum):
    """draft -> submitted -> approved | partially_approved | rejected | needs_info;
    needs_info -> submitted; approved | partially_approved -> paid."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    PARTIALLY_APPROVED = "partially_approved"
    REJECTED = "rejected"
    NEEDS_INFO = "needs_info"
    PAID = "paid"


class Claim(CreatedAtMixin, Base):
    """A request to be reimbursed against a voucher, backed by receipts."""

    __tablename__ = "claims"
    __table_args__ = (
        CheckConstraint(
            "requested_cents >= 0 AND (approved_cents IS NULL OR approved_cents >= 0)",
            name="amounts",
        ),
        # At most one request being prepared per voucher, even if two taps race.
        Index(
            "uq_claims_open_per_voucher",
            "voucher_id",
            unique=True,
            sqlite_where=text("status IN ('draft', 'needs_info')"),
            postgresql_where=text("status IN ('draft', 'needs_info')"),
        ),
        # The review queue reads the requests to review oldest first, one page at a time
        # (voucher.services.review.queue_page).
        Index("ix_claims_status_submitted_at", "status", "submitted_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    voucher_id: Mapped[int] = mapped_column(ForeignKey("vouchers.id"), index=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[ClaimStatus] = mapped_column(
        str_enum(ClaimStatus, "status"), default=ClaimStatus.DRAFT, index=True
    )
    # Reimbursable amount computed when submitted: rate x eligible receipts, within the
    # voucher's remaining amount.
    requested_cents: Mapped[int] = mapped_column(Cents, default=0)
    approved_cents: Mapped[int | None] = mapped_column(Cents)
    # The operator's message (reason of a rejection, what information is missing).
    operator_message: Mapped[str] = mapped_column(Text, default="")
    submitted_at: Mapped[datetime | None] = mapped_column(index=True)
    decided_at: Mapped[datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    paid_at: Mapped[datetime | None]
    # Four-eyes: the first operator's proposed decision, waiting for a second operator.
    first_review_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    first_review_at: Mapped[datetime | None]
    first_review_cents: Mapped[int | None] = mapped_column(Cents)

    voucher: Mapped[Voucher] = relationship()
    worker: Mapped[User] = relationship(foreign_keys=[worker_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
    first_review_by: Mapped[User | None] = relationship(foreign_keys=[first_review_by_id])
    receipts: Mapped[list[Receipt]] = relationship(
        back_populates="claim", order_by="Receipt.id", cascade="save-update, merge"
    )
    # Not a column: what the voucher's other requests awaiting a decision ask for, when the
    # query that loaded the claim computed it (``with_expression``, see
    # voucher.services.claims.requested_elsewhere); None otherwise.
    requested_elsewhere_cents: Mapped[int | None] = query_expression()


class ReceiptStatus(enum.StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class Receipt(CreatedAtMixin, Base):
    """An uploaded invoice or receipt (photo or PDF) with what the worker read on it."""

    __tablename__ = "receipts"
    __table_args__ = (CheckConstraint("amount_cents > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"), index=True)
    # Random name under the upload folder (outside static/); never the user's file name.
    storage_key: Mapped[str] = mapped_column(String(80), unique=True)
    thumbnail_key: Mapped[str | None] = mapped_column(String(80))
    original_filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(50))
    size_bytes: Mapped[int]
    # SHA-256 of the file as uploaded: the same file cannot be claimed twice.
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    supplier_name: Mapped[str] = mapped_column(String(200))
    supplier_vat: Mapped[str] = mapped_column(String(11), index=True)
    document_number: Mapped[str] = mapped_column(String(50))
    issued_on: Mapped[date]
    amount_cents: Mapped[int] = mapped_column(Cents)
    status: Mapped[ReceiptStatus] = mapped_column(
        str_enum(ReceiptStatus, "status"), default=ReceiptStatus.PENDING
    )
    rejection_reason: Mapped[str] = mapped_column(String(500), default="")

    claim: Mapped[Claim] = relationship(back_populates="receipts")
