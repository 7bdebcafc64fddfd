"""The worker's time-saving services over HTTP: browse, book, pay by card, cancel."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from tests import factories
from tests.conftest import csrf_token
from tests.fixtures_salvatempo import book, make_service, make_slot, make_world
from voucher.models import Booking, BookingStatus, OrganisationKind, PaymentStatus, Role
from voucher.models.base import utcnow
from voucher.services import bookings

B, P = BookingStatus, PaymentStatus


def test_the_worker_sees_the_services_their_vouchers_pay_for(client, db, auth, world):
    outsider = make_service(db, factories.organisation(db, OrganisationKind.COOPERATIVE))
    db.commit()
    auth.login(world.worker)
    page = client.get("/worker/services").get_data(as_text=True)
    assert world.service.title in page
    assert outsider.title not in page
    assert "€\xa020,00" in page
    detail = client.get(f"/worker/services/{world.service.id}")
    assert detail.status_code == 200
    assert 'name="slot_id"' in detail.get_data(as_text=True)
    # A service of a provider that is not a partner of the voucher's alliance is not found.
    assert client.get(f"/worker/services/{outsider.id}").status_code == 404
    # Nor is any service for a worker without a time-saving voucher.
    auth.logout()
    stranger = factories.user(db, Role.WORKER)
    db.commit()
    auth.login(stranger)
    assert client.get(f"/worker/services/{world.service.id}").status_code == 404
    assert world.service.title not in client.get("/worker/services").get_data(as_text=True)


def test_without_card_payment_a_booking_is_confirmed_at_once(client, db, auth, world):
    auth.login(world.worker)
    response = client.post(
        f"/worker/services/{world.service.id}",
        data={"slot_id": world.slot.id, "quantity": 2, "voucher_id": world.voucher.id},
    )
    assert response.status_code == 302
    booking = db.scalars(select(Booking)).one()
    assert response.headers["Location"].endswith(f"/worker/bookings/{booking.id}")
    assert (booking.status, booking.payment_status) == (B.CONFIRMED, P.AT_PROVIDER)
    page = client.get(f"/worker/bookings/{booking.id}").get_data(as_text=True)
    assert "€\xa020,00" in page
    assert client.get("/worker/bookings").status_code == 200
    # The voucher says what is kept for the booking, and what is left.
    voucher_page = client.get(f"/worker/vouchers/{world.voucher.id}").get_data(as_text=True)
    assert "€\xa080,00" in voucher_page and "/worker/bookings" in voucher_page


def test_a_card_co_payment_sends_the_worker_to_stripe_checkout(client, db, auth, world, gateway):
    auth.login(world.worker)
    response = client.post(
        f"/worker/services/{world.service.id}",
        data={"slot_id": world.slot.id, "quantity": 2, "voucher_id": world.voucher.id},
    )
    booking = db.scalars(select(Booking)).one()
    [checkout] = gateway.checkouts
    assert response.status_code == 303
    assert response.headers["Location"] == f"https://checkout.stripe.test/c/pay/{checkout['id']}"
    assert checkout["client_reference_id"] == str(booking.id)
    assert checkout["success_url"].endswith(f"/payments/bookings/{booking.id}/paid")
    assert checkout["cancel_url"].endswith(f"/payments/bookings/{booking.id}/not-paid")
    db.expire_all()
    assert (booking.status, booking.payment_status) == (B.REQUESTED, P.PENDING)
    assert booking.stripe_checkout_session_id == checkout["id"]
    # Coming back to pay later opens the same page again.
    again = client.post(f"/worker/bookings/{booking.id}/pay")
    assert again.headers["Location"] == response.headers["Location"]
    assert len(gateway.checkouts) == 1


def test_form_errors_are_shown_next_to_the_fields(client, db, auth, world):
    auth.login(world.worker)
    response = client.post(
        f"/worker/services/{world.service.id}",
        data={"slot_id": world.slot.id, "quantity": 0, "voucher_id": world.voucher.id},
    )
    assert response.status_code == 200
    assert "is-invalid" in response.get_data(as_text=True)
    assert db.scalars(select(Booking)).first() is None


def test_a_full_slot_is_refused_with_a_message(client, db, auth, world):
    other = factories.user(db, Role.WORKER)
    factories.employment(db, other, world.company)
    other_voucher = factories.voucher(db, other, world.measure, amount_cents=50_00)
    slot = make_slot(db, world.service, capacity=1)
    db.commit()
    bookings.book(db, other, slot, other_voucher, 1, card=False, now=utcnow())
    db.commit()
    auth.login(world.worker)
    # The slot is no longer offered: posting it anyway is a form error, not a booking.
    response = client.post(
        f"/worker/services/{world.service.id}",
        data={"slot_id": slot.id, "quantity": 1, "voucher_id": world.voucher.id},
    )
    assert response.status_code == 200
    assert db.scalars(select(Booking).where(Booking.worker_id == world.worker.id)).first() is None


def test_the_worker_cancels_through_the_page(client, db, auth, world):
    booking = book(db, world, 2, card=False)
    auth.login(world.worker)
    page = client.get(f"/worker/bookings/{booking.id}").get_data(as_text=True)
    assert f"/worker/bookings/{booking.id}/cancel" in page
    response = client.post(f"/worker/bookings/{booking.id}/cancel")
    assert response.status_code == 302
    db.expire_all()
    assert booking.status is B.CANCELLED
    assert world.voucher.held_cents == 0


def test_no_cancel_button_after_the_deadline(client, db, auth):
    w = make_world(db)
    slot = make_slot(db, w.service, starts_in=timedelta(hours=5))  # deadline was 19 h ago
    db.commit()
    booking = book(db, w, 1, card=False, slot=slot)
    auth.login(w.worker)
    page = client.get(f"/worker/bookings/{booking.id}").get_data(as_text=True)
    assert f"/worker/bookings/{booking.id}/cancel" not in page
    client.post(f"/worker/bookings/{booking.id}/cancel")
    db.expire_all()
    assert booking.status is B.CONFIRMED


def test_another_workers_booking_is_not_found(client, db, auth, world):
    booking = book(db, world, 2, card=False)
    stranger = factories.user(db, Role.WORKER)
    db.commit()
    auth.login(stranger)
    for url in (
        f"/worker/bookings/{booking.id}",
        f"/payments/bookings/{booking.id}/paid",
    ):
        assert client.get(url).status_code == 404, url
    assert client.post(f"/worker/bookings/{booking.id}/cancel").status_code == 404
    assert client.post(f"/worker/bookings/{booking.id}/pay").status_code == 404
    db.expire_all()
    assert booking.status is B.CONFIRMED


def test_other_roles_do_not_see_the_worker_pages(client, db, login_as, world):
    login_as(Role.HR)
    for url in ("/worker/services", "/worker/bookings", f"/worker/services/{world.service.id}"):
        assert client.get(url).status_code == 404, url


def test_forms_carry_a_csrf_token(app, client, db, auth, world):
    booking = book(db, world, 1, card=False, slot=make_slot(db, world.service))
    auth.login(world.worker)
    app.config["WTF_CSRF_ENABLED"] = True
    page = client.get(f"/worker/services/{world.service.id}").get_data(as_text=True)
    assert csrf_token(page)
    # Without the token nothing is booked or cancelled.
    client.post(
        f"/worker/services/{world.service.id}",
        data={"slot_id": world.slot.id, "quantity": 1, "voucher_id": world.voucher.id},
    )
    client.post(f"/worker/bookings/{booking.id}/cancel")
    db.expire_all()
    assert db.scalars(select(Booking)).all() == [booking]
    assert booking.status is B.CONFIRMED
