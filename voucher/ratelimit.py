"""A small fixed-window rate limit for the forms a password can be guessed through.

``limited("login")`` as a view decorator answers 429 once a client address has posted
``RATELIMIT_PER_MINUTE`` times in the current minute. Counters live in Redis in production
(every gunicorn worker and host shares them) and in this process's memory otherwise.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, abort, current_app, request

F = TypeVar("F", bound=Callable[..., Any])
WINDOW = 60


class MemoryCounter:
    """Counters of the current windows, in this process."""

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, window: int) -> int:
        with self._lock:
            # Forget the windows that have ended (keys end with their window number).
            suffix = f":{window}"
            self._counts = {k: v for k, v in self._counts.items() if k.endswith(suffix)}
            self._counts[key] = self._counts.get(key, 0) + 1
            return self._counts[key]


class RedisCounter:
    """Counters in Redis, expiring with their window."""

    def __init__(self, url: str) -> None:
        from redis import Redis

        self._redis = Redis.from_url(url)

    def hit(self, key: str, window: int) -> int:
        pipe = self._redis.pipeline()
        pipe.incr(key)
        pipe.expire(key, WINDOW * 2)
        count, _ = pipe.execute()
        return int(count)


def init_app(app: Flask) -> None:
    """Choose where the counters live."""
    if app.config["RATELIMIT_STORAGE"] == "redis":
        app.extensions["voucher_ratelimit"] = RedisCounter(app.config["REDIS_URL"])
    else:
        app.extensions["voucher_ratelimit"] = MemoryCounter()


def allow(name: str) -> bool:
    """Count one attempt at ``name`` from this client; False once over the limit."""
    limit = current_app.config["RATELIMIT_PER_MINUTE"]
    if not limit:
        return True
    window = int(time.time() // WINDOW)
    key = f"voucher:ratelimit:{name}:{request.remote_addr}:{window}"
    return current_app.extensions["voucher_ratelimit"].hit(key, window) <= limit


def limited(name: str) -> Callable[[F], F]:
    """Answer 429 to a POST from a client that went over the limit this minute."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if request.method == "POST" and not allow(name):
                abort(429)
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator
