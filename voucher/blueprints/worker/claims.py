"""Worker area: vouchers, reimbursement requests (claims) and their receipts.

Everything is loaded through its owner (``worker_id == current_user.id``), so another
person's voucher, claim or receipt is simply not found (404).
"""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from voucher.blueprints.common import (
    apply_errors,
    receipt_download_name,
    role_required,
    send_upload,
)
from voucher.blueprints.worker import bp
from voucher.blueprints.worker.claim_forms import ReceiptForm
from voucher.extensions import db
from voucher.models import (
    Application,
    Claim,
    ClaimStatus,
    Employment,
    Measure,
    Receipt,
    Role,
    Voucher,
)
from voucher.services import claims, clock, payouts, uploads
from voucher.services.errors import ServiceError, ValidationFailed

_EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png", "application/pdf": ".pdf"}


def _folder() -> str:
    return current_app.config["UPLOAD_FOLDER"]


def _own_voucher_or_404(voucher_id: int) -> Voucher:
    return db.first_or_404(
        select(Voucher)
        .where(Voucher.id == voucher_id, Voucher.worker_id == current_user.id)
        .options(
            joinedload(Voucher.measure).joinedload(Measure.project),
            joinedload(Voucher.application)
            .joinedload(Application.employment)
            .joinedload(Employment.organisation),
        )
    )


def _own_claim_or_404(claim_id: int, *options: Any) -> Claim:
    found = (
        db.session.scalars(
            select(Claim)
            .where(Claim.id == claim_id, Claim.worker_id == current_user.id)
            .options(
                joinedload(Claim.receipts),
                joinedload(Claim.voucher).joinedload(Voucher.measure),
                *options,
            )
        )
        .unique()
        .first()
    )
    if found is None:
        abort(404)
    return found


def _own_receipt_or_404(receipt_id: int, claim_id: int | None = None) -> Receipt:
    stmt = (
        select(Receipt)
        .join(Claim, Receipt.claim_id == Claim.id)
        .where(Receipt.id == receipt_id, Claim.worker_id == current_user.id)
    )
    if claim_id is not None:
        stmt = stmt.where(Receipt.claim_id == claim_id)
    return db.first_or_404(stmt)


# --- vouchers ---------------------------------------------------------------------------


@bp.route("/vouchers")
@role_required(Role.WORKER)
def vouchers():
    """The worker's vouchers, newest first, with what is left on each."""
    items = db.session.scalars(
        select(Voucher)
        .where(Voucher.worker_id == current_user.id)
        .options(selectinload(Voucher.measure))
        .order_by(Voucher.valid_until.desc(), Voucher.id.desc())
    ).all()
    return render_template("worker/vouchers.html", vouchers=items)


@bp.route("/vouchers/<int:voucher_id>")
@role_required(Role.WORKER)
def voucher(voucher_id: int):
    """One voucher: remaining amount, expiry, rate, its requests and how to start one."""
    item = _own_voucher_or_404(voucher_id)
    voucher_claims = db.session.scalars(
        select(Claim)
        .where(Claim.voucher_id == item.id, Claim.worker_id == current_user.id)
        .order_by(Claim.created_at.desc(), Claim.id.desc())
    ).all()
    # The one being prepared, as claims.open_claim_of finds it, without another query.
    being_prepared = [c for c in voucher_claims if c.status in claims.EDITABLE_STATUSES]
    return render_template(
        "worker/voucher.html",
        voucher=item,
        claims=voucher_claims,
        open_claim=min(being_prepared, key=lambda c: c.id) if being_prepared else None,
        refusal=claims.voucher_refusal(item, clock.today()),
    )


@bp.route("/vouchers/<int:voucher_id>/claims", methods=["POST"])
@role_required(Role.WORKER)
def voucher_new_claim(voucher_id: int):
    """Start a reimbursement request (or continue the one already open)."""
    item = _own_voucher_or_404(voucher_id)
    try:
        claim = claims.open_claim(db.session, current_user, item, clock.today())
    except ServiceError as exc:
        db.session.rollback()
        flash(str(exc.message), "danger")
        return redirect(url_for("worker.voucher", voucher_id=voucher_id))
    db.session.commit()
    return redirect(url_for("worker.claim", claim_id=claim.id))


# --- claims -----------------------------------------------------------------------------


@bp.route("/claims", endpoint="claims")
@role_required(Role.WORKER)
def claims_list():
    """Every reimbursement request of the worker, with its status and next step."""
    items = db.session.scalars(
        select(Claim)
        .where(Claim.worker_id == current_user.id)
        .options(selectinload(Claim.voucher).selectinload(Voucher.measure))
        .order_by(Claim.created_at.desc(), Claim.id.desc())
    ).all()
    return render_template("worker/claims.html", claims=items)


def _render_claim(claim: Claim, form: ReceiptForm | None = None) -> str:
    editable = claim.status in claims.EDITABLE_STATUSES
    return render_template(
        "worker/claim.html",
        claim=claim,
        voucher=claim.voucher,
        form=form if form is not None else (ReceiptForm() if editable else None),
        editable=editable,
        removable={r.id for r in claim.receipts if claims.can_remove(claim, r)},
        eligible_cents=claims.eligible_cents(claim),
        rate_cents=claims.rate_cents(claim),
        reimbursable_cents=claims.reimbursable_cents(claim),
        file_hint=uploads.accepted_hint(current_app.config["MAX_UPLOAD_BYTES"]),
        # Only decided requests have transfers to show (one query, and only for them).
        payment=payouts.payment_of(db.session, claim) if claim.status is ClaimStatus.PAID else None,
        failure=(
            payouts.last_failure(db.session, claim) if claim.status in payouts.PAYABLE else None
        ),
    )


@bp.route("/claims/<int:claim_id>")
@role_required(Role.WORKER)
def claim(claim_id: int):
    """One request: its receipts, the amount it would reimburse, and the next step."""
    # What the voucher's other requests ask for comes in the same query (GET only: a POST
    # computes it afresh when it needs it).
    return _render_claim(_own_claim_or_404(claim_id, claims.requested_elsewhere()))


@bp.route("/claims/<int:claim_id>/receipts", methods=["POST"])
@role_required(Role.WORKER)
def claim_add_receipt(claim_id: int):
    """Upload one receipt; on error show the form again with what was typed."""
    item = _own_claim_or_404(claim_id)
    if item.status not in claims.EDITABLE_STATUSES:
        flash(
            _("This request has already been sent: its receipts can no longer be changed."),
            "warning",
        )
        return redirect(url_for("worker.claim", claim_id=item.id))
    form = ReceiptForm()
    if form.validate_on_submit():
        folder = _folder()
        stored = None
        try:
            stored = uploads.store_upload(
                form.file.data, folder, current_app.config["MAX_UPLOAD_BYTES"], field="file"
            )
            claims.add_receipt(
                db.session,
                item,
                stored,
                supplier_name=form.supplier_name.data,
                supplier_vat=form.supplier_vat.data,
                document_number=form.document_number.data,
                issued_on=form.issued_on.data,
                amount_cents=form.amount_cents.data,
                folder=folder,
                today=clock.today(),
            )
            db.session.commit()
        except ValidationFailed as exc:
            db.session.rollback()
            apply_errors(form, exc)
        except ServiceError as exc:
            db.session.rollback()
            flash(str(exc.message), "danger")
            return redirect(url_for("worker.claim", claim_id=claim_id))
        except Exception:
            # The commit failed after the file was stored: leave nothing behind.
            db.session.rollback()
            if stored is not None:
                uploads.delete_stored(folder, stored.storage_key)
                uploads.delete_stored(folder, stored.thumbnail_key)
            raise
        else:
            flash(_("Receipt added."), "success")
            return redirect(url_for("worker.claim", claim_id=claim_id, _anchor="receipts"))
    return _render_claim(_own_claim_or_404(claim_id), form)


@bp.route("/claims/<int:claim_id>/receipts/<int:receipt_id>/remove", methods=["POST"])
@role_required(Role.WORKER)
def claim_remove_receipt(claim_id: int, receipt_id: int):
    """Remove a receipt that has not been sent yet."""
    item = _own_claim_or_404(claim_id)
    receipt = _own_receipt_or_404(receipt_id, claim_id=item.id)
    try:
        claims.remove_receipt(db.session, item, receipt, _folder())
    except ServiceError as exc:
        db.session.rollback()
        flash(str(exc.message), "danger")
    else:
        db.session.commit()
        flash(_("Receipt removed."), "success")
    return redirect(url_for("worker.claim", claim_id=claim_id, _anchor="receipts"))


@bp.route("/claims/<int:claim_id>/submit", methods=["POST"])
@role_required(Role.WORKER)
def claim_submit(claim_id: int):
    """Send the request to the alliance (again, after it asked for information)."""
    item = _own_claim_or_404(claim_id)
    try:
        claims.submit(db.session, item, current_user, clock.today())
    except ServiceError as exc:
        db.session.rollback()
        flash(str(exc.message), "danger")
    else:
        db.session.commit()
        flash(_("Your request has been sent to the alliance."), "success")
    return redirect(url_for("worker.claim", claim_id=claim_id))


# --- files ------------------------------------------------------------------------------


@bp.route("/receipts/<int:receipt_id>/file")
@role_required(Role.WORKER)
def receipt_file(receipt_id: int):
    """The receipt's file, as a download (never rendered by the browser as a page)."""
    receipt = _own_receipt_or_404(receipt_id)
    name = receipt_download_name(receipt.original_filename, receipt.content_type)
    return send_upload(receipt.storage_key, receipt.content_type, name)


@bp.route("/receipts/<int:receipt_id>/thumbnail")
@role_required(Role.WORKER)
def receipt_thumbnail(receipt_id: int):
    """A small preview of a photographed receipt, shown inline on the request page."""
    receipt = _own_receipt_or_404(receipt_id)
    # Thumbnails are always JPEG (see voucher.services.uploads).
    name = receipt_download_name(receipt.original_filename, "image/jpeg", "-preview")
    return send_upload(receipt.thumbnail_key, "image/jpeg", name, as_attachment=False)
