"""Worker area: profile, IBAN and employment declarations."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy.orm import selectinload
from wtforms import DateField, PasswordField, RadioField, StringField, TelField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length

from voucher.blueprints.common import apply_errors, role_required
from voucher.blueprints.worker import bp
from voucher.extensions import db
from voucher.models import Employment, EmploymentStatus, Organisation, Role
from voucher.services import employment as employment_service
from voucher.services import profile as profile_service
from voucher.services.access import visible
from voucher.services.errors import ValidationFailed
from voucher.services.identifiers import mask_iban

# How many partner organisations the declaration page lists before asking to narrow.
ORGANISATIONS_SHOWN = 50

# Each language named in itself, as a person who cannot read the other one looks for it.
LANGUAGE_CHOICES = [SelectChoice("it", "Italiano"), SelectChoice("en", "English")]

EMPLOYMENT_STATUS_LABELS = {
    EmploymentStatus.AWAITING_HR: _l("Awaiting HR"),
    EmploymentStatus.CONFIRMED: _l("Confirmed by HR"),
    EmploymentStatus.DENIED: _l("Not confirmed by HR"),
}


class ProfileForm(FlaskForm):
    first_name = StringField(_l("First name"), validators=[DataRequired(), Length(max=100)])
    last_name = StringField(_l("Last name"), validators=[DataRequired(), Length(max=100)])
    phone = TelField(
        _l("Phone"),
        validators=[Length(max=30)],
        description=_l("Optional. The alliance's operators may call you about an application."),
    )
    locale = RadioField(
        _l("Language of pages and e-mails"),
        choices=LANGUAGE_CHOICES,
        validators=[InputRequired()],
    )


class IbanForm(FlaskForm):
    iban = StringField(
        _l("New IBAN"),
        validators=[DataRequired(), Length(max=50)],
        description=_l("The account your reimbursements are paid to, in your name."),
    )
    password = PasswordField(
        _l("Your current password"),
        validators=[DataRequired(), Length(max=200)],
        description=_l("Asked to be sure it is you who changes where the money goes."),
    )


class EmploymentForm(FlaskForm):
    # Choices are the organisations listed on the page; the service decides whether the
    # one sent is a partner, so a stale or forged choice gets its clear message.
    organisation = RadioField(
        _l("Organisation"),
        coerce=int,
        validate_choice=False,
        validators=[InputRequired(message=_l("Choose the organisation you work for."))],
    )
    starts_on = DateField(
        _l("Working there since"),
        validators=[InputRequired(message=_l("Enter the date you started working there."))],
        description=_l("The first day of your contract; up to 30 days from today."),
    )


@bp.route("/profile", methods=["GET", "POST"])
@role_required(Role.WORKER)
def profile():
    """Show the worker's details and let them change name, phone and language."""
    form = ProfileForm(obj=current_user)
    if request.method == "GET" and current_user.locale not in profile_service.LOCALES:
        form.locale.data = "it"
    if form.validate_on_submit():
        try:
            profile_service.update_profile(
                db.session,
                current_user,
                first_name=form.first_name.data,
                last_name=form.last_name.data,
                phone=form.phone.data,
                locale=form.locale.data,
            )
        except ValidationFailed as exc:
            db.session.rollback()
            apply_errors(form, exc)
        else:
            db.session.commit()
            # The choice made here wins over one made earlier with ?lang= in this session.
            session["lang"] = current_user.locale
            flash(_("Your profile has been saved."), "success")
            return redirect(url_for("worker.profile"))
    return render_template(
        "worker/profile.html", form=form, masked_iban=mask_iban(current_user.iban)
    )


@bp.route("/profile/iban", methods=["GET", "POST"])
@role_required(Role.WORKER)
def profile_iban():
    """Change the IBAN reimbursements are paid to; asks for the current password."""
    form = IbanForm()
    if form.validate_on_submit():
        try:
            profile_service.change_iban(
                db.session, current_user, iban=form.iban.data, password=form.password.data
            )
        except ValidationFailed as exc:
            db.session.rollback()
            apply_errors(form, exc)
        else:
            db.session.commit()
            flash(_("Your IBAN has been saved."), "success")
            return redirect(url_for("worker.profile"))
    return render_template(
        "worker/profile_iban.html", form=form, masked_iban=mask_iban(current_user.iban)
    )


@bp.route("/employment")
@role_required(Role.WORKER)
def employment():
    """The worker's employment declarations and what HR answered."""
    employments = db.session.scalars(
        visible(Employment, current_user)
        .options(selectinload(Employment.organisation))
        .order_by(Employment.starts_on.desc(), Employment.id.desc())
    ).all()
    return render_template(
        "worker/employment.html", employments=employments, labels=EMPLOYMENT_STATUS_LABELS
    )


@bp.route("/employment/new", methods=["GET", "POST"])
@role_required(Role.WORKER)
def employment_new():
    """Declare an employer: filter the partner organisations by name, pick one, give a date."""
    q = " ".join(request.args.get("q", "").split())[:100]
    found = employment_service.partner_organisations(db.session, q=q, limit=ORGANISATIONS_SHOWN + 1)
    organisations, more = found[:ORGANISATIONS_SHOWN], len(found) > ORGANISATIONS_SHOWN
    form = EmploymentForm()
    form.organisation.choices = [SelectChoice(o.id, o.name) for o in organisations]
    if form.validate_on_submit():
        organisation = db.session.get(Organisation, form.organisation.data)
        try:
            employment_service.declare(db.session, current_user, organisation, form.starts_on.data)
        except ValidationFailed as exc:
            db.session.rollback()
            apply_errors(form, exc)
        else:
            db.session.commit()
            flash(
                _(
                    "Declaration sent. The HR office of %(name)s will confirm it; you can "
                    "follow it here.",
                    name=organisation.name,
                ),
                "success",
            )
            return redirect(url_for("worker.employment"))
    return render_template(
        "worker/employment_new.html",
        form=form,
        q=q,
        organisations=organisations,
        municipalities={o.id: o.municipality for o in organisations},
        more=more,
    )
