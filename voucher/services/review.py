"""The alliance operator's review of reimbursement requests (claims) and their receipts.

submitted -> approved | partially_approved | rejected | needs_info (DESIGN §3); the worker
sends a needs_info request again with ``claims.submit``.

Every transition is a compare-and-set on the claim's status (a conditional UPDATE whose
rowcount is checked), so when two operators decide at once exactly one wins and the other
gets Conflict before any money moves. Receipt decisions take the same row first, so they
cannot slip in between an approval's checks and its write. Approval moves the amount from
reserved to spent on the budget line and adds it to the voucher's used amount, each with
its own guarded UPDATE. Every decision is in the audit trail; callers commit, or roll back
on any ServiceError.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Any, NamedTuple

from flask_babel import LazyString, format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    Select,
    and_,
    bindparam,
    case,
    func,
    literal,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, contains_eager, joinedload, object_session, raiseload
from sqlalchemy.orm.attributes import set_committed_value

from voucher.i18n import format_money
from voucher.models import (
    AuditEvent,
    Claim,
    ClaimStatus,
    Measure,
    Project,
    Receipt,
    ReceiptStatus,
    Role,
    User,
    Voucher,
    VoucherStatus,
)
from voucher.models.base import utcnow
from voucher.services import audit, budget, claims, expiry, paging, waitlist
from voucher.services.access import scope_params, visible_to_role
from voucher.services.claims import _normalised_number
from voucher.services.errors import Conflict, IllegalTransition, ValidationFailed
from voucher.services.notifications import notify
from voucher.services.transitions import compare_and_set

S = ClaimStatus

# How a request's status reads to the operator reviewing it.
STATUS_LABELS = {
    S.DRAFT: _l("Draft, not sent yet"),
    S.SUBMITTED: _l("To review"),
    S.APPROVED: _l("Approved"),
    S.PARTIALLY_APPROVED: _l("Partly approved"),
    S.REJECTED: _l("Rejected"),
    S.NEEDS_INFO: _l("Waiting for the worker's information"),
    S.PAID: _l("Paid"),
}

MAX_REASON = 500  # the audit trail keeps a reason of at most this length
MAX_MESSAGE = 2000


# --- what the reviewer sees -------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    """The amounts that bound an approval (rule 3), from the current receipts and voucher."""

    eligible_cents: int  # total of the receipts not set aside
    rate_cents: int  # the measure's rate times that total, floored to the cent
    remaining_cents: int  # what the voucher still has reserved
    reimbursable_cents: int  # the full approval: what the worker's view calls reimbursable
    max_cents: int  # the most an operator may approve

    @property
    def nothing_eligible(self) -> bool:
        return self.max_cents <= 0


def limits(claim: Claim) -> Limits:
    """What approving ``claim`` may give, after the receipts set aside so far."""
    voucher = claim.voucher
    rate = claims.rate_cents(claim)
    remaining = voucher.remaining_cents
    session = object_session(claim)
    if voucher.status in expiry.ENDED and session is not None:
        # An ended voucher keeps reserved only what requests sent in time may need; the
        # rest went back to the budget line and belongs to other vouchers now.
        remaining -= expiry.released_cents(session, voucher)
    most = max(0, min(rate, remaining))
    return Limits(
        eligible_cents=claims.eligible_cents(claim),
        rate_cents=rate,
        remaining_cents=max(0, remaining),
        reimbursable_cents=min(claims.reimbursable_cents(claim), most),
        max_cents=most,
    )


@dataclass(frozen=True)
class Flag:
    """Something about a receipt the reviewer should look at; it changes nothing by itself."""

    receipt_id: int
    kind: str  # duplicate_file | duplicate_details | outside_validity | above_remaining
    message: Any


def flags(session: Session, claim: Claim) -> list[Flag]:
    """Duplicates in the programme, dates outside the voucher's period, amounts above it.

    One query for all the receipts: the live receipts of the programme that share a file,
    or a supplier and date, with one of them; the comparison is finished here.
    """
    voucher = claim.voucher
    programme_id = voucher.measure.project.programme_id
    receipts = list(claim.receipts)
    candidates = (
        session.execute(
            _flag_candidates(),
            {
                "programme_id": programme_id,
                "hashes": sorted({r.sha256 for r in receipts}),
                "suppliers": sorted({r.supplier_vat for r in receipts}),
                "dates": sorted({r.issued_on for r in receipts}),
            },
        ).all()
        if receipts
        else []
    )
    found: list[Flag] = []
    for receipt in receipts:
        others = [c for c in candidates if c[0] != receipt.id]
        details = (
            receipt.supplier_vat,
            _normalised_number(receipt.document_number),
            receipt.issued_on,
            receipt.amount_cents,
        )
        if any(c[1] == receipt.sha256 for c in others):
            found.append(
                Flag(
                    receipt.id,
                    "duplicate_file",
                    _l("The same file is part of another request in this programme."),
                )
            )
        elif any(tuple(c[2:]) == details for c in others):
            found.append(
                Flag(
                    receipt.id,
                    "duplicate_details",
                    _l(
                        "A receipt with the same supplier, number, date and amount is part "
                        "of another request in this programme."
                    ),
                )
            )
        if not voucher.valid_from <= receipt.issued_on <= voucher.valid_until:
            found.append(
                Flag(
                    receipt.id,
                    "outside_validity",
                    _l(
                        "Issued outside the voucher's period, from %(start)s to %(end)s.",
                        start=_day(voucher.valid_from),
                        end=_day(voucher.valid_until),
                    ),
                )
            )
        if receipt.amount_cents > voucher.remaining_cents:
            found.append(
                Flag(
                    receipt.id,
                    "above_remaining",
                    _l(
                        "The amount is higher than what is left on the voucher (%(amount)s).",
                        amount=_money(voucher.remaining_cents),
                    ),
                )
            )
    return found


# Drafts are still the worker's business: the queue starts at the first submission.
QUEUE_STATUSES = tuple(s for s in ClaimStatus if s is not ClaimStatus.DRAFT)


class QueueItem(NamedTuple):
    """One line of the review queue: what the list shows of a claim, and nothing else."""

    id: int
    status: ClaimStatus
    submitted_at: datetime | None
    requested_cents: int
    approved_cents: int | None
    first_review_by_id: int | None
    worker_name: str
    measure_title: str


def queue_page(
    session: Session,
    user: User,
    page: int,
    per_page: int,
    measure_id: int | None = None,
    status: ClaimStatus | None = None,
) -> paging.Page:
    """One page of the queue: those to review first, the oldest at the top.

    Read in time that does not grow with the queue: each half (to review, decided) is read
    in ``submitted_at`` order only as far as this page reaches, with an index, and only
    those rows are sorted; "to review first" as a single ORDER BY CASE would sort every
    request of the alliance on every visit. The rows come with the worker, voucher and
    measure the list shows; anything else a template touches raises (``raiseload``).
    """
    page = max(page, 1)
    paged, count = _queue_statements(user.role, measure_id is not None, status is not None)
    return paging.paginate_prepared(
        session,
        paged,
        count,
        page,
        per_page,
        {
            **scope_params(user),
            "measure_id": measure_id,
            "status": status,
            "reach": page * per_page,
        },
        item=QueueItem._make,
    )


def queue_measures(session: Session, user: User) -> list[Measure]:
    """The measures the queue can be filtered by, with their projects, in title order."""
    return list(session.scalars(_queue_measures(user.role), scope_params(user)))


@cache
def _queue_measures(role: Role) -> Select:
    return (
        visible_to_role(Measure, role)
        .join(Project, Measure.project_id == Project.id)
        .options(contains_eager(Measure.project), raiseload("*", sql_only=True))
        .order_by(Project.title, Measure.title, Measure.id)
    )


@cache
def _queue_statements(role: Role, by_measure: bool, by_status: bool) -> tuple[Select, Select]:
    """The queue's page statement and the one its rows are counted with, for ``role`` and
    the filters in use; built once each (operators open the queue all day long), with the
    person, the filters and the page's reach as bind parameters."""
    base = visible_to_role(Claim, role).where(Claim.status.in_(QUEUE_STATUSES))
    if by_measure:
        base = base.where(
            Claim.voucher_id.in_(
                select(Voucher.id).where(
                    Voucher.measure_id == bindparam("measure_id", type_=Integer)
                )
            )
        )
    if by_status:
        base = base.where(Claim.status == bindparam("status", type_=Claim.status.type))
    reach = paging.inline_integer("reach")

    # Each half carries the columns the list shows: joining the hundred ranked ids back to
    # the claims made PostgreSQL hash them against a full scan of the table (2 ms at
    # 10,000 claims) rather than look them up by key.
    shown = (
        Claim.id,
        Claim.submitted_at,
        Claim.status,
        Claim.requested_cents,
        Claim.approved_cents,
        Claim.first_review_by_id,
        Claim.worker_id,
        Claim.voucher_id,
    )

    def half(condition: ColumnElement[bool], rank: int) -> Select[Any]:
        nearest = (
            base.where(condition)
            .with_only_columns(*shown)
            .order_by(Claim.submitted_at, Claim.id)
            .limit(reach)
            .subquery()
        )
        return select(*nearest.c, literal(rank).label("rank"))

    ranked = union_all(
        half(Claim.status == S.SUBMITTED, 0), half(Claim.status != S.SUBMITTED, 1)
    ).subquery()
    # Columns, not entities: a page of fifty rows is read as plain rows (QueueItem), so
    # nothing can load lazily and no ORM object is built for what the table shows.
    stmt = (
        select(
            ranked.c.id,
            ranked.c.status,
            ranked.c.submitted_at,
            ranked.c.requested_cents,
            ranked.c.approved_cents,
            ranked.c.first_review_by_id,
            # Looked up by key for each of the hundred rows: joined, PostgreSQL hashed them
            # against full scans of the users and vouchers instead.
            select(User.first_name + " " + User.last_name)
            .where(User.id == ranked.c.worker_id)
            .scalar_subquery()
            .label("worker_name"),
            select(Measure.title)
            .join(Voucher, Voucher.measure_id == Measure.id)
            .where(Voucher.id == ranked.c.voucher_id)
            .scalar_subquery()
            .label("measure_title"),
        )
        .select_from(ranked)
        .order_by(ranked.c.rank, ranked.c.submitted_at, ranked.c.id)
    )
    return paging.paged_statement(stmt, base), base


def needs_second_review(claim: Claim | QueueItem) -> bool:
    """Whether a first operator approved ``claim`` and a second one must confirm it."""
    return claim.status is S.SUBMITTED and claim.first_review_by_id is not None


def history_with_actors(session: Session, claim: Claim) -> tuple[list[AuditEvent], dict[int, User]]:
    """What happened to the request, oldest first, from the audit trail, with the people
    who acted, in one query."""
    rows = session.execute(_history_with_actors(), {"claim_id": claim.id}).all()
    return [event for event, _user in rows], {u.id: u for _e, u in rows if u is not None}


# The review page's statements are built once, with bind parameters (operators open it all
# day, and building a statement cost more than running it).


@cache
def _history_with_actors() -> Select[Any]:
    return (
        select(AuditEvent, User)
        .outerjoin(User, User.id == AuditEvent.actor_id)
        .where(
            AuditEvent.entity_type == Claim.__tablename__,
            AuditEvent.entity_id == bindparam("claim_id", type_=Integer),
        )
        .order_by(AuditEvent.occurred_at, AuditEvent.id)
    )


@cache
def _flag_candidates() -> Select[Any]:
    """The live receipts of a programme sharing a file, or a supplier and a date, with any
    of the given ones (parameters ``programme_id``, ``hashes``, ``suppliers``, ``dates``)."""
    number = func.upper(func.replace(Receipt.document_number, " ", ""))
    return (
        select(
            Receipt.id,
            Receipt.sha256,
            Receipt.supplier_vat,
            number,
            Receipt.issued_on,
            Receipt.amount_cents,
        )
        .join(Claim, Receipt.claim_id == Claim.id)
        .join(Voucher, Claim.voucher_id == Voucher.id)
        .join(Measure, Voucher.measure_id == Measure.id)
        .join(Project, Measure.project_id == Project.id)
        .where(
            Project.programme_id == bindparam("programme_id", type_=Integer),
            # A receipt set aside, or one of a rejected request, may be reused.
            Receipt.status != ReceiptStatus.REJECTED,
            Claim.status != ClaimStatus.REJECTED,
            or_(
                Receipt.sha256.in_(bindparam("hashes", expanding=True)),
                and_(
                    Receipt.supplier_vat.in_(bindparam("suppliers", expanding=True)),
                    Receipt.issued_on.in_(bindparam("dates", expanding=True)),
                ),
            ),
        )
    )


def decision_options() -> tuple[Any, ...]:
    """Loader options for deciding on a claim: what the rules read (voucher, measure,
    project, receipts, other requests' amounts) and whom the decision is told (the
    worker), in one query."""
    return (
        joinedload(Claim.voucher).joinedload(Voucher.measure).joinedload(Measure.project),
        joinedload(Claim.receipts),
        joinedload(Claim.worker),
        claims.requested_elsewhere(),
    )


def detail_options() -> tuple[Any, ...]:
    """Loader options for a claim's review page: everything it shows, in the one query that
    loads the claim (receipts, voucher, measure, project, people, other requests' amounts)."""
    return (
        joinedload(Claim.voucher).joinedload(Voucher.measure).joinedload(Measure.project),
        joinedload(Claim.receipts),
        joinedload(Claim.worker),
        joinedload(Claim.decided_by),
        joinedload(Claim.first_review_by),
        claims.requested_elsewhere(),
    )


def receipt_viewed(session: Session, viewer: User, receipt: Receipt) -> None:
    """Audit that someone other than the worker opened a receipt (it may reveal health)."""
    audit.record(session, "claim.receipt_view", receipt.claim, actor=viewer, receipt_id=receipt.id)


def status_link(claim: Claim) -> str:
    """The path of the worker's page of ``claim`` (for notifications)."""
    return f"/worker/claims/{claim.id}"


# --- receipts ---------------------------------------------------------------------------


def accept_receipt(session: Session, receipt: Receipt, actor: User) -> Receipt:
    """Accept a receipt of a request under review (also one set aside by mistake)."""
    claim = receipt.claim
    _ensure_reviewer(claim, actor)
    _ensure_submitted(claim)
    if receipt.status is ReceiptStatus.ACCEPTED:
        return receipt
    _lock(session, claim)
    previous = receipt.status
    receipt.status = ReceiptStatus.ACCEPTED
    receipt.rejection_reason = ""
    audit.record(
        session,
        "claim.receipt_accept",
        claim,
        actor,
        receipt_id=receipt.id,
        previous=previous.value,
        amount_cents=receipt.amount_cents,
    )
    return receipt


def reject_receipt(session: Session, receipt: Receipt, actor: User, reason: str) -> Receipt:
    """Set a receipt aside, saying why; it no longer counts towards the reimbursement."""
    claim = receipt.claim
    _ensure_reviewer(claim, actor)
    reason = _required(reason, "reason", _l("Say why this receipt is not accepted."), MAX_REASON)
    _ensure_submitted(claim)
    # A first approval was given for the receipts as they were: it no longer holds.
    clears_first_review = claim.first_review_by_id is not None
    _lock(session, claim, **(_NO_FIRST_REVIEW if clears_first_review else {}))
    previous = receipt.status
    receipt.status = ReceiptStatus.REJECTED
    receipt.rejection_reason = reason
    audit.record(
        session,
        "claim.receipt_reject",
        claim,
        actor,
        reason=reason,
        receipt_id=receipt.id,
        previous=previous.value,
        amount_cents=receipt.amount_cents,
        first_review_cleared=clears_first_review,
    )
    return receipt


# --- decisions --------------------------------------------------------------------------


def approve(
    session: Session,
    claim: Claim,
    actor: User,
    amount_cents: int | None = None,
    today: date | None = None,
    note: str = "",
) -> Claim:
    """Approve in full or in part (``amount_cents``), moving it from reserved to spent."""
    _ensure_reviewer(claim, actor)
    _ensure_submitted(claim)
    note = (note or "").strip()
    if len(note) > MAX_MESSAGE:
        raise ValidationFailed.single(
            "note", _l("At most %(count)d characters.", count=MAX_MESSAGE)
        )
    first_id = claim.first_review_by_id
    if first_id is not None and first_id == actor.id:
        raise IllegalTransition(
            _l(
                "You gave the first approval of this request: a different operator of the "
                "alliance must confirm it."
            )
        )
    voucher = claim.voucher
    bounds = limits(claim)
    # No amount: the full one, or for the second of two operators the one the first approved.
    if amount_cents is None:
        amount = claim.first_review_cents if first_id is not None else bounds.reimbursable_cents
        amount = min(amount or 0, bounds.max_cents)
        if amount <= 0:
            raise ValidationFailed.single(
                "",
                _l("Nothing can be reimbursed on this request: reject it, saying why."),
            )
    else:
        amount = amount_cents
    _check_amount(claim, amount, bounds)

    threshold = voucher.measure.four_eyes_threshold_cents
    # Four eyes: above the threshold the first approval is only recorded (the request stays
    # submitted); a different operator completes it, with the same amount or a lower one.
    if first_id is None and threshold is not None and amount > threshold:
        return _first_review(session, claim, actor, amount, threshold, note)

    rejected = any(r.status is ReceiptStatus.REJECTED for r in claim.receipts)
    # In full: the whole reimbursable amount with every receipt counted; else in part.
    full = amount >= bounds.reimbursable_cents and not rejected
    target = S.APPROVED if full else S.PARTIALLY_APPROVED
    _move(
        session,
        claim,
        (
            Claim.first_review_by_id.is_(None)
            if first_id is None
            else Claim.first_review_by_id == first_id
        ),
        status=target,
        approved_cents=amount,
        decided_at=utcnow(),
        decided_by_id=actor.id,
        operator_message=note,
    )
    # The claim's row is now ours: check again against what other transactions committed
    # while we were reading (a receipt set aside, another approval on the voucher).
    statuses = {
        receipt_id: status
        for receipt_id, status in session.execute(
            select(Receipt.id, Receipt.status).where(Receipt.claim_id == claim.id)
        )
    }
    for receipt in claim.receipts:
        set_committed_value(receipt, "status", statuses.get(receipt.id, receipt.status))
    if amount > claims.rate_cents(claim):
        raise Conflict(
            _l("The receipts of this request changed meanwhile: reload the page and decide again.")
        )
    _use_voucher(session, voucher, amount)
    budget.spend(session, voucher.budget_line_id, amount, actor, ("claim", claim.id))
    exhausted = voucher.status is VoucherStatus.EXHAUSTED
    audit.record(
        session,
        "claim.approve",
        claim,
        actor,
        reason=note[:MAX_REASON],
        status=target.value,
        amount_cents=amount,
        requested_cents=claim.requested_cents,
        eligible_cents=bounds.eligible_cents,
        rate_cents=bounds.rate_cents,
        first_review_by_id=first_id,
        voucher_exhausted=exhausted,
    )
    if exhausted:
        audit.record(session, "voucher.exhaust", voucher, actor, claim_id=claim.id)
    # A request sent in time may be approved after its voucher ended: what the voucher no
    # longer needs then goes back to the budget, and the waiting list moves (as of today).
    _release_if_ended(session, voucher, actor, today)
    _notify_approval(session, claim, target, amount, note)
    return claim


def ask_info(session: Session, claim: Claim, actor: User, message: str) -> Claim:
    """Send the request back to the worker, saying what is missing."""
    _ensure_reviewer(claim, actor)
    message = _required(
        message, "message", _l("Say what information the worker must add."), MAX_MESSAGE
    )
    _ensure_submitted(claim)
    if claim.voucher.status is VoucherStatus.REVOKED:
        raise IllegalTransition(
            _l(
                "The voucher has been revoked, so the worker can no longer send this request "
                "again: decide it as it is."
            )
        )
    if _other_open_claim(session, claim):
        raise IllegalTransition(_OTHER_OPEN)
    try:
        _move(session, claim, status=S.NEEDS_INFO, operator_message=message, **_NO_FIRST_REVIEW)
    except IntegrityError:
        # One request being prepared per voucher (a unique index): the worker started
        # another one a moment ago. The caller rolls back, as after any refusal.
        raise IllegalTransition(_OTHER_OPEN) from None
    audit.record(
        session, "claim.ask_info", claim, actor, reason=message[:MAX_REASON], message=message
    )
    measure = claim.voucher.measure
    notify(
        session,
        claim.worker,
        lambda: _("The alliance needs more information"),
        lambda: _(
            "About your reimbursement request for “%(measure)s”: %(message)s "
            "Add what is asked and send the request again.",
            measure=measure.title,
            message=message,
        ),
        status_link(claim),
    )
    return claim


def reject(
    session: Session, claim: Claim, actor: User, reason: str, today: date | None = None
) -> Claim:
    """Refuse the request, saying why; the worker is told and nothing is spent."""
    _ensure_reviewer(claim, actor)
    reason = _required(reason, "reason", _l("Say why the request is rejected."), MAX_REASON)
    _ensure_submitted(claim)
    _move(
        session,
        claim,
        status=S.REJECTED,
        operator_message=reason,
        decided_at=utcnow(),
        decided_by_id=actor.id,
    )
    audit.record(session, "claim.reject", claim, actor, reason=reason)
    _release_if_ended(session, claim.voucher, actor, today)
    measure = claim.voucher.measure
    notify(
        session,
        claim.worker,
        lambda: _("Your reimbursement request was rejected"),
        lambda: _(
            "Your reimbursement request for “%(measure)s” was rejected. Reason: %(reason)s",
            measure=measure.title,
            reason=reason,
        ),
        status_link(claim),
    )
    return claim


# --- internals --------------------------------------------------------------------------

_NO_FIRST_REVIEW: dict[str, Any] = {
    "first_review_by_id": None,
    "first_review_at": None,
    "first_review_cents": None,
}

_OTHER_OPEN = _l(
    "The worker is preparing another request on this voucher, so this one cannot go back "
    "to them now. Decide it as it is, or reject it saying what is missing."
)


def _money(cents: int) -> Any:
    """An amount formatted in the reader's locale when the message is shown."""
    return LazyString(format_money, cents)


def _day(value: date) -> Any:
    """A date formatted in the reader's locale when the message is shown."""
    return LazyString(format_date, value, "medium")


def _ensure_reviewer(claim: Claim, actor: User) -> None:
    """Only an operator of the alliance that runs the claim's project decides on it."""
    alliance_id = claim.voucher.measure.project.alliance_id
    if actor is None or actor.role is not Role.OPERATOR or actor.alliance_id != alliance_id:
        raise IllegalTransition(_l("Only an operator of the alliance can decide this request."))


def _ensure_submitted(claim: Claim) -> None:
    """Refuse a decision on a request not waiting for one: Conflict if already decided."""
    if claim.status is S.SUBMITTED:
        return
    if claim.status is S.DRAFT:
        raise IllegalTransition(_l("This request has not been sent yet."))
    raise Conflict(_decided(claim.status))


def _decided(status: ClaimStatus) -> Any:
    return _l(
        "This request has already been decided (%(status)s): nothing was changed.",
        status=STATUS_LABELS[status],
    )


def _required(text: str | None, field: str, missing: Any, limit: int) -> str:
    """A stripped, non-empty text of at most ``limit`` characters, or ValidationFailed."""
    value = (text or "").strip()
    if not value:
        raise ValidationFailed.single(field, missing)
    if len(value) > limit:
        raise ValidationFailed.single(field, _l("At most %(count)d characters.", count=limit))
    return value


def _check_amount(claim: Claim, amount: Any, bounds: Limits) -> None:
    """Rule 3, and the second operator's bound: raise ValidationFailed on the amount."""
    field = "amount_cents"
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise ValidationFailed.single(field, _l("The amount must be greater than zero."))
    if amount > bounds.remaining_cents:
        raise ValidationFailed.single(
            field,
            _l(
                "The voucher has only %(amount)s left: the approved amount cannot be higher.",
                amount=_money(bounds.remaining_cents),
            ),
        )
    if amount > bounds.rate_cents:
        raise ValidationFailed.single(
            field,
            _l(
                "At most %(amount)s: %(rate)d%% of the receipts that count (%(eligible)s).",
                amount=_money(bounds.rate_cents),
                rate=claim.voucher.measure.reimbursement_rate_pct,
                eligible=_money(bounds.eligible_cents),
            ),
        )
    first = claim.first_review_cents
    if claim.first_review_by_id is not None and first is not None and amount > first:
        raise ValidationFailed.single(
            field,
            _l(
                "The first operator approved %(amount)s: confirm that amount or a lower one.",
                amount=_money(first),
            ),
        )


def _move(session: Session, claim: Claim, *conditions: ColumnElement[bool], **values: Any) -> None:
    """Write ``values`` if the claim is still submitted (and ``conditions`` hold), else Conflict."""
    if not compare_and_set(session, claim, Claim.status == S.SUBMITTED, *conditions, **values):
        current = session.scalar(select(Claim.status).where(Claim.id == claim.id))
        if current is S.SUBMITTED:
            raise Conflict(
                _l(
                    "Another operator has just reviewed this request: reload the page and "
                    "check before deciding."
                )
            )
        raise Conflict(_decided(current) if current is not None else _decided(claim.status))
    if "decided_by_id" in values:
        session.expire(claim, ["decided_by"])
    if "first_review_by_id" in values:
        session.expire(claim, ["first_review_by"])


def _lock(session: Session, claim: Claim, **values: Any) -> None:
    """Take the claim's row while it is submitted, so no decision runs at the same time."""
    _move(session, claim, status=S.SUBMITTED, **values)


def _first_review(
    session: Session, claim: Claim, actor: User, amount: int, threshold: int, note: str
) -> Claim:
    """Record the first of the two approvals a large amount needs; nothing is spent yet."""
    _move(
        session,
        claim,
        Claim.first_review_by_id.is_(None),
        first_review_by_id=actor.id,
        first_review_at=utcnow(),
        first_review_cents=amount,
    )
    audit.record(
        session,
        "claim.first_review",
        claim,
        actor,
        reason=note[:MAX_REASON],
        amount_cents=amount,
        threshold_cents=threshold,
    )
    return claim


def _use_voucher(session: Session, voucher: Voucher, amount: int) -> None:
    """Add ``amount`` to what the voucher has used, never beyond its amount; exhaust it."""
    row = session.execute(
        _use_voucher_statement(), {"voucher_id": voucher.id, "amount": amount}
    ).one_or_none()
    if row is None:
        raise Conflict(
            _l(
                "The voucher no longer has this amount left (another request was approved "
                "meanwhile): reload the page and decide again."
            )
        )
    names = ("used_cents", "held_cents", "released_cents", "status")
    for name, value in zip(names, row, strict=True):
        set_committed_value(voucher, name, value)


@cache
def _use_voucher_statement() -> Any:
    # One statement for the guard, the spending, the exhaustion and the new figures (it was
    # three round trips), built once. WHERE and SET read the row as it was, so ``used`` is
    # the new total in both; RETURNING gives the row as it is now.
    used = Voucher.used_cents + bindparam("amount", type_=BigInteger)
    return (
        update(Voucher)
        .where(
            Voucher.id == bindparam("voucher_id", type_=Integer),
            # What an ended voucher gave back is no longer its to spend, nor what bookings
            # of time-saving services hold.
            used + Voucher.held_cents + Voucher.released_cents <= Voucher.amount_cents,
        )
        .values(
            used_cents=used,
            status=case(
                (
                    and_(Voucher.status == VoucherStatus.ACTIVE, used >= Voucher.amount_cents),
                    literal(VoucherStatus.EXHAUSTED, Voucher.status.type),
                ),
                else_=Voucher.status,
            ),
        )
        .returning(Voucher.used_cents, Voucher.held_cents, Voucher.released_cents, Voucher.status)
        .execution_options(synchronize_session=False)
    )


def _release_if_ended(session: Session, voucher: Voucher, actor: User, today: date | None) -> None:
    """After a decision on an ended voucher, give back what no request needs any more."""
    if voucher.status not in expiry.ENDED:
        return
    released = expiry.release_unused(session, voucher, actor)
    if released:
        audit.record(session, "voucher.release", voucher, actor, released_cents=released)
        waitlist.promote(session, voucher.measure, today)


def _other_open_claim(session: Session, claim: Claim) -> bool:
    """Whether the worker is preparing another request on the same voucher."""
    other = claims.open_claim_of(session, claim.voucher)
    return other is not None and other.id != claim.id


def _notify_approval(
    session: Session, claim: Claim, status: ClaimStatus, amount: int, note: str
) -> None:
    measure = claim.voucher.measure
    requested = claim.requested_cents

    def body() -> str:
        if status is S.APPROVED:
            text = _(
                "Your reimbursement request for “%(measure)s” has been approved: %(amount)s "
                "will be paid with the next transfer.",
                measure=measure.title,
                amount=format_money(amount),
            )
        else:
            text = _(
                "Your reimbursement request for “%(measure)s” has been partly approved: "
                "%(amount)s of the %(requested)s you asked for will be paid with the next "
                "transfer.",
                measure=measure.title,
                amount=format_money(amount),
                requested=format_money(requested),
            )
        if note:
            text += " " + _("Message from the alliance: %(message)s", message=note)
        return text

    notify(
        session,
        claim.worker,
        lambda: (
            _("Your reimbursement request has been approved")
            if status is S.APPROVED
            else _("Your reimbursement request has been partly approved")
        ),
        body,
        status_link(claim),
    )
