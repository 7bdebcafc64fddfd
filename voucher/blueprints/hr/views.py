"""Views of the HR area: the queue of declarations, one declaration, the roster import and
the aggregate uptake. HR loads declarations only through the access rules, so one made to
another organisation answers 404."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from itsdangerous import BadData, SignatureExpired, URLSafeTimedSerializer

from voucher.blueprints.admin.forms import MEASURE_KIND_LABELS
from voucher.blueprints.common import (
    ActionForm,
    apply_errors,
    current_actor,
    get_visible_or_404,
    role_required,
)
from voucher.blueprints.hr import bp
from voucher.blueprints.hr.forms import (
    ConfirmForm,
    DenyForm,
    EndDateForm,
    RosterApplyForm,
    RosterForm,
)
from voucher.extensions import db
from voucher.models import Employment, EmploymentStatus, Role
from voucher.services import clock, hr, reports
from voucher.services.errors import ServiceError, ValidationFailed

PER_PAGE = 50
# How long a roster preview can be applied: long enough to read it, not a day later.
ROSTER_PREVIEW_MAX_AGE = 3600
# How many bad lines a page lists before saying how many more there are.
ERRORS_SHOWN = 200


@bp.context_processor
def _labels() -> dict[str, Any]:
    return {"status_labels": hr.STATUS_LABELS, "Status": EmploymentStatus}


# --- the queue and one declaration ------------------------------------------------------


@bp.route("/")
@role_required(Role.HR)
def home():
    """HR's queue: declarations to their organisation, awaiting ones first, filtered, paged."""
    raw_status = request.args.get("status", "")
    status = EmploymentStatus(raw_status) if raw_status in set(EmploymentStatus) else None
    q = " ".join(request.args.get("q", "").split())[:100]
    page = db.paginate(
        hr.queue(db.session, current_user, status, q),
        per_page=PER_PAGE,
        max_per_page=PER_PAGE,
        error_out=False,
    )
    return render_template(
        "hr/home.html",
        page=page,
        status=status,
        q=q,
        counts=hr.status_counts(db.session, current_user),
        action_form=ActionForm(),
    )


@bp.route("/declarations/<int:employment_id>")
@role_required(Role.HR)
def declaration(employment_id: int):
    """One declaration, with the forms to confirm, deny or record the end date."""
    return _render_declaration(get_visible_or_404(Employment, employment_id))


@bp.route("/declarations/<int:employment_id>/confirm", methods=["POST"])
@role_required(Role.HR)
def confirm(employment_id: int):
    """Confirm a declaration (with the last day, if known)."""
    employment = get_visible_or_404(Employment, employment_id)
    form = ConfirmForm()
    if not form.validate_on_submit():
        return _render_declaration(employment, confirm_form=form)
    name = employment.worker.full_name
    try:
        hr.confirm(db.session, employment, current_actor(), clock.today(), form.ends_on.data)
    except ValidationFailed as exc:
        db.session.rollback()
        apply_errors(form, exc)
        return _render_declaration(employment, confirm_form=form)
    except ServiceError as exc:
        db.session.rollback()
        flash(str(exc.message), "danger")
        return redirect(url_for("hr.declaration", employment_id=employment_id))
    db.session.commit()
    flash(_("You confirmed that %(name)s works for you.", name=name), "success")
    return redirect(url_for("hr.home"))


@bp.route("/declarations/<int:employment_id>/deny", methods=["POST"])
@role_required(Role.HR)
def deny(employment_id: int):
    """Deny a declaration, saying why (the worker reads the reason)."""
    employment = get_visible_or_404(Employment, employment_id)
    form = DenyForm()
    if not form.validate_on_submit():
        return _render_declaration(employment, deny_form=form)
    name = employment.worker.full_name
    try:
        hr.deny(db.session, employment, current_actor(), form.reason.data or "", clock.today())
    except ValidationFailed as exc:
        db.session.rollback()
        apply_errors(form, exc)
        return _render_declaration(employment, deny_form=form)
    except ServiceError as exc:
        db.session.rollback()
        flash(str(exc.message), "danger")
        return redirect(url_for("hr.declaration", employment_id=employment_id))
    db.session.commit()
    flash(_("You did not confirm the declaration of %(name)s.", name=name), "success")
    return redirect(url_for("hr.home"))


@bp.route("/declarations/<int:employment_id>/end", methods=["POST"])
@role_required(Role.HR)
def end(employment_id: int):
    """Record the last day of a confirmed employment (a leaver), or remove it."""
    employment = get_visible_or_404(Employment, employment_id)
    remove = request.form.get("remove") == "1"
    form = ActionForm() if remove else EndDateForm()
    if not form.validate_on_submit():
        if remove:
            return redirect(url_for("hr.declaration", employment_id=employment_id))
        return _render_declaration(employment, end_form=form)
    ends_on = None if remove else form.ends_on.data
    try:
        changed = hr.set_end_date(db.session, employment, current_actor(), ends_on)
    except ValidationFailed as exc:
        db.session.rollback()
        if remove:
            flash(" ".join(str(m) for ms in exc.errors.values() for m in ms), "danger")
            return redirect(url_for("hr.declaration", employment_id=employment_id))
        apply_errors(form, exc)
        return _render_declaration(employment, end_form=form)
    except ServiceError as exc:
        db.session.rollback()
        flash(str(exc.message), "danger")
        return redirect(url_for("hr.declaration", employment_id=employment_id))
    db.session.commit()
    if not changed:
        flash(_("Nothing to change."), "info")
    elif ends_on is None:
        flash(_("The end date has been removed."), "success")
    else:
        flash(_("The last day of employment has been recorded."), "success")
    return redirect(url_for("hr.declaration", employment_id=employment_id))


# --- roster import ----------------------------------------------------------------------


@bp.route("/roster", methods=["GET", "POST"])
@role_required(Role.HR)
def roster():
    """Upload the employee list and see what it would change; nothing is applied yet."""
    form = RosterForm()
    if form.validate_on_submit():
        data = form.file.data.read(hr.ROSTER_MAX_BYTES + 1)
        parsed = hr.parse_roster(data)
        if parsed.errors:
            return _render_roster(form, parsed.errors)
        plan = hr.preview(db.session, current_user.organisation, parsed, clock.today())
        if plan.errors:
            return _render_roster(form, plan.errors)
        return _render_preview(parsed.rows, plan)
    return _render_roster(form, [])


@bp.route("/roster/apply", methods=["POST"])
@role_required(Role.HR)
def roster_apply():
    """Apply a previewed roster, all or nothing, if it still changes what was shown."""
    form = RosterApplyForm()
    if not form.validate_on_submit():
        flash(_("The preview could not be read: upload the file again."), "danger")
        return redirect(url_for("hr.roster"))
    try:
        signed = _roster_serializer().loads(form.payload.data, max_age=ROSTER_PREVIEW_MAX_AGE)
        rows = [
            hr.RosterRow(int(line), str(code), date.fromisoformat(end) if end else None)
            for line, code, end in signed["rows"]
        ]
        shown = signed["plan"]
    except SignatureExpired:
        flash(_("The preview is more than an hour old: upload the file again."), "warning")
        return redirect(url_for("hr.roster"))
    except (BadData, KeyError, TypeError, ValueError):
        flash(_("The preview could not be read: upload the file again."), "danger")
        return redirect(url_for("hr.roster"))
    organisation = current_user.organisation
    plan = hr.preview(db.session, organisation, hr.Roster(rows=rows), clock.today())
    if plan.errors or plan.fingerprint() != shown:
        # Someone decided a declaration (or a worker declared) since the preview.
        flash(
            _("Something changed since the preview: check what the file would do now."),
            "warning",
        )
        if plan.errors:
            return _render_roster(RosterForm(formdata=None), plan.errors)
        return _render_preview(rows, plan)
    try:
        counts = hr.apply_roster(db.session, organisation, plan, current_actor(), clock.today())
    except ServiceError as exc:
        db.session.rollback()
        flash(str(exc.message), "danger")
        return redirect(url_for("hr.roster"))
    db.session.commit()
    flash(
        _(
            "Employee list applied. Declarations confirmed: %(confirmed)d · last days "
            "recorded: %(leavers)d.",
            confirmed=counts["confirmed"],
            leavers=counts["leavers"],
        ),
        "success",
    )
    return redirect(url_for("hr.home"))


# --- uptake -----------------------------------------------------------------------------


@bp.route("/uptake")
@role_required(Role.HR)
def uptake():
    """Aggregate counts of the employees' uptake, by programme and period; small numbers
    are not shown."""
    flt, errors = reports.read_filter(request.args)
    organisation = current_user.organisation
    return render_template(
        "hr/uptake.html",
        uptake=hr.uptake(db.session, organisation, flt),
        kind_labels=MEASURE_KIND_LABELS,
        small=hr.SMALL_CELL,
        flt=flt,
        filter_errors=errors,
        programmes=hr.uptake_programmes(db.session, organisation),
    )


# --- helpers ----------------------------------------------------------------------------


def _render_declaration(
    employment: Employment,
    confirm_form: ConfirmForm | None = None,
    deny_form: DenyForm | None = None,
    end_form: EndDateForm | None = None,
) -> str:
    return render_template(
        "hr/declaration.html",
        employment=employment,
        confirm_form=confirm_form or ConfirmForm(formdata=None),
        deny_form=deny_form or DenyForm(formdata=None),
        end_form=end_form or EndDateForm(formdata=None, ends_on=employment.ends_on),
        action_form=ActionForm(formdata=None),
    )


def _render_roster(form: RosterForm, errors: list[hr.RosterError]) -> str:
    return render_template(
        "hr/roster.html",
        form=form,
        errors=errors[:ERRORS_SHOWN],
        more_errors=max(0, len(errors) - ERRORS_SHOWN),
        max_rows=hr.ROSTER_MAX_ROWS,
        max_mb=hr.ROSTER_MAX_BYTES // (1024 * 1024),
    )


def _render_preview(rows: list[hr.RosterRow], plan: hr.RosterPlan) -> str:
    payload = _roster_serializer().dumps(
        {
            "rows": [
                [r.line, r.tax_code, r.ends_on.isoformat() if r.ends_on else None] for r in rows
            ],
            "plan": plan.fingerprint(),
        }
    )
    return render_template(
        "hr/roster_preview.html",
        plan=plan,
        apply_form=RosterApplyForm(formdata=None, payload=payload),
    )


def _roster_serializer() -> URLSafeTimedSerializer:
    """Signs the checked rows between preview and apply."""
    # Salted per HR user and organisation: nobody else can apply someone's preview.
    return URLSafeTimedSerializer(
        current_app.config["SECRET_KEY"],
        salt=f"hr-roster:{current_user.id}:{current_user.organisation_id}",
    )
