"""Oversight reports: money from the ledger, activity and timings, scoping, the pages."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from tests import factories
from tests.fixtures_reporting import TODAY, approve, grant, ledger_at, pay, submitted, utc, worker
from voucher.models import (
    AuditEvent,
    ClaimStatus,
    LedgerKind,
    MeasureKind,
    OrganisationSize,
    Role,
)
from voucher.services import budget, charts, reports
from voucher.services.reports import ReportFilter
from voucher.services.sql import days_between

ALL = ReportFilter()


def _activity(db, world, n_claims=2):
    """Vouchers and claims on the childcare measure: approved, paid, rejected, waiting."""
    claims = []
    for i in range(n_claims):
        u, employment = worker(db, world.orgs[OrganisationSize.SMALL])
        v = grant(db, u, world.childcare, employment, 400_00)
        c = submitted(db, v, (100_00, 50_00), sent=utc(2026, 5, 1 + i))
        claims.append(approve(db, c, world.operator))
    pay(db, claims[0], world.operator)
    u, employment = worker(db, world.orgs[OrganisationSize.SMALL])
    waiting = submitted(db, grant(db, u, world.homecare, employment, 300_00), (80_00,))
    db.commit()
    return claims, waiting


@pytest.fixture
def world(reporting_world):
    """The reporting world (tests.fixtures_reporting) under a short name."""
    return reporting_world


# --- filter -----------------------------------------------------------------------------


def test_filter_reads_the_query_string_and_drops_what_it_cannot_read():
    flt, errors = reports.read_filter({"programme": "3", "from": "2026-01-01", "to": "2026-03-31"})
    assert flt == ReportFilter(3, date(2026, 1, 1), date(2026, 3, 31)) and errors == []
    flt, errors = reports.read_filter({"programme": "x", "from": "31/01/2026", "to": ""})
    assert flt == ReportFilter() and len(errors) == 2
    flt, errors = reports.read_filter({"from": "2026-05-01", "to": "2026-01-01"})
    assert (flt.date_from, flt.date_to) == (date(2026, 1, 1), date(2026, 5, 1)) and errors
    assert reports.read_filter({"to": "1066-10-14"})[0].date_to is None


def test_period_bounds_are_italian_days_in_utc():
    flt = ReportFilter(None, date(2026, 1, 1), date(2026, 6, 30))
    # Midnight in Rome: 23:00 UTC the day before in winter, 22:00 in summer.
    assert flt.start.isoformat() == "2025-12-31T23:00:00+00:00"
    assert flt.end.isoformat() == "2026-06-30T22:00:00+00:00"
    assert flt.args() == {"from": "2026-01-01", "to": "2026-06-30"}


def test_days_between_is_the_same_on_every_backend(db, world):
    claims, _waiting = _activity(db, world, 1)
    claim = claims[0]
    claim.submitted_at = utc(2026, 5, 1, 10)
    claim.decided_at = utc(2026, 5, 4, 22)
    db.commit()
    from voucher.models import Claim

    days = db.scalar(
        select(days_between(Claim.submitted_at, Claim.decided_at)).where(Claim.id == claim.id)
    )
    assert days == pytest.approx(3.5)


# --- money and activity -------------------------------------------------------------------


def test_money_per_measure_equals_the_ledger_and_the_lines(db, world):
    _activity(db, world)
    money = reports.measure_money(db, world.officer, ALL)
    for measure in (world.childcare, world.homecare):
        line = measure.budget_line
        db.refresh(line)
        assert budget.ledger_balances(db, line.id) == budget.line_balances(line)
        m = money[measure.id]
        assert (m.allocated_cents, m.reserved_cents, m.spent_cents, m.paid_cents) == (
            line.allocated_cents,
            line.reserved_cents,
            line.spent_cents,
            line.paid_cents,
        )
    # 2 claims of 80% x 150 EUR approved, one paid.
    assert money[world.childcare.id].spent_cents == 2 * 120_00
    assert money[world.childcare.id].spent_on_claims_cents == 2 * 120_00
    assert money[world.childcare.id].paid_cents == 120_00


def test_the_period_takes_movements_inside_it_and_balances_at_its_end(db, world):
    line_id = world.childcare.budget_line.id
    ledger_at(db, line_id, LedgerKind.RESERVE, 500_00, utc(2025, 2, 1))
    ledger_at(db, line_id, LedgerKind.SPEND, 200_00, utc(2025, 3, 1), "claim")
    ledger_at(db, line_id, LedgerKind.SPEND, 100_00, utc(2025, 7, 1), "booking")
    ledger_at(db, line_id, LedgerKind.PAY, 200_00, utc(2025, 7, 2), "claim")
    # 31 March 2025 at 23:30 in Rome is already April 1st in Italy: outside Q1.
    ledger_at(db, line_id, LedgerKind.SPEND, 7_00, utc(2025, 3, 31, 22), "claim")
    db.commit()
    q1 = ReportFilter(None, date(2025, 1, 1), date(2025, 3, 31))
    m = reports.measure_money(db, world.officer, q1)[world.childcare.id]
    # Allocated today by the factory (after Q1): not yet at the end of Q1.
    assert (m.allocated_cents, m.reserved_cents, m.spent_cents, m.paid_cents) == (
        0,
        300_00,
        200_00,
        0,
    )
    summer = ReportFilter(None, date(2025, 4, 1), date(2025, 9, 30))
    m = reports.measure_money(db, world.officer, summer)[world.childcare.id]
    assert (m.spent_cents, m.spent_on_claims_cents, m.paid_cents) == (107_00, 7_00, 200_00)


def test_activity_counts_and_average_days(db, world):
    claims, waiting = _activity(db, world)
    # Decided 2 and 4 days after sending; paid 10 days after.
    for claim, days in zip(claims, (2, 4), strict=True):
        claim.decided_at = claim.submitted_at + timedelta(days=days)
    claims[0].paid_at = claims[0].submitted_at + timedelta(days=10)
    db.commit()
    activity = reports.project_activity(db, world.officer, ALL)[world.project.id]
    assert activity.applications == 3 and activity.vouchers == 3
    assert activity.claims == {
        ClaimStatus.PAID: 1,
        ClaimStatus.APPROVED: 1,
        ClaimStatus.SUBMITTED: 1,
    }
    assert activity.days_to_decision == pytest.approx(3.0)
    assert activity.days_to_payment == pytest.approx(10.0)
    assert waiting.status is ClaimStatus.SUBMITTED
    may = ReportFilter(None, date(2026, 5, 1), date(2026, 5, 1))
    assert reports.project_activity(db, world.officer, may)[world.project.id].claims == {
        ClaimStatus.PAID: 1
    }


def test_overview_groups_by_alliance_within_the_scope(db, world):
    _activity(db, world)
    overview = reports.overview(db, world.officer, ALL)
    names = {a.alliance.name for a in overview.alliances}
    assert names == {world.project.alliance.name, world.sibling_project.alliance.name}
    assert overview.money.spent_cents == 240_00
    assert overview.activity.applications == 3
    assert overview.days_to_decision is not None
    by_operator = reports.overview(db, world.operator, ALL)
    assert [p.project.id for p in by_operator.projects] == [world.project.id]
    hr = factories.user(db, Role.HR)
    assert reports.overview(db, hr, ALL).projects == []
    other_programme = ReportFilter(world.sibling_project.programme_id)
    assert [
        p.project.id for p in reports.overview(db, world.officer, other_programme).projects
    ] == [world.sibling_project.id]


def test_spending_by_kind_and_burn_down(db, world):
    _activity(db, world)
    reports_ = reports.project_reports(db, world.officer, ALL)
    assert reports.spending_by_kind(reports_) == [(MeasureKind.CHILDCARE, 240_00)]
    line_id = world.childcare.budget_line.id
    ledger_at(db, line_id, LedgerKind.ALLOCATE, 1000_00, utc(2025, 11, 5))
    ledger_at(db, line_id, LedgerKind.SPEND, 300_00, utc(2026, 1, 20))
    db.commit()
    flt = ReportFilter(None, date(2025, 12, 1), date(2026, 2, 28))
    points = reports.burn_down(db, world.officer, flt, [world.project.id], TODAY)
    assert [(p.month, p.allocated_cents, p.spent_cents) for p in points] == [
        (date(2025, 12, 1), 1000_00, 0),
        (date(2026, 1, 1), 1000_00, 300_00),
        (date(2026, 2, 1), 1000_00, 300_00),
    ]
    assert points[-1].remaining_cents == 700_00


def test_charts_scale_bars_and_suppress(app):
    chart = charts.bar_chart("c", "Title", [("A", 100), ("B", 50), ("C", None)], str, "< 5")
    widths = [b.width for b in chart.bars]
    assert widths == [charts.BAR_MAX, charts.BAR_MAX / 2, 0]
    assert chart.bars[2].text == "< 5" and "C: < 5" in chart.description
    line = charts.line_chart(
        "l", "T", [date(2026, 1, 1), date(2026, 2, 1)], [("x", "Left", [100, 0])], str
    )
    first, last = line.series[0].points.split()
    assert float(first.split(",")[1]) == line.plot_top  # the highest value at the top
    assert float(last.split(",")[1]) == line.plot_bottom
    assert charts.line_chart("l", "T", [], [], str) is None


# --- pages --------------------------------------------------------------------------------


def _login(client, auth, user):
    client.get("/?lang=en")
    assert auth.login(user).status_code == 302


def test_network_home_shows_every_alliance_project_and_chart(client, auth, db, world):
    _activity(db, world)
    _login(client, auth, world.officer)
    html = client.get("/network/").get_data(as_text=True)
    assert world.project.title in html and world.sibling_project.title in html
    assert world.foreign_project.title not in html
    assert f'href="/network/projects/{world.project.id}"' in html
    assert "<svg" in html and "<title" in html and 'role="img"' in html
    assert "Average days from request to decision" in html
    # Read-only: only GET forms, no inline styles or scripts (CSP).
    assert 'method="post"' not in html.lower()
    assert "style=" not in html and "<script" not in html
    filtered = client.get(f"/network/?programme={world.project.programme_id}&from=2026-01-01")
    assert filtered.status_code == 200
    assert world.sibling_project.title not in filtered.get_data(as_text=True)
    bad = client.get("/network/?from=yesterday").get_data(as_text=True)
    assert "is not a valid date" in bad


def test_project_drill_down_and_its_scope(client, auth, db, world):
    _activity(db, world)
    _login(client, auth, world.officer)
    page = client.get(f"/network/projects/{world.project.id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert world.childcare.title in html and "Budget burn-down" in html
    assert f"/network/reports/{world.project.id}.xlsx" in html
    assert 'method="post"' not in html.lower()
    assert client.get(f"/network/projects/{world.foreign_project.id}").status_code == 404
    assert client.get(f"/network/reports/{world.foreign_project.id}.pdf").status_code == 404
    assert (
        client.get(f"/network/reports/{world.foreign_project.id}/expenses.csv").status_code == 404
    )
    assert client.get(f"/network/reports/{world.project.id}/secrets.csv").status_code == 404
    assert client.post(f"/network/projects/{world.project.id}").status_code == 405


def test_operators_get_the_same_reports_for_their_alliance(client, auth, db, world):
    _activity(db, world)
    _login(client, auth, world.operator)
    html = client.get("/operator/reports").get_data(as_text=True)
    assert world.project.title in html and world.sibling_project.title not in html
    assert "Indicators" in html and f"/operator/reports/{world.project.id}.pdf" in html
    assert client.get(f"/operator/reports/projects/{world.project.id}").status_code == 200
    for path in (
        f"/operator/reports/projects/{world.sibling_project.id}",
        f"/operator/reports/{world.sibling_project.id}.xlsx",
        "/network/",
        "/network/reports",
    ):
        assert client.get(path).status_code == 404, path


@pytest.mark.parametrize("role", [Role.HR, Role.WORKER, Role.PROVIDER])
def test_other_roles_get_404(client, login_as, world, role):
    login_as(role)
    for path in (
        "/network/reports",
        f"/network/projects/{world.project.id}",
        "/operator/reports",
        f"/operator/reports/{world.project.id}.xlsx",
    ):
        assert client.get(path).status_code == 404, path


def test_network_reports_page_lists_indicators_and_downloads(client, auth, db, world):
    _activity(db, world, 5)
    _login(client, auth, world.officer)
    html = client.get("/network/reports?from=2026-01-01").get_data(as_text=True)
    assert "Beneficiaries by sex" in html and "fewer than 5" in html
    for name in ("measures", "expenses", "indicators"):
        assert f"/network/reports/{world.project.id}/{name}.csv?from=2026-01-01" in html
    assert world.foreign_project.title not in html
    # Every chart has an accessible name and a description.
    assert html.count("<svg") == html.count("<desc")


def test_downloads_are_audited(client, auth, db, world):
    _activity(db, world)
    _login(client, auth, world.officer)
    response = client.get(f"/network/reports/{world.project.id}.pdf?to=2026-12-31", buffered=True)
    assert response.status_code == 200
    db.expire_all()
    events = db.scalars(select(AuditEvent).where(AuditEvent.action == "report.export")).all()
    assert [(e.entity_id, e.details["format"], e.details["date_to"]) for e in events] == [
        (world.project.id, "pdf", "2026-12-31")
    ]
    assert db.scalar(select(func.count()).select_from(AuditEvent)) >= 1
    # Nothing was exported on a refused download.
    client.get(f"/network/reports/{world.foreign_project.id}.xlsx")
    db.expire_all()
    assert (
        len(db.scalars(select(AuditEvent).where(AuditEvent.action == "report.export")).all()) == 1
    )


def test_navigation_links_to_reports(client, auth, db, world):
    db.commit()
    _login(client, auth, world.officer)
    html = client.get("/network/claims").get_data(as_text=True)
    assert re.search(r'href="/network/reports"', html)


def test_hr_uptake_is_filtered_by_programme_and_period(client, auth, db, world):
    from voucher.services import hr

    company = world.orgs[OrganisationSize.SMALL]
    for when in [utc(2025, 3, 10)] * 6 + [utc(2026, 3, 10)] * 5:
        u, employment = worker(db, company)
        grant(db, u, world.childcare, employment, when=when)
    for _ in range(6):  # employees who did not apply
        worker(db, company)
    hr_user = factories.user(db, Role.HR, org=company)
    db.commit()
    assert hr.uptake(db, company).applied == hr.Cell(11)
    in_2025 = ReportFilter(None, date(2025, 1, 1), date(2025, 12, 31))
    assert hr.uptake(db, company, in_2025).applied == hr.Cell(6)
    other = ReportFilter(factories.programme(db).id)
    assert hr.uptake(db, company, other).applied.few
    assert [p.id for p in hr.uptake_programmes(db, company)] == [world.project.programme_id]
    db.commit()

    _login(client, auth, hr_user)
    html = client.get("/hr/uptake?from=2026-01-01").get_data(as_text=True)
    assert 'name="programme"' in html and 'value="2026-01-01"' in html
    assert "<td>5</td>" in html.replace(" ", "")
    assert client.get("/network/reports").status_code == 404
