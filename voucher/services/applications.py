"""Applications (domande di voucher): the worker's draft and submission, the decisions.

draft -> submitted -> (awaiting_hr) -> approved | rejected | waitlisted;
draft / submitted / awaiting_hr / waitlisted -> withdrawn.

Every transition is a guarded UPDATE on the application's status (so two concurrent
decisions cannot both apply), is recorded in the audit trail, and an illegal one raises
IllegalTransition saying why. Callers commit; on Conflict from ``approve`` they must
commit too, because the application has been put on the waiting list.
"""

from __future__ import annotations

from datetime import date

from flask_babel import format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from voucher.i18n import format_money
from voucher.models import (
    Allocation,
    Application,
    ApplicationStatus,
    AuditEvent,
    Dependant,
    DependantKind,
    Eligibility,
    Employment,
    EmploymentStatus,
    Measure,
    MeasureKind,
    User,
    Voucher,
)
from voucher.models.base import utcnow
from voucher.services import audit, budget, clock, eligibility
from voucher.services.errors import Conflict, IllegalTransition, ValidationFailed
from voucher.services.notifications import notify
from voucher.services.transitions import move_status, require_status

S = ApplicationStatus

STATUS_LABELS = {
    S.DRAFT: _l("Draft, not sent yet"),
    S.SUBMITTED: _l("Sent, being reviewed"),
    S.AWAITING_HR: _l("Waiting for your employer's confirmation"),
    S.APPROVED: _l("Approved"),
    S.REJECTED: _l("Not approved"),
    S.WAITLISTED: _l("On the waiting list"),
    S.WITHDRAWN: _l("Withdrawn"),
}

# Applications still in progress: a worker may have one per measure and family member.
OPEN_STATUSES = (S.DRAFT, S.SUBMITTED, S.AWAITING_HR, S.WAITLISTED)
WITHDRAWABLE = (S.DRAFT, S.SUBMITTED, S.AWAITING_HR, S.WAITLISTED)
APPROVABLE = (S.SUBMITTED, S.WAITLISTED)
REJECTABLE = (S.SUBMITTED, S.AWAITING_HR, S.WAITLISTED)

# Which family member each kind of measure is for (None: the dependant is optional).
CHILD_MEASURES = frozenset(
    {MeasureKind.CHILDCARE, MeasureKind.AFTER_SCHOOL, MeasureKind.SUMMER_CAMP}
)
CARE_MEASURES = frozenset({MeasureKind.HOME_CARE, MeasureKind.HOSPITAL_ASSISTANCE})
MAX_NOTES = 2000


def suits(measure: Measure, dependant: Dependant) -> bool:
    """Whether the service of ``measure`` can be for ``dependant``."""
    if measure.kind in CHILD_MEASURES:
        return dependant.kind is DependantKind.CHILD
    if measure.kind in CARE_MEASURES:
        return dependant.kind in (
            DependantKind.ELDERLY_RELATIVE,
            DependantKind.DISABLED_RELATIVE,
        ) or bool(dependant.has_disability)
    return True


def dependant_required(measure: Measure) -> bool:
    """Whether an application under ``measure`` must name a family member."""
    return measure.kind in CHILD_MEASURES or measure.kind in CARE_MEASURES


def suitable_dependants(session: Session, worker: User, measure: Measure) -> list[Dependant]:
    """The worker's family members the measure's service can be for (loaded with the
    worker, see ``load_user``)."""
    dependants = sorted(worker.dependants, key=lambda d: (d.first_name, d.id or 0))
    return [d for d in dependants if suits(measure, d)]


# --- the worker's side ------------------------------------------------------------------


def start(
    session: Session,
    worker: User,
    measure: Measure,
    *,
    dependant: Dependant | None,
    amount_requested_cents: int | None,
    notes: str = "",
    municipality: str | None = None,
    today: date | None = None,
) -> Application:
    """Create a draft application after checking the worker may apply and the answers."""
    today = today or clock.today()
    option = eligibility.check_can_apply(session, worker, measure, today)
    notes = (notes or "").strip()
    _validate(
        session, worker, measure, option, dependant, amount_requested_cents, notes, municipality
    )
    application = Application(
        worker=worker,
        measure=measure,
        dependant=dependant,
        employment=option.employment,
        amount_requested_cents=amount_requested_cents,
        notes=notes,
        municipality=_residence(measure, municipality).get("municipality", ""),
        status=S.DRAFT,
    )
    session.add(application)
    audit.record(
        session,
        "application.start",
        application,
        worker,
        amount_cents=amount_requested_cents,
        **_residence(measure, municipality),
    )
    return application


def update_draft(
    session: Session,
    application: Application,
    actor: User,
    *,
    dependant: Dependant | None,
    amount_requested_cents: int | None,
    notes: str = "",
    municipality: str | None = None,
    today: date | None = None,
) -> Application:
    """Change the answers of a draft, with the same checks as when it was started."""
    if application.status is not S.DRAFT:
        raise IllegalTransition(
            _l(
                "Only a draft can be changed; this application is: %(status)s.",
                status=STATUS_LABELS[application.status],
            )
        )
    today = today or clock.today()
    worker, measure = application.worker, application.measure
    option = eligibility.check_can_apply(session, worker, measure, today)
    notes = (notes or "").strip()
    _validate(
        session,
        worker,
        measure,
        option,
        dependant,
        amount_requested_cents,
        notes,
        municipality,
        exclude=application,
    )
    application.dependant = dependant
    application.amount_requested_cents = amount_requested_cents
    application.notes = notes
    application.municipality = _residence(measure, municipality).get("municipality", "")
    application.employment = option.employment
    audit.record(
        session,
        "application.update",
        application,
        actor,
        amount_cents=amount_requested_cents,
        **_residence(measure, municipality),
    )
    return application


def submit(
    session: Session, application: Application, actor: User, today: date | None = None
) -> Application:
    """Send a draft: to review, or to wait for HR; first-come measures decide at once."""
    require_status(application, (S.DRAFT,), _l("Only a draft can be sent."))
    today = today or clock.today()
    worker, measure = application.worker, application.measure
    option = eligibility.check_can_apply(session, worker, measure, today)
    _validate(
        session,
        worker,
        measure,
        option,
        application.dependant,
        application.amount_requested_cents,
        application.notes,
        declared_municipality(session, application),
        exclude=application,
    )
    awaiting = measure.eligibility is not Eligibility.RESIDENTS and option.awaiting_hr
    target = S.AWAITING_HR if awaiting else S.SUBMITTED
    move_status(session, application, (S.DRAFT,), target, _l("Only a draft can be sent."))
    application.employment = option.employment
    application.submitted_at = utcnow()
    audit.record(session, "application.submit", application, actor)
    if awaiting:
        audit.record(
            session,
            "application.awaiting_hr",
            application,
            actor,
            organisation=option.employment.organisation.name if option.employment else "",
        )
    elif measure.allocation is Allocation.FIRST_COME:
        _decide_first_come(session, application, today)
    return application


def withdraw(session: Session, application: Application, actor: User) -> Application:
    """Take back an application that has not been decided (a draft is simply dropped)."""
    message = _l(
        "This application can no longer be withdrawn: it is %(status)s.",
        status=_lower(application.status),
    )
    require_status(application, WITHDRAWABLE, message)
    move_status(session, application, WITHDRAWABLE, S.WITHDRAWN, message)
    audit.record(session, "application.withdraw", application, actor)
    return application


# --- decisions (operators, or the system for first-come measures) -----------------------


def approve(
    session: Session,
    application: Application,
    actor: User | None,
    amount_cents: int | None = None,
    today: date | None = None,
) -> Voucher:
    """Grant a voucher: reserve the amount on the budget line, or waitlist and raise Conflict."""
    require_status(
        application,
        APPROVABLE,
        _l(
            "Only a sent or waitlisted application can be approved; this one is: %(status)s.",
            status=STATUS_LABELS[application.status],
        ),
    )
    today = today or clock.today()
    measure, worker = application.measure, application.worker
    amount = application.amount_requested_cents if amount_cents is None else amount_cents
    if not isinstance(amount, int) or amount <= 0:
        raise ValidationFailed.single("amount_cents", _l("The amount must be greater than zero."))
    if amount > application.amount_requested_cents:
        raise ValidationFailed.single(
            "amount_cents",
            _l(
                "The amount cannot exceed what was requested (%(amount)s).",
                amount=format_money(application.amount_requested_cents),
            ),
        )
    option = eligibility.option_for(session, worker, measure, today)
    if measure.eligibility is Eligibility.RESIDENTS:
        if not eligibility.lives_in_area(measure, declared_municipality(session, application)):
            raise ValidationFailed.single(
                "", _l("The worker does not live in the area of this measure.")
            )
    elif option.employment is None or option.employment.status is not EmploymentStatus.CONFIRMED:
        raise ValidationFailed.single(
            "",
            _l(
                "A voucher needs an employment at a partner of the alliance confirmed by HR, "
                "and this worker has none."
            ),
        )
    yearly = measure.cap_per_worker_year_cents
    if yearly is not None and option.used_this_year_cents + amount > yearly:
        raise ValidationFailed.single(
            "amount_cents",
            _l(
                "With this voucher the worker would exceed the yearly cap: at most %(amount)s "
                "can still be granted this year.",
                amount=format_money(max(0, yearly - option.used_this_year_cents)),
            ),
        )
    project = measure.project
    if today > project.ends_on:
        raise ValidationFailed.single("", _l("The project has ended: no voucher can be granted."))
    line = measure.budget_line
    try:
        if line is None:
            raise Conflict(_l("The budget of this measure is exhausted."))
        budget.reserve(session, line.id, amount, actor, ("application", application.id))
    except Conflict:
        if application.status is not S.WAITLISTED:
            _waitlist(session, application, actor, str(_l("The budget is used up.")))
        raise Conflict(
            _l(
                "The budget of this measure does not have %(amount)s left: the application "
                "is on the waiting list.",
                amount=format_money(amount),
            )
        ) from None
    move_status(
        session,
        application,
        APPROVABLE,
        S.APPROVED,
        _l("This application has just been decided by someone else."),
    )
    application.employment = option.employment or application.employment
    application.decided_at = utcnow()
    application.decided_by = actor
    application.decision_reason = ""
    voucher = Voucher(
        application=application,
        worker=worker,
        measure=measure,
        budget_line_id=line.id,
        amount_cents=amount,
        valid_from=today,
        valid_until=project.ends_on,
    )
    session.add(voucher)
    audit.record(
        session,
        "application.approve",
        application,
        actor,
        amount_cents=amount,
        requested_cents=application.amount_requested_cents,
    )
    notify(
        session,
        worker,
        lambda: _("Your voucher is ready"),
        lambda: _(
            "Your application for “%(measure)s” has been approved: a voucher of %(amount)s, "
            "valid until %(date)s.",
            measure=measure.title,
            amount=format_money(amount),
            date=format_date(voucher.valid_until, "long"),
        ),
        status_link(application),
    )
    return voucher


def reject(session: Session, application: Application, actor: User | None, reason: str) -> None:
    """Refuse an application, saying why; the worker is told."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed.single("reason", _l("Say why the application is not approved."))
    if len(reason) > 500:
        raise ValidationFailed.single("reason", _l("At most 500 characters."))
    message = _l(
        "Only an undecided application can be rejected; this one is: %(status)s.",
        status=STATUS_LABELS[application.status],
    )
    require_status(application, REJECTABLE, message)
    move_status(session, application, REJECTABLE, S.REJECTED, message)
    application.decided_at = utcnow()
    application.decided_by = actor
    application.decision_reason = reason
    audit.record(session, "application.reject", application, actor, reason=reason)
    measure = application.measure
    notify(
        session,
        application.worker,
        lambda: _("Your application was not approved"),
        lambda: _(
            "Your application for “%(measure)s” was not approved. Reason: %(reason)s",
            measure=measure.title,
            reason=reason,
        ),
        status_link(application),
    )


def waitlist(
    session: Session, application: Application, actor: User | None, reason: str = ""
) -> None:
    """Put a sent application on the waiting list; the worker is told."""
    require_status(
        application,
        (S.SUBMITTED,),
        _l(
            "Only a sent application can be put on the waiting list; this one is: %(status)s.",
            status=STATUS_LABELS[application.status],
        ),
    )
    _waitlist(session, application, actor, (reason or "").strip()[:500])


def employment_confirmed(
    session: Session, employment: Employment, today: date | None = None
) -> list[Application]:
    """After HR confirms ``employment``, send on the worker's applications that waited for it."""
    if employment.status is not EmploymentStatus.CONFIRMED:
        return []
    today = today or clock.today()
    waiting = session.scalars(
        select(Application)
        .where(
            Application.worker_id == employment.worker_id,
            Application.status == S.AWAITING_HR,
        )
        .order_by(Application.submitted_at, Application.id)
    ).all()
    moved = []
    for application in waiting:
        option = eligibility.option_for(session, application.worker, application.measure, today)
        if option.employment is None or option.employment.status is not EmploymentStatus.CONFIRMED:
            continue  # it rests on another employer, still unconfirmed
        move_status(session, application, (S.AWAITING_HR,), S.SUBMITTED, _l("Already moved on."))
        application.employment = option.employment
        audit.record(
            session,
            "application.employment_confirmed",
            application,
            None,
            organisation=option.employment.organisation.name,
        )
        if application.measure.allocation is Allocation.FIRST_COME:
            _decide_first_come(session, application, today)
        moved.append(application)
    return moved


# --- reading ----------------------------------------------------------------------------


def timeline(session: Session, application: Application) -> list[AuditEvent]:
    """What happened to the application, oldest first, from the audit trail."""
    return list(
        session.scalars(
            select(AuditEvent)
            .where(
                AuditEvent.entity_type == Application.__tablename__,
                AuditEvent.entity_id == application.id,
                AuditEvent.action.like("application.%"),
            )
            .order_by(AuditEvent.occurred_at, AuditEvent.id)
        ).all()
    )


def declared_municipality(session: Session, application: Application) -> str | None:
    """Where the worker declared they live, for a residence measure."""
    return application.municipality or None


def status_link(application: Application) -> str:
    """The path of the worker's status page of ``application`` (for notifications)."""
    return f"/worker/applications/{application.id}"


# --- internals --------------------------------------------------------------------------


def _lower(status: ApplicationStatus) -> str:
    return str(STATUS_LABELS[status]).lower()


def _residence(measure: Measure, municipality: str | None) -> dict[str, str]:
    """Audit details holding the declared residence (only for residence measures)."""
    if measure.eligibility is not Eligibility.RESIDENTS:
        return {}
    return {"municipality": " ".join((municipality or "").split())}


def _validate(
    session: Session,
    worker: User,
    measure: Measure,
    option: eligibility.MeasureOption,
    dependant: Dependant | None,
    amount: int | None,
    notes: str,
    municipality: str | None,
    exclude: Application | None = None,
) -> None:
    """Check the answers of an application; raise ValidationFailed listing every problem."""
    errors: dict[str, list[object]] = {}

    def add(field: str, message: object) -> None:
        errors.setdefault(field, []).append(message)

    if not isinstance(amount, int) or amount <= 0:
        add("amount_requested_cents", _l("Enter an amount greater than zero."))
    elif amount > option.max_request_cents:
        add(
            "amount_requested_cents",
            _l(
                "You can ask for at most %(amount)s.", amount=format_money(option.max_request_cents)
            ),
        )
    if dependant is not None and dependant.worker_id != worker.id:
        add("dependant", _l("Choose one of your family members."))
    elif dependant is None and dependant_required(measure):
        add(
            "dependant",
            _l("Choose the child the service is for.")
            if measure.kind in CHILD_MEASURES
            else _l("Choose the relative the service is for."),
        )
    elif dependant is not None and not suits(measure, dependant):
        add(
            "dependant",
            _l("This measure is for children.")
            if measure.kind in CHILD_MEASURES
            else _l("This measure is for elderly or disabled relatives."),
        )
    if len(notes) > MAX_NOTES:
        add("notes", _l("At most %(count)d characters.", count=MAX_NOTES))
    if measure.eligibility is Eligibility.RESIDENTS:
        if not (municipality or "").strip():
            add("municipality", _l("Say where you live."))
        elif not eligibility.lives_in_area(measure, municipality):
            add(
                "municipality",
                _l(
                    "This measure is only for people who live in %(places)s.",
                    places=", ".join(eligibility.residence_municipalities(measure)),
                ),
            )
    if not errors:
        stmt = select(Application.id).where(
            Application.worker_id == worker.id,
            Application.measure_id == measure.id,
            Application.status.in_(OPEN_STATUSES),
            Application.dependant_id.is_(None)
            if dependant is None
            else Application.dependant_id == dependant.id,
        )
        if exclude is not None and exclude.id is not None:
            stmt = stmt.where(Application.id != exclude.id)
        if session.scalar(stmt.limit(1)) is not None:
            add(
                "",
                _l(
                    "You already have an application in progress for this measure "
                    "and this family member."
                )
                if dependant is not None
                else _l("You already have an application in progress for this measure."),
            )
    if errors:
        raise ValidationFailed(errors)


def _waitlist(session: Session, application: Application, actor: User | None, reason: str) -> None:
    """Move a sent application to the waiting list, record it and tell the worker."""
    move_status(
        session,
        application,
        (S.SUBMITTED,),
        S.WAITLISTED,
        _l("Only a sent application can be put on the waiting list."),
    )
    application.decided_at = utcnow()
    application.decided_by = actor
    application.decision_reason = reason
    audit.record(session, "application.waitlist", application, actor, reason=reason)
    measure = application.measure
    notify(
        session,
        application.worker,
        lambda: _("Your application is on the waiting list"),
        lambda: _(
            "The budget of “%(measure)s” is used up for now, so your application is on the "
            "waiting list. We will tell you if it can be approved.",
            measure=measure.title,
        ),
        status_link(application),
    )


def _decide_first_come(session: Session, application: Application, today: date) -> None:
    """First come, first served: approve while the budget lasts, else the waiting list."""
    try:
        approve(session, application, None, today=today)
    except Conflict:
        pass  # approve() has put it on the waiting list and told the worker
    except ValidationFailed:
        pass  # a rule needs a person's look (e.g. the project ended): an operator decides
