"""Data builders for the reporting tests: networks, alliances, beneficiaries, money.

Vouchers reserve and claims spend through the real services (``budget``, ``review``), so
the ledger is what the app writes. Timestamps a test needs in the past (a claim sent last
spring, a ledger entry of another period) are set explicitly on new rows: the ledger is
append-only, so entries are dated when they are written, never moved afterwards.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from tests import factories
from voucher.models import (
    Application,
    ApplicationStatus,
    Claim,
    ClaimStatus,
    Dependant,
    DependantKind,
    Employment,
    LedgerEntry,
    LedgerKind,
    Measure,
    MeasureKind,
    Organisation,
    OrganisationKind,
    OrganisationSize,
    Receipt,
    Role,
    User,
    Voucher,
)
from voucher.models.base import utcnow
from voucher.services import budget, review

TODAY = date(2026, 6, 15)
_keys = itertools.count(1)


def worker(
    db: Session,
    org: Organisation | None = None,
    *,
    female: bool = False,
    birth: date = date(1985, 8, 1),
    children: tuple[date, ...] = (),
    elderly: bool = False,
    disabled: bool = False,
    first_name: str = "Maria",
    last_name: str | None = None,
) -> tuple[User, Employment | None]:
    """A worker (codice fiscale with the given sex and birth date), dependants, employment."""
    u = factories.user(db, Role.WORKER)
    u.tax_code = factories.person_tax_code(birth=birth, female=female)
    u.first_name = first_name
    u.last_name = last_name or f"Rossi{factories.seq()}"
    for born in children:
        db.add(
            Dependant(
                worker=u,
                kind=DependantKind.CHILD,
                first_name="Luca",
                last_name=u.last_name,
                birth_date=born,
            )
        )
    if elderly:
        db.add(
            Dependant(
                worker=u,
                kind=DependantKind.ELDERLY_RELATIVE,
                first_name="Anna",
                last_name=u.last_name,
                birth_date=date(1940, 1, 1),
            )
        )
    if disabled:
        db.add(
            Dependant(
                worker=u,
                kind=DependantKind.DISABLED_RELATIVE,
                first_name="Paolo",
                last_name=u.last_name,
                birth_date=date(1970, 1, 1),
                has_disability=True,
            )
        )
    employment = factories.employment(db, u, org) if org is not None else None
    db.flush()
    return u, employment


def grant(
    db: Session,
    u: User,
    measure: Measure,
    employment: Employment | None,
    amount_cents: int = 400_00,
    when: datetime | None = None,
) -> Voucher:
    """An approved application resting on ``employment``, with its voucher reserved."""
    when = when or utcnow()
    application = Application(
        worker=u,
        measure=measure,
        employment=employment,
        amount_requested_cents=amount_cents,
        status=ApplicationStatus.APPROVED,
        submitted_at=when - timedelta(days=3),
        decided_at=when,
    )
    db.add(application)
    db.flush()
    budget.reserve(db, measure.budget_line.id, amount_cents, None, ("application", application.id))
    v = Voucher(
        application=application,
        worker=u,
        measure=measure,
        budget_line=measure.budget_line,
        amount_cents=amount_cents,
        valid_from=measure.opens_on,
        valid_until=measure.closes_on,
        created_at=when,
    )
    db.add(v)
    db.flush()
    return v


def submitted(
    db: Session,
    v: Voucher,
    amounts: tuple[int, ...] = (100_00,),
    sent: datetime | None = None,
    vat: str | None = None,
) -> Claim:
    """A claim sent with one receipt per amount (rows written directly, no image upload)."""
    sent = sent or utcnow()
    rate = v.measure.reimbursement_rate_pct
    c = Claim(
        voucher=v,
        worker=v.worker,
        status=ClaimStatus.SUBMITTED,
        requested_cents=min(sum(amounts) * rate // 100, v.remaining_cents),
        submitted_at=sent,
    )
    db.add(c)
    db.flush()
    for amount in amounts:
        n = next(_keys)
        db.add(
            Receipt(
                claim=c,
                storage_key=f"rep-{factories.seq()}-{n}",
                original_filename="ricevuta.pdf",
                content_type="application/pdf",
                size_bytes=1000,
                sha256=f"{factories.seq():064d}",
                supplier_name="Asilo nido Il Girasole",
                supplier_vat=vat or factories.vat(4242),
                document_number=f"FT {n}/2026",
                issued_on=date(2026, 5, 20),
                amount_cents=amount,
            )
        )
    db.flush()
    db.refresh(c)
    return c


def approve(db: Session, c: Claim, operator: User, amount: int | None = None) -> Claim:
    """The operator approves through the review service (the ledger's spend entry)."""
    return review.approve(db, c, operator, amount, TODAY)


def pay(db: Session, c: Claim, operator: User, when: datetime | None = None) -> Claim:
    """Mark an approved claim paid as a payout does: the ledger's pay entry and paid_at."""
    budget.pay(db, c.voucher.budget_line_id, c.approved_cents, operator, ("claim", c.id))
    c.status = ClaimStatus.PAID
    c.paid_at = when or utcnow()
    db.flush()
    return c


def ledger_at(
    db: Session, line_id: int, kind: LedgerKind, amount: int, at: datetime, ref: str = ""
) -> LedgerEntry:
    """A ledger entry written at ``at`` (for another period), bypassing the line's balances."""
    entry = LedgerEntry(
        budget_line_id=line_id, kind=kind, amount_cents=amount, created_at=at, reference_type=ref
    )
    db.add(entry)
    db.flush()
    return entry


def utc(year: int, month: int, day: int, hour: int = 10) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


@dataclass
class World:
    """Two networks; the first with two alliances, the second with one; a project each."""

    project: object
    sibling_project: object
    foreign_project: object
    childcare: Measure
    homecare: Measure
    operator: User
    officer: User
    orgs: dict[OrganisationSize, Organisation]
    workers: list[User] = field(default_factory=list)


@pytest.fixture
def reporting_world(db: Session) -> World:
    """Projects in two networks, with partner companies of every size."""
    net = factories.network(db)
    other_net = factories.network(db)
    orgs = {
        size: factories.organisation(db, OrganisationKind.COMPANY, size)
        for size in OrganisationSize
    }
    alliance = factories.alliance(db, net, partners=list(orgs.values()))
    sibling = factories.alliance(db, net)
    foreign = factories.alliance(db, other_net)
    project = factories.project(db, alliance)
    childcare = factories.measure(db, project, 10_000_00, MeasureKind.CHILDCARE)
    homecare = factories.measure(db, project, 5_000_00, MeasureKind.HOME_CARE)
    sibling_project = factories.project(db, sibling)
    factories.measure(db, sibling_project, 2_000_00)
    foreign_project = factories.project(db, foreign)
    factories.measure(db, foreign_project, 3_000_00)
    operator = factories.user(db, Role.OPERATOR, all_=alliance)
    officer = factories.user(db, Role.NETWORK, net=net)
    db.flush()
    return World(
        project=project,
        sibling_project=sibling_project,
        foreign_project=foreign_project,
        childcare=childcare,
        homecare=homecare,
        operator=operator,
        officer=officer,
        orgs=orgs,
    )
