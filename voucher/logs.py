"""Structured logs: one JSON object per line on stderr, one line per request.

Each request gets an id (the proxy's ``X-Request-ID`` if it sent a sane one, else a new
one), echoed in the response and in every log line written while it runs. The request
line has method, path, status, duration_ms and the signed-in user's id — never query
strings, form data, IBANs, tax codes or passwords: a path is logged as its route when it
carries a secret (a password-reset token).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, g, has_request_context, request
from sqlalchemy import inspect

log = logging.getLogger("voucher.request")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# Route arguments whose value is a secret: the path is logged as the route instead.
_SECRET_ARGS = {"token"}
# Attributes every LogRecord has; anything else was passed with ``extra=``.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """A log record as one line of JSON, with the current request's id when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if has_request_context() and "request_id" in g:
            entry["request_id"] = g.request_id
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure(app: Flask) -> None:
    """JSON lines on stderr when ``LOG_FORMAT`` is json; a request line either way."""
    if app.config["LOG_FORMAT"] == "json" and not app.testing:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        root = logging.getLogger()
        root.handlers[:] = [handler]
        root.setLevel(logging.INFO)
        # Flask's default handler would print every error a second time, as plain text.
        app.logger.handlers.clear()
        app.logger.propagate = True

    @app.before_request
    def start_request() -> None:
        given = request.headers.get("X-Request-ID", "")
        g.request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        g.request_started = time.perf_counter()

    @app.after_request
    def log_request(response: Response) -> Response:
        started = g.get("request_started")
        if started is None:  # a request that failed before start_request
            return response
        response.headers["X-Request-ID"] = g.request_id
        log.info(
            "request",
            extra={
                "method": request.method,
                "path": _loggable_path(),
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                "user_id": _user_id(),
            },
        )
        return response


def _loggable_path() -> str:
    if request.url_rule is not None and _SECRET_ARGS & set(request.view_args or {}):
        return request.url_rule.rule
    return request.path


def _user_id() -> int | None:
    # Only if the request loaded the user already, and from the identity map: after a
    # commit the user is expired, and reading ``user.id`` would cost a query.
    state = inspect(g.get("_login_user"), raiseerr=False)
    return state.identity[0] if state is not None and state.identity else None
