"""Fixtures of the time-saving services area: a small world with a provider, a worker with
a time-saving voucher and a bookable slot; a recording payment gateway; Stripe-signed
webhook events; and localstripe (a local Stripe-compatible API) for refunds.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from tests import factories
from voucher.models import (
    Alliance,
    Booking,
    Measure,
    MeasureKind,
    Organisation,
    OrganisationKind,
    Role,
    Service,
    ServiceKind,
    ServiceUnit,
    Slot,
    User,
    Voucher,
)
from voucher.models.base import utcnow
from voucher.services import bookings
from voucher.services.payments import PaymentTimeout, StripeGateway

WEBHOOK_SECRET = "whsec_test_salvatempo"
SECRET_KEY = "sk_test_salvatempo"
ROOT = Path(__file__).resolve().parent.parent
_ids = itertools.count(1)


# --- a world to book in -----------------------------------------------------------------


@dataclass
class World:
    """An alliance with a partner company (the worker's employer) and a private provider."""

    alliance: Alliance
    company: Organisation
    provider_org: Organisation
    measure: Measure
    worker: User
    voucher: Voucher
    provider: User
    operator: User
    service: Service
    slot: Slot
    extra: dict[str, Any] = field(default_factory=dict)


def make_service(
    db: Session,
    org: Organisation,
    *,
    price_cents: int = 20_00,
    accepts_card: bool = True,
    kind: ServiceKind = ServiceKind.IRONING,
    cancellation_hours: int = 24,
) -> Service:
    service = Service(
        organisation=org,
        kind=kind,
        title=f"Stireria {factories.seq()}",
        description="Ritiro e consegna in azienda.",
        unit=ServiceUnit.KG,
        price_cents=price_cents,
        place="Via Roma 1, Tradate",
        minutes_saved_per_unit=20,
        cancellation_hours=cancellation_hours,
        accepts_card=accepts_card,
        active=True,
    )
    db.add(service)
    db.flush()
    return service


def make_slot(
    db: Session, service: Service, starts_in: timedelta = timedelta(days=3), capacity: int = 3
) -> Slot:
    start = utcnow().replace(microsecond=0) + starts_in
    slot = Slot(
        service=service,
        starts_at=start,
        ends_at=start + timedelta(hours=2),
        capacity=capacity,
        booked=0,
    )
    db.add(slot)
    db.flush()
    return slot


def make_world(
    db: Session,
    *,
    provider_kind: OrganisationKind = OrganisationKind.COOPERATIVE,
    voucher_cents: int = 100_00,
    rate_pct: int = 50,
    price_cents: int = 20_00,
    accepts_card: bool = True,
) -> World:
    """Everything committed: a booking can be made by the worker straight away."""
    company = factories.organisation(db)
    provider_org = factories.organisation(db, provider_kind)
    alliance = factories.alliance(
        db,
        partners=[company, provider_org, factories.organisation(db, OrganisationKind.COOPERATIVE)],
    )
    measure = factories.measure(
        db, factories.project(db, alliance), allocated_cents=1_000_00, kind=MeasureKind.TIME_SAVING
    )
    measure.reimbursement_rate_pct = rate_pct
    worker = factories.user(db, Role.WORKER)
    factories.employment(db, worker, company)
    voucher = factories.voucher(db, worker, measure, amount_cents=voucher_cents)
    provider = factories.user(db, Role.PROVIDER, org=provider_org)
    operator = factories.user(db, Role.OPERATOR, all_=alliance)
    service = make_service(db, provider_org, price_cents=price_cents, accepts_card=accepts_card)
    slot = make_slot(db, service)
    db.commit()
    return World(
        alliance, company, provider_org, measure, worker, voucher, provider, operator, service, slot
    )


@pytest.fixture
def world(db: Session) -> World:
    return make_world(db)


def book(
    db: Session, w: World, quantity: int = 2, *, card: bool = True, slot: Slot | None = None
) -> Booking:
    """A booking made through the service, committed."""
    booking = bookings.book(
        db, w.worker, slot or w.slot, w.voucher, quantity, card=card, now=utcnow()
    )
    db.commit()
    return booking


# --- payment gateways -------------------------------------------------------------------


class RecordingGateway(StripeGateway):
    """Stripe's real signature checks; Checkout and refunds recorded instead of sent.

    ``refund_failures``: how many refund calls time out first. With ``lost_response`` the
    timed-out call did reach Stripe (the refund exists) and only its answer was lost.
    """

    def __init__(self, refund_failures: int = 0, lost_response: bool = False) -> None:
        super().__init__(SECRET_KEY, WEBHOOK_SECRET)
        self.checkouts: list[dict[str, Any]] = []
        self.expired: list[str] = []
        self.refund_calls: list[tuple[str, int, str]] = []
        self.refunds: dict[str, str] = {}  # idempotency key -> refund id (what "Stripe" did)
        self.refund_failures = refund_failures
        self.lost_response = lost_response

    def create_checkout_session(self, booking, success_url, cancel_url):  # type: ignore[no-untyped-def]
        session_id = f"cs_test_{next(_ids)}"
        self.checkouts.append(
            {
                "id": session_id,
                "booking_id": booking.id,
                "client_reference_id": str(booking.id),
                "amount": booking.copay_cents,
                "locale": booking.worker.locale or "it",
                "success_url": success_url,
                "cancel_url": cancel_url,
            }
        )
        return session_id, f"https://checkout.stripe.test/c/pay/{session_id}"

    def expire_checkout_session(self, session_id: str) -> None:
        self.expired.append(session_id)

    def refund(self, payment_intent_id: str, amount_cents: int, idempotency_key: str) -> str:
        self.refund_calls.append((payment_intent_id, amount_cents, idempotency_key))
        if self.refund_failures > 0:
            self.refund_failures -= 1
            if self.lost_response:
                self.refunds.setdefault(idempotency_key, f"re_test_{next(_ids)}")
            raise PaymentTimeout("Request timed out")
        # Like Stripe with an idempotency key: the same key, the same refund.
        return self.refunds.setdefault(idempotency_key, f"re_test_{next(_ids)}")


@pytest.fixture
def gateway(app) -> RecordingGateway:  # type: ignore[no-untyped-def]
    """A recording gateway installed as the application's (card payment offered)."""
    recording = RecordingGateway()
    app.config.update(STRIPE_SECRET_KEY=SECRET_KEY, STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET)
    app.extensions["payment_gateway"] = recording
    return recording


# --- signed webhook events --------------------------------------------------------------


def signature(payload: bytes, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """A ``Stripe-Signature`` header as Stripe computes it (HMAC-SHA256 of "t.payload")."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def event(kind: str, obj: dict[str, Any], event_id: str | None = None) -> bytes:
    """The JSON body of a Stripe event."""
    return json.dumps(
        {
            "id": event_id or f"evt_test_{next(_ids)}",
            "object": "event",
            "type": kind,
            "created": int(time.time()),
            "livemode": False,
            "api_version": "2024-06-20",
            "data": {"object": obj},
        }
    ).encode()


def checkout_completed(booking: Booking, **overrides: Any) -> dict[str, Any]:
    """A Checkout Session object as ``checkout.session.completed`` carries it."""
    obj = {
        "id": booking.stripe_checkout_session_id,
        "object": "checkout.session",
        "client_reference_id": str(booking.id),
        "metadata": {"booking_id": str(booking.id)},
        "payment_status": "paid",
        "status": "complete",
        "amount_total": booking.copay_cents,
        "currency": "eur",
        "payment_intent": f"pi_test_{booking.id}",
        "mode": "payment",
    }
    obj.update(overrides)
    return obj


def post_event(client, payload: bytes, header: str | None = None):  # type: ignore[no-untyped-def]
    return client.post(
        "/payments/stripe/webhook",
        data=payload,
        headers={"Stripe-Signature": header if header is not None else signature(payload)},
        content_type="application/json",
    )


# --- localstripe ------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def localstripe() -> Iterator[str]:
    """localstripe on a free loopback port for the session; its base URL."""
    port = _free_port()
    process = subprocess.Popen(  # noqa: S603  (our own interpreter and module)
        [sys.executable, "-m", "tests.localstripe_server", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            request = urllib.request.Request(  # noqa: S310  (a loopback http URL we built)
                f"{base}/v1/charges", headers={"Authorization": f"Bearer {SECRET_KEY}"}
            )
            with urllib.request.urlopen(request, timeout=1):  # noqa: S310
                break
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                stderr = process.stderr.read().decode() if process.stderr else ""
                raise RuntimeError(f"localstripe did not start: {stderr}") from None
            time.sleep(0.1)
    yield base
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    if process.stderr:
        process.stderr.close()


@pytest.fixture
def stripe_gateway(localstripe: str) -> StripeGateway:
    """The real Stripe gateway, talking to localstripe."""
    return StripeGateway(SECRET_KEY, WEBHOOK_SECRET, api_base=localstripe, timeout=10)


def paid_intent(gateway: StripeGateway, amount_cents: int) -> str:
    """A card payment made on localstripe: a confirmed PaymentIntent's id."""
    client = gateway.client
    method = client.v1.payment_methods.create(
        params={
            "type": "card",
            "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"},
        }
    )
    intent = client.v1.payment_intents.create(
        params={"amount": amount_cents, "currency": "eur", "payment_method": method.id}
    )
    confirmed = client.v1.payment_intents.confirm(intent.id)
    assert confirmed.status == "succeeded", confirmed
    return intent.id


def refunds_of(gateway: StripeGateway, intent_id: str) -> list[Any]:
    """Every refund localstripe holds for the payment."""
    return list(
        gateway.client.v1.refunds.list(params={"payment_intent": intent_id, "limit": 100}).data
    )


def booking_at(
    db: Session,
    w: World,
    delivered: datetime,
    *,
    quantity: int = 2,
    service: Service | None = None,
    card: bool = False,
) -> Booking:
    """A booking delivered at ``delivered``: its slot an hour before, booked two days before."""
    service = service or w.service
    slot = Slot(
        service=service,
        starts_at=delivered - timedelta(hours=1),
        ends_at=delivered,
        capacity=5,
        booked=0,
    )
    db.add(slot)
    db.flush()
    booking = bookings.book(
        db, w.worker, slot, w.voucher, quantity, card=card, now=delivered - timedelta(days=2)
    )
    bookings.deliver(db, booking, w.provider, delivered)
    db.commit()
    return booking
