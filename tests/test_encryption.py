"""IBANs, codici fiscali and disability flags are encrypted at rest (voucher/crypto.py)."""

from __future__ import annotations

from datetime import date

import pytest
from cryptography.fernet import Fernet
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import IntegrityError

from tests import factories
from voucher import create_app, crypto
from voucher.models import Dependant, DependantKind, Role, User

IBAN = "IT67P0306909606000000012345"


def _raw(db, sql: str, **params):
    return db.execute(text(sql), params).one()


def test_sensitive_columns_are_unreadable_in_the_database(db):
    worker = factories.user(db, Role.WORKER)
    worker.iban = IBAN
    code = worker.tax_code
    child = Dependant(
        worker=worker,
        kind=DependantKind.CHILD,
        first_name="Ada",
        last_name="Neri",
        birth_date=date(2019, 5, 4),
        tax_code=factories.person_tax_code(birth=date(2019, 5, 4)),
        has_disability=True,
    )
    db.add(child)
    db.commit()

    stored_code, stored_iban, index = _raw(
        db, "SELECT tax_code, iban, tax_code_index FROM users WHERE id = :id", id=worker.id
    )
    assert code not in stored_code and IBAN not in stored_iban
    assert index == crypto.blind_index(code) and code not in index
    child_code, flag = _raw(
        db, "SELECT tax_code, has_disability FROM dependants WHERE id = :id", id=child.id
    )
    assert child.tax_code not in child_code and flag not in ("1", "true", "t", 1, True)

    db.expire_all()
    again = db.get(User, worker.id)
    assert again.tax_code == code and again.iban == IBAN
    assert db.get(Dependant, child.id).has_disability is True
    # Look-ups go through the blind index.
    assert db.scalar(select(User.id).where(User.tax_code_index == crypto.blind_index(code)))


def test_the_same_codice_fiscale_cannot_be_registered_twice(db):
    first = factories.user(db, Role.WORKER)
    second = factories.user(db, Role.WORKER)
    db.commit()
    second.tax_code = first.tax_code
    with pytest.raises(IntegrityError):
        db.commit()
    db.rollback()


def test_keys_can_be_rotated(app):
    old = crypto.encrypt("RSSMRA85M01L319X")
    new_key = Fernet.generate_key().decode()
    keys = app.extensions["voucher_crypto"]
    previous = keys.fernet
    try:
        # The old key is still listed (second): old values read, new ones use the new key.
        derived = previous._fernets[0]
        keys.fernet = crypto.MultiFernet([Fernet(new_key.encode()), derived])
        assert crypto.decrypt(old) == "RSSMRA85M01L319X"
        fresh = crypto.encrypt("x")
        assert Fernet(new_key.encode()).decrypt(fresh.encode()) == b"x"
    finally:
        keys.fernet = previous
    with pytest.raises(ValueError):
        crypto.decrypt("not-a-token")


def test_the_migration_encrypts_existing_rows_and_downgrade_decrypts(tmp_path):
    url = f"sqlite:///{tmp_path / 'enc.sqlite3'}"
    app = create_app(
        {"TESTING": True, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": url, "ENV_NAME": "test"}
    )
    engine = create_engine(url)
    code = factories.person_tax_code()
    with app.app_context():
        upgrade(revision="e5b9c3f7a403")
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO users (email, password_hash, first_name, last_name, tax_code,"
                    " phone, iban, role, active, session_version, awaiting_activation,"
                    " created_at) VALUES ('a@example.org', 'x', 'A', 'B', :code, '', :iban,"
                    " 'worker', 1, 1, 0, '2026-01-01')"
                ),
                {"code": code, "iban": IBAN},
            )
            conn.execute(
                text(
                    "INSERT INTO dependants (worker_id, kind, first_name, last_name, birth_date,"
                    " relationship_label, has_disability, created_at) VALUES (1, 'child', 'C',"
                    " 'D', '2019-01-01', '', 1, '2026-01-01')"
                )
            )
        upgrade()
        with engine.connect() as conn:
            stored = conn.execute(text("SELECT tax_code, iban, tax_code_index FROM users")).one()
            flag = conn.execute(text("SELECT has_disability FROM dependants")).scalar_one()
        assert code not in stored[0] and IBAN not in stored[1]
        assert stored[2] == crypto.blind_index(code)
        assert crypto.decrypt(stored[0]) == code and crypto.decrypt(flag) == "1"

        downgrade(revision="e5b9c3f7a403")
        with engine.connect() as conn:
            plain = conn.execute(text("SELECT tax_code, iban FROM users")).one()
            flag = conn.execute(text("SELECT has_disability FROM dependants")).scalar_one()
        assert tuple(plain) == (code, IBAN) and flag == 1
    engine.dispose()
