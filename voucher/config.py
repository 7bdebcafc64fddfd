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


def _roles(value: str) -> frozenset[str]:
    return frozenset(part.strip() for part in value.split(",") if part.strip())


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
        # hide_parameters: a SQL error or debug log never prints the values (tax codes, IBANs).
        # pool_pre_ping (server databases only, below): a connection the server dropped is
        # replaced before a request uses it.
        "SQLALCHEMY_ENGINE_OPTIONS": {"hide_parameters": True},
        # Cookies: never readable from JavaScript, not sent on cross-site POSTs, and only
        # over HTTPS in production.
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _bool(os.environ.get("VOUCHER_SECURE_COOKIES"), production),
        "SESSION_COOKIE_NAME": "voucher_session",
        "PERMANENT_SESSION_LIFETIME": timedelta(hours=8),
        # A signed-in session ends after this long without a request, and in any case this
        # long after signing in (ASVS 3.3): a phone left unlocked on a desk does not stay
        # signed in to someone's family data.
        "SESSION_IDLE_TIMEOUT": timedelta(
            minutes=int(os.environ.get("VOUCHER_SESSION_IDLE_MINUTES", "30"))
        ),
        "SESSION_ABSOLUTE_TIMEOUT": timedelta(
            hours=int(os.environ.get("VOUCHER_SESSION_ABSOLUTE_HOURS", "12"))
        ),
        # "Remember me" is offered to workers only, for a week; staff sign in every time.
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
        # Activation links of new accounts: two days, for a worker who registers on Friday.
        "ACTIVATION_MAX_AGE": int(os.environ.get("VOUCHER_ACTIVATION_MAX_AGE", str(48 * 3600))),
        # "outbox" stores e-mails in the database (dev, test, demo); "smtp" sends them.
        "MAIL_BACKEND": os.environ.get("VOUCHER_MAIL_BACKEND", "smtp" if production else "outbox"),
        "MAIL_SERVER": os.environ.get("VOUCHER_MAIL_SERVER", "localhost"),
        "MAIL_PORT": int(os.environ.get("VOUCHER_MAIL_PORT", "25")),
        "MAIL_USERNAME": os.environ.get("VOUCHER_MAIL_USERNAME"),
        "MAIL_PASSWORD": os.environ.get("VOUCHER_MAIL_PASSWORD"),
        "MAIL_USE_TLS": _bool(os.environ.get("VOUCHER_MAIL_USE_TLS"), False),
        "MAIL_SENDER": os.environ.get("VOUCHER_MAIL_SENDER", "conciliazione@localhost"),
        # Redis: the job queue and the rate-limit counters (sessions stay in signed
        # cookies, see README "Running in production").
        "REDIS_URL": os.environ.get("VOUCHER_REDIS_URL", "redis://127.0.0.1:6379/0"),
        # "rq": background jobs go to Redis for `flask --app voucher worker`; "inline":
        # they run at once, in the process that asked (tests, dev).
        "JOBS": os.environ.get("VOUCHER_JOBS", "rq" if production else "inline"),
        "JOBS_QUEUE": os.environ.get("VOUCHER_JOBS_QUEUE", "voucher"),
        "JOBS_TIMEOUT": int(os.environ.get("VOUCHER_JOBS_TIMEOUT", "600")),
        # Attempts per client address and minute at signing in, registering and asking
        # for a reset link (0: no limit). Counted in Redis in production, so every gunicorn
        # worker shares them; per process in memory otherwise; off in tests.
        "RATELIMIT_PER_MINUTE": int(
            os.environ.get(
                "VOUCHER_RATELIMIT_PER_MINUTE", "0" if overrides.get("TESTING") else "10"
            )
        ),
        "RATELIMIT_STORAGE": os.environ.get(
            "VOUCHER_RATELIMIT_STORAGE", "redis" if production else "memory"
        ),
        # "json": one JSON object per line on stderr (production); "text" otherwise.
        "LOG_FORMAT": os.environ.get("VOUCHER_LOG_FORMAT", "json" if production else "text"),
        # How many reverse proxies in front set X-Forwarded-For/-Proto (0: none trusted).
        "PROXY_HOPS": int(os.environ.get("VOUCHER_PROXY_HOPS", "0")),
        # Roles that must confirm signing in with a one-time code from an authenticator app
        # (TOTP, RFC 6238). On by default in production; off in dev and tests unless set, so
        # the demo accounts work with their password alone.
        "TWO_FACTOR_ROLES": _roles(
            os.environ.get("VOUCHER_2FA_ROLES", "operator,network,admin" if production else "")
        ),
        "TWO_FACTOR_ISSUER": os.environ.get("VOUCHER_2FA_ISSUER", "Conciliazione voucher"),
        # Fernet keys for the encrypted columns (see voucher/crypto.py); empty: derived
        # from SECRET_KEY. Comma-separated: the first encrypts, every one decrypts.
        "DATA_KEYS": os.environ.get("VOUCHER_DATA_KEYS", ""),
        "STRIPE_SECRET_KEY": os.environ.get("STRIPE_SECRET_KEY"),
        "STRIPE_WEBHOOK_SECRET": os.environ.get("STRIPE_WEBHOOK_SECRET"),
        # Another Stripe-compatible API (tests point it at localstripe); empty: Stripe's own.
        "STRIPE_API_BASE": os.environ.get("STRIPE_API_BASE", ""),
        # Seconds: a webhook signed longer ago than this is refused as stale (a replay).
        "STRIPE_WEBHOOK_TOLERANCE": int(os.environ.get("STRIPE_WEBHOOK_TOLERANCE", "300")),
        # Uploaded receipts and certificates live here, outside static/, under random names.
        "UPLOAD_FOLDER": os.environ.get(
            "VOUCHER_UPLOAD_FOLDER", str(Path(instance_path) / "uploads")
        ),
        # One uploaded file at most; the request as a whole may carry a few.
        "MAX_UPLOAD_BYTES": int(os.environ.get("VOUCHER_MAX_UPLOAD_BYTES", str(10 * 1024 * 1024))),
        "MAX_CONTENT_LENGTH": 32 * 1024 * 1024,
    }
    config.update(overrides)
    if "SQLALCHEMY_ENGINE_OPTIONS" not in overrides and not str(
        config["SQLALCHEMY_DATABASE_URI"]
    ).startswith("sqlite"):
        # A SQLite file cannot drop a connection: pinging it would only cost every request
        # a statement.
        config["SQLALCHEMY_ENGINE_OPTIONS"] = {
            **config["SQLALCHEMY_ENGINE_OPTIONS"],
            "pool_pre_ping": True,
        }
    return config
