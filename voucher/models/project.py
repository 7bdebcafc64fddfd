"""Project: one alliance's funded project under a programme."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from voucher.models.base import Base, Cents, CreatedAtMixin

if TYPE_CHECKING:
    from voucher.models.alliance import Alliance
    from voucher.models.measure import Measure
    from voucher.models.programme import Programme


class Project(CreatedAtMixin, Base):
    """A funded project: period, total cost, regional share and partners' co-funding."""

    __tablename__ = "projects"
    __table_args__ = (
        CheckConstraint("ends_on >= starts_on", name="period"),
        CheckConstraint(
            "regional_share_cents >= 0 AND cofunding_cents >= 0 "
            "AND regional_share_cents + cofunding_cents = total_cents",
            name="funding_split",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    alliance_id: Mapped[int] = mapped_column(ForeignKey("alliances.id"), index=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("programmes.id"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    # The identifier the Region gave it (e.g. Bandi Online "ID Domanda").
    code: Mapped[str] = mapped_column(String(40), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    total_cents: Mapped[int] = mapped_column(Cents)
    regional_share_cents: Mapped[int] = mapped_column(Cents)
    cofunding_cents: Mapped[int] = mapped_column(Cents)

    alliance: Mapped[Alliance] = relationship(back_populates="projects")
    programme: Mapped[Programme] = relationship(back_populates="projects")
    measures: Mapped[list[Measure]] = relationship(back_populates="project", order_by="Measure.id")

    @property
    def regional_share_pct(self) -> float:
        """The Region's share of the total cost, as a percentage."""
        return 100 * self.regional_share_cents / self.total_cents if self.total_cents else 0.0

    @property
    def cofunding_pct(self) -> float:
        """The partners' co-funding of the total cost, as a percentage."""
        return 100 * self.cofunding_cents / self.total_cents if self.total_cents else 0.0

    def __repr__(self) -> str:
        return f"<Project {self.id} {self.title!r}>"
