"""Operator area: the application queue, one application's page, and the decisions.

Applications load only through the access rules (``get_visible_or_404``), so another
alliance's application answers 404, for reading and for deciding alike. Network officers
reuse the queue and the page read-only (``read_only``: no decision form is rendered), from
their own blueprint; the decision endpoints here let in operators only.

A decision that comes too late (someone decided first, or the status no longer allows it)
answers 409 with the application's page and the reason, and writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import selectinload

from voucher.blueprints.admin.forms import ROLE_LABELS
from voucher.blueprints.common import apply_errors, current_actor, get_visible_or_404, role_required
from voucher.blueprints.operator import bp, forms
from voucher.blueprints.operator.measures import approved_from_waitlist
from voucher.blueprints.worker.family import KIND_LABELS
from voucher.extensions import db
from voucher.i18n import format_money
from voucher.models import (
    Application,
    ApplicationStatus,
    AuditEvent,
    DependantKind,
    Eligibility,
    EmploymentStatus,
    Measure,
    Project,
    Role,
    User,
    Voucher,
    VoucherStatus,
)
from voucher.services import applications, audit, clock, eligibility, expiry
from voucher.services.access import visible
from voucher.services.errors import Conflict, IllegalTransition, ValidationFailed

S = ApplicationStatus
PER_PAGE = 50
# What the queue shows unless asked otherwise: everything an operator (or HR) still acts on.
OPEN_QUEUE = (S.SUBMITTED, S.WAITLISTED, S.AWAITING_HR)
# Drafts are the worker's own working copies: nobody else sees them.
SEEN = tuple(s for s in ApplicationStatus if s is not S.DRAFT)

STATUS_LABELS = {
    S.DRAFT: _l("Draft"),
    S.SUBMITTED: _l("To decide"),
    S.AWAITING_HR: _l("Waiting for HR"),
    S.WAITLISTED: _l("On the waiting list"),
    S.APPROVED: _l("Approved"),
    S.REJECTED: _l("Rejected"),
    S.WITHDRAWN: _l("Withdrawn"),
}
VOUCHER_LABELS = {
    VoucherStatus.ACTIVE: _l("Active"),
    VoucherStatus.EXHAUSTED: _l("Used up"),
    VoucherStatus.EXPIRED: _l("Expired"),
    VoucherStatus.REVOKED: _l("Revoked"),
}
EMPLOYMENT_LABELS = {
    EmploymentStatus.AWAITING_HR: _l("waiting for HR's confirmation"),
    EmploymentStatus.CONFIRMED: _l("confirmed by HR"),
    EmploymentStatus.DENIED: _l("denied by HR"),
}


# --- shared with the network officers' read-only pages ----------------------------------


def load(application_id: int) -> Application:
    """An application the current user may see (never a draft), or 404."""
    application = get_visible_or_404(Application, application_id)
    if application.status is S.DRAFT:
        abort(404)
    return application


def queue(area: str, read_only: bool) -> str:
    """The queue page: oldest sent first, filtered by measure and status, 50 a page."""
    measures = db.session.scalars(
        visible(Measure, current_user)
        .join(Measure.project)
        .options(selectinload(Measure.project))
        .order_by(Project.title, Measure.title, Measure.id)
    ).all()
    measure_id = request.args.get("measure", type=int)
    if measure_id not in {m.id for m in measures}:
        measure_id = None
    status = request.args.get("status", "")
    if status == "all":
        statuses: tuple[ApplicationStatus, ...] = SEEN
    elif status in {s.value for s in SEEN}:
        statuses = (S(status),)
    else:
        status, statuses = "", OPEN_QUEUE
    stmt = visible(Application, current_user).where(Application.status.in_(statuses))
    if measure_id is not None:
        stmt = stmt.where(Application.measure_id == measure_id)
    page = db.paginate(
        stmt.options(selectinload(Application.worker), selectinload(Application.measure))
        # Oldest first: submission time, then id for applications sent the same instant.
        .order_by(Application.submitted_at, Application.id),
        per_page=PER_PAGE,
        max_per_page=PER_PAGE,
        error_out=False,
    )
    return render_template(
        "operator/applications.html",
        page=page,
        measures=measures,
        measure_id=measure_id,
        status=status,
        statuses=SEEN,
        status_labels=STATUS_LABELS,
        area=area,
        read_only=read_only,
    )


def detail(
    application: Application,
    area: str,
    read_only: bool,
    posted: dict[str, FlaskForm] | None = None,
    message: Any = None,
    status: int = 200,
) -> tuple[str, int]:
    """The application's page: the worker's request, the checks, the history, the forms."""
    today = clock.today()
    measure = application.measure
    dependant = application.dependant
    if dependant is not None and dependant.kind is DependantKind.DISABLED_RELATIVE:
        # The kind alone tells of a disability (special-category data): the view is audited.
        audit.record(
            db.session,
            "dependant.view",
            dependant,
            current_actor(),
            application_id=application.id,
        )
        db.session.commit()
    decision_forms: dict[str, FlaskForm] = {}
    if not read_only:
        decision_forms = _decision_forms(application, posted or {})
    option = eligibility.option_for(db.session, application.worker, measure, today)
    return render_template(
        "operator/application.html",
        application=application,
        measure=measure,
        voucher=application.voucher,
        dependant=dependant,
        age=_age(dependant.birth_date, today) if dependant is not None else None,
        kind_labels=KIND_LABELS,
        # The employment it was sent with, or the one it would rest on today.
        employment=application.employment or option.employment,
        employment_labels=EMPLOYMENT_LABELS,
        checks=_checks(application, option, today),
        history=history(application),
        status_labels=STATUS_LABELS,
        voucher_labels=VOUCHER_LABELS,
        forms=decision_forms,
        message=message,
        area=area,
        read_only=read_only,
    ), status


def history(application: Application) -> list[dict[str, Any]]:
    """Who did what to the application (and its voucher), when and why, oldest first."""
    entities = [
        and_(
            AuditEvent.entity_type == Application.__tablename__,
            AuditEvent.entity_id == application.id,
        )
    ]
    if application.voucher is not None:
        entities.append(
            and_(
                AuditEvent.entity_type == Voucher.__tablename__,
                AuditEvent.entity_id == application.voucher.id,
            )
        )
    events = db.session.scalars(
        select(AuditEvent).where(or_(*entities)).order_by(AuditEvent.occurred_at, AuditEvent.id)
    ).all()
    actor_ids = {e.actor_id for e in events if e.actor_id is not None}
    actors = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(actor_ids))).all()}
    rows = []
    for event in events:
        actor = actors.get(event.actor_id) if event.actor_id is not None else None
        rows.append(
            {
                "at": event.occurred_at,
                "who": actor.full_name if actor is not None else _("System"),
                "role": _role_label(event.actor_role),
                "what": _describe(event),
                "why": event.reason,
            }
        )
    return rows


# --- operator pages ---------------------------------------------------------------------


@bp.route("/applications", endpoint="applications")
@role_required(Role.OPERATOR)
def applications_queue():
    """The alliance's applications, oldest sent first, to decide."""
    return queue("operator", read_only=False)


@bp.route("/applications/<int:application_id>")
@role_required(Role.OPERATOR)
def application(application_id: int):
    """One application: the worker's request, the checks, the history, the decision."""
    return detail(load(application_id), "operator", read_only=False)


@bp.route("/applications/<int:application_id>/approve", methods=["POST"])
@role_required(Role.OPERATOR)
def application_approve(application_id: int):
    """Approve: reserve the amount (the requested one, or lower) and grant the voucher."""

    def act(application: Application, form: FlaskForm) -> str:
        voucher = applications.approve(
            db.session,
            application,
            current_actor(),
            amount_cents=form.amount_cents.data,
            today=clock.today(),
        )
        return _("Approved: a voucher of %(amount)s.", amount=format_money(voucher.amount_cents))

    # A full budget puts the application on the waiting list: that change is kept.
    return _decide(application_id, "approve", act, keep_on_conflict=True)


@bp.route("/applications/<int:application_id>/reject", methods=["POST"])
@role_required(Role.OPERATOR)
def application_reject(application_id: int):
    """Reject, with the reason the worker will read."""

    def act(application: Application, form: FlaskForm) -> str:
        applications.reject(db.session, application, current_actor(), form.reason.data)
        return _("Rejected. The worker has been told why.")

    return _decide(application_id, "reject", act)


@bp.route("/applications/<int:application_id>/waitlist", methods=["POST"])
@role_required(Role.OPERATOR)
def application_waitlist(application_id: int):
    """Put on the waiting list, with an optional note."""

    def act(application: Application, form: FlaskForm) -> str:
        applications.waitlist(db.session, application, current_actor(), form.reason.data or "")
        return _("Put on the waiting list.")

    return _decide(application_id, "waitlist", act)


@bp.route("/applications/<int:application_id>/revoke", methods=["POST"])
@role_required(Role.OPERATOR)
def application_revoke(application_id: int):
    """Revoke the application's active voucher; what it did not use goes back to the budget."""

    def act(application: Application, form: FlaskForm) -> str:
        voucher = application.voucher
        if voucher is None:
            raise IllegalTransition(_l("Only an active voucher can be revoked."))
        promoted = expiry.revoke(
            db.session, voucher, current_actor(), form.reason.data, today=clock.today()
        )
        done = _("Voucher revoked.")
        return f"{done} {approved_from_waitlist(len(promoted))}" if promoted else done

    return _decide(application_id, "revoke", act)


# --- internals --------------------------------------------------------------------------


def _decide(
    application_id: int,
    name: str,
    act: Callable[[Application, FlaskForm], str],
    keep_on_conflict: bool = False,
):
    """Validate the posted form, run the decision, commit; show why when it cannot be."""
    application = load(application_id)
    if name not in _allowed(application):
        # Checked before the form, so a late decision is refused whatever was typed.
        return detail(
            application, "operator", False, message=_refusal(application, name), status=409
        )
    form = forms.build(name)
    if not form.validate_on_submit():
        return detail(application, "operator", False, posted={name: form})
    try:
        done = act(application, form)
    except ValidationFailed as exc:
        db.session.rollback()
        apply_errors(form, exc)
        return detail(application, "operator", False, posted={name: form})
    except Conflict as exc:
        if keep_on_conflict:
            db.session.commit()
        else:
            db.session.rollback()
        return detail(application, "operator", False, message=exc.message, status=409)
    except IllegalTransition as exc:
        # Decided already (perhaps a moment ago by a colleague): nothing is written.
        db.session.rollback()
        return detail(application, "operator", False, message=exc.message, status=409)
    db.session.commit()
    flash(done, "success")
    return redirect(url_for("operator.application", application_id=application.id))


def _allowed(application: Application) -> list[str]:
    """The decisions the application's status allows now."""
    allowed = []
    if application.status in applications.APPROVABLE:
        allowed.append("approve")
    if application.status is S.SUBMITTED:
        allowed.append("waitlist")
    if application.status in applications.REJECTABLE:
        allowed.append("reject")
    voucher = application.voucher
    if voucher is not None and voucher.status is VoucherStatus.ACTIVE:
        allowed.append("revoke")
    return allowed


def _refusal(application: Application, name: str) -> str:
    """Why the decision ``name`` cannot be taken on the application now."""
    if name == "revoke":
        return _("Only an active voucher can be revoked.")
    label = STATUS_LABELS[application.status]
    if application.status in (S.APPROVED, S.REJECTED, S.WITHDRAWN):
        return _("This application has already been decided: %(status)s.", status=label)
    return _("This is not possible while the application is: %(status)s.", status=label)


def _decision_forms(application: Application, posted: dict[str, FlaskForm]) -> dict[str, Any]:
    """The decisions the application's status allows, each with its form."""
    # Only the posted form reads the request; the others start empty.
    return {
        name: posted.get(name) or forms.build(name, formdata=None) for name in _allowed(application)
    }


def _checks(
    application: Application, option: eligibility.MeasureOption, today: date
) -> list[dict[str, Any]]:
    """What the decision rests on, each marked as met (True), not met (False) or to check."""
    measure = application.measure
    undecided = application.status in (S.SUBMITTED, S.AWAITING_HR, S.WAITLISTED)
    requested = application.amount_requested_cents if undecided else 0
    checks: list[dict[str, Any]] = []

    def add(ok: bool | None, text: str) -> None:
        checks.append({"ok": ok, "text": text})

    if measure.eligibility is Eligibility.RESIDENTS:
        place = application.municipality or _("(not declared)")
        if eligibility.lives_in_area(measure, application.municipality):
            add(True, _("Declares living in %(place)s, in the measure's area.", place=place))
        else:
            add(
                False,
                _(
                    "Declares living in %(place)s, outside the measure's area (%(area)s).",
                    place=place,
                    area=", ".join(eligibility.residence_municipalities(measure)),
                ),
            )
    else:
        employment = option.employment
        if employment is None:
            add(
                False,
                _(
                    "No current employment at a partner of %(alliance)s.",
                    alliance=measure.project.alliance.name,
                ),
            )
        elif employment.status is EmploymentStatus.CONFIRMED:
            add(
                True,
                _(
                    "Works at %(organisation)s since %(date)s, confirmed by HR.",
                    organisation=employment.organisation.name,
                    date=format_date(employment.starts_on, "medium"),
                ),
            )
        else:
            add(
                None,
                _(
                    "Declares working at %(organisation)s since %(date)s: HR has not "
                    "confirmed it yet.",
                    organisation=employment.organisation.name,
                    date=format_date(employment.starts_on, "medium"),
                ),
            )
    cap = measure.cap_per_worker_year_cents
    used = option.used_this_year_cents
    if cap is None:
        add(True, _("Granted this year under this measure: %(used)s.", used=format_money(used)))
    else:
        add(
            used + requested <= cap,
            _(
                "Granted this year under this measure: %(used)s, of a yearly cap of %(cap)s.",
                used=format_money(used),
                cap=format_money(cap),
            ),
        )
    line = measure.budget_line
    available = line.available_cents if line is not None else 0
    add(
        available >= requested if undecided else True,
        _("Still available on the measure: %(amount)s.", amount=format_money(available)),
    )
    if today > measure.project.ends_on:
        add(
            False,
            _(
                "The project ended on %(date)s: no voucher can be granted.",
                date=format_date(measure.project.ends_on, "medium"),
            ),
        )
    return checks


def _age(birth_date: date, today: date) -> int:
    """Age in whole years on ``today``."""
    return (
        today.year
        - birth_date.year
        - ((today.month, today.day) < (birth_date.month, birth_date.day))
    )


def _role_label(role: str) -> str:
    """The actor's role at the time of the event ("" for the system)."""
    try:
        return str(ROLE_LABELS[Role(role)])
    except ValueError:
        return ""


def _describe(event: AuditEvent) -> str:
    """An audit event in plain words for the operator."""
    details = event.details or {}
    amount = format_money(details.get("amount_cents") or details.get("released_cents") or 0)
    texts: dict[str, Callable[[], str]] = {
        "application.start": lambda: _("Started the application."),
        "application.update": lambda: _("Changed the answers."),
        "application.submit": lambda: _("Sent the application."),
        "application.awaiting_hr": lambda: _(
            "Waiting for HR of %(organisation)s to confirm the employment.",
            organisation=details.get("organisation", ""),
        ),
        "application.employment_confirmed": lambda: _("HR confirmed the employment."),
        "application.approve": lambda: _("Approved: voucher of %(amount)s.", amount=amount),
        "application.reject": lambda: _("Rejected."),
        "application.waitlist": lambda: _("Put on the waiting list."),
        "application.withdraw": lambda: _("Withdrawn."),
        "voucher.expire": lambda: _(
            "The voucher expired; %(amount)s went back to the budget.", amount=amount
        ),
        "voucher.revoke": lambda: _(
            "The voucher was revoked; %(amount)s went back to the budget.", amount=amount
        ),
        "voucher.release": lambda: _(
            "%(amount)s of the ended voucher went back to the budget.", amount=amount
        ),
    }
    text = texts.get(event.action)
    return text() if text is not None else event.action


def counts(user: User) -> dict[str, int]:
    """How many of the user's applications wait, by status (for the dashboards)."""
    rows = db.session.execute(
        visible(Application, user, select(Application.status, func.count()))
        .where(Application.status.in_(OPEN_QUEUE))
        .group_by(Application.status)
    ).all()
    found = dict(rows)
    return {s.value: int(found.get(s, 0)) for s in OPEN_QUEUE}
