"""Money rules under concurrent decisions, on every configured backend.

Each decision runs in a thread of its own, with an application context and a database
session (hence a connection) of its own, through the real services
(``applications.approve``, ``review.approve``). A barrier releases the threads together,
after each has loaded what it decides on, so they race on the decision itself: the
guarded UPDATEs on the budget line, on the application's or claim's status and on the
voucher's used amount.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from tests import factories
from voucher import create_app
from voucher.extensions import db as _db
from voucher.models import (
    Application,
    ApplicationStatus,
    Claim,
    ClaimStatus,
    LedgerEntry,
    LedgerKind,
    Measure,
    OrganisationKind,
    Role,
    User,
    Voucher,
    VoucherStatus,
)
from voucher.services import applications, budget, claims, expiry, review, uploads
from voucher.services.errors import Conflict, IllegalTransition

TODAY = date(2026, 6, 15)
CLIENTS = 64
AMOUNT = 30_00
ALLOCATED = 1_000_00
BARRIER_TIMEOUT = 120


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """The application with an engine fit for many threads at once.

    NullPool: every thread's session opens a connection of its own (a pool of 5 + 10
    would make 49 threads wait for a connection before the barrier, which never opens).
    SQLite: a writer waits up to 30 s for the file lock instead of the driver's 5 s, so
    64 serialised writers never see "database is locked".
    """
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
    app.instance_path = str(tmp_path / "instance")
    with app.app_context():
        yield app
        _db.session.remove()
        _db.engine.dispose()


# --- helpers ----------------------------------------------------------------------------


def submitted_applications(
    db: Session, count: int, amount: int = AMOUNT, allocated: int = ALLOCATED
) -> tuple[Measure, list[int]]:
    """A manual measure with ``allocated`` on its line and ``count`` sent applications.

    Each application is of a different worker whose employment at a partner of the
    project's alliance is confirmed, started and sent through the worker's services.
    """
    company = factories.organisation(db)
    alliance = factories.alliance(
        db,
        partners=[
            company,
            factories.organisation(db),
            factories.organisation(db, OrganisationKind.COOPERATIVE),
        ],
    )
    measure = factories.measure(db, factories.project(db, alliance), allocated_cents=allocated)
    assert measure.cap_per_voucher_cents >= amount
    ids = []
    for _ in range(count):
        worker = factories.user(db, Role.WORKER)
        factories.employment(db, worker, company)
        application = applications.start(
            db, worker, measure, dependant=None, amount_requested_cents=amount, today=TODAY
        )
        applications.submit(db, application, worker, today=TODAY)
        assert application.status is ApplicationStatus.SUBMITTED
        ids.append(application.id)
    db.commit()
    return measure, ids


Decision = Callable[[], object]


def race(
    app: Flask, preparations: list[Callable[[Session], Decision]], *, keep_on_conflict: bool
) -> list[object]:
    """Run decisions in threads of their own, all released together by a barrier.

    Each preparation gets the thread's own session, loads what its decision reads (so the
    threads race on the writes, not on loading) and returns the decision to run. Outcomes,
    one per thread: "done", "conflict" (committed if ``keep_on_conflict``: an application
    approve() waitlisted), "refused" (IllegalTransition) or the unexpected exception.
    """
    barrier = threading.Barrier(len(preparations))
    outcomes: list[object] = [None] * len(preparations)

    def run(index: int, prepare: Callable[[Session], Decision]) -> None:
        with app.app_context(), Session(_db.engine) as session:
            try:
                decide = prepare(session)
            except BaseException as exc:
                barrier.abort()
                outcomes[index] = exc
                return
            try:
                barrier.wait(BARRIER_TIMEOUT)
                decide()
                session.commit()
                outcomes[index] = "done"
            except Conflict:
                if keep_on_conflict:
                    session.commit()
                else:
                    session.rollback()
                outcomes[index] = "conflict"
            except IllegalTransition:
                session.rollback()
                outcomes[index] = "refused"
            except BaseException as exc:
                session.rollback()
                outcomes[index] = exc

    threads = [
        threading.Thread(target=run, args=(i, prepare), name=f"decision-{i}")
        for i, prepare in enumerate(preparations)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(BARRIER_TIMEOUT * 2)
    assert not any(thread.is_alive() for thread in threads), "a decision never finished"
    errors = [o for o in outcomes if isinstance(o, BaseException)]
    assert not errors, errors
    return outcomes


def approval(application_id: int) -> Callable[[Session], Decision]:
    """An operator's approval of an application, as the operator view makes it."""

    def prepare(session: Session) -> Decision:
        application = session.get(Application, application_id)
        assert application is not None
        assert application.measure.budget_line is not None
        assert application.worker.email and application.measure.project.ends_on
        return lambda: applications.approve(session, application, None, today=TODAY)

    return prepare


def approve_all(app: Flask, application_ids: list[int]) -> list[object]:
    """Approve every application id at once; a Conflict (waitlisted) is kept."""
    outcomes = race(app, [approval(i) for i in application_ids], keep_on_conflict=True)
    names = {"done": "approved", "conflict": "waitlisted", "refused": "refused"}
    return [names[o] for o in outcomes]


def ledger_entries(db: Session, line_id: int, kind: LedgerKind) -> list[LedgerEntry]:
    return list(
        db.scalars(
            select(LedgerEntry).where(
                LedgerEntry.budget_line_id == line_id, LedgerEntry.kind == kind
            )
        )
    )


def status_counts(db: Session, measure: Measure) -> Counter:
    return Counter(
        dict(
            db.execute(
                select(Application.status, func.count())
                .where(Application.measure_id == measure.id)
                .group_by(Application.status)
            ).all()
        )
    )


# --- applications: 64 approvals at once, and two on the same one -----------------------


def test_64_concurrent_approvals_of_30_euro_on_a_1000_euro_line(app, db, database_url):
    measure, ids = submitted_applications(db, CLIENTS)
    line_id = measure.budget_line.id

    outcomes = approve_all(app, ids)

    db.expire_all()
    line = measure.budget_line
    balances = budget.line_balances(line)
    from_ledger = budget.ledger_balances(db, line_id)
    reserves = ledger_entries(db, line_id, LedgerKind.RESERVE)
    vouchers = db.scalars(select(Voucher).where(Voucher.measure_id == measure.id)).all()
    figures = {
        "backend": database_url.split(":", 1)[0],
        "approved": len(vouchers),
        "waitlisted": status_counts(db, measure)[ApplicationStatus.WAITLISTED],
        "reserved_cents": balances.reserved_cents,
        # Counted on the line and on the ledger: lost updates would hide it on the line.
        "overspent_cents": max(
            0,
            balances.reserved_cents + balances.spent_cents - ALLOCATED,
            from_ledger.reserved_cents + from_ledger.spent_cents - ALLOCATED,
        ),
        "reserve_entries": len(reserves),
    }
    print(figures)  # the measured figures, shown with pytest -s

    assert Counter(outcomes) == {"approved": 33, "waitlisted": 31}
    assert status_counts(db, measure) == {
        ApplicationStatus.APPROVED: 33,
        ApplicationStatus.WAITLISTED: 31,
    }
    assert len(vouchers) == 33
    assert all(v.amount_cents == AMOUNT for v in vouchers)
    assert balances.allocated_cents == ALLOCATED
    assert balances.reserved_cents == 990_00
    assert balances.spent_cents == 0
    assert balances.reserved_cents + balances.spent_cents <= balances.allocated_cents
    assert figures["overspent_cents"] == 0
    assert from_ledger == balances
    assert len(reserves) == 33
    # Every reservation belongs to one approved application, and each to a different one.
    approved_ids = {v.application_id for v in vouchers}
    assert {e.reference_id for e in reserves} == approved_ids
    assert all(e.reference_type == "application" for e in reserves)


def test_a_second_decision_on_the_same_application_is_refused_without_a_ledger_entry(app, db):
    pairs = 8
    measure, ids = submitted_applications(db, pairs, amount=100_00, allocated=5_000_00)
    line_id = measure.budget_line.id

    # Two operators approve each application at the same moment.
    outcomes = approve_all(app, [i for i in ids for _ in range(2)])

    for k in range(pairs):
        assert sorted(outcomes[2 * k : 2 * k + 2]) == ["approved", "refused"], outcomes
    db.expire_all()
    assert status_counts(db, measure) == {ApplicationStatus.APPROVED: pairs}
    vouchers = db.scalars(select(Voucher).where(Voucher.measure_id == measure.id)).all()
    assert sorted(v.application_id for v in vouchers) == sorted(ids)
    reserves = ledger_entries(db, line_id, LedgerKind.RESERVE)
    assert sorted(e.reference_id for e in reserves) == sorted(ids)
    line = measure.budget_line
    assert line.reserved_cents == pairs * 100_00
    assert budget.ledger_balances(db, line_id) == budget.line_balances(line)

    # Later decisions on a decided application are refused too, and move no money.
    application = db.get(Application, ids[0])
    for late in (
        lambda: applications.approve(db, application, None, today=TODAY),
        lambda: applications.waitlist(db, application, None, "late"),
        lambda: applications.reject(db, application, None, "late"),
    ):
        with pytest.raises(IllegalTransition):
            late()
        db.rollback()
    assert len(ledger_entries(db, line_id, LedgerKind.RESERVE)) == pairs
    assert budget.ledger_balances(db, line_id) == budget.line_balances(measure.budget_line)


def test_two_decisions_racing_for_the_last_voucher_of_a_line(app, db):
    """The line holds one voucher: one decision wins, the other is refused, not waitlisted."""
    measure, ids = submitted_applications(db, 1, amount=AMOUNT, allocated=AMOUNT)

    outcomes = approve_all(app, ids * 2)

    assert sorted(outcomes) == ["approved", "refused"]
    db.expire_all()
    assert db.get(Application, ids[0]).status is ApplicationStatus.APPROVED
    line = measure.budget_line
    assert (line.reserved_cents, line.available_cents) == (AMOUNT, 0)
    assert len(ledger_entries(db, line.id, LedgerKind.RESERVE)) == 1
    assert budget.ledger_balances(db, line.id) == budget.line_balances(line)


# --- claims: operators deciding at once -------------------------------------------------


def sent_claim(db: Session, folder: Path, voucher: Voucher, receipt_cents: int) -> Claim:
    """A claim on ``voucher`` with one receipt, sent by its worker."""
    claim = claims.open_claim(db, voucher.worker, voucher, TODAY)
    n = factories.seq()
    # The receipt's file is not needed to decide: its record is made as an upload's.
    stored = uploads.StoredFile(
        storage_key=f"{secrets.token_hex(16)}.jpg",
        thumbnail_key=None,
        content_type="image/jpeg",
        size_bytes=1000,
        sha256=hashlib.sha256(f"receipt {n}".encode()).hexdigest(),
        original_filename="scontrino.jpg",
    )
    claims.add_receipt(
        db,
        claim,
        stored,
        supplier_name="Asilo nido Il Girasole",
        supplier_vat=factories.vat(4242),
        document_number=f"FT {n}/2026",
        issued_on=TODAY,
        amount_cents=receipt_cents,
        folder=str(folder),
        today=TODAY,
    )
    claims.submit(db, claim, voucher.worker, TODAY)
    return claim


def submitted_claims(
    db: Session, folder: Path, count: int, voucher_cents: int, receipt_cents: int
) -> tuple[Measure, list[int], list[int]]:
    """``count`` vouchers of one measure, each with a claim sent with one receipt."""
    measure = factories.measure(db, allocated_cents=count * voucher_cents)
    operators = [factories.user(db, Role.OPERATOR, all_=measure.project.alliance) for _ in range(2)]
    claim_ids = []
    for _ in range(count):
        voucher = factories.voucher(db, meas=measure, amount_cents=voucher_cents)
        claim_ids.append(sent_claim(db, folder, voucher, receipt_cents).id)
    db.commit()
    return measure, [o.id for o in operators], claim_ids


def claim_decision(
    claim_id: int, operator_id: int, approve: bool = True
) -> Callable[[Session], Decision]:
    """An operator's approval of a claim in full (or its rejection), as the views make it."""

    def prepare(session: Session) -> Decision:
        claim = session.get(Claim, claim_id)
        operator = session.get(User, operator_id)
        assert claim is not None and operator is not None
        assert claim.receipts and claim.voucher.measure.project.alliance_id
        if approve:
            return lambda: review.approve(session, claim, operator, today=TODAY)
        return lambda: review.reject(session, claim, operator, "Not eligible", today=TODAY)

    return prepare


def claim_approval(claim_id: int, operator_id: int) -> Callable[[Session], Decision]:
    return claim_decision(claim_id, operator_id)


def test_two_operators_approving_the_same_claim_at_once_spend_it_once(app, db, tmp_path):
    pairs = 8
    measure, (first, second), claim_ids = submitted_claims(
        db, tmp_path / "uploads", pairs, 200_00, 100_00
    )
    line_id = measure.budget_line.id

    outcomes = race(
        app,
        [claim_approval(c, op) for c in claim_ids for op in (first, second)],
        keep_on_conflict=False,
    )

    for k in range(pairs):
        assert sorted(outcomes[2 * k : 2 * k + 2]) == ["conflict", "done"], outcomes
    db.expire_all()
    spends = ledger_entries(db, line_id, LedgerKind.SPEND)
    assert sorted(e.reference_id for e in spends) == sorted(claim_ids)
    for claim_id in claim_ids:
        claim = db.get(Claim, claim_id)
        # 80% of EUR 100 of receipts, approved once, used once on the voucher.
        assert (claim.status, claim.approved_cents) == (ClaimStatus.APPROVED, 80_00)
        assert claim.voucher.used_cents == 80_00
    line = measure.budget_line
    assert (line.reserved_cents, line.spent_cents) == (pairs * 120_00, pairs * 80_00)
    assert budget.ledger_balances(db, line_id) == budget.line_balances(line)


def test_an_approval_and_a_rejection_of_the_same_claim_at_once_one_wins(app, db, tmp_path):
    pairs = 8
    measure, (first, second), claim_ids = submitted_claims(
        db, tmp_path / "uploads", pairs, 200_00, 100_00
    )
    line_id = measure.budget_line.id

    outcomes = race(
        app,
        [
            claim_decision(c, op, approve)
            for c in claim_ids
            for op, approve in ((first, True), (second, False))
        ],
        keep_on_conflict=False,
    )

    db.expire_all()
    spent = {e.reference_id: e.amount_cents for e in ledger_entries(db, line_id, LedgerKind.SPEND)}
    for k, claim_id in enumerate(claim_ids):
        assert sorted(outcomes[2 * k : 2 * k + 2]) == ["conflict", "done"], outcomes
        claim = db.get(Claim, claim_id)
        if outcomes[2 * k] == "done":  # the approval won
            assert claim.status is ClaimStatus.APPROVED
            assert spent.pop(claim_id) == claim.voucher.used_cents == 80_00
        else:
            assert claim.status is ClaimStatus.REJECTED
            assert claim.approved_cents is None and claim.voucher.used_cents == 0
    assert not spent, "money spent on a rejected claim"
    line = measure.budget_line
    assert budget.ledger_balances(db, line_id) == budget.line_balances(line)


def held_on_line(db: Session, line_id: int) -> dict[int, int]:
    """Per voucher of the line: its amount, less what it used, less what it gave back."""
    released = dict(
        db.execute(
            select(LedgerEntry.reference_id, func.sum(LedgerEntry.amount_cents))
            .where(
                LedgerEntry.budget_line_id == line_id,
                LedgerEntry.kind == LedgerKind.RELEASE,
                LedgerEntry.reference_type == expiry.REFERENCE,
            )
            .group_by(LedgerEntry.reference_id)
        ).all()
    )
    return {
        v.id: v.amount_cents - v.used_cents - int(released.get(v.id, 0))
        for v in db.scalars(select(Voucher).where(Voucher.budget_line_id == line_id))
    }


def test_two_claims_on_one_expired_voucher_approved_at_once_spend_only_what_it_holds(
    app, db, tmp_path
):
    """An ended voucher keeps reserved only what its pending claims asked for; two
    approvals at once on two of them must not spend more, taking another voucher's money."""
    folder = tmp_path / "uploads"
    measure = factories.measure(db, allocated_cents=1_000_00)  # 80%, no four eyes
    first, second = (
        factories.user(db, Role.OPERATOR, all_=measure.project.alliance) for _ in range(2)
    )
    ending = factories.voucher(db, meas=measure, amount_cents=200_00)
    ending.valid_until = date(2026, 12, 31)  # before the other one's end
    other = factories.voucher(db, meas=measure, amount_cents=300_00)
    # EUR 100 of receipts each: 80 asked, 80 asked, then 40 (what the voucher has left).
    a, c, b = (sent_claim(db, folder, ending, 100_00) for _ in range(3))
    assert [a.requested_cents, c.requested_cents, b.requested_cents] == [80_00, 80_00, 40_00]
    review.reject(db, c, first, "The same receipt as another request.", today=TODAY)
    db.commit()
    expiry.expire_vouchers(db, ending.valid_until + timedelta(days=1))
    db.commit()
    line_id = measure.budget_line.id
    # Expired: EUR 120 stays reserved for the two requests, 80 went back.
    assert held_on_line(db, line_id) == {ending.id: 120_00, other.id: 300_00}

    outcomes = race(
        app,
        [claim_approval(a.id, first.id), claim_approval(b.id, second.id)],
        keep_on_conflict=False,
    )

    # One is approved; the other is refused if it would spend what the voucher gave back.
    assert "done" in outcomes and set(outcomes) <= {"done", "conflict"}, outcomes
    db.expire_all()
    approved = [db.get(Claim, i).approved_cents or 0 for i in (a.id, b.id)]
    assert sum(approved) <= 120_00, "the ended voucher spent more than it held"
    holds = held_on_line(db, line_id)
    assert holds[other.id] == 300_00 and holds[ending.id] >= 0
    line = measure.budget_line
    # The other voucher's EUR 300 are still all reserved for it.
    assert line.reserved_cents == sum(holds.values())
    assert budget.ledger_balances(db, line_id) == budget.line_balances(line)


def test_two_expiry_jobs_at_once_release_each_voucher_once(app, db):
    """Cron may start the job while the previous run is still going: nothing twice."""
    measure = factories.measure(db, allocated_cents=2_000_00)
    ended = [factories.voucher(db, meas=measure, amount_cents=100_00) for _ in range(8)]
    for voucher in ended:
        voucher.valid_until = date(2026, 12, 31)
    running = factories.voucher(db, meas=measure, amount_cents=300_00)
    db.commit()
    day = date(2027, 1, 1)

    def job(session: Session) -> Decision:
        return lambda: expiry.expire_vouchers(session, day)

    outcomes = race(app, [job, job], keep_on_conflict=False)

    assert outcomes == ["done", "done"]
    db.expire_all()
    line_id = measure.budget_line.id
    releases = ledger_entries(db, line_id, LedgerKind.RELEASE)
    assert sorted((e.reference_id, e.amount_cents) for e in releases) == sorted(
        (v.id, 100_00) for v in ended
    )
    assert all(v.status is VoucherStatus.EXPIRED for v in ended)
    assert running.status is VoucherStatus.ACTIVE
    line = measure.budget_line
    assert line.reserved_cents == 300_00
    assert budget.ledger_balances(db, line_id) == budget.line_balances(line)
