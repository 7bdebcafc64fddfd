"""Operator area: review of the alliance's reimbursement requests (claims) and receipts.

Claims and receipts are loaded only through the access rules (``get_visible_or_404``,
``visible``), so another alliance's request is simply not found (404). The list and the
detail page are also what network officers see, read-only (``voucher.blueprints.network
.claims`` calls :func:`render_claim_list` and :func:`render_claim` with ``read_only``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import Length, Optional

from voucher.blueprints.admin.forms import ROLE_LABELS, EuroField
from voucher.blueprints.common import (
    apply_errors,
    current_actor,
    get_visible_or_404,
    receipt_download_name,
    role_required,
    send_upload,
)
from voucher.blueprints.operator import bp
from voucher.extensions import db
from voucher.i18n import format_money
from voucher.models import Claim, ClaimStatus, Receipt, Role
from voucher.services import clock, paging, review
from voucher.services.errors import Conflict, ServiceError, ValidationFailed

PER_PAGE = 50
LISTED = review.QUEUE_STATUSES

# What each audit action of a claim means, for the history on the detail page.
ACTION_LABELS = {
    "claim.create": _l("Request started"),
    "claim.receipt_add": _l("Receipt added"),
    "claim.receipt_remove": _l("Receipt removed"),
    "claim.submit": _l("Request sent"),
    "claim.resubmit": _l("Request sent again"),
    "claim.receipt_accept": _l("Receipt accepted"),
    "claim.receipt_reject": _l("Receipt not accepted"),
    "claim.receipt_view": _l("Receipt opened"),
    "claim.first_review": _l("First approval (a second operator must confirm)"),
    "claim.approve": _l("Approved"),
    "claim.ask_info": _l("Information asked"),
    "claim.reject": _l("Rejected"),
    "claim.pay": _l("Paid"),
    "claim.payment_failed": _l("Transfer failed"),
}


# --- forms ------------------------------------------------------------------------------
# The services check what is required; the forms only parse (amounts) and bound lengths.
# Several forms share the detail page, hence the prefixes ("approve-amount_cents"…).


class ClaimApproveForm(FlaskForm):
    amount_cents = EuroField(_l("Amount to approve (euros)"), validators=[Optional()])
    note = TextAreaField(
        _l("Message for the worker (optional)"),
        validators=[Optional(), Length(max=review.MAX_MESSAGE)],
        description=_l("For example, why the amount is lower than requested."),
    )


class ClaimInfoForm(FlaskForm):
    message = TextAreaField(
        _l("What is missing"),
        validators=[Length(max=review.MAX_MESSAGE)],
        description=_l("The worker reads it, adds what is asked and sends the request again."),
    )


class ClaimRejectForm(FlaskForm):
    reason = TextAreaField(
        _l("Reason"),
        validators=[Length(max=review.MAX_REASON)],
        description=_l("The worker reads it. Nothing is reimbursed."),
    )


PREFIXES = {"approve": ClaimApproveForm, "info": ClaimInfoForm, "reject": ClaimRejectForm}


def _forms(**given: FlaskForm) -> dict[str, FlaskForm]:
    """The page's decision forms: those given (with their input and errors), fresh others."""
    return {name: given.get(name) or cls(prefix=name) for name, cls in PREFIXES.items()}


# --- shared with the network officers' read-only pages ----------------------------------


def _int_arg(name: str) -> int | None:
    value = request.args.get(name, "")
    return int(value) if value.isdigit() else None


def render_claim_list(
    *, read_only: bool, list_endpoint: str, detail_endpoint: str, status: int = 200
) -> tuple[str, int]:
    """The claims the current user may see: submitted first, oldest first, filtered, paged."""
    measures = review.queue_measures(db.session, current_actor())
    measure_id = _int_arg("measure")
    chosen_status = request.args.get("status", "")
    if chosen_status not in {s.value for s in LISTED}:
        chosen_status = ""
    page = review.queue_page(
        db.session,
        current_user,
        paging.page_number(request.args.get("page")),
        PER_PAGE,
        measure_id,
        ClaimStatus(chosen_status) if chosen_status else None,
    )
    return (
        render_template(
            "operator/claims.html",
            page=page,
            measures=measures,
            measure_id=measure_id,
            statuses=[(s.value, review.STATUS_LABELS[s]) for s in LISTED],
            chosen_status=chosen_status,
            read_only=read_only,
            list_endpoint=list_endpoint,
            detail_endpoint=detail_endpoint,
            needs_second_review=review.needs_second_review,
        ),
        status,
    )


def render_claim(
    claim: Claim,
    *,
    read_only: bool,
    prefix: str,
    status: int = 200,
    receipt_errors: dict[int, list[str]] | None = None,
    receipt_reasons: dict[int, str] | None = None,
    **forms: FlaskForm,
) -> tuple[str, int]:
    """One claim with its voucher, receipts, flags, history and (unless read-only) forms."""
    # ``prefix`` is the blueprint whose routes the page links to: "operator" or "network".
    events, actors = review.history_with_actors(db.session, claim)
    flags: dict[int, list[review.Flag]] = {}
    for flag in review.flags(db.session, claim):
        flags.setdefault(flag.receipt_id, []).append(flag)
    can_decide = not read_only and claim.status is ClaimStatus.SUBMITTED
    first_is_me = claim.first_review_by_id is not None and claim.first_review_by_id == getattr(
        current_user, "id", None
    )
    return (
        render_template(
            "operator/claim.html",
            claim=claim,
            voucher=claim.voucher,
            measure=claim.voucher.measure,
            limits=review.limits(claim),
            flags=flags,
            events=events,
            actors=actors,
            action_labels=ACTION_LABELS,
            role_labels={role.value: label for role, label in ROLE_LABELS.items()},
            status_labels=review.STATUS_LABELS,
            second_review=review.needs_second_review(claim),
            first_is_me=first_is_me,
            read_only=read_only,
            can_decide=can_decide,
            forms=_forms(**forms) if can_decide else {},
            receipt_errors=receipt_errors or {},
            receipt_reasons=receipt_reasons or {},
            prefix=prefix,
        ),
        status,
    )


def send_receipt(receipt: Receipt, *, thumbnail: bool) -> Any:
    """The receipt's file (or its preview) as a private download the browser cannot run."""
    if thumbnail:
        # Thumbnails are always JPEG (see voucher.services.uploads).
        name = receipt_download_name(receipt.original_filename, "image/jpeg", "-preview")
        # An <img> shows an attachment all the same; a navigation only downloads it.
        return send_upload(receipt.thumbnail_key, "image/jpeg", name)
    if not receipt.storage_key:
        abort(404)
    # Audited: a receipt may reveal health or disability (a hospital, a care service).
    review.receipt_viewed(db.session, current_actor(), receipt)
    db.session.commit()
    name = receipt_download_name(receipt.original_filename, receipt.content_type)
    return send_upload(receipt.storage_key, receipt.content_type, name)


# --- the operator's pages ---------------------------------------------------------------


def _claim_or_404(claim_id: int) -> Claim:
    return get_visible_or_404(Claim, claim_id, loads=review.decision_options)


def _receipt_of_or_404(claim: Claim, receipt_id: int) -> Receipt:
    receipt = get_visible_or_404(Receipt, receipt_id)
    if receipt.claim_id != claim.id:
        abort(404)
    return receipt


def claim_for_page(claim_id: int) -> Claim:
    """The claim with everything its page shows, in one query (see review.detail_options)."""
    return get_visible_or_404(Claim, claim_id, loads=review.detail_options)


def _page(claim_id: int, status: int = 200, **kwargs: Any) -> tuple[str, int]:
    """The operator's page of the claim as it is now (after a rollback, say)."""
    return render_claim(
        claim_for_page(claim_id), read_only=False, prefix="operator", status=status, **kwargs
    )


def _back(claim_id: int, anchor: str | None = None) -> Any:
    return redirect(url_for("operator.claim", claim_id=claim_id, _anchor=anchor))


def _decide(
    claim_id: int,
    action: Callable[[Claim], str],
    form_name: str | None = None,
    form: FlaskForm | None = None,
    anchor: str | None = None,
) -> Any:
    """Run a decision: commit and redirect; re-render on bad input; 409 if decided already."""
    claim = _claim_or_404(claim_id)
    try:
        message = action(claim)
        db.session.commit()
    except ValidationFailed as exc:
        db.session.rollback()
        if form is None:
            flash(str(exc.message), "danger")
            return _back(claim_id, anchor)
        apply_errors(form, exc)
        return _page(claim_id, **{form_name: form})
    except Conflict as exc:
        # Someone else decided first: show the request as it is now, and say so.
        db.session.rollback()
        flash(str(exc.message), "danger")
        return _page(claim_id, status=409)
    except ServiceError as exc:
        db.session.rollback()
        flash(str(exc.message), "danger")
        return _back(claim_id, anchor)
    flash(message, "success")
    return _back(claim_id, anchor)


@bp.route("/claims", endpoint="claims")
@role_required(Role.OPERATOR)
def claims_list():
    """The alliance's reimbursement requests: those to review first, oldest first."""
    return render_claim_list(
        read_only=False, list_endpoint="operator.claims", detail_endpoint="operator.claim"
    )


@bp.route("/claims/<int:claim_id>")
@role_required(Role.OPERATOR)
def claim(claim_id: int):
    """One request: voucher, receipts with flags, decisions and history."""
    return _page(claim_id)


@bp.route("/claims/<int:claim_id>/approve", methods=["POST"])
@role_required(Role.OPERATOR)
def claim_approve(claim_id: int):
    """Approve in full or for a lower amount (the first of two approvals above four-eyes)."""
    form = ClaimApproveForm(prefix="approve")
    if not form.validate():
        return _page(claim_id, approve=form)

    def action(claim: Claim) -> str:
        review.approve(
            db.session,
            claim,
            current_actor(),
            form.amount_cents.data,
            today=clock.today(),
            note=form.note.data or "",
        )
        if review.needs_second_review(claim):
            return _(
                "Your approval is recorded. The amount is above the four-eyes threshold: "
                "a second operator of the alliance must confirm it."
            )
        if claim.status is ClaimStatus.APPROVED:
            return _("Request approved: %(amount)s.", amount=format_money(claim.approved_cents))
        return _("Request partly approved: %(amount)s.", amount=format_money(claim.approved_cents))

    return _decide(claim_id, action, "approve", form, anchor="decision")


@bp.route("/claims/<int:claim_id>/info", methods=["POST"])
@role_required(Role.OPERATOR)
def claim_ask_info(claim_id: int):
    """Send the request back to the worker, saying what is missing."""
    form = ClaimInfoForm(prefix="info")
    if not form.validate():
        return _page(claim_id, info=form)

    def action(claim: Claim) -> str:
        review.ask_info(db.session, claim, current_actor(), form.message.data or "")
        return _("The request went back to the worker with your message.")

    return _decide(claim_id, action, "info", form, anchor="decision")


@bp.route("/claims/<int:claim_id>/reject", methods=["POST"])
@role_required(Role.OPERATOR)
def claim_reject(claim_id: int):
    """Reject the request, saying why."""
    form = ClaimRejectForm(prefix="reject")
    if not form.validate():
        return _page(claim_id, reject=form)

    def action(claim: Claim) -> str:
        review.reject(
            db.session, claim, current_actor(), form.reason.data or "", today=clock.today()
        )
        return _("Request rejected. The worker has been told why.")

    return _decide(claim_id, action, "reject", form, anchor="decision")


@bp.route("/claims/<int:claim_id>/receipts/<int:receipt_id>/accept", methods=["POST"])
@role_required(Role.OPERATOR)
def claim_receipt_accept(claim_id: int, receipt_id: int):
    """Accept one receipt of the request."""

    def action(claim: Claim) -> str:
        review.accept_receipt(db.session, _receipt_of_or_404(claim, receipt_id), current_actor())
        return _("Receipt accepted.")

    return _decide(claim_id, action, anchor=f"receipt-{receipt_id}")


@bp.route("/claims/<int:claim_id>/receipts/<int:receipt_id>/reject", methods=["POST"])
@role_required(Role.OPERATOR)
def claim_receipt_reject(claim_id: int, receipt_id: int):
    """Set one receipt aside, saying why: it no longer counts."""
    reason = request.form.get("reason", "")
    claim = _claim_or_404(claim_id)
    receipt = _receipt_of_or_404(claim, receipt_id)
    try:
        review.reject_receipt(db.session, receipt, current_actor(), reason)
        db.session.commit()
    except ValidationFailed as exc:
        db.session.rollback()
        return _page(
            claim_id,
            receipt_errors={receipt_id: [str(m) for ms in exc.errors.values() for m in ms]},
            receipt_reasons={receipt_id: reason},
        )
    except Conflict as exc:
        db.session.rollback()
        flash(str(exc.message), "danger")
        return _page(claim_id, status=409)
    except ServiceError as exc:
        db.session.rollback()
        flash(str(exc.message), "danger")
        return _back(claim_id, f"receipt-{receipt_id}")
    flash(_("Receipt set aside: it no longer counts towards the reimbursement."), "success")
    return _back(claim_id, f"receipt-{receipt_id}")


@bp.route("/receipts/<int:receipt_id>/file")
@role_required(Role.OPERATOR)
def receipt_file(receipt_id: int):
    """The receipt's file, as a download (never rendered by the browser as a page)."""
    return send_receipt(get_visible_or_404(Receipt, receipt_id), thumbnail=False)


@bp.route("/receipts/<int:receipt_id>/thumbnail")
@role_required(Role.OPERATOR)
def receipt_thumbnail(receipt_id: int):
    """A small preview of a photographed receipt, shown on the request page."""
    return send_receipt(get_visible_or_404(Receipt, receipt_id), thumbnail=True)
