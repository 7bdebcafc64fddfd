"""Static files for phones: the trimmed UI kit has every class we use, files are
fingerprinted and cached for a year, and pages and CSS travel compressed."""

from __future__ import annotations

import re
from pathlib import Path

import brotli
import pytest

ROOT = Path(__file__).resolve().parent.parent
STATIC = ROOT / "voucher" / "static"
FULL_KIT = STATIC / "vendor" / "bootstrap-italia" / "css" / "bootstrap-italia.min.css"
KIT = STATIC / "css" / "kit.min.css"

# Only the app is involved here, not the data.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _classes_in(css: str) -> set[str]:
    return set(re.findall(r"\.(-?[_a-zA-Z][\w-]*)", css))


def _classes_used() -> set[str]:
    """Every class written in a template's class="..." or a form's class_="..."."""
    used: set[str] = set()
    sources = [*ROOT.glob("voucher/templates/**/*.html"), *ROOT.glob("voucher/**/*.py")]
    for path in sources:
        text = path.read_text()
        for value in re.findall(r'class_?="([^"]*)"', text):
            # Jinja puts some names together at run time: keep only the literal words.
            literal = re.sub(r"\{\{.*?\}\}|\{%.*?%\}", " ", value)
            used |= {w for w in literal.split() if re.fullmatch(r"[a-z][\w-]*", w)}
        for expression in re.findall(r"\{\{(.*?)\}\}|\{%(.*?)%\}", text):
            for quoted in re.findall(r"'([a-z][\w -]*)'|\"([a-z][\w -]*)\"", "".join(expression)):
                used |= {w for w in "".join(quoted).split() if "-" in w}
    return used


def test_the_trimmed_kit_has_every_class_the_templates_use(app):
    """A class the full kit styles but the trimmed one lost: run `make assets`."""
    kit, full = _classes_in(KIT.read_text()), _classes_in(FULL_KIT.read_text())
    missing = sorted(c for c in _classes_used() if c in full and c not in kit)
    assert missing == [], f"run `make assets` (tools/build-kit.mjs): {missing}"


def test_the_trimmed_kit_is_small_and_its_fonts_exist(app):
    css = KIT.read_text()
    assert len(brotli.compress(css.encode())) < 20_000
    fonts = re.findall(r'url\("\.\./([^"?]+)\?v=(\w+)"\)', css)
    assert len(fonts) == 2  # regular and semibold: every weight is another download
    from voucher import assets

    with app.test_request_context():
        for path, version in fonts:
            assert (STATIC / path).is_file()
            assert assets.fingerprint(path) == version, "run `make assets`: a font changed"


def test_static_urls_are_fingerprinted_and_cached_for_a_year(app, client):
    page = client.get("/auth/login").get_data(as_text=True)
    urls = re.findall(r'(?:href|src)="(/static/[^"]+)"', page)
    assert urls and all(re.search(r"\?v=[0-9a-f]{12}$", u) for u in urls), urls
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        etag = response.headers["ETag"]
        assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
    stale = client.get(urls[0].split("?")[0] + "?v=000000000000")
    assert stale.status_code == 200 and stale.headers["Cache-Control"] == "no-cache"
    assert client.get("/static/css/nothing-here.css").status_code == 404
    assert client.get("/static/../wsgi.py").status_code == 404


def test_pages_and_css_are_compressed(app, client):
    page = client.get("/auth/login", headers={"Accept-Encoding": "gzip, deflate, br"})
    assert page.headers["Content-Encoding"] == "br"
    assert "Accept-Encoding" in page.headers["Vary"]
    html = brotli.decompress(page.data).decode()
    assert 'name="email"' in html
    url = re.search(r'href="(/static/css/kit\.min\.css[^"]*)"', html).group(1)
    css = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert css.headers["Content-Encoding"] == "gzip"
    assert len(css.data) < KIT.stat().st_size / 3
    plain = client.get(url)
    assert "Content-Encoding" not in plain.headers
    assert plain.data == KIT.read_bytes()
