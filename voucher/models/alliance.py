"""Alliance (Alleanza locale di conciliazione) and its partners."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from voucher.models.base import Base, CreatedAtMixin

if TYPE_CHECKING:
    from voucher.models.network import Network
    from voucher.models.organisation import Organisation
    from voucher.models.project import Project


class Alliance(CreatedAtMixin, Base):
    """A public-private partnership that runs projects; its lead must be a public body."""

    __tablename__ = "alliances"

    id: Mapped[int] = mapped_column(primary_key=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id"), index=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)

    network: Mapped[Network] = relationship(back_populates="alliances")
    lead: Mapped[Organisation] = relationship(foreign_keys=[lead_id])
    partnerships: Mapped[list[Partnership]] = relationship(
        back_populates="alliance", cascade="all, delete-orphan"
    )
    projects: Mapped[list[Project]] = relationship(
        back_populates="alliance", order_by="Project.title"
    )

    @property
    def partners(self) -> list[Organisation]:
        return sorted((p.organisation for p in self.partnerships), key=lambda o: o.name)

    def __repr__(self) -> str:
        return f"<Alliance {self.id} {self.name!r}>"


class Partnership(CreatedAtMixin, Base):
    """An organisation's membership of an alliance (ente partner)."""

    __tablename__ = "partnerships"
    __table_args__ = (UniqueConstraint("alliance_id", "organisation_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    alliance_id: Mapped[int] = mapped_column(ForeignKey("alliances.id"))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    joined_on: Mapped[date | None]

    alliance: Mapped[Alliance] = relationship(back_populates="partnerships")
    organisation: Mapped[Organisation] = relationship(back_populates="partnerships")
