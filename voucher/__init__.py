"""Conciliazione voucher: the application factory."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from flask import Flask, render_template, request, session
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError

from voucher.config import load_config
from voucher.extensions import babel, csrf, db, login_manager, migrate


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the application.

    1. configuration from the environment, then ``config`` overrides;
    2. extensions (database, migrations, CSRF, login, i18n);
    3. blueprints, one per audience;
    4. error pages, template helpers, response headers;
    5. CLI commands (``demo``, ``create-admin``).
    """
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(load_config(app.instance_path, config))
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///"):
        # The default SQLite file lives under instance/, which may not exist yet.
        os.makedirs(app.instance_path, exist_ok=True)

    _init_extensions(app)
    _register_blueprints(app)
    _register_error_pages(app)
    _register_template_helpers(app)
    _register_request_hooks(app)

    from voucher.cli import register_commands

    register_commands(app)
    return app


def _init_extensions(app: Flask) -> None:
    from voucher import assets, crypto, database, i18n, logs, ratelimit
    from voucher.models import User
    from voucher.models.user import parse_session_id
    from voucher.services import accounts

    crypto.configure(app.config, app)
    db.init_app(app)
    database.init_app(app)
    assets.init_app(app)
    logs.configure(app)
    ratelimit.init_app(app)
    if app.config["PROXY_HOPS"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        # Client address and scheme as the trusted proxies saw them (rate limits, logs,
        # Secure cookies and external links depend on them).
        hops = app.config["PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    migrate.init_app(app, db, directory=str(_migrations_dir()), render_as_batch=True)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=i18n.select_locale)
    i18n.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None
    # "basic", not "strong": a phone moving from Wi-Fi to mobile data changes its IP, and
    # "strong" would then sign the worker out in the middle of a claim. Stolen sessions
    # are bounded by the session lifetime and the session version instead.
    login_manager.session_protection = "basic"

    @login_manager.user_loader
    def load_user(session_id: str) -> User | None:
        # The id embeds the session version (after a password change, old sessions fail)
        # and the role, which picks what is loaded with the user.
        parsed = parse_session_id(session_id)
        if parsed is None:
            return None
        user_id, version, role = parsed
        user = accounts.signed_in_user(db.session, user_id, role)
        if user is None or user.session_version != version or not user.active:
            return None
        return user


def _migrations_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "migrations"


def _register_blueprints(app: Flask) -> None:
    from voucher.blueprints.admin import bp as admin_bp
    from voucher.blueprints.auth import bp as auth_bp
    from voucher.blueprints.hr import bp as hr_bp
    from voucher.blueprints.main import bp as main_bp
    from voucher.blueprints.network import bp as network_bp
    from voucher.blueprints.operator import bp as operator_bp
    from voucher.blueprints.payments import bp as payments_bp
    from voucher.blueprints.provider import bp as provider_bp
    from voucher.blueprints.worker import bp as worker_bp

    for blueprint in (
        main_bp,
        auth_bp,
        worker_bp,
        hr_bp,
        operator_bp,
        network_bp,
        provider_bp,
        admin_bp,
        payments_bp,
    ):
        app.register_blueprint(blueprint)


def _register_error_pages(app: Flask) -> None:
    def page(code: int, title: str, message: str) -> tuple[str, int]:
        return render_template("errors/error.html", code=code, title=title, message=message), code

    @app.errorhandler(403)
    def forbidden(_error: Exception) -> tuple[str, int]:
        return page(403, _("Access denied"), _("You cannot open this page with your account."))

    @app.errorhandler(404)
    def not_found(_error: Exception) -> tuple[str, int]:
        return page(
            404,
            _("Page not found"),
            _("The page does not exist or you cannot see it with your account."),
        )

    @app.errorhandler(429)
    def too_many(_error: Exception) -> tuple[str, int]:
        return page(
            429,
            _("Too many attempts"),
            _("For your security, wait a minute before trying again."),
        )

    @app.errorhandler(CSRFError)
    def csrf_error(_error: Exception) -> tuple[str, int]:
        return page(
            400,
            _("The form has expired"),
            _("For your security the form was valid only for a while. Go back and send it again."),
        )

    @app.errorhandler(500)
    def server_error(_error: Exception) -> tuple[str, int]:
        db.session.rollback()
        logging.getLogger(__name__).exception("unhandled error")
        return page(
            500,
            _("Something went wrong"),
            _("We could not complete the request. Nothing was changed: please try again later."),
        )

    from voucher import faults

    # The database out of reach: 503 with Retry-After, not this 500.
    faults.init_app(app)


def _register_template_helpers(app: Flask) -> None:
    from voucher import i18n, templating
    from voucher.blueprints.common import HOME_ENDPOINT

    app.jinja_env.filters["money"] = i18n.format_money
    app.jinja_env.globals["current_language"] = i18n.current_language
    app.jinja_env.globals["HOME_ENDPOINT"] = HOME_ENDPOINT
    templating.init_app(app)


def _register_request_hooks(app: Flask) -> None:
    @app.before_request
    def remember_language() -> None:
        # ?lang=it|en switches the language and is remembered for the session
        # (and on the account, so e-mails follow it too).
        lang = request.args.get("lang")
        if lang in app.config["LANGUAGES"]:
            session["lang"] = lang
            from flask_login import current_user

            if current_user.is_authenticated and current_user.locale != lang:
                current_user.locale = lang
                db.session.commit()

    from voucher import security, sessions

    sessions.init_app(app)
    security.init_app(app)
