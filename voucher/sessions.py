"""Signed-in sessions: idle and absolute timeouts, and the half-way state of two-factor sign-in.

The session cookie is signed (Flask) and carries the user's session version (see
``User.get_id``), so a password change, a role change or a suspension ends every other
session. On top of that, each session records when it signed in and when it was last
used: past ``SESSION_IDLE_TIMEOUT`` without a request, or ``SESSION_ABSOLUTE_TIMEOUT``
after signing in, it is over. A "remember me" cookie (workers only) starts a new session
when the old one has ended, which is what it is for.
"""

from __future__ import annotations

import time
from collections.abc import Callable, MutableMapping
from typing import Any

from flask import Flask, current_app, flash, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, logout_user, user_loaded_from_cookie, user_logged_in
from sqlalchemy.orm import Session

from voucher.models import User
from voucher.models.user import parse_session_id

AUTH_AT = "auth_at"
SEEN_AT = "seen_at"
REMEMBERED = "remembered"
PENDING = "second_factor"
SECRET_KEY_NAME = "second_factor_secret"  # noqa: S105 - a session key, not a secret
# Minutes to type the code after the password; then the password is asked again.
PENDING_SECONDS = 300
# Refresh the "last seen" stamp at most this often, so most responses leave the cookie
# unchanged (no Set-Cookie on every request).
SEEN_RESOLUTION = 60


def restart(store: MutableMapping[str, Any]) -> None:
    """Sign out and start an empty session (no fixation), keeping the chosen language."""
    if current_user.is_authenticated:
        logout_user()
    lang = store.get("lang")
    store.clear()
    if lang:
        store["lang"] = lang


def stamp_login(
    store: MutableMapping[str, Any], remember: bool = False, now: float | None = None
) -> None:
    """Record that the session signed in now (and whether the device is remembered)."""
    now = time.time() if now is None else now
    store[AUTH_AT] = int(now)
    store[SEEN_AT] = int(now)
    store[REMEMBERED] = remember


def expired(store: MutableMapping[str, Any], now: float | None = None) -> bool:
    """Whether a signed-in session is past its idle or absolute timeout."""
    now = time.time() if now is None else now
    config = current_app.config
    signed_in, seen = store.get(AUTH_AT), store.get(SEEN_AT)
    if not isinstance(signed_in, int) or not isinstance(seen, int):
        return True
    idle = config["SESSION_IDLE_TIMEOUT"].total_seconds()
    absolute = config["SESSION_ABSOLUTE_TIMEOUT"].total_seconds()
    if store.get(REMEMBERED):
        # A worker asked to stay signed in on their own phone: the remember-me lifetime
        # (a week) bounds the session instead.
        idle = absolute = config["REMEMBER_COOKIE_DURATION"].total_seconds()
    return now - seen > idle or now - signed_in > absolute


def begin_second_factor(
    store: MutableMapping[str, Any], user: User, remember: bool, target: str | None
) -> None:
    """Remember, for a few minutes, who gave the right password and owes a code."""
    store[PENDING] = {
        "user": user.get_id(),
        "remember": remember,
        "next": target or "",
        "since": int(time.time()),
    }


def pending_second_factor(store: MutableMapping[str, Any], db_session: Session) -> User | None:
    """The account waiting for its code, if the wait has not run out."""
    pending = store.get(PENDING)
    if not isinstance(pending, dict) or time.time() - pending.get("since", 0) > PENDING_SECONDS:
        store.pop(PENDING, None)
        store.pop(SECRET_KEY_NAME, None)
        return None
    parsed = parse_session_id(str(pending.get("user", "")))
    if parsed is None:
        return None
    user = db_session.get(User, parsed[0])
    # A password change or suspension meanwhile ends the attempt too.
    if user is None or not user.active or user.session_version != parsed[1]:
        store.pop(PENDING, None)
        return None
    return user


def setup_secret(store: MutableMapping[str, Any], make: Callable[[], str]) -> str:
    """The secret shown while setting up the app: one per attempt, kept until confirmed."""
    if not isinstance(store.get(SECRET_KEY_NAME), str):
        store[SECRET_KEY_NAME] = make()
    return store[SECRET_KEY_NAME]


def end_second_factor(store: MutableMapping[str, Any]) -> tuple[bool, str | None]:
    """Forget the half-way state; say whether to remember the device, and where to go."""
    pending = store.pop(PENDING, None) or {}
    store.pop(SECRET_KEY_NAME, None)
    return bool(pending.get("remember")), pending.get("next") or None


def init_app(app: Flask) -> None:
    """End sessions past their timeouts, and stamp those a remember-me cookie restores."""

    @user_logged_in.connect_via(app)
    def signed_in(_app: Flask, user: User) -> None:
        # Every login_user() (sign-in, registration, two-factor) starts the clocks;
        # Flask-Login has already marked a remembered sign-in when it sends this.
        stamp_login(session, remember=session.get("_remember") == "set")

    @user_loaded_from_cookie.connect_via(app)
    def restored(_app: Flask, user: User) -> None:
        stamp_login(session, remember=True)

    @app.before_request
    def enforce_timeouts() -> Any:
        if request.endpoint == "static" or not current_user.is_authenticated:
            return None
        now = time.time()
        if expired(session, now):
            restart(session)
            flash(_("For your security you have been signed out: sign in again."), "info")
            # Back to the same page after signing in again, if it was a page (not a form).
            target = request.full_path.rstrip("?") if request.method == "GET" else None
            return redirect(url_for("auth.login", next=target))
        if now - session.get(SEEN_AT, 0) >= SEEN_RESOLUTION:
            session[SEEN_AT] = int(now)
        return None
