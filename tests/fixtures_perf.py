"""Fixtures for the page-wide checks: SQL statements per request and the demo site.

Listed in ``tests/conftest.py``'s ``pytest_plugins``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest
from flask import Flask
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from tests import pages
from voucher.extensions import db as _db
from voucher.services import clock


@dataclass
class QueryLog:
    """The SQL statements sent to the database while it was recording."""

    statements: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.statements)

    def __str__(self) -> str:
        return "\n".join(f"{i + 1}. {s[:300]}" for i, s in enumerate(self.statements))


@pytest.fixture
def count_queries(app: Flask):
    """``with count_queries() as log: client.get(...)``: every statement the app sends.

    Counted at the cursor (``before_cursor_execute``), so lazy loads in templates, the
    login's user load and the session's own writes all count.
    """
    engine = _db.engine

    @contextmanager
    def recording() -> Iterator[QueryLog]:
        log = QueryLog()

        def before(conn, cursor, statement, parameters, context, executemany):
            log.statements.append(statement)

        event.listen(engine, "before_cursor_execute", before)
        try:
            yield log
        finally:
            event.remove(engine, "before_cursor_execute", before)

    return recording


@dataclass
class DemoSite:
    """The demo data loaded, and the pages of :data:`tests.pages.PAGES` with real ids."""

    paths: dict[str, list[tuple[str, str]]]


def load_demo_site(session: Session, app: Flask) -> DemoSite:
    """Load the demo, plus a draft application so the draft pages have one to show."""
    from voucher.models import Measure, User
    from voucher.services import applications, demo
    from voucher.services.errors import ServiceError

    demo.load_demo(session)
    session.commit()
    other = session.scalars(select(User).where(User.email == pages.WORKER_UNCONFIRMED)).one()
    measure = session.scalars(
        select(Measure).where(
            Measure.title == "Family voucher a rimborso per i dipendenti dei partner"
        )
    ).one()
    # A second measure the unconfirmed worker may apply to (the first has their application).
    for candidate in session.scalars(select(Measure).where(Measure.id != measure.id)):
        try:
            with session.begin_nested():
                applications.start(
                    session,
                    other,
                    candidate,
                    dependant=None,
                    amount_requested_cents=100_00,
                    today=clock.today(),
                )
        except ServiceError:
            continue  # not open to this worker: try the next one
        break
    session.commit()
    return DemoSite(paths=pages.paths(session, app.config["SECRET_KEY"]))


@pytest.fixture
def demo_site(app: Flask, db: Session) -> DemoSite:
    """The demo data with every registered page's path (see :mod:`tests.pages`)."""
    return load_demo_site(db, app)
