"""The access-control matrix, checked over the whole URL map.

1. Every endpoint declares who may use it: ``role_required`` (which records the roles on
   the view) or an entry in ``PUBLIC`` saying why anyone may.
2. Every route that takes an object id is probed, GET and POST, by every other role and
   by every foreign tenant (another worker, another company's HR, another alliance's
   operator, another network's officer, another provider) with the ids of one tenant's
   objects: each probe must answer 404, and the database must be byte-for-byte the same
   afterwards.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date

import pytest
from flask import Flask
from sqlalchemy import text
from sqlalchemy.orm import Session

from tests import factories
from tests.test_payouts import DEBTOR_IBAN, approved_claim
from tests.test_review import submitted_claim
from voucher.models import Base, Role, User
from voucher.services import clock, payouts

# Endpoints anyone may use, and why.
PUBLIC = {
    "static": "the CSS, fonts and icons of every page",
    "main.index": "the public home page",
    "main.privacy": "the privacy notice, linked from registration",
    "main.healthz": "load balancers and monitoring",
    "auth.login": "signing in",
    "auth.logout": "signing out (harmless without a session)",
    "auth.register": "workers register themselves",
    "auth.reset_request": "asking for a password reset link",
    "auth.reset_password": "using a signed, expiring reset link",
    "auth.activate": "using the signed, expiring activation link of a new account",
    "auth.two_factor": "the code step of signing in (needs the password step first)",
    "auth.two_factor_setup": "linking an authenticator app (needs the password step first)",
    "payments.stripe_webhook": "Stripe's calls, authenticated by their signature instead",
}


def _policy(app: Flask, endpoint: str) -> frozenset[Role] | None:
    return getattr(app.view_functions[endpoint], "allowed_roles", None)


def test_every_endpoint_declares_its_role_policy(app):
    undeclared = sorted(
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if _policy(app, rule.endpoint) is None and rule.endpoint not in PUBLIC
    )
    assert undeclared == [], f"endpoints without a role policy: {undeclared}"
    stale = sorted(set(PUBLIC) - set(app.view_functions))
    assert stale == [], f"PUBLIC lists endpoints that no longer exist: {stale}"


# --- the probes -------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def folder(app, tmp_path):
    path = tmp_path / "uploads"
    app.config["UPLOAD_FOLDER"] = str(path)
    return path


def _tenant_a(db: Session, folder) -> tuple[dict[str, int], dict[Role, User]]:
    """One tenant with an object of every kind a URL can name, and its own people."""
    claim = submitted_claim(db, folder)
    voucher = claim.voucher
    measure = voucher.measure
    project = measure.project
    alliance = project.alliance
    alliance.lead.iban = DEBTOR_IBAN
    worker = claim.worker
    employer = alliance.partners[0]
    employment = factories.employment(db, worker, employer)
    dependant = factories.child(db, worker)
    paid = approved_claim(db, folder, meas=measure)
    operator = factories.user(db, Role.OPERATOR, all_=alliance)
    payout = payouts.create(db, project, operator, [paid.id], date(2099, 1, 1), clock.today())
    booking, statement = _time_saving(db, worker, voucher, alliance, alliance.partners[-1])
    people = {
        Role.WORKER: worker,
        Role.HR: factories.user(db, Role.HR, org=employer),
        Role.OPERATOR: operator,
        Role.NETWORK: factories.user(db, Role.NETWORK, net=alliance.network),
        Role.PROVIDER: factories.user(db, Role.PROVIDER, org=alliance.partners[-1]),
        Role.ADMIN: factories.user(db, Role.ADMIN),
    }
    ids = {
        "alliance_id": alliance.id,
        "measure_id": measure.id,
        "network_id": alliance.network_id,
        "organisation_id": employer.id,
        "programme_id": project.programme_id,
        "project_id": project.id,
        "user_id": worker.id,
        "employment_id": employment.id,
        "application_id": voucher.application_id,
        "voucher_id": voucher.id,
        "claim_id": claim.id,
        "receipt_id": claim.receipts[0].id,
        "payout_id": payout.id,
        "line_id": payout.lines[0].id,
        "id": dependant.id,  # /worker/family/<id>
        "name": "expenses",  # report lists: the id is the project's
        "service_id": booking.service_id,
        "slot_id": booking.slot_id,
        "booking_id": booking.id,
        "statement_id": statement.id,
    }
    return ids, people


def _time_saving(db: Session, worker, voucher, alliance, provider_org):  # type: ignore[no-untyped-def]
    """A service of the tenant's provider, a slot, the worker's booking, a statement."""
    from tests.fixtures_salvatempo import make_service, make_slot
    from voucher.models import Booking, BookingStatus, PaymentStatus, ProviderStatement

    service = make_service(db, provider_org)
    booking = Booking(
        slot=make_slot(db, service),
        service=service,
        worker=worker,
        voucher=voucher,
        quantity=1,
        unit_price_cents=service.price_cents,
        total_cents=service.price_cents,
        voucher_cents=service.price_cents // 2,
        copay_cents=service.price_cents - service.price_cents // 2,
        status=BookingStatus.CONFIRMED,
        payment_status=PaymentStatus.AT_PROVIDER,
    )
    statement = ProviderStatement(
        organisation_id=provider_org.id,
        alliance_id=alliance.id,
        month=date(2026, 1, 1),
        total_cents=booking.voucher_cents,
        booking_count=1,
    )
    db.add_all([booking, statement])
    db.flush()
    return booking, statement


def _strangers(db: Session) -> list[User]:
    """One person of every role from another tenant (another network altogether)."""
    alliance = factories.alliance(db)
    return [
        factories.user(db, Role.WORKER),
        factories.user(db, Role.HR),
        factories.user(db, Role.OPERATOR, all_=alliance),
        factories.user(db, Role.NETWORK, net=alliance.network),
        factories.user(db, Role.PROVIDER),
    ]


def _fingerprint(db: Session) -> str:
    """A hash of every row of every table, to show that nothing changed."""
    digest = hashlib.sha256()
    for table in Base.metadata.sorted_tables:
        order = ", ".join(c.name for c in table.primary_key.columns) or "1"
        for row in db.execute(text(f"SELECT * FROM {table.name} ORDER BY {order}")):  # noqa: S608
            digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()


def _url(rule, ids: dict[str, int]) -> str | None:
    values = {}
    for name in rule.arguments:
        if name not in ids:
            return None
        values[name] = ids[name]
    path = rule.rule
    for name, value in values.items():
        path = re.sub(rf"<(?:[a-z]+:)?{name}>", str(value), path)
    return path


def test_no_object_of_one_tenant_is_reachable_by_anyone_else(app, db, client, auth, folder):
    ids, people = _tenant_a(db, folder)
    strangers = _strangers(db)
    db.commit()

    rules = [
        r
        for r in app.url_map.iter_rules()
        if r.arguments and r.endpoint not in PUBLIC and r.endpoint != "static"
    ]
    unmapped = sorted(r.rule for r in rules if _url(r, ids) is None)
    assert unmapped == [], f"add these URL parameters to the tenant's ids: {unmapped}"

    clients = {}
    for person in [*people.values(), *strangers]:
        user_client = app.test_client()
        response = user_client.post(
            "/auth/login", data={"email": person.email, "password": factories.PASSWORD}
        )
        assert response.status_code == 302
        clients[person.id] = (person.role, user_client)

    before = _fingerprint(db)
    probes = leaks = 0
    for rule in rules:
        allowed = _policy(app, rule.endpoint) or frozenset()
        url = _url(rule, ids)
        for person_id, (role, user_client) in clients.items():
            own_tenant = person_id == people[role].id
            # The tenant's own people of an allowed role, and admins, may see it.
            if (own_tenant and role in allowed) or (role is Role.ADMIN and role in allowed):
                continue
            for method in sorted(rule.methods & {"GET", "POST"}):
                probes += 1
                status = user_client.open(url, method=method, data={}).status_code
                if status != 404:
                    leaks += 1
                    print(f"LEAK {method} {url} as {role.value} ({person_id}): {status}")
    db.expire_all()
    assert _fingerprint(db) == before, "a probe changed the database"
    assert leaks == 0
    print(f"access matrix: {len(rules)} routes with ids, {probes} probes, {leaks} leaks")
    assert probes > 500


def test_a_lone_session_user_is_checked_on_every_request(app, db, auth):
    """A suspended account's existing session stops working at the next request."""
    worker = factories.user(db, Role.WORKER)
    db.commit()
    client = app.test_client()
    client.post("/auth/login", data={"email": worker.email, "password": factories.PASSWORD})
    assert client.get("/worker/").status_code == 200
    worker.active = False
    db.commit()
    assert client.get("/worker/").status_code in (302, 401, 404)
