"""The worker's own profile: name, phone, language and the IBAN reimbursements go to."""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from voucher.models import User
from voucher.services import audit, identifiers, notifications
from voucher.services.errors import ValidationFailed

# The languages the interface is translated into (config LANGUAGES says the same).
LOCALES = ("it", "en")
NAME_MAX = 100
PHONE_MAX = 30
# A phone number as people type it: digits, spaces, "+", "-", ".", "/" and brackets.
_PHONE_CHARS = re.compile(r"[0-9 +\-./()]+")

# Verification reads the algorithm's parameters from the stored hash, so this instance
# checks any hash that voucher.services.accounts made.
_verifier = PasswordHasher()


def _name(value: str | None, field: str, errors: dict[str, list]) -> str:
    text = " ".join((value or "").split())
    if not text:
        errors.setdefault(field, []).append(_l("This field is required."))
    elif len(text) > NAME_MAX:
        errors.setdefault(field, []).append(_l("Use at most %(count)d characters.", count=NAME_MAX))
    return text


def _phone(value: str | None, errors: dict[str, list]) -> str:
    text = " ".join((value or "").split())
    if not text:
        return ""
    digits = sum(c.isdigit() for c in text)
    if len(text) > PHONE_MAX or not _PHONE_CHARS.fullmatch(text) or not 6 <= digits <= 15:
        errors.setdefault("phone", []).append(
            _l("This is not a phone number: use digits, for example +39 333 1234567.")
        )
    return text


def update_profile(
    session: Session,
    worker: User,
    *,
    first_name: str,
    last_name: str,
    phone: str,
    locale: str,
) -> None:
    """Change the worker's name, phone and language (not codice fiscale nor e-mail)."""
    errors: dict[str, list] = {}
    values = {
        "first_name": _name(first_name, "first_name", errors),
        "last_name": _name(last_name, "last_name", errors),
        "phone": _phone(phone, errors),
        "locale": locale,
    }
    if locale not in LOCALES:
        errors.setdefault("locale", []).append(_l("Choose Italiano or English."))
    if errors:
        raise ValidationFailed(errors)
    changed = sorted(name for name, value in values.items() if getattr(worker, name) != value)
    if not changed:
        return
    for name in changed:
        setattr(worker, name, values[name])
    # Only which fields changed: the values are in the row itself.
    audit.record(session, "user.profile_update", worker, actor=worker, fields=changed)


def password_matches(user: User, password: str | None) -> bool:
    """Whether ``password`` is the user's current password."""
    try:
        return _verifier.verify(user.password_hash, password or "")
    except (VerificationError, InvalidHashError):
        return False


def change_iban(session: Session, worker: User, *, iban: str, password: str) -> None:
    """Set the IBAN reimbursements are paid to, after checking the current password."""
    errors: dict[str, list] = {}
    new_iban = None
    try:
        new_iban = identifiers.iban(iban)
    except ValidationFailed as exc:
        errors.update(exc.errors)
    if not password_matches(worker, password):
        errors.setdefault("password", []).append(_l("The password is not correct."))
    if errors:
        raise ValidationFailed(errors)
    old_iban = worker.iban
    if new_iban == old_iban:
        return
    worker.iban = new_iban
    # Masked on purpose: the audit trail is read by more people than the account holder.
    audit.record(
        session,
        "user.iban_change",
        worker,
        actor=worker,
        old=identifiers.mask_iban(old_iban),
        new=identifiers.mask_iban(new_iban),
    )
    # Where refunds go is what a thief would change: the owner hears of it at once.
    masked = identifiers.mask_iban(new_iban)
    notifications.notify(
        session,
        worker,
        lambda: _("Your IBAN has been changed"),
        lambda: _(
            "The IBAN your reimbursements are paid to is now %(iban)s. If you did not "
            "change it, reset your password at once and tell the alliance's operators.",
            iban=masked,
        ),
    )
