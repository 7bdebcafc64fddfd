"""Eligibility and the application state machine, called directly (no HTTP).

Dates are fixed (``TODAY``) and passed in, so the rules never read the clock. Messages are
compared in English.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from flask_babel import force_locale
from sqlalchemy import event, func, select

from tests import factories
from voucher.extensions import db as _db
from voucher.models import (
    Allocation,
    Application,
    ApplicationStatus,
    BudgetLine,
    Dependant,
    DependantKind,
    Eligibility,
    EmploymentStatus,
    LedgerEntry,
    Measure,
    MeasureKind,
    Notification,
    Role,
    Voucher,
    VoucherStatus,
)
from voucher.services import applications, budget, eligibility, structure
from voucher.services.errors import Conflict, IllegalTransition, ValidationFailed

TODAY = date(2025, 6, 15)
S = ApplicationStatus


@pytest.fixture(autouse=True)
def english(app):
    """Service messages are rendered in English in these tests."""
    with force_locale("en"):
        yield


# --- helpers ----------------------------------------------------------------------------


def make_measure(db, proj=None, **overrides) -> Measure:
    """A measure with sensible defaults (2024-2027, 80%, € 500 per voucher, € 1.000 a year)."""
    values = {
        "project": proj or factories.project(db),
        "kind": MeasureKind.FAMILY_VOUCHER,
        "title": f"Measure {factories.seq()}",
        "reimbursement_rate_pct": 80,
        "cap_per_voucher_cents": 500_00,
        "cap_per_worker_year_cents": 1_000_00,
        "opens_on": date(2024, 1, 1),
        "closes_on": date(2027, 12, 31),
        "allocated_cents": 10_000_00,
        "allocation": Allocation.MANUAL,
    }
    values.update(overrides)
    return structure.save_measure(db, None, **values)


def partner_of(proj):
    """A non-lead partner organisation of the project's alliance."""
    return next(p.organisation for p in proj.alliance.partnerships if not p.organisation.is_public)


def worker_at(db, proj, status=EmploymentStatus.CONFIRMED, **employment):
    """A worker who declared employment at a partner of ``proj``'s alliance."""
    worker = factories.user(db, Role.WORKER)
    e = factories.employment(db, worker, partner_of(proj), status)
    for key, value in employment.items():
        setattr(e, key, value)
    db.flush()
    return worker


def relative(db, worker, kind=DependantKind.ELDERLY_RELATIVE, **extra) -> Dependant:
    d = Dependant(
        worker=worker,
        kind=kind,
        first_name="Rosa",
        last_name=worker.last_name,
        birth_date=date(1940, 3, 2),
        **extra,
    )
    db.add(d)
    db.flush()
    return d


def option(db, worker, measure, today=TODAY) -> eligibility.MeasureOption:
    return eligibility.option_for(db, worker, measure, today)


def texts(messages) -> str:
    return " | ".join(str(m) for m in messages)


def draft(db, worker, measure, amount=300_00, dependant=None, **kwargs) -> Application:
    return applications.start(
        db,
        worker,
        measure,
        dependant=dependant,
        amount_requested_cents=amount,
        today=TODAY,
        **kwargs,
    )


def sent(db, worker, measure, amount=300_00, dependant=None, **kwargs) -> Application:
    application = draft(db, worker, measure, amount, dependant, **kwargs)
    applications.submit(db, application, worker, TODAY)
    return application


def actions(db, application) -> list[str]:
    return [e.action for e in applications.timeline(db, application)]


def check_ledger(db, line: BudgetLine) -> None:
    db.refresh(line)
    assert budget.ledger_balances(db, line.id) == budget.line_balances(line)


def give_voucher(db, worker, measure, amount, valid_from=TODAY, status=VoucherStatus.ACTIVE):
    v = factories.voucher(db, worker, measure, amount)
    v.valid_from = valid_from
    v.status = status
    db.flush()
    return v


# --- who may apply ----------------------------------------------------------------------


def test_confirmed_employee_of_a_partner_is_eligible(db):
    measure = make_measure(db)
    worker = worker_at(db, measure.project)
    o = option(db, worker, measure)
    assert o.eligible and not o.reasons and not o.waitlist and not o.awaiting_hr
    assert o.employment.status is EmploymentStatus.CONFIRMED
    assert o.max_request_cents == 500_00
    assert eligibility.check_can_apply(db, worker, measure, TODAY).eligible


def test_no_employment_declared(db):
    measure = make_measure(db)
    worker = factories.user(db, Role.WORKER)
    o = option(db, worker, measure)
    assert not o.eligible
    assert "Declare where you work first" in texts(o.reasons)
    assert measure.project.alliance.name in texts(o.reasons)
    assert not eligibility.has_declared_employment(db, worker)
    with pytest.raises(ValidationFailed) as exc:
        eligibility.check_can_apply(db, worker, measure, TODAY)
    assert "Declare where you work" in str(exc.value)


def test_employer_not_a_partner_of_the_alliance(db):
    measure = make_measure(db)
    worker = factories.user(db, Role.WORKER)
    factories.employment(db, worker, factories.organisation(db))
    o = option(db, worker, measure)
    assert not o.eligible
    assert "the employer you declared is not one of them" in texts(o.reasons)
    assert eligibility.has_declared_employment(db, worker)


def test_employer_partner_of_another_alliance_only(db):
    measure = make_measure(db)
    other = factories.project(db)
    worker = worker_at(db, other)
    assert not option(db, worker, measure).eligible
    assert option(db, worker, make_measure(db, other)).eligible


def test_employment_denied_by_hr(db):
    measure = make_measure(db)
    worker = worker_at(db, measure.project, EmploymentStatus.DENIED)
    o = option(db, worker, measure)
    assert not o.eligible
    assert "did not confirm that you work there" in texts(o.reasons)


def test_employment_ended(db):
    measure = make_measure(db)
    worker = worker_at(db, measure.project, ends_on=date(2025, 3, 31))
    o = option(db, worker, measure)
    assert not o.eligible
    assert "ended on March 31, 2025" in texts(o.reasons)
    # The day it ends it still counts.
    assert option(db, worker, measure, date(2025, 3, 31)).eligible


def test_employment_not_started_yet(db):
    measure = make_measure(db)
    worker = worker_at(db, measure.project, starts_on=date(2025, 9, 1))
    o = option(db, worker, measure)
    assert not o.eligible
    assert "starts on September 1, 2025" in texts(o.reasons)


def test_awaiting_hr_is_usable_but_says_the_application_will_wait(db):
    measure = make_measure(db)
    worker = worker_at(db, measure.project, EmploymentStatus.AWAITING_HR)
    o = option(db, worker, measure)
    assert o.eligible and o.awaiting_hr
    assert "will wait for their confirmation" in texts(o.notices)


def test_a_confirmed_employment_wins_over_a_pending_one(db):
    measure = make_measure(db)
    worker = worker_at(db, measure.project, EmploymentStatus.AWAITING_HR)
    others = [
        p.organisation
        for p in measure.project.alliance.partnerships
        if p.organisation is not partner_of(measure.project)
    ]
    factories.employment(db, worker, others[0], EmploymentStatus.CONFIRMED)
    o = option(db, worker, measure)
    assert o.employment.organisation is others[0] and not o.notices


def test_residence_measure_needs_no_employment(db):
    measure = make_measure(
        db, eligibility=Eligibility.RESIDENTS, residence_area="Tradate, Venegono Superiore"
    )
    worker = factories.user(db, Role.WORKER)
    o = option(db, worker, measure)
    assert o.eligible and o.employment is None
    assert "Tradate, Venegono Superiore" in texts(o.notices)
    assert o.municipalities == ["Tradate", "Venegono Superiore"]


def test_residence_rule_checks_the_declared_municipality(db):
    measure = make_measure(
        db, eligibility=Eligibility.RESIDENTS, residence_area="Tradate, Venegono Superiore"
    )
    worker = factories.user(db, Role.WORKER)
    with pytest.raises(ValidationFailed) as exc:
        draft(db, worker, measure)
    assert exc.value.errors["municipality"]
    with pytest.raises(ValidationFailed) as exc:
        draft(db, worker, measure, municipality="Varese")
    assert "only for people who live in Tradate, Venegono Superiore" in texts(
        exc.value.errors["municipality"]
    )
    application = draft(db, worker, measure, municipality="  venegono   SUPERIORE ")
    assert applications.declared_municipality(db, application) == "venegono SUPERIORE"
    applications.submit(db, application, worker, TODAY)
    assert application.status is S.SUBMITTED and application.employment_id is None
    assert eligibility.lives_in_area(measure, "TRADATE")
    assert not eligibility.lives_in_area(measure, "")


def test_window_not_open_yet_and_closed(db):
    proj = factories.project(db)
    later = make_measure(db, proj, opens_on=date(2025, 9, 1), closes_on=date(2025, 12, 31))
    earlier = make_measure(db, proj, opens_on=date(2024, 1, 1), closes_on=date(2025, 5, 31))
    worker = worker_at(db, proj)
    o = option(db, worker, later)
    assert not o.eligible and "Applications open on September 1, 2025." in texts(o.reasons)
    o = option(db, worker, earlier)
    assert not o.eligible and "Applications closed on May 31, 2025." in texts(o.reasons)
    assert option(db, worker, later, date(2025, 9, 1)).eligible


def test_several_reasons_are_all_given(db):
    measure = make_measure(db, opens_on=date(2025, 9, 1))
    o = option(db, factories.user(db, Role.WORKER), measure)
    assert len(o.reasons) == 2


# --- how much ---------------------------------------------------------------------------


def test_budget_left_for_the_measure_and_the_project(db):
    proj = factories.project(db)
    measure = make_measure(db, proj, allocated_cents=2_000_00)
    make_measure(db, proj, allocated_cents=3_000_00)
    worker = worker_at(db, proj)
    give_voucher(db, factories.user(db, Role.WORKER), measure, 400_00)
    budget.spend(db, measure.budget_line.id, 100_00, None, ("claim", 1))
    o = option(db, worker, measure)
    assert o.measure_left_cents == 2_000_00 - 400_00
    assert o.project_left_cents == 5_000_00 - 400_00


def test_yearly_cap_counts_this_years_vouchers_only(db):
    measure = make_measure(db, cap_per_voucher_cents=500_00, cap_per_worker_year_cents=800_00)
    worker = worker_at(db, measure.project)
    give_voucher(db, worker, measure, 500_00, valid_from=date(2024, 11, 1))  # last year
    give_voucher(db, worker, measure, 200_00)
    give_voucher(db, factories.user(db, Role.WORKER), measure, 500_00)  # someone else
    o = option(db, worker, measure)
    assert o.used_this_year_cents == 200_00
    assert o.max_request_cents == 500_00  # min(500, 800 - 200)
    give_voucher(db, worker, measure, 400_00)
    o = option(db, worker, measure)
    assert o.used_this_year_cents == 600_00 and o.max_request_cents == 200_00
    with pytest.raises(ValidationFailed) as exc:
        draft(db, worker, measure, amount=200_01)
    assert "at most €200.00" in texts(exc.value.errors["amount_requested_cents"])
    assert draft(db, worker, measure, amount=200_00).status is S.DRAFT


def test_yearly_cap_reached(db):
    measure = make_measure(db, cap_per_voucher_cents=500_00, cap_per_worker_year_cents=500_00)
    worker = worker_at(db, measure.project)
    give_voucher(db, worker, measure, 500_00)
    o = option(db, worker, measure)
    assert not o.eligible and o.max_request_cents == 0
    assert "already received €500.00 this year" in texts(o.reasons)
    # Next year the cap starts again.
    assert option(db, worker, measure, date(2026, 1, 2)).eligible


def test_revoked_voucher_counts_only_what_was_used(db):
    measure = make_measure(db, cap_per_voucher_cents=500_00, cap_per_worker_year_cents=500_00)
    worker = worker_at(db, measure.project)
    v = give_voucher(db, worker, measure, 500_00, status=VoucherStatus.REVOKED)
    v.used_cents = 100_00
    db.flush()
    assert option(db, worker, measure).max_request_cents == 400_00


def test_no_yearly_cap(db):
    measure = make_measure(db, cap_per_worker_year_cents=None)
    worker = worker_at(db, measure.project)
    give_voucher(db, worker, measure, 500_00)
    give_voucher(db, worker, measure, 500_00)
    assert option(db, worker, measure).max_request_cents == 500_00


def test_exhausted_budget_means_waiting_list(db):
    measure = make_measure(db, allocated_cents=300_00)
    give_voucher(db, factories.user(db, Role.WORKER), measure, 300_00)
    worker = worker_at(db, measure.project)
    o = option(db, worker, measure)
    assert o.eligible and o.waitlist and o.measure_left_cents == 0
    assert "waiting list" in texts(o.notices)
    # Not eligible for another reason: no waiting list to speak of.
    assert not option(db, factories.user(db, Role.WORKER), measure).waitlist


# --- the list ---------------------------------------------------------------------------


def test_measures_for_lists_running_projects_usable_first(db):
    proj = factories.project(db)
    closed = make_measure(db, proj, title="Closed", closes_on=date(2025, 1, 31))
    usable = make_measure(db, proj, title="Usable")
    consulting = make_measure(db, proj, kind=MeasureKind.WELFARE_CONSULTING)
    old = factories.project(db)
    old.ends_on = date(2025, 5, 31)
    finished = make_measure(db, old, closes_on=date(2025, 5, 31))
    worker = worker_at(db, proj)
    options = eligibility.measures_for(db, worker, TODAY)
    ids = [o.measure.id for o in options]
    assert ids.index(usable.id) < ids.index(closed.id)
    assert consulting.id not in ids and finished.id not in ids
    assert [o.eligible for o in options] == sorted((o.eligible for o in options), reverse=True)


def test_measures_for_uses_a_fixed_number_of_queries(db):
    proj = factories.project(db)
    worker = worker_at(db, proj)
    make_measure(db, proj)
    db.commit()

    def count_queries() -> int:
        statements: list[str] = []

        def listener(*args):
            statements.append(args[2])

        db.expire_all()
        event.listen(_db.engine, "before_cursor_execute", listener)
        try:
            options = eligibility.measures_for(db, worker, TODAY)
            for o in options:  # what the page reads must already be loaded
                _ = (o.measure.project.alliance.name, o.measure.budget_line, o.reasons)
                _ = o.employment.organisation.name if o.employment else None
        finally:
            event.remove(_db.engine, "before_cursor_execute", listener)
        return len(statements)

    few = count_queries()
    for _ in range(6):
        make_measure(db, factories.project(db))
    for _ in range(3):
        make_measure(db, proj)
    db.commit()
    assert count_queries() == few <= 6, few


# --- starting and sending ---------------------------------------------------------------


def test_start_creates_a_draft_and_audits_it(db):
    measure = make_measure(db)
    worker = worker_at(db, measure.project)
    application = draft(db, worker, measure, notes="  Weekdays  ")
    assert application.status is S.DRAFT and application.notes == "Weekdays"
    assert application.employment_id == option(db, worker, measure).employment.id
    assert actions(db, application) == ["application.start"]


@pytest.mark.parametrize("amount", [0, -100, None])
def test_amount_must_be_positive(db, amount):
    measure = make_measure(db)
    with pytest.raises(ValidationFailed) as exc:
        draft(db, worker_at(db, measure.project), measure, amount=amount)
    assert "amount_requested_cents" in exc.value.errors


def test_amount_at_most_the_cap_per_voucher(db):
    measure = make_measure(db)
    worker = worker_at(db, measure.project)
    with pytest.raises(ValidationFailed) as exc:
        draft(db, worker, measure, amount=500_01)
    assert "at most €500.00" in texts(exc.value.errors["amount_requested_cents"])
    assert draft(db, worker, measure, amount=500_00)


def test_start_refused_when_not_eligible(db):
    measure = make_measure(db)
    with pytest.raises(ValidationFailed):
        draft(db, factories.user(db, Role.WORKER), measure)
    assert db.scalar(select(func.count(Application.id))) == 0


@pytest.mark.parametrize("kind", [MeasureKind.CHILDCARE, MeasureKind.SUMMER_CAMP])
def test_child_measures_need_a_child(db, kind):
    measure = make_measure(db, kind=kind)
    worker = worker_at(db, measure.project)
    with pytest.raises(ValidationFailed) as exc:
        draft(db, worker, measure)
    assert "Choose the child" in texts(exc.value.errors["dependant"])
    with pytest.raises(ValidationFailed) as exc:
        draft(db, worker, measure, dependant=relative(db, worker))
    assert "for children" in texts(exc.value.errors["dependant"])
    child = factories.child(db, worker)
    assert draft(db, worker, measure, dependant=child).dependant_id == child.id
    assert applications.suitable_dependants(db, worker, measure) == [child]


def test_care_measures_need_an_elderly_or_disabled_relative(db):
    measure = make_measure(db, kind=MeasureKind.HOME_CARE)
    worker = worker_at(db, measure.project)
    with pytest.raises(ValidationFailed) as exc:
        draft(db, worker, measure, dependant=factories.child(db, worker))
    assert "elderly or disabled" in texts(exc.value.errors["dependant"])
    with pytest.raises(ValidationFailed):
        draft(db, worker, measure)
    assert draft(db, worker, measure, dependant=relative(db, worker))
    disabled_child = factories.child(db, worker, "Luca")
    disabled_child.has_disability = True
    assert draft(db, worker, measure, dependant=disabled_child)
    assert draft(
        db, worker, measure, dependant=relative(db, worker, DependantKind.DISABLED_RELATIVE)
    )


@pytest.mark.parametrize(
    "kind", [MeasureKind.TIME_SAVING, MeasureKind.COWORKING, MeasureKind.FAMILY_VOUCHER]
)
def test_dependant_optional_for_services_to_the_worker(db, kind):
    measure = make_measure(db, kind=kind)
    worker = worker_at(db, measure.project)
    assert draft(db, worker, measure).dependant_id is None
    assert draft(db, worker, measure, dependant=factories.child(db, worker))


def test_someone_elses_dependant_is_refused(db):
    measure = make_measure(db, kind=MeasureKind.CHILDCARE)
    worker = worker_at(db, measure.project)
    other_child = factories.child(db, factories.user(db, Role.WORKER))
    with pytest.raises(ValidationFailed) as exc:
        draft(db, worker, measure, dependant=other_child)
    assert "one of your family members" in texts(exc.value.errors["dependant"])


def test_one_open_application_per_measure_and_dependant(db):
    measure = make_measure(db)
    worker = worker_at(db, measure.project)
    first = sent(db, worker, measure)
    with pytest.raises(ValidationFailed) as exc:
        draft(db, worker, measure)
    assert "already have an application in progress" in str(exc.value)
    # Another child is another application; another measure too.
    assert draft(db, worker, measure, dependant=factories.child(db, worker))
    assert draft(db, worker, make_measure(db, measure.project))
    applications.withdraw(db, first, worker)
    assert draft(db, worker, measure)


def test_update_draft(db):
    measure = make_measure(db)
    worker = worker_at(db, measure.project)
    application = draft(db, worker, measure)
    child = factories.child(db, worker)
    applications.update_draft(
        db,
        application,
        worker,
        dependant=child,
        amount_requested_cents=450_00,
        notes="July",
        today=TODAY,
    )
    assert (application.dependant, application.amount_requested_cents) == (child, 450_00)
    with pytest.raises(ValidationFailed):
        applications.update_draft(
            db, application, worker, dependant=None, amount_requested_cents=600_00, today=TODAY
        )
    applications.submit(db, application, worker, TODAY)
    with pytest.raises(IllegalTransition):
        applications.update_draft(
            db, application, worker, dependant=None, amount_requested_cents=100_00, today=TODAY
        )
    assert application.amount_requested_cents == 450_00
    assert actions(db, application)[:2] == ["application.start", "application.update"]


def test_submit_with_confirmed_employment(db):
    measure = make_measure(db)
    worker = worker_at(db, measure.project)
    application = sent(db, worker, measure)
    assert application.status is S.SUBMITTED and application.submitted_at is not None
    assert actions(db, application) == ["application.start", "application.submit"]


def test_submit_with_pending_employment_waits_for_hr(db):
    measure = make_measure(db)
    worker = worker_at(db, measure.project, EmploymentStatus.AWAITING_HR)
    application = sent(db, worker, measure)
    assert application.status is S.AWAITING_HR and application.submitted_at is not None
    assert actions(db, application)[-2:] == ["application.submit", "application.awaiting_hr"]


def test_submit_rechecks_eligibility(db):
    measure = make_measure(db)
    worker = worker_at(db, measure.project)
    application = draft(db, worker, measure)
    application.employment.status = EmploymentStatus.DENIED
    db.flush()
    with pytest.raises(ValidationFailed) as exc:
        applications.submit(db, application, worker, TODAY)
    assert "did not confirm" in str(exc.value)
    assert application.status is S.DRAFT and application.submitted_at is None
    with pytest.raises(ValidationFailed):  # nor after the window closed
        applications.submit(db, application, worker, date(2028, 1, 1))


def test_submit_twice_is_an_illegal_transition(db):
    measure = make_measure(db)
    worker = worker_at(db, measure.project)
    application = sent(db, worker, measure)
    with pytest.raises(IllegalTransition, match="Only a draft can be sent"):
        applications.submit(db, application, worker, TODAY)
    assert application.status is S.SUBMITTED


# --- decisions --------------------------------------------------------------------------


def test_approve_reserves_and_creates_the_voucher(db):
    measure = make_measure(db)
    worker = worker_at(db, measure.project)
    operator = factories.user(db, Role.OPERATOR, all_=measure.project.alliance)
    application = sent(db, worker, measure, amount=400_00)
    voucher = applications.approve(db, application, operator, 350_00, TODAY)
    db.commit()
    assert application.status is S.APPROVED
    assert application.decided_by_id == operator.id and application.decided_at is not None
    assert (voucher.amount_cents, voucher.valid_from, voucher.valid_until) == (
        350_00,
        TODAY,
        measure.project.ends_on,
    )
    assert voucher.budget_line_id == measure.budget_line.id and voucher.worker_id == worker.id
    line = measure.budget_line
    check_ledger(db, line)
    assert line.reserved_cents == 350_00
    entry = db.scalars(select(LedgerEntry).where(LedgerEntry.kind == "reserve")).one()
    assert (entry.reference_type, entry.reference_id) == ("application", application.id)
    assert actions(db, application)[-1] == "application.approve"
    notification = db.scalars(select(Notification).where(Notification.user_id == worker.id)).one()
    assert notification.link == f"/worker/applications/{application.id}"
    # It now counts towards the yearly cap.
    assert option(db, worker, measure).used_this_year_cents == 350_00


def test_approve_amount_at_most_requested(db):
    measure = make_measure(db)
    application = sent(db, worker_at(db, measure.project), measure, amount=300_00)
    with pytest.raises(ValidationFailed):
        applications.approve(db, application, None, 300_01, TODAY)
    with pytest.raises(ValidationFailed):
        applications.approve(db, application, None, 0, TODAY)
    assert application.status is S.SUBMITTED and application.voucher is None


def test_approve_refused_without_confirmed_employment(db):
    measure = make_measure(db)
    worker = worker_at(db, measure.project)
    application = sent(db, worker, measure)
    application.employment.status = EmploymentStatus.AWAITING_HR  # HR took it back
    db.flush()
    with pytest.raises(ValidationFailed, match="confirmed by HR"):
        applications.approve(db, application, None, today=TODAY)
    db.commit()
    assert application.status is S.SUBMITTED
    assert db.scalar(select(func.count(Voucher.id))) == 0
    assert measure.budget_line.reserved_cents == 0


def test_approve_refused_beyond_the_yearly_cap(db):
    measure = make_measure(db, cap_per_voucher_cents=500_00, cap_per_worker_year_cents=800_00)
    worker = worker_at(db, measure.project)
    application = sent(db, worker, measure, amount=500_00)
    give_voucher(db, worker, measure, 500_00)
    with pytest.raises(ValidationFailed, match="yearly cap"):
        applications.approve(db, application, None, today=TODAY)
    assert applications.approve(db, application, None, 300_00, TODAY).amount_cents == 300_00


def test_approve_on_an_exhausted_budget_waitlists(db):
    measure = make_measure(db, allocated_cents=500_00)
    first = sent(db, worker_at(db, measure.project), measure, amount=300_00)
    second_worker = worker_at(db, measure.project)
    second = sent(db, second_worker, measure, amount=300_00)
    applications.approve(db, first, None, today=TODAY)
    with pytest.raises(Conflict, match="waiting list"):
        applications.approve(db, second, None, today=TODAY)
    db.commit()
    assert second.status is S.WAITLISTED and second.voucher is None
    line = measure.budget_line
    check_ledger(db, line)
    assert line.reserved_cents == 300_00
    assert actions(db, second)[-1] == "application.waitlist"
    subjects = db.scalars(
        select(Notification.subject).where(Notification.user_id == second_worker.id)
    ).all()
    # Written in the recipient's language (Italian unless they chose otherwise), whatever
    # language the decision was taken in.
    assert subjects == ["La tua domanda è in lista d'attesa"]
    # Once money is freed, the waitlisted application can be approved.
    budget.change_allocation(db, line.id, 100_00, None)
    assert applications.approve(db, second, None, today=TODAY).amount_cents == 300_00
    check_ledger(db, line)


def test_first_come_approves_in_order_until_the_budget_runs_out(db):
    measure = make_measure(db, allocated_cents=1_000_00, allocation=Allocation.FIRST_COME)
    results = []
    for _ in range(4):
        results.append(sent(db, worker_at(db, measure.project), measure, amount=400_00))
    db.commit()
    assert [a.status for a in results] == [S.APPROVED, S.APPROVED, S.WAITLISTED, S.WAITLISTED]
    assert all(a.voucher is not None for a in results[:2])
    approve_event = applications.timeline(db, results[0])[-1]
    assert approve_event.action == "application.approve" and approve_event.actor_id is None
    line = measure.budget_line
    check_ledger(db, line)
    assert line.reserved_cents == 800_00


def test_first_come_pending_hr_waits_then_is_decided_on_confirmation(db):
    measure = make_measure(db, allocation=Allocation.FIRST_COME)
    worker = worker_at(db, measure.project, EmploymentStatus.AWAITING_HR)
    application = sent(db, worker, measure)
    assert application.status is S.AWAITING_HR and application.voucher is None
    employment = application.employment
    employment.status = EmploymentStatus.CONFIRMED
    assert applications.employment_confirmed(db, employment, TODAY) == [application]
    assert application.status is S.APPROVED and application.voucher.amount_cents == 300_00


def test_employment_confirmed_moves_awaiting_applications_to_submitted(db):
    proj = factories.project(db)
    worker = worker_at(db, proj, EmploymentStatus.AWAITING_HR)
    waiting = [sent(db, worker, make_measure(db, proj)) for _ in range(2)]
    # An application resting on another, still pending employer stays where it is.
    elsewhere = factories.project(db)
    factories.employment(db, worker, partner_of(elsewhere), EmploymentStatus.AWAITING_HR)
    other = sent(db, worker, make_measure(db, elsewhere))
    someone_else = sent(
        db, worker_at(db, proj, EmploymentStatus.AWAITING_HR), make_measure(db, proj)
    )
    employment = waiting[0].employment
    assert applications.employment_confirmed(db, employment, TODAY) == []  # not confirmed yet
    employment.status = EmploymentStatus.CONFIRMED
    moved = applications.employment_confirmed(db, employment, TODAY)
    db.commit()
    assert moved == waiting
    assert [a.status for a in waiting] == [S.SUBMITTED, S.SUBMITTED]
    assert other.status is S.AWAITING_HR and someone_else.status is S.AWAITING_HR
    assert actions(db, waiting[0])[-1] == "application.employment_confirmed"
    # Now an operator can approve it.
    assert applications.approve(db, waiting[0], None, today=TODAY)


def test_reject_needs_a_reason_and_tells_the_worker(db):
    measure = make_measure(db)
    worker = worker_at(db, measure.project)
    application = sent(db, worker, measure)
    with pytest.raises(ValidationFailed):
        applications.reject(db, application, None, "  ")
    assert application.status is S.SUBMITTED
    applications.reject(db, application, None, "Service not covered")
    assert application.status is S.REJECTED
    assert application.decision_reason == "Service not covered"
    event_ = applications.timeline(db, application)[-1]
    assert (event_.action, event_.reason) == ("application.reject", "Service not covered")
    body = db.scalars(select(Notification.body).where(Notification.user_id == worker.id)).one()
    assert "Service not covered" in body


def test_waitlist_by_an_operator(db):
    measure = make_measure(db)
    application = sent(db, worker_at(db, measure.project), measure)
    applications.waitlist(db, application, None, "Waiting for more funds")
    assert application.status is S.WAITLISTED
    with pytest.raises(IllegalTransition):
        applications.waitlist(db, application, None)


def test_withdraw(db):
    measure = make_measure(db)
    worker = worker_at(db, measure.project)
    for application in (
        sent(db, worker, measure),
        sent(db, worker_at(db, measure.project, EmploymentStatus.AWAITING_HR), measure),
        draft(db, worker, make_measure(db, measure.project)),
    ):
        applications.withdraw(db, application, application.worker)
        assert application.status is S.WITHDRAWN
        assert actions(db, application)[-1] == "application.withdraw"


@pytest.mark.parametrize(
    ("setup", "transition"),
    [
        ("approved", lambda db, a: applications.withdraw(db, a, a.worker)),
        ("approved", lambda db, a: applications.approve(db, a, None, today=TODAY)),
        ("approved", lambda db, a: applications.reject(db, a, None, "No")),
        ("rejected", lambda db, a: applications.approve(db, a, None, today=TODAY)),
        ("rejected", lambda db, a: applications.submit(db, a, a.worker, TODAY)),
        ("withdrawn", lambda db, a: applications.withdraw(db, a, a.worker)),
        ("draft", lambda db, a: applications.approve(db, a, None, today=TODAY)),
        ("draft", lambda db, a: applications.reject(db, a, None, "No")),
        ("awaiting_hr", lambda db, a: applications.approve(db, a, None, today=TODAY)),
    ],
)
def test_illegal_transitions_change_nothing(db, setup, transition):
    measure = make_measure(db)
    status = EmploymentStatus.AWAITING_HR if setup == "awaiting_hr" else EmploymentStatus.CONFIRMED
    worker = worker_at(db, measure.project, status)
    application = draft(db, worker, measure)
    if setup != "draft":
        applications.submit(db, application, worker, TODAY)
    if setup == "approved":
        applications.approve(db, application, None, today=TODAY)
    elif setup == "rejected":
        applications.reject(db, application, None, "No")
    elif setup == "withdrawn":
        applications.withdraw(db, application, worker)
    db.commit()
    before = (actions(db, application), measure.budget_line.reserved_cents)
    with pytest.raises(IllegalTransition) as exc:
        transition(db, application)
    assert str(exc.value)
    db.rollback()
    db.refresh(application)
    assert application.status.value == setup
    assert (actions(db, application), measure.budget_line.reserved_cents) == before


def test_a_stale_copy_cannot_decide_twice(db):
    """The status is changed by a guarded UPDATE: a second decision on old data fails."""
    measure = make_measure(db)
    application = sent(db, worker_at(db, measure.project), measure)
    db.commit()
    db.execute(
        Application.__table__.update()
        .where(Application.id == application.id)
        .values(status=S.REJECTED.value)
    )
    # The object in the session still says "submitted".
    assert application.status is S.SUBMITTED
    with pytest.raises(IllegalTransition):
        applications.reject(db, application, None, "Again")
    db.rollback()
    assert "application.reject" not in actions(db, application)


def test_timeline_is_in_order(db):
    measure = make_measure(db)
    worker = worker_at(db, measure.project)
    application = sent(db, worker, measure)
    applications.approve(db, application, None, today=TODAY)
    events = applications.timeline(db, application)
    assert [e.action for e in events] == [
        "application.start",
        "application.submit",
        "application.approve",
    ]
    assert all(e.entity_id == application.id for e in events)


def test_approve_after_the_project_ended_is_refused(db):
    measure = make_measure(db)
    application = sent(db, worker_at(db, measure.project), measure)
    with pytest.raises(ValidationFailed, match="project has ended"):
        applications.approve(db, application, None, today=date(2028, 1, 2))
    assert application.status is S.SUBMITTED


def test_vouchers_from_this_year_only(db):
    """``used_this_year`` sums per measure in one query."""
    proj = factories.project(db)
    m1, m2 = make_measure(db, proj), make_measure(db, proj)
    worker = worker_at(db, proj)
    give_voucher(db, worker, m1, 100_00)
    give_voucher(db, worker, m2, 200_00, valid_from=TODAY - timedelta(days=365))
    assert eligibility.used_this_year(db, worker, [m1.id, m2.id], TODAY) == {m1.id: 100_00}
