"""Background jobs: e-mails and exports leave the request that asked for them.

``enqueue(func, *args)`` runs ``func`` on an RQ queue (Redis) in production, where
``flask --app voucher worker`` executes it; with ``VOUCHER_JOBS=inline`` (tests and dev)
it runs at once, in the calling process. ``after_commit(session, func, *args)`` waits for
the session's transaction: a job about data that was rolled back never runs, and an
e-mail about a decision goes out only once the decision is saved.

Job functions are plain module-level functions (RQ imports them by name) that take
simple arguments and run inside an application context.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Flask, current_app
from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction, scoped_session

log = logging.getLogger(__name__)

_PENDING = "voucher_pending_jobs"


def _queue(app: Flask) -> Any:
    from redis import Redis
    from rq import Queue

    connection = app.extensions.get("voucher_redis")
    if connection is None:
        connection = Redis.from_url(app.config["REDIS_URL"])
        app.extensions["voucher_redis"] = connection
    return Queue(app.config["JOBS_QUEUE"], connection=connection)


def enqueue(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run ``func(*args, **kwargs)`` in the background (or now, when jobs are inline)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if app.config["JOBS"] == "inline":
        return func(*args, **kwargs)
    job = _queue(app).enqueue(func, *args, **kwargs, job_timeout=app.config["JOBS_TIMEOUT"])
    log.info("job enqueued", extra={"job": f"{func.__module__}.{func.__name__}", "job_id": job.id})
    return job


def after_commit(session: Session, func: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Enqueue ``func`` once ``session`` commits; forget it if what it belongs to rolls back."""
    if isinstance(session, scoped_session):
        session = session()
    if session.get_transaction() is None:
        # Begin the transaction now, so that a rollback before any other statement still
        # drops the job.
        session.connection()
    transaction = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(_PENDING, []).append((transaction, func, args, kwargs))


def pending(session: Session) -> list[Callable[..., Any]]:
    """The functions waiting for ``session`` to commit (for tests)."""
    if isinstance(session, scoped_session):
        session = session()
    return [func for _tx, func, _args, _kwargs in session.info.get(_PENDING, [])]


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    if session.get_nested_transaction() is not None:
        return  # a SAVEPOINT was released: the transaction itself is still open
    jobs = session.info.pop(_PENDING, [])
    for _transaction, func, args, kwargs in jobs:
        try:
            enqueue(func, *args, **kwargs)
        except Exception:
            # The data is saved; a lost e-mail must not turn the answer into an error page.
            log.exception("could not enqueue job", extra={"job": func.__name__})


@event.listens_for(Session, "after_soft_rollback")
def _forget_rolled_back(session: Session, previous: SessionTransaction) -> None:
    jobs = session.info.get(_PENDING)
    if not jobs:
        return
    if previous.parent is None:
        # The whole transaction rolled back (jobs added before it began belong to it too).
        session.info.pop(_PENDING, None)
        return

    def inside(transaction: SessionTransaction | None) -> bool:
        while transaction is not None:
            if transaction is previous:
                return True
            transaction = transaction.parent
        return False

    session.info[_PENDING] = [job for job in jobs if not inside(job[0])]


def run_worker(app: Flask, burst: bool = False) -> bool:
    """Work through the queue inside ``app``'s context (``flask --app voucher worker``).

    A SimpleWorker runs each job in this process: no fork, so the database pool is never
    shared between processes, and jobs still time out (``VOUCHER_JOBS_TIMEOUT``).
    """
    from rq import SimpleWorker

    queue = _queue(app)
    with app.app_context():
        worker = SimpleWorker([queue], connection=queue.connection)
        return worker.work(burst=burst, with_scheduler=False)
