"""Translated names of the domain's enumerations that pages, forms and exports share.

They live with the services because exports (XLSX, PDF, CSV) print them too; the admin
forms import them from here.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from voucher.models import MeasureKind, OrganisationSize

ORGANISATION_SIZE_LABELS = {
    OrganisationSize.MICRO: _l("Micro (fewer than 10 staff)"),
    OrganisationSize.SMALL: _l("Small (fewer than 50 staff)"),
    OrganisationSize.MEDIUM: _l("Medium (fewer than 250 staff)"),
    OrganisationSize.LARGE: _l("Large (250 staff or more)"),
}
MEASURE_KIND_LABELS = {
    MeasureKind.CHILDCARE: _l("Childcare"),
    MeasureKind.AFTER_SCHOOL: _l("After-school and extended hours"),
    MeasureKind.SUMMER_CAMP: _l("Summer camp"),
    MeasureKind.HOME_CARE: _l("Home care for relatives"),
    MeasureKind.HOSPITAL_ASSISTANCE: _l("Hospital assistance"),
    MeasureKind.FAMILY_VOUCHER: _l("Family voucher"),
    MeasureKind.TIME_SAVING: _l("Time-saving service"),
    MeasureKind.COWORKING: _l("Coworking"),
    MeasureKind.WELFARE_CONSULTING: _l("Welfare consulting for companies"),
    MeasureKind.ORIENTATION: _l("Orientation desk"),
}
