"""The migrations build the same schema as the models, on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from voucher import create_app
from voucher.extensions import db
from voucher.models import Base

PG_URL = os.environ.get("VOUCHER_TEST_DATABASE_URL")


@pytest.fixture(params=["sqlite"] + (["postgresql"] if PG_URL else []))
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A brand-new, empty database (a throw-away one on PostgreSQL)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrated.sqlite3'}"
        return
    assert PG_URL
    name = f"voucher_migr_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


def _migrated_app(url: str):
    return create_app(
        {"TESTING": True, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": url, "ENV_NAME": "test"}
    )


def test_upgrade_matches_the_models_and_downgrades_cleanly(empty_database):
    app = _migrated_app(empty_database)
    with app.app_context():
        upgrade()
        engine = create_engine(empty_database)
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
            tables = set(inspect(conn).get_table_names())
        assert diff == [], diff
        assert set(Base.metadata.tables) <= tables
        downgrade(revision="base")
        with engine.connect() as conn:
            assert set(inspect(conn).get_table_names()) <= {"alembic_version"}
        engine.dispose()
        db.engine.dispose()


def test_migrated_ledger_is_append_only(empty_database):
    app = _migrated_app(empty_database)
    with app.app_context():
        upgrade()
        engine = create_engine(empty_database)
        with engine.connect() as conn:
            triggers = (
                conn.execute(
                    text("SELECT name FROM sqlite_master WHERE type = 'trigger'")
                ).scalars()
                if engine.dialect.name == "sqlite"
                else conn.execute(
                    text("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
                ).scalars()
            )
            assert any("ledger_entries" in t for t in triggers)
        engine.dispose()
        db.engine.dispose()
