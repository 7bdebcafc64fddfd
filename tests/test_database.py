"""How a request's transaction ends when the view did not end it (voucher/database.py):
COMMIT after reads only, so PostgreSQL keeps its prepared statements; ROLLBACK otherwise,
so nothing a failed or unfinished request wrote is kept."""

from __future__ import annotations

import pytest
from sqlalchemy import event, select, update

from tests import factories
from voucher import jobs
from voucher.extensions import db as _db
from voucher.models import Notification, User


@pytest.fixture
def endings(app):
    """The ends of transactions ("commit" / "rollback") while a test runs."""
    seen: list[str] = []
    engine = _db.engine

    def on_commit(conn):
        seen.append("commit")

    def on_rollback(conn):
        seen.append("rollback")

    event.listen(engine, "commit", on_commit)
    event.listen(engine, "rollback", on_rollback)
    yield seen
    event.remove(engine, "commit", on_commit)
    event.remove(engine, "rollback", on_rollback)


@pytest.fixture
def routes(app, db):
    """Views that read, write without committing, add without flushing, or queue a job."""
    worker = factories.user(db)
    db.commit()
    worker_id = worker.id

    def read():
        _db.session.scalar(select(User.first_name).where(User.id == worker_id))
        return "ok"

    def write():
        _db.session.execute(update(User).where(User.id == worker_id).values(first_name="Kept?"))
        return "ok"

    def add():
        _db.session.add(Notification(user_id=worker_id, subject="s", body="b"))
        return "ok"

    def queue():
        _db.session.scalar(select(User.id).where(User.id == worker_id))
        jobs.after_commit(_db.session, print, "sent?")
        return "ok"

    for view in (read, write, add, queue):
        app.add_url_rule(f"/_test/{view.__name__}", view.__name__, view)
    return worker_id


def test_a_request_that_only_read_commits(app, routes, endings):
    assert app.test_client().get("/_test/read").status_code == 200
    assert endings == ["commit"]


@pytest.mark.parametrize("view", ["write", "add", "queue"])
def test_a_request_that_wrote_or_waits_for_a_commit_rolls_back(app, db, routes, endings, view):
    assert app.test_client().get(f"/_test/{view}").status_code == 200
    assert "commit" not in endings
    db.expire_all()
    assert db.get(User, routes).first_name != "Kept?"
    assert db.scalar(select(Notification.id).where(Notification.subject == "s")) is None


def test_a_request_that_raised_rolls_back(app, routes, endings):
    def broken():
        _db.session.scalar(select(User.id))
        raise RuntimeError("boom")

    app.add_url_rule("/_test/broken", "broken", broken)
    with pytest.raises(RuntimeError):  # tests propagate errors instead of a 500 page
        app.test_client().get("/_test/broken")
    assert "commit" not in endings
    assert "rollback" in endings
