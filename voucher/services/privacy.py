"""A worker's rights over their data (GDPR arts. 15, 17, 20): see who looked, take it, erase it.

- ``access_log``: every time someone else opened the worker's special-category data (a
  receipt that may reveal health, a disability certificate), from the audit log.
- ``export_archive``: everything the app holds about the worker, as JSON plus the files
  they uploaded, in one ZIP.
- ``request_erasure``: where nothing was ever paid or spent, the account is pseudonymised
  at once (pending applications withdrawn, unused vouchers given back to the budget,
  files deleted). Where money moved, the records are kept for the fiscal retention period
  (restricted: the account is closed, the data no longer used) and ``purge_due`` — run
  daily by ``flask --app voucher purge-erased`` — pseudonymises them when it ends.
"""

from __future__ import annotations

import io
import json
import secrets
import zipfile
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from voucher.models import (
    Application,
    AuditEvent,
    Booking,
    BookingStatus,
    Claim,
    ClaimStatus,
    Dependant,
    Employment,
    Notification,
    OutboxEmail,
    Receipt,
    User,
    Voucher,
    VoucherStatus,
)
from voucher.models.base import utcnow
from voucher.services import applications, audit, expiry, uploads
from voucher.services.accounts import hash_password
from voucher.services.errors import IllegalTransition

# Accounting records (and the receipts behind them) are kept ten years (art. 2220 c.c.).
RETENTION_YEARS = 10
# Views of special-category data by others, as the audit log names them.
SENSITIVE_VIEWS = ("claim.receipt_view", "dependant.certificate_view")
ERASED_NAME = "—"


@dataclass(frozen=True)
class Erasure:
    erased: bool  # pseudonymised now; otherwise restricted until ``retain_until``
    retain_until: date | None


# --- who looked -------------------------------------------------------------------------


def access_log(session: Session, worker: User, limit: int = 200) -> list[AuditEvent]:
    """Views of the worker's receipts and certificates by other people, newest first."""
    claims = select(Claim.id).where(Claim.worker_id == worker.id)
    dependants = select(Dependant.id).where(Dependant.worker_id == worker.id)
    return list(
        session.scalars(
            select(AuditEvent)
            .where(
                AuditEvent.action.in_(SENSITIVE_VIEWS),
                or_(AuditEvent.actor_id.is_(None), AuditEvent.actor_id != worker.id),
                or_(
                    (AuditEvent.entity_type == "claims") & AuditEvent.entity_id.in_(claims),
                    (AuditEvent.entity_type == "dependants") & AuditEvent.entity_id.in_(dependants),
                ),
            )
            .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
            .limit(limit)
        )
    )


# --- taking it away ---------------------------------------------------------------------


def _row(entity: Any, *names: str) -> dict[str, Any]:
    values = {}
    for name in names:
        value = getattr(entity, name)
        if hasattr(value, "isoformat"):
            value = value.isoformat()
        elif hasattr(value, "value"):
            value = value.value
        values[name] = value
    return values


def export_data(session: Session, worker: User) -> dict[str, Any]:
    """Everything held about ``worker``, as JSON-ready data."""
    claims = session.scalars(
        select(Claim).where(Claim.worker_id == worker.id).order_by(Claim.id)
    ).all()
    receipts = session.scalars(
        select(Receipt)
        .where(Receipt.claim_id.in_(select(Claim.id).where(Claim.worker_id == worker.id)))
        .order_by(Receipt.id)
    ).all()
    return {
        "format": "conciliazione-voucher/export/1",
        "exported_at": utcnow().isoformat(),
        "account": _row(
            worker,
            "id",
            "email",
            "first_name",
            "last_name",
            "tax_code",
            "phone",
            "iban",
            "locale",
            "role",
            "created_at",
            "last_login_at",
        ),
        "employments": [
            {**_row(e, "id", "starts_on", "ends_on", "status"), "organisation": e.organisation.name}
            for e in session.scalars(select(Employment).where(Employment.worker_id == worker.id))
        ],
        "family": [
            _row(
                d,
                "id",
                "kind",
                "first_name",
                "last_name",
                "birth_date",
                "tax_code",
                "relationship_label",
                "has_disability",
                "certificate_content_type",
            )
            for d in session.scalars(select(Dependant).where(Dependant.worker_id == worker.id))
        ],
        "applications": [
            {
                **_row(
                    a,
                    "id",
                    "status",
                    "amount_requested_cents",
                    "notes",
                    "municipality",
                    "submitted_at",
                    "decided_at",
                    "decision_reason",
                ),
                "measure": a.measure.title,
            }
            for a in session.scalars(select(Application).where(Application.worker_id == worker.id))
        ],
        "vouchers": [
            _row(
                v,
                "id",
                "application_id",
                "amount_cents",
                "used_cents",
                "status",
                "valid_from",
                "valid_until",
            )
            for v in session.scalars(select(Voucher).where(Voucher.worker_id == worker.id))
        ],
        "claims": [
            _row(
                c,
                "id",
                "voucher_id",
                "status",
                "requested_cents",
                "approved_cents",
                "operator_message",
                "submitted_at",
                "decided_at",
                "paid_at",
            )
            for c in claims
        ],
        "receipts": [
            {
                **_row(
                    r,
                    "id",
                    "claim_id",
                    "original_filename",
                    "content_type",
                    "supplier_name",
                    "supplier_vat",
                    "document_number",
                    "issued_on",
                    "amount_cents",
                    "status",
                    "rejection_reason",
                ),
                "file": f"files/receipt-{r.id}{_extension(r.content_type)}"
                if r.storage_key
                else None,
            }
            for r in receipts
        ],
        "bookings": [
            _row(
                b,
                "id",
                "service_id",
                "quantity",
                "total_cents",
                "voucher_cents",
                "copay_cents",
                "status",
                "created_at",
            )
            for b in session.scalars(select(Booking).where(Booking.worker_id == worker.id))
        ],
        "notifications": [
            _row(n, "subject", "body", "created_at", "read_at")
            for n in session.scalars(select(Notification).where(Notification.user_id == worker.id))
        ],
        "views_of_sensitive_data": [
            _row(e, "occurred_at", "action", "actor_role") for e in access_log(session, worker)
        ],
    }


def _extension(content_type: str | None) -> str:
    return uploads.EXTENSIONS.get(content_type or "", "")


def export_archive(session: Session, worker: User, folder: str) -> bytes:
    """A ZIP with ``data.json`` and the files the worker uploaded."""
    data = export_data(session, worker)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("data.json", json.dumps(data, ensure_ascii=False, indent=2))
        for receipt in session.scalars(
            select(Receipt).where(
                Receipt.claim_id.in_(select(Claim.id).where(Claim.worker_id == worker.id))
            )
        ):
            _add_file(
                archive,
                folder,
                receipt.storage_key,
                f"files/receipt-{receipt.id}",
                receipt.content_type,
            )
        for dependant in session.scalars(select(Dependant).where(Dependant.worker_id == worker.id)):
            _add_file(
                archive,
                folder,
                dependant.certificate_key,
                f"files/certificate-{dependant.id}",
                dependant.certificate_content_type,
            )
    audit.record(session, "user.data_export", worker, actor=worker)
    return out.getvalue()


def _add_file(
    archive: zipfile.ZipFile, folder: str, key: str | None, name: str, content_type: str | None
) -> None:
    if not key:
        return
    try:
        archive.write(uploads.path_of(folder, key), name + _extension(content_type))
    except (FileNotFoundError, ValueError):
        # A file lost from the disk is left out rather than failing the whole export.
        return


# --- erasure ----------------------------------------------------------------------------


def money_moved(session: Session, worker: User) -> bool:
    """Whether anything was spent or paid for ``worker`` (then records must be kept)."""
    spent = session.scalar(
        select(Voucher.id).where(Voucher.worker_id == worker.id, Voucher.used_cents > 0).limit(1)
    )
    decided = session.scalar(
        select(Claim.id)
        .where(
            Claim.worker_id == worker.id,
            Claim.status.not_in((ClaimStatus.DRAFT, ClaimStatus.REJECTED)),
        )
        .limit(1)
    )
    booked = session.scalar(
        select(Booking.id)
        .where(
            Booking.worker_id == worker.id,
            Booking.status.in_((BookingStatus.DELIVERED, BookingStatus.SETTLED)),
        )
        .limit(1)
    )
    return any(x is not None for x in (spent, decided, booked))


def request_erasure(session: Session, worker: User, today: date, folder: str) -> Erasure:
    """Erase the worker's account now, or restrict it until the retention period ends."""
    if worker.erasure_requested_at is not None:
        raise IllegalTransition(_l("Erasure has already been requested for this account."))
    worker.erasure_requested_at = utcnow()
    _close(worker)
    if money_moved(session, worker):
        worker.retain_until = today.replace(year=today.year + RETENTION_YEARS)
        audit.record(
            session,
            "user.erasure_restricted",
            worker,
            actor=worker,
            retain_until=worker.retain_until.isoformat(),
        )
        return Erasure(erased=False, retain_until=worker.retain_until)
    _give_back(session, worker, today)
    _pseudonymise(session, worker, folder)
    audit.record(session, "user.erase", worker, actor=worker)
    return Erasure(erased=True, retain_until=None)


def purge_due(session: Session, today: date, folder: str) -> int:
    """Pseudonymise the restricted accounts whose retention period has ended."""
    due = session.scalars(
        select(User).where(User.retain_until <= today, User.erased_at.is_(None))
    ).all()
    for worker in due:
        _pseudonymise(session, worker, folder)
        audit.record(session, "user.erase", worker, actor=None, after_retention=True)
    return len(due)


def _close(worker: User) -> None:
    """No more signing in, and every open session ends."""
    worker.active = False
    worker.session_version += 1


def _give_back(session: Session, worker: User, today: date) -> None:
    """Withdraw what is pending and return unused vouchers to the budget."""
    pending = session.scalars(
        select(Application).where(
            Application.worker_id == worker.id,
            Application.status.in_(applications.WITHDRAWABLE),
        )
    ).all()
    for application in pending:
        applications.withdraw(session, application, worker)
    for voucher in session.scalars(
        select(Voucher).where(
            Voucher.worker_id == worker.id, Voucher.status == VoucherStatus.ACTIVE
        )
    ).all():
        expiry.revoke(session, voucher, worker, "Erasure requested by the worker", today)


def _pseudonymise(session: Session, worker: User, folder: str) -> None:
    """Replace everything that identifies the worker; keep the records money depends on."""
    old_email = worker.email
    worker.first_name = worker.last_name = ERASED_NAME
    worker.email = f"erased-{worker.id}@erased.invalid"
    worker.tax_code = None
    worker.iban = None
    worker.phone = ""
    worker.password_hash = hash_password(secrets.token_urlsafe(32))
    worker.totp_secret = None
    worker.totp_confirmed_at = None
    worker.erased_at = utcnow()
    _close(worker)
    for dependant in session.scalars(select(Dependant).where(Dependant.worker_id == worker.id)):
        uploads.delete_stored(folder, dependant.certificate_key)
        dependant.certificate_key = None
        dependant.certificate_content_type = None
        dependant.first_name = dependant.last_name = ERASED_NAME
        dependant.tax_code = None
        dependant.relationship_label = ""
    for receipt in session.scalars(
        select(Receipt).where(
            Receipt.claim_id.in_(select(Claim.id).where(Claim.worker_id == worker.id))
        )
    ):
        uploads.delete_stored(folder, receipt.storage_key)
        uploads.delete_stored(folder, receipt.thumbnail_key)
        receipt.storage_key = f"erased-{receipt.id}"
        receipt.thumbnail_key = None
        receipt.original_filename = ""
    session.execute(delete(Notification).where(Notification.user_id == worker.id))
    session.execute(delete(OutboxEmail).where(OutboxEmail.recipient == old_email))
