"""Rules of reimbursement requests (claims) and receipts, called directly on the services."""

from __future__ import annotations

import io
import random
from datetime import date, timedelta
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from tests import factories
from voucher.models import (
    AuditEvent,
    Claim,
    ClaimStatus,
    Receipt,
    ReceiptStatus,
    Role,
    VoucherStatus,
)
from voucher.services import claims, uploads
from voucher.services.errors import IllegalTransition, ValidationFailed

TODAY = date(2026, 6, 15)
MAX_BYTES = 10 * 1024 * 1024


# --- helpers ----------------------------------------------------------------------------


def jpeg_bytes(seed: int | None = None, size: tuple[int, int] = (80, 60)) -> bytes:
    """A small JPEG, different for every seed (so with its own SHA-256)."""
    rng = random.Random(seed if seed is not None else factories.seq())
    image = Image.new("RGB", size, tuple(rng.randrange(256) for _ in range(3)))
    for _ in range(20):
        xy = (rng.randrange(size[0]), rng.randrange(size[1]))
        image.putpixel(xy, tuple(rng.randrange(256) for _ in range(3)))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def store(folder: Path, data: bytes | None = None, name: str = "scontrino.jpg"):
    """Store an upload the way the view does, through the uploads service."""
    upload = FileStorage(io.BytesIO(data or jpeg_bytes()), filename=name, content_type="image/jpeg")
    return uploads.store_upload(upload, str(folder), MAX_BYTES)


def files_in(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def details(**overrides):
    """What a worker reads on a receipt (valid, unique document number)."""
    values = {
        "supplier_name": "Asilo nido Il Girasole",
        "supplier_vat": factories.vat(4242),
        "document_number": f"FT {factories.seq()}/2026",
        "issued_on": date(2026, 5, 20),
        "amount_cents": 100_00,
    }
    values.update(overrides)
    return values


def add(db, claim, folder: Path, data: bytes | None = None, **overrides) -> Receipt:
    return claims.add_receipt(
        db, claim, store(folder, data), folder=str(folder), today=TODAY, **details(**overrides)
    )


def measure_in(db, programme=None):
    """A measure (80% rate) of a new project under ``programme`` (a new one if None)."""
    return factories.measure(db, factories.project(db, prog=programme))


def actions(db, claim: Claim) -> list[str]:
    return list(
        db.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.entity_type == "claims", AuditEvent.entity_id == claim.id)
            .order_by(AuditEvent.id)
        )
    )


@pytest.fixture
def folder(app, tmp_path) -> Path:
    path = tmp_path / "uploads"
    app.config["UPLOAD_FOLDER"] = str(path)
    return path


@pytest.fixture
def voucher(db):
    return factories.voucher(db, amount_cents=500_00)


@pytest.fixture
def claim(db, voucher):
    return claims.open_claim(db, voucher.worker, voucher, TODAY)


# --- opening a claim --------------------------------------------------------------------


def test_open_claim_starts_a_draft_and_returns_it_while_open(db, voucher):
    claim = claims.open_claim(db, voucher.worker, voucher, TODAY)
    assert claim.status is ClaimStatus.DRAFT
    assert claim.worker_id == voucher.worker_id
    assert claims.open_claim(db, voucher.worker, voucher, TODAY) is claim
    claim.status = ClaimStatus.NEEDS_INFO
    assert claims.open_claim(db, voucher.worker, voucher, TODAY) is claim
    claim.status = ClaimStatus.SUBMITTED
    second = claims.open_claim(db, voucher.worker, voucher, TODAY)
    assert second is not claim
    assert actions(db, claim) == ["claim.create"]


def test_open_claim_refuses_someone_elses_voucher(db, voucher):
    stranger = factories.user(db, Role.WORKER)
    with pytest.raises(IllegalTransition):
        claims.open_claim(db, stranger, voucher, TODAY)


@pytest.mark.parametrize(
    "status", [VoucherStatus.EXPIRED, VoucherStatus.REVOKED, VoucherStatus.EXHAUSTED]
)
def test_open_claim_needs_an_active_voucher(db, voucher, status):
    voucher.status = status
    with pytest.raises(IllegalTransition):
        claims.open_claim(db, voucher.worker, voucher, TODAY)
    assert db.scalars(select(Claim)).all() == []


def test_open_claim_only_within_the_validity(db, voucher):
    with pytest.raises(IllegalTransition):
        claims.open_claim(db, voucher.worker, voucher, voucher.valid_until + timedelta(days=1))
    with pytest.raises(IllegalTransition):
        claims.open_claim(db, voucher.worker, voucher, voucher.valid_from - timedelta(days=1))
    assert claims.open_claim(db, voucher.worker, voucher, voucher.valid_until)


def ended_employment_voucher(db, ends_on: date):
    """A voucher granted on an employment that ends on ``ends_on``."""
    voucher = factories.voucher(db)
    job = factories.employment(db, voucher.worker, factories.organisation(db))
    job.ends_on = ends_on
    voucher.application.employment = job
    db.flush()
    return voucher


def test_vouchers_of_an_ended_employment_take_no_new_claims(db):
    last_day = ended_employment_voucher(db, TODAY)
    assert claims.open_claim(db, last_day.worker, last_day, TODAY)  # the last day counts
    ended = ended_employment_voucher(db, TODAY - timedelta(days=1))
    with pytest.raises(IllegalTransition) as exc:
        claims.open_claim(db, ended.worker, ended, TODAY)
    assert "data di fine" in str(exc.value.message)
    assert db.scalars(select(Claim).where(Claim.voucher_id == ended.id)).all() == []


# --- receipts ---------------------------------------------------------------------------


def test_add_receipt_keeps_the_file_and_what_was_read_on_it(db, claim, folder):
    receipt = add(db, claim, folder, supplier_vat=" " + factories.vat(4242) + " ")
    assert receipt.claim is claim
    assert receipt.status is ReceiptStatus.PENDING
    assert receipt.supplier_vat == factories.vat(4242)
    assert uploads.path_of(str(folder), receipt.storage_key).is_file()
    assert "scontrino" not in receipt.storage_key
    assert receipt.thumbnail_key
    assert actions(db, claim) == ["claim.create", "claim.receipt_add"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"supplier_vat": "12345678901"}, "supplier_vat"),
        ({"supplier_name": "   "}, "supplier_name"),
        ({"document_number": ""}, "document_number"),
        ({"amount_cents": 0}, "amount_cents"),
        ({"amount_cents": -100}, "amount_cents"),
        ({"amount_cents": None}, "amount_cents"),
        ({"issued_on": None}, "issued_on"),
        ({"issued_on": TODAY + timedelta(days=1)}, "issued_on"),
        ({"issued_on": date(2023, 12, 31)}, "issued_on"),  # before the voucher's validity
    ],
)
def test_invalid_receipt_is_refused_and_its_file_deleted(db, claim, folder, overrides, field):
    stored = store(folder)
    assert files_in(folder)
    with pytest.raises(ValidationFailed) as exc:
        claims.add_receipt(
            db, claim, stored, folder=str(folder), today=TODAY, **details(**overrides)
        )
    assert field in exc.value.errors
    assert files_in(folder) == []
    assert db.scalars(select(Receipt)).all() == []


def test_receipt_outside_the_voucher_validity_is_refused(db, folder):
    voucher = factories.voucher(db)
    voucher.valid_from, voucher.valid_until = date(2026, 1, 1), date(2026, 3, 31)
    claim = claims.open_claim(db, voucher.worker, voucher, date(2026, 3, 1))
    with pytest.raises(ValidationFailed) as exc:
        claims.add_receipt(
            db,
            claim,
            store(folder),
            folder=str(folder),
            today=date(2026, 5, 1),
            **details(issued_on=date(2026, 4, 2)),
        )
    assert "issued_on" in exc.value.errors
    assert files_in(folder) == []


def test_receipts_cannot_be_added_to_a_sent_claim(db, claim, folder):
    add(db, claim, folder)
    claims.submit(db, claim, claim.worker, TODAY)
    before = files_in(folder)
    with pytest.raises(IllegalTransition):
        add(db, claim, folder)
    assert files_in(folder) == before


# --- duplicate guard --------------------------------------------------------------------


def test_same_file_cannot_be_claimed_twice_in_a_programme(db, folder):
    programme = factories.programme(db)
    mine = factories.voucher(db, meas=measure_in(db, programme))
    theirs = factories.voucher(db, meas=measure_in(db, programme))  # another worker
    data = jpeg_bytes()
    add(db, claims.open_claim(db, mine.worker, mine, TODAY), folder, data)
    kept = files_in(folder)
    claim = claims.open_claim(db, theirs.worker, theirs, TODAY)
    with pytest.raises(ValidationFailed) as exc:
        add(db, claim, folder, data)
    assert "file" in exc.value.errors
    message = str(exc.value.errors["file"][0])
    assert mine.worker.last_name not in message
    assert str(mine.worker.email) not in message
    assert files_in(folder) == kept
    # The same worker cannot put it twice on the same request either.
    with pytest.raises(ValidationFailed):
        add(db, claims.open_claim(db, mine.worker, mine, TODAY), folder, data)


def test_same_receipt_details_cannot_be_claimed_twice_in_a_programme(db, folder):
    programme = factories.programme(db)
    mine = factories.voucher(db, meas=measure_in(db, programme))
    theirs = factories.voucher(db, meas=measure_in(db, programme))
    same = {"document_number": "FT 12/2026", "issued_on": date(2026, 5, 2), "amount_cents": 80_00}
    add(db, claims.open_claim(db, mine.worker, mine, TODAY), folder, **same)
    claim = claims.open_claim(db, theirs.worker, theirs, TODAY)
    # A different photo of the same receipt, its number typed a little differently.
    with pytest.raises(ValidationFailed) as exc:
        add(db, claim, folder, **{**same, "document_number": "ft12/2026"})
    assert "document_number" in exc.value.errors
    assert mine.worker.last_name not in str(exc.value)
    # Differing in any one of them, it is another receipt.
    add(db, claim, folder, **{**same, "amount_cents": 80_01})
    add(db, claim, folder, **{**same, "issued_on": date(2026, 5, 3)})
    add(db, claim, folder, **{**same, "document_number": "FT 13/2026"})
    add(db, claim, folder, **{**same, "supplier_vat": factories.vat(4343)})


def test_the_same_receipt_may_be_claimed_in_another_programme(db, folder):
    data = jpeg_bytes()
    same = {"document_number": "R-7", "issued_on": date(2026, 5, 2), "amount_cents": 45_00}
    first = factories.voucher(db)
    second = factories.voucher(db, worker=first.worker)  # a measure of another programme
    assert first.measure.project.programme_id != second.measure.project.programme_id
    add(db, claims.open_claim(db, first.worker, first, TODAY), folder, data, **same)
    receipt = add(db, claims.open_claim(db, second.worker, second, TODAY), folder, data, **same)
    assert receipt.id


def test_a_receipt_set_aside_may_be_used_again(db, folder):
    voucher = factories.voucher(db)
    data = jpeg_bytes()
    claim = claims.open_claim(db, voucher.worker, voucher, TODAY)
    first = add(db, claim, folder, data, document_number="A1")
    first.status = ReceiptStatus.REJECTED
    assert add(db, claim, folder, data, document_number="A1").id


# --- removing ---------------------------------------------------------------------------


def test_remove_receipt_of_a_draft_deletes_its_files(db, claim, folder):
    receipt = add(db, claim, folder)
    claims.remove_receipt(db, claim, receipt, str(folder))
    assert claim.receipts == []
    assert db.scalars(select(Receipt)).all() == []
    assert files_in(folder) == []
    assert actions(db, claim)[-1] == "claim.receipt_remove"


def test_receipts_of_a_sent_claim_cannot_be_removed(db, claim, folder):
    receipt = add(db, claim, folder)
    claims.submit(db, claim, claim.worker, TODAY)
    with pytest.raises(IllegalTransition):
        claims.remove_receipt(db, claim, receipt, str(folder))
    # Still not once the alliance asks for more information: it has seen that one.
    claim.status = ClaimStatus.NEEDS_INFO
    with pytest.raises(IllegalTransition):
        claims.remove_receipt(db, claim, receipt, str(folder))
    assert uploads.path_of(str(folder), receipt.storage_key).is_file()
    # A receipt added since can still be taken back before sending again.
    extra = add(db, claim, folder)
    assert claims.can_remove(claim, extra)
    assert not claims.can_remove(claim, receipt)
    claims.remove_receipt(db, claim, extra, str(folder))
    assert [r.id for r in claim.receipts] == [receipt.id]


def test_remove_receipt_of_another_claim_is_refused(db, folder):
    v1, v2 = factories.voucher(db), factories.voucher(db)
    c1 = claims.open_claim(db, v1.worker, v1, TODAY)
    c2 = claims.open_claim(db, v2.worker, v2, TODAY)
    receipt = add(db, c2, folder)
    with pytest.raises(IllegalTransition):
        claims.remove_receipt(db, c1, receipt, str(folder))
    assert receipt in c2.receipts


# --- amounts ----------------------------------------------------------------------------


def test_reimbursable_is_the_rate_of_the_receipts_floored_to_the_cent(db, claim, folder):
    assert claim.voucher.measure.reimbursement_rate_pct == 80
    add(db, claim, folder, amount_cents=100_01)
    add(db, claim, folder, amount_cents=33_33)
    # 80% of 133.34 = 106.672 -> 106.67 (never rounded up).
    assert claims.eligible_cents(claim) == 133_34
    assert claims.reimbursable_cents(claim) == 106_67


def test_reimbursable_never_exceeds_what_is_left_on_the_voucher(db, folder):
    voucher = factories.voucher(db, amount_cents=100_00)
    claim = claims.open_claim(db, voucher.worker, voucher, TODAY)
    add(db, claim, folder, amount_cents=400_00)
    assert claims.reimbursable_cents(claim) == 100_00
    voucher.used_cents = 95_50
    assert claims.reimbursable_cents(claim) == 4_50


def test_requests_awaiting_a_decision_are_not_counted_twice(db, folder):
    voucher = factories.voucher(db, amount_cents=100_00)
    first = claims.open_claim(db, voucher.worker, voucher, TODAY)
    add(db, first, folder, amount_cents=75_00)
    claims.submit(db, first, voucher.worker, TODAY)
    assert first.requested_cents == 60_00
    second = claims.open_claim(db, voucher.worker, voucher, TODAY)
    add(db, second, folder, amount_cents=400_00)
    # Only EUR 40 of the voucher is not asked for by the request under review.
    assert claims.reimbursable_cents(second) == 40_00


def test_receipts_set_aside_do_not_count(db, claim, folder):
    add(db, claim, folder, amount_cents=50_00)
    aside = add(db, claim, folder, amount_cents=70_00)
    aside.status = ReceiptStatus.REJECTED
    assert claims.reimbursable_cents(claim) == 40_00


# --- submitting -------------------------------------------------------------------------


def test_submit_sends_the_claim_with_the_reimbursable_amount(db, claim, folder):
    add(db, claim, folder, amount_cents=125_00)
    claims.submit(db, claim, claim.worker, TODAY)
    assert claim.status is ClaimStatus.SUBMITTED
    assert claim.requested_cents == 100_00
    assert claim.submitted_at is not None
    assert actions(db, claim)[-1] == "claim.submit"
    with pytest.raises(IllegalTransition):
        claims.submit(db, claim, claim.worker, TODAY)


def test_submit_needs_a_receipt(db, claim):
    with pytest.raises(ValidationFailed):
        claims.submit(db, claim, claim.worker, TODAY)
    assert claim.status is ClaimStatus.DRAFT


def test_only_the_owner_submits(db, claim, folder):
    add(db, claim, folder)
    with pytest.raises(IllegalTransition):
        claims.submit(db, claim, factories.user(db, Role.WORKER), TODAY)


def test_submit_checks_the_voucher_again(db, claim, folder):
    add(db, claim, folder)
    claim.voucher.status = VoucherStatus.REVOKED
    with pytest.raises(IllegalTransition):
        claims.submit(db, claim, claim.worker, TODAY)
    claim.voucher.status = VoucherStatus.ACTIVE
    with pytest.raises(IllegalTransition):
        claims.submit(db, claim, claim.worker, claim.voucher.valid_until + timedelta(days=1))
    job = factories.employment(db, claim.worker, factories.organisation(db))
    job.ends_on = TODAY - timedelta(days=1)
    claim.voucher.application.employment = job
    with pytest.raises(IllegalTransition):
        claims.submit(db, claim, claim.worker, TODAY)
    assert claim.status is ClaimStatus.DRAFT


def test_resubmit_after_the_alliance_asks_for_information(db, claim, folder):
    add(db, claim, folder, amount_cents=50_00)
    claims.submit(db, claim, claim.worker, TODAY)
    claim.status = ClaimStatus.NEEDS_INFO  # the operator's side is another module
    claim.operator_message = "Please add the invoice of May."
    add(db, claim, folder, amount_cents=25_00)
    # Answering stays possible after the voucher's end date: it was sent in time.
    later = claim.voucher.valid_until + timedelta(days=10)
    claims.submit(db, claim, claim.worker, later)
    assert claim.status is ClaimStatus.SUBMITTED
    assert claim.requested_cents == 60_00
    assert actions(db, claim)[-2:] == ["claim.receipt_add", "claim.resubmit"]


def test_the_database_allows_one_open_request_per_voucher(db, voucher):
    from sqlalchemy.exc import IntegrityError

    claims.open_claim(db, voucher.worker, voucher, TODAY)
    db.add(Claim(voucher=voucher, worker=voucher.worker, status=ClaimStatus.DRAFT))
    with pytest.raises(IntegrityError):
        db.flush()
    db.rollback()
