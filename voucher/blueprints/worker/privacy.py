"""The worker's privacy page: who looked at their sensitive data, export, erasure."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Response, current_app, flash, redirect, render_template, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField
from wtforms.validators import DataRequired

from voucher import sessions
from voucher.blueprints.common import current_actor, role_required
from voucher.blueprints.worker import bp
from voucher.extensions import db
from voucher.models import Role
from voucher.services import accounts, clock, privacy


class ErasureForm(FlaskForm):
    password = PasswordField(
        _l("Your password"),
        validators=[DataRequired(_l("Enter your password to confirm."))],
        description=_l("To be sure it is you."),
    )
    confirm = BooleanField(
        _l("I understand that my account will be closed and cannot be reopened"),
        validators=[DataRequired(_l("Tick the box to confirm."))],
    )


ACTION_LABELS = {
    "claim.receipt_view": _l("Opened a receipt of yours"),
    "dependant.certificate_view": _l("Opened the certificate of a family member"),
}


def _page(form: ErasureForm, status: int = 200):
    worker = current_actor()
    return (
        render_template(
            "worker/privacy.html",
            form=form,
            views=privacy.access_log(db.session, worker),
            action_labels=ACTION_LABELS,
            money_moved=privacy.money_moved(db.session, worker),
            retention_years=privacy.RETENTION_YEARS,
        ),
        status,
    )


@bp.route("/privacy")
@role_required(Role.WORKER)
def privacy_page():
    """Who opened my sensitive data; download my data; erase my account."""
    return _page(ErasureForm())


@bp.route("/privacy/export")
@role_required(Role.WORKER)
def privacy_export():
    """All my data as a ZIP: data.json and the files I uploaded."""
    worker = current_actor()
    archive = privacy.export_archive(db.session, worker, current_app.config["UPLOAD_FOLDER"])
    db.session.commit()
    response = Response(archive, mimetype="application/zip")
    stamp = datetime.now(UTC).strftime("%Y%m%d")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="conciliazione-dati-{stamp}.zip"'
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/privacy/erase", methods=["POST"])
@role_required(Role.WORKER)
def privacy_erase():
    """Close and erase my account (or restrict it while the law requires the records)."""
    form = ErasureForm()
    worker = current_actor()
    if not form.validate_on_submit():
        return _page(form, 400)
    if accounts.authenticate(db.session, worker.email, form.password.data) is None:
        form.password.errors.append(_("The password is not correct."))
        return _page(form, 400)
    today = clock.today()
    result = privacy.request_erasure(db.session, worker, today, current_app.config["UPLOAD_FOLDER"])
    db.session.commit()
    sessions.restart(session)
    if result.erased:
        flash(_("Your account has been closed and your personal data erased."), "info")
    else:
        flash(
            _(
                "Your account has been closed. Records of the money paid to you are kept, "
                "unused, until %(date)s as the law requires, then erased.",
                date=result.retain_until.strftime("%d/%m/%Y"),
            ),
            "info",
        )
    return redirect(url_for("main.index"))
