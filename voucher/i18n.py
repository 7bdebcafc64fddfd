"""Locale selection and locale-aware formatting of money and dates."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from functools import lru_cache

from babel import Locale
from babel.numbers import parse_pattern
from flask import current_app, has_request_context, request, session
from flask_babel import get_locale
from flask_login import current_user


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
    return _money_format(current_language())(int(cents))


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
    return str(get_locale() or current_app.config["BABEL_DEFAULT_LOCALE"])
