"""Bookings under concurrent taps, on every configured backend.

Each booking runs in a thread with its own application context and session, released
together by a barrier after each has loaded what it books, so they race on the guarded
UPDATEs: the slot's places and the voucher's holds.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from tests import factories
from tests.fixtures_salvatempo import make_slot, make_world
from voucher import create_app
from voucher.extensions import db as _db
from voucher.models import Booking, Role, Slot, User, Voucher
from voucher.models.base import utcnow
from voucher.services import bookings
from voucher.services.errors import Conflict

TIMEOUT = 60


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """One connection per thread (NullPool); SQLite writers wait for the lock up to 30 s."""
    options: dict = {"poolclass": NullPool}
    if database_url.startswith("sqlite"):
        options["connect_args"] = {"timeout": 30}
    app = create_app(
        {
            "TESTING": True,
            "ENV_NAME": "test",
            "SECRET_KEY": "test-secret-key",
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SQLALCHEMY_ENGINE_OPTIONS": options,
            "MAIL_BACKEND": "outbox",
            "SERVER_NAME": "localhost",
        }
    )
    with app.app_context():
        yield app
        _db.session.remove()
        _db.engine.dispose()


def race(app: Flask, preparations: list[Callable[[Session], Callable[[], object]]]) -> Counter:
    """Run the bookings at once; count "booked" and "conflict" outcomes."""
    barrier = threading.Barrier(len(preparations))
    outcomes: list[str] = [""] * len(preparations)

    def run(index: int) -> None:
        with app.app_context(), Session(_db.engine) as session:
            try:
                decide = preparations[index](session)
                barrier.wait(TIMEOUT)
                decide()
                session.commit()
                outcomes[index] = "booked"
            except Conflict:
                session.rollback()
                outcomes[index] = "conflict"
            except BaseException as exc:
                session.rollback()
                outcomes[index] = repr(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(preparations))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT * 2)
    return Counter(outcomes)


def booking_of(worker_id: int, voucher_id: int, slot_id: int, quantity: int = 1):
    def prepare(session: Session) -> Callable[[], object]:
        worker = session.get(User, worker_id)
        voucher = session.get(Voucher, voucher_id)
        slot = session.get(Slot, slot_id)
        assert slot.service.organisation and voucher.measure.project and worker.email
        return lambda: bookings.book(
            session, worker, slot, voucher, quantity, card=False, now=utcnow()
        )

    return prepare


def test_eight_workers_tap_for_the_last_two_places(app, db):
    w = make_world(db)
    slot = make_slot(db, w.service, capacity=2)
    people = []
    for _ in range(8):
        worker = factories.user(db, Role.WORKER)
        factories.employment(db, worker, w.company)
        people.append((worker.id, factories.voucher(db, worker, w.measure, amount_cents=50_00).id))
    db.commit()

    outcomes = race(app, [booking_of(wid, vid, slot.id) for wid, vid in people])

    assert outcomes == {"booked": 2, "conflict": 6}, outcomes
    db.expire_all()
    assert slot.booked == 2
    assert db.scalar(select(func.count()).select_from(Booking)) == 2
    held = db.scalar(select(func.sum(Voucher.held_cents)))
    assert held == 2 * 10_00


def test_one_voucher_cannot_be_held_twice(app, db):
    # 30 € voucher at 100%: each booking of 1 kg (20 €) holds 20 €; only one fits.
    w = make_world(db, voucher_cents=30_00, rate_pct=100)
    slots = [make_slot(db, w.service) for _ in range(6)]
    db.commit()

    outcomes = race(app, [booking_of(w.worker.id, w.voucher.id, s.id) for s in slots])

    db.expire_all()
    live = db.scalars(select(Booking).where(Booking.voucher_id == w.voucher.id)).all()
    assert w.voucher.held_cents == sum(b.voucher_cents for b in live)
    # Each read 30 € left before the race and asks for 20 €: one hold fits, not two.
    assert outcomes == {"booked": 1, "conflict": 5}, outcomes
    assert w.voucher.held_cents == 20_00
    assert sum(s.booked for s in slots) == len(live) == 1
