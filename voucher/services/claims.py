"""Reimbursement requests (claims) and their receipts, on the worker's side.

State machine (DESIGN §3): draft -> submitted; needs_info -> submitted (a resubmission).
The operator's decisions live elsewhere. Every function validates first and writes after,
records the transition in the audit log, and refuses an illegal one with IllegalTransition.
An uploaded file that a rule refuses is deleted at once, so nothing is left on disk.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

from flask_babel import LazyString, format_date
from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased, object_session, with_expression

from voucher.models import (
    Claim,
    ClaimStatus,
    Measure,
    Project,
    Receipt,
    ReceiptStatus,
    User,
    Voucher,
    VoucherStatus,
)
from voucher.models.base import utcnow
from voucher.services import audit, identifiers
from voucher.services.errors import IllegalTransition, ValidationFailed
from voucher.services.uploads import StoredFile, delete_stored

# Claims the worker may still change: add or remove receipts, then (re)submit.
EDITABLE_STATUSES = (ClaimStatus.DRAFT, ClaimStatus.NEEDS_INFO)

_DUPLICATE_FILE = _l(
    "This document has already been used for a reimbursement request in this programme, "
    "so it cannot be claimed again. If you think this is a mistake, contact the alliance."
)
_DUPLICATE_DETAILS = _l(
    "A receipt from this supplier with the same number, date and amount has already been "
    "used for a reimbursement request in this programme, so it cannot be claimed again."
)


def _day(value: date) -> LazyString:
    """A date formatted in the reader's locale when the message is shown."""
    return LazyString(format_date, value, "medium")


def _as_utc(value: datetime) -> datetime:
    """Compare timestamps alike whether the backend kept their time zone or not (SQLite)."""
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


# --- vouchers ---------------------------------------------------------------------------


def voucher_refusal(voucher: Voucher, today: date) -> Any | None:
    """Why ``voucher`` cannot take a new reimbursement request today, or None if it can."""
    if voucher.status is VoucherStatus.EXHAUSTED:
        return _l("This voucher has been used up: there is nothing left to reimburse.")
    if voucher.status is VoucherStatus.EXPIRED:
        return _l("This voucher has expired.")
    if voucher.status is VoucherStatus.REVOKED:
        return _l("This voucher has been revoked.")
    if today < voucher.valid_from:
        return _l("This voucher can be used from %(date)s.", date=_day(voucher.valid_from))
    if today > voucher.valid_until:
        return _l("This voucher expired on %(date)s.", date=_day(voucher.valid_until))
    employment = voucher.application.employment
    if employment is not None and employment.ends_on is not None and employment.ends_on < today:
        return _l(
            "Your employment at %(organisation)s ended on %(date)s: vouchers of that "
            "employment stop accepting new requests after the end date.",
            organisation=employment.organisation.name,
            date=_day(employment.ends_on),
        )
    if voucher.remaining_cents <= 0:
        return _l("This voucher has been used up: there is nothing left to reimburse.")
    return None


def open_claim_of(session: Session, voucher: Voucher) -> Claim | None:
    """The voucher's claim still being prepared (draft or needs_info), if there is one."""
    return session.scalars(
        select(Claim)
        .where(Claim.voucher_id == voucher.id, Claim.status.in_(EDITABLE_STATUSES))
        .order_by(Claim.id)
        .limit(1)
    ).first()


def open_claim(session: Session, worker: User, voucher: Voucher, today: date) -> Claim:
    """Start a draft claim on the worker's usable voucher, or return the one already open."""
    if voucher.worker_id != worker.id:
        raise IllegalTransition(_l("This voucher is not yours."))
    existing = open_claim_of(session, voucher)
    if existing is not None:
        return existing
    refusal = voucher_refusal(voucher, today)
    if refusal is not None:
        raise IllegalTransition(refusal)
    claim = Claim(voucher=voucher, worker=worker, status=ClaimStatus.DRAFT)
    try:
        # A unique partial index allows one open request per voucher: if another tap
        # created it a moment ago, use that one.
        with session.begin_nested():
            session.add(claim)
            session.flush()
    except IntegrityError:
        existing = open_claim_of(session, voucher)
        if existing is None:
            raise
        return existing
    audit.record(session, "claim.create", claim, actor=worker, voucher_id=voucher.id)
    return claim


# --- receipts ---------------------------------------------------------------------------


def _ensure_editable(claim: Claim) -> None:
    if claim.status not in EDITABLE_STATUSES:
        raise IllegalTransition(
            _l("This request has already been sent: its receipts can no longer be changed.")
        )


def _normalised_number(value: str) -> str:
    """Document numbers compare without spaces and case: "FT 12/a" is "FT12/A"."""
    return re.sub(r"\s+", "", value).upper()


def _already_claimed(session: Session, programme_id: int, *conditions: ColumnElement) -> bool:
    """Whether a receipt matching ``conditions`` backs a live claim in the programme."""
    stmt = (
        select(Receipt.id)
        .join(Claim, Receipt.claim_id == Claim.id)
        .join(Voucher, Claim.voucher_id == Voucher.id)
        .join(Measure, Voucher.measure_id == Measure.id)
        .join(Project, Measure.project_id == Project.id)
        .where(
            Project.programme_id == programme_id,
            # A receipt the operator set aside, or one of a rejected request, may be reused.
            Receipt.status != ReceiptStatus.REJECTED,
            Claim.status != ClaimStatus.REJECTED,
            *conditions,
        )
        .limit(1)
    )
    return session.scalar(stmt) is not None


def _receipt_errors(
    session: Session,
    claim: Claim,
    stored: StoredFile,
    supplier_name: str,
    supplier_vat: str,
    document_number: str,
    issued_on: date | None,
    amount_cents: int | None,
    today: date,
) -> tuple[dict[str, list[Any]], dict[str, Any]]:
    """Check a receipt's details; return the errors by field and the cleaned values."""
    errors: dict[str, list[Any]] = {}
    clean: dict[str, Any] = {}
    voucher = claim.voucher

    name = " ".join((supplier_name or "").split())
    if not name:
        errors.setdefault("supplier_name", []).append(_l("Enter the supplier's name."))
    elif len(name) > 200:
        errors.setdefault("supplier_name", []).append(
            _l("The name is too long (at most %(count)d characters).", count=200)
        )
    clean["supplier_name"] = name

    try:
        clean["supplier_vat"] = identifiers.vat_number(supplier_vat or "", field="supplier_vat")
    except ValidationFailed as exc:
        for field, messages in exc.errors.items():
            errors.setdefault(field, []).extend(messages)

    number = " ".join((document_number or "").split())
    if not number:
        errors.setdefault("document_number", []).append(
            _l("Enter the number printed on the invoice or receipt.")
        )
    elif len(number) > 50:
        errors.setdefault("document_number", []).append(
            _l("The number is too long (at most %(count)d characters).", count=50)
        )
    clean["document_number"] = number

    if issued_on is None:
        errors.setdefault("issued_on", []).append(_l("Enter the date of the receipt."))
    elif issued_on > today:
        errors.setdefault("issued_on", []).append(_l("The date cannot be in the future."))
    elif not voucher.valid_from <= issued_on <= voucher.valid_until:
        errors.setdefault("issued_on", []).append(
            _l(
                "Only expenses from %(start)s to %(end)s count for this voucher.",
                start=_day(voucher.valid_from),
                end=_day(voucher.valid_until),
            )
        )
    clean["issued_on"] = issued_on

    if not isinstance(amount_cents, int) or isinstance(amount_cents, bool) or amount_cents <= 0:
        errors.setdefault("amount_cents", []).append(
            _l("Enter the amount paid, greater than zero.")
        )
    clean["amount_cents"] = amount_cents

    if errors:
        return errors, clean

    programme_id = voucher.measure.project.programme_id
    if _already_claimed(session, programme_id, Receipt.sha256 == stored.sha256):
        errors["file"] = [_DUPLICATE_FILE]
    elif _already_claimed(
        session,
        programme_id,
        Receipt.supplier_vat == clean["supplier_vat"],
        func.upper(func.replace(Receipt.document_number, " ", "")) == _normalised_number(number),
        Receipt.issued_on == issued_on,
        Receipt.amount_cents == amount_cents,
    ):
        errors["document_number"] = [_DUPLICATE_DETAILS]
    return errors, clean


def _discard(folder: str, stored: StoredFile) -> None:
    delete_stored(folder, stored.storage_key)
    delete_stored(folder, stored.thumbnail_key)


def add_receipt(
    session: Session,
    claim: Claim,
    stored: StoredFile,
    *,
    supplier_name: str,
    supplier_vat: str,
    document_number: str,
    issued_on: date | None,
    amount_cents: int | None,
    folder: str,
    today: date,
) -> Receipt:
    """Attach an uploaded receipt to an editable claim; on any refusal delete the file."""
    try:
        _ensure_editable(claim)
        errors, clean = _receipt_errors(
            session,
            claim,
            stored,
            supplier_name,
            supplier_vat,
            document_number,
            issued_on,
            amount_cents,
            today,
        )
        if errors:
            raise ValidationFailed(errors)
        receipt = Receipt(
            claim=claim,
            storage_key=stored.storage_key,
            thumbnail_key=stored.thumbnail_key,
            original_filename=(stored.original_filename or "")[:255],
            content_type=stored.content_type,
            size_bytes=stored.size_bytes,
            sha256=stored.sha256,
            status=ReceiptStatus.PENDING,
            **clean,
        )
        session.add(receipt)
        session.flush()
    except BaseException:
        _discard(folder, stored)
        raise
    audit.record(
        session,
        "claim.receipt_add",
        claim,
        actor=claim.worker,
        receipt_id=receipt.id,
        amount_cents=receipt.amount_cents,
        sha256=receipt.sha256,
    )
    return receipt


def was_submitted(claim: Claim, receipt: Receipt) -> bool:
    """Whether the receipt was already sent to the operator with an earlier submission."""
    if claim.submitted_at is None:
        return False
    return _as_utc(receipt.created_at) <= _as_utc(claim.submitted_at)


def can_remove(claim: Claim, receipt: Receipt) -> bool:
    """Whether the worker may still remove this receipt (never once it was sent)."""
    return claim.status in EDITABLE_STATUSES and not was_submitted(claim, receipt)


def remove_receipt(session: Session, claim: Claim, receipt: Receipt, folder: str) -> None:
    """Remove a receipt not yet sent to the operator, and its files."""
    if receipt.claim_id != claim.id:
        raise IllegalTransition(_l("This receipt belongs to another request."))
    _ensure_editable(claim)
    if was_submitted(claim, receipt):
        # The operator has seen it: it stays with the request (rule 6); they can set it aside.
        raise IllegalTransition(
            _l(
                "This receipt was already sent to the alliance and is kept with the request. "
                "Add a new one instead: the alliance will set the old one aside."
            )
        )
    audit.record(
        session,
        "claim.receipt_remove",
        claim,
        actor=claim.worker,
        receipt_id=receipt.id,
        amount_cents=receipt.amount_cents,
        sha256=receipt.sha256,
    )
    keys = (receipt.storage_key, receipt.thumbnail_key)
    claim.receipts.remove(receipt)
    session.delete(receipt)
    session.flush()
    for key in keys:
        delete_stored(folder, key)


# --- amounts and submission -------------------------------------------------------------


def eligible_cents(claim: Claim) -> int:
    """The total of the receipts that count: every one not set aside by the operator."""
    return sum(r.amount_cents for r in claim.receipts if r.status is not ReceiptStatus.REJECTED)


def rate_cents(claim: Claim) -> int:
    """The measure's rate applied to the eligible total, floored to the cent."""
    return eligible_cents(claim) * claim.voucher.measure.reimbursement_rate_pct // 100


def reimbursable_cents(claim: Claim) -> int:
    """Rate x eligible receipts, floored to the cent, within what the voucher still has.

    What the voucher still has is its remaining amount less what other requests on it,
    sent and not yet decided, already ask for: two requests cannot each claim the whole
    remainder (rule 3).
    """
    available = claim.voucher.remaining_cents - _requested_elsewhere_cents(claim)
    return max(0, min(rate_cents(claim), available))


def requested_elsewhere() -> Any:
    """A loader option: compute :func:`_requested_elsewhere_cents` in the query that loads
    the claim (``select(Claim).options(requested_elsewhere())``), saving a query later."""
    other = aliased(Claim)
    total = (
        select(func.coalesce(func.sum(other.requested_cents), 0))
        .where(
            other.voucher_id == Claim.voucher_id,
            other.id != Claim.id,
            other.status == ClaimStatus.SUBMITTED,
        )
        .correlate(Claim)
        .scalar_subquery()
    )
    return with_expression(Claim.requested_elsewhere_cents, total)


def _requested_elsewhere_cents(claim: Claim) -> int:
    """What the voucher's other requests awaiting a decision ask for."""
    if claim.requested_elsewhere_cents is not None:
        return int(claim.requested_elsewhere_cents)
    session = object_session(claim)
    if session is None:
        return 0
    return int(
        session.scalar(
            select(func.coalesce(func.sum(Claim.requested_cents), 0)).where(
                Claim.voucher_id == claim.voucher_id,
                Claim.id != claim.id,
                Claim.status == ClaimStatus.SUBMITTED,
            )
        )
    )


def submit(session: Session, claim: Claim, actor: User, today: date) -> Claim:
    """Send a draft claim, or resend one the operator asked information about."""
    if actor.id != claim.worker_id:
        raise IllegalTransition(_l("Only the worker who prepared the request can send it."))
    if claim.status not in EDITABLE_STATUSES:
        raise IllegalTransition(_l("This request has already been sent."))
    voucher = claim.voucher
    resubmission = claim.status is ClaimStatus.NEEDS_INFO
    if resubmission:
        # It was sent in time: answering the operator stays possible after the voucher's
        # end date, unless the voucher was revoked.
        if voucher.status is VoucherStatus.REVOKED:
            raise IllegalTransition(_l("This voucher has been revoked."))
    else:
        refusal = voucher_refusal(voucher, today)
        if refusal is not None:
            raise IllegalTransition(refusal)
    if not any(r.status is not ReceiptStatus.REJECTED for r in claim.receipts):
        raise ValidationFailed.single("", _l("Add at least one receipt before sending."))
    amount = reimbursable_cents(claim)
    if amount <= 0:
        raise IllegalTransition(
            _l("This voucher has been used up: there is nothing left to reimburse.")
        )
    previous = claim.status
    claim.requested_cents = amount
    claim.status = ClaimStatus.SUBMITTED
    claim.submitted_at = utcnow()
    audit.record(
        session,
        "claim.resubmit" if resubmission else "claim.submit",
        claim,
        actor=actor,
        previous=previous.value,
        requested_cents=amount,
        eligible_cents=eligible_cents(claim),
        receipts=[r.id for r in claim.receipts],
    )
    return claim
