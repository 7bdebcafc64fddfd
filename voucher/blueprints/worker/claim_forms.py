"""The receipt form of a reimbursement request.

Field names are the keyword arguments of ``voucher.services.claims.add_receipt`` (and
``file`` for the upload) so that ``apply_errors`` puts each message next to its field.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import DateField, StringField
from wtforms.validators import InputRequired, Length

from voucher.blueprints.admin.forms import EuroField


class ReceiptForm(FlaskForm):
    # Rendered by hand (camera or file picker); the service checks what arrives.
    file = FileField(_l("Photo or PDF of the receipt"))
    supplier_name = StringField(
        _l("Supplier"),
        validators=[InputRequired(), Length(max=200)],
        description=_l("The name of the business on the receipt."),
    )
    supplier_vat = StringField(
        _l("Supplier's VAT number (partita IVA)"),
        validators=[InputRequired(), Length(max=20)],
        description=_l("11 digits, printed on the receipt."),
        render_kw={"inputmode": "numeric", "autocomplete": "off"},
    )
    document_number = StringField(
        _l("Receipt or invoice number"),
        validators=[InputRequired(), Length(max=50)],
        render_kw={"autocomplete": "off"},
    )
    issued_on = DateField(_l("Date of the receipt"), validators=[InputRequired()])
    amount_cents = EuroField(
        _l("Amount paid (€)"),
        validators=[InputRequired()],
        description=_l("The total on the receipt, for example 120,50."),
    )
