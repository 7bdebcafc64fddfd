"""The worker's profile, IBAN and employment declarations: HTTP pages and service rules."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from tests import factories
from voucher.models import (
    AuditEvent,
    Employment,
    EmploymentStatus,
    Notification,
    OutboxEmail,
    Role,
    User,
)
from voucher.services import employment as employment_service
from voucher.services import profile as profile_service
from voucher.services.errors import ValidationFailed

IBAN = "IT60X0542811101000000123456"
OTHER_IBAN = "DE89370400440532013000"


def _events(db, action: str) -> list[AuditEvent]:
    return list(db.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def _employments(db, worker: User) -> list[Employment]:
    return list(db.scalars(select(Employment).where(Employment.worker_id == worker.id)))


@pytest.fixture
def worker(login_as, client) -> User:
    """A logged-in worker who reads the pages in English (the messages asserted on)."""
    user = login_as(Role.WORKER)
    client.get("/worker/profile?lang=en")
    return user


@pytest.fixture
def partners(db):
    """An alliance's partner organisations, with recognisable names and towns."""
    acme = factories.organisation(db, name="Acme Meccanica Srl")
    bolla = factories.organisation(db, name="Cooperativa La Bolla")
    varese = factories.organisation(db, name="Comune di Varese")
    varese.municipality = "Varese"
    factories.alliance(db, partners=[acme, bolla, varese])
    db.commit()
    return acme, bolla, varese


# --- profile ---------------------------------------------------------------------------


def test_profile_shows_tax_code_email_and_masked_iban(client, db, worker):
    worker.iban = IBAN
    db.commit()
    html = client.get("/worker/profile").get_data(as_text=True)
    assert worker.tax_code in html
    assert worker.email in html
    assert "IT•• •••• 3456" in html
    assert IBAN not in html
    assert "0542811101" not in html
    # Why they cannot be changed here.
    assert "HR office" in html
    assert 'name="tax_code"' not in html
    assert 'name="email"' not in html


def test_profile_update_saves_and_switches_language(client, db, worker):
    response = client.post(
        "/worker/profile",
        data={
            "first_name": "  Maria ",
            "last_name": "Bianchi",
            "phone": "+39 333 1234567",
            "locale": "it",
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/worker/profile")
    db.expire_all()
    user = db.get(User, worker.id)
    assert (user.first_name, user.last_name, user.phone, user.locale) == (
        "Maria",
        "Bianchi",
        "+39 333 1234567",
        "it",
    )
    (event,) = _events(db, "user.profile_update")
    assert event.actor_id == worker.id
    assert event.details["fields"] == ["first_name", "last_name", "locale", "phone"]
    # Values are not copied into the trail.
    assert "333" not in json.dumps(event.details)
    page = client.get("/worker/profile").get_data(as_text=True)
    # The language chosen here wins over the ?lang= of earlier in the session.
    assert '<html lang="it">' in page


def test_profile_invalid_phone_keeps_what_was_typed(client, db, worker):
    response = client.post(
        "/worker/profile",
        data={"first_name": "Maria", "last_name": "Verdi", "phone": "call me", "locale": "it"},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'value="Verdi"' in html
    assert 'value="call me"' in html
    assert "is-invalid" in html
    db.expire_all()
    assert db.get(User, worker.id).last_name != "Verdi"
    assert _events(db, "user.profile_update") == []


def test_update_profile_rules(db):
    user = factories.user(db, Role.WORKER)
    with pytest.raises(ValidationFailed) as caught:
        profile_service.update_profile(
            db, user, first_name=" ", last_name="x" * 101, phone="12", locale="fr"
        )
    assert set(caught.value.errors) == {"first_name", "last_name", "phone", "locale"}
    # Nothing changes, nothing is audited, when nothing differs.
    profile_service.update_profile(
        db, user, first_name=user.first_name, last_name=user.last_name, phone="", locale="it"
    )
    profile_service.update_profile(
        db, user, first_name=user.first_name, last_name=user.last_name, phone="", locale="it"
    )
    assert len(_events(db, "user.profile_update")) == 1


# --- IBAN ------------------------------------------------------------------------------


def test_iban_change_needs_the_current_password(client, db, worker):
    response = client.post(
        "/worker/profile/iban",
        data={"iban": "IT60 X054 2811 1010 0000 0123 456", "password": "nope"},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "password is not correct" in html
    assert 'value="IT60 X054 2811 1010 0000 0123 456"' in html
    db.expire_all()
    assert db.get(User, worker.id).iban is None
    assert _events(db, "user.iban_change") == []


def test_iban_change_stores_compact_iban_and_audits_it_masked(client, db, worker):
    worker.iban = OTHER_IBAN
    db.commit()
    response = client.post(
        "/worker/profile/iban",
        data={"iban": "it60 x054 2811 1010 0000 0123 456", "password": factories.PASSWORD},
    )
    assert response.status_code == 302
    db.expire_all()
    assert db.get(User, worker.id).iban == IBAN
    (event,) = _events(db, "user.iban_change")
    details = json.dumps(event.details, ensure_ascii=False)
    assert IBAN not in details and OTHER_IBAN not in details
    assert "054281110100000" not in details
    assert event.details == {"old": "DE•• •••• 3000", "new": "IT•• •••• 3456"}
    # The owner is told, without the full number.
    mail = db.scalar(select(OutboxEmail).where(OutboxEmail.recipient == worker.email))
    assert mail is not None
    assert IBAN not in mail.body and "3456" in mail.body
    assert db.scalar(select(func.count()).select_from(Notification)) == 1
    html = client.get("/worker/profile").get_data(as_text=True)
    assert "IT•• •••• 3456" in html
    assert IBAN not in html


def test_invalid_iban_is_refused_and_the_form_kept(client, db, worker):
    response = client.post(
        "/worker/profile/iban",
        data={"iban": "IT60X0542811101000000123457", "password": factories.PASSWORD},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "not a valid IBAN" in html
    assert 'value="IT60X0542811101000000123457"' in html
    # The password is never sent back.
    assert factories.PASSWORD not in html
    db.expire_all()
    assert db.get(User, worker.id).iban is None


def test_change_iban_service_rules(db):
    user = factories.user(db, Role.WORKER)
    with pytest.raises(ValidationFailed) as caught:
        profile_service.change_iban(db, user, iban="XX00", password="wrong")
    assert set(caught.value.errors) == {"iban", "password"}
    assert not profile_service.password_matches(user, "")
    profile_service.change_iban(db, user, iban=IBAN, password=factories.PASSWORD)
    assert user.iban == IBAN
    # The same IBAN again changes nothing.
    profile_service.change_iban(db, user, iban=IBAN, password=factories.PASSWORD)
    assert len(_events(db, "user.iban_change")) == 1


# --- employment ------------------------------------------------------------------------


def test_declare_employment_through_the_page(client, db, worker, partners):
    acme = partners[0]
    page = client.get("/worker/employment/new").get_data(as_text=True)
    assert "Acme Meccanica Srl" in page and 'type="date"' in page
    response = client.post(
        "/worker/employment/new",
        data={"organisation": str(acme.id), "starts_on": "2024-03-01"},
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/worker/employment")
    (employment,) = _employments(db, worker)
    assert employment.organisation_id == acme.id
    assert employment.status is EmploymentStatus.AWAITING_HR
    assert employment.starts_on == date(2024, 3, 1)
    (event,) = _events(db, "employment.declare")
    assert (event.entity_id, event.actor_id) == (employment.id, worker.id)
    listing = client.get("/worker/employment").get_data(as_text=True)
    assert "Acme Meccanica Srl" in listing and "Awaiting HR" in listing


def test_declaring_a_non_partner_is_refused(client, db, worker, partners):
    outsider = factories.organisation(db, name="Not In Any Alliance Spa")
    db.commit()
    page = client.get("/worker/employment/new?q=Alliance").get_data(as_text=True)
    assert "Not In Any Alliance Spa" not in page
    response = client.post(
        "/worker/employment/new",
        data={"organisation": str(outsider.id), "starts_on": "2024-03-01"},
    )
    assert response.status_code == 200
    assert "only partners of an alliance" in response.get_data(as_text=True)
    # An id that does not exist gets the same answer.
    response = client.post(
        "/worker/employment/new", data={"organisation": "999999", "starts_on": "2024-03-01"}
    )
    assert "only partners of an alliance" in response.get_data(as_text=True)
    assert _employments(db, worker) == []
    assert _events(db, "employment.declare") == []


def test_a_duplicate_open_declaration_is_refused(client, db, worker, partners):
    acme = partners[0]
    data = {"organisation": str(acme.id), "starts_on": "2024-03-01"}
    assert client.post("/worker/employment/new", data=data).status_code == 302
    response = client.post("/worker/employment/new", data=data)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "already declared that you work at Acme Meccanica Srl" in html
    # The start date typed is still there.
    assert 'value="2024-03-01"' in html
    assert len(_employments(db, worker)) == 1


def test_declare_rules(db, partners):
    acme, bolla, _varese = partners
    user = factories.user(db, Role.WORKER)
    on = date(2026, 6, 1)
    with pytest.raises(ValidationFailed) as caught:
        employment_service.declare(db, user, acme, on + timedelta(days=31), on=on)
    assert set(caught.value.errors) == {"starts_on"}
    with pytest.raises(ValidationFailed) as caught:
        employment_service.declare(db, user, None, None, on=on)
    assert set(caught.value.errors) == {"organisation", "starts_on"}
    with pytest.raises(ValidationFailed):
        employment_service.declare(db, user, acme, date(202, 1, 1), on=on)

    first = employment_service.declare(db, user, acme, on + timedelta(days=30), on=on)
    assert first.status is EmploymentStatus.AWAITING_HR
    # Confirmed and still running: open.
    first.status = EmploymentStatus.CONFIRMED
    with pytest.raises(ValidationFailed):
        employment_service.declare(db, user, acme, on, on=on)
    # Confirmed but ended: a new job at the same place may be declared.
    first.starts_on, first.ends_on = date(2020, 1, 1), date(2025, 12, 31)
    again = employment_service.declare(db, user, acme, on, on=on)
    # Denied: the worker may declare again (e.g. with the right date).
    again.status = EmploymentStatus.DENIED
    employment_service.declare(db, user, acme, on, on=on)
    # Another organisation is another declaration.
    employment_service.declare(db, user, bolla, on, on=on)
    assert len(_events(db, "employment.declare")) == 4


def test_partner_organisations_filter(db, partners):
    acme, bolla, varese = partners
    factories.organisation(db, name="Acme Outsider")  # not a partner
    db.commit()
    names = [o.name for o in employment_service.partner_organisations(db)]
    assert "Acme Outsider" not in names
    assert names == sorted(names)
    assert [o.id for o in employment_service.partner_organisations(db, "ACME")] == [acme.id]
    assert [o.id for o in employment_service.partner_organisations(db, "bolla")] == [bolla.id]
    # By municipality too.
    assert [o.id for o in employment_service.partner_organisations(db, "vares")] == [varese.id]
    # Wildcards are taken literally.
    assert employment_service.partner_organisations(db, "%") == []
    assert employment_service.partner_organisations(db, "_") == []
    assert len(employment_service.partner_organisations(db, limit=2)) == 2


def test_search_narrows_the_list_without_javascript(client, db, worker, partners):
    html = client.get("/worker/employment/new?q=bolla").get_data(as_text=True)
    assert "Cooperativa La Bolla" in html
    assert "Acme Meccanica Srl" not in html
    # The declaration form posts back to the same filtered list.
    assert 'action="/worker/employment/new?q=bolla"' in html
    html = client.get("/worker/employment/new?q=zzz").get_data(as_text=True)
    assert "No partner organisation matches" in html


def test_employment_list_shows_hr_answers(client, db, worker, partners):
    acme, bolla, varese = partners
    factories.employment(db, worker, acme, EmploymentStatus.CONFIRMED)
    denied = factories.employment(db, worker, bolla, EmploymentStatus.DENIED)
    denied.decision_reason = "Non risulta tra i nostri dipendenti"
    ended = factories.employment(db, worker, varese, EmploymentStatus.CONFIRMED)
    ended.ends_on = date(2024, 6, 30)
    other = factories.user(db, Role.WORKER)
    factories.employment(db, other, factories.organisation(db, name="Someone Else's Job"))
    db.commit()
    html = client.get("/worker/employment").get_data(as_text=True)
    assert "Confirmed by HR" in html
    assert "Not confirmed by HR" in html
    assert "Non risulta tra i nostri dipendenti" in html
    assert "until" in html
    assert "Someone Else" not in html


@pytest.mark.parametrize("role", [Role.HR, Role.OPERATOR])
def test_other_roles_do_not_see_these_pages(client, db, login_as, role):
    login_as(role)
    for url in (
        "/worker/profile",
        "/worker/profile/iban",
        "/worker/employment",
        "/worker/employment/new",
    ):
        assert client.get(url).status_code == 404, url
    assert client.post("/worker/profile/iban", data={"iban": IBAN}).status_code == 404


def test_anonymous_visitors_are_sent_to_login(client):
    response = client.get("/worker/profile")
    assert response.status_code == 302
    assert "/auth/login" in response.headers["Location"]
