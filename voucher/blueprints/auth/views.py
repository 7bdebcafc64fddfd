"""Views of the authentication pages."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from voucher.blueprints.auth import bp
from voucher.blueprints.auth.forms import (
    LoginForm,
    RegisterForm,
    ResetPasswordForm,
    ResetRequestForm,
)
from voucher.blueprints.common import apply_errors, home_url_for, is_safe_next
from voucher.extensions import db
from voucher.i18n import current_language
from voucher.services import accounts, audit
from voucher.services.errors import ValidationFailed
from voucher.services.mail import send_mail


@bp.route("/login", methods=["GET", "POST"])
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
        else:
            audit.record(db.session, "user.login", user, actor=user)
            db.session.commit()
            # A fresh session on login prevents session fixation.
            lang = session.get("lang")
            session.clear()
            if lang:
                session["lang"] = lang
            login_user(user, remember=form.remember.data)
            target = request.args.get("next")
            return redirect(target if is_safe_next(target) else home_url_for(user))
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["GET", "POST"])
def logout():
    """End the session and go back to the home page."""
    if current_user.is_authenticated:
        logout_user()
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    flash(_("You have signed out."), "info")
    return redirect(url_for("main.index"))


@bp.route("/register", methods=["GET", "POST"])
def register():
    """Let a worker create an account."""
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
            user = accounts.register_worker(db.session, data)
        except ValidationFailed as exc:
            db.session.rollback()
            apply_errors(form, exc)
        else:
            db.session.commit()
            login_user(user)
            flash(_("Welcome! Your account is ready."), "success")
            return redirect(home_url_for(user))
    return render_template("auth/register.html", form=form)


@bp.route("/reset", methods=["GET", "POST"])
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
        except ValidationFailed as exc:
            db.session.rollback()
            apply_errors(form, exc)
        else:
            db.session.commit()
            flash(_("Your password has been changed. You can sign in now."), "success")
            return redirect(url_for("auth.login"))
    return render_template("auth/reset_password.html", form=form)
