"""Locale selection and locale-aware formatting of money and dates."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale, dates
from babel.numbers import parse_pattern
from babel.support import NullTranslations
from flask import Flask, current_app, g, has_app_context, has_request_context, request, session
from flask_babel import get_locale, get_translations
from flask_login import current_user
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup


def select_locale() -> str:
    """The user's explicit choice, then the browser's Accept-Language, then Italian."""
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    chosen = session.get("lang")
    if chosen in languages:
        return chosen
    if current_user and current_user.is_authenticated and current_user.locale in languages:
        return current_user.locale
    return (
        request.accept_languages.best_match(languages) or current_app.config["BABEL_DEFAULT_LOCALE"]
    )


# Italian public administration writes the symbol first ("€ 1.234,56"), unlike CLDR's
# default for "it" ("1.234,56 €"); other locales keep CLDR's pattern.
_CURRENCY_PATTERNS = {"it": "¤\xa0#,##0.00"}


def format_money(cents: int | None) -> str:
    """Format integer cents as euros in the current locale (``€ 1.234,56`` in Italian)."""
    if cents is None:
        return ""
    return _request_money_format()(int(cents))


def _request_money_format() -> Callable[[int], str]:
    return _for_request_locale("voucher_money", lambda: _money_format(current_language()))


def _for_request_locale(name: str, make: Callable[[], Any]) -> Any:
    """``make()``, kept on Flask-Babel's per-request state next to the locale it was made
    for: a list formats a hundred amounts and fifty dates, and looking the locale and
    its formatter up again for each was a tenth of its time. A different locale object
    (``force_locale``, ``refresh``) makes it again, as for the catalogue (translations())."""
    try:
        state = g._flask_babel
        locale, value = getattr(state, name)
        if locale is not None and locale is state.babel_locale:
            return value
    except (AttributeError, RuntimeError):
        pass
    value = make()
    state = getattr(g, "_flask_babel", None) if has_app_context() else None
    if state is not None:
        setattr(state, name, (getattr(state, "babel_locale", None), value))
    return value


@lru_cache(maxsize=16)
def _money_format(language: str) -> Callable[[int], str]:
    """A formatter of cents for ``language``: babel's format_currency, made once.

    A list page formats a hundred amounts, and babel parses the locale and the pattern
    and goes through Decimal arithmetic on every call. For the usual currency pattern
    (groups of three, two decimals) the same text is put together here directly; any
    other pattern goes through babel.
    """
    locale = Locale.parse(language)
    custom = _CURRENCY_PATTERNS.get(language)
    pattern = parse_pattern(custom) if custom else locale.currency_formats["standard"]
    symbols = locale.number_symbols["latn"]
    euro = locale.currency_symbols.get("EUR", "€")
    simple = (
        pattern.grouping == (3, 3)
        and pattern.frac_prec == (2, 2)
        and pattern.int_prec[0] == 1
        and pattern.scale == 0
        and pattern.suffix == ("", "")
    )
    if not simple:
        return lambda cents: pattern.apply(Decimal(cents) / 100, locale, currency="EUR")
    positive = pattern.prefix[0].replace("¤", euro)
    negative = pattern.prefix[1].replace("¤", euro).replace("-", symbols["minusSign"])
    group, decimal = symbols["group"], symbols["decimal"]

    def fast(cents: int) -> str:
        units, hundredths = divmod(abs(cents), 100)
        digits = f"{units:,}".replace(",", group)
        return f"{negative if cents < 0 else positive}{digits}{decimal}{hundredths:02d}"

    return fast


def current_language() -> str:
    """The two-letter code of the language pages are rendered in."""
    return str(current_locale() or current_app.config["BABEL_DEFAULT_LOCALE"])


# --- the per-request fast path ------------------------------------------------------------
#
# A list page translates a hundred strings and formats fifty dates and a hundred amounts.
# Flask-Babel's gettext, get_locale and format_date each look the request's state up again
# through three or four context-local proxies; at that count the lookups took a tenth of
# a list page's time. The helpers below read Flask-Babel's own per-request state with one
# lookup and keep the catalogue next to the locale it belongs to, so ``force_locale``
# (e-mails in the recipient's language) and ``refresh`` are still obeyed: a different
# locale object means the cached catalogue is not used.


def current_locale() -> Locale | None:
    """The request's locale, as Flask-Babel chose it (None outside an app context)."""
    try:
        locale = g._flask_babel.babel_locale
    except AttributeError:
        return get_locale()  # not chosen yet in this request: Flask-Babel chooses it
    except RuntimeError:
        return None  # outside an application context
    return locale if locale is not None else get_locale()


def translations() -> NullTranslations:
    """The request's catalogue, cached with the locale it was loaded for."""
    try:
        state = g._flask_babel
        cached_locale, catalogue = state.voucher_translations
        if cached_locale is not None and cached_locale is state.babel_locale:
            return catalogue
    except AttributeError:
        pass
    except RuntimeError:
        return get_translations()  # outside an application context: no translation
    catalogue = get_translations()
    state = getattr(g, "_flask_babel", None)
    if state is not None:
        state.voucher_translations = (getattr(state, "babel_locale", None), catalogue)
    return catalogue


@pass_context
def _template_gettext(context: Context, string: str, /, **variables: Any) -> str:
    """``_()`` and ``gettext()`` in templates: Jinja's newstyle gettext (the result is
    escaped and %-formatted even without variables), with the catalogue looked up once per
    request and the text of a message without variables kept ready per catalogue, as a
    page repeats its labels (a list repeats them on every row)."""
    catalogue = translations()
    if not variables and context.eval_ctx.autoescape:
        ready = catalogue.__dict__.setdefault("_voucher_ready", {})
        text = ready.get(string)
        if text is None:
            # The catalogue is ours: its text is markup, as Jinja's own gettext treats it.
            text = ready[string] = Markup(catalogue.ugettext(string)) % {}  # noqa: S704
        return text
    text = catalogue.ugettext(string)
    if context.eval_ctx.autoescape:
        text = Markup(text)  # noqa: S704 - our catalogue; the variables are escaped
    return text % variables  # type: ignore[no-any-return]


@pass_context
def _template_ngettext(
    context: Context, singular: str, plural: str, n: int, /, **variables: Any
) -> str:
    """``ngettext()`` in templates, newstyle: ``num`` is available to the message."""
    variables.setdefault("num", n)
    text = translations().ungettext(singular, plural, n)
    if context.eval_ctx.autoescape:
        text = Markup(text)  # noqa: S704 - our catalogue; the variables are escaped
    return text % variables  # type: ignore[no-any-return]


def init_app(app: Flask) -> None:
    """Templates translate and format dates through the fast path (after Babel's init)."""
    # Flask-Babel has installed Jinja's i18n extension with newstyle gettext; these replace
    # its ``_``, ``gettext`` and ``ngettext``. ``_`` goes straight to the function: Jinja's
    # alias would look ``gettext`` up by name and go through two more calls for each of the
    # hundred labels of a page.
    app.jinja_env.globals.update(
        _=_template_gettext, gettext=_template_gettext, ngettext=_template_ngettext
    )
    # zoneinfo, not pytz: the same offsets, converted in C rather than by normalize().
    zone = ZoneInfo(app.config["BABEL_DEFAULT_TIMEZONE"])

    def to_local(moment: datetime) -> datetime:
        # Stored times are UTC; naive ones are UTC too (as Flask-Babel assumes).
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(zone)

    def dateformat(value: date | datetime, format: str = "medium") -> str:
        """A date (or a moment's local date) in the request's language."""
        if isinstance(value, datetime):
            value = to_local(value)
        return _request_formatter(app, "date", format)(value)

    def datetimeformat(value: datetime, format: str = "medium") -> str:
        """A moment, in local time, in the request's language."""
        return _request_formatter(app, "datetime", format)(to_local(value))

    app.jinja_env.filters.update(dateformat=dateformat, datetimeformat=datetimeformat)


_NAMED = ("short", "medium", "long", "full")


@lru_cache(maxsize=64)
def _pattern(locale: Locale, kind: str, format: str) -> dates.DateTimePattern:
    """Babel's pattern for a named or explicit format, parsed once per locale.

    For a named date-and-time format babel formats the date and the time separately and
    pastes both into the locale's glue ("{1}, {0}") on every call. Filling the glue with
    the two patterns once gives the same text in a quarter of the time; tests/test_i18n.py
    compares the two for every named format in both languages.
    """
    if format not in _NAMED:
        return dates.parse_pattern(format)
    if kind == "date":
        return locale.date_formats[format]
    glue = locale.datetime_formats[format]
    return dates.parse_pattern(
        glue.replace("{0}", locale.time_formats[format].pattern).replace(
            "{1}", locale.date_formats[format].pattern
        )
    )


# Fields written here directly, by babel's rules: the numeric ones and month names. A list
# page formats fifty moments, and babel's pattern looks each field up through a generic
# dispatcher on every call. Any other field (weekdays, periods, time zones) is babel's own.
_FIELDS: dict[tuple[str, int], Callable[[Any, Locale], str]] = {
    ("d", 1): lambda v, _l: str(v.day),
    ("d", 2): lambda v, _l: f"{v.day:02d}",
    ("M", 1): lambda v, _l: str(v.month),
    ("M", 2): lambda v, _l: f"{v.month:02d}",
    ("M", 3): lambda v, loc: loc.months["format"]["abbreviated"][v.month],
    ("M", 4): lambda v, loc: loc.months["format"]["wide"][v.month],
    ("y", 1): lambda v, _l: str(v.year),
    ("y", 2): lambda v, _l: f"{v.year % 100:02d}",
    ("y", 4): lambda v, _l: f"{v.year:04d}",
    ("H", 1): lambda v, _l: str(v.hour),
    ("H", 2): lambda v, _l: f"{v.hour:02d}",
    ("h", 1): lambda v, _l: str(v.hour % 12 or 12),
    ("h", 2): lambda v, _l: f"{v.hour % 12 or 12:02d}",
    ("m", 1): lambda v, _l: str(v.minute),
    ("m", 2): lambda v, _l: f"{v.minute:02d}",
    ("s", 1): lambda v, _l: str(v.second),
    ("s", 2): lambda v, _l: f"{v.second:02d}",
}


def _request_formatter(app: Flask, kind: str, format: str) -> Callable[[Any], str]:
    """The request's formatter of dates or moments in ``format`` (see _formatter)."""
    made: dict[tuple[str, str], Callable[[Any], str]] = _for_request_locale("voucher_dates", dict)
    formatter = made.get((kind, format))
    if formatter is None:
        locale = current_locale() or _default(app)
        formatter = made[kind, format] = _formatter(locale, kind, format)
    return formatter


@lru_cache(maxsize=64)
def _formatter(locale: Locale, kind: str, format: str) -> Callable[[Any], str]:
    """A function writing a date or a (local) moment in ``format``: the pattern is split
    into its fields once, and the common fields are written directly (see ``_FIELDS``);
    tests/test_i18n.py compares the output with Flask-Babel's."""
    parts: list[str | Callable[[Any, Locale], str]] = []
    for part_kind, text_or_field in dates.tokenize_pattern(_pattern(locale, kind, format).pattern):
        if part_kind == "chars":
            parts.append(text_or_field)
        else:
            char, width = text_or_field
            parts.append(_FIELDS.get((char, width)) or _babel_field(char * width))

    def write(value: Any) -> str:
        return "".join(part if isinstance(part, str) else part(value, locale) for part in parts)

    return write


def _babel_field(name: str) -> Callable[[Any, Locale], str]:
    return lambda value, locale: dates.DateTimeFormat(value, locale)[name]


def _default(app: Flask) -> Any:
    return Locale.parse(app.config["BABEL_DEFAULT_LOCALE"])
