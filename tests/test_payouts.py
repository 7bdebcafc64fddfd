"""Payouts called directly on ``voucher.services.payouts``: building, files, execution.

Claims are built as workers build them and approved through the review service; money
assertions read committed rows and compare the ledger with the line's balances.
"""

from __future__ import annotations

import io
import threading
from datetime import date
from xml.etree import ElementTree

import pytest
from openpyxl import load_workbook
from sepaxml.validation import try_valid_xml
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tests import factories
from tests.test_review import TODAY, balanced, operator_of, reload, submitted_claim
from voucher.extensions import db as _db
from voucher.models import (
    AuditEvent,
    Claim,
    ClaimStatus,
    LedgerEntry,
    LedgerKind,
    Notification,
    Payout,
    PayoutLine,
    PayoutLineStatus,
    PayoutStatus,
    Project,
    Role,
    User,
)
from voucher.services import payout_files, payouts, review
from voucher.services.errors import Conflict, IllegalTransition, ValidationFailed

DEBTOR_IBAN = "IT60X0542811101000000123456"
WORKER_IBAN = "IT67P0306909606000000012345"
EXECUTION = date(2026, 6, 20)
NS = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"}


@pytest.fixture(autouse=True)
def folder(app, tmp_path):
    path = tmp_path / "uploads"
    app.config["UPLOAD_FOLDER"] = str(path)
    return path


def approved_claim(db: Session, folder, meas=None, iban: str | None = WORKER_IBAN) -> Claim:
    """A claim of EUR 120 approved in full (receipts of 100 + 50 at 80%)."""
    meas = meas or factories.measure(db, allocated_cents=10_000_00)
    claim = submitted_claim(db, folder, meas=meas)
    claim.worker.iban = iban
    review.approve(db, claim, operator_of(db, claim), today=TODAY)
    return claim


@pytest.fixture
def setup(db, folder):
    """Two approved claims of one project whose capofila has a bank account."""
    first = approved_claim(db, folder)
    meas = first.voucher.measure
    second = approved_claim(db, folder, meas=meas)
    project = meas.project
    project.alliance.lead.iban = DEBTOR_IBAN
    project.alliance.lead.bic = "BPMOIT22XXX"
    operator = factories.user(db, Role.OPERATOR, all_=project.alliance)
    db.commit()
    return project, operator, [first, second]


def build(db, project, operator, claims_) -> Payout:
    payout = payouts.create(db, project, operator, [c.id for c in claims_], EXECUTION, TODAY)
    db.commit()
    return payout


def pay_entries(db, claim: Claim) -> list[int]:
    return list(
        db.scalars(
            select(LedgerEntry.amount_cents).where(
                LedgerEntry.kind == LedgerKind.PAY,
                LedgerEntry.reference_type == "claim",
                LedgerEntry.reference_id == claim.id,
            )
        )
    )


# --- candidates and building ------------------------------------------------------------


def test_candidates_are_the_projects_approved_unpaid_claims_with_iban_checks(db, folder, setup):
    project, _operator, (first, second) = setup
    no_iban = approved_claim(db, folder, meas=first.voucher.measure, iban=None)
    bad_iban = approved_claim(db, folder, meas=first.voucher.measure, iban="IT00X123")
    elsewhere = approved_claim(db, folder)  # another project
    waiting = submitted_claim(db, folder, meas=first.voucher.measure)  # not decided yet
    db.commit()

    found = {c.claim.id: c for c in payouts.candidates(db, project)}
    assert set(found) == {first.id, second.id, no_iban.id, bad_iban.id}
    assert elsewhere.id not in found and waiting.id not in found
    assert found[first.id].payable and found[first.id].amount_cents == 120_00
    assert found[first.id].iban == WORKER_IBAN
    assert not found[no_iban.id].payable and "IBAN" in str(found[no_iban.id].problem)
    assert not found[bad_iban.id].payable


def test_create_puts_the_claims_in_an_open_payout_once(db, setup):
    project, operator, claims_ = setup
    payout = build(db, project, operator, claims_)

    assert payout.status is PayoutStatus.OPEN
    assert payout.reference == f"CV-{project.id}-{payout.id:08d}"
    assert payout.debtor_iban == DEBTOR_IBAN and payout.debtor_bic == "BPMOIT22XXX"
    assert payouts.total_cents(payout) == 240_00
    assert [line.claim_id for line in payout.lines] == [c.id for c in claims_]
    assert all(line.status is PayoutLineStatus.PENDING for line in payout.lines)
    # In an open payout, a claim is no longer a candidate, and cannot go in another one.
    assert payouts.candidates(db, project) == []
    with pytest.raises(Conflict):
        payouts.create(db, project, operator, [claims_[0].id], EXECUTION, TODAY)
    db.rollback()
    # Building pays nothing yet.
    assert all(reload(db, Claim, c.id).status is ClaimStatus.APPROVED for c in claims_)
    assert pay_entries(db, claims_[0]) == []
    assert db.scalar(select(AuditEvent.action).where(AuditEvent.entity_type == "payouts")) == (
        "payout.create"
    )


def test_create_refuses_what_cannot_be_paid(db, folder, setup):
    project, operator, (first, _second) = setup
    no_iban = approved_claim(db, folder, meas=first.voucher.measure, iban=None)
    db.commit()
    with pytest.raises(ValidationFailed) as refused:
        payouts.create(db, project, operator, [first.id, no_iban.id], EXECUTION, TODAY)
    assert "claims" in refused.value.errors
    with pytest.raises(ValidationFailed):
        payouts.create(db, project, operator, [], EXECUTION, TODAY)
    with pytest.raises(ValidationFailed) as past:
        payouts.create(db, project, operator, [first.id], date(2026, 6, 1), TODAY)
    assert "execution_date" in past.value.errors
    project.alliance.lead.iban = None
    with pytest.raises(ValidationFailed) as no_debtor:
        payouts.create(db, project, operator, [first.id], EXECUTION, TODAY)
    assert "capofila" in str(no_debtor.value)
    db.rollback()
    assert db.scalar(select(func.count(Payout.id))) == 0


def test_only_an_operator_of_the_alliance_builds_payouts(db, setup):
    project, _operator, claims_ = setup
    strangers = [
        factories.user(db, Role.OPERATOR),
        factories.user(db, Role.NETWORK, net=project.alliance.network),
        factories.user(db, Role.ADMIN),
        claims_[0].worker,
    ]
    for stranger in strangers:
        with pytest.raises(IllegalTransition):
            payouts.create(db, project, stranger, [claims_[0].id], EXECUTION, TODAY)


# --- files ------------------------------------------------------------------------------


def test_sepa_file_is_valid_pain_001_and_the_same_bytes_every_time(app, db, setup):
    project, operator, claims_ = setup
    payout = build(db, project, operator, claims_)

    first = payout_files.sepa_xml(payout)
    try_valid_xml(first, "pain.001.001.03")  # raises if the XSD disagrees
    tree = ElementTree.fromstring(first)  # noqa: S314 - the file we just generated
    assert tree.findtext(".//p:GrpHdr/p:MsgId", namespaces=NS) == payout.reference
    assert tree.findtext(".//p:GrpHdr/p:NbOfTxs", namespaces=NS) == "2"
    assert tree.findtext(".//p:GrpHdr/p:CtrlSum", namespaces=NS) == "240.00"
    assert tree.findtext(".//p:DbtrAcct/p:Id/p:IBAN", namespaces=NS) == DEBTOR_IBAN
    assert tree.findtext(".//p:ReqdExctnDt", namespaces=NS) == "2026-06-20"
    ids = [n.text for n in tree.findall(".//p:EndToEndId", NS)]
    assert ids == [line.end_to_end_id for line in payout.lines]
    amounts = [n.text for n in tree.findall(".//p:InstdAmt", NS)]
    assert amounts == ["120.00", "120.00"]

    # Regenerated later, from a fresh session: byte for byte the same.
    with app.app_context(), Session(_db.engine) as other:
        again = payout_files.sepa_xml(other.get(Payout, payout.id))
    assert again == first
    assert payout_files.payment_list_xlsx(payout) == payout_files.payment_list_xlsx(payout)


def test_sepa_file_without_debtor_bic_is_still_valid(db, setup):
    project, operator, claims_ = setup
    project.alliance.lead.bic = None
    payout = build(db, project, operator, claims_)
    try_valid_xml(payout_files.sepa_xml(payout), "pain.001.001.03")


def test_payment_list_has_one_row_per_transfer_and_the_total(db, setup):
    project, operator, claims_ = setup
    payout = build(db, project, operator, claims_)
    sheet = load_workbook(io.BytesIO(payout_files.payment_list_xlsx(payout))).active
    rows = [r for r in sheet.iter_rows(values_only=True) if any(v is not None for v in r)]
    assert rows[0][1] == payout.reference
    transfers = [r for r in rows if isinstance(r[0], int)]
    assert [r[2] for r in transfers] == [c.id for c in claims_]
    assert [float(r[5]) for r in transfers] == [120.0, 120.0]
    assert all(r[4] == WORKER_IBAN for r in transfers)
    assert float(rows[-1][5]) == 240.0


# --- execution --------------------------------------------------------------------------


def test_execute_pays_every_claim_once_with_ledger_entries_and_notices(db, setup):
    project, operator, claims_ = setup
    payout = build(db, project, operator, claims_)
    xml_before = payout_files.sepa_xml(payout)

    payouts.execute(db, payout, operator, date(2026, 6, 15), "CRO 1234567890", today=TODAY)
    db.commit()

    payout = reload(db, Payout, payout.id)
    assert payout.status is PayoutStatus.EXECUTED and payout.bank_reference == "CRO 1234567890"
    for claim in claims_:
        claim = db.get(Claim, claim.id)
        assert claim.status is ClaimStatus.PAID and claim.paid_at is not None
        assert pay_entries(db, claim) == [120_00]
        notice = db.scalars(
            select(Notification).where(Notification.user_id == claim.worker_id)
        ).all()[-1]
        assert "120,00" in notice.body and "2345" in notice.body
    line = claims_[0].voucher.budget_line
    db.refresh(line)
    assert line.paid_cents == 240_00
    assert balanced(db, line.id)
    # The file of an executed payout is still the one that was sent.
    assert payout_files.sepa_xml(payout) == xml_before
    # Retried: refused, nothing paid twice.
    with pytest.raises(IllegalTransition):
        payouts.execute(db, payout, operator, date(2026, 6, 15), "CRO again", today=TODAY)
    db.rollback()
    assert pay_entries(db, claims_[0]) == [120_00]


def test_a_failed_transfer_leaves_the_claim_approved_for_the_next_payout(db, setup):
    project, operator, (first, second) = setup
    payout = build(db, project, operator, [first, second])
    failed_line = payout.lines[1]

    payouts.execute(
        db, payout, operator, TODAY, "CRO 1", {failed_line.id: "IBAN estinto"}, today=TODAY
    )
    db.commit()

    assert reload(db, Claim, first.id).status is ClaimStatus.PAID
    second = db.get(Claim, second.id)
    assert second.status is ClaimStatus.APPROVED
    assert pay_entries(db, second) == []
    line = db.get(PayoutLine, failed_line.id)
    assert line.status is PayoutLineStatus.FAILED and line.failure_reason == "IBAN estinto"
    assert payouts.last_failure(db, second).id == line.id
    assert [c.claim.id for c in payouts.candidates(db, project)] == [second.id]
    notice = db.scalars(select(Notification).where(Notification.user_id == second.worker_id)).all()[
        -1
    ]
    assert "IBAN estinto" in notice.body
    assert balanced(db, second.voucher.budget_line_id)

    # The next batch pays it.
    retry = build(db, project, operator, [second])
    payouts.execute(db, retry, operator, TODAY, "CRO 2", today=TODAY)
    db.commit()
    assert reload(db, Claim, second.id).status is ClaimStatus.PAID
    assert pay_entries(db, second) == [120_00]
    assert payouts.last_failure(db, second) is None


def test_a_returned_transfer_is_reversed_in_the_ledger(db, setup):
    project, operator, (first, second) = setup
    payout = build(db, project, operator, [first, second])
    payouts.execute(db, payout, operator, TODAY, "CRO 1", today=TODAY)
    db.commit()
    line = payout.lines[0]

    payouts.fail_line(db, line, operator, "Conto chiuso")
    db.commit()

    claim = reload(db, Claim, first.id)
    assert claim.status is ClaimStatus.APPROVED and claim.paid_at is None
    assert pay_entries(db, claim) == [120_00, -120_00]
    budget_line = claim.voucher.budget_line
    assert budget_line.paid_cents == 120_00
    assert balanced(db, budget_line.id)
    with pytest.raises(IllegalTransition):
        payouts.fail_line(db, db.get(PayoutLine, line.id), operator, "again")


def test_partial_decisions_come_back_as_they_were(db, folder, setup):
    project, operator, (first, _second) = setup
    partial = submitted_claim(db, folder, meas=first.voucher.measure)  # 8 vouchers fit
    partial.worker.iban = WORKER_IBAN
    review.approve(db, partial, operator_of(db, partial), amount_cents=50_00, today=TODAY)
    db.commit()
    assert partial.status is ClaimStatus.PARTIALLY_APPROVED
    payout = build(db, project, operator, [partial])
    payouts.execute(db, payout, operator, TODAY, "CRO 1", today=TODAY)
    payouts.fail_line(db, payout.lines[0], operator, "Rifiutato")
    db.commit()
    assert reload(db, Claim, partial.id).status is ClaimStatus.PARTIALLY_APPROVED


def test_cancel_and_remove_give_the_claims_back(db, setup):
    project, operator, (first, second) = setup
    payout = build(db, project, operator, [first, second])
    payouts.remove_line(db, payout, payout.lines[0], operator)
    db.commit()
    assert [c.claim.id for c in payouts.candidates(db, project)] == [first.id]
    assert [line.claim_id for line in payouts.in_file(payout)] == [second.id]
    with pytest.raises(IllegalTransition):
        payouts.remove_line(db, payout, payout.lines[1], operator)  # the last one

    with pytest.raises(ValidationFailed):
        payouts.cancel(db, payout, operator, " ")
    payouts.cancel(db, payout, operator, "Data sbagliata")
    db.commit()
    payout = reload(db, Payout, payout.id)
    assert payout.status is PayoutStatus.CANCELLED
    assert {c.claim.id for c in payouts.candidates(db, project)} == {first.id, second.id}
    with pytest.raises(IllegalTransition):
        payouts.execute(db, payout, operator, TODAY, "CRO", today=TODAY)


def test_execute_validates_its_input(db, setup):
    project, operator, claims_ = setup
    payout = build(db, project, operator, claims_)
    with pytest.raises(ValidationFailed) as refused:
        payouts.execute(db, payout, operator, date(2026, 7, 1), "", {999: ""}, today=TODAY)
    assert set(refused.value.errors) == {"bank_reference", "executed_on", "failures"}
    assert reload(db, Payout, payout.id).status is PayoutStatus.OPEN


# --- rule 4 under retries and races -----------------------------------------------------


def test_the_database_refuses_a_second_payment_of_a_claim(db, setup):
    project, operator, claims_ = setup
    payout = build(db, project, operator, claims_)
    payouts.execute(db, payout, operator, TODAY, "CRO 1", today=TODAY)
    db.commit()
    paid = payout.lines[0]
    other = Payout(
        project_id=project.id,
        reference="CV-test-duplicate",
        requested_execution_date=TODAY,
        debtor_name="x",
        debtor_iban=DEBTOR_IBAN,
        created_by_id=operator.id,
        bank_reference="",
    )
    db.add(other)
    db.flush()
    db.add(
        PayoutLine(
            payout_id=other.id,
            claim_id=paid.claim_id,
            budget_line_id=paid.budget_line_id,
            amount_cents=paid.amount_cents,
            creditor_name="x",
            creditor_iban=WORKER_IBAN,
            end_to_end_id="CV-test-dup-line",
            status=PayoutLineStatus.PAID,
            claim_decision=ClaimStatus.APPROVED,
            failure_reason="",
        )
    )
    with pytest.raises(IntegrityError):
        db.flush()
    db.rollback()


def _race(app, count: int, work) -> list[object]:
    """Run ``work(session, index)`` in ``count`` threads released together."""
    barrier = threading.Barrier(count)
    outcomes: list[object] = [None] * count

    def run(index: int) -> None:
        with app.app_context(), Session(_db.engine) as session:
            try:
                prepare = work(session, index)
                barrier.wait(30)
                prepare()
                session.commit()
                outcomes[index] = "done"
            except (Conflict, IllegalTransition):
                session.rollback()
                outcomes[index] = "refused"
            except BaseException as exc:
                session.rollback()
                barrier.abort()
                outcomes[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return outcomes


def test_concurrent_executions_pay_each_claim_once(app, db, setup):
    project, operator, claims_ = setup
    payout = build(db, project, operator, claims_)
    # Read ids here: the threads must not touch this test's session.
    payout_id, operator_id = payout.id, operator.id

    def work(session, index):
        mine = session.get(Payout, payout_id)
        actor = session.get(User, operator_id)
        # Load what execution reads, so the threads race on the writes only.
        assert mine.project.alliance_id == actor.alliance_id
        for line in mine.lines:
            assert line.claim.worker.email
        return lambda: payouts.execute(session, mine, actor, TODAY, f"CRO {index}", today=TODAY)

    outcomes = _race(app, 4, work)
    assert sorted(map(str, outcomes)) == ["done", "refused", "refused", "refused"], outcomes
    for claim in claims_:
        assert pay_entries(db, claim) == [120_00]
        assert reload(db, Claim, claim.id).status is ClaimStatus.PAID
    assert balanced(db, claims_[0].voucher.budget_line_id)
    executed = db.scalar(
        select(func.count(AuditEvent.id)).where(AuditEvent.action == "payout.execute")
    )
    assert executed == 1


def test_concurrent_payouts_of_the_same_claim_build_one(app, db, setup):
    project, operator, claims_ = setup
    ids = [c.id for c in claims_]
    project_id, operator_id = project.id, operator.id

    def work(session, _index):
        mine = session.get(Project, project_id)
        actor = session.get(User, operator_id)
        payouts.candidates(session, mine)
        return lambda: payouts.create(session, mine, actor, ids, EXECUTION, TODAY)

    outcomes = _race(app, 3, work)
    assert sorted(map(str, outcomes)) == ["done", "refused", "refused"], outcomes
    assert db.scalar(select(func.count(Payout.id))) == 1
    assert db.scalar(select(func.count(PayoutLine.id))) == 2
