"""Forms of the HR area. Field names are the services' keyword arguments, so
``apply_errors`` puts each message next to its field."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import DateField, HiddenField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional


class ConfirmForm(FlaskForm):
    ends_on = DateField(
        _l("Last day of employment (if known)"),
        validators=[Optional()],
        description=_l("Leave it empty if the person still works for you."),
    )


class DenyForm(FlaskForm):
    # The service says when it is missing, so the message is the same from every form.
    reason = TextAreaField(
        _l("Why you do not confirm"),
        validators=[Length(max=500)],
        description=_l("The worker will read it, e.g. “Nobody with this name works here”."),
        render_kw={"rows": 3, "maxlength": 500},
    )


class EndDateForm(FlaskForm):
    ends_on = DateField(
        _l("Last day of employment"),
        validators=[InputRequired(message=_l("Enter the last day of employment."))],
        description=_l(
            "Vouchers of this employment take new reimbursement requests up to that day."
        ),
    )


class RosterForm(FlaskForm):
    file = FileField(
        _l("Employee list (CSV)"),
        validators=[FileRequired(message=_l("Choose the CSV file to upload."))],
    )


class RosterApplyForm(FlaskForm):
    # The checked rows, signed by the server when it showed the preview.
    payload = HiddenField(validators=[InputRequired()])
