"""Read-only overviews that each role's home page shows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from typing import NamedTuple

from sqlalchemy import Integer, Select, bindparam, func, or_, select
from sqlalchemy.orm import Session, aliased, selectinload

from voucher.models import (
    Alliance,
    Application,
    ApplicationStatus,
    BudgetLine,
    Claim,
    ClaimStatus,
    Dependant,
    Employment,
    Measure,
    Project,
    User,
    Voucher,
    VoucherStatus,
)
from voucher.services.access import visible


@dataclass
class MeasureBudget:
    measure: Measure
    allocated_cents: int
    reserved_cents: int
    spent_cents: int
    paid_cents: int

    @property
    def available_cents(self) -> int:
        return self.allocated_cents - self.reserved_cents - self.spent_cents


@dataclass
class ProjectBudget:
    project: Project
    measures: list[MeasureBudget] = field(default_factory=list)

    def total(self, attribute: str) -> int:
        return sum(getattr(m, attribute) for m in self.measures)

    @property
    def unallocated_cents(self) -> int:
        """What of the project's total no measure has been allocated yet."""
        return self.project.total_cents - self.total("allocated_cents")


def project_budgets(session: Session, user: User) -> list[ProjectBudget]:
    """Every project ``user`` may see, with per-measure budget balances, in two queries."""
    projects = session.scalars(
        visible(Project, user)
        .options(selectinload(Project.alliance))
        .order_by(Project.alliance_id, Project.title)
    ).all()
    by_project = {p.id: ProjectBudget(p) for p in projects}
    rows = session.execute(
        select(Measure, BudgetLine)
        .join(BudgetLine, BudgetLine.measure_id == Measure.id, isouter=True)
        .where(Measure.project_id.in_(list(by_project)))
        .order_by(Measure.id)
    ).all()
    for measure, line in rows:
        by_project[measure.project_id].measures.append(
            MeasureBudget(
                measure,
                line.allocated_cents if line else 0,
                line.reserved_cents if line else 0,
                line.spent_cents if line else 0,
                line.paid_cents if line else 0,
            )
        )
    return list(by_project.values())


def alliances_for(session: Session, user: User) -> list[Alliance]:
    """The alliances ``user`` may see, with their lead and partners loaded."""
    return list(
        session.scalars(
            visible(Alliance, user)
            .options(selectinload(Alliance.lead), selectinload(Alliance.partnerships))
            .order_by(Alliance.name)
        ).all()
    )


def worker_summary(session: Session, worker: User) -> tuple[list[Employment], list[Dependant]]:
    """A worker's declared employments (latest first) and dependants (loaded with the user)."""
    return list(worker.employments), list(worker.dependants)


# Applications the worker still waits on, and claims still in progress.
OPEN_APPLICATION_STATUSES = (
    ApplicationStatus.DRAFT,
    ApplicationStatus.SUBMITTED,
    ApplicationStatus.AWAITING_HR,
    ApplicationStatus.WAITLISTED,
)
OPEN_CLAIM_STATUSES = (
    ClaimStatus.DRAFT,
    ClaimStatus.SUBMITTED,
    ClaimStatus.NEEDS_INFO,
    ClaimStatus.APPROVED,
    ClaimStatus.PARTIALLY_APPROVED,
)


# The most claims the dashboard reads: far more than a worker has in progress at once.
DASHBOARD_CLAIMS = 100


class DashboardVoucher(NamedTuple):
    """An active voucher as the dashboard shows it."""

    id: int
    measure_title: str
    remaining_cents: int
    amount_cents: int
    valid_until: date
    status: VoucherStatus


class DashboardApplication(NamedTuple):
    """An application as the dashboard shows it (with its voucher's figures, if any)."""

    id: int
    status: ApplicationStatus
    measure_title: str
    dependant_name: str | None
    voucher: DashboardVoucher | None


class DashboardClaim(NamedTuple):
    """A reimbursement request as the dashboard shows it."""

    id: int
    status: ClaimStatus
    measure_title: str
    approved_cents: int | None
    paid_at: datetime | None


@dataclass
class WorkerDashboard:
    employments: list[Employment]
    dependants: list[Dependant]
    applications: list[DashboardApplication]
    vouchers: list[DashboardVoucher]
    claims: list[DashboardClaim]
    paid_claims: list[DashboardClaim]
    paid_total_cents: int


def worker_dashboard(session: Session, worker: User) -> WorkerDashboard:
    """Everything the worker's dashboard shows, in two queries (employments and family come
    with the user): applications with their vouchers, and claims with the total paid.

    Both are read as plain rows of the columns the page shows: the worker's home is the
    page opened most, and building ORM objects (with their measures, vouchers and family
    members) cost more than running the queries."""
    employments, dependants = worker_summary(session, worker)
    applications = [
        DashboardApplication(
            row.id,
            row.status,
            row.measure_title,
            row.dependant_name,
            DashboardVoucher(
                row.voucher_id,
                row.voucher_measure_title,
                row.remaining_cents,
                row.amount_cents,
                row.valid_until,
                row.voucher_status,
            )
            if row.voucher_id is not None
            else None,
        )
        for row in session.execute(_dashboard_applications(), {"worker_id": worker.id})
    ]
    vouchers = sorted(
        (
            a.voucher
            for a in applications
            if a.voucher is not None and a.voucher.status is VoucherStatus.ACTIVE
        ),
        key=lambda v: (v.valid_until, v.id),
    )
    rows = session.execute(_dashboard_claims(), {"worker_id": worker.id}).all()
    claims = [DashboardClaim._make(row[:-1]) for row in rows]
    paid = sorted(
        (c for c in claims if c.status is ClaimStatus.PAID),
        key=lambda c: (c.paid_at is not None, c.paid_at),
        reverse=True,
    )
    return WorkerDashboard(
        employments,
        dependants,
        [a for a in applications if a.status in OPEN_APPLICATION_STATUSES],
        vouchers,
        [c for c in claims if c.status is not ClaimStatus.PAID],
        paid[:10],
        int(rows[0][-1]) if rows else 0,
    )


# The dashboard is the page workers open most: its statements are built once (with the
# worker as a bind parameter), as building them cost more than running them.


@cache
def _dashboard_applications() -> Select:
    """Applications still open, and those whose voucher is active: the vouchers come along."""
    worker_id = bindparam("worker_id", type_=Integer)
    active_voucher = select(Voucher.application_id).where(
        Voucher.worker_id == worker_id, Voucher.status == VoucherStatus.ACTIVE
    )
    voucher_measure = aliased(Measure)
    return (
        select(
            Application.id,
            Application.status,
            Measure.title.label("measure_title"),
            Dependant.first_name.label("dependant_name"),
            Voucher.id.label("voucher_id"),
            voucher_measure.title.label("voucher_measure_title"),
            Voucher.remaining_cents.label("remaining_cents"),
            Voucher.amount_cents,
            Voucher.valid_until,
            Voucher.status.label("voucher_status"),
        )
        .join(Measure, Measure.id == Application.measure_id)
        .outerjoin(Dependant, Dependant.id == Application.dependant_id)
        .outerjoin(Voucher, Voucher.application_id == Application.id)
        .outerjoin(voucher_measure, voucher_measure.id == Voucher.measure_id)
        .where(
            Application.worker_id == worker_id,
            or_(
                Application.status.in_(OPEN_APPLICATION_STATUSES),
                Application.id.in_(active_voucher),
            ),
        )
        .order_by(Application.created_at.desc(), Application.id.desc())
    )


@cache
def _dashboard_claims() -> Select:
    """Claims in progress and paid ones, with the total ever paid as a column of each row."""
    worker_id = bindparam("worker_id", type_=Integer)
    paid_total = (
        select(func.coalesce(func.sum(Claim.approved_cents), 0))
        .where(Claim.worker_id == worker_id, Claim.status == ClaimStatus.PAID)
        .scalar_subquery()
    )
    return (
        select(
            Claim.id,
            Claim.status,
            Measure.title.label("measure_title"),
            Claim.approved_cents,
            Claim.paid_at,
            paid_total,
        )
        .join(Voucher, Voucher.id == Claim.voucher_id)
        .join(Measure, Measure.id == Voucher.measure_id)
        .where(
            Claim.worker_id == worker_id,
            Claim.status.in_((*OPEN_CLAIM_STATUSES, ClaimStatus.PAID)),
        )
        .order_by(Claim.created_at.desc(), Claim.id.desc())
        .limit(DASHBOARD_CLAIMS)
    )
