"""The worker's booking form of a time-saving service.

Field names are the keyword arguments of ``voucher.services.bookings.book`` (plus the
slot and the voucher) so that ``apply_errors`` puts each message next to its field.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, RadioField, SelectField
from wtforms.validators import InputRequired, NumberRange

from voucher.services.bookings import MAX_QUANTITY


class BookForm(FlaskForm):
    # Choices are set by the view from the slots with room left and the usable vouchers.
    slot_id = RadioField(_l("When"), coerce=int, validators=[InputRequired()])
    quantity = IntegerField(
        _l("Quantity"),
        default=1,
        validators=[InputRequired(), NumberRange(min=1, max=MAX_QUANTITY)],
        render_kw={"inputmode": "numeric", "min": 1, "max": MAX_QUANTITY},
    )
    voucher_id = SelectField(_l("Voucher that pays its share"), coerce=int)


class CancelForm(FlaskForm):
    """Only the CSRF token: the worker's cancellation needs no reason."""
