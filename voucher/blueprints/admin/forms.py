"""Forms of the admin area, and the euro-amount field they share.

Field names are the keyword arguments of ``voucher.services.structure`` so that
``apply_errors`` can put each service message next to the field it is about.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from flask_babel import format_decimal
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, InputRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from voucher.models import (
    Allocation,
    Eligibility,
    MeasureKind,
    OrganisationKind,
    OrganisationSize,
    Role,
)
from voucher.services.accounts import MIN_PASSWORD_LENGTH
from voucher.services.labels import MEASURE_KIND_LABELS, ORGANISATION_SIZE_LABELS

# --- euro amounts -----------------------------------------------------------------------

# Far above any real budget, and far below what a BIGINT column holds.
MAX_EUROS = Decimal("1000000000000")

_INVALID_AMOUNT = _l("Enter an amount in euros, for example 1.234,56.")
_GROUPED = re.compile(r"[1-9]\d{0,2}(?:\.\d{3})+")


def parse_euros(text: str) -> int:
    """Turn an amount typed in euros into integer cents; raise ValueError if it is not one.

    Accepts "1.234,56" (Italian), "1234,56", "1234.56", "1,234.56" and "€ 1.234". When both
    separators appear the last one is the decimal mark; a lone dot followed by exactly three
    digits ("1.234") is read the Italian way, as a thousands separator.
    """
    match = re.fullmatch(
        r"([+-]?)([\d.,]+)", re.sub(r"[\s\u00a0\u202f€]", "", text or "").removeprefix("EUR")
    )
    if match is None:
        raise ValueError(_INVALID_AMOUNT)
    sign = -1 if match[1] == "-" else 1
    value = match[2]
    if "," in value and "." in value:
        decimal_mark = "," if value.rfind(",") > value.rfind(".") else "."
    elif value.count(",") == 1:
        decimal_mark = ","
    elif value.count(".") == 1 and not _GROUPED.fullmatch(value):
        decimal_mark = "."
    else:
        decimal_mark = None
    thousands_mark = "." if decimal_mark != "." else ","
    whole, _sep, fraction = value.partition(decimal_mark) if decimal_mark else (value, "", "")
    if thousands_mark in whole:
        if not _GROUPED.fullmatch(whole.replace(thousands_mark, ".")):
            raise ValueError(_INVALID_AMOUNT)
        whole = whole.replace(thousands_mark, "")
    if not whole.isdigit() or (fraction and not fraction.isdigit()) or (_sep and not fraction):
        raise ValueError(_INVALID_AMOUNT)
    if len(fraction) > 2:
        raise ValueError(_l("Euro amounts have at most two decimals (cents)."))
    amount = Decimal(f"{whole}.{fraction or '0'}")
    if amount >= MAX_EUROS:
        raise ValueError(_l("This amount is too large."))
    return sign * int(amount * 100)


def format_euros(cents: int | None) -> str:
    """Cents as a plain number in the current locale, the way a person would type it back."""
    if cents is None:
        return ""
    return format_decimal(Decimal(cents) / 100, format="#,##0.00")


class EuroField(StringField):
    """A text input for an amount in euros; ``data`` is integer cents (None when empty)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("render_kw", {}).setdefault("inputmode", "decimal")
        super().__init__(*args, **kwargs)

    def process_data(self, value: Any) -> None:
        self.data = value

    def process_formdata(self, valuelist: list[str]) -> None:
        if not valuelist:
            return
        # Stripped so that InputRequired treats blanks as missing.
        self.raw_data = [valuelist[0].strip()]
        self.data = None
        if self.raw_data[0]:
            # A ValueError becomes this field's error; the typed text stays in the input.
            self.data = parse_euros(self.raw_data[0])

    def _value(self) -> str:
        if self.raw_data:
            return self.raw_data[0]
        return format_euros(self.data)


# --- select helpers ---------------------------------------------------------------------


def optional_int(value: Any) -> int | None:
    """Coerce a select's value to an id, with the empty choice meaning "none"."""
    if value in (None, ""):
        return None
    return int(value)


EMPTY_CHOICE = SelectChoice("", "—")

ROLE_LABELS = {
    Role.WORKER: _l("Worker"),
    Role.HR: _l("HR officer"),
    Role.OPERATOR: _l("Alliance operator"),
    Role.NETWORK: _l("Network officer (ATS)"),
    Role.PROVIDER: _l("Service provider"),
    Role.ADMIN: _l("Administrator"),
}
ORGANISATION_KIND_LABELS = {
    OrganisationKind.PUBLIC_BODY: _l("Public body"),
    OrganisationKind.COMPANY: _l("Company"),
    OrganisationKind.COOPERATIVE: _l("Cooperative"),
    OrganisationKind.ASSOCIATION: _l("Association"),
}
ALLOCATION_LABELS = {
    Allocation.FIRST_COME: _l("First come, first served while budget lasts"),
    Allocation.MANUAL: _l("Decided by an operator"),
}
ELIGIBILITY_LABELS = {
    Eligibility.PARTNER_EMPLOYEES: _l("Employees of the alliance's partners"),
    Eligibility.RESIDENTS: _l("Residents of an area"),
}


def _choices(labels: dict[Any, Any]) -> list[SelectChoice]:
    return [SelectChoice(member.value, label) for member, label in labels.items()]


class MultiCheckboxField(SelectMultipleField):
    """A multiple choice shown as checkboxes, easier than a multi-select on a phone."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


# --- forms ------------------------------------------------------------------------------


class ProgrammeForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    legal_reference = StringField(
        _l("Legal reference"),
        validators=[DataRequired(), Length(max=200)],
        description=_l("For example: DGR n. 2398 del 11/11/2019."),
    )
    description = TextAreaField(_l("Description"), validators=[Optional()])
    starts_on = DateField(_l("Starts on"), validators=[InputRequired()])
    ends_on = DateField(_l("Ends on"), validators=[InputRequired()])
    max_regional_share_pct = IntegerField(
        _l("Maximum regional share (%)"), default=70, validators=[InputRequired()]
    )
    regional_cap_cents = EuroField(
        _l("Cap on the regional share per project (€)"),
        validators=[Optional()],
        description=_l("Leave empty if the programme has no cap."),
    )


class NetworkForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    ats_name = StringField(
        _l("Leading ATS"),
        validators=[DataRequired(), Length(max=200)],
        description=_l("For example: ATS dell'Insubria."),
    )
    territory = StringField(_l("Territory"), validators=[Optional(), Length(max=200)])


class OrganisationForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    kind = SelectField(
        _l("Kind"), choices=_choices(ORGANISATION_KIND_LABELS), coerce=OrganisationKind
    )
    size = SelectField(
        _l("Size"), choices=_choices(ORGANISATION_SIZE_LABELS), coerce=OrganisationSize
    )
    tax_code = StringField(
        _l("Codice fiscale"),
        validators=[DataRequired(), Length(max=20)],
        description=_l("11 digits, or 16 characters for a sole trader."),
    )
    vat_number = StringField(_l("Partita IVA"), validators=[Optional(), Length(max=20)])
    municipality = StringField(_l("Municipality"), validators=[Optional(), Length(max=120)])
    email = EmailField(_l("E-mail"), validators=[Optional(), Email(), Length(max=254)])
    iban = StringField(
        _l("IBAN"),
        validators=[Optional(), Length(max=50)],
        description=_l("Needed when the organisation leads an alliance that pays out."),
    )
    bic = StringField(_l("BIC (SWIFT)"), validators=[Optional(), Length(max=20)])


class AllianceForm(FlaskForm):
    network = SelectField(_l("Network"), coerce=int, validators=[InputRequired()])
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    # Offered only public bodies, but any id is let through so the service can say why
    # another organisation cannot lead.
    lead = SelectField(
        _l("Lead partner (capofila)"),
        coerce=optional_int,
        validate_choice=False,
        validators=[InputRequired()],
        description=_l("Must be a public body."),
    )
    partners = MultiCheckboxField(
        _l("Partners"),
        coerce=int,
        description=_l("At least four organisations, the lead included, one of them public."),
    )


class ProjectForm(FlaskForm):
    alliance = SelectField(_l("Alliance"), coerce=int, validators=[InputRequired()])
    programme = SelectField(_l("Programme"), coerce=int, validators=[InputRequired()])
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=300)])
    code = StringField(
        _l("Code"),
        validators=[Optional(), Length(max=40)],
        description=_l("The identifier the Region gave the project, if any."),
    )
    description = TextAreaField(_l("Description"), validators=[Optional()])
    starts_on = DateField(_l("Starts on"), validators=[InputRequired()])
    ends_on = DateField(_l("Ends on"), validators=[InputRequired()])
    total_cents = EuroField(_l("Total cost (€)"), validators=[InputRequired()])
    regional_share_cents = EuroField(_l("Regional share (€)"), validators=[InputRequired()])
    cofunding_cents = EuroField(
        _l("Partners' co-funding (€)"),
        validators=[InputRequired()],
        description=_l("Regional share and co-funding add up to the total cost."),
    )


class MeasureForm(FlaskForm):
    project = SelectField(_l("Project"), coerce=int, validators=[InputRequired()])
    kind = SelectField(_l("Kind"), choices=_choices(MEASURE_KIND_LABELS), coerce=MeasureKind)
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    description = TextAreaField(_l("Description"), validators=[Optional()])
    documents_required = TextAreaField(
        _l("Documents required"),
        validators=[Optional()],
        description=_l("What a worker must upload, in plain words."),
    )
    eligibility = SelectField(
        _l("Who may apply"), choices=_choices(ELIGIBILITY_LABELS), coerce=Eligibility
    )
    residence_area = StringField(
        _l("Municipalities of residence"),
        validators=[Optional(), Length(max=500)],
        description=_l("Only when residents may apply."),
    )
    reimbursement_rate_pct = IntegerField(
        _l("Reimbursement rate (%)"), default=100, validators=[InputRequired()]
    )
    cap_per_voucher_cents = EuroField(_l("Cap per voucher (€)"), validators=[InputRequired()])
    cap_per_worker_year_cents = EuroField(
        _l("Cap per worker per year (€)"),
        validators=[Optional()],
        description=_l("Leave empty for no yearly cap."),
    )
    opens_on = DateField(_l("Applications open on"), validators=[InputRequired()])
    closes_on = DateField(_l("Applications close on"), validators=[InputRequired()])
    allocation = SelectField(
        _l("How vouchers are granted"),
        choices=_choices(ALLOCATION_LABELS),
        coerce=Allocation,
        default=Allocation.MANUAL.value,
    )
    allocated_cents = EuroField(_l("Budget allocated (€)"), validators=[InputRequired()])
    four_eyes_threshold_cents = EuroField(
        _l("Second operator needed above (€)"),
        validators=[Optional()],
        description=_l("Claims above this amount need a second operator's approval."),
    )


class UserForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Email(), Length(max=254)])
    first_name = StringField(_l("First name"), validators=[DataRequired(), Length(max=100)])
    last_name = StringField(_l("Last name"), validators=[DataRequired(), Length(max=100)])
    role = SelectField(_l("Role"), choices=_choices(ROLE_LABELS), coerce=Role)
    # Required on creation by the service, which knows whether the account is new.
    password = PasswordField(
        _l("Password"),
        validators=[Optional(), Length(max=200)],
        description=_l(
            "At least %(count)d characters. When editing, leave empty to keep the current one.",
            count=MIN_PASSWORD_LENGTH,
        ),
    )
    tax_code = StringField(
        _l("Codice fiscale"),
        validators=[Optional(), Length(max=20)],
        description=_l("Required for workers."),
    )
    organisation = SelectField(
        _l("Organisation"),
        coerce=optional_int,
        description=_l("For HR officers and service providers."),
    )
    alliance = SelectField(
        _l("Alliance"), coerce=optional_int, description=_l("For alliance operators.")
    )
    network = SelectField(
        _l("Network"), coerce=optional_int, description=_l("For network officers.")
    )
    active = BooleanField(_l("Active (can sign in)"), default=True)
