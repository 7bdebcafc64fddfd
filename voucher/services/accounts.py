"""Accounts: registration, password hashing, authentication and password reset."""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.orm import Session, defer, joinedload

from voucher.crypto import blind_index
from voucher.models import Employment, Role, User
from voucher.models.base import utcnow
from voucher.services import audit, identifiers
from voucher.services.errors import ValidationFailed

_hasher = PasswordHasher()
MIN_PASSWORD_LENGTH = 10
_RESET_SALT = "password-reset"
_ACTIVATION_SALT = "account-activation"

# Verified against when the e-mail is unknown, so a login takes as long either way and
# timing does not reveal which addresses have an account.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def normalise_email(email: str) -> str:
    """Lower-case and trim an e-mail address, as it is stored."""
    return (email or "").strip().lower()


def hash_password(password: str) -> str:
    """Hash a password with argon2id."""
    return _hasher.hash(password)


def check_password_strength(password: str, field: str = "password") -> None:
    """Refuse passwords too short to resist guessing."""
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise ValidationFailed.single(
            field,
            _l("Use at least %(count)d characters.", count=MIN_PASSWORD_LENGTH),
        )


def email_taken(session: Session, email: str, exclude_id: int | None = None) -> bool:
    """Whether another account already uses this e-mail address."""
    stmt = select(func.count()).select_from(User).where(User.email == normalise_email(email))
    if exclude_id is not None:
        stmt = stmt.where(User.id != exclude_id)
    return session.scalar(stmt) > 0


@dataclass(frozen=True)
class Registration:
    first_name: str
    last_name: str
    email: str
    tax_code: str
    password: str
    locale: str | None = None


class Outcome(enum.StrEnum):
    """What a registration did. The person registering is told the same in every case
    ("check your inbox"), so the form does not reveal who has an account; only the
    e-mail that follows differs, and it goes to the owner of the address."""

    CREATED = "created"  # new account: activation link to the address given
    NOT_ACTIVATED = "not_activated"  # registered before, never activated: the link again
    EMAIL_TAKEN = "email_taken"  # tell the owner of the address someone tried
    TAX_CODE_TAKEN = "tax_code_taken"  # tell the existing account's owner someone tried


@dataclass(frozen=True)
class Registered:
    outcome: Outcome
    # The account the e-mail is about: the new one, or the one that already existed.
    user: User


def register_worker(session: Session, data: Registration) -> Registered:
    """Register a worker, to be activated from the e-mail; format errors raise ValidationFailed."""
    errors: dict[str, list] = {}
    tax_code = None
    try:
        tax_code = identifiers.person_tax_code(data.tax_code)
    except ValidationFailed as exc:
        errors.update(exc.errors)
    try:
        check_password_strength(data.password)
    except ValidationFailed as exc:
        errors.update(exc.errors)
    if errors:
        raise ValidationFailed(errors)
    # Hash in every case, so the answer takes as long whether the account exists or not.
    password_hash = hash_password(data.password)
    existing = find_by_email(session, data.email)
    if existing is not None:
        outcome = Outcome.NOT_ACTIVATED if existing.awaiting_activation else Outcome.EMAIL_TAKEN
        audit.record(session, "user.register_again", existing, actor=None, outcome=outcome.value)
        return Registered(outcome, existing)
    holder = session.scalar(select(User).where(User.tax_code_index == blind_index(tax_code)))
    if holder is not None:
        audit.record(session, "user.register_tax_code_taken", holder, actor=None)
        return Registered(Outcome.TAX_CODE_TAKEN, holder)
    user = User(
        email=normalise_email(data.email),
        password_hash=password_hash,
        first_name=data.first_name.strip(),
        last_name=data.last_name.strip(),
        tax_code=tax_code,
        locale=data.locale,
        role=Role.WORKER,
        awaiting_activation=True,
    )
    session.add(user)
    audit.record(session, "user.register", user, actor=None)
    return Registered(Outcome.CREATED, user)


def make_activation_token(user: User, secret_key: str) -> str:
    """A signed token that activates ``user``'s account (it proves the address)."""
    return URLSafeTimedSerializer(secret_key, salt=_ACTIVATION_SALT).dumps(
        {"uid": user.id, "email": user.email}
    )


def activate(session: Session, token: str, secret_key: str, max_age: int) -> User | None:
    """Activate the account a valid, unexpired token names; None if the link is no good."""
    try:
        data = URLSafeTimedSerializer(secret_key, salt=_ACTIVATION_SALT).loads(
            token, max_age=max_age
        )
    except (SignatureExpired, BadSignature):
        return None
    user = session.get(User, data.get("uid")) if isinstance(data, dict) else None
    if user is None or not user.active or data.get("email") != user.email:
        return None
    address_proven(session, user)
    return user


def address_proven(session: Session, user: User) -> None:
    """The person opened a link sent to the account's address: the account is activated."""
    if user.awaiting_activation:
        user.awaiting_activation = False
        audit.record(session, "user.activate", user, actor=user)


def authenticate(session: Session, email: str, password: str) -> User | None:
    """Return the active user with these credentials, or None."""
    user = session.scalar(select(User).where(User.email == normalise_email(email)))
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.active or user.awaiting_activation:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    return user


def set_password(session: Session, user: User, password: str, actor: User | None) -> None:
    """Change a password and end every other session of that user."""
    check_password_strength(password)
    user.password_hash = hash_password(password)
    user.session_version += 1
    audit.record(session, "user.password_change", user, actor=actor)


def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=_RESET_SALT)


def _password_fingerprint(user: User) -> str:
    # Part of the token: once the password changes, every earlier link stops working.
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def make_reset_token(user: User, secret_key: str) -> str:
    """A signed token that lets its bearer set a new password for ``user`` once."""
    return _serializer(secret_key).dumps({"uid": user.id, "pw": _password_fingerprint(user)})


def user_for_reset_token(
    session: Session, token: str, secret_key: str, max_age: int
) -> User | None:
    """The user a valid, unexpired, unused reset token belongs to, or None."""
    try:
        data = _serializer(secret_key).loads(token, max_age=max_age)
    except (SignatureExpired, BadSignature):
        return None
    user = session.get(User, data.get("uid")) if isinstance(data, dict) else None
    if user is None or not user.active or data.get("pw") != _password_fingerprint(user):
        return None
    return user


def find_by_email(session: Session, email: str) -> User | None:
    """The account with this e-mail address, if any."""
    return session.scalar(select(User).where(User.email == normalise_email(email)))


def signed_in_user(session: Session, user_id: int, role: Role | None = None) -> User | None:
    """The person of a session, with everything a page may need about them in one query:
    their scope and, for workers, their declared employers and family. ``role`` (as the
    session knows it) picks what to load with them; if it is not theirs any more, what
    the page needs loads on use."""
    return session.scalars(_signed_in_user(role), {"user_id": user_id}).unique().first()


# What each role's pages read of the signed-in person besides their own row. Staff have
# no codice fiscale or IBAN to show: those columns are left to load on use rather than
# decrypted on every request.
_STAFF = (defer(User.tax_code), defer(User.iban))
_SIGNED_IN_LOADS = {
    Role.WORKER: (
        joinedload(User.employments).joinedload(Employment.organisation),
        joinedload(User.dependants),
    ),
    Role.OPERATOR: (joinedload(User.alliance), *_STAFF),
    Role.NETWORK: (joinedload(User.network), *_STAFF),
    Role.HR: (joinedload(User.organisation), *_STAFF),
    Role.PROVIDER: (joinedload(User.organisation), *_STAFF),
    Role.ADMIN: _STAFF,
}


@cache
def _signed_in_user(role: Role | None) -> Select:
    # Built once per role: it runs on every request, where building it cost more than
    # running it. Only the role's relationships are joined, as setting up each joined
    # relationship's loading cost more than reading its (often empty) rows.
    loads = _SIGNED_IN_LOADS.get(role) if role is not None else None
    if loads is None:
        loads = (
            joinedload(User.organisation),
            joinedload(User.alliance),
            joinedload(User.network),
            *_SIGNED_IN_LOADS[Role.WORKER],
        )
    return select(User).where(User.id == bindparam("user_id")).options(*loads)
