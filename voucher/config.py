"""Configuration read from the environment.

Everything a deployment changes comes from ``VOUCHER_*`` (or well-known) environment
variables so that the same image runs in dev, CI and production.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

# Used only when VOUCHER_ENV is dev or test: a production process must be given its own.
_DEV_SECRET_KEY = "dev-only-secret-key-not-for-production"  # noqa: S105


class ConfigError(RuntimeError):
    """The environment does not describe a runnable configuration."""


def _bool(value: str | None, default: bool) -> bool:
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def load_config(instance_path: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Build the configuration dictionary from the environment, then apply ``overrides``."""
    overrides = dict(overrides or {})
    env = overrides.get("ENV_NAME") or os.environ.get("VOUCHER_ENV", "production")
    relaxed = env in {"dev", "test"} or overrides.get("TESTING", False)
    secret = overrides.get("SECRET_KEY") or os.environ.get("SECRET_KEY")
    if not secret:
        if not relaxed:
            raise ConfigError("SECRET_KEY must be set when VOUCHER_ENV is not dev or test")
        secret = _DEV_SECRET_KEY
    production = not relaxed
    default_db = "sqlite:///" + str(Path(instance_path) / "voucher.sqlite3")
    config: dict[str, Any] = {
        "ENV_NAME": env,
        "SECRET_KEY": secret,
        "SQLALCHEMY_DATABASE_URI": os.environ.get("VOUCHER_DATABASE_URL", default_db),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        # Cookies: never readable from JavaScript, not sent on cross-site POSTs, and only
        # over HTTPS in production.
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _bool(os.environ.get("VOUCHER_SECURE_COOKIES"), production),
        "SESSION_COOKIE_NAME": "voucher_session",
        "PERMANENT_SESSION_LIFETIME": timedelta(hours=8),
        "REMEMBER_COOKIE_DURATION": timedelta(days=7),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": _bool(os.environ.get("VOUCHER_SECURE_COOKIES"), production),
        "WTF_CSRF_TIME_LIMIT": 3600 * 8,
        "BABEL_DEFAULT_LOCALE": "it",
        "BABEL_DEFAULT_TIMEZONE": "Europe/Rome",
        "BABEL_TRANSLATION_DIRECTORIES": str(
            Path(__file__).resolve().parent.parent / "translations"
        ),
        "LANGUAGES": ("it", "en"),
        # Password-reset links are short-lived: long enough to read an e-mail, no longer.
        "PASSWORD_RESET_MAX_AGE": int(os.environ.get("VOUCHER_PASSWORD_RESET_MAX_AGE", "3600")),
        # "outbox" stores e-mails in the database (dev, test, demo); "smtp" sends them.
        "MAIL_BACKEND": os.environ.get("VOUCHER_MAIL_BACKEND", "smtp" if production else "outbox"),
        "MAIL_SERVER": os.environ.get("VOUCHER_MAIL_SERVER", "localhost"),
        "MAIL_PORT": int(os.environ.get("VOUCHER_MAIL_PORT", "25")),
        "MAIL_USERNAME": os.environ.get("VOUCHER_MAIL_USERNAME"),
        "MAIL_PASSWORD": os.environ.get("VOUCHER_MAIL_PASSWORD"),
        "MAIL_USE_TLS": _bool(os.environ.get("VOUCHER_MAIL_USE_TLS"), False),
        "MAIL_SENDER": os.environ.get("VOUCHER_MAIL_SENDER", "conciliazione@localhost"),
        "STRIPE_SECRET_KEY": os.environ.get("STRIPE_SECRET_KEY"),
        "STRIPE_WEBHOOK_SECRET": os.environ.get("STRIPE_WEBHOOK_SECRET"),
        # Uploaded receipts and certificates live here, outside static/, under random names.
        "UPLOAD_FOLDER": os.environ.get(
            "VOUCHER_UPLOAD_FOLDER", str(Path(instance_path) / "uploads")
        ),
        # One uploaded file at most; the request as a whole may carry a few.
        "MAX_UPLOAD_BYTES": int(os.environ.get("VOUCHER_MAX_UPLOAD_BYTES", str(10 * 1024 * 1024))),
        "MAX_CONTENT_LENGTH": 32 * 1024 * 1024,
    }
    config.update(overrides)
    return config
