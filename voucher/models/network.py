"""Network: the territorial work-life balance network that one ATS leads."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from voucher.models.base import Base, CreatedAtMixin

if TYPE_CHECKING:
    from voucher.models.alliance import Alliance


class Network(CreatedAtMixin, Base):
    """Rete territoriale di conciliazione, one per ATS (Agenzia di Tutela della Salute)."""

    __tablename__ = "networks"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    # The ATS that leads the network, e.g. "ATS dell'Insubria".
    ats_name: Mapped[str] = mapped_column(String(200))
    territory: Mapped[str] = mapped_column(String(200), default="")

    alliances: Mapped[list[Alliance]] = relationship(
        back_populates="network", order_by="Alliance.name"
    )

    def __repr__(self) -> str:
        return f"<Network {self.id} {self.name!r}>"
