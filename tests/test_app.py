"""Application factory: configuration rules, CLI commands, error pages, headers."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from voucher.config import ConfigError, load_config
from voucher.models import AuditEvent, Role, User


def test_secret_key_is_required_in_production(monkeypatch, tmp_path):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("VOUCHER_ENV", "production")
    with pytest.raises(ConfigError):
        load_config(str(tmp_path))
    monkeypatch.setenv("SECRET_KEY", "s3cret")
    config = load_config(str(tmp_path))
    assert config["SESSION_COOKIE_SECURE"] is True
    assert config["MAIL_BACKEND"] == "smtp"


def test_default_database_is_a_sqlite_file_under_instance(monkeypatch, tmp_path):
    monkeypatch.delenv("VOUCHER_DATABASE_URL", raising=False)
    monkeypatch.setenv("VOUCHER_ENV", "dev")
    config = load_config(str(tmp_path))
    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path}/voucher.sqlite3"
    assert config["SESSION_COOKIE_SECURE"] is False


def test_create_admin_command(app, db):
    result = app.test_cli_runner().invoke(
        args=[
            "create-admin",
            "--email",
            "Root@Example.org",
            "--first-name",
            "Ada",
            "--last-name",
            "Admin",
            "--password",
            "a-long-admin-password",
        ]
    )
    assert result.exit_code == 0, result.output
    admin = db.scalar(select(User).where(User.email == "root@example.org"))
    assert admin.role is Role.ADMIN
    assert db.scalar(select(AuditEvent).where(AuditEvent.entity_id == admin.id))


def test_create_admin_refuses_a_weak_password(app, db):
    result = app.test_cli_runner().invoke(
        args=[
            *("create-admin", "--email", "a@example.org", "--first-name", "A"),
            *("--last-name", "B", "--password", "short"),
        ]
    )
    assert result.exit_code != 0
    assert db.scalar(select(User)) is None


def test_unexpected_error_shows_a_translated_500_page(app, client):
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.get("/boom")
    def boom():
        raise RuntimeError("boom")

    response = client.get("/boom")
    assert response.status_code == 500
    assert "Qualcosa è andato storto" in response.get_data(as_text=True)


def test_security_headers(client):
    response = client.get("/")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_connections_are_pinged_only_on_a_database_server(monkeypatch, tmp_path):
    """A server may drop a pooled connection (restart, failover): it is checked before use.
    A SQLite file cannot drop one, so no request pays for a ping there."""
    from voucher.config import load_config

    monkeypatch.setenv("VOUCHER_ENV", "dev")
    monkeypatch.delenv("VOUCHER_DATABASE_URL", raising=False)
    sqlite = load_config(str(tmp_path))["SQLALCHEMY_ENGINE_OPTIONS"]
    assert "pool_pre_ping" not in sqlite and sqlite["hide_parameters"] is True
    monkeypatch.setenv("VOUCHER_DATABASE_URL", "postgresql+psycopg://db.example/voucher")
    server = load_config(str(tmp_path))["SQLALCHEMY_ENGINE_OPTIONS"]
    assert server == {"hide_parameters": True, "pool_pre_ping": True}
