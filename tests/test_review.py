"""The operator's review of claims, called directly on ``voucher.services.review``.

Every claim here is built the way a worker builds it: a voucher reserved on its measure's
budget line, a draft opened, photographed receipts uploaded through the uploads service,
then sent. Money assertions read the committed state and check the ledger against the
line's balances.
"""

from __future__ import annotations

import io
import random
import threading
from datetime import date
from pathlib import Path

import pytest
from flask_babel import force_locale
from PIL import Image
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage

from tests import factories
from voucher.extensions import db as _db
from voucher.models import (
    AuditEvent,
    BudgetLine,
    Claim,
    ClaimStatus,
    LedgerEntry,
    LedgerKind,
    Notification,
    Receipt,
    ReceiptStatus,
    Role,
    User,
    Voucher,
    VoucherStatus,
)
from voucher.services import budget, claims, expiry, review, uploads
from voucher.services.errors import Conflict, IllegalTransition, ValidationFailed

TODAY = date(2026, 6, 15)
ISSUED = date(2026, 5, 20)
MAX_BYTES = 10 * 1024 * 1024


# --- helpers (also used by test_operator_claims) ----------------------------------------


def jpeg_bytes() -> bytes:
    """A small JPEG with bytes (hence a SHA-256) of its own."""
    rng = random.Random(factories.seq())
    image = Image.new("RGB", (60, 40), tuple(rng.randrange(256) for _ in range(3)))
    for _ in range(10):
        xy = (rng.randrange(60), rng.randrange(40))
        image.putpixel(xy, tuple(rng.randrange(256) for _ in range(3)))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def add_receipt(db: Session, claim: Claim, folder: Path, amount_cents: int, **details) -> Receipt:
    """Upload a photographed receipt to a draft claim, as the worker's view does."""
    upload = FileStorage(io.BytesIO(jpeg_bytes()), filename="scontrino.jpg")
    stored = uploads.store_upload(upload, str(folder), MAX_BYTES)
    values = {
        "supplier_name": "Asilo nido Il Girasole",
        "supplier_vat": factories.vat(4242),
        "document_number": f"FT {factories.seq()}/2026",
        "issued_on": ISSUED,
        "amount_cents": amount_cents,
    }
    values.update(details)
    return claims.add_receipt(db, claim, stored, folder=str(folder), today=TODAY, **values)


def submitted_claim(
    db: Session,
    folder: Path,
    amounts: tuple[int, ...] = (100_00, 50_00),
    voucher: Voucher | None = None,
    voucher_cents: int = 500_00,
    meas=None,
) -> Claim:
    """A sent claim with one receipt per amount (80% rate) on a new or given voucher."""
    voucher = voucher or factories.voucher(db, meas=meas, amount_cents=voucher_cents)
    claim = claims.open_claim(db, voucher.worker, voucher, TODAY)
    for amount in amounts:
        add_receipt(db, claim, folder, amount)
    claims.submit(db, claim, claim.worker, TODAY)
    assert claim.status is ClaimStatus.SUBMITTED
    return claim


def alliance_of(claim: Claim):
    return claim.voucher.measure.project.alliance


def operator_of(db: Session, claim: Claim) -> User:
    return factories.user(db, Role.OPERATOR, all_=alliance_of(claim))


def spend_entries(db: Session, claim: Claim) -> list[LedgerEntry]:
    return list(
        db.scalars(
            select(LedgerEntry).where(
                LedgerEntry.kind == LedgerKind.SPEND,
                LedgerEntry.reference_type == "claim",
                LedgerEntry.reference_id == claim.id,
            )
        )
    )


def balanced(db: Session, line_id: int) -> bool:
    line = db.get(BudgetLine, line_id)
    db.refresh(line)
    return budget.ledger_balances(db, line_id) == budget.line_balances(line)


def actions(db: Session, claim: Claim) -> list[str]:
    return list(
        db.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.entity_type == "claims", AuditEvent.entity_id == claim.id)
            .order_by(AuditEvent.id)
        )
    )


def reload(db: Session, model, object_id: int):
    """The committed row, not what the session remembers."""
    db.expire_all()
    return db.get(model, object_id)


@pytest.fixture
def folder(app, tmp_path) -> Path:
    path = tmp_path / "uploads"
    app.config["UPLOAD_FOLDER"] = str(path)
    return path


@pytest.fixture
def claim(db, folder) -> Claim:
    """A sent claim: receipts of EUR 100 and EUR 50 at 80%, so EUR 120 reimbursable."""
    sent = submitted_claim(db, folder)
    db.commit()
    return sent


@pytest.fixture
def operator(db, claim) -> User:
    user = operator_of(db, claim)
    db.commit()
    return user


# --- full and partial approval ----------------------------------------------------------


def test_full_approval_moves_the_amount_from_reserved_to_spent(db, claim, operator):
    line = claim.voucher.budget_line
    before = budget.line_balances(line)
    assert review.limits(claim).reimbursable_cents == 120_00

    review.approve(db, claim, operator, today=TODAY)
    db.commit()

    claim = reload(db, Claim, claim.id)
    assert claim.status is ClaimStatus.APPROVED
    assert claim.approved_cents == 120_00
    assert claim.decided_by_id == operator.id and claim.decided_at is not None
    assert claim.voucher.used_cents == 120_00
    assert claim.voucher.status is VoucherStatus.ACTIVE
    line = db.get(BudgetLine, line.id)
    assert line.reserved_cents == before.reserved_cents - 120_00
    assert line.spent_cents == before.spent_cents + 120_00
    assert line.allocated_cents == before.allocated_cents
    assert [e.amount_cents for e in spend_entries(db, claim)] == [120_00]
    assert spend_entries(db, claim)[0].actor_id == operator.id
    assert balanced(db, line.id)
    assert actions(db, claim)[-1] == "claim.approve"
    notes = db.scalars(select(Notification).where(Notification.user_id == claim.worker_id)).all()
    assert [n.link for n in notes] == [f"/worker/claims/{claim.id}"]


def test_a_fully_used_voucher_is_exhausted(db, folder):
    # EUR 200 of receipts at 80% is EUR 160, but the voucher only has EUR 100.
    claim = submitted_claim(db, folder, amounts=(200_00,), voucher_cents=100_00)
    operator = operator_of(db, claim)
    assert claim.requested_cents == 100_00

    review.approve(db, claim, operator, today=TODAY)
    db.commit()

    claim = reload(db, Claim, claim.id)
    assert claim.status is ClaimStatus.APPROVED
    assert claim.approved_cents == 100_00
    voucher = claim.voucher
    assert voucher.used_cents == voucher.amount_cents == 100_00
    assert voucher.status is VoucherStatus.EXHAUSTED
    assert voucher.budget_line.reserved_cents == 0
    assert balanced(db, voucher.budget_line_id)
    exhausted = db.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "voucher.exhaust", AuditEvent.entity_id == voucher.id
        )
    ).all()
    assert len(exhausted) == 1


def test_partial_approval_of_a_lower_amount_keeps_the_rest_reserved(db, claim, operator):
    line_id = claim.voucher.budget_line_id
    reserved = claim.voucher.budget_line.reserved_cents

    review.approve(db, claim, operator, 70_00, today=TODAY, note="Una ricevuta è illeggibile.")
    db.commit()

    claim = reload(db, Claim, claim.id)
    assert claim.status is ClaimStatus.PARTIALLY_APPROVED
    assert claim.approved_cents == 70_00
    assert claim.operator_message == "Una ricevuta è illeggibile."
    assert claim.voucher.used_cents == 70_00
    assert claim.voucher.remaining_cents == 430_00
    assert claim.voucher.status is VoucherStatus.ACTIVE
    line = db.get(BudgetLine, line_id)
    assert line.reserved_cents == reserved - 70_00
    assert line.spent_cents == 70_00
    assert balanced(db, line_id)


@pytest.mark.parametrize(
    ("amount", "field_message"),
    [
        (120_01, "rate"),  # above 80% of EUR 150
        (0, "zero"),
        (-5_00, "zero"),
    ],
)
def test_rule_3_refuses_more_than_the_rate_allows(db, claim, operator, amount, field_message):
    with pytest.raises(ValidationFailed) as refused:
        review.approve(db, claim, operator, amount, today=TODAY)
    assert "amount_cents" in refused.value.errors
    db.rollback()
    claim = reload(db, Claim, claim.id)
    assert claim.status is ClaimStatus.SUBMITTED
    assert claim.approved_cents is None
    assert claim.voucher.used_cents == 0
    assert spend_entries(db, claim) == []


def test_rule_3_refuses_more_than_the_voucher_has_left(db, folder):
    # The voucher (EUR 300) has EUR 250 left after an earlier request of EUR 50.
    voucher = factories.voucher(db, amount_cents=300_00)
    earlier = submitted_claim(db, folder, amounts=(62_50,), voucher=voucher)
    operator = operator_of(db, earlier)
    review.approve(db, earlier, operator, today=TODAY)
    assert voucher.used_cents == 50_00
    # Receipts of EUR 400 at 80% would give EUR 320: more than the voucher has.
    claim = submitted_claim(db, folder, amounts=(400_00,), voucher=voucher)
    db.commit()
    assert review.limits(claim).max_cents == 250_00

    with pytest.raises(ValidationFailed) as refused:
        review.approve(db, claim, operator, 250_01, today=TODAY)
    assert "amount_cents" in refused.value.errors
    db.rollback()
    assert reload(db, Claim, claim.id).status is ClaimStatus.SUBMITTED

    review.approve(db, claim, operator, 250_00, today=TODAY)
    db.commit()
    voucher = reload(db, Voucher, voucher.id)
    assert voucher.used_cents == 300_00
    assert voucher.status is VoucherStatus.EXHAUSTED
    assert balanced(db, voucher.budget_line_id)


def test_a_rejected_receipt_no_longer_counts_and_the_approval_is_partial(db, claim, operator):
    small = claim.receipts[1]
    with pytest.raises(ValidationFailed) as refused:
        review.reject_receipt(db, small, operator, "  ")
    assert "reason" in refused.value.errors

    review.reject_receipt(db, small, operator, "Ricevuta di un altro servizio")
    review.accept_receipt(db, claim.receipts[0], operator)
    db.commit()
    assert small.status is ReceiptStatus.REJECTED
    assert small.rejection_reason == "Ricevuta di un altro servizio"
    assert claim.receipts[0].status is ReceiptStatus.ACCEPTED
    bounds = review.limits(claim)
    assert (bounds.eligible_cents, bounds.rate_cents, bounds.max_cents) == (100_00, 80_00, 80_00)

    with pytest.raises(ValidationFailed):
        review.approve(db, claim, operator, 80_01, today=TODAY)
    db.rollback()

    review.approve(db, claim, operator, today=TODAY)
    db.commit()
    claim = reload(db, Claim, claim.id)
    # The whole reimbursable amount, but a receipt was set aside: partly approved.
    assert claim.status is ClaimStatus.PARTIALLY_APPROVED
    assert claim.approved_cents == 80_00
    assert [e.amount_cents for e in spend_entries(db, claim)] == [80_00]
    assert actions(db, claim)[-3:] == [
        "claim.receipt_reject",
        "claim.receipt_accept",
        "claim.approve",
    ]


def test_receipt_decisions_only_while_the_claim_is_under_review(db, claim, operator):
    review.reject(db, claim, operator, "Spesa non ammessa")
    db.commit()
    with pytest.raises(Conflict):
        review.accept_receipt(db, claim.receipts[0], operator)
    with pytest.raises(Conflict):
        review.reject_receipt(db, claim.receipts[0], operator, "no")
    db.rollback()
    assert reload(db, Receipt, claim.receipts[0].id).status is ReceiptStatus.PENDING


# --- needs info, rejection --------------------------------------------------------------


def test_ask_info_sends_the_claim_back_and_the_worker_resubmits_it(db, folder, claim, operator):
    with pytest.raises(ValidationFailed) as refused:
        review.ask_info(db, claim, operator, "")
    assert "message" in refused.value.errors

    review.ask_info(db, claim, operator, "Manca la ricevuta di maggio.")
    db.commit()
    claim = reload(db, Claim, claim.id)
    assert claim.status is ClaimStatus.NEEDS_INFO
    assert claim.operator_message == "Manca la ricevuta di maggio."
    assert claim.decided_at is None and claim.approved_cents is None
    assert db.scalar(
        select(func.count())
        .select_from(Notification)
        .where(Notification.user_id == claim.worker_id)
    )
    with pytest.raises(Conflict):
        review.approve(db, claim, operator, today=TODAY)

    add_receipt(db, claim, folder, 25_00)
    claims.submit(db, claim, claim.worker, TODAY)
    db.commit()
    claim = reload(db, Claim, claim.id)
    assert claim.status is ClaimStatus.SUBMITTED
    assert claim.requested_cents == 140_00
    assert actions(db, claim)[-3:] == ["claim.ask_info", "claim.receipt_add", "claim.resubmit"]
    review.approve(db, claim, operator, today=TODAY)
    db.commit()
    assert reload(db, Claim, claim.id).approved_cents == 140_00


def test_ask_info_is_refused_while_another_request_on_the_voucher_is_a_draft(db, claim, operator):
    other = claims.open_claim(db, claim.worker, claim.voucher, TODAY)
    assert other.id != claim.id
    with pytest.raises(IllegalTransition):
        review.ask_info(db, claim, operator, "Manca un documento")
    db.rollback()
    assert reload(db, Claim, claim.id).status is ClaimStatus.SUBMITTED


def test_reject_needs_a_reason_and_spends_nothing(db, claim, operator):
    line_id = claim.voucher.budget_line_id
    before = budget.line_balances(claim.voucher.budget_line)
    with pytest.raises(ValidationFailed) as refused:
        review.reject(db, claim, operator, " ")
    assert "reason" in refused.value.errors
    with pytest.raises(ValidationFailed):
        review.reject(db, claim, operator, "x" * 501)

    review.reject(db, claim, operator, "Spese fuori dal periodo del progetto")
    db.commit()
    claim = reload(db, Claim, claim.id)
    assert claim.status is ClaimStatus.REJECTED
    assert claim.operator_message == "Spese fuori dal periodo del progetto"
    assert claim.decided_by_id == operator.id
    assert claim.voucher.used_cents == 0
    assert spend_entries(db, claim) == []
    assert budget.line_balances(db.get(BudgetLine, line_id)) == before
    event = db.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "claim.reject", AuditEvent.entity_id == claim.id
        )
    ).one()
    assert (event.actor_id, event.actor_role, event.reason) == (
        operator.id,
        "operator",
        "Spese fuori dal periodo del progetto",
    )


# --- one decision only ------------------------------------------------------------------


def test_a_second_decision_is_a_conflict_and_spends_nothing_more(db, claim, operator):
    other = operator_of(db, claim)
    review.approve(db, claim, operator, today=TODAY)
    db.commit()

    for decide in (
        lambda: review.approve(db, claim, other, today=TODAY),
        lambda: review.approve(db, claim, operator, 10_00, today=TODAY),
        lambda: review.reject(db, claim, other, "Ci ho ripensato"),
        lambda: review.ask_info(db, claim, other, "Altro?"),
    ):
        with pytest.raises(Conflict):
            decide()
        db.rollback()

    claim = reload(db, Claim, claim.id)
    assert claim.status is ClaimStatus.APPROVED
    assert len(spend_entries(db, claim)) == 1
    assert claim.voucher.used_cents == 120_00
    assert balanced(db, claim.voucher.budget_line_id)


def test_a_stale_copy_of_the_claim_loses_to_the_committed_decision(app, db, claim, operator):
    """The compare-and-set, not the status the session remembers, decides who wins."""
    other = operator_of(db, claim)
    db.commit()
    with Session(_db.engine) as session:
        stale = session.get(Claim, claim.id)
        stale_operator = session.get(User, other.id)
        assert stale.status is ClaimStatus.SUBMITTED and stale.receipts
        review.reject(db, claim, operator, "Non ammessa")
        db.commit()
        with pytest.raises(Conflict):
            review.approve(session, stale, stale_operator, today=TODAY)
        session.rollback()
    claim = reload(db, Claim, claim.id)
    assert claim.status is ClaimStatus.REJECTED
    assert spend_entries(db, claim) == []


def test_two_operators_deciding_at_once_one_wins(app, db, claim, operator):
    other = operator_of(db, claim)
    db.commit()
    barrier = threading.Barrier(2)
    outcomes: list[object] = [None, None]

    def run(index: int, operator_id: int) -> None:
        with app.app_context(), Session(_db.engine) as session:
            try:
                mine = session.get(Claim, claim.id)
                actor = session.get(User, operator_id)
                # Load what the decision reads, so the threads race on the writes only.
                assert mine.voucher.measure.project.alliance_id == actor.alliance_id
                assert mine.receipts and mine.worker.email
                review.limits(mine)
                barrier.wait(30)
                review.approve(session, mine, actor, today=TODAY)
                session.commit()
                outcomes[index] = "approved"
            except Conflict:
                session.rollback()
                outcomes[index] = "conflict"
            except BaseException as exc:
                session.rollback()
                barrier.abort()
                outcomes[index] = exc

    threads = [
        threading.Thread(target=run, args=(i, op.id)) for i, op in enumerate((operator, other))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(map(str, outcomes)) == ["approved", "conflict"], outcomes
    claim = reload(db, Claim, claim.id)
    assert claim.status is ClaimStatus.APPROVED
    assert len(spend_entries(db, claim)) == 1
    assert claim.voucher.used_cents == 120_00
    assert balanced(db, claim.voucher.budget_line_id)
    assert actions(db, claim).count("claim.approve") == 1


# --- who may decide ---------------------------------------------------------------------


def test_only_an_operator_of_the_alliance_decides(db, claim):
    strangers = [
        factories.user(db, Role.OPERATOR),
        factories.user(db, Role.NETWORK, net=alliance_of(claim).network),
        factories.user(db, Role.ADMIN),
        claim.worker,
    ]
    for stranger in strangers:
        with pytest.raises(IllegalTransition):
            review.approve(db, claim, stranger, today=TODAY)
        with pytest.raises(IllegalTransition):
            review.reject(db, claim, stranger, "no")
        with pytest.raises(IllegalTransition):
            review.reject_receipt(db, claim.receipts[0], stranger, "no")
    db.rollback()
    assert reload(db, Claim, claim.id).status is ClaimStatus.SUBMITTED


def test_a_draft_cannot_be_decided(db, folder):
    voucher = factories.voucher(db)
    draft = claims.open_claim(db, voucher.worker, voucher, TODAY)
    add_receipt(db, draft, folder, 10_00)
    operator = operator_of(db, draft)
    with pytest.raises(IllegalTransition):
        review.approve(db, draft, operator, today=TODAY)
    with pytest.raises(IllegalTransition):
        review.reject(db, draft, operator, "no")


# --- four eyes --------------------------------------------------------------------------


def test_four_eyes_needs_a_second_operator_above_the_threshold(db, claim, operator):
    claim.voucher.measure.four_eyes_threshold_cents = 100_00
    second = operator_of(db, claim)
    line_id = claim.voucher.budget_line_id
    before = budget.line_balances(claim.voucher.budget_line)
    db.commit()

    review.approve(db, claim, operator, 110_00, today=TODAY)
    db.commit()
    claim = reload(db, Claim, claim.id)
    assert claim.status is ClaimStatus.SUBMITTED
    assert review.needs_second_review(claim)
    assert (claim.first_review_by_id, claim.first_review_cents) == (operator.id, 110_00)
    assert claim.first_review_at is not None
    assert claim.approved_cents is None and claim.voucher.used_cents == 0
    assert spend_entries(db, claim) == []
    assert budget.line_balances(db.get(BudgetLine, line_id)) == before
    assert actions(db, claim)[-1] == "claim.first_review"

    # The same operator again: refused, whatever the amount.
    for amount in (None, 110_00, 50_00):
        with pytest.raises(IllegalTransition) as refused:
            review.approve(db, claim, operator, amount, today=TODAY)
        with force_locale("en"):
            assert "a different operator" in str(refused.value.message)
        db.rollback()
    # The second operator cannot raise the amount.
    with pytest.raises(ValidationFailed) as refused:
        review.approve(db, claim, second, 120_00, today=TODAY)
    assert "amount_cents" in refused.value.errors
    db.rollback()

    review.approve(db, claim, second, today=TODAY)
    db.commit()
    claim = reload(db, Claim, claim.id)
    assert claim.status is ClaimStatus.PARTIALLY_APPROVED
    assert claim.approved_cents == 110_00
    assert claim.decided_by_id == second.id
    assert claim.first_review_by_id == operator.id
    assert [e.amount_cents for e in spend_entries(db, claim)] == [110_00]
    assert balanced(db, line_id)
    approve_event = db.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "claim.approve", AuditEvent.entity_id == claim.id
        )
    ).one()
    assert approve_event.details["first_review_by_id"] == operator.id


def test_four_eyes_second_operator_may_confirm_a_lower_amount(db, claim, operator):
    claim.voucher.measure.four_eyes_threshold_cents = 100_00
    second = operator_of(db, claim)
    review.approve(db, claim, operator, today=TODAY)
    assert claim.first_review_cents == 120_00
    review.approve(db, claim, second, 105_00, today=TODAY)
    db.commit()
    claim = reload(db, Claim, claim.id)
    assert (claim.status, claim.approved_cents) == (ClaimStatus.PARTIALLY_APPROVED, 105_00)


def test_four_eyes_does_not_apply_at_or_below_the_threshold(db, claim, operator):
    claim.voucher.measure.four_eyes_threshold_cents = 120_00
    review.approve(db, claim, operator, today=TODAY)
    db.commit()
    claim = reload(db, Claim, claim.id)
    assert claim.status is ClaimStatus.APPROVED
    assert claim.first_review_by_id is None


def test_setting_a_receipt_aside_cancels_a_first_approval(db, claim, operator):
    claim.voucher.measure.four_eyes_threshold_cents = 50_00
    second = operator_of(db, claim)
    review.approve(db, claim, operator, today=TODAY)
    assert review.needs_second_review(claim)
    review.reject_receipt(db, claim.receipts[1], second, "Doppia")
    db.commit()
    claim = reload(db, Claim, claim.id)
    assert not review.needs_second_review(claim)
    assert claim.first_review_by_id is None and claim.first_review_cents is None
    # Both approvals again, on the receipts as they are now.
    review.approve(db, claim, operator, today=TODAY)
    review.approve(db, claim, second, today=TODAY)
    db.commit()
    assert reload(db, Claim, claim.id).approved_cents == 80_00


# --- flags ------------------------------------------------------------------------------


def test_no_flags_on_a_clean_claim(db, claim):
    assert review.flags(db, claim) == []


def test_flags_duplicates_anywhere_in_the_programme(db, folder, claim):
    # Another alliance's project under the same programme.
    programme = claim.voucher.measure.project.programme
    elsewhere = factories.measure(db, factories.project(db, prog=programme))
    other = submitted_claim(db, folder, amounts=(30_00, 40_00), meas=elsewhere)
    same_file, same_details = other.receipts
    first, second = claim.receipts
    # What the upload checks would have refused, had the two arrived at the same moment.
    db.execute(update(Receipt).where(Receipt.id == same_file.id).values(sha256=first.sha256))
    db.execute(
        update(Receipt)
        .where(Receipt.id == same_details.id)
        .values(
            supplier_vat=second.supplier_vat,
            document_number=second.document_number.lower().replace(" ", ""),
            issued_on=second.issued_on,
            amount_cents=second.amount_cents,
        )
    )
    db.commit()
    db.expire_all()

    found = {(f.receipt_id, f.kind) for f in review.flags(db, claim)}
    assert found == {(first.id, "duplicate_file"), (second.id, "duplicate_details")}
    assert {(f.receipt_id, f.kind) for f in review.flags(db, other)} == {
        (same_file.id, "duplicate_file"),
        (same_details.id, "duplicate_details"),
    }

    # A receipt set aside, or one of a rejected request, is not a live duplicate.
    operator = operator_of(db, other)
    review.reject_receipt(db, same_file, operator, "Doppione")
    review.reject(db, other, operator, "Doppione")
    db.commit()
    assert review.flags(db, claim) == []


def test_flags_receipts_outside_the_voucher_period_and_above_what_is_left(db, folder):
    claim = submitted_claim(db, folder, amounts=(150_00, 20_00), voucher_cents=100_00)
    # The voucher's period as an operator may have shortened it: the first receipt is older.
    claim.voucher.valid_from = date(2026, 5, 25)
    db.execute(
        update(Receipt).where(Receipt.id == claim.receipts[1].id).values(issued_on=date(2026, 6, 1))
    )
    db.commit()
    db.expire_all()
    found = {(f.receipt_id, f.kind) for f in review.flags(db, claim)}
    assert found == {
        (claim.receipts[0].id, "outside_validity"),
        (claim.receipts[0].id, "above_remaining"),
    }


# --- vouchers that ended ----------------------------------------------------------------


def test_a_request_sent_in_time_is_approved_after_the_voucher_expired(db, folder, claim, operator):
    voucher = claim.voucher
    line_id = voucher.budget_line_id
    result = expiry.expire_vouchers(db, today=date(2028, 1, 1))
    db.commit()
    assert result.expired == 1
    voucher = reload(db, Voucher, voucher.id)
    assert voucher.status is VoucherStatus.EXPIRED
    # Only what the request asks for stays reserved.
    assert db.get(BudgetLine, line_id).reserved_cents == 120_00
    claim = db.get(Claim, claim.id)
    assert review.limits(claim).max_cents == 120_00

    with pytest.raises(ValidationFailed):
        review.approve(db, claim, operator, 120_01, today=date(2028, 1, 2))
    db.rollback()
    review.approve(db, claim, operator, 100_00, today=date(2028, 1, 2))
    db.commit()

    line = reload(db, BudgetLine, line_id)
    assert (line.reserved_cents, line.spent_cents) == (0, 100_00)
    assert reload(db, Voucher, voucher.id).status is VoucherStatus.EXPIRED
    assert balanced(db, line_id)
