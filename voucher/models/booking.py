"""Bookings of time-saving services, providers' monthly statements and Stripe events."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from voucher.models.base import Base, Cents, CreatedAtMixin, str_enum, utcnow

if TYPE_CHECKING:
    from voucher.models.alliance import Alliance
    from voucher.models.application import Voucher
    from voucher.models.organisation import Organisation
    from voucher.models.service import Service, Slot
    from voucher.models.user import User


class BookingStatus(enum.StrEnum):
    """requested -> confirmed (co-payment paid, if any) -> delivered -> settled;
    requested / confirmed -> cancelled (refund)."""

    REQUESTED = "requested"
    CONFIRMED = "confirmed"
    DELIVERED = "delivered"
    SETTLED = "settled"
    CANCELLED = "cancelled"


class PaymentStatus(enum.StrEnum):
    """The worker's co-payment.

    not_required: the voucher covers everything. at_provider: card payment is not offered
    (no Stripe keys, a public body, or a provider that takes no cards), so the worker pays
    the provider on delivery. pending -> paid by card through Stripe Checkout, or expired
    (the payment page expired or the booking was cancelled before paying). paid ->
    refund_pending -> refunded when a paid booking is cancelled.
    """

    NOT_REQUIRED = "not_required"
    AT_PROVIDER = "at_provider"
    PENDING = "pending"
    EXPIRED = "expired"
    PAID = "paid"
    REFUND_PENDING = "refund_pending"
    REFUNDED = "refunded"


class Booking(CreatedAtMixin, Base):
    """A worker's booking of a slot: part paid by a voucher, the rest by the worker."""

    __tablename__ = "bookings"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("unit_price_cents > 0", name="unit_price_positive"),
        CheckConstraint("total_cents = unit_price_cents * quantity", name="total"),
        CheckConstraint(
            "voucher_cents > 0 AND copay_cents >= 0 AND voucher_cents + copay_cents = total_cents",
            name="split",
        ),
        # One live booking per worker and slot, even if two taps race.
        Index(
            "uq_bookings_live_per_slot",
            "slot_id",
            "worker_id",
            unique=True,
            sqlite_where=text("status IN ('requested', 'confirmed')"),
            postgresql_where=text("status IN ('requested', 'confirmed')"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slot_id: Mapped[int] = mapped_column(ForeignKey("service_slots.id"), index=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"), index=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    voucher_id: Mapped[int] = mapped_column(ForeignKey("vouchers.id"), index=True)
    quantity: Mapped[int]
    # The service's price when booked: a later price change does not touch the booking.
    unit_price_cents: Mapped[int] = mapped_column(Cents)
    total_cents: Mapped[int] = mapped_column(Cents)
    # The voucher's share (held on the voucher until delivery) and the worker's co-payment.
    voucher_cents: Mapped[int] = mapped_column(Cents)
    copay_cents: Mapped[int] = mapped_column(Cents)
    status: Mapped[BookingStatus] = mapped_column(
        str_enum(BookingStatus, "status"), default=BookingStatus.REQUESTED, index=True
    )
    payment_status: Mapped[PaymentStatus] = mapped_column(
        str_enum(PaymentStatus, "payment_status"), default=PaymentStatus.NOT_REQUIRED, index=True
    )
    stripe_checkout_session_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    # The hosted payment page, so the worker can come back to it until it expires.
    stripe_checkout_url: Mapped[str | None] = mapped_column(Text)
    stripe_payment_intent_id: Mapped[str | None] = mapped_column(String(255), index=True)
    stripe_refund_id: Mapped[str | None] = mapped_column(String(255))
    # Set once when the refund is first due; every retry sends the same key to Stripe.
    refund_idempotency_key: Mapped[str | None] = mapped_column(String(100))
    confirmed_at: Mapped[datetime | None]
    paid_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None] = mapped_column(index=True)
    delivered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    cancelled_at: Mapped[datetime | None]
    cancelled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    cancel_reason: Mapped[str] = mapped_column(String(500), default="")
    refunded_at: Mapped[datetime | None]
    settled_at: Mapped[datetime | None]
    statement_id: Mapped[int | None] = mapped_column(
        ForeignKey("provider_statements.id"), index=True
    )

    slot: Mapped[Slot] = relationship()
    service: Mapped[Service] = relationship()
    worker: Mapped[User] = relationship(foreign_keys=[worker_id])
    voucher: Mapped[Voucher] = relationship()
    delivered_by: Mapped[User | None] = relationship(foreign_keys=[delivered_by_id])
    cancelled_by: Mapped[User | None] = relationship(foreign_keys=[cancelled_by_id])
    statement: Mapped[ProviderStatement | None] = relationship(back_populates="bookings")

    def __repr__(self) -> str:
        return f"<Booking {self.id} {self.status.value}/{self.payment_status.value}>"


class StatementStatus(enum.StrEnum):
    """issued -> paid (the alliance paid the provider the voucher shares)."""

    ISSUED = "issued"
    PAID = "paid"


class ProviderStatement(CreatedAtMixin, Base):
    """What an alliance owes a provider for one month's delivered bookings (voucher shares)."""

    __tablename__ = "provider_statements"
    __table_args__ = (
        UniqueConstraint("organisation_id", "alliance_id", "month"),
        CheckConstraint("total_cents > 0 AND booking_count > 0", name="not_empty"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    alliance_id: Mapped[int] = mapped_column(ForeignKey("alliances.id"), index=True)
    # The first day of the month of delivery (Europe/Rome).
    month: Mapped[date]
    total_cents: Mapped[int] = mapped_column(Cents)
    booking_count: Mapped[int]
    status: Mapped[StatementStatus] = mapped_column(
        str_enum(StatementStatus, "status"), default=StatementStatus.ISSUED, index=True
    )
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    paid_at: Mapped[datetime | None]
    paid_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    organisation: Mapped[Organisation] = relationship()
    alliance: Mapped[Alliance] = relationship()
    issued_by: Mapped[User | None] = relationship(foreign_keys=[issued_by_id])
    paid_by: Mapped[User | None] = relationship(foreign_keys=[paid_by_id])
    bookings: Mapped[list[Booking]] = relationship(
        back_populates="statement", order_by="Booking.delivered_at, Booking.id"
    )


class StripeEvent(Base):
    """A Stripe webhook event already processed.

    Inserted in the same transaction as the event's effect: a second delivery of the same
    event (even a concurrent one) hits the primary key and changes nothing.
    """

    __tablename__ = "stripe_events"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(100))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    booking_id: Mapped[int | None] = mapped_column(ForeignKey("bookings.id"), index=True)
