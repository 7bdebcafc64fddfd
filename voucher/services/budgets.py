"""An alliance operator's changes to measures: allocation, window, four-eyes, budget moves.

Each function validates the whole input first, then writes through ``voucher.services.budget``
(guarded UPDATE + ledger entry) and records the change in the audit trail. Callers commit,
or roll back on any error: a move is one transaction, both entries or neither.
"""

from __future__ import annotations

from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from voucher.i18n import format_money
from voucher.models import Application, BudgetLine, Measure, User
from voucher.services import audit, budget, structure, waitlist
from voucher.services.errors import Conflict, ValidationFailed

MAX_REASON = 500


def _line(measure: Measure) -> BudgetLine:
    line = measure.budget_line
    if line is None:
        raise ValidationFailed.single("", _l("This measure has no budget line."))
    return line


def _floor_message(line: BudgetLine) -> object:
    return _l(
        "The allocation cannot go below what is already reserved and spent (%(amount)s).",
        amount=format_money(line.reserved_cents + line.spent_cents),
    )


def set_allocation(
    session: Session,
    measure: Measure,
    actor: User | None,
    allocated_cents: int,
    reason: str = "",
    today: date | None = None,
) -> list[Application]:
    """Set what a measure is allocated, within the project's total and never below
    reserved + spent; a raise moves a first-come waiting list on (returned)."""
    line = _line(measure)
    session.refresh(line)
    reason = (reason or "").strip()
    errors: dict[str, list[object]] = {}
    ceiling = structure.unallocated_cents(session, measure.project, exclude=measure)
    if not isinstance(allocated_cents, int) or allocated_cents < 0:
        errors["allocated_cents"] = [_l("Amounts cannot be negative.")]
    elif allocated_cents == line.allocated_cents:
        errors["allocated_cents"] = [_l("This is already the allocation: enter another amount.")]
    elif allocated_cents < line.reserved_cents + line.spent_cents:
        errors["allocated_cents"] = [_floor_message(line)]
    elif allocated_cents > ceiling:
        errors["allocated_cents"] = [
            _l(
                "The project's total leaves at most %(amount)s for this measure.",
                amount=format_money(ceiling),
            )
        ]
    if len(reason) > MAX_REASON:
        errors["reason"] = [_l("At most 500 characters.")]
    if errors:
        raise ValidationFailed(errors)
    before, delta = line.allocated_cents, allocated_cents - line.allocated_cents
    try:
        budget.change_allocation(session, line.id, delta, actor, reason)
    except Conflict:
        # Vouchers were granted between reading the line and writing it.
        session.refresh(line)
        raise Conflict(_floor_message(line)) from None
    audit.record(
        session,
        "budget.allocation",
        measure,
        actor,
        reason=reason,
        before_cents=before,
        after_cents=allocated_cents,
        delta_cents=delta,
    )
    return waitlist.promote(session, measure, today) if delta > 0 else []


def set_window(
    session: Session, measure: Measure, actor: User | None, opens_on: date, closes_on: date
) -> Measure:
    """Open, move or close the application window, within the project's period."""
    project = measure.project
    errors: dict[str, list[object]] = {}
    if opens_on is None:
        errors["opens_on"] = [_l("Enter the first day.")]
    if closes_on is None:
        errors["closes_on"] = [_l("Enter the last day.")]
    if opens_on is not None and closes_on is not None:
        if closes_on < opens_on:
            errors["closes_on"] = [_l("The end date must not be before the start date.")]
        elif opens_on < project.starts_on or closes_on > project.ends_on:
            errors["opens_on"] = [_l("The application window must fall within the project period.")]
    if errors:
        raise ValidationFailed(errors)
    before = (measure.opens_on.isoformat(), measure.closes_on.isoformat())
    measure.opens_on, measure.closes_on = opens_on, closes_on
    audit.record(
        session,
        "measure.window",
        measure,
        actor,
        before=list(before),
        after=[opens_on.isoformat(), closes_on.isoformat()],
    )
    return measure


def set_four_eyes(
    session: Session, measure: Measure, actor: User | None, threshold_cents: int | None
) -> Measure:
    """Require a second operator for claims above ``threshold_cents`` (None: never)."""
    if threshold_cents is not None and (
        not isinstance(threshold_cents, int) or threshold_cents < 0
    ):
        raise ValidationFailed.single("threshold_cents", _l("Amounts cannot be negative."))
    before = measure.four_eyes_threshold_cents
    measure.four_eyes_threshold_cents = threshold_cents
    audit.record(
        session,
        "measure.four_eyes",
        measure,
        actor,
        before_cents=before,
        after_cents=threshold_cents,
    )
    return measure


def move_budget(
    session: Session,
    source: Measure,
    target: Measure,
    amount_cents: int,
    actor: User | None,
    reason: str,
    today: date | None = None,
) -> list[Application]:
    """Move allocation from one measure to another of the same project, in one transaction;
    a first-come target's waiting list moves on (returned)."""
    reason = (reason or "").strip()
    errors: dict[str, list[object]] = {}

    def add(field: str, message: object) -> None:
        errors.setdefault(field, []).append(message)

    source_line, target_line = _line(source), _line(target)
    session.refresh(source_line)
    if source.id == target.id:
        add("target", _l("Choose another measure than this one."))
    elif source.project_id != target.project_id:
        add("target", _l("Budget can only move between measures of the same project."))
    if not isinstance(amount_cents, int) or amount_cents <= 0:
        add("amount_cents", _l("The amount must be greater than zero."))
    elif amount_cents > source_line.available_cents:
        add(
            "amount_cents",
            _l(
                "At most %(amount)s can be moved: the rest is reserved or spent.",
                amount=format_money(max(0, source_line.available_cents)),
            ),
        )
    if not reason:
        add("reason", _l("Say why the budget is moved."))
    elif len(reason) > MAX_REASON:
        add("reason", _l("At most 500 characters."))
    if errors:
        raise ValidationFailed(errors)
    note = reason[:MAX_REASON]
    try:
        budget.change_allocation(session, source_line.id, -amount_cents, actor, note)
    except Conflict:
        session.refresh(source_line)
        raise Conflict(
            _l(
                "Vouchers were granted meanwhile: at most %(amount)s can be moved now.",
                amount=format_money(max(0, source_line.available_cents)),
            )
        ) from None
    budget.change_allocation(session, target_line.id, amount_cents, actor, note)
    audit.record(
        session,
        "budget.move",
        source,
        actor,
        reason=reason,
        amount_cents=amount_cents,
        source_measure_id=source.id,
        target_measure_id=target.id,
    )
    return waitlist.promote(session, target, today)
