"""Which measures a worker may apply to today, how much they may ask, and why not the others.

Everything is computed in a fixed number of queries whatever the number of measures: the
measures with their project, alliance and budget line; what is left on each project; the
worker's employments; which alliances their employers are partners of; and what the worker
has already received this year under each measure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask_babel import format_date
from flask_babel import gettext as _
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, aliased, contains_eager, joinedload

from voucher.i18n import format_money
from voucher.models import (
    BudgetLine,
    Eligibility,
    Employment,
    EmploymentStatus,
    Measure,
    MeasureKind,
    Partnership,
    Project,
    User,
    Voucher,
    VoucherStatus,
)
from voucher.services import clock
from voucher.services.errors import ValidationFailed

# Measures a worker applies to; the others (consulting to companies, orientation desks)
# are services of the alliance that no voucher is granted for.
WORKER_KINDS = frozenset(MeasureKind) - {MeasureKind.WELFARE_CONSULTING, MeasureKind.ORIENTATION}


@dataclass
class MeasureOption:
    """A measure as seen by one worker today: can they use it, why not, and how much."""

    measure: Measure
    eligible: bool = True
    # Why the worker cannot use the measure now (empty when eligible).
    reasons: list[str] = field(default_factory=list)
    # What the worker should know although they can apply (HR pending, waiting list…).
    notices: list[str] = field(default_factory=list)
    waitlist: bool = False
    measure_left_cents: int = 0
    project_left_cents: int = 0
    used_this_year_cents: int = 0
    max_request_cents: int = 0
    employment: Employment | None = None

    @property
    def awaiting_hr(self) -> bool:
        """The application would wait for HR to confirm the employment."""
        return (
            self.employment is not None and self.employment.status is EmploymentStatus.AWAITING_HR
        )

    @property
    def municipalities(self) -> list[str]:
        """The municipalities whose residents may apply (residence measures only)."""
        return residence_municipalities(self.measure)


def residence_municipalities(measure: Measure) -> list[str]:
    """The municipalities of a measure's residence area, as the operator wrote them."""
    return [name.strip() for name in (measure.residence_area or "").split(",") if name.strip()]


def lives_in_area(measure: Measure, municipality: str | None) -> bool:
    """Whether ``municipality`` is one of the measure's residence area (case-insensitive)."""
    wanted = " ".join((municipality or "").split()).casefold()
    return bool(wanted) and wanted in {
        " ".join(m.split()).casefold() for m in residence_municipalities(measure)
    }


def measures_for(session: Session, worker: User, today: date | None = None) -> list[MeasureOption]:
    """Every measure of a running project that workers apply to, usable ones first."""
    today = today or clock.today()
    stmt = (
        _with_project(select(Measure))
        .where(
            Project.starts_on <= today,
            Project.ends_on >= today,
            Measure.kind.in_(sorted(WORKER_KINDS)),
        )
        .order_by(Measure.closes_on, Measure.title, Measure.id)
    )
    options = _options(session, worker, stmt, today)
    # sorted() is stable: within each group the measures closing soonest come first.
    return sorted(options, key=lambda o: not o.eligible)


def check_can_apply(
    session: Session, worker: User, measure: Measure, today: date | None = None
) -> MeasureOption:
    """The worker's option on ``measure``, or ValidationFailed with the reasons they cannot."""
    option = option_for(session, worker, measure, today)
    if not option.eligible:
        raise ValidationFailed({"": list(option.reasons)})
    return option


def option_for(
    session: Session, worker: User, measure: Measure, today: date | None = None
) -> MeasureOption:
    """The worker's option on one measure, eligible or not."""
    stmt = _with_project(select(Measure)).where(Measure.id == measure.id)
    return _options(session, worker, stmt, today or clock.today())[0]


def _with_project(stmt: Any) -> Any:
    """Measures with their project, alliance and budget line, in the same query."""
    return stmt.join(Measure.project).options(
        contains_eager(Measure.project).joinedload(Project.alliance),
        joinedload(Measure.budget_line),
    )


def has_declared_employment(session: Session, worker: User) -> bool:
    """Whether the worker has declared any employer at all."""
    return bool(
        session.scalar(select(func.count(Employment.id)).where(Employment.worker_id == worker.id))
    )


def used_this_year(
    session: Session, worker: User, measure_ids: Sequence[int], today: date
) -> dict[int, int]:
    """Per measure, what the worker was granted this calendar year (one query).

    A revoked voucher counts only for what was used of it (and what bookings still hold on
    it): the rest went back to the budget.
    """
    if not measure_ids:
        return {}
    rows = session.execute(
        select(Voucher.measure_id, func.coalesce(func.sum(_granted()), 0))
        .where(
            Voucher.worker_id == worker.id,
            Voucher.measure_id.in_(list(measure_ids)),
            Voucher.valid_from >= date(today.year, 1, 1),
            Voucher.valid_from <= date(today.year, 12, 31),
        )
        .group_by(Voucher.measure_id)
    ).all()
    return {measure_id: int(total) for measure_id, total in rows}


def _granted() -> Any:
    """What a voucher counts for in the yearly cap: its amount, or for a revoked one what was
    used of it (and what bookings still hold on it): the rest went back to the budget."""
    return case(
        (Voucher.status == VoucherStatus.REVOKED, Voucher.used_cents + Voucher.held_cents),
        else_=Voucher.amount_cents,
    )


# --- internals --------------------------------------------------------------------------


def _facts(worker: User, today: date) -> list[Any]:
    """Columns computed alongside each measure, so eligibility is one query whatever the
    number of measures: what is left on its project, what the worker was granted under it
    this year, and for each of the worker's employers whether it is a partner of the
    measure's alliance. The worker's employments come with the user (``load_user``)."""
    others = aliased(Measure)
    left = BudgetLine.allocated_cents - BudgetLine.reserved_cents - BudgetLine.spent_cents
    project_left = (
        select(func.coalesce(func.sum(left), 0))
        .select_from(others)
        .join(BudgetLine, BudgetLine.measure_id == others.id)
        .where(others.project_id == Measure.project_id)
        .correlate(Measure)
        .scalar_subquery()
    )
    used = (
        select(func.coalesce(func.sum(_granted()), 0))
        .where(
            Voucher.worker_id == worker.id,
            Voucher.measure_id == Measure.id,
            Voucher.valid_from >= date(today.year, 1, 1),
            Voucher.valid_from <= date(today.year, 12, 31),
        )
        .correlate(Measure)
        .scalar_subquery()
    )
    partners = [
        select(Partnership.alliance_id)
        .where(
            Partnership.alliance_id == Project.alliance_id,
            Partnership.organisation_id == org_id,
        )
        .correlate(Project)
        .exists()
        for org_id in _employer_ids(worker)
    ]
    return [project_left, used, *partners]


def _employer_ids(worker: User) -> list[int]:
    return sorted({e.organisation_id for e in worker.employments})


def _options(session: Session, worker: User, stmt: Any, today: date) -> list[MeasureOption]:
    """The options of the measures ``stmt`` selects (joined to their project)."""
    org_ids = _employer_ids(worker)
    # Latest first, as loaded; one declared a moment ago was appended at the end.
    employments = sorted(worker.employments, key=lambda e: (-e.starts_on.toordinal(), e.id or 0))
    options = []
    for measure, project_left, used, *flags in session.execute(
        stmt.add_columns(*_facts(worker, today))
    ).all():
        partners = {
            (measure.project.alliance_id, org_id)
            for org_id, flag in zip(org_ids, flags, strict=True)
            if flag
        }
        options.append(
            _option(
                measure, today, int(project_left), employments, partners, {measure.id: int(used)}
            )
        )
    return options


def _option(
    measure: Measure,
    today: date,
    project_left_cents: int,
    employments: Sequence[Employment],
    partners: set[tuple[int, int]],
    used: dict[int, int],
) -> MeasureOption:
    line = measure.budget_line
    option = MeasureOption(
        measure=measure,
        measure_left_cents=line.available_cents if line is not None else 0,
        project_left_cents=project_left_cents,
        used_this_year_cents=used.get(measure.id, 0),
    )
    reasons, notices = option.reasons, option.notices
    if measure.kind not in WORKER_KINDS:
        reasons.append(_("This measure is a service for organisations: workers do not apply."))
    if today < measure.opens_on:
        reasons.append(
            _("Applications open on %(date)s.", date=format_date(measure.opens_on, "long"))
        )
    elif today > measure.closes_on:
        reasons.append(
            _("Applications closed on %(date)s.", date=format_date(measure.closes_on, "long"))
        )
    if measure.eligibility is Eligibility.RESIDENTS:
        notices.append(
            _(
                "Open to people who live in %(places)s: you will be asked where you live.",
                places=", ".join(residence_municipalities(measure)),
            )
        )
    else:
        _employment_rule(option, today, employments, partners)
    cap = measure.cap_per_voucher_cents
    yearly = measure.cap_per_worker_year_cents
    option.max_request_cents = (
        cap if yearly is None else min(cap, yearly - option.used_this_year_cents)
    )
    if option.max_request_cents <= 0:
        option.max_request_cents = 0
        reasons.append(
            _(
                "You have already received %(amount)s this year: the most this measure gives "
                "one person in a year.",
                amount=format_money(option.used_this_year_cents),
            )
        )
    option.eligible = not reasons
    if option.eligible and option.measure_left_cents <= 0:
        option.waitlist = True
        notices.append(
            _(
                "The budget of this measure is used up for now: you can still apply, and your "
                "application will go on the waiting list."
            )
        )
    return option


def _employment_rule(
    option: MeasureOption,
    today: date,
    employments: Sequence[Employment],
    partners: set[tuple[int, int]],
) -> None:
    """Find the employment the measure can rest on, or say why there is none."""
    alliance = option.measure.project.alliance
    at_partner = [e for e in employments if (alliance.id, e.organisation_id) in partners]
    current = [
        e for e in at_partner if e.starts_on <= today and (e.ends_on is None or e.ends_on >= today)
    ]
    confirmed = [e for e in current if e.status is EmploymentStatus.CONFIRMED]
    awaiting = [e for e in current if e.status is EmploymentStatus.AWAITING_HR]
    denied = [e for e in current if e.status is EmploymentStatus.DENIED]
    if confirmed:
        option.employment = confirmed[0]
    elif awaiting:
        option.employment = awaiting[0]
        option.notices.append(
            _(
                "The HR office of %(organisation)s has not yet confirmed that you work there. "
                "You can apply now: your application will wait for their confirmation.",
                organisation=awaiting[0].organisation.name,
            )
        )
    elif not employments:
        option.reasons.append(
            _(
                "This measure is for people who work at a partner of %(alliance)s. "
                "Declare where you work first.",
                alliance=alliance.name,
            )
        )
    elif not at_partner:
        option.reasons.append(
            _(
                "This measure is for people who work at a partner of %(alliance)s, "
                "and the employer you declared is not one of them.",
                alliance=alliance.name,
            )
        )
    elif denied:
        option.reasons.append(
            _(
                "The HR office of %(organisation)s did not confirm that you work there.",
                organisation=denied[0].organisation.name,
            )
        )
    else:
        latest = at_partner[0]
        if latest.starts_on > today:
            option.reasons.append(
                _(
                    "Your employment at %(organisation)s starts on %(date)s.",
                    organisation=latest.organisation.name,
                    date=format_date(latest.starts_on, "long"),
                )
            )
        else:
            option.reasons.append(
                _(
                    "Your employment at %(organisation)s ended on %(date)s.",
                    organisation=latest.organisation.name,
                    date=format_date(latest.ends_on, "long"),
                )
            )
