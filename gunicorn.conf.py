"""gunicorn settings for production and for ``make bench`` (the same file for both).

    .venv/bin/gunicorn -c gunicorn.conf.py wsgi:app

Sync workers: every request is a short database round trip plus a template, and a
worker per request in flight is the simplest model that cannot stall on a slow client
behind a buffering reverse proxy (nginx). The app is loaded once in the master and
forked, so the workers share its memory; ``gc.freeze()`` after each worker starts moves
those shared objects out of the garbage collector's sight, so collections neither scan
nor copy them.

Environment: ``VOUCHER_BIND`` (default 127.0.0.1:8000), ``VOUCHER_WORKERS`` (default
2 x cores + 1, counting the cores this process may run on), ``VOUCHER_TIMEOUT`` (seconds,
default 30).
"""

import gc
import multiprocessing
import os

bind = os.environ.get("VOUCHER_BIND", "127.0.0.1:8000")


def usable_cores() -> int:
    """The cores this process may run on: a container's cpuset or ``taskset`` may grant
    fewer than the machine has, and workers sized for cores they cannot use only take
    turns on the ones they can, evicting each other's caches (measured on one core: 3
    workers served the benchmark's pages 3-10% faster than 4)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return multiprocessing.cpu_count()


workers = int(os.environ.get("VOUCHER_WORKERS", usable_cores() * 2 + 1))
worker_class = "sync"
preload_app = True
timeout = int(os.environ.get("VOUCHER_TIMEOUT", "30"))
graceful_timeout = 30
keepalive = 5
# Each worker's heartbeat is a file it touches on every request; on a disk-backed /tmp
# that can block a worker (gunicorn's FAQ), so it goes to memory where there is any.
# (gunicorn makes the file with mkstemp and unlinks it at once: nothing to guess or hijack.)
_MEMORY = "/dev/shm"  # noqa: S108
worker_tmp_dir = _MEMORY if os.path.isdir(_MEMORY) else None
# Recycle workers now and then, so a slow leak cannot grow for ever.
max_requests = 20_000
max_requests_jitter = 2_000
# No runtime control socket: a second gunicorn on the host (the benchmark runs two)
# would fight over its default path, and deployments manage gunicorn with signals.
control_socket_disable = True
# The app logs one JSON line per request (voucher/logs.py): no second access log.
accesslog = None
errorlog = "-"
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "voucher.logs.JsonFormatter"}},
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "stream": "ext://sys.stderr",
        }
    },
    "root": {"handlers": ["stderr"], "level": "INFO"},
    "loggers": {
        "gunicorn.error": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        "gunicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
    },
}


def when_ready(server):
    """In the master, before the workers fork: templates and catalogues, once for all."""
    app = server.app.wsgi()
    if "sqlalchemy" not in getattr(app, "extensions", {}):
        return  # not our app (the benchmark's bare Flask app)
    from voucher.templating import prepare

    prepare(app)


def post_fork(server, worker):
    """Each worker opens its own database connections, never the master's."""
    app = worker.app.wsgi()
    if "sqlalchemy" not in getattr(app, "extensions", {}):
        return  # not our app (the benchmark's bare Flask app)
    from voucher.extensions import db

    with app.app_context():
        db.engine.dispose(close=False)


def post_worker_init(worker):
    """Freeze what the worker inherited, once it is ready to serve."""
    gc.freeze()
