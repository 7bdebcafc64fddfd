"""The form a worker fills in to apply for a voucher.

Field names are the keyword arguments of ``voucher.services.applications.start`` so that
``apply_errors`` puts each service message next to the field it is about. Which family
member suits the measure, and whether one is needed, is checked by the service.
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from voucher.blueprints.admin.forms import EuroField
from voucher.models import Dependant, Measure
from voucher.services.applications import MAX_NOTES

# The radio value meaning "the service is for me, not for a family member".
NOBODY = 0


def _int_or_none(value: Any) -> int | None:
    if value in (None, ""):
        return None
    return int(value)


class ApplicationForm(FlaskForm):
    # validate_choice=False: the service says in plain words what is wrong with the choice.
    dependant = RadioField(
        _l("Who is the service for?"), coerce=_int_or_none, validate_choice=False
    )
    amount_requested_cents = EuroField(
        _l("Amount you ask for (€)"),
        validators=[InputRequired(message=_l("Enter the amount you ask for."))],
    )
    municipality = SelectField(
        _l("Where do you live?"),
        validators=[InputRequired(message=_l("Say where you live."))],
    )
    notes = TextAreaField(
        _l("Anything the alliance should know (optional)"),
        validators=[Optional(), Length(max=MAX_NOTES)],
        description=_l("For example the service or the dates you need. No health details."),
    )

    def setup(
        self,
        measure: Measure,
        dependants: list[Dependant],
        *,
        dependant_required: bool,
        municipalities: list[str] | None,
    ) -> ApplicationForm:
        """Fill the choices for this measure and drop the fields it does not use."""
        choices: list[tuple[int, str]] = [
            (d.id, f"{d.first_name} {d.last_name}") for d in dependants
        ]
        if not dependant_required:
            choices.insert(0, (NOBODY, str(_l("Me, or my family as a whole"))))
        self.dependant.choices = choices
        if municipalities:
            self.municipality.choices = [("", str(_l("Choose…")))] + [
                (m, m) for m in municipalities
            ]
        else:
            del self.municipality
        return self

    @property
    def dependant_id(self) -> int | None:
        """The chosen family member's id (None for "me" or no choice)."""
        value = self.dependant.data
        return None if value in (None, NOBODY) else value
