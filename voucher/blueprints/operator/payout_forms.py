"""Forms of the operator's payouts: building, executing, cancelling, bank settings.

The claims chosen for a payout and the transfers the bank rejected are checkbox lists
read with ``request.form.getlist`` in the views; these forms carry the other fields and
the CSRF token. Field names match what ``voucher.services.payouts`` reports errors on.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from voucher.services.payouts import MAX_BANK_REFERENCE, MAX_REASON


class NewPayoutForm(FlaskForm):
    execution_date = DateField(
        _l("Requested execution date"),
        validators=[InputRequired(_l("Enter the date the bank should execute the transfers."))],
        description=_l("The date written in the transfer file for the bank."),
    )


class ExecuteForm(FlaskForm):
    executed_on = DateField(
        _l("Executed on"),
        validators=[InputRequired(_l("Enter the date the bank executed the transfers."))],
    )
    bank_reference = StringField(
        _l("Bank reference"),
        validators=[Length(max=MAX_BANK_REFERENCE)],
        description=_l("The reference of the execution in the bank's report (e.g. its CRO)."),
    )


class CancelForm(FlaskForm):
    reason = TextAreaField(_l("Reason"), validators=[Length(max=MAX_REASON)])


class ReturnForm(FlaskForm):
    reason = StringField(
        _l("The bank's reason"),
        validators=[Length(max=MAX_REASON)],
        description=_l("For example: account closed, IBAN unknown."),
    )


class BankAccountForm(FlaskForm):
    iban = StringField(_l("IBAN"), validators=[InputRequired(_l("Enter the IBAN."))])
    bic = StringField(
        _l("BIC (SWIFT)"),
        validators=[Optional(), Length(max=11)],
        description=_l("Optional for transfers within the SEPA area."),
    )
