"""What every page repeats, made once: the main menu, the status badges, the rows' links.

A page's frame and the badges of a list's rows are the same text for everyone of a role
in a language, yet rendering them (a dozen links, labels looked up in the catalogue, a
macro call and a chain of ``if`` per row) was a fifth of a list page's time. They are
rendered on first use and kept:

- the menu per application, role, language and mount point (``request.script_root``);
- each badge and "next step" text with the catalogue of its language, as the templates'
  ready-made labels are (voucher/i18n.py);
- the address of a list's rows per endpoint and mount point, each row adding its id.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, current_app, render_template, request, url_for
from flask_babel import force_locale, get_translations
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup

from voucher.i18n import current_language, translations
from voucher.models import ApplicationStatus, ClaimStatus

# (label, colour of the badge) and the next step, per status.
_APPLICATION_BADGES = {
    ApplicationStatus.DRAFT: (_l("Draft"), "secondary"),
    ApplicationStatus.SUBMITTED: (_l("Submitted"), "primary"),
    ApplicationStatus.AWAITING_HR: (_l("Waiting for your employer"), "warning"),
    ApplicationStatus.APPROVED: (_l("Approved"), "success"),
    ApplicationStatus.REJECTED: (_l("Rejected"), "danger"),
    ApplicationStatus.WAITLISTED: (_l("On the waiting list"), "warning"),
    ApplicationStatus.WITHDRAWN: (_l("Withdrawn"), "secondary"),
}
_APPLICATION_NEXT = {
    ApplicationStatus.DRAFT: _l("Check your answers and send the application."),
    ApplicationStatus.SUBMITTED: _l("The alliance is reviewing your application."),
    ApplicationStatus.AWAITING_HR: _l(
        "Your employer's HR office must confirm that you work there."
    ),
    ApplicationStatus.APPROVED: _l("Your voucher is ready: upload your receipts."),
    ApplicationStatus.REJECTED: _l("Read the reason on the application page."),
    ApplicationStatus.WAITLISTED: _l(
        "You will get the voucher if budget is freed, in order of application."
    ),
    ApplicationStatus.WITHDRAWN: _l("Nothing more to do."),
}
_CLAIM_BADGES = {
    ClaimStatus.DRAFT: (_l("Draft"), "secondary"),
    ClaimStatus.SUBMITTED: (_l("Under review"), "primary"),
    ClaimStatus.APPROVED: (_l("Approved"), "success"),
    ClaimStatus.PARTIALLY_APPROVED: (_l("Partly approved"), "success"),
    ClaimStatus.REJECTED: (_l("Rejected"), "danger"),
    ClaimStatus.NEEDS_INFO: (_l("Information needed"), "warning"),
    ClaimStatus.PAID: (_l("Paid"), "success"),
}
_CLAIM_NEXT = {
    ClaimStatus.DRAFT: _l("Add your receipts and send the request."),
    ClaimStatus.SUBMITTED: _l("The alliance is checking your receipts."),
    ClaimStatus.APPROVED: _l("Approved: the payment will be in the next transfer."),
    ClaimStatus.PARTIALLY_APPROVED: _l(
        "Partly approved: the payment will be in the next transfer."
    ),
    ClaimStatus.REJECTED: _l("Read the reason on the request page."),
    ClaimStatus.NEEDS_INFO: _l("The alliance needs more information: open the request."),
    ClaimStatus.PAID: _l("Paid to your IBAN."),
}


def _ready(key: tuple[str, Any], make: Any) -> Markup:
    """The markup for ``key`` in the request's language, made once per catalogue."""
    ready = translations().__dict__.setdefault("_voucher_markup", {})
    markup = ready.get(key)
    if markup is None:
        markup = ready[key] = make()
    return markup  # type: ignore[no-any-return]


def _badge(label: Any, colour: str) -> Markup:
    text_colour = " text-dark" if colour == "warning" else ""
    return Markup('<span class="badge bg-{}{}">{}</span>').format(colour, text_colour, str(label))


def application_badge(status: ApplicationStatus) -> Markup:
    """An application's status as a coloured badge."""
    return _ready(("application_badge", status), lambda: _badge(*_APPLICATION_BADGES[status]))


def application_next(status: ApplicationStatus) -> Markup:
    """What happens next to an application in this status, for the worker."""
    return _ready(
        ("application_next", status), lambda: Markup.escape(str(_APPLICATION_NEXT[status]))
    )


def claim_badge(status: ClaimStatus) -> Markup:
    """A reimbursement request's status as a coloured badge."""
    return _ready(("claim_badge", status), lambda: _badge(*_CLAIM_BADGES[status]))


def claim_next(status: ClaimStatus) -> Markup:
    """What happens next to a request in this status, for the worker."""
    return _ready(("claim_next", status), lambda: Markup.escape(str(_CLAIM_NEXT[status])))


# A number no route of ours is built with: where it lands in a built address is where each
# row's id goes.
_ID_MARK = 987_654_321_012


def row_link(endpoint: str, parameter: str) -> Callable[[int], str]:
    """``url_for(endpoint, **{parameter: id})`` for the rows of a list, as a function of the
    id: the address is built once per endpoint and mount point and each row fills in its
    id, instead of a URL build (rule lookup, converters, defaults) for every row."""
    key = (endpoint, parameter, request.script_root)
    makers = current_app.extensions["voucher.row_links"]
    make = makers.get(key)
    if make is None:
        prefix, mark, suffix = url_for(endpoint, **{parameter: _ID_MARK}).partition(str(_ID_MARK))
        # Not in the address's path (url_for adds an unknown parameter as a query string):
        # not a parameter of this endpoint.
        if not mark or "?" in prefix or str(_ID_MARK) in suffix:
            raise ValueError(f"{endpoint} does not take {parameter} as a plain number")
        make = makers[key] = lambda row_id: f"{prefix}{int(row_id)}{suffix}"
    return make


def navigation() -> Markup:
    """The main menu for the signed-in person's role (or for visitors), in the request's
    language: rendered once per role, language and mount point, then reused."""
    role = current_user.role if current_user.is_authenticated else None
    key = (role, current_language(), request.script_root)
    menus = current_app.extensions["voucher.navigation"]
    menu = menus.get(key)
    if menu is None:
        menu = menus[key] = Markup(render_template("layout/_navigation.html", role=role))  # noqa: S704 - our template, autoescaped
    return menu


def prepare(app: Flask) -> int:
    """Compile every template and load every language's catalogue now; how many templates
    there are.

    gunicorn's master calls this before it forks the workers (gunicorn.conf.py), so they
    start with both in shared memory. Otherwise each worker compiles a template on its
    first request for it (a tenth of a second) and loads a catalogue on its first page in
    that language, again after every restart of a worker (``max_requests``)."""
    names = app.jinja_env.list_templates(extensions=("html", "txt"))
    for name in names:
        app.jinja_env.get_template(name)
    with app.test_request_context():
        for language in app.config["LANGUAGES"]:
            with force_locale(language):
                get_translations()
    return len(names)


def init_app(app: Flask) -> None:
    """Make the helpers available to every template."""
    app.extensions["voucher.navigation"] = {}
    app.extensions["voucher.row_links"] = {}
    app.jinja_env.globals.update(
        application_badge=application_badge,
        application_next=application_next,
        claim_badge=claim_badge,
        claim_next=claim_next,
        navigation=navigation,
        row_link=row_link,
    )
