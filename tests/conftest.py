"""Shared fixtures: an app per test on SQLite (and PostgreSQL when configured), a client,
a logged-in client, and the database session.

SQLite tests get a fresh copy of a schema file built once; PostgreSQL tests share one
schema that is truncated after each test. Tests build the schema with ``create_all``;
a separate test checks that the migrations build the same schema.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from tests import factories
from voucher import create_app
from voucher.extensions import db as _db
from voucher.models import Base, User

# Fixtures of one area each, kept out of this shared file.
pytest_plugins = ["tests.fixtures_perf", "tests.fixtures_reporting", "tests.fixtures_salvatempo"]

PG_URL = os.environ.get("VOUCHER_TEST_DATABASE_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file with the schema, copied for every test (much faster than rebuilding)."""
    path = tmp_path_factory.mktemp("schema") / "template.sqlite3"
    engine = create_engine(f"sqlite:///{path}")
    Base.metadata.create_all(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def pg_schema() -> Iterator[str]:
    """Build the schema once on the PostgreSQL test database."""
    assert PG_URL
    engine = create_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    Base.metadata.create_all(engine)
    engine.dispose()
    yield PG_URL


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A clean database for one test, on each configured backend."""
    if request.param == "sqlite":
        path = tmp_path / "test.sqlite3"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    url = request.getfixturevalue("pg_schema")
    yield url
    engine = create_engine(url)
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        # TRUNCATE does not fire the ledger's append-only row triggers.
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


class IsolatedClient(FlaskClient):
    """A test client whose every request runs with contexts of its own, as in production.

    The ``app`` fixture keeps an application context open for the test's own database
    work; a request made inside it would reuse it, and with it ``g`` (the logged-in user)
    and the cached locale of an earlier request. A fresh thread starts with no context, so
    each request pushes and tears down its own, with its own database session.
    """

    def open(self, *args, **kwargs):
        outcome: dict = {}

        def run() -> None:
            try:
                outcome["response"] = FlaskClient.open(self, *args, **kwargs)
            except BaseException as exc:  # re-raised in the test's thread
                outcome["error"] = exc

        worker = threading.Thread(target=run)
        worker.start()
        worker.join()
        if "error" in outcome:
            raise outcome["error"]
        return outcome["response"]


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    app = create_app(
        {
            "TESTING": True,
            "ENV_NAME": "test",
            "SECRET_KEY": "test-secret-key",
            "SQLALCHEMY_DATABASE_URI": database_url,
            "WTF_CSRF_ENABLED": False,
            "MAIL_BACKEND": "outbox",
            "SERVER_NAME": "localhost",
            "UPLOAD_FOLDER": str(tmp_path / "uploads"),
        }
    )
    app.instance_path = str(tmp_path / "instance")
    app.test_client_class = IsolatedClient
    with app.app_context():
        yield app
        _db.session.remove()
        _db.engine.dispose()


@pytest.fixture
def db(app: Flask) -> Session:
    """The application's database session (inside the app context)."""
    return _db.session


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


class AuthActions:
    """Log in and out through the real login form."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def login(self, user: User | str, password: str = factories.PASSWORD):
        email = user if isinstance(user, str) else user.email
        return self.client.post("/auth/login", data={"email": email, "password": password})

    def logout(self):
        return self.client.get("/auth/logout")


@pytest.fixture
def auth(client: FlaskClient) -> AuthActions:
    return AuthActions(client)


@pytest.fixture
def login_as(db: Session, auth: AuthActions):
    """Create a user of a role (committed) and log the test client in as them."""

    def _login(role, **kwargs) -> User:
        user = factories.user(db, role, **kwargs)
        db.commit()
        response = auth.login(user)
        assert response.status_code == 302, response.get_data(as_text=True)
        return user

    return _login


def csrf_token(html: str) -> str:
    """Read the CSRF token of the first form on a page."""
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """The app served over real HTTP on a free loopback port, for browser tests."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()
    server.server_close()


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright (no browser download)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            # The machine has no network beyond loopback: keep Chromium from calling home.
            args=["--no-sandbox", "--disable-background-networking", "--disable-component-update"],
        )
        yield chromium
        chromium.close()


def browser_login(page, base_url: str, user: User, lang: str = "en") -> None:
    """Sign ``user`` in through the login form of a browser page."""
    page.goto(f"{base_url}/auth/login?lang={lang}")
    page.fill("#email", user.email)
    page.fill("#password", factories.PASSWORD)
    click_and_wait(page, "button[type=submit]")


def click_and_wait(page, selector: str) -> None:
    """Click something that loads a new page, and wait until it has loaded.

    Reading the page (or going elsewhere) straight after the click races the navigation:
    the content may still be empty, or the form's request may be cancelled.
    """
    with page.expect_navigation():
        page.click(selector)
