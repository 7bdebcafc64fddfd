"""The Stripe webhook, and the return pages after Stripe Checkout (which only show state).

The webhook is the only thing that confirms a paid booking: Stripe signs each event, the
signature is checked on the raw body before anything is read, and a stale, tampered or
unsigned event is refused with 400 and no effect. Each event is applied once (its id is
stored with its effect, see ``bookings.handle_stripe_event``). The webhook is exempt from
CSRF: Stripe's signature is its proof of origin.
"""

from __future__ import annotations

import stripe
from flask import current_app, render_template, request
from sqlalchemy.exc import IntegrityError

from voucher.blueprints.common import get_visible_or_404, role_required
from voucher.blueprints.payments import bp
from voucher.extensions import csrf, db
from voucher.models import Booking, Role
from voucher.services import bookings, payments


@bp.route("/stripe/webhook", methods=["POST"])
@csrf.exempt
def stripe_webhook():
    """Verify and apply one Stripe event; 400 for anything not signed by Stripe just now."""
    gateway = payments.gateway_of(current_app)
    if gateway is None:
        return "card payments are not configured", 404
    payload = request.get_data(cache=False, as_text=False)
    try:
        event = gateway.construct_event(payload, request.headers.get("Stripe-Signature", ""))
    except (ValueError, stripe.SignatureVerificationError):
        return "invalid signature or payload", 400
    try:
        outcome = bookings.handle_stripe_event(db.session, event)
        db.session.commit()
    except IntegrityError:
        # The same event is being (or was just) applied by another delivery.
        db.session.rollback()
        return "already processed", 200
    if outcome.refund_due:
        # A payment arrived for a booking already cancelled: give it back now; if Stripe
        # does not answer, the refund stays due for the retry command.
        bookings.complete_refund(db.session, outcome.booking, gateway)
        db.session.commit()
    return outcome.result, 200


def _render_return(booking_id: int, cancelled: bool) -> str:
    booking = get_visible_or_404(Booking, booking_id)
    return render_template(
        "payments/return.html",
        booking=booking,
        cancelled=cancelled,
        status_labels=bookings.STATUS_LABELS,
        payment_labels=bookings.PAYMENT_LABELS,
    )


@bp.route("/bookings/<int:booking_id>/paid")
@role_required(Role.WORKER)
def checkout_success(booking_id: int):
    """Where Stripe sends the worker after paying: shows the booking, confirms nothing."""
    return _render_return(booking_id, cancelled=False)


@bp.route("/bookings/<int:booking_id>/not-paid")
@role_required(Role.WORKER)
def checkout_cancel(booking_id: int):
    """Where Stripe sends the worker who left the payment page without paying."""
    return _render_return(booking_id, cancelled=True)
