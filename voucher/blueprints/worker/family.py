"""Worker area: family members (dependants) and their disability certificates."""

from __future__ import annotations

import mimetypes

from flask import abort, current_app, flash, redirect, render_template, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, DateField, RadioField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from voucher.blueprints.common import apply_errors, get_visible_or_404, role_required
from voucher.blueprints.worker import bp
from voucher.extensions import db
from voucher.models import Dependant, DependantKind, Role
from voucher.services import family as family_service
from voucher.services.access import visible
from voucher.services.errors import ValidationFailed
from voucher.services.uploads import accepted_hint, path_of, store_upload

KIND_LABELS = {
    DependantKind.CHILD: _l("Child (under 18)"),
    DependantKind.ELDERLY_RELATIVE: _l("Elderly relative"),
    DependantKind.DISABLED_RELATIVE: _l("Relative with a disability"),
}

# What the upload accepts: a photo taken now, or a PDF or picture already on the phone.
CERTIFICATE_ACCEPT = "image/*,application/pdf"


class DependantForm(FlaskForm):
    kind = RadioField(
        _l("Who is this person?"),
        choices=[SelectChoice(kind.value, label) for kind, label in KIND_LABELS.items()],
        validators=[InputRequired(message=_l("Choose who this person is."))],
    )
    first_name = StringField(_l("First name"), validators=[DataRequired(), Length(max=100)])
    last_name = StringField(_l("Last name"), validators=[DataRequired(), Length(max=100)])
    birth_date = DateField(
        _l("Date of birth"),
        validators=[InputRequired(message=_l("Enter the date of birth."))],
        description=_l(
            "Asked even if you give the codice fiscale: the codice fiscale has only the "
            "last two digits of the year, so it cannot tell 1925 from 2025."
        ),
    )
    tax_code = StringField(
        _l("Codice fiscale"),
        validators=[Optional(), Length(max=20)],
        description=_l("Optional. If you enter it, it must match the date of birth above."),
    )
    relationship_label = StringField(
        _l("How is this person related to you?"),
        validators=[Length(max=60)],
        description=_l("Required for relatives, for example: madre, padre, suocera, fratello."),
    )
    has_disability = BooleanField(
        _l("This person has a recognised disability"),
        description=_l(
            "Only yes or no: we never ask for a diagnosis. You can add the certificate "
            "afterwards; it is seen only by you and by the operators who review your "
            "applications, and every view is recorded."
        ),
    )


class CertificateForm(FlaskForm):
    # Two controls: on a phone "capture" opens the camera directly, which would leave no
    # way to pick a PDF already downloaded (e.g. from INPS).
    file = FileField(_l("Take a photo of the certificate"))
    document = FileField(_l("Or choose a file already on your phone (PDF or photo)"))


def _upload_folder() -> str:
    return current_app.config["UPLOAD_FOLDER"]


def _fields(form: DependantForm) -> dict:
    return {
        "kind": form.kind.data,
        "first_name": form.first_name.data,
        "last_name": form.last_name.data,
        "birth_date": form.birth_date.data,
        "tax_code": form.tax_code.data,
        "relationship_label": form.relationship_label.data,
        "has_disability": form.has_disability.data,
    }


@bp.route("/family")
@role_required(Role.WORKER)
def family():
    """The worker's family members."""
    dependants = db.session.scalars(
        visible(Dependant, current_user).order_by(Dependant.birth_date.desc(), Dependant.id)
    ).all()
    return render_template("worker/family.html", dependants=dependants, labels=KIND_LABELS)


@bp.route("/family/new", methods=["GET", "POST"])
@role_required(Role.WORKER)
def family_new():
    """Add a family member."""
    form = DependantForm()
    if form.validate_on_submit():
        try:
            dependant = family_service.add_dependant(db.session, current_user, **_fields(form))
        except ValidationFailed as exc:
            db.session.rollback()
            apply_errors(form, exc)
        else:
            db.session.commit()
            flash(_("%(name)s has been added.", name=dependant.first_name), "success")
            return redirect(url_for("worker.family"))
    return render_template("worker/family_form.html", form=form, dependant=None)


@bp.route("/family/<int:id>/edit", methods=["GET", "POST"])
@role_required(Role.WORKER)
def family_edit(id: int):
    """Correct a family member's details."""
    dependant = get_visible_or_404(Dependant, id)
    form = DependantForm(obj=dependant)
    if form.validate_on_submit():
        had_certificate = dependant.certificate_key is not None
        try:
            family_service.update_dependant(
                db.session,
                current_user,
                dependant,
                folder=_upload_folder(),
                **_fields(form),
            )
        except ValidationFailed as exc:
            db.session.rollback()
            apply_errors(form, exc)
        else:
            db.session.commit()
            flash(_("The details of %(name)s are saved.", name=dependant.first_name), "success")
            if had_certificate and dependant.certificate_key is None:
                flash(_("The disability certificate has been deleted."), "info")
            return redirect(url_for("worker.family"))
    return render_template(
        "worker/family_form.html",
        form=form,
        dependant=dependant,
        in_use=family_service.has_applications(db.session, dependant),
    )


@bp.route("/family/<int:id>/remove", methods=["POST"])
@role_required(Role.WORKER)
def family_remove(id: int):
    """Remove a family member that no application refers to."""
    dependant = get_visible_or_404(Dependant, id)
    name = dependant.first_name
    try:
        family_service.remove_dependant(
            db.session, current_user, dependant, folder=_upload_folder()
        )
    except ValidationFailed as exc:
        db.session.rollback()
        flash(str(exc), "danger")
        return redirect(url_for("worker.family_edit", id=id))
    db.session.commit()
    flash(_("%(name)s has been removed from your family list.", name=name), "success")
    return redirect(url_for("worker.family"))


@bp.route("/family/<int:id>/certificate", methods=["GET", "POST"])
@role_required(Role.WORKER)
def family_certificate(id: int):
    """Upload (or replace) the disability certificate of a family member."""
    dependant = get_visible_or_404(Dependant, id)
    form = CertificateForm()
    if form.validate_on_submit():
        folder = _upload_folder()
        field, upload = (
            ("document", form.document.data) if form.document.data else ("file", form.file.data)
        )
        try:
            stored = store_upload(
                upload, folder, current_app.config["MAX_UPLOAD_BYTES"], field=field
            )
            family_service.attach_certificate(
                db.session, current_user, dependant, stored, folder=folder
            )
        except ValidationFailed as exc:
            db.session.rollback()
            apply_errors(form, exc)
        else:
            db.session.commit()
            flash(_("The certificate has been saved."), "success")
            return redirect(url_for("worker.family_certificate", id=id))
    return render_template(
        "worker/family_certificate.html",
        form=form,
        dependant=dependant,
        accept=CERTIFICATE_ACCEPT,
        hint=accepted_hint(current_app.config["MAX_UPLOAD_BYTES"]),
    )


@bp.route("/family/<int:id>/certificate/file")
@role_required(Role.WORKER)
def family_certificate_file(id: int):
    """Send the certificate as a download; every view is in the audit log."""
    dependant = get_visible_or_404(Dependant, id)
    if not dependant.certificate_key:
        abort(404)
    try:
        path = path_of(_upload_folder(), dependant.certificate_key)
    except ValueError:
        abort(404)
    if not path.is_file():
        abort(404)
    content_type = dependant.certificate_content_type or "application/octet-stream"
    family_service.certificate_viewed(db.session, current_user, dependant)
    db.session.commit()
    extension = mimetypes.guess_extension(content_type) or ""
    response = send_file(
        path,
        mimetype=content_type,
        as_attachment=True,
        download_name=f"certificate-{dependant.id}{extension}",
        conditional=False,
        etag=False,
        max_age=0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store"
    return response
