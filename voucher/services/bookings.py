"""Bookings of time-saving services: book, pay, cancel and refund, deliver, settle.

State machine (DESIGN §3): requested -> confirmed (co-payment paid, if any) -> delivered ->
settled; requested / confirmed -> cancelled (refund). Beside it, the co-payment's own status
(``PaymentStatus``): pending -> paid | expired; paid -> refund_pending -> refunded.

Money. A voucher's amount is reserved on its budget line when granted. A booking *holds*
the voucher's share on the voucher (``Voucher.held_cents``, a guarded UPDATE), so claims and
other bookings cannot take it too; cancelling gives the hold back to the voucher; delivery
turns it into used money and spends it on the line (``budget.spend``); the alliance paying
the provider's monthly statement records the payment (``budget.pay``) and settles the
bookings. A slot's places move with the same kind of guarded UPDATE.

Payment. With a co-payment and card payment offered (``payments.card_offered``) the booking
waits, requested, until Stripe's ``checkout.session.completed`` webhook says it is paid:
the return page after paying never confirms anything. Without card payment the booking is
confirmed at once and the worker pays the provider on delivery (``at_provider``).

Refunds. Cancelling a paid booking makes the refund due (``refund_pending``) in the same
transaction as the cancellation; :func:`complete_refund`, called after the commit, asks
Stripe with an idempotency key fixed when the refund became due. A timeout leaves it due,
and a retry (or the refund's own webhook) completes it, never twice.

Webhook events (:func:`handle_stripe_event`) are applied once: the event's id is inserted
in the same transaction as its effect. Events may come in any order; each handler looks at
the booking's current state and ends where the full story would have.

Callers commit, or roll back on any ServiceError.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask_babel import LazyString, format_date, format_datetime
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, contains_eager, joinedload, selectinload

from voucher.i18n import format_money
from voucher.models import (
    Alliance,
    Application,
    Booking,
    BookingStatus,
    Claim,
    ClaimStatus,
    Employment,
    Measure,
    MeasureKind,
    Organisation,
    Partnership,
    PaymentStatus,
    Project,
    ProviderStatement,
    Role,
    Service,
    ServiceKind,
    Slot,
    StatementStatus,
    StripeEvent,
    User,
    Voucher,
    VoucherStatus,
)
from voucher.models.base import utcnow
from voucher.services import audit, budget, claims, expiry, waitlist
from voucher.services.access import visible
from voucher.services.clock import ROME
from voucher.services.errors import Conflict, IllegalTransition, ValidationFailed
from voucher.services.notifications import notify
from voucher.services.payments import CHECKOUT_MINUTES, PaymentError, PaymentGateway
from voucher.services.transitions import compare_and_set, require_status

B = BookingStatus
P = PaymentStatus

# Which measures pay for which services: coworking desks come from coworking measures,
# everything else from time-saving ones.
MEASURE_OF_SERVICE = {
    ServiceKind.IRONING: MeasureKind.TIME_SAVING,
    ServiceKind.CONCIERGE: MeasureKind.TIME_SAVING,
    ServiceKind.PAPERWORK: MeasureKind.TIME_SAVING,
    ServiceKind.COWORKING: MeasureKind.COWORKING,
}
BOOKING_MEASURE_KINDS = (MeasureKind.TIME_SAVING, MeasureKind.COWORKING)
MAX_QUANTITY = 50
MAX_REASON = 500
LIVE = (B.REQUESTED, B.CONFIRMED)

STATUS_LABELS = {
    B.REQUESTED: _l("Waiting for payment"),
    B.CONFIRMED: _l("Confirmed"),
    B.DELIVERED: _l("Delivered"),
    B.SETTLED: _l("Delivered and settled"),
    B.CANCELLED: _l("Cancelled"),
}
PAYMENT_LABELS = {
    P.NOT_REQUIRED: _l("Nothing to pay: the voucher covers it all"),
    P.AT_PROVIDER: _l("To pay to the provider on delivery"),
    P.PENDING: _l("Card payment not received yet"),
    P.EXPIRED: _l("Not paid"),
    P.PAID: _l("Paid by card"),
    P.REFUND_PENDING: _l("Refund in progress"),
    P.REFUNDED: _l("Refunded"),
}
STATEMENT_LABELS = {
    StatementStatus.ISSUED: _l("Issued, to be paid"),
    StatementStatus.PAID: _l("Paid"),
}


def as_utc(value: datetime) -> datetime:
    """A stored timestamp as aware UTC (SQLite gives it back without its time zone)."""
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def _when(value: datetime) -> LazyString:
    """A moment formatted in the reader's locale and time zone when the message is shown."""
    return LazyString(format_datetime, as_utc(value), "medium")


# --- what a worker can book -------------------------------------------------------------


def usable_vouchers(session: Session, worker: User, today: date, *where: Any) -> list[Voucher]:
    """The worker's vouchers that can pay for time-saving services or coworking today.

    One query, with what ``claims.voucher_refusal`` and the pages read of each voucher;
    ``where`` narrows it further (a kind of measure, an alliance…).
    """
    found = session.scalars(
        select(Voucher)
        .join(Measure, Voucher.measure_id == Measure.id)
        .join(Project, Measure.project_id == Project.id)
        .where(
            Voucher.worker_id == worker.id,
            Voucher.status == VoucherStatus.ACTIVE,
            Voucher.valid_from <= today,
            Voucher.valid_until >= today,
            Measure.kind.in_(BOOKING_MEASURE_KINDS),
            *where,
        )
        .options(
            joinedload(Voucher.measure).joinedload(Measure.project),
            joinedload(Voucher.application)
            .joinedload(Application.employment)
            .joinedload(Employment.organisation),
        )
        .order_by(Voucher.valid_until, Voucher.id)
    ).all()
    return [v for v in found if claims.voucher_refusal(v, today) is None]


@dataclass(frozen=True)
class ServiceOption:
    """A service the worker can book, with the vouchers that can pay for it."""

    service: Service
    vouchers: list[Voucher]


def services_for(session: Session, worker: User, today: date) -> list[ServiceOption]:
    """Active services of partner providers that the worker's vouchers can pay for.

    A voucher pays for a service of its kind (``MEASURE_OF_SERVICE``) from a partner of
    its project's alliance. Two queries: the vouchers, then the services with the
    alliances their providers are partners of.
    """
    vouchers = usable_vouchers(session, worker, today)
    if not vouchers:
        return []
    rows = session.execute(
        select(Service, Partnership.alliance_id)
        .join(Partnership, Partnership.organisation_id == Service.organisation_id)
        .where(
            Service.active.is_(True),
            Partnership.alliance_id.in_({v.measure.project.alliance_id for v in vouchers}),
        )
        .options(joinedload(Service.organisation))
        .order_by(Service.title, Service.id)
    ).all()
    alliances: dict[Service, set[int]] = {}
    for service, alliance_id in rows:
        alliances.setdefault(service, set()).add(alliance_id)
    options = []
    for service, partner_of in alliances.items():
        fitting = [
            v
            for v in vouchers
            if v.measure.kind is MEASURE_OF_SERVICE[service.kind]
            and v.measure.project.alliance_id in partner_of
        ]
        if fitting:
            options.append(ServiceOption(service, fitting))
    return options


def vouchers_for_service(
    session: Session, worker: User, service: Service, today: date
) -> list[Voucher]:
    """The worker's vouchers that can pay for ``service`` today (empty: not bookable)."""
    if not service.active:
        return []
    return usable_vouchers(
        session,
        worker,
        today,
        Measure.kind == MEASURE_OF_SERVICE[service.kind],
        Project.alliance_id.in_(
            select(Partnership.alliance_id).where(
                Partnership.organisation_id == service.organisation_id
            )
        ),
    )


def open_slots(session: Session, service: Service, now: datetime, limit: int = 60) -> list[Slot]:
    """The service's slots that start later and still have room, soonest first."""
    return list(
        session.scalars(
            select(Slot)
            .where(
                Slot.service_id == service.id,
                Slot.starts_at > now,
                Slot.booked < Slot.capacity,
            )
            .order_by(Slot.starts_at, Slot.id)
            .limit(limit)
        ).all()
    )


@dataclass(frozen=True)
class Quote:
    """How a booking's price splits between the voucher and the worker."""

    total_cents: int
    voucher_cents: int
    copay_cents: int
    rate_pct: int


def _claims_waiting_cents(session: Session, voucher: Voucher) -> int:
    """What the voucher's reimbursement requests awaiting a decision ask for."""
    return int(
        session.scalar(
            select(func.coalesce(func.sum(Claim.requested_cents), 0)).where(
                Claim.voucher_id == voucher.id, Claim.status == ClaimStatus.SUBMITTED
            )
        )
    )


def quote(session: Session, voucher: Voucher, service: Service, quantity: int) -> Quote:
    """The measure's rate of the price, floored to the cent, within what the voucher has left.

    Requests for reimbursement already sent on the voucher keep what they ask for, as two
    requests do between themselves (``claims.reimbursable_cents``).
    """
    total = service.price_cents * quantity
    rate = voucher.measure.reimbursement_rate_pct
    available = voucher.remaining_cents - _claims_waiting_cents(session, voucher)
    share = max(0, min(total * rate // 100, available))
    return Quote(total, share, total - share, rate)


def cancel_deadline(booking: Booking) -> datetime:
    """Until when the worker may cancel (and be refunded): hours before the slot starts."""
    return as_utc(booking.slot.starts_at) - timedelta(hours=booking.service.cancellation_hours)


def worker_can_cancel(booking: Booking, now: datetime) -> bool:
    """Whether the worker may still cancel the booking themselves."""
    return booking.status in LIVE and now < cancel_deadline(booking)


# --- booking ----------------------------------------------------------------------------


def book(
    session: Session,
    worker: User,
    slot: Slot,
    voucher: Voucher,
    quantity: Any,
    *,
    card: bool,
    now: datetime,
) -> Booking:
    """Book a place in ``slot`` for ``quantity`` units, holding the voucher's share.

    ``card``: whether the co-payment will be paid by card (``payments.card_offered``). If
    so, the booking waits for the payment; otherwise it is confirmed at once.
    """
    service = slot.service
    if voucher.worker_id != worker.id:
        raise IllegalTransition(_l("This voucher is not yours."))
    if not isinstance(quantity, int) or not 1 <= quantity <= MAX_QUANTITY:
        raise ValidationFailed.single(
            "quantity", _l("Enter a quantity from 1 to %(max)d.", max=MAX_QUANTITY)
        )
    today = now.astimezone(ROME).date()
    refusal = claims.voucher_refusal(voucher, today)
    if refusal is not None:
        raise IllegalTransition(refusal)
    if voucher not in vouchers_for_service(session, worker, service, today):
        raise IllegalTransition(_l("This voucher cannot pay for this service."))
    starts_at = as_utc(slot.starts_at)
    if starts_at <= now:
        raise IllegalTransition(_l("This slot has already started: choose a later one."))
    if not voucher.valid_from <= starts_at.astimezone(ROME).date() <= voucher.valid_until:
        raise IllegalTransition(
            _l(
                "This slot is outside the voucher's validity, from %(start)s to %(end)s.",
                start=claims._day(voucher.valid_from),
                end=claims._day(voucher.valid_until),
            )
        )
    split = quote(session, voucher, service, quantity)
    if split.voucher_cents <= 0:
        raise IllegalTransition(_l("There is nothing left on this voucher to pay for a booking."))
    _take_place(session, slot)
    _hold(session, voucher, split.voucher_cents)

    if split.copay_cents == 0:
        status, payment = B.CONFIRMED, P.NOT_REQUIRED
    elif card:
        status, payment = B.REQUESTED, P.PENDING
    else:
        status, payment = B.CONFIRMED, P.AT_PROVIDER
    booking = Booking(
        slot=slot,
        service=service,
        worker=worker,
        voucher=voucher,
        quantity=quantity,
        unit_price_cents=service.price_cents,
        total_cents=split.total_cents,
        voucher_cents=split.voucher_cents,
        copay_cents=split.copay_cents,
        status=status,
        payment_status=payment,
        confirmed_at=now if status is B.CONFIRMED else None,
    )
    try:
        # One live booking per worker and slot (a unique index): a second tap is refused.
        with session.begin_nested():
            session.add(booking)
            session.flush()
    except IntegrityError:
        raise Conflict(_l("You have already booked this slot.")) from None
    audit.record(
        session,
        "booking.create",
        booking,
        worker,
        slot_id=slot.id,
        voucher_id=voucher.id,
        quantity=quantity,
        total_cents=split.total_cents,
        voucher_cents=split.voucher_cents,
        copay_cents=split.copay_cents,
        payment_status=payment.value,
    )
    if status is B.CONFIRMED:
        _notify_confirmed(session, booking)
    return booking


def _take_place(session: Session, slot: Slot) -> None:
    """One place fewer in the slot, if one is left (a guarded UPDATE)."""
    taken = compare_and_set(session, slot, Slot.booked < Slot.capacity, booked=Slot.booked + 1)
    _refresh(session, slot, "booked")
    if not taken:
        raise Conflict(_l("This slot has just been fully booked: choose another one."))


def _give_back_place(session: Session, slot: Slot) -> None:
    """One place more in the slot (a cancelled booking)."""
    if not compare_and_set(session, slot, Slot.booked > 0, booked=Slot.booked - 1):
        raise Conflict(_l("The slot's bookings changed meanwhile: reload the page."))
    _refresh(session, slot, "booked")


def _refresh(session: Session, entity: Any, *names: str) -> None:
    """Re-read columns an UPDATE computed in SQL (``booked + 1``), not the expression."""
    session.refresh(entity, list(names))


def _hold(session: Session, voucher: Voucher, amount: int) -> None:
    """Hold ``amount`` of the voucher for a booking, never beyond what it has left."""
    held = compare_and_set(
        session,
        voucher,
        Voucher.status == VoucherStatus.ACTIVE,
        Voucher.used_cents + Voucher.held_cents + Voucher.released_cents + amount
        <= Voucher.amount_cents,
        held_cents=Voucher.held_cents + amount,
    )
    _refresh(session, voucher, "held_cents", "used_cents", "released_cents", "status")
    if not held:
        raise Conflict(
            _l("The voucher no longer has this amount left (it was used meanwhile): reload.")
        )


def _unhold(session: Session, voucher: Voucher, amount: int) -> None:
    """Give a booking's share back to the voucher."""
    released = compare_and_set(
        session, voucher, Voucher.held_cents >= amount, held_cents=Voucher.held_cents - amount
    )
    _refresh(session, voucher, "held_cents", "used_cents", "released_cents", "status")
    if not released:
        raise Conflict(_l("The voucher changed meanwhile: reload the page."))


# --- card payment -----------------------------------------------------------------------


def start_checkout(
    session: Session,
    booking: Booking,
    gateway: PaymentGateway,
    success_url: str,
    cancel_url: str,
) -> str:
    """The Stripe payment page of a booking waiting for its co-payment (opened once)."""
    require_status(booking, (B.REQUESTED,), _l("This booking is not waiting for a payment."))
    if booking.payment_status is not P.PENDING:
        raise IllegalTransition(_l("This booking is not waiting for a payment."))
    if booking.stripe_checkout_url:
        return booking.stripe_checkout_url
    # The gateway sends one idempotency key per booking: asking again after a timeout
    # gives back the same page, not a second one.
    session_id, url = gateway.create_checkout_session(booking, success_url, cancel_url)
    if not compare_and_set(
        session,
        booking,
        Booking.status == B.REQUESTED,
        Booking.stripe_checkout_session_id.is_(None),
        stripe_checkout_session_id=session_id,
        stripe_checkout_url=url,
    ):
        session.refresh(booking)
        if booking.stripe_checkout_session_id != session_id or not booking.stripe_checkout_url:
            raise Conflict(_l("The booking changed meanwhile: reload the page."))
        return booking.stripe_checkout_url
    audit.record(session, "booking.checkout", booking, booking.worker, checkout_session=session_id)
    return url


# --- cancelling and refunds -------------------------------------------------------------


def cancel(
    session: Session,
    booking: Booking,
    actor: User,
    reason: str,
    now: datetime,
    gateway: PaymentGateway | None = None,
) -> Booking:
    """Cancel a requested or confirmed booking: the place and the voucher's share go back.

    The worker may cancel until the deadline before the slot; the provider at any time
    before delivery, saying why. A paid co-payment becomes a due refund, sent to Stripe by
    :func:`complete_refund` after the caller commits.
    """
    reason = (reason or "").strip()
    if len(reason) > MAX_REASON:
        raise ValidationFailed.single("reason", _l("At most %(count)d characters.", count=500))
    by_worker = actor.id == booking.worker_id
    if not by_worker and not _is_provider_of(actor, booking.service):
        raise IllegalTransition(_l("Only the worker or the provider can cancel this booking."))
    require_status(booking, LIVE, _l("Only a booking not yet delivered can be cancelled."))
    if by_worker and not now < cancel_deadline(booking):
        raise IllegalTransition(
            _l(
                "Bookings of this service can be cancelled until %(hours)d hours before the "
                "slot: contact the provider.",
                hours=booking.service.cancellation_hours,
            )
        )
    if not by_worker and not reason:
        raise ValidationFailed.single("reason", _l("Say why the booking is cancelled."))
    payment = booking.payment_status
    after = {P.PAID: P.REFUND_PENDING, P.PENDING: P.EXPIRED}.get(payment, payment)
    values: dict[str, Any] = {
        "status": B.CANCELLED,
        "payment_status": after,
        "cancelled_at": now,
        "cancelled_by_id": actor.id,
        "cancel_reason": reason,
    }
    if after is P.REFUND_PENDING:
        values["refund_idempotency_key"] = _refund_key(booking)
    # The payment status is part of the guard: a payment confirmed by the webhook a moment
    # ago makes this cancellation retry with the booking as it is now.
    if not compare_and_set(
        session,
        booking,
        Booking.status.in_(LIVE),
        Booking.payment_status == payment,
        **values,
    ):
        session.refresh(booking)
        raise Conflict(_l("The booking changed meanwhile: reload the page and try again."))
    _release(session, booking, actor)
    audit.record(
        session,
        "booking.cancel",
        booking,
        actor,
        reason=reason,
        payment_status=after.value,
        refund_due_cents=booking.copay_cents if after is P.REFUND_PENDING else 0,
    )
    if payment is P.PENDING and booking.stripe_checkout_session_id and gateway is not None:
        # Close the payment page so that it cannot be paid any more. Best effort: if it was
        # paid meanwhile, the completed event refunds the payment.
        with contextlib.suppress(PaymentError):
            gateway.expire_checkout_session(booking.stripe_checkout_session_id)
    _notify_cancelled(session, booking, by_worker)
    return booking


def _refund_key(booking: Booking) -> str:
    return f"booking-{booking.id}-refund"


def _release(session: Session, booking: Booking, actor: User | None) -> None:
    """Give back the slot's place and the voucher's share of a cancelled booking."""
    _give_back_place(session, booking.slot)
    voucher = booking.voucher
    _unhold(session, voucher, booking.voucher_cents)
    if voucher.status in expiry.ENDED:
        # The voucher ended while the booking held part of it: that part goes back to the
        # budget line now, and the measure's waiting list moves.
        released = expiry.release_unused(session, voucher, actor)
        if released:
            audit.record(session, "voucher.release", voucher, actor, released_cents=released)
            waitlist.promote(session, voucher.measure)


def complete_refund(session: Session, booking: Booking, gateway: PaymentGateway | None) -> bool:
    """Send a due refund to Stripe (the same key on every try); True once it is refunded.

    On a timeout or an error the refund stays due, for a retry (``retry_refunds``) or the
    refund's webhook to complete. The caller commits either way.
    """
    if booking.payment_status is P.REFUNDED:
        return True
    if booking.payment_status is not P.REFUND_PENDING or gateway is None:
        return False
    key = booking.refund_idempotency_key or _refund_key(booking)
    try:
        refund_id = gateway.refund(booking.stripe_payment_intent_id or "", booking.copay_cents, key)
    except PaymentError as exc:
        audit.record(session, "booking.refund_failed", booking, None, error=str(exc)[:300])
        return False
    _mark_refunded(session, booking, refund_id)
    return True


def _mark_refunded(session: Session, booking: Booking, refund_id: str | None) -> bool:
    """refund_pending -> refunded (once, whoever learns it first: the call or the webhook)."""
    values: dict[str, Any] = {"payment_status": P.REFUNDED, "refunded_at": utcnow()}
    if refund_id:
        values["stripe_refund_id"] = refund_id
    if not compare_and_set(session, booking, Booking.payment_status == P.REFUND_PENDING, **values):
        session.refresh(booking)
        return False
    audit.record(
        session,
        "booking.refund",
        booking,
        None,
        refund_id=refund_id,
        amount_cents=booking.copay_cents,
    )
    copay = booking.copay_cents
    notify(
        session,
        booking.worker,
        lambda: _("Your co-payment has been refunded"),
        lambda: _(
            "The %(amount)s you paid by card for “%(service)s” has been refunded to your card.",
            amount=format_money(copay),
            service=booking.service.title,
        ),
        worker_link(booking),
    )
    return True


def pending_refunds(session: Session) -> list[Booking]:
    """Bookings whose refund is due and not confirmed yet, oldest first."""
    return list(
        session.scalars(
            select(Booking)
            .where(Booking.payment_status == P.REFUND_PENDING)
            .order_by(Booking.cancelled_at, Booking.id)
        ).all()
    )


def release_unpaid(session: Session, now: datetime) -> int:
    """Cancel bookings whose payment page never opened (Stripe failed): free their places.

    A page that did open expires at Stripe, whose ``checkout.session.expired`` event
    releases its booking; this covers only those without a page, once a page would have
    expired. Returns how many were released; the caller commits.
    """
    cutoff = now - timedelta(minutes=CHECKOUT_MINUTES + 10)
    stale = session.scalars(
        select(Booking)
        .where(
            Booking.status == B.REQUESTED,
            Booking.payment_status == P.PENDING,
            Booking.stripe_checkout_session_id.is_(None),
            Booking.created_at < cutoff,
        )
        .order_by(Booking.id)
    ).all()
    released = 0
    for booking in stale:
        if compare_and_set(
            session,
            booking,
            Booking.status == B.REQUESTED,
            Booking.payment_status == P.PENDING,
            Booking.stripe_checkout_session_id.is_(None),
            status=B.CANCELLED,
            payment_status=P.EXPIRED,
            cancelled_at=now,
        ):
            _release(session, booking, None)
            audit.record(session, "booking.expire", booking, None, checkout_session=None)
            _notify_cancelled(session, booking, by_worker=False)
            released += 1
    return released


# --- delivery ---------------------------------------------------------------------------


def deliver(session: Session, booking: Booking, actor: User, now: datetime) -> Booking:
    """The provider confirms delivery: the voucher's share is used and spent on the line."""
    if not _is_provider_of(actor, booking.service):
        raise IllegalTransition(_l("Only the provider of the service can confirm delivery."))
    require_status(booking, (B.CONFIRMED,), _l("Only a confirmed booking can be delivered."))
    if now < as_utc(booking.slot.starts_at):
        raise IllegalTransition(
            _l(
                "Delivery can be confirmed from the start of the slot, %(when)s.",
                when=_when(booking.slot.starts_at),
            )
        )
    if not compare_and_set(
        session,
        booking,
        Booking.status == B.CONFIRMED,
        status=B.DELIVERED,
        delivered_at=now,
        delivered_by_id=actor.id,
    ):
        session.refresh(booking)
        raise Conflict(_l("The booking changed meanwhile: reload the page."))
    voucher, share = booking.voucher, booking.voucher_cents
    used = compare_and_set(
        session,
        voucher,
        Voucher.held_cents >= share,
        Voucher.used_cents + share <= Voucher.amount_cents,
        used_cents=Voucher.used_cents + share,
        held_cents=Voucher.held_cents - share,
    )
    if not used:
        raise Conflict(_l("The voucher changed meanwhile: reload the page."))
    session.execute(
        update(Voucher)
        .where(
            Voucher.id == voucher.id,
            Voucher.status == VoucherStatus.ACTIVE,
            Voucher.used_cents >= Voucher.amount_cents,
        )
        .values(status=VoucherStatus.EXHAUSTED)
        .execution_options(synchronize_session=False)
    )
    _refresh(session, voucher, "used_cents", "held_cents", "released_cents", "status")
    budget.spend(session, voucher.budget_line_id, share, actor, ("booking", booking.id))
    audit.record(session, "booking.deliver", booking, actor, voucher_cents=share)
    if voucher.status is VoucherStatus.EXHAUSTED:
        audit.record(session, "voucher.exhaust", voucher, actor, booking_id=booking.id)
    service = booking.service
    notify(
        session,
        booking.worker,
        lambda: _("Service delivered"),
        lambda: _(
            "%(provider)s has confirmed the delivery of “%(service)s”; %(amount)s were paid "
            "with your voucher.",
            provider=service.organisation.name,
            service=service.title,
            amount=format_money(share),
        ),
        worker_link(booking),
    )
    return booking


def _is_provider_of(actor: User, service: Service) -> bool:
    return actor.role is Role.PROVIDER and actor.organisation_id == service.organisation_id


# --- Stripe webhook events --------------------------------------------------------------


@dataclass(frozen=True)
class EventOutcome:
    """What a webhook event did: processed, ignored (not ours) or duplicate."""

    result: str
    booking: Booking | None = None

    @property
    def refund_due(self) -> bool:
        return self.booking is not None and self.booking.payment_status is P.REFUND_PENDING


def handle_stripe_event(session: Session, event: Mapping[str, Any]) -> EventOutcome:
    """Apply one verified Stripe event, once.

    The event's id is inserted first, in the transaction of its effect: a concurrent
    delivery of the same event fails on the primary key (IntegrityError: the caller rolls
    back and answers that it was already processed) and a later one finds it here.
    """
    event_id, kind = str(event["id"]), str(event["type"])
    if session.get(StripeEvent, event_id) is not None:
        return EventOutcome("duplicate")
    record = StripeEvent(id=event_id, type=kind[:100])
    session.add(record)
    session.flush()
    handler = _HANDLERS.get(kind)
    obj = (event.get("data") or {}).get("object")
    if handler is None or not isinstance(obj, Mapping):
        return EventOutcome("ignored")
    booking = handler(session, obj)
    if booking is None:
        return EventOutcome("ignored")
    record.booking_id = booking.id
    return EventOutcome("processed", booking)


def _get(obj: Mapping[str, Any] | None, key: str) -> Any:
    return obj.get(key) if obj is not None else None


def _booking_by_reference(session: Session, obj: Mapping[str, Any]) -> Booking | None:
    reference = _get(obj, "client_reference_id") or _get(_get(obj, "metadata"), "booking_id")
    if reference is None or not str(reference).isdigit():
        return None
    return session.get(Booking, int(reference))


def _booking_for_checkout(session: Session, obj: Mapping[str, Any]) -> Booking | None:
    """The booking a Checkout Session is for: by its id, else by our reference on it."""
    booking = session.scalars(
        select(Booking).where(Booking.stripe_checkout_session_id == obj["id"])
    ).first()
    if booking is not None:
        return booking
    # The session was created but its id never stored (a timeout after Stripe made it).
    booking = _booking_by_reference(session, obj)
    if booking is None or booking.stripe_checkout_session_id is not None:
        return None
    compare_and_set(
        session,
        booking,
        Booking.stripe_checkout_session_id.is_(None),
        stripe_checkout_session_id=obj["id"],
    )
    return booking


def _booking_for_payment(session: Session, obj: Mapping[str, Any]) -> Booking | None:
    """The booking a charge or refund is for: by payment intent, else by our reference."""
    intent = _get(obj, "payment_intent")
    if intent:
        booking = session.scalars(
            select(Booking).where(Booking.stripe_payment_intent_id == str(intent))
        ).first()
        if booking is not None:
            return booking
    return _booking_by_reference(session, obj)


def _on_checkout_paid(session: Session, obj: Mapping[str, Any]) -> Booking | None:
    """checkout.session.completed / async_payment_succeeded."""
    booking = _booking_for_checkout(session, obj)
    if booking is None or obj.get("payment_status") != "paid":
        return booking
    if obj.get("amount_total") != booking.copay_cents or obj.get("currency") != "eur":
        # Never seen unless the session was tampered with at creation: a person looks.
        audit.record(
            session,
            "booking.payment_mismatch",
            booking,
            None,
            amount_total=obj.get("amount_total"),
            currency=obj.get("currency"),
        )
        return booking
    intent = str(obj.get("payment_intent") or "")
    # Twice at most: if a cancellation commits between reading and writing, the second
    # look sees it cancelled and the payment becomes a due refund.
    for _attempt in range(2):
        if _payment_received(session, booking, intent):
            break
        session.refresh(booking)
    return booking


def _payment_received(session: Session, booking: Booking, intent: str) -> bool:
    """Record a paid co-payment; False if the booking changed under us (look again)."""
    now = utcnow()
    if booking.payment_status in (P.PAID, P.REFUND_PENDING, P.REFUNDED):
        return True  # known already (a refund event may have come first)
    if booking.status is B.REQUESTED and booking.payment_status is P.PENDING:
        if not compare_and_set(
            session,
            booking,
            Booking.status == B.REQUESTED,
            Booking.payment_status == P.PENDING,
            status=B.CONFIRMED,
            payment_status=P.PAID,
            stripe_payment_intent_id=intent,
            paid_at=now,
            confirmed_at=now,
        ):
            return False
        audit.record(session, "booking.paid", booking, None, payment_intent=intent)
        _notify_confirmed(session, booking)
        return True
    if booking.status is B.CANCELLED and booking.payment_status in (P.PENDING, P.EXPIRED):
        # Paid after the booking was cancelled (or its page expired): give the money back.
        if not compare_and_set(
            session,
            booking,
            Booking.status == B.CANCELLED,
            Booking.payment_status.in_((P.PENDING, P.EXPIRED)),
            payment_status=P.REFUND_PENDING,
            stripe_payment_intent_id=intent,
            paid_at=now,
            refund_idempotency_key=_refund_key(booking),
        ):
            return False
        audit.record(session, "booking.paid_after_cancel", booking, None, payment_intent=intent)
        return True
    return True


def _on_checkout_unpaid(session: Session, obj: Mapping[str, Any]) -> Booking | None:
    """checkout.session.expired / async_payment_failed: the booking lets its place go."""
    booking = _booking_for_checkout(session, obj)
    if booking is None:
        return None
    if booking.status is B.REQUESTED and booking.payment_status is P.PENDING:
        if compare_and_set(
            session,
            booking,
            Booking.status == B.REQUESTED,
            Booking.payment_status == P.PENDING,
            status=B.CANCELLED,
            payment_status=P.EXPIRED,
            cancelled_at=utcnow(),
        ):
            _release(session, booking, None)
            audit.record(session, "booking.expire", booking, None)
            _notify_cancelled(session, booking, by_worker=False)
    elif booking.status is B.CANCELLED and booking.payment_status is P.PENDING:
        compare_and_set(
            session,
            booking,
            Booking.payment_status == P.PENDING,
            payment_status=P.EXPIRED,
        )
    return booking


def _on_refund(session: Session, obj: Mapping[str, Any]) -> Booking | None:
    """refund.created / refund.updated / charge.refund.updated: a refund succeeded."""
    booking = _booking_for_payment(session, obj)
    if booking is None or obj.get("status") != "succeeded":
        return booking
    if obj.get("amount") != booking.copay_cents:
        return booking  # partial refunds are not ours: a person looks at the payment
    _refund_confirmed(session, booking, str(obj.get("id") or ""), obj.get("payment_intent"))
    return booking


def _on_charge_refunded(session: Session, obj: Mapping[str, Any]) -> Booking | None:
    """charge.refunded: the charge was refunded in full."""
    booking = _booking_for_payment(session, obj)
    if booking is None or not obj.get("refunded"):
        return booking
    refunds = _get(_get(obj, "refunds"), "data") or []
    refund_id = str(refunds[0].get("id")) if refunds else None
    _refund_confirmed(session, booking, refund_id, obj.get("payment_intent"))
    return booking


def _refund_confirmed(
    session: Session, booking: Booking, refund_id: str | None, intent: Any
) -> None:
    """Stripe says the co-payment went back: end in refunded, whatever came first."""
    if booking.payment_status is P.REFUND_PENDING:
        _mark_refunded(session, booking, refund_id)
        return
    if booking.payment_status in (P.PENDING, P.EXPIRED, P.PAID):
        # The refund came before the payment's own event, or was made outside the app
        # (Stripe's dashboard). The money is back: a booking still waiting for it lets its
        # place go; a confirmed one stays, and its co-payment is due to the provider.
        before = booking.status
        values: dict[str, Any] = {"payment_status": P.REFUNDED, "refunded_at": utcnow()}
        if refund_id:
            values["stripe_refund_id"] = refund_id
        if intent and not booking.stripe_payment_intent_id:
            values["stripe_payment_intent_id"] = str(intent)
        if before is B.REQUESTED:
            values.update(status=B.CANCELLED, cancelled_at=utcnow())
        if not compare_and_set(
            session,
            booking,
            Booking.status == before,
            Booking.payment_status == booking.payment_status,
            **values,
        ):
            session.refresh(booking)
            return
        if before is B.REQUESTED:
            _release(session, booking, None)
        audit.record(session, "booking.refunded_outside", booking, None, refund_id=refund_id)


_HANDLERS: dict[str, Callable[[Session, Mapping[str, Any]], Booking | None]] = {
    "checkout.session.completed": _on_checkout_paid,
    "checkout.session.async_payment_succeeded": _on_checkout_paid,
    "checkout.session.expired": _on_checkout_unpaid,
    "checkout.session.async_payment_failed": _on_checkout_unpaid,
    "charge.refunded": _on_charge_refunded,
    "refund.created": _on_refund,
    "refund.updated": _on_refund,
    "charge.refund.updated": _on_refund,
}


# --- lists ------------------------------------------------------------------------------


def worker_bookings(session: Session, worker: User) -> list[Booking]:
    """The worker's bookings, soonest slot first for those still to come."""
    return list(
        session.scalars(
            select(Booking)
            .join(Slot, Booking.slot_id == Slot.id)
            .where(Booking.worker_id == worker.id)
            .options(
                contains_eager(Booking.slot),
                joinedload(Booking.service).joinedload(Service.organisation),
            )
            .order_by(Slot.starts_at.desc(), Booking.id.desc())
        ).all()
    )


def visible_bookings(
    session: Session, user: User, statuses: tuple[BookingStatus, ...] | None = None
) -> list[Booking]:
    """The bookings ``user`` may see (a provider's own, an operator's alliance's…)."""
    stmt = (
        visible(Booking, user)
        .join(Slot, Booking.slot_id == Slot.id)
        .options(
            contains_eager(Booking.slot),
            joinedload(Booking.service),
            joinedload(Booking.worker),
        )
        .order_by(Slot.starts_at, Booking.id)
    )
    if statuses:
        stmt = stmt.where(Booking.status.in_(statuses))
    return list(session.scalars(stmt).all())


def worker_link(booking: Booking) -> str:
    """The path of the worker's page of ``booking`` (for notifications)."""
    return f"/worker/bookings/{booking.id}"


def _notify_confirmed(session: Session, booking: Booking) -> None:
    service, slot = booking.service, booking.slot
    copay, payment = booking.copay_cents, booking.payment_status

    def body() -> str:
        text = _(
            "Your booking of “%(service)s” on %(when)s is confirmed. Place: %(place)s.",
            service=service.title,
            when=format_datetime(as_utc(slot.starts_at), "medium"),
            place=service.place or service.organisation.name,
        )
        if payment is P.AT_PROVIDER:
            text += " " + _(
                "Pay the co-payment of %(amount)s to the provider on delivery.",
                amount=format_money(copay),
            )
        return text

    notify(session, booking.worker, lambda: _("Booking confirmed"), body, worker_link(booking))


def _notify_cancelled(session: Session, booking: Booking, by_worker: bool) -> None:
    service, slot = booking.service, booking.slot
    refund = booking.payment_status is P.REFUND_PENDING
    copay = booking.copay_cents
    reason = booking.cancel_reason

    def body() -> str:
        text = _(
            "Your booking of “%(service)s” on %(when)s has been cancelled.",
            service=service.title,
            when=format_datetime(as_utc(slot.starts_at), "medium"),
        )
        if not by_worker and reason:
            text += " " + _("Reason: %(reason)s", reason=reason)
        text += " " + _("The voucher's share is available again.")
        if refund:
            text += " " + _(
                "The %(amount)s you paid by card will be refunded.", amount=format_money(copay)
            )
        return text

    notify(session, booking.worker, lambda: _("Booking cancelled"), body, worker_link(booking))


# --- monthly statements -----------------------------------------------------------------


def month_of(moment: datetime) -> date:
    """The first day of the month ``moment`` falls in, in Italian time."""
    local = as_utc(moment).astimezone(ROME)
    return date(local.year, local.month, 1)


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def month_bounds(month: date) -> tuple[datetime, datetime]:
    """The month as [start, end) in UTC, from Italian midnight to Italian midnight."""
    start = datetime(month.year, month.month, 1, tzinfo=ROME)
    following = next_month(month)
    end = datetime(following.year, following.month, 1, tzinfo=ROME)
    return start.astimezone(UTC), end.astimezone(UTC)


def _unstated(organisation_id: int) -> Any:
    """Delivered bookings of the provider that no statement includes yet, with alliance."""
    return (
        select(Booking, Alliance)
        .join(Service, Booking.service_id == Service.id)
        .join(Voucher, Booking.voucher_id == Voucher.id)
        .join(Measure, Voucher.measure_id == Measure.id)
        .join(Project, Measure.project_id == Project.id)
        .join(Alliance, Project.alliance_id == Alliance.id)
        .where(
            Service.organisation_id == organisation_id,
            Booking.status == B.DELIVERED,
            Booking.statement_id.is_(None),
        )
    )


@dataclass(frozen=True)
class StatementDue:
    """A closed month with deliveries for an alliance that no statement includes yet."""

    alliance: Alliance
    month: date
    booking_count: int
    total_cents: int


def statements_due(session: Session, organisation_id: int, now: datetime) -> list[StatementDue]:
    """Closed months (before this one) whose deliveries can go into a statement."""
    current = month_of(now)
    groups: dict[tuple[int, date], list[Booking]] = {}
    alliances: dict[int, Alliance] = {}
    for booking, alliance in session.execute(_unstated(organisation_id)).all():
        month = month_of(booking.delivered_at)
        if month < current:
            alliances[alliance.id] = alliance
            groups.setdefault((alliance.id, month), []).append(booking)
    return [
        StatementDue(alliances[a], m, len(items), sum(b.voucher_cents for b in items))
        for (a, m), items in sorted(groups.items(), key=lambda kv: (kv[0][1], kv[0][0]))
    ]


def issue_statement(
    session: Session,
    organisation: Organisation,
    alliance: Alliance,
    month: date,
    actor: User,
    now: datetime,
) -> ProviderStatement:
    """Gather a closed month's deliveries for an alliance into the provider's statement."""
    if not (
        actor.role is Role.ADMIN
        or (actor.role is Role.PROVIDER and actor.organisation_id == organisation.id)
        or (actor.role is Role.OPERATOR and actor.alliance_id == alliance.id)
    ):
        raise IllegalTransition(_l("You cannot issue this provider's statement."))
    month = date(month.year, month.month, 1)
    if month >= month_of(now):
        raise ValidationFailed.single("month", _l("A statement covers a month that has ended."))
    start, end = month_bounds(month)
    rows = session.execute(
        _unstated(organisation.id).where(
            Project.alliance_id == alliance.id,
            Booking.delivered_at >= start,
            Booking.delivered_at < end,
        )
    ).all()
    bookings = [row[0] for row in rows]
    if not bookings:
        raise ValidationFailed.single(
            "month", _l("No delivered booking of that month is left to include.")
        )
    statement = ProviderStatement(
        organisation_id=organisation.id,
        alliance_id=alliance.id,
        month=month,
        total_cents=sum(b.voucher_cents for b in bookings),
        booking_count=len(bookings),
        status=StatementStatus.ISSUED,
        issued_by_id=actor.id,
    )
    try:
        # One statement per provider, alliance and month (a unique constraint).
        with session.begin_nested():
            session.add(statement)
            session.flush()
    except IntegrityError:
        raise Conflict(_l("The statement of this month has already been issued.")) from None
    result = session.execute(
        update(Booking)
        .where(
            Booking.id.in_([b.id for b in bookings]),
            Booking.statement_id.is_(None),
            Booking.status == B.DELIVERED,
        )
        .values(statement_id=statement.id)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != len(bookings):
        raise Conflict(_l("The bookings changed meanwhile: reload the page."))
    for booking in bookings:
        session.refresh(booking, ["statement_id"])
    audit.record(
        session,
        "statement.issue",
        statement,
        actor,
        month=month.isoformat(),
        total_cents=statement.total_cents,
        booking_count=statement.booking_count,
    )
    return statement


def mark_statement_paid(
    session: Session, statement: ProviderStatement, actor: User, now: datetime
) -> ProviderStatement:
    """The alliance paid the provider: the bookings are settled and the payment recorded."""
    if not (
        actor.role is Role.ADMIN
        or (actor.role is Role.OPERATOR and actor.alliance_id == statement.alliance_id)
    ):
        raise IllegalTransition(_l("Only an operator of the alliance can record this payment."))
    if not compare_and_set(
        session,
        statement,
        ProviderStatement.status == StatementStatus.ISSUED,
        status=StatementStatus.PAID,
        paid_at=now,
        paid_by_id=actor.id,
    ):
        session.refresh(statement)
        raise IllegalTransition(_l("This statement has already been paid."))
    result = session.execute(
        update(Booking)
        .where(Booking.statement_id == statement.id, Booking.status == B.DELIVERED)
        .values(status=B.SETTLED, settled_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != statement.booking_count:
        raise Conflict(_l("The statement's bookings changed meanwhile: reload the page."))
    bookings = session.scalars(
        select(Booking)
        .where(Booking.statement_id == statement.id)
        .options(selectinload(Booking.voucher))
        .order_by(Booking.id)
    ).all()
    for booking in bookings:
        session.refresh(booking, ["status", "settled_at"])
        budget.pay(
            session,
            booking.voucher.budget_line_id,
            booking.voucher_cents,
            actor,
            ("booking", booking.id),
        )
    audit.record(
        session,
        "statement.pay",
        statement,
        actor,
        total_cents=statement.total_cents,
        booking_count=statement.booking_count,
    )
    month, total = statement.month, statement.total_cents
    for user in session.scalars(
        select(User).where(
            User.role == Role.PROVIDER,
            User.organisation_id == statement.organisation_id,
            User.active.is_(True),
        )
    ):
        notify(
            session,
            user,
            lambda: _("Statement paid"),
            lambda: _(
                "The alliance has paid your statement of %(month)s: %(amount)s.",
                month=format_date(month, "MMMM yyyy"),
                amount=format_money(total),
            ),
            f"/provider/statements/{statement.id}",
        )
    return statement


def visible_statements(session: Session, user: User) -> list[ProviderStatement]:
    """The statements ``user`` may see, newest month first."""
    return list(
        session.scalars(
            visible(ProviderStatement, user)
            .options(
                joinedload(ProviderStatement.organisation),
                joinedload(ProviderStatement.alliance),
            )
            .order_by(ProviderStatement.month.desc(), ProviderStatement.id.desc())
        ).all()
    )
