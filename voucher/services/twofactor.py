"""Two-factor authentication with time-based one-time codes (TOTP, RFC 6238).

Staff who decide on money and see everyone's data (operators, network officers, admins)
confirm signing in with a six-digit code from an authenticator app. A code is accepted
once: the last accepted time step is stored and moved forward by a conditional UPDATE,
so two requests racing with the same code cannot both pass.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterable

import pyotp
import segno
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, update
from sqlalchemy.orm import Session

from voucher.models import User
from voucher.models.base import utcnow
from voucher.services import audit
from voucher.services.errors import IllegalTransition, ValidationFailed

STEP = 30
# One step either side: a phone's clock a little off still works.
WINDOW = 1


def required(user: User, roles: Iterable[str]) -> bool:
    """Whether ``user``'s role must confirm signing in with a code."""
    return user.role.value in set(roles)


def enrolled(user: User) -> bool:
    """Whether ``user`` has confirmed an authenticator app."""
    return user.totp_secret is not None and user.totp_confirmed_at is not None


def new_secret() -> str:
    """A fresh random shared secret (160 bits, base32)."""
    return pyotp.random_base32(32)


def provisioning_uri(user: User, secret: str, issuer: str) -> str:
    """The otpauth:// URI an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=issuer)


def qr_svg(uri: str, title: str) -> str:
    """The URI as an SVG QR code, to place in the page (no script, no inline style)."""
    out = io.BytesIO()
    segno.make(uri, error="m").save(
        out, kind="svg", xmldecl=False, svgns=True, scale=5, title=title, svgclass="qr"
    )
    return out.getvalue().decode()


def _matching_step(secret: str, code: str, now: float) -> int | None:
    """The time step ``code`` belongs to (within the window), or None."""
    code = "".join(ch for ch in (code or "") if ch.isdigit())
    if len(code) != 6:
        return None
    totp = pyotp.TOTP(secret)
    current = int(now // STEP)
    for step in range(max(current - WINDOW, 0), current + WINDOW + 1):
        if totp.at(step * STEP) == code:
            return step
    return None


def _wrong_code() -> ValidationFailed:
    return ValidationFailed.single(
        "code", _l("The code is not correct or was already used: wait for the next one.")
    )


def _consume(session: Session, user: User, step: int) -> None:
    """Record ``step`` as used, if no later or equal step was used before; else refuse."""
    result = session.execute(
        update(User)
        .where(
            User.id == user.id,
            or_(User.totp_last_step.is_(None), User.totp_last_step < step),
        )
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise _wrong_code()
    user.totp_last_step = step


def verify(session: Session, user: User, code: str, now: float | None = None) -> None:
    """Accept ``code`` for an enrolled user once, or raise ValidationFailed."""
    if not enrolled(user):
        raise IllegalTransition(_l("Two-factor authentication is not set up for this account."))
    step = _matching_step(user.totp_secret or "", code, time.time() if now is None else now)
    try:
        if step is None:
            raise _wrong_code()
        _consume(session, user, step)
    except ValidationFailed:
        # Wrong or replayed: either way someone who knows the password is trying.
        audit.record(session, "user.two_factor_failed", user, actor=user)
        raise


def enrol(session: Session, user: User, secret: str, code: str, now: float | None = None) -> None:
    """Confirm an authenticator app showing ``secret`` with one of its codes."""
    if enrolled(user):
        raise IllegalTransition(_l("Two-factor authentication is already set up."))
    step = _matching_step(secret, code, time.time() if now is None else now)
    if step is None:
        raise ValidationFailed.single(
            "code", _l("The code is not correct: check the app's clock and try the next one.")
        )
    user.totp_secret = secret
    user.totp_confirmed_at = utcnow()
    user.totp_last_step = step
    audit.record(session, "user.two_factor_enrol", user, actor=user)


def reset(session: Session, user: User, actor: User) -> None:
    """Remove a lost authenticator: the person sets up a new one at the next sign-in."""
    user.totp_secret = None
    user.totp_confirmed_at = None
    user.totp_last_step = None
    # Whoever holds the old phone must not stay signed in.
    user.session_version += 1
    audit.record(session, "user.two_factor_reset", user, actor=actor)
