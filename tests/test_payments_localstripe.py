"""The real Stripe gateway against localstripe, a local Stripe-compatible API server.

localstripe (started once per session on a free loopback port, see
``tests.fixtures_salvatempo.localstripe``) supports PaymentIntents and Refunds, so card
payments are made there and refunded through ``StripeGateway``, including a refund whose
answer is lost: the retry finds the refund by its key instead of making a second one.
"""

from __future__ import annotations

import socket
import threading

import pytest

from tests.fixtures_salvatempo import (
    SECRET_KEY,
    WEBHOOK_SECRET,
    book,
    paid_intent,
    refunds_of,
)
from voucher.models import BookingStatus, PaymentStatus
from voucher.models.base import utcnow
from voucher.services import bookings
from voucher.services.payments import PaymentError, PaymentTimeout, StripeGateway

B, P = BookingStatus, PaymentStatus


def test_a_card_payment_is_refunded_once_per_key(stripe_gateway):
    intent = paid_intent(stripe_gateway, 20_00)

    first = stripe_gateway.refund(intent, 20_00, "booking-1-refund")
    again = stripe_gateway.refund(intent, 20_00, "booking-1-refund")

    assert first == again
    [refund] = refunds_of(stripe_gateway, intent)
    assert (refund.id, refund.amount, refund.status) == (first, 20_00, "succeeded")
    assert refund.metadata.to_dict() == {"idempotency_key": "booking-1-refund"}


def test_stripe_refusing_a_refund_is_a_payment_error(stripe_gateway):
    with pytest.raises(PaymentError):
        stripe_gateway.refund("pi_doesnotexist", 20_00, "booking-2-refund")


class AnswerLost(StripeGateway):
    """Refunds reach localstripe, but the first answer never comes back (a timeout)."""

    def __init__(self, api_base: str) -> None:
        super().__init__(SECRET_KEY, WEBHOOK_SECRET, api_base=api_base, timeout=10)
        self.calls = 0

    def refund(self, payment_intent_id: str, amount_cents: int, idempotency_key: str) -> str:
        self.calls += 1
        refund_id = super().refund(payment_intent_id, amount_cents, idempotency_key)
        if self.calls == 1:
            raise PaymentTimeout("Request timed out")
        return refund_id


def test_a_booking_refund_whose_answer_is_lost_is_completed_once_by_a_retry(db, world, localstripe):
    gateway = AnswerLost(localstripe)
    booking = book(db, world, 2, card=True)
    intent = paid_intent(gateway, booking.copay_cents)
    # As the webhook records a paid Checkout Session.
    assert bookings._payment_received(db, booking, intent)
    db.commit()
    bookings.cancel(db, booking, world.worker, "", utcnow(), gateway)
    db.commit()

    assert not bookings.complete_refund(db, booking, gateway)
    db.commit()
    assert booking.payment_status is P.REFUND_PENDING
    assert len(refunds_of(gateway, intent)) == 1  # it did happen, behind the timeout

    assert bookings.complete_refund(db, booking, gateway)
    db.commit()
    db.expire_all()
    assert (booking.status, booking.payment_status) == (B.CANCELLED, P.REFUNDED)
    [refund] = refunds_of(gateway, intent)
    assert (booking.stripe_refund_id, refund.amount) == (refund.id, 20_00)
    assert world.voucher.held_cents == 0


def test_a_silent_server_is_a_timeout():
    """A Stripe that accepts the connection and never answers: PaymentTimeout, quickly."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        gateway = StripeGateway(
            SECRET_KEY,
            WEBHOOK_SECRET,
            api_base=f"http://127.0.0.1:{server.getsockname()[1]}",
            timeout=0.5,
            max_network_retries=0,
        )
        with pytest.raises(PaymentTimeout):
            gateway.refund("pi_1", 20_00, "booking-3-refund")
    finally:
        stop.set()
        thread.join(5)
        for connection in accepted:
            connection.close()
        server.close()


def test_the_checkout_session_asks_for_the_co_payment(db, world, monkeypatch):
    """localstripe has no Checkout: the request the gateway would send is checked instead."""
    gateway = StripeGateway(SECRET_KEY, WEBHOOK_SECRET)
    sent = []

    class Created:
        id = "cs_test_sent"
        url = "https://checkout.stripe.com/c/pay/cs_test_sent"

    def create(params, options):  # type: ignore[no-untyped-def]
        sent.append((params, options))
        return Created()

    monkeypatch.setattr(gateway.client.v1.checkout.sessions, "create", create)
    booking = book(db, world, 2, card=True)

    assert gateway.create_checkout_session(booking, "https://x/ok", "https://x/ko") == (
        Created.id,
        Created.url,
    )
    [(params, options)] = sent
    assert options == {"idempotency_key": f"booking-{booking.id}-checkout"}
    assert (params["mode"], params["locale"], params["client_reference_id"]) == (
        "payment",
        "it",
        str(booking.id),
    )
    assert params["metadata"] == {"booking_id": str(booking.id)}
    assert params["payment_intent_data"] == {"metadata": {"booking_id": str(booking.id)}}
    [item] = params["line_items"]
    assert item["quantity"] == 1
    assert item["price_data"]["currency"] == "eur"
    assert item["price_data"]["unit_amount"] == booking.copay_cents == 20_00
    assert item["price_data"]["product_data"]["name"] == world.service.title
    assert (params["success_url"], params["cancel_url"]) == ("https://x/ok", "https://x/ko")
    # The page closes after an hour: Stripe then sends checkout.session.expired.
    assert 55 * 60 <= params["expires_at"] - int(utcnow().timestamp()) <= 60 * 60
