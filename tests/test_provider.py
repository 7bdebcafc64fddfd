"""The provider's area and the operator's statements over HTTP, and who sees what."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta

from openpyxl import load_workbook
from sqlalchemy import select

from tests import factories
from tests.fixtures_salvatempo import book, booking_at, make_slot, make_world
from voucher.models import (
    Booking,
    BookingStatus,
    OrganisationKind,
    PaymentStatus,
    ProviderStatement,
    Role,
    Service,
    Slot,
    StatementStatus,
)
from voucher.models.base import utcnow
from voucher.services import access, bookings, budget

B, P = BookingStatus, PaymentStatus
LAST_MONTH = (utcnow().replace(day=1) - timedelta(days=10)).replace(hour=10, minute=0)


def service_form(**overrides):
    data = {
        "title": "Stireria sociale",
        "kind": "ironing",
        "description": "Ritiro in azienda il lunedì, consegna il giovedì.",
        "unit": "kg",
        "price_cents": "3,50",
        "place": "Via Roma 1, Tradate",
        "minutes_saved_per_unit": "20",
        "cancellation_hours": "24",
        "accepts_card": "y",
        "active": "y",
    }
    data.update(overrides)
    return data


def test_a_provider_lists_a_service_and_its_slots(client, db, login_as):
    provider = login_as(Role.PROVIDER)
    assert client.get("/provider/services/new").status_code == 200
    response = client.post("/provider/services/new", data=service_form())
    assert response.status_code == 302
    service = db.scalars(select(Service)).one()
    assert (service.organisation_id, service.price_cents, service.accepts_card) == (
        provider.organisation_id,
        3_50,
        True,
    )
    day = (utcnow() + timedelta(days=7)).date()
    response = client.post(
        f"/provider/services/{service.id}",
        data={
            "day": day.isoformat(),
            "start": "09:00",
            "end": "12:00",
            "capacity": "4",
            "weeks": "2",
        },
    )
    assert response.status_code == 302
    slots = db.scalars(select(Slot).where(Slot.service_id == service.id)).all()
    assert len(slots) == 2
    page = client.get(f"/provider/services/{service.id}").get_data(as_text=True)
    assert "0 su 4" in page
    # Edit: a price that is not a number is refused next to the field.
    refused = client.post(
        f"/provider/services/{service.id}/edit", data=service_form(price_cents="tre")
    )
    assert refused.status_code == 200
    assert "is-invalid" in refused.get_data(as_text=True)
    client.post(f"/provider/services/{service.id}/edit", data=service_form(price_cents="4,00"))
    db.expire_all()
    assert service.price_cents == 4_00
    # A slot nobody booked can be removed.
    client.post(f"/provider/slots/{slots[0].id}/remove")
    assert len(db.scalars(select(Slot).where(Slot.service_id == service.id)).all()) == 1
    assert client.get("/provider/services").status_code == 200


def test_a_public_body_is_not_offered_card_payments(client, db, login_as):
    public = factories.organisation(db, OrganisationKind.PUBLIC_BODY)
    login_as(Role.PROVIDER, org=public)
    assert 'name="accepts_card"' not in client.get("/provider/services/new").get_data(as_text=True)
    response = client.post("/provider/services/new", data=service_form())
    assert response.status_code == 200  # refused: a public body collects through pagoPA
    assert db.scalars(select(Service)).first() is None


def test_the_provider_confirms_delivery_and_the_share_is_spent(client, db, auth):
    w = make_world(db)
    slot = make_slot(db, w.service, starts_in=timedelta(hours=-1))
    db.commit()
    booking = bookings.book(
        db, w.worker, slot, w.voucher, 2, card=False, now=utcnow() - timedelta(days=2)
    )
    db.commit()
    auth.login(w.provider)
    listing = client.get("/provider/bookings").get_data(as_text=True)
    assert w.worker.full_name in listing
    page = client.get(f"/provider/bookings/{booking.id}").get_data(as_text=True)
    assert f"/provider/bookings/{booking.id}/deliver" in page
    assert client.post(f"/provider/bookings/{booking.id}/deliver").status_code == 302
    db.expire_all()
    assert booking.status is B.DELIVERED
    line = w.measure.budget_line
    assert line.spent_cents == 20_00
    assert budget.ledger_balances(db, line.id) == budget.line_balances(line)
    assert client.get("/provider/bookings?show=delivered").status_code == 200


def test_the_provider_cancels_saying_why(client, db, auth, world):
    booking = book(db, world, 2, card=False)
    auth.login(world.provider)
    refused = client.post(f"/provider/bookings/{booking.id}/cancel", data={"reason": ""})
    assert refused.status_code == 400
    response = client.post(
        f"/provider/bookings/{booking.id}/cancel", data={"reason": "Furgone guasto"}
    )
    assert response.status_code == 302
    db.expire_all()
    assert (booking.status, booking.cancel_reason) == (B.CANCELLED, "Furgone guasto")


def test_statements_from_the_provider_to_the_operator(client, db, auth, world):
    first = booking_at(db, world, LAST_MONTH)
    second = booking_at(db, world, LAST_MONTH + timedelta(days=1), quantity=1)
    auth.login(world.provider)
    page = client.get("/provider/statements").get_data(as_text=True)
    assert world.alliance.name in page
    month = bookings.month_of(LAST_MONTH)
    response = client.post(
        "/provider/statements", data={"alliance_id": world.alliance.id, "month": month.isoformat()}
    )
    assert response.status_code == 302
    statement = db.scalars(select(ProviderStatement)).one()
    assert (statement.total_cents, statement.booking_count) == (30_00, 2)
    detail = client.get(f"/provider/statements/{statement.id}").get_data(as_text=True)
    assert world.worker.full_name in detail and "€\xa030,00" in detail
    download = client.get(f"/provider/statements/{statement.id}.xlsx")
    assert download.status_code == 200
    assert download.mimetype.endswith("spreadsheetml.sheet")
    assert "attachment" in download.headers["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(download.data)).active
    ids = [row[0] for row in sheet.iter_rows(values_only=True)]
    assert first.id in ids and second.id in ids
    auth.logout()

    auth.login(world.operator)
    listing = client.get("/operator/statements").get_data(as_text=True)
    assert world.provider_org.name in listing
    detail = client.get(f"/operator/statements/{statement.id}").get_data(as_text=True)
    assert f"/operator/statements/{statement.id}/pay" in detail
    same = client.get(f"/operator/statements/{statement.id}.xlsx")
    assert same.data == download.data
    assert client.post(f"/operator/statements/{statement.id}/pay").status_code == 302
    db.expire_all()
    assert statement.status is StatementStatus.PAID
    assert (first.status, second.status) == (B.SETTLED, B.SETTLED)
    line = world.measure.budget_line
    assert (line.spent_cents, line.paid_cents) == (30_00, 30_00)
    assert budget.ledger_balances(db, line.id) == budget.line_balances(line)


def test_other_tenants_get_404(client, db, auth, world):
    booking = booking_at(db, world, LAST_MONTH)
    statement = bookings.issue_statement(
        db,
        world.provider_org,
        world.alliance,
        bookings.month_of(LAST_MONTH),
        world.provider,
        utcnow(),
    )
    db.commit()
    other_provider = factories.user(db, Role.PROVIDER)
    other_operator = factories.user(db, Role.OPERATOR)
    db.commit()

    auth.login(other_provider)
    for url in (
        f"/provider/services/{world.service.id}",
        f"/provider/services/{world.service.id}/edit",
        f"/provider/bookings/{booking.id}",
        f"/provider/statements/{statement.id}",
        f"/provider/statements/{statement.id}.xlsx",
    ):
        assert client.get(url).status_code == 404, url
    for url in (
        f"/provider/bookings/{booking.id}/deliver",
        f"/provider/bookings/{booking.id}/cancel",
        f"/provider/slots/{world.slot.id}/remove",
    ):
        assert client.post(url).status_code == 404, url
    assert world.worker.full_name not in client.get("/provider/bookings").get_data(as_text=True)
    auth.logout()

    auth.login(other_operator)
    assert client.get(f"/operator/statements/{statement.id}").status_code == 404
    assert client.get(f"/operator/statements/{statement.id}.xlsx").status_code == 404
    assert client.post(f"/operator/statements/{statement.id}/pay").status_code == 404
    assert world.provider_org.name not in client.get("/operator/statements").get_data(as_text=True)
    auth.logout()

    auth.login(world.worker)  # workers have no provider or operator pages
    assert client.get("/provider/bookings").status_code == 404
    assert client.get("/operator/statements").status_code == 404
    db.expire_all()
    assert statement.status is StatementStatus.ISSUED


def test_access_rules_per_role(db, world):
    booking = book(db, world, 2, card=False)
    hr = factories.user(db, Role.HR)
    network = factories.user(db, Role.NETWORK, net=world.alliance.network)
    other_network = factories.user(db, Role.NETWORK)
    other_worker = factories.user(db, Role.WORKER)

    def sees(user, model, row) -> bool:
        return row in db.scalars(access.visible(model, user)).all()

    assert sees(world.worker, Booking, booking)
    assert not sees(other_worker, Booking, booking)
    assert sees(world.provider, Booking, booking)
    assert sees(world.operator, Booking, booking)
    assert sees(network, Booking, booking)
    assert not sees(other_network, Booking, booking)
    assert not sees(hr, Booking, booking)
    assert not sees(hr, Service, world.service)
    assert sees(world.operator, Service, world.service)
    assert sees(world.provider, Slot, world.slot)
    assert not sees(factories.user(db, Role.PROVIDER), Slot, world.slot)


def test_the_month_used_in_these_tests_has_ended():
    assert bookings.month_of(LAST_MONTH) < bookings.month_of(datetime.now(UTC))
    assert isinstance(bookings.month_of(LAST_MONTH), date)
