"""Locale selection and locale-aware formatting of money and dates."""

from __future__ import annotations

from decimal import Decimal

from flask import current_app, has_request_context, request, session
from flask_babel import format_currency, get_locale
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
    pattern = _CURRENCY_PATTERNS.get(current_language())
    return format_currency(Decimal(cents) / 100, "EUR", format=pattern)


def current_language() -> str:
    """The two-letter code of the language pages are rendered in."""
    return str(get_locale() or current_app.config["BABEL_DEFAULT_LOCALE"])
