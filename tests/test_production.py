"""The README's "Running in production" commands, run as written, on PostgreSQL.

The test reads the block marked ``production-commands`` in README.md and runs its lines in
order: the ``export`` lines set the environment (the database, the port, the queue and
the mail backend are this test's own, everything else as written), ``flask db upgrade``
builds a brand-new database, ``create-admin`` creates the administrator (password typed
twice on stdin), the worker and gunicorn start in the background, and curl checks
``/healthz``. Then it signs the administrator in over HTTP (password, then the two-factor
set-up with a code computed from the key the page shows) and asks for a password reset,
whose e-mail the RQ worker writes to the outbox: the queue works end to end.

``make`` lines install the app; ``make test`` has just done so, and running them again
beside other tests would rewrite the compiled translations under their feet.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import os
import re
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("VOUCHER_TEST_DATABASE_URL")
ADMIN_PASSWORD = "a-long-production-password"
BASH = shutil.which("bash") or "/bin/bash"

pytestmark = pytest.mark.skipif(not PG_URL, reason="needs VOUCHER_TEST_DATABASE_URL")


def readme_commands() -> list[str]:
    """The lines of the README's production block."""
    readme = (ROOT / "README.md").read_text()
    marker = readme.index("<!-- production-commands")
    block = re.search(r"```sh\n(.*?)```", readme[marker:], re.S)
    assert block, "the production-commands block must be a ```sh block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_the_readme_block_has_the_commands_we_rely_on():
    commands = "\n".join(readme_commands())
    for needed in (
        "export VOUCHER_ENV=production",
        "export VOUCHER_DATABASE_URL=postgresql+psycopg://",
        "flask --app voucher db upgrade",
        "flask --app voucher create-admin --email",
        "flask --app voucher worker &",
        "gunicorn -c gunicorn.conf.py wsgi:app",
        "/healthz",
    ):
        assert needed in commands, needed


@pytest.fixture
def fresh_database() -> Iterator[str]:
    """A brand-new PostgreSQL database beside the test one, dropped afterwards."""
    assert PG_URL
    name = f"voucher_prod_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _totp(secret: str, at: float) -> str:
    """RFC 6238 (SHA-1, six digits, 30 s): what an authenticator app shows."""
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    digest = hmac.new(key, struct.pack(">Q", int(at // 30)), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    code = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{code % 1_000_000:06d}"


class Browser:
    """Just enough of a browser over plain HTTP: cookies (Secure ones too, as behind the
    TLS proxy), no automatic redirects, CSRF tokens read from the forms."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.cookies: dict[str, str] = {}
        self.opener = urllib.request.build_opener(_NoRedirect)

    def request(self, path: str, data: dict[str, str] | None = None) -> tuple[int, str, str]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(  # noqa: S310 - loopback, our own server
            self.base + path,
            data=body,
            headers={"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())},
        )
        try:
            response = self.opener.open(request, timeout=20)
        except urllib.error.HTTPError as answer:
            response = answer
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            self.cookies[name] = rest.split(";", 1)[0]
        page = response.read().decode()
        return response.status, response.headers.get("Location", ""), page


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _token(page: str) -> str:
    found = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert found, "no CSRF token on the page"
    return html.unescape(found.group(1))


def _path(location: str) -> str:
    return urllib.parse.urlsplit(location).path


def test_production_setup_from_the_readme(fresh_database, tmp_path):
    port = _free_port()
    queue = f"voucher-test-{uuid.uuid4().hex[:8]}"
    overrides = {
        "VOUCHER_DATABASE_URL": fresh_database,
        "VOUCHER_BIND": f"127.0.0.1:{port}",
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VOUCHER_", "FLASK_"))}
    # Not in the README: this test's own queue, uploads, small pool, and e-mails kept in
    # the database so the test can read what the worker sent.
    env.update(
        {
            "VOUCHER_JOBS_QUEUE": queue,
            "VOUCHER_UPLOAD_FOLDER": str(tmp_path / "uploads"),
            "VOUCHER_WORKERS": "2",
            "VOUCHER_MAIL_BACKEND": "outbox",
            "PATH": f"{ROOT / '.venv' / 'bin'}:{os.environ.get('PATH', '')}",
        }
    )
    background: list[subprocess.Popen] = []
    logs = tmp_path / "processes.log"
    try:
        with logs.open("ab") as log:
            for line in readme_commands():
                if line.startswith("make "):
                    continue  # installation: done by `make test`
                exported = re.match(r"export (\w+)=(.*)$", line)
                if exported:
                    name, value = exported.groups()
                    env[name] = (
                        overrides.get(name)
                        or subprocess.run(  # noqa: S603
                            [BASH, "-c", f"printf %s {value}"],
                            env=env,
                            capture_output=True,
                            text=True,
                            check=True,
                        ).stdout
                    )
                    continue
                if line.endswith("&"):
                    background.append(
                        subprocess.Popen(  # noqa: S603 - the README's own command
                            shlex.split(line[:-1]),
                            cwd=ROOT,
                            env=env,
                            stdout=log,
                            stderr=log,
                            start_new_session=True,
                        )
                    )
                    continue
                done = subprocess.run(  # noqa: S603 - the README's own command
                    [BASH, "-c", line],
                    cwd=ROOT,
                    env=env,
                    input=f"{ADMIN_PASSWORD}\n{ADMIN_PASSWORD}\n",
                    capture_output=True,
                    text=True,
                    timeout=120,
                )
                assert done.returncode == 0, (line, done.stdout, done.stderr, logs.read_text())
                if "/healthz" in line:
                    assert '"status":"ok"' in done.stdout.replace(" ", ""), done.stdout

        browser = Browser(f"http://127.0.0.1:{port}")
        # Sign in: the password, then the two-factor set-up every staff account goes through.
        _status, _location, page = browser.request("/auth/login")
        status, location, _ = browser.request(
            "/auth/login",
            {"email": "admin@example.org", "password": ADMIN_PASSWORD, "csrf_token": _token(page)},
        )
        assert status == 302, logs.read_text()
        if _path(location) == "/auth/two-factor/setup":
            _status, _location, page = browser.request("/auth/two-factor/setup")
            key = re.search(r'<code class="user-select-all">([A-Z2-7 ]+)</code>', page)
            assert key, page
            code = _totp(key.group(1).replace(" ", ""), time.time())
            status, location, _ = browser.request(
                "/auth/two-factor/setup", {"code": code, "csrf_token": _token(page)}
            )
            assert status == 302, logs.read_text()
        assert _path(location) == "/admin/"
        status, _location, page = browser.request("/admin/")
        assert status == 200 and "/auth/logout" in page
        assert browser.request("/healthz")[0] == 200

        # A reset link is e-mailed by the RQ worker, after the request has answered.
        _status, _location, page = browser.request("/auth/logout")
        _status, _location, page = browser.request("/auth/reset")
        status, _location, _ = browser.request(
            "/auth/reset", {"email": "admin@example.org", "csrf_token": _token(page)}
        )
        assert status == 302
        engine = create_engine(fresh_database)
        deadline = time.monotonic() + 30
        mails = 0
        while time.monotonic() < deadline and not mails:
            with engine.connect() as conn:
                mails = conn.execute(text("SELECT count(*) FROM outbox_emails")).scalar()
            time.sleep(0.3)
        engine.dispose()
        assert mails == 1, logs.read_text()

        # Structured logs: one JSON line per request, without the query string.
        assert '"path": "/auth/login"' in logs.read_text()
    finally:
        for process in background:
            os.killpg(process.pid, signal.SIGTERM)
        for process in background:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
