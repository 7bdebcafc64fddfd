"""Application (domanda di voucher) and Voucher (an approved, reserved amount)."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from voucher.models.base import Base, Cents, CreatedAtMixin, str_enum

if TYPE_CHECKING:
    from voucher.models.budget import BudgetLine
    from voucher.models.family import Dependant, Employment
    from voucher.models.measure import Measure
    from voucher.models.user import User


class ApplicationStatus(enum.StrEnum):
    """draft -> submitted -> (awaiting_hr) -> approved | rejected | waitlisted;
    submitted / awaiting_hr / waitlisted -> withdrawn."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    AWAITING_HR = "awaiting_hr"
    APPROVED = "approved"
    REJECTED = "rejected"
    WAITLISTED = "waitlisted"
    WITHDRAWN = "withdrawn"


class Application(CreatedAtMixin, Base):
    """A worker's request for a voucher under a measure."""

    __tablename__ = "applications"
    __table_args__ = (CheckConstraint("amount_requested_cents > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    measure_id: Mapped[int] = mapped_column(ForeignKey("measures.id"), index=True)
    # The family member the service is for (none for services for the worker).
    dependant_id: Mapped[int | None] = mapped_column(ForeignKey("dependants.id"))
    # The declared employment the eligibility rests on (none for residence-based measures).
    employment_id: Mapped[int | None] = mapped_column(ForeignKey("employments.id"))
    amount_requested_cents: Mapped[int] = mapped_column(Cents)
    # What the worker tells the operator about the need (no health details asked).
    notes: Mapped[str] = mapped_column(Text, default="")
    # Where the worker declares they live, for measures open to residents of an area.
    municipality: Mapped[str] = mapped_column(String(120), default="")
    status: Mapped[ApplicationStatus] = mapped_column(
        str_enum(ApplicationStatus, "status"), default=ApplicationStatus.DRAFT, index=True
    )
    submitted_at: Mapped[datetime | None] = mapped_column(index=True)
    decided_at: Mapped[datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decision_reason: Mapped[str] = mapped_column(String(500), default="")

    worker: Mapped[User] = relationship(foreign_keys=[worker_id])
    measure: Mapped[Measure] = relationship()
    dependant: Mapped[Dependant | None] = relationship()
    employment: Mapped[Employment | None] = relationship()
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
    voucher: Mapped[Voucher | None] = relationship(back_populates="application")


class VoucherStatus(enum.StrEnum):
    """active -> exhausted | expired | revoked (the unused reservation is released)."""

    ACTIVE = "active"
    EXHAUSTED = "exhausted"
    EXPIRED = "expired"
    REVOKED = "revoked"


class Voucher(CreatedAtMixin, Base):
    """An approved application: an amount reserved on the measure's budget for a worker."""

    __tablename__ = "vouchers"
    __table_args__ = (
        CheckConstraint("amount_cents > 0", name="amount_positive"),
        CheckConstraint("used_cents >= 0 AND used_cents <= amount_cents", name="used_within"),
        CheckConstraint(
            "released_cents >= 0 AND used_cents + released_cents <= amount_cents",
            name="released_within",
        ),
        CheckConstraint("valid_until >= valid_from", name="validity"),
        CheckConstraint(
            "held_cents >= 0 AND used_cents + held_cents + released_cents <= amount_cents",
            name="held_within",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), unique=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    measure_id: Mapped[int] = mapped_column(ForeignKey("measures.id"), index=True)
    budget_line_id: Mapped[int] = mapped_column(ForeignKey("budget_lines.id"), index=True)
    # Reserved on the budget line when granted.
    amount_cents: Mapped[int] = mapped_column(Cents)
    # Approved reimbursements so far (moved from reserved to spent on the line).
    used_cents: Mapped[int] = mapped_column(Cents, default=0)
    # Given back to the budget line after the voucher ended (expired or revoked). Kept on
    # the row so that approvals and releases are guarded by one conditional UPDATE:
    # used + released never exceeds what was reserved.
    released_cents: Mapped[int] = mapped_column(Cents, default=0)
    # Voucher shares of time-saving bookings not delivered yet: still reserved on the line
    # for this voucher, but no longer available to claims or other bookings. Guarded with
    # used and released by the same conditional UPDATEs.
    held_cents: Mapped[int] = mapped_column(Cents, default=0)
    status: Mapped[VoucherStatus] = mapped_column(
        str_enum(VoucherStatus, "status"), default=VoucherStatus.ACTIVE, index=True
    )
    valid_from: Mapped[date]
    valid_until: Mapped[date]

    application: Mapped[Application] = relationship(back_populates="voucher")
    worker: Mapped[User] = relationship()
    measure: Mapped[Measure] = relationship()
    budget_line: Mapped[BudgetLine] = relationship()

    @hybrid_property
    def remaining_cents(self) -> int:
        # One definition for Python and for SQL (the dashboard selects it as a column).
        return self.amount_cents - self.used_cents - self.held_cents
