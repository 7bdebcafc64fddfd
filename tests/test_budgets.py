"""Measures and budgets: allocation, window, four-eyes and moves between measures.

The rules on the services directly (ledger == balances after each change), then the
operator's pages through the HTTP client, and who may not use them.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select

from tests import factories
from tests.test_operator_applications import (
    assert_ledger_matches,
    ledger_count,
    open_measure,
    running_project,
    sent,
)
from voucher.models import (
    Allocation,
    ApplicationStatus,
    AuditEvent,
    BudgetLine,
    LedgerEntry,
    LedgerKind,
    Measure,
    Role,
)
from voucher.models.base import utcnow
from voucher.services import budget, budgets, clock
from voucher.services.errors import ValidationFailed

S = ApplicationStatus


@pytest.fixture(autouse=True)
def english(app):
    """Service messages in English, as an English-speaking operator reads them."""
    with force_locale("en"):
        yield


@pytest.fixture
def project(db):
    p = running_project(db, total_cents=10_000_00)
    db.commit()
    return p


@pytest.fixture
def source(db, project):
    m = open_measure(db, project, allocated_cents=1_000_00, title="Childcare")
    db.commit()
    return m


@pytest.fixture
def target(db, project):
    m = open_measure(db, project, allocated_cents=500_00, title="Summer camps")
    db.commit()
    return m


def line(db, measure: Measure) -> BudgetLine:
    found = db.get(BudgetLine, measure.budget_line.id)
    db.refresh(found)
    return found


def errors_of(excinfo) -> dict[str, str]:
    return {field: " ".join(str(m) for m in ms) for field, ms in excinfo.value.errors.items()}


# --- moving budget ----------------------------------------------------------------------


def test_move_budget_writes_both_entries_in_one_go(db, source, target):
    operator = factories.user(db, Role.OPERATOR, all_=source.project.alliance)
    budget.reserve(db, source.budget_line.id, 300_00, None, ("application", 1))
    budgets.move_budget(db, source, target, 250_00, operator, "More demand for camps")
    db.commit()
    assert line(db, source).allocated_cents == 750_00
    assert line(db, target).allocated_cents == 750_00
    moved = db.scalars(
        select(LedgerEntry).where(LedgerEntry.kind == LedgerKind.ADJUST).order_by(LedgerEntry.id)
    ).all()
    assert [(e.budget_line_id, e.amount_cents, e.note, e.actor_id) for e in moved] == [
        (source.budget_line.id, -250_00, "More demand for camps", operator.id),
        (target.budget_line.id, 250_00, "More demand for camps", operator.id),
    ]
    event = db.scalars(select(AuditEvent).where(AuditEvent.action == "budget.move")).one()
    assert event.reason == "More demand for camps"
    assert event.details == {
        "amount_cents": 250_00,
        "source_measure_id": source.id,
        "target_measure_id": target.id,
    }
    assert_ledger_matches(db, source.budget_line.id)
    assert_ledger_matches(db, target.budget_line.id)


def test_move_budget_never_takes_what_is_reserved_or_spent(db, source, target):
    budget.reserve(db, source.budget_line.id, 600_00, None, ("application", 1))
    budget.spend(db, source.budget_line.id, 200_00, None, ("claim", 1))
    db.commit()
    entries = ledger_count(db)
    with pytest.raises(ValidationFailed) as excinfo:
        budgets.move_budget(db, source, target, 400_01, None, "Too much")
    assert "At most €400.00 can be moved" in errors_of(excinfo)["amount_cents"]
    db.rollback()
    assert ledger_count(db) == entries
    # Exactly what is available can go.
    budgets.move_budget(db, source, target, 400_00, None, "All that is left")
    db.commit()
    assert (line(db, source).allocated_cents, line(db, source).available_cents) == (600_00, 0)
    assert_ledger_matches(db, source.budget_line.id)


def test_move_budget_only_within_one_project(db, source):
    elsewhere = open_measure(db, running_project(db, source.project.alliance))
    db.commit()
    entries = ledger_count(db)
    with pytest.raises(ValidationFailed) as excinfo:
        budgets.move_budget(db, source, elsewhere, 100_00, None, "Across projects")
    assert "same project" in errors_of(excinfo)["target"]
    with pytest.raises(ValidationFailed) as excinfo:
        budgets.move_budget(db, source, source, 100_00, None, "To itself")
    assert "target" in errors_of(excinfo)
    db.rollback()
    assert ledger_count(db) == entries
    assert line(db, source).allocated_cents == 1_000_00


@pytest.mark.parametrize(
    ("amount", "reason", "field"),
    [(0, "x", "amount_cents"), (-5, "x", "amount_cents"), (100, " ", "reason")],
)
def test_move_budget_checks_its_input(db, source, target, amount, reason, field):
    with pytest.raises(ValidationFailed) as excinfo:
        budgets.move_budget(db, source, target, amount, None, reason)
    assert field in excinfo.value.errors


def test_moving_budget_in_moves_a_first_come_waiting_list(db, project, source):
    camps = open_measure(db, project, allocated_cents=100_00, allocation=Allocation.FIRST_COME)
    budget.reserve(db, camps.budget_line.id, 100_00, None, ("application", 0))
    start = utcnow() - timedelta(days=1)
    first = sent(db, camps, 200_00, S.WAITLISTED, start)
    second = sent(db, camps, 100_00, S.WAITLISTED, start + timedelta(hours=1))
    db.commit()
    promoted = budgets.move_budget(db, source, camps, 250_00, None, "Camps are popular")
    db.commit()
    assert promoted == [first]
    assert first.status is S.APPROVED and second.status is S.WAITLISTED
    assert_ledger_matches(db, camps.budget_line.id)


# --- allocation -------------------------------------------------------------------------


def test_allocation_never_below_reserved_and_spent(db, source):
    budget.reserve(db, source.budget_line.id, 700_00, None, ("application", 1))
    budget.spend(db, source.budget_line.id, 100_00, None, ("claim", 1))
    db.commit()
    with pytest.raises(ValidationFailed) as excinfo:
        budgets.set_allocation(db, source, None, 699_99)
    assert errors_of(excinfo)["allocated_cents"] == (
        "The allocation cannot go below what is already reserved and spent (€700.00)."
    )
    budgets.set_allocation(db, source, None, 700_00, "Cut to what is used")
    db.commit()
    assert line(db, source).allocated_cents == 700_00
    event = db.scalars(select(AuditEvent).where(AuditEvent.action == "budget.allocation")).one()
    assert event.details["before_cents"] == 1_000_00 and event.details["after_cents"] == 700_00
    assert_ledger_matches(db, source.budget_line.id)


def test_allocation_stays_within_the_projects_total(db, source, target):
    # The project's total is EUR 10,000 and the other measure holds EUR 500.
    with pytest.raises(ValidationFailed) as excinfo:
        budgets.set_allocation(db, source, None, 9_500_01)
    assert "at most €9,500.00" in errors_of(excinfo)["allocated_cents"]
    budgets.set_allocation(db, source, None, 9_500_00)
    db.commit()
    assert line(db, source).allocated_cents == 9_500_00


def test_raising_a_first_come_allocation_moves_the_waiting_list_in_order(db, project):
    camps = open_measure(db, project, allocated_cents=100_00, allocation=Allocation.FIRST_COME)
    budget.reserve(db, camps.budget_line.id, 100_00, None, ("application", 0))
    start = utcnow() - timedelta(days=1)
    first = sent(db, camps, 150_00, S.WAITLISTED, start)
    second = sent(db, camps, 300_00, S.WAITLISTED, start + timedelta(hours=1))
    third = sent(db, camps, 50_00, S.WAITLISTED, start + timedelta(hours=2))
    db.commit()
    promoted = budgets.set_allocation(db, camps, None, 400_00)
    db.commit()
    # EUR 300 freed: the first fits, the second does not, so the third waits behind it.
    assert promoted == [first]
    assert [a.status for a in (first, second, third)] == [S.APPROVED, S.WAITLISTED, S.WAITLISTED]
    assert line(db, camps).available_cents == 150_00
    assert_ledger_matches(db, camps.budget_line.id)


# --- window and four-eyes ---------------------------------------------------------------


def test_window_within_the_project_period(db, source):
    project = source.project
    with pytest.raises(ValidationFailed) as excinfo:
        budgets.set_window(db, source, None, project.starts_on - timedelta(days=1), clock.today())
    assert "opens_on" in excinfo.value.errors
    with pytest.raises(ValidationFailed) as excinfo:
        budgets.set_window(db, source, None, clock.today(), clock.today() - timedelta(days=1))
    assert "closes_on" in excinfo.value.errors
    yesterday = clock.today() - timedelta(days=1)
    budgets.set_window(db, source, None, project.starts_on, yesterday)
    db.commit()
    db.refresh(source)
    assert (source.opens_on, source.closes_on) == (project.starts_on, yesterday)
    assert not source.is_open_on(clock.today())
    event = db.scalars(select(AuditEvent).where(AuditEvent.action == "measure.window")).one()
    assert event.details["after"] == [project.starts_on.isoformat(), yesterday.isoformat()]


def test_four_eyes_threshold(db, source):
    budgets.set_four_eyes(db, source, None, 250_00)
    assert source.four_eyes_threshold_cents == 250_00
    budgets.set_four_eyes(db, source, None, None)
    assert source.four_eyes_threshold_cents is None
    with pytest.raises(ValidationFailed):
        budgets.set_four_eyes(db, source, None, -1)
    db.commit()
    assert (
        db.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == "measure.four_eyes"))
        == 2
    )


# --- the operator's pages ---------------------------------------------------------------


@pytest.fixture
def operator(client, login_as, project):
    client.get("/?lang=en")
    return login_as(Role.OPERATOR, all_=project.alliance)


def test_home_and_report_show_the_projects_funding_split(client, db, project, operator):
    """The shares are the project's own (Project.regional_share_pct / cofunding_pct),
    on the budget overview and on the project's report alike."""
    assert (project.regional_share_pct, project.cofunding_pct) == (70.0, 30.0)
    for path in ("/operator/", f"/operator/reports/projects/{project.id}"):
        page = client.get(path).get_data(as_text=True)
        assert "(70%)" in page and "(30%)" in page, path


def test_measure_page_shows_the_budget_and_its_movements(client, db, source, target, operator):
    page = client.get(f"/operator/measures/{source.id}").get_data(as_text=True)
    assert "Childcare" in page and "€1,000.00" in page
    assert "Allocation" in page  # the initial ledger entry
    assert f'<option value="{target.id}">Summer camps</option>' in page
    for path in ("allocation", "move", "window", "four-eyes"):
        assert f'action="/operator/measures/{source.id}/{path}"' in page


def test_allocation_below_reserved_and_spent_is_refused_clearly(client, db, source, operator):
    budget.reserve(db, source.budget_line.id, 800_00, None, ("application", 1))
    db.commit()
    response = client.post(
        f"/operator/measures/{source.id}/allocation", data={"allocation-allocated_cents": "500"}
    )
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "The allocation cannot go below what is already reserved and spent (€800.00)." in page
    assert 'value="500"' in page
    db.rollback()
    assert line(db, source).allocated_cents == 1_000_00

    response = client.post(
        f"/operator/measures/{source.id}/allocation",
        data={"allocation-allocated_cents": "1.200,00", "allocation-reason": "Top-up"},
    )
    assert response.status_code == 302
    db.rollback()
    assert line(db, source).allocated_cents == 1_200_00
    assert_ledger_matches(db, source.budget_line.id)


def test_move_through_the_page(client, db, source, target, operator):
    response = client.post(
        f"/operator/measures/{source.id}/move",
        data={
            "move-target": str(target.id),
            "move-amount_cents": "100,00",
            "move-reason": "Rebalance",
        },
    )
    assert response.status_code == 302
    db.rollback()
    assert (line(db, source).allocated_cents, line(db, target).allocated_cents) == (
        900_00,
        600_00,
    )
    # A measure of another project is not a choice.
    elsewhere = open_measure(db, running_project(db, source.project.alliance))
    db.commit()
    response = client.post(
        f"/operator/measures/{source.id}/move",
        data={"move-target": str(elsewhere.id), "move-amount_cents": "1", "move-reason": "x"},
    )
    assert response.status_code == 200
    db.rollback()
    assert line(db, elsewhere).allocated_cents == 1_000_00


def test_window_and_four_eyes_through_the_page(client, db, source, operator):
    today = clock.today()
    response = client.post(
        f"/operator/measures/{source.id}/window",
        data={"window-opens_on": today.isoformat(), "window-closes_on": today.isoformat()},
    )
    assert response.status_code == 302
    response = client.post(
        f"/operator/measures/{source.id}/four-eyes", data={"four_eyes-threshold_cents": "250"}
    )
    assert response.status_code == 302
    db.rollback()
    measure = db.get(Measure, source.id)
    assert (measure.opens_on, measure.closes_on) == (today, today)
    assert measure.four_eyes_threshold_cents == 250_00
    response = client.post(
        f"/operator/measures/{source.id}/window",
        data={"window-opens_on": "2001-01-01", "window-closes_on": today.isoformat()},
    )
    assert response.status_code == 200
    assert "within the project period" in response.get_data(as_text=True)


def test_other_alliances_and_network_officers_get_404(client, db, source, target, login_as):
    login_as(Role.OPERATOR)
    posts = {
        "allocation": {"allocation-allocated_cents": "1"},
        "window": {"window-opens_on": "2026-01-01", "window-closes_on": "2026-01-02"},
        "four-eyes": {"four_eyes-threshold_cents": ""},
        "move": {"move-target": str(target.id), "move-amount_cents": "1", "move-reason": "x"},
    }
    assert client.get(f"/operator/measures/{source.id}").status_code == 404
    for path, data in posts.items():
        assert client.post(f"/operator/measures/{source.id}/{path}", data=data).status_code == 404
    client.get("/auth/logout")
    login_as(Role.NETWORK, net=source.project.alliance.network)
    assert client.get(f"/operator/measures/{source.id}").status_code == 404
    for path, data in posts.items():
        assert client.post(f"/operator/measures/{source.id}/{path}", data=data).status_code == 404
    db.rollback()
    assert line(db, source).allocated_cents == 1_000_00
    assert ledger_count(db) == 2
