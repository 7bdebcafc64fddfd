"""The benchmark's data (bench/seed.py): deterministic, and within the money rules.

The benchmark itself (``make bench``) is not a test: it needs a quiet machine. This
checks that what it measures is sound: the seeded budget lines and vouchers keep the rules
the app enforces, and two seedings give the same data.
"""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select

from bench import seed
from voucher.models import Claim, ClaimStatus, User

N_WORKERS, N_CLAIMS = 1_000, 10_000


def _digest(db) -> str:
    rows = db.execute(
        select(
            Claim.id, Claim.worker_id, Claim.voucher_id, Claim.status, Claim.submitted_at
        ).order_by(Claim.id)
    ).all()
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def test_seeded_data_keeps_the_money_rules(db):
    world = seed.build(db, workers=30)
    seed.grow(db, world, 120)
    seed.grow(db, world, 300)
    db.commit()
    assert seed.overspend(db) == {
        "lines_over_allocation": 0,
        "vouchers_over_amount": 0,
        "ledger_drift_cents": 0,
    }
    assert db.scalar(select(User).where(User.email == seed.WORKER_EMAIL)) is not None
    # The benchmarked worker's ten claims, and 300 more for the others.
    assert len(db.scalars(select(Claim.id)).all()) == 310
    approvable = seed.submitted_claims(db, world, 1000)
    assert approvable
    assert {db.get(Claim, i).status for i in approvable} == {ClaimStatus.SUBMITTED}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_seeding_is_deterministic(app, db):
    seed.grow(db, seed.build(db, workers=10), 50)
    db.commit()
    first = _digest(db)
    from tests.conftest import Base  # the schema, rebuilt for a second seeding

    engine = db.get_bind()
    db.close()
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    seed.grow(db, seed.build(db, workers=10), 50)
    db.commit()
    assert _digest(db) == first


def test_postgresql_plans_the_queue_once(db):
    """On the benchmark's data, the review queue runs on a plan PostgreSQL made once (a
    generic plan of the prepared statement), not on one made afresh for every visit: its
    LIMIT and OFFSET are written into its text (``paging.inline_integer``). Sent as
    parameters, they made PostgreSQL plan the queue on every run here."""
    from sqlalchemy import text

    from voucher.models import Role
    from voucher.services import review

    if db.get_bind().dialect.name != "postgresql":
        pytest.skip("PostgreSQL's plan cache")
    world = seed.build(db, workers=N_WORKERS)
    seed.grow(db, world, N_CLAIMS)
    db.commit()
    db.execute(text("ANALYZE"))
    db.commit()
    operator = db.scalar(select(User).where(User.role == Role.OPERATOR))
    # psycopg prepares a statement at its fifth run; PostgreSQL then makes five custom plans
    # before it weighs the generic one.
    for _ in range(15):
        assert len(review.queue_page(db, operator, 1, 50).items) == 50
    plans = db.execute(
        text(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
            "WHERE statement LIKE '%UNION ALL%'"
        )
    ).all()
    assert len(plans) == 1, plans
    generic, custom = plans[0]
    assert generic > 0, f"{custom} custom plans, no generic one"
    db.rollback()
