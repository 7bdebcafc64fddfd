"""Sessions, two-factor sign-in and response headers (issue 7, ASVS 3.x and 14.4)."""

from __future__ import annotations

import re
import time

import pyotp
import pytest
from sqlalchemy import select

from tests import factories
from voucher import create_app, sessions
from voucher.models import AuditEvent, Role, User
from voucher.services import twofactor
from voucher.services.errors import IllegalTransition, ValidationFailed

STAFF = frozenset({"operator", "network", "admin"})


@pytest.fixture
def two_factor(app):
    app.config["TWO_FACTOR_ROLES"] = STAFF
    return app


def _password(client, user):
    return client.post("/auth/login", data={"email": user.email, "password": factories.PASSWORD})


def _enrolled(db, role=Role.OPERATOR) -> tuple[User, str]:
    user = factories.user(db, role)
    secret = pyotp.random_base32(32)
    user.totp_secret = secret
    user.totp_confirmed_at = user.created_at
    db.commit()
    return user, secret


# --- two-factor sign-in -----------------------------------------------------------------


def test_staff_set_up_an_app_on_first_sign_in(client, db, two_factor):
    operator = factories.user(db, Role.OPERATOR)
    db.commit()
    response = _password(client, operator)
    assert response.headers["Location"].endswith("/auth/two-factor/setup")
    # The password alone does not sign in.
    assert client.get("/operator/").status_code == 302

    page = client.get("/auth/two-factor/setup", headers={"Accept-Language": "en"})
    html = page.get_data(as_text=True)
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in html and "style=" not in html
    secret = re.search(r'<code class="user-select-all">([A-Z2-7 ]+)</code>', html)[1]
    secret = secret.replace(" ", "")

    wrong = client.post("/auth/two-factor/setup", data={"code": "000000"})
    assert wrong.status_code == 200 and client.get("/operator/").status_code == 302
    done = client.post("/auth/two-factor/setup", data={"code": pyotp.TOTP(secret).now()})
    assert done.status_code == 302
    assert client.get("/operator/").status_code == 200
    db.expire_all()
    stored = db.get(User, operator.id)
    assert stored.totp_secret == secret and twofactor.enrolled(stored)
    assert db.scalar(select(AuditEvent.id).where(AuditEvent.action == "user.two_factor_enrol"))


def test_enrolled_staff_give_a_code_once(client, db, auth, two_factor):
    operator, secret = _enrolled(db)
    assert _password(client, operator).headers["Location"].endswith("/auth/two-factor")
    code = pyotp.TOTP(secret).now()
    assert client.post("/auth/two-factor", data={"code": code}).status_code == 302
    assert client.get("/operator/").status_code == 200
    auth.logout()

    # The same code again (seen over a shoulder, replayed): refused.
    _password(client, operator)
    replay = client.post("/auth/two-factor", data={"code": code}, headers={"Accept-Language": "en"})
    assert replay.status_code == 200 and "already used" in replay.get_data(as_text=True)
    assert client.get("/operator/").status_code == 302
    failed = db.scalars(
        select(AuditEvent).where(AuditEvent.action == "user.two_factor_failed")
    ).all()
    assert len(failed) == 1


def test_workers_sign_in_with_the_password_alone(client, db, two_factor):
    worker = factories.user(db, Role.WORKER)
    db.commit()
    assert _password(client, worker).headers["Location"].endswith("/worker/")
    assert client.get("/worker/").status_code == 200


def test_the_code_step_expires_and_follows_password_changes(client, db, two_factor):
    operator, secret = _enrolled(db)
    _password(client, operator)
    with client.session_transaction() as store:
        pending = store[sessions.PENDING]
        pending["since"] -= sessions.PENDING_SECONDS + 1
        store[sessions.PENDING] = pending
    late = client.post("/auth/two-factor", data={"code": pyotp.TOTP(secret).now()})
    assert late.headers["Location"].endswith("/auth/login")
    assert client.get("/operator/").status_code == 302

    _password(client, operator)
    operator.session_version += 1  # the password was changed meanwhile
    db.commit()
    after = client.post("/auth/two-factor", data={"code": pyotp.TOTP(secret).now()})
    assert after.headers["Location"].endswith("/auth/login")


def test_verify_accepts_one_step_either_side_and_never_twice(db):
    user, secret = _enrolled(db)
    now = time.time()
    totp = pyotp.TOTP(secret)
    twofactor.verify(db, user, totp.at(now - 30), now=now)
    with pytest.raises(ValidationFailed):
        twofactor.verify(db, user, totp.at(now - 30), now=now)  # same step
    with pytest.raises(ValidationFailed):
        twofactor.verify(db, user, totp.at(now - 90), now=now)  # too old anyway
    twofactor.verify(db, user, totp.at(now + 30), now=now)
    with pytest.raises(ValidationFailed):
        twofactor.verify(db, user, totp.at(now), now=now)  # older than the last accepted
    with pytest.raises(ValidationFailed):
        twofactor.verify(db, user, "12a", now=now)


def test_enrol_and_reset(db):
    user = factories.user(db, Role.ADMIN)
    admin = factories.user(db, Role.ADMIN)
    secret = twofactor.new_secret()
    with pytest.raises(ValidationFailed):
        twofactor.enrol(db, user, secret, "123456", now=1000)
    twofactor.enrol(db, user, secret, pyotp.TOTP(secret).now())
    with pytest.raises(IllegalTransition):
        twofactor.enrol(db, user, secret, pyotp.TOTP(secret).now())
    version = user.session_version
    twofactor.reset(db, user, admin)
    assert not twofactor.enrolled(user) and user.session_version == version + 1
    with pytest.raises(IllegalTransition):
        twofactor.verify(db, user, "123456")


def test_production_asks_staff_for_a_second_factor(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    monkeypatch.setenv("VOUCHER_ENV", "production")
    monkeypatch.setenv("VOUCHER_DATABASE_URL", "sqlite://")
    app = create_app()
    assert app.config["TWO_FACTOR_ROLES"] == STAFF


# --- sessions ---------------------------------------------------------------------------


def test_idle_and_absolute_timeouts_sign_out(client, db, auth):
    worker = factories.user(db, Role.WORKER)
    db.commit()
    auth.login(worker)
    assert client.get("/worker/").status_code == 200
    with client.session_transaction() as store:
        store[sessions.SEEN_AT] -= 31 * 60
    idle = client.get("/worker/family")
    assert idle.status_code == 302 and "/auth/login" in idle.headers["Location"]
    assert idle.headers["Location"].endswith("next=/worker/family")
    assert client.get("/worker/").status_code == 302  # signed out for good

    auth.login(worker)
    with client.session_transaction() as store:
        store[sessions.AUTH_AT] -= 13 * 3600
    assert client.get("/worker/").status_code == 302


def test_a_remembered_worker_stays_signed_in_for_the_week(client, db):
    worker = factories.user(db, Role.WORKER)
    db.commit()
    response = client.post(
        "/auth/login",
        data={"email": worker.email, "password": factories.PASSWORD, "remember": "y"},
    )
    assert "remember_token" in response.headers.get("Set-Cookie", "")
    with client.session_transaction() as store:
        store[sessions.SEEN_AT] -= 3 * 3600
    assert client.get("/worker/").status_code == 200
    with client.session_transaction() as store:
        store[sessions.AUTH_AT] -= 8 * 24 * 3600
    assert client.get("/worker/").status_code == 302


def test_staff_are_never_remembered(client, db):
    operator = factories.user(db, Role.OPERATOR)
    db.commit()
    response = client.post(
        "/auth/login",
        data={"email": operator.email, "password": factories.PASSWORD, "remember": "y"},
    )
    assert response.status_code == 302
    assert "remember_token" not in response.headers.get("Set-Cookie", "")


# --- headers ----------------------------------------------------------------------------


def test_every_page_has_the_security_headers(client, db, auth):
    page = client.get("/")
    csp = page.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Referrer-Policy"] == "same-origin"
    assert "no-store" not in page.headers.get("Cache-Control", "")
    assert "Strict-Transport-Security" not in page.headers  # not over plain HTTP in dev

    worker = factories.user(db, Role.WORKER)
    db.commit()
    auth.login(worker)
    personal = client.get("/worker/profile")
    assert personal.headers["Cache-Control"] == "no-store"


def test_production_sends_hsts(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    monkeypatch.setenv("VOUCHER_ENV", "production")
    monkeypatch.setenv("VOUCHER_DATABASE_URL", "sqlite://")
    app = create_app()
    response = app.test_client().get("/privacy", base_url="https://localhost")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:x"]
)
def test_open_redirects_are_refused(client, db, target):
    worker = factories.user(db, Role.WORKER)
    db.commit()
    response = client.post(
        f"/auth/login?next={target}",
        data={"email": worker.email, "password": factories.PASSWORD},
    )
    assert response.headers["Location"].endswith("/worker/")


def test_an_admin_resets_a_lost_authenticator(client, db, auth):
    operator, _secret = _enrolled(db)
    admin = factories.user(db, Role.ADMIN)
    db.commit()
    auth.login(admin)
    page = client.get(f"/admin/users/{operator.id}/edit", headers={"Accept-Language": "en"})
    assert "Reset two-factor authentication" in page.get_data(as_text=True)
    response = client.post(f"/admin/users/{operator.id}/two-factor/reset")
    assert response.status_code == 302
    db.expire_all()
    assert not twofactor.enrolled(db.get(User, operator.id))
    assert client.post("/admin/users/999999/two-factor/reset").status_code == 404
