"""Both catalogues are complete, the language follows the user, money follows the locale."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.catalog import TranslationError
from babel.messages.checkers import python_format
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from voucher.models import Role

ROOT = Path(__file__).resolve().parent.parent
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None}
METHODS = [("voucher/**.py", "python"), ("voucher/templates/**.html", "jinja2")]


def _source_messages() -> set[str]:
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), METHODS, keywords=KEYWORDS
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


@pytest.mark.parametrize("lang", ["it", "en"])
def test_catalogue_has_every_message_translated(lang):
    with (ROOT / "translations" / lang / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalogue = read_po(f, locale=lang)
    missing, untranslated, fuzzy, bad_format = [], [], [], []
    for msgid in sorted(_source_messages()):
        entry = catalogue.get(msgid)
        if entry is None:
            missing.append(msgid)
        elif not entry.string or (isinstance(entry.string, tuple) and not all(entry.string)):
            untranslated.append(msgid)
        elif entry.fuzzy:
            fuzzy.append(msgid)
        else:
            try:
                python_format(catalogue, entry)
            except TranslationError as exc:
                bad_format.append(f"{msgid}: {exc}")
    assert not missing, f"missing from {lang}: {missing}"
    assert not untranslated, f"untranslated in {lang}: {untranslated}"
    assert not fuzzy, f"fuzzy in {lang}: {fuzzy}"
    assert not bad_format, f"placeholders differ in {lang}: {bad_format}"


def test_italian_is_the_default(client):
    html = client.get("/").get_data(as_text=True)
    assert 'lang="it"' in html
    assert "Accedi" in html


def test_accept_language_then_explicit_choice(client):
    english = client.get("/", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert 'lang="en"' in english.get_data(as_text=True)
    client.get("/?lang=it", headers={"Accept-Language": "en"})
    remembered = client.get("/", headers={"Accept-Language": "en"})
    assert 'lang="it"' in remembered.get_data(as_text=True)
    client.get("/?lang=en")
    assert "Sign in" in client.get("/").get_data(as_text=True)


def test_unknown_language_is_ignored(client):
    assert 'lang="it"' in client.get("/?lang=xx").get_data(as_text=True)


def test_language_choice_is_saved_on_the_account(client, db, login_as):
    worker = login_as(Role.WORKER)
    client.get("/worker/?lang=en")
    db.refresh(worker)
    assert worker.locale == "en"


def test_money_is_formatted_in_the_locale(app):
    from flask_babel import force_locale

    from voucher.i18n import format_money

    with app.test_request_context():
        with force_locale("it"):
            assert format_money(123456) == "€\xa01.234,56"
            assert format_money(-5) == "-€\xa00,05"
        with force_locale("en"):
            assert format_money(123456) == "€1,234.56"


def test_error_pages_are_translated(client):
    italian = client.get("/does-not-exist")
    assert italian.status_code == 404
    assert "Pagina non trovata" in italian.get_data(as_text=True)
    english = client.get("/does-not-exist?lang=en")
    assert "Page not found" in english.get_data(as_text=True)


def test_language_links_after_a_post_lead_to_a_page_a_get_can_show(client):
    html = client.post("/auth/register", data={"email": "x"}).get_data(as_text=True)
    assert 'href="/?lang=en"' in html
    assert 'href="/auth/register?lang=en"' in client.get("/auth/register").get_data(as_text=True)
