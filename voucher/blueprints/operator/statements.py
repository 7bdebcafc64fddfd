"""Operator area: providers' monthly statements of the alliance's time-saving services.

A statement lists the voucher shares of a month's delivered bookings that the alliance
owes a provider. Paying it settles the bookings and records the payment on the budget
lines. Statements load through the access rules: another alliance's is not found (404).
"""

from __future__ import annotations

from flask import redirect, render_template, url_for
from flask_babel import gettext as _

from voucher.blueprints.common import (
    ActionForm,
    current_actor,
    get_visible_or_404,
    role_required,
    run_posted_action,
)
from voucher.blueprints.operator import bp
from voucher.blueprints.provider.bookings import statement_download, statement_or_404
from voucher.extensions import db
from voucher.models import ProviderStatement, Role
from voucher.models.base import utcnow
from voucher.services import bookings, catalogue, statement_export


@bp.route("/statements")
@role_required(Role.OPERATOR)
def statements():
    """The providers' statements of the alliance, those to pay first."""
    items = bookings.visible_statements(db.session, current_actor())
    items.sort(key=lambda s: (s.status.value != "issued", -s.month.toordinal(), -s.id))
    return render_template(
        "operator/statements.html", statements=items, statement_labels=bookings.STATEMENT_LABELS
    )


@bp.route("/statements/<int:statement_id>")
@role_required(Role.OPERATOR)
def statement(statement_id: int):
    """One statement: its bookings, the total, and recording the payment."""
    item = statement_or_404(statement_id)
    return render_template(
        "operator/statement.html",
        statement=item,
        items=statement_export.statement_bookings(db.session, item),
        form=ActionForm(),
        statement_labels=bookings.STATEMENT_LABELS,
        unit_labels=catalogue.UNIT_LABELS,
    )


@bp.route("/statements/<int:statement_id>.xlsx")
@role_required(Role.OPERATOR)
def statement_xlsx(statement_id: int):
    """The statement as a spreadsheet."""
    return statement_download(get_visible_or_404(ProviderStatement, statement_id))


@bp.route("/statements/<int:statement_id>/pay", methods=["POST"])
@role_required(Role.OPERATOR)
def statement_pay(statement_id: int):
    """Record that the alliance paid the provider: the bookings are settled."""
    item = get_visible_or_404(ProviderStatement, statement_id)
    run_posted_action(
        lambda: bookings.mark_statement_paid(db.session, item, current_actor(), utcnow()),
        _("Payment recorded: the bookings are settled."),
    )
    return redirect(url_for("operator.statement", statement_id=statement_id))
