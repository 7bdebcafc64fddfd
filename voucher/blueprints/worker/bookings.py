"""Worker area: time-saving services the worker's vouchers pay for, and their bookings.

Services are the public catalogue (``get_visible_or_404``); which of them a voucher can pay
for, and everything about money, is ``voucher.services.bookings``'s business. Bookings load
through the access rules, so another worker's booking is simply not found (404). After a
booking with a card co-payment the worker goes to Stripe's hosted page; the booking is
confirmed by Stripe's webhook only, never by coming back from that page.
"""

from __future__ import annotations

from datetime import datetime

from flask import current_app, flash, redirect, render_template, url_for
from flask_babel import format_datetime, ngettext
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import joinedload
from werkzeug.wrappers import Response
from wtforms.fields.choices import SelectChoice

from voucher.blueprints.common import (
    apply_errors,
    current_actor,
    get_visible_or_404,
    role_required,
)
from voucher.blueprints.worker import bp
from voucher.blueprints.worker.booking_forms import BookForm, CancelForm
from voucher.extensions import db
from voucher.i18n import format_money
from voucher.models import Booking, BookingStatus, PaymentStatus, Role, Service, Slot
from voucher.models.base import utcnow
from voucher.services import bookings, catalogue, payments
from voucher.services.errors import ServiceError, ValidationFailed
from voucher.services.payments import PaymentError


def _now() -> datetime:
    return utcnow()


def _gateway() -> payments.PaymentGateway | None:
    return payments.gateway_of(current_app)


def _slot_label(slot: Slot) -> str:
    when = format_datetime(bookings.as_utc(slot.starts_at), "EEEE d MMMM, HH:mm")
    until = format_datetime(bookings.as_utc(slot.ends_at), "HH:mm")
    places = ngettext("%(num)d place left", "%(num)d places left", slot.free)
    return f"{when}\N{EN DASH}{until} · {places}"


def _voucher_label(voucher) -> str:  # type: ignore[no-untyped-def]
    return _(
        "%(measure)s · %(remaining)s left",
        measure=voucher.measure.title,
        remaining=format_money(voucher.remaining_cents),
    )


@bp.route("/services")
@role_required(Role.WORKER)
def services():
    """Time-saving services the worker's vouchers can pay for."""
    today = _now().astimezone(bookings.ROME).date()
    options = bookings.services_for(db.session, current_user, today)
    return render_template(
        "worker/services.html",
        options=options,
        kind_labels=catalogue.KIND_LABELS,
        unit_labels=catalogue.UNIT_LABELS,
    )


@bp.route("/services/<int:service_id>", methods=["GET", "POST"])
@role_required(Role.WORKER)
def service(service_id: int):
    """One service: its free slots and the booking form; books and goes to payment."""
    item: Service = get_visible_or_404(Service, service_id, joinedload(Service.organisation))
    now = _now()
    today = now.astimezone(bookings.ROME).date()
    vouchers = bookings.vouchers_for_service(db.session, current_user, item, today)
    slots = bookings.open_slots(db.session, item, now) if vouchers else []
    form = BookForm()
    form.slot_id.choices = [SelectChoice(s.id, _slot_label(s)) for s in slots]
    form.voucher_id.choices = [SelectChoice(v.id, _voucher_label(v)) for v in vouchers]
    form.quantity.label.text = _("Quantity (%(unit)s)", unit=catalogue.UNIT_LABELS[item.unit])
    if vouchers and form.voucher_id.data is None:
        form.voucher_id.data = vouchers[0].id
    gateway = _gateway()
    card = payments.card_offered(gateway, item)
    if vouchers and slots and form.validate_on_submit():
        slot = next(s for s in slots if s.id == form.slot_id.data)
        voucher = next(v for v in vouchers if v.id == form.voucher_id.data)
        try:
            booking = bookings.book(
                db.session,
                current_actor(),
                slot,
                voucher,
                form.quantity.data,
                card=card,
                now=now,
            )
            db.session.commit()
        except ValidationFailed as exc:
            db.session.rollback()
            apply_errors(form, exc)
        except ServiceError as exc:
            db.session.rollback()
            flash(str(exc.message), "danger")
            return redirect(url_for("worker.service", service_id=service_id))
        else:
            if booking.status is BookingStatus.REQUESTED:
                return _to_checkout(booking)
            flash(_("Your booking is confirmed."), "success")
            return redirect(url_for("worker.booking", booking_id=booking.id))
    rates = {v.id: v.measure.reimbursement_rate_pct for v in vouchers}
    return render_template(
        "worker/service.html",
        service=item,
        vouchers=vouchers,
        slots=slots,
        form=form,
        card=card,
        rates=rates,
        kind_labels=catalogue.KIND_LABELS,
        unit_labels=catalogue.UNIT_LABELS,
    )


def _to_checkout(booking: Booking) -> Response:
    """Send the worker to Stripe's payment page of the booking (opened once)."""
    gateway = _gateway()
    if gateway is None:
        flash(_("Card payment is not available at the moment: try again later."), "warning")
        return redirect(url_for("worker.booking", booking_id=booking.id))
    try:
        url = bookings.start_checkout(
            db.session,
            booking,
            gateway,
            success_url=url_for("payments.checkout_success", booking_id=booking.id, _external=True),
            cancel_url=url_for("payments.checkout_cancel", booking_id=booking.id, _external=True),
        )
        db.session.commit()
    except PaymentError:
        db.session.rollback()
        flash(
            _("The payment page could not be opened: try again from this page in a moment."),
            "warning",
        )
        return redirect(url_for("worker.booking", booking_id=booking.id))
    except ServiceError as exc:
        db.session.rollback()
        flash(str(exc.message), "danger")
        return redirect(url_for("worker.booking", booking_id=booking.id))
    return redirect(url, code=303)


@bp.route("/bookings")
@role_required(Role.WORKER)
def bookings_list():
    """The worker's bookings with their status and what to do next."""
    return render_template(
        "worker/bookings.html",
        items=bookings.worker_bookings(db.session, current_user),
        status_labels=bookings.STATUS_LABELS,
        payment_labels=bookings.PAYMENT_LABELS,
    )


@bp.route("/bookings/<int:booking_id>")
@role_required(Role.WORKER)
def booking(booking_id: int):
    """One booking: when and where, who pays what, and cancel or pay if still possible."""
    item: Booking = get_visible_or_404(
        Booking,
        booking_id,
        joinedload(Booking.slot),
        joinedload(Booking.service).joinedload(Service.organisation),
    )
    now = _now()
    return render_template(
        "worker/booking.html",
        booking=item,
        form=CancelForm(),
        can_cancel=bookings.worker_can_cancel(item, now),
        deadline=bookings.cancel_deadline(item),
        can_pay=(
            item.status is BookingStatus.REQUESTED
            and item.payment_status is PaymentStatus.PENDING
            and _gateway() is not None
        ),
        status_labels=bookings.STATUS_LABELS,
        payment_labels=bookings.PAYMENT_LABELS,
        unit_labels=catalogue.UNIT_LABELS,
    )


@bp.route("/bookings/<int:booking_id>/pay", methods=["POST"])
@role_required(Role.WORKER)
def booking_pay(booking_id: int):
    """Go (back) to the Stripe payment page of a booking waiting for its co-payment."""
    item: Booking = get_visible_or_404(Booking, booking_id)
    if CancelForm().validate_on_submit():
        return _to_checkout(item)
    return redirect(url_for("worker.booking", booking_id=booking_id))


@bp.route("/bookings/<int:booking_id>/cancel", methods=["POST"])
@role_required(Role.WORKER)
def booking_cancel(booking_id: int):
    """Cancel before the deadline: the voucher's share comes back, a card payment is refunded."""
    item: Booking = get_visible_or_404(Booking, booking_id)
    if not CancelForm().validate_on_submit():
        return redirect(url_for("worker.booking", booking_id=booking_id))
    gateway = _gateway()
    try:
        bookings.cancel(db.session, item, current_actor(), "", _now(), gateway)
        db.session.commit()
    except ServiceError as exc:
        db.session.rollback()
        flash(str(exc.message), "danger")
        return redirect(url_for("worker.booking", booking_id=booking_id))
    if item.payment_status is PaymentStatus.REFUND_PENDING:
        bookings.complete_refund(db.session, item, gateway)
        db.session.commit()
    flash(_("Your booking has been cancelled."), "success")
    return redirect(url_for("worker.booking", booking_id=booking_id))
