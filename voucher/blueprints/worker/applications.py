"""Worker area: the measures open to the worker ("Per me") and their applications.

Flow: measures -> new application (draft) -> check your answers -> submit -> status page.
Applications are loaded through their owner, so anyone else's answers 404.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from voucher.blueprints.admin.forms import MEASURE_KIND_LABELS
from voucher.blueprints.common import apply_errors, current_actor, get_visible_or_404, role_required
from voucher.blueprints.worker import bp
from voucher.blueprints.worker.application_forms import NOBODY, ApplicationForm
from voucher.extensions import db
from voucher.i18n import format_money
from voucher.models import (
    Allocation,
    Application,
    ApplicationStatus,
    AuditEvent,
    Dependant,
    Eligibility,
    Measure,
    Role,
)
from voucher.services import applications, clock, eligibility
from voucher.services.errors import ServiceError, ValidationFailed


def _own_application(application_id: int) -> Application:
    """The current worker's application, or 404 (someone else's does not exist for them)."""
    return db.first_or_404(
        select(Application)
        .where(Application.id == application_id, Application.worker_id == current_user.id)
        .options(
            joinedload(Application.measure).joinedload(Measure.project),
            joinedload(Application.dependant),
            joinedload(Application.voucher),
        )
    )


def _labels() -> dict[str, Any]:
    return {
        "kind_labels": MEASURE_KIND_LABELS,
        "status_labels": applications.STATUS_LABELS,
        "Status": ApplicationStatus,
        "Allocation": Allocation,
        "Eligibility": Eligibility,
    }


@bp.route("/measures")
@role_required(Role.WORKER)
def measures():
    """ "Per me": the measures the worker can use now, explained, then the others and why."""
    options = eligibility.measures_for(db.session, current_actor(), clock.today())
    return render_template(
        "worker/measures.html",
        usable=[o for o in options if o.eligible],
        unusable=[o for o in options if not o.eligible],
        declared=eligibility.has_declared_employment(db.session, current_actor()),
        **_labels(),
    )


@bp.route("/applications")
@role_required(Role.WORKER)
def applications_list():
    """Every application of the worker, newest first, with its status."""
    items = db.session.scalars(
        select(Application)
        .where(Application.worker_id == current_user.id)
        .options(selectinload(Application.measure), selectinload(Application.dependant))
        .order_by(Application.created_at.desc(), Application.id.desc())
    ).all()
    return render_template("worker/application_list.html", items=items, **_labels())


@bp.route("/applications/new", methods=["GET", "POST"])
@role_required(Role.WORKER)
def application_new():
    """Apply under a measure: family member, amount, notes; saves a draft."""
    measure_id = request.args.get("measure", type=int)
    if measure_id is None:
        abort(404)
    measure = get_visible_or_404(Measure, measure_id)
    return _application_form(measure, None)


@bp.route("/applications/<int:application_id>/edit", methods=["GET", "POST"])
@role_required(Role.WORKER)
def application_edit(application_id: int):
    """Change the answers of a draft (the "Change" links of the check page)."""
    application = _own_application(application_id)
    if application.status is not ApplicationStatus.DRAFT:
        flash(_("This application has been sent and can no longer be changed."), "warning")
        return redirect(url_for("worker.application", application_id=application.id))
    return _application_form(application.measure, application)


def _application_form(measure: Measure, application: Application | None):
    """Show and handle the application form, for a new draft or an existing one."""
    worker, today = current_actor(), clock.today()
    try:
        option = eligibility.check_can_apply(db.session, worker, measure, today)
    except ValidationFailed as exc:
        flash(" ".join(str(m) for ms in exc.errors.values() for m in ms), "warning")
        return redirect(url_for("worker.measures"))
    dependants = applications.suitable_dependants(db.session, worker, measure)
    required = applications.dependant_required(measure)
    residence = measure.eligibility is Eligibility.RESIDENTS
    form = ApplicationForm().setup(
        measure,
        dependants,
        dependant_required=required,
        municipalities=eligibility.residence_municipalities(measure) if residence else None,
    )
    form.amount_requested_cents.description = _(
        "You can ask for up to %(amount)s.", amount=format_money(option.max_request_cents)
    )
    if request.method == "GET":
        _prefill(form, application, dependants, required)
    if form.validate_on_submit():
        dependant = None
        if form.dependant_id is not None:
            dependant = db.session.scalar(
                select(Dependant).where(
                    Dependant.id == form.dependant_id, Dependant.worker_id == worker.id
                )
            )
            if dependant is None:
                form.dependant.errors.append(_("Choose one of your family members."))
        if not form.dependant.errors:
            answers = {
                "dependant": dependant,
                "amount_requested_cents": form.amount_requested_cents.data,
                "notes": form.notes.data or "",
                "municipality": form.municipality.data if form.municipality else None,
                "today": today,
            }
            try:
                if application is None:
                    application = applications.start(db.session, worker, measure, **answers)
                else:
                    applications.update_draft(db.session, application, worker, **answers)
            except ValidationFailed as exc:
                db.session.rollback()
                apply_errors(form, exc)
            else:
                db.session.commit()
                return redirect(url_for("worker.application_check", application_id=application.id))
    in_progress = []
    if application is None:
        in_progress = db.session.scalars(
            select(Application)
            .where(
                Application.worker_id == worker.id,
                Application.measure_id == measure.id,
                Application.status.in_(applications.OPEN_STATUSES),
            )
            # Their dependants came with the worker (load_user): no eager load needed.
            .order_by(Application.created_at)
        ).all()
    return render_template(
        "worker/application_form.html",
        form=form,
        measure=measure,
        option=option,
        application=application,
        in_progress=in_progress,
        has_dependants=bool(dependants),
        dependant_required=required,
        **_labels(),
    )


def _prefill(
    form: ApplicationForm,
    application: Application | None,
    dependants: list[Dependant],
    required: bool,
) -> None:
    """Put a draft's answers back in the form, or sensible defaults for a new one."""
    if application is not None:
        form.dependant.data = application.dependant_id or NOBODY
        form.amount_requested_cents.data = application.amount_requested_cents
        form.notes.data = application.notes
        if form.municipality:
            form.municipality.data = (
                applications.declared_municipality(db.session, application) or ""
            )
    elif required and len(dependants) == 1:
        form.dependant.data = dependants[0].id
    elif not required:
        form.dependant.data = NOBODY


@bp.route("/applications/<int:application_id>/check")
@role_required(Role.WORKER)
def application_check(application_id: int):
    """Check your answers: each with a "Change" link, then send."""
    application = _own_application(application_id)
    if application.status is not ApplicationStatus.DRAFT:
        return redirect(url_for("worker.application", application_id=application.id))
    option = eligibility.option_for(db.session, current_actor(), application.measure, clock.today())
    return render_template(
        "worker/application_check.html",
        application=application,
        measure=application.measure,
        option=option,
        municipality=applications.declared_municipality(db.session, application),
        **_labels(),
    )


@bp.route("/applications/<int:application_id>/submit", methods=["POST"])
@role_required(Role.WORKER)
def application_submit(application_id: int):
    """Send a draft; first-come measures are decided at once."""
    application = _own_application(application_id)
    try:
        applications.submit(db.session, application, current_actor(), clock.today())
    except ValidationFailed as exc:
        db.session.rollback()
        flash(" ".join(str(m) for ms in exc.errors.values() for m in ms), "danger")
        return redirect(url_for("worker.application_check", application_id=application_id))
    except ServiceError as exc:
        db.session.rollback()
        flash(str(exc.message), "danger")
        return redirect(url_for("worker.application", application_id=application_id))
    db.session.commit()
    messages = {
        ApplicationStatus.APPROVED: (_("Approved: your voucher is ready."), "success"),
        ApplicationStatus.WAITLISTED: (
            _("Sent. The budget is used up for now, so it is on the waiting list."),
            "warning",
        ),
        ApplicationStatus.AWAITING_HR: (
            _("Sent. It will be reviewed once HR confirms that you work there."),
            "success",
        ),
    }
    text, category = messages.get(
        application.status, (_("Sent. The alliance will review it and tell you."), "success")
    )
    flash(text, category)
    return redirect(url_for("worker.application", application_id=application_id))


@bp.route("/applications/<int:application_id>")
@role_required(Role.WORKER)
def application(application_id: int):
    """The status of an application: what happened when, and the next step."""
    item = _own_application(application_id)
    return render_template(
        "worker/application_status.html",
        application=item,
        measure=item.measure,
        voucher=item.voucher,
        events=_timeline(applications.timeline(db.session, item)),
        can_withdraw=item.status in applications.WITHDRAWABLE,
        **_labels(),
    )


@bp.route("/applications/<int:application_id>/withdraw", methods=["POST"])
@role_required(Role.WORKER)
def application_withdraw(application_id: int):
    """Withdraw an application that has not been decided (or drop a draft)."""
    application = _own_application(application_id)
    try:
        applications.withdraw(db.session, application, current_actor())
    except ServiceError as exc:
        db.session.rollback()
        flash(str(exc.message), "danger")
    else:
        db.session.commit()
        flash(_("Your application has been withdrawn."), "success")
    return redirect(url_for("worker.application", application_id=application_id))


def _timeline(events: list[AuditEvent]) -> list[dict[str, Any]]:
    """The audit trail of an application told in plain words, oldest first."""
    entries = []
    for event in events:
        details = event.details or {}
        by_system = event.actor_role == "system"
        if event.action == "application.start":
            text = _("You started the application.")
        elif event.action == "application.update":
            text = _("You changed your answers.")
        elif event.action == "application.submit":
            text = _("You sent the application.")
        elif event.action == "application.awaiting_hr":
            text = _(
                "It waits for the HR office of %(organisation)s to confirm that you work there.",
                organisation=details.get("organisation", ""),
            )
        elif event.action == "application.employment_confirmed":
            text = _("HR confirmed that you work there: the application went on to review.")
        elif event.action == "application.approve":
            amount = format_money(details.get("amount_cents"))
            text = (
                _("Approved automatically: voucher of %(amount)s.", amount=amount)
                if by_system
                else _("Approved by the alliance: voucher of %(amount)s.", amount=amount)
            )
        elif event.action == "application.reject":
            text = _("Not approved by the alliance.")
        elif event.action == "application.waitlist":
            text = _("Put on the waiting list.")
        elif event.action == "application.withdraw":
            text = _("You withdrew the application.")
        else:
            continue
        entries.append({"at": event.occurred_at, "text": text, "reason": event.reason})
    return entries
