"""Validation and normalisation of Italian tax codes, VAT numbers, IBANs and BICs."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.it import codicefiscale, iva

from voucher.services.errors import ValidationFailed


def person_tax_code(value: str, field: str = "tax_code") -> str:
    """Return a person's codice fiscale in canonical form, or raise ValidationFailed."""
    try:
        code = codicefiscale.validate(value)
    except StdnumError:
        raise ValidationFailed.single(
            field, _l("This is not a valid codice fiscale: check the 16 characters.")
        ) from None
    if len(code) != 16:
        raise ValidationFailed.single(field, _l("A person's codice fiscale has 16 characters."))
    return code


def organisation_tax_code(value: str, field: str = "tax_code") -> str:
    """Return an organisation's codice fiscale (11 digits or, for a sole trader, 16 characters)."""
    compact = codicefiscale.compact(value or "")
    try:
        if len(compact) == 11:
            return iva.validate(compact)
        return codicefiscale.validate(compact)
    except StdnumError:
        raise ValidationFailed.single(
            field, _l("This is not a valid codice fiscale of an organisation.")
        ) from None


def vat_number(value: str, field: str = "vat_number") -> str:
    """Return an Italian partita IVA (11 digits, check digit verified), or raise."""
    try:
        return iva.validate(value)
    except StdnumError:
        raise ValidationFailed.single(
            field, _l("This is not a valid partita IVA: it has 11 digits and a check digit.")
        ) from None


def iban(value: str, field: str = "iban") -> str:
    """Return a validated IBAN in compact form, or raise ValidationFailed."""
    try:
        return IBAN(value).compact
    except (SchwiftyException, ValueError):
        raise ValidationFailed.single(
            field, _l("This is not a valid IBAN: check the country code and the digits.")
        ) from None


def bic(value: str, field: str = "bic") -> str:
    """Return a validated BIC (SWIFT code), or raise ValidationFailed."""
    try:
        return str(BIC(value))
    except (SchwiftyException, ValueError):
        raise ValidationFailed.single(field, _l("This is not a valid BIC (SWIFT) code.")) from None


def mask_iban(value: str | None) -> str:
    """Show only the country code and the last four characters of an IBAN."""
    if not value:
        return ""
    return f"{value[:2]}•• •••• {value[-4:]}"
