"""Employment declarations and dependants: what a worker's eligibility rests on."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from voucher.crypto import EncryptedBool, EncryptedString
from voucher.models.base import Base, CreatedAtMixin, str_enum

if TYPE_CHECKING:
    from voucher.models.organisation import Organisation
    from voucher.models.user import User


class EmploymentStatus(enum.StrEnum):
    AWAITING_HR = "awaiting_hr"
    CONFIRMED = "confirmed"
    DENIED = "denied"


class Employment(CreatedAtMixin, Base):
    """A worker's declaration of employment at an organisation, confirmed or denied by HR."""

    __tablename__ = "employments"
    __table_args__ = (CheckConstraint("ends_on IS NULL OR ends_on >= starts_on", name="period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    starts_on: Mapped[date]
    ends_on: Mapped[date | None]
    status: Mapped[EmploymentStatus] = mapped_column(
        str_enum(EmploymentStatus, "status"), default=EmploymentStatus.AWAITING_HR
    )
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    decision_reason: Mapped[str] = mapped_column(String(500), default="")

    worker: Mapped[User] = relationship(foreign_keys=[worker_id], back_populates="employments")
    organisation: Mapped[Organisation] = relationship()
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])


class DependantKind(enum.StrEnum):
    CHILD = "child"
    ELDERLY_RELATIVE = "elderly_relative"
    DISABLED_RELATIVE = "disabled_relative"


class Dependant(CreatedAtMixin, Base):
    """A family member a service is for. Holds the minimum the measures need."""

    __tablename__ = "dependants"

    id: Mapped[int] = mapped_column(primary_key=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[DependantKind] = mapped_column(str_enum(DependantKind, "kind"))
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    # Asked explicitly: the codice fiscale encodes the year without its century.
    birth_date: Mapped[date]
    tax_code: Mapped[str | None] = mapped_column(EncryptedString())
    relationship_label: Mapped[str] = mapped_column(String(60), default="")
    # Special-category data (GDPR art. 9): a yes/no flag only, never a diagnosis.
    has_disability: Mapped[bool] = mapped_column(EncryptedBool(), default=False)
    # Optional certificate of the disability, stored like receipts (random name, outside
    # static/); reading it is audited.
    certificate_key: Mapped[str | None] = mapped_column(String(80))
    certificate_content_type: Mapped[str | None] = mapped_column(String(50))

    worker: Mapped[User] = relationship(back_populates="dependants")
