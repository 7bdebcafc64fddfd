"""Measure: one line of a project (family voucher, time-saving service, coworking…)."""

from __future__ import annotations

import enum
from datetime import date
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from voucher.models.base import Base, Cents, CreatedAtMixin, str_enum

if TYPE_CHECKING:
    from voucher.models.budget import BudgetLine
    from voucher.models.project import Project


class MeasureKind(enum.StrEnum):
    CHILDCARE = "childcare"
    AFTER_SCHOOL = "after_school"
    SUMMER_CAMP = "summer_camp"
    HOME_CARE = "home_care"
    HOSPITAL_ASSISTANCE = "hospital_assistance"
    FAMILY_VOUCHER = "family_voucher"
    TIME_SAVING = "time_saving"
    COWORKING = "coworking"
    WELFARE_CONSULTING = "welfare_consulting"
    ORIENTATION = "orientation"


class Allocation(enum.StrEnum):
    """How applications are granted: in order while budget lasts, or by an operator."""

    FIRST_COME = "first_come"
    MANUAL = "manual"


class Eligibility(enum.StrEnum):
    """Who may apply: employees of the alliance's partners, or residents of an area."""

    PARTNER_EMPLOYEES = "partner_employees"
    RESIDENTS = "residents"


class Measure(CreatedAtMixin, Base):
    """An action of a project that workers can apply to, with its money rules."""

    __tablename__ = "measures"
    __table_args__ = (
        CheckConstraint(
            "reimbursement_rate_pct > 0 AND reimbursement_rate_pct <= 100", name="rate"
        ),
        CheckConstraint("cap_per_voucher_cents > 0", name="voucher_cap"),
        CheckConstraint(
            "cap_per_worker_year_cents IS NULL "
            "OR cap_per_worker_year_cents >= cap_per_voucher_cents",
            name="yearly_cap",
        ),
        CheckConstraint("closes_on >= opens_on", name="window"),
        CheckConstraint(
            "four_eyes_threshold_cents IS NULL OR four_eyes_threshold_cents >= 0",
            name="four_eyes",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    kind: Mapped[MeasureKind] = mapped_column(str_enum(MeasureKind, "kind"))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    # What a worker must upload, in plain words shown before applying.
    documents_required: Mapped[str] = mapped_column(Text, default="")
    eligibility: Mapped[Eligibility] = mapped_column(
        str_enum(Eligibility, "eligibility"), default=Eligibility.PARTNER_EMPLOYEES
    )
    # Municipalities whose residents may apply when eligibility is "residents".
    residence_area: Mapped[str] = mapped_column(String(500), default="")
    reimbursement_rate_pct: Mapped[int]
    cap_per_voucher_cents: Mapped[int] = mapped_column(Cents)
    cap_per_worker_year_cents: Mapped[int | None] = mapped_column(Cents)
    opens_on: Mapped[date]
    closes_on: Mapped[date]
    allocation: Mapped[Allocation] = mapped_column(
        str_enum(Allocation, "allocation"), default=Allocation.MANUAL
    )
    # Four-eyes: approving a claim above this amount needs a second operator.
    four_eyes_threshold_cents: Mapped[int | None] = mapped_column(Cents)

    project: Mapped[Project] = relationship(back_populates="measures")
    budget_line: Mapped[BudgetLine | None] = relationship(back_populates="measure")

    def is_open_on(self, day: date) -> bool:
        return self.opens_on <= day <= self.closes_on

    def __repr__(self) -> str:
        return f"<Measure {self.id} {self.title!r}>"
