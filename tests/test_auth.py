"""Registration, login, logout and password reset, through the HTTP client."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from tests import factories
from voucher.models import AuditEvent, OutboxEmail, Role, User


def _register_data(**overrides):
    data = {
        "first_name": "Maria",
        "last_name": "Rossi",
        "tax_code": factories.person_tax_code(female=True),
        "email": "maria.rossi@example.org",
        "password": "a-long-enough-password",
        "confirm": "a-long-enough-password",
        "privacy": "y",
    }
    data.update(overrides)
    return data


def _count_users(db):
    return db.scalar(select(func.count()).select_from(User))


def _mails_to(db, address: str) -> list[OutboxEmail]:
    return list(
        db.scalars(
            select(OutboxEmail).where(OutboxEmail.recipient == address).order_by(OutboxEmail.id)
        )
    )


def _activation_link(db, address: str) -> str:
    body = _mails_to(db, address)[-1].body
    return re.search(r"http://localhost(/auth/activate/\S+)", body)[1]


def test_register_creates_a_worker_activated_by_the_emailed_link(client, db):
    data = _register_data(email="Maria.Rossi@Example.org")
    response = client.post("/auth/register", data=data)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/auth/login")
    user = db.scalar(select(User).where(User.email == "maria.rossi@example.org"))
    assert user is not None and user.awaiting_activation
    assert user.role is Role.WORKER
    assert user.tax_code == data["tax_code"]
    assert user.password_hash.startswith("$argon2id$")
    assert db.scalar(select(AuditEvent).where(AuditEvent.action == "user.register"))
    # Not before the address is proven.
    assert client.get("/worker/").status_code == 302
    login = client.post(
        "/auth/login",
        data={"email": "maria.rossi@example.org", "password": data["password"]},
    )
    assert login.status_code == 200

    activated = client.get(_activation_link(db, "maria.rossi@example.org"))
    assert activated.headers["Location"].endswith("/worker/")
    assert client.get("/worker/").status_code == 200
    db.expire_all()
    assert not db.get(User, user.id).awaiting_activation


def test_a_bad_or_expired_activation_link_does_nothing(client, db, app):
    client.post("/auth/register", data=_register_data())
    link = _activation_link(db, "maria.rossi@example.org")
    assert client.get(link[:-3] + "xyz").headers["Location"].endswith("/auth/register")
    app.config["ACTIVATION_MAX_AGE"] = -1
    assert client.get(link).headers["Location"].endswith("/auth/register")
    assert db.scalar(select(User.awaiting_activation)) is True


def test_registration_does_not_reveal_who_has_an_account(client, db):
    existing = factories.user(db, Role.WORKER, email="taken@example.org")
    db.commit()
    fresh = client.post("/auth/register", data=_register_data(email="new@example.org"))
    taken_email = client.post("/auth/register", data=_register_data(email="TAKEN@example.org"))
    taken_code = client.post(
        "/auth/register",
        data=_register_data(email="other@example.org", tax_code=existing.tax_code),
    )
    # The same answer, the same page after it.
    for response in (fresh, taken_email, taken_code):
        assert response.status_code == 302
        assert response.headers["Location"].endswith("/auth/login")
    # The flashed answer, in the Italian the registration was made in.
    page = client.get("/auth/login").get_data(as_text=True)
    assert "apri il link che contiene per attivare il tuo account" in page
    assert _count_users(db) == 2  # only the fresh address got an account
    assert db.get(User, existing.id).first_name == "Test"
    # The owners of the addresses are told, by e-mail.
    told = _mails_to(db, "taken@example.org")
    assert len(told) == 2
    assert "/auth/activate/" not in told[0].body
    assert "/auth/activate/" not in _mails_to(db, "other@example.org")[0].body


def test_register_invalid_tax_code_keeps_the_form(client, db):
    response = client.post("/auth/register", data=_register_data(tax_code="RSSMRA85M41L319X"))
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "codice fiscale" in html.lower()
    assert 'value="maria.rossi@example.org"' in html
    assert 'value="Maria"' in html
    assert _count_users(db) == 0


def test_register_short_password_and_missing_privacy(client, db):
    response = client.post(
        "/auth/register", data=_register_data(password="short", confirm="short", privacy="")
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "informativa" in html  # privacy consent message, in Italian
    assert _count_users(db) == 0


def test_login_goes_to_the_role_area(client, db, auth):
    operator = factories.user(db, Role.OPERATOR)
    db.commit()
    response = auth.login(operator)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/operator/")


def test_login_failure_is_generic(client, db, auth):
    worker = factories.user(db, Role.WORKER)
    db.commit()
    wrong_password = auth.login(worker, "not-the-password").get_data(as_text=True)
    unknown_user = auth.login("nobody@example.org").get_data(as_text=True)
    message = "E-mail o password non corretti."
    assert message in wrong_password
    assert message in unknown_user


def test_inactive_account_cannot_log_in(client, db, auth):
    worker = factories.user(db, Role.WORKER)
    worker.active = False
    db.commit()
    assert auth.login(worker).status_code == 200


def test_login_follows_only_local_next(client, db):
    worker = factories.user(db, Role.WORKER)
    db.commit()
    creds = {"email": worker.email, "password": factories.PASSWORD}
    evil = client.post("/auth/login?next=https://evil.example/", data=creds)
    assert evil.headers["Location"].endswith("/worker/")
    client.get("/auth/logout")
    evil2 = client.post("/auth/login?next=//evil.example/x", data=creds)
    assert evil2.headers["Location"].endswith("/worker/")
    client.get("/auth/logout")
    local = client.post("/auth/login?next=/worker/", data=creds)
    assert local.headers["Location"] == "/worker/"


def test_protected_page_redirects_anonymous_to_login(client):
    response = client.get("/worker/")
    assert response.status_code == 302
    assert "/auth/login" in response.headers["Location"]


def test_logout_ends_the_session(client, db, login_as):
    login_as(Role.WORKER)
    assert client.get("/worker/").status_code == 200
    response = client.get("/auth/logout")
    assert response.status_code == 302
    assert client.get("/worker/").status_code == 302


def test_password_reset_flow(client, db, auth):
    worker = factories.user(db, Role.WORKER)
    db.commit()
    response = client.post("/auth/reset", data={"email": worker.email})
    assert response.status_code == 302
    mail = db.scalar(select(OutboxEmail).where(OutboxEmail.recipient == worker.email))
    assert mail is not None
    link = re.search(r"http://localhost(/auth/reset/\S+)", mail.body).group(1)

    assert client.get(link).status_code == 200
    new = {"password": "a-brand-new-password", "confirm": "a-brand-new-password"}
    assert client.post(link, data=new).status_code == 302

    assert auth.login(worker).status_code == 200  # the old password no longer works
    assert auth.login(worker, "a-brand-new-password").status_code == 302
    auth.logout()
    # The link works once: the password it was issued for has changed.
    reused = client.post(link, data={"password": "third-password-x", "confirm": "third-password-x"})
    assert reused.status_code == 302
    assert reused.headers["Location"].endswith("/auth/reset")
    assert auth.login(worker, "a-brand-new-password").status_code == 302


def test_password_reset_for_unknown_email_looks_the_same(client, db):
    known = factories.user(db, Role.WORKER)
    db.commit()
    a = client.post("/auth/reset", data={"email": known.email}, follow_redirects=True)
    b = client.post("/auth/reset", data={"email": "nobody@example.org"}, follow_redirects=True)
    assert a.status_code == b.status_code == 200
    flash = "Se un account usa quell&#39;indirizzo"
    assert flash in a.get_data(as_text=True)
    assert flash in b.get_data(as_text=True)
    assert db.scalar(select(func.count()).select_from(OutboxEmail)) == 1


def test_expired_reset_token_is_refused(app, client, db):
    from voucher.services import accounts

    worker = factories.user(db, Role.WORKER)
    db.commit()
    token = accounts.make_reset_token(worker, app.config["SECRET_KEY"])
    app.config["PASSWORD_RESET_MAX_AGE"] = -1
    response = client.get(f"/auth/reset/{token}")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/auth/reset")


def test_tampered_reset_token_is_refused(client):
    response = client.get("/auth/reset/not-a-token")
    assert response.status_code == 302


def test_password_change_ends_other_sessions(app, db, login_as):
    from voucher.services import accounts

    worker = login_as(Role.WORKER)
    client = app.test_client()
    client.post("/auth/login", data={"email": worker.email, "password": factories.PASSWORD})
    assert client.get("/worker/").status_code == 200
    accounts.set_password(db, worker, "another-long-password", actor=worker)
    db.commit()
    assert client.get("/worker/").status_code == 302


def test_session_cookie_is_hardened(client, db, auth):
    worker = factories.user(db, Role.WORKER)
    db.commit()
    response = auth.login(worker)
    cookie = next(
        h for h in response.headers.getlist("Set-Cookie") if h.startswith("voucher_session=")
    )
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_forms_require_a_csrf_token(app, db):
    from tests.conftest import csrf_token

    worker = factories.user(db, Role.WORKER)
    db.commit()
    app.config["WTF_CSRF_ENABLED"] = True
    client = app.test_client()
    creds = {"email": worker.email, "password": factories.PASSWORD}
    refused = client.post("/auth/login", data=creds)
    assert refused.status_code == 400
    token = csrf_token(client.get("/auth/login").get_data(as_text=True))
    accepted = client.post("/auth/login", data={**creds, "csrf_token": token})
    assert accepted.status_code == 302


def test_other_roles_get_404_in_each_area(client, login_as):
    login_as(Role.WORKER)
    for path in ("/hr/", "/operator/", "/network/", "/provider/", "/admin/"):
        assert client.get(path).status_code == 404, path


def test_session_id_carries_id_version_and_role(db):
    """The session keeps id, version and role; sessions from before the role was kept
    still load, and anything else is refused."""
    from voucher.models.user import parse_session_id

    operator = factories.user(db, Role.OPERATOR)
    db.commit()
    assert operator.get_id() == f"{operator.id}:{operator.session_version}:operator"
    assert parse_session_id(operator.get_id()) == (operator.id, 1, Role.OPERATOR)
    assert parse_session_id(f"{operator.id}:1") == (operator.id, 1, None)
    for bad in ("", "x:1", "1", "1:x", "1:1:wizard", "1:1:operator:more", "-1:1"):
        assert parse_session_id(bad) is None


@pytest.mark.parametrize("role", [Role.WORKER, Role.OPERATOR, Role.HR, Role.NETWORK, None])
def test_signed_in_user_loads_what_the_role_reads_in_one_query(db, role):
    """Each role's statement brings the person's scope (and a worker's employers and
    family) with the user; a session without a role loads all of it."""
    from sqlalchemy import event

    from voucher.services import accounts

    user_id = factories.user(db, role or Role.WORKER).id
    db.commit()
    db.expunge_all()
    statements: list[str] = []
    engine = db.get_bind()

    def count(*_args) -> None:
        statements.append("sql")

    event.listen(engine, "before_cursor_execute", count)
    try:
        loaded = accounts.signed_in_user(db, user_id, role)
        assert loaded is not None and loaded.id == user_id
        if role in (Role.WORKER, None):
            assert loaded.employments == [] and loaded.dependants == []
        if role is Role.OPERATOR:
            assert loaded.alliance is not None
        if role is Role.HR:
            assert loaded.organisation is not None
        if role is Role.NETWORK:
            assert loaded.network is not None
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(statements) == 1


def test_a_session_from_before_the_role_was_kept_stays_signed_in(client, db, auth):
    worker = factories.user(db, Role.WORKER)
    db.commit()
    auth.login(worker)
    with client.session_transaction() as session:
        session["_user_id"] = f"{worker.id}:{worker.session_version}"
    assert client.get("/worker/").status_code == 200
