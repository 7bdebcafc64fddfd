"""Read-only overviews that each role's home page shows."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

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

    @property
    def regional_share_pct(self) -> float:
        """The Region's share of the project's total, as a percentage."""
        total = self.project.total_cents
        return 100 * self.project.regional_share_cents / total if total else 0.0

    @property
    def cofunding_pct(self) -> float:
        """The partners' co-funding of the project's total, as a percentage."""
        total = self.project.total_cents
        return 100 * self.project.cofunding_cents / total if total else 0.0


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
    """A worker's declared employments and dependants."""
    employments = session.scalars(
        visible(Employment, worker)
        .options(selectinload(Employment.organisation))
        .order_by(Employment.starts_on.desc())
    ).all()
    dependants = session.scalars(visible(Dependant, worker).order_by(Dependant.birth_date)).all()
    return list(employments), list(dependants)


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


@dataclass
class WorkerDashboard:
    employments: list[Employment]
    dependants: list[Dependant]
    applications: list[Application]
    vouchers: list[Voucher]
    claims: list[Claim]
    paid_claims: list[Claim]
    paid_total_cents: int


def worker_dashboard(session: Session, worker: User) -> WorkerDashboard:
    """Everything the worker's dashboard shows, each list in one query."""
    employments, dependants = worker_summary(session, worker)
    applications = session.scalars(
        select(Application)
        .where(
            Application.worker_id == worker.id,
            Application.status.in_(OPEN_APPLICATION_STATUSES),
        )
        .options(selectinload(Application.measure), selectinload(Application.dependant))
        .order_by(Application.created_at.desc())
    ).all()
    vouchers = session.scalars(
        select(Voucher)
        .where(Voucher.worker_id == worker.id, Voucher.status == VoucherStatus.ACTIVE)
        .options(selectinload(Voucher.measure))
        .order_by(Voucher.valid_until)
    ).all()
    claims = session.scalars(
        select(Claim)
        .where(Claim.worker_id == worker.id, Claim.status.in_(OPEN_CLAIM_STATUSES))
        .options(selectinload(Claim.voucher).selectinload(Voucher.measure))
        .order_by(Claim.created_at.desc())
    ).all()
    paid = session.scalars(
        select(Claim)
        .where(Claim.worker_id == worker.id, Claim.status == ClaimStatus.PAID)
        .options(selectinload(Claim.voucher).selectinload(Voucher.measure))
        .order_by(Claim.paid_at.desc())
        .limit(10)
    ).all()
    paid_total = session.scalar(
        select(func.coalesce(func.sum(Claim.approved_cents), 0)).where(
            Claim.worker_id == worker.id, Claim.status == ClaimStatus.PAID
        )
    )
    return WorkerDashboard(
        employments,
        dependants,
        list(applications),
        list(vouchers),
        list(claims),
        list(paid),
        int(paid_total),
    )
