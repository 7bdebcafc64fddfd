"""Approve one claim in a process of its own, and stop dead at a chosen point.

Used by tests/test_faults.py: the test prepares a submitted claim, runs this script, waits
for the line ``ready`` on its stdout, and SIGKILLs it there. Nothing of the approval is
committed yet, so nothing of it may survive: the database must undo it by itself (SQLite
rolls back its hot journal, PostgreSQL aborts the dead client's transaction).

    python tests/kill_approval.py DATABASE_URL CLAIM_ID OPERATOR_ID

``VOUCHER_KILL_AT`` names the point: a regular expression matched against each SQL
statement after it has run (the test-only ``after_cursor_execute`` listener below), or
``flush`` for the moment everything is written and only the COMMIT is missing. Without a
match the script commits and prints ``done``.
"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

# Run as a script from anywhere: the repository root is the parent of tests/.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import event

from voucher import create_app
from voucher.extensions import db
from voucher.models import Claim, User
from voucher.services import review

# Long enough for any test to kill us; short enough not to linger if a test forgets.
WAIT_SECONDS = 60


def stop_here(point: str) -> None:
    """Tell the parent we are at the point, then wait to be killed."""
    sys.stdout.write(f"ready {point}\n")
    sys.stdout.flush()
    time.sleep(WAIT_SECONDS)
    sys.exit(f"not killed at {point}")


def main(url: str, claim_id: int, operator_id: int) -> None:
    """Approve the claim in full as the operator, stopping where VOUCHER_KILL_AT says."""
    kill_at = os.environ.get("VOUCHER_KILL_AT", "")
    app = create_app(
        {
            "TESTING": True,
            "ENV_NAME": "test",
            # The parent test's key: the encrypted columns must read the same on both sides.
            "SECRET_KEY": "test-secret-key",
            "SQLALCHEMY_DATABASE_URI": url,
            "MAIL_BACKEND": "outbox",
        }
    )
    with app.app_context():
        if kill_at and kill_at != "flush":
            pattern = re.compile(kill_at, re.IGNORECASE)

            @event.listens_for(db.engine, "after_cursor_execute")
            def maybe_stop(_conn, _cursor, statement, _params, _context, _many) -> None:
                if pattern.search(statement):
                    stop_here(kill_at)

        claim = db.session.get(Claim, claim_id)
        operator = db.session.get(User, operator_id)
        assert claim is not None and operator is not None
        review.approve(db.session, claim, operator)
        db.session.flush()
        if kill_at == "flush":
            stop_here(kill_at)
        db.session.commit()
    sys.stdout.write("done\n")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
