"""The money invariants hold over random sequences of the real services.

A hypothesis state machine applies; confirms, denies and ends employments (HR); approves,
rejects, waitlists and withdraws applications; opens claims, uploads receipts and sends
claims; reviews them (approve in full or in part, with four eyes above a threshold, set a
receipt aside, ask for information, reject); pays them; revokes and expires vouchers; and
moves a simulated "today" forward past the project's end, in any order. A step that the
services refuse (IllegalTransition, Conflict, ValidationFailed) must leave the database
exactly as it was; after every step the budget lines, vouchers, claims and the ledger
must agree (see ``MoneyMachine.money_adds_up``).

Every example builds its own alliance, project, measures, workers and operators, so the
examples of one run share a database without seeing each other: the invariants only look
at what the example built. The machine is driven by ``run_state_machine_as_test`` inside
an ordinary test, so it gets the parametrised ``app``/``db`` fixtures (SQLite always,
PostgreSQL when configured) without ``@given`` on a function-scoped fixture.
"""

from __future__ import annotations

import io
import random
import time
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from PIL import Image
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, selectinload
from werkzeug.datastructures import FileStorage

from tests import factories
from voucher.models import (
    Allocation,
    Application,
    ApplicationStatus,
    BudgetLine,
    Claim,
    ClaimStatus,
    Employment,
    EmploymentStatus,
    LedgerEntry,
    LedgerKind,
    MeasureKind,
    OrganisationKind,
    Receipt,
    Role,
    Voucher,
    VoucherStatus,
)
from voucher.models.base import utcnow
from voucher.services import (
    applications,
    budget,
    claims,
    expiry,
    hr,
    review,
    structure,
    uploads,
)
from voucher.services.errors import Conflict, IllegalTransition, ValidationFailed

START = date(2026, 9, 15)
PROJECT_START, PROJECT_END = date(2026, 1, 1), date(2026, 10, 31)
REFUSALS = (IllegalTransition, Conflict, ValidationFailed)
DECIDED = (ClaimStatus.APPROVED, ClaimStatus.PARTIALLY_APPROVED, ClaimStatus.PAID)
PAYABLE = (ClaimStatus.APPROVED, ClaimStatus.PARTIALLY_APPROVED)
ENDED = (VoucherStatus.EXPIRED, VoucherStatus.REVOKED)
MAX_ADVANCES = 3
MAX_UPLOAD = 10 * 1024 * 1024
SUPPLIER_VAT = factories.vat(4242)

# Amounts around the measures' caps and budgets, so that refusals and exhaustion happen.
amounts = st.integers(min_value=5_00, max_value=320_00)
picks = st.integers(min_value=0, max_value=1_000)
# An approval in full (None) or of a share, in percent, of the most allowed: above 100 the
# services must refuse it (rule 3, or more than was requested).
shares = st.none() | st.integers(min_value=1, max_value=120)
# (mode, index): mode 9 means any entity, 0-8 one the step can apply to (see the rules).
# Any entity is the rarer, bigger choice: hypothesis draws small numbers most often.
targets = st.tuples(st.integers(min_value=0, max_value=9), picks)


def tiny_jpeg(seed: int) -> bytes:
    """A small JPEG with bytes (hence SHA-256) of its own."""
    rng = random.Random(seed)
    image = Image.new("RGB", (16, 12), tuple(rng.randrange(256) for _ in range(3)))
    image.putpixel((rng.randrange(16), rng.randrange(12)), (rng.randrange(256), 0, 0))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()


def pick(items: list, index: int):
    return items[index % len(items)]


def awaiting_hr(e) -> bool:
    return e.status is EmploymentStatus.AWAITING_HR


def running(e) -> bool:
    return e.status is EmploymentStatus.CONFIRMED and e.ends_on is None


def approvable(a) -> bool:
    return a.status in applications.APPROVABLE


def rejectable(a) -> bool:
    return a.status in applications.REJECTABLE


def sent(a) -> bool:
    return a.status is ApplicationStatus.SUBMITTED


def withdrawable(a) -> bool:
    return a.status in applications.WITHDRAWABLE


def active(v) -> bool:
    return v.status is VoucherStatus.ACTIVE


def editable(c) -> bool:
    return c.status in claims.EDITABLE_STATUSES


def to_review(c) -> bool:
    return c.status is ClaimStatus.SUBMITTED


def payable(c) -> bool:
    return c.status in PAYABLE


def choose(items: list, target: tuple[int, int], fits) -> object:
    """An entity for a step: any of ``items`` (mode 9), else preferably one that ``fits``."""
    mode, index = target
    fitting = [item for item in items if fits(item)]
    return pick(fitting if mode < 9 and fitting else items, index)


class MoneyMachine(RuleBasedStateMachine):
    """One alliance's project with two measures, four workers, two operators and an HR."""

    def __init__(self, db: Session, folder: Path, stats: dict[str, int]) -> None:
        super().__init__()
        self.db, self.folder, self.stats = db, str(folder), stats
        self.today, self.advances = START, 0
        self._cache: dict[str, list] = {}
        self.done: dict[str, int] = defaultdict(int)  # accepted steps of this example
        stats["examples"] += 1
        company = factories.organisation(db)
        alliance = factories.alliance(
            db,
            partners=[
                company,
                factories.organisation(db),
                factories.organisation(db, OrganisationKind.COOPERATIVE),
            ],
        )
        project = structure.save_project(
            db,
            None,
            alliance=alliance,
            programme=factories.programme(db),
            title=f"Project {factories.seq()}",
            starts_on=PROJECT_START,
            ends_on=PROJECT_END,
            total_cents=100_000_00,
            regional_share_cents=70_000_00,
            cofunding_cents=30_000_00,
        )
        self.measures = [
            self._measure(project, Allocation.MANUAL, 500_00, four_eyes=150_00),
            self._measure(project, Allocation.FIRST_COME, 300_00, four_eyes=None),
        ]
        self.line_ids = [m.budget_line.id for m in self.measures]
        self.workers = [factories.user(db, Role.WORKER) for _ in range(4)]
        # Half the workers are confirmed from the start, half wait for HR.
        self.employments = [
            factories.employment(
                db,
                w,
                company,
                EmploymentStatus.CONFIRMED if i % 2 == 0 else EmploymentStatus.AWAITING_HR,
            )
            for i, w in enumerate(self.workers)
        ]
        self.operators = [factories.user(db, Role.OPERATOR, all_=alliance) for _ in range(2)]
        self.hr = factories.user(db, Role.HR, org=company)
        db.commit()

    def _measure(self, project, allocation, allocated_cents, four_eyes):
        return structure.save_measure(
            self.db,
            None,
            project=project,
            kind=MeasureKind.FAMILY_VOUCHER,
            title=f"Measure {factories.seq()}",
            reimbursement_rate_pct=80,
            cap_per_voucher_cents=250_00,
            cap_per_worker_year_cents=400_00,
            opens_on=PROJECT_START,
            closes_on=PROJECT_END,
            allocated_cents=allocated_cents,
            allocation=allocation,
            four_eyes_threshold_cents=four_eyes,
        )

    # --- what the example built -----------------------------------------------------------

    def _applications(self) -> list[Application]:
        return list(
            self.db.scalars(
                select(Application)
                .where(Application.measure_id.in_([m.id for m in self.measures]))
                .order_by(Application.id)
            )
        )

    def _vouchers(self) -> list[Voucher]:
        return list(
            self.db.scalars(
                select(Voucher)
                .where(Voucher.budget_line_id.in_(self.line_ids))
                .options(selectinload(Voucher.application).selectinload(Application.employment))
                .order_by(Voucher.id)
            )
        )

    def _claims(self) -> list[Claim]:
        return list(
            self.db.scalars(
                select(Claim)
                .join(Voucher, Claim.voucher_id == Voucher.id)
                .where(Voucher.budget_line_id.in_(self.line_ids))
                .options(selectinload(Claim.receipts))
                .order_by(Claim.id)
            )
        )

    def _listing(self, kind: str) -> list:
        """The example's entities of a kind, as they were after the last step (cached)."""
        if kind not in self._cache:
            self._cache[kind] = {
                "employments": lambda: list(self.employments),
                "applications": self._applications,
                "vouchers": self._vouchers,
                "claims": self._claims,
            }[kind]()
        return self._cache[kind]

    def _can(self, kind: str, fits) -> bool:
        """Whether some entity of ``kind`` fits a step (the rule's precondition)."""
        return any(fits(item) for item in self._listing(kind))

    def _target(self, kind: str, target: tuple[int, int], fits):
        return choose(self._listing(kind), target, fits)

    def _snapshot(self) -> tuple:
        """Everything the example's steps may change, read from the database (7 queries)."""
        db = self.db
        line_ids, measure_ids = self.line_ids, [m.id for m in self.measures]
        in_example = Voucher.budget_line_id.in_(line_ids)
        return (
            db.execute(
                select(
                    BudgetLine.id,
                    BudgetLine.allocated_cents,
                    BudgetLine.reserved_cents,
                    BudgetLine.spent_cents,
                    BudgetLine.paid_cents,
                )
                .where(BudgetLine.id.in_(line_ids))
                .order_by(BudgetLine.id)
            ).all(),
            db.scalar(
                select(func.count(LedgerEntry.id)).where(LedgerEntry.budget_line_id.in_(line_ids))
            ),
            db.execute(
                select(Application.id, Application.status)
                .where(Application.measure_id.in_(measure_ids))
                .order_by(Application.id)
            ).all(),
            db.execute(
                select(Voucher.id, Voucher.status, Voucher.used_cents)
                .where(in_example)
                .order_by(Voucher.id)
            ).all(),
            db.execute(
                select(
                    Claim.id,
                    Claim.status,
                    Claim.requested_cents,
                    Claim.approved_cents,
                    Claim.paid_at,
                    Claim.first_review_by_id,
                    Claim.first_review_cents,
                )
                .join(Voucher, Claim.voucher_id == Voucher.id)
                .where(in_example)
                .order_by(Claim.id)
            ).all(),
            db.execute(
                select(Receipt.id, Receipt.claim_id, Receipt.status)
                .join(Claim, Receipt.claim_id == Claim.id)
                .join(Voucher, Claim.voucher_id == Voucher.id)
                .where(in_example)
                .order_by(Receipt.id)
            ).all(),
            db.execute(
                select(Employment.id, Employment.status, Employment.ends_on)
                .where(Employment.id.in_([e.id for e in self.employments]))
                .order_by(Employment.id)
            ).all(),
        )

    def _attempt(self, name: str, action) -> object | None:
        """Run a step: commit if the services accept it; if they refuse, nothing changed."""
        self.db.expire_all()
        before = self._snapshot()
        try:
            result = action()
        except REFUSALS:
            self.db.rollback()
            self.stats["refused"] += 1
            assert self._snapshot() == before, f"{name} was refused but changed something"
            return None
        self.db.commit()
        self.stats[name] += 1
        self.done[name] += 1
        return result

    @initialize(
        requests=st.lists(st.integers(5_00, 250_00), min_size=1, max_size=2),
        claim=st.none() | amounts,
    )
    def granted(self, requests: list[int], claim: int | None) -> None:
        """Start with a voucher or two (and a claim sent), so thirty steps reach payments."""
        for worker, amount in zip(self.workers[::2], requests, strict=False):  # confirmed
            application = applications.start(
                self.db,
                worker,
                self.measures[0],
                dependant=None,
                amount_requested_cents=amount,
                today=self.today,
            )
            applications.submit(self.db, application, worker, today=self.today)
            applications.approve(self.db, application, self.operators[0], today=self.today)
            self.db.commit()
            self.stats["granted"] += 1
        if claim is not None:
            self.add_receipt((0, 0), claim)
            self.submit_claim((0, 0))

    # --- rules ------------------------------------------------------------------------------
    # A target is drawn as (mode, index): mode 9 picks among every entity, so illegal
    # transitions are tried too; otherwise among those the step can apply to (if any), so
    # that thirty steps reach claims and payments rather than being mostly refused.

    @rule(worker=picks, measure=picks, amount=amounts)
    def apply(self, worker: int, measure: int, amount: int) -> None:
        """A worker starts and sends an application (first-come measures decide at once)."""
        w, m = pick(self.workers, worker), pick(self.measures, measure)

        def run() -> None:
            application = applications.start(
                self.db, w, m, dependant=None, amount_requested_cents=amount, today=self.today
            )
            applications.submit(self.db, application, w, today=self.today)

        self._attempt("apply", run)

    @precondition(lambda self: self._can("employments", awaiting_hr))
    @rule(employment=targets)
    def confirm_employment(self, employment: tuple[int, int]) -> None:
        """HR confirms a declared employment; the applications that waited move on."""
        e = self._target("employments", employment, awaiting_hr)
        self._attempt("confirm_employment", lambda: hr.confirm(self.db, e, self.hr, self.today))

    @precondition(lambda self: self._can("employments", awaiting_hr))
    @rule(employment=targets)
    def deny_employment(self, employment: tuple[int, int]) -> None:
        """HR denies it; the applications that waited for it are rejected."""
        e = self._target("employments", employment, awaiting_hr)
        self._attempt(
            "deny_employment",
            lambda: hr.deny(self.db, e, self.hr, "Not employed here", today=self.today),
        )

    @precondition(lambda self: self._can("employments", running))
    @rule(employment=targets, days=st.integers(min_value=-20, max_value=20))
    def end_employment(self, employment: tuple[int, int], days: int) -> None:
        """HR records a leaver: vouchers of that employment take no new claims after it."""
        e = self._target("employments", employment, running)
        self._attempt(
            "end_employment",
            lambda: hr.set_end_date(self.db, e, self.hr, self.today + timedelta(days=days)),
        )

    @precondition(lambda self: self._can("applications", approvable))
    @rule(application=targets, operator=picks, share=shares)
    def approve(self, application: tuple[int, int], operator: int, share: int | None) -> None:
        """An operator approves (the budget reserved), or the budget waitlists it."""
        a = self._target("applications", application, approvable)
        amount = None if share is None else a.amount_requested_cents * share // 100
        before = self._snapshot()
        try:
            applications.approve(
                self.db, a, pick(self.operators, operator), amount, today=self.today
            )
        except Conflict:
            # The budget is short: approve() waitlisted it, which is kept; no money moved.
            self.db.commit()
            self.db.expire_all()
            assert a.status is ApplicationStatus.WAITLISTED
            assert a.voucher is None
            after = self._snapshot()
            assert after[:2] == before[:2], "a waitlisting moved money"
            self.stats["waitlisted_by_budget"] += 1
            return
        except (IllegalTransition, ValidationFailed):
            self.db.rollback()
            self.stats["refused"] += 1
            assert self._snapshot() == before, "a refused approval changed something"
            return
        self.db.commit()
        self.stats["approve"] += 1

    @precondition(lambda self: self._can("applications", rejectable))
    @rule(application=targets, operator=picks)
    def reject(self, application: tuple[int, int], operator: int) -> None:
        a = self._target("applications", application, rejectable)
        self._attempt(
            "reject",
            lambda: applications.reject(self.db, a, pick(self.operators, operator), "Not eligible"),
        )

    @precondition(lambda self: self._can("applications", sent))
    @rule(application=targets, operator=picks)
    def waitlist(self, application: tuple[int, int], operator: int) -> None:
        a = self._target("applications", application, sent)
        self._attempt(
            "waitlist",
            lambda: applications.waitlist(self.db, a, pick(self.operators, operator), "Later"),
        )

    @precondition(lambda self: self._can("applications", withdrawable))
    @rule(application=targets)
    def withdraw(self, application: tuple[int, int]) -> None:
        a = self._target("applications", application, withdrawable)
        self._attempt("withdraw", lambda: applications.withdraw(self.db, a, a.worker))

    @precondition(lambda self: self._can("vouchers", active))
    @rule(voucher=targets, amount=amounts)
    def add_receipt(self, voucher: tuple[int, int], amount: int) -> None:
        """The worker opens (or reopens) a claim on a voucher and uploads a receipt."""
        v = self._target("vouchers", voucher, active)
        n = factories.seq()

        def run() -> None:
            claim = claims.open_claim(self.db, v.worker, v, self.today)
            upload = FileStorage(
                io.BytesIO(tiny_jpeg(n)), filename="scontrino.jpg", content_type="image/jpeg"
            )
            stored = uploads.store_upload(upload, self.folder, MAX_UPLOAD)
            claims.add_receipt(
                self.db,
                claim,
                stored,
                supplier_name="Asilo nido Il Girasole",
                supplier_vat=SUPPLIER_VAT,
                document_number=f"FT {n}/2026",
                issued_on=self.today,
                amount_cents=amount,
                folder=self.folder,
                today=self.today,
            )

        self._attempt("add_receipt", run)

    @precondition(lambda self: self._can("claims", editable))
    @rule(claim=targets)
    def submit_claim(self, claim: tuple[int, int]) -> None:
        c = self._target("claims", claim, editable)
        self._attempt("submit_claim", lambda: claims.submit(self.db, c, c.worker, today=self.today))

    @precondition(lambda self: self._can("claims", to_review))
    @rule(claim=targets, operator=picks, share=shares)
    def approve_claim(self, claim: tuple[int, int], operator: int, share: int | None) -> None:
        """An operator approves a claim, in full or in part (a second one above four-eyes)."""
        c = self._target("claims", claim, to_review)
        amount = None if share is None else review.limits(c).max_cents * share // 100
        self._attempt(
            "approve_claim",
            lambda: review.approve(
                self.db, c, pick(self.operators, operator), amount_cents=amount, today=self.today
            ),
        )

    @precondition(lambda self: self._can("claims", to_review))
    @rule(claim=targets, operator=picks)
    def reject_claim(self, claim: tuple[int, int], operator: int) -> None:
        c = self._target("claims", claim, to_review)
        self._attempt(
            "reject_claim",
            lambda: review.reject(self.db, c, pick(self.operators, operator), "Not eligible"),
        )

    @precondition(lambda self: self._can("claims", to_review))
    @rule(claim=targets, operator=picks)
    def ask_info(self, claim: tuple[int, int], operator: int) -> None:
        c = self._target("claims", claim, to_review)
        self._attempt(
            "ask_info",
            lambda: review.ask_info(self.db, c, pick(self.operators, operator), "Which child?"),
        )

    @precondition(lambda self: self._can("claims", to_review))
    @rule(claim=targets, operator=picks, receipt=picks)
    def reject_receipt(self, claim: tuple[int, int], operator: int, receipt: int) -> None:
        """An operator sets a receipt aside: it no longer counts (and clears a first review)."""
        c = self._target("claims", claim, to_review)
        r = pick(c.receipts, receipt)
        self._attempt(
            "reject_receipt",
            lambda: review.reject_receipt(self.db, r, pick(self.operators, operator), "Unreadable"),
        )

    @precondition(lambda self: self.done["revoke"] < 1 and self._can("vouchers", active))
    @rule(voucher=targets, operator=picks)
    def revoke(self, voucher: tuple[int, int], operator: int) -> None:
        """An operator revokes a voucher: what it did not use and no request needs goes back."""
        v = self._target("vouchers", voucher, active)
        self._attempt(
            "revoke",
            lambda: expiry.revoke(
                self.db, v, pick(self.operators, operator), "Not entitled", today=self.today
            ),
        )

    @precondition(lambda self: self._can("claims", payable))
    @rule(claim=targets, operator=picks)
    def pay(self, claim: tuple[int, int], operator: int) -> None:
        """The approved amount leaves the bank once: claim paid, ledger "pay" entry."""
        c = self._target("claims", claim, payable)

        def run() -> None:
            if c.status not in PAYABLE or not c.approved_cents:
                raise IllegalTransition("not payable")
            moved = self.db.execute(
                update(Claim)
                .where(Claim.id == c.id, Claim.status.in_(PAYABLE))
                .values(status=ClaimStatus.PAID, paid_at=utcnow())
                .execution_options(synchronize_session=False)
            )
            if moved.rowcount != 1:
                raise IllegalTransition("paid meanwhile")
            budget.pay(
                self.db,
                c.voucher.budget_line_id,
                c.approved_cents,
                pick(self.operators, operator),
                ("claim", c.id),
            )
            return c

        if self._attempt("pay", run) is not None:
            # A retried payout (or a webhook arriving twice) pays nothing more (rule 4).
            assert self._attempt("pay", run) is None, "a claim was paid twice"

    @precondition(lambda self: self.advances < MAX_ADVANCES)
    @rule(days=st.integers(min_value=1, max_value=30))
    def advance(self, days: int) -> None:
        """Time passes: the project ends on PROJECT_END, and its vouchers then expire.

        A few times per example at most, so that an example does not spend its steps after
        the end, where nearly everything is refused.
        """
        self.today += timedelta(days=days)
        self.advances += 1
        self.stats["advance"] += 1

    @precondition(lambda self: self.today > PROJECT_END)
    @rule()
    def expire(self) -> None:
        """The daily job (idempotent): expired vouchers give back what no request needs."""
        result = self._attempt("expire", lambda: expiry.expire_vouchers(self.db, self.today))
        assert result is not None, "the expiry job must never be refused"
        self.db.expire_all()
        given_back = self._released()
        for v in self._vouchers():
            if v.status is VoucherStatus.ACTIVE:
                assert v.valid_until >= self.today, "a voucher past its end date is still active"
            elif v.status in ENDED:
                # Right after the job, an ended voucher keeps only what pending requests need.
                outstanding = v.remaining_cents - given_back.get(v.id, 0)
                assert 0 <= outstanding <= expiry.held_cents(self.db, v)

    def _released(self) -> dict[int, int]:
        """Per voucher, what it gave back to its line (as ``expiry.released_cents``)."""
        return {
            voucher_id: int(total)
            for voucher_id, total in self.db.execute(
                select(LedgerEntry.reference_id, func.sum(LedgerEntry.amount_cents))
                .where(
                    LedgerEntry.budget_line_id.in_(self.line_ids),
                    LedgerEntry.kind == LedgerKind.RELEASE,
                    LedgerEntry.reference_type == expiry.REFERENCE,
                )
                .group_by(LedgerEntry.reference_id)
            )
        }

    # --- invariants ---------------------------------------------------------------------

    @invariant()
    def money_adds_up(self) -> None:
        """After every step, for the example's lines, vouchers, claims and applications.

        - every line: 0 <= reserved, reserved + spent <= allocated, paid <= spent, and its
          balances equal the sums of its ledger;
        - every voucher: 0 <= used <= amount, used = what its decided claims approved;
        - reserved on a line = sum over its vouchers of (amount - used - given back).
          For an active voucher nothing is given back, so this is "the active vouchers'
          amount - used"; an ended (expired, revoked) voucher still holds what requests
          sent in time may need until they are decided (see ``voucher.services.expiry``);
        - rule 3: an approved claim never above the rate times its receipts that count;
        - one "spend" entry per decided claim, of the approved amount; one "reserve"
          entry per approved application, of its voucher's amount; none for the others;
        - rule 4: a paid claim has exactly one "pay" entry, of the approved amount;
        - rule 5: every voucher rests on an employment confirmed by HR.
        """
        self._cache.clear()  # invariants run after every step: the state may have changed
        db = self.db
        db.expire_all()
        vouchers = self._vouchers()
        claims_ = self._claims()
        given_back = self._released()
        by_line: dict[int, int] = defaultdict(int)
        for v in vouchers:
            assert 0 <= v.used_cents <= v.amount_cents
            released = given_back.get(v.id, 0)
            assert v.released_cents == released, "the voucher's released amount is not its ledger's"
            if v.status not in ENDED:
                assert released == 0, "an unended voucher gave money back"
            # What a voucher still holds on the line: granted, less used, less given back.
            holds = v.amount_cents - v.used_cents - released
            assert holds >= 0, "a voucher gave back more than it had left"
            by_line[v.budget_line_id] += holds
            decided = [c for c in claims_ if c.voucher_id == v.id and c.status in DECIDED]
            assert v.used_cents == sum(c.approved_cents or 0 for c in decided)
        for line_id in self.line_ids:
            line = db.get(BudgetLine, line_id)
            balances = budget.line_balances(line)
            assert balances.reserved_cents >= 0
            assert balances.reserved_cents + balances.spent_cents <= balances.allocated_cents
            assert balances.paid_cents <= balances.spent_cents
            assert budget.ledger_balances(db, line_id) == balances
            # Every reserved cent is accounted for by a voucher.
            assert balances.reserved_cents == by_line[line_id]
        entries: dict[tuple[LedgerKind, str, int | None], list[int]] = defaultdict(list)
        for kind, reference_type, reference_id, amount in db.execute(
            select(
                LedgerEntry.kind,
                LedgerEntry.reference_type,
                LedgerEntry.reference_id,
                LedgerEntry.amount_cents,
            )
            .where(LedgerEntry.budget_line_id.in_(self.line_ids))
            .order_by(LedgerEntry.id)
        ):
            entries[kind, reference_type, reference_id].append(amount)
        for c in claims_:
            spent = entries[LedgerKind.SPEND, "claim", c.id]
            paid = entries[LedgerKind.PAY, "claim", c.id]
            if c.status in DECIDED:
                # Rule 3: never above the rate times the receipts that count.
                assert c.approved_cents is not None
                assert 0 < c.approved_cents <= claims.rate_cents(c)
                assert spent == [c.approved_cents], "a decided claim not spent exactly once"
            else:
                assert c.approved_cents is None, "money approved on an undecided claim"
                assert not spent, "money spent on an undecided claim"
            if c.status is ClaimStatus.PAID:
                # Rule 4: paid once, the approved amount.
                assert c.paid_at is not None
                assert paid == [c.approved_cents]
            else:
                assert c.paid_at is None and not paid
        voucher_of = {v.application_id: v for v in vouchers}
        for a in self._applications():
            reserved = entries[LedgerKind.RESERVE, "application", a.id]
            if a.status is ApplicationStatus.APPROVED:
                assert a.id in voucher_of, "an approved application without its voucher"
                assert reserved == [voucher_of[a.id].amount_cents]
            else:
                assert a.id not in voucher_of and not reserved, "money reserved, not approved"
        # Rule 5: only a confirmed employment at a partner gets a voucher.
        for v in vouchers:
            employment = v.application.employment
            assert employment is not None and employment.status is EmploymentStatus.CONFIRMED

    def teardown(self) -> None:
        self.db.rollback()


SETTINGS = settings(max_examples=25, stateful_step_count=30, deadline=None)


@pytest.fixture
def folder(app, tmp_path: Path) -> Path:
    path = tmp_path / "uploads"
    app.config["UPLOAD_FOLDER"] = str(path)
    return path


def test_money_invariants_hold_over_random_sequences(db, database_url, folder):
    stats: dict[str, int] = defaultdict(int)
    started = time.perf_counter()
    run_state_machine_as_test(lambda: MoneyMachine(db, folder, stats), settings=SETTINGS)
    elapsed = time.perf_counter() - started
    steps = sum(n for step, n in stats.items() if step != "examples")
    # Shown with pytest -s: how much the run exercised (accepted steps by name, refusals).
    print(
        f"\n{database_url.split(':', 1)[0]}: {stats['examples']} examples, {steps} steps "
        f"in {elapsed:.1f} s; {dict(sorted(stats.items()))}"
    )
    assert stats["examples"] >= SETTINGS.max_examples


def test_the_machine_walks_the_whole_money_path(db, folder):
    """One fixed sequence through the same rules and invariants, every step accepted.

    The random run above may or may not reach a payment in a given run; this one always
    does, so the invariants are known to be checked on paid claims and expired vouchers.
    """
    stats: dict[str, int] = defaultdict(int)
    machine = MoneyMachine(db, folder, stats)
    first = (0, 0)  # the first entity the step applies to

    def step(rule, **kwargs) -> None:
        accepted = sum(n for name, n in stats.items() if name not in ("refused", "examples"))
        rule(**kwargs)
        machine.money_adds_up()
        assert stats["refused"] == 0, rule.__name__
        assert sum(n for name, n in stats.items() if name not in ("refused", "examples")) > (
            accepted
        ), f"{rule.__name__} was not accepted"

    # Two vouchers on the manual measure (four eyes above EUR 150): 200 and 100 euro.
    step(machine.granted, requests=[200_00, 100_00], claim=None)
    # EUR 300 of receipts at 80%: 240, within the voucher's 200 -> 200 reimbursable.
    step(machine.add_receipt, voucher=first, amount=300_00)
    step(machine.submit_claim, claim=first)
    step(machine.approve_claim, claim=first, operator=0, share=None)  # first review
    db.expire_all()
    assert machine._claims()[0].status is ClaimStatus.SUBMITTED
    machine.approve_claim(claim=first, operator=0, share=None)  # the same operator again
    assert stats["refused"] == 1
    stats["refused"] = 0
    step(machine.approve_claim, claim=first, operator=1, share=None)  # the second operator
    machine.pay(claim=first, operator=0)  # paid, then the retry inside is refused
    machine.money_adds_up()
    assert (stats["pay"], stats["refused"]) == (1, 1)
    stats["refused"] = 0
    # The second voucher, the only active one now: EUR 50 of receipts -> 40 approved.
    step(machine.add_receipt, voucher=first, amount=50_00)
    step(machine.submit_claim, claim=first)
    step(machine.approve_claim, claim=first, operator=0, share=None)
    step(machine.advance, days=30)
    step(machine.advance, days=30)
    step(machine.expire)

    db.expire_all()
    exhausted, expired = machine._vouchers()
    assert (exhausted.status, exhausted.used_cents) == (VoucherStatus.EXHAUSTED, 200_00)
    assert (expired.status, expired.used_cents) == (VoucherStatus.EXPIRED, 40_00)
    paid, approved = machine._claims()
    assert (paid.status, paid.approved_cents) == (ClaimStatus.PAID, 200_00)
    assert (approved.status, approved.approved_cents) == (ClaimStatus.APPROVED, 40_00)
    line = db.get(BudgetLine, machine.line_ids[0])
    # The expired voucher's unused EUR 60 went back: nothing is reserved any more.
    assert budget.line_balances(line) == budget.Balances(500_00, 0, 240_00, 200_00)
