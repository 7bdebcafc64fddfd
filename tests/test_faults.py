"""Faults of the infrastructure: the database unreachable or lost half-way, the disk full
during an upload, the process killed in the middle of an approval.

Each ends the same way for the people using the service: a clear answer (503 with
Retry-After, or the form again with the reason), and nothing half-done in the database
or on disk. "Nothing half-done" is checked on a fingerprint of every table, read through
a connection of its own, so it sees exactly what was committed.
"""

from __future__ import annotations

import errno
import io
import os
import re
import select as select_io
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import create_engine, event, func
from sqlalchemy import select as sql_select
from sqlalchemy.pool import NullPool
from werkzeug import formparser
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from tests import factories
from tests.hostile_corpus import photo
from tests.test_review import alliance_of, balanced, operator_of, reload, submitted_claim
from voucher import create_app
from voucher.extensions import db as _db
from voucher.models import Base, BudgetLine, Claim, ClaimStatus, Receipt, Role, Voucher
from voucher.services import budget, clock, review

UNAVAILABLE = "Service temporarily unavailable"
NO_DATABASE = "We cannot reach our database at the moment. Nothing was changed"


def fingerprint(url: str) -> dict[str, list[tuple]]:
    """Every committed row of every table, in primary-key order."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return {
                table.name: [
                    tuple(row)
                    for row in connection.execute(
                        sql_select(table).order_by(*table.primary_key.columns)
                    )
                ]
                for table in Base.metadata.sorted_tables
            }
    finally:
        engine.dispose()


def english(client) -> None:
    client.get("/?lang=en")


@pytest.fixture
def folder(app: Flask) -> Path:
    return Path(app.config["UPLOAD_FOLDER"])


def files_in(folder: Path) -> list[str]:
    """Everything in the upload folder, temporary files included."""
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def assert_unavailable(response, message: str = NO_DATABASE) -> None:
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "30"
    assert response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    assert UNAVAILABLE in html and message in html
    if message == NO_DATABASE:
        assert 'href="/auth/login"' in html  # rendered as for a visitor: no query for them


# --- the database cannot be reached -----------------------------------------------------


def _closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


UNREACHABLE = {
    "postgresql-closed-port": lambda: (
        f"postgresql+psycopg://voucher@127.0.0.1:{_closed_port()}/voucher?connect_timeout=3"
    ),
    "sqlite-missing-folder": lambda: "sqlite:////nonexistent-folder/voucher.sqlite3",
}


@pytest.fixture(params=list(UNREACHABLE))
def app_without_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Flask]:
    """The app configured for a database that does not answer."""
    app = create_app(
        {
            "TESTING": True,
            "ENV_NAME": "test",
            "SECRET_KEY": "test-secret-key",
            "SQLALCHEMY_DATABASE_URI": UNREACHABLE[request.param](),
            "WTF_CSRF_ENABLED": False,
            "SERVER_NAME": "localhost",
            "UPLOAD_FOLDER": str(tmp_path / "uploads"),
        }
    )
    yield app
    with app.app_context():
        _db.engine.dispose()


def test_unreachable_database_gives_503_pages_and_healthz(app_without_database: Flask):
    client = app_without_database.test_client()
    headers = {"Accept-Language": "en"}

    assert_unavailable(client.get("/", headers=headers))
    signing_in = client.post(
        "/auth/login",
        data={"email": "someone@example.org", "password": "x" * 12},
        headers=headers,
    )
    assert_unavailable(signing_in)

    health = client.get("/healthz")
    assert health.status_code == 503
    assert health.headers["Retry-After"] == "30"
    assert health.json == {"status": "unavailable", "database": "unreachable"}


@contextmanager
def database_down(app: Flask) -> Iterator[None]:
    """Every new connection fails, as when the server is down; pooled ones are dropped."""
    engine = _db.engine
    error = engine.dialect.loaded_dbapi.OperationalError

    def refuse(*_args) -> None:
        raise error("connection refused: the database server is down")

    event.listen(engine, "do_connect", refuse)
    # The test's own session may hold a connection: give it back before the pool goes.
    _db.session.close()
    engine.dispose()
    try:
        yield
    finally:
        event.remove(engine, "do_connect", refuse)


def test_database_outage_mid_session_is_503_and_the_service_recovers(app, client, login_as):
    login_as(Role.WORKER)
    english(client)
    assert client.get("/worker/").status_code == 200

    with database_down(app):
        assert_unavailable(client.get("/worker/"))
        assert_unavailable(client.get("/worker/claims"))
        assert client.get("/healthz").status_code == 503

    # Back up: the same browser session goes on where it was, nobody signed out.
    assert client.get("/healthz").status_code == 200
    page = client.get("/worker/")
    assert page.status_code == 200
    assert 'href="/auth/logout"' in page.get_data(as_text=True)


def test_other_database_errors_stay_500(app, client, login_as, monkeypatch):
    # An IntegrityError is a bug or a race, not an outage: no Retry-After, no 503.
    from sqlalchemy.exc import IntegrityError

    from voucher.blueprints.worker import views

    def broken(*_args, **_kwargs):
        raise IntegrityError("INSERT …", {}, Exception("duplicate key"))

    login_as(Role.WORKER)
    monkeypatch.setattr(views.overview, "worker_dashboard", broken)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = client.get("/worker/")
    assert response.status_code == 500
    assert "Retry-After" not in response.headers


@dataclass
class _Failure:
    at: int
    count: int = 0
    statement: str = ""


@contextmanager
def connection_lost_at(app: Flask, n: int) -> Iterator[_Failure]:
    """The n-th SQL statement from now fails as if the connection had dropped."""
    engine = _db.engine
    error = engine.dialect.loaded_dbapi.OperationalError
    # A message that SQLAlchemy recognises as a disconnect on PostgreSQL, so the
    # connection is thrown away (and the server rolls back) as after a real one.
    message = (
        "server closed the connection unexpectedly"
        if engine.dialect.name == "postgresql"
        else "disk I/O error"
    )
    failure = _Failure(at=n)

    def maybe_fail(_cursor, statement, *_args) -> bool:
        failure.count += 1
        if failure.count == failure.at:
            failure.statement = statement
            raise error(message)
        return False  # not handled here: the driver runs the statement as usual

    # The dialect's execute hooks run where the driver would: SQLAlchemy wraps what they
    # raise exactly like an error of the driver (before_cursor_execute is outside that).
    hooks = ("do_execute", "do_executemany", "do_execute_no_params")
    for hook in hooks:
        event.listen(engine, hook, maybe_fail)
    try:
        yield failure
    finally:
        for hook in hooks:
            event.remove(engine, hook, maybe_fail)


def test_an_approval_losing_the_database_at_any_statement_writes_nothing(
    app, client, db, database_url, login_as, folder, capsys
):
    claim = submitted_claim(db, folder)
    db.commit()
    login_as(Role.OPERATOR, all_=alliance_of(claim))
    english(client)
    claim_id = claim.id
    before = fingerprint(database_url)

    # Fail at the 1st statement of the request, then the 2nd, … until it gets through:
    # every failure before the COMMIT must leave every table as it was.
    writes_seen = set()
    for n in range(1, 300):
        with connection_lost_at(app, n) as failure:
            response = client.post(
                f"/operator/claims/{claim_id}/approve", data={"approve-amount_cents": ""}
            )
        if response.status_code != 503:
            break
        assert_unavailable(response)
        assert fingerprint(database_url) == before, f"partial write, statement {n}"
        verb = failure.statement.lstrip().split(None, 1)[0].upper()
        if verb in {"INSERT", "UPDATE", "DELETE"}:
            writes_seen.add(failure.statement.split("(")[0].strip()[:40])
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    statements = n - 1
    if failure.count >= n:
        # What failed came after the COMMIT: the e-mail to the worker, queued once the
        # decision was saved (a lost e-mail must not turn a saved decision into an error).
        assert "outbox" in failure.statement, failure.statement
    # The approval's own writes were among the failure points (so the test means it).
    assert any("budget_lines" in w for w in writes_seen), writes_seen
    assert any("ledger_entries" in w for w in writes_seen), writes_seen
    assert any("audit_events" in w for w in writes_seen), writes_seen

    approved = reload(db, Claim, claim_id)
    assert approved.status is ClaimStatus.APPROVED
    assert balanced(db, approved.voucher.budget_line_id)
    assert fingerprint(database_url) != before
    with capsys.disabled():
        print(
            f"\nno partial writes ({db.get_bind().dialect.name}): approval failed at each of "
            f"its {statements} statements ({len(writes_seen)} writes), 0 rows changed"
        )


# --- the disk fills up during an upload -------------------------------------------------


@pytest.fixture
def draft_claim(client, db, login_as) -> Claim:
    """A worker signed in (pages in English) with a draft request on a valid voucher."""
    english(client)
    worker = login_as(Role.WORKER)
    voucher = factories.voucher(db, worker=worker)
    voucher.valid_from = clock.today() - timedelta(days=365)
    voucher.valid_until = clock.today() + timedelta(days=365)
    db.commit()
    assert client.post(f"/worker/vouchers/{voucher.id}/claims").status_code == 302
    db.rollback()
    return db.scalars(sql_select(Claim).where(Claim.voucher_id == voucher.id)).one()


def post_receipt(client, claim_id: int, data: bytes, filename: str = "scontrino.jpg"):
    """Send the upload form, encoded in memory (see test_hostile_uploads.post_receipt)."""
    form = {
        "supplier_name": "Ludoteca Arcobaleno",
        "supplier_vat": factories.vat(4242),
        "document_number": "FT 12/2026",
        "issued_on": (clock.today() - timedelta(days=3)).isoformat(),
        "amount_cents": "80,00",
        "file": FileStorage(io.BytesIO(data), filename=filename),
    }
    boundary, body = encode_multipart(form)
    return client.post(
        f"/worker/claims/{claim_id}/receipts",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )


class _FullDisk:
    """A file that takes the first bytes written to it, then fails as a full disk does."""

    def __init__(self, handle) -> None:
        self._handle = handle

    def write(self, data: bytes) -> int:
        self._handle.write(data[: len(data) // 2])  # half of it reaches the disk
        self._handle.flush()
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __getattr__(self, name: str):
        return getattr(self._handle, name)

    def __enter__(self) -> _FullDisk:
        return self

    def __exit__(self, *exc_info) -> None:
        self._handle.close()


def committed_receipts(db, claim_id: int) -> int:
    db.rollback()
    return db.scalar(
        sql_select(func.count()).select_from(Receipt).where(Receipt.claim_id == claim_id)
    )


def test_disk_full_while_storing_a_receipt(client, db, draft_claim, folder, monkeypatch):
    real_fdopen = os.fdopen
    monkeypatch.setattr(os, "fdopen", lambda fd, *a, **k: _FullDisk(real_fdopen(fd, *a, **k)))

    response = post_receipt(client, draft_claim.id, photo((800, 600)))

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    error = re.search(r'id="file-error">([^<]*)<', html)
    assert error and "The file could not be saved. Nothing was stored" in error.group(1)
    # The rest of the form is kept, so only the photo has to be chosen again.
    assert 'value="Ludoteca Arcobaleno"' in html and 'value="80,00"' in html
    assert 'value="FT 12/2026"' in html
    assert files_in(folder) == []  # not even the half-written temporary file
    assert committed_receipts(db, draft_claim.id) == 0
    assert reload(db, Claim, draft_claim.id).status is ClaimStatus.DRAFT

    # Space again: the request is still editable and the same upload now works.
    monkeypatch.undo()
    assert 'name="supplier_name"' in client.get(f"/worker/claims/{draft_claim.id}").get_data(
        as_text=True
    )
    assert post_receipt(client, draft_claim.id, photo((800, 600))).status_code == 302
    assert committed_receipts(db, draft_claim.id) == 1
    assert len(files_in(folder)) == 2  # the photo and its preview


class _SpoolOnFullDisk(tempfile.SpooledTemporaryFile):
    """Werkzeug's buffer for a large upload, on a full disk: moving it there fails."""

    def rollover(self) -> None:
        self.close()  # Werkzeug drops it without closing it; the test must not leak it
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_disk_full_while_receiving_a_large_upload(client, db, draft_claim, folder, monkeypatch):
    # Werkzeug keeps a large request body in a temporary file while it parses the form:
    # with the disk full that fails before the view runs, so there is no form to show
    # again; the answer is a clear 503, and nothing is stored.
    monkeypatch.setattr(formparser, "SpooledTemporaryFile", _SpoolOnFullDisk)
    large = photo((800, 600)) + b"\x00" * (600 * 1024)  # past Werkzeug's 500 kB in memory

    response = post_receipt(client, draft_claim.id, large)

    assert_unavailable(response, "The server has no space left to receive files")
    assert files_in(folder) == []
    assert committed_receipts(db, draft_claim.id) == 0
    assert reload(db, Claim, draft_claim.id).status is ClaimStatus.DRAFT
    monkeypatch.undo()
    assert post_receipt(client, draft_claim.id, photo((800, 600))).status_code == 302
    assert committed_receipts(db, draft_claim.id) == 1


# --- a process killed in the middle of an approval --------------------------------------

KILL_SCRIPT = Path(__file__).with_name("kill_approval.py")
# Where the approval process dies: its first write, the budget's guarded UPDATE, and the
# moment everything (ledger entry, audit, notification) is written but not committed.
KILL_POINTS = {
    "after-claim-update": r"^\s*UPDATE claims\b",
    "after-budget-update": r"^\s*UPDATE budget_lines\b",
    "before-commit": "flush",
}


def _read_line(process: subprocess.Popen, timeout: float) -> str:
    ready, _w, _x = select_io.select([process.stdout], [], [], timeout)
    return process.stdout.readline() if ready else ""


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_sigkill_in_the_middle_of_an_approval_leaves_the_ledger_consistent(
    db, database_url, folder, point
):
    claim = submitted_claim(db, folder)
    operator = operator_of(db, claim)
    db.commit()
    voucher_id, line_id = claim.voucher_id, claim.voucher.budget_line_id
    before = fingerprint(database_url)

    process = subprocess.Popen(  # noqa: S603 (our own script and arguments)
        [sys.executable, str(KILL_SCRIPT), database_url, str(claim.id), str(operator.id)],
        env={**os.environ, "VOUCHER_KILL_AT": KILL_POINTS[point]},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = _read_line(process, timeout=60)
        assert line.startswith("ready"), (line, process.poll(), process.stderr.read()[-3000:])
        os.kill(process.pid, signal.SIGKILL)
        assert process.wait(timeout=10) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
        process.stderr.close()

    # Nothing of the approval survived, in any table.
    assert fingerprint(database_url) == before
    db.expire_all()
    claim = db.get(Claim, claim.id)
    assert claim.status is ClaimStatus.SUBMITTED
    assert db.get(Voucher, voucher_id).used_cents == 0
    line = db.get(BudgetLine, line_id)
    assert budget.ledger_balances(db, line_id) == budget.line_balances(line)
    assert (line.reserved_cents, line.spent_cents) == (500_00, 0)

    # And the approval can simply be made again.
    review.approve(db, claim, operator)
    db.commit()
    assert reload(db, Claim, claim.id).status is ClaimStatus.APPROVED
    assert db.get(Voucher, voucher_id).used_cents == 120_00
    assert balanced(db, line_id)
