"""Bookings of time-saving services, through the services: book, cancel, deliver, statements.

The world (``tests.fixtures_salvatempo.make_world``): a worker with a 100 € time-saving
voucher at 50%, a cooperative partner of the alliance offering ironing at 20 € per kg, a
slot three days from now. Two kg cost 40 €: 20 € from the voucher, 20 € co-payment.
"""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, time, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from tests import factories
from tests.fixtures_salvatempo import (
    RecordingGateway,
    book,
    booking_at,
    make_service,
    make_slot,
    make_world,
)
from voucher.models import (
    AuditEvent,
    Booking,
    BookingStatus,
    Claim,
    ClaimStatus,
    LedgerEntry,
    LedgerKind,
    MeasureKind,
    Notification,
    OrganisationKind,
    PaymentStatus,
    Role,
    ServiceKind,
    Slot,
    StatementStatus,
    User,
    VoucherStatus,
)
from voucher.models.base import utcnow
from voucher.services import bookings, budget, catalogue, expiry, payments, review
from voucher.services.errors import Conflict, IllegalTransition, ValidationFailed
from voucher.services.statement_export import statement_xlsx

B, P = BookingStatus, PaymentStatus


def actions(db, entity) -> list[str]:
    return list(
        db.scalars(
            select(AuditEvent.action)
            .where(
                AuditEvent.entity_type == entity.__tablename__, AuditEvent.entity_id == entity.id
            )
            .order_by(AuditEvent.id)
        )
    )


def balanced(db, line) -> bool:
    db.expire(line)
    return budget.ledger_balances(db, line.id) == budget.line_balances(line)


# --- booking: the split, the holds, the payment route -----------------------------------


def test_a_booking_splits_the_price_holds_the_share_and_takes_a_place(db, world):
    booking = book(db, world, 2, card=False)

    assert (booking.total_cents, booking.voucher_cents, booking.copay_cents) == (
        40_00,
        20_00,
        20_00,
    )
    assert booking.unit_price_cents == 20_00
    # No card payment offered: confirmed at once, the co-payment is paid to the provider.
    assert (booking.status, booking.payment_status) == (B.CONFIRMED, P.AT_PROVIDER)
    db.expire_all()
    assert world.voucher.held_cents == 20_00
    assert world.voucher.remaining_cents == 80_00
    assert world.slot.booked == 1
    # The budget line does not move: the money stays reserved for the voucher.
    assert world.measure.budget_line.reserved_cents == 100_00
    assert actions(db, booking) == ["booking.create"]
    [note] = db.scalars(select(Notification).where(Notification.user_id == world.worker.id)).all()
    assert note.link == f"/worker/bookings/{booking.id}"


def test_with_card_payment_the_booking_waits_for_it(db, world):
    booking = book(db, world, 2, card=True)
    assert (booking.status, booking.payment_status) == (B.REQUESTED, P.PENDING)
    assert booking.confirmed_at is None
    # The place and the share are held while the worker pays.
    db.expire_all()
    assert (world.slot.booked, world.voucher.held_cents) == (1, 20_00)


def test_no_co_payment_means_nothing_to_pay(db):
    w = make_world(db, rate_pct=100)
    booking = book(db, w, 2, card=True)
    assert (booking.voucher_cents, booking.copay_cents) == (40_00, 0)
    assert (booking.status, booking.payment_status) == (B.CONFIRMED, P.NOT_REQUIRED)


def test_the_share_never_exceeds_what_the_voucher_has_left(db):
    w = make_world(db, voucher_cents=15_00)
    booking = book(db, w, 2, card=False)
    assert (booking.voucher_cents, booking.copay_cents) == (15_00, 25_00)
    # Nothing left: a second booking is refused.
    with pytest.raises(IllegalTransition):
        bookings.book(
            db, w.worker, make_slot(db, w.service), w.voucher, 1, card=False, now=utcnow()
        )


def test_requests_for_reimbursement_already_sent_keep_their_amount(db, world):
    db.add(
        Claim(
            voucher=world.voucher,
            worker=world.worker,
            status=ClaimStatus.SUBMITTED,
            requested_cents=90_00,
        )
    )
    db.commit()
    split = bookings.quote(db, world.voucher, world.service, 2)
    assert (split.voucher_cents, split.copay_cents) == (10_00, 30_00)


def test_a_claim_cannot_take_what_a_booking_holds(db, world):
    book(db, world, 5, card=False)  # 100 € total: 50 € held
    db.expire_all()
    assert world.voucher.remaining_cents == 50_00
    with pytest.raises(Conflict):
        review._use_voucher(db, world.voucher, 60_00)
    db.rollback()
    review._use_voucher(db, world.voucher, 50_00)
    db.expire_all()
    assert (world.voucher.used_cents, world.voucher.held_cents) == (50_00, 50_00)


def test_card_payment_is_offered_only_by_private_providers_with_a_gateway(db, world):
    gateway = RecordingGateway()
    assert payments.card_offered(gateway, world.service)
    assert not payments.card_offered(None, world.service)
    world.service.accepts_card = False
    assert not payments.card_offered(gateway, world.service)
    public = factories.organisation(db, OrganisationKind.PUBLIC_BODY)
    public_service = make_service(db, public, accepts_card=True)
    assert not payments.card_offered(gateway, public_service)


def test_without_keys_there_is_no_gateway(app):
    assert payments.gateway_for({"STRIPE_SECRET_KEY": None, "STRIPE_WEBHOOK_SECRET": "x"}) is None
    assert payments.gateway_for({"STRIPE_SECRET_KEY": "sk_x", "STRIPE_WEBHOOK_SECRET": ""}) is None
    assert isinstance(
        payments.gateway_for({"STRIPE_SECRET_KEY": "sk_x", "STRIPE_WEBHOOK_SECRET": "whsec_x"}),
        payments.StripeGateway,
    )
    assert payments.gateway_of(app) is None  # the test configuration has no keys


def test_the_last_place_goes_to_one_worker_only(db):
    w = make_world(db)
    slot = make_slot(db, w.service, capacity=1)
    other = factories.user(db, Role.WORKER)
    factories.employment(db, other, w.company)
    other_voucher = factories.voucher(db, other, w.measure, amount_cents=50_00)
    db.commit()
    bookings.book(db, w.worker, slot, w.voucher, 1, card=False, now=utcnow())
    db.commit()
    with pytest.raises(Conflict):
        bookings.book(db, other, slot, other_voucher, 1, card=False, now=utcnow())
    db.rollback()
    db.expire_all()
    assert slot.booked == 1
    assert other_voucher.held_cents == 0


def test_the_same_slot_cannot_be_booked_twice_by_one_worker(db, world):
    book(db, world, 1, card=False)
    with pytest.raises(Conflict):
        bookings.book(db, world.worker, world.slot, world.voucher, 1, card=False, now=utcnow())
    db.rollback()
    db.expire_all()
    assert world.slot.booked == 1
    assert world.voucher.held_cents == 10_00


def test_what_cannot_be_booked(db, world):
    now = utcnow()
    # Another worker's voucher.
    stranger = factories.user(db, Role.WORKER)
    with pytest.raises(IllegalTransition):
        bookings.book(db, stranger, world.slot, world.voucher, 1, card=False, now=now)
    # A quantity out of bounds.
    for quantity in (0, bookings.MAX_QUANTITY + 1, "2"):
        with pytest.raises(ValidationFailed):
            bookings.book(
                db, world.worker, world.slot, world.voucher, quantity, card=False, now=now
            )
    # A slot that has started.
    past = make_slot(db, world.service, starts_in=timedelta(hours=-1))
    with pytest.raises(IllegalTransition):
        bookings.book(db, world.worker, past, world.voucher, 1, card=False, now=now)
    # A provider that is not a partner of the voucher's alliance.
    outsider = make_service(db, factories.organisation(db, OrganisationKind.COOPERATIVE))
    with pytest.raises(IllegalTransition):
        bookings.book(
            db, world.worker, make_slot(db, outsider), world.voucher, 1, card=False, now=now
        )
    # A coworking desk is not paid by a time-saving voucher.
    desk = make_service(db, world.provider_org, kind=ServiceKind.COWORKING)
    with pytest.raises(IllegalTransition):
        bookings.book(db, world.worker, make_slot(db, desk), world.voucher, 1, card=False, now=now)
    # A service no longer bookable.
    world.service.active = False
    with pytest.raises(IllegalTransition):
        bookings.book(db, world.worker, world.slot, world.voucher, 1, card=False, now=now)
    world.service.active = True
    # A family voucher does not pay for time-saving services.
    family = factories.voucher(
        db, world.worker, factories.measure(db, world.measure.project), amount_cents=50_00
    )
    with pytest.raises(IllegalTransition):
        bookings.book(db, world.worker, world.slot, family, 1, card=False, now=now)
    # A revoked voucher.
    expiry.revoke(db, world.voucher, world.operator, "Dimissioni")
    with pytest.raises(IllegalTransition):
        bookings.book(db, world.worker, world.slot, world.voucher, 1, card=False, now=now)
    db.rollback()
    assert db.scalar(select(func.count()).select_from(Booking)) == 0


def test_the_catalogue_shows_what_the_workers_vouchers_pay_for(db, world):
    today = utcnow().date()
    outsider = make_service(db, factories.organisation(db, OrganisationKind.COOPERATIVE))
    inactive = make_service(db, world.provider_org)
    inactive.active = False
    desk = make_service(db, world.provider_org, kind=ServiceKind.COWORKING)
    db.commit()
    options = bookings.services_for(db, world.worker, today)
    assert [o.service for o in options] == [world.service]
    assert options[0].vouchers == [world.voucher]
    assert outsider not in [o.service for o in options] and desk not in [o.service for o in options]
    # Somebody without a time-saving voucher sees nothing.
    assert bookings.services_for(db, factories.user(db, Role.WORKER), today) == []
    # A coworking voucher pays for desks.
    coworking = factories.measure(db, world.measure.project, kind=MeasureKind.COWORKING)
    factories.voucher(db, world.worker, coworking, amount_cents=50_00)
    assert {o.service for o in bookings.services_for(db, world.worker, today)} == {
        world.service,
        desk,
    }


# --- cancelling ------------------------------------------------------------------------


def test_the_worker_cancels_before_the_deadline_and_gets_the_share_back(db, world):
    booking = book(db, world, 2, card=False)
    bookings.cancel(db, booking, world.worker, "", utcnow())
    db.commit()
    db.expire_all()
    assert (booking.status, booking.payment_status) == (B.CANCELLED, P.AT_PROVIDER)
    assert (world.voucher.held_cents, world.voucher.remaining_cents) == (0, 100_00)
    assert world.slot.booked == 0
    assert actions(db, booking) == ["booking.create", "booking.cancel"]
    with pytest.raises(IllegalTransition):
        bookings.cancel(db, booking, world.worker, "", utcnow())


def test_after_the_deadline_only_the_provider_cancels_and_says_why(db, world):
    booking = book(db, world, 2, card=False)
    late = bookings.as_utc(world.slot.starts_at) - timedelta(hours=2)  # deadline: 24 h before
    with pytest.raises(IllegalTransition):
        bookings.cancel(db, booking, world.worker, "", late)
    with pytest.raises(IllegalTransition):
        bookings.cancel(db, booking, factories.user(db, Role.WORKER), "", utcnow())
    with pytest.raises(IllegalTransition):
        other = factories.user(db, Role.PROVIDER)
        bookings.cancel(db, booking, other, "Malattia", late)
    with pytest.raises(ValidationFailed):
        bookings.cancel(db, booking, world.provider, "  ", late)
    bookings.cancel(db, booking, world.provider, "Operatrice malata", late)
    db.commit()
    assert booking.status is B.CANCELLED
    assert booking.cancel_reason == "Operatrice malata"
    [_confirmed, cancelled] = db.scalars(
        select(Notification)
        .where(Notification.user_id == world.worker.id)
        .order_by(Notification.id)
    ).all()
    assert "Operatrice malata" in cancelled.body


def test_cancelling_a_paid_booking_makes_a_refund_due_then_refunds_it_once(db, world):
    gateway = RecordingGateway()
    booking = book(db, world, 2, card=True)
    bookings.start_checkout(db, booking, gateway, "https://x/ok", "https://x/ko")
    db.commit()
    # As the webhook does when Stripe says it is paid.
    assert bookings._payment_received(db, booking, "pi_paid")
    db.commit()
    assert (booking.status, booking.payment_status) == (B.CONFIRMED, P.PAID)

    bookings.cancel(db, booking, world.worker, "", utcnow(), gateway)
    db.commit()
    assert booking.payment_status is P.REFUND_PENDING
    assert booking.refund_idempotency_key == f"booking-{booking.id}-refund"
    assert bookings.complete_refund(db, booking, gateway)
    db.commit()
    assert booking.payment_status is P.REFUNDED
    assert booking.stripe_refund_id.startswith("re_test_")
    # Done: asking again does not call Stripe.
    assert bookings.complete_refund(db, booking, gateway)
    assert gateway.refund_calls == [("pi_paid", 20_00, f"booking-{booking.id}-refund")]
    db.expire_all()
    assert world.voucher.held_cents == 0


def test_cancelling_before_paying_closes_the_payment_page(db, world):
    gateway = RecordingGateway()
    booking = book(db, world, 2, card=True)
    bookings.start_checkout(db, booking, gateway, "https://x/ok", "https://x/ko")
    db.commit()
    bookings.cancel(db, booking, world.worker, "", utcnow(), gateway)
    db.commit()
    assert (booking.status, booking.payment_status) == (B.CANCELLED, P.EXPIRED)
    assert gateway.expired == [booking.stripe_checkout_session_id]
    assert gateway.refund_calls == []


def test_the_checkout_page_is_opened_once_per_booking(db, world):
    gateway = RecordingGateway()
    booking = book(db, world, 2, card=True)
    first = bookings.start_checkout(db, booking, gateway, "https://x/ok", "https://x/ko")
    db.commit()
    again = bookings.start_checkout(db, booking, gateway, "https://x/ok", "https://x/ko")
    assert first == again
    [checkout] = gateway.checkouts
    assert checkout["client_reference_id"] == str(booking.id)
    assert checkout["amount"] == 20_00
    assert checkout["locale"] == "it"
    confirmed = book(db, world, 1, card=False, slot=make_slot(db, world.service))
    with pytest.raises(IllegalTransition):
        bookings.start_checkout(db, confirmed, gateway, "https://x/ok", "https://x/ko")


def test_a_cancelled_booking_of_an_ended_voucher_gives_its_share_to_the_budget(db, world):
    booking = book(db, world, 2, card=False)  # 20 € held
    line = world.measure.budget_line
    expiry.revoke(db, world.voucher, world.operator, "Fine del rapporto")
    db.commit()
    db.expire_all()
    # Revoking released only what the booking does not hold.
    assert world.voucher.released_cents == 80_00
    assert line.reserved_cents == 20_00
    bookings.cancel(db, booking, world.worker, "", utcnow())
    db.commit()
    db.expire_all()
    assert world.voucher.released_cents == 100_00
    assert line.reserved_cents == 0
    assert balanced(db, line)


# --- delivery ---------------------------------------------------------------------------


def test_delivery_spends_the_voucher_share_on_the_budget_line(db, world):
    booking = book(db, world, 2, card=False)
    start = bookings.as_utc(world.slot.starts_at)
    with pytest.raises(IllegalTransition):
        bookings.deliver(db, booking, world.provider, start - timedelta(minutes=1))
    with pytest.raises(IllegalTransition):
        bookings.deliver(db, booking, factories.user(db, Role.PROVIDER), start)
    with pytest.raises(IllegalTransition):
        bookings.deliver(db, booking, world.worker, start)
    bookings.deliver(db, booking, world.provider, start + timedelta(hours=1))
    db.commit()
    db.expire_all()
    assert booking.status is B.DELIVERED
    assert booking.delivered_by_id == world.provider.id
    assert (world.voucher.used_cents, world.voucher.held_cents) == (20_00, 0)
    line = world.measure.budget_line
    assert (line.reserved_cents, line.spent_cents) == (80_00, 20_00)
    assert balanced(db, line)
    [spend] = db.scalars(
        select(LedgerEntry).where(
            LedgerEntry.kind == LedgerKind.SPEND, LedgerEntry.reference_type == "booking"
        )
    ).all()
    assert (spend.reference_id, spend.amount_cents) == (booking.id, 20_00)
    with pytest.raises(IllegalTransition):
        bookings.deliver(db, booking, world.provider, start + timedelta(hours=2))
    with pytest.raises(IllegalTransition):
        bookings.cancel(db, booking, world.provider, "troppo tardi", start + timedelta(hours=2))


def test_a_booking_waiting_for_payment_cannot_be_delivered(db, world):
    booking = book(db, world, 2, card=True)
    with pytest.raises(IllegalTransition):
        bookings.deliver(db, booking, world.provider, bookings.as_utc(world.slot.starts_at))


def test_delivering_the_last_of_a_voucher_exhausts_it(db):
    w = make_world(db, voucher_cents=20_00)
    booking = book(db, w, 2, card=False)
    bookings.deliver(db, booking, w.provider, bookings.as_utc(w.slot.starts_at))
    db.commit()
    db.expire_all()
    assert w.voucher.status is VoucherStatus.EXHAUSTED
    assert "voucher.exhaust" in actions(db, w.voucher)


# --- monthly statements -----------------------------------------------------------------

OCTOBER = datetime(2026, 10, 14, 10, 0, tzinfo=UTC)
NOVEMBER_NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def test_months_follow_italian_time():
    # 23:30 UTC on 31 October is already November in Italy.
    assert bookings.month_of(datetime(2026, 10, 31, 23, 30, tzinfo=UTC)) == date(2026, 11, 1)
    assert bookings.month_of(datetime(2026, 10, 31, 22, 30, tzinfo=UTC)) == date(2026, 10, 1)
    start, end = bookings.month_bounds(date(2026, 12, 1))
    assert start == datetime(2026, 11, 30, 23, 0, tzinfo=UTC)
    assert end == datetime(2026, 12, 31, 23, 0, tzinfo=UTC)


def test_a_closed_months_deliveries_make_one_statement_that_the_alliance_pays(db, world):
    first = booking_at(db, world, OCTOBER, quantity=2)
    second = booking_at(db, world, OCTOBER + timedelta(days=3), quantity=1)
    current = booking_at(db, world, NOVEMBER_NOW - timedelta(days=1), quantity=1)
    line = world.measure.budget_line

    [due] = bookings.statements_due(db, world.provider_org.id, NOVEMBER_NOW)
    assert (due.alliance, due.month, due.booking_count, due.total_cents) == (
        world.alliance,
        date(2026, 10, 1),
        2,
        30_00,
    )
    with pytest.raises(ValidationFailed):  # this month has not ended
        bookings.issue_statement(
            db, world.provider_org, world.alliance, date(2026, 11, 1), world.provider, NOVEMBER_NOW
        )
    with pytest.raises(IllegalTransition):  # another provider
        bookings.issue_statement(
            db,
            world.provider_org,
            world.alliance,
            date(2026, 10, 1),
            factories.user(db, Role.PROVIDER),
            NOVEMBER_NOW,
        )
    statement = bookings.issue_statement(
        db, world.provider_org, world.alliance, date(2026, 10, 9), world.provider, NOVEMBER_NOW
    )
    db.commit()
    assert (statement.month, statement.total_cents, statement.booking_count) == (
        date(2026, 10, 1),
        30_00,
        2,
    )
    assert statement.status is StatementStatus.ISSUED
    db.expire_all()
    assert {first.statement_id, second.statement_id} == {statement.id}
    assert current.statement_id is None
    assert bookings.statements_due(db, world.provider_org.id, NOVEMBER_NOW) == []
    with pytest.raises((ValidationFailed, Conflict)):
        bookings.issue_statement(
            db, world.provider_org, world.alliance, date(2026, 10, 1), world.provider, NOVEMBER_NOW
        )
    db.rollback()

    with pytest.raises(IllegalTransition):  # only the alliance's operators pay
        bookings.mark_statement_paid(db, statement, world.provider, NOVEMBER_NOW)
    with pytest.raises(IllegalTransition):
        bookings.mark_statement_paid(db, statement, factories.user(db, Role.OPERATOR), NOVEMBER_NOW)
    bookings.mark_statement_paid(db, statement, world.operator, NOVEMBER_NOW)
    db.commit()
    db.expire_all()
    assert statement.status is StatementStatus.PAID
    assert (first.status, second.status, current.status) == (B.SETTLED, B.SETTLED, B.DELIVERED)
    assert first.settled_at is not None
    assert (line.spent_cents, line.paid_cents) == (40_00, 30_00)
    assert balanced(db, line)
    with pytest.raises(IllegalTransition):
        bookings.mark_statement_paid(db, statement, world.operator, NOVEMBER_NOW)
    notes = db.scalars(select(Notification).where(Notification.user_id == world.provider.id)).all()
    assert any("30,00" in n.body for n in notes)


def test_the_statement_spreadsheet_is_the_same_every_time(db, world, app):
    booking = booking_at(db, world, OCTOBER, quantity=2)
    statement = bookings.issue_statement(
        db, world.provider_org, world.alliance, date(2026, 10, 1), world.provider, NOVEMBER_NOW
    )
    db.commit()
    with app.test_request_context():
        first = statement_xlsx(db, statement)
        second = statement_xlsx(db, statement)
    assert first == second
    sheet = load_workbook(io.BytesIO(first)).active
    rows = [[c for c in row] for row in sheet.iter_rows(values_only=True)]
    assert rows[0][1] == world.provider_org.name
    assert rows[6][1] == 20.0  # total to pay
    [line] = [r for r in rows if r[0] == booking.id]
    assert tuple(line[4:10]) == (2, "kg", 20.0, 40.0, 20.0, 20.0)
    assert line[10] == world.worker.full_name


# --- the providers' catalogue -----------------------------------------------------------


def service_fields(**overrides):
    fields = {
        "kind": "ironing",
        "title": "Stireria sociale",
        "description": "",
        "unit": "kg",
        "price_cents": 3_50,
        "place": "Tradate",
        "minutes_saved_per_unit": 20,
        "cancellation_hours": 24,
        "accepts_card": True,
        "active": True,
    }
    fields.update(overrides)
    return fields


def test_providers_describe_their_services(db):
    provider = factories.user(db, Role.PROVIDER)
    service = catalogue.save_service(db, None, provider, **service_fields())
    db.commit()
    assert service.organisation_id == provider.organisation_id
    assert (service.kind, service.unit, service.price_cents) == (ServiceKind.IRONING, "kg", 3_50)
    with pytest.raises(ValidationFailed) as refused:
        catalogue.save_service(
            db,
            service,
            provider,
            **service_fields(title="", price_cents=0, kind="x", minutes_saved_per_unit=-1),
        )
    assert set(refused.value.errors) == {"title", "price_cents", "kind", "minutes_saved_per_unit"}
    db.rollback()
    with pytest.raises(IllegalTransition):
        catalogue.save_service(db, service, factories.user(db, Role.PROVIDER), **service_fields())
    with pytest.raises(IllegalTransition):
        catalogue.save_service(db, None, factories.user(db, Role.HR), **service_fields())
    assert actions(db, service) == ["service.create"]


def test_a_public_body_cannot_take_card_payments(db):
    public = factories.organisation(db, OrganisationKind.PUBLIC_BODY)
    provider = factories.user(db, Role.PROVIDER, org=public)
    db.commit()
    with pytest.raises(ValidationFailed) as refused:
        catalogue.save_service(db, None, provider, **service_fields(accepts_card=True))
    assert "accepts_card" in refused.value.errors
    db.rollback()
    assert catalogue.save_service(db, None, provider, **service_fields(accepts_card=False))


def test_slots_are_typed_in_italian_time_and_repeat_weekly(db, world):
    now = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    slots = catalogue.add_slots(
        db,
        world.service,
        world.provider,
        day=date(2026, 12, 1),
        start=time(9, 0),
        end=time(12, 0),
        capacity=4,
        weeks=3,
        now=now,
    )
    db.commit()
    assert [bookings.as_utc(s.starts_at) for s in slots] == [
        datetime(2026, 12, 1, 8, 0, tzinfo=UTC),  # 9:00 in Rome in winter
        datetime(2026, 12, 8, 8, 0, tzinfo=UTC),
        datetime(2026, 12, 15, 8, 0, tzinfo=UTC),
    ]
    assert {s.capacity for s in slots} == {4}
    with pytest.raises(ValidationFailed) as refused:
        catalogue.add_slots(
            db,
            world.service,
            world.provider,
            day=date(2026, 11, 1),
            start=time(9, 0),
            end=time(8, 0),
            capacity=0,
            weeks=20,
            now=now,
        )
    assert set(refused.value.errors) == {"end", "capacity", "weeks"}
    with pytest.raises(ValidationFailed) as refused:
        catalogue.add_slots(
            db,
            world.service,
            world.provider,
            day=date(2026, 11, 1),
            start=time(9, 0),
            end=time(10, 0),
            capacity=1,
            weeks=1,
            now=now,
        )
    assert set(refused.value.errors) == {"day"}


def test_only_a_slot_nobody_booked_can_be_removed(db, world):
    free = make_slot(db, world.service)
    booking = book(db, world, 1, card=False)
    bookings.cancel(db, booking, world.worker, "", utcnow())
    db.commit()
    with pytest.raises(IllegalTransition):  # booked once: it keeps its history
        catalogue.remove_slot(db, world.slot, world.provider)
    with pytest.raises(IllegalTransition):
        catalogue.remove_slot(db, free, factories.user(db, Role.PROVIDER))
    free_id = free.id
    catalogue.remove_slot(db, free, world.provider)
    db.commit()
    assert db.get(Slot, free_id) is None


# --- demo -------------------------------------------------------------------------------


def test_the_demo_worker_can_book_the_demo_providers_services(db):
    from voucher.services import demo

    demo.load_demo(db)
    db.commit()
    worker = db.scalars(select(User).where(User.email == "lavoratrice@demo.example")).one()
    provider = db.scalars(select(User).where(User.email == demo.SALVATEMPO_PROVIDER)).one()
    now = utcnow()
    options = bookings.services_for(db, worker, now.date())
    titles = {o.service.title for o in options}
    assert titles == {"Stireria sociale", "Maggiordomo aziendale"}
    for option in options:
        assert option.service.organisation_id == provider.organisation_id
        assert not option.service.organisation.is_public
        slots = bookings.open_slots(db, option.service, now)
        assert len(slots) == 2 * demo.SLOT_WEEKS
        assert all(bookings.as_utc(s.starts_at) > now for s in slots)
    [voucher] = options[0].vouchers
    assert voucher.measure.kind is MeasureKind.TIME_SAVING
    assert voucher.amount_cents == 150_00
    # One booking delivered last month, in the statement the operator has to pay; one to come.
    delivered, upcoming = sorted(bookings.worker_bookings(db, worker), key=lambda b: b.id)
    assert (delivered.status, upcoming.status) == (B.DELIVERED, B.CONFIRMED)
    [statement] = bookings.visible_statements(db, provider)
    assert statement.status is StatementStatus.ISSUED
    assert delivered.statement_id == statement.id
    operator = db.scalars(select(User).where(User.email == "operatore@demo.example")).one()
    assert bookings.visible_statements(db, operator) == [statement]
    line = voucher.budget_line
    assert budget.ledger_balances(db, line.id) == budget.line_balances(line)
    # Loading it again adds nothing.
    created = demo.load_demo(db).split(";")[0]
    assert "service" not in created and "booking" not in created
