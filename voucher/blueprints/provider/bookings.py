"""Provider area: bookings of the organisation's services, delivery, monthly statements.

Everything loads through the access rules, so another provider's booking or statement is
simply not found (404).
"""

from __future__ import annotations

from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy.orm import joinedload

from voucher.blueprints.common import (
    ActionForm,
    apply_errors,
    current_actor,
    get_visible_or_404,
    role_required,
    run_posted_action,
)
from voucher.blueprints.provider import bp
from voucher.blueprints.provider.forms import IssueStatementForm, ProviderCancelForm
from voucher.extensions import db
from voucher.models import (
    Alliance,
    Booking,
    BookingStatus,
    PaymentStatus,
    ProviderStatement,
    Role,
)
from voucher.models.base import utcnow
from voucher.services import bookings, catalogue, payments, statement_export
from voucher.services.errors import ServiceError, ValidationFailed

B = BookingStatus
# The list's tabs: what each shows.
VIEWS = {
    "upcoming": (B.REQUESTED, B.CONFIRMED),
    "delivered": (B.DELIVERED, B.SETTLED),
    "cancelled": (B.CANCELLED,),
}


@bp.route("/bookings")
@role_required(Role.PROVIDER)
def bookings_list():
    """Bookings of the organisation's services: to deliver, delivered, cancelled."""
    show = request.args.get("show", "upcoming")
    if show not in VIEWS:
        show = "upcoming"
    return render_template(
        "provider/bookings.html",
        items=bookings.visible_bookings(db.session, current_actor(), VIEWS[show]),
        show=show,
        status_labels=bookings.STATUS_LABELS,
        payment_labels=bookings.PAYMENT_LABELS,
        unit_labels=catalogue.UNIT_LABELS,
    )


def _render_booking(item: Booking, cancel_form: ProviderCancelForm | None = None) -> str:
    now = utcnow()
    return render_template(
        "provider/booking.html",
        booking=item,
        action=ActionForm(),
        cancel_form=cancel_form or ProviderCancelForm(),
        can_deliver=item.status is B.CONFIRMED and now >= bookings.as_utc(item.slot.starts_at),
        status_labels=bookings.STATUS_LABELS,
        payment_labels=bookings.PAYMENT_LABELS,
        unit_labels=catalogue.UNIT_LABELS,
    )


def _booking_or_404(booking_id: int) -> Booking:
    """A booking of the provider with what its page shows, in one query."""
    return get_visible_or_404(
        Booking,
        booking_id,
        joinedload(Booking.slot),
        joinedload(Booking.service),
        joinedload(Booking.worker),
    )


def statement_or_404(statement_id: int) -> ProviderStatement:
    """A statement the current user may see, with its provider and alliance (one query)."""
    return get_visible_or_404(
        ProviderStatement,
        statement_id,
        joinedload(ProviderStatement.organisation),
        joinedload(ProviderStatement.alliance),
    )


@bp.route("/bookings/<int:booking_id>")
@role_required(Role.PROVIDER)
def booking(booking_id: int):
    """One booking: who, when, what the voucher pays and what the worker pays."""
    return _render_booking(_booking_or_404(booking_id))


@bp.route("/bookings/<int:booking_id>/deliver", methods=["POST"])
@role_required(Role.PROVIDER)
def booking_deliver(booking_id: int):
    """Confirm the service was delivered: the voucher's share goes into next statement."""
    item = get_visible_or_404(Booking, booking_id)
    run_posted_action(
        lambda: bookings.deliver(db.session, item, current_actor(), utcnow()),
        _("Delivery confirmed."),
    )
    return redirect(url_for("provider.booking", booking_id=booking_id))


@bp.route("/bookings/<int:booking_id>/cancel", methods=["POST"])
@role_required(Role.PROVIDER)
def booking_cancel(booking_id: int):
    """Cancel a booking the provider cannot deliver, saying why; a card payment is refunded."""
    item = get_visible_or_404(Booking, booking_id)
    form = ProviderCancelForm()
    if not form.validate_on_submit():
        return _render_booking(item, form), 400
    gateway = payments.gateway_of(current_app)
    try:
        bookings.cancel(db.session, item, current_actor(), form.reason.data, utcnow(), gateway)
        db.session.commit()
    except ValidationFailed as exc:
        db.session.rollback()
        apply_errors(form, exc)
        return _render_booking(_booking_or_404(booking_id), form), 400
    except ServiceError as exc:
        db.session.rollback()
        flash(str(exc.message), "danger")
        return redirect(url_for("provider.booking", booking_id=booking_id))
    if item.payment_status is PaymentStatus.REFUND_PENDING:
        bookings.complete_refund(db.session, item, gateway)
        db.session.commit()
    flash(_("Booking cancelled; the worker has been told."), "success")
    return redirect(url_for("provider.booking", booking_id=booking_id))


# --- statements -------------------------------------------------------------------------


@bp.route("/statements")
@role_required(Role.PROVIDER)
def statements():
    """Issued statements, and ended months whose deliveries can go into one."""
    actor = current_actor()
    return render_template(
        "provider/statements.html",
        statements=bookings.visible_statements(db.session, actor),
        due=bookings.statements_due(db.session, actor.organisation_id, utcnow()),
        form=IssueStatementForm(),
        statement_labels=bookings.STATEMENT_LABELS,
    )


@bp.route("/statements", methods=["POST"])
@role_required(Role.PROVIDER)
def statement_issue():
    """Issue the statement of an ended month for one alliance."""
    form = IssueStatementForm()
    actor = current_actor()
    if not form.validate_on_submit():
        abort(400)
    alliance = db.session.get(Alliance, form.alliance_id.data)
    if alliance is None:
        abort(404)
    try:
        statement = bookings.issue_statement(
            db.session, actor.organisation, alliance, form.month.data, actor, utcnow()
        )
        db.session.commit()
    except ServiceError as exc:
        db.session.rollback()
        flash(str(exc.message), "danger")
        return redirect(url_for("provider.statements"))
    flash(_("Statement issued: the alliance can now pay it."), "success")
    return redirect(url_for("provider.statement", statement_id=statement.id))


@bp.route("/statements/<int:statement_id>")
@role_required(Role.PROVIDER)
def statement(statement_id: int):
    """One statement with its bookings."""
    item = statement_or_404(statement_id)
    return render_template(
        "provider/statement.html",
        statement=item,
        items=statement_export.statement_bookings(db.session, item),
        statement_labels=bookings.STATEMENT_LABELS,
        unit_labels=catalogue.UNIT_LABELS,
    )


@bp.route("/statements/<int:statement_id>.xlsx")
@role_required(Role.PROVIDER)
def statement_xlsx(statement_id: int):
    """The statement as a spreadsheet."""
    return statement_download(get_visible_or_404(ProviderStatement, statement_id))


def statement_download(item: ProviderStatement) -> Response:
    """The XLSX response of a statement (the operator's area sends the same file)."""
    data = statement_export.statement_xlsx(db.session, item)
    name = f"rendiconto-{item.month:%Y-%m}-{item.organisation_id}-{item.alliance_id}.xlsx"
    return Response(
        data,
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "private, no-store",
        },
    )
