"""When the database goes away or the disk fills up: a 503 page that says to retry,
never a 500 or a half-write.

A lost connection, a database that is down or restarting, a pool with no free connection:
each is an outage of the service, not a bug of the page, so the answer is 503 with
``Retry-After`` (load balancers and browsers know what to do with it). The session is
rolled back first; a request writes inside one transaction and commits at its end, so
whatever it had written before the failure is undone with it. Other database errors
(an integrity error, say) are bugs or races, and stay 500s.

A full disk where an upload is stored is told on the upload form itself (see
``voucher.services.uploads``). Here is the case before any view runs: Werkzeug keeps a
large request body in a temporary file while it parses the form, and that can fail too.
"""

from __future__ import annotations

import contextlib
import errno
import logging

from flask import Flask, make_response, render_template
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from voucher.extensions import db, login_manager

logger = logging.getLogger(__name__)

# Seconds a client should wait before trying again: a database restart or a failover.
RETRY_AFTER = 30


def init_app(app: Flask) -> None:
    """Answer 503 to every request that loses the database."""
    # Flask picks the handler of the most specific class: OperationalError and
    # InterfaceError are DBAPIErrors, so one registration catches all of them.
    app.register_error_handler(DBAPIError, _database_error)
    app.register_error_handler(PoolTimeout, _database_error)
    app.register_error_handler(OSError, _storage_error)


def is_unavailable(error: BaseException) -> bool:
    """Whether a database error means "cannot reach the database" rather than a bug."""
    if isinstance(error, PoolTimeout):
        return True
    if isinstance(error, DBAPIError):
        # The DB-API's own classes for trouble with the server or the link to it; the
        # flag is set by SQLAlchemy when it recognises a dropped connection of any class.
        return isinstance(error, (OperationalError, InterfaceError)) or bool(
            error.connection_invalidated
        )
    return False


def _database_error(error: Exception) -> ResponseReturnValue:
    """The 503 page for a database outage; any other database error goes on to be a 500."""
    if not is_unavailable(error):
        raise error
    logger.error("database unavailable: %s", type(error).__name__, exc_info=error)
    # The page (menu, language) and later hooks read current_user; loading the person
    # would need the database again, so this response is rendered as for a visitor.
    login_manager._update_request_context_with_user()
    return _unavailable(
        _(
            "We cannot reach our database at the moment. Nothing was changed: "
            "please try again in a minute."
        )
    )


# No space left on the device, or over the disk quota.
_DISK_FULL = {errno.ENOSPC, errno.EDQUOT}


def _storage_error(error: OSError) -> ResponseReturnValue:
    """The 503 page for a full disk; any other OSError goes on to be a 500."""
    if error.errno not in _DISK_FULL:
        raise error
    logger.error("disk full while handling a request", exc_info=error)
    return _unavailable(
        _(
            "The server has no space left to receive files at the moment. Nothing was "
            "stored: please try again later."
        )
    )


def _unavailable(message: str) -> ResponseReturnValue:
    """Roll back, and render the 503 page with the message and Retry-After."""
    with contextlib.suppress(SQLAlchemyError):
        db.session.rollback()
    html = render_template(
        "errors/error.html",
        code=503,
        title=_("Service temporarily unavailable"),
        message=message,
    )
    response = make_response(html, 503)
    response.headers["Retry-After"] = str(RETRY_AFTER)
    response.headers["Cache-Control"] = "no-store"
    return response
