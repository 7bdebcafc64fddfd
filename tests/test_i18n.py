"""Both catalogues are complete, the language follows the user, money follows the locale."""

from __future__ import annotations

from datetime import UTC, datetime
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


MOMENTS = [
    datetime(2026, 1, 31, 23, 30, tzinfo=UTC),  # the next day in Rome
    datetime(2026, 7, 4, 6, 5, 9, tzinfo=UTC),  # summer time
    datetime(2026, 3, 29, 1, 0),  # naive means UTC; the night summer time starts
    datetime(2026, 10, 25, 0, 30, tzinfo=UTC),  # the night summer time ends
    datetime(2026, 5, 9, 10, 0, 59, tzinfo=UTC),  # noon in Rome
    datetime(2026, 12, 1, 13, 7, 3, tzinfo=UTC),  # an afternoon, one-digit day
    datetime(1999, 8, 2, 22, 0, tzinfo=UTC),  # midnight in Rome, a year ending in 00
    # Every hour of a day: 12-hour clocks and AM/PM.
    *(datetime(2026, 6, 15, hour, 4, tzinfo=UTC) for hour in range(24)),
]


@pytest.mark.parametrize("lang", ["it", "en"])
def test_template_date_filters_write_what_flask_babel_writes(app, lang):
    """The templates' date filters take a faster path (voucher/i18n.py): same text as
    Flask-Babel's for every named format, explicit patterns, dates and moments."""
    import flask_babel

    filters = app.jinja_env.filters
    with app.test_request_context(), flask_babel.force_locale(lang):
        for moment in MOMENTS:
            for fmt in (
                *("short", "medium", "long", "full", "d MMM yyyy, HH:mm", "HH:mm"),
                *("h:mm a", "d/M/y H:m:s", "EEE d MMM yy, hh:mm:ss", "yyyy-MM-dd'T'HH:mm"),
            ):
                assert filters["datetimeformat"](moment, fmt) == flask_babel.format_datetime(
                    moment, fmt
                )
            assert filters["datetimeformat"](moment) == flask_babel.format_datetime(moment)
            for fmt in ("short", "medium", "long", "full", "MMMM yyyy"):
                assert filters["dateformat"](moment, fmt) == flask_babel.format_date(moment, fmt)
                day = moment.date()
                assert filters["dateformat"](day, fmt) == flask_babel.format_date(day, fmt)


def test_templates_follow_the_locale_as_it_changes_within_a_request(app):
    """The catalogue is cached per request next to its locale: ``force_locale`` (e-mails
    in the recipient's language) and ``refresh`` still switch it, and back; so do the
    formats of amounts and dates."""
    import flask_babel
    from flask import session

    template = app.jinja_env.from_string(
        '{{ _("Access denied") }} {{ amount|money }} {{ moment|dateformat("long") }}'
    )
    moment = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
    italian = "Accesso negato €\xa01.234,56 4 maggio 2026"
    english = "Access denied €1,234.56 May 4, 2026"
    with app.test_request_context(headers={"Accept-Language": "it"}):
        assert template.render(moment=moment, amount=123456) == italian
        with flask_babel.force_locale("en"):
            assert template.render(moment=moment, amount=123456) == english
        assert template.render(moment=moment, amount=123456) == italian
        session["lang"] = "en"
        flask_babel.refresh()
        assert template.render(moment=moment, amount=123456) == english
    with app.app_context():
        # Outside a request (a background job without force_locale): the default, Italian.
        assert template.render(moment=moment, amount=123456) == italian


def test_template_gettext_escapes_formats_and_counts(app):
    """The templates' own ``_``/``ngettext`` behave as Jinja's newstyle ones: variables are
    escaped and formatted, plurals follow the number, labels are markup-safe."""
    render = lambda source, **kw: app.jinja_env.from_string(source).render(**kw)  # noqa: E731
    with app.test_request_context(headers={"Accept-Language": "it"}):
        assert render('{{ _("No. %(id)d", id=7) }}') == "N. 7"
        assert render('{{ _("No. %(id)d", id=n) }}|{{ _("Access denied") }}', n=8) == (
            "N. 8|Accesso negato"
        )
        one = '{{ ngettext("%(num)d delivered booking", "%(num)d delivered bookings", n) }}'
        assert render(one, n=1) == "1 prenotazione erogata"
        assert render(one, n=3) == "3 prenotazioni erogate"
        price = '{{ _("%(price)s per %(unit)s", price=x, unit="kg") }}'
        assert render(price, x="<b>") == "&lt;b&gt; per kg"
