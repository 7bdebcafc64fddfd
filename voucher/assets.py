"""Static files for phones on slow networks: fingerprinted, cached for a year, compressed.

* ``url_for('static', filename=...)`` adds ``?v=<content hash>``: a new version of a file
  gets a new address, so the old one can be cached as ``immutable`` for a year and a
  returning visitor's phone asks for nothing but the page itself.
* Text files (CSS, SVG) are compressed once per process with Brotli or gzip, whichever the
  browser accepts, and kept in memory: the few files we serve are small, and compressing
  them on every request would cost more than the page. Pages themselves are compressed by
  Flask-Compress (see :func:`init_app`).

Compression is done here rather than left to a reverse proxy so that every deployment,
the benchmark and the page-budget test see the same bytes a phone does.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import brotli
from flask import Flask, Response, abort, current_app, request
from flask_compress import Compress
from werkzeug.security import safe_join

compress = Compress()

ONE_YEAR = 31_536_000
# Types worth compressing; woff2, JPEG and PNG are compressed already.
TEXT_TYPES = {"text/css", "image/svg+xml", "application/javascript", "text/javascript"}


@dataclass(frozen=True)
class StaticFile:
    """One file of ``static/`` as served: its bytes, plain and compressed, and its hash."""

    data: bytes
    mimetype: str
    fingerprint: str
    br: bytes | None
    gzip: bytes | None


@lru_cache(maxsize=256)
def _load(path: str, mtime_ns: int) -> StaticFile:
    data = Path(path).read_bytes()
    mimetype = mimetypes.guess_type(path)[0] or "application/octet-stream"
    text = mimetype in TEXT_TYPES and len(data) > 500
    return StaticFile(
        data=data,
        mimetype=mimetype,
        fingerprint=hashlib.sha256(data).hexdigest()[:12],
        # Files are compressed once, so the strongest settings cost nothing later.
        br=brotli.compress(data, quality=11) if text else None,
        gzip=gzip.compress(data, 9, mtime=0) if text else None,
    )


def _static_file(filename: str) -> StaticFile | None:
    path = safe_join(current_app.static_folder or "", filename)
    if path is None or not os.path.isfile(path):
        return None
    # The modification time is part of the key, so an edited file is hashed again in dev.
    return _load(path, os.stat(path).st_mtime_ns)


def fingerprint(filename: str) -> str | None:
    """The content hash that versions ``filename`` in its URL (None if it does not exist)."""
    found = _static_file(filename)
    return found.fingerprint if found else None


def _add_fingerprint(endpoint: str, values: dict[str, Any]) -> None:
    """``url_for('static', filename=f)`` -> ``/static/f?v=<hash>``."""
    if endpoint == "static" and "filename" in values and "v" not in values:
        version = fingerprint(values["filename"])
        if version:
            values["v"] = version


def serve_static(filename: str) -> Response:
    """A static file, compressed if the browser accepts it, cached for a year when the
    address carries the file's current fingerprint."""
    found = _static_file(filename)
    if found is None:
        abort(404)
    accepted = request.accept_encodings
    body, encoding = found.data, None
    if found.br is not None and accepted["br"]:
        body, encoding = found.br, "br"
    elif found.gzip is not None and accepted["gzip"]:
        body, encoding = found.gzip, "gzip"
    response = Response(body, mimetype=found.mimetype)
    if encoding:
        response.headers["Content-Encoding"] = encoding
    if found.gzip is not None:
        response.vary.add("Accept-Encoding")
    if request.args.get("v") == found.fingerprint:
        response.headers["Cache-Control"] = f"public, max-age={ONE_YEAR}, immutable"
    else:
        # An old or missing version: serve the current file, but let nobody keep it.
        response.headers["Cache-Control"] = "no-cache"
    response.set_etag(f"{found.fingerprint}-{encoding or 'identity'}")
    return response.make_conditional(request)


def init_app(app: Flask) -> None:
    """Fingerprinted static URLs, the static view above, and compressed pages."""
    app.url_defaults(_add_fingerprint)
    app.view_functions["static"] = serve_static
    app.config.setdefault("COMPRESS_ALGORITHM", ["br", "gzip"])
    # Pages are compressed on every request, so the level is CPU on every page. Brotli 2
    # makes them about 10% larger than level 4 in half the time (the review queue's 29 KB:
    # 3.1 KB in 52 µs against 2.8 KB in 114 µs); both are far inside the 14 KB that arrive
    # in a connection's first round trip, the page budget, so a phone waits no longer.
    app.config.setdefault("COMPRESS_BR_LEVEL", 2)
    app.config.setdefault("COMPRESS_LEVEL", 6)
    app.config.setdefault("COMPRESS_MIMETYPES", ["text/html", "application/json", "text/plain"])
    compress.init_app(app)
