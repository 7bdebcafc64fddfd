"""The Stripe webhook: signatures, idempotency, concurrency, events out of order, refunds.

Events are built and signed here with the test webhook secret, exactly as Stripe signs
them (HMAC-SHA256 of "timestamp.body"), and posted to ``/payments/stripe/webhook``.
Checkout sessions come from the recording gateway (``tests.fixtures_salvatempo``).
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tests import factories
from tests.fixtures_salvatempo import (
    WEBHOOK_SECRET,
    RecordingGateway,
    World,
    book,
    checkout_completed,
    event,
    post_event,
    signature,
)
from voucher.extensions import db as _db
from voucher.models import (
    AuditEvent,
    Booking,
    BookingStatus,
    Notification,
    PaymentStatus,
    Role,
    StripeEvent,
)
from voucher.services import bookings

B, P = BookingStatus, PaymentStatus


def checkout_booking(db, w: World, gateway: RecordingGateway, quantity: int = 2) -> Booking:
    """A booking waiting for its card co-payment, with its Checkout Session opened."""
    booking = book(db, w, quantity, card=True)
    bookings.start_checkout(db, booking, gateway, "https://x/ok", "https://x/ko")
    db.commit()
    return booking


def state(db, booking: Booking) -> tuple:
    db.expire_all()
    return booking.status, booking.payment_status


def count(db, model, *where) -> int:
    return db.scalar(select(func.count()).select_from(model).where(*where))


def audit_actions(db, booking: Booking) -> Counter:
    return Counter(
        db.scalars(
            select(AuditEvent.action).where(
                AuditEvent.entity_type == "bookings", AuditEvent.entity_id == booking.id
            )
        )
    )


# --- signatures --------------------------------------------------------------------------


def test_a_signed_completed_checkout_confirms_the_booking(client, db, world, gateway):
    booking = checkout_booking(db, world, gateway)
    payload = event("checkout.session.completed", checkout_completed(booking), "evt_paid_1")

    response = post_event(client, payload)

    assert response.status_code == 200, response.get_data(as_text=True)
    assert state(db, booking) == (B.CONFIRMED, P.PAID)
    assert booking.stripe_payment_intent_id == f"pi_test_{booking.id}"
    assert booking.paid_at is not None and booking.confirmed_at is not None
    recorded = db.get(StripeEvent, "evt_paid_1")
    assert (recorded.type, recorded.booking_id) == ("checkout.session.completed", booking.id)
    assert audit_actions(db, booking)["booking.paid"] == 1
    notes = db.scalars(select(Notification).where(Notification.user_id == world.worker.id)).all()
    assert [n.link for n in notes] == [f"/worker/bookings/{booking.id}"]


@pytest.mark.parametrize("fault", ["tampered", "wrong_secret", "stale", "missing", "not_json"])
def test_what_stripe_did_not_sign_just_now_is_refused_with_no_effect(
    client, db, world, gateway, fault
):
    booking = checkout_booking(db, world, gateway)
    payload = event("checkout.session.completed", checkout_completed(booking))
    header = signature(payload)
    if fault == "tampered":
        # Signed for 20 €, then rewritten to claim the booking was paid 1 cent.
        payload = payload.replace(b'"amount_total": 2000', b'"amount_total": 1')
    elif fault == "wrong_secret":
        header = signature(payload, secret="whsec_someone_else")
    elif fault == "stale":
        # A replay of an event signed six minutes ago (the tolerance is five).
        header = signature(payload, timestamp=int(time.time()) - 360)
    elif fault == "missing":
        header = ""
    elif fault == "not_json":
        payload = b"not an event"
        header = signature(payload)

    response = post_event(client, payload, header)

    assert response.status_code == 400
    assert state(db, booking) == (B.REQUESTED, P.PENDING)
    assert count(db, StripeEvent) == 0


def test_without_stripe_keys_there_is_no_webhook(client, db):
    payload = event("checkout.session.completed", {"id": "cs_x"})
    assert post_event(client, payload).status_code == 404


def test_the_webhook_needs_no_csrf_token(app, db, world, gateway):
    app.config["WTF_CSRF_ENABLED"] = True
    booking = checkout_booking(db, world, gateway)
    payload = event("checkout.session.completed", checkout_completed(booking))
    assert post_event(app.test_client(), payload).status_code == 200
    assert state(db, booking) == (B.CONFIRMED, P.PAID)


# --- once, and only once ---------------------------------------------------------------


def test_the_same_event_twice_has_one_effect(client, db, world, gateway):
    booking = checkout_booking(db, world, gateway)
    payload = event("checkout.session.completed", checkout_completed(booking), "evt_twice")

    first = post_event(client, payload)
    second = post_event(client, payload)

    assert (first.status_code, second.status_code) == (200, 200)
    assert second.get_data(as_text=True) == "duplicate"
    assert state(db, booking) == (B.CONFIRMED, P.PAID)
    assert audit_actions(db, booking)["booking.paid"] == 1
    assert count(db, Notification, Notification.user_id == world.worker.id) == 1
    assert count(db, StripeEvent) == 1


def deliver_concurrently(app: Flask, event_data: dict, copies: int) -> list[str]:
    """Apply the same event in ``copies`` threads at once, each with its own session."""
    barrier = threading.Barrier(copies)
    outcomes: list[str] = [""] * copies

    def run(index: int) -> None:
        with app.app_context(), Session(_db.engine) as session:
            try:
                barrier.wait(30)
                outcomes[index] = bookings.handle_stripe_event(session, event_data).result
                session.commit()
            except IntegrityError:
                # What the webhook view answers "already processed" for.
                session.rollback()
                outcomes[index] = "duplicate"
            except BaseException as exc:
                session.rollback()
                outcomes[index] = repr(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(copies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return outcomes


def test_concurrent_deliveries_of_the_same_event_have_one_effect(app, db, gateway):
    rounds, copies = 4, 4
    for n in range(rounds):
        w = _world(db)
        booking = checkout_booking(db, w, gateway)
        data = json.loads(
            event("checkout.session.completed", checkout_completed(booking), f"evt_race_{n}")
        )
        outcomes = deliver_concurrently(app, data, copies)
        assert Counter(outcomes) == {"processed": 1, "duplicate": copies - 1}, outcomes
        assert state(db, booking) == (B.CONFIRMED, P.PAID)
        assert audit_actions(db, booking)["booking.paid"] == 1
        assert count(db, Notification, Notification.user_id == w.worker.id) == 1
    assert count(db, StripeEvent) == rounds


def _world(db) -> World:
    from tests.fixtures_salvatempo import make_world

    return make_world(db)


# --- what an event says ------------------------------------------------------------------


def test_an_unpaid_completed_checkout_confirms_nothing(client, db, world, gateway):
    booking = checkout_booking(db, world, gateway)
    obj = checkout_completed(booking, payment_status="unpaid", payment_intent=None)
    assert post_event(client, event("checkout.session.completed", obj)).status_code == 200
    assert state(db, booking) == (B.REQUESTED, P.PENDING)
    # The payment arriving later (a delayed method) confirms it.
    later = checkout_completed(booking)
    post_event(client, event("checkout.session.async_payment_succeeded", later))
    assert state(db, booking) == (B.CONFIRMED, P.PAID)


def test_a_payment_of_another_amount_confirms_nothing(client, db, world, gateway):
    booking = checkout_booking(db, world, gateway)
    obj = checkout_completed(booking, amount_total=1)
    assert post_event(client, event("checkout.session.completed", obj)).status_code == 200
    assert state(db, booking) == (B.REQUESTED, P.PENDING)
    assert audit_actions(db, booking)["booking.payment_mismatch"] == 1


def test_events_that_are_not_ours_are_recorded_and_ignored(client, db, world, gateway):
    booking = checkout_booking(db, world, gateway)
    other = event("checkout.session.completed", checkout_completed(booking, id="cs_unknown"))
    # The reference names a booking whose session is another one: not trusted.
    assert post_event(client, other).get_data(as_text=True) == "ignored"
    assert post_event(client, event("customer.created", {"id": "cus_1"})).status_code == 200
    assert state(db, booking) == (B.REQUESTED, P.PENDING)
    assert count(db, StripeEvent) == 2


def test_the_return_page_after_paying_confirms_nothing(client, db, auth, world, gateway):
    booking = checkout_booking(db, world, gateway)
    auth.login(world.worker)
    page = client.get(f"/payments/bookings/{booking.id}/paid")
    assert page.status_code == 200
    assert state(db, booking) == (B.REQUESTED, P.PENDING)
    assert client.get(f"/payments/bookings/{booking.id}/not-paid").status_code == 200
    assert state(db, booking) == (B.REQUESTED, P.PENDING)
    # Somebody else's booking is not found.
    auth.logout()
    stranger = factories.user(db, Role.WORKER)
    db.commit()
    auth.login(stranger)
    assert client.get(f"/payments/bookings/{booking.id}/paid").status_code == 404


# --- out of order -------------------------------------------------------------------------


def expired(booking: Booking) -> dict:
    return {
        "id": booking.stripe_checkout_session_id,
        "object": "checkout.session",
        "client_reference_id": str(booking.id),
        "payment_status": "unpaid",
        "status": "expired",
    }


def charge_refunded(booking: Booking, intent: str) -> dict:
    return {
        "id": f"ch_{booking.id}",
        "object": "charge",
        "payment_intent": intent,
        "metadata": {"booking_id": str(booking.id)},
        "amount": booking.copay_cents,
        "amount_refunded": booking.copay_cents,
        "refunded": True,
        "refunds": {"data": [{"id": f"re_outside_{booking.id}", "status": "succeeded"}]},
    }


def test_an_expired_checkout_lets_the_place_and_the_share_go(client, db, world, gateway):
    booking = checkout_booking(db, world, gateway)
    assert (
        post_event(client, event("checkout.session.expired", expired(booking))).status_code == 200
    )
    assert state(db, booking) == (B.CANCELLED, P.EXPIRED)
    assert (world.slot.booked, world.voucher.held_cents) == (0, 0)


def test_expiry_after_completion_changes_nothing(client, db, world, gateway):
    booking = checkout_booking(db, world, gateway)
    post_event(client, event("checkout.session.completed", checkout_completed(booking)))
    post_event(client, event("checkout.session.expired", expired(booking)))
    assert state(db, booking) == (B.CONFIRMED, P.PAID)
    assert (world.slot.booked, world.voucher.held_cents) == (1, 20_00)


def test_a_payment_after_expiry_is_refunded(client, db, world, gateway):
    booking = checkout_booking(db, world, gateway)
    post_event(client, event("checkout.session.expired", expired(booking)))
    response = post_event(client, event("checkout.session.completed", checkout_completed(booking)))
    assert response.status_code == 200
    assert state(db, booking) == (B.CANCELLED, P.REFUNDED)
    assert gateway.refund_calls == [
        (f"pi_test_{booking.id}", 20_00, f"booking-{booking.id}-refund")
    ]
    # The place and the share were given back once, at expiry.
    assert (world.slot.booked, world.voucher.held_cents) == (0, 0)


def test_a_payment_after_the_worker_cancelled_is_refunded(client, db, world, gateway):
    booking = checkout_booking(db, world, gateway)
    from voucher.models.base import utcnow

    bookings.cancel(db, booking, world.worker, "", utcnow(), gateway)
    db.commit()
    post_event(client, event("checkout.session.completed", checkout_completed(booking)))
    assert state(db, booking) == (B.CANCELLED, P.REFUNDED)
    assert len(gateway.refund_calls) == 1


def test_a_refund_before_the_completion_ends_cancelled_and_refunded_once(
    client, db, world, gateway
):
    booking = checkout_booking(db, world, gateway)
    intent = f"pi_test_{booking.id}"
    post_event(client, event("charge.refunded", charge_refunded(booking, intent)))
    assert state(db, booking) == (B.CANCELLED, P.REFUNDED)
    assert (world.slot.booked, world.voucher.held_cents) == (0, 0)
    # The completion arrives afterwards: the money is already back, nothing more happens.
    post_event(client, event("checkout.session.completed", checkout_completed(booking)))
    assert state(db, booking) == (B.CANCELLED, P.REFUNDED)
    assert booking.stripe_payment_intent_id == intent
    assert gateway.refund_calls == []
    assert (world.slot.booked, world.voucher.held_cents) == (0, 0)


def test_the_refund_event_completes_a_refund_whose_answer_was_lost(client, db, world, gateway):
    booking = checkout_booking(db, world, gateway)
    post_event(client, event("checkout.session.completed", checkout_completed(booking)))
    assert state(db, booking) == (B.CONFIRMED, P.PAID)
    gateway.refund_failures, gateway.lost_response = 1, True
    from voucher.models.base import utcnow

    bookings.cancel(db, booking, world.worker, "", utcnow(), gateway)
    db.commit()
    assert not bookings.complete_refund(db, booking, gateway)
    db.commit()
    assert state(db, booking) == (B.CANCELLED, P.REFUND_PENDING)
    refund = {
        "id": gateway.refunds[f"booking-{booking.id}-refund"],
        "object": "refund",
        "payment_intent": booking.stripe_payment_intent_id,
        "amount": booking.copay_cents,
        "status": "succeeded",
    }
    post_event(client, event("refund.updated", refund))
    assert state(db, booking) == (B.CANCELLED, P.REFUNDED)
    assert booking.stripe_refund_id == refund["id"]
    # A retry afterwards has nothing to do.
    assert bookings.complete_refund(db, booking, gateway)
    assert len(gateway.refund_calls) == 1


# --- refunds that time out ---------------------------------------------------------------


@pytest.mark.parametrize("lost_response", [False, True], ids=["not_sent", "answer_lost"])
def test_a_refund_that_times_out_stays_due_and_a_retry_completes_it_once(
    app, client, db, auth, world, gateway, lost_response
):
    booking = checkout_booking(db, world, gateway)
    post_event(client, event("checkout.session.completed", checkout_completed(booking)))
    gateway.refund_failures, gateway.lost_response = 1, lost_response
    line = world.measure.budget_line

    auth.login(world.worker)
    page = client.get(f"/worker/bookings/{booking.id}", headers={"Accept-Language": "en"})
    assert "refunded to your card" in page.get_data(as_text=True)
    response = client.post(f"/worker/bookings/{booking.id}/cancel")
    assert response.status_code == 302

    assert state(db, booking) == (B.CANCELLED, P.REFUND_PENDING)
    # The voucher's share came back once, whatever happens to the refund.
    assert (world.voucher.held_cents, world.slot.booked) == (0, 0)
    assert line.reserved_cents == 100_00
    assert audit_actions(db, booking)["booking.refund_failed"] == 1

    result = app.test_cli_runner().invoke(args=["retry-refunds"])
    assert result.exit_code == 0, result.output
    assert "Refunds completed: 1; still pending: 0." in result.output
    assert state(db, booking) == (B.CANCELLED, P.REFUNDED)
    # Two calls, one key: one refund.
    key = f"booking-{booking.id}-refund"
    assert [c[2] for c in gateway.refund_calls] == [key, key]
    assert list(gateway.refunds) == [key]
    assert booking.stripe_refund_id == gateway.refunds[key]
    assert (world.voucher.held_cents, world.slot.booked) == (0, 0)
    again = app.test_cli_runner().invoke(args=["retry-refunds"])
    assert "Refunds completed: 0; still pending: 0." in again.output
    assert len(gateway.refund_calls) == 2


def test_retrying_refunds_needs_stripe(app):
    result = app.test_cli_runner().invoke(args=["retry-refunds"])
    assert result.exit_code != 0
    assert "not configured" in result.output


def test_signatures_match_what_stripe_checks(world, gateway):
    """Our signing helper agrees with the stripe package, so the tests test the real check."""
    payload = event("checkout.session.completed", {"id": "cs_1"})
    assert gateway.construct_event(payload, signature(payload))["id"].startswith("evt_")
    assert WEBHOOK_SECRET.startswith("whsec_")


def test_bookings_whose_payment_page_never_opened_are_released(app, db, world):
    from datetime import timedelta

    from voucher.models.base import utcnow

    waiting = book(db, world, 2, card=True)  # Stripe was down: no Checkout Session
    assert waiting.stripe_checkout_session_id is None
    runner = app.test_cli_runner()
    assert "released: 0" in runner.invoke(args=["release-unpaid"]).output
    later = utcnow() + timedelta(hours=2)
    assert bookings.release_unpaid(db, later) == 1
    db.commit()
    assert state(db, waiting) == (B.CANCELLED, P.EXPIRED)
    assert (world.slot.booked, world.voucher.held_cents) == (0, 0)
    assert bookings.release_unpaid(db, later) == 0
