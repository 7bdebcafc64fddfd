"""Structured logs (one JSON line per request, nothing personal) and the sign-in rate limit."""

from __future__ import annotations

import json
import logging
import sys

from tests import factories
from voucher.logs import JsonFormatter
from voucher.models import Role


def _request_lines(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "voucher.request"]


def test_one_line_per_request_with_the_request_id(client, caplog, login_as):
    user = login_as(Role.WORKER)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="voucher.request"):
        response = client.get("/worker/?secret=IT60X0542811101000000123456")
    (record,) = _request_lines(caplog)
    assert (record.method, record.path, record.status) == ("GET", "/worker/", 200)
    assert record.user_id == user.id and record.duration_ms > 0
    assert response.headers["X-Request-ID"]
    line = json.loads(JsonFormatter().format(record))
    assert line["msg"] == "request" and line["path"] == "/worker/" and line["level"] == "info"
    assert "IT60X" not in json.dumps(line)  # the query string is never logged


def test_a_sane_request_id_from_the_proxy_is_kept(client, caplog):
    with caplog.at_level(logging.INFO, logger="voucher.request"):
        kept = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
        replaced = client.get("/healthz", headers={"X-Request-ID": "<script>"})
    assert kept.headers["X-Request-ID"] == "abc-123"
    assert replaced.headers["X-Request-ID"] != "<script>"


def test_reset_tokens_and_forms_stay_out_of_the_logs(app, client, db, caplog):
    from voucher.services import accounts

    worker = factories.user(db, Role.WORKER)
    db.commit()
    token = accounts.make_reset_token(worker, app.config["SECRET_KEY"])
    with caplog.at_level(logging.INFO):
        client.get(f"/auth/reset/{token}")
        client.post("/auth/login", data={"email": worker.email, "password": "wrong-password!"})
    text = caplog.text + "".join(JsonFormatter().format(r) for r in caplog.records)
    assert token not in text and "wrong-password!" not in text
    assert "/auth/reset/<token>" in [r.path for r in _request_lines(caplog)]


def test_formatter_keeps_exceptions_and_extras():
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.getLogger("x").makeRecord(
            "x", logging.ERROR, __file__, 1, "failed %s", ("job",), exc_info=sys.exc_info()
        )
    record.job = "voucher.services.mail.deliver"
    line = json.loads(JsonFormatter().format(record))
    assert line["msg"] == "failed job" and line["job"].endswith("deliver")
    assert "ValueError: boom" in line["exc"]


def test_sign_in_attempts_are_limited(app, client, db):
    app.config["RATELIMIT_PER_MINUTE"] = 3
    worker = factories.user(db, Role.WORKER)
    db.commit()
    wrong = {"email": worker.email, "password": "not-the-password"}
    assert [client.post("/auth/login", data=wrong).status_code for _ in range(3)] == [200] * 3
    refused = client.post("/auth/login", data=wrong)
    assert refused.status_code == 429
    assert client.post("/auth/reset", data={"email": worker.email}).status_code == 302
    assert client.get("/auth/login").status_code == 200  # reading the form is not limited
