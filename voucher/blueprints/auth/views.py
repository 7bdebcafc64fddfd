"""Views of the authentication pages."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user
from markupsafe import Markup

from voucher import sessions
from voucher.blueprints.auth import bp
from voucher.blueprints.auth.forms import (
    LoginForm,
    RegisterForm,
    ResetPasswordForm,
    ResetRequestForm,
    TwoFactorForm,
)
from voucher.blueprints.common import apply_errors, home_url_for, is_safe_next
from voucher.extensions import db
from voucher.i18n import current_language
from voucher.models import Role
from voucher.ratelimit import limited
from voucher.services import accounts, audit, twofactor
from voucher.services.errors import ValidationFailed
from voucher.services.mail import send_mail


def _finish_login(user, remember: bool, target: str | None):
    """Sign ``user`` in, audit it and go to the requested page or their own area."""
    audit.record(db.session, "user.login", user, actor=user)
    db.session.commit()
    sessions.restart(session)
    # Remember-me is for workers on their own phone; staff sign in every time.
    login_user(user, remember=remember and user.role is Role.WORKER)
    return redirect(target if is_safe_next(target) else home_url_for(user))


@bp.route("/login", methods=["GET", "POST"])
@limited("login")
def login():
    """Show the login form; on success go to the requested page or the user's own area."""
    if current_user.is_authenticated:
        return redirect(home_url_for(current_user))
    form = LoginForm()
    if form.validate_on_submit():
        user = accounts.authenticate(db.session, form.email.data, form.password.data)
        if user is None:
            # One message whatever was wrong, so the form does not reveal who has an account.
            form.form_errors.append(_("E-mail or password is not correct."))
        elif twofactor.required(user, current_app.config["TWO_FACTOR_ROLES"]):
            # The password is right; the session holds only "waiting for the code" until then.
            sessions.restart(session)
            sessions.begin_second_factor(
                session, user, bool(form.remember.data), request.args.get("next")
            )
            endpoint = "auth.two_factor" if twofactor.enrolled(user) else "auth.two_factor_setup"
            return redirect(url_for(endpoint))
        else:
            return _finish_login(user, bool(form.remember.data), request.args.get("next"))
    return render_template("auth/login.html", form=form)


def _pending_or_redirect():
    """The person who gave the right password and now owes a code, or None."""
    user = sessions.pending_second_factor(session, db.session)
    if user is None:
        flash(_("Sign in again: the time to enter the code has run out."), "warning")
    return user


@bp.route("/two-factor", methods=["GET", "POST"])
@limited("two_factor")
def two_factor():
    """Second step of signing in: the code from the authenticator app."""
    user = _pending_or_redirect()
    if user is None:
        return redirect(url_for("auth.login"))
    if not twofactor.enrolled(user):
        return redirect(url_for("auth.two_factor_setup"))
    form = TwoFactorForm()
    if form.validate_on_submit():
        try:
            twofactor.verify(db.session, user, form.code.data)
        except ValidationFailed as exc:
            db.session.commit()  # keeps the audit record of the failed attempt
            apply_errors(form, exc)
        else:
            remember, target = sessions.end_second_factor(session)
            return _finish_login(user, remember, target)
    return render_template("auth/two_factor.html", form=form)


@bp.route("/two-factor/setup", methods=["GET", "POST"])
@limited("two_factor")
def two_factor_setup():
    """First sign-in of a staff account: link an authenticator app with a QR code."""
    user = _pending_or_redirect()
    if user is None:
        return redirect(url_for("auth.login"))
    if twofactor.enrolled(user):
        return redirect(url_for("auth.two_factor"))
    secret = sessions.setup_secret(session, twofactor.new_secret)
    form = TwoFactorForm()
    if form.validate_on_submit():
        try:
            twofactor.enrol(db.session, user, secret, form.code.data)
        except ValidationFailed as exc:
            db.session.rollback()
            apply_errors(form, exc)
        else:
            remember, target = sessions.end_second_factor(session)
            flash(_("Two-factor authentication is set up."), "success")
            return _finish_login(user, remember, target)
    uri = twofactor.provisioning_uri(user, secret, current_app.config["TWO_FACTOR_ISSUER"])
    return render_template(
        "auth/two_factor_setup.html",
        form=form,
        secret=" ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
        # segno draws the data as path geometry; the only text is our own title.
        qr=Markup(twofactor.qr_svg(uri, _("QR code for the authenticator app"))),  # noqa: S704
    )


@bp.route("/logout", methods=["GET", "POST"])
def logout():
    """End the session and go back to the home page."""
    sessions.restart(session)
    flash(_("You have signed out."), "info")
    return redirect(url_for("main.index"))


@bp.route("/register", methods=["GET", "POST"])
@limited("register")
def register():
    """Let a worker create an account, activated from the link sent by e-mail."""
    if current_user.is_authenticated:
        return redirect(home_url_for(current_user))
    form = RegisterForm()
    if form.validate_on_submit():
        data = accounts.Registration(
            first_name=form.first_name.data,
            last_name=form.last_name.data,
            email=form.email.data,
            tax_code=form.tax_code.data,
            password=form.password.data,
            locale=current_language(),
        )
        try:
            registered = accounts.register_worker(db.session, data)
        except ValidationFailed as exc:
            db.session.rollback()
            apply_errors(form, exc)
        else:
            _registration_mail(registered, accounts.normalise_email(form.email.data))
            db.session.commit()
            # The same answer whatever happened: the form never says who has an account.
            flash(
                _(
                    "We have sent an e-mail to %(email)s: open the link in it to activate "
                    "your account, then sign in.",
                    email=accounts.normalise_email(form.email.data),
                ),
                "success",
            )
            return redirect(url_for("auth.login"))
    return render_template("auth/register.html", form=form)


def _registration_mail(registered: accounts.Registered, address: str) -> None:
    """The e-mail that follows a registration; only the address's owner reads it."""
    user = registered.user
    outcome = registered.outcome
    if outcome in (accounts.Outcome.CREATED, accounts.Outcome.NOT_ACTIVATED):
        token = accounts.make_activation_token(user, current_app.config["SECRET_KEY"])
        link = url_for("auth.activate", token=token, _external=True)
        hours = current_app.config["ACTIVATION_MAX_AGE"] // 3600
        send_mail(
            db.session,
            user.email,
            _("Activate your account"),
            _(
                "Hello %(name)s,\n\nto activate your account open this link within %(hours)d "
                "hours:\n\n%(link)s\n\nIf you did not register, ignore this message.",
                name=user.first_name,
                hours=hours,
                link=link,
            ),
        )
    elif outcome is accounts.Outcome.EMAIL_TAKEN:
        send_mail(
            db.session,
            user.email,
            _("Someone tried to register with your address"),
            _(
                "Hello %(name)s,\n\nsomeone tried to create a new account with this e-mail "
                "address, which already has one. If it was you, sign in or ask for a new "
                "password:\n\n%(link)s\n\nIf it was not you, ignore this message.",
                name=user.first_name,
                link=url_for("auth.reset_request", _external=True),
            ),
        )
    else:
        # The codice fiscale already has an account under another address: its owner is
        # told; the new address gets a neutral answer.
        send_mail(
            db.session,
            user.email,
            _("Someone tried to register with your codice fiscale"),
            _(
                "Hello %(name)s,\n\nsomeone tried to create an account with your codice "
                "fiscale and another e-mail address. If it was you, sign in with this "
                "address. If it was not you, tell the alliance that runs your vouchers.",
                name=user.first_name,
            ),
        )
        send_mail(
            db.session,
            address,
            _("Your registration"),
            _(
                "Hello,\n\nwe could not create an account with the details you gave. If "
                "you already have an account, sign in with the address you registered "
                "with, or ask for a new password:\n\n%(link)s",
                link=url_for("auth.reset_request", _external=True),
            ),
        )


@bp.route("/activate/<token>")
def activate(token: str):
    """Activate a new account from the link in the e-mail, and sign in."""
    user = accounts.activate(
        db.session,
        token,
        current_app.config["SECRET_KEY"],
        current_app.config["ACTIVATION_MAX_AGE"],
    )
    if user is None:
        flash(
            _("This link has expired or is not valid. Register again to get a new one."), "danger"
        )
        return redirect(url_for("auth.register"))
    audit.record(db.session, "user.login", user, actor=user)
    db.session.commit()
    sessions.restart(session)
    login_user(user)
    flash(_("Welcome! Your account is ready."), "success")
    return redirect(home_url_for(user))


@bp.route("/reset", methods=["GET", "POST"])
@limited("reset")
def reset_request():
    """Send a password-reset link; the answer is the same whether the account exists or not."""
    form = ResetRequestForm()
    if form.validate_on_submit():
        user = accounts.find_by_email(db.session, form.email.data)
        if user is not None and user.active:
            token = accounts.make_reset_token(user, current_app.config["SECRET_KEY"])
            link = url_for("auth.reset_password", token=token, _external=True)
            minutes = current_app.config["PASSWORD_RESET_MAX_AGE"] // 60
            send_mail(
                db.session,
                user.email,
                _("Reset your password"),
                _(
                    "Hello %(name)s,\n\nto choose a new password open this link within "
                    "%(minutes)d minutes:\n\n%(link)s\n\nIf you did not ask for it, ignore "
                    "this message: your password stays the same.",
                    name=user.first_name,
                    minutes=minutes,
                    link=link,
                ),
            )
            audit.record(db.session, "user.password_reset_request", user, actor=None)
            db.session.commit()
        flash(
            _("If an account uses that address, we have sent it a link to reset the password."),
            "info",
        )
        return redirect(url_for("auth.login"))
    return render_template("auth/reset_request.html", form=form)


@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    """Set a new password from a valid reset link."""
    user = accounts.user_for_reset_token(
        db.session,
        token,
        current_app.config["SECRET_KEY"],
        current_app.config["PASSWORD_RESET_MAX_AGE"],
    )
    if user is None:
        flash(_("This link has expired or was already used. Ask for a new one."), "danger")
        return redirect(url_for("auth.reset_request"))
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            accounts.set_password(db.session, user, form.password.data, actor=user)
            # The link came to the account's address: that proves it, as activation does.
            accounts.address_proven(db.session, user)
        except ValidationFailed as exc:
            db.session.rollback()
            apply_errors(form, exc)
        else:
            db.session.commit()
            flash(_("Your password has been changed. You can sign in now."), "success")
            return redirect(url_for("auth.login"))
    return render_template("auth/reset_password.html", form=form)
