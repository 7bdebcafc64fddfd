"""Company HR: confirm or deny declared employment, mark leavers, import a roster, uptake.

awaiting_hr -> confirmed | denied; a confirmed employment may get (or lose) an end date.

HR sees only what the programme needs from an employer: the name, codice fiscale, dates
and status of the people who declared *their* organisation, and aggregate counts of
uptake in which no person can be singled out. Nothing here reads dependants, receipts or
amounts. Every transition is a guarded UPDATE (two HR officers deciding at once cannot
both win), is audited, and an illegal one raises IllegalTransition saying why. Callers
commit.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from flask import current_app
from flask_babel import LazyString, force_locale, format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, and_, case, func, or_, select, update
from sqlalchemy.orm import Session, contains_eager
from sqlalchemy.orm.attributes import set_committed_value

from voucher.crypto import blind_index
from voucher.models import (
    Application,
    ApplicationStatus,
    Employment,
    EmploymentStatus,
    Measure,
    MeasureKind,
    Organisation,
    Partnership,
    Programme,
    Project,
    User,
    Voucher,
)
from voucher.models.base import utcnow
from voucher.services import applications, audit, clock, eligibility, identifiers
from voucher.services.access import visible
from voucher.services.employment import EARLIEST_START
from voucher.services.errors import IllegalTransition, ValidationFailed
from voucher.services.notifications import notify
from voucher.services.reports import ReportFilter
from voucher.services.search import contains
from voucher.services.transitions import move_status, require_status

S = EmploymentStatus

STATUS_LABELS = {
    S.AWAITING_HR: _l("Awaiting confirmation"),
    S.CONFIRMED: _l("Confirmed"),
    S.DENIED: _l("Denied"),
}

MAX_REASON = 500
ROSTER_MAX_BYTES = 1024 * 1024
ROSTER_MAX_ROWS = 5000
# Counts of fewer people than this are not shown: HR could tell who they are.
SMALL_CELL = 5
# The last year an end date can plausibly be in (a typing slip otherwise).
LATEST_YEAR = 2099
ROSTER_DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y")
# Column names accepted in a roster's header (compared lower-cased, spaces as "_").
TAX_CODE_COLUMNS = ("codice_fiscale", "cf", "tax_code")
END_DATE_COLUMNS = ("end_date", "data_fine", "data_cessazione")
# Where a worker reads what HR answered (for notifications).
EMPLOYMENT_LINK = "/worker/employment"


# --- the queue --------------------------------------------------------------------------


def queue(
    session: Session, hr: User, status: EmploymentStatus | None = None, q: str = ""
) -> Select:
    """Declarations to ``hr``'s organisation, awaiting first (oldest first), filtered."""
    # Then the decided ones by name; ``q`` matches names and codici fiscali word by word.
    awaiting = Employment.status == S.AWAITING_HR
    stmt = (
        visible(Employment, hr)
        .join(Employment.worker)
        .options(contains_eager(Employment.worker))
        .order_by(
            case((awaiting, 0), else_=1),
            case((awaiting, Employment.created_at), else_=None),
            User.last_name,
            User.first_name,
            Employment.starts_on.desc(),
            Employment.id,
        )
    )
    if status is not None:
        stmt = stmt.where(Employment.status == status)
    for word in (q or "").split()[:5]:
        # A codice fiscale is stored encrypted: it is found whole (by its blind index),
        # names by any part.
        stmt = stmt.where(
            or_(
                contains(word, User.first_name, User.last_name),
                User.tax_code_index == blind_index(word),
            )
        )
    return stmt


def status_counts(session: Session, hr: User) -> dict[EmploymentStatus, int]:
    """How many declarations to ``hr``'s organisation are in each status."""
    counts = dict(
        session.execute(
            visible(Employment, hr, select(Employment.status, func.count())).group_by(
                Employment.status
            )
        ).all()
    )
    return {status: int(counts.get(status, 0)) for status in S}


# --- decisions --------------------------------------------------------------------------


def confirm(
    session: Session,
    employment: Employment,
    actor: User,
    today: date,
    ends_on: date | None = None,
) -> list[Application]:
    """Confirm a declaration awaiting HR; the applications that waited for it move on."""
    # Returns the applications moved. The view does not tell HR about them: what a person
    # applied for is none of their employer's business.
    require_status(
        employment,
        (S.AWAITING_HR,),
        _l(
            "Only a declaration awaiting confirmation can be confirmed; this one is: %(status)s.",
            status=STATUS_LABELS[employment.status],
        ),
    )
    _check_end(employment, ends_on)
    move_status(
        session,
        employment,
        (S.AWAITING_HR,),
        S.CONFIRMED,
        _l("This declaration has just been decided by someone else."),
    )
    employment.decided_by = actor
    employment.decided_at = utcnow()
    employment.decision_reason = ""
    employment.ends_on = ends_on
    audit.record(
        session,
        "employment.confirm",
        employment,
        actor,
        ends_on=ends_on.isoformat() if ends_on else None,
    )
    organisation = employment.organisation
    notify(
        session,
        employment.worker,
        lambda: _("Your employment has been confirmed"),
        lambda: _(
            "The HR office of %(organisation)s confirmed that you work there. You can now "
            "get the vouchers of the projects it takes part in.",
            organisation=organisation.name,
        ),
        EMPLOYMENT_LINK,
    )
    moved = applications.employment_confirmed(session, employment, today)
    if ends_on is not None and ends_on < today:
        # Confirmed for a job that is over: what waited for it can no longer move on.
        _settle_waiting_applications(
            session,
            employment,
            today,
            lambda: _(
                "Your employment at %(organisation)s ended on %(date)s.",
                organisation=organisation.name,
                date=format_date(ends_on, "long"),
            ),
        )
    return moved


def deny(
    session: Session,
    employment: Employment,
    actor: User,
    reason: str,
    today: date | None = None,
) -> None:
    """Deny a declaration awaiting HR, saying why; the applications that waited are settled."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed.single(
            "reason", _l("Say why you do not confirm: the worker will read it.")
        )
    if len(reason) > MAX_REASON:
        raise ValidationFailed.single(
            "reason", _l("At most %(count)d characters.", count=MAX_REASON)
        )
    require_status(
        employment,
        (S.AWAITING_HR,),
        _l(
            "Only a declaration awaiting confirmation can be denied; this one is: %(status)s.",
            status=STATUS_LABELS[employment.status],
        ),
    )
    move_status(
        session,
        employment,
        (S.AWAITING_HR,),
        S.DENIED,
        _l("This declaration has just been decided by someone else."),
    )
    employment.decided_by = actor
    employment.decided_at = utcnow()
    employment.decision_reason = reason
    audit.record(session, "employment.deny", employment, actor, reason=reason)
    worker, organisation = employment.worker, employment.organisation
    notify(
        session,
        worker,
        lambda: _("Your employment was not confirmed"),
        lambda: _(
            "The HR office of %(organisation)s did not confirm that you work there. "
            "Reason: %(reason)s",
            organisation=organisation.name,
            reason=reason,
        ),
        EMPLOYMENT_LINK,
    )
    _settle_waiting_applications(
        session,
        employment,
        today or clock.today(),
        lambda: _(
            "The HR office of %(organisation)s did not confirm that you work there.",
            organisation=organisation.name,
        ),
    )


def set_end_date(
    session: Session, employment: Employment, actor: User, ends_on: date | None
) -> bool:
    """Record the last day of a confirmed employment (a leaver), or remove it with None."""
    # Vouchers resting on the employment take no new reimbursement requests after that day
    # (claims.voucher_refusal). Returns whether anything changed.
    require_status(
        employment,
        (S.CONFIRMED,),
        _l(
            "Only a confirmed employment can have an end date; this one is: %(status)s.",
            status=STATUS_LABELS[employment.status],
        ),
    )
    _check_end(employment, ends_on)
    previous = employment.ends_on
    if previous == ends_on:
        return False
    result = session.execute(
        update(Employment)
        .where(Employment.id == employment.id, Employment.status == S.CONFIRMED)
        .values(ends_on=ends_on)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise IllegalTransition(_l("This declaration has just been changed by someone else."))
    set_committed_value(employment, "ends_on", ends_on)
    audit.record(
        session,
        "employment.end",
        employment,
        actor,
        ends_on=ends_on.isoformat() if ends_on else None,
        previous=previous.isoformat() if previous else None,
    )
    organisation = employment.organisation
    if ends_on is None:
        notify(
            session,
            employment.worker,
            lambda: _("Your employment has no end date any more"),
            lambda: _(
                "The HR office of %(organisation)s removed the end date of your employment.",
                organisation=organisation.name,
            ),
            EMPLOYMENT_LINK,
        )
    else:
        notify(
            session,
            employment.worker,
            lambda: _("The end of your employment has been recorded"),
            lambda: _(
                "The HR office of %(organisation)s recorded that your employment ends on "
                "%(date)s. Vouchers of that employment take new reimbursement requests up "
                "to that day.",
                organisation=organisation.name,
                date=format_date(ends_on, "long"),
            ),
            EMPLOYMENT_LINK,
        )
    return True


# --- roster import ----------------------------------------------------------------------


@dataclass(frozen=True)
class RosterRow:
    """One employee of the uploaded list: line in the file, codice fiscale, last day."""

    line: int
    tax_code: str
    ends_on: date | None = None


@dataclass(frozen=True)
class RosterError:
    """What is wrong with one line of the file (line 0: the file as a whole)."""

    line: int
    message: Any


@dataclass
class Roster:
    """A parsed roster: its valid rows and the errors found, line by line."""

    rows: list[RosterRow] = field(default_factory=list)
    errors: list[RosterError] = field(default_factory=list)


@dataclass(frozen=True)
class PlanItem:
    """A roster row matched to a declaration, and the end date it carries."""

    line: int
    employment: Employment
    ends_on: date | None = None


@dataclass
class RosterPlan:
    """What applying a roster would change, computed against the database as it is now."""

    confirm: list[PlanItem] = field(default_factory=list)
    leavers: list[PlanItem] = field(default_factory=list)
    unchanged: list[PlanItem] = field(default_factory=list)
    denied: list[PlanItem] = field(default_factory=list)
    unmatched: list[RosterRow] = field(default_factory=list)
    # Confirmed, still employed, and not in the file: shown to HR, never changed.
    absent: list[Employment] = field(default_factory=list)
    errors: list[RosterError] = field(default_factory=list)
    rows: int = 0

    @property
    def changes(self) -> int:
        return len(self.confirm) + len(self.leavers)

    def fingerprint(self) -> list[list[Any]]:
        """The changes as plain data, to check at apply time that they are still the same."""
        return [
            [kind, item.employment.id, item.ends_on.isoformat() if item.ends_on else None]
            for kind, items in (("confirm", self.confirm), ("end", self.leavers))
            for item in items
        ]

    def counts(self) -> dict[str, int]:
        return {
            "rows": self.rows,
            "confirmed": len(self.confirm),
            "leavers": len(self.leavers),
            "unchanged": len(self.unchanged),
            "denied": len(self.denied),
            "unmatched": len(self.unmatched),
            "absent": len(self.absent),
        }


def parse_roster(data: bytes) -> Roster:
    """Read a CSV roster and check every line, collecting errors with their line numbers."""
    # Header row; ";" or "," (whichever the header uses more); UTF-8 with or without BOM.
    if len(data) > ROSTER_MAX_BYTES:
        return _file_error(
            _l(
                "The file is larger than %(size)d MB: split it into smaller files.",
                size=ROSTER_MAX_BYTES // (1024 * 1024),
            )
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return _file_error(
            _l("The file is not UTF-8 text: save it as “CSV UTF-8” and upload it again.")
        )
    lines = text.splitlines()
    header_line = next((line for line in lines if line.strip()), None)
    if header_line is None:
        return _file_error(_l("The file is empty."))
    delimiter = ";" if header_line.count(";") > header_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    roster = Roster()
    try:
        _read_rows(reader, roster)
    except csv.Error:
        return _file_error(_l("This is not a CSV file that can be read: check its format."))
    return roster


def preview(
    session: Session, organisation: Organisation, roster: Roster, today: date
) -> RosterPlan:
    """What applying ``roster`` to ``organisation`` would change; nothing is written."""
    plan = RosterPlan(errors=list(roster.errors), rows=len(roster.rows))
    employments = session.scalars(
        select(Employment)
        .join(Employment.worker)
        .where(Employment.organisation_id == organisation.id)
        .options(contains_eager(Employment.worker))
        .order_by(Employment.starts_on.desc(), Employment.id.desc())
    ).all()
    by_code: dict[str, list[Employment]] = {}
    for employment in employments:
        if employment.worker.tax_code:
            by_code.setdefault(employment.worker.tax_code, []).append(employment)
    for row in roster.rows:
        declarations = by_code.get(row.tax_code, [])
        awaiting = [e for e in declarations if e.status is S.AWAITING_HR]
        confirmed = [e for e in declarations if e.status is S.CONFIRMED]
        if not declarations:
            plan.unmatched.append(row)
        elif awaiting:
            # The row is about the declaration HR has not answered yet, not an older job.
            for employment in awaiting:
                if _end_before_start(plan, row, employment):
                    continue
                plan.confirm.append(PlanItem(row.line, employment, row.ends_on))
        elif confirmed:
            latest = confirmed[0]
            if row.ends_on is None or row.ends_on == latest.ends_on:
                plan.unchanged.append(PlanItem(row.line, latest, latest.ends_on))
            elif not _end_before_start(plan, row, latest):
                plan.leavers.append(PlanItem(row.line, latest, row.ends_on))
        else:
            plan.denied.append(PlanItem(row.line, declarations[0]))
    listed = {row.tax_code for row in roster.rows}
    plan.absent = [
        e
        for e in employments
        if e.status is S.CONFIRMED
        and (e.ends_on is None or e.ends_on >= today)
        and e.worker.tax_code not in listed
    ]
    plan.errors.sort(key=lambda error: error.line)
    return plan


def apply_roster(
    session: Session, organisation: Organisation, plan: RosterPlan, actor: User, today: date
) -> dict[str, int]:
    """Confirm the plan's declarations and record its leavers, all or nothing."""
    # Any refusal raises, and the caller rolls back what was already done.
    if plan.errors:
        raise ValidationFailed.single(
            "file", _l("The file has errors: correct them and upload it again.")
        )
    if plan.changes == 0:
        raise ValidationFailed.single("file", _l("The file changes nothing."))
    for item in (*plan.confirm, *plan.leavers):
        if item.employment.organisation_id != organisation.id:
            raise IllegalTransition(_l("This declaration was not made to your organisation."))
    for item in plan.confirm:
        confirm(session, item.employment, actor, today, item.ends_on)
    for item in plan.leavers:
        set_end_date(session, item.employment, actor, item.ends_on)
    counts = plan.counts()
    audit.record(session, "employment.roster_import", organisation, actor, **counts)
    return counts


# --- uptake -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    """A count of people, or why it is not shown.

    ``few``: fewer than SMALL_CELL people. ``most``: all the employees but fewer than
    SMALL_CELL, which would tell HR about nearly everyone (about everyone, when it is all).
    """

    value: int | None
    few: bool = False
    most: bool = False


@dataclass(frozen=True)
class UptakeRow:
    kind: MeasureKind
    applied: Cell
    with_voucher: Cell


@dataclass(frozen=True)
class Uptake:
    """Aggregate uptake of an organisation's confirmed employees, small cells suppressed."""

    confirmed_employees: int
    applied: Cell
    with_voucher: Cell
    by_kind: list[UptakeRow]


def uptake(session: Session, organisation: Organisation, flt: ReportFilter | None = None) -> Uptake:
    """How many confirmed employees applied and got a voucher, overall and by kind."""
    # Counts the applications that rest on an employment at ``organisation`` HR confirmed;
    # ``flt`` limits them to a programme and to those sent in a period.
    confirmed_ids = select(Employment.id).where(
        Employment.organisation_id == organisation.id, Employment.status == S.CONFIRMED
    )
    employees = int(
        session.scalar(
            select(func.count(func.distinct(Employment.worker_id))).where(
                Employment.organisation_id == organisation.id, Employment.status == S.CONFIRMED
            )
        )
        or 0
    )
    applied = and_(
        Application.employment_id.in_(confirmed_ids),
        Application.status != ApplicationStatus.DRAFT,
    )
    if flt is not None:
        applied = and_(applied, flt.within(Application.submitted_at))
        if flt.programme_id is not None:
            applied = and_(
                applied,
                Application.measure_id.in_(
                    select(Measure.id)
                    .join(Project, Project.id == Measure.project_id)
                    .where(Project.programme_id == flt.programme_id)
                ),
            )
    people = func.count(func.distinct(Application.worker_id))
    total_applied = int(session.scalar(select(people).where(applied)) or 0)
    total_vouchers = int(
        session.scalar(
            select(people).join(Voucher, Voucher.application_id == Application.id).where(applied)
        )
        or 0
    )
    applied_by_kind = dict(
        session.execute(
            select(Measure.kind, people)
            .join(Measure, Measure.id == Application.measure_id)
            .where(applied)
            .group_by(Measure.kind)
        ).all()
    )
    vouchers_by_kind = dict(
        session.execute(
            select(Measure.kind, people)
            .join(Measure, Measure.id == Application.measure_id)
            .join(Voucher, Voucher.application_id == Application.id)
            .where(applied)
            .group_by(Measure.kind)
        ).all()
    )
    # The kinds of measure open to the organisation's staff: public, so listing them
    # (even with nothing to show) tells nothing about anyone.
    offered = set(
        session.scalars(
            select(Measure.kind)
            .distinct()
            .join(Project, Project.id == Measure.project_id)
            .join(Partnership, Partnership.alliance_id == Project.alliance_id)
            .where(Partnership.organisation_id == organisation.id)
        )
    )
    kinds = [
        kind
        for kind in MeasureKind
        if (kind in offered and kind in eligibility.WORKER_KINDS) or kind in applied_by_kind
    ]
    return Uptake(
        confirmed_employees=employees,
        applied=_cell(total_applied, employees),
        with_voucher=_cell(total_vouchers, employees),
        by_kind=[
            UptakeRow(
                kind,
                _cell(int(applied_by_kind.get(kind, 0)), employees),
                _cell(int(vouchers_by_kind.get(kind, 0)), employees),
            )
            for kind in kinds
        ],
    )


def uptake_programmes(session: Session, organisation: Organisation) -> list[Programme]:
    """The programmes of the projects ``organisation`` takes part in (the filter's choices)."""
    return list(
        session.scalars(
            select(Programme)
            .where(
                Programme.id.in_(
                    select(Project.programme_id)
                    .join(Partnership, Partnership.alliance_id == Project.alliance_id)
                    .where(Partnership.organisation_id == organisation.id)
                )
            )
            .order_by(Programme.starts_on.desc(), Programme.name)
        ).all()
    )


# --- internals --------------------------------------------------------------------------


def _cell(count: int, employees: int) -> Cell:
    """``count`` people out of ``employees``, unless it would point at someone."""
    if count < SMALL_CELL:
        return Cell(None, few=True)
    if employees - count < SMALL_CELL:
        return Cell(None, most=True)
    return Cell(count)


def _check_end(employment: Employment, ends_on: date | None) -> None:
    """An end date cannot be before the declared start (nor a typing slip of a year)."""
    if ends_on is None:
        return
    if ends_on < employment.starts_on:
        raise ValidationFailed.single(
            "ends_on",
            _l(
                "The end date cannot be before the start date the worker declared (%(date)s).",
                date=_day(employment.starts_on),
            ),
        )
    if ends_on.year > LATEST_YEAR:
        raise ValidationFailed.single("ends_on", _l("This date is too far ahead: check the year."))


def _day(value: date) -> Any:
    """A date formatted in the reader's locale when the message is shown."""
    return LazyString(format_date, value, "medium")


def _settle_waiting_applications(
    session: Session, employment: Employment, today: date, reason: Callable[[], str]
) -> None:
    """Applications that waited for ``employment``: wait for another employer, or rejected."""
    # Another employer: a declaration still awaiting HR at a partner of the same alliance.
    # ``reason`` is called in the worker's language: it is stored as the decision's reason.
    waiting = session.scalars(
        select(Application)
        .where(
            Application.employment_id == employment.id,
            Application.status == ApplicationStatus.AWAITING_HR,
        )
        .order_by(Application.submitted_at, Application.id)
    ).all()
    if not waiting:
        return
    worker = employment.worker
    with force_locale(worker.locale or current_app.config["BABEL_DEFAULT_LOCALE"]):
        text = str(reason())
    for application in waiting:
        option = eligibility.option_for(session, worker, application.measure, today)
        other = option.employment
        if other is not None and other.id != employment.id and other.status is S.AWAITING_HR:
            application.employment = other
            audit.record(
                session,
                "application.awaiting_hr",
                application,
                None,
                organisation=other.organisation.name,
            )
            continue
        applications.reject(session, application, None, text)


def _file_error(message: Any) -> Roster:
    return Roster(errors=[RosterError(0, message)])


def _column(header: list[str], names: Iterable[str]) -> int | None:
    normalised = ["_".join(h.strip().lower().split()) for h in header]
    return next((normalised.index(n) for n in names if n in normalised), None)


def _read_rows(reader: Any, roster: Roster) -> None:
    """Fill ``roster`` from the CSV ``reader``, one error per problem with its line."""
    header: list[str] | None = None
    tax_col: int | None = None
    end_col: int | None = None
    seen: dict[str, int] = {}
    count = 0
    line = 1
    for record in reader:
        start, line = line, reader.line_num + 1
        if not any(cell.strip() for cell in record):
            continue
        if header is None:
            header = record
            tax_col = _column(header, TAX_CODE_COLUMNS)
            end_col = _column(header, END_DATE_COLUMNS)
            if tax_col is None:
                roster.errors.append(
                    RosterError(
                        start,
                        _l(
                            "The first line must name the columns: codice_fiscale and, "
                            "if you have it, end_date."
                        ),
                    )
                )
                return
            continue
        count += 1
        if count > ROSTER_MAX_ROWS:
            roster.errors.append(
                RosterError(
                    0,
                    _l(
                        "The file has more than %(count)d employees: split it into smaller files.",
                        count=ROSTER_MAX_ROWS,
                    ),
                )
            )
            return
        _read_row(record, start, tax_col, end_col, seen, roster)
    if header is None:
        roster.errors.append(RosterError(0, _l("The file is empty.")))
    elif count == 0:
        roster.errors.append(RosterError(0, _l("The file lists no employees.")))


def _read_row(
    record: list[str],
    line: int,
    tax_col: int | None,
    end_col: int | None,
    seen: dict[str, int],
    roster: Roster,
) -> None:
    """Check one data line and add it to ``roster`` as a row or as errors."""
    raw_code = record[tax_col].strip() if tax_col is not None and tax_col < len(record) else ""
    raw_end = record[end_col].strip() if end_col is not None and end_col < len(record) else ""
    problems: list[Any] = []
    code = None
    if not raw_code:
        problems.append(_l("The codice fiscale is missing."))
    else:
        try:
            code = identifiers.person_tax_code(raw_code)
        except ValidationFailed as exc:
            problems.extend(m for ms in exc.errors.values() for m in ms)
    if code is not None and code in seen:
        problems.append(_l("This codice fiscale is already on line %(line)d.", line=seen[code]))
    ends_on = None
    if raw_end:
        ends_on = _parse_date(raw_end)
        if ends_on is None:
            problems.append(
                _l(
                    "“%(value)s” is not a date: write it as 2025-06-30 or 30/06/2025.",
                    value=raw_end[:20],
                )
            )
        elif not EARLIEST_START <= ends_on <= date(LATEST_YEAR, 12, 31):
            problems.append(
                _l("The end date %(value)s is not plausible: check the year.", value=raw_end[:20])
            )
            ends_on = None
    if code is not None and code not in seen:
        seen[code] = line
    if problems:
        roster.errors.extend(RosterError(line, message) for message in problems)
    elif code is not None:
        roster.rows.append(RosterRow(line, code, ends_on))


def _parse_date(value: str) -> date | None:
    for pattern in ROSTER_DATE_FORMATS:
        try:
            return datetime.strptime(value, pattern).date()
        except ValueError:
            continue
    return None


def _end_before_start(plan: RosterPlan, row: RosterRow, employment: Employment) -> bool:
    """Record an error if the row's end date is before the declaration's start."""
    if row.ends_on is not None and row.ends_on < employment.starts_on:
        plan.errors.append(
            RosterError(
                row.line,
                _l(
                    "The end date is before the start date the worker declared (%(date)s).",
                    date=_day(employment.starts_on),
                ),
            )
        )
        return True
    return False
