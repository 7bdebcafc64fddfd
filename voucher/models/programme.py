"""Programme: a regional funding call (Piano territoriale / Avviso) with its rules."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from voucher.models.base import Base, Cents, CreatedAtMixin

if TYPE_CHECKING:
    from voucher.models.project import Project


class Programme(CreatedAtMixin, Base):
    """A funding call: its legal reference, period and the rules projects must follow."""

    __tablename__ = "programmes"
    __table_args__ = (
        CheckConstraint("ends_on >= starts_on", name="period"),
        CheckConstraint(
            "max_regional_share_pct > 0 AND max_regional_share_pct <= 100", name="share_pct"
        ),
        CheckConstraint(
            "regional_cap_cents IS NULL OR regional_cap_cents > 0", name="regional_cap"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    # The act that establishes it, e.g. "DGR n. 2398 del 11/11/2019".
    legal_reference: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    # The Region funds at most this share of a project's cost (70% in every call so far).
    max_regional_share_pct: Mapped[int] = mapped_column(default=70)
    # Some calls (DGR 5755/2021) also cap the regional contribution per project.
    regional_cap_cents: Mapped[int | None] = mapped_column(Cents)

    projects: Mapped[list[Project]] = relationship(back_populates="programme")

    def __repr__(self) -> str:
        return f"<Programme {self.id} {self.name!r}>"
