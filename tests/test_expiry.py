"""Vouchers expire at their end date (the ``expire`` command) or are revoked.

What a voucher did not use goes back to the budget line, except what requests sent in time
may still need; the first-come waiting list then moves on in strict order. Running the
command again changes nothing.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select

from tests import factories
from tests.test_operator_applications import (
    assert_ledger_matches,
    ledger_count,
    open_measure,
    running_project,
    sent,
)
from voucher.models import (
    Allocation,
    Application,
    ApplicationStatus,
    AuditEvent,
    BudgetLine,
    Claim,
    ClaimStatus,
    Employment,
    LedgerEntry,
    LedgerKind,
    Measure,
    Notification,
    Role,
    Voucher,
    VoucherStatus,
)
from voucher.models.base import utcnow
from voucher.services import applications, budget, clock, expiry, waitlist
from voucher.services.errors import IllegalTransition, ValidationFailed

S = ApplicationStatus
TODAY = clock.today()
ENDED = TODAY - timedelta(days=1)


@pytest.fixture(autouse=True)
def english(app):
    with force_locale("en"):
        yield


@pytest.fixture
def measure(db):
    m = open_measure(db, running_project(db), allocated_cents=1_000_00)
    db.commit()
    return m


@pytest.fixture
def first_come(db):
    m = open_measure(
        db, running_project(db), allocated_cents=1_000_00, allocation=Allocation.FIRST_COME
    )
    db.commit()
    return m


def granted(db, measure: Measure, amount_cents: int, valid_until: date = ENDED) -> Voucher:
    """A voucher approved through the service, ending on ``valid_until``."""
    voucher = applications.approve(db, sent(db, measure, amount_cents), None)
    voucher.valid_until = valid_until
    voucher.valid_from = min(voucher.valid_from, valid_until)
    db.flush()
    return voucher


def use(db, voucher: Voucher, amount_cents: int) -> None:
    """An approved reimbursement: reserved -> spent, counted on the voucher."""
    budget.spend(db, voucher.budget_line_id, amount_cents, None, ("claim", voucher.id))
    voucher.used_cents += amount_cents


def line_of(db, measure: Measure) -> BudgetLine:
    line = db.get(BudgetLine, measure.budget_line.id)
    db.refresh(line)
    return line


def count(db, model, *where) -> int:
    return int(db.scalar(select(func.count(model.id)).where(*where)))


# --- expiry -----------------------------------------------------------------------------


def test_expiry_releases_what_was_not_used(db, measure):
    voucher = granted(db, measure, 500_00)
    use(db, voucher, 200_00)
    current = granted(db, measure, 100_00, valid_until=TODAY)  # ends today: still valid
    db.commit()

    result = expiry.expire_vouchers(db, TODAY)
    db.commit()
    assert (result.expired, result.released_cents, result.held_cents) == (1, 300_00, 0)
    assert voucher.status is VoucherStatus.EXPIRED
    assert current.status is VoucherStatus.ACTIVE
    line = line_of(db, measure)
    assert (line.reserved_cents, line.spent_cents) == (100_00, 200_00)
    release = db.scalars(select(LedgerEntry).where(LedgerEntry.kind == LedgerKind.RELEASE)).one()
    assert (release.amount_cents, release.reference_type, release.reference_id) == (
        300_00,
        "voucher",
        voucher.id,
    )
    event = db.scalars(select(AuditEvent).where(AuditEvent.action == "voucher.expire")).one()
    assert (event.entity_id, event.actor_role, event.details["released_cents"]) == (
        voucher.id,
        "system",
        300_00,
    )
    notice = db.scalars(
        select(Notification).where(Notification.user_id == voucher.worker_id)
    ).all()[-1]
    assert notice.link == f"/worker/vouchers/{voucher.id}"
    assert_ledger_matches(db, line.id)


def test_expiry_is_idempotent(db, measure):
    granted(db, measure, 500_00)
    db.commit()
    expiry.expire_vouchers(db, TODAY)
    db.commit()
    entries, events = ledger_count(db), count(db, AuditEvent)
    notes = count(db, Notification)
    again = expiry.expire_vouchers(db, TODAY)
    db.commit()
    assert (again.expired, again.released_cents, again.promoted) == (0, 0, 0)
    assert (ledger_count(db), count(db, AuditEvent), count(db, Notification)) == (
        entries,
        events,
        notes,
    )
    assert_ledger_matches(db, measure.budget_line.id)


def test_a_used_up_voucher_expires_without_a_release(db, measure):
    voucher = granted(db, measure, 300_00)
    use(db, voucher, 300_00)
    db.commit()
    result = expiry.expire_vouchers(db, TODAY)
    assert (result.expired, result.released_cents) == (1, 0)
    assert count(db, LedgerEntry, LedgerEntry.kind == LedgerKind.RELEASE) == 0


def test_expiry_moves_the_waiting_list_in_strict_order(db, first_come):
    granted(db, first_come, 400_00, valid_until=TODAY + timedelta(days=30))
    ending = granted(db, first_come, 600_00)
    start = utcnow() - timedelta(days=2)
    # Sent in this order while the budget was used up.
    first = sent(db, first_come, 300_00, S.WAITLISTED, start)
    second = sent(db, first_come, 500_00, S.WAITLISTED, start + timedelta(hours=1))
    third = sent(db, first_come, 100_00, S.WAITLISTED, start + timedelta(hours=2))
    db.commit()
    assert line_of(db, first_come).available_cents == 0

    result = expiry.expire_vouchers(db, TODAY)
    db.commit()
    assert ending.status is VoucherStatus.EXPIRED
    assert (result.released_cents, result.promoted) == (600_00, 1)
    # EUR 600 freed: the first (300) fits; the second (500) does not, and the third (100)
    # would, but must not jump the queue.
    assert [a.status for a in (first, second, third)] == [S.APPROVED, S.WAITLISTED, S.WAITLISTED]
    assert first.voucher.amount_cents == 300_00
    approval = db.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "application.approve", AuditEvent.entity_id == first.id
        )
    ).one()
    assert approval.actor_role == "system"
    line = line_of(db, first_come)
    assert (line.reserved_cents, line.available_cents) == (700_00, 300_00)
    assert_ledger_matches(db, line.id)


def test_waitlist_skips_what_needs_an_operator_but_keeps_order_for_the_rest(db, first_come):
    budget.reserve(db, first_come.budget_line.id, 1_000_00, None, ("application", 0))
    start = utcnow() - timedelta(days=2)
    blocked = sent(db, first_come, 200_00, S.WAITLISTED, start)
    # Their employment ended: the first-come rule cannot grant it, an operator looks at it.
    for employment in db.scalars(
        select(Employment).where(Employment.worker_id == blocked.worker_id)
    ):
        employment.ends_on = TODAY - timedelta(days=10)
        employment.starts_on = TODAY - timedelta(days=100)
    nxt = sent(db, first_come, 200_00, S.WAITLISTED, start + timedelta(hours=1))
    budget.release(db, first_come.budget_line.id, 300_00, None, ("application", 0))
    db.commit()
    assert waitlist.promote(db, first_come, TODAY) == [nxt]
    assert blocked.status is S.WAITLISTED
    # Measures decided by an operator keep their list for the operator.
    manual = open_measure(db, running_project(db))
    sent(db, manual, 100_00, S.WAITLISTED)
    assert waitlist.promote(db, manual, TODAY) == []


def test_requests_sent_in_time_keep_their_money_until_decided(db, measure):
    voucher = granted(db, measure, 500_00)
    claim = Claim(
        voucher=voucher,
        worker=voucher.worker,
        status=ClaimStatus.SUBMITTED,
        requested_cents=120_00,
        submitted_at=utcnow(),
    )
    db.add(claim)
    db.commit()
    result = expiry.expire_vouchers(db, TODAY)
    db.commit()
    assert (result.released_cents, result.held_cents) == (380_00, 120_00)
    assert line_of(db, measure).reserved_cents == 120_00

    # The operator approves EUR 100 of it after the end date: the money is there.
    claim.status = ClaimStatus.PARTIALLY_APPROVED
    claim.approved_cents = 100_00
    use(db, voucher, 100_00)
    db.commit()
    # The next run gives back the EUR 20 the decision left, once.
    result = expiry.expire_vouchers(db, TODAY)
    db.commit()
    assert (result.expired, result.released_cents, result.held_cents) == (0, 20_00, 0)
    assert count(db, AuditEvent, AuditEvent.action == "voucher.release") == 1
    assert expiry.expire_vouchers(db, TODAY).released_cents == 0
    line = line_of(db, measure)
    assert (line.reserved_cents, line.spent_cents) == (0, 100_00)
    assert_ledger_matches(db, line.id)


def test_a_request_waiting_for_information_keeps_the_whole_remainder(db, measure):
    voucher = granted(db, measure, 500_00)
    use(db, voucher, 100_00)
    db.add(
        Claim(
            voucher=voucher,
            worker=voucher.worker,
            status=ClaimStatus.NEEDS_INFO,
            requested_cents=50_00,
        )
    )
    db.commit()
    result = expiry.expire_vouchers(db, TODAY)
    assert (result.expired, result.released_cents, result.held_cents) == (1, 0, 400_00)
    # release_unused after the decision gives it back (what the claims review may call).
    db.scalars(select(Claim)).one().status = ClaimStatus.REJECTED
    assert expiry.release_unused(db, voucher, None) == 400_00
    assert expiry.release_unused(db, voucher, None) == 0
    db.commit()
    assert_ledger_matches(db, measure.budget_line.id)


def test_expire_command_twice(app, db, measure):
    voucher = granted(db, measure, 500_00, valid_until=date(2030, 1, 31))
    db.commit()
    runner = app.test_cli_runner()
    first = runner.invoke(args=["expire", "--today", "2030-01-31"])
    assert first.exit_code == 0, first.output
    assert "Vouchers expired: 0" in first.output
    second = runner.invoke(args=["expire", "--today", "2030-02-01"])
    assert second.exit_code == 0, second.output
    assert "Vouchers expired: 1; released: 500.00 EUR" in second.output
    third = runner.invoke(args=["expire", "--today", "2030-02-01"])
    assert third.exit_code == 0, third.output
    assert "Vouchers expired: 0; released: 0.00 EUR" in third.output
    db.rollback()
    assert db.get(Voucher, voucher.id).status is VoucherStatus.EXPIRED
    assert_ledger_matches(db, measure.budget_line.id)


def test_expire_command_refuses_a_bad_date(app):
    result = app.test_cli_runner().invoke(args=["expire", "--today", "31/01/2030"])
    assert result.exit_code != 0


# --- revocation -------------------------------------------------------------------------


def test_revoke_releases_what_was_not_used(db, measure):
    operator = factories.user(db, Role.OPERATOR, all_=measure.project.alliance)
    voucher = granted(db, measure, 400_00, valid_until=TODAY + timedelta(days=100))
    use(db, voucher, 150_00)
    db.commit()
    with pytest.raises(ValidationFailed):
        expiry.revoke(db, voucher, operator, "  ")
    expiry.revoke(db, voucher, operator, "Employment was declared by mistake")
    db.commit()
    assert voucher.status is VoucherStatus.REVOKED
    line = line_of(db, measure)
    assert (line.reserved_cents, line.spent_cents) == (0, 150_00)
    event = db.scalars(select(AuditEvent).where(AuditEvent.action == "voucher.revoke")).one()
    assert (event.actor_id, event.reason, event.details["released_cents"]) == (
        operator.id,
        "Employment was declared by mistake",
        250_00,
    )
    # The worker is told in their own language (Italian by default).
    assert (
        "revocato"
        in db.scalars(
            select(Notification.subject).where(Notification.user_id == voucher.worker_id)
        ).all()[-1]
    )
    with pytest.raises(IllegalTransition):
        expiry.revoke(db, voucher, operator, "Again")
    # A revoked voucher does not expire later.
    assert expiry.expire_vouchers(db, TODAY + timedelta(days=200)).expired == 0
    assert_ledger_matches(db, line.id)


def test_revoke_moves_a_first_come_waiting_list(db, first_come):
    voucher = granted(db, first_come, 1_000_00, valid_until=TODAY + timedelta(days=10))
    waiting = sent(db, first_come, 250_00, S.WAITLISTED)
    db.commit()
    promoted = expiry.revoke(db, voucher, None, "Duplicate")
    db.commit()
    assert promoted == [waiting]
    assert db.get(Application, waiting.id).status is S.APPROVED
    assert_ledger_matches(db, first_come.budget_line.id)
