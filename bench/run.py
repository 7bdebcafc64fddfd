"""``make bench`` / ``python -m bench [--full]``: how fast the pages people use most are.

For each backend (SQLite always; PostgreSQL when ``VOUCHER_BENCH_DATABASE_URL`` is set —
its ``public`` schema is dropped and rebuilt):

1. build the schema with the real migrations and seed it deterministically (bench/seed.py):
   quick 1,000 workers / 10,000 claims, full 50,000 / 500,000, growing in stages;
2. at each stage start the app and a bare Flask "ok" app under the same gunicorn config
   (gunicorn.conf.py: sync workers, ``gc.freeze()`` after worker init), pinned to core 0,
   and drive them with ``wrk`` pinned to core 1 (when there are two cores), alternating
   app and bare runs (A B A B) so that noise from other processes hits both alike;
3. measure the worker dashboard, the operator queue and a claim's detail page at 1 and
   16 connections (requests/s, p50, p99, ratio to bare Flask, SQL statements per page),
   then at the last stage the claim approval POST at 16 connections, and check that no
   money was overspent, and two reference pages that are not judged (``REFERENCES``);
4. score the worker dashboard and the login page with Lighthouse (mobile), if installed.

Results: ``bench/results/<time>-<mode>.json`` and ``.md`` (also printed). Exit status 1
when a figure is outside ``bench/thresholds.toml``. The machine has two cores and other
people's tests may run on it: run it when the machine is quiet, and read the ratios (the
bare app suffers the same noise) before the absolute figures.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
REPORT = BENCH / "report.lua"
VENV_BIN = Path(sys.executable).parent
SECRET_KEY = "bench-secret-key"  # noqa: S105 - a throw-away benchmark database
PAGES = ["worker_dashboard", "operator_queue", "claim_detail"]
LIST_PAGES = ["worker_dashboard", "operator_queue"]
# Not judged, measured at the last stage to read the ratios by: the privacy notice is static
# text in the layout, so anonymous it costs what Flask, the app's hooks and the layout cost,
# and signed in (as the benchmarked worker) it adds the session, the person and their menu:
# the most any signed-in page of this app can score, before reading anything of its own.
REFERENCES = {"static_page_anonymous": "/privacy", "static_page_signed_in": "/privacy"}
MODES = {
    "quick": {"workers": 1_000, "stages": [1_000, 10_000]},
    "full": {"workers": 50_000, "stages": [1_000, 100_000, 500_000]},
}


def log(message: str) -> None:
    print(f"[bench {datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


# --- the database -----------------------------------------------------------------------


def reset_database(backend: str, results: Path) -> str:
    """An empty database for ``backend``, and its URL."""
    if backend == "sqlite":
        path = results / "bench.sqlite3"
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}"
    url = os.environ["VOUCHER_BENCH_DATABASE_URL"]
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return url


def _app(url: str, uploads: Path) -> Any:
    from voucher import create_app

    return create_app(
        {
            "TESTING": True,
            "ENV_NAME": "test",
            # The server's key: the encrypted columns (voucher/crypto.py) must read the same.
            "SECRET_KEY": SECRET_KEY,
            "SQLALCHEMY_DATABASE_URI": url,
            "WTF_CSRF_ENABLED": False,
            "UPLOAD_FOLDER": str(uploads),
            "JOBS": "inline",
            "MAIL_BACKEND": "outbox",
        }
    )


def migrate_and_build(url: str, workers: int, results: Path) -> tuple[Any, Any]:
    """The schema through ``flask db upgrade``'s code path, then the structure."""
    from flask_migrate import upgrade

    from bench import seed
    from voucher.extensions import db

    app = _app(url, results / "uploads")
    with app.app_context():
        upgrade()
        world = seed.build(db.session, workers)
        db.session.commit()
    return app, world


def grow(app: Any, world: Any, claims: int) -> None:
    from sqlalchemy import text

    from bench import seed
    from voucher.extensions import db

    with app.app_context():
        seed.grow(db.session, world, claims)
        seed.fix_sequences(db.session)
        db.session.commit()
        # Fresh planner statistics, as autovacuum would gather on a live database.
        db.session.execute(text("ANALYZE"))
        db.session.commit()


@dataclass
class Targets:
    """The paths measured, for the benchmarked worker and operator."""

    claim_id: int
    paths: dict[str, str]


def targets(app: Any, world: Any) -> Targets:
    from sqlalchemy import select

    from voucher.extensions import db
    from voucher.models import Claim, ClaimStatus

    with app.app_context():
        claim_id = db.session.scalars(
            select(Claim.id)
            .where(Claim.worker_id == world.worker_ids[0], Claim.status == ClaimStatus.SUBMITTED)
            .order_by(Claim.id)
        ).first()
    return Targets(
        claim_id,
        {
            "worker_dashboard": "/worker/",
            "operator_queue": "/operator/claims",
            "claim_detail": f"/operator/claims/{claim_id}",
        },
    )


def count_queries(app: Any, paths: dict[str, str]) -> dict[str, int]:
    """SQL statements each page sends, counted at the cursor, signed in as its user."""
    from sqlalchemy import event

    from bench import seed
    from voucher.extensions import db

    counts = {}
    who = {
        "worker_dashboard": seed.WORKER_EMAIL,
        "operator_queue": seed.OPERATOR_EMAIL,
        "claim_detail": seed.OPERATOR_EMAIL,
    }
    with app.app_context():
        engine = db.engine
    for page, path in paths.items():
        # Each request with contexts of its own, as in production (an app context held
        # around them would share ``g``, and with it the user the login loaded).
        client = app.test_client()
        response = client.post("/auth/login", data={"email": who[page], "password": seed.PASSWORD})
        assert response.status_code == 302, response.status_code
        statements: list[str] = []

        def before(*args: Any, statements: list[str] = statements) -> None:
            statements.append(args[2])

        event.listen(engine, "before_cursor_execute", before)
        try:
            response = client.get(path)
        finally:
            event.remove(engine, "before_cursor_execute", before)
        assert response.status_code == 200, (path, response.status_code)
        counts[page] = len(statements)
    return counts


def approvable(app: Any, world: Any, count: int) -> list[int]:
    from bench import seed
    from voucher.extensions import db

    with app.app_context():
        return seed.submitted_claims(db.session, world, count)


def overspend(app: Any) -> dict[str, int]:
    from bench import seed
    from voucher.extensions import db

    with app.app_context():
        db.session.expire_all()
        return seed.overspend(db.session)


# --- servers and load -------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pinned(core: int) -> list[str]:
    """``taskset -c core`` when the machine has two cores or more (and taskset exists)."""
    if (os.cpu_count() or 1) >= 2 and shutil.which("taskset"):
        return ["taskset", "-c", str(core)]
    return []


class Server:
    """A gunicorn process serving ``target`` with gunicorn.conf.py, pinned to core 0."""

    def __init__(self, target: str, env: dict[str, str], logfile: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = logfile.open("ab")
        self.process = subprocess.Popen(  # noqa: S603 - our own gunicorn, fixed arguments
            [*pinned(0), str(VENV_BIN / "gunicorn"), "-c", "gunicorn.conf.py", target],
            cwd=ROOT,
            env={**env, "VOUCHER_BIND": f"127.0.0.1:{self.port}"},
            stdout=self.log,
            stderr=self.log,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.base + "/", timeout=2):  # noqa: S310
                    return
            except urllib.error.HTTPError:
                return  # it answers (a redirect or 404 is an answer)
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError(f"gunicorn {target} exited; see {logfile}") from None
                time.sleep(0.2)
        raise RuntimeError(f"gunicorn {target} did not start; see {logfile}")

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.log.close()


def server_env(url: str, results: Path, queue: str) -> dict[str, str]:
    """The app in its production configuration, on the benchmark's database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VOUCHER_", "GUNICORN"))}
    env.update(
        {
            "VOUCHER_ENV": "production",
            "SECRET_KEY": SECRET_KEY,
            "VOUCHER_DATABASE_URL": url,
            "VOUCHER_UPLOAD_FOLDER": str(results / "uploads"),
            # E-mails about approvals go to a queue of their own, emptied afterwards.
            "VOUCHER_JOBS_QUEUE": queue,
            # Staff sign in with a password only here: two-factor is a step of signing in,
            # not part of what a page costs.
            "VOUCHER_2FA_ROLES": "",
            "PYTHONHASHSEED": "0",
        }
    )
    # As many workers as gunicorn.conf.py gives the core the server is pinned to (2 x 1 + 1),
    # unless BENCH_WORKERS says otherwise: the same rule serves the bare app and production.
    if os.environ.get("BENCH_WORKERS"):
        env["VOUCHER_WORKERS"] = os.environ["BENCH_WORKERS"]
    return env


_READ_WORKERS = "import runpy; print(runpy.run_path('gunicorn.conf.py')['workers'])"


def server_workers(env: dict[str, str]) -> int:
    """The workers gunicorn.conf.py gives the server: the config itself, read in a process
    pinned and configured as the server is (rather than its rule written again here)."""
    done = subprocess.run(  # noqa: S603 - our interpreter, fixed arguments
        [*pinned(0), sys.executable, "-c", _READ_WORKERS],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return int(done.stdout)


def login(base: str, email: str, password: str) -> tuple[str, str]:
    """Sign in over HTTP; the session cookie (as a Cookie header) and a page's CSRF token."""
    with urllib.request.urlopen(base + "/auth/login", timeout=10) as response:  # noqa: S310
        page = response.read().decode()
        cookie = _cookie(response.headers.get_all("Set-Cookie") or [])
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    body = urllib.parse.urlencode({"email": email, "password": password, "csrf_token": token})
    request = urllib.request.Request(  # noqa: S310
        base + "/auth/login", data=body.encode(), headers={"Cookie": cookie}, method="POST"
    )
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        opener.open(request, timeout=10)
    except urllib.error.HTTPError as answer:
        if answer.code != 302:
            raise
        cookie = _cookie(answer.headers.get_all("Set-Cookie") or []) or cookie
    return cookie, token


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _cookie(headers: list[str]) -> str:
    return "; ".join(h.split(";", 1)[0] for h in headers)


def _cookie_header(cookie: str | None) -> dict[str, str]:
    """The request's Cookie header; none for an anonymous visitor."""
    return {"Cookie": cookie} if cookie else {}


def page_token(base: str, path: str, cookie: str, field: str) -> tuple[str, str]:
    """A form's CSRF token on ``path``, and the session cookie that goes with it (the page
    may have put the token's secret in the session, and so sent a new cookie)."""
    request = urllib.request.Request(base + path, headers={"Cookie": cookie})  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        page = response.read().decode()
        cookie = _cookie(response.headers.get_all("Set-Cookie") or []) or cookie
    match = re.search(rf'name="{re.escape(field)}" type="hidden" value="([^"]+)"', page)
    if match is None:
        raise RuntimeError(f"no {field} on {path}")
    return html.unescape(match.group(1)), cookie


def preflight(url: str, cookie: str | None) -> None:
    """The page answers 200 to this session (wrk would count a redirect to the login page
    as a success)."""
    request = urllib.request.Request(url, headers=_cookie_header(cookie))  # noqa: S310
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        status = opener.open(request, timeout=20).status
    except urllib.error.HTTPError as answer:
        status = answer.code
    if status != 200:
        raise RuntimeError(f"{url} answers {status}, not 200: is the session signed in?")


def wrk(
    url: str,
    connections: int,
    seconds: float,
    headers: list[str],
    script: Path,
    *script_args: str,
) -> dict[str, Any]:
    """One wrk run pinned to core 1; its figures (see bench/report.lua)."""
    command = [
        *pinned(1),
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        *(part for header in headers for part in ("-H", header)),
        "-s",
        str(script),
        url,
    ]
    if script_args:
        command += ["--", *script_args]
    done = subprocess.run(command, capture_output=True, text=True, check=True)  # noqa: S603
    line = next(line for line in done.stdout.splitlines() if line.startswith("BENCH-JSON "))
    figures = json.loads(line.removeprefix("BENCH-JSON "))
    figures["rps"] = figures["requests"] / (figures["duration_us"] / 1e6)
    figures["error_count"] = sum(figures["errors"].values())
    return figures


BROWSER_HEADERS = ["Accept-Encoding: gzip, deflate, br", "Accept-Language: it-IT,it;q=0.9"]


def measure_pages(
    app_server: Server,
    bare: Server,
    paths: dict[str, str],
    cookies: dict[str, str | None],
    seconds: float,
    repeats: int,
) -> dict[str, dict[str, Any]]:
    """Each page at 1 and 16 connections, alternating app and bare runs (a page without a
    cookie is measured as an anonymous visitor's)."""
    out: dict[str, dict[str, Any]] = {}
    for page, path in paths.items():
        cookie = cookies[page]
        headers = [*BROWSER_HEADERS, *([f"Cookie: {cookie}"] if cookie else [])]
        preflight(app_server.base + path, cookie)
        # Warm up: templates compiled, pools filled, the database's pages in memory.
        wrk(app_server.base + path, 4, 1, headers, BENCH / "report.lua")
        out[page] = {}
        for connections in (1, 16):
            app_runs, bare_runs = [], []
            for _ in range(repeats):
                app_runs.append(
                    wrk(app_server.base + path, connections, seconds, headers, BENCH / "report.lua")
                )
                bare_runs.append(
                    wrk(
                        bare.base + "/", connections, seconds, BROWSER_HEADERS, BENCH / "report.lua"
                    )
                )
            out[page][str(connections)] = _summary(app_runs, bare_runs)
            log(
                f"  {page:17s} c={connections:<2d} {out[page][str(connections)]['rps']:8.1f} req/s"
                f"  p50 {out[page][str(connections)]['p50_ms']:6.2f} ms"
                f"  p99 {out[page][str(connections)]['p99_ms']:6.2f} ms"
                f"  ratio {out[page][str(connections)]['ratio']:.3f}"
            )
    return out


def _summary(app_runs: list[dict[str, Any]], bare_runs: list[dict[str, Any]]) -> dict[str, Any]:
    rps = statistics.median(r["rps"] for r in app_runs)
    bare_rps = statistics.median(r["rps"] for r in bare_runs)
    return {
        "rps": round(rps, 1),
        "bare_rps": round(bare_rps, 1),
        "ratio": round(rps / bare_rps, 4) if bare_rps else 0.0,
        "p50_ms": round(statistics.median(r["latency_us"]["p50"] for r in app_runs) / 1000, 3),
        "p99_ms": round(statistics.median(r["latency_us"]["p99"] for r in app_runs) / 1000, 3),
        "errors": sum(r["error_count"] for r in app_runs),
        "runs": len(app_runs),
    }


def measure_approvals(
    app_server: Server, bare: Server, claim_ids: list[int], seconds: float, results: Path
) -> dict[str, Any]:
    """The approval POST at 16 connections, each request a different submitted claim."""
    from bench import seed

    cookie, _token = login(app_server.base, seed.OPERATOR_EMAIL, seed.PASSWORD)
    token, cookie = page_token(
        app_server.base, f"/operator/claims/{claim_ids[0]}", cookie, "approve-csrf_token"
    )
    ids_file = results / "approve-ids.txt"
    ids_file.write_text("\n".join(str(i) for i in claim_ids) + "\n")
    run = wrk(
        app_server.base + "/",
        16,
        seconds,
        [*BROWSER_HEADERS, f"Cookie: {cookie}"],
        BENCH / "approve.lua",
        str(ids_file),
        token,
    )
    bare_run = wrk(bare.base + "/", 16, seconds, BROWSER_HEADERS, BENCH / "report.lua")
    figures = {
        "rps": round(run["rps"], 1),
        "bare_rps": round(bare_run["rps"], 1),
        "p50_ms": round(run["latency_us"]["p50"] / 1000, 3),
        "p99_ms": round(run["latency_us"]["p99"] / 1000, 3),
        "requests": run["requests"],
        "errors": run["error_count"],
        "claims_available": len(claim_ids),
    }
    log(
        f"  approve POST      c=16 {figures['rps']:8.1f} req/s  p99 {figures['p99_ms']:.2f} ms"
        f"  errors {figures['errors']}"
    )
    return figures


def lighthouse(base: str, paths: dict[str, str], cookie: str, results: Path) -> dict[str, Any]:
    """Lighthouse's mobile scores (performance, accessibility) per page, if installed."""
    binary = ROOT / "node_modules" / ".bin" / "lighthouse"
    chrome = os.environ.get("CHROME_PATH", "/usr/bin/chromium")
    if not binary.exists() or not Path(chrome).exists():
        log("Lighthouse or Chromium missing (make bench installs them): scores skipped")
        return {}
    scores = {}
    for page, path in paths.items():
        report = results / f"lighthouse-{page}.json"
        headers = json.dumps({"Cookie": cookie}) if cookie and page != "login" else "{}"
        subprocess.run(  # noqa: S603 - the project's own node_modules
            [
                str(binary),
                base + path,
                "--quiet",
                "--output=json",
                f"--output-path={report}",
                "--only-categories=performance,accessibility",
                "--chrome-flags=--headless=new --no-sandbox --disable-gpu",
                f"--extra-headers={headers}",
            ],
            check=True,
            env={**os.environ, "CHROME_PATH": chrome},
            cwd=ROOT,
            capture_output=True,
        )
        data = json.loads(report.read_text())
        scores[page] = {
            name: round(data["categories"][name]["score"] * 100)
            for name in ("performance", "accessibility")
        }
        log(f"  lighthouse {page}: {scores[page]}")
    return scores


def clear_queue(queue: str) -> None:
    try:
        from redis import Redis
        from rq import Queue

        Queue(
            queue,
            connection=Redis.from_url(
                os.environ.get("VOUCHER_REDIS_URL", "redis://127.0.0.1:6379/0")
            ),
        ).delete(delete_jobs=True)
    except Exception as exc:
        log(f"could not empty the queue {queue}: {exc}")


# --- one backend ------------------------------------------------------------------------


def run_backend(
    backend: str, mode: str, seconds: float, repeats: int, results: Path, with_lighthouse: bool
) -> dict[str, Any]:
    from bench import seed

    config = MODES[mode]
    url = reset_database(backend, results)
    log(f"{backend}: migrating and seeding {config['workers']:,} workers")
    app, world = migrate_and_build(url, config["workers"], results)
    queue = f"voucher-bench-{os.getpid()}"
    stages: list[dict[str, Any]] = []
    approvals: dict[str, Any] = {}
    references: dict[str, Any] = {}
    scores: dict[str, Any] = {}
    for number, claims in enumerate(config["stages"]):
        started = time.monotonic()
        grow(app, world, claims)
        log(f"{backend}: {claims:,} claims seeded in {time.monotonic() - started:.1f} s")
        target = targets(app, world)
        queries = count_queries(app, target.paths)
        last = number == len(config["stages"]) - 1
        env = server_env(url, results, queue)
        logfile = results / f"gunicorn-{backend}.log"
        app_server = Server("wsgi:app", env, logfile)
        bare = Server("bench.bare:app", env, logfile)
        try:
            worker_cookie, _ = login(app_server.base, seed.WORKER_EMAIL, seed.PASSWORD)
            operator_cookie, _ = login(app_server.base, seed.OPERATOR_EMAIL, seed.PASSWORD)
            cookies = {
                "worker_dashboard": worker_cookie,
                "operator_queue": operator_cookie,
                "claim_detail": operator_cookie,
            }
            pages = measure_pages(app_server, bare, target.paths, cookies, seconds, repeats)
            for page, count in queries.items():
                pages[page]["queries"] = count
            stages.append({"claims": claims, "pages": pages})
            if last:
                references = measure_pages(
                    app_server,
                    bare,
                    REFERENCES,
                    {"static_page_anonymous": None, "static_page_signed_in": worker_cookie},
                    seconds,
                    repeats,
                )
                # Enough distinct claims for the fastest plausible run, and then some.
                ids = approvable(app, world, 6_000 if mode == "quick" else 20_000)
                approvals = measure_approvals(app_server, bare, ids, seconds, results)
                approvals["overspend"] = overspend(app)
                if with_lighthouse:
                    scores = lighthouse(
                        app_server.base,
                        {"worker_dashboard": "/worker/", "login": "/auth/login"},
                        worker_cookie,
                        results,
                    )
        finally:
            app_server.stop()
            bare.stop()
            clear_queue(queue)
    growth = {
        page: round(
            stages[-1]["pages"][page]["1"]["p50_ms"] / stages[0]["pages"][page]["1"]["p50_ms"], 3
        )
        for page in PAGES
    }
    return {
        "stages": stages,
        "growth": {"from": stages[0]["claims"], "to": stages[-1]["claims"], "p50_ratio": growth},
        "approve": approvals,
        "references": references,
        "lighthouse": scores,
    }


# --- verdict and report -----------------------------------------------------------------


def verdict(results: dict[str, Any], limits: dict[str, Any]) -> list[str]:
    """What is outside the thresholds (empty: all within)."""
    failures = []
    for backend, data in results["backends"].items():
        final = data["stages"][-1]["pages"]
        min_ratio = limits["list_pages"][f"min_ratio_{backend}"]
        for page in LIST_PAGES:
            ratio = final[page]["16"]["ratio"]
            if ratio < min_ratio:
                failures.append(f"{backend} {page}: ratio {ratio} < {min_ratio} at 16 connections")
            growth = data["growth"]["p50_ratio"][page]
            if growth > limits["list_pages"]["max_growth"]:
                failures.append(f"{backend} {page}: latency grew {growth}x")
        for stage in data["stages"]:
            for page in PAGES:
                figures = stage["pages"][page]
                if figures["1"]["p99_ms"] > limits["pages"]["max_p99_ms_at_1_connection"]:
                    failures.append(
                        f"{backend} {page} at {stage['claims']:,} claims: p99 "
                        f"{figures['1']['p99_ms']} ms at 1 connection"
                    )
                if figures["queries"] > limits["pages"]["max_queries"]:
                    failures.append(f"{backend} {page}: {figures['queries']} queries")
                errors = figures["1"]["errors"] + figures["16"]["errors"]
                if errors:
                    failures.append(f"{backend} {page}: {errors} failed requests")
        approve = data["approve"]
        if approve:
            if backend == "postgresql" and approve["rps"] < limits["approve"]["min_rps_postgresql"]:
                failures.append(f"{backend} approvals: {approve['rps']} req/s")
            if sum(approve["overspend"].values()) > limits["approve"]["max_overspend"]:
                failures.append(f"{backend} approvals overspent: {approve['overspend']}")
            if backend == "postgresql" and approve["errors"] > limits["approve"]["max_errors"]:
                failures.append(f"{backend} approvals: {approve['errors']} failed requests")
        for page, score in data["lighthouse"].items():
            if score["performance"] < limits["lighthouse"]["min_performance"]:
                failures.append(f"lighthouse {page}: performance {score['performance']}")
            if score["accessibility"] < limits["lighthouse"]["min_accessibility"]:
                failures.append(f"lighthouse {page}: accessibility {score['accessibility']}")
    return failures


def markdown(results: dict[str, Any]) -> str:
    lines = [
        f"# Benchmark ({results['mode']}, {results['started']})",
        "",
        f"Machine: {results['machine']['cpus']} cores, {results['machine']['platform']}, "
        f"load average before the run {results['machine']['loadavg']}; "
        f"{results['seconds']} s per run, {results['repeats']} runs per figure (median), "
        f"server on core 0 ({results['machine']['server_workers']} gunicorn workers) "
        "and wrk on core 1.",
        "",
    ]
    for backend, data in results["backends"].items():
        lines += [
            f"## {backend}",
            "",
            "| claims | page | conns | req/s | bare req/s | ratio | p50 ms | p99 ms | queries |",
            "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for stage in data["stages"]:
            for page in PAGES:
                for conns in ("1", "16"):
                    f = stage["pages"][page][conns]
                    lines.append(
                        f"| {stage['claims']:,} | {page} | {conns} | {f['rps']:.0f} | "
                        f"{f['bare_rps']:.0f} | {f['ratio']:.3f} | {f['p50_ms']:.2f} | "
                        f"{f['p99_ms']:.2f} | {stage['pages'][page]['queries']} |"
                    )
        references = data.get("references") or {}
        if references:
            lines += [
                "",
                f"Not judged, at {data['stages'][-1]['claims']:,} claims: the privacy notice "
                "(static text in the layout), anonymous and signed in as the worker. No "
                "signed-in page can score above the second.",
                "",
                "| reference | conns | req/s | bare req/s | ratio | p50 ms | p99 ms |",
                "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
            ]
            for page, by_conns in references.items():
                for conns in ("1", "16"):
                    f = by_conns[conns]
                    lines.append(
                        f"| {page} | {conns} | {f['rps']:.0f} | {f['bare_rps']:.0f} | "
                        f"{f['ratio']:.3f} | {f['p50_ms']:.2f} | {f['p99_ms']:.2f} |"
                    )
        growth = data["growth"]
        lines += [
            "",
            f"Latency growth (p50 at 1 connection) from {growth['from']:,} to "
            f"{growth['to']:,} claims: "
            + ", ".join(f"{p} {r}x" for p, r in growth["p50_ratio"].items()),
            "",
        ]
        approve = data["approve"]
        if approve:
            lines += [
                f"Claim approval POST at 16 connections: {approve['rps']:.0f} req/s "
                f"(bare {approve['bare_rps']:.0f}), p50 {approve['p50_ms']} ms, "
                f"p99 {approve['p99_ms']} ms, {approve['requests']} approvals, "
                f"{approve['errors']} failed; overspend {approve['overspend']}",
                "",
            ]
        for page, score in data["lighthouse"].items():
            lines.append(
                f"Lighthouse (mobile) {page}: performance {score['performance']}, "
                f"accessibility {score['accessibility']}"
            )
        lines.append("")
    lines += ["## Verdict", ""]
    lines += [f"- {f}" for f in results["failures"]] or [
        "All figures within bench/thresholds.toml."
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--full", action="store_true", help="50,000 workers / 500,000 claims")
    parser.add_argument("--seconds", type=float, default=None, help="length of each wrk run")
    parser.add_argument("--repeats", type=int, default=2, help="app/bare pairs per figure")
    parser.add_argument(
        "--backend",
        action="append",
        choices=["sqlite", "postgresql"],
        help="default: sqlite, and postgresql when VOUCHER_BENCH_DATABASE_URL is set",
    )
    parser.add_argument("--no-lighthouse", action="store_true")
    args = parser.parse_args(argv)
    mode = "full" if args.full else "quick"
    seconds = args.seconds or (10.0 if args.full else 4.0)
    backends = args.backend or (
        ["sqlite"] + (["postgresql"] if os.environ.get("VOUCHER_BENCH_DATABASE_URL") else [])
    )
    if "postgresql" in backends and not os.environ.get("VOUCHER_BENCH_DATABASE_URL"):
        parser.error("postgresql needs VOUCHER_BENCH_DATABASE_URL")
    if shutil.which("wrk") is None:
        parser.error("wrk is missing: `make bench` installs it (Debian package wrk)")
    started = datetime.now(UTC)
    results_dir = BENCH / "results"
    results_dir.mkdir(exist_ok=True)
    (results_dir / "uploads").mkdir(exist_ok=True)
    results: dict[str, Any] = {
        "mode": mode,
        "started": started.isoformat(timespec="seconds"),
        "seconds": seconds,
        "repeats": args.repeats,
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "loadavg": [round(x, 2) for x in os.getloadavg()],
            "server_workers": server_workers(server_env("", results_dir, "")),
        },
        "backends": {},
    }
    for index, backend in enumerate(backends):
        results["backends"][backend] = run_backend(
            backend,
            mode,
            seconds,
            args.repeats,
            results_dir,
            with_lighthouse=not args.no_lighthouse and index == 0,
        )
    limits = tomllib.loads((BENCH / "thresholds.toml").read_text())
    results["thresholds"] = limits
    results["failures"] = verdict(results, limits)
    stem = results_dir / f"{started:%Y%m%dT%H%M%S}-{mode}"
    stem.with_suffix(".json").write_text(json.dumps(results, indent=2) + "\n")
    report = markdown(results)
    stem.with_suffix(".md").write_text(report)
    print(report)
    log(f"results: {stem}.json and .md")
    return 1 if results["failures"] else 0
