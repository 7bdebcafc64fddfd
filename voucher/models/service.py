"""Time-saving services (servizi salvatempo) that providers list, and their bookable slots."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from voucher.models.base import Base, Cents, CreatedAtMixin, str_enum

if TYPE_CHECKING:
    from voucher.models.organisation import Organisation


class ServiceKind(enum.StrEnum):
    IRONING = "ironing"  # stireria sociale
    CONCIERGE = "concierge"  # maggiordomo aziendale: errands
    PAPERWORK = "paperwork"  # disbrigo pratiche
    COWORKING = "coworking"  # a desk near home


class ServiceUnit(enum.StrEnum):
    """What the price is per: the worker books a quantity of it."""

    KG = "kg"
    HOUR = "hour"
    ERRAND = "errand"
    DAY = "day"


class Service(CreatedAtMixin, Base):
    """A service a provider organisation offers, priced per unit, bookable in slots."""

    __tablename__ = "services"
    __table_args__ = (
        CheckConstraint("price_cents > 0", name="price_positive"),
        CheckConstraint("minutes_saved_per_unit >= 0", name="minutes_saved"),
        CheckConstraint("cancellation_hours >= 0", name="cancellation_hours"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    kind: Mapped[ServiceKind] = mapped_column(str_enum(ServiceKind, "kind"))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    unit: Mapped[ServiceUnit] = mapped_column(str_enum(ServiceUnit, "unit"))
    # Price of one unit, VAT included: what the worker's booking costs per unit.
    price_cents: Mapped[int] = mapped_column(Cents)
    # Where the service is delivered or collected (address, or "at your workplace").
    place: Mapped[str] = mapped_column(String(200), default="")
    # The Region's "hours saved" indicator counts this per unit delivered.
    minutes_saved_per_unit: Mapped[int] = mapped_column(default=0)
    # A booking can be cancelled (and refunded) until this many hours before its slot.
    cancellation_hours: Mapped[int] = mapped_column(default=24)
    # The provider takes co-payments by card (Stripe); never offered for public bodies.
    accepts_card: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)

    organisation: Mapped[Organisation] = relationship()
    slots: Mapped[list[Slot]] = relationship(
        back_populates="service", order_by="Slot.starts_at", cascade="save-update, merge"
    )

    def __repr__(self) -> str:
        return f"<Service {self.id} {self.title!r}>"


class Slot(Base):
    """A time window of a service with room for ``capacity`` bookings.

    ``booked`` moves only through guarded UPDATEs (``booked = booked + 1 WHERE booked <
    capacity``), so two workers tapping at once cannot both take the last place; the CHECK
    backs it up.
    """

    __tablename__ = "service_slots"
    __table_args__ = (
        CheckConstraint("capacity > 0", name="capacity_positive"),
        CheckConstraint("booked >= 0 AND booked <= capacity", name="booked_within"),
        CheckConstraint("ends_at > starts_at", name="period"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"), index=True)
    starts_at: Mapped[datetime] = mapped_column(index=True)
    ends_at: Mapped[datetime]
    capacity: Mapped[int]
    booked: Mapped[int] = mapped_column(default=0)

    service: Mapped[Service] = relationship(back_populates="slots")

    @property
    def free(self) -> int:
        return self.capacity - self.booked

    def __repr__(self) -> str:
        return f"<Slot {self.id} of service {self.service_id} at {self.starts_at}>"
