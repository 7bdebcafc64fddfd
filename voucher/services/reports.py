"""Oversight reports: money, activity and timings of projects, filtered by programme and period.

Every function is scoped by the person asking, through ``voucher.services.access``: an
admin sees every project, a network officer their network's, an operator their alliance's,
and anyone else nothing. Figures are aggregated in the database (one GROUP BY per figure,
never a query per project), so a page costs the same few queries whatever the data.

What the period (from/to, calendar days in Italy) selects:

- money: ledger entries by the day they were written. Spent and paid are the movements
  within the period; allocated and reserved are the balances at its end (so with no period
  every figure equals the budget line's balance);
- applications by the day they were sent, vouchers by the day they were granted, claims by
  the day they were sent (counts by status), decided or paid (average days).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, Select, and_, case, func, select, true
from sqlalchemy.orm import Session, aliased, selectinload

from voucher.models import (
    Alliance,
    Application,
    ApplicationStatus,
    BudgetLine,
    Claim,
    ClaimStatus,
    LedgerEntry,
    LedgerKind,
    Measure,
    MeasureKind,
    Programme,
    Project,
    User,
    Voucher,
)
from voucher.services.access import visible
from voucher.services.clock import ROME
from voucher.services.sql import days_between, year_month

# Claims reach their measure through their voucher, joined under an alias: the access
# rule of claims may itself be a subquery on vouchers correlated to the claim, and a
# plain join would let SQLAlchemy correlate it away.
_ClaimVoucher = aliased(Voucher)
# Claims listed by status: drafts are still the worker's business.
CLAIM_STATUSES = tuple(s for s in ClaimStatus if s is not ClaimStatus.DRAFT)
DECIDED_STATUSES = (
    ClaimStatus.APPROVED,
    ClaimStatus.PARTIALLY_APPROVED,
    ClaimStatus.REJECTED,
    ClaimStatus.PAID,
)
# Claims whose approved amount was spent: what the rendicontazione lists.
REIMBURSED_STATUSES = (ClaimStatus.APPROVED, ClaimStatus.PARTIALLY_APPROVED, ClaimStatus.PAID)
# A burn-down longer than this many months is cut to its last ones (a chart stays legible).
MAX_MONTHS = 72
# The earliest and latest dates a filter accepts (a typing slip otherwise).
EARLIEST = date(2000, 1, 1)
LATEST = date(2099, 12, 31)


# --- the filter -------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportFilter:
    """Programme and period (both ends included, Italian calendar days) of a report."""

    programme_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None

    @property
    def start(self) -> datetime | None:
        """The first instant of the period, in UTC (how timestamps are stored)."""
        return _utc(self.date_from) if self.date_from else None

    @property
    def end(self) -> datetime | None:
        """The first instant after the period, in UTC."""
        return _utc(self.date_to + timedelta(days=1)) if self.date_to else None

    @property
    def is_empty(self) -> bool:
        return self.programme_id is None and self.date_from is None and self.date_to is None

    def within(self, column: Any) -> ColumnElement[bool]:
        """``column`` falls in the period (anything, with no period)."""
        conditions = []
        if self.start is not None:
            conditions.append(column >= self.start)
        if self.end is not None:
            conditions.append(column < self.end)
        return and_(*conditions) if conditions else true()

    def until_end(self, column: Any) -> ColumnElement[bool]:
        """``column`` is before the period's end (anything, with no end)."""
        return column < self.end if self.end is not None else true()

    def reference_day(self, today: date) -> date:
        """The day ages are computed on: the period's last day, or today."""
        return self.date_to or today

    def args(self) -> dict[str, str]:
        """The filter as query-string arguments (for links that keep it)."""
        values = {
            "programme": str(self.programme_id) if self.programme_id else "",
            "from": self.date_from.isoformat() if self.date_from else "",
            "to": self.date_to.isoformat() if self.date_to else "",
        }
        return {k: v for k, v in values.items() if v}

    def period_args(self) -> dict[str, str]:
        """The period alone as query-string arguments (a project's pages and files)."""
        return {k: v for k, v in self.args().items() if k != "programme"}


def _utc(day: date) -> datetime:
    """Midnight of ``day`` in Italy, as a UTC timestamp."""
    return datetime.combine(day, time(), tzinfo=ROME).astimezone(UTC)


def read_filter(args: Mapping[str, str]) -> tuple[ReportFilter, list[Any]]:
    """A filter from query-string arguments (programme, from, to), and what was not understood."""
    # A wrong value is dropped with a message rather than failing the page: a report with
    # one filter less is still a report.
    errors: list[Any] = []
    programme_id = None
    raw = (args.get("programme") or "").strip()
    if raw:
        if raw.isdigit() and len(raw) < 10:
            programme_id = int(raw)
        else:
            errors.append(_l("Choose a programme from the list."))
    days: dict[str, date | None] = {}
    for name, label in (("from", _l("From")), ("to", _l("To"))):
        text = (args.get(name) or "").strip()
        days[name] = None
        if not text:
            continue
        try:
            day = date.fromisoformat(text)
        except ValueError:
            day = None
        if day is None or not EARLIEST <= day <= LATEST:
            errors.append(_l("“%(field)s” is not a valid date: it was left out.", field=label))
            continue
        days[name] = day
    date_from, date_to = days["from"], days["to"]
    if date_from and date_to and date_from > date_to:
        errors.append(_l("The period ended before it started: the dates were swapped."))
        date_from, date_to = date_to, date_from
    return ReportFilter(programme_id, date_from, date_to), errors


def programmes_for(session: Session, user: User) -> list[Programme]:
    """The programmes of the projects ``user`` may see, for the filter's choices."""
    return list(
        session.scalars(
            select(Programme)
            .where(Programme.id.in_(visible(Project, user, select(Project.programme_id))))
            .order_by(Programme.starts_on.desc(), Programme.name)
        ).all()
    )


def scoped_projects(user: User, flt: ReportFilter) -> Select:
    """The projects ``user`` may see, limited to the filter's programme."""
    stmt = visible(Project, user)
    if flt.programme_id is not None:
        stmt = stmt.where(Project.programme_id == flt.programme_id)
    return stmt


def project_ids_in_scope(
    user: User, flt: ReportFilter, project_ids: Iterable[int] | None = None
) -> Select:
    """The ids of the projects in scope (optionally only ``project_ids``), as a subquery."""
    stmt = scoped_projects(user, flt).with_only_columns(Project.id)
    if project_ids is not None:
        stmt = stmt.where(Project.id.in_(list(project_ids)))
    return stmt


# --- money ------------------------------------------------------------------------------


@dataclass
class Money:
    """Budget figures in cents (see the module's docstring for what the period does)."""

    allocated_cents: int = 0
    reserved_cents: int = 0
    spent_cents: int = 0
    paid_cents: int = 0
    # Of spent: approved reimbursement requests (the rest is time-saving services and such).
    spent_on_claims_cents: int = 0

    @property
    def available_cents(self) -> int:
        return self.allocated_cents - self.reserved_cents - self.spent_cents

    def add(self, other: Money) -> None:
        """Add ``other``'s figures to these."""
        self.allocated_cents += other.allocated_cents
        self.reserved_cents += other.reserved_cents
        self.spent_cents += other.spent_cents
        self.paid_cents += other.paid_cents
        self.spent_on_claims_cents += other.spent_on_claims_cents

    @classmethod
    def total(cls, parts: Iterable[Money]) -> Money:
        """The sum of ``parts``."""
        result = cls()
        for part in parts:
            result.add(part)
        return result


def measure_money(
    session: Session, user: User, flt: ReportFilter, project_ids: Iterable[int] | None = None
) -> dict[int, Money]:
    """Budget figures per measure, from the ledger, in one query."""
    entry = LedgerEntry

    def total(kinds: tuple[LedgerKind, ...], *conditions: ColumnElement[bool]) -> Any:
        return func.coalesce(
            func.sum(case((and_(entry.kind.in_(kinds), *conditions), entry.amount_cents), else_=0)),
            0,
        )

    until_end = flt.until_end(entry.created_at)
    in_period = flt.within(entry.created_at)
    stmt = (
        select(
            BudgetLine.measure_id,
            total((LedgerKind.ALLOCATE, LedgerKind.ADJUST), until_end),
            total((LedgerKind.RESERVE,), until_end),
            total((LedgerKind.RELEASE, LedgerKind.SPEND), until_end),
            total((LedgerKind.SPEND,), in_period),
            total((LedgerKind.PAY,), in_period),
            total((LedgerKind.SPEND,), in_period, entry.reference_type == "claim"),
        )
        .select_from(entry)
        .join(BudgetLine, BudgetLine.id == entry.budget_line_id)
        .join(Measure, Measure.id == BudgetLine.measure_id)
        .where(Measure.project_id.in_(project_ids_in_scope(user, flt, project_ids)))
        .group_by(BudgetLine.measure_id)
    )
    return {
        measure_id: Money(
            allocated_cents=int(allocated),
            reserved_cents=int(reserved) - int(out_of_reserved),
            spent_cents=int(spent),
            paid_cents=int(paid),
            spent_on_claims_cents=int(on_claims),
        )
        for measure_id, allocated, reserved, out_of_reserved, spent, paid, on_claims in (
            session.execute(stmt).all()
        )
    }


# --- activity and timings ---------------------------------------------------------------


@dataclass
class Activity:
    """Counts and average timings of a project's (or several projects') requests."""

    applications: int = 0
    vouchers: int = 0
    claims: dict[ClaimStatus, int] = field(default_factory=dict)
    days_to_decision: float | None = None
    days_to_payment: float | None = None


def _grouped_counts(session: Session, stmt: Select) -> dict[Any, int]:
    """A (key, count) query as a dictionary."""
    return {key: int(count) for key, count in session.execute(stmt).all()}


def project_activity(
    session: Session, user: User, flt: ReportFilter, project_ids: Iterable[int] | None = None
) -> dict[int, Activity]:
    """Applications, vouchers, claims by status and average days, per project."""
    in_scope = Measure.project_id.in_(project_ids_in_scope(user, flt, project_ids))
    result: dict[int, Activity] = defaultdict(Activity)
    applications = _grouped_counts(
        session,
        visible(
            Application,
            user,
            select(Measure.project_id, func.count(Application.id)).select_from(Application),
        )
        .join(Measure, Measure.id == Application.measure_id)
        .where(
            in_scope,
            Application.status != ApplicationStatus.DRAFT,
            flt.within(Application.submitted_at),
        )
        .group_by(Measure.project_id),
    )
    vouchers = _grouped_counts(
        session,
        visible(
            Voucher, user, select(Measure.project_id, func.count(Voucher.id)).select_from(Voucher)
        )
        .join(Measure, Measure.id == Voucher.measure_id)
        .where(in_scope, flt.within(Voucher.created_at))
        .group_by(Measure.project_id),
    )
    for project_id, count in applications.items():
        result[project_id].applications = count
    for project_id, count in vouchers.items():
        result[project_id].vouchers = count

    claims_base = (
        visible(Claim, user, select(Measure.project_id).select_from(Claim))
        .join(_ClaimVoucher, _ClaimVoucher.id == Claim.voucher_id)
        .join(Measure, Measure.id == _ClaimVoucher.measure_id)
        .where(in_scope)
    )
    by_status = session.execute(
        claims_base.add_columns(Claim.status, func.count(Claim.id))
        .where(Claim.status.in_(CLAIM_STATUSES), flt.within(Claim.submitted_at))
        .group_by(Measure.project_id, Claim.status)
    ).all()
    for project_id, status, count in by_status:
        result[project_id].claims[ClaimStatus(status)] = int(count)
    for attribute, moment, statuses in (
        ("days_to_decision", Claim.decided_at, DECIDED_STATUSES),
        ("days_to_payment", Claim.paid_at, (ClaimStatus.PAID,)),
    ):
        rows = session.execute(
            claims_base.add_columns(func.avg(days_between(Claim.submitted_at, moment)))
            .where(
                Claim.status.in_(statuses),
                Claim.submitted_at.is_not(None),
                flt.within(moment),
            )
            .group_by(Measure.project_id)
        ).all()
        for project_id, average in rows:
            if average is not None:
                setattr(result[project_id], attribute, float(average))
    return dict(result)


def combined_activity(parts: Iterable[Activity]) -> Activity:
    """The counts of ``parts`` added up (averages do not add up: see ``overall_timings``)."""
    total = Activity()
    for part in parts:
        total.applications += part.applications
        total.vouchers += part.vouchers
        for status, count in part.claims.items():
            total.claims[status] = total.claims.get(status, 0) + count
    return total


def overall_timings(
    session: Session, user: User, flt: ReportFilter, project_ids: Iterable[int] | None = None
) -> tuple[float | None, float | None]:
    """Average days from sending a claim to its decision and to its payment, over all projects."""
    base = (
        visible(Claim, user, select().select_from(Claim))
        .join(_ClaimVoucher, _ClaimVoucher.id == Claim.voucher_id)
        .join(Measure, Measure.id == _ClaimVoucher.measure_id)
        .where(Measure.project_id.in_(project_ids_in_scope(user, flt, project_ids)))
    )
    averages = []
    for moment, statuses in (
        (Claim.decided_at, DECIDED_STATUSES),
        (Claim.paid_at, (ClaimStatus.PAID,)),
    ):
        value = session.scalar(
            base.add_columns(func.avg(days_between(Claim.submitted_at, moment))).where(
                Claim.status.in_(statuses), Claim.submitted_at.is_not(None), flt.within(moment)
            )
        )
        averages.append(float(value) if value is not None else None)
    return averages[0], averages[1]


# --- the overview -----------------------------------------------------------------------


@dataclass
class MeasureReport:
    measure: Measure
    money: Money


@dataclass
class ProjectReport:
    """One project's figures for the filter."""

    project: Project
    measures: list[MeasureReport]
    activity: Activity

    @property
    def money(self) -> Money:
        return Money.total(m.money for m in self.measures)


@dataclass
class AllianceReport:
    alliance: Alliance
    projects: list[ProjectReport]

    @property
    def money(self) -> Money:
        return Money.total(p.money for p in self.projects)


@dataclass
class Overview:
    """Every project in scope, by alliance, with the totals of the whole scope."""

    alliances: list[AllianceReport]
    activity: Activity
    days_to_decision: float | None
    days_to_payment: float | None

    @property
    def projects(self) -> list[ProjectReport]:
        return [p for a in self.alliances for p in a.projects]

    @property
    def money(self) -> Money:
        return Money.total(a.money for a in self.alliances)

    @property
    def regional_share_cents(self) -> int:
        return sum(p.project.regional_share_cents for p in self.projects)

    @property
    def cofunding_cents(self) -> int:
        return sum(p.project.cofunding_cents for p in self.projects)


def project_reports(
    session: Session, user: User, flt: ReportFilter, project_ids: Iterable[int] | None = None
) -> list[ProjectReport]:
    """The projects in scope with their measures' money and their activity, in five queries."""
    stmt = (
        _project_stmt(user, flt, project_ids)
        .options(
            selectinload(Project.alliance),
            selectinload(Project.programme),
            selectinload(Project.measures),
        )
        .order_by(Project.title, Project.id)
    )
    projects = list(session.scalars(stmt).all())
    ids = [p.id for p in projects]
    money = measure_money(session, user, flt, ids)
    activity = project_activity(session, user, flt, ids)
    return [
        ProjectReport(
            project=p,
            measures=[MeasureReport(m, money.get(m.id, Money())) for m in p.measures],
            activity=activity.get(p.id, Activity()),
        )
        for p in projects
    ]


def _project_stmt(user: User, flt: ReportFilter, project_ids: Iterable[int] | None) -> Select:
    """The projects in scope, optionally only ``project_ids``."""
    stmt = scoped_projects(user, flt)
    if project_ids is not None:
        stmt = stmt.where(Project.id.in_(list(project_ids)))
    return stmt


def overview(session: Session, user: User, flt: ReportFilter) -> Overview:
    """Every alliance and project ``user`` oversees, with money, activity and timings."""
    reports = project_reports(session, user, flt)
    by_alliance: dict[int, AllianceReport] = {}
    if flt.programme_id is None:
        # Every alliance, also one without projects yet; with a programme chosen, only
        # those with a project in it.
        for alliance in session.scalars(visible(Alliance, user)).all():
            by_alliance[alliance.id] = AllianceReport(alliance, [])
    for report in reports:
        alliance = report.project.alliance
        by_alliance.setdefault(alliance.id, AllianceReport(alliance, [])).projects.append(report)
    alliances = sorted(by_alliance.values(), key=lambda a: (a.alliance.name, a.alliance.id))
    to_decision, to_payment = overall_timings(session, user, flt)
    return Overview(
        alliances=alliances,
        activity=combined_activity(r.activity for r in reports),
        days_to_decision=to_decision,
        days_to_payment=to_payment,
    )


def project_report(
    session: Session, user: User, project: Project, flt: ReportFilter
) -> ProjectReport:
    """One project's figures (``project`` already loaded through the access rules)."""
    # The project page shows every measure whatever the programme filter says: the
    # project itself was chosen.
    reports = project_reports(
        session, user, ReportFilter(None, flt.date_from, flt.date_to), [project.id]
    )
    if not reports:  # not visible: callers load projects through the access rules
        return ProjectReport(project, [], Activity())
    return reports[0]


def spending_by_kind(reports: Iterable[ProjectReport]) -> list[tuple[MeasureKind, int]]:
    """Spent per kind of measure, largest first (kinds with nothing spent left out)."""
    totals: dict[MeasureKind, int] = defaultdict(int)
    for report in reports:
        for m in report.measures:
            totals[m.measure.kind] += m.money.spent_cents
    return sorted(((k, v) for k, v in totals.items() if v), key=lambda kv: (-kv[1], kv[0].value))


# --- burn-down --------------------------------------------------------------------------


@dataclass(frozen=True)
class BurnPoint:
    """The budget at the end of a month: allocated so far, spent so far, what is left."""

    month: date  # the first day of the month
    allocated_cents: int
    spent_cents: int

    @property
    def remaining_cents(self) -> int:
        return self.allocated_cents - self.spent_cents


def burn_down(
    session: Session,
    user: User,
    flt: ReportFilter,
    project_ids: Iterable[int] | None = None,
    today: date | None = None,
) -> list[BurnPoint]:
    """Allocated and spent, cumulated month by month, over the period (or the ledger's life)."""
    entry = LedgerEntry
    month = year_month(entry.created_at)
    rows = session.execute(
        select(month, entry.kind, func.sum(entry.amount_cents))
        .join(BudgetLine, BudgetLine.id == entry.budget_line_id)
        .join(Measure, Measure.id == BudgetLine.measure_id)
        .where(
            Measure.project_id.in_(project_ids_in_scope(user, flt, project_ids)),
            entry.kind.in_((LedgerKind.ALLOCATE, LedgerKind.ADJUST, LedgerKind.SPEND)),
            flt.until_end(entry.created_at),
        )
        .group_by(month, entry.kind)
        .order_by(month)
    ).all()
    if not rows:
        return []
    allocated: dict[date, int] = defaultdict(int)
    spent: dict[date, int] = defaultdict(int)
    for label, kind, amount in rows:
        first = date.fromisoformat(f"{label}-01")
        target = spent if LedgerKind(kind) is LedgerKind.SPEND else allocated
        target[first] += int(amount)
    months = sorted(set(allocated) | set(spent))
    first_month = months[0]
    if flt.date_to is not None:
        last_month = _month_of(flt.date_to)
    else:
        # Up to today: a month with no movement still shows where the budget stands.
        last_month = max(_month_of(today), months[-1]) if today else months[-1]
    shown_from = _month_of(flt.date_from) if flt.date_from else first_month
    points: list[BurnPoint] = []
    running_allocated = running_spent = 0
    current = first_month
    while current <= last_month:
        running_allocated += allocated.get(current, 0)
        running_spent += spent.get(current, 0)
        if current >= shown_from:
            points.append(BurnPoint(current, running_allocated, running_spent))
        current = _next_month(current)
    return points[-MAX_MONTHS:]


def _month_of(day: date) -> date:
    """The first day of ``day``'s month."""
    return day.replace(day=1)


def _next_month(month: date) -> date:
    """The first day of the month after ``month``."""
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)
