"""Forms of the provider area: a service, slots, cancelling and issuing a statement.

Field names are the keyword arguments of the services in ``voucher.services.catalogue``
and ``voucher.services.bookings`` so that ``apply_errors`` puts each message next to its
field. The services check the rules; the forms parse and bound lengths.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from voucher.blueprints.admin.forms import EuroField
from voucher.services import catalogue


class ServiceForm(FlaskForm):
    title = StringField(_l("Name"), validators=[InputRequired(), Length(max=200)])
    kind = SelectField(
        _l("Kind of service"),
        choices=[SelectChoice(k.value, label) for k, label in catalogue.KIND_LABELS.items()],
    )
    description = TextAreaField(
        _l("Description"),
        validators=[Optional(), Length(max=5000)],
        description=_l("What the worker gets, and how it works (pick-up, delivery…)."),
    )
    unit = SelectField(
        _l("Price per"),
        choices=[SelectChoice(u.value, label) for u, label in catalogue.UNIT_LABELS.items()],
    )
    price_cents = EuroField(
        _l("Price per unit (€)"),
        validators=[InputRequired()],
        description=_l("VAT included, for example 3,50."),
    )
    place = StringField(
        _l("Place"),
        validators=[Optional(), Length(max=200)],
        description=_l("Address where the service is delivered or collected."),
    )
    minutes_saved_per_unit = IntegerField(
        _l("Minutes saved per unit"),
        default=0,
        validators=[Optional(), NumberRange(min=0, max=catalogue.MAX_MINUTES_SAVED)],
        description=_l("How much time one unit saves a worker: the Region counts it."),
    )
    cancellation_hours = IntegerField(
        _l("Free cancellation until (hours before the slot)"),
        default=24,
        validators=[Optional(), NumberRange(min=0, max=catalogue.MAX_CANCELLATION_HOURS)],
    )
    accepts_card = BooleanField(_l("Co-payments by card (Stripe)"))
    active = BooleanField(_l("Bookable"), default=True)


class SlotForm(FlaskForm):
    day = DateField(_l("Day"), validators=[InputRequired()])
    start = TimeField(_l("From"), validators=[InputRequired()])
    end = TimeField(_l("To"), validators=[InputRequired()])
    capacity = IntegerField(
        _l("Bookings it takes"),
        default=1,
        validators=[InputRequired(), NumberRange(min=1, max=catalogue.MAX_CAPACITY)],
        render_kw={"inputmode": "numeric"},
    )
    weeks = IntegerField(
        _l("Repeat for this many weeks"),
        default=1,
        validators=[Optional(), NumberRange(min=1, max=catalogue.MAX_WEEKS)],
        render_kw={"inputmode": "numeric"},
    )


class ProviderCancelForm(FlaskForm):
    reason = TextAreaField(
        _l("Why the booking is cancelled"),
        validators=[InputRequired(), Length(max=500)],
        description=_l("The worker reads it; a card payment is refunded."),
    )


class IssueStatementForm(FlaskForm):
    alliance_id = IntegerField(validators=[InputRequired()])
    month = DateField(validators=[InputRequired()])
