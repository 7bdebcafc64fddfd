"""Forms of the operator area: decisions on applications, and changes to measures.

Field names are the ones the services report errors on (``amount_cents``, ``reason``…),
so ``apply_errors`` puts each message next to its field. Several forms share a page, so
each is built with a prefix (see ``PREFIXES``) to keep ids and names apart.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from voucher.blueprints.admin.forms import EuroField

REASON_MAX = 500


class ApproveForm(FlaskForm):
    amount_cents = EuroField(
        _l("Amount of the voucher (euros)"),
        validators=[Optional()],
        description=_l("Leave empty to grant what was requested, or enter a lower amount."),
    )


class RejectForm(FlaskForm):
    reason = TextAreaField(
        _l("Reason"),
        validators=[
            InputRequired(_l("Say why the application is not approved.")),
            Length(max=REASON_MAX),
        ],
        description=_l("The worker reads it."),
    )


class WaitlistForm(FlaskForm):
    reason = TextAreaField(
        _l("Note for the worker (optional)"), validators=[Optional(), Length(max=REASON_MAX)]
    )


class RevokeForm(FlaskForm):
    reason = TextAreaField(
        _l("Reason"),
        validators=[
            InputRequired(_l("Say why the voucher is revoked.")),
            Length(max=REASON_MAX),
        ],
        description=_l(
            "The worker reads it. What the voucher has not used goes back to the budget."
        ),
    )


class AllocationForm(FlaskForm):
    allocated_cents = EuroField(
        _l("New allocation (euros)"),
        validators=[InputRequired(_l("Enter the new allocation."))],
    )
    reason = TextAreaField(_l("Note (optional)"), validators=[Optional(), Length(max=REASON_MAX)])


class WindowForm(FlaskForm):
    opens_on = DateField(
        _l("Applications open on"), validators=[InputRequired(_l("Enter the first day."))]
    )
    closes_on = DateField(
        _l("Applications close after"),
        validators=[InputRequired(_l("Enter the last day."))],
        description=_l("To close the window now, set the last day to yesterday."),
    )


class FourEyesForm(FlaskForm):
    threshold_cents = EuroField(
        _l("Second operator needed above (euros)"),
        validators=[Optional()],
        description=_l("Leave empty so that one operator can approve any claim."),
    )


class MoveForm(FlaskForm):
    target = SelectField(
        _l("To the measure"),
        coerce=int,
        validators=[InputRequired(_l("Choose the measure that receives the budget."))],
    )
    amount_cents = EuroField(
        _l("Amount to move (euros)"), validators=[InputRequired(_l("Enter the amount."))]
    )
    reason = TextAreaField(
        _l("Reason"),
        validators=[InputRequired(_l("Say why the budget is moved.")), Length(max=REASON_MAX)],
    )


PREFIXES = {
    "approve": ApproveForm,
    "reject": RejectForm,
    "waitlist": WaitlistForm,
    "revoke": RevokeForm,
    "allocation": AllocationForm,
    "window": WindowForm,
    "four_eyes": FourEyesForm,
    "move": MoveForm,
}


def build(name: str, **kwargs: object) -> FlaskForm:
    """The form called ``name``, with its prefix (so ``reject-reason``, ``move-amount_cents``)."""
    return PREFIXES[name](prefix=name, **kwargs)
