"""Factories: valid, unique test data built through the same services the app uses."""

from __future__ import annotations

import itertools
from datetime import date
from functools import cache

from sqlalchemy.orm import Session
from stdnum import luhn
from stdnum.it import codicefiscale

from voucher.models import (
    Alliance,
    Allocation,
    Dependant,
    DependantKind,
    Employment,
    EmploymentStatus,
    Measure,
    MeasureKind,
    Network,
    Organisation,
    OrganisationKind,
    OrganisationSize,
    Programme,
    Project,
    Role,
    User,
)
from voucher.services import accounts, structure

PASSWORD = "correct-horse-battery"
_seq = itertools.count(1)


def seq() -> int:
    """A number never returned before in this test run."""
    return next(_seq)


@cache
def password_hash() -> str:
    # Hashing with argon2 is deliberately slow; the tests share one hash.
    return accounts.hash_password(PASSWORD)


def vat(n: int | None = None) -> str:
    """A valid 11-digit partita IVA (also an organisation's codice fiscale)."""
    body = f"{(n if n is not None else seq()) % 10_000_000:07d}" + "001"
    return body + luhn.calc_check_digit(body)


_LETTERS = "BCDFGHLMNPRSTVZ"


def person_tax_code(
    n: int | None = None, birth: date = date(1985, 8, 1), female: bool = False
) -> str:
    """A valid codice fiscale for an invented person (unique per ``n``)."""
    n = seq() if n is None else n
    letters = "".join(_LETTERS[(n // len(_LETTERS) ** i) % len(_LETTERS)] for i in range(6))
    month = "ABCDEHLMPRST"[birth.month - 1]
    day = birth.day + (40 if female else 0)
    body = f"{letters}{birth.year % 100:02d}{month}{day:02d}L319"
    return body + codicefiscale.calc_check_digit(body)


def organisation(
    session: Session,
    kind: OrganisationKind = OrganisationKind.COMPANY,
    size: OrganisationSize = OrganisationSize.SMALL,
    name: str | None = None,
) -> Organisation:
    n = seq()
    return structure.save_organisation(
        session,
        None,
        name=name or f"Organisation {n}",
        kind=kind,
        size=size,
        tax_code=vat(n),
        municipality="Tradate",
    )


def network(session: Session, name: str | None = None) -> Network:
    n = seq()
    return structure.save_network(
        session, None, name=name or f"Rete {n}", ats_name=f"ATS {n}", territory="Lombardia"
    )


def alliance(
    session: Session,
    net: Network | None = None,
    partners: list[Organisation] | None = None,
    name: str | None = None,
) -> Alliance:
    """An alliance led by a new public body, with three more partners unless given."""
    lead = organisation(session, OrganisationKind.PUBLIC_BODY)
    if partners is None:
        partners = [organisation(session) for _ in range(2)] + [
            organisation(session, OrganisationKind.COOPERATIVE)
        ]
    return structure.save_alliance(
        session,
        None,
        network=net or network(session),
        name=name or f"Alleanza {seq()}",
        lead=lead,
        partners=partners,
    )


def programme(session: Session, cap_cents: int | None = None) -> Programme:
    return structure.save_programme(
        session,
        None,
        name=f"Programme {seq()}",
        legal_reference="DGR n. 2398 del 11/11/2019",
        starts_on=date(2024, 1, 1),
        ends_on=date(2027, 12, 31),
        regional_cap_cents=cap_cents,
    )


def project(
    session: Session,
    all_: Alliance | None = None,
    prog: Programme | None = None,
    total_cents: int = 10_000_000,
) -> Project:
    regional = total_cents * 70 // 100
    return structure.save_project(
        session,
        None,
        alliance=all_ or alliance(session),
        programme=prog or programme(session),
        title=f"Project {seq()}",
        starts_on=date(2024, 1, 1),
        ends_on=date(2027, 12, 31),
        total_cents=total_cents,
        regional_share_cents=regional,
        cofunding_cents=total_cents - regional,
    )


def measure(
    session: Session,
    proj: Project | None = None,
    allocated_cents: int = 100_000,
    kind: MeasureKind = MeasureKind.FAMILY_VOUCHER,
    allocation: Allocation = Allocation.MANUAL,
) -> Measure:
    return structure.save_measure(
        session,
        None,
        project=proj or project(session),
        kind=kind,
        title=f"Measure {seq()}",
        reimbursement_rate_pct=80,
        cap_per_voucher_cents=50_000,
        cap_per_worker_year_cents=100_000,
        opens_on=date(2024, 1, 1),
        closes_on=date(2027, 12, 31),
        allocated_cents=allocated_cents,
        allocation=allocation,
    )


def user(
    session: Session,
    role: Role = Role.WORKER,
    *,
    org: Organisation | None = None,
    all_: Alliance | None = None,
    net: Network | None = None,
    email: str | None = None,
) -> User:
    """A user of ``role`` with the scope it needs (created if not given)."""
    n = seq()
    if role in (Role.HR, Role.PROVIDER) and org is None:
        org = organisation(
            session,
            OrganisationKind.COOPERATIVE if role is Role.PROVIDER else OrganisationKind.COMPANY,
        )
    if role is Role.OPERATOR and all_ is None:
        all_ = alliance(session)
    if role is Role.NETWORK and net is None:
        net = network(session)
    u = User(
        email=email or f"{role.value}{n}@example.org",
        password_hash=password_hash(),
        first_name="Test",
        last_name=f"{role.value.title()} {n}",
        tax_code=person_tax_code(n) if role is Role.WORKER else None,
        role=role,
        organisation=org if role in (Role.HR, Role.PROVIDER) else None,
        alliance=all_ if role is Role.OPERATOR else None,
        network=net if role is Role.NETWORK else None,
    )
    session.add(u)
    session.flush()
    return u


def employment(
    session: Session,
    worker: User,
    org: Organisation,
    status: EmploymentStatus = EmploymentStatus.CONFIRMED,
) -> Employment:
    e = Employment(worker=worker, organisation=org, starts_on=date(2023, 1, 1), status=status)
    session.add(e)
    session.flush()
    return e


def child(session: Session, worker: User, first_name: str = "Giulia") -> Dependant:
    d = Dependant(
        worker=worker,
        kind=DependantKind.CHILD,
        first_name=first_name,
        last_name=worker.last_name,
        birth_date=date(2019, 5, 4),
        tax_code=person_tax_code(birth=date(2019, 5, 4), female=True),
    )
    session.add(d)
    session.flush()
    return d


def voucher(
    session: Session,
    worker: User | None = None,
    meas: Measure | None = None,
    amount_cents: int = 500_00,
    dependant: Dependant | None = None,
):
    """An approved application with its voucher, the amount reserved on the budget line.

    Built directly (not through the operator's decision service) so tests of claims do not
    depend on how applications are decided.
    """
    from voucher.models import Application, ApplicationStatus, Voucher
    from voucher.models.base import utcnow
    from voucher.services import budget

    meas = meas or measure(session)
    worker = worker or user(session, Role.WORKER)
    app_ = Application(
        worker=worker,
        measure=meas,
        dependant=dependant,
        amount_requested_cents=amount_cents,
        status=ApplicationStatus.APPROVED,
        submitted_at=utcnow(),
        decided_at=utcnow(),
    )
    session.add(app_)
    session.flush()
    line = meas.budget_line
    budget.reserve(session, line.id, amount_cents, None, ("application", app_.id))
    v = Voucher(
        application=app_,
        worker=worker,
        measure=meas,
        budget_line=line,
        amount_cents=amount_cents,
        valid_from=meas.opens_on,
        valid_until=meas.closes_on,
    )
    session.add(v)
    session.flush()
    return v
