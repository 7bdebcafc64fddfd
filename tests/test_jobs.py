"""Background jobs: e-mails leave after the commit, never for a rolled-back change, inline
in tests and dev, through RQ and `flask --app voucher worker` in production."""

from __future__ import annotations

import socket
import uuid

import pytest
from sqlalchemy import func, select

from tests import factories
from voucher import jobs
from voucher.models import OutboxEmail
from voucher.services.mail import deliver, send_mail


def _outbox(db) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(OutboxEmail))


def test_mail_waits_for_the_commit(db):
    send_mail(db, "a@example.org", "Subject", "Body")
    assert jobs.pending(db) == [deliver]
    assert _outbox(db) == 0  # nothing sent while the change may still roll back
    db.commit()
    assert _outbox(db) == 1
    assert jobs.pending(db) == []


def test_mail_about_a_rolled_back_change_is_never_sent(db):
    send_mail(db, "a@example.org", "Subject", "Body")
    db.rollback()
    db.commit()
    assert _outbox(db) == 0


def test_a_savepoint_keeps_or_drops_its_own_mail(db):
    factories.user(db)  # something to commit
    with db.begin_nested():
        send_mail(db, "kept@example.org", "Kept", "Body")
    assert _outbox(db) == 0  # released, but the transaction goes on
    try:
        with db.begin_nested():
            send_mail(db, "dropped@example.org", "Dropped", "Body")
            raise RuntimeError("refused")
    except RuntimeError:
        pass
    db.commit()
    assert db.scalars(select(OutboxEmail.recipient)).all() == ["kept@example.org"]


def test_the_worker_command_needs_the_queue(app):
    result = app.test_cli_runner().invoke(args=["worker", "--burst"])
    assert result.exit_code != 0
    assert "inline" in result.output


def _redis_is_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _redis_is_up(), reason="needs Redis on 127.0.0.1:6379")
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_jobs_go_through_redis_to_the_worker(app, db):
    app.config.update(JOBS="rq", JOBS_QUEUE=f"voucher-test-{uuid.uuid4().hex[:8]}")
    queue = jobs._queue(app)
    try:
        send_mail(db, "queued@example.org", "Subject", "Body")
        db.commit()
        assert queue.count == 1 and _outbox(db) == 0  # queued, not sent
        result = app.test_cli_runner().invoke(args=["worker", "--burst"])
        assert result.exit_code == 0, result.output
        assert queue.count == 0
        assert db.scalars(select(OutboxEmail.recipient)).all() == ["queued@example.org"]
    finally:
        queue.delete(delete_jobs=True)
