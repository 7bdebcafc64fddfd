"""Operator area: payouts (liquidazioni) of approved claims, and the capofila's bank account.

Payouts, their lines and projects load through the access rules, so another alliance's
payout is simply not found (404). The service decides; these views parse and render.
"""

from __future__ import annotations

from typing import Any

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload

from voucher.blueprints.common import apply_errors, current_actor, get_visible_or_404, role_required
from voucher.blueprints.operator import bp
from voucher.blueprints.operator.payout_forms import (
    BankAccountForm,
    CancelForm,
    ExecuteForm,
    NewPayoutForm,
    ReturnForm,
)
from voucher.extensions import db
from voucher.i18n import format_money
from voucher.models import Alliance, Payout, PayoutLine, PayoutStatus, Project, Role
from voucher.services import clock, payout_files, payouts
from voucher.services.access import visible
from voucher.services.errors import ServiceError, ValidationFailed
from voucher.services.identifiers import mask_iban


def _payout_or_404(payout_id: int) -> Payout:
    return get_visible_or_404(Payout, payout_id)


def _line_of_or_404(payout: Payout, line_id: int) -> PayoutLine:
    line = get_visible_or_404(PayoutLine, line_id)
    if line.payout_id != payout.id:
        abort(404)
    return line


def _ids(name: str) -> list[int]:
    """The integer values of a checkbox list; anything else is ignored."""
    return [int(v) for v in request.form.getlist(name) if v.isdigit()]


@bp.route("/payouts")
@role_required(Role.OPERATOR)
def payouts_list():
    """The alliance's payouts, and per project what is waiting to be paid."""
    projects = db.session.scalars(visible(Project, current_user).order_by(Project.title)).all()
    waiting = payouts.waiting_by_project(db.session, [p.id for p in projects])
    listed = db.session.scalars(
        visible(Payout, current_user)
        .options(selectinload(Payout.lines), joinedload(Payout.project))
        .order_by(Payout.id.desc())
        .limit(100)
    ).all()
    return render_template(
        "operator/payouts.html",
        projects=projects,
        waiting=waiting,
        payouts=listed,
        total_cents=payouts.total_cents,
    )


def _new_page(project: Project, form: NewPayoutForm, chosen: set[int] | None, status: int = 200):
    found = payouts.candidates(db.session, project)
    if chosen is None:
        chosen = {c.claim.id for c in found if c.payable}
    return (
        render_template(
            "operator/payout_new.html",
            project=project,
            candidates=found,
            chosen=chosen,
            debtor=payouts.debtor(project),
            form=form,
            mask_iban=mask_iban,
        ),
        status,
    )


@bp.route("/projects/<int:project_id>/payouts/new", methods=["GET", "POST"])
@role_required(Role.OPERATOR)
def payout_new(project_id: int):
    """Review the project's approved, unpaid claims and build a payout of the chosen ones."""
    project = get_visible_or_404(Project, project_id)
    form = NewPayoutForm()
    if request.method == "GET":
        if form.execution_date.data is None:
            form.execution_date.data = clock.today()
        return _new_page(project, form, None)
    chosen = set(_ids("claim"))
    if not form.validate():
        return _new_page(project, form, chosen, 400)
    try:
        payout = payouts.create(
            db.session, project, current_actor(), chosen, form.execution_date.data, clock.today()
        )
        db.session.commit()
    except ValidationFailed as exc:
        db.session.rollback()
        apply_errors(form, exc)
        return _new_page(project, form, chosen, 400)
    except ServiceError as exc:
        db.session.rollback()
        flash(str(exc.message), "danger")
        return _new_page(project, form, chosen, 409)
    flash(
        _(
            "Payout %(reference)s built: %(count)d transfers, %(total)s. Download the files "
            "for the bank.",
            reference=payout.reference,
            count=len(payout.lines),
            total=format_money(payouts.total_cents(payout)),
        ),
        "success",
    )
    return redirect(url_for("operator.payout", payout_id=payout.id))


def _detail(payout: Payout, status: int = 200, **forms: Any):
    return (
        render_template(
            "operator/payout.html",
            payout=payout,
            lines=payouts.in_file(payout),
            total_cents=payouts.total_cents,
            execute_form=forms.get("execute") or ExecuteForm(prefix="execute"),
            cancel_form=forms.get("cancel") or CancelForm(prefix="cancel"),
            failed=forms.get("failed", set()),
            reasons=forms.get("reasons", {}),
            open=payout.status is PayoutStatus.OPEN,
        ),
        status,
    )


@bp.route("/payouts/<int:payout_id>")
@role_required(Role.OPERATOR)
def payout(payout_id: int):
    """One payout: its transfers, the files for the bank, and what can be done next."""
    return _detail(_payout_or_404(payout_id))


@bp.route("/payouts/<int:payout_id>/sepa.xml")
@role_required(Role.OPERATOR)
def payout_sepa(payout_id: int):
    """The SEPA credit-transfer file (pain.001.001.03) to upload to the bank."""
    payout = _payout_or_404(payout_id)
    return _download(payout_files.sepa_xml(payout), "application/xml", f"{payout.reference}.xml")


@bp.route("/payouts/<int:payout_id>/payments.xlsx")
@role_required(Role.OPERATOR)
def payout_xlsx(payout_id: int):
    """The payment list as a spreadsheet, for treasuries that pay from lists."""
    payout = _payout_or_404(payout_id)
    return _download(
        payout_files.payment_list_xlsx(payout),
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        f"{payout.reference}.xlsx",
    )


def _download(data: bytes, mimetype: str, filename: str) -> Response:
    response = Response(data, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    # Names and IBANs: never kept by a shared cache or the browser's.
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _act(
    payout: Payout,
    action,
    success: str,
    anchor: str | None = None,
    form: FlaskForm | None = None,
    **page: Any,
):
    """Run a payout action: commit and redirect; re-render on bad input; 409 if refused."""
    try:
        action()
        db.session.commit()
    except ValidationFailed as exc:
        db.session.rollback()
        if form is not None:
            apply_errors(form, exc)
        else:
            flash(str(exc.message), "danger")
        return _detail(_payout_or_404(payout.id), 400, **page)
    except ServiceError as exc:
        # A race (Conflict) or a payout that can no longer change (IllegalTransition).
        db.session.rollback()
        flash(str(exc.message), "danger")
        return _detail(_payout_or_404(payout.id), 409)
    flash(success, "success")
    return redirect(url_for("operator.payout", payout_id=payout.id, _anchor=anchor))


@bp.route("/payouts/<int:payout_id>/execute", methods=["POST"])
@role_required(Role.OPERATOR)
def payout_execute(payout_id: int):
    """Record the bank's execution: transfers paid, except those it rejected."""
    payout = _payout_or_404(payout_id)
    form = ExecuteForm(prefix="execute")
    failed = set(_ids("failed"))
    reasons = {line_id: request.form.get(f"reason-{line_id}", "") for line_id in failed}
    if not form.validate():
        return _detail(payout, 400, execute=form, failed=failed, reasons=reasons)

    def action() -> None:
        payouts.execute(
            db.session,
            payout,
            current_actor(),
            form.executed_on.data,
            form.bank_reference.data or "",
            reasons,
            today=clock.today(),
        )

    return _act(
        payout,
        action,
        _("Payout recorded as executed: the workers have been told."),
        form=form,
        execute=form,
        failed=failed,
        reasons=reasons,
    )


@bp.route("/payouts/<int:payout_id>/cancel", methods=["POST"])
@role_required(Role.OPERATOR)
def payout_cancel(payout_id: int):
    """Discard an open payout: its requests wait for the next one."""
    payout = _payout_or_404(payout_id)
    form = CancelForm(prefix="cancel")
    if not form.validate():
        return _detail(payout, 400, cancel=form)
    return _act(
        payout,
        lambda: payouts.cancel(db.session, payout, current_actor(), form.reason.data or ""),
        _("Payout cancelled: its requests are waiting for the next one."),
        form=form,
        cancel=form,
    )


@bp.route("/payouts/<int:payout_id>/lines/<int:line_id>/remove", methods=["POST"])
@role_required(Role.OPERATOR)
def payout_line_remove(payout_id: int, line_id: int):
    """Take one request out of an open payout."""
    payout = _payout_or_404(payout_id)
    line = _line_of_or_404(payout, line_id)
    return _act(
        payout,
        lambda: payouts.remove_line(db.session, payout, line, current_actor()),
        _("Request %(id)d taken out of the payout.", id=line.claim_id),
    )


@bp.route("/payouts/<int:payout_id>/lines/<int:line_id>/return", methods=["POST"])
@role_required(Role.OPERATOR)
def payout_line_return(payout_id: int, line_id: int):
    """The bank returned an executed transfer: the request can be paid again."""
    payout = _payout_or_404(payout_id)
    line = _line_of_or_404(payout, line_id)
    # One small form per paid line, posting the page's plain CSRF token (checked globally).
    form = ReturnForm(prefix="return", meta={"csrf": False})
    return _act(
        payout,
        lambda: payouts.fail_line(db.session, line, current_actor(), form.reason.data or ""),
        _("Transfer marked as returned: the request will be paid with the next payout."),
        anchor=f"line-{line.id}",
    )


@bp.route("/bank-account", methods=["GET", "POST"])
@role_required(Role.OPERATOR)
def bank_account():
    """The capofila's IBAN and BIC, from which the alliance's transfers leave."""
    alliance = get_visible_or_404(Alliance, current_user.alliance_id)
    lead = alliance.lead
    form = BankAccountForm()
    status = 200
    if request.method == "GET":
        form.iban.data, form.bic.data = lead.iban, lead.bic
    elif form.validate():
        try:
            payouts.set_debtor_account(
                db.session, alliance, current_actor(), form.iban.data, form.bic.data or ""
            )
            db.session.commit()
        except ValidationFailed as exc:
            db.session.rollback()
            apply_errors(form, exc)
            status = 400
        else:
            flash(_("The capofila's bank account has been saved."), "success")
            return redirect(url_for("operator.payouts_list"))
    else:
        status = 400
    open_count = db.session.scalar(
        visible(Payout, current_user, select(func.count(Payout.id))).where(
            Payout.status == PayoutStatus.OPEN
        )
    )
    return (
        render_template("operator/bank_account.html", form=form, lead=lead, open_count=open_count),
        status,
    )
