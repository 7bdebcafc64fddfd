"""Payouts (liquidazioni): approved claims of a project paid by one SEPA credit-transfer batch.

open -> executed | cancelled. While open, lines can be removed and the files regenerated
(always the same bytes). Executing marks each line paid (claim paid, ledger ``pay``,
worker told) or failed (the claim stays approved, with the bank's reason, for the next
batch). A paid line the bank later returns goes back the same way.

Rule 4 (a claim is paid at most once) holds three times over: the claim moves to paid
by compare-and-set, the payout moves to executed by compare-and-set, and two partial
unique indexes allow one pending and one paid line per claim.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask_babel import format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from voucher.i18n import format_money
from voucher.models import (
    Alliance,
    Claim,
    ClaimStatus,
    Measure,
    Payout,
    PayoutLine,
    PayoutLineStatus,
    PayoutStatus,
    Project,
    Role,
    User,
    Voucher,
)
from voucher.models.base import utcnow
from voucher.services import audit, budget, identifiers
from voucher.services.errors import Conflict, IllegalTransition, ValidationFailed
from voucher.services.notifications import notify
from voucher.services.review import status_link
from voucher.services.transitions import compare_and_set

PAYABLE = (ClaimStatus.APPROVED, ClaimStatus.PARTIALLY_APPROVED)
# A line that was (or is about to be) in the file sent to the bank.
IN_FILE = (PayoutLineStatus.PENDING, PayoutLineStatus.PAID, PayoutLineStatus.FAILED)
MAX_REASON = 500
MAX_BANK_REFERENCE = 100
# SEPA allows 70 characters for a name; the file is Latin-only (sepaxml transliterates).
MAX_NAME = 70


@dataclass(frozen=True)
class Candidate:
    """An approved, unpaid claim of the project, and why it cannot be paid yet (if so)."""

    claim: Claim
    amount_cents: int
    creditor_name: str
    iban: str | None
    problem: Any | None

    @property
    def payable(self) -> bool:
        return self.problem is None


@dataclass(frozen=True)
class Debtor:
    name: str
    iban: str | None
    bic: str | None
    problem: Any | None


# --- reading ----------------------------------------------------------------------------


def debtor(project: Project) -> Debtor:
    """The account the transfers leave from: the capofila's, from the alliance settings."""
    lead = project.alliance.lead
    name = lead.name[:MAX_NAME]
    if not lead.iban:
        return Debtor(
            name,
            None,
            None,
            _l(
                "The capofila's bank account is not set: enter its IBAN in the alliance's "
                "bank settings first."
            ),
        )
    try:
        iban = identifiers.iban(lead.iban)
        bic = identifiers.bic(lead.bic) if lead.bic else None
    except ValidationFailed:
        return Debtor(
            name,
            lead.iban,
            lead.bic,
            _l("The capofila's IBAN or BIC is not valid: correct it in the bank settings."),
        )
    return Debtor(name, iban, bic, None)


def _awaiting_payment() -> list[ColumnElement[bool]]:
    """Conditions of a claim approved for money and neither paid nor in an open payout."""
    busy = exists().where(
        PayoutLine.claim_id == Claim.id,
        PayoutLine.status.in_((PayoutLineStatus.PENDING, PayoutLineStatus.PAID)),
    )
    return [Claim.status.in_(PAYABLE), Claim.approved_cents > 0, ~busy]


def _unpaid_claims(project: Project) -> Any:
    """Approved claims of ``project`` that are neither paid nor in an open payout."""
    return (
        select(Claim)
        .join(Voucher, Voucher.id == Claim.voucher_id)
        .join(Measure, Measure.id == Voucher.measure_id)
        .where(Measure.project_id == project.id, *_awaiting_payment())
        .options(selectinload(Claim.worker), selectinload(Claim.voucher))
        .order_by(Claim.decided_at, Claim.id)
    )


def _creditor_name(worker: User) -> str:
    return f"{worker.first_name} {worker.last_name}".strip()[:MAX_NAME]


def candidates(session: Session, project: Project) -> list[Candidate]:
    """Every approved, unpaid claim of ``project``, with the IBAN check of its worker."""
    result = []
    for claim in session.scalars(_unpaid_claims(project)):
        worker = claim.worker
        problem = None
        iban = None
        if not worker.iban:
            problem = _l("No IBAN: the worker must add it to their profile.")
        else:
            try:
                iban = identifiers.iban(worker.iban)
            except ValidationFailed:
                problem = _l("The worker's IBAN is not valid: they must correct it.")
        result.append(
            Candidate(claim, claim.approved_cents or 0, _creditor_name(worker), iban, problem)
        )
    return result


@dataclass(frozen=True)
class Waiting:
    count: int
    total_cents: int


def waiting_by_project(session: Session, project_ids: Iterable[int]) -> dict[int, Waiting]:
    """How many approved, unpaid claims (and how much) wait per project, in one query."""
    ids = list(project_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(Measure.project_id, func.count(Claim.id), func.sum(Claim.approved_cents))
        .join(Voucher, Voucher.id == Claim.voucher_id)
        .join(Measure, Measure.id == Voucher.measure_id)
        .where(Measure.project_id.in_(ids), *_awaiting_payment())
        .group_by(Measure.project_id)
    ).all()
    return {project_id: Waiting(int(n), int(total or 0)) for project_id, n, total in rows}


def last_failure(session: Session, claim: Claim) -> PayoutLine | None:
    """The most recent failed transfer of ``claim``, if its last attempt failed."""
    line = session.scalar(
        select(PayoutLine)
        .where(PayoutLine.claim_id == claim.id)
        .order_by(PayoutLine.id.desc())
        .limit(1)
    )
    return line if line is not None and line.status is PayoutLineStatus.FAILED else None


def payment_of(session: Session, claim: Claim) -> PayoutLine | None:
    """The transfer that paid ``claim``, if any."""
    return session.scalar(
        select(PayoutLine).where(
            PayoutLine.claim_id == claim.id, PayoutLine.status == PayoutLineStatus.PAID
        )
    )


def in_file(payout: Payout) -> list[PayoutLine]:
    """The lines of ``payout`` that are (or were) part of the file sent to the bank."""
    return [line for line in payout.lines if line.status in IN_FILE]


def total_cents(payout: Payout, statuses: Iterable[PayoutLineStatus] = IN_FILE) -> int:
    """Sum of the lines of ``payout`` in ``statuses``."""
    wanted = tuple(statuses)
    return sum(line.amount_cents for line in payout.lines if line.status in wanted)


# --- building ---------------------------------------------------------------------------


def create(
    session: Session,
    project: Project,
    actor: User,
    claim_ids: Iterable[int],
    execution_date: date,
    today: date,
) -> Payout:
    """Build an open payout of the chosen approved claims of ``project``."""
    ensure_operator(project, actor)
    wanted = set(claim_ids)
    if not wanted:
        raise ValidationFailed.single("claims", _l("Choose at least one request to pay."))
    if execution_date < today:
        raise ValidationFailed.single(
            "execution_date", _l("The execution date cannot be in the past.")
        )
    account = debtor(project)
    if account.problem is not None or account.iban is None:
        raise ValidationFailed.single("", account.problem)
    chosen = [c for c in candidates(session, project) if c.claim.id in wanted]
    if len(chosen) != len(wanted):
        raise Conflict(
            _l(
                "Some of the chosen requests are no longer waiting for payment (paid or put "
                "in another payout meanwhile): reload the page and choose again."
            )
        )
    blocked = [c for c in chosen if not c.payable]
    if blocked:
        raise ValidationFailed.single(
            "claims",
            _l(
                "%(count)d of the chosen requests cannot be paid yet (see the reason next to "
                "each): leave them out.",
                count=len(blocked),
            ),
        )
    payout = Payout(
        project_id=project.id,
        status=PayoutStatus.OPEN,
        # A provisional unique reference; the final one needs the id (see below).
        reference=f"tmp-{secrets.token_hex(8)}",
        requested_execution_date=execution_date,
        debtor_name=account.name,
        debtor_iban=account.iban,
        debtor_bic=account.bic,
        created_by_id=actor.id,
        bank_reference="",
    )
    try:
        with session.begin_nested():
            session.add(payout)
            session.flush()
            payout.reference = f"CV-{project.id}-{payout.id:08d}"
            for candidate in chosen:
                claim = candidate.claim
                session.add(
                    PayoutLine(
                        payout_id=payout.id,
                        claim_id=claim.id,
                        budget_line_id=claim.voucher.budget_line_id,
                        amount_cents=candidate.amount_cents,
                        creditor_name=candidate.creditor_name,
                        creditor_iban=candidate.iban or "",
                        end_to_end_id=f"CV-{payout.id}-{claim.id}",
                        status=PayoutLineStatus.PENDING,
                        claim_decision=claim.status,
                        failure_reason="",
                    )
                )
            session.flush()
    except IntegrityError:
        # Another operator put one of these claims in a payout at the same moment.
        raise Conflict(
            _l(
                "Some of the chosen requests were just put in another payout: reload the "
                "page and choose again."
            )
        ) from None
    session.refresh(payout, ["lines"])
    audit.record(
        session,
        "payout.create",
        payout,
        actor,
        project_id=project.id,
        claim_ids=sorted(wanted),
        total_cents=total_cents(payout),
        execution_date=execution_date.isoformat(),
    )
    return payout


def ensure_operator(project: Project, actor: User) -> None:
    """Only an operator of the project's alliance handles its payouts."""
    if actor.role is not Role.OPERATOR or actor.alliance_id != project.alliance_id:
        raise IllegalTransition(_l("Only an operator of the alliance can handle its payouts."))


def _ensure_open(payout: Payout) -> None:
    if payout.status is not PayoutStatus.OPEN:
        raise IllegalTransition(_closed(payout.status))


def _closed(status: PayoutStatus) -> Any:
    if status is PayoutStatus.EXECUTED:
        return _l("This payout has already been executed: it can no longer change.")
    return _l("This payout has been cancelled: it can no longer change.")


def _lock_open(session: Session, payout: Payout, **values: Any) -> None:
    """Write ``values`` on the payout only while it is open, else say why not."""
    if not compare_and_set(session, payout, Payout.status == PayoutStatus.OPEN, **values):
        current = session.scalar(select(Payout.status).where(Payout.id == payout.id))
        raise Conflict(_closed(current or payout.status))


def remove_line(session: Session, payout: Payout, line: PayoutLine, actor: User) -> Payout:
    """Take a claim out of an open payout; it waits for the next one."""
    ensure_operator(payout.project, actor)
    _ensure_open(payout)
    if line.payout_id != payout.id:
        raise IllegalTransition(_l("This request is not in this payout."))
    if len(in_file(payout)) == 1:
        raise IllegalTransition(
            _l("This is the last request of the payout: cancel the payout instead.")
        )
    # Touch the payout's row first, so an execution running now cannot also pay the line.
    _lock_open(session, payout, status=PayoutStatus.OPEN)
    if not compare_and_set(
        session,
        line,
        PayoutLine.status == PayoutLineStatus.PENDING,
        status=PayoutLineStatus.CANCELLED,
    ):
        raise Conflict(_l("This request has just been removed from the payout."))
    audit.record(session, "payout.remove_claim", payout, actor, claim_id=line.claim_id)
    return payout


def cancel(session: Session, payout: Payout, actor: User, reason: str) -> Payout:
    """Discard an open payout; its claims wait for the next one."""
    ensure_operator(payout.project, actor)
    reason = _reason(reason, _l("Say why the payout is cancelled."))
    _ensure_open(payout)
    _lock_open(session, payout, status=PayoutStatus.CANCELLED, cancelled_at=utcnow())
    payout.cancelled_by_id = actor.id
    for line in payout.lines:
        if line.status is PayoutLineStatus.PENDING:
            line.status = PayoutLineStatus.CANCELLED
    audit.record(session, "payout.cancel", payout, actor, reason=reason)
    return payout


def _reason(text: str | None, missing: Any) -> str:
    text = (text or "").strip()
    if not text:
        raise ValidationFailed.single("reason", missing)
    if len(text) > MAX_REASON:
        raise ValidationFailed.single(
            "reason", _l("At most %(count)d characters.", count=MAX_REASON)
        )
    return text


# --- executing --------------------------------------------------------------------------


def execute(
    session: Session,
    payout: Payout,
    actor: User,
    executed_on: date,
    bank_reference: str,
    failures: Mapping[int, str] | None = None,
    today: date | None = None,
) -> Payout:
    """Record the bank's execution: every line paid, except ``failures`` (line id -> reason)."""
    ensure_operator(payout.project, actor)
    failures = dict(failures or {})
    bank_reference = (bank_reference or "").strip()
    errors: dict[str, list[Any]] = {}
    if not bank_reference:
        errors["bank_reference"] = [_l("Enter the bank's reference of the transfer.")]
    elif len(bank_reference) > MAX_BANK_REFERENCE:
        errors["bank_reference"] = [_l("At most %(count)d characters.", count=MAX_BANK_REFERENCE)]
    if today is not None and executed_on > today:
        errors["executed_on"] = [_l("The execution date cannot be in the future.")]
    pending = [line for line in payout.lines if line.status is PayoutLineStatus.PENDING]
    unknown = set(failures) - {line.id for line in pending}
    if unknown:
        errors["failures"] = [_l("A failed transfer is not one of this payout's.")]
    for line_id, text in failures.items():
        if not (text or "").strip():
            errors["failures"] = [_l("Give the bank's reason for each failed transfer.")]
        elif len(text.strip()) > MAX_REASON:
            errors["failures"] = [_l("At most %(count)d characters.", count=MAX_REASON)]
        failures[line_id] = (text or "").strip()
    if errors:
        raise ValidationFailed(errors)
    _ensure_open(payout)
    # One execution wins: a retried or concurrent one finds the payout executed.
    _lock_open(
        session,
        payout,
        status=PayoutStatus.EXECUTED,
        executed_on=executed_on,
        bank_reference=bank_reference,
        executed_at=utcnow(),
        executed_by_id=actor.id,
    )
    session.expire(payout, ["executed_by"])
    # The payout's row is ours now: a line removed just before must not be paid.
    for line in pending:
        session.refresh(line, ["status"])
    paid = failed = 0
    for line in pending:
        if line.status is not PayoutLineStatus.PENDING:
            continue
        if line.id in failures:
            _fail(session, line, actor, failures[line.id], returned=False)
            failed += 1
        else:
            _pay(session, payout, line, actor)
            paid += 1
    audit.record(
        session,
        "payout.execute",
        payout,
        actor,
        executed_on=executed_on.isoformat(),
        bank_reference=bank_reference,
        paid=paid,
        failed=failed,
        paid_cents=total_cents(payout, [PayoutLineStatus.PAID]),
    )
    return payout


def _pay(session: Session, payout: Payout, line: PayoutLine, actor: User) -> None:
    """Mark one line and its claim paid, with the ledger's pay entry."""
    claim = line.claim
    now = utcnow()
    if not compare_and_set(
        session,
        line,
        PayoutLine.status == PayoutLineStatus.PENDING,
        status=PayoutLineStatus.PAID,
        paid_at=now,
    ):
        raise Conflict(_l("This transfer has just been recorded by someone else."))
    if not compare_and_set(
        session, claim, Claim.status.in_(PAYABLE), status=ClaimStatus.PAID, paid_at=now
    ):
        raise Conflict(
            _l(
                "Request %(id)d is no longer waiting for payment: reload the payout.",
                id=claim.id,
            )
        )
    budget.pay(session, line.budget_line_id, line.amount_cents, actor, ("claim", claim.id))
    audit.record(
        session,
        "claim.pay",
        claim,
        actor,
        payout_id=payout.id,
        amount_cents=line.amount_cents,
        end_to_end_id=line.end_to_end_id,
    )
    amount, executed_on = line.amount_cents, payout.executed_on
    notify(
        session,
        claim.worker,
        lambda: _("Your reimbursement has been paid"),
        lambda: _(
            "%(amount)s has been transferred to your account ending in %(last4)s on "
            "%(date)s (reference %(reference)s).",
            amount=format_money(amount),
            last4=line.creditor_iban[-4:],
            date=format_date(executed_on),
            reference=line.end_to_end_id,
        ),
        status_link(claim),
    )


def fail_line(session: Session, line: PayoutLine, actor: User, reason: str) -> PayoutLine:
    """The bank returned a transfer it had executed: the claim is payable again."""
    ensure_operator(line.payout.project, actor)
    reason = _reason(reason, _l("Give the bank's reason."))
    if line.status is not PayoutLineStatus.PAID:
        raise IllegalTransition(_l("Only a paid transfer can be returned by the bank."))
    _fail(session, line, actor, reason, returned=True)
    return line


def _fail(session: Session, line: PayoutLine, actor: User, reason: str, *, returned: bool) -> None:
    """Mark one transfer failed; the claim goes back to its decision for the next payout."""
    claim = line.claim
    was = PayoutLineStatus.PAID if returned else PayoutLineStatus.PENDING
    if not compare_and_set(
        session,
        line,
        PayoutLine.status == was,
        status=PayoutLineStatus.FAILED,
        failure_reason=reason,
        failed_at=utcnow(),
    ):
        raise Conflict(_l("This transfer has just been recorded by someone else."))
    if returned:
        if not compare_and_set(
            session,
            claim,
            Claim.status == ClaimStatus.PAID,
            status=line.claim_decision,
            paid_at=None,
        ):
            raise Conflict(_l("This request is no longer marked as paid: reload the page."))
        budget.return_payment(
            session, line.budget_line_id, line.amount_cents, actor, ("claim", claim.id)
        )
    audit.record(
        session,
        "claim.payment_failed",
        claim,
        actor,
        reason=reason,
        payout_id=line.payout_id,
        amount_cents=line.amount_cents,
        returned=returned,
    )
    amount = line.amount_cents
    notify(
        session,
        claim.worker,
        lambda: _("Your reimbursement could not be transferred"),
        lambda: _(
            "The bank could not transfer %(amount)s to your account (%(reason)s). Check the "
            "IBAN in your profile: the reimbursement will be sent again with the next payment.",
            amount=format_money(amount),
            reason=reason,
        ),
        "/worker/profile",
    )


# --- settings ---------------------------------------------------------------------------


def set_debtor_account(
    session: Session, alliance: Alliance, actor: User, iban: str, bic: str
) -> None:
    """Set the capofila's IBAN and BIC, from which the alliance's transfers leave."""
    if actor.role is not Role.OPERATOR or actor.alliance_id != alliance.id:
        raise IllegalTransition(_l("Only an operator of the alliance can handle its payouts."))
    lead = alliance.lead
    errors: dict[str, list[Any]] = {}
    clean_iban = clean_bic = None
    try:
        clean_iban = identifiers.iban(iban or "")
    except ValidationFailed as exc:
        errors.update(exc.errors)
    if (bic or "").strip():
        try:
            clean_bic = identifiers.bic(bic)
        except ValidationFailed as exc:
            errors.update(exc.errors)
    if errors:
        raise ValidationFailed(errors)
    before = identifiers.mask_iban(lead.iban)
    lead.iban, lead.bic = clean_iban, clean_bic
    audit.record(
        session,
        "organisation.bank_account",
        lead,
        actor,
        before=before,
        after=identifiers.mask_iban(clean_iban),
        bic=clean_bic,
    )
